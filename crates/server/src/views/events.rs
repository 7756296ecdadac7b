//! The event feed.

use crate::timestamps::rfc3339;
use allot_store::EventView;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Something that happened, from the outbox (waiting-list promotions, offers, lapses, expiries).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    /// Increases with every event: pass the last one seen as `?cursor=` to read on.
    pub seq: i64,
    pub id: String,
    /// For example waitlist.offered, waitlist.confirmed, waitlist.offer_lapsed, waitlist.expired.
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub created_at: String,
}

impl From<&EventView> for EventBody {
    fn from(event: &EventView) -> Self {
        EventBody {
            seq: event.seq,
            id: event.id.clone(),
            kind: event.kind.clone(),
            data: event.data.clone(),
            created_at: rfc3339(event.created_at),
        }
    }
}
