//! Rushes: many clients at once against one hot pool (or one event), through the real HTTP stack
//! and the batching writer. Capacity must never be oversold, every refusal must be a clean 409,
//! and the stored counters must agree with the holds and the ledger afterwards.

use crate::helpers::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// Longest any one rush may take before the test fails instead of hanging.
const RUSH_DEADLINE: Duration = Duration::from_secs(60);

/// One request with a client shared by many tasks; a transport error fails the test.
async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    key: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method.clone(), url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{method} {url}: no answer: {error}"));
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("{method} {url}: no body: {error}"));
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The problem `type` slug, e.g. `insufficient-capacity`.
fn problem(body: &Value) -> &str {
    body["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or("")
}

/// Spawns `count` tasks at once, all posting `body` to /v1/holds as soon as every one of them is
/// ready (a barrier), and returns every answer.
async fn rush_holds(
    app: &TestApp,
    key: &str,
    count: usize,
    body: Value,
) -> Vec<(StatusCode, Value)> {
    let barrier = Arc::new(Barrier::new(count));
    let url = format!("{}/v1/holds", app.base_url);
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let client = app.client.clone();
        let url = url.clone();
        let key = key.to_owned();
        let body = body.clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            send(&client, Method::POST, &url, &key, Some(&body)).await
        });
    }
    let answers = tokio::time::timeout(RUSH_DEADLINE, async {
        let mut answers = Vec::with_capacity(count);
        while let Some(joined) = tasks.join_next().await {
            answers.push(joined.expect("a request task does not panic"));
        }
        answers
    })
    .await
    .expect("the rush is answered within the deadline");
    assert_eq!(answers.len(), count);
    answers
}

fn count_statuses(answers: &[(StatusCode, Value)]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for (status, _) in answers {
        *counts.entry(status.as_u16()).or_insert(0) += 1;
    }
    counts
}

fn counters(pool: &Value) -> (i64, i64, i64) {
    (
        pool["held"].as_i64().expect("held"),
        pool["committed"].as_i64().expect("committed"),
        pool["available"].as_i64().expect("available"),
    )
}

/// Every hold id listed under `?status=held`, following cursors.
async fn list_held(app: &TestApp, key: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(cursor) => format!("/v1/holds?status=held&limit=1000&cursor={cursor}"),
            None => "/v1/holds?status=held&limit=1000".to_owned(),
        };
        let reply = app.get(&path, key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        for item in reply.body["items"].as_array().expect("items") {
            assert_eq!(item["status"], "held");
            assert!(
                ids.insert(item["id"].as_str().expect("an id").to_owned()),
                "a hold listed twice: {item}"
            );
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("more than 100 pages of held holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_single_unit_holds_on_a_hundred_units_sell_exactly_a_hundred() {
    let app = spawn_app().await;
    let key = app.tenant("Rush").await;
    let pool = app
        .pool(&key, json!({"name": "Hot drop", "capacity": 100}))
        .await;

    let answers = rush_holds(
        &app,
        &key,
        500,
        json!({"lines": [{"pool_id": pool, "quantity": 1}]}),
    )
    .await;

    let counts = count_statuses(&answers);
    assert!(
        counts.keys().all(|status| *status < 500),
        "no 5xx under a rush: {counts:?}"
    );
    assert_eq!(counts.get(&201), Some(&100), "{counts:?}");
    assert_eq!(counts.get(&409), Some(&400), "{counts:?}");
    assert_eq!(counts.len(), 2, "only 201 and 409: {counts:?}");

    let mut granted = HashSet::new();
    for (status, body) in &answers {
        if *status == StatusCode::CREATED {
            assert_eq!(body["status"], "held", "{body}");
            assert_eq!(body["lines"][0]["pool_id"], pool.as_str());
            assert_eq!(body["lines"][0]["quantity"], 1);
            assert!(
                granted.insert(body["id"].as_str().expect("a hold id").to_owned()),
                "a hold id answered twice: {body}"
            );
        } else {
            assert_eq!(problem(body), "insufficient-capacity", "{body}");
            assert_eq!(body["pool_id"], pool.as_str(), "{body}");
            assert_eq!(body["available"], 0, "refused only once sold out: {body}");
        }
    }
    assert_eq!(granted.len(), 100);

    let state = app.pool_state(&key, &pool).await;
    assert_eq!(counters(&state), (100, 0, 0), "{state}");
    assert_eq!(
        list_held(&app, &key).await,
        granted,
        "the listed held holds are exactly the ones answered 201"
    );
    let report = allot_store::sqlite::verify(app.data_dir.path()).expect("verify runs");
    assert_eq!(report.mismatches, vec![], "{report:?}");
    assert_eq!(report.live_holds, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_line_holds_across_two_sections_are_capped_by_the_event_total() {
    let app = spawn_app().await;
    let key = app.tenant("Festival").await;
    // Sections of 80 each would allow 80 two-line holds; the event's 100 allows only 50.
    let event = app
        .pool(&key, json!({"name": "Festival", "capacity": 100}))
        .await;
    let section_a = app
        .pool(
            &key,
            json!({"name": "Section A", "capacity": 80, "parent_id": event}),
        )
        .await;
    let section_b = app
        .pool(
            &key,
            json!({"name": "Section B", "capacity": 80, "parent_id": event}),
        )
        .await;

    let answers = rush_holds(
        &app,
        &key,
        500,
        json!({"lines": [
            {"pool_id": section_a, "quantity": 1},
            {"pool_id": section_b, "quantity": 1},
        ]}),
    )
    .await;

    let counts = count_statuses(&answers);
    assert!(
        counts.keys().all(|status| *status < 500),
        "no 5xx under a rush: {counts:?}"
    );
    assert_eq!(counts.get(&201), Some(&50), "{counts:?}");
    assert_eq!(counts.get(&409), Some(&450), "{counts:?}");
    assert_eq!(counts.len(), 2, "only 201 and 409: {counts:?}");
    for (status, body) in &answers {
        if *status == StatusCode::CONFLICT {
            assert_eq!(problem(body), "insufficient-capacity", "{body}");
            assert_eq!(
                body["pool_id"],
                event.as_str(),
                "the event total, not a section, is what runs out: {body}"
            );
            assert_eq!(
                body["requested"], 2,
                "both lines count against the event: {body}"
            );
            assert_eq!(body["available"], 0, "{body}");
        } else {
            assert_eq!(body["status"], "held", "{body}");
            assert_eq!(body["lines"].as_array().map(Vec::len), Some(2), "{body}");
        }
    }

    let event_state = app.pool_state(&key, &event).await;
    assert_eq!(counters(&event_state), (100, 0, 0), "{event_state}");
    for section in [&section_a, &section_b] {
        let state = app.pool_state(&key, section).await;
        assert_eq!(
            counters(&state),
            (50, 0, 0),
            "each section holds 50 and has headroom of its own (30) but the event has none: {state}"
        );
    }
    let totals = app.get(&format!("/v1/pools/{event}/totals"), &key).await;
    assert_eq!(totals.status, StatusCode::OK, "{}", totals.body);
    assert_eq!(totals.body["held"], 100, "{}", totals.body);
    assert_eq!(totals.body["available"], 0, "{}", totals.body);

    assert_eq!(list_held(&app, &key).await.len(), 50);
    let report = allot_store::sqlite::verify(app.data_dir.path()).expect("verify runs");
    assert_eq!(report.mismatches, vec![], "{report:?}");
    assert_eq!(report.live_holds, 50);
}

/// What one task did with its hold, as the answers told it.
struct Lived {
    id: String,
    /// (pool index into the sections, quantity)
    lines: Vec<(usize, i64)>,
    confirmed: bool,
    released: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_holds_confirms_and_releases_keep_counters_equal_to_live_holds() {
    const TASKS: usize = 300;
    const READERS: usize = 8;
    const EVENT_CAPACITY: i64 = 150;
    const SECTION_CAPACITY: i64 = 100;

    let app = spawn_app().await;
    let key = app.tenant("Mixed").await;
    let event = app
        .pool(&key, json!({"name": "Arena", "capacity": EVENT_CAPACITY}))
        .await;
    let mut sections = Vec::new();
    for name in ["North", "South"] {
        sections.push(
            app.pool(
                &key,
                json!({"name": name, "capacity": SECTION_CAPACITY, "parent_id": event}),
            )
            .await,
        );
    }
    let sections = Arc::new(sections);
    let base = app.base_url.clone();
    let barrier = Arc::new(Barrier::new(TASKS + READERS));
    let done = Arc::new(AtomicBool::new(false));

    // Readers: while the rush goes on, no read ever shows a pool above its capacity.
    let mut readers = JoinSet::new();
    for reader in 0..READERS {
        let client = app.client.clone();
        let key = key.clone();
        let barrier = barrier.clone();
        let done = done.clone();
        let pools = [event.clone(), sections[0].clone(), sections[1].clone()];
        let capacities = [EVENT_CAPACITY, SECTION_CAPACITY, SECTION_CAPACITY];
        let base = base.clone();
        readers.spawn(async move {
            barrier.wait().await;
            let mut reads = 0usize;
            loop {
                let index = (reader + reads) % pools.len();
                let url = format!("{base}/v1/pools/{}", pools[index]);
                let (status, body) = send(&client, Method::GET, &url, &key, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let (held, committed, available) = counters(&body);
                assert!(
                    held >= 0 && committed >= 0 && available >= 0,
                    "negative counters: {body}"
                );
                assert!(
                    held + committed <= capacities[index],
                    "a read saw a pool over capacity: {body}"
                );
                reads += 1;
                if done.load(Ordering::Relaxed) {
                    return reads;
                }
            }
        });
    }

    let mut tasks = JoinSet::new();
    for task in 0..TASKS {
        let client = app.client.clone();
        let key = key.clone();
        let sections = sections.clone();
        let barrier = barrier.clone();
        let base = base.clone();
        tasks.spawn(async move {
            let quantity = 1 + (task % 3) as i64;
            let lines: Vec<(usize, i64)> = match task % 3 {
                0 => vec![(0, quantity)],
                1 => vec![(1, quantity)],
                _ => vec![(0, 1), (1, 1)],
            };
            let body = json!({"lines": lines
                .iter()
                .map(|(section, quantity)| json!({"pool_id": sections[*section], "quantity": quantity}))
                .collect::<Vec<_>>()});
            barrier.wait().await;
            let (status, answer) =
                send(&client, Method::POST, &format!("{base}/v1/holds"), &key, Some(&body)).await;
            if status == StatusCode::CONFLICT {
                assert_eq!(problem(&answer), "insufficient-capacity", "{answer}");
                return None;
            }
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            let id = answer["id"].as_str().expect("a hold id").to_owned();
            let confirm_url = format!("{base}/v1/holds/{id}/confirm");
            let release_url = format!("{base}/v1/holds/{id}/release");
            let empty = json!({});
            let mut lived = Lived {
                id,
                lines,
                confirmed: false,
                released: false,
            };
            match task % 5 {
                // Kept as held.
                0 => {}
                1 => {
                    let (status, answer) =
                        send(&client, Method::POST, &confirm_url, &key, Some(&empty)).await;
                    assert_eq!(status, StatusCode::OK, "{answer}");
                    assert_eq!(answer["status"], "confirmed", "{answer}");
                    lived.confirmed = true;
                }
                2 => {
                    let (status, answer) =
                        send(&client, Method::POST, &release_url, &key, Some(&empty)).await;
                    assert_eq!(status, StatusCode::OK, "{answer}");
                    assert_eq!(answer["status"], "released", "{answer}");
                    lived.released = true;
                }
                3 => {
                    for (url, expected) in [(&confirm_url, "confirmed"), (&release_url, "released")] {
                        let (status, answer) =
                            send(&client, Method::POST, url, &key, Some(&empty)).await;
                        assert_eq!(status, StatusCode::OK, "{answer}");
                        assert_eq!(answer["status"], expected, "{answer}");
                    }
                    lived.confirmed = true;
                    lived.released = true;
                }
                // A confirm and a release of the same hold race each other.
                _ => {
                    let (confirmed, released) = tokio::join!(
                        send(&client, Method::POST, &confirm_url, &key, Some(&empty)),
                        send(&client, Method::POST, &release_url, &key, Some(&empty)),
                    );
                    // Release wins either way: held → released, or confirmed → released.
                    assert_eq!(released.0, StatusCode::OK, "{}", released.1);
                    assert_eq!(released.1["status"], "released", "{}", released.1);
                    lived.released = true;
                    match confirmed.0 {
                        StatusCode::OK => lived.confirmed = true,
                        StatusCode::CONFLICT => {
                            assert_eq!(problem(&confirmed.1), "conflict", "{}", confirmed.1);
                            assert_eq!(confirmed.1["status"], 409, "{}", confirmed.1);
                            assert_eq!(confirmed.1["hold_status"], "released", "{}", confirmed.1);
                        }
                        other => panic!("confirm answered {other}: {}", confirmed.1),
                    }
                }
            }
            Some(lived)
        });
    }

    let lived: Vec<Lived> = tokio::time::timeout(RUSH_DEADLINE, async {
        let mut lived = Vec::new();
        let mut refused = 0usize;
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("a task does not panic") {
                Some(one) => lived.push(one),
                None => refused += 1,
            }
        }
        // Were none refused, the 120 tasks that keep their holds (task % 5 < 2) would keep
        // 40×1 + 40×2 + 40×2 = 200 units of the event's 150: some must have been refused.
        assert!(refused > 0, "the event never ran short");
        lived
    })
    .await
    .expect("the rush finishes within the deadline");
    done.store(true, Ordering::Relaxed);
    let reads = tokio::time::timeout(RUSH_DEADLINE, async {
        let mut reads = 0;
        while let Some(joined) = readers.join_next().await {
            reads += joined.expect("a reader does not panic");
        }
        reads
    })
    .await
    .expect("the readers stop");
    assert!(reads >= READERS, "every reader read at least once");
    assert!(!lived.is_empty(), "some holds were granted");

    // Expected counters from the answers alone: per section, then the event as their sum.
    let mut expected = [(0i64, 0i64); 2];
    let mut live = 0usize;
    for one in &lived {
        if one.released {
            continue;
        }
        live += 1;
        for (section, quantity) in &one.lines {
            if one.confirmed {
                expected[*section].1 += quantity;
            } else {
                expected[*section].0 += quantity;
            }
        }
    }
    for (index, section) in sections.iter().enumerate() {
        let state = app.pool_state(&key, section).await;
        let (held, committed, _) = counters(&state);
        assert_eq!((held, committed), expected[index], "{state}");
    }
    let event_state = app.pool_state(&key, &event).await;
    let (held, committed, available) = counters(&event_state);
    assert_eq!(
        (held, committed),
        (expected[0].0 + expected[1].0, expected[0].1 + expected[1].1),
        "{event_state}"
    );
    assert!(held + committed <= EVENT_CAPACITY);
    assert_eq!(available, EVENT_CAPACITY - held - committed);

    // Every hold reads back as its answers said.
    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for one in &lived {
        let reply = app.get(&format!("/v1/holds/{}", one.id), &key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let status = match (one.confirmed, one.released) {
            (_, true) => "released",
            (true, false) => "confirmed",
            (false, false) => "held",
        };
        assert_eq!(reply.body["status"], status, "{}", reply.body);
        *by_status.entry(status).or_insert(0) += 1;
    }
    assert_eq!(
        list_held(&app, &key).await.len(),
        by_status.get("held").copied().unwrap_or(0)
    );

    let report = allot_store::sqlite::verify(app.data_dir.path()).expect("verify runs");
    assert_eq!(report.mismatches, vec![], "{report:?}");
    assert_eq!(report.pools, 3);
    assert_eq!(report.live_holds, live);
}
