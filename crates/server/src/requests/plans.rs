//! Plans and member quotas: a membership type's quota, a member's own quota from it, and bulk
//! adjustments of many quotas at once.

use super::checks::{
    Checks, MAX_HOLDER_CHARS, MAX_NAME_CHARS, MAX_REASON_CHARS, check_thresholds, check_unit,
};
use crate::error::ApiError;
use crate::jobs::params::{AdjustParams, KIND_ADJUST_QUOTAS};
use crate::views::pools::ThresholdBody;
use allot_core::Capacity;
use allot_core::quotas::Adjustment;
use allot_store::Command;
use allot_store::command::NewPlan;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlanRequest {
    #[schema(example = "Gold membership")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// What the quota counts: seats, credits, learners...
    #[schema(example = "credits")]
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9_-]+$")]
    pub unit: String,
    #[schema(example = 100)]
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub capacity: i64,
    /// Default 100; a campaign quota with 10% overage is 110.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub hard_limit_pct: Option<i64>,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub soft_limit_pct: Option<i64>,
    /// Thresholds for members' quotas; default the campaign table (80/90/100/110%).
    pub thresholds: Option<Vec<ThresholdBody>>,
}

impl CreatePlanRequest {
    pub fn validate(self) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        checks.text("name", &self.name, MAX_NAME_CHARS);
        check_unit(&mut checks, &self.unit);
        let limits = checks.limits(self.capacity, self.hard_limit_pct, self.soft_limit_pct);
        let thresholds = self
            .thresholds
            .as_ref()
            .map(|thresholds| check_thresholds(&mut checks, thresholds));
        let command = limits.map(|limits| {
            Command::CreatePlan(NewPlan {
                name: self.name.trim().to_owned(),
                unit: self.unit,
                capacity: limits.capacity,
                hard_limit_pct: limits.hard_limit_pct,
                soft_limit_pct: limits.soft_limit_pct,
                thresholds,
            })
        });
        checks.finish(command)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPlanRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    /// The capacity members made from now on get.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub capacity: Option<i64>,
    /// Also move every existing member's quota to the new capacity, as a bulk adjustment job
    /// (a member already using more is reported as a failure and keeps its quota).
    #[serde(default)]
    pub apply_to_members: bool,
    /// Why, for the members' quota history.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub reason: Option<String>,
}

impl PatchPlanRequest {
    /// The plan change, with the job that moves existing members when asked.
    pub fn validate(self, plan_id: String) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        if let Some(name) = &self.name {
            checks.text("name", name, MAX_NAME_CHARS);
        }
        if let Some(reason) = &self.reason {
            checks.text("reason", reason, MAX_REASON_CHARS);
        }
        let capacity = match self.capacity {
            Some(capacity) => checks.unit("capacity", Capacity::new(capacity)),
            None => None,
        };
        if self.apply_to_members && capacity.is_none() {
            checks.fail("apply_to_members", "needs a capacity to apply");
        }
        let reason = self
            .reason
            .clone()
            .unwrap_or_else(|| "the plan's capacity changed".to_owned());
        let follow = if self.apply_to_members {
            capacity.map(|capacity| (capacity, reason))
        } else {
            None
        };
        let members_follow = match follow {
            Some((capacity, reason)) => {
                let params = AdjustParams {
                    plan_id: Some(plan_id.clone()),
                    subjects: None,
                    capacity: Some(capacity.get()),
                    delta: None,
                    reason,
                    notify: None,
                };
                Some((KIND_ADJUST_QUOTAS.to_owned(), params.to_json()))
            }
            None => None,
        };
        checks.finish(Some(Command::UpdatePlan {
            plan_id,
            name: self.name.map(|name| name.trim().to_owned()),
            capacity,
            members_follow,
        }))
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMemberRequest {
    /// Count the member's use against a shared pool too (a campaign under a bundle).
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
    pub parent_id: Option<String>,
}

impl PutMemberRequest {
    pub fn validate(self, plan_id: String, subject: String) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        checks.text("subject", &subject, MAX_HOLDER_CHARS);
        if let Some(parent) = &self.parent_id {
            checks.id("parent_id", parent);
        }
        checks.finish(Some(Command::PutMember {
            plan_id,
            subject,
            parent_id: self.parent_id,
        }))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaAdjustmentRequest {
    /// Every member of this plan; with `subjects`, only those subjects' quotas from this plan.
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
    pub plan_id: Option<String>,
    /// These subjects' quotas (at most 100,000).
    #[schema(min_items = 1, max_items = 100000, value_type = Option<Vec<crate::requests::names::SubjectText>>)]
    pub subjects: Option<Vec<String>>,
    /// The new capacity. Not with `delta`.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub capacity: Option<i64>,
    /// Add to each capacity (negative takes away). Not with `capacity`.
    #[schema(minimum = -1000000000000_i64, maximum = 1000000000000_i64)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub delta: Option<i64>,
    /// Why: kept in every member's quota history.
    #[schema(example = "annual plan renewal")]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub reason: String,
    /// The recipient group told when the job ends (a `job.completed` event, by e-mail and
    /// webhook); `operations` when absent.
    #[schema(value_type = Option<crate::requests::names::GroupName>)]
    pub notify: Option<String>,
}

/// Most subjects one bulk adjustment may list.
const MAX_ADJUSTED_SUBJECTS: usize = 100_000;

impl QuotaAdjustmentRequest {
    pub fn validate(self) -> Result<AdjustParams, ApiError> {
        let mut checks = Checks::default();
        checks.text("reason", &self.reason, MAX_REASON_CHARS);
        if self.plan_id.is_none() && self.subjects.is_none() {
            checks.fail("plan_id", "give plan_id, subjects, or both");
        }
        if let Some(plan) = &self.plan_id {
            checks.id("plan_id", plan);
        }
        let mut subjects = self.subjects;
        if let Some(list) = subjects.as_mut() {
            if list.is_empty() || list.len() > MAX_ADJUSTED_SUBJECTS {
                checks.fail("subjects", "must list 1 to 100,000 subjects");
            }
            for subject in list.iter() {
                if subject.is_empty() || subject.chars().count() > MAX_HOLDER_CHARS {
                    checks.fail("subjects", "each subject is 1 to 200 characters");
                    break;
                }
            }
            list.sort();
            list.dedup();
        }
        if let Err(error) = Adjustment::from_request(self.capacity, self.delta) {
            checks.fail(error.field(), error.to_string());
        }
        if let Some(group) = &self.notify {
            checks.name("notify", group);
        }
        checks.finish(Some(AdjustParams {
            plan_id: self.plan_id,
            subjects,
            capacity: self.capacity,
            delta: self.delta,
            reason: self.reason.trim().to_owned(),
            notify: self.notify,
        }))
    }
}
