//! Where each pool's ledger entries are.
//!
//! The ledger is kept in the order it was written (keyed by `seq`), so an entry is an append at
//! the end of one b-tree however many pools a batch spreads over. A pool's history is found
//! through `ledger_runs`: one row per *run*, the sequence numbers of a pool's entries written
//! since its previous run.
//!
//! Why runs and not an index on `(pool_id, seq)` (or a ledger clustered that way, as it was until
//! schema 6): either puts each new entry on its own pool's page, so a batch spread over thousands
//! of pools dirtied and wrote about one page per hold — 40% of the writer's time spread over
//! 10,000 pools (BENCHMARKS.md). The writer instead keeps each pool's newest entries in memory
//! ([`PendingRuns`]) and writes them as one run once the pool has [`RUN_ENTRIES`] of them, or once
//! the oldest is [`TAIL_ENTRIES`] entries old. So a run covers several entries of a busy pool,
//! and entries not in a run yet are all in the ledger's last [`TAIL_ENTRIES`] (and one batch):
//! every entry up to `allot_meta.ledger_runs_through` is in a run, and a pool's entries after its
//! last run are found by scanning the ledger from there — a bounded scan.
//!
//! The memory is a cache of what the database says: it is rebuilt from the ledger's tail when the
//! writer starts, after a batch fails, and when another connection has written the file.

use super::verify::Mismatch;
use crate::StoreError;
use allot_core::PoolId;
use foldhash::{HashMap, HashMapExt};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::VecDeque;

/// A pool's pending entries are written as a run once there are this many. Bounds a run's row
/// (about 8 bytes per entry, within one page) and the pending memory of a busy pool.
pub(super) const RUN_ENTRIES: usize = 100;

/// No entry stays out of a run once this many newer entries exist: what a history read scans
/// beyond the runs, and what the writer reads back when it starts.
pub(super) const TAIL_ENTRIES: i64 = 65_536;

/// The `allot_meta` counter: every ledger entry with `seq` at most this is in a run.
pub(super) const RUNS_THROUGH: &str = "ledger_runs_through";

/// How large runs may grow and how long entries may wait, fixed in production; small in tests.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunLimits {
    pub run_entries: usize,
    pub tail_entries: i64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            run_entries: RUN_ENTRIES,
            tail_entries: TAIL_ENTRIES,
        }
    }
}

/// A run ready to be written, as its row.
pub(super) struct NewRun {
    pub pool_id: PoolId,
    /// Its last (greatest) sequence number: the row's key after the pool.
    pub last_seq: i64,
    /// Its sequence numbers, ascending, as a JSON array: the table reads plainly in `sqlite3`.
    pub seqs_json: String,
}

impl NewRun {
    fn of(pool_id: PoolId, seqs: &[i64]) -> Self {
        NewRun {
            pool_id,
            last_seq: *seqs.last().expect("a run is never empty"),
            seqs_json: serde_json::to_string(seqs).expect("integers serialize"),
        }
    }
}

/// The ledger entries the writer has appended and not yet written into runs, per pool.
pub(super) struct PendingRuns {
    limits: RunLimits,
    /// Each pool's entries not yet in a run, ascending.
    by_pool: HashMap<PoolId, Vec<i64>>,
    /// `(first pending seq, pool)` in `seq` order: which pool's entries age out next. A pool
    /// written since (its pending list now starts later, or is gone) leaves a stale item, skipped.
    oldest: VecDeque<(i64, PoolId)>,
    /// Pools that reached `run_entries` since runs were last written.
    full: Vec<PoolId>,
    /// `PRAGMA data_version` when this was loaded: another connection's commit changes it.
    pub(super) data_version: i64,
}

impl PendingRuns {
    /// Reads back the entries not yet in a run: those after `ledger_runs_through` that are also
    /// after their pool's last run.
    pub(super) fn load(
        conn: &Connection,
        limits: RunLimits,
        data_version: i64,
    ) -> Result<Self, StoreError> {
        let mut pending = PendingRuns {
            limits,
            by_pool: HashMap::new(),
            oldest: VecDeque::new(),
            full: Vec::new(),
            data_version,
        };
        let through = runs_through(conn)?;
        let mut last_run: HashMap<PoolId, i64> = HashMap::new();
        let mut last_run_of = conn.prepare_cached(
            "SELECT COALESCE(MAX(last_seq), 0) FROM ledger_runs WHERE pool_id = ?1",
        )?;
        let mut tail =
            conn.prepare("SELECT seq, pool_id FROM ledger WHERE seq > ?1 ORDER BY seq")?;
        let mut rows = tail.query([through])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let pool = PoolId(row.get(1)?);
            let after = match last_run.get(&pool) {
                Some(after) => *after,
                None => {
                    let after: i64 = last_run_of.query_row([&pool.0], |row| row.get(0))?;
                    last_run.insert(pool.clone(), after);
                    after
                }
            };
            if seq > after {
                pending.add(pool, seq);
            }
        }
        Ok(pending)
    }

    /// Notes a ledger entry just appended (entries come in `seq` order).
    pub(super) fn add(&mut self, pool: PoolId, seq: i64) {
        let pending = match self.by_pool.get_mut(&pool) {
            Some(seqs) => {
                seqs.push(seq);
                seqs.len()
            }
            None => {
                self.oldest.push_back((seq, pool.clone()));
                self.by_pool.insert(pool.clone(), vec![seq]);
                1
            }
        };
        if pending == self.limits.run_entries {
            self.full.push(pool);
        }
    }

    /// The runs due once the ledger has reached `last_seq`: full pools, and pools whose oldest
    /// pending entry is `tail_entries` old. They leave the pending set.
    pub(super) fn take_due(&mut self, last_seq: i64) -> Vec<NewRun> {
        let mut due = std::mem::take(&mut self.full);
        let aged = last_seq - self.limits.tail_entries;
        while let Some((first, _)) = self.oldest.front() {
            if *first > aged {
                break;
            }
            let (first, pool) = self.oldest.pop_front().expect("just seen");
            if self.first_pending(&pool) == Some(first) {
                due.push(pool);
            }
        }
        due.into_iter()
            .filter_map(|pool| {
                let seqs = self.by_pool.remove(&pool)?;
                Some(NewRun::of(pool, &seqs))
            })
            .collect()
    }

    /// Every entry up to the returned `seq` is in a run (`last_seq`: the ledger's last entry).
    pub(super) fn through(&mut self, last_seq: i64) -> i64 {
        while let Some((first, pool)) = self.oldest.front() {
            if self.first_pending(pool) == Some(*first) {
                return first - 1;
            }
            self.oldest.pop_front();
        }
        last_seq
    }

    fn first_pending(&self, pool: &PoolId) -> Option<i64> {
        self.by_pool
            .get(pool)
            .and_then(|seqs| seqs.first().copied())
    }
}

/// `allot_meta.ledger_runs_through`.
pub(super) fn runs_through(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM allot_meta WHERE name = ?1")?
        .query_row([RUNS_THROUGH], |row| row.get(0))?)
}

/// The sequence numbers of `pool`'s entries after `after`, ascending, at most `limit`: from its
/// runs, then from the ledger's tail past its last run.
pub(super) fn pool_entry_seqs(
    conn: &Connection,
    pool: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<i64>, StoreError> {
    let mut seqs = Vec::new();
    // The pool's last run, once known: its later entries are not in any run.
    let mut last_run = None;
    let mut runs = conn.prepare_cached(
        "SELECT last_seq, seqs FROM ledger_runs WHERE pool_id = ?1 AND last_seq > ?2 ORDER BY last_seq",
    )?;
    let mut rows = runs.query(params![pool, after])?;
    while let Some(row) = rows.next()? {
        last_run = Some(row.get::<_, i64>(0)?);
        let run: String = row.get(1)?;
        let run: Vec<i64> = serde_json::from_str(&run)
            .map_err(|e| StoreError::Corrupt(format!("a ledger run of pool {pool}: {e}")))?;
        seqs.extend(run.into_iter().filter(|seq| *seq > after));
        if seqs.len() >= limit {
            seqs.truncate(limit);
            return Ok(seqs);
        }
    }
    drop(rows);
    let last_run = match last_run {
        Some(last) => last,
        None => conn
            .prepare_cached("SELECT MAX(last_seq) FROM ledger_runs WHERE pool_id = ?1")?
            .query_row([pool], |row| row.get::<_, Option<i64>>(0))
            .optional()?
            .flatten()
            .unwrap_or(0),
    };
    let from = after.max(last_run).max(runs_through(conn)?);
    let mut tail = conn.prepare_cached(
        "SELECT seq FROM ledger WHERE seq > ?1 AND pool_id = ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rest = tail.query_map(params![from, pool, (limit - seqs.len()) as i64], |row| {
        row.get::<_, i64>(0)
    })?;
    for seq in rest {
        seqs.push(seq?);
    }
    Ok(seqs)
}

/// `allot verify`: each pool's runs list exactly its entries up to the later of its last run
/// and `ledger_runs_through`, in order, each once. `entries_of`: every pool's entries, ascending.
pub(super) fn check_runs(
    conn: &Connection,
    entries_of: &std::collections::HashMap<PoolId, Vec<i64>>,
) -> Result<Vec<Mismatch>, StoreError> {
    let through = runs_through(conn)?;
    let mut listed_of: std::collections::HashMap<PoolId, Vec<i64>> = Default::default();
    let mut mismatches = Vec::new();
    let mut stmt =
        conn.prepare("SELECT pool_id, last_seq, seqs FROM ledger_runs ORDER BY pool_id, last_seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let pool = PoolId(row.get(0)?);
        let last_seq: i64 = row.get(1)?;
        // A run that does not parse lists nothing: it is reported with its pool below.
        let seqs: Vec<i64> = serde_json::from_str(&row.get::<_, String>(2)?).unwrap_or_default();
        if seqs.last() != Some(&last_seq) {
            mismatches.push(Mismatch {
                pool_id: pool.0.clone(),
                what: "last entry of a ledger run (against its key)".into(),
                stored: last_seq,
                recomputed: seqs.last().copied().unwrap_or(-1),
            });
        }
        listed_of.entry(pool).or_default().extend(seqs);
    }
    let mut pools: Vec<&PoolId> = entries_of.keys().chain(listed_of.keys()).collect();
    pools.sort();
    pools.dedup();
    for pool in pools {
        let listed = listed_of.get(pool).map_or(&[][..], Vec::as_slice);
        let indexed_through = through.max(listed.last().copied().unwrap_or(0));
        let expected: Vec<i64> = entries_of
            .get(pool)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .take_while(|seq| *seq <= indexed_through)
            .collect();
        if listed != expected.as_slice() {
            mismatches.push(Mismatch {
                pool_id: pool.0.clone(),
                what: "ledger entries listed in runs".into(),
                stored: listed.len() as i64,
                recomputed: expected.len() as i64,
            });
        }
    }
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const LIMITS: RunLimits = RunLimits {
        run_entries: 4,
        tail_entries: 12,
    };

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().expect("an in-memory database");
        crate::sqlite::schema::migrate(&mut conn).expect("the schema applies");
        conn
    }

    fn append(conn: &Connection, seq: i64, pool: &str) {
        conn.execute(
            "INSERT INTO ledger (seq, pool_id, tenant_id, kind, held_delta, committed_delta,
                 capacity_after, at)
             VALUES (?1, ?2, 'ten_a', 'hold', 1, 0, 100, 0)",
            params![seq, pool],
        )
        .expect("an entry is appended");
    }

    /// What the writer does at the end of each batch: the due runs, then the counter.
    fn end_batch(conn: &Connection, pending: &mut PendingRuns, last_seq: i64) {
        for run in pending.take_due(last_seq) {
            conn.execute(
                "INSERT INTO ledger_runs (pool_id, last_seq, seqs) VALUES (?1, ?2, ?3)",
                params![run.pool_id.0, run.last_seq, run.seqs_json],
            )
            .expect("a run is written");
        }
        conn.execute(
            "UPDATE allot_meta SET value = ?1 WHERE name = ?2",
            params![pending.through(last_seq), RUNS_THROUGH],
        )
        .expect("the counter is saved");
    }

    fn paged(conn: &Connection, pool: &str, page: usize) -> Vec<i64> {
        let mut all = Vec::new();
        loop {
            let after = all.last().copied().unwrap_or(0);
            let seqs = pool_entry_seqs(conn, pool, after, page).expect("reads");
            assert!(seqs.len() <= page);
            if seqs.is_empty() {
                return all;
            }
            all.extend(seqs);
        }
    }

    fn pending_by_pool(pending: &PendingRuns) -> BTreeMap<String, Vec<i64>> {
        pending
            .by_pool
            .iter()
            .map(|(pool, seqs)| (pool.0.clone(), seqs.clone()))
            .collect()
    }

    #[test]
    fn every_pools_history_reads_whole_from_runs_and_tail_as_entries_arrive() {
        let conn = database();
        let mut pending = PendingRuns::load(&conn, LIMITS, 0).expect("loads");
        let mut truth: std::collections::HashMap<PoolId, Vec<i64>> = Default::default();
        // A fixed pseudo-random stream: one busy pool, a few quiet ones, batches of 1 to 9.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % below
        };
        let mut seq = 0;
        for batch in 0..60 {
            for _ in 0..=next(9) {
                seq += 1;
                let pool = match next(10) {
                    0..=4 => "pool_busy".to_owned(),
                    n => format!("pool_quiet_{n}"),
                };
                append(&conn, seq, &pool);
                pending.add(PoolId(pool.clone()), seq);
                truth.entry(PoolId(pool)).or_default().push(seq);
            }
            end_batch(&conn, &mut pending, seq);

            // No entry waits outside a run for more than the tail and one batch.
            let through = runs_through(&conn).expect("reads");
            assert!(
                seq - through <= LIMITS.tail_entries + 10,
                "through {through} at {seq}"
            );
            for (pool, seqs) in &truth {
                for page in [1, 3, 50] {
                    assert_eq!(
                        &paged(&conn, &pool.0, page),
                        seqs,
                        "{pool:?} in pages of {page}"
                    );
                }
                let after = seqs[seqs.len() / 2];
                let later: Vec<i64> = seqs.iter().copied().filter(|s| *s > after).collect();
                assert_eq!(
                    pool_entry_seqs(&conn, &pool.0, after, 1000)
                        .expect("the test database answers"),
                    later
                );
            }
            // What a restarted writer reads back is what this one holds.
            let reloaded = PendingRuns::load(&conn, LIMITS, 0).expect("loads");
            assert_eq!(
                pending_by_pool(&reloaded),
                pending_by_pool(&pending),
                "batch {batch}"
            );
            assert_eq!(check_runs(&conn, &truth).expect("checks"), vec![]);
        }
        let runs: i64 = conn
            .query_row("SELECT COUNT(*) FROM ledger_runs", [], |row| row.get(0))
            .expect("the test database answers");
        assert!(runs > 10 && (runs as usize) < truth.values().map(Vec::len).sum::<usize>() / 2);

        // A lost run is found by verify.
        conn.execute(
            "DELETE FROM ledger_runs WHERE pool_id = 'pool_busy' AND last_seq =
                 (SELECT MIN(last_seq) FROM ledger_runs WHERE pool_id = 'pool_busy')",
            [],
        )
        .expect("the test database answers");
        let found = check_runs(&conn, &truth).expect("checks");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pool_id, "pool_busy");
        assert!(found[0].stored < found[0].recomputed, "{found:?}");
    }

    #[test]
    fn a_run_naming_another_pools_entry_or_unreadable_is_reported() {
        let conn = database();
        let mut truth: std::collections::HashMap<PoolId, Vec<i64>> = Default::default();
        for (seq, pool) in [(1, "pool_a"), (2, "pool_b")] {
            append(&conn, seq, pool);
            truth.entry(PoolId(pool.into())).or_default().push(seq);
        }
        conn.execute_batch(
            "INSERT INTO ledger_runs VALUES ('pool_a', 2, '[2]'), ('pool_b', 2, 'not json');
             UPDATE allot_meta SET value = 2 WHERE name = 'ledger_runs_through';",
        )
        .expect("the test database answers");
        let mut found: Vec<(String, String)> = check_runs(&conn, &truth)
            .expect("the test database answers")
            .into_iter()
            .map(|m| (m.pool_id, m.what))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("pool_a", "ledger entries listed in runs"),
                ("pool_b", "last entry of a ledger run (against its key)"),
                ("pool_b", "ledger entries listed in runs"),
            ]
            .map(|(pool, what)| (pool.to_owned(), what.to_owned()))
        );
    }
}
