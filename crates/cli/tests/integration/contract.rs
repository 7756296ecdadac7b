//! The OpenAPI document is the contract: what it declares is what the server does. (CI also
//! runs openapi-spec-validator and Schemathesis against a live server; these are the checks a
//! `cargo test` can make on its own.)

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document() -> (crate::helpers::TestApp, Value) {
    let app = spawn_app().await;
    let reply = app
        .call(Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    (app, reply.body)
}

/// The schema a `$ref` names in the document's components.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_parameter_is_where_the_server_reads_it() {
    let (_app, document) = document().await;
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("a parameter name");
                let place = parameter["in"].as_str().expect("where it goes");
                match place {
                    "path" => assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: path parameter {name} is not in the path"
                    ),
                    "query" | "header" => assert!(
                        !path.contains(&format!("{{{name}}}")),
                        "{method} {path}: {name} is in the path"
                    ),
                    other => panic!("{method} {path}: {name} in {other}"),
                }
                if name == "limit" || name == "cursor" {
                    assert_eq!(place, "query", "{method} {path}: {name}");
                }
            }
            if method != "get" {
                assert!(
                    operation["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                    "{method} {path} takes an Idempotency-Key"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_operation_lists_its_errors_as_problems() {
    let (_app, document) = document().await;
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            operations += 1;
            let responses = operation["responses"].as_object().expect("responses");
            let mut expected: Vec<&str> = Vec::new();
            if operation.get("security").is_some() {
                expected.extend(["401", "403", "429"]);
            }
            if path.starts_with("/v1/") {
                expected.push("503");
            }
            if path.contains('{') {
                expected.extend(["400", "404"]);
            }
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "415"]);
            }
            if method != "get" {
                expected.extend(["413", "422"]);
            }
            for status in expected {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not list {status}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Problem",
                        "{method} {path} {status}: {response}"
                    );
                }
                if status == "429" || status == "503" {
                    assert_eq!(
                        response["headers"]["Retry-After"]["schema"]["type"], "integer",
                        "{method} {path} {status} documents Retry-After"
                    );
                }
            }
        }
    }
    assert!(operations > 50, "{operations} operations");
    let problem = &document["components"]["schemas"]["Problem"];
    assert_eq!(
        problem["required"],
        json!(["type", "title", "status", "detail"])
    );
}

#[tokio::test]
async fn the_api_keys_list_answers_what_the_document_says() {
    let (app, document) = document().await;
    let key = app.tenant("Keys").await;
    let answer = app.get("/v1/api-keys", &key).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let schema = &document["paths"]["/v1/api-keys"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let schema = resolve(&document, schema);
    assert_eq!(schema["type"], "object", "{schema}");
    for member in schema["required"].as_array().expect("required members") {
        let member = member.as_str().expect("a name");
        assert!(
            answer.body.get(member).is_some(),
            "{member}: {}",
            answer.body
        );
    }
    let items = answer.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "the tenant's first key");
    assert_eq!(items[0]["role"], "admin");
}

/// The document makes a member's body optional: no body and `null` both mean none.
#[tokio::test]
async fn a_member_is_added_with_no_body_or_null() {
    let app = spawn_app().await;
    let key = app.tenant("Members").await;
    let plan = app
        .post(
            "/v1/plans",
            &key,
            json!({"name": "Gold", "unit": "credits", "capacity": 10}),
        )
        .await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.body);
    let plan = plan.body["id"].as_str().expect("a plan id").to_owned();
    for (subject, body) in [("ann", None), ("bob", Some(b"null".to_vec()))] {
        let reply = app
            .call_raw(
                Method::PUT,
                &format!("/v1/plans/{plan}/members/{subject}"),
                Some(&key),
                body,
                &[("content-type", "application/json")],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{subject}: {:?}",
            reply.json()
        );
    }
}

/// What an operation makes is linked to the operations on it, by the id in its answer.
#[tokio::test]
async fn operations_that_make_a_resource_link_to_the_operations_on_it() {
    let (_app, document) = document().await;
    let links = &document["paths"]["/v1/holds"]["post"]["responses"]["201"]["links"];
    for target in ["get_hold", "confirm_hold", "release_hold", "extend_hold"] {
        assert_eq!(links[target]["operationId"], target, "{links}");
        assert_eq!(links[target]["parameters"]["id"], "$response.body#/id");
    }
    let joined = &document["paths"]["/v1/pools/{id}/waitlist"]["post"]["responses"]["201"]["links"];
    assert_eq!(joined["get_entry"]["operationId"], "get_entry", "{joined}");
    // Every link names an operation the document has.
    let ids: Vec<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("an item").values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let text = document.to_string();
    assert!(
        !text.contains("\"operation_id\""),
        "links spell operationId"
    );
    for id in links.as_object().expect("links").keys() {
        assert!(ids.contains(&id.as_str()), "{id}");
    }
}

/// The rules across fields are in the document as the server applies them.
#[tokio::test]
async fn rules_across_fields_are_in_the_document_and_the_server_keeps_them() {
    let (app, document) = document().await;
    let schemas = &document["components"]["schemas"];
    let pool = &schemas["CreatePoolRequest"];
    assert_eq!(
        pool["then"]["properties"]["per_date"]["const"], true,
        "{pool}"
    );
    let zones = pool["properties"]["time_zone"]["enum"]
        .as_array()
        .expect("zones");
    assert!(zones.contains(&json!("Europe/Paris")));
    let adjustment = &schemas["QuotaAdjustmentRequest"];
    assert_eq!(
        adjustment["oneOf"].as_array().map(Vec::len),
        Some(2),
        "{adjustment}"
    );

    let key = app.tenant("Rules").await;
    let refused = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "Tour", "capacity": 5, "time_zone": "Europe/Paris"}),
        )
        .await;
    refused.assert_problem(StatusCode::BAD_REQUEST, "validation");
    let session = app
        .post(
            "/v1/pools",
            &key,
            json!({"name": "Tour", "capacity": 5, "per_date": true, "time_zone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let both = app
        .post(
            "/v1/quota-adjustments",
            &key,
            json!({"subjects": ["ann"], "capacity": 5, "delta": 1, "reason": "both"}),
        )
        .await;
    both.assert_problem(StatusCode::BAD_REQUEST, "validation");
}
