//! Graduation tickets: attendees imported into an event's sections, tickets issued in chunks as
//! confirmed one-seat holds (so a full section answers "no capacity" and is never oversold),
//! regenerated with new tokens, voided (the seat goes back) and scanned at the door.

use crate::harness::*;
use allot_store::jobs::{JobCommand, JobProgress};
use allot_store::tickets::*;
use allot_store::*;

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

fn import(event: &str, rows: Vec<NewAttendee>) -> Command {
    Command::Tickets(TicketCommand::UpsertAttendees {
        event_id: event.to_owned(),
        rows,
        rejected: Vec::new(),
        list: true,
    })
}

fn imported(outcome: Outcome) -> ImportSummary {
    match outcome {
        Ok(Success::Tickets(TicketSuccess::Imported(summary))) => summary,
        other => panic!("not imported: {other:?}"),
    }
}

fn token(attendee_id: &str, round: u32) -> String {
    format!("hash{round}-{attendee_id}")
}

/// What the server would prepare for `attendee_id` in generation `round`.
fn prepared(attendee_id: &str, round: u32) -> PreparedTicket {
    PreparedTicket {
        attendee_id: attendee_id.to_owned(),
        code: format!("C{round}"),
        token_seed: format!("seed{round}"),
        token_hash: token(attendee_id, round),
    }
}

/// A generation job of one chunk with `items`, run at `now`: answers the job after it.
fn generate<S: StoreUnderTest>(
    run: &mut Run<S>,
    event: &str,
    items: Vec<PreparedTicket>,
    skip_existing: bool,
    now: allot_core::UnixMillis,
) -> allot_store::jobs::JobView {
    let job = match run.send(
        &acme(),
        Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({}),
            total: items.len() as i64,
        }),
        now,
    ) {
        Ok(Success::Job(job)) => job,
        other => panic!("no job: {other:?}"),
    };
    let chunk = Command::Tickets(TicketCommand::IssueChunk {
        event_id: event.to_owned(),
        progress: JobProgress {
            job_id: job.id.clone(),
            expected_cursor: None,
            next_cursor: None,
            last: true,
        },
        skip_existing,
        items,
    });
    match run.send(&acme(), chunk, now) {
        Ok(Success::Tickets(TicketSuccess::Chunk(job))) => job,
        other => panic!("the chunk did not land: {other:?}"),
    }
}

fn scan(attendee_id: &str, round: u32) -> Command {
    Command::Tickets(TicketCommand::CheckIn {
        attendee_id: attendee_id.to_owned(),
        token_hash: token(attendee_id, round),
    })
}

/// The live ticket of an attendee, as the store shows it.
fn live_ticket<S: StoreUnderTest>(run: &Run<S>, attendee_id: &str) -> Option<TicketView> {
    let observed = run.observe();
    let (_, attendee) = observed
        .attendees
        .iter()
        .find(|(_, attendee)| attendee.id == attendee_id)?;
    let ticket_id = attendee.ticket_id.as_ref()?;
    observed
        .tickets
        .into_iter()
        .map(|(_, ticket)| ticket)
        .find(|ticket| &ticket.id == ticket_id)
}

/// An event of 3 with Stalls (2) and Balcony (1), and four graduates: two in the stalls (one
/// named by the section's id), one more in the stalls, one on the balcony.
fn ceremony<S: StoreUnderTest>(run: &mut Run<S>) -> (PoolView, [String; 4]) {
    let event = run.create(&acme(), pool("Graduation", 3), T0);
    let stalls = run.create(&acme(), section("Stalls", 2, &event), T0);
    run.create(&acme(), section("Balcony", 1, &event), T0);
    let summary = imported(run.send(
        &acme(),
        import(
            &event.id,
            vec![
                attendee(1, "ana", Some("ana@example.edu"), Some("Stalls")),
                attendee(2, "bo", None, Some(&stalls.id)),
                attendee(3, "cy", None, Some("Stalls")),
                attendee(4, "dee", None, Some("Balcony")),
            ],
        ),
        T0,
    ));
    assert_eq!((summary.created, summary.updated), (4, 0));
    let ids: Vec<String> = summary.attendees.into_iter().map(|(id, _)| id).collect();
    (event, [0, 1, 2, 3].map(|i| ids[i].clone()))
}

/// A row naming a section the event does not have fails alone; imported again, a graduate is
/// updated and keeps the e-mail the new row lacks; an unknown event is not found.
pub fn an_import_fails_bad_rows_alone_and_an_update_keeps_what_a_row_lacks<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Graduation", 10), T0);
    run.create(&acme(), section("Stalls", 5, &event), T0);
    let outcomes = run.batch(
        &acme(),
        vec![
            import(
                &event.id,
                vec![
                    attendee(1, "ana", Some("ana@example.edu"), Some("Stalls")),
                    attendee(2, "eve", None, Some("Orchestra pit")),
                ],
            ),
            import(&event.id, vec![attendee(1, "ana", None, None)]),
            import("pool_missing", vec![attendee(1, "zed", None, None)]),
        ],
        at(SECOND),
    );
    let mut outcomes = outcomes.into_iter();
    let first = imported(outcomes.next().expect("a reply"));
    assert_eq!((first.created, first.updated), (1, 0));
    assert_eq!(first.failures.len(), 1);
    assert_eq!(
        (first.failures[0].line, first.failures[0].field.as_str()),
        (2, "section")
    );
    let again = imported(outcomes.next().expect("a reply"));
    assert_eq!((again.created, again.updated), (0, 1));
    assert_eq!(
        again.attendees[0].0, first.attendees[0].0,
        "the same attendee"
    );
    assert!(matches!(
        outcomes.next(),
        Some(Err(Failure::NotFound { kind: "pool", .. }))
    ));
    let observed = run.observe();
    let (_, ana) = &observed.attendees[0];
    assert_eq!(ana.email.as_deref(), Some("ana@example.edu"));
    assert!(ana.section_id.is_some(), "she keeps her section");
}

/// Four graduates, two seats in the stalls: the third in the stalls gets none, the balcony's
/// one seat goes to dee, and an attendee the event does not have fails alone.
pub fn a_full_section_answers_no_capacity_and_is_never_oversold<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let (event, [ana, bo, cy, dee]) = ceremony(run);
    let items = [&ana, &bo, &cy, &dee]
        .iter()
        .map(|id| prepared(id, 1))
        .chain([prepared("att_missing", 1)])
        .collect();
    let job = generate(run, &event.id, items, true, at(SECOND));
    let counters = &job.counters;
    assert_eq!(
        (counters.done, counters.created, counters.failed),
        (5, 3, 2)
    );
    assert!(live_ticket(run, &cy).is_none(), "cy has no seat");
    assert_eq!(run.figures(&acme(), &event.id), (0, 3, 0));
    // Run again with skip: those with a ticket are skipped, cy still finds no seat.
    let again = generate(
        run,
        &event.id,
        vec![prepared(&ana, 2), prepared(&cy, 2)],
        true,
        at(2 * SECOND),
    );
    assert_eq!((again.counters.skipped, again.counters.failed), (1, 1));
}

/// Regenerating gives ana's ticket a new token and keeps her seat: her old QR code no longer
/// admits, the new one admits once, and every scan after that is refused with the first time.
pub fn a_regenerated_ticket_keeps_its_seat_and_admits_once_with_its_new_token<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let (event, [ana, ..]) = ceremony(run);
    generate(run, &event.id, vec![prepared(&ana, 1)], false, at(SECOND));
    let first = live_ticket(run, &ana).expect("ana has a ticket");
    let regenerated = generate(
        run,
        &event.id,
        vec![prepared(&ana, 2)],
        false,
        at(2 * SECOND),
    );
    assert_eq!(regenerated.counters.created, 1);
    let ticket = live_ticket(run, &ana).expect("ana still has a ticket");
    assert_eq!(
        (ticket.id.as_str(), ticket.hold_id.as_str()),
        (first.id.as_str(), first.hold_id.as_str())
    );
    assert_eq!(ticket.code, "C2");
    assert_eq!(
        run.figures(&acme(), &event.id),
        (0, 1, 2),
        "one seat, not two"
    );
    let scans = run.batch(
        &acme(),
        vec![scan(&ana, 1), scan(&ana, 2), scan(&ana, 2)],
        at(3 * SECOND),
    );
    assert!(matches!(
        scans[0],
        Err(Failure::NotFound { kind: "ticket", .. })
    ));
    match &scans[1] {
        Ok(Success::Tickets(TicketSuccess::CheckedIn { ticket, attendee })) => {
            assert_eq!(ticket.status, TicketStatus::Used);
            assert_eq!(attendee.id, ana);
        }
        other => panic!("ana was not admitted: {other:?}"),
    }
    assert!(matches!(
        &scans[2],
        Err(Failure::Tickets(TicketFailure::AlreadyUsed { used_at, .. })) if *used_at == at(3 * SECOND)
    ));
    // A used ticket keeps its token when generation runs again.
    let again = generate(
        run,
        &event.id,
        vec![prepared(&ana, 3)],
        false,
        at(4 * SECOND),
    );
    assert_eq!(again.counters.skipped, 1);
}

/// Voiding dee's balcony ticket gives the seat back (she may be issued one again); her
/// token answers "void", a second void is refused, and a used ticket cannot be voided.
pub fn a_voided_ticket_gives_its_seat_back_and_answers_void_at_the_door<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let (event, [ana, _, _, dee]) = ceremony(run);
    let items = vec![prepared(&ana, 1), prepared(&dee, 1)];
    generate(run, &event.id, items, true, at(SECOND));
    let dee_ticket = live_ticket(run, &dee).expect("dee has a ticket");
    let void = |ticket_id: &str| {
        Command::Tickets(TicketCommand::Void {
            ticket_id: ticket_id.to_owned(),
        })
    };
    run.send(&acme(), scan(&ana, 1), at(2 * SECOND))
        .expect("ana is admitted");
    let ana_ticket = live_ticket(run, &ana).expect("ana's ticket");
    let outcomes = run.batch(
        &acme(),
        vec![
            void(&dee_ticket.id),
            void(&dee_ticket.id),
            scan(&dee, 1),
            void(&ana_ticket.id),
            void("tkt_missing"),
        ],
        at(3 * SECOND),
    );
    match &outcomes[0] {
        Ok(Success::Tickets(TicketSuccess::Ticket(ticket))) => {
            assert_eq!(ticket.status, TicketStatus::Void);
            assert_eq!(ticket.voided_at, Some(at(3 * SECOND)));
        }
        other => panic!("not voided: {other:?}"),
    }
    assert!(matches!(
        outcomes[1],
        Err(Failure::Tickets(TicketFailure::Void { .. }))
    ));
    assert!(matches!(
        outcomes[2],
        Err(Failure::Tickets(TicketFailure::Void { .. }))
    ));
    assert!(matches!(
        outcomes[3],
        Err(Failure::Tickets(TicketFailure::AlreadyUsed { .. }))
    ));
    assert!(matches!(
        outcomes[4],
        Err(Failure::NotFound { kind: "ticket", .. })
    ));
    assert_eq!(
        run.figures(&acme(), &event.id),
        (0, 1, 2),
        "dee's seat is back"
    );
    assert!(live_ticket(run, &dee).is_none());
    // Dee may be issued a ticket again.
    let again = generate(
        run,
        &event.id,
        vec![prepared(&dee, 2)],
        true,
        at(4 * SECOND),
    );
    assert_eq!(again.counters.created, 1);
}
