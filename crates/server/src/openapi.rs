//! The OpenAPI document served at `/openapi.json`, generated from the handlers' annotations.
//! What every operation shares is added here once, by [`CommonResponses`], instead of being
//! repeated on each handler: the problem+json answers each kind of operation can give (from
//! authentication, path and query parsing, bodies, idempotency and overload) and the
//! `Idempotency-Key` header every write takes. [`Links`] joins each operation that makes a
//! resource to the operations on it. [`document`] is what is served: the derived document with
//! the rules across fields added, which utoipa's derive cannot state.

use crate::error::ErrorKind;
use crate::routes;
use std::collections::BTreeSet;
use utoipa::OpenApi;
use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
};

/// An RFC 9457 problem, as every error is answered (`application/problem+json`). Kinds add
/// members of their own (such as `pool_id` and `available` for insufficient capacity).
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the JSON `ApiError::body` writes; never built.
pub struct Problem {
    /// A stable URI per kind of error, such as `https://allot.dev/problems/validation`.
    #[schema(rename = "type")]
    kind: String,
    title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong with this request, for a person.
    detail: String,
    /// For a validation problem: each field that failed.
    errors: Option<Vec<ProblemFieldError>>,
}

/// A field that failed validation.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the JSON `ApiError::body` writes; never built.
pub struct ProblemFieldError {
    /// The field's path in the body (`lines[0].quantity`), or a parameter's name.
    field: String,
    message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "allot", description = "Capacity, quota and reservation server. Errors are RFC 9457 problem+json."),
    paths(
        routes::ops::healthz, routes::ops::readyz, routes::ops::metrics,
        routes::keys::create_tenant, routes::keys::create_api_key, routes::keys::list_api_keys, routes::keys::revoke_api_key,
        routes::pools::create_pool, routes::pools::list_pools, routes::pools::get_pool, routes::pools::patch_pool,
        routes::pools::pool_totals, routes::pools::availability, routes::pools::utilization, routes::pools::pool_ledger,
        routes::holds::create_hold, routes::holds::list_holds, routes::holds::get_hold,
        routes::holds::confirm_hold, routes::holds::release_hold, routes::holds::extend_hold,
        routes::sessions::get_date, routes::sessions::patch_date, routes::sessions::list_dates,
        routes::waitlist::join, routes::waitlist::pool_waitlist, routes::waitlist::get_entry,
        routes::waitlist::cancel_entry, routes::waitlist::holder_entries,
        routes::waitlist::get_priority_classes, routes::waitlist::put_priority_classes,
        routes::events::list_events,
        routes::alerts::list_alerts, routes::alerts::current_conditions, routes::alerts::get_recipients, routes::alerts::put_recipients,
        routes::webhooks::create_webhook, routes::webhooks::list_webhooks, routes::webhooks::delete_webhook,
        routes::webhooks::test_webhook, routes::webhooks::list_deliveries,
        routes::plans::create_plan, routes::plans::list_plans, routes::plans::get_plan, routes::plans::patch_plan,
        routes::plans::put_member, routes::plans::subject_quotas, routes::plans::adjust_quotas,
        routes::attendees::import_attendees, routes::attendees::list_attendees,
        routes::attendees::missing_tickets, routes::attendees::missing_count,
        routes::tickets::generate, routes::tickets::list_tickets, routes::tickets::tickets_pdf_route,
        routes::tickets::get_ticket, routes::tickets::void_ticket, routes::tickets::qr_svg, routes::tickets::qr_png,
        routes::tickets::check_in, routes::tickets::checkin_counts,
        routes::jobs::list_jobs, routes::jobs::get_job, routes::jobs::job_report,
    ),
    components(schemas(
        Problem, ProblemFieldError,
        // Named by query parameters only, which do not register the schemas they name.
        crate::requests::names::SeverityName, crate::requests::names::HoldStatusName,
        crate::requests::names::TicketStatusName,
    )),
    modifiers(&BearerAuth, &CommonResponses, &Links),
)]
pub struct ApiDoc;

/// The document as served: [`ApiDoc`] as JSON, with its links' members spelled as OpenAPI
/// spells them (utoipa 5 writes a link's `operationId` as `operation_id`).
pub fn document() -> serde_json::Value {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    for item in document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
    {
        for operation in item
            .as_object_mut()
            .into_iter()
            .flat_map(|item| item.values_mut())
        {
            let responses = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut());
            for response in responses.into_iter().flat_map(|r| r.values_mut()) {
                let links = response.get_mut("links").and_then(|l| l.as_object_mut());
                for link in links.into_iter().flat_map(|l| l.values_mut()) {
                    let Some(link) = link.as_object_mut() else {
                        continue;
                    };
                    for (snake, camel) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(value) = link.remove(snake) {
                            link.insert(camel.to_owned(), value);
                        }
                    }
                }
            }
        }
    }
    cross_field_rules(&mut document["components"]["schemas"]);
    document
}

/// What the server checks across fields, which utoipa's derive cannot say: a time zone is a
/// session's (`per_date: true`) and one of the database's names; a bulk adjustment sets a
/// capacity or adds a (non-zero) delta, one of the two, to a plan's members, listed subjects or
/// both; recipient groups map names to channels.
fn cross_field_rules(schemas: &mut serde_json::Value) {
    use serde_json::json;
    let pool = &mut schemas["CreatePoolRequest"];
    let mut zones: Vec<serde_json::Value> = allot_core::SessionZone::names()
        .into_iter()
        .map(serde_json::Value::String)
        .collect();
    zones.push(serde_json::Value::Null);
    pool["properties"]["time_zone"]["enum"] = serde_json::Value::Array(zones);
    pool["if"] =
        json!({"properties": {"time_zone": {"type": "string"}}, "required": ["time_zone"]});
    pool["then"] = json!({"properties": {"per_date": {"const": true}}, "required": ["per_date"]});
    // Recipient groups: a tenant's names, each with up to 50 channels, each an e-mail address
    // or a webhook (`validate_recipients`); utoipa cannot type a map's keys and values apart.
    schemas["RecipientsBody"]["properties"]["groups"] = json!({
        "type": "object",
        "description": "Group name → channels, each `{\"email\": \"...\"}` or `{\"webhook_id\": \"wh_...\"}`.",
        "maxProperties": 100,
        "propertyNames": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$"},
        "additionalProperties": {
            "type": "array",
            "maxItems": 50,
            "items": {"oneOf": [
                {"type": "object", "required": ["email"], "additionalProperties": false,
                 "properties": {"email": {"type": "string", "format": "email"}}},
                {"type": "object", "required": ["webhook_id"], "additionalProperties": false,
                 "properties": {"webhook_id": {"type": "string", "minLength": 1, "maxLength": 100,
                                               "pattern": "^[A-Za-z0-9_-]+$"}}},
            ]},
        },
        "example": {"sales": [{"email": "sales@example.com"}], "company_admin": [{"webhook_id": "wh_0123"}]},
    });
    let adjustment = &mut schemas["QuotaAdjustmentRequest"];
    adjustment["oneOf"] = json!([
        {"properties": {"capacity": {"type": "integer"}}, "required": ["capacity"]},
        {"properties": {"delta": {"type": "integer"}}, "required": ["delta"]},
    ]);
    adjustment["anyOf"] = json!([
        {"properties": {"plan_id": {"type": "string"}}, "required": ["plan_id"]},
        {"properties": {"subjects": {"type": "array"}}, "required": ["subjects"]},
    ]);
    // A delta of 0 would write a history entry for every member and change nothing.
    adjustment["properties"]["delta"]["not"] = json!({"const": 0});
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds to each operation the answers it can give besides its own, each with the problem
/// schema, and the `Idempotency-Key` header to each write.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    complete(path, &method, operation);
                }
            }
        }
    }
}

/// The errors an operation can answer, from what it takes.
fn common_errors(path: &str, method: &HttpMethod, operation: &Operation) -> BTreeSet<ErrorKind> {
    use ErrorKind::*;
    let mut kinds = BTreeSet::new();
    let has_param = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|parameter| parameter.parameter_in == place)
    };
    if operation.security.is_some() {
        // Every key's role is checked, and each key has a request rate when the server has one.
        kinds.extend([Unauthorized, Forbidden, RateLimited]);
    }
    if path.starts_with("/v1/") {
        // A read when the store is down; a write when the writer is behind.
        kinds.insert(Unavailable);
    }
    if has_param(ParameterIn::Path) {
        kinds.extend([Validation, NotFound]);
    }
    if has_param(ParameterIn::Query) {
        kinds.insert(Validation);
    }
    if operation.request_body.is_some() {
        kinds.extend([Validation, MalformedRequest, UnsupportedMediaType]);
    }
    if *method != HttpMethod::Get {
        // Every write reads its body within the limit and takes an Idempotency-Key.
        kinds.extend([PayloadTooLarge, Validation, IdempotencyMismatch]);
    }
    kinds
}

/// Adds an operation's common errors, gives every error the problem schema and a description,
/// and gives a write its `Idempotency-Key`.
fn complete(path: &str, method: &HttpMethod, operation: &mut Operation) {
    let kinds = common_errors(path, method, operation);
    let responses = &mut operation.responses.responses;
    for kind in kinds {
        responses
            .entry(kind.status().as_str().to_owned())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(kind.title()).build()));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.content.is_empty() {
            response.content.insert(
                "application/problem+json".to_owned(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
        }
        if response.description.is_empty() {
            response.description = description_of(status);
        }
        if matches!(status.as_str(), "429" | "503") {
            add_retry_after(response);
        }
    }
    if *method != HttpMethod::Get {
        add_idempotency_key(operation);
    }
}

/// A response's description when its handler gave none: the title of the problem of that
/// status, else the status's reason.
fn description_of(status: &str) -> String {
    status
        .parse::<u16>()
        .ok()
        .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
        .and_then(|code| code.canonical_reason())
        .unwrap_or("The answer")
        .to_owned()
}

/// `Retry-After` (seconds) on a 429, and on a 503 when the writer was behind (a store that does
/// not answer sends none: there is no telling when it will).
fn add_retry_after(response: &mut utoipa::openapi::Response) {
    let schema: Schema = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .build()
        .into();
    let header = utoipa::openapi::HeaderBuilder::new()
        .schema(schema)
        .description(Some(
            "Seconds to wait before retrying; the problem's retry_after_seconds says the same",
        ))
        .build();
    response.headers.insert("Retry-After".to_owned(), header);
}

fn add_idempotency_key(operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    if parameters
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case("idempotency-key"))
    {
        return;
    }
    let schema: Schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(crate::extract::MAX_IDEMPOTENCY_KEY_LEN))
        .pattern(Some("^[!-~]+$"))
        .into();
    parameters.push(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Retry safely: the same key and request replay the first answer for 24 h",
            ))
            .schema(Some(schema))
            .build(),
    );
}

/// Where the resource an operation makes is addressed, when not under its own path: a waiting
/// list's entry, a generation's job.
const MADE_ELSEWHERE: [(&str, &str); 2] = [("join", "/v1/waitlist"), ("generate", "/v1/jobs")];

/// OpenAPI links from each operation that makes a resource (201, or 202 for a job) to every
/// operation on `{collection}/{id}`, with `id` from the answer's body, so a client, and
/// Schemathesis' stateful phase, can chain them: `POST /v1/holds` → `POST /v1/holds/{id}/confirm`.
struct Links;

impl utoipa::Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::link::LinkBuilder;
        // Every operation on one resource: (its path, its operation id).
        let mut on_resource: Vec<(String, String)> = Vec::new();
        for (path, item) in &openapi.paths.paths {
            let operations = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
            for operation in operations.into_iter().flatten() {
                if let Some(id) = &operation.operation_id {
                    on_resource.push((path.clone(), id.clone()));
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(operation) = item.post.as_mut() else {
                continue;
            };
            let made_id = operation.operation_id.clone().unwrap_or_default();
            let collection = MADE_ELSEWHERE
                .iter()
                .find(|(id, _)| *id == made_id)
                .map_or(path.as_str(), |(_, collection)| collection);
            let resource = format!("{collection}/{{id}}");
            for status in ["201", "202"] {
                let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) else {
                    continue;
                };
                for (target_path, target_id) in &on_resource {
                    let on_it = target_path == &resource
                        || target_path.starts_with(&format!("{resource}/"));
                    if on_it {
                        let link = LinkBuilder::new()
                            .operation_id(target_id.clone())
                            .parameter("id", "$response.body#/id")
                            .build();
                        response.links.insert(target_id.clone(), RefOr::T(link));
                    }
                }
            }
        }
    }
}
