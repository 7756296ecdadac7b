//! Everything an SQLite store shows, read through its own reads: every pool, hold, plan and job
//! as the API would show them, the ledger, each job's items, the events and the alerts page by
//! page, each member's quota pool, the active webhooks and every delivery.

use super::SqliteStore;
use super::reads::{DELIVERY_COLUMNS, delivery_from_row};
use crate::model::{AlertFilter, DeliveryView, PageRequest, TenantId};
use crate::observe::{Member, Observed};
use crate::{JobStore, Store, StoreError, TicketStore};
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
            attendees: Vec::new(),
            tickets: Vec::new(),
            events: Vec::new(),
            alerts: Vec::new(),
            webhooks: Vec::new(),
            deliveries: Vec::new(),
        };
        for (tenant, id) in &pool_ids {
            let pool = self
                .get_pool(tenant, id, now)?
                .ok_or_else(|| gone("pool", id))?;
            observed.pools.push((tenant.clone(), pool));
            let ledger = every_page(|page| {
                self.list_ledger(tenant, id, page)?
                    .ok_or_else(|| gone("pool", id))
            })?;
            observed
                .ledger
                .extend(ledger.into_iter().map(|entry| (tenant.clone(), entry)));
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
        let attendee_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM attendees ORDER BY tenant_id, id",
            )
        })?;
        for (tenant, id) in &attendee_ids {
            let attendee = self
                .get_attendee(tenant, id)?
                .ok_or_else(|| gone("attendee", id))?;
            observed.attendees.push((tenant.clone(), attendee));
        }
        let ticket_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM tickets ORDER BY tenant_id, id",
            )
        })?;
        for (tenant, id) in &ticket_ids {
            let ticket = self
                .get_ticket(tenant, id)?
                .ok_or_else(|| gone("ticket", id))?;
            observed.tickets.push((tenant.clone(), ticket));
        }
        for tenant in self.read(|conn| tenants_in(conn, "events"))? {
            let events = every_page(|page| self.list_events(&tenant, None, page))?;
            observed
                .events
                .extend(events.into_iter().map(|event| (tenant.clone(), event)));
        }
        for tenant in self.read(|conn| tenants_in(conn, "alerts"))? {
            let filter = AlertFilter::default();
            let alerts = every_page(|page| self.list_alerts(&tenant, &filter, page))?;
            observed
                .alerts
                .extend(alerts.into_iter().map(|alert| (tenant.clone(), alert)));
        }
        for tenant in self.read(|conn| tenants_in(conn, "webhooks"))? {
            let webhooks = self.list_webhooks(&tenant)?;
            observed
                .webhooks
                .extend(webhooks.into_iter().map(|hook| (tenant.clone(), hook)));
        }
        observed.deliveries = self.read(deliveries)?;
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

/// The tenants with rows in `table`, in id order.
fn tenants_in(conn: &Connection, table: &str) -> Result<Vec<TenantId>, StoreError> {
    let tenants = conn
        .prepare(&format!(
            "SELECT DISTINCT tenant_id FROM {table} ORDER BY tenant_id"
        ))?
        .query_map([], |row| row.get(0).map(TenantId))?
        .collect::<Result<_, _>>()?;
    Ok(tenants)
}

/// Every item of a paged list, page by page.
fn every_page<T>(
    mut read: impl FnMut(PageRequest) -> Result<crate::model::Page<T>, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = read(PageRequest {
            limit: crate::model::MAX_PAGE_SIZE,
            after,
        })?;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return Ok(items),
        }
    }
}

/// Every delivery, by id.
fn deliveries(conn: &Connection) -> Result<Vec<DeliveryView>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d ORDER BY d.id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(delivery_from_row(row)?);
    }
    Ok(found)
}

fn gone(kind: &str, id: &str) -> StoreError {
    StoreError::Corrupt(format!("{kind} {id} was listed and then not found"))
}
