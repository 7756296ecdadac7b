//! Background jobs: progress, rate and the first failures.

use crate::timestamps::rfc3339;
use allot_store::jobs::{JobItem, JobView};
use serde::Serialize;
use utoipa::ToSchema;

/// Failures a job's answer lists; the report has all of them.
pub const LISTED_FAILURES: usize = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct JobFailureBody {
    /// The item's position in the job, from 0.
    pub position: i64,
    /// What failed: for ticket generation, the attendee id.
    pub item: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobBody {
    pub id: String,
    #[schema(example = "tickets.generate")]
    pub kind: String,
    /// queued, running, done or failed.
    pub status: String,
    pub params: serde_json::Value,
    /// Items to look at: an estimate until the job is done.
    pub total: i64,
    /// Items looked at so far: created + skipped + failed.
    pub done: i64,
    pub created: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Items per second since the job was created.
    pub rate_per_sec: f64,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// The first 100 failed items.
    pub failures: Vec<JobFailureBody>,
    pub report_url: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

impl JobBody {
    pub fn new(job: &JobView, failures: Vec<JobItem>) -> Self {
        JobBody {
            id: job.id.clone(),
            kind: job.kind.clone(),
            status: job.status.as_str().to_owned(),
            params: job.params.clone(),
            total: job.total,
            done: job.counters.done,
            created: job.counters.created,
            skipped: job.counters.skipped,
            failed: job.counters.failed,
            // Since the job was created: the worker starts on it at once.
            rate_per_sec: allot_core::jobs::rate_per_second(
                job.counters.done,
                job.created_at,
                job.finished_at.unwrap_or(job.updated_at),
            ),
            error: job.error.clone(),
            failures: failures
                .into_iter()
                .map(|item| JobFailureBody {
                    position: item.seq,
                    item: item.item,
                    reason: item.reason,
                })
                .collect(),
            report_url: format!("/v1/jobs/{}/report.csv", job.id),
            created_at: rfc3339(job.created_at),
            started_at: job.started_at.map(rfc3339),
            updated_at: rfc3339(job.updated_at),
            finished_at: job.finished_at.map(rfc3339),
        }
    }
}
