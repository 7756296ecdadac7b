//! Who may call what: the admin token, tenant keys and their roles, revocation, and tenant
//! isolation (another tenant's data is 404, never 403, never shown).

use crate::helpers::{ADMIN_TOKEN, TestApp, assert_timestamp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `allot_` and 64 lowercase hex digits.
fn assert_key_format(key: &str) {
    let hex = key
        .strip_prefix("allot_")
        .unwrap_or_else(|| panic!("{key} lacks the allot_ prefix"));
    assert_eq!(hex.len(), 64, "{key}");
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{key}"
    );
}

#[tokio::test]
async fn creating_a_tenant_needs_the_admin_token() {
    let app = spawn_app().await;
    let body = json!({ "name": "Acme" });

    let missing = app
        .call(Method::POST, "/v1/tenants", None, Some(&body), &[])
        .await;
    missing.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");

    let unknown = app
        .post(
            "/v1/tenants",
            &format!("allot_{}", "0".repeat(64)),
            body.clone(),
        )
        .await;
    unknown.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");

    let basic = app
        .call(
            Method::POST,
            "/v1/tenants",
            None,
            Some(&body),
            &[("authorization", "Basic dXNlcjpwYXNz")],
        )
        .await;
    basic.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");

    let empty_bearer = app
        .call(
            Method::POST,
            "/v1/tenants",
            None,
            Some(&body),
            &[("authorization", "Bearer ")],
        )
        .await;
    empty_bearer.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");

    let created = app.post("/v1/tenants", ADMIN_TOKEN, body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.content_type(), "application/json");
    assert_eq!(created.body["tenant"]["name"], "Acme");
    assert!(created.body["tenant"]["id"].as_str().is_some());
    assert_timestamp(
        created.body["tenant"]["created_at"]
            .as_str()
            .expect("created_at"),
    );
    assert!(created.body["api_key_id"].as_str().is_some());
    let tenant_key = created.body["api_key"].as_str().expect("an api_key");
    assert_key_format(tenant_key);

    // A tenant's own admin key is a valid key, but not the super-admin: 403, not 401.
    let by_tenant = app.post("/v1/tenants", tenant_key, body.clone()).await;
    by_tenant.assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let nameless = app
        .post("/v1/tenants", ADMIN_TOKEN, json!({ "name": "  " }))
        .await;
    nameless.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(nameless.error_fields(), ["name"]);
}

#[tokio::test]
async fn admins_create_random_keys_that_are_listed_without_secrets_and_can_be_revoked() {
    let app = spawn_app().await;
    let admin = app.tenant("Acme").await;

    let operator = app
        .post("/v1/api-keys", &admin, json!({"role": "operator"}))
        .await;
    assert_eq!(operator.status, StatusCode::CREATED, "{}", operator.body);
    assert_eq!(operator.body["role"], "operator");
    let operator_id = operator.body["id"].as_str().expect("a key id").to_owned();
    let operator_key = operator.body["api_key"]
        .as_str()
        .expect("a secret")
        .to_owned();
    let viewer = app
        .post("/v1/api-keys", &admin, json!({"role": "viewer"}))
        .await;
    assert_eq!(viewer.status, StatusCode::CREATED, "{}", viewer.body);
    assert_eq!(viewer.body["role"], "viewer");
    let viewer_id = viewer.body["id"].as_str().expect("a key id").to_owned();
    let viewer_key = viewer.body["api_key"]
        .as_str()
        .expect("a secret")
        .to_owned();

    for key in [&admin, &operator_key, &viewer_key] {
        assert_key_format(key);
    }
    assert_ne!(operator_key, viewer_key);
    assert_ne!(operator_key, admin);
    assert_ne!(viewer_key, admin);
    assert_ne!(operator_id, viewer_id);

    let bad_role = app
        .post("/v1/api-keys", &admin, json!({"role": "root"}))
        .await;
    bad_role.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(bad_role.error_fields(), ["role"]);

    let listed = app.get("/v1/api-keys", &admin).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        3,
        "admin, operator and viewer: {}",
        listed.body
    );
    let mut roles: Vec<&str> = items.iter().filter_map(|k| k["role"].as_str()).collect();
    roles.sort_unstable();
    assert_eq!(roles, ["admin", "operator", "viewer"]);
    let text = listed.body.to_string();
    for secret in [&admin, &operator_key, &viewer_key] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is listed: {text}"
        );
        assert!(!text.contains(&secret["allot_".len()..]), "{text}");
    }
    for item in items {
        let mut fields: Vec<&String> = item.as_object().expect("an object").keys().collect();
        fields.sort_unstable();
        assert_eq!(fields, ["created_at", "id", "role"], "{item}");
        assert_timestamp(item["created_at"].as_str().expect("created_at"));
    }

    // Only admins manage keys.
    for key in [&operator_key, &viewer_key] {
        app.get("/v1/api-keys", key)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.post("/v1/api-keys", key, json!({"role": "admin"}))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.delete(&format!("/v1/api-keys/{viewer_id}"), key)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }

    // Works before revocation, 401 right after.
    assert_eq!(
        app.get("/v1/pools", &operator_key).await.status,
        StatusCode::OK
    );
    let revoked = app
        .delete(&format!("/v1/api-keys/{operator_id}"), &admin)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body, json!({"revoked": true}));
    app.get("/v1/pools", &operator_key)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    app.hold(&operator_key, "pool_x", 1)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let again = app
        .delete(&format!("/v1/api-keys/{operator_id}"), &admin)
        .await;
    again.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let listed = app.get("/v1/api-keys", &admin).await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&operator_id.as_str()));

    // Another tenant cannot revoke this tenant's key.
    let other = app.tenant("Globex").await;
    app.delete(&format!("/v1/api-keys/{viewer_id}"), &other)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(
        app.get("/v1/pools", &viewer_key).await.status,
        StatusCode::OK
    );
    let other_keys = app.get("/v1/api-keys", &other).await;
    assert_eq!(other_keys.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_viewer_reads_and_an_operator_holds_but_neither_manages_pools() {
    let app = spawn_app().await;
    let admin = app.tenant("Acme").await;
    let operator = app.key(&admin, "operator").await;
    let viewer = app.key(&admin, "viewer").await;
    let pool = app
        .pool(&admin, json!({"name": "Hall", "capacity": 10}))
        .await;

    // The viewer reads everything.
    for path in [
        "/v1/pools".to_owned(),
        format!("/v1/pools/{pool}"),
        format!("/v1/pools/{pool}/availability?quantity=2"),
        format!("/v1/pools/{pool}/totals"),
        format!("/v1/pools/{pool}/ledger"),
        "/v1/holds".to_owned(),
    ] {
        let reply = app.get(&path, &viewer).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
    // ...and changes nothing.
    app.hold(&viewer, &pool, 1)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post("/v1/pools", &viewer, json!({"name": "X", "capacity": 1}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&format!("/v1/pools/{pool}"), &viewer, json!({"name": "X"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // The operator holds, confirms, releases and extends.
    let first = app.hold(&operator, &pool, 3).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let first = first.body["id"].as_str().expect("a hold id").to_owned();
    let second = app.hold(&operator, &pool, 2).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    let second = second.body["id"].as_str().expect("a hold id").to_owned();

    app.post(&format!("/v1/holds/{first}/confirm"), &viewer, json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post(&format!("/v1/holds/{second}/release"), &viewer, json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post(
        &format!("/v1/holds/{second}/extend"),
        &viewer,
        json!({"ttl_seconds": 60}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let confirmed = app
        .post(&format!("/v1/holds/{first}/confirm"), &operator, json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let extended = app
        .post(
            &format!("/v1/holds/{second}/extend"),
            &operator,
            json!({"ttl_seconds": 60}),
        )
        .await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.body);
    let released = app
        .post(&format!("/v1/holds/{second}/release"), &operator, json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body["status"], "released");

    // The operator does not manage pools or keys.
    app.post("/v1/pools", &operator, json!({"name": "X", "capacity": 1}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.patch(
        &format!("/v1/pools/{pool}"),
        &operator,
        json!({"capacity": 1000}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let state = app.pool_state(&viewer, &pool).await;
    assert_eq!(state["capacity"], 10, "the refused patch changed nothing");
    assert_eq!(state["name"], "Hall");
    assert_eq!(
        (state["held"].as_i64(), state["committed"].as_i64()),
        (Some(0), Some(3))
    );
    let pools = app.get("/v1/pools", &viewer).await;
    assert_eq!(pools.body["items"].as_array().map(Vec::len), Some(1));
}

/// Every way tenant B could reach tenant A's pool or hold: 404 wherever B's role may act at all.
/// Where the role itself forbids the step, the answer is the same 403 for any id, existing or not,
/// so it tells nothing about A.
async fn assert_invisible(app: &TestApp, key: &str, role: &str, pool: &str, hold: &str) {
    let gets = [
        format!("/v1/pools/{pool}"),
        format!("/v1/pools/{pool}/totals"),
        format!("/v1/pools/{pool}/availability"),
        format!("/v1/pools/{pool}/ledger"),
        format!("/v1/holds/{hold}"),
    ];
    for path in gets {
        let reply = app.get(&path, key).await;
        reply.assert_problem(StatusCode::NOT_FOUND, "not-found");
    }
    let may_hold = role != "viewer";
    let may_patch = role == "admin";
    let posts = [
        (format!("/v1/holds/{hold}/confirm"), json!({})),
        (format!("/v1/holds/{hold}/release"), json!({})),
        (
            format!("/v1/holds/{hold}/extend"),
            json!({"ttl_seconds": 60}),
        ),
    ];
    for (path, body) in posts {
        let reply = app.post(&path, key, body.clone()).await;
        if may_hold {
            reply.assert_problem(StatusCode::NOT_FOUND, "not-found");
        } else {
            reply.assert_problem(StatusCode::FORBIDDEN, "forbidden");
            let nowhere = path.replace(hold, "hold_nope");
            let same = app.post(&nowhere, key, body).await;
            assert_eq!(same.body, reply.body, "the 403 does not depend on the hold");
        }
    }
    let held = app.hold(key, pool, 1).await;
    if may_hold {
        held.assert_problem(StatusCode::NOT_FOUND, "not-found");
        assert_eq!(held.body["pool_id"], pool);
    } else {
        held.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let patch = json!({"name": "Mine now", "capacity": 1, "active": false});
    let patched = app
        .patch(&format!("/v1/pools/{pool}"), key, patch.clone())
        .await;
    if may_patch {
        patched.assert_problem(StatusCode::NOT_FOUND, "not-found");
    } else {
        patched.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        let same = app.patch("/v1/pools/pool_nope", key, patch).await;
        assert_eq!(
            same.body, patched.body,
            "the 403 does not depend on the pool"
        );
    }
    assert!(!held.body.to_string().contains("Acme"));
    assert!(!patched.body.to_string().contains("Acme"));
}

#[tokio::test]
async fn a_tenant_never_sees_or_touches_another_tenants_pools_or_holds() {
    let app = spawn_app().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Globex").await;
    let b_operator = app.key(&b, "operator").await;
    let b_viewer = app.key(&b, "viewer").await;

    let event = app
        .pool(&a, json!({"name": "Acme secret gala", "capacity": 10}))
        .await;
    let section = app
        .pool(
            &a,
            json!({"name": "Acme VIP", "capacity": 5, "parent_id": event}),
        )
        .await;
    let hold = app.hold(&a, &section, 2).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let hold = hold.body["id"].as_str().expect("a hold id").to_owned();
    let before_pool = app.pool_state(&a, &section).await;
    let before_hold = app.get(&format!("/v1/holds/{hold}"), &a).await.body;

    for (key, role) in [
        (&b, "admin"),
        (&b_operator, "operator"),
        (&b_viewer, "viewer"),
    ] {
        assert_invisible(&app, key, role, &section, &hold).await;
        assert_invisible(&app, key, role, &event, &hold).await;
    }

    // B cannot hang a pool under A's either; the answer names no A data.
    let adopted = app
        .post(
            "/v1/pools",
            &b,
            json!({"name": "Stowaway", "capacity": 1, "parent_id": event}),
        )
        .await;
    adopted.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(adopted.error_fields(), ["parent_id"]);

    // B's lists are empty, whatever the filter.
    for path in [
        "/v1/pools".to_owned(),
        format!("/v1/pools?parent_id={event}"),
        "/v1/holds".to_owned(),
        "/v1/holds?status=held".to_owned(),
    ] {
        let listed = app.get(&path, &b_viewer).await;
        assert_eq!(listed.status, StatusCode::OK, "{path}: {}", listed.body);
        assert_eq!(listed.body["items"], json!([]), "{path}");
        assert!(!listed.body.to_string().contains("Acme"), "{path}");
    }

    // B's own pool and hold are invisible to A in turn, and A's are untouched.
    let b_pool = app
        .pool(&b, json!({"name": "Globex hall", "capacity": 3}))
        .await;
    let b_hold = app.hold(&b_operator, &b_pool, 1).await;
    assert_eq!(b_hold.status, StatusCode::CREATED, "{}", b_hold.body);
    let b_hold = b_hold.body["id"].as_str().expect("a hold id").to_owned();
    assert_invisible(&app, &a, "admin", &b_pool, &b_hold).await;
    let a_pools = app.get("/v1/pools", &a).await;
    let names: Vec<&str> = a_pools.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&"Globex hall"));
    let a_holds = app.get("/v1/holds", &a).await;
    let hold_ids: Vec<&Value> = a_holds.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| &h["id"])
        .collect();
    assert_eq!(hold_ids, [&json!(hold)]);

    assert_eq!(app.pool_state(&a, &section).await, before_pool);
    assert_eq!(
        app.get(&format!("/v1/holds/{hold}"), &a).await.body,
        before_hold
    );
}

#[tokio::test]
async fn the_admin_token_is_refused_on_tenant_routes() {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    let hold = app.hold(&key, &pool, 1).await;
    let hold = hold.body["id"].as_str().expect("a hold id").to_owned();

    for path in [
        "/v1/pools".to_owned(),
        format!("/v1/pools/{pool}"),
        format!("/v1/pools/{pool}/ledger"),
        "/v1/holds".to_owned(),
        format!("/v1/holds/{hold}"),
        "/v1/api-keys".to_owned(),
    ] {
        app.get(&path, ADMIN_TOKEN)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let posts = [
        ("/v1/pools".to_owned(), json!({"name": "X", "capacity": 1})),
        (
            "/v1/holds".to_owned(),
            json!({"lines": [{"pool_id": pool, "quantity": 1}]}),
        ),
        (format!("/v1/holds/{hold}/confirm"), json!({})),
        ("/v1/api-keys".to_owned(), json!({"role": "admin"})),
    ];
    for (path, body) in posts {
        app.post(&path, ADMIN_TOKEN, body)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    app.patch(
        &format!("/v1/pools/{pool}"),
        ADMIN_TOKEN,
        json!({"name": "X"}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(
        (state["held"].as_i64(), state["committed"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(state["name"], "Hall");
}

#[tokio::test]
async fn a_retried_tenant_creation_makes_one_tenant_and_never_replays_the_secret() {
    let app = spawn_app().await;
    let retry = [("idempotency-key", "onboard-acme")];
    let body = json!({"name": "Acme"});
    let first = app
        .call(
            reqwest::Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&body),
            &retry,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let secret = first.body["api_key"]
        .as_str()
        .expect("the secret, once")
        .to_owned();

    let again = app
        .call(
            reqwest::Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&body),
            &retry,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        again.body["tenant"], first.body["tenant"],
        "the same tenant"
    );
    assert_eq!(again.body["api_key_id"], first.body["api_key_id"]);
    assert!(
        again.body["api_key"].is_null(),
        "the secret is not stored, so not replayed: {}",
        again.body
    );
    assert!(!again.body.to_string().contains(&secret));
    // The first secret is the tenant's only key.
    let keys = app.get("/v1/api-keys", &secret).await;
    assert_eq!(keys.body["items"].as_array().map(Vec::len), Some(1));

    let other = app
        .call(
            reqwest::Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&json!({"name": "Globex"})),
            &retry,
        )
        .await;
    other.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-mismatch");
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_no_other_caller_is_slowed() {
    let app = crate::helpers::spawn_configured(
        tempfile::tempdir().expect("a temporary directory"),
        crate::helpers::Options::default(),
        |config| config.rate_limit = std::num::NonZeroU32::new(5),
    )
    .await;
    let (busy, calm) = (app.tenant("Busy").await, app.tenant("Calm").await);
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..30 {
        let reply = app
            .call_raw(Method::GET, "/v1/pools", Some(&busy), None, &[])
            .await;
        statuses.push(reply.status);
        if reply.status == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some(reply);
        }
    }
    // A burst of five goes through, then the key waits for its rate.
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let limited = limited.expect("some requests over the rate are refused");
    limited.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("a Retry-After in seconds");
    assert_eq!(retry, 1, "a 5-per-second key waits under a second");
    assert_eq!(limited.json()["retry_after_seconds"], retry);
    // Another tenant's key and the super-admin token are not held back by it.
    let other = app.get("/v1/pools", &calm).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    for _ in 0..10 {
        let admin = app.get("/v1/api-keys", ADMIN_TOKEN).await;
        assert_ne!(admin.status, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn browsers_on_a_configured_origin_may_call_the_api_and_others_get_no_cors_headers() {
    let app = crate::helpers::spawn_configured(
        tempfile::tempdir().expect("a temporary directory"),
        crate::helpers::Options::default(),
        |config| config.cors_origins = vec!["https://app.example.com".to_owned()],
    )
    .await;
    let preflight = app
        .call_raw(
            Method::OPTIONS,
            "/v1/holds",
            None,
            None,
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type,idempotency-key",
                ),
            ],
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let key = app.tenant("Acme").await;
    let from_app = pools_from(&app, &key, "https://app.example.com").await;
    assert_eq!(from_app.status, StatusCode::OK);
    assert_eq!(
        from_app.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let elsewhere = pools_from(&app, &key, "https://evil.example").await;
    assert_eq!(elsewhere.header("access-control-allow-origin"), None);

    // Without the setting, no origin gets CORS headers.
    let plain = spawn_app().await;
    let key = plain.tenant("Acme").await;
    let reply = pools_from(&plain, &key, "https://app.example.com").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

/// Lists pools as a browser page on `origin` would.
async fn pools_from(app: &TestApp, key: &str, origin: &str) -> crate::helpers::RawReply {
    app.call_raw(
        Method::GET,
        "/v1/pools",
        Some(key),
        None,
        &[("origin", origin)],
    )
    .await
}
