//! Waiting lists: buyers in line for a full event, served when seats free (an offer to confirm),
//! an offer that lapses going to the next in line, priority classes putting some first.

use crate::harness::*;
use allot_core::waitlist::{EntryStatus, PriorityClasses};
use allot_core::{HoldStatus, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::{NewWaitlistEntry, PriorityAsk};
use allot_store::*;
use std::collections::BTreeMap;

fn join(pool_id: &str, holder: &str, priority: PriorityAsk) -> Command {
    Command::JoinWaitlist(NewWaitlistEntry {
        pool_id: pool_id.into(),
        holder: holder.into(),
        quantity: Quantity::new(1).expect("valid quantity"),
        priority,
        expires_in: TtlSeconds::new(24 * 3_600).expect("valid ttl"),
    })
}

fn entry(outcome: Outcome) -> WaitlistEntryView {
    match outcome {
        Ok(Success::WaitlistEntry(entry)) => entry,
        other => panic!("no entry: {other:?}"),
    }
}

/// The hold promotion made for `holder`, as the store shows it.
fn offer_to<S: StoreUnderTest>(run: &Run<S>, holder: &str) -> Option<HoldView> {
    run.observe()
        .holds
        .into_iter()
        .map(|(_, hold)| hold)
        .find(|hold| hold.holder.as_deref() == Some(holder))
}

/// A sold-out concert puts ana and then bo in line; a cart given back makes both offers, held
/// for them until they confirm; ana confirms hers.
pub fn a_full_event_puts_buyers_in_line_and_a_released_cart_offers_them_seats<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Concert", 2), T0);
    let cart = run.hold(&acme(), order(&event.id, 2).by("box office"), at(SECOND));
    let line = run.batch(
        &acme(),
        vec![
            join(&event.id, "ana", PriorityAsk::Base),
            join(&event.id, "bo", PriorityAsk::Base),
        ],
        at(2 * SECOND),
    );
    let positions: Vec<_> = line
        .into_iter()
        .map(|outcome| {
            let entry = entry(outcome);
            (entry.status, entry.position)
        })
        .collect();
    assert_eq!(
        positions,
        [
            (EntryStatus::Waiting, Some(1)),
            (EntryStatus::Waiting, Some(2))
        ]
    );
    assert!(offer_to(run, "ana").is_none());

    placed(run.send(&acme(), release(&cart), at(3 * SECOND)));
    assert_eq!(run.figures(&acme(), &event.id), (2, 0, 0));
    let ana = offer_to(run, "ana").expect("an offer to ana");
    assert_eq!(ana.status, HoldStatus::Held);
    assert!(offer_to(run, "bo").is_some());
    let (sold, _) = placed(run.send(&acme(), confirm(&ana), at(4 * SECOND)));
    assert_eq!(sold.status, HoldStatus::Confirmed);
    assert_eq!(run.figures(&acme(), &event.id), (1, 1, 0));
}

/// ana's offer lapses unconfirmed: the sweep expires its hold, and the seat is offered to bo.
pub fn an_offer_that_lapses_goes_to_the_next_in_line<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Concert", 1), T0);
    let cart = run.hold(&acme(), order(&event.id, 1).by("box office"), at(SECOND));
    run.batch(
        &acme(),
        vec![
            join(&event.id, "ana", PriorityAsk::Base),
            join(&event.id, "bo", PriorityAsk::Base),
        ],
        at(2 * SECOND),
    );
    placed(run.send(&acme(), release(&cart), at(3 * SECOND)));
    let ana = offer_to(run, "ana").expect("an offer to ana");
    assert!(offer_to(run, "bo").is_none(), "one seat, one offer");

    let lapsed = UnixMillis(ana.expires_at.0 + SECOND);
    run.send(&acme(), Command::SweepExpired, lapsed)
        .expect("the sweep runs");
    let ana = offer_to(run, "ana").expect("ana's offer is kept");
    assert_eq!(ana.status, HoldStatus::Expired);
    let bo = offer_to(run, "bo").expect("the seat is offered to bo");
    assert_eq!(bo.status, HoldStatus::Held);
    assert_eq!(run.figures(&acme(), &event.id), (1, 0, 0));
}

/// With tour-booking classes, a registered buyer who joins later is ahead of a guest.
pub fn priority_classes_put_registered_buyers_first<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Tour", 1), T0);
    run.hold(&acme(), order(&event.id, 1).by("box office"), at(SECOND));
    let classes = PriorityClasses {
        base: 1,
        classes: BTreeMap::from([("registered".into(), 2)]),
    };
    run.send(&acme(), Command::SetPriorityClasses(classes), at(SECOND))
        .expect("classes set");
    let line = run.batch(
        &acme(),
        vec![
            join(&event.id, "guest", PriorityAsk::Base),
            join(
                &event.id,
                "member",
                PriorityAsk::Classes(vec!["registered".into()]),
            ),
        ],
        at(2 * SECOND),
    );
    let line: Vec<_> = line.into_iter().map(entry).collect();
    assert_eq!((line[0].priority, line[1].priority), (1, 3));
    assert_eq!(line[1].position, Some(1), "the member is served first");
    let unknown = run.send(
        &acme(),
        join(&event.id, "vip", PriorityAsk::Classes(vec!["vip".into()])),
        at(3 * SECOND),
    );
    assert!(
        matches!(refused(unknown), Failure::Invalid { field, .. } if field == "priority_class")
    );
}
