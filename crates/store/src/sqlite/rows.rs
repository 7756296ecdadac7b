//! Row ↔ record mapping shared by reads and the writer.

use crate::StoreError;
use crate::model::{HoldLineView, HoldView, PoolView, Price, WaitlistEntryView, WaitlistSettings};
use allot_core::waitlist::{EntryStatus, PromotionMode, QueueKey, WaitingEntry, WaitlistPolicy};
use allot_core::{
    Capacity, HoldLine, HoldStatus, LimitPct, Pool, PoolId, PoolLimits, Quantity, SessionDate,
    SessionZone, TtlSeconds, UnixMillis,
};
use rusqlite::Row;

/// Columns read for a pool, in the order [`PoolRow::from_row`] expects.
pub const POOL_COLUMNS: &str = "id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, \
     held, committed, price_amount_minor, price_currency, metadata, active, created_at, updated_at, \
     per_date, session_id, date, waitlist_policy, waitlist_mode, offer_ttl_seconds, waiting, waiting_below, \
     thresholds, alert_marks, time_zone";

/// A pool row: the core's view of it plus what only the API shows.
#[derive(Debug, Clone)]
pub struct PoolRow {
    pub core: Pool,
    pub name: String,
    pub unit: String,
    pub price: Option<Price>,
    /// Kept as the JSON text the client sent, re-parsed only to answer.
    pub metadata: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    /// A session template: it takes no holds itself, its dates do.
    pub per_date: bool,
    /// Set on one date's instance of a session.
    pub session_id: Option<String>,
    pub date: Option<String>,
    /// A session's time zone, copied to each of its dates: `None` is UTC.
    pub time_zone: Option<SessionZone>,
    pub waitlist: WaitlistSettings,
    /// Waiting entries on this pool itself.
    pub waiting: i64,
    /// Waiting entries on this pool and every pool below it: promotion looks for waiters only
    /// where this is above zero.
    pub waiting_below: i64,
    /// The pool's thresholds as stored (JSON); `None` for seed 004's table.
    pub thresholds: Option<String>,
    /// When each threshold or queue alert last fired (JSON), for throttling.
    pub alert_marks: Option<String>,
}

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

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

impl PoolRow {
    pub fn from_row(row: &Row<'_>) -> Result<PoolRow, StoreError> {
        let capacity =
            Capacity::new(row.get(5)?).map_err(|_| corrupt("pool capacity out of range"))?;
        let hard =
            LimitPct::new(row.get(6)?).map_err(|_| corrupt("pool hard limit out of range"))?;
        let soft =
            LimitPct::new(row.get(7)?).map_err(|_| corrupt("pool soft limit out of range"))?;
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
        Ok(PoolRow {
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
                    .ok_or_else(|| corrupt("unknown waitlist policy"))?,
                mode: PromotionMode::parse(&row.get::<_, String>(20)?)
                    .ok_or_else(|| corrupt("unknown waitlist mode"))?,
                offer_ttl: TtlSeconds::new(row.get(21)?)
                    .map_err(|_| corrupt("offer ttl out of range"))?,
            },
            waiting: row.get(22)?,
            waiting_below: row.get(23)?,
            thresholds: row.get(24)?,
            alert_marks: row.get(25)?,
            time_zone: zone_of(row.get(26)?),
        })
    }

    /// The time zone this pool's date (or this session's dates) are in.
    pub fn zone(&self) -> SessionZone {
        self.time_zone.clone().unwrap_or_else(SessionZone::utc)
    }

    /// Whether this is a date of a session that is over in the session's time zone.
    pub fn date_is_over(&self, now: UnixMillis) -> bool {
        self.date
            .as_deref()
            .and_then(|date| SessionDate::parse(date).ok())
            .is_some_and(|date| date.is_past_in(now, &self.zone()))
    }

    /// A session's instance for `date`, as it is before its first use: the session's capacity,
    /// limits, price and waiting-list settings, counting against the session's ancestors.
    /// `live` is the session's pool as it stands now (the writer's may differ from `session.core`
    /// when the batch has changed it).
    pub fn instance_of(
        session: &PoolRow,
        live: &Pool,
        date: SessionDate,
        now: UnixMillis,
    ) -> PoolRow {
        let id = date.instance_id(&live.id);
        let mut core = Pool::new(id, live.parent_id.clone(), live.limits);
        core.active = live.active;
        PoolRow {
            core,
            name: format!("{} {date}", session.name),
            unit: session.unit.clone(),
            price: session.price.clone(),
            metadata: None,
            created_at: now,
            updated_at: now,
            per_date: false,
            session_id: Some(session.core.id.0.clone()),
            date: Some(date.to_string()),
            time_zone: session.time_zone.clone(),
            waitlist: session.waitlist,
            waiting: 0,
            waiting_below: 0,
            thresholds: session.thresholds.clone(),
            alert_marks: None,
        }
    }

    /// The API view, given the pool's counters as they should be shown (`core` may have been
    /// corrected for holds that are due to expire) and its availability over its ancestors.
    pub fn view(&self, core: &Pool, available: i64) -> PoolView {
        PoolView {
            id: core.id.0.clone(),
            name: self.name.clone(),
            unit: self.unit.clone(),
            parent_id: core.parent_id.as_ref().map(|p| p.0.clone()),
            capacity: core.limits.capacity.get(),
            hard_limit_pct: core.limits.hard_limit_pct.get(),
            soft_limit_pct: core.limits.soft_limit_pct.get(),
            limit: core.limits.limit(),
            held: core.held,
            committed: core.committed,
            available,
            utilization_pct: core.utilization_pct(),
            over_soft_limit: core.over_soft_limit(),
            price: self.price.clone(),
            metadata: self
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok()),
            active: core.active,
            per_date: self.per_date,
            session_id: self.session_id.clone(),
            date: self.date.clone(),
            time_zone: self.time_zone.as_ref().map(|zone| zone.name().to_owned()),
            waitlist: self.waitlist,
            waiting: self.waiting,
            thresholds: self.thresholds.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Columns read for a hold, in the order [`HoldRow::from_row`] expects.
pub const HOLD_COLUMNS: &str =
    "id, status, holder, expires_at, lines, created_at, updated_at, waitlist_entry_id";

#[derive(Debug, Clone)]
pub struct HoldRow {
    pub id: String,
    /// As stored: a held hold past its deadline stays `held` here until it is expired.
    pub status: HoldStatus,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    pub lines: Vec<HoldLineView>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    /// The waiting-list entry whose promotion made this hold.
    pub waitlist_entry_id: Option<String>,
}

impl HoldRow {
    pub fn from_row(row: &Row<'_>) -> Result<HoldRow, StoreError> {
        let status: String = row.get(1)?;
        let lines: String = row.get(4)?;
        Ok(HoldRow {
            id: row.get(0)?,
            status: HoldStatus::parse(&status).ok_or_else(|| corrupt("unknown hold status"))?,
            holder: row.get(2)?,
            expires_at: UnixMillis(row.get(3)?),
            lines: serde_json::from_str(&lines)?,
            created_at: UnixMillis(row.get(5)?),
            updated_at: UnixMillis(row.get(6)?),
            waitlist_entry_id: row.get(7)?,
        })
    }

    pub fn lifecycle(&self) -> allot_core::Hold {
        allot_core::Hold {
            status: self.status,
            expires_at: self.expires_at,
        }
    }

    pub fn core_lines(&self) -> Result<Vec<HoldLine>, StoreError> {
        self.lines
            .iter()
            .map(|line| {
                Ok(HoldLine {
                    pool_id: PoolId(line.pool_id.clone()),
                    quantity: Quantity::new(line.quantity)
                        .map_err(|_| corrupt("hold line quantity out of range"))?,
                })
            })
            .collect()
    }

    /// The API view as of `now`.
    pub fn view(&self, now: UnixMillis) -> HoldView {
        HoldView {
            id: self.id.clone(),
            status: self.lifecycle().status_at(now),
            holder: self.holder.clone(),
            expires_at: self.expires_at,
            lines: self.lines.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Columns read for a waiting-list entry, in the order [`EntryRow::from_row`] expects.
pub const ENTRY_COLUMNS: &str = "e.id, e.pool_id, e.holder, e.quantity, e.priority, e.seq, e.status, e.hold_id, \
     e.expires_at, e.offer_expires_at, e.promoted_at, e.created_at, e.updated_at, p.session_id, p.date";

/// The join that [`ENTRY_COLUMNS`] reads from: an entry with its pool's session and date.
pub const ENTRY_FROM: &str =
    "waitlist_entries e JOIN pools p ON p.tenant_id = e.tenant_id AND p.id = e.pool_id";

#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: String,
    pub pool_id: String,
    pub holder: String,
    pub quantity: i64,
    pub priority: i64,
    pub seq: i64,
    /// As stored: a waiting entry past its deadline stays `waiting` here until it is expired.
    pub status: EntryStatus,
    pub hold_id: Option<String>,
    pub expires_at: UnixMillis,
    pub offer_expires_at: Option<UnixMillis>,
    pub promoted_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub session_id: Option<String>,
    pub date: Option<String>,
}

impl EntryRow {
    pub fn from_row(row: &Row<'_>) -> Result<EntryRow, StoreError> {
        let status: String = row.get(6)?;
        Ok(EntryRow {
            id: row.get(0)?,
            pool_id: row.get(1)?,
            holder: row.get(2)?,
            quantity: row.get(3)?,
            priority: row.get(4)?,
            seq: row.get(5)?,
            status: EntryStatus::parse(&status)
                .ok_or_else(|| corrupt("unknown waitlist entry status"))?,
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

    pub fn waiting(&self) -> Result<WaitingEntry, StoreError> {
        Ok(WaitingEntry {
            id: self.id.clone(),
            pool_id: PoolId(self.pool_id.clone()),
            quantity: Quantity::new(self.quantity)
                .map_err(|_| corrupt("waitlist quantity out of range"))?,
            key: QueueKey {
                priority: self.priority,
                seq: self.seq,
            },
            expires_at: self.expires_at,
        })
    }

    /// The API view as of `now`, without a position (see `waitlist::position`).
    pub fn view(&self, now: UnixMillis) -> WaitlistEntryView {
        WaitlistEntryView {
            id: self.id.clone(),
            pool_id: self.pool_id.clone(),
            session_id: self.session_id.clone(),
            date: self.date.clone(),
            holder: self.holder.clone(),
            quantity: self.quantity,
            priority: self.priority,
            status: self.status.at(self.expires_at, now),
            position: None,
            recent_promotions: Vec::new(),
            hold_id: self.hold_id.clone(),
            offer_expires_at: self.offer_expires_at,
            promoted_at: self.promoted_at,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
