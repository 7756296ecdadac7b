//! Background jobs: a chunk applies only to the job it was prepared for, at the cursor it
//! started from — so a chunk sent twice (a retry after a lost answer, a restart) is refused as
//! stale instead of applied twice; and how a job moves when a chunk lands or it ends.

use crate::command::Failure;
use crate::jobs::{JobCounters, JobFailure, JobProgress, JobState, JobStatus, JobView};
use allot_core::UnixMillis;

/// A new job, queued: nothing done yet, `total` the estimate it starts from.
pub fn queued(
    id: String,
    kind: String,
    params: serde_json::Value,
    total: i64,
    now: UnixMillis,
) -> JobView {
    JobView {
        id,
        kind,
        status: JobStatus::Queued,
        params,
        cursor: None,
        total,
        counters: JobCounters::default(),
        error: None,
        created_at: now,
        started_at: None,
        updated_at: now,
        finished_at: None,
    }
}

/// A claimed job once its chunk has landed: the cursor moved on, the chunk's counts added, and
/// done if the chunk was the last. The total is an estimate until then, never below what was
/// looked at; once done it is exactly that.
pub fn advanced(
    job: &JobView,
    progress: &JobProgress,
    delta: JobCounters,
    now: UnixMillis,
) -> JobState {
    let counters = JobCounters {
        done: job.counters.done + delta.done,
        created: job.counters.created + delta.created,
        skipped: job.counters.skipped + delta.skipped,
        failed: job.counters.failed + delta.failed,
    };
    let (status, total, finished_at) = if progress.last {
        (JobStatus::Done, counters.done, Some(now))
    } else {
        (JobStatus::Running, job.total.max(counters.done), None)
    };
    JobState {
        status,
        cursor: progress.next_cursor.clone(),
        total,
        counters,
        error: job.error.clone(),
        started_at: job.started_at.or(Some(now)),
        updated_at: now,
        finished_at,
    }
}

/// A job ended by a finish command. A job that ends well looked at everything there was: its
/// total is what it did.
pub fn finished(
    job: &JobView,
    status: JobStatus,
    error: Option<String>,
    now: UnixMillis,
) -> JobState {
    JobState {
        status,
        cursor: job.cursor.clone(),
        total: if status == JobStatus::Done {
            job.counters.done
        } else {
            job.total
        },
        counters: job.counters,
        error,
        started_at: job.started_at.or(Some(now)),
        updated_at: now,
        finished_at: Some(now),
    }
}

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

    fn counters(done: i64, created: i64, skipped: i64, failed: i64) -> JobCounters {
        JobCounters {
            done,
            created,
            skipped,
            failed,
        }
    }

    #[test]
    fn a_landed_chunk_moves_the_cursor_adds_its_counts_and_keeps_the_total_an_estimate() {
        let mut running = job(JobStatus::Queued, Some("att_4"));
        running.counters = counters(4, 3, 1, 0);
        let moved = advanced(
            &running,
            &progress(Some("att_4")),
            counters(8, 6, 1, 1),
            UnixMillis(7),
        );
        assert_eq!(moved.status, JobStatus::Running);
        assert_eq!(moved.cursor.as_deref(), Some("att_9"));
        assert_eq!(moved.counters, counters(12, 9, 2, 1));
        // More looked at than estimated: the total grows with it, never below.
        assert_eq!(moved.total, 12);
        assert_eq!(moved.started_at, Some(UnixMillis(7)));
        assert_eq!(moved.updated_at, UnixMillis(7));
        assert_eq!(moved.finished_at, None);
    }

    #[test]
    fn the_last_chunk_finishes_the_job_with_its_exact_total() {
        let mut running = job(JobStatus::Running, Some("att_4"));
        running.started_at = Some(UnixMillis(2));
        running.counters = counters(4, 4, 0, 0);
        let last = JobProgress {
            last: true,
            ..progress(Some("att_4"))
        };
        let done = advanced(&running, &last, counters(2, 2, 0, 0), UnixMillis(9));
        assert_eq!(done.status, JobStatus::Done);
        assert_eq!(
            done.total, 6,
            "the estimate of 10 gives way to what was looked at"
        );
        assert_eq!(done.started_at, Some(UnixMillis(2)), "started once");
        assert_eq!(done.finished_at, Some(UnixMillis(9)));
    }

    #[test]
    fn finishing_well_fixes_the_total_and_failing_keeps_the_estimate_and_the_error() {
        let mut queued_job = job(JobStatus::Queued, None);
        queued_job.counters = counters(3, 3, 0, 0);
        let done = finished(&queued_job, JobStatus::Done, None, UnixMillis(5));
        assert_eq!((done.status, done.total), (JobStatus::Done, 3));
        assert_eq!(done.started_at, Some(UnixMillis(5)));
        assert_eq!(done.finished_at, Some(UnixMillis(5)));
        let failed = finished(
            &queued_job,
            JobStatus::Failed,
            Some("the event was deleted".into()),
            UnixMillis(5),
        );
        assert_eq!((failed.status, failed.total), (JobStatus::Failed, 10));
        assert_eq!(failed.error.as_deref(), Some("the event was deleted"));
    }

    #[test]
    fn a_new_job_is_queued_with_nothing_done() {
        let job = queued(
            "job_2".into(),
            "quotas.adjust".into(),
            serde_json::json!({"delta": 5}),
            3,
            UnixMillis(1),
        );
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!((job.total, job.counters), (3, JobCounters::default()));
        assert_eq!((job.cursor.as_deref(), job.started_at), (None, None));
        assert_eq!(JobState::of(&job).applied_to(&job), job);
    }
}
