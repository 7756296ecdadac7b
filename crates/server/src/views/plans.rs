//! Plans (membership types) and a subject's quotas from them.

use super::pools::{ThresholdBody, UsageBody};
use crate::timestamps::rfc3339;
use allot_store::{PlanView, QuotaView, ThresholdRecord};
use serde::Serialize;
use utoipa::ToSchema;

/// A plan: the quota each member gets.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanBody {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub capacity: i64,
    pub hard_limit_pct: u32,
    pub soft_limit_pct: u32,
    #[schema(value_type = Vec<ThresholdBody>)]
    pub thresholds: Vec<ThresholdRecord>,
    /// Members with a quota from this plan.
    pub members: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The bulk adjustment moving existing members to a new capacity, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

impl From<&PlanView> for PlanBody {
    fn from(plan: &PlanView) -> Self {
        PlanBody {
            id: plan.id.clone(),
            name: plan.name.clone(),
            unit: plan.unit.clone(),
            capacity: plan.capacity,
            hard_limit_pct: plan.hard_limit_pct,
            soft_limit_pct: plan.soft_limit_pct,
            thresholds: allot_store::threshold_records(plan.thresholds.as_deref()),
            members: plan.members,
            created_at: rfc3339(plan.created_at),
            updated_at: rfc3339(plan.updated_at),
            job_id: None,
        }
    }
}

/// One of a subject's quotas: use, limit and its near/at/over flags; its history is the pool's ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaBody {
    pub plan_id: String,
    pub plan_name: String,
    #[serde(flatten)]
    pub usage: UsageBody,
    pub available: i64,
    pub over_soft_limit: bool,
    /// Where its history (with reasons) is: the pool's ledger.
    pub history: String,
}

impl From<&QuotaView> for QuotaBody {
    fn from(quota: &QuotaView) -> Self {
        QuotaBody {
            plan_id: quota.plan_id.clone(),
            plan_name: quota.plan_name.clone(),
            usage: UsageBody::from(&quota.pool),
            available: quota.pool.available,
            over_soft_limit: quota.pool.over_soft_limit,
            history: format!("/v1/pools/{}/ledger", quota.pool.id),
        }
    }
}
