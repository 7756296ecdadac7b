//! Pools: a pool with its counters and settings, its ledger, availability, totals over its
//! children, and its use against capacity and limit (a campaign, or a bundle of them). Prices and
//! thresholds go both ways: requests take the same shapes.

use crate::timestamps::rfc3339;
use allot_core::thresholds::UtilizationFlags;
use allot_store::{LedgerEntry, PoolView, Price, ThresholdRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Money in minor units (cents) with an ISO 4217 currency code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    #[schema(example = 4500, minimum = 0)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub amount_minor: i64,
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
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
    /// When to alert: the pool's own thresholds, or the default campaign table.
    #[schema(value_type = Vec<ThresholdBody>)]
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

/// One threshold: at `pct` percent of capacity, alert the `recipients` groups with `severity`,
/// at most once every `throttle_seconds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdBody {
    #[schema(example = 80, minimum = 1, maximum = 1000)]
    pub pct: u32,
    /// info, warning, error or critical.
    #[schema(example = "info", value_type = crate::requests::names::SeverityName)]
    pub severity: String,
    /// Recipient groups (see `PUT /v1/settings/recipients`), at least one.
    #[schema(example = json!(["sales"]), min_items = 1, value_type = Vec<crate::requests::names::GroupName>)]
    pub recipients: Vec<String>,
    /// 0 to 30 days.
    #[schema(example = 86400, minimum = 0, maximum = 2592000)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub throttle_seconds: i64,
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

/// A campaign quota's capacity flags: near (≥ 80% of capacity), at (≥ 100%), over (> 100%).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagsBody {
    pub near: bool,
    pub at: bool,
    pub over: bool,
}

impl From<UtilizationFlags> for FlagsBody {
    fn from(flags: UtilizationFlags) -> Self {
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
            flags: UtilizationFlags::of(used, pool.capacity).into(),
        }
    }
}

/// A pool's utilisation; for a bundle (a pool with children) the shared total is the pool itself
/// and `breakdown` lists each campaign under it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UtilizationBody {
    #[serde(flatten)]
    pub total: UsageBody,
    pub breakdown: Vec<UsageBody>,
}
