//! What only the PostgreSQL backend has to show, beyond the conformance suite it passes like
//! every store: its migrations run once however many nodes start together, the database itself
//! refuses a pool used past its hard limit, two writers on one pool sell it exactly, and a
//! writer whose connection was cut reconnects. Each test has a fresh database on the test
//! process's throwaway cluster (`allot-pgtest`).

use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::NewPool;
use allot_store::database_url::PostgresUrl;
use allot_store::postgres::{self, schema};
use allot_store::*;
use std::time::{Duration, Instant};

const T0: UnixMillis = UnixMillis(1_796_637_600_000);

fn fresh_database() -> PostgresUrl {
    match allot_pgtest::database().url.parse() {
        Ok(DatabaseUrl::Postgres(url)) => url,
        other => panic!("the test database's URL is not PostgreSQL's: {other:?}"),
    }
}

fn acme() -> TenantId {
    TenantId("acme".into())
}

fn envelope(command: Command) -> Envelope {
    Envelope {
        tenant: acme(),
        actor: None,
        command,
        idempotency: None,
    }
}

fn new_pool(capacity: i64) -> Command {
    Command::CreatePool(NewPool {
        name: "Concert".into(),
        unit: "seats".into(),
        parent_id: None,
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

fn one_seat(pool: &str) -> Command {
    Command::PlaceHold {
        lines: vec![HoldLine {
            pool_id: PoolId(pool.to_owned()),
            quantity: Quantity::new(1).expect("valid"),
        }],
        ttl: TtlSeconds::new(600).expect("valid ttl"),
        holder: None,
        confirm: false,
        extras: Default::default(),
    }
}

/// The pool a batch of one `CreatePool` made.
fn created(replies: Vec<Reply>) -> PoolView {
    match replies.into_iter().next() {
        Some(Reply::Outcome(Ok(Success::Pool(pool)))) => pool,
        other => panic!("no pool: {other:?}"),
    }
}

/// Asks `check` until it answers, for at most 10 s (a bound on waiting, not a speed target),
/// pausing between asks so the server gets on with it.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn admin(url: &PostgresUrl) -> ::postgres::Client {
    ::postgres::Client::connect(url.expose(), ::postgres::NoTls).expect("the database answers")
}

#[test]
fn nodes_starting_together_apply_each_migration_once_and_a_newer_schema_is_refused() {
    let url = fresh_database();
    let nodes: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || postgres::open(&url).map(|_| ()))
        })
        .collect();
    for node in nodes {
        node.join()
            .expect("the node's thread ends")
            .expect("every node opens the store");
    }
    let mut client = admin(&url);
    let versions: Vec<i64> = client
        .query("SELECT version FROM allot_schema ORDER BY version", &[])
        .expect("the versions read")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, (1..=schema::latest_version()).collect::<Vec<_>>());

    client
        .execute(
            "INSERT INTO allot_schema (version) VALUES ($1)",
            &[&(schema::latest_version() + 1)],
        )
        .expect("a later release's version is recorded");
    let refused = match postgres::open(&url) {
        Ok(_) => panic!("a database newer than this build is opened"),
        Err(error) => error.to_string(),
    };
    assert!(refused.contains("newer than this build"), "{refused}");
}

#[test]
fn the_database_refuses_a_pool_used_past_its_hard_limit_whatever_a_writer_decides() {
    let url = fresh_database();
    let (_store, mut writer) = postgres::open(&url).expect("the store opens");
    let pool = created(
        writer
            .apply(vec![envelope(new_pool(10))], T0)
            .expect("commits"),
    );
    let mut client = admin(&url);
    let oversold = client
        .execute(
            "UPDATE pools SET held = 6, committed = 5 WHERE tenant_id = 'acme' AND id = $1",
            &[&pool.id],
        )
        .expect_err("11 of 10 is refused");
    assert_eq!(
        oversold.code(),
        Some(&::postgres::error::SqlState::CHECK_VIOLATION),
        "{oversold}"
    );
    client
        .execute(
            "UPDATE pools SET held = 5, committed = 5 WHERE tenant_id = 'acme' AND id = $1",
            &[&pool.id],
        )
        .expect("10 of 10 is allowed");
}

/// Two writers (two nodes) selling one pool of 100 at once: each batch locks the pool's row
/// as it loads it, so the other decides on what was committed, and exactly 100 seats go.
#[test]
fn two_writers_on_one_pool_sell_exactly_its_capacity() {
    let url = fresh_database();
    let (store, mut first) = postgres::open(&url).expect("the store opens");
    let pool = created(
        first
            .apply(vec![envelope(new_pool(100))], T0)
            .expect("commits"),
    );
    let (_, second) = postgres::open(&url).expect("a second node opens the store");
    const BATCHES: usize = 30;
    const HOLDS_PER_BATCH: usize = 4;
    let sell = |mut writer: postgres::PostgresWriter, pool: String| {
        std::thread::spawn(move || {
            let mut granted = 0;
            for batch in 0..BATCHES {
                let commands = (0..HOLDS_PER_BATCH)
                    .map(|_| envelope(one_seat(&pool)))
                    .collect::<Vec<_>>();
                let now = UnixMillis(T0.0 + 1 + batch as i64);
                let replies = writer.apply(commands, now).expect("each batch commits");
                granted += replies
                    .iter()
                    .filter(|reply| matches!(reply, Reply::Outcome(Ok(Success::Hold { .. }))))
                    .count();
            }
            granted
        })
    };
    let nodes = [sell(first, pool.id.clone()), sell(second, pool.id.clone())];
    let granted: usize = nodes
        .into_iter()
        .map(|node| node.join().expect("the node's thread ends"))
        .sum();
    assert_eq!(granted, 100, "of {} asked", 2 * BATCHES * HOLDS_PER_BATCH);
    let observed = store.observe(UnixMillis(T0.0 + 100)).expect("observes");
    let (_, sold) = &observed.pools[0];
    assert_eq!((sold.held, sold.available), (100, 0));
    assert_eq!(observed.holds.len(), 100);
    assert_eq!(
        observed.ledger.len(),
        101,
        "one entry for the pool, one per hold"
    );
}

/// A writer whose connection the server cut (a restart, a failover, an operator) answers
/// the next batch on a new connection, at worst after one batch refused as unavailable.
#[test]
fn a_writer_whose_connection_was_cut_reconnects() {
    let url = fresh_database();
    let (store, mut writer) = postgres::open(&url).expect("the store opens");
    let pool = created(
        writer
            .apply(vec![envelope(new_pool(10))], T0)
            .expect("commits"),
    );
    let mut client = admin(&url);
    let cut: i64 = client
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .expect("the other connections are cut")
        .get(0);
    assert!(cut >= 1, "the writer's connection was among them");

    let hold = eventually("the writer comes back", || {
        match writer.apply(vec![envelope(one_seat(&pool.id))], UnixMillis(T0.0 + 1)) {
            Ok(replies) => Some(replies),
            Err(error) if error.is_transient() => None,
            Err(error) => panic!("the writer does not come back: {error}"),
        }
    });
    assert!(
        matches!(hold.as_slice(), [Reply::Outcome(Ok(Success::Hold { .. }))]),
        "{hold:?}"
    );
    // The observation's own connection was cut too: a store opened again sees the hold.
    drop(store);
    let (store, _) = postgres::open(&url).expect("the store opens again");
    let observed = store.observe(UnixMillis(T0.0 + 1)).expect("observes");
    assert_eq!(observed.pools[0].1.held, 1);
}

fn keyed(command: Command, key: &str) -> Envelope {
    Envelope {
        idempotency: Some(Idempotency {
            key: key.to_owned(),
            request_hash: "POST /v1/holds 1 seat".to_owned(),
            render: Box::new(|outcome: &Outcome| StoredResponse {
                status: if outcome.is_ok() { 201 } else { 409 },
                body: b"from this node".to_vec(),
            }),
        }),
        ..envelope(command)
    }
}

/// One Idempotency-Key sent to two nodes at once acts once: the node whose batch found the key
/// free but meets the other's claim when it writes fails as a conflict and holds nothing, and
/// the request retried under the key is answered with what the other node kept.
#[test]
fn one_key_sent_to_two_nodes_at_once_acts_once() {
    let url = fresh_database();
    let (store, mut writer) = postgres::open(&url).expect("the store opens");
    let pool = created(
        writer
            .apply(vec![envelope(new_pool(10))], T0)
            .expect("commits"),
    );
    // The other node's batch: it has taken the key and not committed yet.
    let mut other = admin(&url);
    let mut other_batch = other.transaction().expect("a transaction");
    other_batch
        .execute(
            "INSERT INTO idempotency (tenant_id, key, request_hash, status, body, created_at)
             VALUES ('acme', 'checkout-ana', 'POST /v1/holds 1 seat', 201, $1, $2)",
            &[&b"from the other node".to_vec(), &(T0.0 + 1)],
        )
        .expect("the other node claims the key");

    let pool_id = pool.id.clone();
    let this_node = std::thread::spawn(move || {
        let first = writer.apply(
            vec![keyed(one_seat(&pool_id), "checkout-ana")],
            UnixMillis(T0.0 + 2),
        );
        (writer, first)
    });
    // This node's insert of the key waits on the other's claim: wait until it does.
    let mut watcher = admin(&url);
    eventually("this node meets the other's claim", || {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("the activity reads")
            .get(0);
        (waiting > 0).then_some(())
    });
    other_batch.commit().expect("the other node commits");

    let (mut writer, first) = this_node.join().expect("this node's thread ends");
    match first {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("this node's batch must fail as a conflict: {other:?}"),
    }
    let observed = store.observe(UnixMillis(T0.0 + 2)).expect("observes");
    assert_eq!(observed.holds.len(), 0, "this node held nothing");

    let retried = writer
        .apply(
            vec![keyed(one_seat(&pool.id), "checkout-ana")],
            UnixMillis(T0.0 + 3),
        )
        .expect("commits");
    match retried.as_slice() {
        [Reply::Rendered { response, replayed }] => {
            assert!(replayed);
            assert_eq!(response.body, b"from the other node");
        }
        other => panic!("the retry is not a replay: {other:?}"),
    }
}

/// `allot verify` on PostgreSQL: clean after a sale, and a counter someone changed behind the
/// writer's back is found, against the ledger and against the live holds alike.
#[test]
fn verify_finds_a_counter_changed_behind_the_writers_back() {
    let url = fresh_database();
    let (_store, mut writer) = postgres::open(&url).expect("the store opens");
    let pool = created(
        writer
            .apply(vec![envelope(new_pool(10))], T0)
            .expect("commits"),
    );
    let holds = (0..3).map(|_| envelope(one_seat(&pool.id))).collect();
    writer.apply(holds, UnixMillis(T0.0 + 1)).expect("commits");
    let maintenance = postgres::PostgresMaintenance::open(&url).expect("opens");
    let clean = maintenance.verify().expect("verifies");
    assert_eq!(
        (clean.pools, clean.ledger_entries, clean.live_holds),
        (1, 4, 3)
    );
    assert_eq!(clean.mismatches, vec![]);

    admin(&url)
        .execute("UPDATE pools SET held = held + 1", &[])
        .expect("tampers");
    let found = maintenance.verify().expect("verifies");
    let what: Vec<(&str, i64, i64)> = found
        .mismatches
        .iter()
        .map(|m| (m.what.as_str(), m.stored, m.recomputed))
        .collect();
    assert_eq!(
        what,
        [("held (from ledger)", 4, 3), ("held (from holds)", 4, 3)]
    );
}
