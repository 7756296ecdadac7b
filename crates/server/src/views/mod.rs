//! Response bodies as the API documents them, one module per resource, and [`render()`]: the
//! rendering of a writer's outcome into the exact bytes a client receives (and an idempotency
//! record keeps). Bodies depend on `timestamps` and `page` and on one another one way (a quota
//! shows a pool's usage); only `render` sees them all.
//! `integers`: how an integer field of a body that comes in is read.

pub mod alerts;
pub mod events;
pub mod holds;
pub mod integers;
pub mod jobs;
pub mod keys;
pub mod plans;
pub mod pools;
pub mod render;
pub mod tickets;
pub mod waitlist;
pub mod webhooks;

pub use alerts::{AlertBody, ConditionBody, PoolConditionsBody, RecipientsBody};
pub use events::EventBody;
pub use holds::{HoldBody, HoldLineBody};
pub use jobs::{JobBody, JobFailureBody};
pub use keys::{ApiKeyBody, ApiKeyCreatedBody, TenantBody, TenantCreatedBody};
pub use plans::{PlanBody, QuotaBody};
pub use pools::{
    AvailabilityBody, FlagsBody, LedgerEntryBody, PoolBody, PriceBody, ThresholdBody, TotalsBody,
    UsageBody, UtilizationBody, WaitlistSettingsBody,
};
pub use render::{render, render_created, render_ok, render_with};
pub use tickets::{
    AttendeeBody, AttendeeRefBody, CheckInBody, CheckInCountsBody, ImportBody, RowFailureBody,
    TicketBody,
};
pub use waitlist::{PriorityClassesBody, WaitlistEntryBody, WaitlistStatusBody};
pub use webhooks::{AttemptBody, DeliveryBody, WebhookBody};
