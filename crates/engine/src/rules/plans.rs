//! Plans and member quotas: a plan is the quota each member gets, and a member's quota is a
//! pool made from its plan, so every rule, the ledger and alerts apply to it as to any pool.

use crate::Error;
use crate::command::NewPool;
use crate::model::{PlanView, WaitlistSettings};
use allot_core::{Capacity, LimitPct, UnixMillis};

/// What a plan change may move: members made from now on get the new terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTerms {
    pub name: String,
    pub capacity: i64,
}

impl PlanTerms {
    pub fn of(plan: &PlanView) -> Self {
        PlanTerms {
            name: plan.name.clone(),
            capacity: plan.capacity,
        }
    }

    /// The terms after a change; `None` leaves a term as it is.
    pub fn changed(&self, name: Option<String>, capacity: Option<Capacity>) -> Self {
        PlanTerms {
            name: name.unwrap_or_else(|| self.name.clone()),
            capacity: capacity.map_or(self.capacity, Capacity::get),
        }
    }

    /// The plan as it is with these terms, changed at `now`.
    pub fn applied_to(self, plan: &PlanView, now: UnixMillis) -> PlanView {
        PlanView {
            name: self.name,
            capacity: self.capacity,
            updated_at: now,
            ..plan.clone()
        }
    }
}

/// The pool a new member of `plan` gets: the plan's unit, capacity, limits and thresholds,
/// named after the plan and the member. A stored plan whose figures are out of range is corrupt.
pub fn member_pool(
    plan: &PlanView,
    subject: &str,
    parent_id: Option<String>,
) -> Result<NewPool, Error> {
    let corrupt = |what: &str| Error::Corrupt(format!("plan {}: {what} out of range", plan.id));
    Ok(NewPool {
        name: format!("{}: {subject}", plan.name),
        unit: plan.unit.clone(),
        parent_id,
        capacity: Capacity::new(plan.capacity).map_err(|_| corrupt("capacity"))?,
        hard_limit_pct: LimitPct::new(plan.hard_limit_pct.into())
            .map_err(|_| corrupt("hard limit"))?,
        soft_limit_pct: LimitPct::new(plan.soft_limit_pct.into())
            .map_err(|_| corrupt("soft limit"))?,
        price: None,
        metadata: None,
        per_date: false,
        time_zone: None,
        waitlist: WaitlistSettings::default(),
        thresholds: match &plan.thresholds {
            Some(text) => Some(serde_json::from_str(text)?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> PlanView {
        PlanView {
            id: "plan_1".into(),
            name: "Gold".into(),
            unit: "credits".into(),
            capacity: 40,
            hard_limit_pct: 110,
            soft_limit_pct: 100,
            thresholds: Some(
                r#"[{"pct":80,"severity":"info","recipients":["sales"],"throttle_seconds":3600}]"#
                    .into(),
            ),
            members: 2,
            created_at: UnixMillis(1),
            updated_at: UnixMillis(1),
        }
    }

    #[test]
    fn a_member_gets_the_plans_figures_under_its_own_name() {
        let pool = member_pool(&plan(), "ana", Some("pool_org".into())).expect("in range");
        assert_eq!(pool.name, "Gold: ana");
        assert_eq!(pool.unit, "credits");
        assert_eq!(pool.parent_id.as_deref(), Some("pool_org"));
        assert_eq!(pool.capacity.get(), 40);
        assert_eq!(
            (pool.hard_limit_pct.get(), pool.soft_limit_pct.get()),
            (110, 100)
        );
        let thresholds = pool.thresholds.expect("the plan's thresholds");
        assert_eq!(thresholds[0].pct, 80);
        assert!(!pool.per_date && pool.price.is_none());
    }

    #[test]
    fn a_stored_plan_out_of_range_is_corrupt_not_a_refusal() {
        let broken = PlanView {
            capacity: -1,
            ..plan()
        };
        assert!(matches!(
            member_pool(&broken, "ana", None),
            Err(Error::Corrupt(message)) if message.contains("capacity")
        ));
    }

    #[test]
    fn a_change_moves_only_the_terms_given() {
        let terms = PlanTerms::of(&plan());
        let renamed = terms.changed(Some("Platinum".into()), None);
        assert_eq!(
            renamed,
            PlanTerms {
                name: "Platinum".into(),
                capacity: 40
            }
        );
        let bigger = terms.changed(None, Some(Capacity::new(60).expect("valid")));
        let changed = bigger.applied_to(&plan(), UnixMillis(9));
        assert_eq!((changed.name.as_str(), changed.capacity), ("Gold", 60));
        assert_eq!(changed.updated_at, UnixMillis(9));
        assert_eq!(changed.members, 2, "members keep the pools they have");
    }
}
