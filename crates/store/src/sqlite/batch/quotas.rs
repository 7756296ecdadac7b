//! Bulk quota adjustments (seed 003) in the writer: one chunk of a job's quotas, each adjusted
//! through the core like any capacity change — a new capacity below what a member already uses is
//! that member's failure, never the chunk's — and the job advanced in the same transaction.

use super::{LedgerEntry, Tx, Working, jobs, tenant_pools};
use crate::StoreError;
use crate::command::{Outcome, QuotaChunk, Success};
use crate::jobs::{JobCounters, JobItem};
use crate::model::{LedgerKind, TenantId};
use allot_core::{PoolId, PoolLimits, UnixMillis};

pub(super) fn adjust_chunk(
    tx: &rusqlite::Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    chunk: QuotaChunk,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let job = match jobs::claim(tx, tenant, &chunk.progress)? {
        Ok(job) => job,
        Err(failure) => return Ok(Err(failure)),
    };
    let mut counters = JobCounters::default();
    let mut items = Vec::new();
    for (offset, target) in chunk.targets.iter().enumerate() {
        counters.done += 1;
        let seq = chunk.first_seq + offset as i64;
        let mut fail = |reason: String| {
            items.push(JobItem {
                seq,
                item: target.label.clone(),
                outcome: "failed".to_owned(),
                reason,
            });
        };
        let Some(pool_id) = &target.pool_id else {
            counters.failed += 1;
            fail("no quota to adjust".to_owned());
            continue;
        };
        let pool_id = PoolId(pool_id.clone());
        let pools = tenant_pools(&mut work.tenants, tenant);
        if !pools.load_chain(&mut Tx(tx), tenant, &pool_id)? {
            counters.failed += 1;
            fail("the quota's pool no longer exists".to_owned());
            continue;
        }
        let current = pools.set.get(&pool_id).expect("loaded above").limits;
        let capacity =
            match allot_engine::rules::quotas::new_capacity(chunk.change, current.capacity) {
                Ok(capacity) => capacity,
                Err(reason) => {
                    counters.failed += 1;
                    fail(reason);
                    continue;
                }
            };
        let limits = PoolLimits {
            capacity,
            ..current
        };
        if limits == current {
            counters.skipped += 1;
            continue;
        }
        if let Err(refusal) = pools.set.adjust(&pool_id, limits) {
            counters.failed += 1;
            fail(refusal.to_string());
            continue;
        }
        work.appends.ledger(LedgerEntry {
            tenant,
            pool_id: &pool_id,
            hold_id: None,
            kind: LedgerKind::Adjust,
            held_delta: 0,
            committed_delta: 0,
            capacity_after: capacity.get(),
            actor,
            reason: Some(&chunk.reason),
            at: now,
        });
        pools.dirty.insert(pool_id.clone());
        pools.freed.insert(pool_id.clone());
        pools.lower_baseline(&pool_id);
        counters.created += 1;
    }
    let job = jobs::advance(tx, tenant, &job, &chunk.progress, counters, &items, now)?;
    Ok(Ok(Success::Job(job)))
}
