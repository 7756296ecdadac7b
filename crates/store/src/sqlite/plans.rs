//! Plans and member quotas (seed 003): a plan is the quota each member gets; a member's quota is
//! a pool made from the plan, so every rule, the ledger and alerts apply to it as to any pool.

use super::batch::{Tx, Working, create_pool, new_id};
use crate::StoreError;
use crate::command::{Failure, NewPlan, NewPool, Outcome, Success};
use crate::model::{PlanView, TenantId, WaitlistSettings};
use allot_core::{Capacity, LimitPct, UnixMillis};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Columns read for a plan, in the order [`plan_from_row`] expects.
pub(super) const PLAN_COLUMNS: &str = "p.id, p.name, p.unit, p.capacity, p.hard_limit_pct, p.soft_limit_pct, \
     p.thresholds, p.created_at, p.updated_at, \
     (SELECT COUNT(*) FROM pools m WHERE m.tenant_id = p.tenant_id AND m.plan_id = p.id)";

pub(super) fn plan_from_row(row: &rusqlite::Row<'_>) -> Result<PlanView, StoreError> {
    Ok(PlanView {
        id: row.get(0)?,
        name: row.get(1)?,
        unit: row.get(2)?,
        capacity: row.get(3)?,
        hard_limit_pct: row.get(4)?,
        soft_limit_pct: row.get(5)?,
        thresholds: row.get(6)?,
        created_at: UnixMillis(row.get(7)?),
        updated_at: UnixMillis(row.get(8)?),
        members: row.get(9)?,
    })
}

pub(super) fn load_plan(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<PlanView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.tenant_id = ?1 AND p.id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant.0, id])?;
    match rows.next()? {
        Some(row) => Ok(Some(plan_from_row(row)?)),
        None => Ok(None),
    }
}

pub(super) fn create_plan(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    plan: NewPlan,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    if let Err(failure) = allot_engine::rules::pools::new_limits(
        plan.capacity,
        plan.hard_limit_pct,
        plan.soft_limit_pct,
    ) {
        return Ok(Err(failure));
    }
    let id = new_id("plan");
    let thresholds = match &plan.thresholds {
        Some(thresholds) => Some(serde_json::to_string(thresholds)?),
        None => None,
    };
    tx.prepare_cached(
        "INSERT INTO plans (tenant_id, id, name, unit, capacity, hard_limit_pct, soft_limit_pct, thresholds, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        tenant.0,
        id,
        plan.name,
        plan.unit,
        plan.capacity.get(),
        plan.hard_limit_pct.get(),
        plan.soft_limit_pct.get(),
        thresholds,
        now.0
    ])?;
    let view =
        load_plan(tx, tenant, &id)?.ok_or_else(|| StoreError::Corrupt("plan vanished".into()))?;
    Ok(Ok(Success::Plan(view)))
}

pub(super) fn update_plan(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    plan_id: &str,
    name: Option<String>,
    capacity: Option<Capacity>,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE plans SET name = COALESCE(?3, name), capacity = COALESCE(?4, capacity), updated_at = ?5
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![tenant.0, plan_id, name, capacity.map(Capacity::get), now.0])?;
    if changed == 0 {
        return Ok(Err(Failure::NotFound {
            kind: "plan",
            id: plan_id.to_owned(),
        }));
    }
    let view = load_plan(tx, tenant, plan_id)?
        .ok_or_else(|| StoreError::Corrupt("plan vanished".into()))?;
    Ok(Ok(Success::Plan(view)))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn put_member(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    plan_id: &str,
    subject: &str,
    parent_id: Option<String>,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let Some(plan) = load_plan(tx, tenant, plan_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "plan",
            id: plan_id.to_owned(),
        }));
    };
    let existing: Option<String> = tx
        .prepare_cached(
            "SELECT id FROM pools WHERE tenant_id = ?1 AND plan_id = ?2 AND subject = ?3",
        )?
        .query_row(params![tenant.0, plan_id, subject], |row| row.get(0))
        .optional()?;
    if let Some(pool_id) = existing {
        let pools = super::batch::tenant_pools(&mut work.tenants, tenant);
        let id = allot_core::PoolId(pool_id);
        if !pools.load_chain(&mut Tx(tx), tenant, &id)? {
            return Err(StoreError::Corrupt(format!("member pool {id} vanished")));
        }
        return Ok(Ok(Success::Member {
            pool: pools.view(&id),
            created: false,
        }));
    }
    let corrupt = |what: &str| StoreError::Corrupt(format!("plan {plan_id}: {what} out of range"));
    let new_pool = NewPool {
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
    };
    let created = create_pool(tx, work, tenant, actor, new_pool, now)?;
    let pool = match created {
        Ok(Success::Pool(pool)) => pool,
        Ok(_) => {
            return Err(StoreError::Corrupt(
                "creating a pool answered something else".into(),
            ));
        }
        Err(failure) => return Ok(Err(failure)),
    };
    tx.prepare_cached(
        "UPDATE pools SET plan_id = ?3, subject = ?4 WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![tenant.0, pool.id, plan_id, subject])?;
    Ok(Ok(Success::Member {
        pool,
        created: true,
    }))
}
