//! Every error the API answers, as RFC 9457 problem+json. One table maps each kind to its status,
//! its stable `type` URI and its title; nothing else in the server picks a status for an error.
//! Internal details (driver messages, file paths) are logged here, once, and never sent.

use allot_core::{AdjustRefusal, Refusal, TransitionError};
use allot_store::tickets::TicketFailure;
use allot_store::{Failure, StoreError, StoredResponse};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The base of every problem `type`; the slug after it never changes once released.
pub const PROBLEM_BASE: &str = "https://allot.dev/problems/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    Validation,
    MalformedRequest,
    UnsupportedMediaType,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InsufficientCapacity,
    HoldExpired,
    PayloadTooLarge,
    IdempotencyMismatch,
    UnitMismatch,
    Unavailable,
    Internal,
    TicketUsed,
    TicketVoid,
    RateLimited,
    RequestTimeout,
}

impl ErrorKind {
    /// (status, slug, title): the one table.
    fn describe(self) -> (StatusCode, &'static str, &'static str) {
        use ErrorKind::*;
        match self {
            Validation => (
                StatusCode::BAD_REQUEST,
                "validation",
                "The request is not valid",
            ),
            MalformedRequest => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "The request body is not valid JSON",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send application/json",
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "A valid API key is required",
            ),
            Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "This key's role may not do that",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Conflict => (
                StatusCode::CONFLICT,
                "conflict",
                "The request conflicts with the current state",
            ),
            InsufficientCapacity => (
                StatusCode::CONFLICT,
                "insufficient-capacity",
                "Not enough capacity",
            ),
            HoldExpired => (StatusCode::GONE, "hold-expired", "The hold has expired"),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The request body is too large",
            ),
            IdempotencyMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-mismatch",
                "This Idempotency-Key was used with a different request",
            ),
            UnitMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unit-mismatch",
                "The pool counts another unit",
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is unavailable; retry later",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
            TicketUsed => (
                StatusCode::CONFLICT,
                "ticket-used",
                "The ticket was already used",
            ),
            TicketVoid => (StatusCode::CONFLICT, "ticket-void", "The ticket is void"),
            RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests for this API key",
            ),
            RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "The request took too long",
            ),
        }
    }

    pub fn status(self) -> StatusCode {
        self.describe().0
    }

    pub fn title(self) -> &'static str {
        self.describe().2
    }

    pub fn type_uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.describe().1)
    }
}

/// The problem member (and `Retry-After` header) saying when to retry.
const RETRY_AFTER_MEMBER: &str = "retry_after_seconds";

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub detail: String,
    /// Extension members, such as the pool that ran short.
    pub extensions: Map<String, Value>,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ApiError {
            kind,
            detail: detail.into(),
            extensions: Map::new(),
            errors: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// A validation error naming one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// A validation error naming every field that failed, each also in `detail`.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            errors,
            ..ApiError::new(ErrorKind::Validation, detail)
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::new(ErrorKind::NotFound, format!("{what} {id} not found"))
    }

    pub fn unauthorized(detail: &str) -> Self {
        ApiError::new(ErrorKind::Unauthorized, detail)
    }

    pub fn forbidden(detail: &str) -> Self {
        ApiError::new(ErrorKind::Forbidden, detail)
    }

    /// Over the key's request rate: retry after `seconds` (also sent as `Retry-After`).
    pub fn rate_limited(seconds: u64) -> Self {
        ApiError::new(
            ErrorKind::RateLimited,
            format!("this key is over its request rate; retry in {seconds} s"),
        )
        .with(RETRY_AFTER_MEMBER, seconds)
    }

    /// The writer is behind (its queue is full, or a command waited too long): nothing was
    /// applied; retry after `seconds` (also sent as `Retry-After`).
    pub fn overloaded(seconds: u64) -> Self {
        ApiError::new(
            ErrorKind::Unavailable,
            format!(
                "the server is over capacity and did not apply this request; retry in {seconds} s"
            ),
        )
        .with(RETRY_AFTER_MEMBER, seconds)
    }

    pub fn body(&self) -> Value {
        let (status, _, title) = self.kind.describe();
        let mut body = json!({
            "type": self.kind.type_uri(),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail,
        });
        let object = body
            .as_object_mut()
            .expect("a json! object literal is an object");
        if !self.errors.is_empty() {
            let errors = self
                .errors
                .iter()
                .map(|e| json!({"field": e.field, "message": e.message}));
            object.insert("errors".into(), Value::Array(errors.collect()));
        }
        for (key, value) in &self.extensions {
            // An extension never replaces a member RFC 9457 defines.
            if !object.contains_key(key) {
                object.insert(key.clone(), value.clone());
            }
        }
        body
    }

    pub fn to_stored(&self) -> StoredResponse {
        StoredResponse {
            status: self.kind.status().as_u16(),
            body: self.body().to_string().into_bytes(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.kind == ErrorKind::Internal {
            tracing::error!(detail = %self.detail, "internal error");
        }
        let retry_after = self
            .extensions
            .get(RETRY_AFTER_MEMBER)
            .and_then(Value::as_u64);
        let mut response = problem_response(self.to_stored());
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The store or the writer answered something it never should (a reply of the wrong kind, a
/// read that was lost): a bug. Logged here with `what`; the client gets a 500 that says nothing
/// of it.
pub fn corrupt(what: impl std::fmt::Display) -> ApiError {
    tracing::error!(%what, "impossible answer");
    ApiError::new(ErrorKind::Internal, "an internal error occurred")
}

/// A response from stored bytes: problem+json for errors, JSON otherwise.
pub fn problem_response(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status.is_client_error() || status.is_server_error() {
        "application/problem+json"
    } else {
        "application/json"
    };
    let mut response = (status, stored.body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidInput(message) => ApiError::invalid("cursor", message),
            StoreError::Unavailable(message) => {
                tracing::warn!(%message, "store unavailable");
                ApiError::new(
                    ErrorKind::Unavailable,
                    "the store is unavailable; retry shortly",
                )
            }
            other => {
                // Logged here with the driver's words; the client gets none of them.
                tracing::error!(error = %other, "store error");
                ApiError::new(ErrorKind::Internal, "an internal error occurred")
            }
        }
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NotFound { kind, id } => ApiError::not_found(kind, &id),
            Failure::Refused(Refusal::UnknownPool(id)) => {
                ApiError::not_found("pool", &id.0).with("pool_id", id.0)
            }
            Failure::Refused(Refusal::PoolInactive(id)) => {
                ApiError::new(ErrorKind::Conflict, format!("pool {id} is not active"))
                    .with("pool_id", id.0)
            }
            Failure::Refused(Refusal::InsufficientCapacity {
                pool_id,
                requested,
                available,
            }) => ApiError::new(
                ErrorKind::InsufficientCapacity,
                format!("pool {pool_id} has {available} available; {requested} requested"),
            )
            .with("pool_id", pool_id.0)
            .with("available", available)
            .with("requested", requested),
            Failure::Adjust(AdjustRefusal::UnknownPool(id)) => ApiError::not_found("pool", &id.0),
            Failure::Adjust(AdjustRefusal::BelowUse { capacity, used }) => ApiError::new(
                ErrorKind::Conflict,
                format!(
                    "capacity {capacity} would be below the {used} units already held or committed"
                ),
            )
            .with("used", used),
            Failure::Adjust(AdjustRefusal::SoftAboveHard) => {
                let error = allot_core::limits::LimitsError::SoftAboveHard;
                ApiError::invalid(error.field(), error.to_string())
            }
            Failure::Transition(TransitionError::Expired) => ApiError::new(
                ErrorKind::HoldExpired,
                "the hold expired before this request arrived",
            ),
            Failure::Transition(TransitionError::WrongStatus(status)) => ApiError::new(
                ErrorKind::Conflict,
                format!("the hold is {}", status.as_str()),
            )
            // Not `status`: that member is the HTTP status code (RFC 9457).
            .with("hold_status", status.as_str()),
            Failure::Invalid { field, message } => ApiError::invalid(field, message),
            Failure::Rejected(message) => ApiError::new(ErrorKind::Conflict, message),
            Failure::Conflict { kind, status } => {
                ApiError::new(ErrorKind::Conflict, format!("the {kind} is {status}"))
                    .with("status", status.to_owned())
            }
            Failure::UnitMismatch {
                pool_id,
                requested,
                actual,
            } => ApiError::new(
                ErrorKind::UnitMismatch,
                format!("pool {pool_id} counts {actual}, not {requested}"),
            )
            .with("pool_id", pool_id)
            .with("unit", actual),
            Failure::IdempotencyMismatch => ApiError::new(
                ErrorKind::IdempotencyMismatch,
                "this Idempotency-Key was already used with a different request body or path",
            ),
            Failure::Tickets(TicketFailure::AlreadyUsed { ticket_id, used_at }) => {
                let used_at = crate::timestamps::rfc3339(used_at);
                ApiError::new(
                    ErrorKind::TicketUsed,
                    format!("already used: ticket {ticket_id} was scanned at {used_at}"),
                )
                .with("ticket_id", ticket_id)
                .with("used_at", used_at)
            }
            Failure::Tickets(TicketFailure::Void { ticket_id }) => {
                ApiError::new(ErrorKind::TicketVoid, format!("ticket {ticket_id} is void"))
                    .with("ticket_id", ticket_id)
            }
            Failure::Job(failure) => ApiError::new(ErrorKind::Conflict, failure.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_problem_names_every_field_in_its_detail_and_its_errors() {
        let error = ApiError::validation(vec![
            FieldError {
                field: "capacity".into(),
                message: "must be between 0 and 1000000000000".into(),
            },
            FieldError {
                field: "soft_limit_pct".into(),
                message: "must not exceed hard_limit_pct".into(),
            },
        ]);
        let body = error.body();
        assert_eq!(
            body["detail"],
            "capacity: must be between 0 and 1000000000000; soft_limit_pct: must not exceed hard_limit_pct"
        );
        assert_eq!(body["errors"][1]["field"], "soft_limit_pct");
        assert_eq!(body["status"], 400);
        let one = ApiError::invalid("limit", "must be between 1 and 1000");
        assert_eq!(one.body()["detail"], "limit: must be between 1 and 1000");
    }
}
