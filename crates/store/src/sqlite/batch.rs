//! The writer: one transaction per batch. Due holds expire first, so a lapsed hold never blocks
//! anyone; then each command is decided by the core in arrival order against the pools in
//! memory; rows, ledger entries and idempotency records are written as each command is decided,
//! and the changed pools' counters once at the end. One commit answers the whole batch.

mod jobs;
mod tickets;

use super::reads::{load_hold, load_pool};
use super::rows::{HoldRow, PoolRow};
use crate::command::*;
use crate::model::*;
use crate::{BatchWriter, StoreError};
use allot_core::{
    HoldLine, HoldStatus, LineEffect, Pool, PoolId, PoolLimits, PoolSet, TransitionError,
    UnixMillis,
};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Idempotency records are honoured this long (24 h), then the key may be used afresh.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

pub struct SqliteWriter {
    conn: Connection,
    /// Shared with the readers: the earliest deadline of any held hold after the last commit.
    next_due: Arc<AtomicI64>,
}

impl SqliteWriter {
    pub(super) fn new(conn: Connection, next_due: Arc<AtomicI64>) -> Self {
        SqliteWriter { conn, next_due }
    }
}

impl BatchWriter for SqliteWriter {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        // IMMEDIATE takes the write lock up front: nothing can slip in between our reads and writes.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut work = Working::load(&tx)?;
        // Before the earliest deadline nothing can be due: skip the probe (the common case).
        let expired = if now.0 >= self.next_due.load(Ordering::Acquire) {
            expire_due(&tx, &mut work, now)?
        } else {
            0
        };
        let mut replies = Vec::with_capacity(batch.len());
        for envelope in batch {
            replies.push(apply_envelope(&tx, &mut work, envelope, now, expired)?);
        }
        work.flush(&tx, now)?;
        let next_due: Option<i64> = tx
            .prepare_cached("SELECT MIN(expires_at) FROM holds WHERE status = 'held'")?
            .query_row([], |row| row.get(0))?;
        tx.commit()?;
        // Published after the commit, so for a moment readers may see new holds with the old
        // hint. That is safe: a new or extended deadline is at least 1 s (the shortest TTL) after
        // the batch's `now`, and this store happens microseconds after the commit, so no reader
        // can reach that deadline while still holding the old hint.
        self.next_due
            .store(next_due.unwrap_or(i64::MAX), Ordering::Release);
        Ok(replies)
    }
}

/// The pools one tenant's commands in this batch have touched.
#[derive(Default)]
struct TenantPools {
    set: PoolSet,
    rows: HashMap<PoolId, PoolRow>,
    /// Ids looked up and not found for this tenant, so a batch of bad ids costs one query each.
    missing: HashSet<PoolId>,
    dirty: HashSet<PoolId>,
}

#[derive(Default)]
struct Working {
    tenants: HashMap<TenantId, TenantPools>,
    /// The last ledger sequence number used; read at the start of the batch, written at flush.
    ledger_seq: i64,
}

/// One tenant's pools in the batch. A free function, not a method, so that callers can hold it
/// and `Working::ledger_seq` at once.
fn tenant_pools<'w>(
    tenants: &'w mut HashMap<TenantId, TenantPools>,
    tenant: &TenantId,
) -> &'w mut TenantPools {
    tenants.entry(tenant.clone()).or_default()
}

impl Working {
    fn load(tx: &Transaction<'_>) -> Result<Working, StoreError> {
        let ledger_seq = tx
            .prepare_cached("SELECT value FROM allot_meta WHERE name = 'ledger_seq'")?
            .query_row([], |row| row.get(0))?;
        Ok(Working {
            tenants: HashMap::new(),
            ledger_seq,
        })
    }

    /// Writes every changed pool's counters and settings, once per batch.
    fn flush(&mut self, tx: &Transaction<'_>, now: UnixMillis) -> Result<(), StoreError> {
        tx.prepare_cached("UPDATE allot_meta SET value = ?1 WHERE name = 'ledger_seq'")?
            .execute([self.ledger_seq])?;
        let mut stmt = tx.prepare_cached(
            "UPDATE pools SET held = ?2, committed = ?3, capacity = ?4, hard_limit_pct = ?5, soft_limit_pct = ?6,
                 active = ?7, name = ?8, price_amount_minor = ?9, price_currency = ?10, metadata = ?11, updated_at = ?12
             WHERE id = ?1",
        )?;
        for pools in self.tenants.values() {
            for id in &pools.dirty {
                let pool = pools
                    .set
                    .get(id)
                    .expect("a dirty pool is in the working set");
                let row = &pools.rows[id];
                stmt.execute(params![
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
                    now.0.max(row.updated_at.0),
                ])?;
            }
        }
        Ok(())
    }
}

impl TenantPools {
    /// Loads a pool and its ancestors into the working set. `false` when the pool does not exist
    /// for this tenant (another tenant's id included).
    fn load_chain(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        id: &PoolId,
    ) -> Result<bool, StoreError> {
        let mut next = Some(id.clone());
        let mut depth = 0;
        while let Some(id) = next {
            depth += 1;
            if depth > allot_core::MAX_POOL_DEPTH {
                return Err(StoreError::Corrupt(format!("pool {id} is nested too deep")));
            }
            if let Some(pool) = self.set.get(&id) {
                next = pool.parent_id.clone();
                continue;
            }
            if self.missing.contains(&id) {
                return Ok(false);
            }
            match load_pool(tx, tenant, &id.0)? {
                Some(row) => {
                    next = row.core.parent_id.clone();
                    self.set.insert(row.core.clone());
                    self.rows.insert(id, row);
                }
                None if depth == 1 => {
                    self.missing.insert(id);
                    return Ok(false);
                }
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "pool {id} has a missing ancestor"
                    )));
                }
            }
        }
        Ok(true)
    }

    fn mark_chain_dirty(&mut self, id: &PoolId) {
        let chain: Vec<PoolId> = self
            .set
            .chain(id)
            .expect("chains are loaded before they change")
            .iter()
            .map(|pool| pool.id.clone())
            .collect();
        self.dirty.extend(chain);
    }

    fn view(&self, id: &PoolId) -> PoolView {
        let pool = self.set.get(id).expect("a viewed pool is loaded");
        let available = self
            .set
            .available(id)
            .expect("a viewed pool's chain is loaded");
        self.rows[id].view(pool, available)
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Expires every hold whose deadline has passed, across tenants, before any decision is made.
/// In a steady state this is one index probe that finds nothing: the sweeper keeps it so.
fn expire_due(
    tx: &Transaction<'_>,
    work: &mut Working,
    now: UnixMillis,
) -> Result<usize, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT tenant_id, id, status, holder, expires_at, lines, created_at, updated_at
         FROM holds WHERE status = 'held' AND expires_at <= ?1",
    )?;
    let mut due: Vec<(TenantId, HoldRow)> = Vec::new();
    let mut rows = stmt.query([now.0])?;
    while let Some(row) = rows.next()? {
        let tenant = TenantId(row.get(0)?);
        let lines: String = row.get(5)?;
        due.push((
            tenant,
            HoldRow {
                id: row.get(1)?,
                status: HoldStatus::Held,
                holder: row.get(3)?,
                expires_at: UnixMillis(row.get(4)?),
                lines: serde_json::from_str(&lines)?,
                created_at: UnixMillis(row.get(6)?),
                updated_at: UnixMillis(row.get(7)?),
            },
        ));
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
                row.get::<_, String>(0)?,
                row.get::<_, u16>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    if let Some((hash, status, body, created_at)) = previous
        && now.0 - created_at < IDEMPOTENCY_WINDOW_MS
    {
        if hash == idempotency.request_hash {
            return Ok(Reply::Rendered {
                response: StoredResponse { status, body },
                replayed: true,
            });
        }
        return Ok(Reply::Outcome(Err(Failure::IdempotencyMismatch)));
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
        } => place_hold(
            tx,
            work,
            tenant,
            actor,
            lines,
            now.plus(ttl),
            holder,
            confirm,
            now,
        ),
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
            let hold = HoldRow {
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
            Ok(Ok(Success::Swept {
                expired: expired_this_batch,
            }))
        }
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
    .execute(params![now.0 - IDEMPOTENCY_WINDOW_MS, MAX_IDEMPOTENCY_RECORDS_PER_SWEEP])?;
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

#[allow(clippy::too_many_arguments)]
fn append_ledger(
    tx: &Transaction<'_>,
    ledger_seq: &mut i64,
    tenant: &TenantId,
    pool_id: &PoolId,
    hold_id: Option<&str>,
    kind: LedgerKind,
    held_delta: i64,
    committed_delta: i64,
    capacity_after: i64,
    actor: Option<&str>,
    reason: Option<&str>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO ledger (tenant_id, pool_id, hold_id, kind, held_delta, committed_delta, capacity_after, actor, reason, at, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        tenant.0,
        pool_id.0,
        hold_id,
        kind.as_str(),
        held_delta,
        committed_delta,
        capacity_after,
        actor,
        reason,
        now.0,
        *ledger_seq + 1
    ])?;
    *ledger_seq += 1;
    Ok(())
}

fn invalid(field: &str, message: &str) -> Outcome {
    Err(Failure::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    })
}

fn create_pool(
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
        if !pools.load_chain(tx, tenant, parent)? {
            return Ok(invalid("parent_id", "no such pool"));
        }
        let depth = pools.set.chain(parent).map_or(0, |chain| chain.len());
        if depth >= allot_core::MAX_POOL_DEPTH {
            return Ok(invalid("parent_id", "pools nest at most 8 levels deep"));
        }
    }
    let limits = PoolLimits {
        capacity: new_pool.capacity,
        hard_limit_pct: new_pool.hard_limit_pct,
        soft_limit_pct: new_pool.soft_limit_pct,
    };
    if !limits.is_consistent() {
        return Ok(invalid("soft_limit_pct", "must not exceed hard_limit_pct"));
    }
    let id = PoolId(new_id("pool"));
    let metadata = new_pool.metadata.as_ref().map(serde_json::Value::to_string);
    tx.prepare_cached(
        "INSERT INTO pools (id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, held, committed,
             price_amount_minor, price_currency, metadata, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, ?9, ?10, ?11, 1, ?12, ?12)",
    )?
    .execute(params![
        id.0,
        tenant.0,
        parent_id.as_ref().map(|p| p.0.clone()),
        new_pool.name,
        new_pool.unit,
        limits.capacity.get(),
        limits.hard_limit_pct.get(),
        limits.soft_limit_pct.get(),
        new_pool.price.as_ref().map(|p| p.amount_minor),
        new_pool.price.as_ref().map(|p| p.currency.clone()),
        metadata,
        now.0,
    ])?;
    let core = Pool::new(id.clone(), parent_id, limits);
    append_ledger(
        tx,
        &mut work.ledger_seq,
        tenant,
        &id,
        None,
        LedgerKind::Adjust,
        0,
        0,
        limits.capacity.get(),
        actor,
        Some("created"),
        now,
    )?;
    pools.set.insert(core.clone());
    pools.missing.remove(&id);
    pools.rows.insert(
        id.clone(),
        PoolRow {
            core,
            name: new_pool.name,
            unit: new_pool.unit,
            price: new_pool.price,
            metadata,
            created_at: now,
            updated_at: now,
        },
    );
    Ok(Ok(Success::Pool(pools.view(&id))))
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
    if !pools.load_chain(tx, tenant, &id)? {
        return Ok(Err(Failure::NotFound {
            kind: "pool",
            id: id.0,
        }));
    }
    let current = pools.set.get(&id).expect("loaded above").limits;
    let limits = PoolLimits {
        capacity: patch.capacity.unwrap_or(current.capacity),
        hard_limit_pct: patch.hard_limit_pct.unwrap_or(current.hard_limit_pct),
        soft_limit_pct: patch.soft_limit_pct.unwrap_or(current.soft_limit_pct),
    };
    if limits != current {
        if let Err(refusal) = pools.set.adjust(&id, limits) {
            return Ok(Err(refusal.into()));
        }
        let reason = patch.reason.as_deref().unwrap_or("adjusted");
        append_ledger(
            tx,
            &mut work.ledger_seq,
            tenant,
            &id,
            None,
            LedgerKind::Adjust,
            0,
            0,
            limits.capacity.get(),
            actor,
            Some(reason),
            now,
        )?;
    }
    if let Some(active) = patch.active {
        pools.set.set_active(&id, active);
    }
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
    row.updated_at = now;
    pools.dirty.insert(id.clone());
    Ok(Ok(Success::Pool(pools.view(&id))))
}

#[allow(clippy::too_many_arguments)]
fn place_hold(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    lines: Vec<HoldLine>,
    expires_at: UnixMillis,
    holder: Option<String>,
    confirm: bool,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let pools = tenant_pools(&mut work.tenants, tenant);
    for line in &lines {
        if !pools.load_chain(tx, tenant, &line.pool_id)? {
            return Ok(Err(
                allot_core::Refusal::UnknownPool(line.pool_id.clone()).into()
            ));
        }
    }
    let placement = match pools.set.place(&lines, confirm) {
        Ok(placement) => placement,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let hold_id = new_id("hold");
    let status = if confirm {
        HoldStatus::Confirmed
    } else {
        HoldStatus::Held
    };
    let line_views: Vec<HoldLineView> = lines
        .iter()
        .map(|line| HoldLineView {
            pool_id: line.pool_id.0.clone(),
            quantity: line.quantity.get(),
            unit_price: pools.rows[&line.pool_id].price.clone(),
        })
        .collect();
    tx.prepare_cached(
        "INSERT INTO holds (id, tenant_id, status, holder, expires_at, lines, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        hold_id,
        tenant.0,
        status.as_str(),
        holder,
        expires_at.0,
        serde_json::to_string(&line_views)?,
        now.0
    ])?;
    let effect = if confirm {
        LineEffect::HOLD_AND_CONFIRM
    } else {
        LineEffect::HOLD
    };
    for line in &lines {
        let quantity = line.quantity.get();
        let capacity = pools
            .set
            .get(&line.pool_id)
            .expect("loaded above")
            .limits
            .capacity
            .get();
        append_ledger(
            tx,
            &mut work.ledger_seq,
            tenant,
            &line.pool_id,
            Some(&hold_id),
            LedgerKind::Hold,
            effect.held * quantity,
            effect.committed * quantity,
            capacity,
            actor,
            None,
            now,
        )?;
        pools.mark_chain_dirty(&line.pool_id);
    }
    let hold = HoldView {
        id: hold_id,
        status,
        holder,
        expires_at,
        lines: line_views,
        created_at: now,
        updated_at: now,
    };
    Ok(Ok(Success::Hold {
        hold,
        warnings: placement.warnings,
    }))
}

#[derive(Clone, Copy)]
enum Step {
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
    let decided: Result<(HoldStatus, LineEffect), TransitionError> = match step {
        Step::Confirm => hold.lifecycle().confirm(now),
        Step::Release => hold.lifecycle().release(now),
    };
    let (status, effect) = match decided {
        Ok(decided) => decided,
        Err(error) => return Ok(Err(error.into())),
    };
    let kind = match step {
        Step::Confirm => LedgerKind::Confirm,
        Step::Release => LedgerKind::Release,
    };
    transition(tx, work, tenant, actor, &hold, status, effect, kind, now)?;
    let hold = HoldRow {
        status,
        updated_at: now,
        ..hold
    };
    Ok(Ok(Success::Hold {
        hold: hold.view(now),
        warnings: Vec::new(),
    }))
}

/// Moves a hold to `status`: counters of every line's pool chain by `effect`, the hold row, and
/// one ledger entry per line.
#[allow(clippy::too_many_arguments)]
fn transition(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: &HoldRow,
    status: HoldStatus,
    effect: LineEffect,
    kind: LedgerKind,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let lines = hold.core_lines()?;
    let pools = tenant_pools(&mut work.tenants, tenant);
    for line in &lines {
        if !pools.load_chain(tx, tenant, &line.pool_id)? {
            return Err(StoreError::Corrupt(format!(
                "hold {} names a missing pool {}",
                hold.id, line.pool_id
            )));
        }
    }
    pools.set.apply(&lines, effect);
    for line in &lines {
        let quantity = line.quantity.get();
        let capacity = pools
            .set
            .get(&line.pool_id)
            .expect("loaded above")
            .limits
            .capacity
            .get();
        append_ledger(
            tx,
            &mut work.ledger_seq,
            tenant,
            &line.pool_id,
            Some(&hold.id),
            kind,
            effect.held * quantity,
            effect.committed * quantity,
            capacity,
            actor,
            None,
            now,
        )?;
        pools.mark_chain_dirty(&line.pool_id);
    }
    tx.prepare_cached(
        "UPDATE holds SET status = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![tenant.0, hold.id, status.as_str(), now.0])?;
    Ok(())
}
