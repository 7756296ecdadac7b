//! `allot verify`: recomputes every pool's counters two ways — by replaying the ledger and by
//! summing the live holds — and compares both with the stored counters and capacity; checks that
//! each pool's ledger runs list exactly its entries, and the waiting lists' counts.

use super::{Access, DATABASE_FILE, open_connection};
use crate::StoreError;
use crate::maintenance::{Mismatch, VerifyReport};
use allot_core::audit::{Counters, counters_from_holds, counters_from_ledger};
use allot_core::{HoldStatus, PoolId};
use std::collections::HashMap;
use std::path::Path;

struct StoredPool {
    parent: Option<PoolId>,
    counters: Counters,
    capacity: i64,
}

/// One pool's part of the ledger, as read in `(pool_id, seq)` order.
struct PoolLedger {
    id: String,
    held: i64,
    committed: i64,
    /// After its latest `adjust` entry.
    capacity: Option<i64>,
    entries: Vec<i64>,
}

impl PoolLedger {
    fn new(id: String) -> Self {
        PoolLedger {
            id,
            held: 0,
            committed: 0,
            capacity: None,
            entries: Vec::new(),
        }
    }
}

/// Verifies the database inside `data_dir`.
pub fn verify(data_dir: &Path) -> Result<VerifyReport, StoreError> {
    verify_file(&data_dir.join(DATABASE_FILE))
}

/// Verifies the database file at `path`, which must exist: an audit never creates one.
pub fn verify_file(path: &Path) -> Result<VerifyReport, StoreError> {
    super::require_database(path)?;
    let conn = open_connection(path, Access::Read)?;
    // One read transaction: every query below sees the same snapshot even if a server is writing.
    conn.execute_batch("BEGIN")?;

    let mut stored: HashMap<PoolId, StoredPool> = HashMap::new();
    let mut stmt = conn.prepare("SELECT id, parent_id, held, committed, capacity FROM pools")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        stored.insert(
            PoolId(row.get(0)?),
            StoredPool {
                parent: row.get::<_, Option<String>>(1)?.map(PoolId),
                counters: Counters {
                    held: row.get(2)?,
                    committed: row.get(3)?,
                },
                capacity: row.get(4)?,
            },
        );
    }
    let parents: HashMap<PoolId, Option<PoolId>> = stored
        .iter()
        .map(|(id, pool)| (id.clone(), pool.parent.clone()))
        .collect();

    // One pass over the ledger pool by pool: each pool's sums, its latest capacity, and its
    // entries against its runs. The sort may outgrow memory on a large ledger: let it spill.
    conn.pragma_update(None, "temp_store", "FILE")?;
    let mut ledger_entries = 0;
    let mut sums = Vec::new();
    let mut last_capacity = HashMap::new();
    let mut runs = super::ledger_runs::RunsCheck::new(&conn)?;
    let mut stmt = conn.prepare(
        "SELECT pool_id, seq, kind, held_delta, committed_delta, capacity_after
         FROM ledger ORDER BY pool_id, seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut finish = |pool: PoolLedger| -> Result<(), StoreError> {
        runs.pool(&pool.id, &pool.entries)?;
        if let Some(capacity) = pool.capacity {
            last_capacity.insert(PoolId(pool.id.clone()), capacity);
        }
        sums.push((PoolId(pool.id), pool.held, pool.committed));
        Ok(())
    };
    let mut current: Option<PoolLedger> = None;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        if let Some(done) = current.take_if(|pool| pool.id != id) {
            finish(done)?;
        }
        let pool = current.get_or_insert_with(|| PoolLedger::new(id));
        pool.entries.push(row.get(1)?);
        if row.get::<_, String>(2)? == "adjust" {
            pool.capacity = Some(row.get(5)?);
        }
        pool.held += row.get::<_, i64>(3)?;
        pool.committed += row.get::<_, i64>(4)?;
        ledger_entries += 1;
    }
    if let Some(done) = current {
        finish(done)?;
    }
    drop(rows);
    let from_ledger = counters_from_ledger(sums, &parents);
    let runs_mismatches = runs.finish()?;

    let mut live_lines = Vec::new();
    let mut live_holds = 0;
    let mut stmt =
        conn.prepare("SELECT status, lines FROM holds WHERE status IN ('held', 'confirmed')")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let status: String = row.get(0)?;
        let status = HoldStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt("unknown hold status".into()))?;
        let lines: String = row.get(1)?;
        let lines: Vec<crate::HoldLineView> = serde_json::from_str(&lines)?;
        live_holds += 1;
        live_lines.extend(
            lines
                .into_iter()
                .map(|line| (PoolId(line.pool_id), line.quantity, status)),
        );
    }
    let from_holds = counters_from_holds(live_lines, &parents);

    let mut mismatches = Vec::new();
    let mut ids: Vec<&PoolId> = stored.keys().collect();
    ids.sort();
    for id in ids {
        let pool = &stored[id];
        for (source, recomputed) in [("ledger", &from_ledger), ("holds", &from_holds)] {
            let counters = recomputed.get(id).copied().unwrap_or_default();
            for (what, stored_value, value) in [
                ("held", pool.counters.held, counters.held),
                ("committed", pool.counters.committed, counters.committed),
            ] {
                if stored_value != value {
                    mismatches.push(Mismatch {
                        pool_id: id.0.clone(),
                        what: format!("{what} (from {source})"),
                        stored: stored_value,
                        recomputed: value,
                    });
                }
            }
        }
        let capacity = last_capacity.get(id).copied().unwrap_or(-1);
        if capacity != pool.capacity {
            mismatches.push(Mismatch {
                pool_id: id.0.clone(),
                what: "capacity (from ledger)".into(),
                stored: pool.capacity,
                recomputed: capacity,
            });
        }
    }
    mismatches.extend(runs_mismatches);
    mismatches.extend(verify_waiting_lists(&conn, &parents)?);
    conn.execute_batch("COMMIT")?;
    Ok(VerifyReport {
        pools: stored.len(),
        ledger_entries,
        live_holds,
        mismatches,
    })
}

/// Waiting lists: each pool's `waiting` and rolled-up `waiting_below` counts against the entries
/// themselves, and no entry served twice (one hold per served entry, one entry per offer hold).
fn verify_waiting_lists(
    conn: &rusqlite::Connection,
    parents: &HashMap<PoolId, Option<PoolId>>,
) -> Result<Vec<Mismatch>, StoreError> {
    let mut stored: HashMap<PoolId, (i64, i64)> = HashMap::new();
    let mut stmt = conn.prepare("SELECT id, waiting, waiting_below FROM pools")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        stored.insert(PoolId(row.get(0)?), (row.get(1)?, row.get(2)?));
    }
    let mut own: HashMap<PoolId, i64> = HashMap::new();
    let mut below: HashMap<PoolId, i64> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT pool_id, COUNT(*) FROM waitlist_entries WHERE status = 'waiting' GROUP BY pool_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let pool = PoolId(row.get(0)?);
        let count: i64 = row.get(1)?;
        own.insert(pool.clone(), count);
        let mut next = Some(pool);
        let mut depth = 0;
        while let Some(id) = next {
            depth += 1;
            if depth > allot_core::MAX_POOL_DEPTH {
                return Err(StoreError::Corrupt(format!("pool {id} is nested too deep")));
            }
            *below.entry(id.clone()).or_default() += count;
            next = parents.get(&id).cloned().flatten();
        }
    }
    let mut mismatches = Vec::new();
    let mut ids: Vec<&PoolId> = stored.keys().collect();
    ids.sort();
    for id in ids {
        let (waiting, waiting_below) = stored[id];
        for (what, stored_value, counted) in [
            (
                "waiting (from entries)",
                waiting,
                own.get(id).copied().unwrap_or(0),
            ),
            (
                "waiting_below (from entries)",
                waiting_below,
                below.get(id).copied().unwrap_or(0),
            ),
        ] {
            if stored_value != counted {
                mismatches.push(Mismatch {
                    pool_id: id.0.clone(),
                    what: what.to_owned(),
                    stored: stored_value,
                    recomputed: counted,
                });
            }
        }
    }
    let mut stmt = conn.prepare(
        "SELECT waitlist_entry_id, COUNT(*) FROM holds WHERE waitlist_entry_id IS NOT NULL
         GROUP BY waitlist_entry_id HAVING COUNT(*) > 1",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        mismatches.push(Mismatch {
            pool_id: row.get(0)?,
            what: "waitlist entry served more than once (holds)".to_owned(),
            stored: row.get(1)?,
            recomputed: 1,
        });
    }
    Ok(mismatches)
}
