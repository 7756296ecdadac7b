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
use crate::model::{Channel, PlanView, TenantId};
use crate::records::PoolRecord;
use crate::records::{EntryRecord, HoldRecord};
use crate::rules::idempotency::KeyRecord;
use crate::rules::routing::Subscriber;
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use allot_core::waitlist::PriorityClasses;
use allot_core::{PoolId, SessionDate, UnixMillis};
use std::collections::BTreeMap;

/// What the working set reads from a store: pools.
pub trait LoadPools {
    /// A pool of the tenant as stored, `None` when there is none (another tenant's id included).
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error>;
}

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

    // Waiting lists

    /// The next number in arrival order for a new entry (numbers only grow, across tenants).
    fn next_entry_seq(&mut self) -> Result<i64, Error>;

    /// A waiting-list entry of the tenant, with its pool's session and date.
    fn waitlist_entry(&mut self, tenant: &TenantId, id: &str)
    -> Result<Option<EntryRecord>, Error>;

    /// A page of a pool's waiting entries in serving order (higher priority, then earlier
    /// arrival), those past their deadline included: at most `limit`, after the first `offset`.
    fn waiting_entries(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, Error>;

    /// 1 for the entry served next: the waiting entries of its pool, not past their deadline
    /// at `now`, that come before it, plus one.
    fn entry_position(
        &mut self,
        tenant: &TenantId,
        entry: &EntryRecord,
        now: UnixMillis,
    ) -> Result<u64, Error>;

    /// When the pool's entries were promoted after `since`, newest first, at most `limit`.
    fn recent_promotions(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, Error>;

    /// The tenant's priority classes; the default (base 1, no classes) until it sets its own.
    fn priority_classes(&mut self, tenant: &TenantId) -> Result<PriorityClasses, Error>;

    /// Waiting entries whose deadline is at or before `now`, across tenants, earliest deadline
    /// first (then arrival), at most `limit`.
    fn due_entries(
        &mut self,
        now: UnixMillis,
        limit: i64,
    ) -> Result<Vec<(TenantId, EntryRecord)>, Error>;

    /// Dates of sessions, across tenants, with someone waiting and a date before `before`, at
    /// most `limit`: the candidates for dates that have ended (each is judged in its zone).
    fn dates_with_waiting_before(
        &mut self,
        before: SessionDate,
        limit: i64,
    ) -> Result<Vec<(TenantId, PoolId)>, Error>;

    /// The children of `parent` with someone waiting at or below them, as stored (the batch's
    /// own changes to the counts are in its working set).
    fn children_with_waiting(
        &mut self,
        tenant: &TenantId,
        parent: &PoolId,
    ) -> Result<Vec<PoolId>, Error>;

    // The outbox

    /// The tenant's active webhooks and what each subscribed to, in id order. Asked once per
    /// event: a store may keep the answer for the batch, until it persists a change to them.
    fn subscribers(&mut self, tenant: &TenantId) -> Result<Vec<Subscriber>, Error>;

    /// The tenant's recipient groups by name (none until it sets them).
    fn recipient_groups(
        &mut self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<String, Vec<Channel>>, Error>;

    /// Whether the tenant has this webhook and it is not deleted.
    fn webhook_is_active(&mut self, tenant: &TenantId, webhook_id: &str) -> Result<bool, Error>;

    /// How many attempts a delivery has had, if it is still pending (of any tenant: the
    /// delivery worker serves them all).
    fn pending_delivery_attempts(&mut self, delivery_id: &str) -> Result<Option<i64>, Error>;
}
