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
