//! Waiting lists under contention: 200 waiting entries on pools that share an ancestor, and 32
//! clients releasing holds, cancelling entries, confirming offers and changing capacity at once.
//! Afterwards every pool is within its limit, no entry was served twice, no freed capacity sits
//! idle while someone who fits is waiting, and `allot verify` finds the counters sound.

use crate::helpers::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

const ENTRIES: usize = 200;
const CLIENTS: usize = 32;
const OPERATIONS_PER_CLIENT: usize = 25;

/// A small deterministic generator: the test needs spread, not cryptographic randomness.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let reply = app.call(method, path, Some(key), body.as_ref(), &[]).await;
    assert!(
        !reply.status.is_server_error(),
        "{path}: {} {}",
        reply.status,
        reply.body
    );
    (reply.status, reply.body)
}

#[tokio::test]
async fn promotion_under_contention_never_oversells_or_serves_twice() {
    let app = Arc::new(spawn_app().await);
    let key = app.tenant("Contention").await;
    // An event of 40 over two sections of 30 (the event is what runs short), and a separate
    // pool whose list lets smaller requests pass.
    let event = app
        .pool(&key, json!({"name": "Event", "capacity": 40}))
        .await;
    let offer = app
        .pool(
            &key,
            json!({"name": "Offers", "capacity": 30, "parent_id": event, "offer_ttl_seconds": 600}),
        )
        .await;
    let booked = app
        .pool(&key, json!({"name": "Bookings", "capacity": 30, "parent_id": event, "waitlist_mode": "confirm"}))
        .await;
    let skip = app
        .pool(
            &key,
            json!({"name": "Skip", "capacity": 20, "waitlist_policy": "skip"}),
        )
        .await;
    let pools = [offer.clone(), booked.clone(), skip.clone()];

    let holds = Arc::new(Mutex::new(Vec::new()));
    for (pool, units) in [(&offer, 20), (&booked, 20), (&skip, 20)] {
        for _ in 0..units {
            let body = json!({"lines": [{"pool_id": pool, "quantity": 1}], "confirm": true});
            let (status, hold) = send(&app, Method::POST, "/v1/holds", &key, Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{hold}");
            holds
                .lock()
                .expect("not poisoned")
                .push(hold["id"].as_str().expect("an id").to_owned());
        }
    }
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut entries = Vec::with_capacity(ENTRIES);
    for index in 0..ENTRIES {
        let pool = &pools[index % pools.len()];
        let body = json!({
            "quantity": 1 + random.below(3),
            "holder": format!("person-{index}"),
            "priority": random.below(4),
        });
        let (status, entry) = send(
            &app,
            Method::POST,
            &format!("/v1/pools/{pool}/waitlist"),
            &key,
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
        assert_eq!(entry["status"], "waiting", "every pool is full");
        entries.push(entry["id"].as_str().expect("an id").to_owned());
    }
    let entries = Arc::new(entries);

    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let (app, key, holds, entries, pools) = (
            app.clone(),
            key.clone(),
            holds.clone(),
            entries.clone(),
            pools.clone(),
        );
        clients.spawn(async move {
            let mut random = XorShift(0xA5A5_0000 + client as u64 * 7919);
            for _ in 0..OPERATIONS_PER_CLIENT {
                match random.below(10) {
                    // Release a booking: capacity comes back and goes to the lists.
                    0..=3 => {
                        let hold = {
                            let mut holds = holds.lock().expect("not poisoned");
                            if holds.is_empty() {
                                continue;
                            }
                            let index = random.below(holds.len());
                            holds.swap_remove(index)
                        };
                        send(
                            &app,
                            Method::POST,
                            &format!("/v1/holds/{hold}/release"),
                            &key,
                            Some(json!({})),
                        )
                        .await;
                    }
                    // Cancel an entry (waiting or offered; anything else is a clean 409).
                    4..=5 => {
                        let entry = &entries[random.below(entries.len())];
                        let (status, body) = send(
                            &app,
                            Method::DELETE,
                            &format!("/v1/waitlist/{entry}"),
                            &key,
                            None,
                        )
                        .await;
                        assert!(
                            matches!(status, StatusCode::OK | StatusCode::CONFLICT),
                            "{status} {body}"
                        );
                    }
                    // Take up an offer, or keep a booking to release later.
                    6..=7 => {
                        let entry = &entries[random.below(entries.len())];
                        let (_, body) = send(
                            &app,
                            Method::GET,
                            &format!("/v1/waitlist/{entry}"),
                            &key,
                            None,
                        )
                        .await;
                        if let Some(hold) = body["hold_id"].as_str() {
                            if body["status"] == "offered" {
                                send(
                                    &app,
                                    Method::POST,
                                    &format!("/v1/holds/{hold}/confirm"),
                                    &key,
                                    Some(json!({})),
                                )
                                .await;
                            }
                            holds.lock().expect("not poisoned").push(hold.to_owned());
                        }
                    }
                    // Change capacity up or down; below current use is a clean 409.
                    _ => {
                        let pool = &pools[random.below(pools.len())];
                        let (_, state) =
                            send(&app, Method::GET, &format!("/v1/pools/{pool}"), &key, None).await;
                        let capacity = state["capacity"].as_i64().unwrap_or(0);
                        let change = random.below(5) as i64 - 2;
                        let body = json!({"capacity": (capacity + change).max(0)});
                        let (status, body) = send(
                            &app,
                            Method::PATCH,
                            &format!("/v1/pools/{pool}"),
                            &key,
                            Some(body),
                        )
                        .await;
                        assert!(
                            matches!(status, StatusCode::OK | StatusCode::CONFLICT),
                            "{status} {body}"
                        );
                    }
                }
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(joined) = clients.join_next().await {
            joined.expect("a client task does not panic");
        }
    })
    .await
    .expect("the clients finish within 2 minutes");

    // Every pool within its limit.
    for pool in pools.iter().chain([&event]) {
        let state = app.pool_state(&key, pool).await;
        let used = state["held"].as_i64().unwrap_or(-1) + state["committed"].as_i64().unwrap_or(-1);
        assert!(
            used <= state["limit"].as_i64().unwrap_or(-1),
            "{pool} over its limit: {state}"
        );
    }
    // No entry served twice, and no hold given to two entries.
    let mut served_holds = HashSet::new();
    let mut by_status: HashMap<String, usize> = HashMap::new();
    for entry in entries.iter() {
        let (_, body) = send(
            &app,
            Method::GET,
            &format!("/v1/waitlist/{entry}"),
            &key,
            None,
        )
        .await;
        *by_status
            .entry(body["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        if let Some(hold) = body["hold_id"].as_str() {
            assert!(
                served_holds.insert(hold.to_owned()),
                "hold {hold} serves two entries"
            );
        }
    }
    assert!(
        !served_holds.is_empty(),
        "some entries were served: {by_status:?}"
    );
    // Nothing freed sits idle while someone who fits waits: a strict list's head does not fit,
    // and in the skip list no waiting entry fits.
    for pool in &pools {
        let state = app.pool_state(&key, pool).await;
        let available = state["available"].as_i64().unwrap_or(-1);
        let (_, status) = send(
            &app,
            Method::GET,
            &format!("/v1/pools/{pool}/waitlist?limit=1000"),
            &key,
            None,
        )
        .await;
        let waiting: Vec<i64> = status["entries"]["items"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["quantity"].as_i64().unwrap_or(0))
            .collect();
        let stuck = if pool == &skip {
            waiting.iter().any(|quantity| *quantity <= available)
        } else {
            waiting
                .first()
                .is_some_and(|quantity| *quantity <= available)
        };
        assert!(
            !stuck,
            "{pool}: {available} available while {waiting:?} wait"
        );
    }

    let app = Arc::into_inner(app).expect("the clients are done with the app");
    let data = app.stop().await;
    let report = allot_store::sqlite::verify(data.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
}
