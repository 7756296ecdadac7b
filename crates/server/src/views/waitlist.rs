//! Waiting lists: an entry with its place in line and estimated wait, a pool's list with its
//! figures, and a tenant's priority classes.

use crate::page::Page;
use crate::timestamps::rfc3339;
use allot_core::UnixMillis;
use allot_core::waitlist::{PriorityClasses, estimate_wait_seconds};
use allot_store::{WaitlistEntryView, WaitlistStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A waiting-list entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistEntryBody {
    pub id: String,
    pub pool_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub holder: String,
    pub quantity: i64,
    pub priority: i64,
    /// waiting, offered, accepted, confirmed, declined, lapsed, expired or cancelled.
    #[schema(example = "waiting")]
    pub status: &'static str,
    /// 1 = served next. Only while waiting.
    pub position: Option<u64>,
    /// From the rate at which this pool actually promoted entries in the last 24 h; with no
    /// history, a configured time per place in line. Only while waiting.
    pub estimated_wait_seconds: Option<i64>,
    /// The hold promotion made: an offer to confirm with POST /v1/holds/{id}/confirm before
    /// `offer_expires_at`, or a confirmed booking.
    pub hold_id: Option<String>,
    pub offer_expires_at: Option<String>,
    pub promoted_at: Option<String>,
    /// Waiting ends then.
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl WaitlistEntryBody {
    /// `now` dates the estimate: the read time, or the write time for a command's answer.
    pub fn new(entry: &WaitlistEntryView, fallback_wait: i64, now: UnixMillis) -> Self {
        WaitlistEntryBody {
            id: entry.id.clone(),
            pool_id: entry.pool_id.clone(),
            session_id: entry.session_id.clone(),
            date: entry.date.clone(),
            holder: entry.holder.clone(),
            quantity: entry.quantity,
            priority: entry.priority,
            status: entry.status.as_str(),
            position: entry.position,
            estimated_wait_seconds: entry.position.map(|position| {
                estimate_wait_seconds(position, &entry.recent_promotions, now, fallback_wait)
            }),
            hold_id: entry.hold_id.clone(),
            offer_expires_at: entry.offer_expires_at.map(rfc3339),
            promoted_at: entry.promoted_at.map(rfc3339),
            expires_at: rfc3339(entry.expires_at),
            created_at: rfc3339(entry.created_at),
            updated_at: rfc3339(entry.updated_at),
        }
    }
}

/// A pool's waiting list: figures, and one page of entries in queue order.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistStatusBody {
    pub pool_id: String,
    /// Entries waiting now.
    pub waiting: u64,
    /// Units they ask for, together.
    pub total_quantity: i64,
    /// How long the entries waiting now have waited so far, on average.
    pub average_waited_seconds: Option<i64>,
    /// How long served entries waited before promotion, on average.
    pub average_wait_to_promotion_seconds: Option<i64>,
    /// Promotions in the last 24 h that the estimates are measured from (at most 20 counted).
    pub recent_promotions: usize,
    pub entries: Page<WaitlistEntryBody>,
}

impl WaitlistStatusBody {
    pub fn new(status: &WaitlistStatus, fallback_wait: i64, now: UnixMillis) -> Self {
        WaitlistStatusBody {
            pool_id: status.pool_id.clone(),
            waiting: status.waiting,
            total_quantity: status.total_quantity,
            average_waited_seconds: status.average_waited_ms.map(|ms| ms / 1000),
            average_wait_to_promotion_seconds: status
                .average_wait_to_promotion_ms
                .map(|ms| ms / 1000),
            recent_promotions: status.recent_promotions.len(),
            entries: Page {
                items: status
                    .entries
                    .items
                    .iter()
                    .map(|entry| WaitlistEntryBody::new(entry, fallback_wait, now))
                    .collect(),
                next_cursor: status.entries.next_cursor.clone(),
            },
        }
    }
}

/// A tenant's priority classes: an entry's priority is `base` plus the bonus of each class it
/// names. Tour bookings as an example: base 1; registered +2, private_silver +2, private_gold +3.
#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityClassesBody {
    /// The priority of an entry that names no class. Default 1.
    #[serde(
        default = "default_priority_base",
        deserialize_with = "crate::views::integers::integer"
    )]
    #[schema(example = 1, minimum = -1000000, maximum = 1000000)]
    pub base: i64,
    /// Class name → bonus over the base.
    #[schema(example = json!({"registered": 2, "private_silver": 2, "private_gold": 3}))]
    #[schema(value_type = BTreeMap<crate::requests::names::GroupName, crate::requests::names::PriorityBonus>)]
    #[serde(deserialize_with = "crate::views::integers::integer_map")]
    pub classes: BTreeMap<String, i64>,
}

fn default_priority_base() -> i64 {
    PriorityClasses::default().base
}

impl From<&PriorityClasses> for PriorityClassesBody {
    fn from(classes: &PriorityClasses) -> Self {
        PriorityClassesBody {
            base: classes.base,
            classes: classes.classes.clone(),
        }
    }
}
