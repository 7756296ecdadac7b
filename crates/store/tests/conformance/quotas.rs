//! Plans and member quotas: a membership type's plan gives each member their own quota pool;
//! changing a plan moves its members through a bulk adjustment job, chunk by chunk, each chunk
//! landing once with the job's progress — a worker that restarts resumes from the stored cursor.

use crate::harness::*;
use allot_core::{PoolId, Refusal, UnixMillis, Warning};
use allot_store::command::{Adjustment, NewPlan, NewPool, QuotaChunk, QuotaTarget};
use allot_store::jobs::{JobCommand, JobFailure, JobProgress, JobStatus, JobView};
use allot_store::*;

/// The organisation whose members' quotas count against it.
fn organisation<S: StoreUnderTest>(run: &mut Run<S>) -> PoolView {
    run.create(
        &acme(),
        NewPool {
            unit: "credits".into(),
            ..pool("Acme learning", 1_000)
        },
        T0,
    )
}

fn gold(credits: i64, hard_limit_pct: i64) -> Command {
    Command::CreatePlan(NewPlan {
        name: "Gold".into(),
        unit: "credits".into(),
        capacity: capacity(credits),
        hard_limit_pct: pct(hard_limit_pct),
        soft_limit_pct: pct(100),
        thresholds: None,
    })
}

fn plan_of(outcome: Outcome) -> PlanView {
    match outcome {
        Ok(Success::Plan(plan)) => plan,
        other => panic!("no plan: {other:?}"),
    }
}

fn member(plan: &PlanView, subject: &str, parent: &PoolView) -> Command {
    Command::PutMember {
        plan_id: plan.id.clone(),
        subject: subject.into(),
        parent_id: Some(parent.id.clone()),
    }
}

fn member_of(outcome: Outcome) -> (PoolView, bool) {
    match outcome {
        Ok(Success::Member { pool, created }) => (pool, created),
        other => panic!("no member: {other:?}"),
    }
}

fn job_of(outcome: Outcome) -> JobView {
    match outcome {
        Ok(Success::Job(job)) => job,
        other => panic!("no job: {other:?}"),
    }
}

/// A chunk of `job`'s quotas from `expected` to `next`.
fn chunk(
    job: &JobView,
    (expected, next, last): (Option<&str>, Option<&str>, bool),
    first_seq: i64,
    targets: Vec<QuotaTarget>,
    change: Adjustment,
) -> Command {
    Command::AdjustQuotas(QuotaChunk {
        progress: JobProgress {
            job_id: job.id.clone(),
            expected_cursor: expected.map(str::to_owned),
            next_cursor: next.map(str::to_owned),
            last,
        },
        first_seq,
        targets,
        change,
        reason: "bulk quota adjustment".into(),
    })
}

fn target(label: &str, pool: Option<&PoolView>) -> QuotaTarget {
    QuotaTarget {
        label: label.into(),
        pool_id: pool.map(|pool| pool.id.clone()),
    }
}

/// Members of one plan, made at `now`.
fn members<S: StoreUnderTest>(
    run: &mut Run<S>,
    plan: &PlanView,
    subjects: &[&str],
    parent: &PoolView,
    now: UnixMillis,
) -> Vec<PoolView> {
    let commands = subjects.iter().map(|s| member(plan, s, parent)).collect();
    run.batch(&acme(), commands, now)
        .into_iter()
        .map(|outcome| member_of(outcome).0)
        .collect()
}

/// A Gold member gets one quota pool made from the plan — put twice in one batch, or again
/// later, it is the same pool — counting against the organisation.
pub fn a_member_gets_one_quota_from_its_plan<S: StoreUnderTest>(run: &mut Run<S>) {
    let org = organisation(run);
    let mut plans = run
        .batch(&acme(), vec![gold(10, 110), gold(10, 90)], T0)
        .into_iter();
    let plan = plan_of(plans.next().expect("two replies"));
    assert!(
        matches!(plans.next(), Some(Err(Failure::Invalid { field, .. })) if field == "soft_limit_pct"),
        "a plan whose soft limit is above its hard limit is refused"
    );
    let outcomes = run.batch(
        &acme(),
        vec![member(&plan, "ana", &org), member(&plan, "ana", &org)],
        at(SECOND),
    );
    let [first, second] = <[Outcome; 2]>::try_from(outcomes).expect("two replies");
    let (quota, created) = member_of(first);
    assert!(created);
    assert_eq!(
        (
            quota.unit.as_str(),
            quota.capacity,
            quota.limit,
            quota.parent_id.as_deref()
        ),
        ("credits", 10, 11, Some(org.id.as_str()))
    );
    let (again, created) = member_of(second);
    assert_eq!((again.id.as_str(), created), (quota.id.as_str(), false));
    let (later, created) = member_of(run.send(&acme(), member(&plan, "ana", &org), at(2 * SECOND)));
    assert_eq!((later.id.as_str(), created), (quota.id.as_str(), false));

    assert_eq!(
        run.member_pool(&acme(), &plan.id, "ana"),
        Some(quota.id.clone())
    );
    assert_eq!(run.plan(&acme(), &plan.id).map(|p| p.members), Some(1));
    let missing = run.send(
        &acme(),
        Command::PutMember {
            plan_id: "plan_missing".into(),
            subject: "bo".into(),
            parent_id: None,
        },
        at(3 * SECOND),
    );
    assert!(
        matches!(missing, Err(Failure::NotFound { kind: "plan", .. })),
        "{missing:?}"
    );
}

/// A member's quota of 10 credits with 10% overage sells 11, the last with a warning, and the
/// organisation counts what the member used.
pub fn a_member_quota_sells_to_its_plans_hard_limit<S: StoreUnderTest>(run: &mut Run<S>) {
    let org = organisation(run);
    let plan = plan_of(run.send(&acme(), gold(10, 110), T0));
    let quota = members(run, &plan, &["ana"], &org, T0).remove(0);
    let (_, warnings) = placed(run.send(
        &acme(),
        order(&quota.id, 11).confirmed().in_units(&["credits"]),
        at(SECOND),
    ));
    assert_eq!(warnings, [Warning::OverSoftLimit]);
    assert_eq!(
        refused(run.send(&acme(), order(&quota.id, 1), at(2 * SECOND))),
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(quota.id.clone()),
            requested: 1,
            available: 0,
        })
    );
    assert_eq!(run.figures(&acme(), &org.id), (0, 11, 989));
}

/// Gold drops from 10 credits to 4 and its three members follow in a job of two chunks. Ana
/// already used 6, so hers cannot drop: her failure alone. The worker restarts after the first
/// chunk and sends it again: it is stale, nothing is adjusted twice, and the job resumes from
/// its stored cursor.
pub fn a_plan_change_moves_its_members_chunk_by_chunk_and_resumes_after_a_chunk<
    S: StoreUnderTest,
>(
    run: &mut Run<S>,
) {
    let org = organisation(run);
    let plan = plan_of(run.send(&acme(), gold(10, 100), T0));
    let quotas = members(run, &plan, &["ana", "bo", "cy"], &org, T0);
    run.hold(&acme(), order(&quotas[0].id, 6).confirmed(), at(SECOND));

    let followed = run.send(
        &acme(),
        Command::UpdatePlan {
            plan_id: plan.id.clone(),
            name: None,
            capacity: Some(capacity(4)),
            members_follow: Some((
                "quotas.follow_plan".into(),
                serde_json::json!({"capacity": 4}),
            )),
        },
        at(2 * SECOND),
    );
    let job = match followed {
        Ok(Success::PlanFollowed { plan: changed, job }) => {
            assert_eq!((changed.capacity, changed.members), (4, 3));
            job
        }
        other => panic!("not followed: {other:?}"),
    };
    assert_eq!(
        (job.status, job.total, job.cursor.as_deref()),
        (JobStatus::Queued, 3, None)
    );
    assert_eq!(
        run.job(&acme(), &job.id),
        Some(job.clone()),
        "queued with the change"
    );
    assert_eq!(run.plan(&acme(), &plan.id).map(|p| p.capacity), Some(4));

    let to_four = Adjustment::SetTo(capacity(4));
    let first = || {
        chunk(
            &job,
            (None, Some("bo"), false),
            0,
            vec![
                target("ana", Some(&quotas[0])),
                target("bo", Some(&quotas[1])),
            ],
            to_four,
        )
    };
    let moved = job_of(run.send(&acme(), first(), at(3 * SECOND)));
    assert_eq!(
        (moved.status, moved.cursor.as_deref()),
        (JobStatus::Running, Some("bo"))
    );
    assert_eq!(
        (
            moved.counters.done,
            moved.counters.created,
            moved.counters.failed
        ),
        (2, 1, 1)
    );

    run.restart();
    assert_eq!(
        refused(run.send(&acme(), first(), at(4 * SECOND))),
        Failure::Job(JobFailure::Stale {
            job_id: job.id.clone()
        })
    );
    let stored = run.job(&acme(), &job.id).expect("the job");
    assert_eq!(stored, moved, "the job as its first chunk left it");
    let resumed = chunk(
        &stored,
        (stored.cursor.as_deref(), None, true),
        2,
        vec![target("cy", Some(&quotas[2]))],
        to_four,
    );
    let done = job_of(run.send(&acme(), resumed, at(5 * SECOND)));
    assert_eq!((done.status, done.total), (JobStatus::Done, 3));
    assert_eq!(
        (
            done.counters.done,
            done.counters.created,
            done.counters.failed
        ),
        (3, 2, 1)
    );
    assert_eq!(done.finished_at, Some(at(5 * SECOND)));

    let capacities: Vec<i64> = quotas
        .iter()
        .map(|quota| run.pool(&acme(), &quota.id).capacity)
        .collect();
    assert_eq!(
        capacities,
        [10, 4, 4],
        "ana keeps hers, the others follow the plan"
    );
    let items = run.job_items(&acme(), &job.id);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        (
            items[0].seq,
            items[0].item.as_str(),
            items[0].outcome.as_str()
        ),
        (0, "ana", "failed")
    );
    assert!(items[0].reason.contains("below"), "{}", items[0].reason);
    assert_eq!(
        refused(run.send(&acme(), first(), at(6 * SECOND))),
        Failure::Job(JobFailure::Finished { job_id: job.id })
    );
}

/// A plan renamed and grown without asking its members to follow changes the members made from
/// then on only.
pub fn a_plan_change_without_followers_applies_to_new_members_only<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let org = organisation(run);
    let plan = plan_of(run.send(&acme(), gold(10, 100), T0));
    let ana = members(run, &plan, &["ana"], &org, T0).remove(0);
    let changed = plan_of(run.send(
        &acme(),
        Command::UpdatePlan {
            plan_id: plan.id.clone(),
            name: Some("Gold+".into()),
            capacity: Some(capacity(20)),
            members_follow: None,
        },
        at(SECOND),
    ));
    assert_eq!(
        (changed.name.as_str(), changed.capacity, changed.members),
        ("Gold+", 20, 1)
    );
    assert_eq!(changed.updated_at, at(SECOND));
    assert_eq!(run.plan(&acme(), &plan.id), Some(changed.clone()));
    let bo = members(run, &changed, &["bo"], &org, at(2 * SECOND)).remove(0);
    assert_eq!(run.pool(&acme(), &ana.id).capacity, 10);
    assert_eq!(bo.capacity, 20);
}

/// An operator's bulk top-up of 5 credits for each listed learner: each quota grows by 5, a
/// learner without a quota is that item's failure, and the one chunk ends the job.
pub fn a_bulk_credit_top_up_adds_to_each_quota<S: StoreUnderTest>(run: &mut Run<S>) {
    let org = organisation(run);
    let plan = plan_of(run.send(&acme(), gold(10, 100), T0));
    let quotas = members(run, &plan, &["ana", "bo"], &org, T0);
    let job = job_of(run.send(
        &acme(),
        Command::Job(JobCommand::Create {
            kind: "quotas.adjust".into(),
            params: serde_json::json!({"delta": 5}),
            total: 3,
        }),
        at(SECOND),
    ));
    let top_up = chunk(
        &job,
        (None, None, true),
        0,
        vec![
            target("ana", Some(&quotas[0])),
            target("bo", Some(&quotas[1])),
            target("dee", None),
        ],
        Adjustment::Add(5),
    );
    let done = job_of(run.send(&acme(), top_up, at(2 * SECOND)));
    assert_eq!(
        (done.status, done.counters.created, done.counters.failed),
        (JobStatus::Done, 2, 1)
    );
    for quota in &quotas {
        assert_eq!(run.pool(&acme(), &quota.id).capacity, 15);
    }
    let items = run.job_items(&acme(), &job.id);
    assert_eq!(
        items
            .iter()
            .map(|item| (item.seq, item.item.as_str(), item.reason.as_str()))
            .collect::<Vec<_>>(),
        [(2, "dee", "no quota to adjust")]
    );
    let top_ups: Vec<_> = run
        .observe()
        .ledger
        .into_iter()
        .filter(|(_, entry)| entry.reason.as_deref() == Some("bulk quota adjustment"))
        .map(|(_, entry)| (entry.pool_id, entry.capacity_after, entry.actor))
        .collect();
    assert_eq!(
        top_ups,
        quotas
            .iter()
            .map(|quota| (quota.id.clone(), 15, Some("key_ops".to_owned())))
            .collect::<Vec<_>>(),
        "each adjustment in the member's quota history, with who made it"
    );
}

/// A ticket-generation job that failed is finished: ending it again is refused, and it keeps
/// the error it failed with.
pub fn a_job_ends_once<S: StoreUnderTest>(run: &mut Run<S>) {
    let job = job_of(run.send(
        &acme(),
        Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({"event": "graduation"}),
            total: 200,
        }),
        T0,
    ));
    let finish = |status| {
        Command::Job(JobCommand::Finish {
            job_id: job.id.clone(),
            status,
            error: Some("the event was deleted".into()),
        })
    };
    let outcomes = run.batch(
        &acme(),
        vec![finish(JobStatus::Failed), finish(JobStatus::Done)],
        at(SECOND),
    );
    let [failed, again] = <[Outcome; 2]>::try_from(outcomes).expect("two replies");
    let failed = job_of(failed);
    assert_eq!(
        (failed.status, failed.error.as_deref(), failed.finished_at),
        (
            JobStatus::Failed,
            Some("the event was deleted"),
            Some(at(SECOND))
        )
    );
    assert_eq!(
        refused(again),
        Failure::Job(JobFailure::Finished {
            job_id: job.id.clone()
        })
    );
    assert_eq!(run.job(&acme(), &job.id), Some(failed));
}

/// Members' quotas count against their organisation: once the organisation's commitment of 15
/// credits is used, a member with credits left in their own quota is refused by it.
pub fn an_organisations_commitment_binds_its_members_quotas<S: StoreUnderTest>(run: &mut Run<S>) {
    let org = run.create(
        &acme(),
        NewPool {
            unit: "credits".into(),
            ..pool("Small team", 15)
        },
        T0,
    );
    let plan = plan_of(run.send(&acme(), gold(10, 100), T0));
    let quotas = members(run, &plan, &["ana", "bo"], &org, T0);
    run.hold(&acme(), order(&quotas[0].id, 10).confirmed(), at(SECOND));
    assert_eq!(
        run.figures(&acme(), &quotas[1].id),
        (0, 0, 5),
        "bo can use what is left"
    );
    assert_eq!(
        refused(run.send(&acme(), order(&quotas[1].id, 6), at(2 * SECOND))),
        Failure::Refused(Refusal::InsufficientCapacity {
            pool_id: PoolId(org.id.clone()),
            requested: 6,
            available: 5,
        })
    );
    run.hold(&acme(), order(&quotas[1].id, 5).confirmed(), at(3 * SECOND));
    assert_eq!(run.figures(&acme(), &org.id), (0, 15, 0));
}
