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
//! the oldest is [`TAIL_ENTRIES`] entries or [`TAIL_AGE_MS`] old. So a run covers several
//! entries of a busy pool, and entries not in a run yet are all in the ledger's last
//! [`TAIL_ENTRIES`] (and one batch) — when traffic is light, only its last few seconds:
//! every entry up to `allot_meta.ledger_runs_through` is in a run, and a pool's entries after its
//! last run are found by scanning the ledger from there — a bounded scan.
//!
//! With far more than [`TAIL_ENTRIES`] pools busy at once most runs would hold a single entry,
//! and a spread batch would again write about a page per pool (the runs' pages instead of the
//! ledger's): the layout pays off for the thousands of pools a sale spreads over, not millions.
//!
//! The memory is a cache of what the database says: it is rebuilt from the ledger's tail when the
//! writer starts, after a batch fails, and when another connection has written the file.

use crate::StoreError;
use crate::maintenance::Mismatch;
use allot_core::PoolId;
use foldhash::{HashMap, HashMapExt};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::VecDeque;

/// A pool's pending entries are written once there are this many, in runs of at most this many:
/// a run's row stays within one page (about 8 bytes per entry), and a history read parses at
/// most this many numbers per row it uses.
pub(super) const RUN_ENTRIES: usize = 100;

/// No entry stays out of a run once this many newer entries exist: what a history read scans
/// beyond the runs, and what the writer reads back when it starts.
pub(super) const TAIL_ENTRIES: i64 = 65_536;

/// Nor once it is this old (ms): when traffic is light the tail stays short, so a history read
/// scans little. Under load the count above comes first.
pub(super) const TAIL_AGE_MS: i64 = 10_000;

/// The `allot_meta` counter: every ledger entry with `seq` at most this is in a run.
pub(super) const RUNS_THROUGH: &str = "ledger_runs_through";

/// How large runs may grow and how long entries may wait, fixed in production; small in tests.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunLimits {
    pub run_entries: usize,
    pub tail_entries: i64,
    pub tail_age_ms: i64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            run_entries: RUN_ENTRIES,
            tail_entries: TAIL_ENTRIES,
            tail_age_ms: TAIL_AGE_MS,
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
    /// `(first pending seq, its time, pool)` in `seq` order: which pool's entries age out next.
    /// A pool written since (its pending list now starts later, or is gone) leaves a stale item,
    /// skipped.
    oldest: VecDeque<(i64, i64, PoolId)>,
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
            conn.prepare("SELECT seq, pool_id, at FROM ledger WHERE seq > ?1 ORDER BY seq")?;
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
                pending.add(pool, seq, row.get(2)?);
            }
        }
        Ok(pending)
    }

    /// Notes a ledger entry just appended at `at` (entries come in `seq` order).
    pub(super) fn add(&mut self, pool: PoolId, seq: i64, at: i64) {
        let pending = match self.by_pool.get_mut(&pool) {
            Some(seqs) => {
                seqs.push(seq);
                seqs.len()
            }
            None => {
                self.oldest.push_back((seq, at, pool.clone()));
                self.by_pool.insert(pool.clone(), vec![seq]);
                1
            }
        };
        if pending == self.limits.run_entries {
            self.full.push(pool);
        }
    }

    /// The runs due once the ledger has reached `last_seq` at `now`: full pools, and pools whose
    /// oldest pending entry is `tail_entries` entries or `tail_age_ms` old, each in runs of at
    /// most `run_entries`. They leave the pending set.
    pub(super) fn take_due(&mut self, last_seq: i64, now: i64) -> Vec<NewRun> {
        let mut due = std::mem::take(&mut self.full);
        let aged_seq = last_seq - self.limits.tail_entries;
        let aged_at = now.saturating_sub(self.limits.tail_age_ms);
        while let Some((first, at, _)) = self.oldest.front() {
            if *first > aged_seq && *at > aged_at {
                break;
            }
            let (first, _, pool) = self.oldest.pop_front().expect("just seen");
            if self.first_pending(&pool) == Some(first) {
                due.push(pool);
            }
        }
        // A pool may pass `run_entries` by many within a batch (plain holds write nothing until
        // the batch ends; an expiry sweep has no limit): its run is cut into runs of that size.
        let mut runs = Vec::with_capacity(due.len());
        for pool in due {
            if let Some(seqs) = self.by_pool.remove(&pool) {
                for run in seqs.chunks(self.limits.run_entries) {
                    runs.push(NewRun::of(pool.clone(), run));
                }
            }
        }
        runs
    }

    /// Every entry up to the returned `seq` is in a run (`last_seq`: the ledger's last entry).
    pub(super) fn through(&mut self, last_seq: i64) -> i64 {
        while let Some((first, _, pool)) = self.oldest.front() {
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

/// `allot verify`'s check of the runs, fed one pool's entries at a time.
pub(super) struct RunsCheck<'c> {
    conn: &'c Connection,
    through: i64,
    /// Pools already checked: any other pool with runs has no entries at all.
    checked: std::collections::HashSet<String>,
    mismatches: Vec<Mismatch>,
}

impl<'c> RunsCheck<'c> {
    pub(super) fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(RunsCheck {
            conn,
            through: runs_through(conn)?,
            checked: Default::default(),
            mismatches: Vec::new(),
        })
    }

    /// `pool`'s runs list exactly its `entries` (all of them, ascending) up to the later of its
    /// last run and `ledger_runs_through`, in order, each once; each run's key is its last entry.
    pub(super) fn pool(&mut self, pool: &str, entries: &[i64]) -> Result<(), StoreError> {
        self.checked.insert(pool.to_owned());
        let mut listed = Vec::new();
        let mut runs = self.conn.prepare_cached(
            "SELECT last_seq, seqs FROM ledger_runs WHERE pool_id = ?1 ORDER BY last_seq",
        )?;
        let mut rows = runs.query([pool])?;
        while let Some(row) = rows.next()? {
            let last_seq: i64 = row.get(0)?;
            // A run that does not parse lists nothing: its pool is reported below.
            let seqs: Vec<i64> =
                serde_json::from_str(&row.get::<_, String>(1)?).unwrap_or_default();
            if seqs.last() != Some(&last_seq) {
                self.mismatches.push(Mismatch {
                    pool_id: pool.to_owned(),
                    what: "last entry of a ledger run (against its key)".into(),
                    stored: last_seq,
                    recomputed: seqs.last().copied().unwrap_or(-1),
                });
            }
            listed.extend(seqs);
        }
        let indexed_through = self.through.max(listed.last().copied().unwrap_or(0));
        let expected = entries.partition_point(|seq| *seq <= indexed_through);
        let expected = &entries[..expected];
        if listed != expected {
            let what = if listed.len() == expected.len() {
                "ledger entries listed in runs (other entries than the pool's own)"
            } else {
                "ledger entries listed in runs"
            };
            self.mismatches.push(Mismatch {
                pool_id: pool.to_owned(),
                what: what.into(),
                stored: listed.len() as i64,
                recomputed: expected.len() as i64,
            });
        }
        Ok(())
    }

    /// Checks the runs of pools that have no entries (they list entries not their own), and
    /// returns every mismatch found.
    pub(super) fn finish(mut self) -> Result<Vec<Mismatch>, StoreError> {
        let pools: Vec<String> = self
            .conn
            .prepare("SELECT DISTINCT pool_id FROM ledger_runs")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for pool in pools {
            if !self.checked.contains(&pool) {
                self.pool(&pool, &[])?;
            }
        }
        Ok(self.mismatches)
    }
}

/// What `allot verify` finds in the runs, given every pool's entries.
#[cfg(test)]
pub(super) fn check_runs(
    conn: &Connection,
    entries_of: &std::collections::HashMap<PoolId, Vec<i64>>,
) -> Result<Vec<Mismatch>, StoreError> {
    let mut check = RunsCheck::new(conn)?;
    for (pool, entries) in entries_of {
        check.pool(&pool.0, entries)?;
    }
    check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const LIMITS: RunLimits = RunLimits {
        run_entries: 4,
        tail_entries: 12,
        tail_age_ms: 10_000,
    };

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().expect("an in-memory database");
        crate::sqlite::schema::migrate(&mut conn).expect("the schema applies");
        conn
    }

    /// A one-unit hold's ledger entry at `at` (ms).
    fn append(conn: &Connection, seq: i64, pool: &str, at: i64) {
        conn.execute(
            "INSERT INTO ledger (seq, pool_id, tenant_id, kind, held_delta, committed_delta,
                 capacity_after, at)
             VALUES (?1, ?2, 'ten_a', 'hold', 1, 0, 100, ?3)",
            params![seq, pool, at],
        )
        .expect("an entry is appended");
    }

    /// What the writer does at the end of each batch: the due runs, then the counter.
    fn end_batch(conn: &Connection, pending: &mut PendingRuns, last_seq: i64, now: i64) {
        for run in pending.take_due(last_seq, now) {
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
                append(&conn, seq, &pool, 0);
                pending.add(PoolId(pool.clone()), seq, 0);
                truth.entry(PoolId(pool)).or_default().push(seq);
            }
            end_batch(&conn, &mut pending, seq, 0);

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
        let longest: usize = conn
            .query_row(
                "SELECT MAX(json_array_length(seqs)) FROM ledger_runs",
                [],
                |row| row.get(0),
            )
            .expect("the test database answers");
        assert_eq!(longest, LIMITS.run_entries, "runs are cut at run_entries");

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
    fn when_traffic_is_light_entries_get_their_runs_once_they_are_old() {
        let conn = database();
        let mut pending = PendingRuns::load(&conn, LIMITS, 0).expect("loads");
        // Two entries at t = 1 s, far fewer than a run or the tail.
        for (seq, pool) in [(1, "pool_a"), (2, "pool_b")] {
            append(&conn, seq, pool, 1_000);
            pending.add(PoolId(pool.into()), seq, 1_000);
        }
        end_batch(&conn, &mut pending, 2, 5_000);
        assert_eq!(
            runs_through(&conn).expect("reads"),
            0,
            "4 s old: still pending"
        );
        // A restarted writer knows their age too.
        let mut reloaded = PendingRuns::load(&conn, LIMITS, 0).expect("loads");
        end_batch(&conn, &mut reloaded, 2, 11_000);
        assert_eq!(runs_through(&conn).expect("reads"), 2, "10 s old: in runs");
        assert_eq!(pending_by_pool(&reloaded), BTreeMap::new());
        assert_eq!(pool_entry_seqs(&conn, "pool_b", 0, 10).expect("reads"), [2]);
    }

    #[test]
    fn a_run_naming_another_pools_entry_or_unreadable_is_reported() {
        let conn = database();
        let mut truth: std::collections::HashMap<PoolId, Vec<i64>> = Default::default();
        for (seq, pool) in [(1, "pool_a"), (2, "pool_b")] {
            append(&conn, seq, pool, 0);
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
                (
                    "pool_a",
                    "ledger entries listed in runs (other entries than the pool's own)"
                ),
                ("pool_b", "last entry of a ledger run (against its key)"),
                ("pool_b", "ledger entries listed in runs"),
            ]
            .map(|(pool, what)| (pool.to_owned(), what.to_owned()))
        );
    }
}
