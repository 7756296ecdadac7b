//! Everything an SQLite store shows, read through its own reads: every pool, hold, plan and job
//! as the API would show them, the ledger and each job's items page by page, and each member's
//! quota pool.

use super::SqliteStore;
use crate::model::{PageRequest, TenantId};
use crate::observe::{Member, Observed};
use crate::{JobStore, Store, StoreError};
use allot_core::UnixMillis;
use rusqlite::Connection;

impl SqliteStore {
    /// Everything the store shows, as of `now`.
    pub fn observe(&self, now: UnixMillis) -> Result<Observed, StoreError> {
        let pool_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM pools ORDER BY tenant_id, id",
            )
        })?;
        let hold_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM holds ORDER BY tenant_id, id",
            )
        })?;
        let mut observed = Observed {
            pools: Vec::with_capacity(pool_ids.len()),
            holds: Vec::with_capacity(hold_ids.len()),
            ledger: Vec::new(),
            plans: Vec::new(),
            members: Vec::new(),
            jobs: Vec::new(),
            job_items: Vec::new(),
        };
        for (tenant, id) in &pool_ids {
            let pool = self
                .get_pool(tenant, id, now)?
                .ok_or_else(|| gone("pool", id))?;
            observed.pools.push((tenant.clone(), pool));
            let mut after = None;
            loop {
                let page = PageRequest {
                    limit: crate::model::MAX_PAGE_SIZE,
                    after,
                };
                let page = self
                    .list_ledger(tenant, id, page)?
                    .ok_or_else(|| gone("pool", id))?;
                observed
                    .ledger
                    .extend(page.items.into_iter().map(|entry| (tenant.clone(), entry)));
                match page.next_cursor {
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
            }
        }
        observed.ledger.sort_by_key(|(_, entry)| entry.seq);
        for (tenant, id) in &hold_ids {
            let hold = self
                .get_hold(tenant, id, now)?
                .ok_or_else(|| gone("hold", id))?;
            observed.holds.push((tenant.clone(), hold));
        }
        let plan_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM plans ORDER BY tenant_id, id",
            )
        })?;
        for (tenant, id) in &plan_ids {
            let plan = self.get_plan(tenant, id)?.ok_or_else(|| gone("plan", id))?;
            observed.plans.push((tenant.clone(), plan));
        }
        observed.members = self.read(members)?;
        let job_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM jobs ORDER BY tenant_id, id",
            )
        })?;
        for (tenant, id) in &job_ids {
            let job = self.get_job(tenant, id)?.ok_or_else(|| gone("job", id))?;
            observed.jobs.push((tenant.clone(), job));
            let mut after_seq = -1;
            loop {
                let page =
                    self.job_items(tenant, id, None, after_seq, crate::model::MAX_PAGE_SIZE)?;
                let Some(last) = page.last() else { break };
                after_seq = last.seq;
                observed.job_items.extend(
                    page.into_iter()
                        .map(|item| (tenant.clone(), id.clone(), item)),
                );
            }
        }
        Ok(observed)
    }
}

fn ids(conn: &Connection, sql: &str) -> Result<Vec<(TenantId, String)>, StoreError> {
    let ids = conn
        .prepare(sql)?
        .query_map([], |row| Ok((TenantId(row.get(0)?), row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Each member's quota pool, in tenant, plan and subject order.
fn members(conn: &Connection) -> Result<Vec<Member>, StoreError> {
    let members = conn
        .prepare(
            "SELECT tenant_id, plan_id, subject, id FROM pools WHERE plan_id IS NOT NULL \
             ORDER BY tenant_id, plan_id, subject",
        )?
        .query_map([], |row| {
            Ok(Member {
                tenant: TenantId(row.get(0)?),
                plan_id: row.get(1)?,
                subject: row.get(2)?,
                pool_id: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(members)
}

fn gone(kind: &str, id: &str) -> StoreError {
    StoreError::Corrupt(format!("{kind} {id} was listed and then not found"))
}
