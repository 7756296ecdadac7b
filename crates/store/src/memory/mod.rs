//! The in-memory store: everything in ordered maps, decided by the same engine as every other
//! store. It is the reference the other stores are compared with, the store of the simulation,
//! and a quick store for tests. Nothing survives the process.
//!
//! - this module: the state and the writer ([`MemoryStore`]), which keeps each tenant's pools
//!   between batches as the SQLite writer does, so a crash that drops them is worth testing.
//! - [`batch`]: the engine's port over one batch: each change applied at once, with an undo log
//!   that takes the batch back if it fails.
//! - [`faults`]: failures the simulation injects.
//! - [`tickets`]: attendees, tickets and scans at the door.
//! - [`outbox`]: alerts, webhooks, recipient groups and deliveries.

mod batch;
pub mod faults;
pub mod outbox;
pub mod tickets;

use crate::command::{Envelope, Reply, StoredResponse};
use crate::ids::Ids;
use crate::jobs::{JobItem, JobView};
use crate::model::{
    EventView, HoldLineView, LedgerEntry, PlanView, PoolView, Role, Tenant, TenantId,
};
use crate::observe::{Member, Observed};
use crate::{BatchWriter, StoreError};
use allot_core::waitlist::{EntryStatus, PriorityClasses, QueueKey};
use allot_core::{HoldStatus, PoolId, UnixMillis};
use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use allot_engine::rules::idempotency::KeyRecord;
use allot_engine::views::{PoolRows, PoolViews};
use allot_engine::working::Tenants;
use batch::MemoryBatch;
use faults::Faults;
use outbox::OutboxBook;
use std::collections::{BTreeMap, BTreeSet};
use tickets::TicketBook;

/// An API key as kept: its hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key_hash: String,
    pub role: Role,
    pub created_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
}

/// A waiting-list entry as kept, with the classes its priority was asked by (if it was).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub record: EntryRecord,
    pub priority_classes: Option<Vec<String>>,
}

/// Everything the in-memory store holds: what a batch commits.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryState {
    pub tenants: BTreeMap<TenantId, Tenant>,
    pub api_keys: BTreeMap<(TenantId, String), StoredKey>,
    pub pools: BTreeMap<(TenantId, PoolId), PoolRecord>,
    pub holds: BTreeMap<(TenantId, String), HoldRecord>,
    /// The hold that counted each subject once on a pool.
    pub consumptions: BTreeMap<(TenantId, PoolId, String), String>,
    /// In the order appended; each entry numbered from 1 across tenants.
    pub ledger: Vec<(TenantId, LedgerEntry)>,
    pub idempotency: BTreeMap<(TenantId, String), (KeyRecord, StoredResponse)>,
    /// Plans as made and changed; how many members each has is counted from `members`.
    pub plans: BTreeMap<(TenantId, String), PlanView>,
    /// Each member's quota pool, by tenant, plan and subject.
    pub members: BTreeMap<(TenantId, String, String), PoolId>,
    pub jobs: BTreeMap<(TenantId, String), JobView>,
    /// The items each job skipped or failed, by tenant, job and position, with when.
    pub job_items: BTreeMap<(TenantId, String, i64), (JobItem, UnixMillis)>,
    pub tickets: TicketBook,
    /// Waiting-list entries by tenant and id, in every status.
    pub entries: BTreeMap<(TenantId, String), StoredEntry>,
    /// The last arrival number handed to an entry, across tenants.
    pub waitlist_seq: i64,
    /// Each tenant's priority classes, once it has set them.
    pub priority_classes: BTreeMap<TenantId, PriorityClasses>,
    /// In the order recorded; each numbered from 1 across tenants.
    pub events: Vec<(TenantId, EventView)>,
    /// Alerts, webhooks, recipients and deliveries (nothing delivers them from this store).
    pub outbox: OutboxBook,
    /// Held holds by deadline: the expiry probe reads only what is due.
    held_by_deadline: BTreeSet<(UnixMillis, TenantId, String)>,
    /// Indexes of `entries`, kept in step by [`MemoryState::put_entry`], so that a waiting
    /// list is read without a scan of every entry: each pool's waiting entries in queue order,
    /// waiting entries by deadline, and each pool's promotions by time.
    waiting_in_line: BTreeMap<(TenantId, String), BTreeMap<QueueKey, String>>,
    waiting_by_deadline: BTreeSet<(UnixMillis, i64, TenantId, String)>,
    promotions: BTreeMap<(TenantId, String), BTreeSet<(UnixMillis, String)>>,
    /// Ids follow each other, so a simulation replays them exactly.
    ids: Ids,
}

impl Default for MemoryState {
    fn default() -> Self {
        MemoryState {
            tenants: BTreeMap::new(),
            api_keys: BTreeMap::new(),
            pools: BTreeMap::new(),
            holds: BTreeMap::new(),
            consumptions: BTreeMap::new(),
            ledger: Vec::new(),
            idempotency: BTreeMap::new(),
            plans: BTreeMap::new(),
            members: BTreeMap::new(),
            jobs: BTreeMap::new(),
            job_items: BTreeMap::new(),
            tickets: TicketBook::default(),
            entries: BTreeMap::new(),
            waitlist_seq: 0,
            priority_classes: BTreeMap::new(),
            events: Vec::new(),
            outbox: OutboxBook::default(),
            held_by_deadline: BTreeSet::new(),
            waiting_in_line: BTreeMap::new(),
            waiting_by_deadline: BTreeSet::new(),
            promotions: BTreeMap::new(),
            ids: Ids::sequential(),
        }
    }
}

impl MemoryState {
    /// Sets or removes a hold, keeping the deadline index in step; answers what was there.
    fn put_hold(
        &mut self,
        key: (TenantId, String),
        hold: Option<HoldRecord>,
    ) -> Option<HoldRecord> {
        let previous = match hold {
            Some(hold) => self.holds.insert(key.clone(), hold),
            None => self.holds.remove(&key),
        };
        if let Some(old) = previous
            .as_ref()
            .filter(|old| old.status == HoldStatus::Held)
        {
            let entry = (old.expires_at, key.0.clone(), key.1.clone());
            self.held_by_deadline.remove(&entry);
        }
        if let Some(new) = self
            .holds
            .get(&key)
            .filter(|new| new.status == HoldStatus::Held)
        {
            self.held_by_deadline
                .insert((new.expires_at, key.0.clone(), key.1.clone()));
        }
        previous
    }

    /// Sets or removes a waiting-list entry, keeping its indexes in step; answers what was
    /// there.
    fn put_entry(
        &mut self,
        key: (TenantId, String),
        entry: Option<StoredEntry>,
    ) -> Option<StoredEntry> {
        let previous = match entry {
            Some(entry) => self.entries.insert(key.clone(), entry),
            None => self.entries.remove(&key),
        };
        if let Some(old) = &previous {
            self.index_entry(&key, &old.record, false);
        }
        if let Some(new) = self.entries.get(&key).map(|stored| stored.record.clone()) {
            self.index_entry(&key, &new, true);
        }
        previous
    }

    fn index_entry(&mut self, key: &(TenantId, String), entry: &EntryRecord, add: bool) {
        let pool = (key.0.clone(), entry.pool_id.clone());
        if entry.status == EntryStatus::Waiting {
            let by_deadline = (entry.expires_at, entry.seq, key.0.clone(), key.1.clone());
            let line = self.waiting_in_line.entry(pool.clone()).or_default();
            if add {
                line.insert(queue_key(entry), key.1.clone());
                self.waiting_by_deadline.insert(by_deadline);
            } else {
                line.remove(&queue_key(entry));
                self.waiting_by_deadline.remove(&by_deadline);
            }
            if line.is_empty() {
                self.waiting_in_line.remove(&pool);
            }
        }
        if let Some(at) = entry.promoted_at {
            let times = self.promotions.entry(pool.clone()).or_default();
            if add {
                times.insert((at, key.1.clone()));
            } else {
                times.remove(&(at, key.1.clone()));
            }
            if times.is_empty() {
                self.promotions.remove(&pool);
            }
        }
    }

    /// A pool's waiting entries (those not yet expired by a sweep included), in queue order.
    fn waiting_on<'s>(
        &'s self,
        tenant: &TenantId,
        pool: &str,
    ) -> impl Iterator<Item = &'s EntryRecord> + 's {
        let line = self.waiting_in_line.get(&(tenant.clone(), pool.to_owned()));
        let tenant = tenant.clone();
        line.into_iter().flat_map(move |line| {
            let tenant = tenant.clone();
            line.values()
                .map(move |id| &self.entries[&(tenant.clone(), id.clone())].record)
        })
    }

    /// A pool's promotions after `since`, newest first.
    fn promotions_since<'s>(
        &'s self,
        tenant: &TenantId,
        pool: &str,
        since: UnixMillis,
    ) -> impl Iterator<Item = UnixMillis> + 's {
        let times = self.promotions.get(&(tenant.clone(), pool.to_owned()));
        times.into_iter().flat_map(move |times| {
            times
                .iter()
                .rev()
                .map(|(at, _)| *at)
                .take_while(move |at| *at > since)
        })
    }

    /// Waiting entries whose deadline is at or before `now`, by deadline then arrival.
    fn waiting_due(&self, now: UnixMillis) -> impl Iterator<Item = (&TenantId, &EntryRecord)> {
        self.waiting_by_deadline
            .iter()
            .take_while(move |(at, ..)| *at <= now)
            .map(|(_, _, tenant, id)| {
                let stored = &self.entries[&(tenant.clone(), id.clone())];
                (tenant, &stored.record)
            })
    }

    /// One tenant's ledger, oldest first.
    pub fn ledger_of<'a>(&'a self, tenant: &'a TenantId) -> impl Iterator<Item = &'a LedgerEntry> {
        self.ledger
            .iter()
            .filter(move |(owner, _)| owner == tenant)
            .map(|(_, entry)| entry)
    }

    /// A plan with how many members it has.
    pub fn plan(&self, tenant: &TenantId, id: &str) -> Option<PlanView> {
        let plan = self.plans.get(&(tenant.clone(), id.to_owned()))?;
        let members = self
            .members
            .keys()
            .filter(|(owner, plan_id, _)| owner == tenant && plan_id == id)
            .count();
        Some(PlanView {
            members: members as i64,
            ..plan.clone()
        })
    }

    /// Every held hold with its deadline, in deadline order, from the index the expiry probe
    /// reads: what a batch may expire, confirm, release or extend.
    pub fn held_holds(&self) -> impl Iterator<Item = &(UnixMillis, TenantId, String)> {
        self.held_by_deadline.iter()
    }

    /// The earliest deadline of any held hold.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        self.held_by_deadline.first().map(|(at, _, _)| *at)
    }
}

/// The in-memory store's writer and its state.
#[derive(Default)]
pub struct MemoryStore {
    state: MemoryState,
    /// Each tenant's pools as the last committed batch left them: the next batch starts from
    /// them. Dropped by [`MemoryStore::restart`], as a crash drops a writer's memory.
    cache: Tenants,
    faults: Faults,
    /// The pools the last committed batch wrote.
    written_last: Vec<(TenantId, PoolId)>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// What is committed.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// Failures to inject into the batches that follow.
    pub fn faults(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// Applies `batch()` failing at its first change, then at its second, and so on, until it
    /// has fewer changes than that and commits whole. Each failed batch must leave what is
    /// committed as it was: the test of the undo log. Answers how many changes were failed and
    /// the replies of the batch that committed.
    pub fn fail_at_every_change(
        &mut self,
        batch: impl Fn() -> Vec<Envelope>,
        now: UnixMillis,
    ) -> Result<(usize, Vec<Reply>), String> {
        for failed in 0.. {
            let before = self.state.clone();
            self.faults.fail_persist(failed);
            let applied = BatchWriter::apply(self, batch(), now);
            if self.faults.pending() {
                // The batch has fewer changes than that: it committed whole.
                self.faults.clear();
                let replies = applied.map_err(|e| format!("the batch without a fault: {e}"))?;
                return Ok((failed, replies));
            }
            if applied.is_ok() {
                return Err(format!(
                    "the fault at change {failed} did not fail the batch"
                ));
            }
            if self.state != before {
                return Err(format!(
                    "the batch failing at change {failed} left something behind"
                ));
            }
        }
        unreachable!("a batch has fewer than usize::MAX changes")
    }

    /// A crash and a restart: what was committed stays, what the writer kept in memory goes.
    pub fn restart(&mut self) {
        self.cache = Tenants::default();
    }

    /// The pools the last committed batch wrote, as the writer keeps them for the next batch
    /// (`None` where it keeps none): each must be what was committed (the simulation's check
    /// after every batch; [`MemoryStore::cached_pools`] is the whole of it).
    pub fn cached_pools_written_last(
        &self,
    ) -> impl Iterator<Item = (&TenantId, &PoolId, Option<&PoolRecord>)> {
        self.written_last.iter().map(|(tenant, id)| {
            let cached = self.cache.get(tenant).and_then(|pools| pools.rows.get(id));
            (tenant, id, cached)
        })
    }

    /// The pools the writer keeps between batches, as it would decide from them: each must be
    /// what is committed (a check for the simulation).
    pub fn cached_pools(&self) -> impl Iterator<Item = (&TenantId, &PoolRecord)> {
        self.cache
            .iter()
            .flat_map(|(tenant, pools)| pools.rows.values().map(move |row| (tenant, row)))
    }
}

impl BatchWriter for MemoryStore {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        let mut tenants = std::mem::take(&mut self.cache);
        let expire_first = self.state.next_deadline().is_some_and(|due| due <= now);
        let mut port = MemoryBatch::new(&mut self.state, &mut self.faults);
        match allot_engine::batch::apply(&mut port, &mut tenants, batch, now, expire_first) {
            Ok(replies) => {
                self.written_last = port.written_pools();
                tenants.retain(|_, pools| !pools.set.is_empty());
                tenants
                    .values_mut()
                    .for_each(allot_engine::working::TenantPools::end_batch);
                self.cache = tenants;
                Ok(replies)
            }
            Err(error) => {
                // Nothing of the batch stays: neither its changes nor the pools it loaded.
                port.roll_back();
                Err(error.into())
            }
        }
    }
}

impl MemoryState {
    /// A pool as the API shows it as of `now`: its figures — holds past their deadline that no
    /// batch has expired yet counted as expired, as every store's reads count them — and what a
    /// new hold could get from it through its ancestors.
    pub fn pool_view(&self, tenant: &TenantId, id: &PoolId, now: UnixMillis) -> Option<PoolView> {
        self.pool_views(tenant, now).view(&id.0).ok().flatten()
    }

    /// The tenant's pools as shown as of `now`, by the rule every store's reads use.
    fn pool_views<'s>(
        &'s self,
        tenant: &'s TenantId,
        now: UnixMillis,
    ) -> PoolViews<MemoryRows<'s>> {
        let rows = MemoryRows {
            state: self,
            tenant,
            now,
        };
        PoolViews::new(rows, true).expect("the in-memory store reads without failing")
    }

    /// Everything the state shows, as of `now`.
    pub fn observe(&self, now: UnixMillis) -> Observed {
        let mut views: BTreeMap<&TenantId, PoolViews<MemoryRows<'_>>> = BTreeMap::new();
        let mut pools = Vec::with_capacity(self.pools.len());
        for (tenant, id) in self.pools.keys() {
            let tenant_views = views
                .entry(tenant)
                .or_insert_with(|| self.pool_views(tenant, now));
            if let Ok(Some(view)) = tenant_views.view(&id.0) {
                pools.push((tenant.clone(), view));
            }
        }
        Observed {
            pools,
            holds: self
                .holds
                .iter()
                .map(|((tenant, _), hold)| (tenant.clone(), hold.view(now)))
                .collect(),
            ledger: self.ledger.clone(),
            plans: self
                .plans
                .keys()
                .filter_map(|(tenant, id)| Some((tenant.clone(), self.plan(tenant, id)?)))
                .collect(),
            members: self
                .members
                .iter()
                .map(|((tenant, plan_id, subject), pool)| Member {
                    tenant: tenant.clone(),
                    plan_id: plan_id.clone(),
                    subject: subject.clone(),
                    pool_id: pool.0.clone(),
                })
                .collect(),
            jobs: self
                .jobs
                .iter()
                .map(|((tenant, _), job)| (tenant.clone(), job.clone()))
                .collect(),
            job_items: self
                .job_items
                .iter()
                .map(|((tenant, job, _), (item, _))| (tenant.clone(), job.clone(), item.clone()))
                .collect(),
            attendees: self
                .tickets
                .attendees
                .keys()
                .filter_map(|(tenant, id)| {
                    Some((tenant.clone(), self.tickets.attendee(tenant, id)?))
                })
                .collect(),
            tickets: self
                .tickets
                .tickets
                .iter()
                .map(|((tenant, _), stored)| (tenant.clone(), stored.view.clone()))
                .collect(),
            events: by_tenant(self.events.iter().cloned()),
            alerts: by_tenant(self.outbox.alert_views()),
            webhooks: self.outbox.webhook_views(),
            deliveries: self.outbox.delivery_views(),
        }
    }
}

/// Items grouped by tenant, each tenant's in the order given.
fn by_tenant<T>(items: impl Iterator<Item = (TenantId, T)>) -> Vec<(TenantId, T)> {
    let mut items: Vec<_> = items.collect();
    items.sort_by(|(a, _), (b, _)| a.cmp(b));
    items
}

/// Puts back what a change replaced: the old value, or nothing where there was none.
fn restore<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, old: Option<V>) {
    match old {
        Some(old) => map.insert(key, old),
        None => map.remove(&key),
    };
}

fn queue_key(entry: &EntryRecord) -> QueueKey {
    QueueKey {
        priority: entry.priority,
        seq: entry.seq,
    }
}

/// The in-memory store's pools for [`PoolViews`]: one tenant's, as of `now`.
struct MemoryRows<'s> {
    state: &'s MemoryState,
    tenant: &'s TenantId,
    now: UnixMillis,
}

impl PoolRows for MemoryRows<'_> {
    type Error = allot_engine::Error;

    fn pool_row(&mut self, id: &str) -> Result<Option<PoolRecord>, Self::Error> {
        let key = (self.tenant.clone(), PoolId(id.to_owned()));
        Ok(self.state.pools.get(&key).cloned())
    }

    fn due_lines(&mut self) -> Result<Vec<HoldLineView>, Self::Error> {
        let now = self.now;
        Ok(self
            .state
            .held_by_deadline
            .iter()
            .take_while(|(deadline, _, _)| *deadline <= now)
            .filter(|(_, tenant, _)| tenant == self.tenant)
            .filter_map(|(_, tenant, id)| self.state.holds.get(&(tenant.clone(), id.clone())))
            .flat_map(|hold| hold.lines.iter().cloned())
            .collect())
    }
}
