//! Operations: `/metrics` read back with a Prometheus text parser moves with what happens; the
//! writer answers overload with 503 and Retry-After, oversells nothing and recovers; the JSON
//! log of a whole walk-through has one line per request and no secret.

use crate::helpers::*;
use crate::process::{Launch, Server};
use prometheus_parse::{Scrape, Value as Sample};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// `/metrics`, parsed.
async fn scrape(app: &TestApp) -> Scrape {
    let response = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.expect("a body");
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    Scrape::parse(lines).expect("/metrics parses as Prometheus text")
}

/// The value of the sample `name` whose labels include `labels` (a counter or gauge), or a
/// histogram's count; 0 when there is no such sample yet.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .map(|sample| match &sample.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            Sample::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Sample::Summary(_) => 0.0,
        })
        .sum()
}

/// What the families of this test read, in one map, to compare before and after.
fn figures(scrape: &Scrape) -> HashMap<&'static str, f64> {
    let hold_requests = [("route", "/v1/holds"), ("method", "POST")];
    HashMap::from([
        ("granted", value(scrape, "allot_holds_granted_total", &[])),
        (
            "refused_capacity",
            value(
                scrape,
                "allot_holds_refused_total",
                &[("reason", "insufficient_capacity")],
            ),
        ),
        (
            "confirmed",
            value(scrape, "allot_holds_confirmed_total", &[]),
        ),
        ("released", value(scrape, "allot_holds_released_total", &[])),
        ("expired", value(scrape, "allot_holds_expired_total", &[])),
        ("joins", value(scrape, "allot_waitlist_joins_total", &[])),
        (
            "hold_2xx",
            value(
                scrape,
                "allot_http_requests_total",
                &[hold_requests[0], hold_requests[1], ("status", "2xx")],
            ),
        ),
        (
            "hold_4xx",
            value(
                scrape,
                "allot_http_requests_total",
                &[hold_requests[0], hold_requests[1], ("status", "4xx")],
            ),
        ),
        (
            "hold_latency_count",
            value(
                scrape,
                "allot_http_request_duration_seconds",
                &hold_requests,
            ),
        ),
        ("batches", value(scrape, "allot_writer_batches_total", &[])),
        ("batch_sizes", value(scrape, "allot_writer_batch_size", &[])),
    ])
}

#[tokio::test]
async fn metrics_move_when_holds_are_granted_refused_confirmed_released_and_expire() {
    let app = spawn_app_with(Options {
        manual_clock: true,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Metrics").await;
    let pool = app
        .pool(&key, json!({ "name": "Hall", "capacity": 3 }))
        .await;
    let before = scrape(&app).await;
    let start = figures(&before);
    for family in [
        "allot_deliveries_pending",
        "allot_delivery_oldest_pending_age_seconds",
        "allot_jobs_running",
        "allot_writer_queue_depth",
        "allot_store_database_bytes",
        "allot_store_wal_bytes",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_cpu_seconds_total",
    ] {
        assert!(
            before.samples.iter().any(|sample| sample.metric == family),
            "{family} is exported"
        );
    }
    assert!(value(&before, "allot_store_database_bytes", &[]) > 0.0);
    assert!(value(&before, "process_resident_memory_bytes", &[]) > 0.0);

    // Three holds of one: one to confirm, one to release, one to expire; then a refusal.
    let mut holds = Vec::new();
    for _ in 0..3 {
        let reply = app.hold(&key, &pool, 1).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        holds.push(reply.body["id"].as_str().expect("a hold id").to_owned());
    }
    app.hold(&key, &pool, 1)
        .await
        .assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    let confirmed = app
        .post(&format!("/v1/holds/{}/confirm", holds[0]), &key, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let released = app
        .post(&format!("/v1/holds/{}/release", holds[1]), &key, json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    // A retried confirm with the same Idempotency-Key is one confirm, counted once.
    let hold = app.hold(&key, &pool, 1).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let id = hold.body["id"].as_str().expect("a hold id").to_owned();
    for _ in 0..2 {
        let reply = app
            .call(
                reqwest::Method::POST,
                &format!("/v1/holds/{id}/confirm"),
                Some(&key),
                Some(&json!({})),
                &[("idempotency-key", "confirm-once")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    // The third hold's deadline passes (15 minutes by default); the sweeper expires it.
    app.clock.advance_ms(16 * 60 * 1000);

    let after = eventually(Duration::from_secs(10), "the expiry is counted", || async {
        let scrape = scrape(&app).await;
        (figures(&scrape)["expired"] > start["expired"]).then_some(scrape)
    })
    .await;
    let end = figures(&after);
    let moved = |name: &str| end[name] - start[name];
    assert_eq!(moved("granted"), 4.0);
    assert_eq!(moved("refused_capacity"), 1.0);
    assert_eq!(moved("confirmed"), 2.0);
    assert_eq!(moved("released"), 1.0);
    assert_eq!(moved("expired"), 1.0);
    assert_eq!(moved("joins"), 0.0);
    assert_eq!(moved("hold_2xx"), 4.0);
    assert_eq!(moved("hold_4xx"), 1.0);
    assert_eq!(moved("hold_latency_count"), 5.0);
    assert!(moved("batches") >= 7.0, "{}", moved("batches"));
    assert!(moved("batch_sizes") >= 7.0);
    // Routes are labelled by their template, never by an id.
    let routes: Vec<_> = after
        .samples
        .iter()
        .filter(|sample| sample.metric == "allot_http_requests_total")
        .map(|sample| format!("{:?} {:?}", sample.labels, sample.value))
        .collect();
    assert!(
        value(
            &after,
            "allot_http_requests_total",
            &[("route", "/v1/holds/:id/confirm"), ("status", "2xx")]
        ) >= 3.0,
        "{routes:#?}"
    );
    assert!(
        !after
            .samples
            .iter()
            .any(|sample| sample.labels.values().any(|label| label.contains(&pool))),
        "no label carries an id"
    );
    let unknown = app.get("/v1/no-such-route", &key).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let last = scrape(&app).await;
    assert_eq!(
        value(
            &last,
            "allot_http_requests_total",
            &[("route", "unmatched"), ("status", "4xx")]
        ),
        1.0
    );
}

/// What the families of the waiting-list, alert, delivery and job test read.
fn outbox_figures(scrape: &Scrape) -> HashMap<&'static str, f64> {
    let severity = |name| value(scrape, "allot_alerts_fired_total", &[("severity", name)]);
    HashMap::from([
        ("joins", value(scrape, "allot_waitlist_joins_total", &[])),
        ("serves", value(scrape, "allot_waitlist_serves_total", &[])),
        ("lapses", value(scrape, "allot_waitlist_lapses_total", &[])),
        ("alerts_info", severity("info")),
        ("alerts_warning", severity("warning")),
        ("alerts_error", severity("error")),
        ("sent", value(scrape, "allot_deliveries_sent_total", &[])),
        (
            "failed",
            value(scrape, "allot_deliveries_failed_total", &[]),
        ),
        ("pending", value(scrape, "allot_deliveries_pending", &[])),
        ("chunks", value(scrape, "allot_job_chunks_total", &[])),
        ("jobs_running", value(scrape, "allot_jobs_running", &[])),
    ])
}

#[tokio::test]
async fn metrics_move_when_buyers_wait_alerts_fire_deliveries_are_tried_and_jobs_run() {
    let app = spawn_app_with(Options {
        manual_clock: true,
        ..Options::default()
    })
    .await;
    let key = app.tenant("Outbox metrics").await;
    // The receiver refuses the first delivery and takes the rest.
    let receiver = Receiver::start(&[500]).await;
    let hook = app
        .post(
            "/v1/webhooks",
            &key,
            json!({"url": receiver.url, "events": ["alert.fired"]}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let pool = app
        .pool(&key, json!({ "name": "Hall", "capacity": 10 }))
        .await;
    let start = outbox_figures(&scrape(&app).await);

    // 8 of 10 seats: the 80 % alert (info); its delivery is refused once.
    let first = app.hold(&key, &pool, 8).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let failed_once = eventually(Duration::from_secs(10), "a failed attempt", || async {
        let figures = outbox_figures(&scrape(&app).await);
        (figures["failed"] > start["failed"]).then_some(figures)
    })
    .await;
    assert_eq!(failed_once["alerts_info"] - start["alerts_info"], 1.0);
    assert_eq!(failed_once["pending"], 1.0, "waiting for its retry");
    // Its retry, about 5 s later, is delivered.
    app.clock.advance_ms(7_000);
    let delivered = eventually(Duration::from_secs(10), "the retry delivered", || async {
        let figures = outbox_figures(&scrape(&app).await);
        // Counted when sent, and no longer pending once the writer records the attempt.
        (figures["sent"] > start["sent"] && figures["pending"] == 0.0).then_some(figures)
    })
    .await;
    assert_eq!(delivered["sent"] - start["sent"], 1.0);

    // The last two seats (90 % warning and 100 % error), then a buyer in line; a release
    // serves the buyer an offer, which lapses 15 minutes later.
    let last = app.hold(&key, &pool, 2).await;
    assert_eq!(last.status, StatusCode::CREATED, "{}", last.body);
    let joined = app
        .post(
            &format!("/v1/pools/{pool}/waitlist"),
            &key,
            json!({"quantity": 1, "holder": "ana"}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.body);
    let hold_id = last.body["id"].as_str().expect("a hold id");
    let released = app
        .post(&format!("/v1/holds/{hold_id}/release"), &key, json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    app.clock.advance_ms(16 * 60 * 1000);
    let lapsed = eventually(Duration::from_secs(10), "the offer lapses", || async {
        let figures = outbox_figures(&scrape(&app).await);
        (figures["lapses"] > start["lapses"]).then_some(figures)
    })
    .await;
    let moved = |figures: &HashMap<&str, f64>, name: &str| figures[name] - start[name];
    assert_eq!(moved(&lapsed, "joins"), 1.0);
    assert_eq!(moved(&lapsed, "serves"), 1.0);
    assert_eq!(moved(&lapsed, "lapses"), 1.0);
    assert_eq!(moved(&lapsed, "alerts_warning"), 1.0);
    assert_eq!(moved(&lapsed, "alerts_error"), 1.0);

    // A bulk quota change is a job: its chunk is counted, and it stops running.
    let plan = app
        .post(
            "/v1/plans",
            &key,
            json!({"name": "Season", "unit": "credits", "capacity": 10}),
        )
        .await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.body);
    let plan_id = plan.body["id"].as_str().expect("a plan id");
    let member = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/plans/{plan_id}/members/ana"),
            Some(&key),
            Some(&json!({})),
            &[],
        )
        .await;
    assert!(member.status.is_success(), "{}", member.body);
    let job = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"subjects": ["ana"], "delta": 5, "reason": "bonus"}),
        )
        .await;
    assert_eq!(job.status, StatusCode::ACCEPTED, "{}", job.body);
    let done = eventually(Duration::from_secs(30), "the job's chunk", || async {
        let figures = outbox_figures(&scrape(&app).await);
        (figures["chunks"] > start["chunks"] && figures["jobs_running"] == 0.0).then_some(figures)
    })
    .await;
    assert!(moved(&done, "chunks") >= 1.0);
}

#[tokio::test]
async fn a_writer_behind_answers_503_with_retry_after_oversells_nothing_and_recovers() {
    const CAPACITY: i64 = 200;
    const ROUNDS: usize = 30;
    const CONCURRENT: usize = 96;
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let app = spawn_configured(data_dir, Options::default(), |config| {
        // A tiny queue and a wait bound shorter than one commit: a burst cannot all fit.
        config.writer.queue_capacity = 4;
        config.writer.queue_timeout = Duration::from_millis(1);
    })
    .await;
    // With a wait bound this short even setting up may be turned away: retried, as a client would.
    let mut setup_turned_away = 0;
    let tenant = served(&mut setup_turned_away, || {
        app.post("/v1/tenants", ADMIN_TOKEN, json!({ "name": "Rush" }))
    })
    .await;
    let key = tenant.body["api_key"].as_str().expect("a key").to_owned();
    let pool = served(&mut setup_turned_away, || {
        app.post(
            "/v1/pools",
            &key,
            json!({ "name": "Stage", "capacity": CAPACITY }),
        )
    })
    .await;
    let pool = pool.body["id"].as_str().expect("a pool id").to_owned();

    let mut granted = 0i64;
    let mut overloaded = 0usize;
    let mut refused = 0usize;
    // Bursts until one has been turned away (a few rounds at most on any machine), bounded.
    for _ in 0..ROUNDS {
        let replies = futures_join(&app, &key, &pool, CONCURRENT).await;
        for reply in replies {
            match reply.status {
                StatusCode::CREATED => granted += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(reply.problem(), "insufficient-capacity", "{}", reply.body);
                    refused += 1;
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
                    let retry_after = reply
                        .headers
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .expect("a Retry-After");
                    assert_eq!(retry_after, "1");
                    assert_eq!(reply.body["retry_after_seconds"], 1);
                    overloaded += 1;
                }
                other => panic!("unexpected {other}: {}", reply.body),
            }
        }
        if overloaded > 0 && granted >= CAPACITY {
            break;
        }
    }
    assert!(
        overloaded > 0,
        "no burst was turned away in {ROUNDS} rounds"
    );
    assert!(granted <= CAPACITY, "oversold: {granted} of {CAPACITY}");

    // Nothing answered 503 was applied: the pool holds exactly what was granted.
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["held"].as_i64(), Some(granted), "{state}");
    let metrics = scrape(&app).await;
    let turned_away = value(&metrics, "allot_writer_overloaded_total", &[]);
    assert_eq!(turned_away, (overloaded + setup_turned_away) as f64);
    assert_eq!(
        value(
            &metrics,
            "allot_http_requests_total",
            &[("route", "/v1/holds"), ("status", "5xx")]
        ),
        overloaded as f64
    );
    let _ = refused;

    // Load gone: requests one at a time are served again (a lone command may still meet a
    // slow commit in front of it, so it gets a few tries; under load it would not).
    let reply = served(&mut 0, || app.hold(&key, &pool, 1)).await;
    if granted >= CAPACITY {
        reply.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    } else {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let reads = app.get(&format!("/v1/pools/{pool}"), &key).await;
    assert_eq!(reads.status, StatusCode::OK);
}

/// The first answer to `request` that is not a 503, asked again until a deadline; counts the
/// 503s in `turned_away`.
async fn served<F, Fut>(turned_away: &mut usize, mut request: F) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let refused = std::cell::Cell::new(0);
    let reply = eventually(
        Duration::from_secs(10),
        "served with nothing else running",
        || {
            let attempt = request();
            let refused = &refused;
            async move {
                let reply = attempt.await;
                if reply.status == StatusCode::SERVICE_UNAVAILABLE {
                    refused.set(refused.get() + 1);
                    return None;
                }
                Some(reply)
            }
        },
    )
    .await;
    assert!(
        reply.status.is_success() || reply.status == StatusCode::CONFLICT,
        "{}",
        reply.body
    );
    *turned_away += refused.get();
    reply
}

/// `count` single-unit holds on `pool` at once.
async fn futures_join(app: &TestApp, key: &str, pool: &str, count: usize) -> Vec<Reply> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let client = app.client.clone();
        let url = format!("{}/v1/holds", app.base_url);
        let key = key.to_owned();
        let body = json!({ "lines": [{ "pool_id": pool, "quantity": 1 }] });
        tasks.spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("the server answers");
            let status = response.status();
            let headers = response.headers().clone();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            Reply {
                status,
                headers,
                body,
            }
        });
    }
    let mut replies = Vec::with_capacity(count);
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("a request task ends"));
    }
    replies
}

#[tokio::test]
async fn the_json_log_of_a_walk_through_has_each_request_and_no_secret() {
    const TOKEN: &str = "walk-through-admin-token-7f3a9c";
    const EMAIL: &str = "siti.rahma@campus.example";
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let launch = Launch {
        args: vec!["--log-format".into(), "json".into()],
        env: vec![("ALLOT_LOG", "info".into())],
    };
    let mut server = Server::start_with(data_dir.path(), Some(TOKEN), &launch).await;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, token: String, body: Option<Value>| {
        let request = client.request(method, server.url(&path)).bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    use reqwest::Method as M;

    let (status, tenant) = call(
        M::POST,
        "/v1/tenants".into(),
        TOKEN.into(),
        Some(json!({ "name": "Campus" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let admin_key = tenant["api_key"].as_str().expect("a key").to_owned();
    let tenant_id = tenant["tenant"]["id"].as_str().expect("an id").to_owned();
    let (status, key) = call(
        M::POST,
        "/v1/api-keys".into(),
        admin_key.clone(),
        Some(json!({ "role": "admin" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let api_key = key["api_key"].as_str().expect("a key").to_owned();
    let (status, event) = call(
        M::POST,
        "/v1/pools".into(),
        api_key.clone(),
        Some(json!({ "name": "Graduation", "capacity": 10, "unit": "seats" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let event = event["id"].as_str().expect("an id").to_owned();
    let (status, hold) = call(
        M::POST,
        "/v1/holds".into(),
        api_key.clone(),
        Some(json!({ "lines": [{ "pool_id": event, "quantity": 2 }], "holder": "family-9" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    let hold = hold["id"].as_str().expect("an id").to_owned();
    let (status, _) = call(
        M::POST,
        format!("/v1/holds/{hold}/confirm"),
        api_key.clone(),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, imported) = call(
        M::POST,
        format!("/v1/pools/{event}/attendees"),
        api_key.clone(),
        Some(json!([{ "external_id": "s-001", "name": "Siti Rahma", "email": EMAIL }])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    let attendee = imported["attendees"][0]["id"]
        .as_str()
        .expect("an attendee id")
        .to_owned();
    let (status, job) = call(
        M::POST,
        format!("/v1/pools/{event}/tickets/generate"),
        api_key.clone(),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job = job["id"].as_str().expect("a job id").to_owned();
    eventually(Duration::from_secs(20), "the ticket job finishes", || {
        let request = call(M::GET, format!("/v1/jobs/{job}"), api_key.clone(), None);
        async move {
            let (_, job) = request.await;
            (job["status"] == "done").then_some(())
        }
    })
    .await;
    let (_, attendees) = call(
        M::GET,
        format!("/v1/pools/{event}/attendees"),
        api_key.clone(),
        None,
    )
    .await;
    let ticket_id = attendees["items"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["id"] == attendee.as_str()))
        .and_then(|a| a["ticket_id"].as_str())
        .expect("the attendee has a ticket")
        .to_owned();
    let (status, ticket) = call(
        M::GET,
        format!("/v1/tickets/{ticket_id}"),
        api_key.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    let code = ticket["code"].as_str().expect("a code").to_owned();
    let ticket_token = ticket["token"].as_str().expect("a token").to_owned();
    let (status, checked) = call(
        M::POST,
        "/v1/checkins".into(),
        api_key.clone(),
        Some(json!({ "token": ticket_token })),
    )
    .await;
    assert!(status.is_success(), "{status} {checked}");
    // A refused key is logged as a request too, without the key.
    let (status, _) = call(
        M::GET,
        "/v1/pools".into(),
        "allot_not-a-real-key".into(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    server.terminate().await;
    let log = server.stderr();
    for secret in [
        TOKEN,
        admin_key.as_str(),
        api_key.as_str(),
        EMAIL,
        code.as_str(),
        ticket_token.as_str(),
        "allot_not-a-real-key",
    ] {
        assert!(
            !log.contains(secret),
            "the log shows a secret ({secret}):\n{log}"
        );
    }
    let requests: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request")
        .collect();
    let logged = |method: &str, route: &str| {
        requests
            .iter()
            .find(|line| line["fields"]["method"] == method && line["fields"]["route"] == route)
            .unwrap_or_else(|| panic!("no request line for {method} {route}:\n{log}"))
    };
    let tenant_line = logged("POST", "/v1/tenants");
    assert_eq!(tenant_line["level"], "INFO");
    assert_eq!(tenant_line["fields"]["status"], 201);
    assert_eq!(tenant_line["fields"]["tenant_id"], "-");
    for (method, route) in [
        ("POST", "/v1/api-keys"),
        ("POST", "/v1/pools"),
        ("POST", "/v1/holds"),
        ("POST", "/v1/holds/:id/confirm"),
        ("POST", "/v1/pools/:id/attendees"),
        ("POST", "/v1/pools/:id/tickets/generate"),
        ("GET", "/v1/tickets/:id"),
        ("POST", "/v1/checkins"),
    ] {
        let line = logged(method, route);
        assert_eq!(line["fields"]["tenant_id"], tenant_id.as_str(), "{line}");
        assert!(line["fields"]["duration_ms"].as_f64().is_some(), "{line}");
        let id = line["fields"]["request_id"].as_str().expect("a request id");
        assert_eq!(id.len(), 36, "{line}");
    }
    let refused = requests
        .iter()
        .find(|line| line["fields"]["route"] == "/v1/pools" && line["fields"]["status"] == 401)
        .expect("the refused request is logged");
    assert_eq!(refused["fields"]["tenant_id"], "-");
}
