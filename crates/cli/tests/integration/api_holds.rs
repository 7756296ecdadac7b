//! Holds: TTL, price lock, confirm / release / extend, lists, all-or-nothing lines, expiry with and
//! without the sweeper, and idempotent retries.

use crate::helpers::{
    Options, Reply, assert_timestamp, eventually, rfc3339_millis, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn id_of(reply: &Reply) -> String {
    reply.body["id"].as_str().expect("an id").to_owned()
}

fn millis(body: &Value, field: &str) -> i64 {
    let text = body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {body}"));
    assert_timestamp(text);
    rfc3339_millis(text).unwrap_or_else(|| panic!("{field} = {text} is not RFC 3339 UTC"))
}

fn manual() -> Options {
    Options {
        manual_clock: true,
        sweeper: false,
        ..Options::default()
    }
}

#[tokio::test]
async fn a_hold_lives_fifteen_minutes_by_default() {
    let app = spawn_app_with(manual()).await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let now = app.clock.now().0;

    let hold = app.hold(&key, &pool, 2).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    assert_eq!(hold.content_type(), "application/json");
    assert_eq!(hold.body["status"], "held");
    assert_eq!(hold.body["holder"], Value::Null);
    assert_eq!(millis(&hold.body, "created_at"), now);
    assert_eq!(millis(&hold.body, "updated_at"), now);
    assert_eq!(millis(&hold.body, "expires_at"), now + 900_000);
    assert_eq!(
        hold.body["lines"],
        json!([{"pool_id": pool, "quantity": 2, "unit_price": null}])
    );

    let read = app.get(&format!("/v1/holds/{}", id_of(&hold)), &key).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["expires_at"], hold.body["expires_at"]);
    assert_eq!(read.body["lines"], hold.body["lines"]);

    let short = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 1}], "ttl_seconds": 30, "holder": "cart-7"}),
        )
        .await;
    assert_eq!(short.status, StatusCode::CREATED, "{}", short.body);
    assert_eq!(millis(&short.body, "expires_at"), now + 30_000);
    assert_eq!(short.body["holder"], "cart-7");

    // Just before the deadline it is still held.
    app.clock.advance_ms(29_999);
    let still = app.get(&format!("/v1/holds/{}", id_of(&short)), &key).await;
    assert_eq!(still.body["status"], "held");
    app.get("/v1/holds/hold_nope", &key)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn a_hold_keeps_the_price_it_was_made_at() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Floor", "capacity": 10, "price": {"amount_minor": 4500, "currency": "EUR"}}),
        )
        .await;
    let free = app
        .pool(&key, json!({"name": "Lawn", "capacity": 10}))
        .await;
    let early = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 2}, {"pool_id": free, "quantity": 1}]}),
        )
        .await;
    assert_eq!(early.status, StatusCode::CREATED, "{}", early.body);
    let locked = json!({"amount_minor": 4500, "currency": "EUR"});
    assert_eq!(early.body["lines"][0]["unit_price"], locked);
    assert_eq!(early.body["lines"][1]["unit_price"], Value::Null);
    let early = id_of(&early);

    let repriced = app
        .patch(
            &format!("/v1/pools/{pool}"),
            &key,
            json!({"price": {"amount_minor": 6000, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(repriced.status, StatusCode::OK, "{}", repriced.body);

    let late = app.hold(&key, &pool, 1).await;
    assert_eq!(late.body["lines"][0]["unit_price"]["amount_minor"], 6000);
    let read = app.get(&format!("/v1/holds/{early}"), &key).await;
    assert_eq!(read.body["lines"][0]["unit_price"], locked);
    let confirmed = app
        .post(&format!("/v1/holds/{early}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    assert_eq!(
        confirmed.body["lines"][0]["unit_price"], locked,
        "confirm keeps it"
    );
    let listed = app.get("/v1/holds?status=confirmed", &key).await;
    assert_eq!(listed.body["items"][0]["lines"][0]["unit_price"], locked);
}

#[tokio::test]
async fn confirm_commits_release_gives_back_and_finished_holds_refuse_more_steps() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;

    let hold = app.hold(&key, &pool, 4).await;
    let hold = id_of(&hold);
    assert_eq!(app.counters(&key, &pool).await, (4, 0, 6));

    let confirmed = app
        .post(&format!("/v1/holds/{hold}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "confirmed");
    assert_eq!(confirmed.body["id"], hold.as_str());
    assert_eq!(app.counters(&key, &pool).await, (0, 4, 6));

    let twice = app
        .post(&format!("/v1/holds/{hold}/confirm"), &key, json!({}))
        .await;
    twice.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(twice.body["hold_status"], "confirmed");
    let extend_confirmed = app
        .post(
            &format!("/v1/holds/{hold}/extend"),
            &key,
            json!({"ttl_seconds": 60}),
        )
        .await;
    extend_confirmed.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(app.counters(&key, &pool).await, (0, 4, 6));

    // Releasing a confirmed hold is a cancellation: committed units come back.
    let cancelled = app
        .post(&format!("/v1/holds/{hold}/release"), &key, json!({}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "released");
    assert_eq!(app.counters(&key, &pool).await, (0, 0, 10));
    for step in ["confirm", "release"] {
        let again = app
            .post(&format!("/v1/holds/{hold}/{step}"), &key, json!({}))
            .await;
        again.assert_problem(StatusCode::CONFLICT, "conflict");
        assert_eq!(again.body["hold_status"], "released");
    }

    let other = app.hold(&key, &pool, 3).await;
    let other = id_of(&other);
    let released = app
        .post(&format!("/v1/holds/{other}/release"), &key, json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(app.counters(&key, &pool).await, (0, 0, 10));
    let read = app.get(&format!("/v1/holds/{other}"), &key).await;
    assert_eq!(read.body["status"], "released");

    let kinds: Vec<String> = app
        .ledger(&key, &pool)
        .await
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        kinds,
        ["adjust", "hold", "confirm", "release", "hold", "release"]
    );

    for step in ["confirm", "release"] {
        app.post(&format!("/v1/holds/hold_nope/{step}"), &key, json!({}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not-found");
    }
}

#[tokio::test]
async fn extend_gives_a_held_hold_a_new_deadline() {
    let app = spawn_app_with(manual()).await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let hold = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 2}], "ttl_seconds": 60}),
        )
        .await;
    let created_at = millis(&hold.body, "created_at");
    let hold = id_of(&hold);

    app.clock.advance_ms(30_000);
    let extended = app
        .post(
            &format!("/v1/holds/{hold}/extend"),
            &key,
            json!({"ttl_seconds": 300}),
        )
        .await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.body);
    assert_eq!(extended.body["status"], "held");
    assert_eq!(
        millis(&extended.body, "expires_at"),
        created_at + 30_000 + 300_000
    );
    assert_eq!(millis(&extended.body, "updated_at"), created_at + 30_000);
    assert_eq!(millis(&extended.body, "created_at"), created_at);

    // Past the first deadline, before the new one: still held, still confirmable.
    app.clock.advance_ms(100_000);
    let read = app.get(&format!("/v1/holds/{hold}"), &key).await;
    assert_eq!(read.body["status"], "held");
    assert_eq!(app.counters(&key, &pool).await, (2, 0, 8));
    let kinds = app.ledger(&key, &pool).await.len();
    assert_eq!(kinds, 2, "extending does not move counters");

    for bad in [
        json!({"ttl_seconds": 0}),
        json!({"ttl_seconds": 2_592_001}),
        json!({}),
    ] {
        app.post(&format!("/v1/holds/{hold}/extend"), &key, bad)
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
    let confirmed = app
        .post(&format!("/v1/holds/{hold}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
}

#[tokio::test]
async fn holds_are_listed_by_holder_and_status() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 100}))
        .await;
    let place = |holder: &'static str| {
        let body = json!({"lines": [{"pool_id": pool, "quantity": 1}], "holder": holder});
        let app = &app;
        let key = &key;
        async move {
            let reply = app.post("/v1/holds", key, body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            id_of(&reply)
        }
    };
    let alice_1 = place("alice").await;
    let alice_2 = place("alice").await;
    let bob = place("bob").await;
    let bob_gone = place("bob").await;
    let confirmed = app
        .post(&format!("/v1/holds/{alice_2}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let released = app
        .post(&format!("/v1/holds/{bob_gone}/release"), &key, json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK);

    let listed = |query: &'static str| {
        let app = &app;
        let key = &key;
        async move {
            let reply = app.get(&format!("/v1/holds{query}"), key).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
            let mut ids: Vec<String> = reply.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|h| h["id"].as_str().expect("an id").to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<&String>| {
        ids.sort();
        ids.into_iter().cloned().collect::<Vec<String>>()
    };
    assert_eq!(
        listed("?holder=alice").await,
        sorted(vec![&alice_1, &alice_2])
    );
    assert_eq!(
        listed("?holder=alice&status=held").await,
        [alice_1.as_str()]
    );
    assert_eq!(
        listed("?holder=alice&status=confirmed").await,
        [alice_2.as_str()]
    );
    assert_eq!(listed("?holder=bob&status=held").await, [bob.as_str()]);
    assert_eq!(listed("?status=released").await, [bob_gone.as_str()]);
    assert_eq!(listed("?status=held").await, sorted(vec![&alice_1, &bob]));
    assert!(listed("?status=expired").await.is_empty());
    assert!(listed("?holder=carol").await.is_empty());
    assert_eq!(listed("").await.len(), 4);

    let paged = app.all_pages("/v1/holds", &key, 1).await;
    let mut ids: Vec<&str> = paged.iter().filter_map(|h| h["id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each hold exactly once over pages of one");
    let alice_pages = app.all_pages("/v1/holds?holder=alice", &key, 1).await;
    assert_eq!(alice_pages.len(), 2);

    for bad in ["?status=pending", "?limit=0", "?limit=1001"] {
        app.get(&format!("/v1/holds{bad}"), &key)
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
}

#[tokio::test]
async fn confirm_true_commits_at_once() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Credits", "capacity": 100, "unit": "credits"}),
        )
        .await;
    let used = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 30}], "confirm": true}),
        )
        .await;
    assert_eq!(used.status, StatusCode::CREATED, "{}", used.body);
    assert_eq!(used.body["status"], "confirmed");
    assert_eq!(app.counters(&key, &pool).await, (0, 30, 70));
    let ledger = app.ledger(&key, &pool).await;
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[1]["kind"], "hold");
    assert_eq!(ledger[1]["held_delta"], 0);
    assert_eq!(ledger[1]["committed_delta"], 30);

    let too_much = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 71}], "confirm": true}),
        )
        .await;
    too_much.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_eq!(app.counters(&key, &pool).await, (0, 30, 70));

    let again = app
        .post(
            &format!("/v1/holds/{}/confirm", id_of(&used)),
            &key,
            json!({}),
        )
        .await;
    again.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(again.body["hold_status"], "confirmed");
}

#[tokio::test]
async fn a_multi_line_hold_is_all_or_nothing() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let roomy = app
        .pool(&key, json!({"name": "Roomy", "capacity": 10}))
        .await;
    let tight = app
        .pool(&key, json!({"name": "Tight", "capacity": 2}))
        .await;
    let lines = |roomy_qty: i64, tight_qty: i64| {
        json!({"lines": [
            {"pool_id": roomy, "quantity": roomy_qty},
            {"pool_id": tight, "quantity": tight_qty}
        ]})
    };

    let short = app.post("/v1/holds", &key, lines(5, 3)).await;
    short.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_eq!(short.body["pool_id"], tight.as_str());
    assert_eq!(short.body["available"], 2);
    assert_eq!(short.body["requested"], 3);
    assert_eq!(app.counters(&key, &roomy).await, (0, 0, 10));
    assert_eq!(app.counters(&key, &tight).await, (0, 0, 2));
    assert_eq!(
        app.ledger(&key, &roomy).await.len(),
        1,
        "no hold entry for the fitting line"
    );
    assert_eq!(app.get("/v1/holds", &key).await.body["items"], json!([]));

    // Two lines on one pool count together.
    let doubled = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": roomy, "quantity": 6}, {"pool_id": roomy, "quantity": 5}]}),
        )
        .await;
    doubled.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_eq!(doubled.body["requested"], 11);
    assert_eq!(app.counters(&key, &roomy).await, (0, 0, 10));

    let unknown = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": roomy, "quantity": 1}, {"pool_id": "pool_nope", "quantity": 1}]}),
        )
        .await;
    unknown.assert_problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(unknown.body["pool_id"], "pool_nope");
    assert_eq!(app.counters(&key, &roomy).await, (0, 0, 10));

    let fits = app.post("/v1/holds", &key, lines(5, 2)).await;
    assert_eq!(fits.status, StatusCode::CREATED, "{}", fits.body);
    assert_eq!(fits.body["lines"].as_array().map(Vec::len), Some(2));
    assert_eq!(app.counters(&key, &roomy).await, (5, 0, 5));
    assert_eq!(app.counters(&key, &tight).await, (2, 0, 0));
    let released = app
        .post(
            &format!("/v1/holds/{}/release", id_of(&fits)),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(released.status, StatusCode::OK);
    assert_eq!(app.counters(&key, &roomy).await, (0, 0, 10));
    assert_eq!(app.counters(&key, &tight).await, (0, 0, 2));
}

#[tokio::test]
async fn an_expired_hold_frees_its_capacity_without_the_sweeper() {
    let app = spawn_app_with(manual()).await;
    let key = app.tenant("Acme").await;
    let event = app
        .pool(&key, json!({"name": "Event", "capacity": 5}))
        .await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Hall", "capacity": 5, "parent_id": event}),
        )
        .await;
    let hold = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 5}], "ttl_seconds": 60}),
        )
        .await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let hold = id_of(&hold);
    app.hold(&key, &pool, 1)
        .await
        .assert_problem(StatusCode::CONFLICT, "insufficient-capacity");

    app.clock.advance_ms(61_000);
    let read = app.get(&format!("/v1/holds/{hold}"), &key).await;
    assert_eq!(read.body["status"], "expired");
    assert_eq!(app.counters(&key, &pool).await, (0, 0, 5));
    assert_eq!(app.counters(&key, &event).await, (0, 0, 5));
    let availability = app
        .get(&format!("/v1/pools/{pool}/availability?quantity=5"), &key)
        .await;
    assert_eq!(availability.body["can_hold"], true);
    let expired: Vec<Value> = app.get("/v1/holds?status=expired", &key).await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["id"], hold.as_str());
    assert_eq!(
        app.get("/v1/holds?status=held", &key).await.body["items"],
        json!([])
    );

    let again = app.hold(&key, &pool, 5).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(app.counters(&key, &pool).await, (5, 0, 0));
    assert_eq!(app.counters(&key, &event).await, (5, 0, 0));

    for (step, body) in [
        ("confirm", json!({})),
        ("extend", json!({"ttl_seconds": 60})),
        ("release", json!({})),
    ] {
        let late = app
            .post(&format!("/v1/holds/{hold}/{step}"), &key, body)
            .await;
        late.assert_problem(StatusCode::GONE, "hold-expired");
    }
    assert_eq!(
        app.counters(&key, &pool).await,
        (5, 0, 0),
        "the late steps moved nothing"
    );
    let kinds: Vec<String> = app
        .ledger(&key, &pool)
        .await
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(kinds, ["adjust", "hold", "expire", "hold"]);
}

#[tokio::test]
async fn the_sweeper_writes_expiry_into_the_ledger() {
    let app = spawn_app_with(Options {
        manual_clock: true,
        sweeper: true,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let lapsing = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 3}], "ttl_seconds": 60}),
        )
        .await;
    let lapsing = id_of(&lapsing);
    let kept = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": pool, "quantity": 2}], "ttl_seconds": 60}),
        )
        .await;
    let kept = id_of(&kept);
    let confirmed = app
        .post(&format!("/v1/holds/{kept}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);

    app.clock.advance_ms(61_000);
    let entry = eventually(Duration::from_secs(5), "an expire entry", || {
        let app = &app;
        let key = &key;
        let pool = &pool;
        async move {
            app.ledger(key, pool)
                .await
                .into_iter()
                .find(|e| e["kind"] == "expire")
        }
    })
    .await;
    assert_eq!(entry["hold_id"], lapsing.as_str());
    assert_eq!(entry["held_delta"], -3);
    assert_eq!(entry["committed_delta"], 0);
    assert_eq!(entry["actor"], Value::Null, "the sweeper acts for no key");
    assert_eq!(millis(&entry, "at"), app.clock.now().0);

    assert_eq!(app.counters(&key, &pool).await, (0, 2, 8));
    let read = app.get(&format!("/v1/holds/{kept}"), &key).await;
    assert_eq!(
        read.body["status"], "confirmed",
        "confirmed holds never expire"
    );
    let expires = app
        .ledger(&key, &pool)
        .await
        .iter()
        .filter(|e| e["kind"] == "expire")
        .count();
    assert_eq!(expires, 1);
}

// ---- Idempotency ----

#[tokio::test]
async fn a_retried_hold_replays_the_first_answer_byte_for_byte() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let body = json!({"lines": [{"pool_id": pool, "quantity": 3}], "holder": "cart-1"});
    let retry = [("idempotency-key", "checkout-1")];

    let first = app.post_raw("/v1/holds", &key, &body, &retry).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = app.post_raw("/v1/holds", &key, &body, &retry).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.bytes, first.bytes, "byte-identical");
    assert_eq!(second.header("content-type"), first.header("content-type"));

    assert_eq!(app.counters(&key, &pool).await, (3, 0, 7), "held once");
    let holds = app.get("/v1/holds", &key).await;
    assert_eq!(holds.body["items"].as_array().map(Vec::len), Some(1));

    // The same key with another body, or on another path, is refused and does nothing.
    let other_body = json!({"lines": [{"pool_id": pool, "quantity": 4}], "holder": "cart-1"});
    let mismatch = app.post_raw("/v1/holds", &key, &other_body, &retry).await;
    mismatch.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-mismatch");
    let other_path = app
        .post_raw(
            "/v1/pools",
            &key,
            &json!({"name": "X", "capacity": 1}),
            &retry,
        )
        .await;
    other_path.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-mismatch");
    assert_eq!(app.counters(&key, &pool).await, (3, 0, 7));
    assert_eq!(
        app.get("/v1/pools", &key).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A new key acts.
    let fresh = app
        .post_raw(
            "/v1/holds",
            &key,
            &body,
            &[("idempotency-key", "checkout-2")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_ne!(fresh.json()["id"], first.json()["id"]);
    assert_eq!(app.counters(&key, &pool).await, (6, 0, 4));
}

#[tokio::test]
async fn a_retried_confirm_confirms_once() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let hold = id_of(&app.hold(&key, &pool, 2).await);
    let path = format!("/v1/holds/{hold}/confirm");
    let retry = [("idempotency-key", "confirm-1")];
    let first = app.post_raw(&path, &key, &json!({}), &retry).await;
    assert_eq!(first.status, StatusCode::OK);
    let second = app.post_raw(&path, &key, &json!({}), &retry).await;
    assert_eq!(
        second.status,
        StatusCode::OK,
        "a replay, not 409 already confirmed"
    );
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.bytes, first.bytes);
    let confirms = app
        .ledger(&key, &pool)
        .await
        .iter()
        .filter(|e| e["kind"] == "confirm")
        .count();
    assert_eq!(confirms, 1);
}

#[tokio::test]
async fn idempotency_keys_belong_to_one_tenant() {
    let app = spawn_app().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Globex").await;
    let a_pool = app.pool(&a, json!({"name": "Hall", "capacity": 10})).await;
    let b_pool = app.pool(&b, json!({"name": "Hall", "capacity": 10})).await;
    let retry = [("idempotency-key", "shared-key")];

    let a_hold = app
        .post_raw(
            "/v1/holds",
            &a,
            &json!({"lines": [{"pool_id": a_pool, "quantity": 1}]}),
            &retry,
        )
        .await;
    assert_eq!(a_hold.status, StatusCode::CREATED);
    let b_hold = app
        .post_raw(
            "/v1/holds",
            &b,
            &json!({"lines": [{"pool_id": b_pool, "quantity": 2}]}),
            &retry,
        )
        .await;
    assert_eq!(b_hold.status, StatusCode::CREATED, "{}", b_hold.json());
    assert_eq!(b_hold.header("idempotent-replayed"), None);
    assert_ne!(b_hold.json()["id"], a_hold.json()["id"]);
    assert_eq!(app.counters(&b, &b_pool).await, (2, 0, 8));
    assert_eq!(app.counters(&a, &a_pool).await, (1, 0, 9));

    // Even an identical request from another tenant is its own: B's pool, B's key.
    let b_pool_body = json!({"name": "Annex", "capacity": 1});
    let a_pool_made = app
        .post_raw(
            "/v1/pools",
            &a,
            &b_pool_body,
            &[("idempotency-key", "pool-1")],
        )
        .await;
    let b_pool_made = app
        .post_raw(
            "/v1/pools",
            &b,
            &b_pool_body,
            &[("idempotency-key", "pool-1")],
        )
        .await;
    assert_eq!(a_pool_made.status, StatusCode::CREATED);
    assert_eq!(b_pool_made.status, StatusCode::CREATED);
    assert_eq!(b_pool_made.header("idempotent-replayed"), None);
    assert_ne!(a_pool_made.json()["id"], b_pool_made.json()["id"]);
    let b_id = b_pool_made.json()["id"].as_str().expect("an id").to_owned();
    assert_eq!(app.pool_state(&b, &b_id).await["name"], "Annex");
}

#[tokio::test]
async fn a_refused_hold_replays_as_refused() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app.pool(&key, json!({"name": "Hall", "capacity": 2})).await;
    let body = json!({"lines": [{"pool_id": pool, "quantity": 3}]});
    let retry = [("idempotency-key", "too-many")];

    let first = app.post_raw("/v1/holds", &key, &body, &retry).await;
    first.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    app.patch(&format!("/v1/pools/{pool}"), &key, json!({"capacity": 5}))
        .await;
    let replay = app.post_raw("/v1/holds", &key, &body, &retry).await;
    replay.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.bytes, first.bytes);
    assert_eq!(app.counters(&key, &pool).await, (0, 0, 5));

    let fresh = app
        .post_raw(
            "/v1/holds",
            &key,
            &body,
            &[("idempotency-key", "second-try")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_eq!(app.counters(&key, &pool).await, (3, 0, 2));
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_act_once() {
    let app = Arc::new(spawn_app().await);
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 100}))
        .await;
    let body = json!({"lines": [{"pool_id": pool, "quantity": 2}]});

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = Arc::clone(&app);
        let key = key.clone();
        let body = body.clone();
        tasks.spawn(async move {
            app.post_raw("/v1/holds", &key, &body, &[("idempotency-key", "rush-1")])
                .await
        });
    }
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("the request task finishes"));
    }
    assert_eq!(replies.len(), 20);
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED));
    assert!(
        replies.iter().all(|r| r.bytes == replies[0].bytes),
        "one answer for all"
    );
    let fresh = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "exactly one acted");
    assert_eq!(app.counters(&key, &pool).await, (2, 0, 98));
    let holds = app.get("/v1/holds", &key).await;
    assert_eq!(holds.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.ledger(&key, &pool).await.len(), 2);
}

#[tokio::test]
async fn an_idempotency_key_is_honoured_for_24_hours_then_acts_afresh() {
    let app = spawn_app_with(manual()).await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let body = json!({"lines": [{"pool_id": pool, "quantity": 1}], "confirm": true});
    let retry = [("idempotency-key", "daily")];

    let first = app.post_raw("/v1/holds", &key, &body, &retry).await;
    assert_eq!(first.status, StatusCode::CREATED);
    app.clock.advance_ms(24 * 3600 * 1000 - 1);
    let replay = app.post_raw("/v1/holds", &key, &body, &retry).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.bytes, first.bytes);
    assert_eq!(app.counters(&key, &pool).await, (0, 1, 9));

    app.clock.advance_ms(1);
    let fresh = app.post_raw("/v1/holds", &key, &body, &retry).await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_eq!(fresh.header("idempotent-replayed"), None);
    assert_ne!(fresh.json()["id"], first.json()["id"]);
    assert_eq!(app.counters(&key, &pool).await, (0, 2, 8));
    // And the renewed key replays its new answer.
    let again = app.post_raw("/v1/holds", &key, &body, &retry).await;
    assert_eq!(again.bytes, fresh.bytes);
    assert_eq!(app.counters(&key, &pool).await, (0, 2, 8));
}
