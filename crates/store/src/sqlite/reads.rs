//! Reads: point lookups and bounded pages on pooled read connections. None of them waits for the
//! writer (WAL), and each corrects for holds that are past their deadline but not yet swept.

use super::SqliteStore;
use super::outbox::recipient_groups;
use super::plans::{PLAN_COLUMNS, load_plan, plan_from_row};
use super::rows::{
    ENTRY_COLUMNS, ENTRY_FROM, HOLD_COLUMNS, HoldRecord, POOL_COLUMNS, PoolRecord, entry_from_row,
    hold_from_row, pool_from_row,
};
use super::waitlist::{entry_view, load_entry, priority_classes, queue, recent_promotions};
use crate::model::*;
use crate::{Store, StoreError};
use allot_core::waitlist::{EntryStatus, PriorityClasses};
use allot_core::{HoldStatus, PoolId, SessionDate, UnixMillis};
use allot_engine::records::EntryRecord;
use allot_engine::views::{PoolRows, PoolViews};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

impl Store for SqliteStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    fn maintain(&self) -> Result<(), StoreError> {
        self.checkpoint()
    }

    fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, tenant_id, role, created_at FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
            )?;
            let row = stmt.query_row([key_hash], api_key_from_row).optional()?;
            row.transpose()
        })
    }

    fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, tenant_id, role, created_at FROM api_keys
                 WHERE tenant_id = ?1 AND revoked_at IS NULL ORDER BY id LIMIT 10000",
            )?;
            let rows = stmt.query_map([&tenant.0], api_key_from_row)?;
            rows.map(|row| row?).collect()
        })
    }

    fn get_pool(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<PoolView>, StoreError> {
        self.read(|conn| {
            let mut views = pool_views(conn, tenant, now, self.next_due.load(Ordering::Acquire))?;
            views.view(id)
        })
    }

    fn list_pools(
        &self,
        tenant: &TenantId,
        parent_id: Option<&str>,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<PoolView>, StoreError> {
        self.read(|conn| {
            let after = page.after.clone().unwrap_or_default();
            let fetch = page.limit as i64 + 1;
            let ids: Vec<String> = match parent_id {
                Some(parent) => {
                    let mut stmt = conn.prepare_cached(
                        "SELECT id FROM pools WHERE tenant_id = ?1 AND parent_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
                    )?;
                    stmt.query_map(params![tenant.0, parent, after, fetch], |row| row.get(0))?
                        .collect::<Result<_, _>>()?
                }
                None => {
                    let mut stmt = conn.prepare_cached(
                        "SELECT id FROM pools WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                    )?;
                    stmt.query_map(params![tenant.0, after, fetch], |row| row.get(0))?.collect::<Result<_, _>>()?
                }
            };
            let mut views = pool_views(conn, tenant, now, self.next_due.load(Ordering::Acquire))?;
            let mut items = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(view) = views.view(id)? {
                    items.push(view);
                }
            }
            Ok(paginate(items, page.limit, |pool| pool.id.clone()))
        })
    }

    fn availability(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<Availability>, StoreError> {
        let next_due = self.next_due.load(Ordering::Acquire);
        // With holds due but not yet swept the counters need correcting: the full view does it.
        if now.0 >= next_due {
            return Ok(self
                .get_pool(tenant, id, now)?
                .as_ref()
                .map(Availability::of));
        }
        let lean = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT parent_id, capacity, hard_limit_pct, held, committed, active, per_date
                 FROM pools WHERE id = ?1 AND tenant_id = ?2",
            )?;
            let mut next = Some(id.to_owned());
            let mut first: Option<(bool, bool)> = None;
            let mut available = i64::MAX;
            let mut depth = 0;
            while let Some(pool_id) = next.take() {
                depth += 1;
                if depth > allot_core::MAX_POOL_DEPTH {
                    return Err(StoreError::Corrupt(format!("pool {id} is nested too deep")));
                }
                let row = stmt
                    .query_row(params![pool_id, tenant.0], |row| {
                        Ok((
                            row.get::<_, Option<String>>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, i64>(3)? + row.get::<_, i64>(4)?,
                            row.get::<_, bool>(5)?,
                            row.get::<_, bool>(6)?,
                        ))
                    })
                    .optional()?;
                let Some((parent, capacity, hard_pct, used, active, per_date)) = row else {
                    if first.is_none() {
                        // Not a pool: perhaps a session's date not used yet (the full view knows).
                        return Ok(None);
                    }
                    return Err(StoreError::Corrupt(format!(
                        "pool {id} has a missing ancestor"
                    )));
                };
                let limit = i64::try_from(i128::from(capacity) * i128::from(hard_pct) / 100)
                    .unwrap_or(i64::MAX);
                available = if active {
                    available.min((limit - used).max(0))
                } else {
                    0
                };
                first.get_or_insert((active, per_date));
                next = parent;
            }
            Ok(first.map(|(active, per_date)| Availability {
                available,
                active,
                per_date,
            }))
        })?;
        match lean {
            Some(found) => Ok(Some(found)),
            None => Ok(self
                .get_pool(tenant, id, now)?
                .as_ref()
                .map(Availability::of)),
        }
    }

    fn pool_children(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<(PoolView, Vec<PoolView>)>, StoreError> {
        self.read(|conn| {
            let mut views = pool_views(conn, tenant, now, self.next_due.load(Ordering::Acquire))?;
            let Some(pool) = views.view(id)? else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM pools WHERE tenant_id = ?1 AND parent_id = ?2 ORDER BY id LIMIT ?3",
            )?;
            let child_ids: Vec<String> = stmt
                .query_map(
                    params![tenant.0, id, MAX_CHILDREN_IN_TOTALS as i64],
                    |row| row.get(0),
                )?
                .collect::<Result<_, _>>()?;
            let mut children = Vec::with_capacity(child_ids.len());
            for child in &child_ids {
                if let Some(view) = views.view(child)? {
                    children.push(view);
                }
            }
            Ok(Some((pool, children)))
        })
    }

    fn get_hold(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<HoldView>, StoreError> {
        self.read(|conn| Ok(load_hold(conn, tenant, id)?.map(|row| row.view(now))))
    }

    fn list_holds(
        &self,
        tenant: &TenantId,
        filter: &HoldFilter,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<HoldView>, StoreError> {
        self.read(|conn| {
            let mut sql =
                format!("SELECT {HOLD_COLUMNS} FROM holds WHERE tenant_id = ?1 AND id > ?2");
            if filter.holder.is_some() {
                sql.push_str(" AND holder = ?3");
            }
            // Filter on the status as the client sees it: a held hold past its deadline is expired.
            sql.push_str(match filter.status {
                None => "",
                Some(HoldStatus::Held) => " AND status = 'held' AND expires_at > ?4",
                Some(HoldStatus::Expired) => {
                    " AND (status = 'expired' OR (status = 'held' AND expires_at <= ?4))"
                }
                Some(HoldStatus::Confirmed) => " AND status = 'confirmed'",
                Some(HoldStatus::Released) => " AND status = 'released'",
            });
            sql.push_str(" ORDER BY id LIMIT ?5");
            let mut stmt = conn.prepare_cached(&sql)?;
            let after = page.after.clone().unwrap_or_default();
            // Unused parameters are fine in SQLite as long as every ?N in the text is bound.
            let mut bound = stmt.raw_bind_parameter(1, &tenant.0).map(|_| ());
            bound = bound.and_then(|_| stmt.raw_bind_parameter(2, &after));
            if let Some(holder) = &filter.holder {
                bound = bound.and_then(|_| stmt.raw_bind_parameter(3, holder));
            }
            if matches!(filter.status, Some(HoldStatus::Held | HoldStatus::Expired)) {
                bound = bound.and_then(|_| stmt.raw_bind_parameter(4, now.0));
            }
            bound?;
            stmt.raw_bind_parameter(5, page.limit as i64 + 1)?;
            let mut rows = stmt.raw_query();
            let mut items = Vec::new();
            while let Some(row) = rows.next()? {
                items.push(hold_from_row(row)?.view(now));
            }
            Ok(paginate(items, page.limit, |hold| hold.id.clone()))
        })
    }

    fn list_ledger(
        &self,
        tenant: &TenantId,
        pool_id: &str,
        page: PageRequest,
    ) -> Result<Option<Page<LedgerEntry>>, StoreError> {
        let after = cursor_number(&page)?.unwrap_or(0);
        self.read(|conn| {
            let exists: Option<i64> = conn
                .prepare_cached("SELECT 1 FROM pools WHERE id = ?1 AND tenant_id = ?2")?
                .query_row(params![pool_id, tenant.0], |row| row.get(0))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let seqs = super::ledger_runs::pool_entry_seqs(conn, pool_id, after, page.limit + 1)?;
            let mut entry_at = conn.prepare_cached(
                "SELECT seq, pool_id, hold_id, kind, held_delta, committed_delta, capacity_after, actor, reason, at
                 FROM ledger WHERE seq = ?1 AND tenant_id = ?2",
            )?;
            let mut items = Vec::with_capacity(seqs.len());
            for seq in seqs {
                let (kind, entry) = entry_at
                    .query_row(params![seq, tenant.0], |row| {
                        Ok((
                            row.get::<_, String>(3)?,
                            LedgerEntry {
                                seq: row.get(0)?,
                                pool_id: row.get(1)?,
                                hold_id: row.get(2)?,
                                kind: LedgerKind::Adjust,
                                held_delta: row.get(4)?,
                                committed_delta: row.get(5)?,
                                capacity_after: row.get(6)?,
                                actor: row.get(7)?,
                                reason: row.get(8)?,
                                at: UnixMillis(row.get(9)?),
                            },
                        ))
                    })
                    .optional()?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("pool {pool_id}'s ledger run names a missing entry {seq}"))
                    })?;
                if entry.pool_id != pool_id {
                    return Err(StoreError::Corrupt(format!(
                        "pool {pool_id}'s ledger run names entry {seq} of pool {}",
                        entry.pool_id
                    )));
                }
                let kind = LedgerKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown ledger kind {kind}")))?;
                items.push(LedgerEntry { kind, ..entry });
            }
            Ok(Some(paginate(items, page.limit, |entry| entry.seq.to_string())))
        })
    }

    fn get_waitlist_entry(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<WaitlistEntryView>, StoreError> {
        self.read(|conn| {
            load_entry(conn, tenant, id)?
                .map(|row| entry_view(conn, tenant, &row, now))
                .transpose()
        })
    }

    fn pool_waitlist(
        &self,
        tenant: &TenantId,
        pool_id: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Option<WaitlistStatus>, StoreError> {
        let offset = cursor_number(&page)?.unwrap_or(0).max(0);
        self.read(|conn| {
            if !Self::pool_exists(conn, tenant, pool_id)? {
                return Ok(None);
            }
            let (waiting, total_quantity, average_waited_ms): (i64, i64, Option<f64>) = conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(quantity), 0), AVG(?3 - created_at) FROM waitlist_entries
                     WHERE tenant_id = ?1 AND pool_id = ?2 AND status = 'waiting' AND expires_at > ?3",
                )?
                .query_row(params![tenant.0, pool_id, now.0], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
            let average_wait_to_promotion_ms: Option<f64> = conn
                .prepare_cached(
                    "SELECT AVG(promoted_at - created_at) FROM waitlist_entries
                     WHERE tenant_id = ?1 AND pool_id = ?2 AND promoted_at IS NOT NULL",
                )?
                .query_row(params![tenant.0, pool_id], |row| row.get(0))?;
            let rows = queue(conn, tenant, pool_id, Some(now), offset, page.limit as i64 + 1)?;
            let recent = recent_promotions(conn, tenant, pool_id, now)?;
            let items = EntryRecord::queue_page(&rows, offset, &recent, now);
            let entries = paginate(items, page.limit, |entry| {
                entry.position.unwrap_or_default().to_string()
            });
            Ok(Some(WaitlistStatus {
                pool_id: pool_id.to_owned(),
                waiting: waiting as u64,
                total_quantity,
                average_waited_ms: average_waited_ms.map(|ms| ms.round() as i64),
                average_wait_to_promotion_ms: average_wait_to_promotion_ms
                    .map(|ms| ms.round() as i64),
                recent_promotions: recent,
                entries,
            }))
        })
    }

    fn holder_waitlist(
        &self,
        tenant: &TenantId,
        holder: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<WaitlistEntryView>, StoreError> {
        let before = cursor_number(&page)?.unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM}
                 WHERE e.tenant_id = ?1 AND e.holder = ?2 AND e.seq < ?3 ORDER BY e.seq DESC LIMIT ?4"
            ))?;
            let mut rows = stmt.query(params![tenant.0, holder, before, page.limit as i64 + 1])?;
            let mut entries = Vec::new();
            while let Some(row) = rows.next()? {
                entries.push(entry_from_row(row)?);
            }
            drop(rows);
            let mut items = Vec::with_capacity(entries.len());
            for row in &entries {
                let mut view = row.view(now);
                if view.status == EntryStatus::Waiting {
                    view = entry_view(conn, tenant, row, now)?;
                }
                items.push((row.seq, view));
            }
            let page = paginate(items, page.limit, |(seq, _)| seq.to_string());
            Ok(Page {
                items: page.items.into_iter().map(|(_, view)| view).collect(),
                next_cursor: page.next_cursor,
            })
        })
    }

    fn list_events(
        &self,
        tenant: &TenantId,
        kind: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<EventView>, StoreError> {
        let after = cursor_number(&page)?.unwrap_or(0);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, id, type, data, created_at FROM events
                 WHERE tenant_id = ?1 AND seq > ?2 AND (?3 IS NULL OR type = ?3) ORDER BY seq LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                params![tenant.0, after, kind, page.limit as i64 + 1],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                },
            )?;
            let mut items = Vec::new();
            for row in rows {
                let (seq, id, kind, data, created_at) = row?;
                items.push(EventView {
                    seq,
                    id,
                    kind,
                    data: serde_json::from_str(&data)?,
                    created_at: UnixMillis(created_at),
                });
            }
            Ok(paginate(items, page.limit, |event| event.seq.to_string()))
        })
    }

    fn priority_classes(&self, tenant: &TenantId) -> Result<PriorityClasses, StoreError> {
        self.read(|conn| priority_classes(conn, tenant))
    }

    fn list_alerts(
        &self,
        tenant: &TenantId,
        filter: &AlertFilter,
        page: PageRequest,
    ) -> Result<Page<AlertView>, StoreError> {
        let after = cursor_number(&page)?.unwrap_or(0);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, id, pool_id, kind, threshold_pct, severity, recipients, used, capacity, waiting, created_at
                 FROM alerts WHERE tenant_id = ?1 AND seq > ?2 AND (?3 IS NULL OR pool_id = ?3)
                   AND (?4 IS NULL OR severity = ?4) AND (?5 IS NULL OR created_at >= ?5)
                 ORDER BY seq LIMIT ?6",
            )?;
            let mut rows = stmt.query(params![
                tenant.0,
                after,
                filter.pool_id,
                filter.severity,
                filter.since.map(|at| at.0),
                page.limit as i64 + 1
            ])?;
            let mut items = Vec::new();
            while let Some(row) = rows.next()? {
                let recipients: String = row.get(6)?;
                items.push(AlertView {
                    seq: row.get(0)?,
                    id: row.get(1)?,
                    pool_id: row.get(2)?,
                    kind: row.get(3)?,
                    threshold_pct: row.get(4)?,
                    severity: row.get(5)?,
                    recipients: serde_json::from_str(&recipients)?,
                    used: row.get(7)?,
                    capacity: row.get(8)?,
                    waiting: row.get(9)?,
                    created_at: UnixMillis(row.get(10)?),
                });
            }
            Ok(paginate(items, page.limit, |alert| alert.seq.to_string()))
        })
    }

    fn recipients(&self, tenant: &TenantId) -> Result<BTreeMap<String, Vec<Channel>>, StoreError> {
        self.read(|conn| recipient_groups(conn, tenant))
    }

    fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookView>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, url, events, created_at FROM webhooks WHERE tenant_id = ?1 AND active = 1 ORDER BY id",
            )?;
            let mut rows = stmt.query([&tenant.0])?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                let events: String = row.get(2)?;
                found.push(WebhookView {
                    id: row.get(0)?,
                    url: row.get(1)?,
                    events: serde_json::from_str(&events)?,
                    active: true,
                    created_at: UnixMillis(row.get(3)?),
                });
            }
            Ok(found)
        })
    }

    fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        page: PageRequest,
    ) -> Result<Option<Page<DeliveryWithAttempts>>, StoreError> {
        let before = page.after.clone().unwrap_or_else(|| "~".to_owned());
        self.read(|conn| {
            let exists: Option<i64> = conn
                .prepare_cached("SELECT 1 FROM webhooks WHERE tenant_id = ?1 AND id = ?2")?
                .query_row(params![tenant.0, webhook_id], |row| row.get(0))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries d
                 WHERE d.tenant_id = ?1 AND d.webhook_id = ?2 AND d.id < ?3 ORDER BY d.id DESC LIMIT ?4"
            ))?;
            let mut rows =
                stmt.query(params![tenant.0, webhook_id, before, page.limit as i64 + 1])?;
            let mut deliveries = Vec::new();
            while let Some(row) = rows.next()? {
                deliveries.push(delivery_from_row(row)?);
            }
            drop(rows);
            let mut attempts_of = conn.prepare_cached(
                "SELECT attempt, at, status, error, duration_ms FROM delivery_attempts
                 WHERE delivery_id = ?1 ORDER BY attempt LIMIT 100",
            )?;
            let mut items = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                let attempts = attempts_of
                    .query_map([&delivery.id], |row| {
                        Ok(AttemptRecord {
                            attempt: row.get(0)?,
                            at: UnixMillis(row.get(1)?),
                            status: row.get(2)?,
                            error: row.get(3)?,
                            duration_ms: row.get(4)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?;
                items.push(DeliveryWithAttempts { delivery, attempts });
            }
            Ok(Some(paginate(items, page.limit, |item| {
                item.delivery.id.clone()
            })))
        })
    }

    fn due_deliveries(
        &self,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS}, w.url, w.secret FROM deliveries d
                 LEFT JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id AND w.active = 1
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 ORDER BY d.next_attempt_at LIMIT ?2"
            ))?;
            let mut rows = stmt.query(params![now.0, limit as i64])?;
            let mut due = Vec::new();
            while let Some(row) = rows.next()? {
                due.push(DueDelivery {
                    delivery: delivery_from_row(row)?,
                    url: row.get(15)?,
                    secret: row.get(16)?,
                });
            }
            Ok(due)
        })
    }

    fn delivery_backlog(&self) -> Result<crate::DeliveryBacklog, StoreError> {
        self.read(|conn| {
            let (pending, oldest): (i64, Option<i64>) = conn
                .prepare_cached(
                    "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'",
                )?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(crate::DeliveryBacklog {
                pending: pending.max(0) as u64,
                oldest_created_at: oldest.map(UnixMillis),
            })
        })
    }

    fn get_plan(&self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, StoreError> {
        self.read(|conn| load_plan(conn, tenant, id))
    }

    fn list_plans(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<PlanView>, StoreError> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.tenant_id = ?1 AND p.id > ?2 ORDER BY p.id LIMIT ?3"
            ))?;
            let mut rows = stmt.query(params![tenant.0, after, page.limit as i64 + 1])?;
            let mut items = Vec::new();
            while let Some(row) = rows.next()? {
                items.push(plan_from_row(row)?);
            }
            Ok(paginate(items, page.limit, |plan| plan.id.clone()))
        })
    }

    fn subject_quotas(
        &self,
        tenant: &TenantId,
        subject: &str,
        now: UnixMillis,
    ) -> Result<Vec<QuotaView>, StoreError> {
        self.read(|conn| {
            let members: Vec<(String, String, String)> = conn
                .prepare_cached(
                    "SELECT m.id, m.plan_id, p.name FROM pools m
                     JOIN plans p ON p.tenant_id = m.tenant_id AND p.id = m.plan_id
                     WHERE m.tenant_id = ?1 AND m.subject = ?2 ORDER BY p.name, m.plan_id LIMIT 1000",
                )?
                .query_map(params![tenant.0, subject], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut views =
                pool_views(conn, tenant, now, self.next_due.load(Ordering::Acquire))?;
            let mut quotas = Vec::with_capacity(members.len());
            for (pool_id, plan_id, plan_name) in members {
                if let Some(pool) = views.view(&pool_id)? {
                    quotas.push(QuotaView {
                        plan_id,
                        plan_name,
                        pool,
                    });
                }
            }
            Ok(quotas)
        })
    }

    fn plan_members_after(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            let members = conn
                .prepare_cached(
                    "SELECT id, subject FROM pools WHERE tenant_id = ?1 AND plan_id = ?2 AND id > ?3
                     ORDER BY id LIMIT ?4",
                )?
                .query_map(
                    params![tenant.0, plan_id, after.unwrap_or(""), limit as i64],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?
                .collect::<Result<_, _>>()?;
            Ok(members)
        })
    }

    fn subject_pools(
        &self,
        tenant: &TenantId,
        subject: &str,
        plan_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            let pools = conn
                .prepare_cached(
                    "SELECT id, plan_id FROM pools WHERE tenant_id = ?1 AND subject = ?2
                       AND plan_id IS NOT NULL AND (?3 IS NULL OR plan_id = ?3)
                     ORDER BY plan_id LIMIT 1000",
                )?
                .query_map(params![tenant.0, subject, plan_id], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            Ok(pools)
        })
    }

    fn session_dates(
        &self,
        tenant: &TenantId,
        session: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Option<Page<PoolView>>, StoreError> {
        self.read(|conn| {
            if !load_pool(conn, tenant, session)?.is_some_and(|row| row.per_date) {
                return Ok(None);
            }
            let after = page.after.clone().unwrap_or_default();
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT id FROM pools WHERE tenant_id = ?1 AND session_id = ?2 AND date > ?3
                     ORDER BY date LIMIT ?4",
                )?
                .query_map(
                    params![tenant.0, session, after, page.limit as i64 + 1],
                    |row| row.get(0),
                )?
                .collect::<Result<_, _>>()?;
            let mut views = pool_views(conn, tenant, now, self.next_due.load(Ordering::Acquire))?;
            let mut items = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(view) = views.view(id)? {
                    items.push(view);
                }
            }
            Ok(Some(paginate(items, page.limit, |pool| {
                pool.date.clone().unwrap_or_default()
            })))
        })
    }
}

impl SqliteStore {
    /// Whether a pool exists for the tenant, a session's date not used yet included.
    fn pool_exists(conn: &Connection, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        if load_pool(conn, tenant, id)?.is_some() {
            return Ok(true);
        }
        Ok(load_session_date(conn, tenant, id, UnixMillis(0))?.is_some())
    }
}

/// Columns read for a delivery, in the order [`delivery_from_row`] expects.
pub(super) const DELIVERY_COLUMNS: &str = "d.id, d.tenant_id, d.channel, d.webhook_id, d.email, d.event_id, d.event_type, \
     d.payload, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at";

pub(super) fn delivery_from_row(row: &rusqlite::Row<'_>) -> Result<DeliveryView, StoreError> {
    Ok(DeliveryView {
        id: row.get(0)?,
        tenant_id: TenantId(row.get(1)?),
        channel: row.get(2)?,
        webhook_id: row.get(3)?,
        email: row.get(4)?,
        event_id: row.get(5)?,
        event_type: row.get(6)?,
        payload: row.get(7)?,
        status: row.get(8)?,
        attempts: row.get(9)?,
        next_attempt_at: UnixMillis(row.get(10)?),
        last_status: row.get(11)?,
        last_error: row.get(12)?,
        created_at: UnixMillis(row.get(13)?),
        updated_at: UnixMillis(row.get(14)?),
    })
}

fn cursor_number(page: &PageRequest) -> Result<Option<i64>, StoreError> {
    page.after
        .as_deref()
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                StoreError::InvalidInput("cursor is not one this list gave out".into())
            })
        })
        .transpose()
}

/// A session's date that has not been used yet, as it would be made: the session's settings and
/// no use. `None` when `id` is not a date of a session.
fn load_session_date(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
    now: UnixMillis,
) -> Result<Option<PoolRecord>, StoreError> {
    let Some((session, date)) = SessionDate::split_instance_id(&PoolId(id.to_owned())) else {
        return Ok(None);
    };
    Ok(load_pool(conn, tenant, &session.0)?
        .filter(|row| row.per_date)
        .map(|row| PoolRecord::instance_of(&row, &row.core, date, now)))
}

/// Totals read at most this many children: a pool with more is an event no page would show.
pub const MAX_CHILDREN_IN_TOTALS: usize = 10_000;

fn api_key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ApiKey, StoreError>> {
    let role: String = row.get(2)?;
    Ok(match Role::parse(&role) {
        Some(role) => Ok(ApiKey {
            id: row.get(0)?,
            tenant_id: TenantId(row.get(1)?),
            role,
            created_at: UnixMillis(row.get(3)?),
        }),
        None => Err(StoreError::Corrupt(format!("unknown role {role}"))),
    })
}

pub(super) fn load_hold(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<HoldRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE id = ?1 AND tenant_id = ?2"
    ))?;
    let mut rows = stmt.query(params![id, tenant.0])?;
    match rows.next()? {
        Some(row) => Ok(Some(hold_from_row(row)?)),
        None => Ok(None),
    }
}

pub(super) fn load_pool(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<PoolRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POOL_COLUMNS} FROM pools WHERE id = ?1 AND tenant_id = ?2"
    ))?;
    let mut rows = stmt.query(params![id, tenant.0])?;
    match rows.next()? {
        Some(row) => Ok(Some(pool_from_row(row)?)),
        None => Ok(None),
    }
}

/// Takes one more item than asked for to learn whether another page exists.
pub(super) fn paginate<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> String,
) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A tenant's pools read for [`PoolViews`] as of `now`, in the read's transaction.
struct SqlitePoolRows<'c> {
    conn: &'c Connection,
    tenant: &'c TenantId,
    now: UnixMillis,
}

impl PoolRows for SqlitePoolRows<'_> {
    type Error = StoreError;

    fn pool_row(&mut self, id: &str) -> Result<Option<PoolRecord>, StoreError> {
        match load_pool(self.conn, self.tenant, id)? {
            Some(row) => Ok(Some(row)),
            None => load_session_date(self.conn, self.tenant, id, self.now),
        }
    }

    /// The sweeper keeps this set near empty, so this is usually one index probe that finds
    /// nothing.
    fn due_lines(&mut self) -> Result<Vec<HoldLineView>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT lines FROM holds WHERE status = 'held' AND expires_at <= ?1 AND tenant_id = ?2",
        )?;
        let texts: Vec<String> = stmt
            .query_map(params![self.now.0, self.tenant.0], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut lines = Vec::new();
        for text in texts {
            lines.extend(serde_json::from_str::<Vec<HoldLineView>>(&text)?);
        }
        Ok(lines)
    }
}

/// The tenant's pools as shown as of `now`. `next_due`: the earliest deadline of any held hold,
/// as the writer last published it — before it nothing can be due, and no query looks.
fn pool_views<'c>(
    conn: &'c Connection,
    tenant: &'c TenantId,
    now: UnixMillis,
    next_due: i64,
) -> Result<PoolViews<SqlitePoolRows<'c>>, StoreError> {
    PoolViews::new(SqlitePoolRows { conn, tenant, now }, now.0 >= next_due)
}
