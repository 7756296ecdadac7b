//! Operations: liveness, readiness, metrics.

use crate::error::{ApiError, ErrorKind};
use crate::metrics::{CONTENT_TYPE, Snapshot};
use crate::state::{AppState, ReadError};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::time::Duration;

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

/// Prometheus metrics (OpenMetrics text): requests, holds, waiting lists, alerts, deliveries,
/// jobs, the writer, the store's size and the process. A figure the store cannot give right now
/// keeps its last value rather than failing the scrape.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (writer_queue_depth, writer_queue_capacity) = state.writer.queue_depth();
    let now = state.clock.now();
    let read = state
        .read(move |store| Ok((store.delivery_backlog()?, store.active_jobs()?.len())))
        .await;
    let mut snapshot = Snapshot {
        writer_queue_depth,
        writer_queue_capacity,
        database_file: state.database_file.clone(),
        ..Snapshot::default()
    };
    match read {
        Ok((backlog, jobs)) => {
            snapshot.deliveries_pending = backlog.pending;
            snapshot.oldest_pending_delivery_age = backlog
                .oldest_created_at
                .map(|at| Duration::from_millis(now.0.saturating_sub(at.0).max(0) as u64));
            snapshot.jobs_running = jobs as u64;
        }
        Err(error) => tracing::warn!(%error, "metrics: cannot read the delivery backlog and jobs"),
    }
    let metrics = std::sync::Arc::clone(&state.metrics);
    // /proc and the database's size are read from disk: off the async workers.
    let text = tokio::task::spawn_blocking(move || metrics.render(&snapshot))
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}
