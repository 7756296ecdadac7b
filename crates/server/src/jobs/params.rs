//! What each kind of job stores with itself: its name and its parameters. Routes make them and
//! the worker reads them back, so they depend on nothing else in the server.

use allot_core::quotas::Adjustment;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bulk ticket issuance for one event.
pub const KIND_GENERATE_TICKETS: &str = "tickets.generate";

/// The parameters of a `tickets.generate` job, as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateParams {
    pub event_id: String,
    /// Only these attendees (sorted, without repeats); all of the event's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendee_ids: Option<Vec<String>>,
    pub skip_existing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    pub chunk: usize,
    /// The recipient group told when the job ends; the engine reads it (`notify`) and uses
    /// `operations` when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

/// Bulk quota adjustments: every member of a plan, or a list of subjects.
pub const KIND_ADJUST_QUOTAS: &str = "quotas.adjust";

/// The parameters of a `quotas.adjust` job, as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdjustParams {
    /// Every member of this plan (or, with `subjects`, those subjects' quotas from this plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// These subjects (sorted, without repeats): each of their quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    pub reason: String,
    /// The recipient group told when the job ends; the engine reads it (`notify`) and uses
    /// `operations` when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

impl GenerateParams {
    /// As stored with the job.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a struct of strings and numbers serializes")
    }
}

impl AdjustParams {
    /// As stored with the job.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a struct of strings and numbers serializes")
    }

    /// What the job does to each quota; `None` for parameters no request could have made.
    pub fn change(&self) -> Option<Adjustment> {
        Adjustment::from_request(self.capacity, self.delta).ok()
    }
}
