//! Campaign quotas' consumption, thresholds and alerts, waiting-list alerts, and their delivery:
//! signed webhooks to a local receiver (with retries), e-mail to an in-process SMTP server.

use crate::helpers::{Options, Receiver, TestApp, eventually, signature_verifies, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn manual_app() -> (TestApp, String) {
    let app = spawn_app_with(Options {
        manual_clock: true,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Campaigns").await;
    (app, key)
}

async fn consume(app: &TestApp, key: &str, pool: &str, quantity: i64) -> (StatusCode, Value) {
    let reply = app
        .post(
            "/v1/holds",
            key,
            json!({"lines": [{"pool_id": pool, "quantity": quantity}], "confirm": true}),
        )
        .await;
    (reply.status, reply.body)
}

/// (threshold_pct, severity, recipients) of the pool's alerts, oldest first.
async fn alerts(app: &TestApp, key: &str, pool: &str) -> Vec<(Value, String, Vec<String>)> {
    app.all_pages(&format!("/v1/alerts?pool_id={pool}"), key, 100)
        .await
        .iter()
        .map(|alert| {
            (
                alert["threshold_pct"].clone(),
                alert["severity"].as_str().unwrap_or("").to_owned(),
                alert["recipients"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .map(|g| g.as_str().unwrap_or("").to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn seats_credits_and_learners_alert_once_per_threshold_and_block_above_110_percent() {
    let (app, key) = manual_app().await;
    for unit in ["seats", "credits", "learners"] {
        let pool = app
            .pool(
                &key,
                json!({"name": unit, "unit": unit, "capacity": 100, "hard_limit_pct": 110}),
            )
            .await;
        assert_eq!(consume(&app, &key, &pool, 79).await.0, StatusCode::CREATED);
        assert!(
            alerts(&app, &key, &pool).await.is_empty(),
            "{unit}: nothing below 80%"
        );
        assert_eq!(consume(&app, &key, &pool, 1).await.0, StatusCode::CREATED);
        assert_eq!(consume(&app, &key, &pool, 15).await.0, StatusCode::CREATED);
        // At 100%: accepted, no warning yet.
        let (status, body) = consume(&app, &key, &pool, 5).await;
        assert_eq!(
            (status, body["warnings"].clone()),
            (StatusCode::CREATED, json!([])),
            "{unit}"
        );
        // In the overage band: accepted with a warning.
        let (status, body) = consume(&app, &key, &pool, 10).await;
        assert_eq!(
            (status, body["warnings"].clone()),
            (StatusCode::CREATED, json!(["over_soft_limit"])),
            "{unit}"
        );
        // Above 110%: blocked.
        let (status, body) = consume(&app, &key, &pool, 1).await;
        assert_eq!(status, StatusCode::CONFLICT, "{unit}: {body}");
        let admin_and_cs = vec!["company_admin".to_owned(), "customer_success".to_owned()];
        assert_eq!(
            alerts(&app, &key, &pool).await,
            vec![
                (json!(80), "info".to_owned(), vec!["sales".to_owned()]),
                (
                    json!(90),
                    "warning".to_owned(),
                    vec!["company_admin".to_owned()]
                ),
                (json!(100), "error".to_owned(), admin_and_cs.clone()),
                (json!(110), "critical".to_owned(), admin_and_cs),
            ],
            "{unit}"
        );
    }
    let critical = app.get("/v1/alerts?severity=critical", &key).await;
    assert_eq!(critical.body["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(critical.body["items"][0]["utilization_pct"], 110.0);
    let bad = app.get("/v1/alerts?severity=panic", &key).await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let bad = app.get("/v1/alerts?since=yesterday", &key).await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let unknown = app.get("/v1/alerts?pool_id=pool_unknown", &key).await;
    assert_eq!(unknown.body["items"], json!([]));
    let later = app.get("/v1/alerts?since=2030-01-01T00:00:00Z", &key).await;
    assert_eq!(later.body["items"], json!([]));
}

#[tokio::test]
async fn a_threshold_is_throttled_within_its_interval_and_fires_again_after() {
    let (app, key) = manual_app().await;
    let pool = app
        .pool(
            &key,
            json!({"name": "Credits", "unit": "credits", "capacity": 10,
                   "thresholds": [{"pct": 80, "severity": "warning", "recipients": ["ops"], "throttle_seconds": 3600}]}),
        )
        .await;
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["thresholds"][0]["recipients"], json!(["ops"]));
    let first = app.hold(&key, &pool, 8).await.body;
    assert_eq!(alerts(&app, &key, &pool).await.len(), 1);
    // Down and up again within the hour: throttled.
    let id = first["id"].as_str().expect("an id");
    app.post(&format!("/v1/holds/{id}/release"), &key, json!({}))
        .await;
    assert_eq!(app.hold(&key, &pool, 8).await.status, StatusCode::CREATED);
    assert_eq!(
        alerts(&app, &key, &pool).await.len(),
        1,
        "throttled for an hour"
    );
    // An hour on, that 15-minute hold has expired: crossing 80% again fires.
    app.clock.advance_ms(3_600_000);
    assert_eq!(app.hold(&key, &pool, 8).await.status, StatusCode::CREATED);
    assert_eq!(
        alerts(&app, &key, &pool).await.len(),
        2,
        "fires again after the interval"
    );

    // Thresholds can be switched off and back to the default table.
    let off = app
        .patch(
            &format!("/v1/pools/{pool}"),
            &key,
            json!({"thresholds": []}),
        )
        .await;
    assert_eq!(off.body["thresholds"], json!([]));
    let default = app
        .patch(
            &format!("/v1/pools/{pool}"),
            &key,
            json!({"thresholds": null}),
        )
        .await;
    assert_eq!(default.body["thresholds"].as_array().map(Vec::len), Some(4));
    let bad = app
        .patch(
            &format!("/v1/pools/{pool}"),
            &key,
            json!({"thresholds": [{"pct": 0, "severity": "loud", "recipients": [], "throttle_seconds": -1}]}),
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let twice =
        json!({"pct": 80, "severity": "info", "recipients": ["sales"], "throttle_seconds": 60});
    let bad = app
        .patch(
            &format!("/v1/pools/{pool}"),
            &key,
            json!({"thresholds": [twice.clone(), twice]}),
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
}

#[tokio::test]
async fn zero_capacity_with_people_waiting_and_a_long_queue_raise_queue_alerts() {
    let (app, key) = manual_app().await;
    let pool = app
        .pool(&key, json!({"name": "Closed", "capacity": 0}))
        .await;
    let refused = app.hold(&key, &pool, 1).await;
    refused.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    for index in 0..11 {
        let reply = app
            .post(
                &format!("/v1/pools/{pool}/waitlist"),
                &key,
                json!({"quantity": 1, "holder": format!("p{index}")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let kinds: Vec<(String, String)> = app
        .all_pages(&format!("/v1/alerts?pool_id={pool}"), &key, 100)
        .await
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or("").to_owned(),
                a["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("shortage".to_owned(), "error".to_owned()),
            ("queue_long".to_owned(), "warning".to_owned())
        ]
    );
}

#[tokio::test]
async fn webhooks_get_signed_events_and_a_failing_receiver_gets_them_after_retries() {
    let (app, key) = manual_app().await;
    let receiver = Receiver::start(&[500, 500, 500]).await;
    let created = app
        .post(
            "/v1/webhooks",
            &key,
            json!({"url": receiver.url, "events": ["alert.fired"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    let webhook = created.body["id"].as_str().expect("an id").to_owned();
    let listed = app.get("/v1/webhooks", &key).await;
    assert_eq!(
        listed.body["items"][0]["secret"],
        Value::Null,
        "never shown again"
    );

    let pool = app
        .pool(&key, json!({"name": "Seats", "capacity": 10}))
        .await;
    assert_eq!(app.hold(&key, &pool, 8).await.status, StatusCode::CREATED);
    eventually(Duration::from_secs(10), "the first attempt", || async {
        (!receiver.requests().is_empty()).then_some(())
    })
    .await;
    // 500, then retries at about 5 s, 5 min and 30 min (manual clock), then 200.
    for (attempts, wait_ms) in [(2, 7_000), (3, 7 * 60_000), (4, 40 * 60_000)] {
        app.clock.advance_ms(wait_ms);
        eventually(Duration::from_secs(10), "a retry", || async {
            (receiver.requests().len() >= attempts).then_some(())
        })
        .await;
    }
    let requests = receiver.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    for request in &requests {
        assert!(
            signature_verifies(&secret, request),
            "signature of {request:?}"
        );
    }
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.starts_with("evt_")),
        "one message id across retries: {ids:?}"
    );
    let body: Value = serde_json::from_str(&requests[3].body).expect("JSON");
    assert_eq!(
        (
            body["type"].as_str(),
            body["data"]["threshold_pct"].as_i64()
        ),
        (Some("alert.fired"), Some(80))
    );

    let deliveries = eventually(Duration::from_secs(10), "the outcome recorded", || async {
        let reply = app
            .get(&format!("/v1/webhooks/{webhook}/deliveries"), &key)
            .await;
        (reply.body["items"][0]["status"] == "delivered").then_some(reply.body)
    })
    .await;
    let log = deliveries["items"][0]["attempt_log"]
        .as_array()
        .expect("attempts");
    let outcomes: Vec<Value> = log.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(outcomes, [json!(500), json!(500), json!(500), json!(200)]);

    // A test send goes out at once.
    let test = app
        .post(&format!("/v1/webhooks/{webhook}/test"), &key, json!({}))
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    eventually(Duration::from_secs(10), "the test delivery", || async {
        receiver
            .requests()
            .iter()
            .any(|r| r.body.contains("webhook.test"))
            .then_some(())
    })
    .await;

    let bad = app
        .post(
            "/v1/webhooks",
            &key,
            json!({"url": "ftp://x", "events": []}),
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let bad = app
        .post(
            "/v1/webhooks",
            &key,
            json!({"url": receiver.url, "events": ["*"], "secret": "short"}),
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let other = app.tenant("Other").await;
    let hidden = app
        .get(&format!("/v1/webhooks/{webhook}/deliveries"), &other)
        .await;
    hidden.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let deleted = app.delete(&format!("/v1/webhooks/{webhook}"), &key).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(app.get("/v1/webhooks", &key).await.body["items"], json!([]));
    // A recipient group naming the deleted webhook sends it nothing more.
    let before = app
        .get(
            &format!("/v1/webhooks/{webhook}/deliveries?limit=1000"),
            &key,
        )
        .await
        .body["items"]
        .as_array()
        .map(Vec::len);
    let groups = json!({"groups": {"sales": [{"webhook_id": webhook}]}});
    let put = app
        .call(
            Method::PUT,
            "/v1/settings/recipients",
            Some(&key),
            Some(&groups),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let other_pool = app
        .pool(&key, json!({"name": "More seats", "capacity": 10}))
        .await;
    assert_eq!(
        app.hold(&key, &other_pool, 8).await.status,
        StatusCode::CREATED
    );
    let after = app
        .get(
            &format!("/v1/webhooks/{webhook}/deliveries?limit=1000"),
            &key,
        )
        .await
        .body["items"]
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after);
}

/// A minimal SMTP server: accepts every message and keeps its DATA.
#[tokio::test]
async fn by_default_webhooks_never_reach_private_or_local_addresses() {
    let app = crate::helpers::spawn_configured(
        tempfile::tempdir().expect("a temporary directory"),
        Options::default(),
        |config| config.delivery.allow_private = false,
    )
    .await;
    let key = app.tenant("Acme").await;
    let receiver = Receiver::start(&[]).await;
    // An address inside is refused when the webhook is registered.
    for url in [
        receiver.url.clone(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let refused = app
            .post("/v1/webhooks", &key, json!({"url": url, "events": ["*"]}))
            .await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "validation");
        assert_eq!(refused.error_fields(), ["url"], "{url}");
    }
    // A name is checked when it is resolved: localhost is inside, so nothing is sent.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let created = app
        .post(
            "/v1/webhooks",
            &key,
            json!({"url": by_name, "events": ["*"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let webhook = created.body["id"].as_str().expect("an id").to_owned();
    let test = app
        .post(&format!("/v1/webhooks/{webhook}/test"), &key, json!({}))
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let error = eventually(Duration::from_secs(10), "the refused attempt", || async {
        let reply = app
            .get(&format!("/v1/webhooks/{webhook}/deliveries"), &key)
            .await;
        reply.body["items"][0]["attempt_log"][0]["error"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert!(error.contains("has no public address"), "{error}");
    assert!(
        receiver.requests().is_empty(),
        "nothing reached the receiver"
    );
}

async fn smtp_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("an address");
    let messages: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = messages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 test SMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(message) = data.as_mut() {
                        if line == "." {
                            kept.lock()
                                .expect("not poisoned")
                                .push(std::mem::take(message));
                            data = None;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            message.push_str(&line);
                            message.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 test\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(answer).await;
                }
            });
        }
    });
    (format!("smtp://{address}"), messages)
}

#[tokio::test]
async fn alerts_reach_a_recipient_group_by_e_mail() {
    let (url, messages) = smtp_server().await;
    let app = spawn_app_with(Options {
        manual_clock: true,
        smtp: Some(allot_server::delivery::SmtpConfig {
            url,
            from: "allot <alerts@example.com>".to_owned(),
        }),
        ..Options::default()
    })
    .await;
    let key = app.tenant("Mailing").await;
    let groups = json!({"groups": {"sales": [{"email": "sales@example.com"}]}});
    let put = app
        .call(
            Method::PUT,
            "/v1/settings/recipients",
            Some(&key),
            Some(&groups),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(app.get("/v1/settings/recipients", &key).await.body, groups);
    let bad = app
        .call(
            Method::PUT,
            "/v1/settings/recipients",
            Some(&key),
            Some(&json!({"groups": {"sales": [{"email": "not an address"}]}})),
            &[],
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");

    let pool = app
        .pool(
            &key,
            json!({"name": "Learners", "unit": "learners", "capacity": 10}),
        )
        .await;
    assert_eq!(app.hold(&key, &pool, 8).await.status, StatusCode::CREATED);
    let message = eventually(Duration::from_secs(10), "the e-mail", || async {
        messages.lock().expect("not poisoned").first().cloned()
    })
    .await;
    assert!(message.contains("To: sales@example.com"), "{message}");
    assert!(message.contains(&pool), "{message}");
    assert!(message.contains("Subject: [allot] info"), "{message}");
}

#[tokio::test]
async fn a_finished_ticket_job_is_announced_by_e_mail_and_webhook() {
    let (url, messages) = smtp_server().await;
    let app = spawn_app_with(Options {
        smtp: Some(allot_server::delivery::SmtpConfig {
            url,
            from: "allot <jobs@example.edu>".to_owned(),
        }),
        ..Options::default()
    })
    .await;
    let key = app.tenant("Registrar").await;
    let groups = json!({"groups": {"operations": [{"email": "ops@example.edu"}]}});
    let put = app
        .call(
            Method::PUT,
            "/v1/settings/recipients",
            Some(&key),
            Some(&groups),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let receiver = Receiver::start(&[]).await;
    let hook = app
        .post(
            "/v1/webhooks",
            &key,
            json!({"url": receiver.url, "events": ["job.completed"]}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);

    // A graduation of 3 seats, 4 graduates: 3 tickets, 1 without a seat.
    let event = app
        .pool(&key, json!({"name": "Graduation", "capacity": 3}))
        .await;
    let rows: Vec<Value> = (1..=4)
        .map(|i| json!({"external_id": format!("g{i}"), "name": format!("Graduate {i}")}))
        .collect();
    let imported = app
        .post(
            &format!("/v1/pools/{event}/attendees"),
            &key,
            Value::Array(rows),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    let started = app
        .post(
            &format!("/v1/pools/{event}/tickets/generate"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let job = started.body["id"].as_str().expect("a job id").to_owned();

    let message = eventually(Duration::from_secs(30), "the notice by e-mail", || async {
        messages.lock().expect("not poisoned").first().cloned()
    })
    .await;
    assert!(message.contains("To: ops@example.edu"), "{message}");
    assert!(
        message
            .contains("Subject: [allot] job tickets.generate done: 3 created, 0 skipped, 1 failed"),
        "{message}"
    );
    assert!(message.contains(&job), "{message}");
    let notice = eventually(Duration::from_secs(10), "the notice by webhook", || async {
        receiver.requests().first().cloned()
    })
    .await;
    let body: Value = serde_json::from_str(&notice.body).expect("JSON");
    assert_eq!(
        (body["type"].as_str(), body["data"]["job_id"].as_str()),
        (Some("job.completed"), Some(job.as_str()))
    );
    assert_eq!(
        (
            body["data"]["created"].as_i64(),
            body["data"]["failed"].as_i64()
        ),
        (Some(3), Some(1))
    );
    // One notice each, however long the test waits.
    let events = app.get("/v1/events?type=job.completed", &key).await;
    assert_eq!(events.body["items"].as_array().map(Vec::len), Some(1));

    // A job may name the group it tells; a name that is not one is refused.
    let bad = app
        .post(
            &format!("/v1/pools/{event}/tickets/generate"),
            &key,
            json!({"notify": "not a group!"}),
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let named = app
        .post(
            &format!("/v1/pools/{event}/tickets/generate"),
            &key,
            json!({"notify": "registrar"}),
        )
        .await;
    assert_eq!(named.status, StatusCode::ACCEPTED, "{}", named.body);
    let second = named.body["id"].as_str().expect("a job id").to_owned();
    let notice = eventually(Duration::from_secs(30), "the second notice", || async {
        let events = app.get("/v1/events?type=job.completed", &key).await;
        events.body["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|e| e["data"]["job_id"] == second.as_str())
            })
            .cloned()
    })
    .await;
    assert_eq!(notice["data"]["recipients"], json!(["registrar"]));
}

#[tokio::test]
async fn current_conditions_list_pools_nearly_full_with_long_queues_or_none_to_give() {
    let (app, key) = manual_app().await;
    let join = |pool: String, holder: String| {
        let app = &app;
        let key = key.clone();
        async move {
            let reply = app
                .post(
                    &format!("/v1/pools/{pool}/waitlist"),
                    &key,
                    json!({"quantity": 1, "holder": holder}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
    };
    // Nearly full: 19 of 20. A long queue: one seat, taken, and 11 in line. Nothing to give:
    // capacity 0 with one in line. Quiet: half full.
    let full = app
        .pool(&key, json!({"name": "Floor", "capacity": 20}))
        .await;
    assert_eq!(app.hold(&key, &full, 19).await.status, StatusCode::CREATED);
    let queued = app.pool(&key, json!({"name": "Box", "capacity": 1})).await;
    assert_eq!(app.hold(&key, &queued, 1).await.status, StatusCode::CREATED);
    for i in 0..11 {
        join(queued.clone(), format!("buyer{i}")).await;
    }
    let closed = app
        .pool(&key, json!({"name": "Balcony", "capacity": 0}))
        .await;
    join(closed.clone(), "ana".into()).await;
    let quiet = app
        .pool(&key, json!({"name": "Stalls", "capacity": 10}))
        .await;
    assert_eq!(app.hold(&key, &quiet, 5).await.status, StatusCode::CREATED);

    let current = app.get("/v1/alerts/current", &key).await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.body);
    let listed: Vec<(String, Vec<String>)> = current.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let kinds = item["conditions"]
                .as_array()
                .expect("conditions")
                .iter()
                .map(|c| c["type"].as_str().unwrap_or("?").to_owned())
                .collect();
            (item["pool_id"].as_str().unwrap_or("?").to_owned(), kinds)
        })
        .collect();
    let mut expected = vec![
        (full.clone(), vec!["nearly_full".to_owned()]),
        (
            queued.clone(),
            vec!["nearly_full".to_owned(), "long_queue".to_owned()],
        ),
        (
            closed.clone(),
            vec!["no_capacity_with_people_waiting".to_owned()],
        ),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(current.body["next_cursor"], Value::Null);

    // One at a time, following the cursor, the same pools.
    let first = app.get("/v1/alerts/current?limit=1", &key).await;
    assert_eq!(first.body["items"][0]["pool_id"], expected[0].0.as_str());
    let cursor = first.body["next_cursor"].as_str().expect("a cursor");
    let second = app
        .get(&format!("/v1/alerts/current?limit=1&cursor={cursor}"), &key)
        .await;
    assert_eq!(second.body["items"][0]["pool_id"], expected[1].0.as_str());
    app.get("/v1/alerts/current?limit=0", &key)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");
}
