//! Dated sessions: a tour that runs every day is one session pool; each date gets its own pool
//! on first use, with the session's limits. A session takes no holds itself, and a date takes
//! none once it is over in the session's time zone. The suite starts on Monday 2026-12-07 at
//! 10:00 UTC.

use crate::harness::*;
use allot_core::{PoolId, Refusal, SessionZone};
use allot_store::command::{NewPool, PoolPatch};
use allot_store::*;

/// A tour that runs every day, in `zone` (`None`: UTC).
fn tour(name: &str, seats: i64, zone: Option<&str>) -> NewPool {
    NewPool {
        per_date: true,
        time_zone: zone.map(|name| SessionZone::parse(name).expect("a known zone")),
        ..pool(name, seats)
    }
}

/// The id of one date of a session.
fn on(session: &PoolView, date: &str) -> String {
    format!("{}-{date}", session.id)
}

/// Why a hold's first line was refused for its date.
fn date_refusal(failure: Failure) -> String {
    match failure {
        Failure::Invalid { field, message } if field == "lines[0].date" => message,
        other => panic!("not refused for its date: {other:?}"),
    }
}

/// A city walk of 20 places with 10% overbooking: Wednesday's walk is made when first booked,
/// with the walk's capacity and limits, and sells up to that limit; Thursday's has its own.
pub fn a_dated_tour_makes_its_date_on_first_use_with_the_sessions_limits<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let walk = run.create(
        &acme(),
        NewPool {
            hard_limit_pct: pct(110),
            ..tour("City walk", 20, None)
        },
        T0,
    );
    assert_eq!(run.observe().pools.len(), 1, "no date before its first use");
    let wednesday = on(&walk, "2026-12-09");
    run.hold(&acme(), order(&wednesday, 22), at(SECOND));
    let date = run.pool(&acme(), &wednesday);
    assert_eq!(
        (
            date.session_id.as_deref(),
            date.date.as_deref(),
            date.per_date
        ),
        (Some(walk.id.as_str()), Some("2026-12-09"), false)
    );
    assert_eq!((date.capacity, date.limit, date.held), (20, 22, 22));
    assert_eq!(
        date.parent_id, walk.parent_id,
        "a date counts where its session does"
    );
    let (_, made) = run
        .observe()
        .ledger
        .into_iter()
        .find(|(_, entry)| entry.pool_id == wednesday)
        .expect("the date's first entry");
    assert_eq!(
        (made.kind, made.capacity_after, made.reason.as_deref()),
        (LedgerKind::Adjust, 20, Some("date first used"))
    );

    let refusal = refused(run.send(&acme(), order(&wednesday, 1), at(2 * SECOND)));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(wednesday.clone()),
            requested: 1,
            available: 0,
        })
    );
    let thursday = on(&walk, "2026-12-10");
    run.hold(&acme(), order(&thursday, 22), at(3 * SECOND));
    assert_eq!(run.figures(&acme(), &thursday), (22, 0, 0));
    assert_eq!(
        run.figures(&acme(), &walk.id),
        (0, 0, 22),
        "the session holds nothing"
    );
}

/// Booking the session instead of one of its dates is refused: a date must be given.
pub fn a_session_itself_takes_no_holds<S: StoreUnderTest>(run: &mut Run<S>) {
    let walk = run.create(&acme(), tour("Harbour walk", 20, None), T0);
    let message = date_refusal(refused(run.send(&acme(), order(&walk.id, 1), at(SECOND))));
    assert!(message.contains("give a date"), "{message}");
    assert_eq!(run.observe().pools.len(), 1, "no date was made");
}

/// At 06:00 UTC on Tuesday it is still Monday evening in Los Angeles: Monday's walk there can
/// be booked, Monday's walk in UTC cannot, and Sunday's in Los Angeles is over too.
pub fn a_date_is_booked_until_it_is_over_in_the_sessions_zone<S: StoreUnderTest>(run: &mut Run<S>) {
    let west = run.create(
        &acme(),
        tour("Venice Beach walk", 10, Some("America/Los_Angeles")),
        T0,
    );
    let utc = run.create(&acme(), tour("Greenwich walk", 10, None), T0);
    let tuesday_early = at(20 * HOUR);
    let evening = run.hold(&acme(), order(&on(&west, "2026-12-07"), 2), tuesday_early);
    assert_eq!(evening.lines[0].pool_id, on(&west, "2026-12-07"));
    assert_eq!(
        run.pool(&acme(), &on(&west, "2026-12-07"))
            .time_zone
            .as_deref(),
        Some("America/Los_Angeles")
    );

    let message = date_refusal(refused(run.send(
        &acme(),
        order(&on(&utc, "2026-12-07"), 2),
        tuesday_early,
    )));
    assert!(message.contains("UTC"), "{message}");
    let message = date_refusal(refused(run.send(
        &acme(),
        order(&on(&west, "2026-12-06"), 2),
        tuesday_early,
    )));
    assert!(message.contains("America/Los_Angeles"), "{message}");
    let made: Vec<_> = run
        .observe()
        .pools
        .into_iter()
        .filter_map(|(_, pool)| pool.date)
        .collect();
    assert_eq!(made, ["2026-12-07"], "a date refused is not made");
}

/// Monday's walk, booked on Monday, takes no new booking once Monday is over; the booking it
/// has stays sold.
pub fn a_date_already_made_refuses_new_holds_once_it_is_over<S: StoreUnderTest>(run: &mut Run<S>) {
    let walk = run.create(&acme(), tour("Old town walk", 10, None), T0);
    let monday = on(&walk, "2026-12-07");
    let booking = run.hold(&acme(), order(&monday, 3).confirmed(), at(HOUR));
    let message = date_refusal(refused(run.send(&acme(), order(&monday, 1), at(14 * HOUR))));
    assert!(message.contains("in the past"), "{message}");
    assert_eq!(run.figures(&acme(), &monday), (0, 3, 7));
    assert_eq!(
        run.hold_view(&acme(), &booking.id).status,
        allot_core::HoldStatus::Confirmed
    );
}

/// Growing a walk changes the dates already made only when the organiser asks; a date made
/// afterwards takes the new figures; a change some date cannot take changes no date.
pub fn a_session_wide_change_reaches_its_dates_only_when_asked<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let walk = run.create(&acme(), tour("River walk", 20, None), T0);
    let wednesday = on(&walk, "2026-12-09");
    let thursday = on(&walk, "2026-12-10");
    run.hold(&acme(), order(&wednesday, 5), at(SECOND));
    run.hold(&acme(), order(&thursday, 18), at(SECOND));
    let resize = |seats, apply_to_dates| Command::UpdatePool {
        pool_id: walk.id.clone(),
        patch: PoolPatch {
            capacity: Some(capacity(seats)),
            apply_to_dates,
            ..PoolPatch::default()
        },
    };
    assert!(run.send(&acme(), resize(25, false), at(2 * SECOND)).is_ok());
    assert_eq!(run.pool(&acme(), &walk.id).capacity, 25);
    assert_eq!(
        run.pool(&acme(), &wednesday).capacity,
        20,
        "not asked to follow"
    );
    let friday = on(&walk, "2026-12-11");
    run.hold(&acme(), order(&friday, 1), at(3 * SECOND));
    assert_eq!(run.pool(&acme(), &friday).capacity, 25);

    let before = run.observe();
    match refused(run.send(&acme(), resize(15, true), at(4 * SECOND))) {
        Failure::Rejected(message) => {
            assert!(message.contains("2026-12-10"), "names Thursday: {message}")
        }
        other => panic!("not rejected: {other:?}"),
    }
    assert_eq!(run.observe(), before, "no date changed, nor the session");

    assert!(run.send(&acme(), resize(18, true), at(5 * SECOND)).is_ok());
    for id in [&walk.id, &wednesday, &thursday, &friday] {
        assert_eq!(run.pool(&acme(), id).capacity, 18, "{id}");
    }
}

/// A date given for a pool that serves no dates is refused for it; a date of a pool that does
/// not exist is an unknown pool.
pub fn a_pool_without_dates_is_not_addressed_by_date<S: StoreUnderTest>(run: &mut Run<S>) {
    let concert = run.create(&acme(), pool("Concert", 10), T0);
    let message = date_refusal(refused(run.send(
        &acme(),
        order(&on(&concert, "2026-12-09"), 1),
        at(SECOND),
    )));
    assert!(message.contains("not a session with dates"), "{message}");
    let nowhere = "pool_nowhere-2026-12-09";
    assert_eq!(
        refused(run.send(&acme(), order(nowhere, 1), at(SECOND))),
        Failure::Refused(Refusal::UnknownPool(PoolId(nowhere.into())))
    );
    assert_eq!(run.observe().pools.len(), 1);
}

/// An organiser can resize one date before anyone booked it: the date is made with the new
/// capacity, and the session and its other dates keep theirs.
pub fn a_dates_capacity_can_be_changed_before_its_first_booking<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let walk = run.create(&acme(), tour("Castle walk", 20, None), T0);
    let saturday = on(&walk, "2026-12-12");
    let outcome = run.send(
        &acme(),
        Command::UpdatePool {
            pool_id: saturday.clone(),
            patch: PoolPatch {
                capacity: Some(capacity(40)),
                reason: Some("two guides on Saturday".into()),
                ..PoolPatch::default()
            },
        },
        at(SECOND),
    );
    match outcome {
        Ok(Success::Pool(date)) => assert_eq!(
            (date.id.as_str(), date.capacity, date.date.as_deref()),
            (saturday.as_str(), 40, Some("2026-12-12"))
        ),
        other => panic!("not resized: {other:?}"),
    }
    run.hold(&acme(), order(&saturday, 40), at(2 * SECOND));
    let sunday = on(&walk, "2026-12-13");
    run.hold(&acme(), order(&sunday, 20), at(2 * SECOND));
    assert_eq!(run.pool(&acme(), &sunday).capacity, 20);
    assert_eq!(run.pool(&acme(), &walk.id).capacity, 20);
}
