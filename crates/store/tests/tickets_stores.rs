//! Graduation tickets on both stores: attendees imported into an event's sections, tickets
//! issued in chunks until a section is full, regenerated, voided (the seat goes back) and scanned
//! at the door. Both stores are decided by the same engine, so they must answer alike, reply for
//! reply (ids named by the order they first appear), and end with the same pools and holds.

use allot_core::{Capacity, LimitPct, UnixMillis};
use allot_store::command::NewPool;
use allot_store::jobs::{JobCommand, JobProgress};
use allot_store::memory::MemoryStore;
use allot_store::tickets::{NewAttendee, PreparedTicket, TicketCommand, TicketSuccess};
use allot_store::*;

const T0: UnixMillis = UnixMillis(1_790_000_000_000);

fn tenant() -> TenantId {
    TenantId("campus".into())
}

fn pool(name: &str, parent: Option<&str>, capacity: i64) -> Command {
    Command::CreatePool(NewPool {
        name: name.into(),
        unit: "seats".into(),
        parent_id: parent.map(str::to_owned),
        capacity: Capacity::new(capacity).expect("valid"),
        hard_limit_pct: LimitPct::HUNDRED,
        soft_limit_pct: LimitPct::HUNDRED,
        price: None,
        metadata: None,
        per_date: false,
        time_zone: None,
        waitlist: Default::default(),
        thresholds: None,
    })
}

fn attendee(
    line: u64,
    external_id: &str,
    email: Option<&str>,
    section: Option<&str>,
) -> NewAttendee {
    NewAttendee {
        line,
        external_id: external_id.into(),
        name: format!("Graduate {external_id}"),
        email: email.map(str::to_owned),
        section: section.map(str::to_owned),
    }
}

/// The ticket parts the server would make for `attendee_id` in generation `round`.
fn prepared(attendee_id: &str, round: u32) -> PreparedTicket {
    PreparedTicket {
        attendee_id: attendee_id.to_owned(),
        code: format!("C{round}-{attendee_id}"),
        token_seed: format!("seed{round}-{attendee_id}"),
        token_hash: token(attendee_id, round),
    }
}

fn token(attendee_id: &str, round: u32) -> String {
    format!("hash{round}-{attendee_id}")
}

/// A store running the scenario: every outcome, and the ids in the order replies showed them.
struct Run<'w, W> {
    writer: &'w mut W,
    ids: Vec<String>,
    outcomes: Vec<Outcome>,
}

impl<W: BatchWriter> Run<'_, W> {
    fn batch(&mut self, commands: Vec<Command>, now: UnixMillis) -> Vec<Outcome> {
        let envelopes = commands
            .into_iter()
            .map(|command| Envelope {
                tenant: tenant(),
                actor: Some("key_registrar".into()),
                command,
                idempotency: None,
            })
            .collect();
        let outcomes: Vec<Outcome> = self
            .writer
            .apply(envelopes, now)
            .expect("the batch commits")
            .into_iter()
            .map(|reply| match reply {
                Reply::Outcome(outcome) => outcome,
                Reply::Rendered { .. } => panic!("no idempotency key was sent"),
            })
            .collect();
        self.outcomes.extend(outcomes.iter().cloned());
        outcomes
    }

    fn note(&mut self, id: &str) -> String {
        if !self.ids.iter().any(|known| known == id) {
            self.ids.push(id.to_owned());
        }
        id.to_owned()
    }

    /// Every reply as text, each id the store made named by its place instead.
    fn shapes(&self) -> Vec<String> {
        let mut ids: Vec<(usize, &String)> = self.ids.iter().enumerate().collect();
        ids.sort_by_key(|(_, id)| std::cmp::Reverse(id.len()));
        self.outcomes
            .iter()
            .map(|outcome| {
                let mut text = format!("{outcome:?}");
                for (place, id) in &ids {
                    text = text.replace(id.as_str(), &format!("<id {place}>"));
                }
                text
            })
            .collect()
    }
}

fn pool_id(outcome: &Outcome) -> String {
    match outcome {
        Ok(Success::Pool(pool)) => pool.id.clone(),
        other => panic!("no pool: {other:?}"),
    }
}

fn chunk(event: &str, job: &str, expected: Option<&str>, items: Vec<PreparedTicket>) -> Command {
    Command::Tickets(TicketCommand::IssueChunk {
        event_id: event.to_owned(),
        progress: JobProgress {
            job_id: job.to_owned(),
            expected_cursor: expected.map(str::to_owned),
            next_cursor: items.last().map(|item| item.attendee_id.clone()),
            last: true,
        },
        skip_existing: false,
        items,
    })
}

fn new_job(run: &mut Run<'_, impl BatchWriter>, now: UnixMillis) -> String {
    let created = run.batch(
        vec![Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({}),
            total: 4,
        })],
        now,
    );
    match &created[0] {
        Ok(Success::Job(job)) => run.note(&job.id),
        other => panic!("no job: {other:?}"),
    }
}

/// The attendees as imported, in the order of the first import.
struct Graduates {
    ana: String,
    bo: String,
    cy: String,
    dee: String,
}

/// An event of two sections, its graduates imported, tickets issued until the stalls are full,
/// ana's regenerated, and scans at the door.
fn issue_and_scan(run: &mut Run<'_, impl BatchWriter>) -> Graduates {
    let event = run.batch(vec![pool("Graduation", None, 3)], T0);
    let event = run.note(&pool_id(&event[0]));
    let sections = run.batch(
        vec![
            pool("Stalls", Some(&event), 2),
            pool("Balcony", Some(&event), 1),
        ],
        T0,
    );
    let stalls = run.note(&pool_id(&sections[0]));
    run.note(&pool_id(&sections[1]));

    // Sections by name and by id; an unknown section fails its row alone; ana imported again
    // in the same batch is updated, keeping the e-mail the second row lacks.
    let imported = run.batch(
        vec![
            Command::Tickets(TicketCommand::UpsertAttendees {
                event_id: event.clone(),
                rows: vec![
                    attendee(1, "ana", Some("ana@example.edu"), Some("Stalls")),
                    attendee(2, "bo", None, Some(&stalls)),
                    attendee(3, "cy", None, Some("Stalls")),
                    attendee(4, "dee", None, Some("Balcony")),
                    attendee(5, "eve", None, Some("Orchestra pit")),
                ],
                rejected: Vec::new(),
                list: true,
            }),
            Command::Tickets(TicketCommand::UpsertAttendees {
                event_id: event.clone(),
                rows: vec![attendee(1, "ana", None, None)],
                rejected: Vec::new(),
                list: true,
            }),
            Command::Tickets(TicketCommand::UpsertAttendees {
                event_id: "pool_missing".into(),
                rows: vec![attendee(1, "zed", None, None)],
                rejected: Vec::new(),
                list: false,
            }),
        ],
        T0,
    );
    let ids: Vec<String> = match &imported[0] {
        Ok(Success::Tickets(TicketSuccess::Imported(summary))) => {
            summary.attendees.iter().map(|(id, _)| id.clone()).collect()
        }
        other => panic!("not imported: {other:?}"),
    };
    let ids: Vec<String> = ids.iter().map(|id| run.note(id)).collect();
    let graduates = Graduates {
        ana: ids[0].clone(),
        bo: ids[1].clone(),
        cy: ids[2].clone(),
        dee: ids[3].clone(),
    };

    // The stalls hold two: cy, third in, gets none; an unknown attendee fails alone.
    let job = new_job(run, UnixMillis(T0.0 + 1_000));
    let items = [&graduates.ana, &graduates.bo, &graduates.cy, &graduates.dee]
        .iter()
        .map(|id| prepared(id, 1))
        .chain([prepared("att_missing", 1)])
        .collect();
    run.batch(
        vec![chunk(&event, &job, None, items)],
        UnixMillis(T0.0 + 1_000),
    );

    // Regenerated: ana keeps her seat with a new token, so her first one no longer admits.
    let again = new_job(run, UnixMillis(T0.0 + 2_000));
    run.batch(
        vec![chunk(
            &event,
            &again,
            None,
            vec![prepared(&graduates.ana, 2)],
        )],
        UnixMillis(T0.0 + 2_000),
    );
    let scans = run.batch(
        vec![
            scan(&graduates.ana, 1),
            scan(&graduates.ana, 2),
            scan(&graduates.ana, 2),
            scan(&graduates.bo, 1),
            scan(&graduates.cy, 1),
        ],
        UnixMillis(T0.0 + 3_000),
    );
    for outcome in &scans {
        if let Ok(Success::Tickets(TicketSuccess::CheckedIn { ticket, .. })) = outcome {
            run.note(&ticket.id);
        }
    }
    graduates
}

fn scan(attendee_id: &str, round: u32) -> Command {
    Command::Tickets(TicketCommand::CheckIn {
        attendee_id: attendee_id.to_owned(),
        token_hash: token(attendee_id, round),
    })
}

/// Dee's balcony ticket voided: the seat goes back, her token then answers "void", and a
/// second void is refused.
fn void_and_scan(run: &mut Run<'_, impl BatchWriter>, graduates: &Graduates, dee_ticket: &str) {
    run.note(dee_ticket);
    let void = || {
        Command::Tickets(TicketCommand::Void {
            ticket_id: dee_ticket.to_owned(),
        })
    };
    run.batch(
        vec![void(), void(), scan(&graduates.dee, 1)],
        UnixMillis(T0.0 + 4_000),
    );
}

/// What the stores keep for the comparison: every reply's shape, and the pools' counters.
fn run_on<W: BatchWriter>(
    writer: &mut W,
    live_ticket: impl Fn(&mut W, &str) -> String,
) -> Vec<String> {
    let mut run = Run {
        writer,
        ids: Vec::new(),
        outcomes: Vec::new(),
    };
    let graduates = issue_and_scan(&mut run);
    let dee_ticket = live_ticket(run.writer, &graduates.dee);
    void_and_scan(&mut run, &graduates, &dee_ticket);
    run.shapes()
}

#[test]
fn both_stores_issue_regenerate_void_and_check_in_alike() {
    let mut memory = MemoryStore::new();
    let in_memory = run_on(&mut memory, |memory, attendee| {
        let found = memory.state().tickets.attendee(&tenant(), attendee);
        found.and_then(|a| a.ticket_id).expect("dee has a ticket")
    });
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, writer) = allot_store::sqlite::open(dir.path()).expect("the store opens");
    // Ids counted up as in memory, so the two stores' states compare whole.
    let mut writer = writer.with_sequential_ids_for_tests();
    let in_sqlite = run_on(&mut writer, |_, attendee| {
        let found = store.get_attendee(&tenant(), attendee).expect("read");
        found.and_then(|a| a.ticket_id).expect("dee has a ticket")
    });
    assert_eq!(in_memory.len(), in_sqlite.len());
    for (place, (memory, sqlite)) in in_memory.iter().zip(&in_sqlite).enumerate() {
        assert_eq!(memory, sqlite, "reply {place} differs");
    }
    // The scenario did what it says, so that agreeing means something.
    let expect = [
        (3, "created: 4, updated: 0"),
        (3, "Orchestra pit"),
        (4, "created: 0, updated: 1"),
        (5, "NotFound { kind: \"pool\""),
        (7, "done: 5, created: 3, skipped: 0, failed: 2"),
        (9, "done: 1, created: 1"),
        (10, "NotFound { kind: \"ticket\""),
        (11, "CheckedIn"),
        (12, "AlreadyUsed"),
        (13, "CheckedIn"),
        (14, "NotFound { kind: \"ticket\""),
        (15, "status: Void"),
        (16, "Void {"),
        (17, "Void {"),
    ];
    for (place, fragment) in expect {
        assert!(
            in_sqlite[place].contains(fragment),
            "reply {place} should show {fragment}: {}",
            in_sqlite[place]
        );
    }
    // Both stores end in the same state: pools, holds and ledger.
    let now = UnixMillis(T0.0 + 5_000);
    let observed = store.observe(now).expect("observe");
    assert_eq!(memory.state().observe(now), observed);
    // The event counts ana's and bo's seats; dee's came back and cy never had one.
    let committed: Vec<(&str, i64)> = observed
        .pools
        .iter()
        .map(|(_, pool)| (pool.name.as_str(), pool.committed))
        .collect();
    assert_eq!(
        committed,
        [("Graduation", 2), ("Stalls", 2), ("Balcony", 0)]
    );
}

#[test]
fn a_ticket_batch_failing_at_any_change_leaves_the_memory_store_as_it_was() {
    let mut memory = MemoryStore::new();
    let graduates = {
        let mut run = Run {
            writer: &mut memory,
            ids: Vec::new(),
            outcomes: Vec::new(),
        };
        issue_and_scan(&mut run)
    };
    let dee = memory
        .state()
        .tickets
        .attendee(&tenant(), &graduates.dee)
        .expect("dee");
    let dee_ticket = dee.ticket_id.expect("dee has a ticket");
    let batch = || {
        [
            Command::Tickets(TicketCommand::UpsertAttendees {
                event_id: dee.event_id.clone(),
                rows: vec![
                    attendee(1, "fay", None, None),
                    attendee(2, "ana", Some("ana@alumni.example.edu"), None),
                ],
                rejected: Vec::new(),
                list: false,
            }),
            Command::Tickets(TicketCommand::Void {
                ticket_id: dee_ticket.clone(),
            }),
            scan(&graduates.ana, 2),
        ]
        .into_iter()
        .map(|command| Envelope {
            tenant: tenant(),
            actor: None,
            command,
            idempotency: None,
        })
        .collect()
    };
    let (failed, _) = memory
        .fail_at_every_change(batch, UnixMillis(T0.0 + 9_000))
        .unwrap_or_else(|problem| panic!("{problem}"));
    let ana = memory.state().tickets.attendee(&tenant(), &graduates.ana);
    assert_eq!(
        ana.and_then(|ana| ana.email).as_deref(),
        Some("ana@alumni.example.edu")
    );
    assert!(failed >= 6, "every change was tried: {failed}");
}
