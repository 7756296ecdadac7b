//! Bulk quota adjustments (seed 003) as a job: every member of a plan, or a list of subjects,
//! moved to a capacity or by a delta, in chunks through the writer. A member that cannot take the
//! change (a new capacity below what it already uses) is reported and the rest go on; a restart
//! resumes from the job's cursor.

use crate::jobs::{Step, StepError, finish, submit};
use crate::state::AppState;
use allot_core::jobs::{QUOTA_CHUNK, next_after};
use allot_core::quotas::Adjustment;
use allot_store::command::{QuotaChange, QuotaChunk, QuotaTarget};
use allot_store::jobs::{JobFailure, JobProgress, JobStatus, JobView};
use allot_store::{Command, Failure, Reply, Success, TenantId};
use serde::{Deserialize, Serialize};

pub const KIND_ADJUST_QUOTAS: &str = "quotas.adjust";

/// The parameters of a `quotas.adjust` job, as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdjustParams {
    /// Every member of this plan (or, with `subjects`, those subjects' quotas from this plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// These subjects (sorted, without repeats): each of their quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    pub reason: String,
}

impl AdjustParams {
    fn change(&self) -> Option<QuotaChange> {
        match Adjustment::from_request(self.capacity, self.delta).ok()? {
            Adjustment::SetTo(capacity) => Some(QuotaChange::Capacity(capacity)),
            Adjustment::Add(delta) => Some(QuotaChange::Delta(delta)),
        }
    }
}

/// One chunk: the next quotas after the job's cursor, adjusted in the writer with the job's
/// progress.
pub(crate) async fn step(
    state: &AppState,
    tenant: &TenantId,
    job: &JobView,
) -> Result<Step, StepError> {
    let params: AdjustParams = match serde_json::from_value(job.params.clone()) {
        Ok(params) => params,
        Err(error) => return Ok(Step::Fail(format!("unreadable parameters: {error}"))),
    };
    let Some(change) = params.change() else {
        return Ok(Step::Fail("give capacity or delta".into()));
    };
    let (targets, next_cursor, exhausted) = match &params.subjects {
        Some(subjects) => {
            let (chunk, exhausted) = next_after(subjects, job.cursor.as_deref(), QUOTA_CHUNK);
            let mut targets = Vec::new();
            for subject in chunk {
                let pools =
                    state
                        .store
                        .subject_pools(tenant, subject, params.plan_id.as_deref())?;
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
            let plan_id = params.plan_id.as_deref().unwrap_or_default();
            let members = state.store.plan_members_after(
                tenant,
                plan_id,
                job.cursor.as_deref(),
                QUOTA_CHUNK,
            )?;
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
        Reply::Outcome(Ok(Success::Job(_))) => Ok(Step::Continue),
        // Already applied (a retry whose first answer was lost) or finished meanwhile: re-read.
        Reply::Outcome(Err(Failure::Job(
            JobFailure::Stale { .. } | JobFailure::Finished { .. },
        ))) => Ok(Step::Continue),
        Reply::Outcome(Err(failure)) => Ok(Step::Fail(failure.to_string())),
        other => Ok(Step::Fail(format!(
            "unexpected answer to a chunk: {other:?}"
        ))),
    }
}
