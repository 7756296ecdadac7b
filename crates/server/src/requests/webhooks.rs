//! Webhooks: where events go, which ones, and the signing secret.

use super::checks::Checks;
use crate::error::ApiError;
use allot_store::Command;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST events: http or https.
    #[schema(example = "https://example.com/allot-events")]
    #[schema(format = "uri", max_length = 2000)]
    pub url: String,
    /// Event types to send, e.g. `["waitlist.offered", "alert.fired"]`; `["*"]` for all.
    #[schema(example = json!(["*"]))]
    #[schema(min_items = 1, max_items = 50, value_type = Vec<crate::requests::names::EventTypeName>)]
    pub events: Vec<String>,
    /// The signing secret, `whsec_` and 24 to 64 base64 bytes (Standard Webhooks). Default: one
    /// is generated and shown once in the answer.
    #[schema(
        pattern = "^whsec_(?:[A-Za-z0-9+/]{4}){8,21}(?:[A-Za-z0-9+/][AQgw]==)?$|^whsec_(?:[A-Za-z0-9+/]{4}){8,20}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=$"
    )]
    pub secret: Option<String>,
}

impl CreateWebhookRequest {
    /// The command, and the secret to show once.
    pub fn validate(self) -> Result<(Command, String), ApiError> {
        let mut checks = Checks::default();
        match reqwest::Url::parse(&self.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => checks.fail("url", "must be an absolute http or https URL"),
        }
        if self.url.len() > 2000 {
            checks.fail("url", "must be at most 2000 characters");
        }
        if self.events.is_empty() || self.events.len() > 50 {
            checks.fail("events", "must list 1 to 50 event types, or [\"*\"]");
        }
        for event in &self.events {
            if event.is_empty()
                || event.len() > 64
                || !event
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_' || b == b'*')
            {
                checks.fail("events", format!("{event:?} is not an event type"));
            }
        }
        let secret = match self.secret {
            Some(secret) => {
                if crate::delivery::signing_key(&secret).is_none() {
                    checks.fail(
                        "secret",
                        "must be whsec_ followed by 24 to 64 base64-encoded bytes",
                    );
                }
                secret
            }
            None => crate::delivery::generate_webhook_secret(),
        };
        let command = Command::CreateWebhook {
            url: self.url,
            events: self.events,
            secret: secret.clone(),
        };
        checks.finish(Some((command, secret)))
    }
}
