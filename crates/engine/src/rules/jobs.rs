//! Background jobs: a chunk applies only to the job it was prepared for, at the cursor it
//! started from — so a chunk sent twice (a retry after a lost answer, a restart) is refused as
//! stale instead of applied twice.

use crate::command::Failure;
use crate::jobs::{JobFailure, JobProgress, JobView};

/// The job a chunk may apply to, or why not.
pub fn claim(job: Option<JobView>, progress: &JobProgress) -> Result<JobView, Failure> {
    let Some(job) = job else {
        return Err(Failure::NotFound {
            kind: "job",
            id: progress.job_id.clone(),
        });
    };
    if job.status.is_finished() {
        return Err(JobFailure::Finished { job_id: job.id }.into());
    }
    if job.cursor != progress.expected_cursor {
        return Err(JobFailure::Stale { job_id: job.id }.into());
    }
    Ok(job)
}

/// Whether a finish command may end the job.
pub fn check_finish(job: Option<JobView>, job_id: &str) -> Result<JobView, Failure> {
    match job {
        None => Err(Failure::NotFound {
            kind: "job",
            id: job_id.to_owned(),
        }),
        Some(job) if job.status.is_finished() => Err(JobFailure::Finished {
            job_id: job_id.to_owned(),
        }
        .into()),
        Some(job) => Ok(job),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobCounters, JobStatus};
    use allot_core::UnixMillis;

    fn job(status: JobStatus, cursor: Option<&str>) -> JobView {
        JobView {
            id: "job_1".into(),
            kind: "tickets.generate".into(),
            status,
            params: serde_json::Value::Null,
            cursor: cursor.map(str::to_owned),
            total: 10,
            counters: JobCounters::default(),
            error: None,
            created_at: UnixMillis(0),
            started_at: None,
            updated_at: UnixMillis(0),
            finished_at: None,
        }
    }

    fn progress(expected: Option<&str>) -> JobProgress {
        JobProgress {
            job_id: "job_1".into(),
            expected_cursor: expected.map(str::to_owned),
            next_cursor: Some("att_9".into()),
            last: false,
        }
    }

    #[test]
    fn a_chunk_applies_at_the_cursor_it_started_from_only() {
        assert!(
            claim(
                Some(job(JobStatus::Running, Some("att_4"))),
                &progress(Some("att_4"))
            )
            .is_ok()
        );
        // The same chunk resent after it landed: the cursor has moved on.
        let resent = claim(
            Some(job(JobStatus::Running, Some("att_9"))),
            &progress(Some("att_4")),
        );
        assert_eq!(
            resent.expect_err("refused"),
            JobFailure::Stale {
                job_id: "job_1".into()
            }
            .into()
        );
        let finished = claim(
            Some(job(JobStatus::Done, Some("att_4"))),
            &progress(Some("att_4")),
        );
        assert_eq!(
            finished.expect_err("refused"),
            JobFailure::Finished {
                job_id: "job_1".into()
            }
            .into()
        );
        assert!(matches!(
            claim(None, &progress(None)),
            Err(Failure::NotFound { kind: "job", .. })
        ));
    }

    #[test]
    fn a_finished_job_cannot_finish_again() {
        assert!(check_finish(Some(job(JobStatus::Queued, None)), "job_1").is_ok());
        assert!(check_finish(Some(job(JobStatus::Failed, None)), "job_1").is_err());
        assert!(check_finish(None, "job_1").is_err());
    }
}
