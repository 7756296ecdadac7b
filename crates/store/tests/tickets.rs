//! Tickets and jobs in the SQLite writer: a chunk lands once however often it is sent, and a
//! chunk sent twice in one batch is applied once.

use allot_core::{Capacity, LimitPct, UnixMillis};
use allot_store::command::NewPool;
use allot_store::jobs::{JobCommand, JobFailure, JobProgress, JobStatus};
use allot_store::sqlite::{self, SqliteWriter};
use allot_store::tickets::{NewAttendee, PreparedTicket, TicketCommand, TicketSuccess};
use allot_store::*;

const T0: UnixMillis = UnixMillis(1_790_000_000_000);

fn run(writer: &mut SqliteWriter, tenant: &TenantId, commands: Vec<Command>) -> Vec<Outcome> {
    let batch = commands
        .into_iter()
        .map(|command| Envelope {
            tenant: tenant.clone(),
            actor: None,
            command,
            idempotency: None,
        })
        .collect();
    writer
        .apply(batch, T0)
        .expect("the batch commits")
        .into_iter()
        .map(|reply| match reply {
            Reply::Outcome(outcome) => outcome,
            Reply::Rendered { .. } => panic!("no idempotency key was given"),
        })
        .collect()
}

fn one(writer: &mut SqliteWriter, tenant: &TenantId, command: Command) -> Outcome {
    run(writer, tenant, vec![command]).remove(0)
}

fn prepared(attendee_id: &str, n: usize) -> PreparedTicket {
    PreparedTicket {
        attendee_id: attendee_id.to_owned(),
        code: format!("CODE{n}"),
        token_seed: format!("seed{n}"),
        token_hash: format!("hash-{attendee_id}-{n}"),
    }
}

fn chunk(event: &str, job: &str, expected: Option<&str>, ids: &[String], n: usize) -> Command {
    Command::Tickets(TicketCommand::IssueChunk {
        event_id: event.to_owned(),
        progress: JobProgress {
            job_id: job.to_owned(),
            expected_cursor: expected.map(str::to_owned),
            next_cursor: ids.last().cloned(),
            last: false,
        },
        skip_existing: true,
        items: ids.iter().map(|id| prepared(id, n)).collect(),
    })
}

#[test]
fn a_chunk_sent_twice_lands_once_and_the_job_resumes_from_its_cursor() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, mut writer) = sqlite::open(dir.path()).expect("the store opens");
    let tenant = TenantId("campus".into());
    let event = match one(
        &mut writer,
        &tenant,
        Command::CreatePool(NewPool {
            name: "Wisuda".into(),
            unit: "seats".into(),
            parent_id: None,
            capacity: Capacity::new(3).expect("valid"),
            hard_limit_pct: LimitPct::HUNDRED,
            soft_limit_pct: LimitPct::HUNDRED,
            price: None,
            metadata: None,
            per_date: false,
            time_zone: None,
            waitlist: Default::default(),
            thresholds: None,
        }),
    ) {
        Ok(Success::Pool(pool)) => pool.id,
        other => panic!("{other:?}"),
    };
    let rows = (1..=4)
        .map(|i| NewAttendee {
            line: i,
            external_id: format!("s{i}"),
            name: format!("Student {i}"),
            email: None,
            section: None,
        })
        .collect();
    match one(
        &mut writer,
        &tenant,
        Command::Tickets(TicketCommand::UpsertAttendees {
            event_id: event.clone(),
            rows,
            rejected: Vec::new(),
            list: true,
        }),
    ) {
        Ok(Success::Tickets(TicketSuccess::Imported(summary))) => assert_eq!(summary.created, 4),
        other => panic!("{other:?}"),
    }
    let job = match one(
        &mut writer,
        &tenant,
        Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({}),
            total: 4,
        }),
    ) {
        Ok(Success::Job(job)) => job.id,
        other => panic!("{other:?}"),
    };
    let ids = store
        .attendee_ids_after(&tenant, &event, None, 2)
        .expect("ids");
    assert_eq!(ids.len(), 2);

    // The same chunk twice in one batch (a retry racing its original): the second is stale.
    let outcomes = run(
        &mut writer,
        &tenant,
        vec![
            chunk(&event, &job, None, &ids, 1),
            chunk(&event, &job, None, &ids, 2),
        ],
    );
    assert!(matches!(
        outcomes[0],
        Ok(Success::Tickets(TicketSuccess::Chunk(_)))
    ));
    assert!(
        matches!(&outcomes[1], Err(Failure::Job(JobFailure::Stale { job_id })) if *job_id == job),
        "{:?}",
        outcomes[1]
    );
    let after = store
        .get_job(&tenant, &job)
        .expect("read")
        .expect("the job");
    assert_eq!(after.cursor.as_deref(), Some(ids[1].as_str()));
    assert_eq!((after.counters.done, after.counters.created), (2, 2));
    assert_eq!(after.status, JobStatus::Running);

    // Resuming from the stored cursor: the rest, and the event is full at the third ticket.
    let rest = store
        .attendee_ids_after(&tenant, &event, after.cursor.as_deref(), 10)
        .expect("ids");
    assert_eq!(rest.len(), 2);
    let outcome = one(
        &mut writer,
        &tenant,
        chunk(&event, &job, after.cursor.as_deref(), &rest, 3),
    );
    let Ok(Success::Tickets(TicketSuccess::Chunk(done))) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        (
            done.counters.done,
            done.counters.created,
            done.counters.failed
        ),
        (4, 3, 1)
    );
    let failed = store
        .job_items(&tenant, &job, Some("failed"), -1, 10)
        .expect("items");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].reason, "no capacity");
    assert_eq!(failed[0].seq, 3);

    let pool = store
        .get_pool(&tenant, &event, T0)
        .expect("read")
        .expect("the pool");
    assert_eq!((pool.held, pool.committed), (0, 3));
    let report = sqlite::verify(dir.path()).expect("verify");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(report.live_holds, 3);
}
