//! What every request leaves behind: its count and latency in the metrics, and one log line at
//! info level (route template, method, status, duration, request id, tenant id). Never the path
//! (it may carry ids, which are not labels), a header, a key or a body.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing::Instrument;

/// The tenant a request was made as, filled in by the caller's extractor once its key is known
/// (left empty for the super-admin and for requests without a valid key).
#[derive(Clone, Default)]
pub struct RequestTenant(Arc<OnceLock<String>>);

impl RequestTenant {
    pub fn set(&self, tenant_id: &str) {
        let _ = self.0.set(tenant_id.to_owned());
    }
}

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// A route's template as a label: `/v1/holds/{id}/confirm` as `/v1/holds/:id/confirm`, since
/// braces inside a label value trip up some Prometheus text parsers and need escaping in regexes.
fn route_label(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

/// A method as a label: the ones the API has, everything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware: counts, times and logs the request.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |path| route_label(path.as_str()));
    let method = method_label(request.method());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let tenant = RequestTenant::default();
    request.extensions_mut().insert(tenant.clone());
    let span = tracing::info_span!("request", method, route = %route, request_id = %request_id);
    let response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(&route, method, status, took);
    let _entered = span.enter();
    tracing::info!(
        method,
        route = %route,
        status,
        duration_ms = took.as_secs_f64() * 1000.0,
        request_id = %request_id,
        tenant_id = tenant.0.get().map_or("-", String::as_str),
        "request"
    );
    response
}
