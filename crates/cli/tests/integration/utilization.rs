//! Campaign quotas' utilisation: use against capacity and limit, near/at/over flags, and a bundle's
//! shared total with a per-campaign breakdown.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_bundle_shows_its_shared_total_and_each_campaign() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let bundle = app
        .pool(
            &key,
            json!({"name": "Bundle", "capacity": 100, "unit": "seats", "hard_limit_pct": 110}),
        )
        .await;
    let spring = app
        .pool(&key, json!({"name": "Spring", "capacity": 60, "unit": "seats", "parent_id": bundle, "hard_limit_pct": 110}))
        .await;
    let autumn = app
        .pool(
            &key,
            json!({"name": "Autumn", "capacity": 60, "unit": "seats", "parent_id": bundle}),
        )
        .await;
    for (pool, quantity) in [(&spring, 50), (&autumn, 40)] {
        let body = json!({"lines": [{"pool_id": pool, "quantity": quantity}], "confirm": true});
        assert_eq!(
            app.post("/v1/holds", &key, body).await.status,
            StatusCode::CREATED
        );
    }
    let reply = app
        .get(&format!("/v1/pools/{bundle}/utilization"), &key)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(
        (
            body["used"].as_i64(),
            body["capacity"].as_i64(),
            body["limit"].as_i64()
        ),
        (Some(90), Some(100), Some(110))
    );
    assert_eq!(body["utilization_pct"], 90.0);
    assert_eq!(
        body["flags"],
        json!({"near": true, "at": false, "over": false})
    );
    let breakdown = body["breakdown"].as_array().expect("a breakdown");
    let by_name: Vec<(&str, i64)> = breakdown
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or(""),
                c["used"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(by_name.len(), 2);
    assert!(
        by_name.contains(&("Spring", 50)) && by_name.contains(&("Autumn", 40)),
        "{by_name:?}"
    );

    // Into the overage band: 105 of 100 is allowed (limit 110) and flagged as over.
    let body = json!({"lines": [{"pool_id": spring, "quantity": 15}], "confirm": true});
    let over = app.post("/v1/holds", &key, body).await;
    assert_eq!(over.status, StatusCode::CREATED, "{}", over.body);
    assert_eq!(over.body["warnings"], json!(["over_soft_limit"]));
    let reply = app
        .get(&format!("/v1/pools/{bundle}/utilization"), &key)
        .await;
    assert_eq!(
        reply.body["flags"],
        json!({"near": true, "at": true, "over": true})
    );
    assert_eq!(reply.body["utilization_pct"], 105.0);
}

#[tokio::test]
async fn zero_capacity_and_unknown_pools() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let empty = app
        .pool(&key, json!({"name": "Not sold yet", "capacity": 0}))
        .await;
    let reply = app
        .get(&format!("/v1/pools/{empty}/utilization"), &key)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["flags"],
        json!({"near": false, "at": false, "over": false})
    );
    assert_eq!(reply.body["utilization_pct"], 0.0);
    assert_eq!(reply.body["breakdown"], json!([]));
    let missing = app.get("/v1/pools/pool_nope/utilization", &key).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.problem(), "not-found");
}
