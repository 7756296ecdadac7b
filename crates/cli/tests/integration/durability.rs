//! The real `allot` binary as a child process: what survives a SIGKILL mid-rush, a graceful
//! SIGTERM, a restart; `allot verify` on a sound and on a tampered database; the generated admin
//! token; the command line's help and errors.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

use crate::process::{BIN, INHERITED_SETTINGS, PROCESS_DEADLINE, Server};
use tokio::time::Instant;

const TOKEN: &str = "durability-admin-token-0123456789";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Runs `allot ARGS` to completion (bounded) and returns its status, stdout and stderr.
async fn run_allot(args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = tokio::process::Command::new(BIN);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for name in INHERITED_SETTINGS {
        command.env_remove(name);
    }
    let output = tokio::time::timeout(PROCESS_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("allot {args:?} did not finish within {PROCESS_DEADLINE:?}"))
        .expect("allot runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn verify(data_dir: &Path) -> (ExitStatus, String, String) {
    let dir = data_dir.to_str().expect("a UTF-8 temporary path");
    run_allot(&["verify", "--data-dir", dir]).await
}

/// One request; `Err` when no complete answer came back (the server died mid-request).
async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn post(
    server: &Server,
    client: &reqwest::Client,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    call(
        client,
        reqwest::Method::POST,
        &server.url(path),
        token,
        Some(&body),
    )
    .await
    .unwrap_or_else(|error| panic!("POST {path}: no answer: {error}"))
}

async fn get(
    server: &Server,
    client: &reqwest::Client,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    call(client, reqwest::Method::GET, &server.url(path), token, None)
        .await
        .unwrap_or_else(|error| panic!("GET {path}: no answer: {error}"))
}

/// A new tenant through the super-admin token; returns its admin key.
async fn tenant(
    server: &Server,
    client: &reqwest::Client,
    admin_token: &str,
    name: &str,
) -> String {
    let (status, body) = post(
        server,
        client,
        "/v1/tenants",
        admin_token,
        json!({"name": name}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["api_key"].as_str().expect("an api_key").to_owned()
}

async fn pool(server: &Server, client: &reqwest::Client, key: &str, body: Value) -> String {
    let (status, answer) = post(server, client, "/v1/pools", key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["id"].as_str().expect("a pool id").to_owned()
}

async fn pool_counters(
    server: &Server,
    client: &reqwest::Client,
    key: &str,
    id: &str,
) -> (i64, i64) {
    let (status, body) = get(server, client, &format!("/v1/pools/{id}"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["held"].as_i64().expect("held"),
        body["committed"].as_i64().expect("committed"),
    )
}

/// Every hold listed under `?status=held`, following cursors.
async fn held_ids(server: &Server, client: &reqwest::Client, key: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let path = match &cursor {
            Some(cursor) => format!("/v1/holds?status=held&limit=1000&cursor={cursor}"),
            None => "/v1/holds?status=held&limit=1000".to_owned(),
        };
        let (status, body) = get(server, client, &path, key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for item in body["items"].as_array().expect("items") {
            assert_eq!(item["status"], "held", "{item}");
            assert!(
                ids.insert(item["id"].as_str().expect("an id").to_owned()),
                "a hold listed twice: {item}"
            );
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("too many pages of held holds");
}

/// What a rush of hold-placing workers saw.
struct Rush {
    /// Every hold id answered 201.
    answered: Arc<Mutex<Vec<String>>>,
    workers: JoinSet<Result<(), String>>,
}

/// `workers` tasks, each placing single-unit holds on `pool` back to back until a request gets
/// no answer (the server went away). A worker returns `Err` on any answer but 201 or,
/// when `unavailable_ok`, 503.
fn start_rush(
    server: &Server,
    key: &str,
    pool: &str,
    workers: usize,
    unavailable_ok: bool,
) -> Rush {
    let answered = Arc::new(Mutex::new(Vec::new()));
    let mut set = JoinSet::new();
    let url = server.url("/v1/holds");
    for worker in 0..workers {
        let client = http();
        let url = url.clone();
        let key = key.to_owned();
        let answered = answered.clone();
        let body = json!({"lines": [{"pool_id": pool, "quantity": 1}], "holder": format!("worker-{worker}")});
        set.spawn(async move {
            // Bounded even if the server never goes away.
            for _ in 0..100_000 {
                match call(&client, reqwest::Method::POST, &url, &key, Some(&body)).await {
                    Ok((StatusCode::CREATED, answer)) => {
                        let id = answer["id"].as_str().expect("a hold id").to_owned();
                        answered.lock().expect("not poisoned").push(id);
                    }
                    Ok((StatusCode::SERVICE_UNAVAILABLE, _)) if unavailable_ok => {}
                    Ok((status, answer)) => return Err(format!("answered {status}: {answer}")),
                    Err(_) => return Ok(()),
                }
            }
            Err("the server never went away".to_owned())
        });
    }
    Rush {
        answered,
        workers: set,
    }
}

impl Rush {
    fn count(&self) -> usize {
        self.answered.lock().expect("not poisoned").len()
    }

    async fn wait_for(&self, count: usize) {
        let deadline = Instant::now() + PROCESS_DEADLINE;
        while self.count() < count {
            assert!(
                Instant::now() < deadline,
                "only {} holds answered within {PROCESS_DEADLINE:?}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits (bounded) for every worker to stop, and returns every hold id answered 201.
    async fn finish(mut self) -> Vec<String> {
        tokio::time::timeout(PROCESS_DEADLINE, async {
            while let Some(joined) = self.workers.join_next().await {
                if let Err(error) = joined.expect("a worker does not panic") {
                    panic!("a worker got an unexpected answer: {error}");
                }
            }
        })
        .await
        .expect("the workers stop once the server is gone");
        self.answered.lock().expect("not poisoned").clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_hold_answered_before_a_sigkill_survives_it() {
    const WORKERS: usize = 32;
    let data = tempfile::tempdir().expect("a data directory");
    let client = http();
    let mut server = Server::start(data.path(), Some(TOKEN)).await;
    assert!(
        !data.path().join("admin-token").exists(),
        "with ALLOT_ADMIN_TOKEN set, no token is generated"
    );
    let key = tenant(&server, &client, TOKEN, "Killed").await;
    let pool_id = pool(
        &server,
        &client,
        &key,
        json!({"name": "Drop", "capacity": 1_000_000}),
    )
    .await;

    let rush = start_rush(&server, &key, &pool_id, WORKERS, false);
    rush.wait_for(300).await;
    // Requests are in flight on every worker right now.
    let status = server.kill().await;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    let answered = rush.finish().await;
    assert!(answered.len() >= 300);
    let unique: HashSet<String> = answered.iter().cloned().collect();
    assert_eq!(unique.len(), answered.len(), "hold ids are unique");

    let server = Server::start(data.path(), Some(TOKEN)).await;
    for id in &answered {
        let (status, body) = get(&server, &client, &format!("/v1/holds/{id}"), &key).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "hold {id} was answered 201 and lost: {body}"
        );
        assert_eq!(body["status"], "held", "{body}");
        assert_eq!(body["lines"][0]["pool_id"], pool_id.as_str(), "{body}");
    }
    let listed = held_ids(&server, &client, &key).await;
    assert!(
        unique.is_subset(&listed),
        "every answered hold is listed as held"
    );
    let (held, committed) = pool_counters(&server, &client, &key, &pool_id).await;
    assert_eq!(committed, 0);
    assert!(
        held >= answered.len() as i64,
        "held {held} < {} answered",
        answered.len()
    );
    assert_eq!(
        held,
        listed.len() as i64,
        "the counter matches the live holds"
    );
    assert!(
        listed.len() <= answered.len() + WORKERS,
        "at most one unanswered commit per in-flight request: {} listed, {} answered",
        listed.len(),
        answered.len()
    );

    let (status, stdout, stderr) = verify(data.path()).await;
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok"), "{stdout}");
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_finds_tampered_counters() {
    let data = tempfile::tempdir().expect("a data directory");
    let client = http();
    let mut server = Server::start(data.path(), Some(TOKEN)).await;
    let key = tenant(&server, &client, TOKEN, "Tampered").await;
    let event = pool(
        &server,
        &client,
        &key,
        json!({"name": "Event", "capacity": 10}),
    )
    .await;
    let section = pool(
        &server,
        &client,
        &key,
        json!({"name": "Section", "capacity": 8, "parent_id": event}),
    )
    .await;
    for (quantity, confirm) in [(2, false), (3, true)] {
        let (status, body) = post(
            &server,
            &client,
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": section, "quantity": quantity}], "confirm": confirm}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let status = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", server.stderr());

    let (status, stdout, stderr) = verify(data.path()).await;
    assert_eq!(
        status.code(),
        Some(0),
        "an untouched database verifies: {stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok"), "{stdout}");

    {
        let conn =
            rusqlite::Connection::open(data.path().join("allot.db")).expect("open the database");
        let changed = conn
            .execute("UPDATE pools SET held = held + 1 WHERE id = ?1", [&section])
            .expect("tamper with a counter");
        assert_eq!(changed, 1);
    }

    let (status, stdout, stderr) = verify(data.path()).await;
    assert_eq!(
        status.code(),
        Some(1),
        "a tampered database fails: {stdout}\n{stderr}"
    );
    let mismatches: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("MISMATCH"))
        .collect();
    // The section's held disagrees with both the ledger and the live holds; the event is untouched.
    assert_eq!(mismatches.len(), 2, "{stdout}");
    for line in &mismatches {
        assert!(line.contains(&section), "{line}");
        assert!(line.contains("held"), "{line}");
        assert!(
            line.contains("stored 3") && line.contains("recomputed 2"),
            "{line}"
        );
    }
    assert!(!stdout.contains(&event), "{stdout}");
    assert!(!stdout.contains("ok:"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_requests_in_flight_exits_zero_and_keeps_everything() {
    let data = tempfile::tempdir().expect("a data directory");
    let client = http();
    let mut server = Server::start(data.path(), Some(TOKEN)).await;
    let key = tenant(&server, &client, TOKEN, "Graceful").await;
    let event = pool(
        &server,
        &client,
        &key,
        json!({"name": "Event", "capacity": 1_000_000}),
    )
    .await;
    let section = pool(
        &server,
        &client,
        &key,
        json!({"name": "Section", "capacity": 1_000_000, "parent_id": event}),
    )
    .await;
    let mut statuses = Vec::new();
    for (quantity, step) in [(2, None), (3, Some("confirm")), (4, Some("release"))] {
        let (status, body) = post(
            &server,
            &client,
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": section, "quantity": quantity}]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("a hold id").to_owned();
        let expected = match step {
            Some(step) => {
                let (status, body) = post(
                    &server,
                    &client,
                    &format!("/v1/holds/{id}/{step}"),
                    &key,
                    json!({}),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body["status"].as_str().expect("a status").to_owned()
            }
            None => "held".to_owned(),
        };
        statuses.push((id, expected));
    }

    let rush = start_rush(&server, &key, &event, 16, true);
    rush.wait_for(100).await;
    let status = server.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM exits 0:\n{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("allot stopped"),
        "{}",
        server.stderr()
    );
    let answered = rush.finish().await;

    let server = Server::start(data.path(), Some(TOKEN)).await;
    for (id, expected) in &statuses {
        let (status, body) = get(&server, &client, &format!("/v1/holds/{id}"), &key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], expected.as_str(), "{body}");
    }
    for id in &answered {
        let (status, body) = get(&server, &client, &format!("/v1/holds/{id}"), &key).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "hold {id} was answered 201 and lost: {body}"
        );
        assert_eq!(body["status"], "held", "{body}");
    }
    // Graceful: every request that committed was answered, so the counters are exact.
    assert_eq!(
        pool_counters(&server, &client, &key, &section).await,
        (2, 3)
    );
    assert_eq!(
        pool_counters(&server, &client, &key, &event).await,
        (2 + answered.len() as i64, 3)
    );
    assert_eq!(
        held_ids(&server, &client, &key).await.len(),
        1 + answered.len()
    );
    let (status, body) = get(&server, &client, "/v1/pools", &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2), "{body}");
    drop(server);

    let (status, stdout, stderr) = verify(data.path()).await;
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generated_admin_token_is_private_shown_once_and_kept() {
    use std::os::unix::fs::PermissionsExt;

    let data = tempfile::tempdir().expect("a data directory");
    let client = http();
    let token_file: PathBuf = data.path().join("admin-token");

    let mut first = Server::start(data.path(), None).await;
    let token =
        std::fs::read_to_string(&token_file).expect("the token is kept in the data directory");
    let token = token.trim().to_owned();
    assert!(token.len() >= 32, "a long random token: {token:?}");
    let mode = std::fs::metadata(&token_file)
        .expect("the token file")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the owner may read the token: {mode:o}"
    );
    let stderr = first.stderr();
    assert_eq!(
        stderr.matches(token.as_str()).count(),
        1,
        "the token is printed once on stderr:\n{stderr}"
    );
    let (status, _) = get(&first, &client, "/readyz", "none").await;
    assert_eq!(status, StatusCode::OK);
    tenant(&first, &client, &token, "First").await;
    let (status, body) = post(
        &first,
        &client,
        "/v1/tenants",
        "not-the-admin-token-000000",
        json!({"name": "X"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let status = first.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", first.stderr());

    let second = Server::start(data.path(), None).await;
    let stderr = second.stderr();
    assert!(
        !stderr.contains(token.as_str()),
        "a second start does not print the token again:\n{stderr}"
    );
    assert!(!stderr.contains("generated"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&token_file)
            .expect("the token file")
            .trim(),
        token,
        "the token is kept, not replaced"
    );
    tenant(&second, &client, &token, "Second").await;
}

#[tokio::test]
async fn the_command_line_explains_itself_and_fails_plainly() {
    let (status, stdout, stderr) = run_allot(&["verify", "--data-dir", "/nonexistent"]).await;
    assert_ne!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        status.code().is_some(),
        "an exit code, not a signal: {status}"
    );
    assert!(stderr.starts_with("allot: "), "a plain message: {stderr}");
    assert!(
        stderr.contains("/nonexistent"),
        "it names the path: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    let (status, stdout, stderr) = run_allot(&["--help"]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    for word in ["serve", "verify", "--help", "--version"] {
        assert!(stdout.contains(word), "--help mentions {word}:\n{stdout}");
    }

    let (status, stdout, stderr) = run_allot(&["serve", "--help"]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    for word in [
        "--listen",
        "--data-dir",
        "--sweep-interval-ms",
        "--max-batch",
        "--log-format",
        "ALLOT_LISTEN",
        "ALLOT_DATA_DIR",
    ] {
        assert!(
            stdout.contains(word),
            "serve --help mentions {word}:\n{stdout}"
        );
    }

    let (status, stdout, stderr) = run_allot(&["verify", "--help"]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("--data-dir"), "{stdout}");

    let (status, _, stderr) = run_allot(&["serve", "--listen", "not-an-address"]).await;
    assert_eq!(status.code(), Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[tokio::test]
async fn events_not_yet_delivered_when_the_server_is_killed_are_delivered_after_restart() {
    // The receiver fails the first attempt; the server is killed before it can retry.
    let receiver = crate::helpers::Receiver::start(&[500]).await;
    let data = tempfile::tempdir().expect("a data directory");
    let client = http();
    let mut server = Server::start(data.path(), Some(TOKEN)).await;
    let key = tenant(&server, &client, TOKEN, "Deliveries").await;
    let (status, webhook) = post(
        &server,
        &client,
        "/v1/webhooks",
        &key,
        json!({"url": receiver.url, "events": ["alert.fired"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let secret = webhook["secret"].as_str().expect("a secret").to_owned();
    let seats = pool(
        &server,
        &client,
        &key,
        json!({"name": "Seats", "capacity": 10}),
    )
    .await;
    // 8 of 10 crosses one threshold (80%): one alert, one delivery.
    let body = json!({"lines": [{"pool_id": seats, "quantity": 8}], "confirm": true});
    let (status, _) = post(&server, &client, "/v1/holds", &key, body).await;
    assert_eq!(status, StatusCode::CREATED);
    crate::helpers::eventually(Duration::from_secs(10), "the first attempt", || async {
        (!receiver.requests().is_empty()).then_some(())
    })
    .await;
    let killed = server.kill().await;
    assert_eq!(killed.signal(), Some(9), "killed by SIGKILL: {killed}");
    let before_restart = receiver.requests().len();

    let _server = Server::start(data.path(), Some(TOKEN)).await;
    // The retry is due about 5 s after the failure; allow for a slow machine.
    let first = receiver.requests()[0].clone();
    assert_eq!(first.status, 500);
    let delivered = crate::helpers::eventually(
        Duration::from_secs(30),
        "delivery after restart",
        || async { receiver.requests().into_iter().find(|r| r.status == 200) },
    )
    .await;
    assert_eq!(before_restart, 1, "nothing else was sent before the kill");
    assert!(crate::helpers::signature_verifies(&secret, &delivered));
    assert_eq!(
        first.headers.get("webhook-id"),
        delivered.headers.get("webhook-id"),
        "the same event, retried"
    );
    assert!(delivered.body.contains("alert.fired"));
}

/// The database holds attendees' names and e-mail addresses: a new data directory is its owner's
/// only, and so is every file in it (the database with its `-wal` and `-shm`, the ticket key).
#[tokio::test]
async fn a_new_data_directory_and_its_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("a temporary directory");
    let data_dir = parent.path().join("new").join("data");
    let configured = data_dir.clone();
    let app = crate::helpers::spawn_configured(
        tempfile::tempdir().expect("a placeholder directory"),
        crate::helpers::Options::default(),
        move |config| config.data_dir = configured,
    )
    .await;
    // A write, so the write-ahead log has something in it.
    app.tenant("Private").await;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data_dir), 0o700, "the data directory");
    assert_eq!(
        mode(&parent.path().join("new")),
        0o700,
        "a directory made on the way"
    );
    for file in ["allot.db", "allot.db-wal", "allot.db-shm", "ticket-key"] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&data_dir)
        .expect("lists the data directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["allot.db", "allot.db-shm", "allot.db-wal", "ticket-key"]
    );
    app.stop().await;
}
