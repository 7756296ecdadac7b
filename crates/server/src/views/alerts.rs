//! Alerts that fired, and the recipient groups they go to.

use crate::timestamps::rfc3339;
use allot_store::{AlertView, Channel};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// An alert from the log: a threshold crossed upward, or an operational alert about a waiting list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertBody {
    pub seq: i64,
    pub id: String,
    pub pool_id: String,
    /// threshold, queue_long or shortage.
    pub kind: String,
    pub threshold_pct: Option<u32>,
    /// info, warning, error or critical.
    pub severity: String,
    /// The recipient groups alerted.
    pub recipients: Vec<String>,
    pub used: i64,
    pub capacity: i64,
    pub utilization_pct: f64,
    pub waiting: i64,
    pub created_at: String,
}

impl From<&AlertView> for AlertBody {
    fn from(alert: &AlertView) -> Self {
        let utilization_pct = allot_core::limits::utilization_pct(alert.used, alert.capacity);
        AlertBody {
            seq: alert.seq,
            id: alert.id.clone(),
            pool_id: alert.pool_id.clone(),
            kind: alert.kind.clone(),
            threshold_pct: alert.threshold_pct,
            severity: alert.severity.clone(),
            recipients: alert.recipients.clone(),
            used: alert.used,
            capacity: alert.capacity,
            utilization_pct,
            waiting: alert.waiting,
            created_at: rfc3339(alert.created_at),
        }
    }
}

/// Recipient groups: each name maps to the channels its alerts go to.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsBody {
    /// Group name → channels, each `{"email": "..."}` or `{"webhook_id": "wh_..."}`.
    #[schema(value_type = Object, example = json!({"sales": [{"email": "sales@example.com"}], "company_admin": [{"webhook_id": "wh_0123"}]}))]
    pub groups: BTreeMap<String, Vec<Channel>>,
}

impl From<&BTreeMap<String, Vec<Channel>>> for RecipientsBody {
    fn from(groups: &BTreeMap<String, Vec<Channel>>) -> Self {
        RecipientsBody {
            groups: groups.clone(),
        }
    }
}
