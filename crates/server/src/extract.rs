//! Request extractors whose rejections speak problem+json: the caller (by its bearer key, within
//! its request rate), a write's context (caller, method, path, `Idempotency-Key`), a JSON body
//! that keeps its raw bytes (for idempotency hashing), a query string, and path parameters.

use crate::auth::{Caller, hash_secret};
use crate::error::{ApiError, ErrorKind};
use crate::state::{AppState, RequestIdentity};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use serde::de::DeserializeOwned;

/// Largest request body accepted, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body, parsed with the path of any bad field reported, and its raw bytes.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        let value = parse_json(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("the body exceeds {MAX_BODY_BYTES} bytes"),
        )
        .with("max_bytes", MAX_BODY_BYTES)
    } else {
        ApiError::new(
            ErrorKind::MalformedRequest,
            "the request body could not be read",
        )
    }
}

/// Parses JSON, telling a syntax error (400 malformed-request) from a value of the wrong shape
/// (400 validation, naming the field).
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::new(
                ErrorKind::MalformedRequest,
                format!("the body is not valid JSON: {inner}"),
            ),
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::invalid(field, strip_position(&inner.to_string()))
            }
        }
    })?;
    deserializer.end().map_err(|_| {
        ApiError::new(
            ErrorKind::MalformedRequest,
            "the body has trailing characters after the JSON value",
        )
    })?;
    Ok(value)
}

/// serde_json appends " at line 1 column 17" to data errors; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string, rejected as a 400 validation problem when it does not parse.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| ApiError::invalid("query", rejection.body_text()))
    }
}

/// Path parameters, rejected as a 400 validation problem when a segment does not decode (bytes
/// that are not UTF-8, such as `%ff`) or does not parse as `T`. axum's own `Path` answers those
/// in text/plain.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            // The route and its handler disagree on the parameters: a bug, not the client's.
            Err(PathRejection::MissingPathParams(error)) => {
                Err(crate::error::corrupt(format!("path parameters: {error}")))
            }
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                use axum::extract::path::ErrorKind as Kind;
                let field = match error.kind() {
                    Kind::ParseErrorAtKey { key, .. }
                    | Kind::InvalidUtf8InPathParam { key }
                    | Kind::DeserializeError { key, .. } => key.clone(),
                    _ => "path".to_owned(),
                };
                Err(ApiError::invalid(field, error.kind().to_string()))
            }
            Err(rejection) => Err(ApiError::invalid("path", rejection.body_text())),
        }
    }
}

/// The `Idempotency-Key` header, when sent.
pub struct IdempotencyKey(pub Option<String>);

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|key| !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN)
            .filter(|key| key.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::invalid(
                    "Idempotency-Key",
                    "must be 1 to 255 printable ASCII characters",
                )
            })?;
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// A body the route does not use (the lifecycle verbs), kept only so an idempotency key still
/// binds to exactly what was sent. Limited like every body.
pub struct IgnoredBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for IgnoredBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(IgnoredBody)
            .map_err(body_rejection)
    }
}

/// Counts a request against its key's rate, if the server has one (the super-admin has none).
fn check_rate(state: &AppState, key_id: &str) -> Result<(), ApiError> {
    use governor::clock::{Clock, DefaultClock};
    let Some(limiter) = &state.rate_limit else {
        return Ok(());
    };
    limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::rate_limited(wait.as_secs_f64().ceil().max(1.0) as u64)
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <API key>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty() && token.len() <= 512)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be 'Bearer <API key>'")
            })?;
        let hash = hash_secret(token);
        if state.auth.is_admin(&hash) {
            return Ok(Caller::SuperAdmin);
        }
        let found = match state.auth.cached(&hash) {
            Some(key) => Some(key),
            None => {
                let looked_up = hash.clone();
                let found = state
                    .read(move |store| store.find_api_key(&looked_up))
                    .await?;
                if let Some(key) = &found {
                    state.auth.remember(&hash, key);
                }
                found
            }
        };
        match found {
            Some(key) => {
                if let Some(tenant) = parts.extensions.get::<crate::observe::RequestTenant>() {
                    tenant.set(&key.tenant_id.0);
                }
                check_rate(state, &key.id)?;
                Ok(Caller::Key(key))
            }
            None => Err(ApiError::unauthorized(
                "the API key is not valid or was revoked",
            )),
        }
    }
}

/// Everything a write handler needs besides its body: who is calling, and what identifies the
/// request for idempotency (method, path, `Idempotency-Key`). One extractor instead of four.
pub struct WriteContext {
    pub caller: Caller,
    pub method: Method,
    pub path: String,
    pub idempotency_key: Option<String>,
}

impl WriteContext {
    /// The request's identity, with `body` the exact bytes it carried.
    pub fn identity<'a>(&'a self, body: &'a [u8]) -> RequestIdentity<'a> {
        RequestIdentity {
            method: &self.method,
            path: &self.path,
            body,
            key: self.idempotency_key.clone(),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for WriteContext {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let IdempotencyKey(idempotency_key) =
            IdempotencyKey::from_request_parts(parts, state).await?;
        // The path as the client sent it, even under a nested router.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |uri| uri.path().to_owned());
        Ok(WriteContext {
            caller,
            method: parts.method.clone(),
            path,
            idempotency_key,
        })
    }
}
