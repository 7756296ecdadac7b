//! Dated tour sessions and waiting lists, through the HTTP API: joining a full date,
//! priority order, cancellation, promotion on release, capacity raise, lapsed offers and expiry,
//! strict versus skip, and each date on its own.
//!
//! The clock is manual (2026-09-21T14:13:20Z) so dates and deadlines are exact.

use crate::helpers::{Options, TestApp, eventually, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const DATE: &str = "2026-10-01";
const OTHER_DATE: &str = "2026-10-02";

async fn app() -> (TestApp, String) {
    let app = spawn_app_with(Options {
        manual_clock: true,
        sweeper: true,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Tours").await;
    (app, key)
}

/// A tour session of `capacity` per date.
async fn session(app: &TestApp, key: &str, capacity: i64, extra: Value) -> String {
    let mut body = json!({"name": "Sunrise tour", "capacity": capacity, "per_date": true});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.pool(key, body).await
}

async fn hold_date(app: &TestApp, key: &str, session: &str, date: &str, quantity: i64) -> Value {
    let reply = app
        .post(
            "/v1/holds",
            key,
            json!({"lines": [{"pool_id": session, "date": date, "quantity": quantity}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn join(app: &TestApp, key: &str, pool: &str, body: Value) -> Value {
    let reply = app
        .post(&format!("/v1/pools/{pool}/waitlist"), key, body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn entry(app: &TestApp, key: &str, id: &Value) -> Value {
    let id = id.as_str().expect("an entry id");
    let reply = app.get(&format!("/v1/waitlist/{id}"), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn statuses(app: &TestApp, key: &str, ids: &[&Value]) -> Vec<String> {
    let mut found = Vec::new();
    for id in ids {
        found.push(
            entry(app, key, id).await["status"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
        );
    }
    found
}

async fn release(app: &TestApp, key: &str, hold_id: &Value) {
    let hold_id = hold_id.as_str().expect("a hold id");
    let reply = app
        .post(&format!("/v1/holds/{hold_id}/release"), key, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_full_date_puts_the_asker_first_in_line_and_other_dates_stay_open() {
    let (app, key) = app().await;
    let tour = session(&app, &key, 4, json!({})).await;
    hold_date(&app, &key, &tour, DATE, 4).await;

    let first = join(
        &app,
        &key,
        &tour,
        json!({"quantity": 2, "holder": "ana", "date": DATE}),
    )
    .await;
    assert_eq!(first["status"], "waiting");
    assert_eq!(first["position"], 1);
    assert_eq!(first["date"], DATE);
    // No promotion yet on this pool: the default 5 minutes per place in line.
    assert_eq!(first["estimated_wait_seconds"], 300);
    assert_eq!(
        first["expires_at"], "2026-09-21T16:13:20.000Z",
        "2 hours by default"
    );
    let second = join(
        &app,
        &key,
        &tour,
        json!({"quantity": 1, "holder": "ben", "date": DATE}),
    )
    .await;
    assert_eq!(second["position"], 2);
    assert_eq!(second["estimated_wait_seconds"], 600);

    // The other date is its own instance with the session's capacity, untouched.
    let other = app
        .get(&format!("/v1/pools/{tour}/dates/{OTHER_DATE}"), &key)
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    assert_eq!(
        (
            other.body["capacity"].as_i64(),
            other.body["available"].as_i64()
        ),
        (Some(4), Some(4))
    );
    let full = app
        .get(
            &format!("/v1/pools/{tour}/availability?date={DATE}&quantity=1"),
            &key,
        )
        .await;
    assert_eq!(full.body["can_hold"], false);
    let open = app
        .get(
            &format!("/v1/pools/{tour}/availability?date={OTHER_DATE}&quantity=4"),
            &key,
        )
        .await;
    assert_eq!(open.body["can_hold"], true);
    hold_date(&app, &key, &tour, OTHER_DATE, 4).await;

    let list = app
        .get(&format!("/v1/pools/{tour}/waitlist?date={DATE}"), &key)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(
        (
            list.body["waiting"].as_u64(),
            list.body["total_quantity"].as_i64()
        ),
        (Some(2), Some(3))
    );
    let holders: Vec<&str> = list.body["entries"]["items"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["holder"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(holders, ["ana", "ben"]);
    let dates = app.get(&format!("/v1/pools/{tour}/dates"), &key).await;
    let made: Vec<&str> = dates.body["items"]
        .as_array()
        .expect("dates")
        .iter()
        .map(|d| d["date"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(made, [DATE, OTHER_DATE]);
}

#[tokio::test]
async fn past_dates_and_dateless_session_holds_are_refused() {
    let (app, key) = app().await;
    let tour = session(&app, &key, 4, json!({})).await;
    let past = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": tour, "date": "2026-09-20", "quantity": 1}]}),
        )
        .await;
    past.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(past.error_fields(), ["lines[0].date"]);
    let malformed = app
        .post(
            &format!("/v1/pools/{tour}/waitlist"),
            &key,
            json!({"quantity": 1, "holder": "ana", "date": "2026-13-01"}),
        )
        .await;
    malformed.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let dateless = app.hold(&key, &tour, 1).await;
    dateless.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert!(
        dateless.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("give a date")
    );
    let availability = app
        .get(&format!("/v1/pools/{tour}/availability"), &key)
        .await;
    availability.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let plain = app
        .pool(&key, json!({"name": "Plain", "capacity": 1}))
        .await;
    let undated = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [{"pool_id": plain, "date": DATE, "quantity": 1}]}),
        )
        .await;
    undated.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert!(
        undated.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not a session")
    );
    let child = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "Child", "capacity": 1, "parent_id": tour}),
        )
        .await;
    child.assert_problem(StatusCode::BAD_REQUEST, "validation");
    // Today is still bookable.
    hold_date(&app, &key, &tour, "2026-09-21", 1).await;
    let change = app
        .patch(
            &format!("/v1/pools/{tour}/dates/2026-09-01"),
            &key,
            json!({"capacity": 9}),
        )
        .await;
    change.assert_problem(StatusCode::BAD_REQUEST, "validation");
}

#[tokio::test]
async fn priority_classes_order_the_list_and_cancelling_moves_the_rest_up() {
    let (app, key) = app().await;
    let put = app
        .call(
            Method::PUT,
            "/v1/settings/priority-classes",
            Some(&key),
            Some(&json!({"base": 1, "classes": {"registered": 2, "private_silver": 2, "private_gold": 3}})),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let pool = app.pool(&key, json!({"name": "Boat", "capacity": 1})).await;
    assert_eq!(app.hold(&key, &pool, 1).await.status, StatusCode::CREATED);

    let guest = join(&app, &key, &pool, json!({"quantity": 1, "holder": "guest"})).await;
    let member = join(
        &app,
        &key,
        &pool,
        json!({"quantity": 1, "holder": "member", "priority_class": "registered"}),
    )
    .await;
    let gold = join(
        &app,
        &key,
        &pool,
        json!({"quantity": 1, "holder": "gold", "priority_class": ["registered", "private_gold"]}),
    )
    .await;
    assert_eq!(
        (
            guest["priority"].as_i64(),
            member["priority"].as_i64(),
            gold["priority"].as_i64()
        ),
        (Some(1), Some(3), Some(6))
    );
    assert_eq!(gold["position"], 1);
    assert_eq!(entry(&app, &key, &member["id"]).await["position"], 2);
    assert_eq!(entry(&app, &key, &guest["id"]).await["position"], 3);

    let unknown = app
        .post(
            &format!("/v1/pools/{pool}/waitlist"),
            &key,
            json!({"quantity": 1, "holder": "x", "priority_class": "vip"}),
        )
        .await;
    unknown.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let both = app
        .post(
            &format!("/v1/pools/{pool}/waitlist"),
            &key,
            json!({"quantity": 1, "holder": "x", "priority": 5, "priority_class": "registered"}),
        )
        .await;
    both.assert_problem(StatusCode::BAD_REQUEST, "validation");

    let member_id = member["id"].as_str().expect("an id");
    let cancelled = app.delete(&format!("/v1/waitlist/{member_id}"), &key).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(entry(&app, &key, &guest["id"]).await["position"], 2);
    let again = app.delete(&format!("/v1/waitlist/{member_id}"), &key).await;
    again.assert_problem(StatusCode::CONFLICT, "conflict");
    let missing = app.delete("/v1/waitlist/wait_nope", &key).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not-found");

    // Another tenant sees none of it.
    let other = app.tenant("Other").await;
    let hidden = app.get(&format!("/v1/waitlist/{member_id}"), &other).await;
    hidden.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let hidden = app
        .delete(&format!("/v1/waitlist/{member_id}"), &other)
        .await;
    hidden.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn a_released_hold_becomes_an_offer_and_confirming_it_accepts() {
    let (app, key) = app().await;
    let tour = session(&app, &key, 2, json!({})).await;
    let taken = hold_date(&app, &key, &tour, DATE, 2).await;
    let ana = join(
        &app,
        &key,
        &tour,
        json!({"quantity": 2, "holder": "ana", "date": DATE}),
    )
    .await;

    release(&app, &key, &taken["id"]).await;
    let offered = entry(&app, &key, &ana["id"]).await;
    assert_eq!(
        offered["status"], "offered",
        "promoted in the release's own transaction"
    );
    assert_eq!(offered["position"], Value::Null);
    assert_eq!(
        offered["offer_expires_at"], "2026-09-21T14:28:20.000Z",
        "15-minute offers by default"
    );
    let hold_id = offered["hold_id"].as_str().expect("an offer hold");
    let hold = app.get(&format!("/v1/holds/{hold_id}"), &key).await;
    assert_eq!(
        (hold.body["status"].as_str(), hold.body["holder"].as_str()),
        (Some("held"), Some("ana"))
    );
    let instance = format!("{tour}-{DATE}");
    assert_eq!(app.counters(&key, &instance).await, (2, 0, 0));

    let confirmed = app
        .post(&format!("/v1/holds/{hold_id}/confirm"), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(entry(&app, &key, &ana["id"]).await["status"], "accepted");
    let offered_id = ana["id"].as_str().expect("an id");
    let cancel = app
        .delete(&format!("/v1/waitlist/{offered_id}"), &key)
        .await;
    cancel.assert_problem(StatusCode::CONFLICT, "conflict");

    let events = app.get("/v1/events?type=waitlist.offered", &key).await;
    let items = events.body["items"].as_array().expect("events");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["data"]["entry_id"], ana["id"]);
    let all: Vec<String> = app
        .all_pages("/v1/events", &key, 2)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .filter(|kind| kind.starts_with("waitlist."))
        .collect();
    assert_eq!(
        all,
        [
            "waitlist.joined",
            "waitlist.offered",
            "waitlist.offer_accepted"
        ]
    );
}

#[tokio::test]
async fn a_capacity_raise_on_one_date_promotes_there_only() {
    let (app, key) = app().await;
    let tour = session(&app, &key, 1, json!({"waitlist_mode": "confirm"})).await;
    hold_date(&app, &key, &tour, DATE, 1).await;
    hold_date(&app, &key, &tour, OTHER_DATE, 1).await;
    let here = join(
        &app,
        &key,
        &tour,
        json!({"quantity": 2, "holder": "ana", "date": DATE}),
    )
    .await;
    let there = join(
        &app,
        &key,
        &tour,
        json!({"quantity": 1, "holder": "ben", "date": OTHER_DATE}),
    )
    .await;

    let raised = app
        .patch(
            &format!("/v1/pools/{tour}/dates/{DATE}"),
            &key,
            json!({"capacity": 3, "reason": "bigger boat"}),
        )
        .await;
    assert_eq!(raised.status, StatusCode::OK, "{}", raised.body);
    let here = entry(&app, &key, &here["id"]).await;
    assert_eq!(here["status"], "confirmed", "confirm mode books at once");
    assert_eq!(raised.body["capacity"], 3);
    assert_eq!(
        app.counters(&key, &format!("{tour}-{DATE}")).await,
        (1, 2, 0)
    );
    assert_eq!(entry(&app, &key, &there["id"]).await["status"], "waiting");
    let other = app.pool_state(&key, &format!("{tour}-{OTHER_DATE}")).await;
    assert_eq!(other["capacity"], 1, "the other date keeps its capacity");

    // A session-wide raise applied to the dates already made promotes there too.
    let wide = app
        .patch(
            &format!("/v1/pools/{tour}"),
            &key,
            json!({"capacity": 2, "apply_to_dates": true}),
        )
        .await;
    wide.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(
        wide.body["detail"].as_str().unwrap_or("").contains(DATE),
        "{}",
        wide.body
    );
    assert_eq!(
        entry(&app, &key, &there["id"]).await["status"],
        "waiting",
        "all dates or none"
    );
    let wide = app
        .patch(
            &format!("/v1/pools/{tour}"),
            &key,
            json!({"capacity": 3, "apply_to_dates": true}),
        )
        .await;
    assert_eq!(wide.status, StatusCode::OK, "{}", wide.body);
    assert_eq!(entry(&app, &key, &there["id"]).await["status"], "confirmed");
}

#[tokio::test]
async fn a_lapsed_offer_promotes_the_next_and_waiting_entries_expire() {
    let (app, key) = app().await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Kayak", "capacity": 1, "offer_ttl_seconds": 60}),
        )
        .await;
    let taken = app.hold(&key, &pool, 1).await.body;
    let first = join(&app, &key, &pool, json!({"quantity": 1, "holder": "ana"})).await;
    let second = join(
        &app,
        &key,
        &pool,
        json!({"quantity": 1, "holder": "ben", "expires_in_seconds": 600}),
    )
    .await;
    let third = join(
        &app,
        &key,
        &pool,
        json!({"quantity": 1, "holder": "cal", "expires_in_seconds": 30}),
    )
    .await;
    release(&app, &key, &taken["id"]).await;
    assert_eq!(
        statuses(&app, &key, &[&first["id"], &second["id"], &third["id"]]).await,
        ["offered", "waiting", "waiting"]
    );

    // 61 s on: ana's offer lapsed, cal's wait ran out, ben gets the unit.
    app.clock.advance_ms(61_000);
    let ids = [&first["id"], &second["id"], &third["id"]];
    eventually(
        Duration::from_secs(10),
        "the sweeper lapses the offer",
        || async {
            let found = statuses(&app, &key, &ids).await;
            (found == ["lapsed", "offered", "expired"]).then_some(())
        },
    )
    .await;
    assert_eq!(app.counters(&key, &pool).await, (1, 0, 0));
    let kinds: Vec<String> = app
        .all_pages("/v1/events", &key, 100)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .collect();
    for kind in [
        "waitlist.offer_lapsed",
        "waitlist.expired",
        "waitlist.offered",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    // ben's entry is served; cancelling the offer releases its hold and nobody is left.
    let ben = second["id"].as_str().expect("an id");
    let cancelled = app.delete(&format!("/v1/waitlist/{ben}"), &key).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);
    assert_eq!(app.counters(&key, &pool).await, (0, 0, 1));
}

#[tokio::test]
async fn strict_waits_for_the_head_and_skip_lets_smaller_requests_pass() {
    let (app, key) = app().await;
    for (policy, expected) in [
        ("strict", ["waiting", "waiting"]),
        ("skip", ["waiting", "offered"]),
    ] {
        let pool = app
            .pool(
                &key,
                json!({"name": policy, "capacity": 3, "waitlist_policy": policy}),
            )
            .await;
        let taken = app.hold(&key, &pool, 3).await.body;
        let big = join(&app, &key, &pool, json!({"quantity": 3, "holder": "group"})).await;
        let small = join(&app, &key, &pool, json!({"quantity": 1, "holder": "solo"})).await;
        // Free one unit: not enough for the group at the head.
        let reply = app
            .patch(&format!("/v1/pools/{pool}"), &key, json!({"capacity": 4}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            statuses(&app, &key, &[&big["id"], &small["id"]]).await,
            expected,
            "{policy}"
        );
        release(&app, &key, &taken["id"]).await;
        let after = statuses(&app, &key, &[&big["id"], &small["id"]]).await;
        assert_eq!(
            after[0], "offered",
            "{policy}: the group fits once the 3 come back"
        );
    }
}

#[tokio::test]
async fn estimated_waits_come_from_the_measured_promotion_rate() {
    let (app, key) = app().await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Museum", "capacity": 1, "waitlist_mode": "confirm"}),
        )
        .await;
    let mut hold = app.hold(&key, &pool, 1).await.body;
    // Four promotions, one every 100 s.
    for holder in ["a", "b", "c", "d"] {
        let joined = join(&app, &key, &pool, json!({"quantity": 1, "holder": holder})).await;
        app.clock.advance_ms(100_000);
        let hold_id = hold["id"].clone();
        release(&app, &key, &hold_id).await;
        let served = entry(&app, &key, &joined["id"]).await;
        assert_eq!(served["status"], "confirmed");
        hold = json!({"id": served["hold_id"]});
    }
    let waiting = join(&app, &key, &pool, json!({"quantity": 1, "holder": "e"})).await;
    // The oldest of the 4 promotions was 300 s ago: 75 s per place in line.
    assert_eq!(waiting["position"], 1);
    assert_eq!(waiting["estimated_wait_seconds"], 75);
    let status = app.get(&format!("/v1/pools/{pool}/waitlist"), &key).await;
    assert_eq!(status.body["average_wait_to_promotion_seconds"], 100);
    assert_eq!(status.body["recent_promotions"], 4);
    let mine = app.get("/v1/waitlist?holder=e", &key).await;
    assert_eq!(mine.body["items"][0]["id"], waiting["id"]);
}

#[tokio::test]
async fn ids_with_multi_byte_characters_are_unknown_pools_and_the_writer_goes_on() {
    let (app, key) = app().await;
    for path in [
        "/v1/pools/%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9",
        "/v1/pools/a%E2%82%AC2027-01-31",
    ] {
        let patched = app.patch(path, &key, json!({"capacity": 5})).await;
        patched.assert_problem(StatusCode::NOT_FOUND, "not-found");
        let read = app.get(path, &key).await;
        read.assert_problem(StatusCode::NOT_FOUND, "not-found");
        let list = app.get(&format!("{path}/waitlist"), &key).await;
        list.assert_problem(StatusCode::NOT_FOUND, "not-found");
    }
    // Writes still work afterwards.
    app.pool(&key, json!({"name": "After", "capacity": 1}))
        .await;
}

#[tokio::test]
async fn a_date_that_is_over_serves_no_one_and_a_session_wide_change_reaches_dates_when_asked() {
    let (app, key) = app().await;
    let venue = app
        .pool(&key, json!({"name": "Venue", "capacity": 100}))
        .await;
    let tour = session(&app, &key, 1, json!({"parent_id": venue})).await;
    // Bookings (confirmed: they do not lapse while the clock moves on).
    let mut booked = Vec::new();
    for date in [DATE, OTHER_DATE] {
        let reply = app
            .post(
                "/v1/holds",
                &key,
                json!({"lines": [{"pool_id": tour, "date": date, "quantity": 1}], "confirm": true}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        booked.push(reply.body);
    }
    let later = booked.pop().expect("the later booking");
    let stale = join(
        &app,
        &key,
        &tour,
        json!({"quantity": 1, "holder": "ana", "date": DATE, "expires_in_seconds": 30 * 86_400}),
    )
    .await;
    // Eleven days on, DATE is over; a release on another date of the same venue frees the venue.
    app.clock.advance_ms(11 * 86_400_000);
    release(&app, &key, &later["id"]).await;
    let entry = entry(&app, &key, &stale["id"]).await;
    assert_eq!(
        entry["status"], "expired",
        "never offered a day that is over: {entry}"
    );

    // The session already has capacity 3; asking to apply it to the dates still changes them.
    let session_only = app
        .patch(&format!("/v1/pools/{tour}"), &key, json!({"capacity": 3}))
        .await;
    assert_eq!(session_only.status, StatusCode::OK, "{}", session_only.body);
    let other = format!("{tour}-{OTHER_DATE}");
    assert_eq!(app.pool_state(&key, &other).await["capacity"], 1);
    let applied = app
        .patch(
            &format!("/v1/pools/{tour}"),
            &key,
            json!({"capacity": 3, "apply_to_dates": true}),
        )
        .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(app.pool_state(&key, &other).await["capacity"], 3);
    let past = format!("{tour}-{DATE}");
    assert_eq!(
        app.pool_state(&key, &past).await["capacity"],
        1,
        "past dates are never changed"
    );
}

#[tokio::test]
async fn skip_serves_a_small_request_far_down_a_long_list() {
    let (app, key) = app().await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Skip", "capacity": 1, "waitlist_policy": "skip"}),
        )
        .await;
    let taken = app.hold(&key, &pool, 1).await.body;
    // Three hundred requests of 2 that can never fit a pool of 1, then one of 1.
    for index in 0..300 {
        join(
            &app,
            &key,
            &pool,
            json!({"quantity": 2, "holder": format!("pair-{index}")}),
        )
        .await;
    }
    let solo = join(&app, &key, &pool, json!({"quantity": 1, "holder": "solo"})).await;
    assert_eq!(solo["position"], 301);
    release(&app, &key, &taken["id"]).await;
    assert_eq!(entry(&app, &key, &solo["id"]).await["status"], "offered");
}

/// Tries a one-unit hold on `session`'s `date`.
async fn try_hold_date(
    app: &TestApp,
    key: &str,
    session: &str,
    date: &str,
) -> crate::helpers::Reply {
    app.post(
        "/v1/holds",
        key,
        json!({"lines": [{"pool_id": session, "date": date, "quantity": 1}]}),
    )
    .await
}

#[tokio::test]
async fn a_sessions_dates_are_over_when_they_end_in_its_own_time_zone() {
    let (app, key) = app().await;
    let utc = session(&app, &key, 4, json!({})).await;
    let los_angeles = session(&app, &key, 4, json!({"time_zone": "america/los_angeles"})).await;
    let kiritimati = session(&app, &key, 4, json!({"time_zone": "Pacific/Kiritimati"})).await;
    let shown = app.get(&format!("/v1/pools/{los_angeles}"), &key).await;
    assert_eq!(
        shown.body["time_zone"], "America/Los_Angeles",
        "{}",
        shown.body
    );
    assert!(
        app.get(&format!("/v1/pools/{utc}"), &key)
            .await
            .body
            .get("time_zone")
            .is_none()
    );

    // 2026-09-22T03:00Z: the 21st is over in UTC, but it is 20:00 on the 21st in Los Angeles.
    app.clock.advance_ms((12 * 60 + 46) * 60_000 + 40_000);
    let late = try_hold_date(&app, &key, &utc, "2026-09-21").await;
    late.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert!(
        late.body["detail"].as_str().unwrap_or("").contains("UTC"),
        "{}",
        late.body
    );
    let evening = hold_date(&app, &key, &los_angeles, "2026-09-21", 1).await;
    assert_eq!(
        evening["lines"][0]["pool_id"],
        format!("{los_angeles}-2026-09-21")
    );
    let date = app
        .get(&format!("/v1/pools/{los_angeles}/dates/2026-09-21"), &key)
        .await;
    assert_eq!(date.body["held"], 1);
    assert_eq!(date.body["time_zone"], "America/Los_Angeles");
    // Availability answers as a hold would: the date is over in UTC, open in Los Angeles.
    let over = app
        .get(
            &format!("/v1/pools/{utc}/availability?date=2026-09-21"),
            &key,
        )
        .await;
    over.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(over.error_fields(), ["date"]);
    let open = app
        .get(
            &format!("/v1/pools/{los_angeles}/availability?date=2026-09-21"),
            &key,
        )
        .await;
    assert_eq!(open.body["can_hold"], true, "{}", open.body);
    // A hold names the line whose date is over.
    let mixed = app
        .post(
            "/v1/holds",
            &key,
            json!({"lines": [
                {"pool_id": los_angeles, "date": "2026-09-21", "quantity": 1},
                {"pool_id": utc, "date": "2026-09-21", "quantity": 1}
            ]}),
        )
        .await;
    mixed.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(mixed.error_fields(), ["lines[1].date"]);
    // The zone is set once, when the session is created.
    let change = app
        .patch(
            &format!("/v1/pools/{los_angeles}"),
            &key,
            json!({"time_zone": "UTC"}),
        )
        .await;
    change.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(change.error_fields(), ["time_zone"]);

    // 2026-09-22T12:00Z: the 22nd is today in UTC but over on Kiritimati (UTC+14: 02:00 on the
    // 23rd); its 23rd is bookable, and Los Angeles' 21st is over now.
    app.clock.advance_ms(9 * 3_600_000);
    hold_date(&app, &key, &utc, "2026-09-22", 1).await;
    try_hold_date(&app, &key, &kiritimati, "2026-09-22")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");
    hold_date(&app, &key, &kiritimati, "2026-09-23", 1).await;
    try_hold_date(&app, &key, &los_angeles, "2026-09-21")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");

    // A zone allot does not know, and a zone on a pool without dates, are refused.
    for (body, field) in [
        (
            json!({"name": "Tour", "capacity": 1, "per_date": true, "time_zone": "Mars/Olympus_Mons"}),
            "time_zone",
        ),
        (
            json!({"name": "Plain", "capacity": 1, "time_zone": "Europe/Paris"}),
            "time_zone",
        ),
    ] {
        let refused = app.post("/v1/pools", &key, body).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "validation");
        assert_eq!(refused.error_fields(), [field]);
    }
}

#[tokio::test]
async fn the_sweeper_expires_those_waiting_on_a_date_once_it_is_over_in_the_sessions_zone() {
    let (app, key) = app().await;
    let utc = session(&app, &key, 1, json!({})).await;
    let los_angeles = session(&app, &key, 1, json!({"time_zone": "America/Los_Angeles"})).await;
    // Today (2026-09-21) is sold on both; one person waits on each, for three days.
    let mut waiting = Vec::new();
    for tour in [&utc, &los_angeles] {
        let sold = app
            .post(
                "/v1/holds",
                &key,
                json!({"lines": [{"pool_id": tour, "date": "2026-09-21", "quantity": 1}], "confirm": true}),
            )
            .await;
        assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
        let entry = join(
            &app,
            &key,
            tour,
            json!({"quantity": 1, "holder": "ana", "date": "2026-09-21", "expires_in_seconds": 259_200}),
        )
        .await;
        waiting.push(entry["id"].clone());
    }
    // 2026-09-22T03:00Z: the 21st is over in UTC, not yet in Los Angeles (20:00 there).
    app.clock.advance_ms((12 * 60 + 46) * 60_000 + 40_000);
    eventually(Duration::from_secs(10), "the UTC entry expires", || async {
        (statuses(&app, &key, &[&waiting[0]]).await == ["expired"]).then_some(())
    })
    .await;
    assert_eq!(statuses(&app, &key, &[&waiting[1]]).await, ["waiting"]);
    // 2026-09-22T07:30Z: 00:30 on the 22nd in Los Angeles.
    app.clock.advance_ms(4 * 3_600_000 + 30 * 60_000);
    eventually(
        Duration::from_secs(10),
        "the Los Angeles entry expires",
        || async { (statuses(&app, &key, &[&waiting[1]]).await == ["expired"]).then_some(()) },
    )
    .await;
    let listed = app
        .get(&format!("/v1/pools/{los_angeles}/dates/2026-09-21"), &key)
        .await;
    assert_eq!(listed.body["waitlist"]["waiting"], 0, "{}", listed.body);
}
