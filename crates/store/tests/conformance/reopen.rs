//! A store restarted — the in-memory store losing what its writer kept between batches, SQLite
//! opened again from its file — keeps every committed change, and decides from it: counters,
//! deadlines, idempotency keys and jobs carry on as if nothing happened.

use crate::harness::*;
use crate::idempotency::{keyed, rendered};
use allot_core::{HoldStatus, PoolId, Refusal};
use allot_store::command::NewPlan;
use allot_store::*;

/// An event with sold, held and released seats, a member quota and a running job, restarted:
/// everything the store showed before, it shows after.
pub fn every_committed_change_survives_a_restart<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Concert", 100), T0);
    let stalls = run.create(&acme(), section("Stalls", 60, &event), T0);
    run.hold(&acme(), order(&stalls.id, 10).confirmed(), at(SECOND));
    let cart = run.hold(&acme(), order(&stalls.id, 5), at(SECOND));
    let dropped = run.hold(&acme(), order(&event.id, 7), at(SECOND));
    placed(run.send(&acme(), release(&dropped), at(2 * SECOND)));
    let plan = match run.send(
        &acme(),
        Command::CreatePlan(NewPlan {
            name: "Gold".into(),
            unit: "seats".into(),
            capacity: capacity(4),
            hard_limit_pct: pct(100),
            soft_limit_pct: pct(100),
            thresholds: None,
        }),
        at(3 * SECOND),
    ) {
        Ok(Success::Plan(plan)) => plan,
        other => panic!("no plan: {other:?}"),
    };
    let quota = match run.send(
        &acme(),
        Command::PutMember {
            plan_id: plan.id.clone(),
            subject: "ana".into(),
            parent_id: Some(event.id.clone()),
        },
        at(3 * SECOND),
    ) {
        Ok(Success::Member { pool, .. }) => pool,
        other => panic!("no member: {other:?}"),
    };
    let before = run.observe();
    let plan_before = run.plan(&acme(), &plan.id);

    run.restart();
    assert_eq!(
        run.observe(),
        before,
        "every pool, hold and ledger entry as committed"
    );
    assert_eq!(run.plan(&acme(), &plan.id), plan_before);
    assert_eq!(
        run.member_pool(&acme(), &plan.id, "ana"),
        Some(quota.id.clone())
    );
    assert_eq!(run.hold_view(&acme(), &cart.id).status, HoldStatus::Held);
    assert_eq!(run.figures(&acme(), &event.id), (5, 10, 85));
}

/// After a restart the store sells exactly what is left — no more, no less — confirms a cart
/// placed before it, and replays an answer kept before it.
pub fn a_restarted_store_decides_from_what_it_committed<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Concert", 10), T0);
    let (first, _) = rendered(
        run.apply(
            vec![keyed(
                &acme(),
                order(&event.id, 4),
                "checkout-ana",
                "POST /holds 4",
            )],
            at(SECOND),
        )
        .pop()
        .expect("one reply"),
    );
    let cart = run.observe().holds.pop().expect("ana's cart").1;
    run.restart();

    let (again, replayed) = rendered(
        run.apply(
            vec![keyed(
                &acme(),
                order(&event.id, 4),
                "checkout-ana",
                "POST /holds 4",
            )],
            at(2 * SECOND),
        )
        .pop()
        .expect("one reply"),
    );
    assert!(replayed, "the key survived the restart");
    assert_eq!(again, first);
    assert_eq!(
        refused(run.send(&acme(), order(&event.id, 7), at(3 * SECOND))),
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(event.id.clone()),
            requested: 7,
            available: 6,
        })
    );
    run.hold(&acme(), order(&event.id, 6), at(3 * SECOND));
    let (sold, _) = placed(run.send(&acme(), confirm(&cart), at(4 * SECOND)));
    assert_eq!(sold.status, HoldStatus::Confirmed);
    assert_eq!(run.figures(&acme(), &event.id), (6, 4, 0));
}

/// A cart placed before a restart still lapses at its deadline after it, and frees its seats
/// for the next buyer.
pub fn a_cart_placed_before_a_restart_expires_after_it<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Premiere", 3), T0);
    let cart = run.hold(&acme(), order(&event.id, 3).for_seconds(60), T0);
    run.restart();
    let next = run.hold(&acme(), order(&event.id, 3), at(60 * SECOND));
    assert_eq!(run.hold_view(&acme(), &cart.id).status, HoldStatus::Expired);
    assert_eq!(run.hold_view(&acme(), &next.id).status, HoldStatus::Held);
    assert_eq!(run.figures(&acme(), &event.id), (3, 0, 0));
}

/// A walk's dates, made before a restart, are found after it with their own bookings: the
/// store sells what each date has left, and makes a new date as before.
pub fn a_sessions_dates_survive_a_restart_with_their_bookings<S: StoreUnderTest>(run: &mut Run<S>) {
    let walk = run.create(
        &acme(),
        allot_store::command::NewPool {
            per_date: true,
            ..pool("City walk", 10)
        },
        T0,
    );
    let wednesday = format!("{}-2026-12-09", walk.id);
    run.hold(&acme(), order(&wednesday, 8).confirmed(), at(SECOND));
    run.restart();
    assert_eq!(
        refused(run.send(&acme(), order(&wednesday, 3), at(2 * SECOND))),
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(wednesday.clone()),
            requested: 3,
            available: 2,
        })
    );
    run.hold(&acme(), order(&wednesday, 2), at(3 * SECOND));
    let thursday = format!("{}-2026-12-10", walk.id);
    run.hold(&acme(), order(&thursday, 10), at(3 * SECOND));
    let dates: Vec<_> = run
        .observe()
        .pools
        .into_iter()
        .filter_map(|(_, pool)| pool.date)
        .collect();
    assert_eq!(dates, ["2026-12-09", "2026-12-10"]);
}
