//! Bad input: every malformed, mistyped, out-of-range, oversized or misrouted request gets a clear
//! 4xx problem+json, writes nothing, and never a 500.

use crate::helpers::{RawReply, TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

/// A tenant's admin key and a pool of 10, with nothing held.
async fn setup() -> (TestApp, String, String) {
    let app = spawn_app().await;
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Hall", "capacity": 10}))
        .await;
    (app, key, pool)
}

async fn send(app: &TestApp, method: Method, path: &str, key: &str, body: &str) -> RawReply {
    app.call_raw(
        method,
        path,
        Some(key),
        Some(body.as_bytes().to_vec()),
        &[JSON],
    )
    .await
}

/// Nothing was held, committed, or added to the ledger; no hold exists.
async fn assert_untouched(app: &TestApp, key: &str, pool: &str) {
    assert_eq!(app.counters(key, pool).await, (0, 0, 10));
    assert_eq!(
        app.ledger(key, pool).await.len(),
        1,
        "only the creation entry"
    );
    assert_eq!(app.get("/v1/holds", key).await.body["items"], json!([]));
}

#[tokio::test]
async fn malformed_json_is_a_malformed_request() {
    let (app, key, pool) = setup().await;
    let bodies = [
        r#"{"lines": ["#.to_owned(),
        r#"{"lines": [{"pool_id": "x", "quantity": 1}]} trailing"#.to_owned(),
        "".to_owned(),
        "not json".to_owned(),
        "{'single': 'quotes'}".to_owned(),
    ];
    for body in &bodies {
        let reply = send(&app, Method::POST, "/v1/holds", &key, body).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "malformed-request");
    }
    let not_utf8 = app
        .call_raw(
            Method::POST,
            "/v1/pools",
            Some(&key),
            Some(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
            &[JSON],
        )
        .await;
    not_utf8.assert_problem(StatusCode::BAD_REQUEST, "malformed-request");
    // Nesting past the parser's limit is refused, not a stack overflow.
    let deep = format!(
        r#"{{"name": "X", "capacity": 1, "metadata": {{"a": {}}}}}"#,
        "[".repeat(100_000)
    );
    let nested = send(&app, Method::POST, "/v1/pools", &key, &deep).await;
    nested.assert_problem(StatusCode::BAD_REQUEST, "malformed-request");
    let top = send(&app, Method::POST, "/v1/holds", &key, &"[".repeat(100_000)).await;
    assert_eq!(top.status, StatusCode::BAD_REQUEST, "{:?}", top.json());
    assert_eq!(top.header("content-type"), Some("application/problem+json"));
    assert_untouched(&app, &key, &pool).await;
}

#[tokio::test]
async fn a_value_of_the_wrong_type_names_its_field() {
    let (app, key, pool) = setup().await;
    let cases = [
        (
            "/v1/holds",
            json!({"lines": [{"pool_id": pool, "quantity": "2"}]}),
            "lines[0].quantity",
        ),
        (
            "/v1/holds",
            json!({"lines": [{"pool_id": pool, "quantity": 1}, {"pool_id": 7, "quantity": 1}]}),
            "lines[1].pool_id",
        ),
        ("/v1/holds", json!({"lines": {"pool_id": pool}}), "lines"),
        (
            "/v1/holds",
            json!({"lines": [{"pool_id": pool, "quantity": 1}], "ttl_seconds": "60"}),
            "ttl_seconds",
        ),
        (
            "/v1/holds",
            json!({"lines": [{"pool_id": pool, "quantity": 1}], "confirm": "yes"}),
            "confirm",
        ),
        (
            "/v1/pools",
            json!({"name": "X", "capacity": true}),
            "capacity",
        ),
        ("/v1/pools", json!({"name": 5, "capacity": 1}), "name"),
        ("/v1/pools", json!({"name": null, "capacity": 1}), "name"),
        (
            "/v1/pools",
            json!({"name": "X", "capacity": 1, "price": {"amount_minor": "10", "currency": "EUR"}}),
            "price.amount_minor",
        ),
    ];
    for (path, body, field) in cases {
        let reply = app.post(path, &key, body.clone()).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
        assert_eq!(reply.error_fields(), [field], "{body} → {}", reply.body);
    }
    let patched = app
        .patch(&format!("/v1/pools/{pool}"), &key, json!({"active": "no"}))
        .await;
    patched.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(patched.error_fields(), ["active"]);
    let array = app.post("/v1/pools", &key, json!([1, 2])).await;
    array.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_untouched(&app, &key, &pool).await;
    assert_eq!(
        app.get("/v1/pools", &key).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(app.pool_state(&key, &pool).await["active"], true);
}

#[tokio::test]
async fn quantities_out_of_range_are_refused_and_nothing_is_written() {
    let (app, key, pool) = setup().await;
    for quantity in [
        "0",
        "-5",
        "9223372036854775807",
        "-9223372036854775808",
        "1000000001",
        "1e30",
        "99999999999999999999",
        "1.5",
        "2.5e0",
        "null",
    ] {
        let body = format!(r#"{{"lines": [{{"pool_id": "{pool}", "quantity": {quantity}}}]}}"#);
        let reply = send(&app, Method::POST, "/v1/holds", &key, &body).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
        let reply = crate::helpers::Reply {
            status: reply.status,
            headers: reply.headers.clone(),
            body: reply.json(),
        };
        assert_eq!(
            reply.error_fields(),
            ["lines[0].quantity"],
            "{quantity}: {}",
            reply.body
        );
        let confirmed = body.replace("]}", r#"], "confirm": true}"#);
        let reply = send(&app, Method::POST, "/v1/holds", &key, &confirmed).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
    assert_untouched(&app, &key, &pool).await;
    // The largest quantity allowed is merely more than there is.
    let huge = app.hold(&key, &pool, 1_000_000_000).await;
    huge.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_untouched(&app, &key, &pool).await;
    // JSON Schema's integer, as the document says: 2.0 and 2e0 are the integer 2.
    for quantity in ["2.0", "2e0"] {
        let body = format!(r#"{{"lines": [{{"pool_id": "{pool}", "quantity": {quantity}}}]}}"#);
        let reply = send(&app, Method::POST, "/v1/holds", &key, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{quantity}: {:?}",
            reply.json()
        );
        assert_eq!(reply.json()["lines"][0]["quantity"], 2, "{quantity}");
    }
    assert_eq!(app.counters(&key, &pool).await, (4, 0, 6));
}

#[tokio::test]
async fn a_body_must_be_sent_as_json() {
    let (app, key, pool) = setup().await;
    let body = json!({"lines": [{"pool_id": pool, "quantity": 1}]}).to_string();
    for headers in [
        vec![],
        vec![("content-type", "text/plain")],
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![("content-type", "application/jsonx")],
    ] {
        let reply = app
            .call_raw(
                Method::POST,
                "/v1/holds",
                Some(&key),
                Some(body.clone().into_bytes()),
                &headers,
            )
            .await;
        reply.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
    }
    let patch = app
        .call_raw(
            Method::PATCH,
            &format!("/v1/pools/{pool}"),
            Some(&key),
            Some(br#"{"capacity": 1}"#.to_vec()),
            &[],
        )
        .await;
    patch.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
    assert_untouched(&app, &key, &pool).await;
    assert_eq!(app.pool_state(&key, &pool).await["capacity"], 10);

    // JSON with parameters, and +json types, are JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let reply = app
            .call_raw(
                Method::PATCH,
                &format!("/v1/pools/{pool}"),
                Some(&key),
                Some(br#"{"name": "Renamed"}"#.to_vec()),
                &[("content-type", content_type)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{content_type}: {:?}",
            reply.json()
        );
    }
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_too_large() {
    let (app, key, pool) = setup().await;
    let holder = "h".repeat(1024 * 1024 + 1);
    let body = json!({"lines": [{"pool_id": pool, "quantity": 1}], "holder": holder}).to_string();
    let reply = send(&app, Method::POST, "/v1/holds", &key, &body).await;
    reply.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");

    let hold = app.hold(&key, &pool, 1).await;
    let hold = hold.body["id"].as_str().expect("a hold id").to_owned();
    let padding = format!(r#"{{"padding": "{}"}}"#, "p".repeat(2 * 1024 * 1024));
    let confirm = send(
        &app,
        Method::POST,
        &format!("/v1/holds/{hold}/confirm"),
        &key,
        &padding,
    )
    .await;
    confirm.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
    assert_eq!(
        app.counters(&key, &pool).await,
        (1, 0, 9),
        "the big confirm did nothing"
    );
    let read = app.get(&format!("/v1/holds/{hold}"), &key).await;
    assert_eq!(read.body["status"], "held");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let (app, key, pool) = setup().await;
    for path in [
        "/v1/nope",
        "/v2/pools",
        "/",
        "/v1/pools/x/y/z",
        "/v1/holds/x/cancel",
    ] {
        let reply = app.get(path, &key).await;
        reply.assert_problem(StatusCode::NOT_FOUND, "not-found");
    }
    let unauthenticated = app.call(Method::GET, "/v1/nope", None, None, &[]).await;
    assert_eq!(unauthenticated.status, StatusCode::NOT_FOUND);
    assert_eq!(unauthenticated.content_type(), "application/problem+json");

    let wrong = [
        (Method::DELETE, "/v1/pools".to_owned()),
        (Method::PUT, format!("/v1/pools/{pool}")),
        (Method::DELETE, format!("/v1/pools/{pool}")),
        (Method::GET, "/v1/tenants".to_owned()),
        (Method::GET, "/v1/holds/hold_x/confirm".to_owned()),
        (Method::PATCH, "/v1/holds".to_owned()),
        (Method::POST, format!("/v1/pools/{pool}/ledger")),
        (Method::GET, "/v1/api-keys/key_x".to_owned()),
    ];
    for (method, path) in wrong {
        let reply = app
            .call(method.clone(), &path, Some(&key), Some(&json!({})), &[])
            .await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            reply.body
        );
        reply.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    }
    assert_untouched(&app, &key, &pool).await;
}

/// Every hold body here is invalid for exactly the field named beside it.
#[tokio::test]
async fn hold_requests_are_validated_field_by_field() {
    let (app, key, pool) = setup().await;
    let line = json!({"pool_id": pool, "quantity": 1});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"lines": []}), "lines"),
        (json!({"lines": vec![line.clone(); 65]}), "lines"),
        (json!({}), "body"),
        (json!({"lines": [line], "ttl_seconds": 0}), "ttl_seconds"),
        (json!({"lines": [line], "ttl_seconds": -1}), "ttl_seconds"),
        (
            json!({"lines": [line], "ttl_seconds": 2_592_001}),
            "ttl_seconds",
        ),
        (json!({"lines": [line], "holder": ""}), "holder"),
        (json!({"lines": [line], "holder": "a\u{0}b"}), "holder"),
        (
            json!({"lines": [line], "holder": "x".repeat(201)}),
            "holder",
        ),
        (json!({"lines": [line], "bogus": 1}), "bogus"),
        (
            json!({"lines": [{"pool_id": pool, "quantity": 1, "price": 5}]}),
            "lines[0]",
        ),
        (
            json!({"lines": [{"pool_id": "../etc/passwd", "quantity": 1}]}),
            "lines[0].pool_id",
        ),
        (
            json!({"lines": [{"pool_id": "", "quantity": 1}]}),
            "lines[0].pool_id",
        ),
        (json!({"lines": [{"quantity": 1}]}), "lines[0]"),
    ];
    for (body, field) in cases {
        let reply = app.post("/v1/holds", &key, body.clone()).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
        let fields = reply.error_fields();
        assert!(
            !fields.is_empty() && fields.iter().all(|f| f.starts_with(field)),
            "{body} should name {field}: {}",
            reply.body
        );
    }
    let sixty_four = json!({"lines": vec![json!({"pool_id": pool, "quantity": 1}); 64]});
    let most = app.post("/v1/holds", &key, sixty_four).await;
    most.assert_problem(StatusCode::CONFLICT, "insufficient-capacity");
    assert_untouched(&app, &key, &pool).await;

    let bad_key = app
        .call(
            Method::POST,
            "/v1/holds",
            Some(&key),
            Some(&json!({"lines": [{"pool_id": pool, "quantity": 1}]})),
            &[("idempotency-key", &"k".repeat(256))],
        )
        .await;
    bad_key.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_eq!(bad_key.error_fields(), ["Idempotency-Key"]);
    assert_untouched(&app, &key, &pool).await;
}

#[tokio::test]
async fn pool_requests_are_validated_field_by_field() {
    let (app, key, pool) = setup().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "X", "capacity": -1}), "capacity"),
        (
            json!({"name": "X", "capacity": 1_000_000_000_001_i64}),
            "capacity",
        ),
        (json!({"name": "X", "capacity": 1.5}), "capacity"),
        (json!({"name": "", "capacity": 1}), "name"),
        (json!({"name": "   ", "capacity": 1}), "name"),
        (json!({"name": "x".repeat(201), "capacity": 1}), "name"),
        (json!({"name": "a\nb", "capacity": 1}), "name"),
        (json!({"name": "X"}), "body"),
        (json!({"name": "X", "capacity": 1, "unit": "Seats"}), "unit"),
        (json!({"name": "X", "capacity": 1, "unit": ""}), "unit"),
        (
            json!({"name": "X", "capacity": 1, "hard_limit_pct": 0}),
            "hard_limit_pct",
        ),
        (
            json!({"name": "X", "capacity": 1, "hard_limit_pct": 1001}),
            "hard_limit_pct",
        ),
        (
            json!({"name": "X", "capacity": 1, "hard_limit_pct": 100, "soft_limit_pct": 101}),
            "soft_limit_pct",
        ),
        (
            json!({"name": "X", "capacity": 1, "price": {"amount_minor": 100, "currency": "eur"}}),
            "price.currency",
        ),
        (
            json!({"name": "X", "capacity": 1, "price": {"amount_minor": 100, "currency": "EURO"}}),
            "price.currency",
        ),
        (
            json!({"name": "X", "capacity": 1, "price": {"amount_minor": -1, "currency": "EUR"}}),
            "price.amount_minor",
        ),
        (
            json!({"name": "X", "capacity": 1, "price": {"amount_minor": 1, "currency": "EUR", "vat": 1}}),
            "price",
        ),
        (
            json!({"name": "X", "capacity": 1, "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"name": "X", "capacity": 1, "metadata": {"blob": "m".repeat(17 * 1024)}}),
            "metadata",
        ),
        (
            json!({"name": "X", "capacity": 1, "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": "X", "capacity": 1, "parent_id": "no such/pool"}),
            "parent_id",
        ),
        (
            json!({"name": "X", "capacity": 1, "parent_id": "pool_nope"}),
            "parent_id",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post("/v1/pools", &key, body.clone()).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
        let fields = reply.error_fields();
        assert!(
            !fields.is_empty() && fields.iter().all(|f| f.starts_with(field)),
            "{body} should name {field}: {}",
            reply.body
        );
    }

    // Every mistake is reported at once.
    let many = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "", "capacity": -1, "unit": "UPPER", "hard_limit_pct": 0}),
        )
        .await;
    many.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let mut fields = many.error_fields();
    fields.sort();
    assert_eq!(fields, ["capacity", "hard_limit_pct", "name", "unit"]);

    let path = format!("/v1/pools/{pool}");
    let patches: Vec<(Value, &str)> = vec![
        (json!({"capacity": -1}), "capacity"),
        (json!({"capacity": "10"}), "capacity"),
        (json!({"name": ""}), "name"),
        (json!({"reason": ""}), "reason"),
        (json!({"hard_limit_pct": 0}), "hard_limit_pct"),
        (
            json!({"price": {"amount_minor": 1, "currency": "eur"}}),
            "price.currency",
        ),
        (json!({"metadata": "text"}), "metadata"),
        (json!({"parent_id": "pool_x"}), "parent_id"),
    ];
    for (body, field) in patches {
        let reply = app.patch(&path, &key, body.clone()).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
        let fields = reply.error_fields();
        assert!(
            !fields.is_empty() && fields.iter().all(|f| f.starts_with(field)),
            "{body} should name {field}: {}",
            reply.body
        );
    }
    assert_untouched(&app, &key, &pool).await;
    let state = app.pool_state(&key, &pool).await;
    assert_eq!(state["name"], "Hall");
    assert_eq!(state["capacity"], 10);
    let pools = app.get("/v1/pools", &key).await;
    assert_eq!(
        pools.body["items"].as_array().map(Vec::len),
        Some(1),
        "no pool was made"
    );

    // Limits and names at the edge are fine.
    let edge = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "é".repeat(200), "capacity": 0, "unit": "learner_seats-2", "hard_limit_pct": 1000}),
        )
        .await;
    assert_eq!(edge.status, StatusCode::CREATED, "{}", edge.body);
    assert_eq!(edge.body["available"], 0);
}

#[tokio::test]
async fn odd_ids_and_queries_are_not_found_or_invalid_never_a_server_error() {
    let (app, key, pool) = setup().await;
    let long = "p".repeat(5_000);
    for path in [
        "/v1/pools/pool_nope".to_owned(),
        "/v1/pools/'%20OR%201=1--".to_owned(),
        "/v1/pools/%00".to_owned(),
        format!("/v1/pools/{long}"),
        "/v1/holds/%E2%9C%93".to_owned(),
        format!("/v1/holds/{long}"),
    ] {
        let reply = app.get(&path, &key).await;
        reply.assert_problem(StatusCode::NOT_FOUND, "not-found");
    }
    for query in [
        "/v1/holds?status=HELD",
        "/v1/holds?limit=-1",
        "/v1/holds?limit=99999999999999999999999",
        "/v1/pools?limit=1.5",
    ] {
        let reply = app.get(query, &key).await;
        reply.assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
    let cursor = app.get("/v1/holds?cursor=", &key).await;
    cursor.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let long_cursor = app.get(&format!("/v1/pools?cursor={long}"), &key).await;
    long_cursor.assert_problem(StatusCode::BAD_REQUEST, "validation");
    assert_untouched(&app, &key, &pool).await;
}

/// A request and the problem it gets: method, path, body (content type, bytes), status, type.
type ErrorCase = (
    Method,
    String,
    Option<(&'static str, String)>,
    StatusCode,
    &'static str,
);

/// Every error the framework itself makes (no route, no such method, a path or query that does
/// not parse, a body that is not JSON, too large, or of the wrong shape), and the docs' own, is
/// problem+json with its documented type.
#[tokio::test]
async fn every_error_path_answers_problem_json() {
    let (app, key, pool) = setup().await;
    let hold = app.hold(&key, &pool, 1).await;
    let hold = hold.body["id"].as_str().expect("a hold id").to_owned();
    let big = format!(
        r#"{{"name": "{}", "capacity": 1}}"#,
        "n".repeat(1024 * 1024)
    );
    let cases: Vec<ErrorCase> = vec![
        (
            Method::GET,
            "/v1/nope".into(),
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::GET,
            "/docs/nope.js".into(),
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::DELETE,
            "/v1/holds".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        (
            Method::POST,
            "/openapi.json".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        // Path parameters that are not UTF-8, on routes with one and with two of them.
        (
            Method::GET,
            "/v1/pools/%00%ff".into(),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            Method::GET,
            "/v1/pools/%ff/totals".into(),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            Method::GET,
            format!("/v1/pools/{pool}/dates/%ff"),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            Method::POST,
            "/v1/holds/%c3%28/confirm".into(),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            Method::GET,
            "/v1/tickets/%ff/qr.png".into(),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        // Query strings that do not parse.
        (
            Method::GET,
            "/v1/holds?limit=x".into(),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            Method::GET,
            "/v1/holds?limit=1&limit=2".into(),
            None,
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        // Bodies.
        (
            Method::POST,
            "/v1/pools".into(),
            Some(("text/plain", "{}".into())),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            Method::POST,
            "/v1/pools".into(),
            Some(("application/json", "{".into())),
            StatusCode::BAD_REQUEST,
            "malformed-request",
        ),
        (
            Method::POST,
            "/v1/pools".into(),
            Some(("application/json", r#"{"name": 1}"#.into())),
            StatusCode::BAD_REQUEST,
            "validation",
        ),
        (
            Method::POST,
            "/v1/pools".into(),
            Some(("application/json", big)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
        (
            Method::POST,
            format!("/v1/holds/{hold}/release"),
            Some(("application/json", "x".repeat(2 * 1024 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
    ];
    for (method, path, body, status, slug) in cases {
        let (bytes, headers) = match &body {
            Some((content_type, body)) => (
                Some(body.clone().into_bytes()),
                vec![("content-type", *content_type)],
            ),
            None => (None, vec![]),
        };
        let reply = app
            .call_raw(method.clone(), &path, Some(&key), bytes, &headers)
            .await;
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.json());
        reply.assert_problem(status, slug);
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(
                reply
                    .header("allow")
                    .is_some_and(|allow| allow.contains("GET")),
                "{method} {path}: a 405 says what is allowed"
            );
        }
    }
    // A path parameter that is not UTF-8 is named as the field that failed.
    let reply = app.get(&format!("/v1/pools/{pool}/dates/%ff"), &key).await;
    assert_eq!(reply.error_fields(), ["date"], "{}", reply.body);
    assert_eq!(
        app.counters(&key, &pool).await,
        (1, 0, 9),
        "nothing was written"
    );
}
