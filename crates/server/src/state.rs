//! What every handler shares: the store for reads, the writer for changes, auth and the clock.
//! [`AppState::read`] is the one path from a handler to the store (on a blocking thread, so a
//! slow read never stalls the async workers), and [`AppState::submit`] the one path to the
//! writer, idempotency included.

use crate::auth::{Auth, TenantCaller};
use crate::clock::Clock;
use crate::error::{ApiError, ErrorKind, problem_response};
use crate::metrics::Counted;
use crate::writer::{WriteError, Writer};
use allot_store::{
    Command, Envelope, Idempotency, Outcome, Reply, Store, StoreError, StoredResponse, TenantId,
};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub writer: Writer,
    pub auth: Auth,
    pub clock: Clock,
    /// Seconds per place in line for waiting-list estimates when a pool has no promotion history.
    pub fallback_wait_seconds: i64,
    /// Wakes the delivery worker before its next poll (a test send, a finished attempt).
    pub delivery_wakeup: tokio::sync::Notify,
    /// Derives tickets' tokens and magic links.
    pub tickets: crate::tickets::TicketKeys,
    /// Wakes the job worker when a job is queued.
    pub job_wake: tokio::sync::Notify,
    /// Webhooks may name private and local addresses (`--webhook-allow-private`).
    pub webhook_allow_private: bool,
    /// The `Retry-After` of a 503 for an overloaded writer, in seconds.
    pub overload_retry_after_seconds: u64,
    /// Each API key's request rate (`--rate-limit`); `None`: no limit.
    pub rate_limit: Option<governor::DefaultKeyedRateLimiter<String>>,
    /// This server's counters and histograms, shared with the writer's thread.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The SQLite file, whose size (and its WAL's) `/metrics` reports; `None` for other stores.
    pub database_file: Option<std::path::PathBuf>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Who a command runs as: a tenant key, or the super-admin (no tenant).
pub enum Actor<'a> {
    Tenant(&'a TenantCaller),
    SuperAdmin,
}

/// The request a command came from, for idempotency: the same key must come with the same
/// method, path and body.
pub struct RequestIdentity<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub body: &'a [u8],
    pub key: Option<String>,
}

/// What the writer answered, rendered.
pub struct Answer {
    pub response: StoredResponse,
    /// True when this is a replay of an earlier answer to the same Idempotency-Key.
    pub replayed: bool,
}

impl Answer {
    pub fn into_response(self) -> Response {
        let replayed = self.replayed;
        let mut response = problem_response(self.response);
        if replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// The settings handlers and extractors consult, from the server's configuration.
pub struct Policies {
    /// Seconds per place in line for waiting-list estimates when a pool has no promotion history.
    pub fallback_wait_seconds: i64,
    /// Webhooks may name private and local addresses.
    pub webhook_allow_private: bool,
    /// Requests per second per API key; `None`: no limit.
    pub rate_limit: Option<std::num::NonZeroU32>,
    /// How long a 503 for an overloaded writer tells the client to wait (`Retry-After`).
    pub overload_retry_after_seconds: u64,
}

/// Why a read got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read panicked on its blocking thread (a bug), or the runtime is shutting down.
    #[error("the read did not finish: {0}")]
    Lost(#[from] tokio::task::JoinError),
}

impl ReadError {
    /// Whether the same read may succeed if tried again shortly.
    pub fn is_transient(&self) -> bool {
        match self {
            ReadError::Store(error) => error.is_transient(),
            ReadError::Lost(_) => false,
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Store(error) => error.into(),
            ReadError::Lost(error) => crate::error::corrupt(format!("a read was lost: {error}")),
        }
    }
}

impl AppState {
    /// Runs `read` against the store on a blocking thread. Store reads are synchronous (SQLite
    /// answers from disk); on an async worker one slow read would stall every request queued on
    /// that worker. The closure owns what it needs: clone the few ids it reads by.
    pub async fn read<T, F>(&self, read: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || read(store.as_ref())).await??)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        writer: Writer,
        auth: Auth,
        clock: Clock,
        tickets: crate::tickets::TicketKeys,
        policies: Policies,
        metrics: Arc<crate::metrics::Metrics>,
        database_file: Option<std::path::PathBuf>,
    ) -> Self {
        AppState(Arc::new(Shared {
            store,
            writer,
            auth,
            clock,
            fallback_wait_seconds: policies.fallback_wait_seconds,
            delivery_wakeup: tokio::sync::Notify::new(),
            tickets,
            job_wake: tokio::sync::Notify::new(),
            webhook_allow_private: policies.webhook_allow_private,
            rate_limit: policies.rate_limit.map(|per_second| {
                governor::RateLimiter::keyed(governor::Quota::per_second(per_second))
            }),
            metrics,
            database_file,
            overload_retry_after_seconds: policies.overload_retry_after_seconds,
        }))
    }

    /// Sends a command through the writer and renders its outcome with `render`. With an
    /// Idempotency-Key, the rendering happens inside the writer's transaction and is kept, so a
    /// retry gets the same bytes without acting again.
    pub async fn submit(
        &self,
        actor: Actor<'_>,
        command: Command,
        request: RequestIdentity<'_>,
        render: impl Fn(&Outcome) -> StoredResponse + Clone + Send + 'static,
    ) -> Result<Answer, ApiError> {
        let kind = crate::metrics::CommandKind::of(&command);
        let (tenant, actor_id) = match actor {
            Actor::Tenant(caller) => (caller.tenant.clone(), Some(caller.key_id.clone())),
            // The super-admin's idempotency keys live in a namespace no tenant id can take.
            Actor::SuperAdmin => (TenantId("*admin".to_owned()), None),
        };
        // With an Idempotency-Key the outcome is rendered on the writer's thread and only bytes
        // come back: the render notes the outcome here, and it is counted once the commit has
        // answered (a replay renders nothing, so it is not counted twice).
        let noted: Arc<std::sync::OnceLock<Option<Counted>>> = Arc::default();
        let idempotency = request.key.map(|key| {
            let mut hash = Sha256::new();
            hash.update(request.method.as_str().as_bytes());
            hash.update(b" ");
            hash.update(request.path.as_bytes());
            hash.update(b"\n");
            hash.update(request.body);
            let render = render.clone();
            let noted = Arc::clone(&noted);
            Idempotency {
                key,
                request_hash: hex::encode(hash.finalize()),
                render: Box::new(move |outcome: &Outcome| {
                    let _ = noted.set(Counted::of(kind, outcome));
                    render(outcome)
                }),
            }
        });
        let envelope = Envelope {
            tenant,
            actor: actor_id,
            command,
            idempotency,
        };
        let answered = self.writer.try_submit(envelope).await;
        match answered {
            Ok(Reply::Outcome(outcome)) => {
                if let Some(counted) = Counted::of(kind, &outcome) {
                    self.metrics.count(counted);
                }
                Ok(Answer {
                    response: render(&outcome),
                    replayed: false,
                })
            }
            Ok(Reply::Rendered { response, replayed }) => {
                if let Some(Some(counted)) = noted.get() {
                    self.metrics.count(*counted);
                }
                Ok(Answer { response, replayed })
            }
            Err(WriteError::Overloaded(reason)) => {
                self.metrics.overloaded(reason);
                Err(ApiError::overloaded(self.overload_retry_after_seconds))
            }
            Err(WriteError::Transient) | Err(WriteError::Stopped) => Err(ApiError::new(
                ErrorKind::Unavailable,
                "the store is busy or shutting down; retry shortly",
            )),
            Err(WriteError::BatchFailed(message)) => {
                tracing::error!(%message, "write batch failed");
                Err(ApiError::new(
                    ErrorKind::Internal,
                    "an internal error occurred",
                ))
            }
        }
    }
}
