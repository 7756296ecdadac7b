//! The working set of a batch: each tenant's pools as the batch sees them — loaded through a
//! [`LoadPools`] with their ancestors, or kept from earlier batches by a store that may — with
//! what the batch has changed (dirty, reconfigured, freed) and each pool's figures before the
//! batch (the baseline alerts compare against).
//!
//! The rules of a pool's use live here once: a session takes no holds itself (its dates do), a
//! date that is over in its zone takes no new use, a date's instance is made on first use with
//! the session's figures.

use crate::Error;
use crate::change::{Change, LedgerChange, PoolCounters, PoolUse};
use crate::command::Failure;
use crate::model::{LedgerKind, PoolView, TenantId};
use crate::port::{LoadPools, Port};
use crate::records::PoolRecord;
use allot_core::{DateError, Pool, PoolId, PoolSet, Refusal, SessionDate, SessionZone, UnixMillis};
use std::collections::BTreeSet;
// Ids are looked up many times per command in the working set: a fast hash, not SipHash.
use foldhash::{HashMap, HashSet};

/// One ledger entry to append, borrowing what the batch already holds: a change to a pool's
/// counters or capacity.
pub struct NewLedgerEntry<'a> {
    pub tenant: &'a TenantId,
    pub pool_id: &'a PoolId,
    pub hold_id: Option<&'a str>,
    pub kind: LedgerKind,
    pub held_delta: i64,
    pub committed_delta: i64,
    pub capacity_after: i64,
    pub actor: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub at: UnixMillis,
}

impl From<NewLedgerEntry<'_>> for LedgerChange {
    fn from(entry: NewLedgerEntry<'_>) -> Self {
        LedgerChange {
            tenant: entry.tenant.clone(),
            pool_id: entry.pool_id.clone(),
            hold_id: entry.hold_id.map(str::to_owned),
            kind: entry.kind,
            held_delta: entry.held_delta,
            committed_delta: entry.committed_delta,
            capacity_after: entry.capacity_after,
            actor: entry.actor.map(str::to_owned),
            reason: entry.reason.map(str::to_owned),
            at: entry.at,
        }
    }
}

/// Every tenant's pools in the batch.
pub type Tenants = HashMap<TenantId, TenantPools>;

/// One tenant's pools in the batch. A free function, not a method, so that callers can hold it
/// and other parts of the batch at once.
pub fn tenant_pools<'w>(tenants: &'w mut Tenants, tenant: &TenantId) -> &'w mut TenantPools {
    tenants.entry(tenant.clone()).or_default()
}

/// One tenant's pools: those this batch has touched, and those earlier batches left in the
/// writer's cache, exactly as committed.
#[derive(Default)]
pub struct TenantPools {
    /// The live figures of each pool.
    pub set: PoolSet,
    /// What only the API shows. `core` in a row is the pool as last written (loaded, or flushed
    /// by an earlier batch): the live figures are in `set`.
    pub rows: HashMap<PoolId, PoolRecord>,
    /// Ids looked up and not found for this tenant, so a batch of bad ids costs one query each.
    pub missing: HashSet<PoolId>,
    pub dirty: HashSet<PoolId>,
    /// Dirty pools whose settings (name, price, metadata, thresholds, waiting-list settings)
    /// changed, to be written whole; limits and active are compared with `row.core` instead.
    pub reconfigured: HashSet<PoolId>,
    /// Pools whose headroom may have grown (with everything below them) since promotion last
    /// ran: their waiting entries are served next.
    pub freed: BTreeSet<PoolId>,
    /// Each pool's use, capacity and waiting count when the batch first loaded it: alerts fire
    /// on what the batch changed.
    pub baseline: HashMap<PoolId, Baseline>,
}

/// A pool's figures before this batch changed it.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    pub used: i64,
    pub capacity: i64,
    pub waiting: i64,
}

impl Baseline {
    pub fn of(pool: &Pool, row: &PoolRecord) -> Self {
        Baseline {
            used: pool.used(),
            capacity: pool.limits.capacity.get(),
            waiting: row.waiting,
        }
    }
}

impl TenantPools {
    /// Forgets what only one batch needs, keeping the pools as committed for the next.
    pub fn end_batch(&mut self) {
        self.missing.clear();
        self.dirty.clear();
        self.reconfigured.clear();
        self.freed.clear();
        self.baseline.clear();
    }

    /// Brings each changed pool's row up to its live figures and states the write that makes
    /// the store say the same: the pool's counters, or the whole pool when its settings changed
    /// (marked `reconfigured`, or limits or active differing from those last written). After
    /// this the rows say what the store says, and the next batch may start from them.
    pub fn settle_dirty(&mut self, tenant: &TenantId, now: UnixMillis) -> Vec<Change> {
        let mut writes = Vec::with_capacity(self.dirty.len());
        for id in &self.dirty {
            let pool = self
                .set
                .get(id)
                .expect("a dirty pool is in the working set");
            let row = self.rows.get_mut(id).expect("a dirty pool has its row");
            let whole = self.reconfigured.contains(id)
                || pool.limits != row.core.limits
                || pool.active != row.core.active;
            let from = PoolUse::of(&row.core);
            row.core.held = pool.held;
            row.core.committed = pool.committed;
            row.core.limits = pool.limits;
            row.core.active = pool.active;
            row.updated_at = UnixMillis(now.0.max(row.updated_at.0));
            writes.push(if whole {
                Change::PoolRewritten {
                    tenant: tenant.clone(),
                    from,
                    pool: Box::new(row.clone()),
                }
            } else {
                Change::PoolCounters {
                    tenant: tenant.clone(),
                    pool_id: id.clone(),
                    from,
                    to: PoolCounters::of(row),
                }
            });
        }
        writes
    }

    /// Loads a pool and its ancestors into the working set. `false` when the pool does not exist
    /// for this tenant (another tenant's id included).
    pub fn load_chain(
        &mut self,
        port: &mut dyn LoadPools,
        tenant: &TenantId,
        id: &PoolId,
    ) -> Result<bool, Error> {
        let mut next = Some(id.clone());
        let mut depth = 0;
        while let Some(id) = next {
            depth += 1;
            if depth > allot_core::MAX_POOL_DEPTH {
                return Err(Error::Corrupt(format!("pool {id} is nested too deep")));
            }
            if let Some(pool) = self.set.get(&id) {
                next = pool.parent_id.clone();
                if !self.baseline.contains_key(&id) {
                    // First touched in this batch, cached by an earlier one.
                    let baseline = Baseline::of(pool, &self.rows[&id]);
                    self.baseline.insert(id, baseline);
                }
                continue;
            }
            if self.missing.contains(&id) {
                return Ok(false);
            }
            match port.pool(tenant, &id)? {
                Some(row) => {
                    next = row.core.parent_id.clone();
                    self.baseline
                        .insert(id.clone(), Baseline::of(&row.core, &row));
                    self.set.insert(row.core.clone());
                    self.rows.insert(id, row);
                }
                None if depth == 1 => {
                    self.missing.insert(id);
                    return Ok(false);
                }
                None => {
                    return Err(Error::Corrupt(format!("pool {id} has a missing ancestor")));
                }
            }
        }
        Ok(true)
    }

    /// Loads a pool for a new use — a hold, a waiting-list entry, a change of capacity — making a
    /// session's date on its first use. A session itself takes no holds (its dates do), and a
    /// date in the past takes no new use. `Ok(Err(_))` says why the pool cannot be used.
    pub fn load_for_use<P: Port>(
        &mut self,
        port: &mut P,
        tenant: &TenantId,
        id: &PoolId,
        now: UnixMillis,
    ) -> Result<Result<(), Failure>, Error> {
        if !self.load_chain(port, tenant, id)? {
            let Some((session, date)) = SessionDate::split_instance_id(id) else {
                return Ok(Err(Refusal::UnknownPool(id.clone()).into()));
            };
            if !self.load_chain(port, tenant, &session)? {
                return Ok(Err(Refusal::UnknownPool(id.clone()).into()));
            }
            if !self.rows[&session].per_date {
                return Ok(Err(Failure::Invalid {
                    field: "date".to_owned(),
                    message: format!("pool {session} is not a session with dates (per_date)"),
                }));
            }
            let zone = self.rows[&session].zone();
            if date.is_past_in(now, &zone) {
                return Ok(Err(past_date(&zone)));
            }
            let live = self.set.get(&session).expect("loaded above");
            let row = PoolRecord::instance_of(&self.rows[&session], live, date, now);
            port.persist(Change::NewPool {
                tenant: tenant.clone(),
                pool: Box::new(row.clone()),
            })?;
            port.persist(Change::Ledger(LedgerChange {
                tenant: tenant.clone(),
                pool_id: id.clone(),
                hold_id: None,
                kind: LedgerKind::Adjust,
                held_delta: 0,
                committed_delta: 0,
                capacity_after: row.core.limits.capacity.get(),
                actor: None,
                reason: Some("date first used".to_owned()),
                at: now,
            }))?;
            self.missing.remove(id);
            self.baseline
                .insert(id.clone(), Baseline::of(&row.core, &row));
            self.set.insert(row.core.clone());
            self.rows.insert(id.clone(), row);
        }
        let row = &self.rows[id];
        if row.per_date {
            return Ok(Err(Failure::Invalid {
                field: "date".to_owned(),
                message: format!("pool {id} is a session that serves many dates: give a date"),
            }));
        }
        if row.date_is_over(now) {
            return Ok(Err(past_date(&row.zone())));
        }
        Ok(Ok(()))
    }

    /// After a change that lowered use or waiting, or raised capacity, in `id`'s chain: the
    /// baseline alerts compare against follows it down, so a later rise in the same batch (an
    /// expiry, then a new hold) is seen as the crossing it is.
    pub fn lower_baseline(&mut self, id: &PoolId) {
        let Some(chain) = self.set.chain(id) else {
            return;
        };
        for pool in chain {
            let waiting = self.rows.get(&pool.id).map_or(0, |row| row.waiting);
            if let Some(base) = self.baseline.get_mut(&pool.id) {
                base.used = base.used.min(pool.used());
                base.capacity = base.capacity.max(pool.limits.capacity.get());
                base.waiting = base.waiting.min(waiting);
            }
        }
    }

    /// Adds `delta` waiting entries to `id`, and to the rolled-up count of it and its ancestors.
    pub fn add_waiting(&mut self, id: &PoolId, delta: i64) {
        let chain: Vec<PoolId> = self
            .set
            .chain(id)
            .expect("chains are loaded before their waiting lists change")
            .iter()
            .map(|pool| pool.id.clone())
            .collect();
        for (depth, pool) in chain.iter().enumerate() {
            let row = self.rows.get_mut(pool).expect("a loaded pool has its row");
            if depth == 0 {
                row.waiting += delta;
            }
            row.waiting_below += delta;
            self.dirty.insert(pool.clone());
        }
        if delta < 0 {
            self.lower_baseline(id);
        }
    }

    /// The topmost ancestor of `id`: a change that frees capacity in a pool frees it for every
    /// pool that shares an ancestor with it, so promotion looks below the root.
    pub fn root_of(&self, id: &PoolId) -> PoolId {
        self.set
            .chain(id)
            .and_then(|chain| chain.last().map(|pool| pool.id.clone()))
            .unwrap_or_else(|| id.clone())
    }

    pub fn mark_chain_dirty(&mut self, id: &PoolId) {
        let chain: Vec<PoolId> = self
            .set
            .chain(id)
            .expect("chains are loaded before they change")
            .iter()
            .map(|pool| pool.id.clone())
            .collect();
        self.dirty.extend(chain);
    }

    pub fn view(&self, id: &PoolId) -> PoolView {
        let pool = self.set.get(id).expect("a viewed pool is loaded");
        let available = self
            .set
            .available(id)
            .expect("a viewed pool's chain is loaded");
        self.rows[id].view(pool, available)
    }
}

pub fn past_date(zone: &SessionZone) -> Failure {
    Failure::Invalid {
        field: "date".to_owned(),
        message: DateError::OverIn {
            zone: zone.name().to_owned(),
        }
        .to_string(),
    }
}
