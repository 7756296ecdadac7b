//! The invariants, checked against what the store committed — never against what the
//! simulation believes, so a bug in the store cannot hide behind the same bug in a model.

use crate::workload::Sent;
use allot_core::waitlist::{EntryStatus, WaitlistPolicy};
use allot_core::{HoldStatus, PoolId, UnixMillis};
use allot_store::memory::{MemoryState, MemoryStore};
use allot_store::{Failure, LedgerEntry, Reply, TenantId};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl Violation {
    pub fn new(what: impl Into<String>) -> Self {
        Violation(what.into())
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn violated(what: String) -> Result<(), Violation> {
    Err(Violation(what))
}

/// After each committed batch: one answer per command; a repeated request answered as the
/// first time; a key reused for another request refused; the pools the batch wrote kept by the
/// writer for the next batch exactly as committed, and none over its limit.
pub fn after_batch(
    store: &MemoryStore,
    sent: &[Sent],
    replies: &[Reply],
    now: UnixMillis,
) -> Result<(), Violation> {
    if sent.len() != replies.len() {
        return violated(format!(
            "{} commands got {} answers",
            sent.len(),
            replies.len()
        ));
    }
    let state = store.state();
    for (one, reply) in sent.iter().zip(replies) {
        let Some((key, _)) = &one.key else { continue };
        let fresh_again = || {
            // Past its window a key is forgotten, and the request runs again.
            state
                .idempotency
                .get(&(one.tenant.clone(), key.clone()))
                .is_some_and(|(record, _)| record.created_at == now)
        };
        match (reply, &one.first_answer) {
            (
                Reply::Rendered {
                    response,
                    replayed: true,
                },
                Some(first),
            ) if response == first => {}
            (
                Reply::Rendered {
                    replayed: false, ..
                },
                _,
            ) if fresh_again() => {}
            (Reply::Outcome(Err(Failure::IdempotencyMismatch)), None) => {}
            (
                Reply::Rendered {
                    replayed: false, ..
                },
                None,
            ) => {}
            (reply, first) => {
                return violated(format!(
                    "key {key} of {:?} answered {reply:?} (first answer: {first:?})",
                    one.tenant
                ));
            }
        }
    }
    // The pools this batch wrote; every cached pool is compared in `cache_is_committed`, with
    // the full check.
    for (tenant, id, cached) in store.cached_pools_written_last() {
        let Some(row) = cached else { continue };
        cached_as_committed(state, tenant, id, row)?;
    }
    Ok(())
}

/// Every pool the writer keeps for the next batch is exactly what was committed, and none is
/// over its limit.
pub fn cache_is_committed(store: &MemoryStore) -> Result<(), Violation> {
    let state = store.state();
    for (tenant, row) in store.cached_pools() {
        cached_as_committed(state, tenant, &row.core.id, row)?;
    }
    Ok(())
}

fn cached_as_committed(
    state: &MemoryState,
    tenant: &TenantId,
    id: &PoolId,
    row: &allot_engine::records::PoolRecord,
) -> Result<(), Violation> {
    match state.pools.get(&(tenant.clone(), id.clone())) {
        Some(committed) if committed == row => {}
        committed => {
            return violated(format!(
                "the writer keeps pool {} of {tenant:?} as {row:?}, but committed {committed:?}",
                id.0
            ));
        }
    }
    within_limit(tenant, id.clone(), &row.core)
}

fn within_limit(tenant: &TenantId, id: PoolId, pool: &allot_core::Pool) -> Result<(), Violation> {
    if pool.held < 0 || pool.committed < 0 {
        return violated(format!(
            "pool {} of {tenant:?} counts below zero: {pool:?}",
            id.0
        ));
    }
    if pool.used() > pool.limits.limit() {
        return violated(format!(
            "pool {} of {tenant:?} is over its limit: {pool:?}",
            id.0
        ));
    }
    Ok(())
}

/// Every invariant over the whole committed state:
/// - no held hold is past its deadline (expiry comes before every decision);
/// - each pool's counters equal its live holds, its own and those below it;
/// - replaying the ledger gives the same counters;
/// - no pool, nor any ancestor, holds more than its limit.
pub fn full(state: &MemoryState, now: UnixMillis) -> Result<(), Violation> {
    let chains = Chains::of(state)?;
    let mut from_holds = vec![(0i64, 0i64); chains.parents.len()];
    for ((tenant, id), hold) in &state.holds {
        if hold.status == HoldStatus::Held && hold.expires_at <= now {
            return violated(format!("hold {id} is still held past its deadline"));
        }
        let (held, committed) = match hold.status {
            HoldStatus::Held => (1, 0),
            HoldStatus::Confirmed => (0, 1),
            _ => continue,
        };
        for line in &hold.lines {
            chains.roll_up(&mut from_holds, tenant, &line.pool_id, |c| {
                c.0 += held * line.quantity;
                c.1 += committed * line.quantity;
            })?;
        }
    }
    let mut from_ledger = vec![(0i64, 0i64); chains.parents.len()];
    for (tenant, entry) in &state.ledger {
        let LedgerEntry {
            pool_id,
            held_delta,
            committed_delta,
            ..
        } = entry;
        chains.roll_up(&mut from_ledger, tenant, pool_id, |c| {
            c.0 += held_delta;
            c.1 += committed_delta;
        })?;
    }
    for (slot, ((tenant, id), row)) in state.pools.iter().enumerate() {
        let counters = (row.core.held, row.core.committed);
        let holds = from_holds[slot];
        if counters != holds {
            return violated(format!(
                "pool {} of {tenant:?} counts (held, committed) {counters:?}, its live holds {holds:?}",
                id.0
            ));
        }
        let ledger = from_ledger[slot];
        if counters != ledger {
            return violated(format!(
                "pool {} of {tenant:?} counts {counters:?}, its ledger replays to {ledger:?}",
                id.0
            ));
        }
        within_limit(tenant, id.clone(), &row.core)?;
    }
    waiting_lists(state, now)
}

/// Waiting lists, over what was committed as of `now`:
/// - an entry served has one hold, made for it, and no other entry names that hold;
/// - the entry follows its hold: an offer is held, an accepted or confirmed entry's hold is
///   confirmed, a declined one's released, a lapsed one's expired;
/// - under `skip`, no waiting entry fits what its pool has free: capacity is never idle while
///   someone it would serve waits.
pub fn waiting_lists(state: &MemoryState, now: UnixMillis) -> Result<(), Violation> {
    let mut served_by: BTreeMap<(&TenantId, &str), &str> = BTreeMap::new();
    for ((tenant, id), entry) in &state.entries {
        let entry = &entry.record;
        let Some(hold_id) = entry.hold_id.as_deref() else {
            if entry.status != EntryStatus::Waiting && entry.promoted_at.is_some() {
                return violated(format!("entry {id} was promoted without a hold"));
            }
            continue;
        };
        if let Some(other) = served_by.insert((tenant, hold_id), id) {
            return violated(format!(
                "entries {other} and {id} are both served by hold {hold_id}"
            ));
        }
        let Some(hold) = state.holds.get(&(tenant.clone(), hold_id.to_owned())) else {
            return violated(format!("entry {id} names a missing hold {hold_id}"));
        };
        if hold.waitlist_entry_id.as_deref() != Some(id.as_str()) {
            return violated(format!("hold {hold_id} of entry {id} was not made for it"));
        }
        let expected = match entry.status {
            EntryStatus::Offered => Some(HoldStatus::Held),
            EntryStatus::Accepted | EntryStatus::Confirmed => Some(HoldStatus::Confirmed),
            EntryStatus::Declined => Some(HoldStatus::Released),
            EntryStatus::Lapsed => Some(HoldStatus::Expired),
            _ => None,
        };
        if let Some(expected) = expected
            && hold.status != expected
        {
            return violated(format!(
                "entry {id} is {:?} but its hold {hold_id} is {:?}",
                entry.status, hold.status
            ));
        }
    }
    for ((tenant, id), entry) in &state.entries {
        let entry = &entry.record;
        if entry.status != EntryStatus::Waiting || entry.expires_at <= now {
            continue;
        }
        let pool_id = PoolId(entry.pool_id.clone());
        let Some(row) = state.pools.get(&(tenant.clone(), pool_id.clone())) else {
            return violated(format!("entry {id} waits on a missing pool {pool_id}"));
        };
        if row.waitlist.policy != WaitlistPolicy::Skip {
            continue;
        }
        if let Some(free) = free_along_chain(state, tenant, &pool_id)
            && entry.quantity <= free
        {
            return violated(format!(
                "entry {id} for {} waits on {pool_id} under skip, which has {free} free",
                entry.quantity
            ));
        }
    }
    Ok(())
}

/// What a pool can still give, the least along its chain; `None` if any of it is paused.
fn free_along_chain(state: &MemoryState, tenant: &TenantId, pool: &PoolId) -> Option<i64> {
    let mut free = i64::MAX;
    let mut next = Some(pool.clone());
    while let Some(id) = next {
        let row = state.pools.get(&(tenant.clone(), id))?;
        if !row.core.active {
            return None;
        }
        free = free.min(row.core.limits.limit() - row.core.used());
        next = row.core.parent_id.clone();
    }
    Some(free)
}

/// How many entries were ever served by promotion.
pub fn entries_served(state: &MemoryState) -> u64 {
    state
        .entries
        .values()
        .filter(|entry| entry.record.promoted_at.is_some())
        .count() as u64
}

/// Every pool by its place in the committed state's pool map, with its parent's place: the
/// full check rolls figures up chains without copying an id.
struct Chains<'s> {
    slots: HashMap<(&'s str, &'s str), usize>,
    parents: Vec<Option<usize>>,
}

impl<'s> Chains<'s> {
    fn of(state: &'s MemoryState) -> Result<Self, Violation> {
        let slots: HashMap<(&str, &str), usize> = state
            .pools
            .keys()
            .enumerate()
            .map(|(slot, (tenant, id))| ((tenant.0.as_str(), id.0.as_str()), slot))
            .collect();
        let mut parents = Vec::with_capacity(slots.len());
        for ((tenant, id), row) in &state.pools {
            let Some(parent) = row.core.parent_id.as_ref() else {
                parents.push(None);
                continue;
            };
            match slots.get(&(tenant.0.as_str(), parent.0.as_str())) {
                Some(&slot) => parents.push(Some(slot)),
                None => {
                    return Err(Violation(format!(
                        "pool {} of {tenant:?} has a parent {} it does not have",
                        id.0, parent.0
                    )));
                }
            }
        }
        Ok(Chains { slots, parents })
    }

    /// Adds to a pool and each of its ancestors.
    fn roll_up(
        &self,
        counters: &mut [(i64, i64)],
        tenant: &TenantId,
        pool: &str,
        add: impl Fn(&mut (i64, i64)),
    ) -> Result<(), Violation> {
        let Some(&first) = self.slots.get(&(tenant.0.as_str(), pool)) else {
            return violated(format!(
                "{tenant:?} counts on pool {pool}, which it does not have"
            ));
        };
        let mut next = Some(first);
        while let Some(slot) = next {
            add(&mut counters[slot]);
            next = self.parents[slot];
        }
        Ok(())
    }
}

/// What a batch could have changed, cheap enough to take before every faulty batch: every
/// pool, job and ticket whole, and how many of everything else (a batch only ever adds or
/// changes).
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pools: Vec<allot_engine::records::PoolRecord>,
    counts: [usize; 10],
    last_ledger: Option<LedgerEntry>,
    jobs: Vec<allot_store::jobs::JobView>,
    tickets: allot_store::memory::tickets::TicketBook,
    entries: Vec<allot_store::memory::StoredEntry>,
    all_entries: usize,
    all_jobs: usize,
    events: usize,
    /// Held holds with their deadlines: a batch's confirms, releases, extensions and expiries.
    held: Vec<(UnixMillis, TenantId, String)>,
}

impl Fingerprint {
    pub fn of(state: &MemoryState) -> Self {
        Fingerprint {
            pools: state.pools.values().cloned().collect(),
            counts: [
                state.tenants.len(),
                state.api_keys.len(),
                state.holds.len(),
                state.consumptions.len(),
                state.ledger.len(),
                state.idempotency.len(),
                state.plans.len(),
                state.members.len(),
                state.jobs.len(),
                state.job_items.len(),
            ],
            last_ledger: state.ledger.last().map(|(_, entry)| entry.clone()),
            // A finished job and an entry done with its line never change again: only those
            // still moving are kept whole (with how many there are of all).
            jobs: state
                .jobs
                .values()
                .filter(|job| !job.status.is_finished())
                .cloned()
                .collect(),
            tickets: state.tickets.clone(),
            entries: state
                .entries
                .values()
                .filter(|entry| {
                    matches!(
                        entry.record.status,
                        EntryStatus::Waiting | EntryStatus::Offered
                    )
                })
                .cloned()
                .collect(),
            all_entries: state.entries.len(),
            all_jobs: state.jobs.len(),
            events: state.events.len(),
            held: state.held_holds().cloned().collect(),
        }
    }
}

/// A batch that failed left the state as it found it.
pub fn nothing_left_behind(before: &Fingerprint, after: &MemoryState) -> Result<(), Violation> {
    let after = Fingerprint::of(after);
    if *before != after {
        return violated(format!(
            "a failed batch left changes behind: before {before:?}, after {after:?}"
        ));
    }
    Ok(())
}

/// How much of everything is committed, and the last ledger entry and event: what a crash
/// that lost or rewound committed changes would show. (The whole state is not copied for it:
/// the in-memory store's restart drops only the writer's pools, and the batches after it are
/// checked against what is committed, pool by pool.)
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    counts: [usize; 14],
    last_ledger: Option<LedgerEntry>,
    last_event: Option<String>,
}

impl Committed {
    pub fn of(state: &MemoryState) -> Self {
        Committed {
            counts: [
                state.tenants.len(),
                state.api_keys.len(),
                state.pools.len(),
                state.holds.len(),
                state.consumptions.len(),
                state.ledger.len(),
                state.idempotency.len(),
                state.plans.len(),
                state.members.len(),
                state.jobs.len(),
                state.job_items.len(),
                state.entries.len(),
                state.events.len(),
                state.held_holds().count(),
            ],
            last_ledger: state.ledger.last().map(|(_, entry)| entry.clone()),
            last_event: state.events.last().map(|(_, event)| event.id.clone()),
        }
    }
}

/// A crash keeps every committed change and drops only what the writer held in memory.
pub fn nothing_lost_in_a_crash(
    committed: &Committed,
    store: &MemoryStore,
) -> Result<(), Violation> {
    if *committed != Committed::of(store.state()) {
        return violated("a restart changed what was committed".into());
    }
    if store.cached_pools().next().is_some() {
        return violated("a restart kept the writer's pools".into());
    }
    Ok(())
}
