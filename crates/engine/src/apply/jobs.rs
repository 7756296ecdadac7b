//! Jobs: creating and finishing them, and the claim-and-advance every chunk makes in its batch
//! (see [`crate::jobs`] for why that makes each chunk land exactly once).

use crate::Error;
use crate::apply::outbox;
use crate::change::Change;
use crate::command::{Failure, Outcome, Success};
use crate::jobs::{JobCommand, JobCounters, JobItem, JobProgress, JobState, JobView};
use crate::model::TenantId;
use crate::port::Port;
use crate::rules::jobs as job_rules;
use allot_core::UnixMillis;

pub fn execute<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    command: JobCommand,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    match command {
        JobCommand::Create {
            kind,
            params,
            total,
        } => {
            let job = create(port, tenant, kind, params, total, now)?;
            Ok(Ok(Success::Job(job)))
        }
        JobCommand::Finish {
            job_id,
            status,
            error,
        } => {
            let job = match job_rules::check_finish(port.job(tenant, &job_id)?, &job_id) {
                Ok(job) => job,
                Err(failure) => return Ok(Err(failure)),
            };
            let to = job_rules::finished(&job, status, error, now);
            Ok(Ok(Success::Job(move_job(port, tenant, &job, to)?)))
        }
    }
}

/// Queues a job (for a worker, or a plan change whose members follow it).
pub fn create<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    kind: String,
    params: serde_json::Value,
    total: i64,
    now: UnixMillis,
) -> Result<JobView, Error> {
    let id = port.new_id("job");
    let job = job_rules::queued(id, kind, params, total, now);
    port.persist(Change::NewJob {
        tenant: tenant.clone(),
        job: Box::new(job.clone()),
    })?;
    Ok(job)
}

/// The job a chunk belongs to, if the chunk may still be applied: the job is not finished and
/// its cursor is where the chunk starts.
pub fn claim<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    progress: &JobProgress,
) -> Result<Result<JobView, Failure>, Error> {
    Ok(job_rules::claim(
        port.job(tenant, &progress.job_id)?,
        progress,
    ))
}

/// Moves a claimed job past its chunk — cursor, counters, the items it skipped or failed, and
/// done when the chunk was the last — in the batch that applies the chunk.
pub fn advance<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    job: &JobView,
    progress: &JobProgress,
    delta: JobCounters,
    items: Vec<JobItem>,
    now: UnixMillis,
) -> Result<JobView, Error> {
    if !items.is_empty() {
        port.persist(Change::NewJobItems {
            tenant: tenant.clone(),
            job_id: job.id.clone(),
            items,
            at: now,
        })?;
    }
    let to = job_rules::advanced(job, progress, delta, now);
    move_job(port, tenant, job, to)
}

/// Moves a job; one that ends here is announced (see [`outbox::record_job_completed`]).
fn move_job<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    job: &JobView,
    to: JobState,
) -> Result<JobView, Error> {
    let ends = to.status.is_finished() && !job.status.is_finished();
    let now = to.updated_at;
    port.persist(Change::JobProgress {
        tenant: tenant.clone(),
        job_id: job.id.clone(),
        from: Box::new(JobState::of(job)),
        to: Box::new(to.clone()),
    })?;
    let moved = to.applied_to(job);
    if ends {
        outbox::record_job_completed(port, tenant, &moved, now)?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;
    use crate::jobs::{JobFailure, JobStatus};

    fn tenant() -> TenantId {
        TenantId("ten_1".into())
    }

    fn job_of(outcome: Outcome) -> JobView {
        match outcome {
            Ok(Success::Job(job)) => job,
            other => panic!("no job: {other:?}"),
        }
    }

    #[test]
    fn a_job_is_queued_then_finished_once() {
        let mut port = RecordingPort::default();
        let create = JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({"event": "pool_1"}),
            total: 4,
        };
        let job = job_of(execute(&mut port, &tenant(), create, UnixMillis(1)).expect("decided"));
        assert_eq!((job.status, job.total), (JobStatus::Queued, 4));
        let finish = || JobCommand::Finish {
            job_id: job.id.clone(),
            status: JobStatus::Done,
            error: None,
        };
        let done = job_of(execute(&mut port, &tenant(), finish(), UnixMillis(2)).expect("decided"));
        assert_eq!((done.status, done.total), (JobStatus::Done, 0));
        assert_eq!(
            port.jobs[&job.id], done,
            "the store holds what was answered"
        );
        port.take_changes();
        let again = execute(&mut port, &tenant(), finish(), UnixMillis(3)).expect("decided");
        assert_eq!(
            again.expect_err("refused"),
            JobFailure::Finished { job_id: job.id }.into()
        );
        assert!(port.changes.is_empty());
    }

    /// A finished job is announced once: a `job.completed` event with its counts, e-mailed to
    /// the recipient group it names (or the operations group) and sent to its subscribers.
    #[test]
    fn a_job_that_ends_is_announced_to_its_recipient_group() {
        use crate::model::Channel;
        use crate::rules::routing::Target;
        let mut port = RecordingPort::default();
        let email = |address: &str| Channel {
            email: Some(address.into()),
            webhook_id: None,
        };
        port.recipients = std::collections::BTreeMap::from([
            ("operations".to_owned(), vec![email("ops@example.edu")]),
            ("registrar".to_owned(), vec![email("registrar@example.edu")]),
        ]);
        port.webhooks
            .insert("wh_1".into(), (vec!["job.completed".into()], true));
        let mut finish = |params: serde_json::Value, at: i64| {
            let create = JobCommand::Create {
                kind: "tickets.generate".into(),
                params,
                total: 2,
            };
            let job =
                job_of(execute(&mut port, &tenant(), create, UnixMillis(at)).expect("decided"));
            let finish = JobCommand::Finish {
                job_id: job.id.clone(),
                status: JobStatus::Failed,
                error: Some("the event was deleted".into()),
            };
            let finished = execute(&mut port, &tenant(), finish, UnixMillis(at + 1));
            assert!(matches!(finished, Ok(Ok(Success::Job(_)))), "{finished:?}");
            let changes = port.take_changes();
            let events: Vec<serde_json::Value> = changes
                .iter()
                .filter_map(|change| match change {
                    Change::NewEvent { kind, data, .. } if *kind == "job.completed" => {
                        Some(data.clone())
                    }
                    _ => None,
                })
                .collect();
            let targets: Vec<Target> = changes
                .into_iter()
                .filter_map(|change| match change {
                    Change::NewDelivery { delivery, .. } => Some(delivery.target),
                    _ => None,
                })
                .collect();
            (job, events, targets)
        };
        let (job, events, targets) = finish(serde_json::json!({"notify": "registrar"}), 10);
        let [event] = events.as_slice() else {
            panic!("one notice: {events:?}");
        };
        assert_eq!(event["job_id"], job.id.as_str());
        assert_eq!(
            (event["status"].as_str(), event["error"].as_str()),
            (Some("failed"), Some("the event was deleted"))
        );
        assert_eq!(
            targets,
            [
                Target::Webhook("wh_1".into()),
                Target::Email("registrar@example.edu".into())
            ]
        );
        let (_, _, targets) = finish(serde_json::json!({}), 20);
        assert_eq!(
            targets,
            [
                Target::Webhook("wh_1".into()),
                Target::Email("ops@example.edu".into())
            ],
            "without a group named, the operations group"
        );
    }

    #[test]
    fn a_chunk_advances_its_job_from_the_state_it_claimed_and_notes_its_items() {
        let mut port = RecordingPort::default();
        let job = create(
            &mut port,
            &tenant(),
            "quotas.adjust".into(),
            serde_json::Value::Null,
            3,
            UnixMillis(1),
        )
        .expect("decided");
        port.take_changes();
        let progress = JobProgress {
            job_id: job.id.clone(),
            expected_cursor: None,
            next_cursor: Some("3".into()),
            last: true,
        };
        let claimed = claim(&mut port, &tenant(), &progress)
            .expect("decided")
            .expect("claimed");
        let item = JobItem {
            seq: 2,
            item: "cy".into(),
            outcome: "failed".into(),
            reason: "no quota to adjust".into(),
        };
        let delta = JobCounters {
            done: 3,
            created: 2,
            skipped: 0,
            failed: 1,
        };
        let moved = advance(
            &mut port,
            &tenant(),
            &claimed,
            &progress,
            delta,
            vec![item.clone()],
            UnixMillis(5),
        )
        .expect("decided");
        assert_eq!((moved.status, moved.counters), (JobStatus::Done, delta));
        let changes = port.take_changes();
        // The last chunk ends the job, which is announced (no one is subscribed here).
        assert!(matches!(
            changes.as_slice(),
            [Change::NewJobItems { items, .. }, Change::JobProgress { from, .. }, Change::NewEvent { kind: "job.completed", .. }]
                if items == &vec![item] && from.cursor.is_none()
        ));
        // The same chunk again finds the job moved on.
        assert!(
            claim(&mut port, &tenant(), &progress)
                .expect("decided")
                .is_err()
        );
    }
}
