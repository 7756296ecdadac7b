//! The job worker: runs queued and running jobs, one chunk at a time, each chunk one command
//! through the writer. It starts with the server, so a job interrupted by a stop or a crash is
//! resumed from its stored cursor; a chunk that did land before the crash is refused as stale
//! when sent again (see `allot_store::jobs`), so nothing is done twice.
//!
//! Active jobs take turns: each runs for [`JOB_TURN`], then the next one does, so one tenant's
//! large job does not hold back another tenant's small one.
//!
//! Failures of the write path (a busy or unavailable store) are retried with exponential
//! backoff; a job whose chunks keep failing is marked failed with the reason.
//!
//! Adding a kind (bulk quota adjustments, say): a `KIND_…` name and a parameters struct stored
//! with the job (`JobCommand::Create`); a step function here that reads the next chunk after the
//! job's cursor and sends one command for it; and, in the store, that command's writer side
//! calling `jobs::claim` first and `jobs::advance` last (crates/store/src/sqlite/batch/jobs.rs),
//! so the chunk and the job's progress commit together. Then one arm in `run_job`.

use crate::state::AppState;
use crate::writer::{Pending, WriteError};
use allot_core::jobs::{ChunkPlan, next_after, retry_backoff};
use allot_store::jobs::{JobCommand, JobFailure, JobProgress, JobStatus, JobView};
use allot_store::tickets::{TicketCommand, TicketSuccess};
use allot_store::{Command, Envelope, Failure, Reply, Success, TenantId};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Bulk ticket issuance for one event.
pub const KIND_GENERATE_TICKETS: &str = "tickets.generate";

/// How often the worker looks for jobs when nobody woke it.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a job runs before the next active job takes its turn. Long enough that a turn
/// moves thousands of tickets through the pipelined writer, short enough that a small job
/// queued behind a large one starts within a fraction of a second.
const JOB_TURN: Duration = Duration::from_millis(200);
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

pub(crate) enum Step {
    /// A chunk landed (or the job finished): go on.
    Continue,
    /// The job cannot go on: fail it with this reason.
    Fail(String),
}

pub(crate) struct StepError {
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
/// Each active job gets a turn of [`JOB_TURN`] in order; the rounds go on while any job has
/// work left.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        let mut unfinished = false;
        match state.store.active_jobs() {
            Ok(jobs) => {
                for (tenant, id) in jobs {
                    if stop.is_cancelled() {
                        return;
                    }
                    let until = Instant::now() + JOB_TURN;
                    if run_job(&state, &tenant, &id, until, &stop).await == Turn::Unfinished {
                        unfinished = true;
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list jobs; retrying"),
        }
        if unfinished {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = state.job_wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}

/// How a job's turn ended.
#[derive(Debug, PartialEq, Eq)]
enum Turn {
    /// Finished, failed, gone, or the worker is stopping.
    Over,
    /// Its time was up with work left: it goes on in the next round.
    Unfinished,
}

/// Runs one job's turn: steps until it is over or `until` has passed.
async fn run_job(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    until: Instant,
    stop: &CancellationToken,
) -> Turn {
    let mut attempt = 0u32;
    loop {
        if stop.is_cancelled() {
            return Turn::Over;
        }
        let step = match state.store.get_job(tenant, id) {
            Ok(None) => return Turn::Over,
            Ok(Some(job)) if job.status.is_finished() => return Turn::Over,
            Ok(Some(job)) => match job.kind.as_str() {
                KIND_GENERATE_TICKETS => generate_step(state, tenant, &job, until, stop).await,
                crate::quota_jobs::KIND_ADJUST_QUOTAS => {
                    crate::quota_jobs::step(state, tenant, &job).await
                }
                other => Ok(Step::Fail(format!("unknown job kind {other}"))),
            },
            Err(error) => Err(StepError::from(error)),
        };
        match step {
            Ok(Step::Continue) if Instant::now() >= until => return Turn::Unfinished,
            Ok(Step::Continue) => attempt = 0,
            Ok(Step::Fail(reason)) => {
                tracing::warn!(job = id, %reason, "job failed");
                if finish(state, tenant, id, JobStatus::Failed, Some(reason))
                    .await
                    .is_err()
                {
                    // The store refuses writes: the next round (after the idle poll) tries again.
                    return Turn::Over;
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
                        return Turn::Over;
                    }
                    continue;
                }
                tracing::warn!(job = id, attempt, error = %error.message, "job step failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return Turn::Over,
                    _ = tokio::time::sleep(retry_backoff(attempt)) => {}
                }
            }
        }
    }
}

pub(crate) async fn submit(
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

pub(crate) async fn finish(
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

/// The next chunk of a `tickets.generate` job after `cursor`: its attendees, and whether it is
/// the job's last.
async fn next_chunk(
    state: &AppState,
    tenant: &TenantId,
    params: &GenerateParams,
    cursor: Option<&str>,
    done: i64,
) -> Result<(Vec<String>, bool), StepError> {
    let plan = ChunkPlan::next(params.chunk, params.limit, done);
    let want = plan.want;
    let (ids, exhausted) = match &params.attendee_ids {
        Some(list) => {
            let (slice, exhausted) = next_after(list, cursor, want);
            (slice.to_vec(), exhausted)
        }
        None if want == 0 => (Vec::new(), true),
        None => {
            let ids = state
                .store
                .attendee_ids_after(tenant, &params.event_id, cursor, want)?;
            let exhausted = ids.len() < want;
            (ids, exhausted)
        }
    };
    let last = plan.is_last(ids.len(), exhausted);
    Ok((ids, last))
}

/// What became of one chunk.
enum Chunk {
    Landed,
    /// Already applied (a retry whose first answer was lost), queued behind a chunk that did
    /// not land, or the job finished meanwhile: re-read the job.
    Stale,
    Fail(String),
}

fn chunk_outcome(reply: Reply) -> Chunk {
    match reply {
        Reply::Outcome(Ok(Success::Tickets(TicketSuccess::Chunk(_)))) => Chunk::Landed,
        Reply::Outcome(Err(Failure::Job(
            JobFailure::Stale { .. } | JobFailure::Finished { .. },
        ))) => Chunk::Stale,
        Reply::Outcome(Err(Failure::NotFound { kind: "pool", .. })) => {
            Chunk::Fail("the event no longer exists".into())
        }
        Reply::Outcome(Err(failure)) => Chunk::Fail(failure.to_string()),
        other => Chunk::Fail(format!("unexpected answer to a chunk: {other:?}")),
    }
}

/// Waits for a queued chunk; `Some(step)` when the job cannot go on from here (the step says
/// whether to re-read it or to fail it). Anything still queued behind it is drained first.
async fn settle(pending: Pending, behind: &mut Option<Pending>) -> Result<Option<Step>, StepError> {
    let outcome = chunk_outcome(pending.answer().await?);
    if matches!(outcome, Chunk::Landed) {
        return Ok(None);
    }
    if let Some(behind) = behind.take() {
        // It claimed a cursor that never came: it is refused as stale, or failed likewise.
        let _ = behind.answer().await;
    }
    Ok(Some(match outcome {
        Chunk::Fail(reason) => Step::Fail(reason),
        _ => Step::Continue,
    }))
}

/// Runs a `tickets.generate` job from its stored cursor until it is done, a chunk does not
/// land, or its turn ends at `until`. Chunks are pipelined: the next one is read, its tokens made and queued while the
/// writer applies the one before, so the writer never waits for the worker. Each chunk claims
/// the cursor the one before it leaves, so a chunk behind one that did not land is refused as
/// stale, and the caller resumes from the stored cursor.
async fn generate_step(
    state: &AppState,
    tenant: &TenantId,
    job: &JobView,
    until: Instant,
    stop: &CancellationToken,
) -> Result<Step, StepError> {
    let params: GenerateParams = match serde_json::from_value(job.params.clone()) {
        Ok(params) => params,
        Err(error) => return Ok(Step::Fail(format!("unreadable parameters: {error}"))),
    };
    let mut cursor = job.cursor.clone();
    let mut done = job.counters.done;
    let mut in_flight: Option<Pending> = None;
    loop {
        if stop.is_cancelled() || Instant::now() >= until {
            // Shutting down, or the turn is over: let the queued chunk land (a restart, or the
            // next turn, resumes after it), and pass on what became of it.
            if let Some(pending) = in_flight.take()
                && let Some(step) = settle(pending, &mut None).await?
            {
                return Ok(step);
            }
            return Ok(Step::Continue);
        }
        let (ids, last) = next_chunk(state, tenant, &params, cursor.as_deref(), done).await?;
        if ids.is_empty() {
            if let Some(pending) = in_flight.take()
                && let Some(step) = settle(pending, &mut None).await?
            {
                return Ok(step);
            }
            if !state
                .store
                .get_job(tenant, &job.id)?
                .is_some_and(|job| job.status.is_finished() || job.cursor != cursor)
            {
                finish(state, tenant, &job.id, JobStatus::Done, None).await?;
            }
            return Ok(Step::Continue);
        }
        let progress = JobProgress {
            job_id: job.id.clone(),
            expected_cursor: cursor.clone(),
            next_cursor: ids.last().cloned(),
            last,
        };
        cursor = progress.next_cursor.clone();
        done += ids.len() as i64;
        let items = state.tickets.prepare(ids);
        let command = Command::Tickets(TicketCommand::IssueChunk {
            event_id: params.event_id.clone(),
            progress,
            skip_existing: params.skip_existing,
            items,
        });
        let queued = state
            .writer
            .enqueue(Envelope {
                tenant: tenant.clone(),
                actor: None,
                command,
                idempotency: None,
            })
            .await?;
        if let Some(previous) = in_flight.replace(queued)
            && let Some(step) = settle(previous, &mut in_flight).await?
        {
            return Ok(step);
        }
        if last {
            let pending = in_flight.take().expect("queued just above");
            return Ok(settle(pending, &mut None).await?.unwrap_or(Step::Continue));
        }
    }
}

/// Items per second since the job was created (the worker starts on it at once).
pub fn rate_per_second(job: &JobView) -> f64 {
    allot_core::jobs::rate_per_second(
        job.counters.done,
        job.created_at,
        job.finished_at.unwrap_or(job.updated_at),
    )
}
