//! Everything a PostgreSQL store shows, in one value and one snapshot: what SQLite's store
//! shows through its reads (`crate::sqlite::observe`) and the in-memory store from its state —
//! every pool with its figures as of `now` (a hold past its deadline that no batch has expired
//! yet no longer counts), every hold as of `now`, the ledger, plans with their members, jobs
//! with their items, attendees and tickets, the event and alert logs, the active webhooks and
//! every delivery.

use super::rows::{
    ATTENDEE_COLUMNS, HOLD_COLUMNS, JOB_COLUMNS, PLAN_COLUMNS, POOL_COLUMNS, TICKET_COLUMNS,
    attendee_from_row, get, hold_from_row, job_from_row, plan_from_row, pool_from_row,
    ticket_from_row,
};
use super::{PostgresStore, Sql};
use crate::StoreError;
use crate::jobs::JobItem;
use crate::model::{
    AlertView, DeliveryView, EventView, HoldLineView, LedgerEntry, LedgerKind, TenantId,
    WebhookView,
};
use crate::observe::{Member, Observed};
use allot_core::{PoolId, PoolSet, UnixMillis};
use allot_engine::records::PoolRecord;
use postgres::{IsolationLevel, Transaction};
use std::collections::BTreeMap;

type Pools = BTreeMap<(TenantId, PoolId), PoolRecord>;

impl PostgresStore {
    /// Everything the store shows, as of `now`.
    pub fn observe(&self, now: UnixMillis) -> Result<Observed, StoreError> {
        let mut reader = self.take_reader()?;
        let observed = (|| {
            // One snapshot for every table, however long the reading takes.
            let mut tx = reader
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let mut sql = Sql {
                client: &mut tx,
                statements: &mut reader.statements,
            };
            let observed = read_all(&mut sql, now)?;
            tx.commit()?;
            Ok(observed)
        })();
        self.give_back(reader);
        observed
    }
}

fn read_all(sql: &mut Sql<'_, Transaction<'_>>, now: UnixMillis) -> Result<Observed, StoreError> {
    let mut pools = Pools::new();
    for row in sql.query(
        &format!("SELECT {POOL_COLUMNS} FROM pools ORDER BY tenant_id, id"),
        &[],
    )? {
        let tenant = TenantId(get(&row, 1)?);
        let record = pool_from_row(&row)?;
        pools.insert((tenant, record.core.id.clone()), record);
    }
    let due = due_units(sql, &pools, now)?;
    let mut views = Vec::with_capacity(pools.len());
    for (tenant, id) in pools.keys() {
        views.push((tenant.clone(), pool_view(&pools, &due, tenant, id)?));
    }

    let mut holds = Vec::new();
    for row in sql.query(
        &format!("SELECT {HOLD_COLUMNS}, tenant_id FROM holds ORDER BY tenant_id, id"),
        &[],
    )? {
        holds.push((TenantId(get(&row, 8)?), hold_from_row(&row)?.view(now)));
    }

    let mut ledger = Vec::new();
    for row in sql.query(
        "SELECT tenant_id, seq, pool_id, hold_id, kind, held_delta, committed_delta, capacity_after,
             actor, reason, at
         FROM ledger ORDER BY seq",
        &[],
    )? {
        let kind: &str = get(&row, 4)?;
        let entry = LedgerEntry {
            seq: get(&row, 1)?,
            pool_id: get(&row, 2)?,
            hold_id: get(&row, 3)?,
            kind: LedgerKind::parse(kind)
                .ok_or_else(|| StoreError::corrupt(format!("unknown ledger kind {kind}")))?,
            held_delta: get(&row, 5)?,
            committed_delta: get(&row, 6)?,
            capacity_after: get(&row, 7)?,
            actor: get(&row, 8)?,
            reason: get(&row, 9)?,
            at: UnixMillis(get(&row, 10)?),
        };
        ledger.push((TenantId(get(&row, 0)?), entry));
    }

    let mut plans = Vec::new();
    for row in sql.query(
        &format!("SELECT {PLAN_COLUMNS}, p.tenant_id FROM plans p ORDER BY p.tenant_id, p.id"),
        &[],
    )? {
        plans.push((TenantId(get(&row, 10)?), plan_from_row(&row)?));
    }

    let mut members = Vec::new();
    for row in sql.query(
        "SELECT tenant_id, plan_id, subject, id FROM pools WHERE plan_id IS NOT NULL
         ORDER BY tenant_id, plan_id, subject",
        &[],
    )? {
        members.push(Member {
            tenant: TenantId(get(&row, 0)?),
            plan_id: get(&row, 1)?,
            subject: get(&row, 2)?,
            pool_id: get(&row, 3)?,
        });
    }

    let mut jobs = Vec::new();
    for row in sql.query(
        &format!("SELECT {JOB_COLUMNS}, tenant_id FROM jobs ORDER BY tenant_id, id"),
        &[],
    )? {
        jobs.push((TenantId(get(&row, 15)?), job_from_row(&row)?));
    }

    let mut job_items = Vec::new();
    for row in sql.query(
        "SELECT tenant_id, job_id, seq, item, outcome, reason FROM job_failures
         ORDER BY tenant_id, job_id, seq",
        &[],
    )? {
        let item = JobItem {
            seq: get(&row, 2)?,
            item: get(&row, 3)?,
            outcome: get(&row, 4)?,
            reason: get(&row, 5)?,
        };
        job_items.push((TenantId(get(&row, 0)?), get(&row, 1)?, item));
    }

    let mut attendees = Vec::new();
    for row in sql.query(
        &format!(
            "SELECT {ATTENDEE_COLUMNS}, a.tenant_id FROM attendees a ORDER BY a.tenant_id, a.id"
        ),
        &[],
    )? {
        attendees.push((TenantId(get(&row, 9)?), attendee_from_row(&row)?));
    }

    let mut tickets = Vec::new();
    for row in sql.query(
        &format!("SELECT {TICKET_COLUMNS}, t.tenant_id FROM tickets t ORDER BY t.tenant_id, t.id"),
        &[],
    )? {
        tickets.push((TenantId(get(&row, 12)?), ticket_from_row(&row)?));
    }

    let mut events = Vec::new();
    for row in sql.query(
        "SELECT tenant_id, seq, id, type, data, created_at FROM events ORDER BY tenant_id, seq",
        &[],
    )? {
        let data: &str = get(&row, 4)?;
        let event = EventView {
            seq: get(&row, 1)?,
            id: get(&row, 2)?,
            kind: get(&row, 3)?,
            data: serde_json::from_str(data)?,
            created_at: UnixMillis(get(&row, 5)?),
        };
        events.push((TenantId(get(&row, 0)?), event));
    }

    let mut alerts = Vec::new();
    for row in sql.query(
        "SELECT tenant_id, seq, id, pool_id, kind, threshold_pct, severity, recipients, used,
             capacity, waiting, created_at
         FROM alerts ORDER BY tenant_id, seq",
        &[],
    )? {
        let threshold_pct = get::<Option<i64>>(&row, 5)?
            .map(u32::try_from)
            .transpose()
            .map_err(|_| StoreError::corrupt("an alert's threshold is out of range"))?;
        let recipients: &str = get(&row, 7)?;
        let alert = AlertView {
            seq: get(&row, 1)?,
            id: get(&row, 2)?,
            pool_id: get(&row, 3)?,
            kind: get(&row, 4)?,
            threshold_pct,
            severity: get(&row, 6)?,
            recipients: serde_json::from_str(recipients)?,
            used: get(&row, 8)?,
            capacity: get(&row, 9)?,
            waiting: get(&row, 10)?,
            created_at: UnixMillis(get(&row, 11)?),
        };
        alerts.push((TenantId(get(&row, 0)?), alert));
    }

    let mut webhooks = Vec::new();
    for row in sql.query(
        "SELECT tenant_id, id, url, events, created_at FROM webhooks WHERE active
         ORDER BY tenant_id, id",
        &[],
    )? {
        let events: &str = get(&row, 3)?;
        let webhook = WebhookView {
            id: get(&row, 1)?,
            url: get(&row, 2)?,
            events: serde_json::from_str(events)?,
            active: true,
            created_at: UnixMillis(get(&row, 4)?),
        };
        webhooks.push((TenantId(get(&row, 0)?), webhook));
    }

    let mut deliveries = Vec::new();
    for row in sql.query(
        "SELECT id, tenant_id, channel, webhook_id, email, event_id, event_type, payload, status,
             attempts, next_attempt_at, last_status, last_error, created_at, updated_at
         FROM deliveries ORDER BY id",
        &[],
    )? {
        let last_status = get::<Option<i64>>(&row, 11)?
            .map(u16::try_from)
            .transpose()
            .map_err(|_| StoreError::corrupt("a delivery's last status is out of range"))?;
        deliveries.push(DeliveryView {
            id: get(&row, 0)?,
            tenant_id: TenantId(get(&row, 1)?),
            channel: get(&row, 2)?,
            webhook_id: get(&row, 3)?,
            email: get(&row, 4)?,
            event_id: get(&row, 5)?,
            event_type: get(&row, 6)?,
            payload: get(&row, 7)?,
            status: get(&row, 8)?,
            attempts: get(&row, 9)?,
            next_attempt_at: UnixMillis(get(&row, 10)?),
            last_status,
            last_error: get(&row, 12)?,
            created_at: UnixMillis(get(&row, 13)?),
            updated_at: UnixMillis(get(&row, 14)?),
        });
    }

    Ok(Observed {
        pools: views,
        holds,
        ledger,
        plans,
        members,
        jobs,
        job_items,
        attendees,
        tickets,
        events,
        alerts,
        webhooks,
        deliveries,
    })
}

/// Held units of the holds past their deadline at `now` that no batch has expired yet, by
/// pool, rolled up to every ancestor.
fn due_units(
    sql: &mut Sql<'_, Transaction<'_>>,
    pools: &Pools,
    now: UnixMillis,
) -> Result<BTreeMap<(TenantId, PoolId), i64>, StoreError> {
    let mut due = BTreeMap::new();
    for row in sql.query(
        "SELECT tenant_id, lines FROM holds WHERE status = 'held' AND expires_at <= $1",
        &[&now.0],
    )? {
        let tenant = TenantId(get(&row, 0)?);
        let lines: Vec<HoldLineView> = serde_json::from_str(get(&row, 1)?)?;
        for line in lines {
            let mut next = Some(PoolId(line.pool_id));
            let mut depth = 0;
            while let Some(id) = next {
                depth += 1;
                if depth > allot_core::MAX_POOL_DEPTH {
                    return Err(StoreError::corrupt(format!("pool {id} is nested too deep")));
                }
                let key = (tenant.clone(), id);
                next = pools.get(&key).and_then(|row| row.core.parent_id.clone());
                *due.entry(key).or_default() += line.quantity;
            }
        }
    }
    Ok(due)
}

/// A pool as the API shows it: its counters less what is due, and what a new hold could get
/// from it through its ancestors (corrected alike).
fn pool_view(
    pools: &Pools,
    due: &BTreeMap<(TenantId, PoolId), i64>,
    tenant: &TenantId,
    id: &PoolId,
) -> Result<crate::model::PoolView, StoreError> {
    let mut chain = PoolSet::new();
    let mut next = Some(id.clone());
    let mut depth = 0;
    while let Some(link) = next {
        depth += 1;
        if depth > allot_core::MAX_POOL_DEPTH {
            return Err(StoreError::corrupt(format!("pool {id} is nested too deep")));
        }
        let key = (tenant.clone(), link);
        let Some(row) = pools.get(&key) else {
            return Err(StoreError::corrupt(format!(
                "pool {id} has a missing ancestor {}",
                key.1
            )));
        };
        let mut core = row.core.clone();
        core.held = (core.held - due.get(&key).copied().unwrap_or(0)).max(0);
        next = core.parent_id.clone();
        chain.insert(core);
    }
    let row = &pools[&(tenant.clone(), id.clone())];
    let core = chain
        .get(id)
        .ok_or_else(|| StoreError::corrupt(format!("pool {id} left its own chain")))?;
    let available = chain.available(id).unwrap_or(0);
    Ok(row.view(core, available))
}
