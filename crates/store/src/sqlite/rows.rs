//! Rows ↔ the engine's records: the column lists the reads and the writer select, and how a row
//! becomes a record.

use crate::StoreError;
use crate::model::{Price, WaitlistSettings};
use allot_core::waitlist::{EntryStatus, PromotionMode, WaitlistPolicy};
use allot_core::{
    Capacity, HoldStatus, LimitPct, Pool, PoolId, PoolLimits, SessionZone, TtlSeconds, UnixMillis,
};
pub use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use rusqlite::Row;

/// Columns read for a pool, in the order [`pool_from_row`] expects.
pub const POOL_COLUMNS: &str = "id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, \
     held, committed, price_amount_minor, price_currency, metadata, active, created_at, updated_at, \
     per_date, session_id, date, waitlist_policy, waitlist_mode, offer_ttl_seconds, waiting, waiting_below, \
     thresholds, alert_marks, time_zone";

/// Columns read for a hold, in the order [`hold_from_row`] expects.
pub const HOLD_COLUMNS: &str =
    "id, status, holder, expires_at, lines, created_at, updated_at, waitlist_entry_id";

/// Columns read for a waiting-list entry, in the order [`entry_from_row`] expects.
pub const ENTRY_COLUMNS: &str = "e.id, e.pool_id, e.holder, e.quantity, e.priority, e.seq, e.status, e.hold_id, \
     e.expires_at, e.offer_expires_at, e.promoted_at, e.created_at, e.updated_at, p.session_id, p.date";

/// The join that [`ENTRY_COLUMNS`] reads from: an entry with its pool's session and date.
pub const ENTRY_FROM: &str =
    "waitlist_entries e JOIN pools p ON p.tenant_id = e.tenant_id AND p.id = e.pool_id";

/// A stored zone name. Names were checked when stored; one the built-in database no longer
/// knows (a later release dropped it) reads as UTC, with a warning, rather than as a broken pool.
fn zone_of(name: Option<String>) -> Option<SessionZone> {
    let name = name?;
    match SessionZone::parse(&name) {
        Ok(zone) => Some(zone),
        Err(_) => {
            tracing::warn!(zone = %name, "unknown stored time zone; using UTC");
            None
        }
    }
}

pub fn pool_from_row(row: &Row<'_>) -> Result<PoolRecord, StoreError> {
    let capacity = Capacity::new(row.get(5)?)
        .map_err(|_| StoreError::corrupt("pool capacity out of range"))?;
    let hard = LimitPct::new(row.get(6)?)
        .map_err(|_| StoreError::corrupt("pool hard limit out of range"))?;
    let soft = LimitPct::new(row.get(7)?)
        .map_err(|_| StoreError::corrupt("pool soft limit out of range"))?;
    let amount: Option<i64> = row.get(10)?;
    let currency: Option<String> = row.get(11)?;
    let price = match (amount, currency) {
        (Some(amount_minor), Some(currency)) => Some(Price {
            amount_minor,
            currency,
        }),
        _ => None,
    };
    let mut core = Pool::new(
        PoolId(row.get(0)?),
        row.get::<_, Option<String>>(2)?.map(PoolId),
        PoolLimits {
            capacity,
            hard_limit_pct: hard,
            soft_limit_pct: soft,
        },
    );
    core.held = row.get(8)?;
    core.committed = row.get(9)?;
    core.active = row.get(13)?;
    Ok(PoolRecord {
        core,
        name: row.get(3)?,
        unit: row.get(4)?,
        price,
        metadata: row.get(12)?,
        created_at: UnixMillis(row.get(14)?),
        updated_at: UnixMillis(row.get(15)?),
        per_date: row.get(16)?,
        session_id: row.get(17)?,
        date: row.get(18)?,
        waitlist: WaitlistSettings {
            policy: WaitlistPolicy::parse(&row.get::<_, String>(19)?)
                .ok_or_else(|| StoreError::corrupt("unknown waitlist policy"))?,
            mode: PromotionMode::parse(&row.get::<_, String>(20)?)
                .ok_or_else(|| StoreError::corrupt("unknown waitlist mode"))?,
            offer_ttl: TtlSeconds::new(row.get(21)?)
                .map_err(|_| StoreError::corrupt("offer ttl out of range"))?,
        },
        waiting: row.get(22)?,
        waiting_below: row.get(23)?,
        thresholds: row.get(24)?,
        alert_marks: row.get(25)?,
        time_zone: zone_of(row.get(26)?),
    })
}

pub fn hold_from_row(row: &Row<'_>) -> Result<HoldRecord, StoreError> {
    let status: String = row.get(1)?;
    let lines: String = row.get(4)?;
    Ok(HoldRecord {
        id: row.get(0)?,
        status: HoldStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("unknown hold status"))?,
        holder: row.get(2)?,
        expires_at: UnixMillis(row.get(3)?),
        lines: serde_json::from_str(&lines)?,
        created_at: UnixMillis(row.get(5)?),
        updated_at: UnixMillis(row.get(6)?),
        waitlist_entry_id: row.get(7)?,
    })
}

pub fn entry_from_row(row: &Row<'_>) -> Result<EntryRecord, StoreError> {
    let status: String = row.get(6)?;
    Ok(EntryRecord {
        id: row.get(0)?,
        pool_id: row.get(1)?,
        holder: row.get(2)?,
        quantity: row.get(3)?,
        priority: row.get(4)?,
        seq: row.get(5)?,
        status: EntryStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("unknown waitlist entry status"))?,
        hold_id: row.get(7)?,
        expires_at: UnixMillis(row.get(8)?),
        offer_expires_at: row.get::<_, Option<i64>>(9)?.map(UnixMillis),
        promoted_at: row.get::<_, Option<i64>>(10)?.map(UnixMillis),
        created_at: UnixMillis(row.get(11)?),
        updated_at: UnixMillis(row.get(12)?),
        session_id: row.get(13)?,
        date: row.get(14)?,
    })
}
