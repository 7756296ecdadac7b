//! Delivery: a worker that sends the outbox's pending deliveries off the write path — webhooks
//! signed the Standard Webhooks way, e-mail through SMTP — and reports every attempt back through
//! the writer. A failing endpoint costs this worker time, never a hold: the writer only ever
//! records outcomes. Deliveries are at least once: a delivery stays pending in the database
//! until its outcome is recorded, so a restart sends it again.

use crate::state::AppState;
use allot_core::UnixMillis;
use allot_store::{Command, DeliveryAttempt, DueDelivery, Envelope, TenantId};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// Where e-mail goes, when configured.
#[derive(Clone)]
pub struct SmtpConfig {
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (TLS),
    /// or `smtp://host:25` (plain, for a local relay).
    pub url: String,
    /// The From address, e.g. `allot <alerts@example.com>`.
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("SmtpConfig")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub smtp: Option<SmtpConfig>,
    /// How often the worker looks for due deliveries (it is also woken by test sends).
    pub poll_interval: Duration,
    /// How long one webhook request may take.
    pub request_timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Send webhooks to private and local addresses too (see `egress`). Off by default.
    pub allow_private: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            smtp: None,
            poll_interval: Duration::from_millis(250),
            request_timeout: Duration::from_secs(10),
            concurrency: 32,
            allow_private: false,
        }
    }
}

const SECRET_PREFIX: &str = "whsec_";

/// The error of a delivery whose webhook was deleted: given up at once, never retried.
const WEBHOOK_GONE: &str = "the webhook no longer exists";

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn generate_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// The HMAC key of a `whsec_` secret: its base64 part, 24 to 64 bytes.
pub fn signing_key(secret: &str) -> Option<Vec<u8>> {
    let key = BASE64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    (24..=64).contains(&key.len()).then_some(key)
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// Waits between attempts (Standard Webhooks' schedule): the n-th retry waits `RETRY_AFTER[n]`.
/// Eight attempts over about 27.6 hours, then the delivery is given up.
const RETRY_AFTER: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// When to try again after `attempts_made` failed attempts, with `jitter` in [0, 1) spreading
/// retries by ±20% so that receivers coming back are not hit by every sender at once. `None`:
/// give up.
pub fn next_retry(attempts_made: i64, now: UnixMillis, jitter: f64) -> Option<UnixMillis> {
    let wait = RETRY_AFTER.get(usize::try_from(attempts_made - 1).ok()?)?;
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Some(UnixMillis(
        now.0 + (wait.as_millis() as f64 * factor) as i64,
    ))
}

/// An error with the errors under it: reqwest's own message leaves out why a connection failed
/// (refused, a DNS failure, an address refused by `egress`).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Sends due deliveries until `shutdown`.
pub async fn run(state: AppState, config: DeliveryConfig, shutdown: CancellationToken) {
    let mut client = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("allot/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private {
        // A proxy (HTTP_PROXY and the like) would resolve and reach the target itself, past
        // the resolver's check: deliveries go direct.
        client = client
            .dns_resolver(Arc::new(crate::egress::PublicOnly))
            .no_proxy();
    }
    let client = match client.build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook client; deliveries stay pending");
            return;
        }
    };
    let mailer = config.smtp.as_ref().and_then(|smtp| {
        match lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&smtp.url) {
            Ok(builder) => Some(Arc::new(builder.build())),
            Err(error) => {
                tracing::error!(%error, "the SMTP URL is not usable; e-mail deliveries will fail");
                None
            }
        }
    });
    let sender = Sender {
        client,
        mailer,
        from: config.smtp.as_ref().map(|smtp| smtp.from.clone()),
        allow_private: config.allow_private,
    };
    let sender = Arc::new(sender);
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let (report, mut reports) = mpsc::unbounded_channel::<DeliveryAttempt>();
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut unrecorded: Vec<DeliveryAttempt> = Vec::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(config.poll_interval) => {}
            _ = state.delivery_wakeup.notified() => {}
        }
        // Record what finished since the last round, then let those deliveries be picked again.
        // Outcomes the writer could not take are kept and offered again next round: until they
        // are recorded their deliveries stay in flight here (and pending in the database).
        while let Ok(attempt) = reports.try_recv() {
            unrecorded.push(attempt);
        }
        if !unrecorded.is_empty() {
            let ids: Vec<String> = unrecorded.iter().map(|a| a.delivery_id.clone()).collect();
            if record(&state, unrecorded.clone()).await {
                unrecorded.clear();
                for id in ids {
                    in_flight.remove(&id);
                }
            }
        }
        let now = state.clock.now();
        let due = match state
            .read(move |store| store.due_deliveries(now, 256))
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot read due deliveries; retrying");
                continue;
            }
        };
        for due in due {
            if !in_flight.insert(due.delivery.id.clone()) {
                continue;
            }
            let (sender, report, state, permits) = (
                sender.clone(),
                report.clone(),
                state.clone(),
                permits.clone(),
            );
            tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let attempt = sender.attempt(&due, state.clock.now()).await;
                let _ = report.send(attempt);
                state.delivery_wakeup.notify_one();
            });
        }
    }
}

/// Hands the outcomes to the writer. `false` when it could not (the caller keeps them).
async fn record(state: &AppState, attempts: Vec<DeliveryAttempt>) -> bool {
    let sent = attempts.iter().filter(|a| a.delivered).count() as u64;
    let failed = attempts.len() as u64 - sent;
    let given_up = attempts
        .iter()
        .filter(|a| !a.delivered && a.retry_at.is_none())
        .count() as u64;
    let envelope = Envelope {
        tenant: TenantId(String::new()),
        actor: None,
        command: Command::RecordDeliveryAttempts(attempts),
        idempotency: None,
    };
    match state.writer.submit(envelope).await {
        Ok(_) => {
            state.metrics.deliveries(sent, failed, given_up);
            true
        }
        Err(error) => {
            tracing::warn!(%error, "cannot record delivery attempts; retrying");
            false
        }
    }
}

struct Sender {
    client: reqwest::Client,
    mailer: Option<Arc<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>>,
    from: Option<String>,
    /// Whether webhooks may go to private and local addresses (`egress`).
    allow_private: bool,
}

impl Sender {
    async fn attempt(&self, due: &DueDelivery, now: UnixMillis) -> DeliveryAttempt {
        let started = Instant::now();
        let (status, error) = match due.delivery.channel.as_str() {
            "email" => self.email(due).await,
            _ => self.webhook(due, now).await,
        };
        let delivered = error.is_none();
        let gone = error.as_deref() == Some(WEBHOOK_GONE);
        let attempts_made = due.delivery.attempts + 1;
        let finished = UnixMillis(now.0 + started.elapsed().as_millis() as i64);
        if error.is_some() {
            // The cause without the error's text, which may name a receiver's URL or address:
            // that stays in the delivery's attempts, readable by its tenant.
            let cause = match (status, gone) {
                (_, true) => "its webhook was deleted".to_owned(),
                (Some(status), _) => format!("the receiver answered {status}"),
                (None, _) => {
                    "no answer from the receiver (refused, unreachable or timed out)".to_owned()
                }
            };
            tracing::warn!(
                delivery = %due.delivery.id,
                channel = %due.delivery.channel,
                attempt = attempts_made,
                status,
                "delivery failed: {cause}"
            );
        }
        DeliveryAttempt {
            delivery_id: due.delivery.id.clone(),
            at: now,
            status,
            error,
            duration_ms: started.elapsed().as_millis() as i64,
            delivered,
            retry_at: if delivered || gone {
                None
            } else {
                next_retry(attempts_made, finished, jitter())
            },
        }
    }

    async fn webhook(&self, due: &DueDelivery, now: UnixMillis) -> (Option<u16>, Option<String>) {
        let (Some(url), Some(key)) = (
            due.url.as_deref(),
            due.secret.as_deref().and_then(signing_key),
        ) else {
            return (None, Some(WEBHOOK_GONE.to_owned()));
        };
        // A webhook registered while private addresses were allowed: names are checked by the
        // client's resolver, addresses here.
        if !self.allow_private
            && let Err(reason) = crate::egress::check_url(url)
        {
            return (None, Some(reason));
        }
        let timestamp = now.0 / 1000;
        let body = &due.delivery.payload;
        let signature = sign(&key, &due.delivery.event_id, timestamp, body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &due.delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                (Some(response.status().as_u16()), None)
            }
            Ok(response) => (
                Some(response.status().as_u16()),
                Some(format!("the receiver answered {}", response.status())),
            ),
            Err(error) => (None, Some(format!("no answer: {}", with_causes(&error)))),
        }
    }

    async fn email(&self, due: &DueDelivery) -> (Option<u16>, Option<String>) {
        use lettre::AsyncTransport;
        let (Some(mailer), Some(from), Some(to)) =
            (&self.mailer, &self.from, due.delivery.email.as_deref())
        else {
            return (
                None,
                Some("no SMTP server is configured (ALLOT_SMTP_URL)".to_owned()),
            );
        };
        let payload: serde_json::Value =
            serde_json::from_str(&due.delivery.payload).unwrap_or_default();
        let data = &payload["data"];
        let subject = match (due.delivery.event_type.as_str(), data["severity"].as_str()) {
            (_, Some(severity)) => format!(
                "[allot] {severity}: pool {} at {} of {}",
                data["pool_id"].as_str().unwrap_or("?"),
                data["used"],
                data["capacity"]
            ),
            ("job.completed", None) => format!(
                "[allot] job {} {}: {} created, {} skipped, {} failed",
                data["kind"].as_str().unwrap_or("?"),
                data["status"].as_str().unwrap_or("?"),
                data["created"],
                data["skipped"],
                data["failed"]
            ),
            (kind, None) => format!("[allot] {kind}"),
        };
        let body = serde_json::to_string_pretty(&payload).unwrap_or_default();
        let message = match (from.parse(), to.parse()) {
            (Ok(from), Ok(to)) => lettre::Message::builder()
                .from(from)
                .to(to)
                .subject(subject)
                .body(body),
            _ => return (None, Some("the From or To address is not valid".to_owned())),
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => return (None, Some(format!("cannot build the message: {error}"))),
        };
        match mailer.send(message).await {
            Ok(response) => (Some(response.code().into()), None),
            Err(error) => (None, Some(format!("SMTP: {error}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid secret");
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_checked_and_generated_valid() {
        assert!(signing_key(&generate_webhook_secret()).is_some());
        assert!(
            signing_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none(),
            "no prefix"
        );
        assert!(signing_key("whsec_c2hvcnQ=").is_none(), "too short");
        assert!(signing_key("whsec_not base64!").is_none());
    }

    #[test]
    fn retries_back_off_for_more_than_a_day_then_give_up() {
        let now = UnixMillis(0);
        assert_eq!(next_retry(1, now, 0.5), Some(UnixMillis(5_000)));
        assert_eq!(
            next_retry(2, now, 0.0),
            Some(UnixMillis(240_000)),
            "5 min − 20%"
        );
        let mut at = now;
        let mut attempts = 1;
        while let Some(next) = next_retry(attempts, at, 0.5) {
            at = next;
            attempts += 1;
        }
        assert_eq!(attempts, 8);
        assert!(
            at.0 >= 24 * 3600 * 1000,
            "retries span at least 24 h: {} ms",
            at.0
        );
    }
}
