//! The mutations a [`crate::BatchWriter`] applies, and their answers.
//!
//! Inputs are already validated: quantities, capacities and TTLs arrive as the core's newtypes.
//! What can still go wrong depends on the stored state (unknown pool, no capacity, a hold that
//! lapsed), and comes back as a [`Failure`], never as an error of the batch.

use crate::model::{
    ApiKey, Channel, DeliveryAttempt, HoldView, PlanView, PoolView, Price, Role, Tenant, TenantId,
    ThresholdRecord, WaitlistEntryView, WaitlistSettings, WebhookView,
};
pub use allot_core::quotas::Adjustment;
pub use allot_core::waitlist::PriorityAsk;
use allot_core::waitlist::{PriorityClasses, PromotionMode, WaitlistPolicy};
use allot_core::{
    AdjustRefusal, Capacity, HoldLine, LimitPct, Quantity, Refusal, SessionZone, TransitionError,
    TtlSeconds, Warning,
};
use std::collections::BTreeMap;

/// A pool to create.
#[derive(Debug, Clone)]
pub struct NewPool {
    pub name: String,
    pub unit: String,
    pub parent_id: Option<String>,
    pub capacity: Capacity,
    pub hard_limit_pct: LimitPct,
    pub soft_limit_pct: LimitPct,
    pub price: Option<Price>,
    pub metadata: Option<serde_json::Value>,
    /// A session serving many dates: each date gets its own instance on first use.
    pub per_date: bool,
    /// The time zone a session's dates are in (`None`: UTC). Only for `per_date` sessions.
    pub time_zone: Option<SessionZone>,
    pub waitlist: WaitlistSettings,
    /// `None`: the default thresholds (`allot_core::thresholds::default_thresholds`).
    pub thresholds: Option<Vec<ThresholdRecord>>,
}

/// Changes to a pool; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PoolPatch {
    pub name: Option<String>,
    /// `Some(None)` removes the price.
    pub price: Option<Option<Price>>,
    pub active: Option<bool>,
    pub capacity: Option<Capacity>,
    pub hard_limit_pct: Option<LimitPct>,
    pub soft_limit_pct: Option<LimitPct>,
    pub metadata: Option<serde_json::Value>,
    /// Why capacity or limits changed, kept in the ledger.
    pub reason: Option<String>,
    pub waitlist_policy: Option<WaitlistPolicy>,
    pub waitlist_mode: Option<PromotionMode>,
    pub offer_ttl: Option<TtlSeconds>,
    /// For a session: whether a change of capacity or limits also applies to the dates already
    /// made (today and later). Past dates are never changed.
    pub apply_to_dates: bool,
    /// `Some(None)` goes back to the default thresholds.
    pub thresholds: Option<Option<Vec<ThresholdRecord>>>,
}

/// What a hold may carry besides its lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldExtras {
    /// The unit each line expects (same order as the lines): a line whose pool counts another
    /// unit is refused (a campaign's credits are not taken from a seats pool).
    pub units: Vec<Option<String>>,
    /// Who or what is consumed (a learner, a volunteer): counted once per pool. The same subject
    /// again answers the hold that counted it.
    pub subject: Option<String>,
    /// Why, kept in the ledger (a member's quota history).
    pub reason: Option<String>,
}

/// A plan: the quota each member gets (a membership type, a SaaS pricing tier).
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub name: String,
    pub unit: String,
    pub capacity: Capacity,
    pub hard_limit_pct: LimitPct,
    pub soft_limit_pct: LimitPct,
    pub thresholds: Option<Vec<ThresholdRecord>>,
}

/// One quota a bulk adjustment looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaTarget {
    /// How the job's report names it (the subject, with its plan).
    pub label: String,
    /// `None`: the subject has no quota to adjust (a failure of this item).
    pub pool_id: Option<String>,
}

/// A chunk of a bulk adjustment: applied with its job's progress, or not at all.
#[derive(Debug, Clone)]
pub struct QuotaChunk {
    pub progress: crate::jobs::JobProgress,
    /// The job position of the first target, for the report.
    pub first_seq: i64,
    pub targets: Vec<QuotaTarget>,
    pub change: Adjustment,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct NewWaitlistEntry {
    /// The pool waited on; for a dated session, the date's instance id.
    pub pool_id: String,
    pub holder: String,
    pub quantity: Quantity,
    pub priority: PriorityAsk,
    pub expires_in: TtlSeconds,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Super-admin: a tenant and its first admin key (the server made the key; only its hash comes here).
    CreateTenant {
        name: String,
        key_id: String,
        key_hash: String,
    },
    CreateApiKey {
        key_id: String,
        key_hash: String,
        role: Role,
    },
    RevokeApiKey {
        key_id: String,
    },
    CreatePool(NewPool),
    UpdatePool {
        pool_id: String,
        patch: PoolPatch,
    },
    PlaceHold {
        lines: Vec<HoldLine>,
        ttl: TtlSeconds,
        holder: Option<String>,
        confirm: bool,
        extras: HoldExtras,
    },
    ConfirmHold {
        hold_id: String,
    },
    ReleaseHold {
        hold_id: String,
    },
    ExtendHold {
        hold_id: String,
        ttl: TtlSeconds,
    },
    /// Expire every hold whose deadline has passed (the sweeper's step; every batch does it
    /// first), and every waiting-list entry past its deadline.
    SweepExpired,
    /// Join a pool's waiting list; served at once if capacity is free and no one is ahead.
    JoinWaitlist(NewWaitlistEntry),
    /// Cancel a waiting or offered entry (an offer's hold is released and the next is served).
    CancelWaitlistEntry {
        entry_id: String,
    },
    /// Replace the tenant's priority classes.
    SetPriorityClasses(PriorityClasses),
    /// A webhook endpoint for the event types listed (`*` for all). The secret signs deliveries.
    CreateWebhook {
        url: String,
        events: Vec<String>,
        secret: String,
    },
    /// Stop delivering to a webhook; pending deliveries to it are given up.
    DeleteWebhook {
        webhook_id: String,
    },
    /// Queue a `webhook.test` delivery to one webhook.
    TestWebhook {
        webhook_id: String,
    },
    /// Replace the tenant's recipient groups.
    SetRecipients(BTreeMap<String, Vec<Channel>>),
    /// The delivery worker's report of attempts made (any tenant).
    RecordDeliveryAttempts(Vec<DeliveryAttempt>),
    CreatePlan(NewPlan),
    /// Change a plan for members made from now on; with `members_follow` (a job kind and its
    /// parameters) also queue, in the same transaction, the job that moves existing members.
    UpdatePlan {
        plan_id: String,
        name: Option<String>,
        capacity: Option<Capacity>,
        members_follow: Option<(String, serde_json::Value)>,
    },
    /// One chunk of a bulk quota adjustment job (a whole class's allowance changed at once).
    AdjustQuotas(QuotaChunk),
    /// Give `subject` its own quota pool made from the plan; the existing one if it has one.
    PutMember {
        plan_id: String,
        subject: String,
        parent_id: Option<String>,
    },
    /// Attendees, ticket issuance, voiding and check-in (see `crate::tickets`).
    Tickets(crate::tickets::TicketCommand),
    /// Creating and finishing background jobs (see `crate::jobs`).
    Job(crate::jobs::JobCommand),
}

/// What a successful command answers.
#[derive(Debug, Clone)]
pub enum Success {
    TenantCreated {
        tenant: Tenant,
        key: ApiKey,
    },
    ApiKeyCreated(ApiKey),
    ApiKeyRevoked,
    Pool(PoolView),
    Hold {
        hold: HoldView,
        warnings: Vec<Warning>,
    },
    Swept {
        expired: usize,
    },
    WaitlistEntry(WaitlistEntryView),
    PriorityClasses(PriorityClasses),
    Webhook(WebhookView),
    WebhookDeleted,
    DeliveryQueued {
        delivery_id: String,
    },
    Recipients(BTreeMap<String, Vec<Channel>>),
    AttemptsRecorded,
    Plan(PlanView),
    /// A plan changed, and the job moving its members was queued with the change.
    PlanFollowed {
        plan: PlanView,
        job: crate::jobs::JobView,
    },
    /// A member's quota pool; `created` false when it already existed.
    Member {
        pool: PoolView,
        created: bool,
    },
    /// The hold that already counted this subject: nothing new was consumed.
    AlreadyConsumed(HoldView),
    Tickets(crate::tickets::TicketSuccess),
    Job(crate::jobs::JobView),
}

/// Why a command did nothing. Each maps to one stable problem type in the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Adjust(#[from] AdjustRefusal),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Input that only the stored state shows to be wrong, such as a parent nested too deep.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The thing exists but is past the point where this step applies (a served entry cannot be
    /// cancelled).
    #[error("the {kind} is {status}")]
    Conflict {
        kind: &'static str,
        status: &'static str,
    },
    /// A change the stored state does not allow, explained (a session-wide capacity that one of
    /// its dates cannot take).
    #[error("{0}")]
    Rejected(String),
    /// A line asked for one unit from a pool that counts another (HTTP 422).
    #[error("pool {pool_id} counts {actual}, not {requested}")]
    UnitMismatch {
        pool_id: String,
        requested: String,
        actual: String,
    },
    /// The idempotency key was used before with a different request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Tickets(#[from] crate::tickets::TicketFailure),
    #[error(transparent)]
    Job(#[from] crate::jobs::JobFailure),
}

pub type Outcome = Result<Success, Failure>;

/// A response as first sent, kept to replay it for a repeated Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Renders an outcome into the response to keep. The server passes it in so that the store keeps
/// exactly the bytes the client got, written in the same transaction as the change itself.
pub type Render = Box<dyn FnOnce(&Outcome) -> StoredResponse + Send>;

pub struct Idempotency {
    pub key: String,
    /// A hash of the method, path and body: the same key with another request is refused.
    pub request_hash: String,
    pub render: Render,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A command with who sent it.
#[derive(Debug)]
pub struct Envelope {
    pub tenant: TenantId,
    /// The API key id that sent it, kept in the ledger; `None` for the super-admin and workers.
    pub actor: Option<String>,
    pub command: Command,
    pub idempotency: Option<Idempotency>,
}

/// The answer to one envelope. Moved once per command, so the size difference between variants
/// costs less than boxing the outcome would.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Reply {
    Outcome(Outcome),
    /// The response rendered for an idempotency key: either just now, or the first time the key
    /// was used.
    Rendered {
        response: StoredResponse,
        replayed: bool,
    },
}

/// What a batch did besides answering its commands, counted for the server's metrics: holds and
/// waiting-list entries whose deadline passed, entries served from freed capacity, and alerts
/// fired.
/// None of these is the answer to a command, so a store counts them as it persists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchTally {
    pub holds_expired: u64,
    /// Waiting-list entries served from freed capacity: offered a hold, or confirmed at once.
    pub waitlist_serves: u64,
    /// Offers that lapsed unaccepted, and entries whose wait ran out.
    pub waitlist_lapses: u64,
    /// Alerts fired, by severity (`info`, `warning`, `error`, `critical`).
    pub alerts_fired: BTreeMap<String, u64>,
}

impl BatchTally {
    /// Counts an event the batch recorded, by its type.
    pub fn event(&mut self, kind: &str) {
        match kind {
            "waitlist.offered" | "waitlist.confirmed" => self.waitlist_serves += 1,
            "waitlist.offer_lapsed" | "waitlist.expired" => self.waitlist_lapses += 1,
            _ => {}
        }
    }

    pub fn alert(&mut self, severity: &str) {
        *self.alerts_fired.entry(severity.to_owned()).or_default() += 1;
    }

    /// Adds `other`'s counts to this one's.
    pub fn add(&mut self, other: BatchTally) {
        self.holds_expired += other.holds_expired;
        self.waitlist_serves += other.waitlist_serves;
        self.waitlist_lapses += other.waitlist_lapses;
        for (severity, count) in other.alerts_fired {
            *self.alerts_fired.entry(severity).or_default() += count;
        }
    }
}
