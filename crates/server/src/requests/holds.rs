//! Holds: placing one over several lines (a cart's seats, a member's credits) and extending one.

use super::checks::{Checks, MAX_HOLDER_CHARS, MAX_REASON_CHARS, check_unit_field};
use crate::error::ApiError;
use allot_core::{HoldLine, MAX_LINES_PER_HOLD, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::Command;
use allot_store::command::HoldExtras;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldLineRequest {
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
    pub pool_id: String,
    #[schema(example = 2)]
    #[schema(minimum = 1, maximum = 1000000000)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub quantity: i64,
    /// For a session pool (`per_date`): the date, `YYYY-MM-DD`, not over in the session's time zone.
    #[schema(example = "2026-12-24")]
    #[schema(format = Date)]
    pub date: Option<String>,
    /// The unit this line takes (seats, credits, learners...): a pool that counts another unit
    /// refuses the hold with 422 unit-mismatch.
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9_-]+$")]
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHoldRequest {
    /// 1 to 64 lines; all fit (with every ancestor) or nothing is held.
    #[schema(min_items = 1, max_items = 64)]
    pub lines: Vec<HoldLineRequest>,
    /// How long the hold lives unless confirmed. Default 900 (15 minutes), at most 30 days.
    #[schema(example = 900)]
    #[schema(minimum = 1, maximum = 2592000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub ttl_seconds: Option<i64>,
    /// Who the hold is for, as your platform names them; filter holds by it.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub holder: Option<String>,
    /// Commit at once instead of holding (consumption: a seat, credits, a learner).
    #[serde(default)]
    pub confirm: bool,
    /// Who or what is consumed (a learner, a volunteer): counted once per pool. Asking again for
    /// the same subject answers 200 with the hold that counted it, and consumes nothing more.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub subject: Option<String>,
    /// Why, kept in the ledger entries (a member's quota history).
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub reason: Option<String>,
}

impl CreateHoldRequest {
    pub fn validate(self, now: UnixMillis) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        if self.lines.is_empty() {
            checks.fail("lines", "must hold at least one line");
        } else if self.lines.len() > MAX_LINES_PER_HOLD {
            checks.fail(
                "lines",
                format!("must hold at most {MAX_LINES_PER_HOLD} lines"),
            );
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.iter().enumerate() {
            checks.id(&format!("lines[{index}].pool_id"), &line.pool_id);
            let mut pool_id = PoolId(line.pool_id.clone());
            if let Some(date) = &line.date
                && let Some(date) = checks.date(&format!("lines[{index}].date"), date, now)
            {
                pool_id = date.instance_id(&pool_id);
            }
            if let Some(quantity) = checks.unit(
                &format!("lines[{index}].quantity"),
                Quantity::new(line.quantity),
            ) {
                lines.push(HoldLine { pool_id, quantity });
            }
            if let Some(unit) = &line.unit {
                check_unit_field(&mut checks, &format!("lines[{index}].unit"), unit);
            }
        }
        let ttl = match self.ttl_seconds {
            Some(seconds) => checks.unit("ttl_seconds", TtlSeconds::new(seconds)),
            None => Some(TtlSeconds::DEFAULT),
        };
        if let Some(holder) = &self.holder {
            checks.text("holder", holder, MAX_HOLDER_CHARS);
        }
        if let Some(subject) = &self.subject {
            checks.text("subject", subject, MAX_HOLDER_CHARS);
        }
        if let Some(reason) = &self.reason {
            checks.text("reason", reason, MAX_REASON_CHARS);
        }
        let extras = HoldExtras {
            units: self.lines.iter().map(|line| line.unit.clone()).collect(),
            subject: self.subject,
            reason: self.reason,
        };
        let command = ttl.map(|ttl| Command::PlaceHold {
            lines,
            ttl,
            holder: self.holder,
            confirm: self.confirm,
            extras,
        });
        checks.finish(command)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendHoldRequest {
    /// The hold's new deadline is this many seconds from now.
    #[schema(example = 300)]
    #[schema(minimum = 1, maximum = 2592000)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub ttl_seconds: i64,
}

impl ExtendHoldRequest {
    pub fn validate(&self) -> Result<TtlSeconds, ApiError> {
        let mut checks = Checks::default();
        let ttl = checks.unit("ttl_seconds", TtlSeconds::new(self.ttl_seconds));
        checks.finish(ttl)
    }
}
