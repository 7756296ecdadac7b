//! The job worker: runs queued and running jobs, one chunk at a time, each chunk one command
//! through the writer. It starts with the server, so a job interrupted by a stop or a crash is
//! resumed from its stored cursor; a chunk that did land before the crash is refused as stale
//! when sent again (see `allot_store::jobs`), so nothing is done twice.
//!
//! Active jobs take turns: each runs for `JOB_TURN`, then the next one does, so one tenant's
//! large job does not hold back another tenant's small one.
//!
//! Failures of the write path (a busy or unavailable store) are retried with exponential
//! backoff; a job whose chunks keep failing is marked failed with the reason.
//!
//! - `params`: each kind's name and stored parameters (what routes make and steps read back);
//! - `step`: what steps share — how one ends, why a job fails, the way to the writer;
//! - `tickets`: bulk ticket issuance; `quotas`: bulk quota adjustments.
//!
//! Adding a kind: a `KIND_…` name and a parameters struct in `params`, stored with the job
//! (`JobCommand::Create`); a module with a step that reads the next chunk after the job's cursor
//! and sends one command for it; and, in the store, that command's writer side calling
//! `jobs::claim` first and `jobs::advance` last, so the chunk and the job's progress commit
//! together. Then one arm in `run_job`. The chunk planning itself is `allot_core::jobs`.

pub mod params;
mod quotas;
mod step;
mod tickets;

use crate::state::AppState;
use allot_core::jobs::retry_backoff;
use allot_store::TenantId;
use allot_store::jobs::JobStatus;
use params::{KIND_ADJUST_QUOTAS, KIND_GENERATE_TICKETS};
use std::time::{Duration, Instant};
use step::{JobFailed, Step, StepError, finish};
use tokio_util::sync::CancellationToken;

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

/// Runs jobs until `stop`: every active job on start, then whenever woken (or every second).
/// Each active job gets a turn of `JOB_TURN` in order; the rounds go on while any job has
/// work left.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        let mut unfinished = false;
        match state.read(|store| store.active_jobs()).await {
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
        let (tenant_id, job_id) = (tenant.clone(), id.to_owned());
        let step = match state
            .read(move |store| store.get_job(&tenant_id, &job_id))
            .await
        {
            Ok(None) => return Turn::Over,
            Ok(Some(job)) if job.status.is_finished() => return Turn::Over,
            Ok(Some(job)) => match job.kind.as_str() {
                KIND_GENERATE_TICKETS => {
                    tickets::generate_step(state, tenant, &job, until, stop).await
                }
                KIND_ADJUST_QUOTAS => quotas::step(state, tenant, &job).await,
                other => Ok(Step::Fail(JobFailed::UnknownKind(other.to_owned()))),
            },
            Err(error) => Err(StepError::from(error)),
        };
        match step {
            Ok(Step::Continue) if Instant::now() >= until => return Turn::Unfinished,
            Ok(Step::Continue) => attempt = 0,
            Ok(Step::Fail(failed)) => {
                let reason = failed.to_string();
                state.metrics.job_failure();
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
                    let reason = JobFailed::GaveUp {
                        retries: limit,
                        last: error,
                    }
                    .to_string();
                    state.metrics.job_failure();
                    tracing::error!(job = id, %reason, "job failed");
                    if finish(state, tenant, id, JobStatus::Failed, Some(reason))
                        .await
                        .is_err()
                    {
                        return Turn::Over;
                    }
                    continue;
                }
                tracing::warn!(job = id, attempt, %error, "job step failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return Turn::Over,
                    _ = tokio::time::sleep(retry_backoff(attempt)) => {}
                }
            }
        }
    }
}
