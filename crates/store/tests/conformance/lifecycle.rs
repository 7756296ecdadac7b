//! A hold's life: held, then confirmed (sold), released (given back) or expired (its deadline
//! passed). Expiry comes before every decision: a cart past its deadline frees its seats for the
//! next command, in a later batch, without anyone running a sweep.

use crate::harness::*;
use allot_core::{HoldStatus, PoolId, Refusal, TransitionError};
use allot_store::*;

/// A cart of 5 seats is checked out: held seats become sold. A cancellation releases the sold
/// seats, and a second release is refused for what the hold now is.
pub fn a_confirmed_hold_is_sold_and_a_release_gives_it_back<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Concert", 10), T0);
    let cart = run.hold(&acme(), order(&event.id, 5).by("ana"), at(SECOND));
    assert_eq!(
        (cart.status, cart.holder.as_deref()),
        (HoldStatus::Held, Some("ana"))
    );
    assert_eq!(run.figures(&acme(), &event.id), (5, 0, 5));

    let (sold, _) = placed(run.send(&acme(), confirm(&cart), at(2 * SECOND)));
    assert_eq!(sold.status, HoldStatus::Confirmed);
    assert_eq!(run.figures(&acme(), &event.id), (0, 5, 5));
    for step in [confirm(&cart), extend(&cart, 600)] {
        assert_eq!(
            refused(run.send(&acme(), step, at(3 * SECOND))),
            Failure::Transition(TransitionError::WrongStatus(HoldStatus::Confirmed)),
            "a sold cart is neither checked out again nor given more time"
        );
    }

    let (cancelled, _) = placed(run.send(&acme(), release(&cart), at(4 * SECOND)));
    assert_eq!(cancelled.status, HoldStatus::Released);
    assert_eq!(run.figures(&acme(), &event.id), (0, 0, 10));
    assert_eq!(
        refused(run.send(&acme(), release(&cart), at(5 * SECOND))),
        Failure::Transition(TransitionError::WrongStatus(HoldStatus::Released))
    );

    // A box-office sale is sold at once, without a cart.
    let sale = run.hold(&acme(), order(&event.id, 3).confirmed(), at(6 * SECOND));
    assert_eq!(sale.status, HoldStatus::Confirmed);
    assert_eq!(run.figures(&acme(), &event.id), (0, 3, 7));
    let kinds: Vec<LedgerKind> = run
        .observe()
        .ledger
        .into_iter()
        .filter(|(_, entry)| entry.hold_id.as_deref() == Some(cart.id.as_str()))
        .map(|(_, entry)| entry.kind)
        .collect();
    assert_eq!(
        kinds,
        [LedgerKind::Hold, LedgerKind::Confirm, LedgerKind::Release]
    );
}

/// A 15-minute cart takes every seat; a second of before its deadline nobody else can buy, and
/// at its deadline the next buyer gets the seats in a batch of their own — no sweep ran.
pub fn a_cart_past_its_deadline_frees_its_seats_for_the_next_batch_without_a_sweep<
    S: StoreUnderTest,
>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Premiere", 10), T0);
    let cart = run.hold(&acme(), order(&event.id, 10).for_seconds(900), T0);
    assert_eq!(cart.expires_at, at(900 * SECOND));
    let refusal = refused(run.send(&acme(), order(&event.id, 1), at(899 * SECOND)));
    assert_eq!(
        refusal,
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(event.id.clone()),
            requested: 1,
            available: 0,
        })
    );

    let next = run.hold(&acme(), order(&event.id, 10), at(900 * SECOND));
    assert_eq!(next.status, HoldStatus::Held);
    assert_eq!(run.hold_view(&acme(), &cart.id).status, HoldStatus::Expired);
    assert_eq!(run.figures(&acme(), &event.id), (10, 0, 0));
    let expiry: Vec<_> = run
        .observe()
        .ledger
        .into_iter()
        .filter(|(_, entry)| entry.kind == LedgerKind::Expire)
        .map(|(_, entry)| (entry.hold_id, entry.held_delta, entry.actor, entry.at))
        .collect();
    assert_eq!(
        expiry,
        [(Some(cart.id.clone()), -10, None, at(900 * SECOND))],
        "expired by the batch itself, before the new hold, by no one"
    );
}

/// A buyer who asks for more time keeps their seats past the first deadline, until the new one.
pub fn an_extended_cart_keeps_its_seats_past_its_first_deadline<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Opera", 4), T0);
    let cart = run.hold(&acme(), order(&event.id, 4).for_seconds(60), T0);
    let (extended, _) = placed(run.send(&acme(), extend(&cart, 120), at(30 * SECOND)));
    assert_eq!(extended.expires_at, at(150 * SECOND));
    assert_eq!(
        run.figures(&acme(), &event.id),
        (4, 0, 0),
        "counters do not move"
    );

    let refusal = refused(run.send(&acme(), order(&event.id, 1), at(100 * SECOND)));
    assert!(
        matches!(
            refusal,
            Failure::Refused(Refusal::InsufficientCapacity { .. })
        ),
        "still held after the first deadline: {refusal:?}"
    );
    let (sold, _) = placed(run.send(&acme(), confirm(&cart), at(149 * SECOND)));
    assert_eq!(sold.status, HoldStatus::Confirmed);
    assert_eq!(run.figures(&acme(), &event.id), (0, 4, 0));
}

/// Once its deadline has passed, a cart can be neither checked out, given more time, nor
/// released: each answers that it expired, and the seats stay with whoever took them next.
pub fn a_lapsed_cart_cannot_be_confirmed_extended_or_released<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Ballet", 5), T0);
    let cart = run.hold(&acme(), order(&event.id, 5).for_seconds(60), T0);
    let steps = vec![confirm(&cart), extend(&cart, 60), release(&cart)];
    for outcome in run.batch(&acme(), steps, at(60 * SECOND)) {
        assert_eq!(
            refused(outcome),
            Failure::Transition(TransitionError::Expired)
        );
    }
    let taken = run.hold(&acme(), order(&event.id, 5), at(61 * SECOND));
    for outcome in run.batch(
        &acme(),
        vec![confirm(&cart), release(&cart)],
        at(62 * SECOND),
    ) {
        assert_eq!(
            refused(outcome),
            Failure::Transition(TransitionError::Expired)
        );
    }
    assert_eq!(run.hold_view(&acme(), &taken.id).status, HoldStatus::Held);
    assert_eq!(run.figures(&acme(), &event.id), (5, 0, 0));
}

/// The sweeper's step answers how many carts lapsed, across tenants, and a sweep with nothing
/// due answers none.
pub fn a_sweep_reports_the_carts_it_expired<S: StoreUnderTest>(run: &mut Run<S>) {
    let ours = run.create(&acme(), pool("Concert", 10), T0);
    let theirs = run.create(&globex(), pool("Conference", 10), T0);
    run.hold(&acme(), order(&ours.id, 2).for_seconds(60), T0);
    run.hold(&acme(), order(&ours.id, 3).for_seconds(120), T0);
    run.hold(&globex(), order(&theirs.id, 4).for_seconds(60), T0);
    let swept = run.send(&acme(), Command::SweepExpired, at(90 * SECOND));
    assert!(
        matches!(swept, Ok(Success::Swept { expired: 2 })),
        "the two carts past their deadline: {swept:?}"
    );
    assert_eq!(run.figures(&acme(), &ours.id), (3, 0, 7));
    assert_eq!(run.figures(&globex(), &theirs.id), (0, 0, 10));
    let swept = run.send(&acme(), Command::SweepExpired, at(100 * SECOND));
    assert!(
        matches!(swept, Ok(Success::Swept { expired: 0 })),
        "{swept:?}"
    );
}

/// Commands in one batch are decided in the order they arrived: a full event refuses the first
/// buyer, a cancellation then frees the seats, and the buyer after it gets them.
pub fn commands_in_one_batch_are_decided_in_arrival_order<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Concert", 6), T0);
    let cart = run.hold(&acme(), order(&event.id, 6), T0);
    let outcomes = run.batch(
        &acme(),
        vec![
            order(&event.id, 6).by("bo").into(),
            release(&cart),
            order(&event.id, 6).by("cy").into(),
        ],
        at(SECOND),
    );
    let [early, cancelled, late] = <[Outcome; 3]>::try_from(outcomes).expect("three replies");
    assert!(matches!(
        refused(early),
        Failure::Refused(Refusal::InsufficientCapacity { available: 0, .. })
    ));
    assert_eq!(placed(cancelled).0.status, HoldStatus::Released);
    let (late, _) = placed(late);
    assert_eq!(late.holder.as_deref(), Some("cy"));
    assert_eq!(run.figures(&acme(), &event.id), (6, 0, 0));
}

/// A cart keeps the price its seats had when it was placed: a price rise during checkout
/// applies to the next cart only, and removing the price leaves both as they were.
pub fn a_cart_keeps_the_price_it_was_placed_at<S: StoreUnderTest>(run: &mut Run<S>) {
    let euros = |amount_minor| Price {
        amount_minor,
        currency: "EUR".into(),
    };
    let event = run.create(
        &acme(),
        allot_store::command::NewPool {
            price: Some(euros(4_500)),
            metadata: Some(serde_json::json!({"venue": "Main hall"})),
            ..pool("Concert", 10)
        },
        T0,
    );
    let early = run.hold(&acme(), order(&event.id, 2), at(SECOND));
    let reprice = |price| Command::UpdatePool {
        pool_id: event.id.clone(),
        patch: allot_store::command::PoolPatch {
            price: Some(price),
            name: Some("Concert (late release)".into()),
            ..Default::default()
        },
    };
    match run.send(&acme(), reprice(Some(euros(6_000))), at(2 * SECOND)) {
        Ok(Success::Pool(pool)) => {
            assert_eq!(pool.price, Some(euros(6_000)));
            assert_eq!(
                pool.metadata,
                Some(serde_json::json!({"venue": "Main hall"}))
            );
        }
        other => panic!("not repriced: {other:?}"),
    }
    let late = run.hold(&acme(), order(&event.id, 2), at(3 * SECOND));
    assert_eq!(late.lines[0].unit_price, Some(euros(6_000)));
    let (sold, _) = placed(run.send(&acme(), confirm(&early), at(4 * SECOND)));
    assert_eq!(
        sold.lines[0].unit_price,
        Some(euros(4_500)),
        "locked at placing"
    );

    assert!(run.send(&acme(), reprice(None), at(5 * SECOND)).is_ok());
    let shown = run.pool(&acme(), &event.id);
    assert_eq!(
        (shown.price, shown.name.as_str()),
        (None, "Concert (late release)")
    );
    assert_eq!(
        run.hold_view(&acme(), &early.id).lines[0].unit_price,
        Some(euros(4_500))
    );
    assert_eq!(
        run.hold_view(&acme(), &late.id).lines[0].unit_price,
        Some(euros(6_000))
    );
}

/// Between batches, what the store shows is as of the moment it is read: a cart past its
/// deadline reads as expired and its seats as free — in the section and in the event above it —
/// before any batch has expired it; the next batch then expires it for good.
pub fn a_cart_past_its_deadline_reads_as_expired_and_its_seats_free_before_any_batch<
    S: StoreUnderTest,
>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Premiere", 10), T0);
    let stalls = run.create(&acme(), section("Stalls", 8, &event), T0);
    let cart = run.hold(&acme(), order(&stalls.id, 6).for_seconds(60), T0);
    let kept = run.hold(&acme(), order(&stalls.id, 1).for_seconds(600), T0);
    let shown = run.observe_at(at(61 * SECOND));
    let figures = |id: &str| {
        let (_, pool) = shown
            .pools
            .iter()
            .find(|(_, pool)| pool.id == id)
            .expect("the pool is shown");
        (pool.held, pool.committed, pool.available)
    };
    assert_eq!(
        figures(&stalls.id),
        (1, 0, 7),
        "the lapsed cart's seats are free"
    );
    assert_eq!(figures(&event.id), (1, 0, 9), "in the event too");
    let status = |id: &str| {
        let (_, hold) = shown
            .holds
            .iter()
            .find(|(_, hold)| hold.id == id)
            .expect("the hold is shown");
        hold.status
    };
    assert_eq!(status(&cart.id), HoldStatus::Expired);
    assert_eq!(status(&kept.id), HoldStatus::Held);
    assert!(
        !shown
            .ledger
            .iter()
            .any(|(_, entry)| entry.kind == LedgerKind::Expire),
        "no batch has expired it yet"
    );

    run.hold(&acme(), order(&stalls.id, 7), at(61 * SECOND));
    assert_eq!(run.figures(&acme(), &stalls.id), (8, 0, 0));
}
