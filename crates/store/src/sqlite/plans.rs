//! Plans as SQLite reads them: for the API, and for the engine, which decides making and
//! changing them and their members' quota pools (`allot_engine::apply::plans`).

use crate::StoreError;
use crate::model::{PlanView, TenantId};
use allot_core::UnixMillis;
use rusqlite::{Connection, params};

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
