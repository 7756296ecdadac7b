//! Request bodies and their validation into the store's commands, one module per resource.
//! Every check collects a field error; a request with any is answered 400 with all of them, and
//! nothing is written. The rules behind the values are the core's (`allot_core::limits`,
//! `quotas`, `waitlist`, `jobs`, `page`): these modules only parse, check shapes, and turn the
//! core's refusals into field errors.
//!
//! `checks` holds what they share; the others depend on it and on `views` (bodies that go both
//! ways, such as a price or a threshold), never on one another.

mod checks;

pub mod alerts;
pub mod attendees;
pub mod holds;
pub mod keys;
pub mod names;
pub mod plans;
pub mod pools;
pub mod tickets;
pub mod waitlist;
pub mod webhooks;

pub use alerts::validate_recipients;
pub use attendees::AttendeeRequest;
pub use holds::{CreateHoldRequest, ExtendHoldRequest, HoldLineRequest};
pub use keys::{CreateApiKeyRequest, CreateTenantRequest};
pub use plans::{CreatePlanRequest, PatchPlanRequest, PutMemberRequest, QuotaAdjustmentRequest};
pub use pools::{CreatePoolRequest, PatchPoolRequest};
pub use tickets::{CheckInRequest, GenerateRequest};
pub use waitlist::{JoinWaitlistRequest, PriorityClassField};
pub use webhooks::CreateWebhookRequest;
