//! The writer: one transaction per batch. Due holds expire first, so a lapsed hold never blocks
//! anyone; then each command is decided by the core in arrival order against the pools in
//! memory (kept between batches while no one else writes the file); rows and idempotency records
//! are written as each command is decided — new holds and ledger entries many rows per statement
//! (`appends`) — and the changed pools' counters, which the engine states last, many pools per
//! statement once the engine is done. One commit answers the batch.

mod appends;
mod port;
mod tickets;

use super::ledger_runs::{PendingRuns, RUNS_THROUGH, RunLimits};
use super::outbox::Outbox;
use crate::command::*;
use crate::ids::Ids;
use crate::model::*;
use crate::{BatchWriter, StoreError};
use allot_core::{PoolId, UnixMillis};
use allot_engine::batch;
use allot_engine::change::PoolCounters;
pub(super) use allot_engine::working::TenantPools;
pub(super) use appends::Appends;
pub(super) use port::SqlitePort;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
// Ids are looked up many times per command in the working set: a fast hash, not SipHash.
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub struct SqliteWriter {
    conn: Connection,
    /// Shared with the readers: the earliest deadline of any held hold after the last commit.
    next_due: Arc<AtomicI64>,
    /// The pools the last committed batches loaded, as committed: the next batch starts from
    /// them instead of reading each pool again. Taken out for a batch and put back only after
    /// its commit, so a batch that fails or panics leaves no cache behind.
    cache: Option<PoolCache>,
    /// Ledger entries not yet in their pool's run, likewise taken out for a batch and put back
    /// after its commit; read back from the database when missing or stale.
    runs: Option<PendingRuns>,
    run_limits: RunLimits,
    ids: Ids,
    /// What committed batches did besides answering, until the server takes it.
    tally: BatchTally,
}

/// Pools as this connection last committed them, valid while no other connection has written.
struct PoolCache {
    tenants: HashMap<TenantId, TenantPools>,
    /// `PRAGMA data_version` when the cache was filled: SQLite changes it when another
    /// connection (another process on the same file) commits, and then the cache is dropped.
    data_version: i64,
}

/// Pools kept between batches, at most; past it the cache starts afresh (a rare, cheap reset).
const MAX_CACHED_POOLS: usize = 100_000;

impl SqliteWriter {
    pub(super) fn new(conn: Connection, next_due: Arc<AtomicI64>) -> Self {
        SqliteWriter {
            conn,
            next_due,
            cache: None,
            runs: None,
            run_limits: RunLimits::default(),
            ids: Ids::TimeOrdered,
            tally: BatchTally::default(),
        }
    }

    /// Ids that count up instead of UUIDs, so the same commands make the same ids as in the
    /// in-memory store (a test that compares the two).
    #[doc(hidden)]
    pub fn with_sequential_ids_for_tests(mut self) -> Self {
        self.ids = Ids::sequential();
        self
    }

    /// Small runs and a short tail, so tests reach both without writing 65,536 entries.
    #[doc(hidden)]
    pub fn with_run_limits_for_tests(mut self, run_entries: usize, tail_entries: i64) -> Self {
        self.run_limits = RunLimits {
            run_entries,
            tail_entries,
            ..RunLimits::default()
        };
        self.runs = None;
        self
    }
}

impl BatchWriter for SqliteWriter {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        // IMMEDIATE takes the write lock up front: nothing can slip in between our reads and writes.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let data_version: i64 = tx.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        let cached = match self.cache.take() {
            Some(cache) if cache.data_version == data_version => cache.tenants,
            _ => HashMap::new(),
        };
        let runs = match self.runs.take() {
            Some(runs) if runs.data_version == data_version => runs,
            _ => PendingRuns::load(&tx, self.run_limits, data_version)?,
        };
        let ids = std::mem::replace(&mut self.ids, Ids::TimeOrdered);
        let mut work = Working::load(&tx, runs, ids.clone(), now)?;
        let mut tenants = cached;
        // Before the earliest deadline nothing can be due: skip the probe (the common case).
        let expire_first = now.0 >= self.next_due.load(Ordering::Acquire);
        let mut port = work.port(&tx);
        let replies = batch::apply(&mut port, &mut tenants, batch, now, expire_first)
            .map_err(StoreError::from)
            .and_then(|replies| {
                work.flush(&tx)?;
                Ok(replies)
            });
        // Ids made by a batch that failed are not made again: harmless, and simpler.
        self.ids = match replies {
            Ok(_) => work.ids.clone(),
            Err(_) => ids,
        };
        let replies = replies?;
        let next_due: Option<i64> = tx
            .prepare_cached("SELECT MIN(expires_at) FROM holds WHERE status = 'held'")?
            .query_row([], |row| row.get(0))?;
        tx.commit()?;
        let mut tally = std::mem::take(&mut work.outbox.tally);
        tally.holds_expired += work.appends.holds_expired;
        self.tally.add(tally);
        self.runs = Some(work.appends.into_runs());
        // A tenant whose commands touched no pool (keys, webhooks, bad ids) keeps no entry.
        tenants.retain(|_, pools| !pools.set.is_empty());
        let cached: usize = tenants.values().map(|pools| pools.set.len()).sum();
        if cached <= MAX_CACHED_POOLS {
            tenants.values_mut().for_each(TenantPools::end_batch);
            self.cache = Some(PoolCache {
                tenants,
                data_version,
            });
        }
        // Published after the commit, so for a moment readers may see new holds with the old
        // hint. That is safe: a new or extended deadline is at least 1 s (the shortest TTL) after
        // the batch's `now`, and this store happens microseconds after the commit, so no reader
        // can reach that deadline while still holding the old hint.
        self.next_due
            .store(next_due.unwrap_or(i64::MAX), Ordering::Release);
        Ok(replies)
    }

    fn take_tally(&mut self) -> BatchTally {
        std::mem::take(&mut self.tally)
    }
}

pub(super) struct Working {
    /// New holds and ledger entries, written many rows per statement.
    pub(super) appends: Appends,
    /// The last waiting-list arrival number used, saved with the batch.
    pub(super) waitlist_seq: i64,
    pub(super) outbox: Outbox,
    /// The counters of pools whose settings the batch did not change, written together last.
    pub(super) pool_counters: Vec<(PoolId, PoolCounters)>,
    /// How the engine names what it creates (lent by the writer for the batch).
    pub(super) ids: Ids,
}

impl Working {
    /// The engine's port over this batch's transaction.
    pub(super) fn port<'a, 't>(&'a mut self, tx: &'a Transaction<'t>) -> SqlitePort<'a, 't> {
        SqlitePort {
            tx,
            appends: &mut self.appends,
            ids: &mut self.ids,
            waitlist_seq: &mut self.waitlist_seq,
            outbox: &mut self.outbox,
            pool_counters: &mut self.pool_counters,
        }
    }

    /// Starts a batch from the pools cached by earlier ones (empty when there are none).
    fn load(
        tx: &Transaction<'_>,
        runs: PendingRuns,
        ids: Ids,
        now: UnixMillis,
    ) -> Result<Working, StoreError> {
        let mut meta = tx.prepare_cached("SELECT value FROM allot_meta WHERE name = ?1")?;
        let mut counter = |name: &str| -> Result<i64, StoreError> {
            Ok(meta.query_row([name], |row| row.get(0))?)
        };
        Ok(Working {
            appends: Appends::new(counter("ledger_seq")?, runs, now),
            waitlist_seq: counter("waitlist_seq")?,
            outbox: Outbox::new(counter("event_seq")?, counter("alert_seq")?),
            pool_counters: Vec::new(),
            ids,
        })
    }

    /// Writes what the batch gathered to write together: its new holds and ledger entries, the
    /// sequence numbers it used, and the counters of the pools it used.
    fn flush(&mut self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        self.appends.write(tx)?;
        let mut meta = tx.prepare_cached("UPDATE allot_meta SET value = ?2 WHERE name = ?1")?;
        meta.execute(params!["ledger_seq", self.appends.ledger_seq])?;
        meta.execute(params![RUNS_THROUGH, self.appends.runs_through()])?;
        meta.execute(params!["waitlist_seq", self.waitlist_seq])?;
        meta.execute(params!["event_seq", self.outbox.event_seq])?;
        meta.execute(params!["alert_seq", self.outbox.alert_seq])?;
        drop(meta);
        write_counters(tx, &self.pool_counters)
    }
}

/// Pools whose counters are written per UPDATE statement: SQLite spends much of a one-row
/// UPDATE starting and finishing the statement (as with `appends`).
const POOLS_PER_UPDATE: usize = 32;

/// `UPDATE pools … FROM (VALUES …)` for [`POOLS_PER_UPDATE`] pools. OR FAIL, as in `appends`:
/// a statement that changes many rows and may abort needs a statement journal (a copy of each
/// page it touches, 12% of a spread batch); one that fails instead keeps its earlier rows, and
/// the error fails the whole batch, whose transaction is rolled back anyway.
static COUNTERS_OF_MANY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?)"; POOLS_PER_UPDATE].join(", ");
    format!(
        "UPDATE OR FAIL pools SET held = v.column2, committed = v.column3, waiting = v.column4,
             waiting_below = v.column5, alert_marks = v.column6, updated_at = v.column7
         FROM (VALUES {values}) AS v WHERE pools.id = v.column1"
    )
});

/// The same for one pool.
const COUNTERS_OF_ONE: &str = "UPDATE pools SET held = ?2, committed = ?3, waiting = ?4,
     waiting_below = ?5, alert_marks = ?6, updated_at = ?7
 WHERE id = ?1";

/// Writes pools' counters (pools whose settings did not change), many pools per statement.
fn write_counters(
    tx: &Transaction<'_>,
    pools: &[(PoolId, PoolCounters)],
) -> Result<(), StoreError> {
    let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(7 * POOLS_PER_UPDATE);
    let full = pools.chunks_exact(POOLS_PER_UPDATE);
    let rest = full.remainder().chunks(1);
    for chunk in full.chain(rest) {
        values.clear();
        for (id, counters) in chunk {
            values.extend([
                &id.0 as &dyn rusqlite::ToSql,
                &counters.held,
                &counters.committed,
                &counters.waiting,
                &counters.waiting_below,
                &counters.alert_marks,
                &counters.updated_at.0,
            ]);
        }
        let sql = if chunk.len() == POOLS_PER_UPDATE {
            COUNTERS_OF_MANY.as_str()
        } else {
            COUNTERS_OF_ONE
        };
        tx.prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(values.iter()))?;
    }
    Ok(())
}
