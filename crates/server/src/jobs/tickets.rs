//! Bulk ticket issuance for one event's attendees, chunk by chunk, pipelined through the writer.

use super::params::GenerateParams;
use super::step::{JobFailed, Step, StepError, finish};
use crate::state::AppState;
use crate::writer::Pending;
use allot_core::jobs::{ChunkPlan, next_after};
use allot_store::jobs::{JobFailure, JobProgress, JobStatus, JobView};
use allot_store::tickets::{TicketCommand, TicketSuccess};
use allot_store::{Command, Envelope, Failure, Reply, Success, TenantId};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

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
            let (tenant, event_id, cursor) = (
                tenant.clone(),
                params.event_id.clone(),
                cursor.map(str::to_owned),
            );
            let ids = state
                .read(move |store| {
                    store.attendee_ids_after(&tenant, &event_id, cursor.as_deref(), want)
                })
                .await?;
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
    Fail(JobFailed),
}

fn chunk_outcome(reply: Reply) -> Chunk {
    match reply {
        Reply::Outcome(Ok(Success::Tickets(TicketSuccess::Chunk(_)))) => Chunk::Landed,
        Reply::Outcome(Err(Failure::Job(
            JobFailure::Stale { .. } | JobFailure::Finished { .. },
        ))) => Chunk::Stale,
        Reply::Outcome(Err(Failure::NotFound { kind: "pool", .. })) => {
            Chunk::Fail(JobFailed::EventGone)
        }
        Reply::Outcome(Err(failure)) => Chunk::Fail(JobFailed::Refused(failure)),
        other => Chunk::Fail(JobFailed::Unexpected(Box::new(other))),
    }
}

/// Waits for a queued chunk; `Some(step)` when the job cannot go on from here (the step says
/// whether to re-read it or to fail it). Anything still queued behind it is drained first.
async fn settle(
    state: &AppState,
    pending: Pending,
    behind: &mut Option<Pending>,
) -> Result<Option<Step>, StepError> {
    let outcome = chunk_outcome(pending.answer().await?);
    if matches!(outcome, Chunk::Landed) {
        state.metrics.job_chunk();
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
pub(super) async fn generate_step(
    state: &AppState,
    tenant: &TenantId,
    job: &JobView,
    until: Instant,
    stop: &CancellationToken,
) -> Result<Step, StepError> {
    let params: GenerateParams = match serde_json::from_value(job.params.clone()) {
        Ok(params) => params,
        Err(error) => return Ok(Step::Fail(JobFailed::UnreadableParams(error))),
    };
    let mut cursor = job.cursor.clone();
    let mut done = job.counters.done;
    let mut in_flight: Option<Pending> = None;
    loop {
        if stop.is_cancelled() || Instant::now() >= until {
            // Shutting down, or the turn is over: let the queued chunk land (a restart, or the
            // next turn, resumes after it), and pass on what became of it.
            if let Some(pending) = in_flight.take()
                && let Some(step) = settle(state, pending, &mut None).await?
            {
                return Ok(step);
            }
            return Ok(Step::Continue);
        }
        let (ids, last) = next_chunk(state, tenant, &params, cursor.as_deref(), done).await?;
        if ids.is_empty() {
            if let Some(pending) = in_flight.take()
                && let Some(step) = settle(state, pending, &mut None).await?
            {
                return Ok(step);
            }
            let (tenant_id, job_id) = (tenant.clone(), job.id.clone());
            if !state
                .read(move |store| store.get_job(&tenant_id, &job_id))
                .await?
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
            && let Some(step) = settle(state, previous, &mut in_flight).await?
        {
            return Ok(step);
        }
        if last {
            let pending = in_flight.take().expect("queued just above");
            return Ok(settle(state, pending, &mut None)
                .await?
                .unwrap_or(Step::Continue));
        }
    }
}
