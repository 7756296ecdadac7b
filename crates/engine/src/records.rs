//! What a store loads for the engine: a pool, a hold, a waiting-list entry, with the rules that
//! read them (a date that is over, a session's instance, the API views).

use crate::Error;
use crate::model::{HoldLineView, HoldView, PoolView, Price, WaitlistEntryView, WaitlistSettings};
use allot_core::waitlist::{EntryStatus, QueueKey, WaitingEntry};
use allot_core::{
    HoldLine, HoldStatus, Pool, PoolId, Quantity, SessionDate, SessionZone, UnixMillis,
};

/// A pool row: the core's view of it plus what only the API shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRecord {
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
    /// The pool's thresholds as stored (JSON); `None` for the default table.
    pub thresholds: Option<String>,
    /// When each threshold or queue alert last fired (JSON), for throttling.
    pub alert_marks: Option<String>,
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(what.to_owned())
}

impl PoolRecord {
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
        session: &PoolRecord,
        live: &Pool,
        date: SessionDate,
        now: UnixMillis,
    ) -> PoolRecord {
        let id = date.instance_id(&live.id);
        let mut core = Pool::new(id, live.parent_id.clone(), live.limits);
        core.active = live.active;
        PoolRecord {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
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

impl HoldRecord {
    pub fn lifecycle(&self) -> allot_core::Hold {
        allot_core::Hold {
            status: self.status,
            expires_at: self.expires_at,
        }
    }

    pub fn core_lines(&self) -> Result<Vec<HoldLine>, Error> {
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

#[derive(Debug, Clone, PartialEq)]
pub struct EntryRecord {
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

impl EntryRecord {
    pub fn waiting(&self) -> Result<WaitingEntry, Error> {
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

    /// The API view as of `now` and, while the entry waits, its place in line and the pool's
    /// recent promotions (the estimate of its wait), read through `in_line(since, limit)`: its
    /// position, and the pool's promotions after `since`, newest first, at most `limit`.
    pub fn view_in_line<E>(
        &self,
        now: UnixMillis,
        in_line: impl FnOnce(UnixMillis, i64) -> Result<(u64, Vec<UnixMillis>), E>,
    ) -> Result<WaitlistEntryView, E> {
        let mut view = self.view(now);
        if view.status == EntryStatus::Waiting {
            let since = UnixMillis(now.0 - allot_core::waitlist::RATE_WINDOW_MS);
            let (position, recent) = in_line(since, allot_core::waitlist::RECENT_PROMOTIONS)?;
            view.position = Some(position);
            view.recent_promotions = recent;
        }
        Ok(view)
    }

    /// One page of a pool's queue as shown: `entries` in queue order, the first of them
    /// `offset` places from the head, each with its position and the pool's `recent`
    /// promotions (the estimate of its wait).
    pub fn queue_page(
        entries: &[EntryRecord],
        offset: i64,
        recent: &[UnixMillis],
        now: UnixMillis,
    ) -> Vec<WaitlistEntryView> {
        entries
            .iter()
            .zip(1..)
            .map(|(entry, place)| {
                let mut view = entry.view(now);
                view.position = Some(offset.max(0) as u64 + place);
                view.recent_promotions = recent.to_vec();
                view
            })
            .collect()
    }

    /// The API view as of `now`, without a position (see [`EntryRecord::view_in_line`]).
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
