//! Tickets: a bulk generation job for an event's attendees, and a scan at the door.

use super::checks::{Checks, MAX_ID_CHARS};
use crate::error::ApiError;
use crate::jobs::params::GenerateParams;
use serde::Deserialize;
use utoipa::ToSchema;

/// Most attendees one generation request may name.
const MAX_ATTENDEE_IDS: usize = 20_000;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// Only these attendees; all of the event's when absent.
    #[schema(min_items = 1, max_items = 20000, value_type = Option<Vec<crate::requests::names::AttendeeIdText>>)]
    pub attendee_ids: Option<Vec<String>>,
    /// Leave attendees who have a ticket alone (default). `false` regenerates: their valid
    /// ticket gets a new code and token (the old QR code stops working); used ones are skipped.
    pub skip_existing: Option<bool>,
    /// Look at no more than this many attendees, in import order.
    #[schema(minimum = 1, maximum = 100000000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub limit: Option<i64>,
    /// Attendees per transaction, 1 to 10000; default 1000.
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub chunk: Option<i64>,
    /// The recipient group told when the job ends (a `job.completed` event, by e-mail and
    /// webhook); `operations` when absent.
    #[schema(value_type = Option<crate::requests::names::GroupName>)]
    pub notify: Option<String>,
}

impl GenerateRequest {
    /// The job's parameters for `event_id`: chunk size and limit within the core's bounds, the
    /// attendees named sorted and without repeats (the job walks them in order).
    pub fn validate(&self, event_id: String) -> Result<GenerateParams, ApiError> {
        let mut checks = Checks::default();
        let chunk = checks.unit("chunk", allot_core::jobs::ticket_chunk(self.chunk));
        if let Some(limit) = self.limit {
            checks.unit("limit", allot_core::jobs::item_limit(limit));
        }
        let attendee_ids = self.attendee_ids.clone().map(|mut ids| {
            ids.sort();
            ids.dedup();
            ids
        });
        if let Some(ids) = &attendee_ids {
            if ids.is_empty() || ids.len() > MAX_ATTENDEE_IDS {
                checks.fail(
                    "attendee_ids",
                    format!("must name 1 to {MAX_ATTENDEE_IDS} attendees"),
                );
            }
            if ids
                .iter()
                .any(|id| id.is_empty() || id.len() > MAX_ID_CHARS)
            {
                checks.fail("attendee_ids", "holds an id that is not valid");
            }
        }
        if let Some(group) = &self.notify {
            checks.name("notify", group);
        }
        let params = chunk.map(|chunk| GenerateParams {
            event_id,
            attendee_ids,
            skip_existing: self.skip_existing.unwrap_or(true),
            limit: self.limit,
            chunk,
            notify: self.notify.clone(),
        });
        checks.finish(params)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// What the scanner read: the token, or the whole magic link.
    #[schema(max_length = 128, pattern = "^\\s*[^?#]*[^?#/\\s]")]
    pub token: String,
}
