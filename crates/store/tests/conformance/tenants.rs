//! Tenant isolation: every read and every decision is one tenant's. Another tenant's pool, hold,
//! plan or job is not found — never refused for what it holds, which would tell it exists — and
//! nothing of it moves.

use crate::harness::*;
use crate::idempotency::{keyed, rendered};
use allot_core::{PoolId, Refusal};
use allot_store::command::{NewPlan, PoolPatch};
use allot_store::jobs::{JobCommand, JobStatus};
use allot_store::*;

/// Globex cannot sell, change or build under Acme's event, even knowing its id.
pub fn another_tenants_pool_is_not_found<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Acme concert", 10), T0);
    let before = run.observe();
    let outcomes = run.batch(
        &globex(),
        vec![
            order(&event.id, 1).into(),
            Command::UpdatePool {
                pool_id: event.id.clone(),
                patch: PoolPatch {
                    capacity: Some(capacity(1)),
                    ..PoolPatch::default()
                },
            },
            Command::CreatePool(section("Globex stalls", 5, &event)),
        ],
        at(SECOND),
    );
    let [hold, update, child] = <[Outcome; 3]>::try_from(outcomes).expect("three replies");
    assert_eq!(
        refused(hold),
        Failure::Refused(Refusal::UnknownPool(PoolId(event.id.clone())))
    );
    assert!(
        matches!(refused(update), Failure::NotFound { kind: "pool", ref id } if *id == event.id)
    );
    assert!(matches!(refused(child), Failure::Invalid { ref field, .. } if field == "parent_id"));
    assert_eq!(
        run.observe(),
        before,
        "nothing of Acme's moved, nothing of Globex's was made"
    );
}

/// Globex cannot check out, release or extend Acme's cart; Acme still can.
pub fn another_tenants_hold_is_not_found<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Acme concert", 10), T0);
    let cart = run.hold(&acme(), order(&event.id, 4), T0);
    let steps = vec![confirm(&cart), release(&cart), extend(&cart, 60)];
    for outcome in run.batch(&globex(), steps, at(SECOND)) {
        assert!(
            matches!(refused(outcome), Failure::NotFound { kind: "hold", ref id } if *id == cart.id)
        );
    }
    assert_eq!(run.hold_view(&acme(), &cart.id), cart, "untouched");
    let (sold, _) = placed(run.send(&acme(), confirm(&cart), at(2 * SECOND)));
    assert_eq!(sold.status, allot_core::HoldStatus::Confirmed);
}

/// Globex cannot join Acme's plan, follow it, nor end Acme's job.
pub fn another_tenants_plan_and_job_are_not_found<S: StoreUnderTest>(run: &mut Run<S>) {
    let plan = match run.send(
        &acme(),
        Command::CreatePlan(NewPlan {
            name: "Gold".into(),
            unit: "credits".into(),
            capacity: capacity(10),
            hard_limit_pct: pct(100),
            soft_limit_pct: pct(100),
            thresholds: None,
        }),
        T0,
    ) {
        Ok(Success::Plan(plan)) => plan,
        other => panic!("no plan: {other:?}"),
    };
    let job = match run.send(
        &acme(),
        Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::Value::Null,
            total: 1,
        }),
        T0,
    ) {
        Ok(Success::Job(job)) => job,
        other => panic!("no job: {other:?}"),
    };
    let outcomes = run.batch(
        &globex(),
        vec![
            Command::PutMember {
                plan_id: plan.id.clone(),
                subject: "mallory".into(),
                parent_id: None,
            },
            Command::UpdatePlan {
                plan_id: plan.id.clone(),
                name: Some("Mine".into()),
                capacity: None,
                members_follow: None,
            },
            Command::Job(JobCommand::Finish {
                job_id: job.id.clone(),
                status: JobStatus::Failed,
                error: None,
            }),
        ],
        at(SECOND),
    );
    let [put, update, finish] = <[Outcome; 3]>::try_from(outcomes).expect("three replies");
    assert!(matches!(
        refused(put),
        Failure::NotFound { kind: "plan", .. }
    ));
    assert!(matches!(
        refused(update),
        Failure::NotFound { kind: "plan", .. }
    ));
    assert!(matches!(
        refused(finish),
        Failure::NotFound { kind: "job", .. }
    ));
    assert_eq!(run.plan(&acme(), &plan.id), Some(plan.clone()));
    assert_eq!(run.plan(&globex(), &plan.id), None);
    assert_eq!(run.job(&acme(), &job.id), Some(job.clone()));
    assert_eq!(run.job(&globex(), &job.id), None);
    assert_eq!(run.member_pool(&globex(), &plan.id, "mallory"), None);
}

/// Two tenants' clients may pick the same idempotency key: each tenant's is its own.
pub fn idempotency_keys_belong_to_their_tenant<S: StoreUnderTest>(run: &mut Run<S>) {
    let ours = run.create(&acme(), pool("Acme concert", 10), T0);
    let theirs = run.create(&globex(), pool("Globex summit", 10), T0);
    let replies = run.apply(
        vec![
            keyed(&acme(), order(&ours.id, 2), "order-1", "POST /holds 2"),
            keyed(&globex(), order(&theirs.id, 3), "order-1", "POST /holds 3"),
        ],
        at(SECOND),
    );
    for reply in replies {
        let (response, replayed) = rendered(reply);
        assert_eq!((response.status, replayed), (201, false));
    }
    assert_eq!(run.figures(&acme(), &ours.id), (2, 0, 8));
    assert_eq!(run.figures(&globex(), &theirs.id), (3, 0, 7));
}
