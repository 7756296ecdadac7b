//! One scenario of plans, member quotas, a bulk quota adjustment and jobs, run through the
//! in-memory store and through SQLite: both are decided by the same engine, so they must answer
//! alike. Ids are each store's own, so replies are compared with every id a store made replaced
//! by the order it first appeared in. And a batch of them that fails part-way leaves the
//! in-memory store as it was.

use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::{Adjustment, NewPlan, NewPool, QuotaChunk, QuotaTarget};
use allot_store::jobs::{JobCommand, JobProgress, JobStatus};
use allot_store::memory::MemoryStore;
use allot_store::*;

const T0: UnixMillis = UnixMillis(1_790_000_000_000);

/// `millis` after the scenario starts.
fn at(millis: i64) -> UnixMillis {
    UnixMillis(T0.0 + millis)
}

fn tenant() -> TenantId {
    TenantId("acme".into())
}

fn envelope(command: Command) -> Envelope {
    Envelope {
        tenant: tenant(),
        actor: Some("key_ops".into()),
        command,
        idempotency: None,
    }
}

fn capacity(n: i64) -> Capacity {
    Capacity::new(n).expect("valid capacity")
}

/// The ids a store made, in the order its replies first showed them.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn note(&mut self, id: &str) -> String {
        if !self.0.iter().any(|known| known == id) {
            self.0.push(id.to_owned());
        }
        id.to_owned()
    }

    /// A reply as text with each id the store made named by its place instead.
    fn shape(&self, reply: &impl std::fmt::Debug) -> String {
        let mut text = format!("{reply:?}");
        // Longest first, so that no id is replaced inside a longer one.
        let mut ids: Vec<(usize, &String)> = self.0.iter().enumerate().collect();
        ids.sort_by_key(|(_, id)| std::cmp::Reverse(id.len()));
        for (place, id) in ids {
            text = text.replace(id.as_str(), &format!("<id {place}>"));
        }
        text
    }
}

/// A store running the scenario, keeping every outcome and the ids its replies showed.
struct Run<'w, W> {
    writer: &'w mut W,
    ids: Ids,
    outcomes: Vec<Outcome>,
}

impl<W: BatchWriter> Run<'_, W> {
    /// One batch of `commands`, committed at `now`; answers their outcomes.
    fn batch(&mut self, commands: Vec<Command>, now: UnixMillis) -> Vec<Outcome> {
        let replies = self
            .writer
            .apply(commands.into_iter().map(envelope).collect(), now)
            .expect("the batch commits");
        let outcomes: Vec<Outcome> = replies
            .into_iter()
            .map(|reply| match reply {
                Reply::Outcome(outcome) => outcome,
                Reply::Rendered { .. } => panic!("no idempotency key was sent"),
            })
            .collect();
        self.outcomes.extend(outcomes.iter().cloned());
        outcomes
    }

    fn shapes(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .map(|outcome| self.ids.shape(outcome))
            .collect()
    }
}

fn new_plan(name: &str, hard_limit_pct: i64) -> Command {
    Command::CreatePlan(NewPlan {
        name: name.into(),
        unit: "credits".into(),
        capacity: capacity(10),
        hard_limit_pct: LimitPct::new(hard_limit_pct).expect("valid"),
        soft_limit_pct: LimitPct::HUNDRED,
        thresholds: None,
    })
}

/// Plans, members, a plan change whose members follow it in a bulk adjustment (one member
/// failing, a chunk resent), and a job ended twice. Answers each reply's shape, and the replies.
fn scenario(writer: &mut impl BatchWriter) -> (Vec<String>, Vec<Outcome>) {
    let mut run = Run {
        writer,
        ids: Ids::default(),
        outcomes: Vec::new(),
    };
    let org = run.batch(
        vec![Command::CreatePool(NewPool {
            name: "Acme".into(),
            unit: "credits".into(),
            parent_id: None,
            capacity: capacity(1_000),
            hard_limit_pct: LimitPct::HUNDRED,
            soft_limit_pct: LimitPct::HUNDRED,
            price: None,
            metadata: None,
            per_date: false,
            time_zone: None,
            waitlist: Default::default(),
            thresholds: None,
        })],
        T0,
    );
    let org = match &org[0] {
        Ok(Success::Pool(pool)) => run.ids.note(&pool.id),
        other => panic!("no pool: {other:?}"),
    };

    // A soft limit above the hard one is refused, and writes nothing.
    let plans = run.batch(vec![new_plan("Gold", 110), new_plan("Broken", 90)], T0);
    let plan = match &plans[0] {
        Ok(Success::Plan(plan)) => run.ids.note(&plan.id),
        other => panic!("no plan: {other:?}"),
    };

    let member = |subject: &str, plan_id: &str| Command::PutMember {
        plan_id: plan_id.to_owned(),
        subject: subject.to_owned(),
        parent_id: Some(org.clone()),
    };
    // Within one batch, a member put twice gets one pool.
    let members = run.batch(
        vec![
            member("ana", &plan),
            member("bo", &plan),
            member("ana", &plan),
            member("ana", "plan_missing"),
        ],
        at(1_000),
    );
    let mut member_pools = Vec::new();
    for outcome in &members[..2] {
        match outcome {
            Ok(Success::Member { pool, .. }) => member_pools.push(run.ids.note(&pool.id)),
            other => panic!("no member: {other:?}"),
        }
    }

    // Ana uses 6 of her 10: a quota below that is her failure alone.
    let used = run.batch(
        vec![Command::PlaceHold {
            lines: vec![HoldLine {
                pool_id: PoolId(member_pools[0].clone()),
                quantity: Quantity::new(6).expect("valid"),
            }],
            ttl: TtlSeconds::new(600).expect("valid ttl"),
            holder: Some("ana".into()),
            confirm: true,
            extras: Default::default(),
        }],
        at(2_000),
    );
    match &used[0] {
        Ok(Success::Hold { hold, .. }) => run.ids.note(&hold.id),
        other => panic!("no hold: {other:?}"),
    };

    let followed = run.batch(
        vec![
            Command::UpdatePlan {
                plan_id: plan.clone(),
                name: Some("Gold+".into()),
                capacity: Some(capacity(4)),
                members_follow: Some((
                    "quotas.follow_plan".into(),
                    serde_json::json!({"capacity": 4}),
                )),
            },
            Command::UpdatePlan {
                plan_id: "plan_missing".into(),
                name: None,
                capacity: None,
                members_follow: None,
            },
        ],
        at(3_000),
    );
    let job = match &followed[0] {
        Ok(Success::PlanFollowed { job, .. }) => run.ids.note(&job.id),
        other => panic!("not followed: {other:?}"),
    };

    let chunk = |expected: Option<&str>, next: Option<&str>, last, first_seq, targets| {
        Command::AdjustQuotas(QuotaChunk {
            progress: JobProgress {
                job_id: job.clone(),
                expected_cursor: expected.map(str::to_owned),
                next_cursor: next.map(str::to_owned),
                last,
            },
            first_seq,
            targets,
            change: Adjustment::SetTo(capacity(4)),
            reason: "plan Gold+".into(),
        })
    };
    let target = |label: &str, pool: Option<&String>| QuotaTarget {
        label: label.into(),
        pool_id: pool.cloned(),
    };
    let first = || {
        chunk(
            None,
            Some("bo"),
            false,
            0,
            vec![
                target("ana", member_pools.first()),
                target("bo", member_pools.get(1)),
                target("cy", None),
            ],
        )
    };
    let last = chunk(
        Some("bo"),
        None,
        true,
        3,
        vec![target("bo again", member_pools.get(1))],
    );
    // The first chunk resent after it landed is stale: nothing is adjusted twice.
    run.batch(vec![first(), first(), last], at(4_000));

    let other = run.batch(
        vec![Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({"event": "acme-day"}),
            total: 7,
        })],
        at(5_000),
    );
    let other = match &other[0] {
        Ok(Success::Job(job)) => run.ids.note(&job.id),
        other => panic!("no job: {other:?}"),
    };
    let finish = |status| {
        Command::Job(JobCommand::Finish {
            job_id: other.clone(),
            status,
            error: Some("the event was deleted".into()),
        })
    };
    run.batch(
        vec![finish(JobStatus::Failed), finish(JobStatus::Done)],
        at(6_000),
    );
    (run.shapes(), run.outcomes)
}

/// What a reply answered about a plan, or about a job.
fn plan_of(outcome: &Outcome) -> &PlanView {
    match outcome {
        Ok(Success::PlanFollowed { plan, .. }) => plan,
        other => panic!("no plan: {other:?}"),
    }
}

fn job_of(outcome: &Outcome) -> &allot_store::jobs::JobView {
    match outcome {
        Ok(Success::Job(job)) => job,
        other => panic!("no job: {other:?}"),
    }
}

#[test]
fn memory_and_sqlite_answer_plans_quotas_and_jobs_alike() {
    let mut memory = MemoryStore::new();
    let (in_memory, memory_replies) = scenario(&mut memory);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, mut writer) = allot_store::sqlite::open(dir.path()).expect("the store opens");
    let (in_sqlite, sqlite_replies) = scenario(&mut writer);
    assert_eq!(in_memory.len(), in_sqlite.len());
    for (place, (memory, sqlite)) in in_memory.iter().zip(&in_sqlite).enumerate() {
        assert_eq!(memory, sqlite, "reply {place} differs");
    }
    // The scenario did what it says, so that agreeing means something.
    let expect = [
        (2, "Invalid"),
        (5, "created: false"),
        (6, "NotFound { kind: \"plan\""),
        (8, "PlanFollowed"),
        (9, "NotFound { kind: \"plan\""),
        (10, "done: 3, created: 1, skipped: 0, failed: 2"),
        (11, "Stale"),
        (12, "status: Done"),
        (14, "status: Failed"),
        (15, "Finished"),
    ];
    for (place, fragment) in expect {
        assert!(
            in_sqlite[place].contains(fragment),
            "reply {place} should show {fragment}: {}",
            in_sqlite[place]
        );
    }

    // Each store keeps what it answered: the plan, the jobs, the items the bulk job failed.
    let plan = plan_of(&sqlite_replies[8]);
    let stored = store.get_plan(&tenant(), &plan.id).expect("read");
    assert_eq!(stored.as_ref(), Some(plan));
    let kept = memory
        .state()
        .plan(&tenant(), &plan_of(&memory_replies[8]).id);
    assert_eq!(kept.as_ref(), Some(plan_of(&memory_replies[8])));
    for place in [12, 14] {
        let job = job_of(&sqlite_replies[place]);
        let stored = store.get_job(&tenant(), &job.id).expect("read");
        assert_eq!(stored.as_ref(), Some(job), "job of reply {place} as stored");
        let job = job_of(&memory_replies[place]);
        let kept = memory.state().jobs.get(&(tenant(), job.id.clone()));
        assert_eq!(kept, Some(job), "job of reply {place} as kept in memory");
    }
    let bulk = job_of(&sqlite_replies[12]);
    let stored_items = store
        .job_items(&tenant(), &bulk.id, None, -1, 100)
        .expect("read");
    let kept_items: Vec<_> = memory
        .state()
        .job_items
        .values()
        .map(|(item, _)| item.clone())
        .collect();
    assert_eq!(stored_items, kept_items);
    assert_eq!(
        stored_items
            .iter()
            .map(|item| (item.seq, item.item.as_str()))
            .collect::<Vec<_>>(),
        [(0, "ana"), (2, "cy")]
    );
}

#[test]
fn a_plans_and_jobs_batch_failing_at_any_change_leaves_the_memory_store_as_it_was() {
    let mut memory = MemoryStore::new();
    let (_, replies) = scenario(&mut memory);
    let plan = plan_of(&replies[8]).id.clone();
    let batch = || {
        let job = Command::Job(JobCommand::Create {
            kind: "quotas.follow_plan".into(),
            params: serde_json::Value::Null,
            total: 1,
        });
        vec![
            envelope(Command::PutMember {
                plan_id: plan.clone(),
                subject: "dee".into(),
                parent_id: None,
            }),
            envelope(Command::UpdatePlan {
                plan_id: plan.clone(),
                name: Some("Gold++".into()),
                capacity: None,
                members_follow: Some(("quotas.follow_plan".into(), serde_json::Value::Null)),
            }),
            envelope(job),
        ]
    };
    let (failed, _) = memory
        .fail_at_every_change(batch, at(7_000))
        .unwrap_or_else(|problem| panic!("{problem}"));
    let kept = memory.state().plan(&tenant(), &plan).expect("the plan");
    assert_eq!((kept.name.as_str(), kept.members), ("Gold++", 3));
    assert!(failed >= 6, "every change was tried: {failed}");
}
