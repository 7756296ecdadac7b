//! The SQLite backend through the store traits: batches, expiry, idempotency, tenant isolation,
//! and `verify`. Each test opens a fresh database in a temporary directory.

use allot_core::{
    Capacity, HoldLine, HoldStatus, LimitPct, PoolId, Quantity, Refusal, TtlSeconds, UnixMillis,
};
use allot_store::command::{HoldExtras, NewPool};
use allot_store::sqlite::{self, SqliteStore, SqliteWriter};
use allot_store::*;
use tempfile::TempDir;

const T0: UnixMillis = UnixMillis(1_790_000_000_000);

fn open() -> (TempDir, SqliteStore, SqliteWriter) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, writer) = sqlite::open(dir.path()).expect("the store opens");
    (dir, store, writer)
}

fn tenant(name: &str) -> TenantId {
    TenantId(name.to_owned())
}

fn envelope(tenant: &TenantId, command: Command) -> Envelope {
    Envelope {
        tenant: tenant.clone(),
        actor: None,
        command,
        idempotency: None,
    }
}

fn new_pool(capacity: i64, parent: Option<&str>) -> Command {
    Command::CreatePool(NewPool {
        name: "pool".into(),
        unit: "units".into(),
        parent_id: parent.map(str::to_owned),
        capacity: Capacity::new(capacity).expect("valid capacity"),
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

fn hold(pool: &str, quantity: i64, ttl_seconds: i64) -> Command {
    Command::PlaceHold {
        lines: vec![HoldLine {
            pool_id: PoolId(pool.to_owned()),
            quantity: Quantity::new(quantity).expect("valid"),
        }],
        ttl: TtlSeconds::new(ttl_seconds).expect("valid ttl"),
        holder: None,
        confirm: false,
        extras: Default::default(),
    }
}

fn outcome(reply: Reply) -> Outcome {
    match reply {
        Reply::Outcome(outcome) => outcome,
        Reply::Rendered { .. } => panic!("no idempotency key was given"),
    }
}

fn apply_one(
    writer: &mut SqliteWriter,
    tenant: &TenantId,
    command: Command,
    now: UnixMillis,
) -> Outcome {
    let mut replies = writer
        .apply(vec![envelope(tenant, command)], now)
        .expect("the batch commits");
    outcome(replies.remove(0))
}

fn create_pool(
    writer: &mut SqliteWriter,
    tenant: &TenantId,
    capacity: i64,
    parent: Option<&str>,
) -> String {
    match apply_one(writer, tenant, new_pool(capacity, parent), T0) {
        Ok(Success::Pool(pool)) => pool.id,
        other => panic!("pool not created: {other:?}"),
    }
}

/// A pool as the read side sees it.
fn pool_view(store: &SqliteStore, tenant: &TenantId, pool: &str, now: UnixMillis) -> PoolView {
    store
        .get_pool(tenant, pool, now)
        .expect("reads")
        .expect("exists")
}

fn assert_verify_clean(dir: &TempDir) {
    let report = sqlite::verify(dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
}

fn hold_id(outcome: &Outcome) -> String {
    match outcome {
        Ok(Success::Hold { hold, .. }) => hold.id.clone(),
        other => panic!("not a hold: {other:?}"),
    }
}

#[test]
fn a_refused_command_does_not_fail_the_rest_of_its_batch() {
    let (_dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 3, None);
    let batch = vec![
        envelope(&acme, hold(&pool, 2, 60)),
        envelope(&acme, hold(&pool, 2, 60)),
        envelope(&acme, hold("pool_missing", 1, 60)),
        envelope(&acme, hold(&pool, 1, 60)),
    ];
    let replies: Vec<Outcome> = writer
        .apply(batch, T0)
        .expect("commits")
        .into_iter()
        .map(outcome)
        .collect();
    assert!(replies[0].is_ok());
    assert!(matches!(
        replies[1],
        Err(Failure::Refused(Refusal::InsufficientCapacity {
            requested: 2,
            available: 1,
            ..
        }))
    ));
    assert!(matches!(
        replies[2],
        Err(Failure::Refused(Refusal::UnknownPool(_)))
    ));
    assert!(
        replies[3].is_ok(),
        "decided in arrival order against the batch's own changes"
    );
    let view = pool_view(&store, &acme, &pool, T0);
    assert_eq!((view.held, view.available), (3, 0));
}

#[test]
fn due_holds_expire_before_any_decision_and_reads_never_count_them() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 5, None);
    let first = apply_one(&mut writer, &acme, hold(&pool, 5, 10), T0);
    let first = hold_id(&first);

    let later = UnixMillis(T0.0 + 10_000);
    // Before any batch runs at `later`, reads already treat the hold as expired.
    let view = pool_view(&store, &acme, &pool, later);
    assert_eq!((view.held, view.available), (0, 5));
    let seen = store
        .get_hold(&acme, &first, later)
        .expect("reads")
        .expect("exists");
    assert_eq!(seen.status, HoldStatus::Expired);

    // A full-size hold at `later` fits: the batch expired the first hold before deciding.
    assert!(apply_one(&mut writer, &acme, hold(&pool, 5, 10), later).is_ok());
    let confirm = apply_one(
        &mut writer,
        &acme,
        Command::ConfirmHold { hold_id: first },
        later,
    );
    assert_eq!(
        confirm.err(),
        Some(Failure::Transition(allot_core::TransitionError::Expired))
    );
    let report = sqlite::verify(dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(report.live_holds, 1);
}

#[test]
fn another_tenants_pools_and_holds_do_not_exist_even_in_the_same_batch() {
    let (_dir, store, mut writer) = open();
    let (acme, rival) = (tenant("acme"), tenant("rival"));
    let pool = create_pool(&mut writer, &acme, 5, None);
    let batch = vec![
        envelope(&acme, hold(&pool, 1, 60)),
        envelope(&rival, hold(&pool, 1, 60)),
    ];
    let replies: Vec<Outcome> = writer
        .apply(batch, T0)
        .expect("commits")
        .into_iter()
        .map(outcome)
        .collect();
    let acme_hold = hold_id(&replies[0]);
    assert!(matches!(
        replies[1],
        Err(Failure::Refused(Refusal::UnknownPool(_)))
    ));
    let release = apply_one(
        &mut writer,
        &rival,
        Command::ReleaseHold {
            hold_id: acme_hold.clone(),
        },
        T0,
    );
    assert!(matches!(release, Err(Failure::NotFound { .. })));
    assert!(store.get_pool(&rival, &pool, T0).expect("reads").is_none());
    assert!(
        store
            .get_hold(&rival, &acme_hold, T0)
            .expect("reads")
            .is_none()
    );
    let page = store
        .list_pools(
            &rival,
            None,
            PageRequest {
                limit: 10,
                after: None,
            },
            T0,
        )
        .expect("reads");
    assert!(page.items.is_empty());
    let created = apply_one(&mut writer, &rival, new_pool(1, Some(&pool)), T0);
    assert!(
        matches!(created, Err(Failure::Invalid { .. })),
        "a parent in another tenant is no parent"
    );
}

fn keyed(tenant: &TenantId, command: Command, key: &str, request_hash: &str) -> Envelope {
    Envelope {
        tenant: tenant.clone(),
        actor: None,
        command,
        idempotency: Some(Idempotency {
            key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            render: Box::new(|outcome| StoredResponse {
                status: if outcome.is_ok() { 201 } else { 409 },
                body: format!("{:?}", outcome.as_ref().map(|_| "ok")).into_bytes(),
            }),
        }),
    }
}

#[test]
fn an_idempotency_key_acts_once_even_twice_in_one_batch_and_lapses_after_a_day() {
    let (_dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 10, None);
    let batch = vec![
        keyed(&acme, hold(&pool, 1, 60), "k", "h1"),
        keyed(&acme, hold(&pool, 1, 60), "k", "h1"),
        keyed(&acme, hold(&pool, 1, 60), "k", "h2"),
    ];
    let replies = writer.apply(batch, T0).expect("commits");
    assert!(
        matches!(&replies[0], Reply::Rendered { replayed: false, response } if response.status == 201)
    );
    assert!(
        matches!(&replies[1], Reply::Rendered { replayed: true, response } if response.status == 201)
    );
    assert!(matches!(
        &replies[2],
        Reply::Outcome(Err(Failure::IdempotencyMismatch))
    ));
    assert_eq!(
        store
            .get_pool(&acme, &pool, T0)
            .expect("reads")
            .expect("exists")
            .held,
        1
    );

    let next_day = UnixMillis(T0.0 + 24 * 3600 * 1000);
    let replies = writer
        .apply(vec![keyed(&acme, hold(&pool, 1, 60), "k", "h2")], next_day)
        .expect("commits");
    assert!(
        matches!(
            &replies[0],
            Reply::Rendered {
                replayed: false,
                ..
            }
        ),
        "the key is fresh after 24 h"
    );
}

#[test]
fn capacity_changes_are_ledgered_and_refused_below_use() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 10, None);
    assert!(apply_one(&mut writer, &acme, hold(&pool, 6, 60), T0).is_ok());
    let patch = |capacity: i64| Command::UpdatePool {
        pool_id: pool.clone(),
        patch: command::PoolPatch {
            capacity: Some(Capacity::new(capacity).expect("valid")),
            reason: Some("venue change".into()),
            ..Default::default()
        },
    };
    assert!(matches!(
        apply_one(&mut writer, &acme, patch(5), T0),
        Err(Failure::Adjust(allot_core::AdjustRefusal::BelowUse {
            capacity: 5,
            used: 6
        }))
    ));
    assert!(apply_one(&mut writer, &acme, patch(12), T0).is_ok());
    let ledger = store
        .list_ledger(
            &acme,
            &pool,
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .expect("reads")
        .expect("exists");
    let kinds: Vec<(LedgerKind, i64, Option<String>)> = ledger
        .items
        .iter()
        .map(|e| (e.kind, e.capacity_after, e.reason.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (LedgerKind::Adjust, 10, Some("created".into())),
            (LedgerKind::Hold, 10, None),
            (LedgerKind::Adjust, 12, Some("venue change".into())),
        ]
    );
    assert!(
        sqlite::verify(dir.path())
            .expect("verify runs")
            .mismatches
            .is_empty()
    );
}

#[test]
fn pools_kept_between_batches_are_dropped_when_another_connection_writes() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 3, None);
    // The writer now keeps the pool in memory, with 2 of 3 held.
    assert!(apply_one(&mut writer, &acme, hold(&pool, 2, 60), T0).is_ok());

    // Another process on the same file takes the last unit.
    let (_other_store, mut other) = sqlite::open(dir.path()).expect("a second writer opens");
    assert!(apply_one(&mut other, &acme, hold(&pool, 1, 60), T0).is_ok());
    drop(other);

    // The first writer must not trust what it kept: the pool is full.
    let refused = apply_one(&mut writer, &acme, hold(&pool, 1, 60), T0);
    assert!(
        matches!(
            refused,
            Err(Failure::Refused(Refusal::InsufficientCapacity { .. }))
        ),
        "{refused:?}"
    );
    let view = pool_view(&store, &acme, &pool, T0);
    assert_eq!((view.held, view.available), (3, 0));
    assert_verify_clean(&dir);
}

#[test]
fn a_subject_counted_earlier_in_the_same_batch_is_not_counted_again() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 10, None);
    let consume = |subject: &str| {
        let Command::PlaceHold {
            lines,
            ttl,
            holder,
            confirm,
            ..
        } = hold(&pool, 1, 60)
        else {
            unreachable!("hold() builds a PlaceHold")
        };
        Command::PlaceHold {
            lines,
            ttl,
            holder,
            confirm,
            extras: HoldExtras {
                subject: Some(subject.to_owned()),
                ..Default::default()
            },
        }
    };
    // Plain holds around them: their rows are written many at a time, after the subject's
    // lookup has needed to see the first hold.
    let batch = vec![
        envelope(&acme, hold(&pool, 1, 60)),
        envelope(&acme, consume("learner-1")),
        envelope(&acme, hold(&pool, 1, 60)),
        envelope(&acme, consume("learner-1")),
    ];
    let replies: Vec<Outcome> = writer
        .apply(batch, T0)
        .expect("commits")
        .into_iter()
        .map(outcome)
        .collect();
    let first = hold_id(&replies[1]);
    match &replies[3] {
        Ok(Success::AlreadyConsumed(hold)) => assert_eq!(hold.id, first),
        other => panic!("the subject was counted twice: {other:?}"),
    }
    let view = pool_view(&store, &acme, &pool, T0);
    assert_eq!(view.held, 3);
    assert_verify_clean(&dir);
}

#[test]
fn settings_changed_alongside_holds_are_written_whole_and_survive_later_batches() {
    let (dir, _store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 10, None);
    let rename = Command::UpdatePool {
        pool_id: pool.clone(),
        patch: command::PoolPatch {
            name: Some("Main hall".into()),
            metadata: Some(serde_json::json!({"floor": 2})),
            ..Default::default()
        },
    };
    // Settings and counters change in one batch; later batches change only counters.
    let batch = vec![
        envelope(&acme, hold(&pool, 1, 60)),
        envelope(&acme, rename),
        envelope(&acme, hold(&pool, 1, 60)),
    ];
    assert!(writer.apply(batch, T0).expect("commits").len() == 3);
    assert!(apply_one(&mut writer, &acme, hold(&pool, 1, 60), T0).is_ok());
    assert!(apply_one(&mut writer, &acme, hold(&pool, 1, 60), T0).is_ok());

    // A fresh process reads only what was written.
    drop(writer);
    let (store, _writer) = sqlite::open(dir.path()).expect("reopens");
    let view = pool_view(&store, &acme, &pool, T0);
    assert_eq!(view.name, "Main hall");
    assert_eq!(view.metadata, Some(serde_json::json!({"floor": 2})));
    assert_eq!((view.capacity, view.held, view.available), (10, 4, 6));
}

#[test]
fn a_date_first_used_after_its_session_changed_in_the_same_batch_gets_the_new_figures() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let Command::CreatePool(mut session) = new_pool(10, None) else {
        unreachable!("new_pool builds a CreatePool")
    };
    session.per_date = true;
    let session = match apply_one(&mut writer, &acme, Command::CreatePool(session), T0) {
        Ok(Success::Pool(pool)) => pool.id,
        other => panic!("session not created: {other:?}"),
    };
    let date = format!("{session}-2027-01-15");
    let grow = Command::UpdatePool {
        pool_id: session.clone(),
        patch: command::PoolPatch {
            capacity: Some(Capacity::new(20).expect("valid")),
            ..Default::default()
        },
    };
    let batch = vec![envelope(&acme, grow), envelope(&acme, hold(&date, 15, 60))];
    let replies: Vec<Outcome> = writer
        .apply(batch, T0)
        .expect("commits")
        .into_iter()
        .map(outcome)
        .collect();
    assert!(replies[0].is_ok(), "{:?}", replies[0]);
    assert!(replies[1].is_ok(), "15 of the new 20 fit: {:?}", replies[1]);
    let view = pool_view(&store, &acme, &date, T0);
    assert_eq!((view.capacity, view.held), (20, 15));
    assert_verify_clean(&dir);
}

#[test]
fn a_pool_answered_from_the_writers_memory_shows_when_it_last_changed() {
    let (_dir, store, mut writer) = open();
    let acme = tenant("acme");
    let plan = Command::CreatePlan(command::NewPlan {
        name: "Team".into(),
        unit: "seats".into(),
        capacity: Capacity::new(5).expect("valid"),
        hard_limit_pct: LimitPct::HUNDRED,
        soft_limit_pct: LimitPct::HUNDRED,
        thresholds: None,
    });
    let plan = match apply_one(&mut writer, &acme, plan, T0) {
        Ok(Success::Plan(plan)) => plan.id,
        other => panic!("plan not created: {other:?}"),
    };
    let member = || Command::PutMember {
        plan_id: plan.clone(),
        subject: "ada".into(),
        parent_id: None,
    };
    let pool = match apply_one(&mut writer, &acme, member(), T0) {
        Ok(Success::Member { pool, created }) => {
            assert!(created);
            pool.id
        }
        other => panic!("member not added: {other:?}"),
    };
    let later = UnixMillis(T0.0 + 60_000);
    assert!(apply_one(&mut writer, &acme, hold(&pool, 1, 60), later).is_ok());
    // Asked again, the member's pool comes from the writer's memory: as the table has it.
    let again = match apply_one(&mut writer, &acme, member(), later) {
        Ok(Success::Member { pool, created }) => {
            assert!(!created);
            pool
        }
        other => panic!("member not found: {other:?}"),
    };
    let stored = store
        .get_pool(&acme, &pool, later)
        .expect("reads")
        .expect("exists");
    assert_eq!(again.updated_at, stored.updated_at);
    assert_eq!(again.updated_at, later);
    assert_eq!(again.held, 1);
}

#[test]
fn verify_finds_a_tampered_counter() {
    let (dir, _store, mut writer) = open();
    let acme = tenant("acme");
    let event = create_pool(&mut writer, &acme, 10, None);
    let section = create_pool(&mut writer, &acme, 10, Some(&event));
    assert!(apply_one(&mut writer, &acme, hold(&section, 2, 60), T0).is_ok());
    assert!(
        sqlite::verify(dir.path())
            .expect("verify runs")
            .mismatches
            .is_empty()
    );
    drop(writer);
    let conn = rusqlite::Connection::open(dir.path().join(sqlite::DATABASE_FILE)).expect("opens");
    conn.execute("UPDATE pools SET held = held + 1 WHERE id = ?1", [&event])
        .expect("tampers");
    let report = sqlite::verify(dir.path()).expect("verify runs");
    assert_eq!(
        report.mismatches.len(),
        2,
        "held disagrees with the ledger and with the holds"
    );
    assert!(
        report
            .mismatches
            .iter()
            .all(|m| m.pool_id == event && m.stored == 3 && m.recomputed == 2)
    );
}

#[test]
fn a_database_from_a_newer_allot_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    drop(sqlite::open(dir.path()).expect("the store opens"));
    let conn = rusqlite::Connection::open(dir.path().join(sqlite::DATABASE_FILE)).expect("opens");
    conn.pragma_update(None, "user_version", 99)
        .expect("sets version");
    drop(conn);
    let error = sqlite::open(dir.path()).err().expect("refused");
    assert!(
        error.to_string().contains("newer than this build"),
        "{error}"
    );
}

#[test]
fn a_sweep_forgets_idempotency_records_past_their_window() {
    let (dir, _store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 10, None);
    writer
        .apply(vec![keyed(&acme, hold(&pool, 1, 60), "old", "h")], T0)
        .expect("commits");
    let later = UnixMillis(T0.0 + 3_600_000);
    writer
        .apply(vec![keyed(&acme, hold(&pool, 1, 60), "new", "h")], later)
        .expect("commits");
    let count = |dir: &TempDir| -> i64 {
        let conn =
            rusqlite::Connection::open(dir.path().join(sqlite::DATABASE_FILE)).expect("opens");
        conn.query_row("SELECT COUNT(*) FROM idempotency", [], |row| row.get(0))
            .expect("counts")
    };
    assert_eq!(count(&dir), 2);
    let next_day = UnixMillis(T0.0 + 24 * 3600 * 1000 + 1);
    writer
        .apply(vec![envelope(&acme, Command::SweepExpired)], next_day)
        .expect("commits");
    assert_eq!(count(&dir), 1, "only the record older than 24 h is gone");
}

fn join_waitlist(pool: &str, holder: &str, quantity: i64) -> Command {
    Command::JoinWaitlist(allot_store::command::NewWaitlistEntry {
        pool_id: pool.to_owned(),
        holder: holder.to_owned(),
        quantity: Quantity::new(quantity).expect("valid"),
        priority: PriorityAsk::Base,
        expires_in: TtlSeconds::new(7200).expect("valid ttl"),
    })
}

#[test]
fn freed_capacity_goes_to_the_waiting_list_before_a_later_command_in_the_same_batch() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let pool = create_pool(&mut writer, &acme, 2, None);
    let taken = hold_id(&apply_one(&mut writer, &acme, hold(&pool, 2, 60), T0));
    let entry = match apply_one(&mut writer, &acme, join_waitlist(&pool, "ana", 2), T0) {
        Ok(Success::WaitlistEntry(entry)) => entry,
        other => panic!("not joined: {other:?}"),
    };
    assert_eq!(entry.position, Some(1));

    // One batch: the release, then a newcomer's hold. The waiting entry is served first.
    let batch = vec![
        envelope(&acme, Command::ReleaseHold { hold_id: taken }),
        envelope(&acme, hold(&pool, 1, 60)),
    ];
    let replies: Vec<Outcome> = writer
        .apply(batch, T0)
        .expect("commits")
        .into_iter()
        .map(outcome)
        .collect();
    assert!(replies[0].is_ok());
    assert!(matches!(
        replies[1],
        Err(Failure::Refused(Refusal::InsufficientCapacity { .. }))
    ));
    let served = store
        .get_waitlist_entry(&acme, &entry.id, T0)
        .expect("reads")
        .expect("exists");
    assert_eq!(served.status, allot_core::waitlist::EntryStatus::Offered);
    let offer = served.hold_id.expect("an offer hold");
    let offer = store
        .get_hold(&acme, &offer, T0)
        .expect("reads")
        .expect("exists");
    assert_eq!(
        (offer.status, offer.holder.as_deref()),
        (HoldStatus::Held, Some("ana"))
    );
    let report = sqlite::verify(dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);

    // The outbox has the join and the offer, in order, in the same transactions.
    let events = store
        .list_events(
            &acme,
            None,
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .expect("reads");
    // The pool also filled up, which raised alerts: only the waiting list's events here.
    let kinds: Vec<&str> = events
        .items
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|kind| kind.starts_with("waitlist."))
        .collect();
    assert_eq!(kinds, ["waitlist.joined", "waitlist.offered"]);
}

#[test]
fn verify_reports_a_waiting_count_that_disagrees_with_the_entries() {
    let (dir, _store, mut writer) = open();
    let acme = tenant("acme");
    let event = create_pool(&mut writer, &acme, 1, None);
    let section = create_pool(&mut writer, &acme, 1, Some(&event));
    assert!(apply_one(&mut writer, &acme, hold(&section, 1, 60), T0).is_ok());
    assert!(apply_one(&mut writer, &acme, join_waitlist(&section, "ana", 1), T0).is_ok());
    drop(writer);
    let report = sqlite::verify(dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);

    let conn = rusqlite::Connection::open(dir.path().join(sqlite::DATABASE_FILE)).expect("opens");
    conn.execute("UPDATE pools SET waiting_below = 0 WHERE id = ?1", [&event])
        .expect("tampers");
    let report = sqlite::verify(dir.path()).expect("verify runs");
    let found: Vec<(&str, &str)> = report
        .mismatches
        .iter()
        .map(|m| (m.pool_id.as_str(), m.what.as_str()))
        .collect();
    assert_eq!(found, [(event.as_str(), "waiting_below (from entries)")]);
}

/// Every entry of `pool`, read through the store a few at a time, against the ledger itself.
fn assert_history_whole(dir: &TempDir, store: &SqliteStore, tenant: &TenantId, pool: &str) {
    let conn = rusqlite::Connection::open(dir.path().join("allot.db")).expect("opens");
    let truth: Vec<i64> = conn
        .prepare("SELECT seq FROM ledger WHERE pool_id = ?1 ORDER BY seq")
        .expect("the test database answers")
        .query_map([pool], |row| row.get(0))
        .expect("the test database answers")
        .collect::<Result<_, _>>()
        .expect("the test database answers");
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_ledger(tenant, pool, PageRequest { limit: 2, after })
            .expect("reads")
            .expect("the pool exists");
        assert!(page.items.iter().all(|entry| entry.pool_id == pool));
        read.extend(page.items.iter().map(|entry| entry.seq));
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(read, truth, "pool {pool}");
}

#[test]
fn a_pools_history_reads_whole_from_its_runs_and_the_ledgers_tail_across_a_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let acme = tenant("acme");
    // Small runs and a short tail, so both are reached in a few batches.
    let open_small = || {
        let (store, writer) = sqlite::open(dir.path()).expect("the store opens");
        (store, writer.with_run_limits_for_tests(3, 10))
    };
    let (store, mut writer) = open_small();
    let pools: Vec<String> = (0..3)
        .map(|_| create_pool(&mut writer, &acme, 1_000, None))
        .collect();
    // Batches of 1 to 5 holds; the first pool busy, the others now and then.
    let place = |writer: &mut SqliteWriter, rounds: std::ops::Range<usize>| {
        for round in rounds {
            let batch = (0..=round % 5)
                .map(|i| {
                    let pool = if i % 3 == 2 {
                        &pools[1 + round % 2]
                    } else {
                        &pools[0]
                    };
                    envelope(&acme, hold(pool, 1, 600))
                })
                .collect();
            let replies = writer.apply(batch, T0).expect("the batch commits");
            assert!(replies.into_iter().all(|reply| outcome(reply).is_ok()));
        }
    };
    place(&mut writer, 0..12);
    // A quiet pool's fresh entry waits for its run.
    assert!(apply_one(&mut writer, &acme, hold(&pools[1], 1, 600), T0).is_ok());
    let conn = rusqlite::Connection::open(dir.path().join("allot.db")).expect("opens");
    let counter = |name: &str| -> i64 {
        conn.query_row(
            "SELECT value FROM allot_meta WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .expect("the test database answers")
    };
    // Both places are in use: runs, and entries after the last of them.
    let runs: i64 = conn
        .query_row("SELECT COUNT(*) FROM ledger_runs", [], |row| row.get(0))
        .expect("the test database answers");
    assert!(runs > 3, "{runs} runs");
    assert!(counter("ledger_runs_through") < counter("ledger_seq"));
    for pool in &pools {
        assert_history_whole(&dir, &store, &acme, pool);
    }

    // A restarted writer reads back what was not in a run yet, and carries on.
    drop((store, writer));
    let (store, mut writer) = open_small();
    place(&mut writer, 12..30);
    for pool in &pools {
        assert_history_whole(&dir, &store, &acme, pool);
    }
    assert_verify_clean(&dir);

    // A lost run is a mismatch for verify.
    conn.execute(
        "DELETE FROM ledger_runs WHERE pool_id = ?1 AND last_seq =
             (SELECT MIN(last_seq) FROM ledger_runs WHERE pool_id = ?1)",
        [&pools[0]],
    )
    .expect("the test database answers");
    let report = sqlite::verify(dir.path()).expect("verify runs");
    assert_eq!(report.mismatches.len(), 1, "{:?}", report.mismatches);
    assert_eq!(report.mismatches[0].pool_id, pools[0]);
    assert_eq!(report.mismatches[0].what, "ledger entries listed in runs");
}

#[test]
fn a_sessions_time_zone_is_stored_and_given_to_its_dates_across_a_restart() {
    let (dir, store, mut writer) = open();
    let acme = tenant("acme");
    let Command::CreatePool(mut session) = new_pool(5, None) else {
        unreachable!("new_pool makes a pool")
    };
    session.per_date = true;
    session.time_zone = Some(allot_core::SessionZone::parse("Asia/Tokyo").expect("a zone"));
    let session = match apply_one(&mut writer, &acme, Command::CreatePool(session), T0) {
        Ok(Success::Pool(pool)) => pool.id,
        other => panic!("session not created: {other:?}"),
    };
    // T0 is 2026-09-21T14:13:20Z: 23:13 in Tokyo, still the 21st there.
    let date = allot_core::SessionDate::parse("2026-09-21").expect("a date");
    let instance = date.instance_id(&PoolId(session.clone())).0;
    assert!(apply_one(&mut writer, &acme, hold(&instance, 1, 60), T0).is_ok());
    drop((store, writer));

    let (store, mut writer) = sqlite::open(dir.path()).expect("the store reopens");
    for id in [&session, &instance] {
        let view = pool_view(&store, &acme, id, T0);
        assert_eq!(view.time_zone.as_deref(), Some("Asia/Tokyo"), "{id}");
    }
    // 47 minutes later it is the 22nd in Tokyo: the 21st is over, for the reopened writer too.
    let later = UnixMillis(T0.0 + 47 * 60_000);
    let over = apply_one(&mut writer, &acme, hold(&instance, 1, 60), later);
    assert!(
        matches!(&over, Err(Failure::Invalid { field, message }) if field == "lines[0].date" && message.contains("Asia/Tokyo")),
        "{over:?}"
    );
    assert_verify_clean(&dir);
}
