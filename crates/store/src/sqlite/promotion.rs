//! The writer's side of waiting lists: joining, cancelling, and promotion — serving waiting
//! entries in the same transaction as the change that freed the capacity they get.
//!
//! Every change that may grow a pool's headroom (a release, an expiry, a lapsed or cancelled
//! offer, a capacity raise, a policy change) marks the topmost pool it affects as freed. After each
//! command the writer looks below every freed pool for pools with waiting entries — the rolled-up
//! `waiting_below` count prunes the walk — and lets the core serve their queues in one order.
//! Promotion places capacity through the core like any hold, so it can never oversell, and an
//! entry leaves `waiting` the moment it is served, so it is never served twice.

use super::batch::{
    Placed, SqlitePort, Step, TenantPools, Tx, Working, new_id, step_loaded_hold, tenant_pools,
    transition, write_new_hold,
};
use super::reads::load_hold;
use super::rows::EntryRecord;
use super::waitlist::{entry_view, load_entry, priority_classes, queue};
use crate::StoreError;
use crate::command::{Failure, NewWaitlistEntry, Outcome, PriorityRequest, Success};
use crate::model::{LedgerKind, TenantId};
use allot_core::waitlist::{
    self, Decision, EntryStatus, PriorityClasses, PromotionMode, Queue, WaitlistPolicy,
};
use allot_core::{HoldLine, HoldStatus, PoolId, SessionDate, TransitionError, UnixMillis};
use allot_engine::rules::waitlist as waitlist_rules;
use rusqlite::{Transaction, params};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Entries of one pool read per promotion round; a round that serves a whole page reads again.
const QUEUE_PAGE: i64 = 256;

/// Most waiting entries one sweep expires: bounds the sweep's share of a batch.
const MAX_ENTRIES_EXPIRED_PER_SWEEP: i64 = 10_000;

pub(super) fn join(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    entry: NewWaitlistEntry,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let pool_id = PoolId(entry.pool_id);
    let pools = tenant_pools(&mut work.tenants, tenant);
    if let Err(failure) = pools.load_for_use(
        &mut SqlitePort {
            tx,
            appends: &mut work.appends,
            ids: &mut work.ids,
        },
        tenant,
        &pool_id,
        now,
    )? {
        return Ok(Err(failure));
    }
    // The tenant's classes are read only when the request needs them.
    let mut classes = None;
    if !matches!(entry.priority, PriorityRequest::Explicit(_)) {
        classes = Some(priority_classes(tx, tenant)?);
    }
    let priority =
        match waitlist_rules::priority_of(&entry.priority, || classes.take().unwrap_or_default()) {
            Ok(priority) => priority,
            Err(failure) => return Ok(Err(failure)),
        };
    let classes = match &entry.priority {
        PriorityRequest::Classes(names) => Some(serde_json::to_string(names)?),
        _ => None,
    };
    work.waitlist_seq += 1;
    let id = new_id("wait");
    let expires_at = now.plus(entry.expires_in);
    tx.prepare_cached(
        "INSERT INTO waitlist_entries (tenant_id, id, pool_id, holder, quantity, priority, priority_classes, seq,
             status, expires_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'waiting', ?9, ?10, ?10)",
    )?
    .execute(params![
        tenant.0,
        id,
        pool_id.0,
        entry.holder,
        entry.quantity.get(),
        priority,
        classes,
        work.waitlist_seq,
        expires_at.0,
        now.0
    ])?;
    pools.add_waiting(&pool_id, 1);
    let data = json!({
        "entry_id": id, "pool_id": pool_id.0, "holder": entry.holder,
        "quantity": entry.quantity.get(), "priority": priority,
    });
    work.outbox
        .record_event(tx, tenant, "waitlist.joined", data, now)?;
    // Served at once when capacity is free and no one is ahead: no one waits for nothing.
    pools.freed.insert(pool_id);
    promote_tenant(tx, work, tenant, now)?;
    answer(tx, tenant, &id, now)
}

pub(super) fn cancel(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    entry_id: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let Some(entry) = load_entry(tx, tenant, entry_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "waitlist entry",
            id: entry_id.to_owned(),
        }));
    };
    let status = entry.status.at(entry.expires_at, now);
    if !status.can_cancel() {
        return Ok(Err(Failure::Conflict {
            kind: "waitlist entry",
            status: status.as_str(),
        }));
    }
    set_status(tx, tenant, &entry.id, EntryStatus::Cancelled, now)?;
    let pool_id = PoolId(entry.pool_id.clone());
    match status {
        EntryStatus::Waiting => {
            let pools = tenant_pools(&mut work.tenants, tenant);
            load_pool_of(tx, pools, tenant, &entry)?;
            pools.add_waiting(&pool_id, -1);
            // The entry may have been a strict head blocking smaller ones behind it.
            pools.freed.insert(pool_id);
        }
        _ => {
            // An offer: its hold goes back, and the capacity to the next in line.
            let hold_id = entry.hold_id.as_deref().unwrap_or_default();
            let Some(hold) = load_hold(tx, tenant, hold_id)? else {
                return Err(StoreError::Corrupt(format!(
                    "offered entry {} has no hold",
                    entry.id
                )));
            };
            match step_loaded_hold(tx, work, tenant, actor, hold.clone(), now, Step::Release)? {
                Ok(_) => {}
                // The offer ran out just now; the sweeper has not written it down yet.
                Err(TransitionError::Expired) => {
                    let (status, effect) = hold.lifecycle().expire(now).ok_or_else(|| {
                        StoreError::Corrupt("an offer neither held nor due".into())
                    })?;
                    transition(
                        tx,
                        work,
                        tenant,
                        None,
                        &hold,
                        status,
                        effect,
                        LedgerKind::Expire,
                        now,
                    )?;
                }
                Err(TransitionError::WrongStatus(_)) => {}
            }
        }
    }
    let data = json!({"entry_id": entry.id, "pool_id": entry.pool_id, "holder": entry.holder});
    work.outbox
        .record_event(tx, tenant, "waitlist.cancelled", data, now)?;
    answer(tx, tenant, entry_id, now)
}

pub(super) fn set_priority_classes(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    classes: PriorityClasses,
) -> Result<Outcome, StoreError> {
    tx.prepare_cached(
        "INSERT INTO tenant_settings (tenant_id, priority_base, priority_classes) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id) DO UPDATE SET priority_base = ?2, priority_classes = ?3",
    )?
    .execute(params![
        tenant.0,
        classes.base,
        serde_json::to_string(&classes.classes)?
    ])?;
    Ok(Ok(Success::PriorityClasses(classes)))
}

/// The hold made for an offer was confirmed, released or expired: the offer is accepted,
/// declined or lapsed. An entry that is no longer `offered` (cancelled, or promoted in confirm
/// mode) stays as it is.
pub(super) fn offer_settled(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    entry_id: &str,
    hold_id: &str,
    kind: LedgerKind,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let Some((status, event)) = waitlist_rules::offer_settlement(kind) else {
        return Ok(());
    };
    let changed = tx
        .prepare_cached(
            "UPDATE waitlist_entries SET status = ?3, updated_at = ?4
             WHERE tenant_id = ?1 AND id = ?2 AND status = 'offered'",
        )?
        .execute(params![tenant.0, entry_id, status.as_str(), now.0])?;
    if changed == 1 {
        let data = json!({"entry_id": entry_id, "hold_id": hold_id});
        work.outbox.record_event(tx, tenant, event, data, now)?;
    }
    Ok(())
}

/// The sweeper's step: expires waiting entries past their deadline, across tenants.
pub(super) fn expire_due_entries(
    tx: &Transaction<'_>,
    work: &mut Working,
    now: UnixMillis,
) -> Result<usize, StoreError> {
    let due: Vec<(String, String, String, String)> = tx
        .prepare_cached(
            "SELECT tenant_id, id, pool_id, holder FROM waitlist_entries
             WHERE status = 'waiting' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
        )?
        .query_map(params![now.0, MAX_ENTRIES_EXPIRED_PER_SWEEP], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (tenant, id, pool_id, holder) in &due {
        let tenant = TenantId(tenant.clone());
        expire_entry(tx, work, &tenant, id, &PoolId(pool_id.clone()), holder, now)?;
    }
    hand_over_dates_that_ended(tx, work, now)?;
    Ok(due.len())
}

/// Dates with people waiting that one sweep looks at (each may expire up to
/// `MAX_ENTRIES_EXPIRED_PER_SWEEP` entries): a sweep stays a small transaction, and the next one
/// (a quarter of a second later by default) takes the next dates.
const DATES_CHECKED_PER_SWEEP: i64 = 16;

/// Entries waiting on a date that is over serve no one, and promotion expires them when it looks
/// at the date; with nothing else happening there it would not look until the entries' own
/// deadlines. So the sweeper hands it every date with people waiting that has ended in its
/// session's time zone. (The SQL only narrows the search to dates over somewhere on Earth; the
/// core decides for each date in its zone.)
fn hand_over_dates_that_ended(
    tx: &Transaction<'_>,
    work: &mut Working,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let candidates: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT tenant_id, id FROM pools
             WHERE date IS NOT NULL AND waiting > 0 AND date < ?1 LIMIT ?2",
        )?
        .query_map(
            params![
                SessionDate::latest_today(now).to_string(),
                DATES_CHECKED_PER_SWEEP
            ],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    for (tenant, id) in candidates {
        let (tenant, id) = (TenantId(tenant), PoolId(id));
        let pools = tenant_pools(&mut work.tenants, &tenant);
        if pools.load_chain(&mut Tx(tx), &tenant, &id)? && pools.rows[&id].date_is_over(now) {
            pools.freed.insert(id);
        }
    }
    Ok(())
}

/// Serves the waiting entries below every pool freed since the last promotion, for every tenant.
pub(super) fn promote_freed(
    tx: &Transaction<'_>,
    work: &mut Working,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let tenants: Vec<TenantId> = work
        .tenants
        .iter()
        .filter(|(_, pools)| !pools.freed.is_empty())
        .map(|(tenant, _)| tenant.clone())
        .collect();
    if tenants.is_empty() {
        return Ok(());
    }
    // Promotion reads holds (offers settle): pending hold rows are written first.
    work.appends.write(tx)?;
    for tenant in tenants {
        promote_tenant(tx, work, &tenant, now)?;
    }
    Ok(())
}

fn promote_tenant(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let pools = tenant_pools(&mut work.tenants, tenant);
    let freed = std::mem::take(&mut pools.freed);
    let mut waiting_pools = pools_with_waiters_below(tx, pools, tenant, freed)?;
    // A session date that is over serves no one: its waiting entries expire instead.
    let (past, live): (Vec<PoolId>, Vec<PoolId>) = waiting_pools
        .into_iter()
        .partition(|id| pools.rows[id].date_is_over(now));
    waiting_pools = live;
    for pool_id in past {
        for entry in queue(
            tx,
            tenant,
            &pool_id.0,
            None,
            0,
            MAX_ENTRIES_EXPIRED_PER_SWEEP,
        )? {
            expire_entry(tx, work, tenant, &entry.id, &pool_id, &entry.holder, now)?;
        }
    }
    if waiting_pools.is_empty() {
        return Ok(());
    }
    // Where each queue is read from. A skip queue whose whole page fitted nowhere reads its next
    // page: none of the entries before it fits now, and none will later in this pass (promotion
    // only takes capacity). A strict queue always reads from its head.
    let mut offsets: HashMap<PoolId, i64> = HashMap::new();
    loop {
        let pools = tenant_pools(&mut work.tenants, tenant);
        let mut queues = Vec::with_capacity(waiting_pools.len());
        let mut entries: HashMap<String, EntryRecord> = HashMap::new();
        let mut more_to_read = false;
        let mut full_skip_queues = Vec::new();
        for pool_id in &waiting_pools {
            let offset = offsets.get(pool_id).copied().unwrap_or(0);
            let rows = queue(tx, tenant, &pool_id.0, None, offset, QUEUE_PAGE)?;
            let full = rows.len() as i64 == QUEUE_PAGE;
            more_to_read |= full;
            let settings = pools.rows[pool_id].waitlist;
            if full && settings.policy == WaitlistPolicy::Skip {
                full_skip_queues.push(pool_id.clone());
            }
            queues.push(Queue {
                pool_id: pool_id.clone(),
                policy: settings.policy,
                mode: settings.mode,
                entries: rows
                    .iter()
                    .map(EntryRecord::waiting)
                    .collect::<Result<_, _>>()?,
            });
            entries.extend(rows.into_iter().map(|row| (row.id.clone(), row)));
        }
        let decisions = waitlist::promote(&mut pools.set, queues, now);
        if decisions.is_empty() {
            if full_skip_queues.is_empty() {
                return Ok(());
            }
            for pool_id in full_skip_queues {
                *offsets.entry(pool_id).or_default() += QUEUE_PAGE;
            }
            continue;
        }
        for decision in decisions {
            match decision {
                Decision::Promote { entry, mode } => {
                    let row = &entries[&entry.id];
                    let settings =
                        tenant_pools(&mut work.tenants, tenant).rows[&entry.pool_id].waitlist;
                    let line = HoldLine {
                        pool_id: entry.pool_id.clone(),
                        quantity: entry.quantity,
                    };
                    let (hold_status, entry_status, event) = match mode {
                        PromotionMode::Offer => {
                            (HoldStatus::Held, EntryStatus::Offered, "waitlist.offered")
                        }
                        PromotionMode::Confirm => (
                            HoldStatus::Confirmed,
                            EntryStatus::Confirmed,
                            "waitlist.confirmed",
                        ),
                    };
                    let hold = Placed {
                        lines: std::slice::from_ref(&line),
                        status: hold_status,
                        holder: Some(row.holder.clone()),
                        expires_at: now.plus(settings.offer_ttl),
                        waitlist_entry_id: Some(&entry.id),
                        subject: None,
                        reason: Some("promoted from the waiting list"),
                    };
                    let hold = write_new_hold(tx, work, tenant, None, hold, now)?;
                    let offer_expires_at =
                        (mode == PromotionMode::Offer).then_some(hold.expires_at.0);
                    tx.prepare_cached(
                        "UPDATE waitlist_entries SET status = ?3, hold_id = ?4, offer_expires_at = ?5,
                             promoted_at = ?6, updated_at = ?6
                         WHERE tenant_id = ?1 AND id = ?2",
                    )?
                    .execute(params![
                        tenant.0,
                        entry.id,
                        entry_status.as_str(),
                        hold.id,
                        offer_expires_at,
                        now.0
                    ])?;
                    tenant_pools(&mut work.tenants, tenant).add_waiting(&entry.pool_id, -1);
                    let data = json!({
                        "entry_id": entry.id, "pool_id": entry.pool_id.0, "holder": row.holder,
                        "quantity": entry.quantity.get(), "hold_id": hold.id,
                        "offer_expires_at": offer_expires_at,
                    });
                    work.outbox.record_event(tx, tenant, event, data, now)?;
                }
                Decision::Expire { entry } => {
                    let holder = entries[&entry.id].holder.clone();
                    expire_entry(tx, work, tenant, &entry.id, &entry.pool_id, &holder, now)?;
                }
            }
        }
        // Every waiting entry was in this round's pages: what is left cannot be served now.
        // Otherwise read the next entries of the queues that had more.
        if !more_to_read {
            return Ok(());
        }
    }
}

/// The pools at or below `freed` that have waiting entries. The rolled-up `waiting_below` count
/// prunes the walk: a subtree with no one waiting costs nothing. Counts changed earlier in this
/// batch are only in the working set (as dirty pools), so children come from both it and the table.
fn pools_with_waiters_below(
    tx: &Transaction<'_>,
    pools: &mut TenantPools,
    tenant: &TenantId,
    freed: BTreeSet<PoolId>,
) -> Result<Vec<PoolId>, StoreError> {
    let mut found = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<PoolId> = freed.into_iter().collect();
    while let Some(id) = stack.pop() {
        if !visited.insert(id.clone()) || !pools.load_chain(&mut Tx(tx), tenant, &id)? {
            continue;
        }
        let row = &pools.rows[&id];
        if row.waiting_below <= 0 {
            continue;
        }
        if row.waiting > 0 {
            found.push(id.clone());
        }
        if row.waiting_below > row.waiting {
            let mut children: Vec<PoolId> = tx
                .prepare_cached(
                    "SELECT id FROM pools WHERE tenant_id = ?1 AND parent_id = ?2 AND waiting_below > 0",
                )?
                .query_map(params![tenant.0, id.0], |row| row.get(0).map(PoolId))?
                .collect::<Result<_, _>>()?;
            // A pool not changed in this batch reads the same in memory as in the table.
            children.extend(
                pools
                    .dirty
                    .iter()
                    .map(|child| &pools.rows[child])
                    .filter(|child| child.core.parent_id.as_ref() == Some(&id))
                    .filter(|child| child.waiting_below > 0)
                    .map(|child| child.core.id.clone()),
            );
            stack.extend(children);
        }
    }
    found.sort();
    Ok(found)
}

fn expire_entry(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    entry_id: &str,
    pool_id: &PoolId,
    holder: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    set_status(tx, tenant, entry_id, EntryStatus::Expired, now)?;
    let pools = tenant_pools(&mut work.tenants, tenant);
    if !pools.load_chain(&mut Tx(tx), tenant, pool_id)? {
        return Err(StoreError::Corrupt(format!(
            "entry {entry_id} waits on a missing pool {pool_id}"
        )));
    }
    pools.add_waiting(pool_id, -1);
    // An expired strict head no longer blocks the entries behind it.
    pools.freed.insert(pool_id.clone());
    let data = json!({"entry_id": entry_id, "pool_id": pool_id.0, "holder": holder});
    work.outbox
        .record_event(tx, tenant, "waitlist.expired", data, now)?;
    Ok(())
}

fn set_status(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    entry_id: &str,
    status: EntryStatus,
    now: UnixMillis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE waitlist_entries SET status = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![tenant.0, entry_id, status.as_str(), now.0])?;
    Ok(())
}

fn load_pool_of(
    tx: &Transaction<'_>,
    pools: &mut TenantPools,
    tenant: &TenantId,
    entry: &EntryRecord,
) -> Result<(), StoreError> {
    if pools.load_chain(&mut Tx(tx), tenant, &PoolId(entry.pool_id.clone()))? {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "entry {} waits on a missing pool {}",
            entry.id, entry.pool_id
        )))
    }
}

/// The entry as it is now, for the answer.
fn answer(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    entry_id: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let row = load_entry(tx, tenant, entry_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("entry {entry_id} vanished")))?;
    Ok(Ok(Success::WaitlistEntry(entry_view(
        tx, tenant, &row, now,
    )?)))
}
