//! Rows ↔ the engine's records: the column lists the writer and the observation select, and
//! how a row becomes a record. A column that does not read back as written is corrupt data.

use crate::StoreError;
use crate::jobs::{JobCounters, JobStatus, JobView};
use crate::model::{PlanView, Price, WaitlistSettings};
use crate::tickets::{AttendeeView, TicketStatus, TicketView};
use allot_core::waitlist::{EntryStatus, PromotionMode, WaitlistPolicy};
use allot_core::{
    Capacity, HoldStatus, LimitPct, Pool, PoolId, PoolLimits, SessionZone, TtlSeconds, UnixMillis,
};
use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use postgres::Row;
use postgres::types::FromSql;

/// Column `index` of `row`, or why it is not a `T`.
pub(super) fn get<'r, T: FromSql<'r>>(row: &'r Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|error| StoreError::corrupt(format!("column {index} does not read back: {error}")))
}

fn millis(row: &Row, index: usize) -> Result<UnixMillis, StoreError> {
    get(row, index).map(UnixMillis)
}

fn maybe_millis(row: &Row, index: usize) -> Result<Option<UnixMillis>, StoreError> {
    Ok(get::<Option<i64>>(row, index)?.map(UnixMillis))
}

/// A percentage stored as BIGINT.
fn pct(row: &Row, index: usize) -> Result<u32, StoreError> {
    u32::try_from(get::<i64>(row, index)?)
        .map_err(|_| StoreError::corrupt("a percentage out of range"))
}

/// Columns read for a pool, in the order [`pool_from_row`] expects (`tenant_id` second, for
/// the observation, which reads every tenant's).
pub(super) const POOL_COLUMNS: &str = "id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, \
     held, committed, price_amount_minor, price_currency, metadata, active, created_at, updated_at, \
     per_date, session_id, date, waitlist_policy, waitlist_mode, offer_ttl_seconds, waiting, waiting_below, \
     thresholds, alert_marks, time_zone";

/// A stored zone name. Names were checked when stored; one the built-in database no longer
/// knows reads as UTC, with a warning, as SQLite's store reads it.
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

pub(super) fn pool_from_row(row: &Row) -> Result<PoolRecord, StoreError> {
    let capacity = Capacity::new(get(row, 5)?)
        .map_err(|_| StoreError::corrupt("pool capacity out of range"))?;
    let hard = LimitPct::new(get(row, 6)?)
        .map_err(|_| StoreError::corrupt("pool hard limit out of range"))?;
    let soft = LimitPct::new(get(row, 7)?)
        .map_err(|_| StoreError::corrupt("pool soft limit out of range"))?;
    let amount: Option<i64> = get(row, 10)?;
    let currency: Option<String> = get(row, 11)?;
    let price = match (amount, currency) {
        (Some(amount_minor), Some(currency)) => Some(Price {
            amount_minor,
            currency,
        }),
        _ => None,
    };
    let mut core = Pool::new(
        PoolId(get(row, 0)?),
        get::<Option<String>>(row, 2)?.map(PoolId),
        PoolLimits {
            capacity,
            hard_limit_pct: hard,
            soft_limit_pct: soft,
        },
    );
    core.held = get(row, 8)?;
    core.committed = get(row, 9)?;
    core.active = get(row, 13)?;
    Ok(PoolRecord {
        core,
        name: get(row, 3)?,
        unit: get(row, 4)?,
        price,
        metadata: get(row, 12)?,
        created_at: millis(row, 14)?,
        updated_at: millis(row, 15)?,
        per_date: get(row, 16)?,
        session_id: get(row, 17)?,
        date: get(row, 18)?,
        waitlist: WaitlistSettings {
            policy: WaitlistPolicy::parse(get(row, 19)?)
                .ok_or_else(|| StoreError::corrupt("unknown waitlist policy"))?,
            mode: PromotionMode::parse(get(row, 20)?)
                .ok_or_else(|| StoreError::corrupt("unknown waitlist mode"))?,
            offer_ttl: TtlSeconds::new(get(row, 21)?)
                .map_err(|_| StoreError::corrupt("offer ttl out of range"))?,
        },
        waiting: get(row, 22)?,
        waiting_below: get(row, 23)?,
        thresholds: get(row, 24)?,
        alert_marks: get(row, 25)?,
        time_zone: zone_of(get(row, 26)?),
    })
}

/// Columns read for a hold, in the order [`hold_from_row`] expects.
pub(super) const HOLD_COLUMNS: &str =
    "id, status, holder, expires_at, lines, created_at, updated_at, waitlist_entry_id";

pub(super) fn hold_from_row(row: &Row) -> Result<HoldRecord, StoreError> {
    let lines: &str = get(row, 4)?;
    Ok(HoldRecord {
        id: get(row, 0)?,
        status: HoldStatus::parse(get(row, 1)?)
            .ok_or_else(|| StoreError::corrupt("unknown hold status"))?,
        holder: get(row, 2)?,
        expires_at: millis(row, 3)?,
        lines: serde_json::from_str(lines)?,
        created_at: millis(row, 5)?,
        updated_at: millis(row, 6)?,
        waitlist_entry_id: get(row, 7)?,
    })
}

/// Columns read for a waiting-list entry, in the order [`entry_from_row`] expects.
pub(super) const ENTRY_COLUMNS: &str = "e.id, e.pool_id, e.holder, e.quantity, e.priority, e.seq, e.status, e.hold_id, \
     e.expires_at, e.offer_expires_at, e.promoted_at, e.created_at, e.updated_at, p.session_id, p.date";

/// The join that [`ENTRY_COLUMNS`] reads from: an entry with its pool's session and date.
pub(super) const ENTRY_FROM: &str =
    "waitlist_entries e JOIN pools p ON p.tenant_id = e.tenant_id AND p.id = e.pool_id";

pub(super) fn entry_from_row(row: &Row) -> Result<EntryRecord, StoreError> {
    Ok(EntryRecord {
        id: get(row, 0)?,
        pool_id: get(row, 1)?,
        holder: get(row, 2)?,
        quantity: get(row, 3)?,
        priority: get(row, 4)?,
        seq: get(row, 5)?,
        status: EntryStatus::parse(get(row, 6)?)
            .ok_or_else(|| StoreError::corrupt("unknown waitlist entry status"))?,
        hold_id: get(row, 7)?,
        expires_at: millis(row, 8)?,
        offer_expires_at: maybe_millis(row, 9)?,
        promoted_at: maybe_millis(row, 10)?,
        created_at: millis(row, 11)?,
        updated_at: millis(row, 12)?,
        session_id: get(row, 13)?,
        date: get(row, 14)?,
    })
}

/// Columns read for a plan (alias `p`) with how many members it has, in the order
/// [`plan_from_row`] expects.
pub(super) const PLAN_COLUMNS: &str = "p.id, p.name, p.unit, p.capacity, p.hard_limit_pct, p.soft_limit_pct, \
     p.thresholds, p.created_at, p.updated_at, \
     (SELECT COUNT(*) FROM pools m WHERE m.tenant_id = p.tenant_id AND m.plan_id = p.id)";

pub(super) fn plan_from_row(row: &Row) -> Result<PlanView, StoreError> {
    Ok(PlanView {
        id: get(row, 0)?,
        name: get(row, 1)?,
        unit: get(row, 2)?,
        capacity: get(row, 3)?,
        hard_limit_pct: pct(row, 4)?,
        soft_limit_pct: pct(row, 5)?,
        thresholds: get(row, 6)?,
        created_at: millis(row, 7)?,
        updated_at: millis(row, 8)?,
        members: get(row, 9)?,
    })
}

/// Columns of an attendee (alias `a`) with its live ticket, in the order [`attendee_from_row`] reads.
pub(super) const ATTENDEE_COLUMNS: &str = "a.id, a.event_id, a.external_id, a.name, a.email, a.section_id, a.created_at, a.updated_at, \
     (SELECT t.id FROM tickets t WHERE t.tenant_id = a.tenant_id AND t.attendee_id = a.id AND t.status <> 'void')";

pub(super) fn attendee_from_row(row: &Row) -> Result<AttendeeView, StoreError> {
    Ok(AttendeeView {
        id: get(row, 0)?,
        event_id: get(row, 1)?,
        external_id: get(row, 2)?,
        name: get(row, 3)?,
        email: get(row, 4)?,
        section_id: get(row, 5)?,
        created_at: millis(row, 6)?,
        updated_at: millis(row, 7)?,
        ticket_id: get(row, 8)?,
    })
}

/// Columns of a ticket (alias `t`), in the order [`ticket_from_row`] reads.
pub(super) const TICKET_COLUMNS: &str = "t.id, t.event_id, t.pool_id, t.attendee_id, t.hold_id, t.code, t.token_seed, t.status, \
     t.issued_at, t.used_at, t.voided_at, t.job_id";

pub(super) fn ticket_from_row(row: &Row) -> Result<TicketView, StoreError> {
    Ok(TicketView {
        id: get(row, 0)?,
        event_id: get(row, 1)?,
        pool_id: get(row, 2)?,
        attendee_id: get(row, 3)?,
        hold_id: get(row, 4)?,
        code: get(row, 5)?,
        token_seed: get(row, 6)?,
        status: TicketStatus::parse(get(row, 7)?)
            .ok_or_else(|| StoreError::corrupt("unknown ticket status"))?,
        issued_at: millis(row, 8)?,
        used_at: maybe_millis(row, 9)?,
        voided_at: maybe_millis(row, 10)?,
        job_id: get(row, 11)?,
    })
}

/// Columns of a job, in the order [`job_from_row`] reads.
pub(super) const JOB_COLUMNS: &str = "id, kind, status, params, cursor, total, done, created, skipped, failed, error, \
     created_at, started_at, updated_at, finished_at";

pub(super) fn job_from_row(row: &Row) -> Result<JobView, StoreError> {
    let params: &str = get(row, 3)?;
    Ok(JobView {
        id: get(row, 0)?,
        kind: get(row, 1)?,
        status: JobStatus::parse(get(row, 2)?)
            .ok_or_else(|| StoreError::corrupt("unknown job status"))?,
        params: serde_json::from_str(params)?,
        cursor: get(row, 4)?,
        total: get(row, 5)?,
        counters: JobCounters {
            done: get(row, 6)?,
            created: get(row, 7)?,
            skipped: get(row, 8)?,
            failed: get(row, 9)?,
        },
        error: get(row, 10)?,
        created_at: millis(row, 11)?,
        started_at: maybe_millis(row, 12)?,
        updated_at: millis(row, 13)?,
        finished_at: maybe_millis(row, 14)?,
    })
}
