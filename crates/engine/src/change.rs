//! What a batch changes, stated so that any store can persist it and check it: new rows whole,
//! every transition as from → to (a store that finds its row no longer at `from` reports a
//! conflict rather than overwriting another writer's change), ledger entries as appended.
//!
//! The engine hands each change to [`crate::port::Port::persist`] as it decides it, in order; a
//! store may write it at once or buffer it, but a later read in the same batch must see it.

use crate::command::StoredResponse;
use crate::jobs::{JobItem, JobState, JobView};
use crate::model::{
    Channel, DeliveryAttempt, DeliveryStatus, LedgerKind, PlanView, Role, TenantId,
    WaitlistSettings,
};
use crate::records::PoolRecord;
use crate::rules::plans::PlanTerms;
use crate::rules::routing::Target;
use crate::tickets::{AttendeeView, TicketStatus, TicketView};
use allot_core::waitlist::{EntryStatus, PriorityClasses};
use allot_core::{HoldStatus, PoolId, UnixMillis};
use std::collections::BTreeMap;

/// What of a pool is held and committed: what a counter write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub held: i64,
    pub committed: i64,
}

/// The figures of a pool a batch writes when its settings did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCounters {
    pub held: i64,
    pub committed: i64,
    pub waiting: i64,
    pub waiting_below: i64,
    pub alert_marks: Option<String>,
    pub updated_at: UnixMillis,
}

impl PoolCounters {
    pub fn of(row: &PoolRecord) -> Self {
        PoolCounters {
            held: row.core.held,
            committed: row.core.committed,
            waiting: row.waiting,
            waiting_below: row.waiting_below,
            alert_marks: row.alert_marks.clone(),
            updated_at: row.updated_at,
        }
    }
}

impl PoolUse {
    pub fn of(pool: &allot_core::Pool) -> Self {
        PoolUse {
            held: pool.held,
            committed: pool.committed,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    NewTenant {
        id: TenantId,
        name: String,
        at: UnixMillis,
    },
    NewApiKey {
        tenant: TenantId,
        key_id: String,
        key_hash: String,
        role: Role,
        at: UnixMillis,
    },
    /// A live key revoked (live → revoked).
    ApiKeyRevoked {
        tenant: TenantId,
        key_id: String,
        at: UnixMillis,
    },
    /// A pool made: by its tenant, or a session's date on its first use.
    NewPool {
        tenant: TenantId,
        pool: Box<PoolRecord>,
    },
    /// A pool's counters as the batch leaves them, once per batch for each pool it used whose
    /// settings it did not change. `from` is the use the store holds for it (as last written).
    PoolCounters {
        tenant: TenantId,
        pool_id: PoolId,
        from: PoolUse,
        to: PoolCounters,
    },
    /// A pool whose settings the batch changed (limits, active, name, price, thresholds, …),
    /// written whole as the batch leaves it. `from` is the use the store holds for it.
    PoolRewritten {
        tenant: TenantId,
        from: PoolUse,
        pool: Box<PoolRecord>,
    },
    /// A session's waiting-list settings, copied to every date of it the store holds.
    SessionWaitlist {
        tenant: TenantId,
        session: PoolId,
        settings: WaitlistSettings,
    },
    NewHold(NewHold),
    HoldStatus {
        tenant: TenantId,
        hold_id: String,
        from: HoldStatus,
        to: HoldStatus,
        at: UnixMillis,
    },
    HoldExpiry {
        tenant: TenantId,
        hold_id: String,
        from: UnixMillis,
        to: UnixMillis,
        at: UnixMillis,
    },
    /// The live hold that counts `subject` once on `pool_id` (replacing one that lapsed).
    Consumption {
        tenant: TenantId,
        pool_id: PoolId,
        subject: String,
        hold_id: String,
    },
    Ledger(LedgerChange),
    /// The answer kept for an idempotency key (replacing one past its window).
    IdempotencyRecord {
        tenant: TenantId,
        key: String,
        request_hash: String,
        response: StoredResponse,
        at: UnixMillis,
    },
    /// Idempotency records made at or before `before` are forgotten, at most `limit` of them,
    /// oldest first.
    ForgetIdempotency {
        before: UnixMillis,
        limit: i64,
    },

    // Plans and quotas
    /// A plan made; it has no members yet.
    NewPlan {
        tenant: TenantId,
        plan: Box<PlanView>,
    },
    /// A plan's terms changed (from → to), at `at`: members made from now on get the new ones.
    PlanUpdated {
        tenant: TenantId,
        plan_id: String,
        from: PlanTerms,
        to: PlanTerms,
        at: UnixMillis,
    },
    /// The pool just made (a [`Change::NewPool`] before this) is `subject`'s quota from the
    /// plan: the only one it has from that plan.
    NewMember {
        tenant: TenantId,
        plan_id: String,
        subject: String,
        pool_id: PoolId,
    },

    // Jobs
    /// A job queued, nothing done yet.
    NewJob {
        tenant: TenantId,
        job: Box<JobView>,
    },
    /// A job moved (from → to): a chunk landed, or the job ended. A store that finds the job
    /// no longer at `from` — another writer's chunk landed first — reports a conflict.
    JobProgress {
        tenant: TenantId,
        job_id: String,
        from: Box<JobState>,
        to: Box<JobState>,
    },
    /// Items a job skipped or failed, noted at `at` for its report; each `seq` once per job.
    NewJobItems {
        tenant: TenantId,
        job_id: String,
        items: Vec<JobItem>,
        at: UnixMillis,
    },

    // Attendees and tickets
    /// An attendee imported; the only one of its event with its external id.
    NewAttendee {
        tenant: TenantId,
        attendee: Box<AttendeeView>,
    },
    /// An attendee imported again: their name, e-mail and section as they are now.
    AttendeeUpdated {
        tenant: TenantId,
        attendee_id: String,
        name: String,
        email: Option<String>,
        section_id: Option<String>,
        at: UnixMillis,
    },
    /// A ticket issued with its hold (a [`Change::NewHold`] before it); the attendee's only
    /// ticket that is not void. `token_hash` confirms its token at the door.
    NewTicket {
        tenant: TenantId,
        ticket: Box<TicketView>,
        token_hash: String,
    },
    /// A live ticket given a new code and token (the old QR code stops working) by `job_id`.
    TicketReissued {
        tenant: TenantId,
        ticket_id: String,
        code: String,
        token_seed: String,
        token_hash: String,
        job_id: String,
        at: UnixMillis,
    },
    /// A ticket used at the door or voided (from → to), at `at`.
    TicketStatus {
        tenant: TenantId,
        ticket_id: String,
        from: TicketStatus,
        to: TicketStatus,
        at: UnixMillis,
    },
    /// A scan at the door, whatever it answered (`admitted`, `already_used`, `void`).
    NewCheckIn {
        tenant: TenantId,
        id: String,
        ticket_id: String,
        result: &'static str,
        actor: Option<String>,
        at: UnixMillis,
    },

    // Waiting lists
    /// Someone joined a pool's waiting list: the entry is waiting.
    NewWaitlistEntry {
        tenant: TenantId,
        entry: Box<NewEntry>,
    },
    /// An entry moved (from → to) without being served: cancelled, expired, or its offer
    /// settled (accepted, declined, lapsed).
    WaitlistEntryStatus {
        tenant: TenantId,
        entry_id: String,
        from: EntryStatus,
        to: EntryStatus,
        at: UnixMillis,
    },
    /// A waiting entry served (waiting → offered or confirmed) by the hold made for it.
    WaitlistEntryPromoted {
        tenant: TenantId,
        entry_id: String,
        to: EntryStatus,
        hold_id: String,
        /// Only for an offer: when its hold lapses unless confirmed.
        offer_expires_at: Option<UnixMillis>,
        at: UnixMillis,
    },
    /// The tenant's priority classes, replacing those it had.
    PriorityClasses {
        tenant: TenantId,
        classes: PriorityClasses,
    },

    // The outbox
    /// Something that happened, for webhooks and the event log: the store numbers it. Its
    /// deliveries follow as [`Change::NewDelivery`]s.
    NewEvent {
        tenant: TenantId,
        id: String,
        kind: &'static str,
        data: serde_json::Value,
        at: UnixMillis,
    },
    /// One event's delivery to one destination, pending and due at once.
    NewDelivery {
        tenant: TenantId,
        delivery: Box<NewDelivery>,
    },
    /// An alert for the log: the store numbers it. Its `alert.fired` event and deliveries
    /// follow as changes of their own.
    NewAlert {
        tenant: TenantId,
        alert: Box<NewAlert>,
    },
    NewWebhook {
        tenant: TenantId,
        webhook: Box<NewWebhook>,
    },
    /// An active webhook deleted (active → inactive): it gets nothing more.
    WebhookDeactivated {
        tenant: TenantId,
        webhook_id: String,
    },
    /// Every delivery to a webhook still pending given up (pending → failed), with why.
    PendingDeliveriesFailed {
        tenant: TenantId,
        webhook_id: String,
        error: &'static str,
        at: UnixMillis,
    },
    /// The tenant's recipient groups, replacing those it had.
    RecipientGroups {
        tenant: TenantId,
        groups: BTreeMap<String, Vec<Channel>>,
    },
    /// One attempt at a pending delivery, numbered, and where it leaves the delivery
    /// (pending → delivered, failed, or pending again at `next_attempt_at`).
    DeliveryAttempted {
        attempt: DeliveryAttempt,
        number: i64,
        to: DeliveryStatus,
        next_attempt_at: UnixMillis,
    },
}

/// A delivery as queued: its payload is the event as the destination receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub id: String,
    pub target: Target,
    pub event_id: String,
    pub kind: String,
    pub payload: String,
    pub at: UnixMillis,
}

/// An alert as fired: the pool's figures when it fired, and who it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: String,
    pub pool_id: PoolId,
    pub kind: &'static str,
    pub threshold_pct: Option<u32>,
    pub severity: &'static str,
    pub recipients: Vec<String>,
    pub used: i64,
    pub capacity: i64,
    pub waiting: i64,
    pub at: UnixMillis,
}

/// A webhook as made: active, with the secret its deliveries are signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub at: UnixMillis,
}

/// A waiting-list entry as joined.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub id: String,
    pub pool_id: PoolId,
    pub holder: String,
    pub quantity: i64,
    pub priority: i64,
    /// The classes the priority was made from, when it was asked for by class.
    pub priority_classes: Option<Vec<String>>,
    /// Arrival order, from [`crate::port::Port::next_entry_seq`].
    pub seq: i64,
    pub expires_at: UnixMillis,
    pub created_at: UnixMillis,
}

/// A hold as placed, its lines' prices locked in.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHold {
    pub id: String,
    pub tenant: TenantId,
    /// Held, or confirmed at once.
    pub status: HoldStatus,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    /// The lines as the API shows them, JSON (`HoldLineView`s).
    pub lines: String,
    pub created_at: UnixMillis,
    pub waitlist_entry_id: Option<String>,
    /// Who or what the hold consumes, counted once per pool.
    pub subject: Option<String>,
}

/// One ledger entry: a change to a pool's counters or capacity. The store numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerChange {
    pub tenant: TenantId,
    pub pool_id: PoolId,
    pub hold_id: Option<String>,
    pub kind: LedgerKind,
    pub held_delta: i64,
    pub committed_delta: i64,
    pub capacity_after: i64,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub at: UnixMillis,
}
