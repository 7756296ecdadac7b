//! `allot verify` on SQLite: reads in one snapshot what [`crate::maintenance::audit`] compares —
//! the pools, the ledger pool by pool, the live holds, the waiting entries — and checks the
//! ledger runs (SQLite's own index of each pool's entries) as it passes over the ledger.

use super::{Access, DATABASE_FILE, open_connection};
use crate::StoreError;
use crate::maintenance::{AuditFacts, AuditedPool, VerifyReport, audit};
use allot_core::{HoldStatus, PoolId};
use std::path::Path;

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

    let mut facts = AuditFacts::default();
    let mut stmt = conn.prepare(
        "SELECT id, parent_id, held, committed, capacity, waiting, waiting_below FROM pools",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        facts.pools.insert(
            PoolId(row.get(0)?),
            AuditedPool {
                parent: row.get::<_, Option<String>>(1)?.map(PoolId),
                held: row.get(2)?,
                committed: row.get(3)?,
                capacity: row.get(4)?,
                waiting: row.get(5)?,
                waiting_below: row.get(6)?,
            },
        );
    }
    drop(rows);
    drop(stmt);

    // One pass over the ledger pool by pool: each pool's sums, its latest capacity, and its
    // entries against its runs. The sort may outgrow memory on a large ledger: let it spill.
    conn.pragma_update(None, "temp_store", "FILE")?;
    let mut runs = super::ledger_runs::RunsCheck::new(&conn)?;
    let mut stmt = conn.prepare(
        "SELECT pool_id, seq, kind, held_delta, committed_delta, capacity_after
         FROM ledger ORDER BY pool_id, seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut finish = |pool: PoolLedger, facts: &mut AuditFacts| -> Result<(), StoreError> {
        runs.pool(&pool.id, &pool.entries)?;
        if let Some(capacity) = pool.capacity {
            facts
                .last_capacity
                .insert(PoolId(pool.id.clone()), capacity);
        }
        facts
            .ledger_sums
            .push((PoolId(pool.id), pool.held, pool.committed));
        Ok(())
    };
    let mut current: Option<PoolLedger> = None;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        if let Some(done) = current.take_if(|pool| pool.id != id) {
            finish(done, &mut facts)?;
        }
        let pool = current.get_or_insert_with(|| PoolLedger::new(id));
        pool.entries.push(row.get(1)?);
        if row.get::<_, String>(2)? == "adjust" {
            pool.capacity = Some(row.get(5)?);
        }
        pool.held += row.get::<_, i64>(3)?;
        pool.committed += row.get::<_, i64>(4)?;
        facts.ledger_entries += 1;
    }
    if let Some(done) = current {
        finish(done, &mut facts)?;
    }
    drop(rows);
    let runs_mismatches = runs.finish()?;

    let mut stmt =
        conn.prepare("SELECT status, lines FROM holds WHERE status IN ('held', 'confirmed')")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let status: String = row.get(0)?;
        let status = HoldStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt("unknown hold status".into()))?;
        let lines: String = row.get(1)?;
        let lines: Vec<crate::HoldLineView> = serde_json::from_str(&lines)?;
        facts.live_holds += 1;
        facts.live_lines.extend(
            lines
                .into_iter()
                .map(|line| (PoolId(line.pool_id), line.quantity, status)),
        );
    }
    drop(rows);
    let mut stmt = conn.prepare(
        "SELECT pool_id, COUNT(*) FROM waitlist_entries WHERE status = 'waiting' GROUP BY pool_id",
    )?;
    facts.waiting = stmt
        .query_map([], |row| Ok((PoolId(row.get(0)?), row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT waitlist_entry_id, COUNT(*) FROM holds WHERE waitlist_entry_id IS NOT NULL
         GROUP BY waitlist_entry_id HAVING COUNT(*) > 1",
    )?;
    facts.served_twice = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    conn.execute_batch("COMMIT")?;
    let mut report = audit(facts)?;
    report.mismatches.extend(runs_mismatches);
    Ok(report)
}
