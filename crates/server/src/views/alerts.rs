//! Alerts that fired, and the recipient groups they go to.

use crate::timestamps::rfc3339;
use allot_store::PoolView;
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

/// A pool and the conditions that hold of it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolConditionsBody {
    pub pool_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// For one date of a session: the session and the date.
    pub session_id: Option<String>,
    pub date: Option<String>,
    pub used: i64,
    pub capacity: i64,
    pub utilization_pct: f64,
    pub waiting: i64,
    pub conditions: Vec<ConditionBody>,
}

/// One condition: nearly_full (over 90 % used), long_queue (more than 10 waiting) or
/// no_capacity_with_people_waiting; with its severity (warning or error).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionBody {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub severity: &'static str,
}

impl PoolConditionsBody {
    /// The pool with the conditions that hold of it, or `None` when none does.
    pub fn of(pool: &PoolView) -> Option<Self> {
        let used = pool.held + pool.committed;
        let conditions = allot_core::thresholds::current_conditions(
            used,
            pool.capacity,
            pool.waiting,
            allot_core::thresholds::QUEUE_ALERT_LENGTH,
        );
        if conditions.is_empty() {
            return None;
        }
        Some(PoolConditionsBody {
            pool_id: pool.id.clone(),
            name: pool.name.clone(),
            parent_id: pool.parent_id.clone(),
            session_id: pool.session_id.clone(),
            date: pool.date.clone(),
            used,
            capacity: pool.capacity,
            utilization_pct: pool.utilization_pct,
            waiting: pool.waiting,
            conditions: conditions
                .into_iter()
                .map(|condition| ConditionBody {
                    kind: condition.as_str(),
                    severity: condition.severity().as_str(),
                })
                .collect(),
        })
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
