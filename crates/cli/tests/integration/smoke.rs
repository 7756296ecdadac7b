//! An event's flow end to end: an event with two sections, a hold, a confirm, totals.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_event_with_two_sections_sells_through_its_total() {
    let app = spawn_app().await;
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
    assert_eq!(confirmed.body["status"], "confirmed");

    let refused = app.hold(&key, &balcony, 3).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.problem(), "insufficient-capacity");
    assert_eq!(refused.body["pool_id"], event.as_str());
    assert_eq!(refused.body["available"], 2);
    assert_eq!(refused.content_type(), "application/problem+json");

    let totals = app.get(&format!("/v1/pools/{event}/totals"), &key).await;
    assert_eq!(totals.body["committed"], 8);
    assert_eq!(
        totals.body["available"], 2,
        "the event total caps the balcony's 8"
    );
    let state = app.pool_state(&key, &event).await;
    assert_eq!(
        (
            state["held"].as_i64(),
            state["committed"].as_i64(),
            state["available"].as_i64()
        ),
        (Some(0), Some(8), Some(2))
    );
}
