//! allot's HTTP server.
//!
//! - [`serve`] runs the API on a bound listener until a shutdown future resolves; [`app`] builds
//!   the router alone; `startup` holds the serve error and the secrets kept in the data directory.
//! - `routes`: handlers, one module per resource. A write's body is validated by `requests`
//!   (one module per resource) into a command, sent through [`state::AppState::submit`] to the
//!   writer and rendered by `views` (one module per resource, `views::render` for every
//!   outcome); a read runs through [`state::AppState::read`] on a blocking thread, and every list
//!   pages through `page`. The rules behind the checks are `allot_core`'s.
//! - `extract`: the request extractors (the caller by its key, a write's context, JSON bodies,
//!   queries); `auth`: keys, roles and their cache; `error`: the one table of problem types and
//!   `corrupt()` for answers that cannot happen; `timestamps`: RFC 3339 as the API writes it.
//! - `writer`: the batching writer thread; `sweeper`: the expiry sweeper; `jobs`: the job worker
//!   (bulk ticket issuance, bulk quota adjustments); `delivery`: webhooks and e-mail, with
//!   `egress` keeping them off private addresses; `tickets`: ticket tokens, codes and magic links;
//!   `printing`: QR codes and the tickets' PDF; `clock`: the time decisions use; `metrics`:
//!   this server's Prometheus metrics; `observe`: each request's metrics and log line;
//!   `openapi`: the document at `/openapi.json`, with the answers every operation shares.
//!
//! Modules depend on one another one way: `routes` on everything below it; `requests` on
//! `views`, `jobs::params` and `extract`; `views` on `page`, `timestamps` and `error`; `extract`
//! on `state` and `auth`; `state` on `auth`, `writer` and `error`; `error` on `timestamps` only.

pub mod auth;
pub mod clock;
pub mod delivery;
pub mod egress;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod page;
pub mod printing;
pub mod requests;
pub mod routes;
pub mod startup;
pub mod state;
pub mod sweeper;
pub mod tickets;
pub mod timestamps;
pub mod views;
pub mod writer;

pub use openapi::ApiDoc;
pub use startup::{ADMIN_TOKEN_FILE, ServeError};

use crate::auth::Auth;
use crate::clock::Clock;
use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;
use crate::writer::Writer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::routing::{get, post};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// After shutdown is asked for, how long in-flight requests get before the server stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The `Retry-After` of a 503 for an overloaded writer: a second is many batches, so the queue
/// has drained by then unless the load goes on.
pub const DEFAULT_OVERLOAD_RETRY_AFTER_SECONDS: u64 = 1;

#[derive(Clone)]
pub struct Config {
    /// Where the server keeps its own files (the generated admin token and ticket key), and the
    /// SQLite database unless `database` names another.
    pub data_dir: PathBuf,
    /// The store to open; `None`: the SQLite file `allot.db` inside `data_dir`.
    pub database: Option<allot_store::DatabaseUrl>,
    /// The super-admin token; when `None`, one is read from or generated into the data directory.
    pub admin_token: Option<String>,
    /// How often the sweeper expires due holds; `None` turns it off (expiry stays correct).
    pub sweep_interval: Option<Duration>,
    /// How the writer batches, and how long its queue may grow before requests get 503.
    pub writer: writer::WriterLimits,
    /// The `Retry-After`, in seconds, of a 503 answered because the writer is behind.
    pub overload_retry_after_seconds: u64,
    pub clock: Clock,
    /// Seconds per place in line for waiting-list estimates when a pool has no promotion in the
    /// last 24 h.
    pub fallback_wait_seconds: i64,
    /// Webhook and e-mail delivery.
    pub delivery: delivery::DeliveryConfig,
    /// The base of tickets' magic links: a link is this, `/`, and the ticket's token.
    pub ticket_link_base: String,
    /// The key tickets' tokens are derived with; `None`: read from or generated into the data
    /// directory (`ticket-key`, mode 0600).
    pub ticket_key: Option<String>,
    /// Run background jobs (ticket generation); off only to test what a restart resumes.
    pub job_worker: bool,
    /// Origins browsers may call the API from (CORS); `*` for any. Empty: none.
    pub cors_origins: Vec<String>,
    /// Requests per second each API key may make (a burst of as many); `None`: no limit.
    pub rate_limit: Option<std::num::NonZeroU32>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_url())
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("sweep_interval", &self.sweep_interval)
            .field("writer", &self.writer)
            .finish()
    }
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            database: None,
            admin_token: None,
            sweep_interval: Some(Duration::from_millis(250)),
            writer: writer::WriterLimits::default(),
            overload_retry_after_seconds: DEFAULT_OVERLOAD_RETRY_AFTER_SECONDS,
            clock: Clock::System,
            fallback_wait_seconds: allot_core::waitlist::DEFAULT_FALLBACK_WAIT_SECONDS,
            delivery: delivery::DeliveryConfig::default(),
            ticket_link_base: tickets::DEFAULT_LINK_BASE.to_owned(),
            ticket_key: None,
            job_worker: true,
            cors_origins: Vec::new(),
            rate_limit: None,
        }
    }

    /// The store this configuration opens: `database`, else the SQLite file in the data directory.
    pub fn database_url(&self) -> allot_store::DatabaseUrl {
        self.database
            .clone()
            .unwrap_or_else(|| allot_store::DatabaseUrl::sqlite_in_data_dir(&self.data_dir))
    }
}

/// The router with every route and layer, over `state`.
pub fn app(state: AppState) -> Router {
    use routes::{alerts, events, holds, keys, ops, plans, pools, sessions, waitlist, webhooks};
    let request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/tenants", post(keys::create_tenant))
        .route(
            "/v1/api-keys",
            post(keys::create_api_key).get(keys::list_api_keys),
        )
        .route(
            "/v1/api-keys/{id}",
            axum::routing::delete(keys::revoke_api_key),
        )
        .route("/v1/pools", post(pools::create_pool).get(pools::list_pools))
        .route(
            "/v1/pools/{id}",
            get(pools::get_pool).patch(pools::patch_pool),
        )
        .route("/v1/pools/{id}/totals", get(pools::pool_totals))
        .route("/v1/pools/{id}/availability", get(pools::availability))
        .route("/v1/pools/{id}/utilization", get(pools::utilization))
        .route("/v1/pools/{id}/ledger", get(pools::pool_ledger))
        .route("/v1/pools/{id}/dates", get(sessions::list_dates))
        .route(
            "/v1/pools/{id}/dates/{date}",
            get(sessions::get_date).patch(sessions::patch_date),
        )
        .route(
            "/v1/pools/{id}/waitlist",
            post(waitlist::join).get(waitlist::pool_waitlist),
        )
        .route("/v1/waitlist", get(waitlist::holder_entries))
        .route(
            "/v1/waitlist/{id}",
            get(waitlist::get_entry).delete(waitlist::cancel_entry),
        )
        .route(
            "/v1/settings/priority-classes",
            get(waitlist::get_priority_classes).put(waitlist::put_priority_classes),
        )
        .route("/v1/events", get(events::list_events))
        .route("/v1/alerts", get(alerts::list_alerts))
        .route("/v1/alerts/current", get(alerts::current_conditions))
        .route(
            "/v1/settings/recipients",
            get(alerts::get_recipients).put(alerts::put_recipients),
        )
        .route(
            "/v1/webhooks",
            post(webhooks::create_webhook).get(webhooks::list_webhooks),
        )
        .route(
            "/v1/webhooks/{id}",
            axum::routing::delete(webhooks::delete_webhook),
        )
        .route("/v1/webhooks/{id}/test", post(webhooks::test_webhook))
        .route("/v1/plans", post(plans::create_plan).get(plans::list_plans))
        .route(
            "/v1/plans/{id}",
            get(plans::get_plan).patch(plans::patch_plan),
        )
        .route(
            "/v1/plans/{id}/members/{subject}",
            axum::routing::put(plans::put_member),
        )
        .route("/v1/quotas/{subject}", get(plans::subject_quotas))
        .route("/v1/quota-adjustments", post(plans::adjust_quotas))
        .route(
            "/v1/webhooks/{id}/deliveries",
            get(webhooks::list_deliveries),
        )
        .route("/v1/holds", post(holds::create_hold).get(holds::list_holds))
        .route("/v1/holds/{id}", get(holds::get_hold))
        .route("/v1/holds/{id}/confirm", post(holds::confirm_hold))
        .route("/v1/holds/{id}/release", post(holds::release_hold))
        .route("/v1/holds/{id}/extend", post(holds::extend_hold))
        .merge(routes_for_tickets())
        .merge(routes_for_docs())
        // After every route is in, so each route's method router gets it.
        .method_not_allowed_fallback(routes::method_not_allowed)
        .fallback(routes::not_found)
        .with_state(state.clone());
    api.layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        // tower's timeout fails with an error that becomes a problem here; tower-http's answers
        // a bare 408 with no body.
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    |_: tower::BoxError| async {
                        ApiError::new(
                            ErrorKind::RequestTimeout,
                            format!(
                                "the request was not answered within {} s",
                                REQUEST_TIMEOUT.as_secs()
                            ),
                        )
                    },
                ))
                .layer(tower::timeout::TimeoutLayer::new(REQUEST_TIMEOUT)),
        )
        .layer(CatchPanicLayer::custom(|_panic| {
            // Logged by the panic hook with its message; the client gets a problem.
            axum::response::IntoResponse::into_response(ApiError::new(
                ErrorKind::Internal,
                "an internal error occurred",
            ))
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        // Per route (so the route's template is known), outside the timeout and panic catcher
        // (so their answers are counted and logged too), inside the request id.
        .layer(axum::middleware::from_fn_with_state(
            state,
            observe::observe,
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Lets browsers on `origins` call the API: any method it has, with a bearer key, JSON and an
/// idempotency key, reading the request id and replay marker. `None` when no origin is given.
fn cors_layer(origins: &[String]) -> Result<Option<tower_http::cors::CorsLayer>, ServeError> {
    use axum::http::{HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|origin| origin.trim() == "*") {
        AllowOrigin::any()
    } else {
        let mut list = Vec::with_capacity(origins.len());
        for origin in origins {
            // Browsers send the origin in one spelling (lower-case host, no default port, no
            // path): anything else would never match, so it is refused, with the spelling.
            let origin = origin.trim();
            let spelled = reqwest::Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .map(|url| url.origin().ascii_serialization());
            match spelled {
                Some(spelled) if spelled == origin => {}
                Some(spelled) if spelled != "null" => {
                    return Err(ServeError::Io(format!(
                        "CORS origin {origin:?} would never match what a browser sends: write {spelled}"
                    )));
                }
                _ => {
                    return Err(ServeError::Io(format!(
                        "CORS origin {origin:?} is not an origin such as https://app.example.com (or *)"
                    )));
                }
            }
            list.push(HeaderValue::from_str(origin).map_err(|e| ServeError::Io(e.to_string()))?);
        }
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                header::HeaderName::from_static("x-request-id"),
                header::HeaderName::from_static("idempotent-replayed"),
                header::RETRY_AFTER,
            ])
            .max_age(Duration::from_secs(3600)),
    ))
}

/// The OpenAPI document and the Swagger UI over it. The UI's file handler answers its own 404s
/// and 405s with no body; they are turned into problems here, so every error the server sends is
/// problem+json.
fn routes_for_docs() -> Router<AppState> {
    let docs: Router<AppState> = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .external_url_unchecked("/openapi.json", openapi::document())
        .into();
    docs.layer(axum::middleware::map_response(
        routes::bare_error_as_problem,
    ))
}

/// Attendees, tickets, check-ins and jobs: graduation tickets issued in bulk, scanned at the door.
fn routes_for_tickets() -> Router<AppState> {
    use routes::{attendees, jobs, tickets};
    Router::new()
        .route(
            "/v1/pools/{id}/attendees",
            post(attendees::import_attendees)
                .layer(DefaultBodyLimit::max(
                    crate::requests::attendees::MAX_IMPORT_BYTES,
                ))
                .get(attendees::list_attendees),
        )
        .route("/v1/pools/{id}/tickets", get(tickets::list_tickets))
        .route(
            "/v1/pools/{id}/tickets.pdf",
            get(tickets::tickets_pdf_route),
        )
        .route(
            "/v1/pools/{id}/tickets/missing",
            get(attendees::missing_tickets),
        )
        .route(
            "/v1/pools/{id}/tickets/missing/count",
            get(attendees::missing_count),
        )
        .route("/v1/pools/{id}/tickets/generate", post(tickets::generate))
        .route("/v1/pools/{id}/checkins", get(tickets::checkin_counts))
        .route("/v1/tickets/{id}", get(tickets::get_ticket))
        .route("/v1/tickets/{id}/void", post(tickets::void_ticket))
        .route("/v1/tickets/{id}/qr.svg", get(tickets::qr_svg))
        .route("/v1/tickets/{id}/qr.png", get(tickets::qr_png))
        .route("/v1/checkins", post(tickets::check_in))
        .route("/v1/jobs", get(jobs::list_jobs))
        .route("/v1/jobs/{id}", get(jobs::get_job))
        .route("/v1/jobs/{id}/report.csv", get(jobs::job_report))
}

/// How often the store's housekeeping (WAL checkpoints) runs.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(250);

/// Runs the store's housekeeping on a blocking thread until `stop`.
async fn maintain(state: AppState, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(MAINTENANCE_INTERVAL) => {}
        }
        // Keys that have not called for a while hold no rate state (a revoked key's goes too).
        if let Some(limiter) = &state.rate_limit {
            limiter.retain_recent();
        }
        if let Err(error) = state.read(|store| store.maintain()).await {
            tracing::warn!(%error, "store maintenance failed; retrying");
        }
    }
}

/// Runs allot on `listener` until `shutdown` resolves: then it stops accepting, lets requests in
/// flight finish (up to `SHUTDOWN_GRACE`), lets the writer finish its batch, and closes the store.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let database = config.database_url();
    // Opening connects and migrates: blocking work, kept off the async workers (PostgreSQL's
    // client also runs a small runtime of its own, which cannot start on one).
    let opening = database.clone();
    let allot_store::OpenedStore { store, writer } =
        tokio::task::spawn_blocking(move || allot_store::open(&opening))
            .await
            .map_err(|error| ServeError::Io(format!("opening the store stopped: {error}")))??;
    let admin_token =
        startup::resolve_admin_token(config.admin_token.as_deref(), &config.data_dir)?;
    let ticket_keys = tickets::TicketKeys::load(
        &config.data_dir,
        config.ticket_key.as_deref(),
        &config.ticket_link_base,
    )?;
    let metrics = std::sync::Arc::new(metrics::Metrics::new());
    let (writer, writer_thread) = Writer::spawn(
        writer,
        config.clock.clone(),
        config.writer,
        std::sync::Arc::clone(&metrics),
    )
    .map_err(|error| ServeError::Io(format!("cannot start the writer thread: {error}")))?;
    let database_file = match &database {
        allot_store::DatabaseUrl::Sqlite(path) => Some(path.clone()),
        _ => None,
    };
    let state = AppState::new(
        store,
        writer,
        Auth::new(&admin_token),
        config.clock.clone(),
        ticket_keys,
        state::Policies {
            fallback_wait_seconds: config.fallback_wait_seconds,
            webhook_allow_private: config.delivery.allow_private,
            rate_limit: config.rate_limit,
            overload_retry_after_seconds: config.overload_retry_after_seconds,
        },
        metrics,
        database_file,
    );
    let cors = cors_layer(&config.cors_origins)?;
    let stop = CancellationToken::new();
    let sweeper = config
        .sweep_interval
        .map(|interval| tokio::spawn(sweeper::run(state.clone(), interval, stop.clone())));
    let maintenance = tokio::spawn(maintain(state.clone(), stop.clone()));
    let deliveries = tokio::spawn(delivery::run(
        state.clone(),
        config.delivery.clone(),
        stop.clone(),
    ));
    let job_worker = config
        .job_worker
        .then(|| tokio::spawn(jobs::run(state.clone(), stop.clone())));

    let local = listener
        .local_addr()
        .map_err(|e| ServeError::Io(e.to_string()))?;
    tracing::info!(
        address = %local,
        data_dir = %config.data_dir.display(),
        %database,
        "allot is listening"
    );
    let graceful = {
        let stop = stop.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing requests in flight");
            stop.cancel();
        }
    };
    let router = match cors {
        // Outermost: a browser's preflight is answered before anything asks for a key.
        Some(cors) => app(state).layer(cors),
        None => app(state),
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(graceful);
    let served = tokio::select! {
        result = server => result.map_err(|e| ServeError::Io(e.to_string())),
        _ = async { stop.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("requests still in flight after the grace period; stopping anyway");
            Ok(())
        }
    };
    stop.cancel();
    if let Some(sweeper) = sweeper {
        let _ = sweeper.await;
    }
    let _ = maintenance.await;
    let _ = deliveries.await;
    if let Some(job_worker) = job_worker {
        let _ = job_worker.await;
    }
    // Every handle to the writer is gone now (the router and sweeper were dropped), so the writer
    // finishes the batch it has, and its thread ends and closes the store.
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    tracing::info!("allot stopped");
    served
}

#[cfg(test)]
mod cors_tests {
    use super::*;

    fn refusal(origins: &[&str]) -> String {
        let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
        match cors_layer(&origins) {
            Err(error) => error.to_string(),
            Ok(_) => String::new(),
        }
    }

    #[test]
    fn origins_are_taken_only_as_browsers_spell_them() {
        assert!(cors_layer(&[]).expect("no origins").is_none());
        assert_eq!(refusal(&["https://a.example", " https://b.example"]), "");
        assert_eq!(refusal(&["*"]), "");
        assert_eq!(refusal(&["http://localhost:5173"]), "");
        for (origin, spelled) in [
            ("https://a.example:443", "https://a.example"),
            ("https://A.example", "https://a.example"),
            ("https://a.example/", "https://a.example"),
            ("https://a.example/app?x=1", "https://a.example"),
        ] {
            let refused = refusal(&[origin]);
            assert!(
                refused.contains(&format!("write {spelled}")),
                "{origin}: {refused}"
            );
        }
        for origin in ["ftp://a.example", "a.example", ""] {
            assert!(refusal(&[origin]).contains("is not an origin"), "{origin}");
        }
    }
}
