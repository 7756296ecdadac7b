//! Bulk quota adjustments as a job: every member of a plan, or a list of subjects,
//! moved to a capacity or by a delta, in chunks through the writer. A member that cannot take the
//! change (a new capacity below what it already uses) is reported and the rest go on; a restart
//! resumes from the job's cursor.

use super::params::AdjustParams;
use super::step::{JobFailed, Step, StepError, finish, submit};
use crate::state::AppState;
use allot_core::jobs::{QUOTA_CHUNK, next_after};
use allot_store::command::{QuotaChunk, QuotaTarget};
use allot_store::jobs::{JobFailure, JobProgress, JobStatus, JobView};
use allot_store::{Command, Failure, Reply, Success, TenantId};

/// One chunk: the next quotas after the job's cursor, adjusted in the writer with the job's
/// progress.
pub(crate) async fn step(
    state: &AppState,
    tenant: &TenantId,
    job: &JobView,
) -> Result<Step, StepError> {
    let params: AdjustParams = match serde_json::from_value(job.params.clone()) {
        Ok(params) => params,
        Err(error) => return Ok(Step::Fail(JobFailed::UnreadableParams(error))),
    };
    let Some(change) = params.change() else {
        return Ok(Step::Fail(JobFailed::NoChange));
    };
    let (targets, next_cursor, exhausted) = match &params.subjects {
        Some(subjects) => {
            let (chunk, exhausted) = next_after(subjects, job.cursor.as_deref(), QUOTA_CHUNK);
            let (tenant_id, plan_id, subjects) =
                (tenant.clone(), params.plan_id.clone(), chunk.to_vec());
            let found = state
                .read(move |store| {
                    subjects
                        .into_iter()
                        .map(|subject| {
                            let pools =
                                store.subject_pools(&tenant_id, &subject, plan_id.as_deref())?;
                            Ok((subject, pools))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
            let mut targets = Vec::new();
            for (subject, pools) in found {
                if pools.is_empty() {
                    targets.push(QuotaTarget {
                        label: subject.clone(),
                        pool_id: None,
                    });
                }
                for (pool_id, plan_id) in pools {
                    targets.push(QuotaTarget {
                        label: format!("{subject} ({plan_id})"),
                        pool_id: Some(pool_id),
                    });
                }
            }
            (targets, chunk.last().cloned(), exhausted)
        }
        None => {
            let (tenant_id, plan_id, cursor) = (
                tenant.clone(),
                params.plan_id.clone().unwrap_or_default(),
                job.cursor.clone(),
            );
            let members = state
                .read(move |store| {
                    store.plan_members_after(&tenant_id, &plan_id, cursor.as_deref(), QUOTA_CHUNK)
                })
                .await?;
            let exhausted = members.len() < QUOTA_CHUNK;
            let next = members.last().map(|(pool_id, _)| pool_id.clone());
            let targets = members
                .into_iter()
                .map(|(pool_id, subject)| QuotaTarget {
                    label: subject,
                    pool_id: Some(pool_id),
                })
                .collect();
            (targets, next, exhausted)
        }
    };
    if targets.is_empty() {
        finish(state, tenant, &job.id, JobStatus::Done, None).await?;
        return Ok(Step::Continue);
    }
    let command = Command::AdjustQuotas(QuotaChunk {
        progress: JobProgress {
            job_id: job.id.clone(),
            expected_cursor: job.cursor.clone(),
            next_cursor,
            last: exhausted,
        },
        first_seq: job.counters.done,
        targets,
        change,
        reason: params.reason.clone(),
    });
    match submit(state, tenant, command).await? {
        Reply::Outcome(Ok(Success::Job(_))) => {
            state.metrics.job_chunk();
            Ok(Step::Continue)
        }
        // Already applied (a retry whose first answer was lost) or finished meanwhile: re-read.
        Reply::Outcome(Err(Failure::Job(
            JobFailure::Stale { .. } | JobFailure::Finished { .. },
        ))) => Ok(Step::Continue),
        Reply::Outcome(Err(failure)) => Ok(Step::Fail(JobFailed::Refused(failure))),
        other => Ok(Step::Fail(JobFailed::Unexpected(Box::new(other)))),
    }
}
