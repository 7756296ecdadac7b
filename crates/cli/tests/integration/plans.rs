//! Plans and member quotas (memberships), and campaign quotas' consumption rules: the wrong unit is
//! refused, and one subject is consumed once.

use crate::helpers::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put_member(
    app: &TestApp,
    key: &str,
    plan: &str,
    subject: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let reply = app
        .call(
            Method::PUT,
            &format!("/v1/plans/{plan}/members/{subject}"),
            Some(key),
            body.as_ref(),
            &[],
        )
        .await;
    (reply.status, reply.body)
}

/// A volunteer membership plan: 30 shifts each.
async fn volunteer_plan(app: &TestApp, key: &str) -> String {
    let created = app
        .post(
            "/v1/plans",
            key,
            json!({"name": "Volunteer", "unit": "shifts", "capacity": 30}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().expect("a plan id").to_owned()
}

/// Members `m00000`, `m00001`, … of `plan`, added by 64 clients at once: (index, quota pool id),
/// in index order.
async fn put_members(
    app: &std::sync::Arc<TestApp>,
    key: &str,
    plan: &str,
    count: usize,
) -> Vec<(usize, String)> {
    const CLIENTS: usize = 64;
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (app, key, plan) = (app.clone(), key.to_owned(), plan.to_owned());
        tasks.spawn(async move {
            let mut pools = Vec::new();
            for index in (client..count).step_by(CLIENTS) {
                let (status, pool) =
                    put_member(&app, &key, &plan, &format!("m{index:05}"), None).await;
                assert_eq!(status, StatusCode::CREATED, "{pool}");
                pools.push((index, pool["id"].as_str().expect("an id").to_owned()));
            }
            pools
        });
    }
    let mut pools = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        pools.extend(joined.expect("a member task"));
    }
    pools.sort();
    pools
}

#[tokio::test]
async fn members_get_quotas_from_their_plan_with_a_history_of_reasons() {
    let app = spawn_app().await;
    let key = app.tenant("Club").await;
    let created = app
        .post(
            "/v1/plans",
            &key,
            json!({"name": "Gold", "unit": "credits", "capacity": 100, "hard_limit_pct": 110}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let plan = created.body["id"].as_str().expect("a plan id").to_owned();
    assert_eq!(
        created.body["thresholds"].as_array().map(Vec::len),
        Some(4),
        "the default campaign thresholds"
    );

    let (status, pool) = put_member(&app, &key, &plan, "member-7", None).await;
    assert_eq!(status, StatusCode::CREATED, "{pool}");
    assert_eq!(
        (
            pool["unit"].as_str(),
            pool["capacity"].as_i64(),
            pool["limit"].as_i64()
        ),
        (Some("credits"), Some(100), Some(110))
    );
    let (again, same) = put_member(&app, &key, &plan, "member-7", None).await;
    assert_eq!(
        (again, same["id"].clone()),
        (StatusCode::OK, pool["id"].clone()),
        "one quota per member and plan"
    );
    let pool_id = pool["id"].as_str().expect("a pool id").to_owned();

    let spend = json!({"lines": [{"pool_id": pool_id, "quantity": 30, "unit": "credits"}], "confirm": true, "reason": "workshop booking"});
    let reply = app.post("/v1/holds", &key, spend).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let adjust = app
        .patch(
            &format!("/v1/pools/{pool_id}"),
            &key,
            json!({"capacity": 120, "reason": "loyalty bonus"}),
        )
        .await;
    assert_eq!(adjust.status, StatusCode::OK, "{}", adjust.body);

    let quotas = app.get("/v1/quotas/member-7", &key).await;
    assert_eq!(quotas.status, StatusCode::OK, "{}", quotas.body);
    let quota = &quotas.body["items"][0];
    assert_eq!(
        (
            quota["plan_id"].as_str(),
            quota["used"].as_i64(),
            quota["capacity"].as_i64()
        ),
        (Some(plan.as_str()), Some(30), Some(120))
    );
    assert_eq!(
        quota["flags"],
        json!({"near": false, "at": false, "over": false})
    );
    let history = app
        .get(quota["history"].as_str().expect("a history link"), &key)
        .await;
    let reasons: Vec<&str> = history.body["items"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["created", "workshop booking", "loyalty bonus"]);

    let missing = app.get("/v1/quotas/nobody", &key).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let (status, body) = put_member(&app, &key, "plan_unknown", "member-7", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = put_member(
        &app,
        &key,
        &plan,
        "member-8",
        Some(json!({"parent_id": "pool_nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let other = app.tenant("Other").await;
    let hidden = app.get(&format!("/v1/plans/{plan}"), &other).await;
    hidden.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let listed = app.get("/v1/plans", &key).await;
    assert_eq!(listed.body["items"][0]["members"], 1);

    // A plan's new capacity reaches members made from now on.
    let changed = app
        .patch(&format!("/v1/plans/{plan}"), &key, json!({"capacity": 50}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let (_, newer) = put_member(&app, &key, &plan, "member-9", None).await;
    assert_eq!(newer["capacity"], 50);
    assert_eq!(
        app.pool_state(&key, &pool_id).await["capacity"],
        120,
        "existing members keep theirs"
    );
}

#[tokio::test]
async fn the_wrong_unit_is_refused_and_a_subject_is_consumed_once() {
    let app = spawn_app().await;
    let key = app.tenant("Campaign").await;
    let seats = app
        .pool(
            &key,
            json!({"name": "Seats", "unit": "seats", "capacity": 10}),
        )
        .await;
    let wrong = app
        .post("/v1/holds", &key, json!({"lines": [{"pool_id": seats, "quantity": 1, "unit": "credits"}], "confirm": true}))
        .await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unit-mismatch");
    assert_eq!(wrong.body["unit"], "seats");
    assert_eq!(
        app.counters(&key, &seats).await,
        (0, 0, 10),
        "nothing consumed"
    );

    let learners = app
        .pool(
            &key,
            json!({"name": "Learners", "unit": "learners", "capacity": 5}),
        )
        .await;
    let enrol = json!({"lines": [{"pool_id": learners, "quantity": 1, "unit": "learners"}], "confirm": true, "subject": "learner-42"});
    let first = app.post("/v1/holds", &key, enrol.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = app.post("/v1/holds", &key, enrol.clone()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["id"], first.body["id"], "the first result");
    assert_eq!(
        app.counters(&key, &learners).await,
        (0, 1, 4),
        "counted once"
    );
    // Released, the subject may be counted again.
    let id = first.body["id"].as_str().expect("an id");
    app.post(&format!("/v1/holds/{id}/release"), &key, json!({}))
        .await;
    let third = app.post("/v1/holds", &key, enrol).await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
    assert_ne!(third.body["id"], first.body["id"]);
}

#[tokio::test]
async fn a_bulk_adjustment_over_ten_thousand_members_reports_the_ones_that_cannot_follow() {
    const MEMBERS: usize = 10_000;
    const OVER: usize = 40;
    let app = std::sync::Arc::new(spawn_app().await);
    let key = app.tenant("Association").await;
    let plan = volunteer_plan(&app, &key).await;
    let pools = put_members(&app, &key, &plan, MEMBERS).await;
    // A few members already use 25 shifts: they cannot go down to 20.
    for (_, pool) in pools.iter().take(OVER) {
        let body = json!({"lines": [{"pool_id": pool, "quantity": 25}], "confirm": true});
        assert_eq!(
            app.post("/v1/holds", &key, body).await.status,
            StatusCode::CREATED
        );
    }
    let started = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"plan_id": plan, "capacity": 20, "reason": "season shortened"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert_eq!(started.body["total"], MEMBERS as i64);
    let job = started.body["id"].as_str().expect("a job id").to_owned();
    let done =
        crate::helpers::eventually(std::time::Duration::from_secs(120), "the job", || async {
            let reply = app.get(&format!("/v1/jobs/{job}"), &key).await;
            (reply.body["status"] == "done").then_some(reply.body)
        })
        .await;
    assert_eq!(
        (
            done["done"].as_i64(),
            done["created"].as_i64(),
            done["failed"].as_i64()
        ),
        (
            Some(MEMBERS as i64),
            Some((MEMBERS - OVER) as i64),
            Some(OVER as i64)
        )
    );
    let failures = done["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), OVER);
    assert_eq!(failures[0]["item"], "m00000");
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("below the 25 units"),
        "{}",
        failures[0]
    );
    assert_eq!(
        app.pool_state(&key, &pools[0].1).await["capacity"],
        30,
        "a failure keeps its quota"
    );
    let last = &pools[MEMBERS - 1].1;
    assert_eq!(app.pool_state(&key, last).await["capacity"], 20);
    let history = app.ledger(&key, last).await;
    assert_eq!(
        history.last().map(|e| e["reason"].clone()),
        Some(json!("season shortened"))
    );

    // Named subjects, one unknown: the unknown one is reported, the others adjusted by a delta.
    let started = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"subjects": ["m09999", "nobody"], "delta": 5, "reason": "bonus"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let job = started.body["id"].as_str().expect("a job id").to_owned();
    let done =
        crate::helpers::eventually(std::time::Duration::from_secs(30), "the job", || async {
            let reply = app.get(&format!("/v1/jobs/{job}"), &key).await;
            (reply.body["status"] == "done").then_some(reply.body)
        })
        .await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(done["failures"][0]["item"], "nobody");
    assert_eq!(app.pool_state(&key, last).await["capacity"], 25);

    // A plan change that members follow starts the same job.
    let changed = app
        .patch(
            &format!("/v1/plans/{plan}"),
            &key,
            json!({"capacity": 40, "apply_to_members": true, "reason": "new season"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::ACCEPTED, "{}", changed.body);
    let job = changed.body["job_id"].as_str().expect("a job").to_owned();
    crate::helpers::eventually(
        std::time::Duration::from_secs(120),
        "the plan's job",
        || async {
            let reply = app.get(&format!("/v1/jobs/{job}"), &key).await;
            (reply.body["status"] == "done").then_some(())
        },
    )
    .await;
    assert_eq!(app.pool_state(&key, &pools[0].1).await["capacity"], 40);
    let listed = app.get("/v1/jobs?kind=quotas.adjust&limit=2", &key).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["items"][0]["id"], json!(job), "newest first");
    let rest = listed.body["next_cursor"].as_str().expect("a second page");
    let second = app
        .get(&format!("/v1/jobs?kind=quotas.adjust&cursor={rest}"), &key)
        .await;
    assert_eq!(second.body["items"].as_array().map(Vec::len), Some(1));
    let bad = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"plan_id": plan, "capacity": 5, "delta": 1, "reason": "x"}),
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let missing = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"plan_id": "plan_nope", "capacity": 5, "reason": "x"}),
        )
        .await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn a_bulk_adjustment_queued_before_a_restart_runs_after_it_and_moves_each_member_once() {
    // Three chunks of the job's 500 quotas.
    const MEMBERS: usize = 1_200;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let app = crate::helpers::spawn_configured(dir, Default::default(), |config| {
        config.job_worker = false
    })
    .await;
    let key = app.tenant("Association").await;
    let plan = volunteer_plan(&app, &key).await;
    let app = std::sync::Arc::new(app);
    let pools = put_members(&app, &key, &plan, MEMBERS).await;
    let started = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"plan_id": plan, "delta": 1, "reason": "extra shift"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let job = started.body["id"].as_str().expect("a job id").to_owned();
    let queued = app.get(&format!("/v1/jobs/{job}"), &key).await;
    assert_eq!(queued.body["status"], "queued", "{}", queued.body);

    // Stopped with the job still queued; the restarted server's worker runs it.
    let app = std::sync::Arc::into_inner(app).expect("no task holds the app");
    let app = crate::helpers::spawn_in(app.stop().await, Default::default()).await;
    let done =
        crate::helpers::eventually(std::time::Duration::from_secs(60), "the job", || async {
            let reply = app.get(&format!("/v1/jobs/{job}"), &key).await;
            (reply.body["status"] == "done").then_some(reply.body)
        })
        .await;
    assert_eq!(
        (done["done"].as_i64(), done["failed"].as_i64()),
        (Some(MEMBERS as i64), Some(0)),
        "{done}"
    );
    // Each quota moved by exactly one delta: 31, never 32.
    for (_, pool) in &pools {
        let reply = app.get(&format!("/v1/pools/{pool}"), &key).await;
        assert_eq!(reply.body["capacity"], 31, "{pool}: {}", reply.body);
    }
    let report = allot_store::sqlite::verify(app.data_dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
}
