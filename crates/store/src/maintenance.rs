//! What an operator runs against a store beside the server: the audit behind `allot verify` and
//! the consistent copy behind `allot backup`. Both may run while a server writes.

use crate::StoreError;
use allot_core::audit::{Counters, counters_from_holds, counters_from_ledger};
use allot_core::{HoldStatus, PoolId};
use std::collections::HashMap;
use std::path::Path;

/// The operator's tools on one store, obtained with [`crate::open_for_maintenance`].
pub trait Maintenance {
    /// Recomputes every pool's counters from the ledger and from the live holds, checks the
    /// ledger runs and the waiting lists, and reports every disagreement with what is stored.
    fn verify(&self) -> Result<VerifyReport, StoreError>;

    /// Writes one consistent snapshot of the store to `dest`, a file that must not exist yet,
    /// and checks it before answering.
    fn backup_to(&self, dest: &Path) -> Result<BackupReport, StoreError>;
}

/// One disagreement between what is stored and what was recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub pool_id: String,
    /// Which fact disagrees: `held`, `committed` or `capacity`, and against which source.
    pub what: String,
    pub stored: i64,
    pub recomputed: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub pools: usize,
    pub ledger_entries: i64,
    pub live_holds: usize,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The copy's size in bytes.
    pub bytes: u64,
    /// Its schema version.
    pub schema_version: i64,
}

/// A pool as stored, for the audit.
#[derive(Debug, Clone)]
pub struct AuditedPool {
    pub parent: Option<PoolId>,
    pub held: i64,
    pub committed: i64,
    pub capacity: i64,
    pub waiting: i64,
    pub waiting_below: i64,
}

/// What a store reads for the audit, in one snapshot; [`audit`] compares it. Every store
/// gathers the same facts in its own SQL and gets the same verdict from the same rules.
#[derive(Debug, Default)]
pub struct AuditFacts {
    pub pools: HashMap<PoolId, AuditedPool>,
    /// Each pool's own ledger deltas summed (held, committed), before rolling up.
    pub ledger_sums: Vec<(PoolId, i64, i64)>,
    /// Each pool's capacity after its latest `adjust` entry.
    pub last_capacity: HashMap<PoolId, i64>,
    pub ledger_entries: i64,
    /// Every line of every held or confirmed hold.
    pub live_lines: Vec<(PoolId, i64, HoldStatus)>,
    pub live_holds: usize,
    /// How many entries wait on each pool itself.
    pub waiting: Vec<(PoolId, i64)>,
    /// Waiting-list entries with more than one hold made for them, and how many.
    pub served_twice: Vec<(String, i64)>,
}

/// Every pool's counters recomputed from the ledger and from the live holds and compared with
/// what is stored, its capacity with its ledger's last adjustment, its waiting counts with the
/// entries; and no entry served twice.
pub fn audit(facts: AuditFacts) -> Result<VerifyReport, StoreError> {
    let parents: HashMap<PoolId, Option<PoolId>> = facts
        .pools
        .iter()
        .map(|(id, pool)| (id.clone(), pool.parent.clone()))
        .collect();
    let from_ledger = counters_from_ledger(facts.ledger_sums, &parents);
    let from_holds = counters_from_holds(facts.live_lines, &parents);
    let mut own: HashMap<PoolId, i64> = HashMap::new();
    let mut below: HashMap<PoolId, i64> = HashMap::new();
    for (pool, count) in facts.waiting {
        own.insert(pool.clone(), count);
        let mut next = Some(pool);
        let mut depth = 0;
        while let Some(id) = next {
            depth += 1;
            if depth > allot_core::MAX_POOL_DEPTH {
                return Err(StoreError::corrupt(format!("pool {id} is nested too deep")));
            }
            *below.entry(id.clone()).or_default() += count;
            next = parents.get(&id).cloned().flatten();
        }
    }
    let mut mismatches = Vec::new();
    let mut mismatch = |pool_id: &PoolId, what: &str, stored: i64, recomputed: i64| {
        if stored != recomputed {
            mismatches.push(Mismatch {
                pool_id: pool_id.0.clone(),
                what: what.to_owned(),
                stored,
                recomputed,
            });
        }
    };
    let mut ids: Vec<&PoolId> = facts.pools.keys().collect();
    ids.sort();
    for id in ids {
        let pool = &facts.pools[id];
        for (source, recomputed) in [("ledger", &from_ledger), ("holds", &from_holds)] {
            let counters: Counters = recomputed.get(id).copied().unwrap_or_default();
            mismatch(
                id,
                &format!("held (from {source})"),
                pool.held,
                counters.held,
            );
            mismatch(
                id,
                &format!("committed (from {source})"),
                pool.committed,
                counters.committed,
            );
        }
        let capacity = facts.last_capacity.get(id).copied().unwrap_or(-1);
        mismatch(id, "capacity (from ledger)", pool.capacity, capacity);
        let counted = own.get(id).copied().unwrap_or(0);
        mismatch(id, "waiting (from entries)", pool.waiting, counted);
        let counted = below.get(id).copied().unwrap_or(0);
        mismatch(
            id,
            "waiting_below (from entries)",
            pool.waiting_below,
            counted,
        );
    }
    for (entry, holds) in facts.served_twice {
        mismatches.push(Mismatch {
            pool_id: entry,
            what: "waitlist entry served more than once (holds)".to_owned(),
            stored: holds,
            recomputed: 1,
        });
    }
    Ok(VerifyReport {
        pools: facts.pools.len(),
        ledger_entries: facts.ledger_entries,
        live_holds: facts.live_holds,
        mismatches,
    })
}
