//! The writer: one transaction per batch. Due holds expire first, so a lapsed hold never blocks
//! anyone; then each command is decided by the core in arrival order against the pools in
//! memory (kept between batches while no one else writes the file); rows and idempotency records
//! are written as each command is decided — new holds and ledger entries many rows per statement
//! (`appends`) — and the changed pools' counters once at the end. One commit answers the batch.

mod appends;
mod jobs;
mod port;
mod quotas;
mod tickets;

use super::ledger_runs::{PendingRuns, RUNS_THROUGH, RunLimits};
use super::outbox::{self, Outbox};
use super::plans;
use super::promotion;
use super::reads::load_hold;
use super::rows::{HOLD_COLUMNS, HoldRecord, PoolRecord, hold_from_row};
use crate::command::*;
use crate::model::*;
use crate::{BatchWriter, StoreError};
use allot_core::{
    HoldLine, HoldStatus, LineEffect, Pool, PoolId, PoolSet, Refusal, SessionDate, SessionZone,
    TransitionError, UnixMillis,
};
pub(super) use allot_engine::working::{
    Baseline, NewLedgerEntry as LedgerEntry, TenantPools, tenant_pools,
};
pub(super) use appends::{Appends, NewHoldRecord};
pub(super) use port::{Tx, UsePort};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
// Ids are looked up many times per command in the working set: a fast hash, not SipHash.
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use allot_engine::rules::idempotency::{self, KeyRecord, KeyUse};
use allot_engine::rules::{holds as hold_rules, pools as pool_rules};

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
        }
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
        let mut work = Working::load(&tx, cached, runs, now)?;
        // Before the earliest deadline nothing can be due: skip the probe (the common case).
        let expired = if now.0 >= self.next_due.load(Ordering::Acquire) {
            expire_due(&tx, &mut work, now)?
        } else {
            0
        };
        // Capacity a change frees goes to those waiting before the next command can take it.
        promotion::promote_freed(&tx, &mut work, now)?;
        let mut replies = Vec::with_capacity(batch.len());
        for envelope in batch {
            if may_read_holds(&envelope.command) {
                work.appends.write(&tx)?;
            }
            replies.push(apply_envelope(&tx, &mut work, envelope, now, expired)?);
            promotion::promote_freed(&tx, &mut work, now)?;
        }
        work.flush(&tx, now)?;
        let next_due: Option<i64> = tx
            .prepare_cached("SELECT MIN(expires_at) FROM holds WHERE status = 'held'")?
            .query_row([], |row| row.get(0))?;
        tx.commit()?;
        self.runs = Some(work.appends.into_runs());
        let mut tenants = work.tenants;
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
}

pub(super) struct Working {
    pub(super) tenants: HashMap<TenantId, TenantPools>,
    /// New holds and ledger entries, written many rows per statement.
    pub(super) appends: Appends,
    /// The last waiting-list arrival number used, likewise.
    pub(super) waitlist_seq: i64,
    pub(super) outbox: Outbox,
}

impl Working {
    /// Starts a batch from the pools cached by earlier ones (empty when there are none).
    fn load(
        tx: &Transaction<'_>,
        tenants: HashMap<TenantId, TenantPools>,
        runs: PendingRuns,
        now: UnixMillis,
    ) -> Result<Working, StoreError> {
        let mut meta = tx.prepare_cached("SELECT value FROM allot_meta WHERE name = ?1")?;
        let mut counter = |name: &str| -> Result<i64, StoreError> {
            Ok(meta.query_row([name], |row| row.get(0))?)
        };
        Ok(Working {
            tenants,
            appends: Appends::new(counter("ledger_seq")?, runs, now),
            waitlist_seq: counter("waitlist_seq")?,
            outbox: Outbox::new(counter("event_seq")?, counter("alert_seq")?),
        })
    }

    /// Writes every changed pool's counters and settings, once per batch.
    fn flush(&mut self, tx: &Transaction<'_>, now: UnixMillis) -> Result<(), StoreError> {
        self.appends.write(tx)?;
        // Alerts first: they may append events and alerts, whose counters are saved just below.
        super::alerts::raise_alerts(tx, self, now)?;
        let mut meta = tx.prepare_cached("UPDATE allot_meta SET value = ?2 WHERE name = ?1")?;
        meta.execute(params!["ledger_seq", self.appends.ledger_seq])?;
        meta.execute(params![RUNS_THROUGH, self.appends.runs_through()])?;
        meta.execute(params!["waitlist_seq", self.waitlist_seq])?;
        meta.execute(params!["event_seq", self.outbox.event_seq])?;
        meta.execute(params!["alert_seq", self.outbox.alert_seq])?;
        drop(meta);
        // Most changed pools changed only their counters: a narrow UPDATE. A pool whose settings
        // changed — marked by `update_pool`, or limits or active differing from those last
        // written (`row.core`) — is written whole.
        let mut whole = tx.prepare_cached(
            "UPDATE pools SET held = ?2, committed = ?3, capacity = ?4, hard_limit_pct = ?5, soft_limit_pct = ?6,
                 active = ?7, name = ?8, price_amount_minor = ?9, price_currency = ?10, metadata = ?11, updated_at = ?12,
                 waitlist_policy = ?13, waitlist_mode = ?14, offer_ttl_seconds = ?15, waiting = ?16, waiting_below = ?17,
                 thresholds = ?18, alert_marks = ?19
             WHERE id = ?1",
        )?;
        for pools in self.tenants.values_mut() {
            let mut counters_only = Vec::new();
            for id in &pools.dirty {
                let pool = pools
                    .set
                    .get(id)
                    .expect("a dirty pool is in the working set");
                let row = pools.rows.get_mut(id).expect("a dirty pool has its row");
                let updated_at = now.0.max(row.updated_at.0);
                let reconfigured = pools.reconfigured.contains(id)
                    || pool.limits != row.core.limits
                    || pool.active != row.core.active;
                if reconfigured {
                    whole.execute(params![
                        id.0,
                        pool.held,
                        pool.committed,
                        pool.limits.capacity.get(),
                        pool.limits.hard_limit_pct.get(),
                        pool.limits.soft_limit_pct.get(),
                        pool.active,
                        row.name,
                        row.price.as_ref().map(|p| p.amount_minor),
                        row.price.as_ref().map(|p| p.currency.clone()),
                        row.metadata,
                        updated_at,
                        row.waitlist.policy.as_str(),
                        row.waitlist.mode.as_str(),
                        row.waitlist.offer_ttl.get(),
                        row.waiting,
                        row.waiting_below,
                        row.thresholds,
                        row.alert_marks,
                    ])?;
                } else {
                    counters_only.push(id);
                }
                // The row now says what the table says: the next batch may start from it.
                row.core.held = pool.held;
                row.core.committed = pool.committed;
                row.core.limits = pool.limits;
                row.core.active = pool.active;
                row.updated_at = UnixMillis(updated_at);
            }
            write_counters(tx, &pools.set, &pools.rows, &counters_only)?;
        }
        Ok(())
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

/// Writes the counters of `ids` (pools whose settings did not change), as `set` and `rows` now
/// have them, many pools per statement.
fn write_counters(
    tx: &Transaction<'_>,
    set: &PoolSet,
    rows: &HashMap<PoolId, PoolRecord>,
    ids: &[&PoolId],
) -> Result<(), StoreError> {
    let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(7 * POOLS_PER_UPDATE);
    let full = ids.chunks_exact(POOLS_PER_UPDATE);
    let rest = full.remainder().chunks(1);
    for chunk in full.chain(rest) {
        values.clear();
        for id in chunk {
            let pool = set.get(id).expect("a dirty pool is in the working set");
            let row = &rows[*id];
            values.extend([
                &id.0 as &dyn rusqlite::ToSql,
                &pool.held,
                &pool.committed,
                &row.waiting,
                &row.waiting_below,
                &row.alert_marks,
                &row.updated_at.0,
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

pub(super) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Expires every hold whose deadline has passed, across tenants, before any decision is made.
/// In a steady state this is one index probe that finds nothing: the sweeper keeps it so.
fn expire_due(
    tx: &Transaction<'_>,
    work: &mut Working,
    now: UnixMillis,
) -> Result<usize, StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {HOLD_COLUMNS}, tenant_id FROM holds WHERE status = 'held' AND expires_at <= ?1"
    ))?;
    let mut due: Vec<(TenantId, HoldRecord)> = Vec::new();
    let mut rows = stmt.query([now.0])?;
    while let Some(row) = rows.next()? {
        // The tenant comes after the hold's own columns, which from_row reads by position.
        let tenant = TenantId(row.get(8)?);
        due.push((tenant, hold_from_row(row)?));
    }
    drop(rows);
    for (tenant, hold) in &due {
        let (status, effect) = hold
            .lifecycle()
            .expire(now)
            .expect("the query selected only held holds past their deadline");
        transition(
            tx,
            work,
            tenant,
            None,
            hold,
            status,
            effect,
            crate::LedgerKind::Expire,
            now,
        )?;
    }
    Ok(due.len())
}

/// Whether a command may read the `holds` table, and so must first see the hold rows still
/// pending in [`Appends`]. A plain new hold is the one that does not: it reads pools, which are
/// in memory, and only appends.
fn may_read_holds(command: &Command) -> bool {
    !matches!(command, Command::PlaceHold { extras, .. } if extras.subject.is_none())
}

fn apply_envelope(
    tx: &Transaction<'_>,
    work: &mut Working,
    envelope: Envelope,
    now: UnixMillis,
    expired_this_batch: usize,
) -> Result<Reply, StoreError> {
    let Envelope {
        tenant,
        actor,
        command,
        idempotency,
    } = envelope;
    let Some(idempotency) = idempotency else {
        let outcome = execute(
            tx,
            work,
            &tenant,
            actor.as_deref(),
            command,
            now,
            expired_this_batch,
        )?;
        return Ok(Reply::Outcome(outcome));
    };
    let mut lookup = tx.prepare_cached(
        "SELECT request_hash, status, body, created_at FROM idempotency WHERE tenant_id = ?1 AND key = ?2",
    )?;
    let previous = lookup
        .query_row(params![tenant.0, idempotency.key], |row| {
            Ok((
                KeyRecord {
                    request_hash: row.get(0)?,
                    created_at: UnixMillis(row.get(3)?),
                },
                StoredResponse {
                    status: row.get(1)?,
                    body: row.get(2)?,
                },
            ))
        })
        .optional()?;
    let (record, response) = previous.unzip();
    match idempotency::decide(record.as_ref(), &idempotency.request_hash, now) {
        KeyUse::Replay => {
            return Ok(Reply::Rendered {
                response: response.expect("a replayed key has its response"),
                replayed: true,
            });
        }
        KeyUse::Mismatch => return Ok(Reply::Outcome(Err(Failure::IdempotencyMismatch))),
        KeyUse::Fresh => {}
    }
    let outcome = execute(
        tx,
        work,
        &tenant,
        actor.as_deref(),
        command,
        now,
        expired_this_batch,
    )?;
    let response = (idempotency.render)(&outcome);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (tenant_id, key, request_hash, status, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![tenant.0, idempotency.key, idempotency.request_hash, response.status, response.body, now.0])?;
    Ok(Reply::Rendered {
        response,
        replayed: false,
    })
}

fn execute(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    command: Command,
    now: UnixMillis,
    expired_this_batch: usize,
) -> Result<Outcome, StoreError> {
    match command {
        Command::CreateTenant {
            name,
            key_id,
            key_hash,
        } => {
            let id = TenantId(new_id("ten"));
            tx.prepare_cached("INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![id.0, name, now.0])?;
            let key = insert_api_key(tx, &id, key_id, &key_hash, Role::Admin, now)?;
            Ok(Ok(Success::TenantCreated {
                tenant: Tenant {
                    id,
                    name,
                    created_at: now,
                },
                key,
            }))
        }
        Command::CreateApiKey {
            key_id,
            key_hash,
            role,
        } => Ok(Ok(Success::ApiKeyCreated(insert_api_key(
            tx, tenant, key_id, &key_hash, role, now,
        )?))),
        Command::RevokeApiKey { key_id } => {
            let changed = tx
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND tenant_id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![key_id, tenant.0, now.0])?;
            Ok(if changed == 1 {
                Ok(Success::ApiKeyRevoked)
            } else {
                Err(Failure::NotFound {
                    kind: "api key",
                    id: key_id,
                })
            })
        }
        Command::CreatePool(new_pool) => create_pool(tx, work, tenant, actor, new_pool, now),
        Command::UpdatePool { pool_id, patch } => {
            update_pool(tx, work, tenant, actor, PoolId(pool_id), patch, now)
        }
        Command::PlaceHold {
            lines,
            ttl,
            holder,
            confirm,
            extras,
        } => {
            let request = HoldRequest {
                lines,
                expires_at: now.plus(ttl),
                holder,
                confirm,
                extras,
            };
            place_hold(tx, work, tenant, actor, request, now)
        }
        Command::ConfirmHold { hold_id } => {
            step_hold(tx, work, tenant, actor, &hold_id, now, Step::Confirm)
        }
        Command::ReleaseHold { hold_id } => {
            step_hold(tx, work, tenant, actor, &hold_id, now, Step::Release)
        }
        Command::ExtendHold { hold_id, ttl } => {
            let Some(hold) = load_hold(tx, tenant, &hold_id)? else {
                return Ok(Err(Failure::NotFound {
                    kind: "hold",
                    id: hold_id,
                }));
            };
            let expires_at = match hold.lifecycle().extend(now, ttl) {
                Ok(at) => at,
                Err(error) => return Ok(Err(error.into())),
            };
            tx.prepare_cached("UPDATE holds SET expires_at = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2")?
                .execute(params![tenant.0, hold.id, expires_at.0, now.0])?;
            let hold = HoldRecord {
                expires_at,
                updated_at: now,
                ..hold
            };
            Ok(Ok(Success::Hold {
                hold: hold.view(now),
                warnings: Vec::new(),
            }))
        }
        Command::SweepExpired => {
            forget_old_idempotency_records(tx, now)?;
            let entries = promotion::expire_due_entries(tx, work, now)?;
            Ok(Ok(Success::Swept {
                expired: expired_this_batch + entries,
            }))
        }
        Command::JoinWaitlist(entry) => promotion::join(tx, work, tenant, entry, now),
        Command::CancelWaitlistEntry { entry_id } => {
            promotion::cancel(tx, work, tenant, actor, &entry_id, now)
        }
        Command::SetPriorityClasses(classes) => {
            promotion::set_priority_classes(tx, tenant, classes)
        }
        Command::CreateWebhook {
            url,
            events,
            secret,
        } => outbox::create_webhook(tx, &mut work.outbox, tenant, url, events, secret, now),
        Command::DeleteWebhook { webhook_id } => {
            outbox::delete_webhook(tx, &mut work.outbox, tenant, &webhook_id, now)
        }
        Command::TestWebhook { webhook_id } => outbox::test_webhook(tx, tenant, &webhook_id, now),
        Command::SetRecipients(groups) => {
            outbox::set_recipients(tx, &mut work.outbox, tenant, groups)
        }
        Command::RecordDeliveryAttempts(attempts) => outbox::record_attempts(tx, attempts),
        Command::CreatePlan(plan) => plans::create_plan(tx, tenant, plan, now),
        Command::UpdatePlan {
            plan_id,
            name,
            capacity,
            members_follow,
        } => {
            let updated = plans::update_plan(tx, tenant, &plan_id, name, capacity, now)?;
            let (Ok(Success::Plan(plan)), Some((kind, params))) = (&updated, members_follow) else {
                return Ok(updated);
            };
            let create = crate::jobs::JobCommand::Create {
                kind,
                params,
                total: plan.members,
            };
            match jobs::execute(tx, tenant, create, now)? {
                Ok(Success::Job(job)) => Ok(Ok(Success::PlanFollowed {
                    plan: plan.clone(),
                    job,
                })),
                Ok(_) => Err(StoreError::Other(
                    "creating a job answered something else".into(),
                )),
                Err(failure) => Ok(Err(failure)),
            }
        }
        Command::AdjustQuotas(chunk) => quotas::adjust_chunk(tx, work, tenant, actor, chunk, now),
        Command::PutMember {
            plan_id,
            subject,
            parent_id,
        } => plans::put_member(tx, work, tenant, actor, &plan_id, &subject, parent_id, now),
        Command::Tickets(command) => tickets::execute(tx, work, tenant, actor, command, now),
        Command::Job(command) => jobs::execute(tx, tenant, command, now),
    }
}

/// Most idempotency records one sweep deletes: bounds the sweep's share of a batch.
const MAX_IDEMPOTENCY_RECORDS_PER_SWEEP: i64 = 10_000;

/// Deletes idempotency records past their 24 h window, oldest first, a bounded number per sweep.
fn forget_old_idempotency_records(tx: &Transaction<'_>, now: UnixMillis) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM idempotency WHERE (tenant_id, key) IN (
             SELECT tenant_id, key FROM idempotency WHERE created_at <= ?1 ORDER BY created_at LIMIT ?2)",
    )?
    .execute(params![idempotency::forget_before(now).0, MAX_IDEMPOTENCY_RECORDS_PER_SWEEP])?;
    Ok(())
}

fn insert_api_key(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    key_id: String,
    key_hash: &str,
    role: Role,
    now: UnixMillis,
) -> Result<ApiKey, StoreError> {
    tx.prepare_cached(
        "INSERT INTO api_keys (id, tenant_id, role, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key_id, tenant.0, role.as_str(), key_hash, now.0])?;
    Ok(ApiKey {
        id: key_id,
        tenant_id: tenant.clone(),
        role,
        created_at: now,
    })
}

fn invalid(field: &str, message: &str) -> Outcome {
    Err(Failure::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    })
}

pub(super) fn create_pool(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    new_pool: NewPool,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let pools = tenant_pools(&mut work.tenants, tenant);
    let parent_id = new_pool.parent_id.map(PoolId);
    if let Some(parent) = &parent_id {
        if !pools.load_chain(&mut Tx(tx), tenant, parent)? {
            return Ok(invalid("parent_id", "no such pool"));
        }
        let depth = pools.set.chain(parent).map_or(0, |chain| chain.len());
        if let Err(failure) = pool_rules::check_parent(&pools.rows[parent], depth) {
            return Ok(Err(failure));
        }
    }
    let limits = match pool_rules::new_limits(
        new_pool.capacity,
        new_pool.hard_limit_pct,
        new_pool.soft_limit_pct,
    ) {
        Ok(limits) => limits,
        Err(failure) => return Ok(Err(failure)),
    };
    let id = PoolId(new_id("pool"));
    let row = PoolRecord {
        core: Pool::new(id.clone(), parent_id, limits),
        name: new_pool.name,
        unit: new_pool.unit,
        price: new_pool.price,
        metadata: new_pool.metadata.as_ref().map(serde_json::Value::to_string),
        created_at: now,
        updated_at: now,
        per_date: new_pool.per_date,
        session_id: None,
        date: None,
        time_zone: new_pool.time_zone,
        waitlist: new_pool.waitlist,
        waiting: 0,
        waiting_below: 0,
        thresholds: match &new_pool.thresholds {
            Some(thresholds) => Some(serde_json::to_string(thresholds)?),
            None => None,
        },
        alert_marks: None,
    };
    insert_pool_row(tx, tenant, &row)?;
    work.appends.ledger(LedgerEntry {
        tenant,
        pool_id: &id,
        hold_id: None,
        kind: LedgerKind::Adjust,
        held_delta: 0,
        committed_delta: 0,
        capacity_after: limits.capacity.get(),
        actor,
        reason: Some("created"),
        at: now,
    });
    pools.set.insert(row.core.clone());
    pools.missing.remove(&id);
    pools
        .baseline
        .insert(id.clone(), Baseline::of(&row.core, &row));
    pools.rows.insert(id.clone(), row);
    Ok(Ok(Success::Pool(pools.view(&id))))
}

pub(super) fn insert_pool_row(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    row: &PoolRecord,
) -> Result<(), StoreError> {
    let limits = row.core.limits;
    tx.prepare_cached(
        "INSERT INTO pools (id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, held, committed,
             price_amount_minor, price_currency, metadata, active, created_at, updated_at,
             per_date, session_id, date, waitlist_policy, waitlist_mode, offer_ttl_seconds, waiting, waiting_below, thresholds,
             time_zone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16, ?17, ?18, ?19, ?20, ?21, 0, 0, ?22, ?23)",
    )?
    .execute(params![
        row.core.id.0,
        tenant.0,
        row.core.parent_id.as_ref().map(|p| p.0.clone()),
        row.name,
        row.unit,
        limits.capacity.get(),
        limits.hard_limit_pct.get(),
        limits.soft_limit_pct.get(),
        row.core.held,
        row.core.committed,
        row.price.as_ref().map(|p| p.amount_minor),
        row.price.as_ref().map(|p| p.currency.clone()),
        row.metadata,
        row.core.active,
        row.created_at.0,
        row.per_date,
        row.session_id,
        row.date,
        row.waitlist.policy.as_str(),
        row.waitlist.mode.as_str(),
        row.waitlist.offer_ttl.get(),
        row.thresholds,
        row.time_zone.as_ref().map(SessionZone::name),
    ])?;
    Ok(())
}

fn update_pool(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    id: PoolId,
    patch: PoolPatch,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let pools = tenant_pools(&mut work.tenants, tenant);
    // One date's instance is made on its first use, a change of its capacity included.
    if SessionDate::split_instance_id(&id).is_some() {
        match pools.load_for_use(
            &mut UsePort {
                tx,
                appends: &mut work.appends,
            },
            tenant,
            &id,
            now,
        )? {
            Ok(()) => {}
            Err(Failure::Refused(Refusal::UnknownPool(_))) => {
                return Ok(Err(Failure::NotFound {
                    kind: "pool",
                    id: id.0,
                }));
            }
            Err(failure) => return Ok(Err(failure)),
        }
    } else if !pools.load_chain(&mut Tx(tx), tenant, &id)? {
        return Ok(Err(Failure::NotFound {
            kind: "pool",
            id: id.0,
        }));
    }
    let current = pools.set.get(&id).expect("loaded above").limits;
    let limits = pool_rules::patched_limits(current, &patch);
    let is_session = pools.rows[&id].per_date;
    if limits != current
        && let Err(refusal) = pools
            .set
            .get(&id)
            .expect("loaded above")
            .check_adjust(limits)
    {
        return Ok(Err(refusal.into()));
    }
    // A session-wide change reaches the dates already made only when asked (even when the
    // session itself already has these figures), and never a past one. Every date is checked
    // before any changes: all of them, or none.
    let mut changed: Vec<PoolId> = Vec::new();
    if limits != current {
        changed.push(id.clone());
    }
    if is_session && patch.apply_to_dates {
        let zone = pools.rows[&id].zone();
        let dates = session_dates_from_today(tx, tenant, &id, &zone, now)?;
        for date_id in &dates {
            if !pools.load_chain(&mut Tx(tx), tenant, date_id)? {
                return Err(StoreError::Corrupt(format!("date {date_id} vanished")));
            }
        }
        let loaded = dates.iter().map(|date_id| {
            let label = pools.rows[date_id].date.as_deref().unwrap_or("?");
            (label, pools.set.get(date_id).expect("loaded above"))
        });
        match pool_rules::dates_to_change(limits, loaded) {
            Ok(dates) => changed.extend(dates),
            Err(failure) => return Ok(Err(failure)),
        }
    }
    let reason = patch.reason.as_deref().unwrap_or("adjusted");
    for pool_id in &changed {
        pools
            .set
            .adjust(pool_id, limits)
            .expect("checked above, in the same working set");
        work.appends.ledger(LedgerEntry {
            tenant,
            pool_id,
            hold_id: None,
            kind: LedgerKind::Adjust,
            held_delta: 0,
            committed_delta: 0,
            capacity_after: limits.capacity.get(),
            actor,
            reason: Some(reason),
            at: now,
        });
        pools.dirty.insert(pool_id.clone());
        pools.freed.insert(pool_id.clone());
        pools.lower_baseline(pool_id);
    }
    if let Some(active) = patch.active {
        pools.set.set_active(&id, active);
        pools.freed.insert(id.clone());
    }
    let waitlist_changed = patch.waitlist_policy.is_some()
        || patch.waitlist_mode.is_some()
        || patch.offer_ttl.is_some();
    let row = pools.rows.get_mut(&id).expect("loaded above");
    if let Some(name) = patch.name {
        row.name = name;
    }
    if let Some(price) = patch.price {
        row.price = price;
    }
    if let Some(metadata) = patch.metadata {
        row.metadata = Some(metadata.to_string());
    }
    if let Some(thresholds) = &patch.thresholds {
        row.thresholds = match thresholds {
            Some(thresholds) => Some(serde_json::to_string(thresholds)?),
            None => None,
        };
    }
    if waitlist_changed {
        let settings = &mut row.waitlist;
        settings.policy = patch.waitlist_policy.unwrap_or(settings.policy);
        settings.mode = patch.waitlist_mode.unwrap_or(settings.mode);
        settings.offer_ttl = patch.offer_ttl.unwrap_or(settings.offer_ttl);
        let settings = *settings;
        if is_session {
            // A session's dates serve their lists the session's way: the ones in this batch's
            // working set and the ones on disk alike.
            tx.prepare_cached(
                "UPDATE pools SET waitlist_policy = ?3, waitlist_mode = ?4, offer_ttl_seconds = ?5
                 WHERE tenant_id = ?1 AND session_id = ?2",
            )?
            .execute(params![
                tenant.0,
                id.0,
                settings.policy.as_str(),
                settings.mode.as_str(),
                settings.offer_ttl.get()
            ])?;
            for date in pools.rows.values_mut() {
                if date.session_id.as_deref() == Some(id.0.as_str()) {
                    date.waitlist = settings;
                    pools.freed.insert(date.core.id.clone());
                }
            }
            // Dates not in this batch that have people waiting are served the new way too.
            let waiting_dates: Vec<PoolId> = tx
                .prepare_cached(
                    "SELECT id FROM pools WHERE tenant_id = ?1 AND session_id = ?2 AND waiting > 0",
                )?
                .query_map(params![tenant.0, id.0], |row| row.get(0).map(PoolId))?
                .collect::<Result<_, _>>()?;
            pools.freed.extend(waiting_dates);
        }
        pools.freed.insert(id.clone());
    }
    let row = pools.rows.get_mut(&id).expect("loaded above");
    row.updated_at = now;
    pools.dirty.insert(id.clone());
    pools.reconfigured.insert(id.clone());
    Ok(Ok(Success::Pool(pools.view(&id))))
}

/// A session's dates from today on (in its time zone), already made.
fn session_dates_from_today(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    session: &PoolId,
    zone: &SessionZone,
    now: UnixMillis,
) -> Result<Vec<PoolId>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM pools WHERE tenant_id = ?1 AND session_id = ?2 ORDER BY date",
    )?;
    let ids: Vec<PoolId> = stmt
        .query_map(params![tenant.0, session.0], |row| row.get(0).map(PoolId))?
        .collect::<Result<_, _>>()?;
    // Which dates are over is the core's call (calendar dates in the session's zone), not a
    // string comparison.
    Ok(ids
        .into_iter()
        .filter(|id| {
            SessionDate::split_instance_id(id).is_some_and(|(_, date)| !date.is_past_in(now, zone))
        })
        .collect())
}

/// A new hold as asked for.
struct HoldRequest {
    lines: Vec<HoldLine>,
    expires_at: UnixMillis,
    holder: Option<String>,
    confirm: bool,
    extras: HoldExtras,
}

fn place_hold(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    request: HoldRequest,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let HoldRequest {
        lines,
        expires_at,
        holder,
        confirm,
        extras,
    } = request;
    let pools = tenant_pools(&mut work.tenants, tenant);
    for (index, line) in lines.iter().enumerate() {
        if let Err(failure) = pools.load_for_use(
            &mut UsePort {
                tx,
                appends: &mut work.appends,
            },
            tenant,
            &line.pool_id,
            now,
        )? {
            return Ok(Err(hold_rules::name_line(index, failure)));
        }
        let requested = extras.units.get(index).and_then(Option::as_deref);
        if let Err(failure) =
            hold_rules::check_unit(&line.pool_id, requested, &pools.rows[&line.pool_id].unit)
        {
            return Ok(Err(failure));
        }
    }
    // A subject counts once per pool: the hold that already counted it is the answer.
    if let Some(subject) = &extras.subject
        && let Some(first) = lines.first()
        && let Some(counted) = consumed_by(tx, tenant, &first.pool_id, subject, now)?
    {
        return Ok(Ok(Success::AlreadyConsumed(counted.view(now))));
    }
    let placement = match pools.set.place(&lines, confirm) {
        Ok(placement) => placement,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let status = if confirm {
        HoldStatus::Confirmed
    } else {
        HoldStatus::Held
    };
    let hold = NewHold {
        lines: &lines,
        status,
        holder,
        expires_at,
        waitlist_entry_id: None,
        subject: extras.subject.as_deref(),
        reason: extras.reason.as_deref(),
    };
    let hold = write_new_hold(&mut work.appends, pools, tenant, actor, hold, now)?;
    if let (Some(subject), Some(first)) = (&extras.subject, lines.first()) {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO consumptions (tenant_id, pool_id, subject, hold_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![tenant.0, first.pool_id.0, subject, hold.id])?;
    }
    Ok(Ok(Success::Hold {
        hold,
        warnings: placement.warnings,
    }))
}

/// The live hold that already counted `subject` on `pool`, if any.
fn consumed_by(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    pool: &PoolId,
    subject: &str,
    now: UnixMillis,
) -> Result<Option<HoldRecord>, StoreError> {
    let hold_id: Option<String> = tx
        .prepare_cached(
            "SELECT hold_id FROM consumptions WHERE tenant_id = ?1 AND pool_id = ?2 AND subject = ?3",
        )?
        .query_row(params![tenant.0, pool.0, subject], |row| row.get(0))
        .optional()?;
    let Some(hold_id) = hold_id else {
        return Ok(None);
    };
    Ok(load_hold(tx, tenant, &hold_id)?.filter(|hold| hold.lifecycle().status_at(now).is_live()))
}

/// A hold the core has just placed, to be written down.
pub(super) struct NewHold<'a> {
    pub lines: &'a [HoldLine],
    /// Held, or confirmed at once.
    pub status: HoldStatus,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    pub waitlist_entry_id: Option<&'a str>,
    /// Who or what the hold consumes, counted once per pool.
    pub subject: Option<&'a str>,
    /// Why, kept in each line's ledger entry.
    pub reason: Option<&'a str>,
}

/// Writes a placed hold: its row, with each line's price locked in, and one ledger entry per line.
pub(super) fn write_new_hold(
    appends: &mut Appends,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: NewHold<'_>,
    now: UnixMillis,
) -> Result<HoldView, StoreError> {
    let hold_id = new_id("hold");
    let line_views: Vec<HoldLineView> = hold
        .lines
        .iter()
        .map(|line| HoldLineView {
            pool_id: line.pool_id.0.clone(),
            quantity: line.quantity.get(),
            unit_price: pools.rows[&line.pool_id].price.clone(),
        })
        .collect();
    appends.hold(NewHoldRecord {
        id: hold_id.clone(),
        tenant_id: tenant.0.clone(),
        status: hold.status.as_str(),
        holder: hold.holder.clone(),
        expires_at: hold.expires_at,
        lines: serde_json::to_string(&line_views)?,
        created_at: now,
        waitlist_entry_id: hold.waitlist_entry_id.map(str::to_owned),
        subject: hold.subject.map(str::to_owned),
    });
    let effect = if hold.status == HoldStatus::Confirmed {
        LineEffect::HOLD_AND_CONFIRM
    } else {
        LineEffect::HOLD
    };
    let change = LineChange {
        hold_id: &hold_id,
        kind: LedgerKind::Hold,
        effect,
        actor,
        reason: hold.reason,
    };
    append_line_entries(appends, pools, tenant, hold.lines, change, now);
    Ok(HoldView {
        id: hold_id,
        status: hold.status,
        holder: hold.holder,
        expires_at: hold.expires_at,
        lines: line_views,
        created_at: now,
        updated_at: now,
    })
}

/// What one step of a hold did to each of its lines, for the ledger.
#[derive(Clone, Copy)]
struct LineChange<'a> {
    hold_id: &'a str,
    kind: LedgerKind,
    effect: LineEffect,
    actor: Option<&'a str>,
    reason: Option<&'a str>,
}

/// One ledger entry per line of a hold (the counters have already moved), and the lines' chains
/// marked for the flush.
fn append_line_entries(
    appends: &mut Appends,
    pools: &mut TenantPools,
    tenant: &TenantId,
    lines: &[HoldLine],
    change: LineChange<'_>,
    now: UnixMillis,
) {
    for line in lines {
        let quantity = line.quantity.get();
        let capacity = pools
            .set
            .get(&line.pool_id)
            .expect("a changed line's pool is loaded")
            .limits
            .capacity
            .get();
        appends.ledger(LedgerEntry {
            tenant,
            pool_id: &line.pool_id,
            hold_id: Some(change.hold_id),
            kind: change.kind,
            held_delta: change.effect.held * quantity,
            committed_delta: change.effect.committed * quantity,
            capacity_after: capacity,
            actor: change.actor,
            reason: change.reason,
            at: now,
        });
        pools.mark_chain_dirty(&line.pool_id);
    }
}

#[derive(Clone, Copy)]
pub(super) enum Step {
    Confirm,
    Release,
}

fn step_hold(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    hold_id: &str,
    now: UnixMillis,
    step: Step,
) -> Result<Outcome, StoreError> {
    let Some(hold) = load_hold(tx, tenant, hold_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "hold",
            id: hold_id.to_owned(),
        }));
    };
    match step_loaded_hold(tx, work, tenant, actor, hold, now, step)? {
        Ok(hold) => Ok(Ok(Success::Hold {
            hold: hold.view(now),
            warnings: Vec::new(),
        })),
        Err(error) => Ok(Err(error.into())),
    }
}

/// Confirms or releases a loaded hold, if its lifecycle allows; answers the hold as it is after.
pub(super) fn step_loaded_hold(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: HoldRecord,
    now: UnixMillis,
    step: Step,
) -> Result<Result<HoldRecord, TransitionError>, StoreError> {
    let decided: Result<(HoldStatus, LineEffect), TransitionError> = match step {
        Step::Confirm => hold.lifecycle().confirm(now),
        Step::Release => hold.lifecycle().release(now),
    };
    let (status, effect) = match decided {
        Ok(decided) => decided,
        Err(error) => return Ok(Err(error)),
    };
    let kind = match step {
        Step::Confirm => LedgerKind::Confirm,
        Step::Release => LedgerKind::Release,
    };
    transition(tx, work, tenant, actor, &hold, status, effect, kind, now)?;
    Ok(Ok(HoldRecord {
        status,
        updated_at: now,
        ..hold
    }))
}

/// Moves a hold to `status`: counters of every line's pool chain by `effect`, the hold row, one
/// ledger entry per line, and the waiting-list entry the hold was offered to, if any. Capacity
/// given back is marked for promotion.
#[allow(clippy::too_many_arguments)]
pub(super) fn transition(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: &HoldRecord,
    status: HoldStatus,
    effect: LineEffect,
    kind: LedgerKind,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let lines = hold.core_lines()?;
    let pools = tenant_pools(&mut work.tenants, tenant);
    for line in &lines {
        if !pools.load_chain(&mut Tx(tx), tenant, &line.pool_id)? {
            return Err(StoreError::Corrupt(format!(
                "hold {} names a missing pool {}",
                hold.id, line.pool_id
            )));
        }
    }
    pools.set.apply(&lines, effect);
    let change = LineChange {
        hold_id: &hold.id,
        kind,
        effect,
        actor,
        reason: None,
    };
    append_line_entries(&mut work.appends, pools, tenant, &lines, change, now);
    if effect.held + effect.committed < 0 {
        for line in &lines {
            let root = pools.root_of(&line.pool_id);
            pools.freed.insert(root);
            pools.lower_baseline(&line.pool_id);
        }
    }
    tx.prepare_cached(
        "UPDATE holds SET status = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![tenant.0, hold.id, status.as_str(), now.0])?;
    if let Some(entry_id) = &hold.waitlist_entry_id {
        promotion::offer_settled(tx, work, tenant, entry_id, &hold.id, kind, now)?;
    }
    Ok(())
}
