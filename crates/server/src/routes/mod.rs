//! HTTP routes, one module per resource. Handlers translate HTTP to the store's commands and
//! reads, and back: a body is validated by `requests`, sent through [`AppState::submit`] and
//! rendered by `views`; a read runs through [`AppState::read`] and lists page with `page`. Every
//! rule lives in the core or the engine and every query in the store.
//!
//! [`AppState::submit`]: crate::state::AppState::submit
//! [`AppState::read`]: crate::state::AppState::read

pub mod alerts;
pub mod attendees;
pub mod events;
pub mod holds;
pub mod jobs;
pub mod keys;
pub mod ops;
pub mod plans;
pub mod pools;
pub mod sessions;
pub mod tickets;
pub mod waitlist;
pub mod webhooks;

use crate::error::{ApiError, ErrorKind};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Answers unknown paths with a problem, not an empty 404.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route; see /openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        "this route does not take that method; see /openapi.json",
    )
}

/// A handler that is not ours (the Swagger UI's files) may answer an error with no body: it gets
/// the problem of its status instead, with its other headers (such as `Allow`) kept.
pub async fn bare_error_as_problem(response: Response) -> Response {
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let problem = match status {
        StatusCode::NOT_FOUND => ApiError::new(ErrorKind::NotFound, "no such file"),
        StatusCode::METHOD_NOT_ALLOWED => method_not_allowed().await,
        // The UI serves files from memory: nothing else can fail there.
        _ => crate::error::corrupt(format!("the docs answered {status}")),
    };
    let (mut parts, _) = response.into_parts();
    let problem = problem.into_response();
    parts.headers.extend(problem.headers().clone());
    Response::from_parts(parts, problem.into_body())
}
