//! Response bodies, as the API documents them, and the rendering of a writer's outcome into the
//! exact bytes a client receives (and an idempotency record keeps).

use crate::error::ApiError;
use allot_core::UnixMillis;
use allot_core::waitlist::estimate_wait_seconds;
use allot_store::{
    AlertView, Channel, DeliveryWithAttempts, EventView, HoldView, LedgerEntry, Outcome, PlanView,
    PoolView, Price, QuotaView, StoredResponse, Success, ThresholdRecord, WaitlistEntryView,
    WaitlistStatus, WebhookView,
};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T08:00:00.000Z`.
/// Always three fraction digits (the well-known `Rfc3339` format trims them: `…:20Z`, `….5Z`), so
/// every timestamp has one width and sorts as text.
pub fn rfc3339(at: UnixMillis) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let nanos = i128::from(at.0) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 time (any offset) into milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<UnixMillis> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(UnixMillis)
}

/// Money in minor units (cents) with an ISO 4217 currency code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    #[schema(example = 4500)]
    pub amount_minor: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<&Price> for PriceBody {
    fn from(price: &Price) -> Self {
        PriceBody {
            amount_minor: price.amount_minor,
            currency: price.currency.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolBody {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub parent_id: Option<String>,
    pub capacity: i64,
    /// capacity × hard_limit_pct / 100: held + committed never exceed it.
    pub limit: i64,
    pub hard_limit_pct: u32,
    pub soft_limit_pct: u32,
    /// Units held and not yet confirmed, in this pool and every pool below it.
    pub held: i64,
    /// Units confirmed, in this pool and every pool below it.
    pub committed: i64,
    /// What one new hold could take: the least headroom over this pool and its ancestors.
    pub available: i64,
    /// (held + committed) as a percentage of capacity.
    pub utilization_pct: f64,
    pub over_soft_limit: bool,
    pub price: Option<PriceBody>,
    pub metadata: Option<Value>,
    pub active: bool,
    /// A session serving many dates: address a date with `date` in holds and waiting lists.
    pub per_date: bool,
    /// On one date's instance of a session: the session and the date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// A session's time zone (IANA), shown on the session and its dates when one was given:
    /// a date is over once it has ended there. Absent: UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub waitlist: WaitlistSettingsBody,
    /// When to alert: the pool's own thresholds, or seed 004's table.
    #[schema(value_type = Vec<crate::requests::ThresholdBody>)]
    pub thresholds: Vec<ThresholdRecord>,
    pub created_at: String,
    pub updated_at: String,
}

/// How a pool serves its waiting list.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistSettingsBody {
    /// strict or skip.
    pub policy: &'static str,
    /// offer or confirm.
    pub mode: &'static str,
    pub offer_ttl_seconds: i64,
    /// Entries waiting on this pool now.
    pub waiting: i64,
}

impl From<&PoolView> for PoolBody {
    fn from(pool: &PoolView) -> Self {
        PoolBody {
            id: pool.id.clone(),
            name: pool.name.clone(),
            unit: pool.unit.clone(),
            parent_id: pool.parent_id.clone(),
            capacity: pool.capacity,
            limit: pool.limit,
            hard_limit_pct: pool.hard_limit_pct,
            soft_limit_pct: pool.soft_limit_pct,
            held: pool.held,
            committed: pool.committed,
            available: pool.available,
            utilization_pct: pool.utilization_pct,
            over_soft_limit: pool.over_soft_limit,
            price: pool.price.as_ref().map(PriceBody::from),
            metadata: pool.metadata.clone(),
            active: pool.active,
            per_date: pool.per_date,
            session_id: pool.session_id.clone(),
            date: pool.date.clone(),
            time_zone: pool.time_zone.clone(),
            waitlist: WaitlistSettingsBody {
                policy: pool.waitlist.policy.as_str(),
                mode: pool.waitlist.mode.as_str(),
                offer_ttl_seconds: pool.waitlist.offer_ttl.get(),
                waiting: pool.waiting,
            },
            thresholds: allot_store::threshold_records(pool.thresholds.as_deref()),
            created_at: rfc3339(pool.created_at),
            updated_at: rfc3339(pool.updated_at),
        }
    }
}

pub use allot_core::waitlist::DEFAULT_FALLBACK_WAIT_SECONDS;

/// A waiting-list entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistEntryBody {
    pub id: String,
    pub pool_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub holder: String,
    pub quantity: i64,
    pub priority: i64,
    /// waiting, offered, accepted, confirmed, declined, lapsed, expired or cancelled.
    #[schema(example = "waiting")]
    pub status: &'static str,
    /// 1 = served next. Only while waiting.
    pub position: Option<u64>,
    /// From the rate at which this pool actually promoted entries in the last 24 h; with no
    /// history, a configured time per place in line. Only while waiting.
    pub estimated_wait_seconds: Option<i64>,
    /// The hold promotion made: an offer to confirm with POST /v1/holds/{id}/confirm before
    /// `offer_expires_at`, or a confirmed booking.
    pub hold_id: Option<String>,
    pub offer_expires_at: Option<String>,
    pub promoted_at: Option<String>,
    /// Waiting ends then.
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl WaitlistEntryBody {
    /// `now` dates the estimate: the read time, or the write time for a command's answer.
    pub fn new(entry: &WaitlistEntryView, fallback_wait: i64, now: UnixMillis) -> Self {
        WaitlistEntryBody {
            id: entry.id.clone(),
            pool_id: entry.pool_id.clone(),
            session_id: entry.session_id.clone(),
            date: entry.date.clone(),
            holder: entry.holder.clone(),
            quantity: entry.quantity,
            priority: entry.priority,
            status: entry.status.as_str(),
            position: entry.position,
            estimated_wait_seconds: entry.position.map(|position| {
                estimate_wait_seconds(position, &entry.recent_promotions, now, fallback_wait)
            }),
            hold_id: entry.hold_id.clone(),
            offer_expires_at: entry.offer_expires_at.map(rfc3339),
            promoted_at: entry.promoted_at.map(rfc3339),
            expires_at: rfc3339(entry.expires_at),
            created_at: rfc3339(entry.created_at),
            updated_at: rfc3339(entry.updated_at),
        }
    }
}

/// A pool's waiting list: figures, and one page of entries in queue order.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistStatusBody {
    pub pool_id: String,
    /// Entries waiting now.
    pub waiting: u64,
    /// Units they ask for, together.
    pub total_quantity: i64,
    /// How long the entries waiting now have waited so far, on average.
    pub average_waited_seconds: Option<i64>,
    /// How long served entries waited before promotion, on average.
    pub average_wait_to_promotion_seconds: Option<i64>,
    /// Promotions in the last 24 h that the estimates are measured from (at most 20 counted).
    pub recent_promotions: usize,
    pub entries: Page<WaitlistEntryBody>,
}

impl WaitlistStatusBody {
    pub fn new(status: &WaitlistStatus, fallback_wait: i64, now: UnixMillis) -> Self {
        WaitlistStatusBody {
            pool_id: status.pool_id.clone(),
            waiting: status.waiting,
            total_quantity: status.total_quantity,
            average_waited_seconds: status.average_waited_ms.map(|ms| ms / 1000),
            average_wait_to_promotion_seconds: status
                .average_wait_to_promotion_ms
                .map(|ms| ms / 1000),
            recent_promotions: status.recent_promotions.len(),
            entries: Page {
                items: status
                    .entries
                    .items
                    .iter()
                    .map(|entry| WaitlistEntryBody::new(entry, fallback_wait, now))
                    .collect(),
                next_cursor: status.entries.next_cursor.clone(),
            },
        }
    }
}

/// Something that happened, from the outbox (waiting-list promotions, offers, lapses, expiries).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    /// Increases with every event: pass the last one seen as `?cursor=` to read on.
    pub seq: i64,
    pub id: String,
    /// For example waitlist.offered, waitlist.confirmed, waitlist.offer_lapsed, waitlist.expired.
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub created_at: String,
}

impl From<&EventView> for EventBody {
    fn from(event: &EventView) -> Self {
        EventBody {
            seq: event.seq,
            id: event.id.clone(),
            kind: event.kind.clone(),
            data: event.data.clone(),
            created_at: rfc3339(event.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldLineBody {
    pub pool_id: String,
    pub quantity: i64,
    /// The pool's price when the hold was made; later price changes do not touch it.
    pub unit_price: Option<PriceBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldBody {
    pub id: String,
    /// held, confirmed, released or expired.
    #[schema(example = "held")]
    pub status: String,
    pub holder: Option<String>,
    pub expires_at: String,
    pub lines: Vec<HoldLineBody>,
    pub created_at: String,
    pub updated_at: String,
    /// On a change: `over_soft_limit` when a pool is now above its soft limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

impl HoldBody {
    pub fn new(hold: &HoldView, warnings: Option<Vec<String>>) -> Self {
        HoldBody {
            id: hold.id.clone(),
            status: hold.status.as_str().to_owned(),
            holder: hold.holder.clone(),
            expires_at: rfc3339(hold.expires_at),
            lines: hold
                .lines
                .iter()
                .map(|line| HoldLineBody {
                    pool_id: line.pool_id.clone(),
                    quantity: line.quantity,
                    unit_price: line.unit_price.as_ref().map(PriceBody::from),
                })
                .collect(),
            created_at: rfc3339(hold.created_at),
            updated_at: rfc3339(hold.updated_at),
            warnings,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryBody {
    pub seq: i64,
    pub pool_id: String,
    pub hold_id: Option<String>,
    /// hold, confirm, release, expire or adjust.
    pub kind: String,
    pub held_delta: i64,
    pub committed_delta: i64,
    pub capacity_after: i64,
    /// The API key id that made the change; null for the sweeper.
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub at: String,
}

impl From<&LedgerEntry> for LedgerEntryBody {
    fn from(entry: &LedgerEntry) -> Self {
        LedgerEntryBody {
            seq: entry.seq,
            pool_id: entry.pool_id.clone(),
            hold_id: entry.hold_id.clone(),
            kind: entry.kind.as_str().to_owned(),
            held_delta: entry.held_delta,
            committed_delta: entry.committed_delta,
            capacity_after: entry.capacity_after,
            actor: entry.actor.clone(),
            reason: entry.reason.clone(),
            at: rfc3339(entry.at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBody {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: String,
    pub role: String,
    pub created_at: String,
}

/// A new tenant and its first admin key. The key is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreatedBody {
    pub tenant: TenantBody,
    pub api_key_id: String,
    /// The secret. A replay of this request by Idempotency-Key omits it: it is not stored.
    pub api_key: Option<String>,
}

/// A new API key. The secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreatedBody {
    pub id: String,
    pub role: String,
    pub created_at: String,
    pub api_key: Option<String>,
}

/// A page of a list. Pass `next_cursor` back as `?cursor=` for the next page; null means the end.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityBody {
    pub pool_id: String,
    pub available: i64,
    pub quantity: i64,
    pub can_hold: bool,
}

/// Sums over a pool's direct children (an event's sections).
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalsBody {
    pub pool_id: String,
    pub children: usize,
    pub capacity: i64,
    pub held: i64,
    pub committed: i64,
    /// Sum of the children's availability, capped by what the pool itself still allows.
    pub available: i64,
    pub utilization_pct: f64,
}

/// The JSON of a success, or the problem of a failure: one function per route, used both for a
/// live answer and for the idempotency record, so a replay is byte-for-byte the first answer.
pub fn render(outcome: &Outcome, ok: StatusCode) -> StoredResponse {
    render_with(outcome, ok, DEFAULT_FALLBACK_WAIT_SECONDS)
}

/// `render`, with the server's fallback wait per place in line for waiting-list answers.
pub fn render_with(outcome: &Outcome, ok: StatusCode, fallback_wait: i64) -> StoredResponse {
    match outcome {
        Ok(success) => StoredResponse {
            // Nothing new was made: the answer is what already existed.
            status: match success {
                Success::AlreadyConsumed(_) | Success::Member { created: false, .. } => 200,
                // The plan changed and its members follow in a job that runs on.
                Success::PlanFollowed { .. } => 202,
                _ => ok.as_u16(),
            },
            body: success_bytes(success, fallback_wait),
        },
        Err(failure) => ApiError::from(failure.clone()).to_stored(),
    }
}

pub fn render_ok(outcome: &Outcome) -> StoredResponse {
    render(outcome, StatusCode::OK)
}

pub fn render_created(outcome: &Outcome) -> StoredResponse {
    render(outcome, StatusCode::CREATED)
}

fn to_bytes<T: Serialize>(body: T) -> Vec<u8> {
    serde_json::to_vec(&body).expect("response bodies serialize: no maps with non-string keys")
}

/// Serialises straight to bytes: the hot path (a hold) builds no intermediate JSON tree.
fn success_bytes(success: &Success, fallback_wait: i64) -> Vec<u8> {
    match success {
        Success::TenantCreated { tenant, key } => to_bytes(TenantCreatedBody {
            tenant: TenantBody {
                id: tenant.id.0.clone(),
                name: tenant.name.clone(),
                created_at: rfc3339(tenant.created_at),
            },
            api_key_id: key.id.clone(),
            api_key: None,
        }),
        Success::ApiKeyCreated(key) => to_bytes(ApiKeyCreatedBody {
            id: key.id.clone(),
            role: key.role.as_str().to_owned(),
            created_at: rfc3339(key.created_at),
            api_key: None,
        }),
        Success::ApiKeyRevoked => to_bytes(serde_json::json!({"revoked": true})),
        Success::Pool(pool) => to_bytes(PoolBody::from(pool)),
        Success::Hold { hold, warnings } => to_bytes(HoldBody::new(
            hold,
            Some(warnings.iter().map(|w| w.as_str().to_owned()).collect()),
        )),
        Success::Swept { expired } => to_bytes(serde_json::json!({"expired": expired})),
        Success::WaitlistEntry(entry) => to_bytes(WaitlistEntryBody::new(
            entry,
            fallback_wait,
            entry.updated_at,
        )),
        Success::PriorityClasses(classes) => {
            to_bytes(crate::requests::PriorityClassesBody::from(classes))
        }
        Success::Webhook(webhook) => to_bytes(WebhookBody::new(webhook, None)),
        Success::WebhookDeleted => to_bytes(serde_json::json!({"deleted": true})),
        Success::DeliveryQueued { delivery_id } => {
            to_bytes(serde_json::json!({"delivery_id": delivery_id, "status": "pending"}))
        }
        Success::Recipients(groups) => to_bytes(RecipientsBody::from(groups)),
        Success::AttemptsRecorded => to_bytes(serde_json::json!({"recorded": true})),
        Success::Plan(plan) => to_bytes(PlanBody::from(plan)),
        Success::PlanFollowed { plan, job } => {
            let mut body = PlanBody::from(plan);
            body.job_id = Some(job.id.clone());
            to_bytes(body)
        }
        Success::Member { pool, .. } => to_bytes(PoolBody::from(pool)),
        Success::AlreadyConsumed(hold) => to_bytes(HoldBody::new(hold, Some(Vec::new()))),
        Success::Tickets(success) => crate::routes::tickets::success_bytes(success),
        Success::Job(job) => to_bytes(crate::routes::jobs::JobBody::new(job, Vec::new())),
    }
}

/// Seed 004's capacity flags: near (≥ 80% of capacity), at (≥ 100%), over (> 100%).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagsBody {
    pub near: bool,
    pub at: bool,
    pub over: bool,
}

impl From<allot_core::thresholds::UtilizationFlags> for FlagsBody {
    fn from(flags: allot_core::thresholds::UtilizationFlags) -> Self {
        FlagsBody {
            near: flags.near,
            at: flags.at,
            over: flags.over,
        }
    }
}

/// One pool's use against its capacity and limit.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    pub pool_id: String,
    pub name: String,
    pub unit: String,
    pub capacity: i64,
    pub limit: i64,
    /// held + committed.
    pub used: i64,
    pub held: i64,
    pub committed: i64,
    /// used as a percentage of capacity: above 100 in the overage band.
    pub utilization_pct: f64,
    /// used as a percentage of the limit.
    pub limit_utilization_pct: f64,
    pub flags: FlagsBody,
}

impl From<&PoolView> for UsageBody {
    fn from(pool: &PoolView) -> Self {
        let used = pool.held + pool.committed;
        let limit_utilization_pct = allot_core::limits::utilization_pct(used, pool.limit);
        UsageBody {
            pool_id: pool.id.clone(),
            name: pool.name.clone(),
            unit: pool.unit.clone(),
            capacity: pool.capacity,
            limit: pool.limit,
            used,
            held: pool.held,
            committed: pool.committed,
            utilization_pct: pool.utilization_pct,
            limit_utilization_pct,
            flags: allot_core::thresholds::UtilizationFlags::of(used, pool.capacity).into(),
        }
    }
}

/// A pool's utilisation; for a bundle (a pool with children) the shared total is the pool itself
/// and `breakdown` lists each campaign under it (seed 004's getBundleCapacityUtilization).
#[derive(Debug, Serialize, ToSchema)]
pub struct UtilizationBody {
    #[serde(flatten)]
    pub total: UsageBody,
    pub breakdown: Vec<UsageBody>,
}

/// An alert from the log: a threshold crossed upward, or a queue alert (seed 000).
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertBody {
    pub seq: i64,
    pub id: String,
    pub pool_id: String,
    /// threshold, queue_long or shortage.
    pub kind: String,
    pub threshold_pct: Option<u32>,
    /// info, warning, error or critical.
    pub severity: String,
    /// The recipient groups alerted.
    pub recipients: Vec<String>,
    pub used: i64,
    pub capacity: i64,
    pub utilization_pct: f64,
    pub waiting: i64,
    pub created_at: String,
}

impl From<&AlertView> for AlertBody {
    fn from(alert: &AlertView) -> Self {
        let utilization_pct = allot_core::limits::utilization_pct(alert.used, alert.capacity);
        AlertBody {
            seq: alert.seq,
            id: alert.id.clone(),
            pool_id: alert.pool_id.clone(),
            kind: alert.kind.clone(),
            threshold_pct: alert.threshold_pct,
            severity: alert.severity.clone(),
            recipients: alert.recipients.clone(),
            used: alert.used,
            capacity: alert.capacity,
            utilization_pct,
            waiting: alert.waiting,
            created_at: rfc3339(alert.created_at),
        }
    }
}

/// Recipient groups: each name maps to the channels its alerts go to.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsBody {
    /// Group name → channels, each `{"email": "..."}` or `{"webhook_id": "wh_..."}`.
    #[schema(value_type = Object, example = json!({"sales": [{"email": "sales@example.com"}], "company_admin": [{"webhook_id": "wh_0123"}]}))]
    pub groups: BTreeMap<String, Vec<Channel>>,
}

impl From<&BTreeMap<String, Vec<Channel>>> for RecipientsBody {
    fn from(groups: &BTreeMap<String, Vec<Channel>>) -> Self {
        RecipientsBody {
            groups: groups.clone(),
        }
    }
}

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBody {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: String,
    /// The signing secret (`whsec_…`), shown only when the webhook is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookBody {
    pub fn new(webhook: &WebhookView, secret: Option<String>) -> Self {
        WebhookBody {
            id: webhook.id.clone(),
            url: webhook.url.clone(),
            events: webhook.events.clone(),
            active: webhook.active,
            created_at: rfc3339(webhook.created_at),
            secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptBody {
    pub attempt: i64,
    pub at: String,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One event's delivery to a webhook, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// pending, delivered or failed (given up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub attempt_log: Vec<AttemptBody>,
}

impl From<&DeliveryWithAttempts> for DeliveryBody {
    fn from(item: &DeliveryWithAttempts) -> Self {
        let delivery = &item.delivery;
        DeliveryBody {
            id: delivery.id.clone(),
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            status: delivery.status.clone(),
            attempts: delivery.attempts,
            next_attempt_at: (delivery.status == "pending")
                .then(|| rfc3339(delivery.next_attempt_at)),
            last_status: delivery.last_status,
            last_error: delivery.last_error.clone(),
            created_at: rfc3339(delivery.created_at),
            attempt_log: item
                .attempts
                .iter()
                .map(|attempt| AttemptBody {
                    attempt: attempt.attempt,
                    at: rfc3339(attempt.at),
                    status: attempt.status,
                    error: attempt.error.clone(),
                    duration_ms: attempt.duration_ms,
                })
                .collect(),
        }
    }
}

/// A plan: the quota each member gets.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanBody {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub capacity: i64,
    pub hard_limit_pct: u32,
    pub soft_limit_pct: u32,
    #[schema(value_type = Vec<crate::requests::ThresholdBody>)]
    pub thresholds: Vec<ThresholdRecord>,
    /// Members with a quota from this plan.
    pub members: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The bulk adjustment moving existing members to a new capacity, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

impl From<&PlanView> for PlanBody {
    fn from(plan: &PlanView) -> Self {
        PlanBody {
            id: plan.id.clone(),
            name: plan.name.clone(),
            unit: plan.unit.clone(),
            capacity: plan.capacity,
            hard_limit_pct: plan.hard_limit_pct,
            soft_limit_pct: plan.soft_limit_pct,
            thresholds: allot_store::threshold_records(plan.thresholds.as_deref()),
            members: plan.members,
            created_at: rfc3339(plan.created_at),
            updated_at: rfc3339(plan.updated_at),
            job_id: None,
        }
    }
}

/// One of a subject's quotas: use, limit and seed 004's flags; its history is the pool's ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaBody {
    pub plan_id: String,
    pub plan_name: String,
    #[serde(flatten)]
    pub usage: UsageBody,
    pub available: i64,
    pub over_soft_limit: bool,
    /// Where its history (with reasons) is: the pool's ledger.
    pub history: String,
}

impl From<&QuotaView> for QuotaBody {
    fn from(quota: &QuotaView) -> Self {
        QuotaBody {
            plan_id: quota.plan_id.clone(),
            plan_name: quota.plan_name.clone(),
            usage: UsageBody::from(&quota.pool),
            available: quota.pool.available,
            over_soft_limit: quota.pool.over_soft_limit,
            history: format!("/v1/pools/{}/ledger", quota.pool.id),
        }
    }
}
