//! Holds and limits over hierarchies: an event's sections share the event's capacity, a
//! campaign quota sells into its overage band, a line asks for the unit its pool counts, and a
//! subject is counted once per pool.

use crate::harness::*;
use allot_core::{AdjustRefusal, PoolId, Refusal, Warning};
use allot_store::command::PoolPatch;
use allot_store::*;

/// An event of 100 seats with two sections of 80 each: the sections cannot sell more than the
/// event itself has, and each section's availability is the event's once that is the lesser.
pub fn an_events_section_cannot_sell_past_the_events_own_limit<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Concert", 100), T0);
    let stalls = run.create(&acme(), section("Stalls", 80, &event), T0);
    let balcony = run.create(&acme(), section("Balcony", 80, &event), T0);
    run.hold(&acme(), order(&stalls.id, 60), at(SECOND));
    assert_eq!(
        run.figures(&acme(), &balcony.id),
        (0, 0, 40),
        "the event has 40 left"
    );

    let refusal = refused(run.send(&acme(), order(&balcony.id, 50), at(2 * SECOND)));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(event.id.clone()),
            requested: 50,
            available: 40,
        }),
        "the event's own limit binds its section"
    );
    run.hold(&acme(), order(&balcony.id, 40), at(3 * SECOND));
    assert_eq!(run.figures(&acme(), &event.id), (100, 0, 0));
    assert_eq!(run.figures(&acme(), &stalls.id), (60, 0, 0));
    assert_eq!(run.figures(&acme(), &balcony.id), (40, 0, 0));
}

/// One order for 30 stalls and 30 balcony seats of a 50-seat event: both lines count against
/// the event, so the order is refused whole and nothing is written.
pub fn a_hold_across_sections_counts_every_line_against_the_event<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Gala", 50), T0);
    let stalls = run.create(&acme(), section("Stalls", 40, &event), T0);
    let balcony = run.create(&acme(), section("Balcony", 40, &event), T0);
    let before = run.observe();
    let refusal = refused(run.send(
        &acme(),
        order(&stalls.id, 30).and(&balcony.id, 30),
        at(SECOND),
    ));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(event.id.clone()),
            requested: 60,
            available: 50,
        })
    );
    assert_eq!(run.observe(), before, "a refused order writes nothing");

    let (hold, _) = placed(run.send(
        &acme(),
        order(&stalls.id, 25).and(&balcony.id, 25),
        at(2 * SECOND),
    ));
    assert_eq!(hold.lines.len(), 2);
    assert_eq!(run.figures(&acme(), &event.id), (50, 0, 0));
    let entries: Vec<_> = run
        .observe()
        .ledger
        .into_iter()
        .filter(|(_, entry)| entry.hold_id.as_deref() == Some(hold.id.as_str()))
        .map(|(_, entry)| (entry.pool_id, entry.kind, entry.held_delta))
        .collect();
    assert_eq!(
        entries,
        [
            (stalls.id.clone(), LedgerKind::Hold, 25),
            (balcony.id.clone(), LedgerKind::Hold, 25)
        ],
        "one ledger entry per line, on the line's own pool"
    );
}

/// When one line of an order does not fit, the refusal names that line's pool and what it had;
/// an order naming a pool that does not exist names that pool.
pub fn the_refusal_names_the_line_that_does_not_fit<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Festival", 500), T0);
    let arena = run.create(&acme(), section("Arena", 300, &event), T0);
    let vip = run.create(&acme(), section("VIP", 20, &event), T0);
    let refusal = refused(run.send(&acme(), order(&arena.id, 10).and(&vip.id, 21), at(SECOND)));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(vip.id.clone()),
            requested: 21,
            available: 20,
        })
    );
    let refusal = refused(run.send(
        &acme(),
        order(&arena.id, 10).and("pool_nowhere", 1),
        at(SECOND),
    ));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::UnknownPool(PoolId("pool_nowhere".into())))
    );
    assert_eq!(run.figures(&acme(), &event.id), (0, 0, 500));
}

/// A campaign of 100 seats with 10% overage allowed: up to 100 sells quietly, 101 to 110 sells
/// with a warning, and nothing above 110.
pub fn a_campaign_quota_sells_into_its_overage_band_with_a_warning<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let campaign = run.create(
        &acme(),
        allot_store::command::NewPool {
            hard_limit_pct: pct(110),
            ..pool("Spring campaign", 100)
        },
        T0,
    );
    assert_eq!(campaign.limit, 110);
    let (_, warnings) = placed(run.send(&acme(), order(&campaign.id, 100).confirmed(), at(SECOND)));
    assert_eq!(warnings, [], "at the commitment: no warning");
    assert!(!run.pool(&acme(), &campaign.id).over_soft_limit);

    let (_, warnings) =
        placed(run.send(&acme(), order(&campaign.id, 5).confirmed(), at(2 * SECOND)));
    assert_eq!(warnings, [Warning::OverSoftLimit], "in the overage band");
    assert!(run.pool(&acme(), &campaign.id).over_soft_limit);

    let refusal = refused(run.send(&acme(), order(&campaign.id, 6), at(3 * SECOND)));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(campaign.id.clone()),
            requested: 6,
            available: 5,
        }),
        "blocked above 110%"
    );
    run.hold(&acme(), order(&campaign.id, 5), at(4 * SECOND));
    assert_eq!(run.figures(&acme(), &campaign.id), (5, 105, 0));
}

/// A line that expects credits from a pool counting seats is refused, naming both units, and
/// takes nothing; the right unit is served.
pub fn credits_are_not_taken_from_a_seats_pool<S: StoreUnderTest>(run: &mut Run<S>) {
    let seats = run.create(&acme(), pool("Workshop", 30), T0);
    let refusal = refused(run.send(
        &acme(),
        order(&seats.id, 2).in_units(&["credits"]),
        at(SECOND),
    ));
    assert_eq!(
        refusal,
        Failure::UnitMismatch {
            pool_id: seats.id.clone(),
            requested: "credits".into(),
            actual: "seats".into(),
        }
    );
    assert_eq!(run.figures(&acme(), &seats.id), (0, 0, 30));
    run.hold(
        &acme(),
        order(&seats.id, 2).in_units(&["seats"]),
        at(2 * SECOND),
    );
    assert_eq!(run.figures(&acme(), &seats.id), (2, 0, 28));
}

/// A learner enrolled in a campaign counts once: enrolling them again answers the enrolment
/// that counted them, and only once that one is released do they count anew.
pub fn a_learner_is_counted_once_per_campaign_pool<S: StoreUnderTest>(run: &mut Run<S>) {
    let learners = run.create(
        &acme(),
        allot_store::command::NewPool {
            unit: "learners".into(),
            ..pool("Onboarding cohort", 3)
        },
        T0,
    );
    let enrol = |subject: &str| order(&learners.id, 1).confirmed().of_subject(subject);
    let first = run.hold(&acme(), enrol("learner-ana"), at(SECOND));
    match run.send(&acme(), enrol("learner-ana"), at(2 * SECOND)) {
        Ok(Success::AlreadyConsumed(counted)) => assert_eq!(counted.id, first.id),
        other => panic!("ana counted twice: {other:?}"),
    }
    run.hold(&acme(), enrol("learner-bo"), at(3 * SECOND));
    assert_eq!(run.figures(&acme(), &learners.id), (0, 2, 1));

    placed(run.send(&acme(), release(&first), at(4 * SECOND)));
    let again = run.hold(&acme(), enrol("learner-ana"), at(5 * SECOND));
    assert_ne!(
        again.id, first.id,
        "a released enrolment no longer counts her"
    );
    assert_eq!(run.figures(&acme(), &learners.id), (0, 2, 1));
}

/// An event paused (inactive) sells none of its sections, and sells again once resumed.
pub fn a_paused_event_sells_none_of_its_sections<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Matinee", 40), T0);
    let stalls = run.create(&acme(), section("Stalls", 40, &event), T0);
    let pause = |active| Command::UpdatePool {
        pool_id: event.id.clone(),
        patch: PoolPatch {
            active: Some(active),
            ..PoolPatch::default()
        },
    };
    assert!(run.send(&acme(), pause(false), at(SECOND)).is_ok());
    assert_eq!(
        run.figures(&acme(), &stalls.id),
        (0, 0, 0),
        "nothing on offer"
    );
    let refusal = refused(run.send(&acme(), order(&stalls.id, 1), at(2 * SECOND)));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::PoolInactive(PoolId(event.id.clone())))
    );
    assert!(run.send(&acme(), pause(true), at(3 * SECOND)).is_ok());
    run.hold(&acme(), order(&stalls.id, 1), at(4 * SECOND));
    assert_eq!(run.figures(&acme(), &stalls.id), (1, 0, 39));
}

/// An organiser may shrink an event only down to what is already held or sold; the refusal
/// says how much that is, and the capacity stays.
pub fn capacity_cannot_be_cut_below_what_is_sold<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Recital", 50), T0);
    let stalls = run.create(&acme(), section("Stalls", 50, &event), T0);
    run.hold(&acme(), order(&stalls.id, 20).confirmed(), at(SECOND));
    run.hold(&acme(), order(&stalls.id, 10), at(SECOND));
    let resize = |seats| Command::UpdatePool {
        pool_id: event.id.clone(),
        patch: PoolPatch {
            capacity: Some(capacity(seats)),
            reason: Some("venue change".into()),
            ..PoolPatch::default()
        },
    };
    let refusal = refused(run.send(&acme(), resize(29), at(2 * SECOND)));
    assert_eq!(
        refusal,
        Failure::Adjust(AdjustRefusal::BelowUse {
            capacity: 29,
            used: 30
        })
    );
    assert_eq!(run.pool(&acme(), &event.id).capacity, 50);
    match run.send(&acme(), resize(30), at(3 * SECOND)) {
        Ok(Success::Pool(pool)) => assert_eq!((pool.capacity, pool.available), (30, 0)),
        other => panic!("not resized: {other:?}"),
    }
    let (_, last) = run
        .observe()
        .ledger
        .pop()
        .expect("the resize is in the ledger");
    assert_eq!(
        (last.kind, last.capacity_after, last.reason.as_deref()),
        (LedgerKind::Adjust, 30, Some("venue change"))
    );
}

/// A learner whose enrolment hold lapsed unconfirmed no longer counts: enrolling them again
/// makes a new enrolment.
pub fn a_learner_whose_enrolment_lapsed_is_counted_anew<S: StoreUnderTest>(run: &mut Run<S>) {
    let learners = run.create(
        &acme(),
        allot_store::command::NewPool {
            unit: "learners".into(),
            ..pool("Evening cohort", 2)
        },
        T0,
    );
    let enrol = || {
        order(&learners.id, 1)
            .for_seconds(60)
            .of_subject("learner-cy")
    };
    let lapsed = run.hold(&acme(), enrol(), T0);
    match run.send(&acme(), enrol(), at(30 * SECOND)) {
        Ok(Success::AlreadyConsumed(counted)) => assert_eq!(counted.id, lapsed.id),
        other => panic!("counted twice while the first was live: {other:?}"),
    }
    let anew = run.hold(&acme(), enrol(), at(60 * SECOND));
    assert_ne!(anew.id, lapsed.id);
    assert_eq!(
        run.hold_view(&acme(), &lapsed.id).status,
        allot_core::HoldStatus::Expired
    );
    assert_eq!(run.figures(&acme(), &learners.id), (1, 0, 1));
}

/// Two lines on the same section count together: 3 and 4 seats from a 6-seat section are
/// refused as 7, and fit a 7-seat one.
pub fn two_lines_on_one_section_count_together<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Cabaret", 20), T0);
    let front = run.create(&acme(), section("Front tables", 6, &event), T0);
    let back = run.create(&acme(), section("Back tables", 7, &event), T0);
    assert_eq!(
        refused(run.send(&acme(), order(&front.id, 3).and(&front.id, 4), at(SECOND))),
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(front.id.clone()),
            requested: 7,
            available: 6,
        })
    );
    let (hold, _) = placed(run.send(&acme(), order(&back.id, 3).and(&back.id, 4), at(SECOND)));
    assert_eq!(hold.lines.len(), 2);
    assert_eq!(run.figures(&acme(), &back.id), (7, 0, 0));
    assert_eq!(run.figures(&acme(), &event.id), (7, 0, 13));
}
