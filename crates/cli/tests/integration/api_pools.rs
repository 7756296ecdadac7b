//! Pools: defaults and fields, lists and pages, changes and their ledger entries, soft and hard
//! limits, availability, inactive pools, totals over children.

use crate::helpers::{Options, assert_timestamp, rfc3339_millis, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

fn id_of(reply: &crate::helpers::Reply) -> String {
    reply.body["id"].as_str().expect("an id").to_owned()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_pool_has_the_documented_defaults_and_fields() {
    let app = spawn_app_with(Options {
        manual_clock: true,
        sweeper: false,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Acme").await;
    let now = app.clock.now().0;

    let created = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "Main hall", "capacity": 100}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.content_type(), "application/json");
    let pool = &created.body;
    let id = pool["id"].as_str().expect("an id");
    assert!(!id.is_empty());
    assert_eq!(pool["name"], "Main hall");
    assert_eq!(pool["unit"], "units");
    assert_eq!(pool["capacity"], 100);
    assert_eq!(pool["hard_limit_pct"], 100);
    assert_eq!(pool["soft_limit_pct"], 100);
    assert_eq!(pool["limit"], 100);
    assert_eq!(pool["held"], 0);
    assert_eq!(pool["committed"], 0);
    assert_eq!(pool["available"], 100);
    assert_eq!(pool["utilization_pct"].as_f64(), Some(0.0));
    assert_eq!(pool["over_soft_limit"], false);
    assert_eq!(pool["parent_id"], Value::Null);
    assert_eq!(pool["price"], Value::Null);
    assert_eq!(pool["active"], true);
    for field in ["created_at", "updated_at"] {
        let text = pool[field].as_str().expect("a timestamp");
        assert_timestamp(text);
        assert_eq!(rfc3339_millis(text), Some(now), "{field} = {text}");
    }

    let read = app.pool_state(&key, id).await;
    assert_eq!(&read, pool, "GET shows what POST answered");

    let full = app
        .post(
            "/v1/pools",
            &key,
            json!({
                "name": "Floor", "capacity": 40, "unit": "seats", "parent_id": id,
                "hard_limit_pct": 110, "price": {"amount_minor": 4500, "currency": "EUR"},
                "metadata": {"section": "A", "rows": [1, 2]}
            }),
        )
        .await;
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.body);
    assert_eq!(full.body["unit"], "seats");
    assert_eq!(full.body["parent_id"], id);
    assert_eq!(full.body["hard_limit_pct"], 110);
    assert_eq!(
        full.body["soft_limit_pct"], 100,
        "soft defaults to 100 under a higher hard"
    );
    assert_eq!(full.body["limit"], 44);
    assert_eq!(
        full.body["price"],
        json!({"amount_minor": 4500, "currency": "EUR"})
    );
    assert_eq!(
        full.body["metadata"],
        json!({"section": "A", "rows": [1, 2]})
    );
    assert_eq!(app.pool_state(&key, &id_of(&full)).await, full.body);

    let ledger = app.ledger(&key, id).await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["kind"], "adjust");
    assert_eq!(ledger[0]["capacity_after"], 100);
    assert_eq!(ledger[0]["reason"], "created");
    assert_eq!(
        rfc3339_millis(ledger[0]["at"].as_str().expect("at")),
        Some(now)
    );

    let unknown = app.get("/v1/pools/pool_doesnotexist", &key).await;
    unknown.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn pool_counters_follow_holds_and_confirmations() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app.pool(&key, json!({"name": "Hall", "capacity": 8})).await;

    let hold = app.hold(&key, &pool, 2).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["held"], 2);
    assert_eq!(state["available"], 6);
    assert_eq!(state["utilization_pct"].as_f64(), Some(25.0));
    let hold = id_of(&hold);
    let confirmed = app
        .post(&format!("/v1/holds/{hold}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let held = app.hold(&key, &pool, 1).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.body);
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(
        (state["held"].as_i64(), state["committed"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(state["available"], 5);
    assert_eq!(state["utilization_pct"].as_f64(), Some(37.5));
}

#[tokio::test]
async fn pools_are_listed_by_parent_and_paged_with_a_cursor() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let other = app.tenant("Globex").await;
    let event = app
        .pool(&key, json!({"name": "Event", "capacity": 100}))
        .await;
    let mut children = HashSet::new();
    for n in 0..5 {
        let child = app
            .pool(
                &key,
                json!({"name": format!("Section {n}"), "capacity": 10, "parent_id": event}),
            )
            .await;
        children.insert(child);
    }
    let lone = app.pool(&key, json!({"name": "Lone", "capacity": 1})).await;
    app.pool(&other, json!({"name": "Elsewhere", "capacity": 1}))
        .await;

    let first = app
        .get(&format!("/v1/pools?parent_id={event}&limit=2"), &key)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(2));
    assert!(first.body["next_cursor"].is_string(), "{}", first.body);

    let paged = app
        .all_pages(&format!("/v1/pools?parent_id={event}"), &key, 2)
        .await;
    let listed = ids(&paged);
    assert_eq!(listed.len(), 5, "each child exactly once: {listed:?}");
    assert_eq!(listed.iter().cloned().collect::<HashSet<_>>(), children);
    assert!(paged.iter().all(|p| p["parent_id"] == event.as_str()));

    let everything = ids(&app.all_pages("/v1/pools", &key, 2).await);
    assert_eq!(everything.len(), 7, "{everything:?}");
    let unique: HashSet<&String> = everything.iter().collect();
    assert_eq!(unique.len(), 7);
    assert!(unique.contains(&event) && unique.contains(&lone));

    let exact = app.get("/v1/pools?limit=7", &key).await;
    assert_eq!(exact.body["items"].as_array().map(Vec::len), Some(7));
    assert_eq!(exact.body["next_cursor"], Value::Null, "no empty last page");

    let leaf = app.get(&format!("/v1/pools?parent_id={lone}"), &key).await;
    assert_eq!(leaf.body, json!({"items": [], "next_cursor": null}));

    for bad in ["limit=0", "limit=1001", "limit=-1", "limit=two"] {
        let reply = app.get(&format!("/v1/pools?{bad}"), &key).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
}

#[tokio::test]
async fn patching_a_pool_changes_its_name_price_active_flag_and_capacity_with_a_reason() {
    let app = spawn_app_with(Options {
        manual_clock: true,
        sweeper: false,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Acme").await;
    let created_at = app.clock.now().0;
    let pool = app
        .pool(
            &key,
            json!({"name": "Hall", "capacity": 10, "price": {"amount_minor": 1000, "currency": "EUR"}}),
        )
        .await;
    app.clock.advance_ms(5_000);
    let path = format!("/v1/pools/{pool}");

    let renamed = app.patch(&path, &key, json!({"name": "Great hall"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Great hall");
    assert_eq!(renamed.body["capacity"], 10);
    let stamp = |body: &Value, field: &str| rfc3339_millis(body[field].as_str().expect(field));
    assert_eq!(stamp(&renamed.body, "created_at"), Some(created_at));
    assert_eq!(stamp(&renamed.body, "updated_at"), Some(created_at + 5_000));

    let repriced = app
        .patch(
            &path,
            &key,
            json!({"price": {"amount_minor": 1500, "currency": "USD"}}),
        )
        .await;
    assert_eq!(repriced.status, StatusCode::OK, "{}", repriced.body);
    assert_eq!(
        repriced.body["price"],
        json!({"amount_minor": 1500, "currency": "USD"})
    );
    assert_eq!(repriced.body["name"], "Great hall", "fields not sent stay");

    let unpriced = app.patch(&path, &key, json!({"price": null})).await;
    assert_eq!(unpriced.status, StatusCode::OK, "{}", unpriced.body);
    assert_eq!(unpriced.body["price"], Value::Null);

    let paused = app.patch(&path, &key, json!({"active": false})).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["active"], false);
    assert_eq!(app.pool_state(&key, &pool).await["active"], false);
    let resumed = app.patch(&path, &key, json!({"active": true})).await;
    assert_eq!(resumed.body["active"], true);
    assert_eq!(
        app.ledger(&key, &pool).await.len(),
        1,
        "name, price and active are not capacity changes"
    );

    let grown = app
        .patch(
            &path,
            &key,
            json!({"capacity": 25, "reason": "opened the balcony"}),
        )
        .await;
    assert_eq!(grown.status, StatusCode::OK, "{}", grown.body);
    assert_eq!(grown.body["capacity"], 25);
    assert_eq!(grown.body["available"], 25);
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["capacity"], 25);
    assert_eq!(state["name"], "Great hall");

    let keys = app.get("/v1/api-keys", &key).await;
    let key_id = keys.body["items"][0]["id"].clone();
    let ledger = app.ledger(&key, &pool).await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    let entry = &ledger[1];
    assert_eq!(entry["kind"], "adjust");
    assert_eq!(entry["reason"], "opened the balcony");
    assert_eq!(entry["capacity_after"], 25);
    assert_eq!(
        (
            entry["held_delta"].as_i64(),
            entry["committed_delta"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(entry["pool_id"], pool.as_str());
    assert_eq!(entry["actor"], key_id, "the key that made the change");
    assert_eq!(entry["hold_id"], Value::Null);
    assert!(ledger[1]["seq"].as_i64() > ledger[0]["seq"].as_i64());

    let limits = app
        .patch(
            &path,
            &key,
            json!({"hard_limit_pct": 120, "soft_limit_pct": 90}),
        )
        .await;
    assert_eq!(limits.status, StatusCode::OK, "{}", limits.body);
    assert_eq!(limits.body["limit"], 30);
    let ledger = app.ledger(&key, &pool).await;
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger[2]["kind"], "adjust");
    assert_eq!(ledger[2]["capacity_after"], 25);

    let crossed = app.patch(&path, &key, json!({"hard_limit_pct": 80})).await;
    crossed.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(crossed.error_fields(), ["soft_limit_pct"]);

    let missing = app
        .patch("/v1/pools/pool_doesnotexist", &key, json!({"name": "X"}))
        .await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn capacity_cannot_drop_below_what_is_held_and_committed() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let event = app
        .pool(&key, json!({"name": "Event", "capacity": 20}))
        .await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Hall", "capacity": 10, "parent_id": event}),
        )
        .await;
    let first = app.hold(&key, &pool, 4).await;
    let first = id_of(&first);
    let confirmed = app
        .post(&format!("/v1/holds/{first}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    assert_eq!(app.hold(&key, &pool, 3).await.status, StatusCode::CREATED);

    let path = format!("/v1/pools/{pool}");
    let refused = app
        .patch(
            &path,
            &key,
            json!({"capacity": 6, "name": "Smaller hall", "reason": "fire code"}),
        )
        .await;
    refused.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(refused.body["used"], 7);
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["capacity"], 10);
    assert_eq!(
        state["name"], "Hall",
        "a refused patch changes nothing at all"
    );
    assert_eq!(
        app.ledger(&key, &pool).await.len(),
        4,
        "created, hold, confirm, hold: no adjust entry for the refused patch"
    );

    // The parent counts its children's use.
    let parent = app
        .patch(&format!("/v1/pools/{event}"), &key, json!({"capacity": 6}))
        .await;
    parent.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(parent.body["used"], 7);

    let exact = app
        .patch(&path, &key, json!({"capacity": 7, "reason": "fire code"}))
        .await;
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.body);
    assert_eq!(exact.body["available"], 0);
    let full = app.hold(&key, &pool, 1).await;
    full.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_eq!(full.body["pool_id"], pool.as_str());
}

#[tokio::test]
async fn a_hard_limit_of_110_allows_ten_percent_overage_with_a_warning() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let created = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "Campaign seats", "capacity": 100, "unit": "seats", "hard_limit_pct": 110}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["limit"], 110);
    assert_eq!(created.body["available"], 110);
    let pool = id_of(&created);

    let within = app.hold(&key, &pool, 100).await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    assert_eq!(
        within.body["warnings"],
        json!([]),
        "at 100% there is no warning yet"
    );

    let over = app.hold(&key, &pool, 6).await;
    assert_eq!(over.status, StatusCode::CREATED, "{}", over.body);
    assert_eq!(over.body["warnings"], json!(["over_soft_limit"]));
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["over_soft_limit"], true);
    assert_eq!(state["utilization_pct"].as_f64(), Some(106.0));
    assert_eq!(state["available"], 4);

    let blocked = app.hold(&key, &pool, 5).await;
    blocked.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_eq!(blocked.body["available"], 4);
    assert_eq!(blocked.body["requested"], 5);

    let last = app.hold(&key, &pool, 4).await;
    assert_eq!(last.status, StatusCode::CREATED, "{}", last.body);
    assert_eq!(last.body["warnings"], json!(["over_soft_limit"]));
    let beyond = app.hold(&key, &pool, 1).await;
    beyond.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["held"], 110);
    assert_eq!(state["utilization_pct"].as_f64(), Some(110.0));
    assert_eq!(state["available"], 0);
}

#[tokio::test]
async fn availability_says_whether_a_quantity_could_be_held() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app.pool(&key, json!({"name": "Hall", "capacity": 5})).await;
    assert_eq!(app.hold(&key, &pool, 2).await.status, StatusCode::CREATED);
    let path = format!("/v1/pools/{pool}/availability");

    let fits = app.get(&format!("{path}?quantity=3"), &key).await;
    assert_eq!(fits.status, StatusCode::OK, "{}", fits.body);
    assert_eq!(
        fits.body,
        json!({"pool_id": pool, "available": 3, "quantity": 3, "can_hold": true})
    );
    let too_many = app.get(&format!("{path}?quantity=4"), &key).await;
    assert_eq!(too_many.body["can_hold"], false);
    assert_eq!(too_many.body["available"], 3);
    let default = app.get(&path, &key).await;
    assert_eq!(default.body["quantity"], 1);
    assert_eq!(default.body["can_hold"], true);

    for bad in [
        "0",
        "-1",
        "abc",
        "1.5",
        "",
        "99999999999999999999",
        "1000000001",
    ] {
        let reply = app.get(&format!("{path}?quantity={bad}"), &key).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
    app.get("/v1/pools/pool_nope/availability", &key)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn an_inactive_pool_refuses_new_holds_but_keeps_existing_ones() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let event = app
        .pool(&key, json!({"name": "Event", "capacity": 10}))
        .await;
    let section = app
        .pool(
            &key,
            json!({"name": "Section", "capacity": 10, "parent_id": event}),
        )
        .await;
    let existing = app.hold(&key, &section, 2).await;
    let existing = id_of(&existing);

    let paused = app
        .patch(
            &format!("/v1/pools/{event}"),
            &key,
            json!({"active": false}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);

    let refused = app.hold(&key, &event, 1).await;
    refused.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(refused.body["pool_id"], event.as_str());
    let under = app.hold(&key, &section, 1).await;
    under.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(
        under.body["pool_id"],
        event.as_str(),
        "names the inactive ancestor"
    );
    let confirmed_at_once = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": section, "quantity": 1}], "confirm": true}),
        )
        .await;
    confirmed_at_once.assert_problem(StatusCode::CONFLICT, "conflict");

    for pool in [&event, &section] {
        let availability = app
            .get(&format!("/v1/pools/{pool}/availability"), &key)
            .await;
        assert_eq!(availability.status, StatusCode::OK);
        assert_eq!(
            availability.body["can_hold"], false,
            "{}",
            availability.body
        );
        assert_eq!(availability.body["available"], 0);
    }

    let confirmed = app
        .post(&format!("/v1/holds/{existing}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(app.counters(&key, &section).await, (0, 2, 0));

    let resumed = app
        .patch(&format!("/v1/pools/{event}"), &key, json!({"active": true}))
        .await;
    assert_eq!(resumed.status, StatusCode::OK);
    assert_eq!(
        app.hold(&key, &section, 1).await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.counters(&key, &event).await, (1, 2, 7));
}

#[tokio::test]
async fn totals_sum_over_direct_children_capped_by_the_parent() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let event = app
        .pool(&key, json!({"name": "Event", "capacity": 100}))
        .await;
    let floor = app
        .pool(
            &key,
            json!({"name": "Floor", "capacity": 60, "parent_id": event}),
        )
        .await;
    let balcony = app
        .pool(
            &key,
            json!({"name": "Balcony", "capacity": 60, "parent_id": event}),
        )
        .await;
    let grandchild = app
        .pool(
            &key,
            json!({"name": "Box", "capacity": 5, "parent_id": balcony}),
        )
        .await;

    let sold = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": floor, "quantity": 10}], "confirm": true}),
        )
        .await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    assert_eq!(
        app.hold(&key, &balcony, 5).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.hold(&key, &grandchild, 3).await.status,
        StatusCode::CREATED
    );

    let totals = app.get(&format!("/v1/pools/{event}/totals"), &key).await;
    assert_eq!(totals.status, StatusCode::OK, "{}", totals.body);
    assert_eq!(totals.body["pool_id"], event.as_str());
    assert_eq!(totals.body["children"], 2, "direct children only");
    assert_eq!(totals.body["capacity"], 120);
    assert_eq!(
        totals.body["held"], 8,
        "the balcony's count includes its box"
    );
    assert_eq!(totals.body["committed"], 10);
    // Children: floor 50 + balcony 52 = 102, but the event itself has only 82 left.
    assert_eq!(totals.body["available"], 82);
    assert_eq!(totals.body["utilization_pct"].as_f64(), Some(15.0));

    let balcony_totals = app.get(&format!("/v1/pools/{balcony}/totals"), &key).await;
    assert_eq!(balcony_totals.body["children"], 1);
    assert_eq!(balcony_totals.body["held"], 3);
    assert_eq!(balcony_totals.body["available"], 2);
    app.get("/v1/pools/pool_nope/totals", &key)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn the_ledger_pages_through_every_change_once_in_order() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 50}))
        .await;
    let mut holds = Vec::new();
    for quantity in 1..=4 {
        let hold = app.hold(&key, &pool, quantity).await;
        assert_eq!(hold.status, StatusCode::CREATED);
        holds.push(id_of(&hold));
    }
    let confirmed = app
        .post(&format!("/v1/holds/{}/confirm", holds[0]), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let released = app
        .post(&format!("/v1/holds/{}/release", holds[1]), &key, json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK);

    let path = format!("/v1/pools/{pool}/ledger");
    let paged = app.all_pages(&path, &key, 2).await;
    let kinds: Vec<&str> = paged.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "adjust", "hold", "hold", "hold", "hold", "confirm", "release"
        ]
    );
    let seqs: Vec<i64> = paged.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(
        paged,
        app.ledger(&key, &pool).await,
        "pages join into the whole"
    );
    let deltas: Vec<(i64, i64)> = paged
        .iter()
        .map(|e| {
            (
                e["held_delta"].as_i64().unwrap_or(99),
                e["committed_delta"].as_i64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        deltas,
        [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (-1, 1), (-2, 0)]
    );
    assert_eq!(paged[5]["hold_id"], holds[0].as_str());
    for entry in &paged {
        assert_timestamp(entry["at"].as_str().expect("at"));
        assert_eq!(entry["capacity_after"], 50);
    }
    // Held and committed as the ledger sums them match the pool.
    let held: i64 = deltas.iter().map(|d| d.0).sum();
    let committed: i64 = deltas.iter().map(|d| d.1).sum();
    assert_eq!(
        app.counters(&key, &pool).await,
        (held, committed, 50 - held - committed)
    );

    let first = app.get(&format!("{path}?limit=3"), &key).await;
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(3));
    let cursor = first.body["next_cursor"].as_str().expect("a cursor");
    let second = app
        .get(&format!("{path}?limit=3&cursor={cursor}"), &key)
        .await;
    assert_eq!(second.body["items"][0], paged[3]);

    for bad in ["cursor=abc", "limit=0", "limit=x"] {
        let reply = app.get(&format!("{path}?{bad}"), &key).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
    app.get("/v1/pools/pool_nope/ledger", &key)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn pools_nest_at_most_eight_levels_deep() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let mut parent = app
        .pool(&key, json!({"name": "Level 1", "capacity": 10}))
        .await;
    for level in 2..=8 {
        parent = app
            .pool(
                &key,
                json!({"name": format!("Level {level}"), "capacity": 10, "parent_id": parent}),
            )
            .await;
    }
    let ninth = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "Level 9", "capacity": 10, "parent_id": parent}),
        )
        .await;
    ninth.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(ninth.error_fields(), ["parent_id"]);

    // A hold on the deepest pool counts all the way up.
    assert_eq!(app.hold(&key, &parent, 3).await.status, StatusCode::CREATED);
    let roots = app.get("/v1/pools?limit=1000", &key).await;
    let items = roots.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 8);
    assert!(items.iter().all(|p| p["held"] == 3), "{items:?}");
}

/// A campaign quota's overage band: a pool used above its capacity (within its hard limit) must still let
/// an admin loosen its limits or raise its capacity; only lowering below use is refused.
#[tokio::test]
async fn limits_can_be_loosened_while_a_pool_is_in_its_overage_band() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Seats", "capacity": 100, "hard_limit_pct": 110}),
        )
        .await;
    let over = app.hold(&key, &pool, 105).await;
    assert_eq!(over.status, StatusCode::CREATED, "{}", over.body);
    let path = format!("/v1/pools/{pool}");
    for body in [
        json!({"hard_limit_pct": 120}),
        json!({"soft_limit_pct": 105}),
        json!({"capacity": 102, "reason": "two more seats"}),
    ] {
        let reply = app.patch(&path, &key, body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.body);
    }
    // Tightening below use is still refused.
    let tight = app
        .patch(
            &path,
            &key,
            json!({"hard_limit_pct": 100, "soft_limit_pct": 100}),
        )
        .await;
    tight.assert_problem(StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn a_busy_pools_history_pages_whole_across_its_runs_and_the_newest_entries() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let busy = app
        .pool(&key, json!({"name": "Floor", "capacity": 1_000}))
        .await;
    let quiet = app.pool(&key, json!({"name": "Box", "capacity": 5})).await;
    // 250 holds on one pool (runs of 100 are written as they fill), one on another between them.
    for n in 0..250 {
        let reply = app.hold(&key, &busy, 1).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        if n == 120 {
            assert_eq!(app.hold(&key, &quiet, 2).await.status, StatusCode::CREATED);
        }
    }
    for page in [7, 100, 1_000] {
        let entries = app
            .all_pages(&format!("/v1/pools/{busy}/ledger"), &key, page)
            .await;
        let seqs: Vec<i64> = entries
            .iter()
            .map(|entry| entry["seq"].as_i64().expect("a seq"))
            .collect();
        // The pool's creation, then each hold, oldest first, none twice, none of the other pool's.
        assert_eq!(seqs.len(), 251, "pages of {page}");
        assert!(
            seqs.windows(2).all(|pair| pair[0] < pair[1]),
            "pages of {page}"
        );
        assert!(
            entries
                .iter()
                .all(|entry| entry["pool_id"] == busy.as_str())
        );
        assert_eq!(
            entries
                .iter()
                .filter(|entry| entry["kind"] == "hold")
                .count(),
            250
        );
    }
    let quiet_entries = app.ledger(&key, &quiet).await;
    assert_eq!(quiet_entries.len(), 2, "{quiet_entries:?}");
    assert_eq!(quiet_entries[1]["held_delta"], 2);
}
