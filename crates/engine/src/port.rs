//! What the engine needs of a store while it decides a batch: reads of what is stored (as the
//! batch has changed it so far), the [`Change`]s it decides, and fresh ids.
//!
//! One port serves one batch, inside whatever makes the batch atomic in its store (a
//! transaction). A store may buffer changes, but every read answers as if they were written:
//! a confirm after a hold in the same batch finds the hold.

use crate::Error;
use crate::change::Change;
use crate::command::StoredResponse;
use crate::jobs::JobView;
use crate::model::{PlanView, TenantId};
use crate::records::HoldRecord;
use crate::rules::idempotency::KeyRecord;
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use crate::working::LoadPools;
use allot_core::{PoolId, UnixMillis};

pub trait Port: LoadPools {
    /// A new id with `prefix` (`hold`, `pool`, …), unique in the store. A store may make them
    /// from time and randomness; a simulation makes them from its seed.
    fn new_id(&mut self, prefix: &str) -> String;

    /// Takes one decided change.
    fn persist(&mut self, change: Change) -> Result<(), Error>;

    fn hold(&mut self, tenant: &TenantId, id: &str) -> Result<Option<HoldRecord>, Error>;

    /// Every hold still `held` whose deadline is at or before `now`, across tenants.
    fn due_holds(&mut self, now: UnixMillis) -> Result<Vec<(TenantId, HoldRecord)>, Error>;

    /// The hold that counted `subject` on `pool`, live or not.
    fn consumption(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        subject: &str,
    ) -> Result<Option<String>, Error>;

    /// What an idempotency key last answered, if it is stored.
    fn idempotency_record(
        &mut self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<(KeyRecord, StoredResponse)>, Error>;

    /// Whether the tenant has this key and it is not revoked.
    fn api_key_is_live(&mut self, tenant: &TenantId, key_id: &str) -> Result<bool, Error>;

    /// The dates of a session already made, in date order.
    fn session_dates(&mut self, tenant: &TenantId, session: &PoolId) -> Result<Vec<PoolId>, Error>;

    /// The dates of a session with someone waiting on them.
    fn session_dates_with_waiting(
        &mut self,
        tenant: &TenantId,
        session: &PoolId,
    ) -> Result<Vec<PoolId>, Error>;

    // Plans and quotas

    /// A plan of the tenant, with how many members it has.
    fn plan(&mut self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, Error>;

    /// The quota pool made for `subject` from the plan, if it has one.
    fn member_pool(
        &mut self,
        tenant: &TenantId,
        plan_id: &str,
        subject: &str,
    ) -> Result<Option<PoolId>, Error>;

    // Jobs

    /// A job of the tenant, as its last chunk left it.
    fn job(&mut self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, Error>;

    // Attendees and tickets

    /// A section of an event: its child pool with the id `id_or_name`, or else its child pool
    /// of that name with the lowest id.
    fn event_section(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        id_or_name: &str,
    ) -> Result<Option<String>, Error>;

    /// The attendee of an event with this external id (the platform's own).
    fn attendee_by_external_id(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        external_id: &str,
    ) -> Result<Option<AttendeeView>, Error>;

    fn attendee(&mut self, tenant: &TenantId, id: &str) -> Result<Option<AttendeeView>, Error>;

    /// An attendee as issuing sees them, in one read: bulk issuance asks once per attendee.
    fn attendee_for_issue(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
    ) -> Result<Option<AttendeeForIssue>, Error>;

    fn ticket(&mut self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, Error>;

    /// The ticket a scanned token names: the attendee's live ticket if `token_hash` is its
    /// current token's, else a void ticket of the tenant with that token.
    fn ticket_for_token(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
        token_hash: &str,
    ) -> Result<Option<TicketView>, Error>;
}
