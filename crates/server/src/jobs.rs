//! The job worker: runs queued and running jobs, one chunk at a time, each chunk one command
//! through the writer. It starts with the server, so a job interrupted by a stop or a crash is
//! resumed from its stored cursor; a chunk that did land before the crash is refused as stale
//! when sent again (see `allot_store::jobs`), so nothing is done twice.
//!
//! Failures of the write path (a busy or unavailable store) are retried with exponential
//! backoff; a job whose chunks keep failing is marked failed with the reason.

use crate::state::AppState;
use crate::writer::WriteError;
use allot_store::jobs::{JobCommand, JobFailure, JobProgress, JobStatus, JobView};
use allot_store::tickets::{TicketCommand, TicketSuccess};
use allot_store::{Command, Envelope, Failure, Reply, Success, TenantId};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Bulk ticket issuance for one event.
pub const KIND_GENERATE_TICKETS: &str = "tickets.generate";

/// How often the worker looks for jobs when nobody woke it.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Retries of a transient failure (store busy) before the job is failed.
const MAX_TRANSIENT_RETRIES: u32 = 12;
/// Retries of any other failure of a chunk before the job is failed.
const MAX_OTHER_RETRIES: u32 = 3;

/// The parameters of a `tickets.generate` job, as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateParams {
    pub event_id: String,
    /// Only these attendees (sorted, without repeats); all of the event's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendee_ids: Option<Vec<String>>,
    pub skip_existing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    pub chunk: usize,
}

enum Step {
    /// A chunk landed (or the job finished): go on.
    Continue,
    /// The job cannot go on: fail it with this reason.
    Fail(String),
}

struct StepError {
    transient: bool,
    message: String,
}

impl From<allot_store::StoreError> for StepError {
    fn from(error: allot_store::StoreError) -> Self {
        StepError {
            transient: error.is_transient(),
            message: error.to_string(),
        }
    }
}

impl From<WriteError> for StepError {
    fn from(error: WriteError) -> Self {
        StepError {
            transient: matches!(error, WriteError::Transient),
            message: error.to_string(),
        }
    }
}

/// Runs jobs until `stop`: every active job on start, then whenever woken (or every second).
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        match state.store.active_jobs() {
            Ok(jobs) => {
                for (tenant, id) in jobs {
                    if stop.is_cancelled() {
                        return;
                    }
                    run_job(&state, &tenant, &id, &stop).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list jobs; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = state.job_wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(7)).min(5_000))
}

async fn run_job(state: &AppState, tenant: &TenantId, id: &str, stop: &CancellationToken) {
    let mut attempt = 0u32;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let step = match state.store.get_job(tenant, id) {
            Ok(None) => return,
            Ok(Some(job)) if job.status.is_finished() => return,
            Ok(Some(job)) => match job.kind.as_str() {
                KIND_GENERATE_TICKETS => generate_step(state, tenant, &job).await,
                other => Ok(Step::Fail(format!("unknown job kind {other}"))),
            },
            Err(error) => Err(StepError::from(error)),
        };
        match step {
            Ok(Step::Continue) => attempt = 0,
            Ok(Step::Fail(reason)) => {
                tracing::warn!(job = id, %reason, "job failed");
                if finish(state, tenant, id, JobStatus::Failed, Some(reason))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(error) => {
                attempt += 1;
                let limit = if error.transient {
                    MAX_TRANSIENT_RETRIES
                } else {
                    MAX_OTHER_RETRIES
                };
                if attempt > limit {
                    let reason = format!("gave up after {limit} retries: {}", error.message);
                    tracing::error!(job = id, %reason, "job failed");
                    if finish(state, tenant, id, JobStatus::Failed, Some(reason))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                tracing::warn!(job = id, attempt, error = %error.message, "job step failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff(attempt)) => {}
                }
            }
        }
    }
}

async fn submit(
    state: &AppState,
    tenant: &TenantId,
    command: Command,
) -> Result<Reply, WriteError> {
    state
        .writer
        .submit(Envelope {
            tenant: tenant.clone(),
            actor: None,
            command,
            idempotency: None,
        })
        .await
}

async fn finish(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    status: JobStatus,
    error: Option<String>,
) -> Result<(), WriteError> {
    let command = Command::Job(JobCommand::Finish {
        job_id: id.to_owned(),
        status,
        error,
    });
    submit(state, tenant, command).await.map(|_| ())
}

/// One chunk of a `tickets.generate` job: the next attendees after the cursor, their tokens
/// prepared here (the key stays in the server), decided and written by the writer.
async fn generate_step(
    state: &AppState,
    tenant: &TenantId,
    job: &JobView,
) -> Result<Step, StepError> {
    let params: GenerateParams = match serde_json::from_value(job.params.clone()) {
        Ok(params) => params,
        Err(error) => return Ok(Step::Fail(format!("unreadable parameters: {error}"))),
    };
    let remaining = params
        .limit
        .map_or(i64::MAX, |limit| limit - job.counters.done);
    let want = (params.chunk.max(1) as i64).min(remaining.max(0)) as usize;
    let (ids, exhausted) = match &params.attendee_ids {
        Some(list) => {
            let start = job
                .cursor
                .as_deref()
                .map_or(0, |cursor| list.partition_point(|id| id.as_str() <= cursor));
            let end = (start + want).min(list.len());
            (list[start..end].to_vec(), end == list.len())
        }
        None if want == 0 => (Vec::new(), true),
        None => {
            let ids = state.store.attendee_ids_after(
                tenant,
                &params.event_id,
                job.cursor.as_deref(),
                want,
            )?;
            let exhausted = ids.len() < want;
            (ids, exhausted)
        }
    };
    if ids.is_empty() {
        finish(state, tenant, &job.id, JobStatus::Done, None).await?;
        return Ok(Step::Continue);
    }
    let last = exhausted || ids.len() as i64 >= remaining;
    let progress = JobProgress {
        job_id: job.id.clone(),
        expected_cursor: job.cursor.clone(),
        next_cursor: ids.last().cloned(),
        last,
    };
    let items = state.tickets.prepare(ids);
    let command = Command::Tickets(TicketCommand::IssueChunk {
        event_id: params.event_id.clone(),
        progress,
        skip_existing: params.skip_existing,
        items,
    });
    match submit(state, tenant, command).await? {
        Reply::Outcome(Ok(Success::Tickets(TicketSuccess::Chunk(_)))) => Ok(Step::Continue),
        // Already applied (a retry whose first answer was lost) or finished meanwhile: re-read.
        Reply::Outcome(Err(Failure::Job(
            JobFailure::Stale { .. } | JobFailure::Finished { .. },
        ))) => Ok(Step::Continue),
        Reply::Outcome(Err(Failure::NotFound { kind: "pool", .. })) => {
            Ok(Step::Fail("the event no longer exists".into()))
        }
        Reply::Outcome(Err(failure)) => Ok(Step::Fail(failure.to_string())),
        other => Ok(Step::Fail(format!(
            "unexpected answer to a chunk: {other:?}"
        ))),
    }
}

/// Items per second since the job was created (the worker starts on it at once).
pub fn rate_per_second(job: &JobView) -> f64 {
    if job.counters.done == 0 {
        return 0.0;
    }
    let end = job.finished_at.unwrap_or(job.updated_at);
    let millis = (end.0 - job.created_at.0).max(1);
    (job.counters.done as f64 * 1000.0 / millis as f64 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_five_seconds() {
        let waits: Vec<u128> = (1..=9).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(
            waits,
            vec![100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]
        );
    }
}
