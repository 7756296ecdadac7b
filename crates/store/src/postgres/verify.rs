//! `allot verify` on PostgreSQL: reads in one read-only, repeatable-read transaction what
//! [`crate::maintenance::audit`] compares — the pools, each pool's ledger sums and last
//! adjustment, the live holds, the waiting entries — so it may run while nodes write. A backup is
//! PostgreSQL's own (`pg_dump`), which this does not wrap.

use super::{PostgresUrl, connect};
use crate::StoreError;
use crate::maintenance::{AuditFacts, AuditedPool, BackupReport, Maintenance, VerifyReport, audit};
use allot_core::{HoldStatus, PoolId};
use postgres::IsolationLevel;
use std::path::Path;

/// The operator's tools on a PostgreSQL database.
pub struct PostgresMaintenance {
    url: PostgresUrl,
}

impl PostgresMaintenance {
    /// Answers once the database answers; never creates or migrates anything.
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        connect(url)?;
        Ok(PostgresMaintenance { url: url.clone() })
    }
}

impl Maintenance for PostgresMaintenance {
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut client = connect(&self.url)?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let present: bool = tx
            .query_one("SELECT to_regclass('pools') IS NOT NULL", &[])?
            .get(0);
        if !present {
            return Err(StoreError::InvalidInput(format!(
                "no allot database at {}: it has no pools table",
                self.url
            )));
        }
        let mut facts = AuditFacts::default();
        for row in tx.query(
            "SELECT id, parent_id, held, committed, capacity, waiting, waiting_below FROM pools",
            &[],
        )? {
            facts.pools.insert(
                PoolId(row.get(0)),
                AuditedPool {
                    parent: row.get::<_, Option<String>>(1).map(PoolId),
                    held: row.get(2),
                    committed: row.get(3),
                    capacity: row.get(4),
                    waiting: row.get(5),
                    waiting_below: row.get(6),
                },
            );
        }
        for row in tx.query(
            "SELECT pool_id, SUM(held_delta)::BIGINT, SUM(committed_delta)::BIGINT, COUNT(*)
             FROM ledger GROUP BY pool_id",
            &[],
        )? {
            facts
                .ledger_sums
                .push((PoolId(row.get(0)), row.get(1), row.get(2)));
            facts.ledger_entries += row.get::<_, i64>(3);
        }
        for row in tx.query(
            "SELECT DISTINCT ON (pool_id) pool_id, capacity_after FROM ledger
             WHERE kind = 'adjust' ORDER BY pool_id, seq DESC",
            &[],
        )? {
            facts.last_capacity.insert(PoolId(row.get(0)), row.get(1));
        }
        for row in tx.query(
            "SELECT status, lines FROM holds WHERE status IN ('held', 'confirmed')",
            &[],
        )? {
            let status: String = row.get(0);
            let status = HoldStatus::parse(&status)
                .ok_or_else(|| StoreError::corrupt("unknown hold status"))?;
            let lines: Vec<crate::HoldLineView> = serde_json::from_str(row.get(1))?;
            facts.live_holds += 1;
            facts.live_lines.extend(
                lines
                    .into_iter()
                    .map(|line| (PoolId(line.pool_id), line.quantity, status)),
            );
        }
        for row in tx.query(
            "SELECT pool_id, COUNT(*) FROM waitlist_entries WHERE status = 'waiting'
             GROUP BY pool_id",
            &[],
        )? {
            facts.waiting.push((PoolId(row.get(0)), row.get(1)));
        }
        for row in tx.query(
            "SELECT waitlist_entry_id, COUNT(*) FROM holds WHERE waitlist_entry_id IS NOT NULL
             GROUP BY waitlist_entry_id HAVING COUNT(*) > 1",
            &[],
        )? {
            facts.served_twice.push((row.get(0), row.get(1)));
        }
        tx.commit()?;
        audit(facts)
    }

    fn backup_to(&self, _dest: &Path) -> Result<BackupReport, StoreError> {
        Err(StoreError::InvalidInput(
            "allot backup copies SQLite databases; back up PostgreSQL with pg_dump \
             (see the README)"
                .into(),
        ))
    }
}
