//! Webhooks and their deliveries, each with every attempt.

use crate::timestamps::rfc3339;
use allot_store::{DeliveryWithAttempts, WebhookView};
use serde::Serialize;
use utoipa::ToSchema;

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBody {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: String,
    /// The signing secret (`whsec_…`), shown only when the webhook is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookBody {
    pub fn new(webhook: &WebhookView, secret: Option<String>) -> Self {
        WebhookBody {
            id: webhook.id.clone(),
            url: webhook.url.clone(),
            events: webhook.events.clone(),
            active: webhook.active,
            created_at: rfc3339(webhook.created_at),
            secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptBody {
    pub attempt: i64,
    pub at: String,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One event's delivery to a webhook, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// pending, delivered or failed (given up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub attempt_log: Vec<AttemptBody>,
}

impl From<&DeliveryWithAttempts> for DeliveryBody {
    fn from(item: &DeliveryWithAttempts) -> Self {
        let delivery = &item.delivery;
        DeliveryBody {
            id: delivery.id.clone(),
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            status: delivery.status.clone(),
            attempts: delivery.attempts,
            next_attempt_at: (delivery.status == "pending")
                .then(|| rfc3339(delivery.next_attempt_at)),
            last_status: delivery.last_status,
            last_error: delivery.last_error.clone(),
            created_at: rfc3339(delivery.created_at),
            attempt_log: item
                .attempts
                .iter()
                .map(|attempt| AttemptBody {
                    attempt: attempt.attempt,
                    at: rfc3339(attempt.at),
                    status: attempt.status,
                    error: attempt.error.clone(),
                    duration_ms: attempt.duration_ms,
                })
                .collect(),
        }
    }
}
