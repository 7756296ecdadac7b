//! The writer: one PostgreSQL transaction per batch, decided by the engine
//! (`allot_engine::batch::apply`) over [`PgPort`], and one commit that answers the batch.
//!
//! Unlike SQLite's writer it keeps no pools between batches: another node may have changed any
//! of them since, so each batch loads what it touches afresh, locking each pool row it loads
//! (`SELECT … FOR UPDATE`) until it commits; two batches that touch one pool take turns.
//! Every change is written as it is decided, one row per statement, so every later read of
//! the batch sees it (`changes`); transitions state what they expect (`WHERE status = <from>`),
//! idempotency keys and subjects' consumption are claimed as the batch found them (inserted
//! when free, replaced only if unchanged: [`ReadClaims`]), and either fails the batch with a
//! conflict when another writer got there first.
//!
//! Not yet what several nodes need: rows are locked in the order the engine loads them, not
//! one fixed order (two batches taking two shared pools in opposite orders can deadlock, and
//! PostgreSQL then fails one of them, a conflict), and due holds are read before their pools
//! are locked (two nodes expiring one hold: the second's transition finds it moved and fails
//! its batch). Both fail safe — a batch fails, nothing is sold twice — but cost retries.
//!
//! - `port`: the engine's reads, in the batch's transaction.
//! - `changes`: each [`Change`] persisted.
//! - this module: the writer, and the pools' writes at the end of each batch (counters, or
//!   the whole row), each checked against the use the batch found the pool at.

mod changes;
mod port;

use super::{Sql, Statements, connect};
use crate::command::{BatchTally, Envelope, Reply};
use crate::database_url::PostgresUrl;
use crate::ids::Ids;
use crate::model::TenantId;
use crate::{BatchWriter, StoreError};
use allot_core::{PoolId, UnixMillis};
use allot_engine::batch;
use allot_engine::change::{Change, PoolCounters, PoolUse};
use allot_engine::records::PoolRecord;
use allot_engine::working::Tenants;
use postgres::{Client, Transaction};
use std::collections::HashMap;

pub struct PostgresWriter {
    url: PostgresUrl,
    client: Client,
    /// The connection's prepared statements: dropped with it when it is replaced.
    statements: Statements,
    ids: Ids,
    /// What committed batches did besides answering, until the server takes it.
    tally: BatchTally,
}

impl PostgresWriter {
    pub(super) fn new(url: PostgresUrl, client: Client) -> Self {
        PostgresWriter {
            url,
            client,
            statements: Statements::default(),
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
}

impl BatchWriter for PostgresWriter {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        // A connection the server closed (a restart, a failover) is replaced before the batch,
        // rather than failing every batch after it.
        if self.client.is_closed() {
            self.client = connect(&self.url)?;
            self.statements = Statements::default();
        }
        // READ COMMITTED, PostgreSQL's default: the pool rows a batch decides on are locked
        // as it loads them, and every other write states what it expects to find.
        let mut tx = self.client.transaction()?;
        let mut ids = self.ids.clone();
        let mut tally = BatchTally::default();
        let mut tenants = Tenants::default();
        let mut port = PgPort {
            sql: Sql {
                client: &mut tx,
                statements: &mut self.statements,
            },
            ids: &mut ids,
            tally: &mut tally,
            read: ReadClaims::default(),
        };
        // There is no earliest-deadline hint across nodes: every batch probes for due holds
        // (one look at a partial index).
        let replies = batch::apply(&mut port, &mut tenants, batch, now, true)?;
        tx.commit()?;
        // Ids made by a batch that failed are not made again: harmless, and simpler.
        self.ids = ids;
        self.tally.add(tally);
        Ok(replies)
    }

    fn take_tally(&mut self) -> BatchTally {
        std::mem::take(&mut self.tally)
    }
}

/// The engine's port over one batch's transaction.
pub(super) struct PgPort<'a, 't> {
    sql: Sql<'a, Transaction<'t>>,
    ids: &'a mut Ids,
    /// The batch's expiries, events and alerts, counted for metrics.
    tally: &'a mut BatchTally,
    read: ReadClaims,
}

/// What the batch read of rows it may then claim, so that the claim states what it expects:
/// an idempotency key or a subject's consumption that was free is inserted (and another
/// writer's insert meanwhile is a conflict through the unique key), one that was taken is
/// replaced only if it is still what was read. Two nodes given one key at once act once.
#[derive(Default)]
pub(super) struct ReadClaims {
    /// Each key read, with when its record was made (`None`: it had none).
    keys: HashMap<(TenantId, String), Option<i64>>,
    /// Each subject's consumption read, with the hold that counted it (`None`: none had).
    consumptions: HashMap<(TenantId, PoolId, String), Option<String>>,
}

/// One row changed by a transition from → to, or another writer got there first.
fn one_row(changed: u64, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    match changed {
        1 => Ok(()),
        _ => Err(StoreError::Conflict(what())),
    }
}

impl PgPort<'_, '_> {
    /// Most changed pools changed only their counters: a narrow UPDATE, of a pool still at the
    /// use the batch found it at (its row is locked, so anything else is a writer's bug).
    fn write_pool_counters(
        &mut self,
        tenant: &TenantId,
        id: &PoolId,
        from: PoolUse,
        to: &PoolCounters,
    ) -> Result<(), StoreError> {
        let changed = self.sql.execute(
            "UPDATE pools SET held = $5, committed = $6, waiting = $7, waiting_below = $8,
                 alert_marks = $9, updated_at = $10
             WHERE tenant_id = $1 AND id = $2 AND held = $3 AND committed = $4",
            &[
                &tenant.0,
                &id.0,
                &from.held,
                &from.committed,
                &to.held,
                &to.committed,
                &to.waiting,
                &to.waiting_below,
                &to.alert_marks,
                &to.updated_at.0,
            ],
        )?;
        one_row(changed, || {
            format!("pool {id} is gone or no longer at {from:?}")
        })
    }

    /// A pool whose settings changed is written whole, likewise from the use it was found at.
    fn write_pool_whole(
        &mut self,
        tenant: &TenantId,
        from: PoolUse,
        row: &PoolRecord,
    ) -> Result<(), StoreError> {
        let id = &row.core.id;
        let limits = row.core.limits;
        let changed = self.sql.execute(
            "UPDATE pools SET held = $5, committed = $6, capacity = $7, hard_limit_pct = $8,
                 soft_limit_pct = $9, active = $10, name = $11, price_amount_minor = $12,
                 price_currency = $13, metadata = $14, updated_at = $15, waitlist_policy = $16,
                 waitlist_mode = $17, offer_ttl_seconds = $18, waiting = $19, waiting_below = $20,
                 thresholds = $21, alert_marks = $22
             WHERE tenant_id = $1 AND id = $2 AND held = $3 AND committed = $4",
            &[
                &tenant.0,
                &id.0,
                &from.held,
                &from.committed,
                &row.core.held,
                &row.core.committed,
                &limits.capacity.get(),
                &i64::from(limits.hard_limit_pct.get()),
                &i64::from(limits.soft_limit_pct.get()),
                &row.core.active,
                &row.name,
                &row.price.as_ref().map(|p| p.amount_minor),
                &row.price.as_ref().map(|p| p.currency.clone()),
                &row.metadata,
                &row.updated_at.0,
                &row.waitlist.policy.as_str(),
                &row.waitlist.mode.as_str(),
                &row.waitlist.offer_ttl.get(),
                &row.waiting,
                &row.waiting_below,
                &row.thresholds,
                &row.alert_marks,
            ],
        )?;
        one_row(changed, || {
            format!("pool {id} is gone or no longer at {from:?}")
        })
    }

    fn persist_change(&mut self, change: Change) -> Result<(), StoreError> {
        changes::persist(self, change)
    }
}
