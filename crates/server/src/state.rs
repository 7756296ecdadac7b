//! What every handler shares: the store for reads, the writer for changes, auth and the clock.
//! `submit` is the one path from a handler to the writer, idempotency included.

use crate::auth::{Auth, TenantCaller};
use crate::clock::Clock;
use crate::error::{ApiError, ErrorKind, problem_response};
use crate::writer::{WriteError, Writer};
use allot_store::{
    Command, Envelope, Idempotency, Outcome, Reply, Store, StoredResponse, TenantId,
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
    /// Each API key's request rate (`--rate-limit`); `None`: no limit.
    pub rate_limit: Option<governor::DefaultKeyedRateLimiter<String>>,
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
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        writer: Writer,
        auth: Auth,
        clock: Clock,
        tickets: crate::tickets::TicketKeys,
        policies: Policies,
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
        let (tenant, actor_id) = match actor {
            Actor::Tenant(caller) => (caller.tenant.clone(), Some(caller.key_id.clone())),
            // The super-admin's idempotency keys live in a namespace no tenant id can take.
            Actor::SuperAdmin => (TenantId("*admin".to_owned()), None),
        };
        let idempotency = request.key.map(|key| {
            let mut hash = Sha256::new();
            hash.update(request.method.as_str().as_bytes());
            hash.update(b" ");
            hash.update(request.path.as_bytes());
            hash.update(b"\n");
            hash.update(request.body);
            Idempotency {
                key,
                request_hash: hex::encode(hash.finalize()),
                render: Box::new(render.clone()),
            }
        });
        let envelope = Envelope {
            tenant,
            actor: actor_id,
            command,
            idempotency,
        };
        match self.writer.submit(envelope).await {
            Ok(Reply::Outcome(outcome)) => Ok(Answer {
                response: render(&outcome),
                replayed: false,
            }),
            Ok(Reply::Rendered { response, replayed }) => Ok(Answer { response, replayed }),
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

/// Everything a write handler needs besides its body: who is calling, and what identifies the
/// request for idempotency (method, path, `Idempotency-Key`). One extractor instead of four.
pub struct WriteContext {
    pub caller: crate::auth::Caller,
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
        let caller = crate::auth::Caller::from_request_parts(parts, state).await?;
        let crate::extract::IdempotencyKey(idempotency_key) =
            crate::extract::IdempotencyKey::from_request_parts(parts, state).await?;
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
