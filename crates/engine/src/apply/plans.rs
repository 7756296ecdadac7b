//! Plans and member quotas: making and changing a plan (with, when asked, the job that moves
//! its members in the same batch), and giving a member its quota pool made from the plan.

use crate::Error;
use crate::apply::{jobs, pools};
use crate::change::Change;
use crate::command::{Failure, NewPlan, Outcome, Success};
use crate::model::{PlanView, TenantId};
use crate::port::Port;
use crate::rules::plans::{self as plan_rules, PlanTerms};
use crate::rules::pools as pool_rules;
use crate::working::TenantPools;
use allot_core::{Capacity, PoolId, UnixMillis};

fn plan_not_found(id: &str) -> Outcome {
    Err(Failure::NotFound {
        kind: "plan",
        id: id.to_owned(),
    })
}

pub fn create<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    plan: NewPlan,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    // A plan's limits are a pool's: its members are pools made with them.
    if let Err(failure) =
        pool_rules::new_limits(plan.capacity, plan.hard_limit_pct, plan.soft_limit_pct)
    {
        return Ok(Err(failure));
    }
    let view = PlanView {
        id: port.new_id("plan"),
        name: plan.name,
        unit: plan.unit,
        capacity: plan.capacity.get(),
        hard_limit_pct: plan.hard_limit_pct.get(),
        soft_limit_pct: plan.soft_limit_pct.get(),
        thresholds: match &plan.thresholds {
            Some(thresholds) => Some(serde_json::to_string(thresholds)?),
            None => None,
        },
        members: 0,
        created_at: now,
        updated_at: now,
    };
    port.persist(Change::NewPlan {
        tenant: tenant.clone(),
        plan: Box::new(view.clone()),
    })?;
    Ok(Ok(Success::Plan(view)))
}

/// Changes a plan's terms for members made from now on. With `members_follow` (a job kind and
/// its parameters), the job that moves the existing members is queued in the same batch, sized
/// to them.
pub fn update<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    plan_id: &str,
    name: Option<String>,
    capacity: Option<Capacity>,
    members_follow: Option<(String, serde_json::Value)>,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let Some(plan) = port.plan(tenant, plan_id)? else {
        return Ok(plan_not_found(plan_id));
    };
    let from = PlanTerms::of(&plan);
    let to = from.changed(name, capacity);
    port.persist(Change::PlanUpdated {
        tenant: tenant.clone(),
        plan_id: plan_id.to_owned(),
        from,
        to: to.clone(),
        at: now,
    })?;
    let plan = to.applied_to(&plan, now);
    let Some((kind, params)) = members_follow else {
        return Ok(Ok(Success::Plan(plan)));
    };
    let job = jobs::create(port, tenant, kind, params, plan.members, now)?;
    Ok(Ok(Success::PlanFollowed { plan, job }))
}

/// `subject`'s quota pool from the plan: the one it has, or a new one made from the plan.
#[allow(clippy::too_many_arguments)]
pub fn put_member<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    plan_id: &str,
    subject: &str,
    parent_id: Option<String>,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let Some(plan) = port.plan(tenant, plan_id)? else {
        return Ok(plan_not_found(plan_id));
    };
    if let Some(id) = port.member_pool(tenant, plan_id, subject)? {
        if !pools.load_chain(port, tenant, &id)? {
            return Err(Error::Corrupt(format!("member pool {id} vanished")));
        }
        return Ok(Ok(Success::Member {
            pool: pools.view(&id),
            created: false,
        }));
    }
    let new_pool = plan_rules::member_pool(&plan, subject, parent_id)?;
    let pool = match pools::create(port, pools, tenant, actor, new_pool, now)? {
        Ok(Success::Pool(pool)) => pool,
        Ok(_) => {
            return Err(Error::Corrupt(
                "creating a pool answered something else".into(),
            ));
        }
        Err(failure) => return Ok(Err(failure)),
    };
    port.persist(Change::NewMember {
        tenant: tenant.clone(),
        plan_id: plan_id.to_owned(),
        subject: subject.to_owned(),
        pool_id: PoolId(pool.id.clone()),
    })?;
    Ok(Ok(Success::Member {
        pool,
        created: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;
    use allot_core::LimitPct;

    const NOW: UnixMillis = UnixMillis(1_000);

    fn tenant() -> TenantId {
        TenantId("ten_1".into())
    }

    fn gold(hard: u32, soft: u32) -> NewPlan {
        NewPlan {
            name: "Gold".into(),
            unit: "credits".into(),
            capacity: Capacity::new(40).expect("valid"),
            hard_limit_pct: LimitPct::new(hard.into()).expect("valid"),
            soft_limit_pct: LimitPct::new(soft.into()).expect("valid"),
            thresholds: None,
        }
    }

    fn made(port: &mut RecordingPort) -> PlanView {
        match create(port, &tenant(), gold(110, 100), NOW).expect("decided") {
            Ok(Success::Plan(plan)) => plan,
            other => panic!("no plan: {other:?}"),
        }
    }

    #[test]
    fn a_plan_is_made_with_no_members_and_refused_with_a_pools_bad_limits() {
        let mut port = RecordingPort::default();
        let plan = made(&mut port);
        assert_eq!((plan.capacity, plan.members), (40, 0));
        assert_eq!((plan.created_at, plan.updated_at), (NOW, NOW));
        assert!(matches!(
            port.take_changes().as_slice(),
            [Change::NewPlan { plan: stored, .. }] if **stored == plan
        ));
        let refused = create(&mut port, &tenant(), gold(90, 100), NOW).expect("decided");
        assert!(
            matches!(refused, Err(Failure::Invalid { field, .. }) if field == "soft_limit_pct")
        );
        assert!(port.changes.is_empty(), "a refusal writes nothing");
    }

    #[test]
    fn a_plan_change_states_its_terms_from_and_to_and_can_queue_its_members_job() {
        let mut port = RecordingPort::default();
        let plan = made(&mut port);
        let mut pools = TenantPools::default();
        for subject in ["ana", "bo"] {
            put_member(
                &mut port,
                &mut pools,
                &tenant(),
                None,
                &plan.id,
                subject,
                None,
                NOW,
            )
            .expect("decided")
            .expect("a member");
        }
        port.take_changes();
        let later = UnixMillis(2_000);
        let followed = update(
            &mut port,
            &tenant(),
            &plan.id,
            None,
            Some(Capacity::new(60).expect("valid")),
            Some((
                "quotas.follow_plan".into(),
                serde_json::json!({"plan": plan.id}),
            )),
            later,
        )
        .expect("decided");
        let Ok(Success::PlanFollowed { plan: changed, job }) = followed else {
            panic!("not followed: {followed:?}");
        };
        assert_eq!((changed.name.as_str(), changed.capacity), ("Gold", 60));
        assert_eq!((changed.members, changed.updated_at), (2, later));
        assert_eq!(job.total, 2, "the job is sized to the members");
        let changes = port.take_changes();
        assert!(matches!(
            changes.as_slice(),
            [Change::PlanUpdated { from, to, .. }, Change::NewJob { .. }]
                if from.capacity == 40 && to.capacity == 60 && to.name == "Gold"
        ));
        let missing = update(&mut port, &tenant(), "plan_x", None, None, None, later);
        assert!(matches!(
            missing.expect("decided"),
            Err(Failure::NotFound { kind: "plan", .. })
        ));
        assert!(port.changes.is_empty());
    }

    #[test]
    fn a_member_gets_one_pool_from_its_plan_however_often_it_is_put() {
        let mut port = RecordingPort::default();
        let plan = made(&mut port);
        port.take_changes();
        let mut pools = TenantPools::default();
        let mut put = |port: &mut RecordingPort| match put_member(
            port,
            &mut pools,
            &tenant(),
            Some("key_1"),
            &plan.id,
            "ana",
            None,
            NOW,
        )
        .expect("decided")
        {
            Ok(Success::Member { pool, created }) => (pool, created),
            other => panic!("no member: {other:?}"),
        };
        let (first, created) = put(&mut port);
        assert!(created);
        assert_eq!((first.name.as_str(), first.capacity), ("Gold: ana", 40));
        assert!(matches!(
            port.take_changes().as_slice(),
            [Change::NewPool { .. }, Change::Ledger(_), Change::NewMember { subject, .. }]
                if subject == "ana"
        ));
        let (again, created) = put(&mut port);
        assert!(!created);
        assert_eq!(again.id, first.id);
        assert!(
            port.changes.is_empty(),
            "the member's pool is answered, not made again"
        );
        let unknown = put_member(
            &mut port,
            &mut pools,
            &tenant(),
            None,
            "plan_x",
            "ana",
            None,
            NOW,
        );
        assert!(matches!(
            unknown.expect("decided"),
            Err(Failure::NotFound { kind: "plan", .. })
        ));
    }
}
