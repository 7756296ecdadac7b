//! Waiting lists: joining, cancelling, a tenant's priority classes, offers settling with their
//! holds, entries expiring, and promotion — serving waiting entries in the same batch as the
//! change that freed the capacity they get.
//!
//! Every change that may grow a pool's headroom (a release, an expiry, a lapsed or cancelled
//! offer, a capacity raise, a policy change) marks the topmost pool it affects as freed. After
//! each command the batch looks below every freed pool for pools with waiting entries — the
//! rolled-up `waiting_below` count prunes the walk — and lets the core serve their queues in one
//! order: the sections of an event share its capacity, the dates of a tour share nothing but
//! are promoted alike. Promotion places capacity through the core like any hold, so it can never
//! oversell, and an entry leaves `waiting` the moment it is served, so it is never served twice.

use crate::Error;
use crate::apply::holds::{self, OfferSettled, Placed, Step};
use crate::apply::outbox;
use crate::change::{Change, NewEntry};
use crate::command::{Failure, NewWaitlistEntry, Outcome, PriorityAsk, Success};
use crate::model::{LedgerKind, TenantId, WaitlistEntryView};
use crate::port::Port;
use crate::records::EntryRecord;
use crate::rules::waitlist as rules;
use crate::working::{TenantPools, Tenants, tenant_pools};
use allot_core::waitlist::{
    self, Decision, EntryStatus, PriorityClasses, PromotionMode, Queue, WaitlistPolicy,
};
use allot_core::{HoldLine, PoolId, SessionDate, TransitionError, UnixMillis};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Entries of one pool read per promotion round; a round that serves a whole page reads again.
pub const QUEUE_PAGE: i64 = 256;

/// Most waiting entries one sweep expires: bounds the sweep's share of a batch.
pub const MAX_ENTRIES_EXPIRED_PER_SWEEP: i64 = 10_000;

/// Dates with people waiting that one sweep looks at (each may expire up to
/// [`MAX_ENTRIES_EXPIRED_PER_SWEEP`] entries): a sweep stays a small transaction, and the next
/// one (a quarter of a second later by default) takes the next dates.
pub const DATES_CHECKED_PER_SWEEP: i64 = 16;

pub fn join<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    tenant: &TenantId,
    entry: NewWaitlistEntry,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let pool_id = PoolId(entry.pool_id);
    let pools = tenant_pools(tenants, tenant);
    if let Err(failure) = pools.load_for_use(port, tenant, &pool_id, now)? {
        return Ok(Err(failure));
    }
    // The tenant's classes are read only when the request needs them.
    let mut classes = None;
    if !matches!(entry.priority, PriorityAsk::Explicit(_)) {
        classes = Some(port.priority_classes(tenant)?);
    }
    let priority = match rules::priority_of(&entry.priority, || classes.take().unwrap_or_default())
    {
        Ok(priority) => priority,
        Err(failure) => return Ok(Err(failure)),
    };
    let priority_classes = match entry.priority {
        PriorityAsk::Classes(names) => Some(names),
        _ => None,
    };
    let seq = port.next_entry_seq()?;
    let id = port.new_id("wait");
    port.persist(Change::NewWaitlistEntry {
        tenant: tenant.clone(),
        entry: Box::new(NewEntry {
            id: id.clone(),
            pool_id: pool_id.clone(),
            holder: entry.holder.clone(),
            quantity: entry.quantity.get(),
            priority,
            priority_classes,
            seq,
            expires_at: now.plus(entry.expires_in),
            created_at: now,
        }),
    })?;
    let pools = tenant_pools(tenants, tenant);
    pools.add_waiting(&pool_id, 1);
    let data = json!({
        "entry_id": id, "pool_id": pool_id.0, "holder": entry.holder,
        "quantity": entry.quantity.get(), "priority": priority,
    });
    event(port, tenant, "waitlist.joined", data, now)?;
    // Served at once when capacity is free and no one is ahead: no one waits for nothing.
    pools.freed.insert(pool_id);
    promote_tenant(port, tenants, tenant, now)?;
    answer(port, tenant, &id, now)
}

pub fn cancel<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    tenant: &TenantId,
    actor: Option<&str>,
    entry_id: &str,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let Some(entry) = port.waitlist_entry(tenant, entry_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "waitlist entry",
            id: entry_id.to_owned(),
        }));
    };
    let status = match rules::check_cancel(entry.status, entry.expires_at, now) {
        Ok(status) => status,
        Err(failure) => return Ok(Err(failure)),
    };
    port.persist(Change::WaitlistEntryStatus {
        tenant: tenant.clone(),
        entry_id: entry.id.clone(),
        from: entry.status,
        to: EntryStatus::Cancelled,
        at: now,
    })?;
    let pool_id = PoolId(entry.pool_id.clone());
    let pools = tenant_pools(tenants, tenant);
    match status {
        EntryStatus::Waiting => {
            load_pool_of(port, pools, tenant, &entry.id, &pool_id)?;
            pools.add_waiting(&pool_id, -1);
            // The entry may have been a strict head blocking smaller ones behind it.
            pools.freed.insert(pool_id);
        }
        _ => {
            // An offer: its hold goes back, and the capacity to the next in line.
            let hold_id = entry.hold_id.as_deref().unwrap_or_default();
            let Some(hold) = port.hold(tenant, hold_id)? else {
                return Err(Error::Corrupt(format!(
                    "offered entry {} has no hold",
                    entry.id
                )));
            };
            let (stepped, settled) =
                holds::step_loaded(port, pools, tenant, actor, hold.clone(), now, Step::Release)?;
            settle_offers(port, settled, now)?;
            match stepped {
                Ok(_) | Err(TransitionError::WrongStatus(_)) => {}
                // The offer ran out just now; the sweep has not written it down yet.
                Err(TransitionError::Expired) => {
                    let (status, effect) = hold
                        .lifecycle()
                        .expire(now)
                        .ok_or_else(|| Error::Corrupt("an offer neither held nor due".into()))?;
                    let settled = holds::transition(
                        port,
                        pools,
                        tenant,
                        None,
                        &hold,
                        status,
                        effect,
                        LedgerKind::Expire,
                        now,
                    )?;
                    settle_offers(port, settled, now)?;
                }
            }
        }
    }
    let data = json!({"entry_id": entry.id, "pool_id": entry.pool_id, "holder": entry.holder});
    event(port, tenant, "waitlist.cancelled", data, now)?;
    answer(port, tenant, entry_id, now)
}

pub fn set_priority_classes<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    classes: PriorityClasses,
) -> Result<Outcome, Error> {
    port.persist(Change::PriorityClasses {
        tenant: tenant.clone(),
        classes: classes.clone(),
    })?;
    Ok(Ok(Success::PriorityClasses(classes)))
}

/// The holds made for offers were confirmed, released or expired: each offer is accepted,
/// declined or lapsed. An entry that is no longer `offered` (cancelled, or promoted in confirm
/// mode) stays as it is.
pub fn settle_offers<P: Port>(
    port: &mut P,
    settled: impl IntoIterator<Item = OfferSettled>,
    now: UnixMillis,
) -> Result<(), Error> {
    for offer in settled {
        settle_offer(port, offer, now)?;
    }
    Ok(())
}

fn settle_offer<P: Port>(port: &mut P, offer: OfferSettled, now: UnixMillis) -> Result<(), Error> {
    let Some((status, kind)) = rules::offer_settlement(offer.kind) else {
        return Ok(());
    };
    let Some(entry) = port.waitlist_entry(&offer.tenant, &offer.entry_id)? else {
        return Ok(());
    };
    if entry.status != EntryStatus::Offered {
        return Ok(());
    }
    port.persist(Change::WaitlistEntryStatus {
        tenant: offer.tenant.clone(),
        entry_id: offer.entry_id.clone(),
        from: EntryStatus::Offered,
        to: status,
        at: now,
    })?;
    let data = json!({"entry_id": offer.entry_id, "hold_id": offer.hold_id});
    event(port, &offer.tenant, kind, data, now)
}

/// The sweep's step: expires waiting entries past their deadline, across tenants, and hands
/// promotion the dates that ended with people waiting. Answers how many entries expired.
pub fn expire_due_entries<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    now: UnixMillis,
) -> Result<usize, Error> {
    let due = port.due_entries(now, MAX_ENTRIES_EXPIRED_PER_SWEEP)?;
    for (tenant, entry) in &due {
        let pools = tenant_pools(tenants, tenant);
        expire_entry(port, pools, tenant, entry, now)?;
    }
    hand_over_dates_that_ended(port, tenants, now)?;
    Ok(due.len())
}

/// Entries waiting on a date that is over serve no one, and promotion expires them when it
/// looks at the date; with nothing else happening there it would not look until the entries'
/// own deadlines. So the sweep hands it every date with people waiting that has ended in its
/// session's time zone. (The read only narrows the search to dates over somewhere on Earth; the
/// core decides for each date in its zone.)
fn hand_over_dates_that_ended<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    now: UnixMillis,
) -> Result<(), Error> {
    let candidates =
        port.dates_with_waiting_before(SessionDate::latest_today(now), DATES_CHECKED_PER_SWEEP)?;
    for (tenant, id) in candidates {
        let pools = tenant_pools(tenants, &tenant);
        if pools.load_chain(port, &tenant, &id)? && pools.rows[&id].date_is_over(now) {
            pools.freed.insert(id);
        }
    }
    Ok(())
}

/// Serves the waiting entries below every pool freed since the last promotion, for every tenant.
pub fn promote_freed<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    now: UnixMillis,
) -> Result<(), Error> {
    let mut freed: Vec<TenantId> = tenants
        .iter()
        .filter(|(_, pools)| !pools.freed.is_empty())
        .map(|(tenant, _)| tenant.clone())
        .collect();
    // In one order whatever the map's: the events and ids promotion makes follow it.
    freed.sort();
    for tenant in freed {
        promote_tenant(port, tenants, &tenant, now)?;
    }
    Ok(())
}

fn promote_tenant<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    tenant: &TenantId,
    now: UnixMillis,
) -> Result<(), Error> {
    let pools = tenant_pools(tenants, tenant);
    let freed = std::mem::take(&mut pools.freed);
    let waiting_pools = pools_with_waiters_below(port, pools, tenant, freed)?;
    // A session date that is over serves no one: its waiting entries expire instead.
    let (past, waiting_pools): (Vec<PoolId>, Vec<PoolId>) = waiting_pools
        .into_iter()
        .partition(|id| pools.rows[id].date_is_over(now));
    for pool_id in past {
        for entry in port.waiting_entries(tenant, &pool_id, 0, MAX_ENTRIES_EXPIRED_PER_SWEEP)? {
            expire_entry(port, pools, tenant, &entry, now)?;
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
        let mut queues = Vec::with_capacity(waiting_pools.len());
        let mut entries: HashMap<String, EntryRecord> = HashMap::new();
        let mut more_to_read = false;
        let mut full_skip_queues = Vec::new();
        for pool_id in &waiting_pools {
            let offset = offsets.get(pool_id).copied().unwrap_or(0);
            let page = port.waiting_entries(tenant, pool_id, offset, QUEUE_PAGE)?;
            let full = page.len() as i64 == QUEUE_PAGE;
            more_to_read |= full;
            let settings = pools.rows[pool_id].waitlist;
            if full && settings.policy == WaitlistPolicy::Skip {
                full_skip_queues.push(pool_id.clone());
            }
            queues.push(Queue {
                pool_id: pool_id.clone(),
                policy: settings.policy,
                mode: settings.mode,
                entries: page
                    .iter()
                    .map(EntryRecord::waiting)
                    .collect::<Result<_, _>>()?,
            });
            entries.extend(page.into_iter().map(|entry| (entry.id.clone(), entry)));
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
                    serve(port, pools, tenant, &entries[&entry.id], mode, now)?;
                }
                Decision::Expire { entry } => {
                    expire_entry(port, pools, tenant, &entries[&entry.id], now)?;
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

/// Writes down what promotion decided for an entry the core has just placed on its pool: the
/// hold made for it (an offer, or a booking in confirm mode), and the entry served by it.
fn serve<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    entry: &EntryRecord,
    mode: PromotionMode,
    now: UnixMillis,
) -> Result<(), Error> {
    let waiting = entry.waiting()?;
    let settings = pools.rows[&waiting.pool_id].waitlist;
    let line = HoldLine {
        pool_id: waiting.pool_id.clone(),
        quantity: waiting.quantity,
    };
    let (hold_status, entry_status, kind) = rules::served_as(mode);
    let hold = Placed {
        lines: std::slice::from_ref(&line),
        status: hold_status,
        holder: Some(entry.holder.clone()),
        expires_at: now.plus(settings.offer_ttl),
        waitlist_entry_id: Some(&entry.id),
        subject: None,
        reason: Some("promoted from the waiting list"),
    };
    let hold = holds::write_placed(port, pools, tenant, None, hold, now)?;
    let offer_expires_at = (mode == PromotionMode::Offer).then_some(hold.expires_at);
    port.persist(Change::WaitlistEntryPromoted {
        tenant: tenant.clone(),
        entry_id: entry.id.clone(),
        to: entry_status,
        hold_id: hold.id.clone(),
        offer_expires_at,
        at: now,
    })?;
    pools.add_waiting(&waiting.pool_id, -1);
    let data = json!({
        "entry_id": entry.id, "pool_id": entry.pool_id, "holder": entry.holder,
        "quantity": entry.quantity, "hold_id": hold.id,
        "offer_expires_at": offer_expires_at.map(|at| at.0),
    });
    event(port, tenant, kind, data, now)
}

/// The pools at or below `freed` that have waiting entries. The rolled-up `waiting_below` count
/// prunes the walk: a subtree with no one waiting costs nothing. Counts changed earlier in this
/// batch are only in the working set (as dirty pools), so children come from both it and the
/// store.
fn pools_with_waiters_below<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    freed: BTreeSet<PoolId>,
) -> Result<Vec<PoolId>, Error> {
    let mut found = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<PoolId> = freed.into_iter().collect();
    while let Some(id) = stack.pop() {
        if !visited.insert(id.clone()) || !pools.load_chain(port, tenant, &id)? {
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
            let mut children = port.children_with_waiting(tenant, &id)?;
            // A pool not changed in this batch reads the same in the working set as stored.
            children.extend(
                pools
                    .dirty
                    .iter()
                    .map(|child| &pools.rows[child])
                    .filter(|child| child.core.parent_id.as_ref() == Some(&id))
                    .filter(|child| child.waiting_below > 0)
                    .map(|child| child.core.id.clone()),
            );
            // The walk's order does not matter (what it finds is sorted), only that it ends.
            stack.extend(children);
        }
    }
    found.sort();
    Ok(found)
}

/// A waiting entry past its deadline, or on a date that is over, expires.
fn expire_entry<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    entry: &EntryRecord,
    now: UnixMillis,
) -> Result<(), Error> {
    port.persist(Change::WaitlistEntryStatus {
        tenant: tenant.clone(),
        entry_id: entry.id.clone(),
        from: EntryStatus::Waiting,
        to: EntryStatus::Expired,
        at: now,
    })?;
    let pool_id = PoolId(entry.pool_id.clone());
    load_pool_of(port, pools, tenant, &entry.id, &pool_id)?;
    pools.add_waiting(&pool_id, -1);
    // An expired strict head no longer blocks the entries behind it.
    pools.freed.insert(pool_id);
    let data = json!({"entry_id": entry.id, "pool_id": entry.pool_id, "holder": entry.holder});
    event(port, tenant, "waitlist.expired", data, now)
}

fn load_pool_of<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    entry_id: &str,
    pool_id: &PoolId,
) -> Result<(), Error> {
    if pools.load_chain(port, tenant, pool_id)? {
        Ok(())
    } else {
        Err(Error::Corrupt(format!(
            "entry {entry_id} waits on a missing pool {pool_id}"
        )))
    }
}

fn event<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    kind: &'static str,
    data: serde_json::Value,
    now: UnixMillis,
) -> Result<(), Error> {
    outbox::record_event(port, tenant, kind, data, now).map(drop)
}

/// The entry as of `now`, with its position and the pool's recent promotions while it waits.
pub fn entry_view<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    entry: &EntryRecord,
    now: UnixMillis,
) -> Result<WaitlistEntryView, Error> {
    let pool_id = PoolId(entry.pool_id.clone());
    entry.view_in_line(now, |since, limit| {
        let position = port.entry_position(tenant, entry, now)?;
        let recent = port.recent_promotions(tenant, &pool_id, since, limit)?;
        Ok((position, recent))
    })
}

/// The entry as it is now, for the answer.
fn answer<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    entry_id: &str,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let entry = port
        .waitlist_entry(tenant, entry_id)?
        .ok_or_else(|| Error::Corrupt(format!("entry {entry_id} vanished")))?;
    Ok(Ok(Success::WaitlistEntry(entry_view(
        port, tenant, &entry, now,
    )?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;
    use allot_core::{HoldStatus, Quantity, TtlSeconds};

    const NOW: UnixMillis = UnixMillis(1_000_000);

    fn tenant() -> TenantId {
        TenantId("ten_1".into())
    }

    /// An event section of `capacity` seats with `committed` sold.
    fn section(port: &mut RecordingPort, id: &str, capacity: i64, committed: i64) {
        port.add_pool(id, &format!("Section {id}"), "seats", capacity, committed);
    }

    fn asking(pool: &str, holder: &str, quantity: i64) -> NewWaitlistEntry {
        NewWaitlistEntry {
            pool_id: pool.into(),
            holder: holder.into(),
            quantity: Quantity::new(quantity).expect("valid"),
            priority: PriorityAsk::Base,
            expires_in: TtlSeconds::new(3_600).expect("valid"),
        }
    }

    fn joined(outcome: Outcome) -> WaitlistEntryView {
        match outcome {
            Ok(Success::WaitlistEntry(entry)) => entry,
            other => panic!("no entry: {other:?}"),
        }
    }

    fn kinds(changes: &[Change]) -> Vec<&'static str> {
        changes
            .iter()
            .filter_map(|change| match change {
                Change::NewEvent { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn joining_a_section_with_free_seats_is_served_at_once_with_an_offer() {
        let mut port = RecordingPort::default();
        section(&mut port, "floor", 2, 0);
        let mut tenants = Tenants::default();
        let entry = joined(
            join(
                &mut port,
                &mut tenants,
                &tenant(),
                asking("floor", "ana", 2),
                NOW,
            )
            .expect("decided"),
        );
        assert_eq!(entry.status, EntryStatus::Offered);
        assert_eq!(entry.position, None);
        let changes = port.take_changes();
        assert_eq!(kinds(&changes), ["waitlist.joined", "waitlist.offered"]);
        let hold = changes.iter().find_map(|change| match change {
            Change::NewHold(hold) => Some(hold),
            _ => None,
        });
        let hold = hold.expect("an offer's hold");
        assert_eq!(hold.status, HoldStatus::Held);
        assert_eq!(hold.waitlist_entry_id.as_deref(), Some(entry.id.as_str()));
        let pools = &tenants[&tenant()];
        assert_eq!(
            pools.set.get(&PoolId("floor".into())).map(|p| p.held),
            Some(2)
        );
        assert_eq!(pools.rows[&PoolId("floor".into())].waiting, 0);
    }

    #[test]
    fn joining_a_sold_out_section_waits_first_in_line_and_cancelling_frees_the_head() {
        let mut port = RecordingPort::default();
        section(&mut port, "floor", 2, 2);
        let mut tenants = Tenants::default();
        let entry = joined(
            join(
                &mut port,
                &mut tenants,
                &tenant(),
                asking("floor", "bo", 1),
                NOW,
            )
            .expect("decided"),
        );
        assert_eq!(entry.status, EntryStatus::Waiting);
        assert_eq!(entry.position, Some(1));
        assert_eq!(tenants[&tenant()].rows[&PoolId("floor".into())].waiting, 1);
        port.take_changes();

        let later = UnixMillis(NOW.0 + 1);
        let cancelled = cancel(&mut port, &mut tenants, &tenant(), None, &entry.id, later);
        assert_eq!(
            joined(cancelled.expect("decided")).status,
            EntryStatus::Cancelled
        );
        let pools = &tenants[&tenant()];
        assert_eq!(pools.rows[&PoolId("floor".into())].waiting, 0);
        assert!(pools.freed.contains(&PoolId("floor".into())));
        // Cancelled once: a second cancel is refused and changes nothing.
        port.take_changes();
        let again = cancel(&mut port, &mut tenants, &tenant(), None, &entry.id, later);
        assert!(matches!(
            again.expect("decided"),
            Err(Failure::Conflict {
                status: "cancelled",
                ..
            })
        ));
        assert!(port.take_changes().is_empty());
    }

    #[test]
    fn an_offer_settled_after_its_entry_was_cancelled_leaves_the_entry_as_it_is() {
        let mut port = RecordingPort::default();
        section(&mut port, "floor", 2, 0);
        let mut tenants = Tenants::default();
        let entry = joined(
            join(
                &mut port,
                &mut tenants,
                &tenant(),
                asking("floor", "cy", 1),
                NOW,
            )
            .expect("decided"),
        );
        let hold_id = entry.hold_id.clone().expect("served at once");
        port.entries.get_mut(&entry.id).expect("kept").status = EntryStatus::Cancelled;
        port.take_changes();
        let offer = OfferSettled {
            tenant: tenant(),
            entry_id: entry.id.clone(),
            hold_id,
            kind: LedgerKind::Release,
        };
        settle_offers(&mut port, [offer], NOW).expect("decided");
        assert!(port.take_changes().is_empty());
    }
}
