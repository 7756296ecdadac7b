//! Operations: liveness, readiness, metrics.

use crate::error::{ApiError, ErrorKind};
use crate::state::{AppState, ReadError};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers a query.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .read(|store| store.ping())
        .await
        .map_err(|error| match error {
            ReadError::Lost(_) => {
                ApiError::new(ErrorKind::Unavailable, "the readiness check did not finish")
            }
            ReadError::Store(_) => {
                ApiError::new(ErrorKind::Unavailable, "the store does not answer")
            }
        })?;
    Ok(Json(json!({"status": "ready", "store": "ok"})))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}
