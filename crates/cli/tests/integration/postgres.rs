//! The server on PostgreSQL (`--database postgres://…`): an event's flow end to end over HTTP,
//! as on SQLite, and what it sold is still there when the server starts again on the same
//! database. The store's own tests check PostgreSQL's writes and reads in depth; this checks
//! the server runs on it.

use crate::helpers::{Options, spawn_configured};
use allot_store::DatabaseUrl;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sells_through_its_total_on_postgres_and_survives_a_restart() {
    let database: DatabaseUrl = allot_pgtest::database().url.parse().expect("a URL");
    let on_postgres = |config: &mut allot_server::Config| config.database = Some(database.clone());
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let app = spawn_configured(data_dir, Options::default(), on_postgres).await;
    let ready = app.get("/readyz", "").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);

    let key = app.tenant("Acme").await;
    let event = app
        .pool(&key, json!({"name": "Concert", "capacity": 10}))
        .await;
    let floor = app
        .pool(
            &key,
            json!({"name": "Floor", "capacity": 8, "parent_id": event}),
        )
        .await;
    let balcony = app
        .pool(
            &key,
            json!({"name": "Balcony", "capacity": 8, "parent_id": event}),
        )
        .await;
    let hold = app.hold(&key, &floor, 8).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let id = hold.body["id"].as_str().expect("a hold id");
    let confirmed = app
        .post(&format!("/v1/holds/{id}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let refused = app.hold(&key, &balcony, 3).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.problem(), "insufficient-capacity");
    assert_eq!(refused.body["available"], 2);
    let cart = app.hold(&key, &balcony, 2).await;
    assert_eq!(cart.status, StatusCode::CREATED, "{}", cart.body);
    assert_eq!(app.counters(&key, &event).await, (2, 8, 0));

    // Started again on the same database, with a new data directory: the database is the truth.
    app.stop().await;
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let again = spawn_configured(data_dir, Options::default(), on_postgres).await;
    assert_eq!(again.counters(&key, &event).await, (2, 8, 0));
    let ledger = again.ledger(&key, &floor).await;
    assert_eq!(ledger.len(), 3, "made, held, confirmed: {ledger:?}");
    let sold_out = again.hold(&key, &floor, 1).await;
    assert_eq!(sold_out.problem(), "insufficient-capacity");
}

/// Three nodes on one database, each with its own batching writer: 500 buyers of single seats,
/// spread over the nodes at once, for a pool of 100. Exactly 100 are sold — no node oversells
/// what another sold — and no request fails with a 500: a batch that met another node's write
/// is answered 503 (nothing applied), and the buyer's retry is decided afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_database_sell_a_pool_exactly_once() {
    let database: DatabaseUrl = allot_pgtest::database().url.parse().expect("a URL");
    let on_postgres = |config: &mut allot_server::Config| config.database = Some(database.clone());
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let node = spawn_configured(data_dir, Options::default(), on_postgres).await;
        nodes.push(std::sync::Arc::new(node));
    }
    let key = nodes[0].tenant("Rush").await;
    let pool = nodes[1]
        .pool(&key, json!({"name": "Hall", "capacity": 100}))
        .await;
    let mut buyers = tokio::task::JoinSet::new();
    for buyer in 0..500 {
        let node = nodes[buyer % 3].clone();
        let (key, pool) = (key.clone(), pool.clone());
        buyers.spawn(async move {
            // A client sends a request answered 503 again (nothing of it was applied); the
            // next batch reads the pool afresh.
            for _ in 0..50 {
                let reply = node.hold(&key, &pool, 1).await;
                if reply.status != StatusCode::SERVICE_UNAVAILABLE {
                    return reply.status;
                }
            }
            StatusCode::SERVICE_UNAVAILABLE
        });
    }
    let statuses: Vec<StatusCode> = buyers.join_all().await;
    let sold = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((sold, refused), (100, 400), "{statuses:?}");
    for node in &nodes {
        assert_eq!(node.counters(&key, &pool).await, (100, 0, 0));
    }
    // `allot verify` beside the running nodes: the ledger and the holds agree with the pools.
    let verify = tokio::process::Command::new(crate::process::BIN)
        .args(["verify", "--database", &allot_pgtest_url(&database)])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let verify = tokio::time::timeout(crate::process::PROCESS_DEADLINE, verify)
        .await
        .expect("verify finishes")
        .expect("allot runs");
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        stdout.contains("100 live holds") || stdout.contains("ok"),
        "{stdout}"
    );
}

/// The URL as given on the command line (with its password).
fn allot_pgtest_url(database: &DatabaseUrl) -> String {
    match database {
        DatabaseUrl::Postgres(url) => url.expose().to_owned(),
        DatabaseUrl::Sqlite(path) => panic!("not PostgreSQL: {}", path.display()),
    }
}
