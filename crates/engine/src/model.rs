//! Records as the store keeps them, free of any driver type. Times are `UnixMillis`; the server
//! renders them as RFC 3339.

use allot_core::waitlist::{EntryStatus, PromotionMode, WaitlistPolicy};
use allot_core::{HoldStatus, SessionZone, TtlSeconds, UnixMillis};
use serde::{Deserialize, Serialize};

/// The tenant a row belongs to. Every query filters by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub String);

/// What a key may do. Ordered: each role can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: UnixMillis,
}

/// An API key as stored: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: TenantId,
    pub role: Role,
    pub created_at: UnixMillis,
}

/// Money in minor units with an ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub amount_minor: i64,
    pub currency: String,
}

/// A pool as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolView {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub parent_id: Option<String>,
    pub capacity: i64,
    pub hard_limit_pct: u32,
    pub soft_limit_pct: u32,
    /// capacity × hard_limit_pct / 100.
    pub limit: i64,
    pub held: i64,
    pub committed: i64,
    /// The least headroom over the pool and its ancestors, never below 0.
    pub available: i64,
    pub utilization_pct: f64,
    pub over_soft_limit: bool,
    pub price: Option<Price>,
    pub metadata: Option<serde_json::Value>,
    pub active: bool,
    /// A session that serves many dates: holds and waiting lists address one of its dates.
    pub per_date: bool,
    /// For one date's instance of a session: the session and the date (`YYYY-MM-DD`).
    pub session_id: Option<String>,
    pub date: Option<String>,
    /// A session's time zone (IANA name), also shown on its dates; `None`: UTC.
    pub time_zone: Option<String>,
    pub waitlist: WaitlistSettings,
    /// Entries waiting on this pool itself.
    pub waiting: i64,
    /// The pool's own thresholds as stored (JSON), or `None` for the default table; see
    /// [`threshold_records`]. Kept raw so that reads which do not show them do not parse them.
    pub thresholds: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl PoolView {
    /// The time zone this session's dates (or this date) are in: UTC when it names none.
    pub fn zone(&self) -> SessionZone {
        self.time_zone
            .as_deref()
            .and_then(|name| SessionZone::parse(name).ok())
            .unwrap_or_else(SessionZone::utc)
    }
}

/// How a pool serves its waiting list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitlistSettings {
    pub policy: WaitlistPolicy,
    pub mode: PromotionMode,
    /// How long an offer's hold lives (offer mode).
    pub offer_ttl: TtlSeconds,
}

impl Default for WaitlistSettings {
    fn default() -> Self {
        WaitlistSettings {
            policy: WaitlistPolicy::Strict,
            mode: PromotionMode::Offer,
            offer_ttl: TtlSeconds::DEFAULT,
        }
    }
}

/// A waiting-list entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistEntryView {
    pub id: String,
    /// The pool waited on (for a dated session, that date's instance).
    pub pool_id: String,
    pub session_id: Option<String>,
    pub date: Option<String>,
    pub holder: String,
    pub quantity: i64,
    pub priority: i64,
    /// As of read time: a waiting entry past its deadline reads as expired.
    pub status: EntryStatus,
    /// 1 for the next entry served; only while waiting.
    pub position: Option<u64>,
    /// The times of the pool's latest promotions, newest first, to estimate the wait from;
    /// only while waiting.
    pub recent_promotions: Vec<UnixMillis>,
    /// The hold made by promotion: an offer to confirm, or a confirmed booking.
    pub hold_id: Option<String>,
    pub offer_expires_at: Option<UnixMillis>,
    pub promoted_at: Option<UnixMillis>,
    pub expires_at: UnixMillis,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A pool's waiting list at a glance, with one page of its entries in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistStatus {
    pub pool_id: String,
    pub waiting: u64,
    pub total_quantity: i64,
    /// How long the entries waiting now have waited so far, on average.
    pub average_waited_ms: Option<i64>,
    /// How long promoted entries waited before promotion, on average.
    pub average_wait_to_promotion_ms: Option<i64>,
    pub recent_promotions: Vec<UnixMillis>,
    pub entries: Page<WaitlistEntryView>,
}

/// An event in the outbox: something that happened, for webhooks and for `GET /v1/events`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldLineView {
    pub pool_id: String,
    pub quantity: i64,
    /// The pool's price when the hold was made, locked for the life of the hold.
    pub unit_price: Option<Price>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldView {
    pub id: String,
    /// As seen at read time: a held hold past its deadline reads as expired.
    pub status: HoldStatus,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    pub lines: Vec<HoldLineView>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldFilter {
    pub holder: Option<String>,
    pub status: Option<HoldStatus>,
}

/// Ledger entry kinds: one per lifecycle verb, plus capacity adjustments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    Hold,
    Confirm,
    Release,
    Expire,
    Adjust,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Hold => "hold",
            LedgerKind::Confirm => "confirm",
            LedgerKind::Release => "release",
            LedgerKind::Expire => "expire",
            LedgerKind::Adjust => "adjust",
        }
    }
    pub fn parse(value: &str) -> Option<LedgerKind> {
        match value {
            "hold" => Some(LedgerKind::Hold),
            "confirm" => Some(LedgerKind::Confirm),
            "release" => Some(LedgerKind::Release),
            "expire" => Some(LedgerKind::Expire),
            "adjust" => Some(LedgerKind::Adjust),
            _ => None,
        }
    }
}

/// One append-only change to a pool's counters or capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: i64,
    pub pool_id: String,
    pub hold_id: Option<String>,
    pub kind: LedgerKind,
    pub held_delta: i64,
    pub committed_delta: i64,
    pub capacity_after: i64,
    /// The API key that caused the change; `None` for the sweeper.
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub at: UnixMillis,
}

/// Page sizes are the core's: one rule for what a client may ask and what a store reads.
pub use allot_core::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// `?limit=&cursor=`: the cursor is the last item of the previous page, as the store gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when there may be more: pass it back as `cursor`.
    pub next_cursor: Option<String>,
}

/// One utilisation threshold as stored and shown: at `pct` percent of capacity, alert the
/// `recipients` groups with `severity`, at most once every `throttle_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdRecord {
    pub pct: u32,
    pub severity: String,
    pub recipients: Vec<String>,
    pub throttle_seconds: i64,
}

impl ThresholdRecord {
    pub fn from_core(threshold: &allot_core::thresholds::Threshold) -> Self {
        ThresholdRecord {
            pct: threshold.pct,
            severity: threshold.severity.as_str().to_owned(),
            recipients: threshold.recipients.clone(),
            throttle_seconds: threshold.throttle_seconds,
        }
    }

    pub fn to_core(&self) -> Option<allot_core::thresholds::Threshold> {
        Some(allot_core::thresholds::Threshold {
            pct: self.pct,
            severity: allot_core::thresholds::Severity::parse(&self.severity)?,
            recipients: self.recipients.clone(),
            throttle_seconds: self.throttle_seconds,
        })
    }
}

/// Where a recipient group's alerts go: an e-mail address or a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
}

/// An alert as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertView {
    pub seq: i64,
    pub id: String,
    pub pool_id: String,
    /// threshold, queue_long or shortage.
    pub kind: String,
    pub threshold_pct: Option<u32>,
    pub severity: String,
    pub recipients: Vec<String>,
    pub used: i64,
    pub capacity: i64,
    pub waiting: i64,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub pool_id: Option<String>,
    pub severity: Option<String>,
    pub since: Option<UnixMillis>,
}

/// A webhook endpoint as stored (its secret is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: UnixMillis,
}

/// One delivery of one event to one destination, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    pub id: String,
    pub tenant_id: TenantId,
    /// webhook or email.
    pub channel: String,
    pub webhook_id: Option<String>,
    pub email: Option<String>,
    pub event_id: String,
    pub event_type: String,
    /// The JSON body delivered.
    pub payload: String,
    /// pending, delivered or failed (given up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: UnixMillis,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Due at its next attempt.
    Pending,
    Delivered,
    /// Given up: no attempt is made again.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// What one attempt at a delivery came to, as the delivery worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub delivery_id: String,
    pub at: UnixMillis,
    /// The HTTP status (webhooks) or the SMTP reply code (e-mail), when there was an answer.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub delivered: bool,
    /// When to try again; `None` with `delivered` false means give up.
    pub retry_at: Option<UnixMillis>,
}

/// One attempt in a delivery's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: i64,
    pub at: UnixMillis,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery with its attempts, as `GET /v1/webhooks/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryWithAttempts {
    pub delivery: DeliveryView,
    pub attempts: Vec<AttemptRecord>,
}

/// A delivery that is due, with where it goes: the webhook's URL and signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub delivery: DeliveryView,
    pub url: Option<String>,
    pub secret: Option<String>,
}

/// A pool's thresholds as stored (`None`: the default table), as records to show.
pub fn threshold_records(stored: Option<&str>) -> Vec<ThresholdRecord> {
    match stored {
        Some(text) => serde_json::from_str(text).unwrap_or_default(),
        None => allot_core::thresholds::default_thresholds()
            .iter()
            .map(ThresholdRecord::from_core)
            .collect(),
    }
}

/// A plan as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub capacity: i64,
    pub hard_limit_pct: u32,
    pub soft_limit_pct: u32,
    /// As stored (JSON); `None`: the default table.
    pub thresholds: Option<String>,
    pub members: i64,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// One of a subject's quotas: the plan it comes from and its pool.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaView {
    pub plan_id: String,
    pub plan_name: String,
    pub pool: PoolView,
}

/// A pool's availability, as the availability check answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// The least headroom over the pool and its ancestors (0 when any of them is inactive).
    pub available: i64,
    pub active: bool,
    /// A session template: its dates have availability, it has none of its own.
    pub per_date: bool,
}

impl Availability {
    pub fn of(pool: &PoolView) -> Self {
        Availability {
            available: pool.available,
            active: pool.active,
            per_date: pool.per_date,
        }
    }
}
