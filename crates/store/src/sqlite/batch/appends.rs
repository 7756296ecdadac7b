//! Rows a batch appends — new holds and ledger entries — gathered as commands are decided and
//! written many rows per INSERT. SQLite spends much of a one-row INSERT starting and finishing
//! the statement; a 32-row statement writes each row in about two thirds of the time.
//!
//! The writer must not read `holds` while hold rows are pending: `SqliteWriter::apply` writes
//! them before any command that reads holds, before promotion, and before the batch commits.
//! The writer never reads the ledger. Ledger entries go in `seq` order to the end of the ledger;
//! their pools' runs (`ledger_runs`) are written as they fall due.

use super::super::ledger_runs::{NewRun, PendingRuns};
use crate::StoreError;
use allot_core::{PoolId, UnixMillis};
use allot_engine::change::{LedgerChange, NewHold};
use rusqlite::{ToSql, Transaction, params_from_iter};

/// Rows per multi-row INSERT. Larger statements gain little and cost more to prepare.
const ROWS_PER_INSERT: usize = 32;

pub(in crate::sqlite) struct Appends {
    /// The last ledger sequence number used: read when the batch starts, saved when it ends.
    pub(in crate::sqlite) ledger_seq: i64,
    holds: Vec<NewHoldRecord>,
    ledger: Vec<LedgerRow>,
    /// Written entries not yet in their pool's run.
    runs: PendingRuns,
    /// The batch's time: entries pending longer than `TAIL_AGE_MS` before it get their runs.
    now: UnixMillis,
    /// Holds the batch expired, counted for metrics.
    pub(in crate::sqlite) holds_expired: u64,
}

/// A new hold's row, as written.
struct NewHoldRecord {
    pub id: String,
    pub tenant_id: String,
    /// As `HoldStatus::as_str` spells it.
    pub status: &'static str,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    /// The lines as JSON.
    pub lines: String,
    pub created_at: UnixMillis,
    pub waitlist_entry_id: Option<String>,
    pub subject: Option<String>,
}

struct LedgerRow {
    tenant_id: String,
    pool_id: String,
    hold_id: Option<String>,
    kind: &'static str,
    held_delta: i64,
    committed_delta: i64,
    capacity_after: i64,
    actor: Option<String>,
    reason: Option<String>,
    at: i64,
    seq: i64,
}

impl Appends {
    pub(in crate::sqlite) fn new(ledger_seq: i64, runs: PendingRuns, now: UnixMillis) -> Self {
        Appends {
            ledger_seq,
            holds: Vec::new(),
            ledger: Vec::new(),
            runs,
            now,
            holds_expired: 0,
        }
    }

    /// Every ledger entry up to the returned `seq` is in a run (for `allot_meta`).
    pub(in crate::sqlite) fn runs_through(&mut self) -> i64 {
        self.runs.through(self.ledger_seq)
    }

    /// The pending runs, for the next batch once this one has committed.
    pub(in crate::sqlite) fn into_runs(self) -> PendingRuns {
        self.runs
    }

    pub(in crate::sqlite) fn hold(&mut self, hold: NewHold) {
        self.holds.push(NewHoldRecord {
            id: hold.id,
            tenant_id: hold.tenant.0,
            status: hold.status.as_str(),
            holder: hold.holder,
            expires_at: hold.expires_at,
            lines: hold.lines,
            created_at: hold.created_at,
            waitlist_entry_id: hold.waitlist_entry_id,
            subject: hold.subject,
        });
    }

    /// Whether hold rows are waiting to be written: a read of `holds` must write them first.
    pub(in crate::sqlite) fn has_pending_holds(&self) -> bool {
        !self.holds.is_empty()
    }

    /// Appends a ledger entry under the next sequence number.
    pub(in crate::sqlite) fn ledger(&mut self, entry: impl Into<LedgerChange>) {
        let entry = entry.into();
        self.ledger_seq += 1;
        self.ledger.push(LedgerRow {
            tenant_id: entry.tenant.0,
            pool_id: entry.pool_id.0,
            hold_id: entry.hold_id,
            kind: entry.kind.as_str(),
            held_delta: entry.held_delta,
            committed_delta: entry.committed_delta,
            capacity_after: entry.capacity_after,
            actor: entry.actor,
            reason: entry.reason,
            at: entry.at.0,
            seq: self.ledger_seq,
        });
    }

    /// Writes every pending row, leaving none.
    pub(in crate::sqlite) fn write(&mut self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        insert_all(tx, &self.holds)?;
        self.holds.clear();
        // In `seq` order, as appended: each row goes at the end of the ledger.
        insert_all(tx, &self.ledger)?;
        for row in self.ledger.drain(..) {
            self.runs.add(PoolId(row.pool_id), row.seq, row.at);
        }
        let runs = self.runs.take_due(self.ledger_seq, self.now.0);
        insert_all(tx, &runs)?;
        Ok(())
    }
}

/// A row type written by [`insert_all`].
trait Insert {
    /// `INSERT OR FAIL INTO table (columns) VALUES`, without the values. OR FAIL: a row that
    /// breaks a constraint stops the statement without undoing its earlier rows, so SQLite keeps
    /// no statement journal for these multi-row statements; the error fails the whole batch,
    /// whose transaction is rolled back anyway.
    const INTO: &'static str;
    const COLUMNS: usize;
    fn bind<'r>(&'r self, values: &mut Vec<&'r dyn ToSql>);
}

impl Insert for NewHoldRecord {
    const INTO: &'static str = "INSERT OR FAIL INTO holds (id, tenant_id, status, holder, expires_at, lines, \
         created_at, updated_at, waitlist_entry_id, subject) VALUES";
    const COLUMNS: usize = 10;
    fn bind<'r>(&'r self, values: &mut Vec<&'r dyn ToSql>) {
        values.extend([
            &self.id as &dyn ToSql,
            &self.tenant_id,
            &self.status,
            &self.holder,
            &self.expires_at.0,
            &self.lines,
            &self.created_at.0,
            &self.created_at.0,
            &self.waitlist_entry_id,
            &self.subject,
        ]);
    }
}

impl Insert for LedgerRow {
    const INTO: &'static str = "INSERT OR FAIL INTO ledger (tenant_id, pool_id, hold_id, kind, held_delta, \
         committed_delta, capacity_after, actor, reason, at, seq) VALUES";
    const COLUMNS: usize = 11;
    fn bind<'r>(&'r self, values: &mut Vec<&'r dyn ToSql>) {
        values.extend([
            &self.tenant_id as &dyn ToSql,
            &self.pool_id,
            &self.hold_id,
            &self.kind,
            &self.held_delta,
            &self.committed_delta,
            &self.capacity_after,
            &self.actor,
            &self.reason,
            &self.at,
            &self.seq,
        ]);
    }
}

/// A run's row keeps its sequence numbers as JSON text, made when the run is bound.
impl Insert for NewRun {
    const INTO: &'static str = "INSERT OR FAIL INTO ledger_runs (pool_id, last_seq, seqs) VALUES";
    const COLUMNS: usize = 3;
    fn bind<'r>(&'r self, values: &mut Vec<&'r dyn ToSql>) {
        values.extend([
            &self.pool_id.0 as &dyn ToSql,
            &self.last_seq,
            &self.seqs_json,
        ]);
    }
}

/// `INSERT … VALUES (?, …), …` for `rows` rows.
fn insert_sql<R: Insert>(rows: usize) -> String {
    let one = format!("({})", vec!["?"; R::COLUMNS].join(", "));
    format!("{} {}", R::INTO, vec![one; rows].join(", "))
}

/// Writes `rows` in full statements of [`ROWS_PER_INSERT`], then the rest one by one (each
/// statement text is prepared once and cached, so only two per row type).
fn insert_all<R: Insert>(tx: &Transaction<'_>, rows: &[R]) -> Result<(), StoreError> {
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(R::COLUMNS * ROWS_PER_INSERT);
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    if rows.len() >= ROWS_PER_INSERT {
        let mut statement = tx.prepare_cached(&insert_sql::<R>(ROWS_PER_INSERT))?;
        for chunk in &mut chunks {
            values.clear();
            chunk.iter().for_each(|row| row.bind(&mut values));
            statement.execute(params_from_iter(values.iter()))?;
        }
    }
    if !chunks.remainder().is_empty() {
        let mut statement = tx.prepare_cached(&insert_sql::<R>(1))?;
        for row in chunks.remainder() {
            values.clear();
            row.bind(&mut values);
            statement.execute(params_from_iter(values.iter()))?;
        }
    }
    Ok(())
}
