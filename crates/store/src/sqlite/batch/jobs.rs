//! Jobs in the writer: creating and finishing them, and the claim-and-advance every chunk makes
//! in its own transaction (see `crate::jobs` for why that makes each chunk land exactly once).

use super::super::ticket_reads::load_job;
use super::new_id;
use crate::StoreError;
use crate::command::{Failure, Outcome, Success};
use crate::jobs::{JobCommand, JobCounters, JobItem, JobProgress, JobStatus, JobView};
use crate::model::TenantId;
use allot_core::UnixMillis;
use allot_engine::rules::jobs as job_rules;
use rusqlite::{Transaction, params};

pub(super) fn execute(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    command: JobCommand,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    match command {
        JobCommand::Create {
            kind,
            params: job_params,
            total,
        } => {
            let id = new_id("job");
            tx.prepare_cached(
                "INSERT INTO jobs (tenant_id, id, kind, status, params, total, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?6)",
            )?
            .execute(params![tenant.0, id, kind, job_params.to_string(), total, now.0])?;
            let job = load_job(tx, tenant, &id)?
                .ok_or_else(|| StoreError::Other("a job just inserted is missing".into()))?;
            Ok(Ok(Success::Job(job)))
        }
        JobCommand::Finish {
            job_id,
            status,
            error,
        } => {
            if let Err(failure) = job_rules::check_finish(load_job(tx, tenant, &job_id)?, &job_id) {
                return Ok(Err(failure));
            }
            // A job that ends well looked at everything there was: its total is what it did.
            tx.prepare_cached(
                "UPDATE jobs SET status = ?3, error = ?4, finished_at = ?5, updated_at = ?5,
                     started_at = COALESCE(started_at, ?5),
                     total = CASE WHEN ?3 = 'done' THEN done ELSE total END
                 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.0, job_id, status.as_str(), error, now.0])?;
            let job = load_job(tx, tenant, &job_id)?
                .ok_or_else(|| StoreError::Other("a job just updated is missing".into()))?;
            Ok(Ok(Success::Job(job)))
        }
    }
}

/// The job a chunk belongs to, if the chunk may still be applied: the job is not finished and
/// its cursor is where the chunk starts.
pub(super) fn claim(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    progress: &JobProgress,
) -> Result<Result<JobView, Failure>, StoreError> {
    Ok(job_rules::claim(
        load_job(tx, tenant, &progress.job_id)?,
        progress,
    ))
}

/// Moves a claimed job past its chunk: cursor, counters, skipped and failed items, and `done`
/// when the chunk was the last. Same transaction as the chunk's own writes.
pub(super) fn advance(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    job: &JobView,
    progress: &JobProgress,
    delta: JobCounters,
    items: &[JobItem],
    now: UnixMillis,
) -> Result<JobView, StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO job_failures (tenant_id, job_id, seq, item, outcome, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for item in items {
        insert.execute(params![
            tenant.0,
            job.id,
            item.seq,
            item.item,
            item.outcome,
            item.reason,
            now.0
        ])?;
    }
    let status = if progress.last {
        JobStatus::Done
    } else {
        JobStatus::Running
    };
    tx.prepare_cached(
        "UPDATE jobs SET cursor = ?3, status = ?4, done = done + ?5, created = created + ?6,
             skipped = skipped + ?7, failed = failed + ?8, started_at = COALESCE(started_at, ?9),
             updated_at = ?9, finished_at = CASE WHEN ?4 = 'done' THEN ?9 ELSE NULL END,
             total = CASE WHEN ?4 = 'done' THEN done + ?5 ELSE MAX(total, done + ?5) END
         WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![
        tenant.0,
        job.id,
        progress.next_cursor,
        status.as_str(),
        delta.done,
        delta.created,
        delta.skipped,
        delta.failed,
        now.0
    ])?;
    load_job(tx, tenant, &job.id)?
        .ok_or_else(|| StoreError::Other("a job just advanced is missing".into()))
}
