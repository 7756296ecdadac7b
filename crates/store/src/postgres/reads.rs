//! Reads: point lookups and bounded pages on the read connections, answering what SQLite's
//! reads answer (`crate::sqlite::reads`). None waits for a writer (PostgreSQL's snapshots), and
//! each counts a hold past its deadline as expired even before a batch has expired it.

use super::rows::{
    ENTRY_COLUMNS, ENTRY_FROM, HOLD_COLUMNS, PLAN_COLUMNS, POOL_COLUMNS, entry_from_row, get,
    hold_from_row, plan_from_row, pool_from_row,
};
use super::{PostgresStore, Sql};
use crate::model::*;
use crate::{DeliveryBacklog, Store, StoreError};
use allot_core::waitlist::{EntryStatus, PriorityClasses, RATE_WINDOW_MS, RECENT_PROMOTIONS};
use allot_core::{HoldStatus, PoolId, SessionDate, UnixMillis};
use allot_engine::records::{EntryRecord, PoolRecord};
use allot_engine::views::{PoolRows, PoolViews};
use postgres::{Client, Row};
use std::collections::BTreeMap;

/// Totals read at most this many children: a pool with more is an event no page would show.
const MAX_CHILDREN_IN_TOTALS: i64 = 10_000;

type Db<'s> = Sql<'s, Client>;

impl Store for PostgresStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.read(|sql| sql.query_one("SELECT 1", &[]).map(drop))
    }

    fn maintain(&self) -> Result<(), StoreError> {
        // PostgreSQL keeps itself (autovacuum, checkpoints): nothing to do from here.
        Ok(())
    }

    fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.read(|sql| {
            sql.query_opt(
                "SELECT id, tenant_id, role, created_at FROM api_keys
                 WHERE key_hash = $1 AND revoked_at IS NULL",
                &[&key_hash],
            )?
            .map(|row| api_key_from_row(&row))
            .transpose()
        })
    }

    fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|sql| {
            sql.query(
                "SELECT id, tenant_id, role, created_at FROM api_keys
                 WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY id LIMIT 10000",
                &[&tenant.0],
            )?
            .iter()
            .map(api_key_from_row)
            .collect()
        })
    }

    fn get_pool(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<PoolView>, StoreError> {
        self.read(|sql| pool_views(sql, tenant, now)?.view(id))
    }

    fn list_pools(
        &self,
        tenant: &TenantId,
        parent_id: Option<&str>,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<PoolView>, StoreError> {
        self.read(|sql| {
            let after = page.after.clone().unwrap_or_default();
            let fetch = page.limit as i64 + 1;
            let rows = match parent_id {
                Some(parent) => sql.query(
                    "SELECT id FROM pools WHERE tenant_id = $1 AND parent_id = $2 AND id > $3
                     ORDER BY id LIMIT $4",
                    &[&tenant.0, &parent, &after, &fetch],
                )?,
                None => sql.query(
                    "SELECT id FROM pools WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    &[&tenant.0, &after, &fetch],
                )?,
            };
            let ids = strings(&rows)?;
            let mut views = pool_views(sql, tenant, now)?;
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
        // The full view: with several writers there is no earliest-deadline hint to skip the
        // look for due holds, and the view's figures are the availability's.
        Ok(self
            .get_pool(tenant, id, now)?
            .as_ref()
            .map(Availability::of))
    }

    fn pool_children(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<(PoolView, Vec<PoolView>)>, StoreError> {
        self.read(|sql| {
            let child_ids = strings(&sql.query(
                "SELECT id FROM pools WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id LIMIT $3",
                &[&tenant.0, &id, &MAX_CHILDREN_IN_TOTALS],
            )?)?;
            let mut views = pool_views(sql, tenant, now)?;
            let Some(pool) = views.view(id)? else {
                return Ok(None);
            };
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
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE tenant_id = $1 AND id = $2"),
                &[&tenant.0, &id],
            )?
            .map(|row| Ok(hold_from_row(&row)?.view(now)))
            .transpose()
        })
    }

    fn list_holds(
        &self,
        tenant: &TenantId,
        filter: &HoldFilter,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<HoldView>, StoreError> {
        // Every parameter is always bound (PostgreSQL wants each one typed); a filter that is
        // not asked for compares with NULL and lets every row through.
        let status = match filter.status {
            None => "",
            Some(HoldStatus::Held) => " AND status = 'held' AND expires_at > $4",
            // A held hold past its deadline is expired, as the client sees it.
            Some(HoldStatus::Expired) => {
                " AND (status = 'expired' OR (status = 'held' AND expires_at <= $4))"
            }
            Some(HoldStatus::Confirmed) => " AND status = 'confirmed'",
            Some(HoldStatus::Released) => " AND status = 'released'",
        };
        let sql_text = format!(
            "SELECT {HOLD_COLUMNS} FROM holds
             WHERE tenant_id = $1 AND id > $2 AND ($3::text IS NULL OR holder = $3)
               AND $4::bigint IS NOT NULL{status}
             ORDER BY id LIMIT $5"
        );
        let after = page.after.clone().unwrap_or_default();
        let fetch = page.limit as i64 + 1;
        self.read(|sql| {
            let rows = sql.query(
                &sql_text,
                &[&tenant.0, &after, &filter.holder, &now.0, &fetch],
            )?;
            let items = rows
                .iter()
                .map(|row| Ok(hold_from_row(row)?.view(now)))
                .collect::<Result<Vec<_>, StoreError>>()?;
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
        self.read(|sql| {
            if sql
                .query_opt(
                    "SELECT 1 FROM pools WHERE tenant_id = $1 AND id = $2",
                    &[&tenant.0, &pool_id],
                )?
                .is_none()
            {
                return Ok(None);
            }
            let rows = sql.query(
                "SELECT seq, pool_id, hold_id, kind, held_delta, committed_delta, capacity_after,
                     actor, reason, at
                 FROM ledger WHERE tenant_id = $1 AND pool_id = $2 AND seq > $3
                 ORDER BY seq LIMIT $4",
                &[&tenant.0, &pool_id, &after, &(page.limit as i64 + 1)],
            )?;
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                let kind: &str = get(row, 3)?;
                items.push(LedgerEntry {
                    seq: get(row, 0)?,
                    pool_id: get(row, 1)?,
                    hold_id: get(row, 2)?,
                    kind: LedgerKind::parse(kind).ok_or_else(|| {
                        StoreError::corrupt(format!("unknown ledger kind {kind}"))
                    })?,
                    held_delta: get(row, 4)?,
                    committed_delta: get(row, 5)?,
                    capacity_after: get(row, 6)?,
                    actor: get(row, 7)?,
                    reason: get(row, 8)?,
                    at: UnixMillis(get(row, 9)?),
                });
            }
            Ok(Some(paginate(items, page.limit, |entry| {
                entry.seq.to_string()
            })))
        })
    }

    fn get_waitlist_entry(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<WaitlistEntryView>, StoreError> {
        self.read(|sql| {
            load_entry(sql, tenant, id)?
                .map(|row| entry_view(sql, tenant, &row, now))
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
        self.read(|sql| {
            if !pool_exists(sql, tenant, pool_id)? {
                return Ok(None);
            }
            let figures = sql.query_one(
                "SELECT COUNT(*), COALESCE(SUM(quantity), 0)::bigint, AVG($3 - created_at)::float8
                 FROM waitlist_entries
                 WHERE tenant_id = $1 AND pool_id = $2 AND status = 'waiting' AND expires_at > $3",
                &[&tenant.0, &pool_id, &now.0],
            )?;
            let (waiting, total_quantity, average_waited_ms): (i64, i64, Option<f64>) =
                (get(&figures, 0)?, get(&figures, 1)?, get(&figures, 2)?);
            let average_wait_to_promotion_ms: Option<f64> = get(
                &sql.query_one(
                    "SELECT AVG(promoted_at - created_at)::float8 FROM waitlist_entries
                     WHERE tenant_id = $1 AND pool_id = $2 AND promoted_at IS NOT NULL",
                    &[&tenant.0, &pool_id],
                )?,
                0,
            )?;
            let rows = queue(sql, tenant, pool_id, now, offset, page.limit as i64 + 1)?;
            let recent = recent_promotions(sql, tenant, pool_id, now)?;
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
        self.read(|sql| {
            let rows = sql.query(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM}
                     WHERE e.tenant_id = $1 AND e.holder = $2 AND e.seq < $3
                     ORDER BY e.seq DESC LIMIT $4"
                ),
                &[&tenant.0, &holder, &before, &(page.limit as i64 + 1)],
            )?;
            let entries = rows
                .iter()
                .map(entry_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let mut items = Vec::with_capacity(entries.len());
            for row in &entries {
                let mut view = row.view(now);
                if view.status == EntryStatus::Waiting {
                    view = entry_view(sql, tenant, row, now)?;
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
        self.read(|sql| {
            let rows = sql.query(
                "SELECT seq, id, type, data, created_at FROM events
                 WHERE tenant_id = $1 AND seq > $2 AND ($3::text IS NULL OR type = $3)
                 ORDER BY seq LIMIT $4",
                &[&tenant.0, &after, &kind, &(page.limit as i64 + 1)],
            )?;
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                let data: &str = get(row, 3)?;
                items.push(EventView {
                    seq: get(row, 0)?,
                    id: get(row, 1)?,
                    kind: get(row, 2)?,
                    data: serde_json::from_str(data)?,
                    created_at: UnixMillis(get(row, 4)?),
                });
            }
            Ok(paginate(items, page.limit, |event| event.seq.to_string()))
        })
    }

    fn priority_classes(&self, tenant: &TenantId) -> Result<PriorityClasses, StoreError> {
        self.read(|sql| priority_classes(sql, tenant))
    }

    fn list_alerts(
        &self,
        tenant: &TenantId,
        filter: &AlertFilter,
        page: PageRequest,
    ) -> Result<Page<AlertView>, StoreError> {
        let after = cursor_number(&page)?.unwrap_or(0);
        self.read(|sql| {
            let rows = sql.query(
                "SELECT seq, id, pool_id, kind, threshold_pct, severity, recipients, used, capacity,
                     waiting, created_at
                 FROM alerts WHERE tenant_id = $1 AND seq > $2 AND ($3::text IS NULL OR pool_id = $3)
                   AND ($4::text IS NULL OR severity = $4) AND ($5::bigint IS NULL OR created_at >= $5)
                 ORDER BY seq LIMIT $6",
                &[
                    &tenant.0,
                    &after,
                    &filter.pool_id,
                    &filter.severity,
                    &filter.since.map(|at| at.0),
                    &(page.limit as i64 + 1),
                ],
            )?;
            let items = rows
                .iter()
                .map(alert_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(paginate(items, page.limit, |alert| alert.seq.to_string()))
        })
    }

    fn recipients(&self, tenant: &TenantId) -> Result<BTreeMap<String, Vec<Channel>>, StoreError> {
        self.read(|sql| {
            let mut groups = BTreeMap::new();
            for row in sql.query(
                "SELECT name, channels FROM recipient_groups WHERE tenant_id = $1 ORDER BY name",
                &[&tenant.0],
            )? {
                let channels: &str = get(&row, 1)?;
                groups.insert(get(&row, 0)?, serde_json::from_str(channels)?);
            }
            Ok(groups)
        })
    }

    fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookView>, StoreError> {
        self.read(|sql| {
            sql.query(
                "SELECT id, url, events, created_at FROM webhooks
                 WHERE tenant_id = $1 AND active ORDER BY id",
                &[&tenant.0],
            )?
            .iter()
            .map(|row| {
                let events: &str = get(row, 2)?;
                Ok(WebhookView {
                    id: get(row, 0)?,
                    url: get(row, 1)?,
                    events: serde_json::from_str(events)?,
                    active: true,
                    created_at: UnixMillis(get(row, 3)?),
                })
            })
            .collect()
        })
    }

    fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        page: PageRequest,
    ) -> Result<Option<Page<DeliveryWithAttempts>>, StoreError> {
        // Newest first: the cursor is the last id shown, and "~" sorts after every id.
        let before = page.after.clone().unwrap_or_else(|| "~".to_owned());
        self.read(|sql| {
            if sql
                .query_opt(
                    "SELECT 1 FROM webhooks WHERE tenant_id = $1 AND id = $2",
                    &[&tenant.0, &webhook_id],
                )?
                .is_none()
            {
                return Ok(None);
            }
            let rows = sql.query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries d
                     WHERE d.tenant_id = $1 AND d.webhook_id = $2 AND d.id < $3
                     ORDER BY d.id DESC LIMIT $4"
                ),
                &[&tenant.0, &webhook_id, &before, &(page.limit as i64 + 1)],
            )?;
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                let delivery = delivery_from_row(row)?;
                let attempts = sql
                    .query(
                        "SELECT attempt, at, status, error, duration_ms FROM delivery_attempts
                         WHERE delivery_id = $1 ORDER BY attempt LIMIT 100",
                        &[&delivery.id],
                    )?
                    .iter()
                    .map(|row| {
                        Ok(AttemptRecord {
                            attempt: get(row, 0)?,
                            at: UnixMillis(get(row, 1)?),
                            status: status_code(get(row, 2)?)?,
                            error: get(row, 3)?,
                            duration_ms: get(row, 4)?,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
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
        self.read(|sql| {
            sql.query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS}, w.url, w.secret FROM deliveries d
                     LEFT JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id AND w.active
                     WHERE d.status = 'pending' AND d.next_attempt_at <= $1
                     ORDER BY d.next_attempt_at, d.id LIMIT $2"
                ),
                &[&now.0, &(limit as i64)],
            )?
            .iter()
            .map(|row| {
                Ok(DueDelivery {
                    delivery: delivery_from_row(row)?,
                    url: get(row, 15)?,
                    secret: get(row, 16)?,
                })
            })
            .collect()
        })
    }

    fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        self.read(|sql| {
            let row = sql.query_one(
                "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'",
                &[],
            )?;
            let (pending, oldest): (i64, Option<i64>) = (get(&row, 0)?, get(&row, 1)?);
            Ok(DeliveryBacklog {
                pending: pending.max(0) as u64,
                oldest_created_at: oldest.map(UnixMillis),
            })
        })
    }

    fn get_plan(&self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, StoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {PLAN_COLUMNS} FROM plans p WHERE p.tenant_id = $1 AND p.id = $2"),
                &[&tenant.0, &id],
            )?
            .map(|row| plan_from_row(&row))
            .transpose()
        })
    }

    fn list_plans(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<PlanView>, StoreError> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|sql| {
            let items = sql
                .query(
                    &format!(
                        "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.tenant_id = $1 AND p.id > $2
                         ORDER BY p.id LIMIT $3"
                    ),
                    &[&tenant.0, &after, &(page.limit as i64 + 1)],
                )?
                .iter()
                .map(plan_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(paginate(items, page.limit, |plan| plan.id.clone()))
        })
    }

    fn subject_quotas(
        &self,
        tenant: &TenantId,
        subject: &str,
        now: UnixMillis,
    ) -> Result<Vec<QuotaView>, StoreError> {
        self.read(|sql| {
            let rows = sql.query(
                "SELECT m.id, m.plan_id, p.name FROM pools m
                 JOIN plans p ON p.tenant_id = m.tenant_id AND p.id = m.plan_id
                 WHERE m.tenant_id = $1 AND m.subject = $2 ORDER BY p.name, m.plan_id LIMIT 1000",
                &[&tenant.0, &subject],
            )?;
            let members = rows
                .iter()
                .map(|row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)))
                .collect::<Result<Vec<(String, String, String)>, StoreError>>()?;
            let mut views = pool_views(sql, tenant, now)?;
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
        self.read(|sql| {
            pairs(&sql.query(
                "SELECT id, subject FROM pools WHERE tenant_id = $1 AND plan_id = $2 AND id > $3
                 ORDER BY id LIMIT $4",
                &[&tenant.0, &plan_id, &after.unwrap_or(""), &(limit as i64)],
            )?)
        })
    }

    fn subject_pools(
        &self,
        tenant: &TenantId,
        subject: &str,
        plan_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|sql| {
            pairs(&sql.query(
                "SELECT id, plan_id FROM pools WHERE tenant_id = $1 AND subject = $2
                   AND plan_id IS NOT NULL AND ($3::text IS NULL OR plan_id = $3)
                 ORDER BY plan_id LIMIT 1000",
                &[&tenant.0, &subject, &plan_id],
            )?)
        })
    }

    fn session_dates(
        &self,
        tenant: &TenantId,
        session: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Option<Page<PoolView>>, StoreError> {
        self.read(|sql| {
            if !load_pool(sql, tenant, session)?.is_some_and(|row| row.per_date) {
                return Ok(None);
            }
            let after = page.after.clone().unwrap_or_default();
            let ids = strings(&sql.query(
                "SELECT id FROM pools WHERE tenant_id = $1 AND session_id = $2 AND date > $3
                 ORDER BY date LIMIT $4",
                &[&tenant.0, &session, &after, &(page.limit as i64 + 1)],
            )?)?;
            let mut views = pool_views(sql, tenant, now)?;
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

fn strings(rows: &[Row]) -> Result<Vec<String>, StoreError> {
    rows.iter().map(|row| get(row, 0)).collect()
}

fn pairs(rows: &[Row]) -> Result<Vec<(String, String)>, StoreError> {
    rows.iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect()
}

fn api_key_from_row(row: &Row) -> Result<ApiKey, StoreError> {
    let role: &str = get(row, 2)?;
    Ok(ApiKey {
        id: get(row, 0)?,
        tenant_id: TenantId(get(row, 1)?),
        role: Role::parse(role)
            .ok_or_else(|| StoreError::corrupt(format!("unknown role {role}")))?,
        created_at: UnixMillis(get(row, 3)?),
    })
}

/// An HTTP or SMTP status stored as BIGINT.
fn status_code(stored: Option<i64>) -> Result<Option<u16>, StoreError> {
    stored
        .map(|code| {
            u16::try_from(code).map_err(|_| StoreError::corrupt("a status code out of range"))
        })
        .transpose()
}

pub(super) fn alert_from_row(row: &Row) -> Result<AlertView, StoreError> {
    let threshold_pct = get::<Option<i64>>(row, 4)?
        .map(u32::try_from)
        .transpose()
        .map_err(|_| StoreError::corrupt("an alert's threshold is out of range"))?;
    let recipients: &str = get(row, 6)?;
    Ok(AlertView {
        seq: get(row, 0)?,
        id: get(row, 1)?,
        pool_id: get(row, 2)?,
        kind: get(row, 3)?,
        threshold_pct,
        severity: get(row, 5)?,
        recipients: serde_json::from_str(recipients)?,
        used: get(row, 7)?,
        capacity: get(row, 8)?,
        waiting: get(row, 9)?,
        created_at: UnixMillis(get(row, 10)?),
    })
}

/// Columns read for a delivery (alias `d`), in the order [`delivery_from_row`] expects.
pub(super) const DELIVERY_COLUMNS: &str = "d.id, d.tenant_id, d.channel, d.webhook_id, d.email, d.event_id, d.event_type, \
     d.payload, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at";

pub(super) fn delivery_from_row(row: &Row) -> Result<DeliveryView, StoreError> {
    Ok(DeliveryView {
        id: get(row, 0)?,
        tenant_id: TenantId(get(row, 1)?),
        channel: get(row, 2)?,
        webhook_id: get(row, 3)?,
        email: get(row, 4)?,
        event_id: get(row, 5)?,
        event_type: get(row, 6)?,
        payload: get(row, 7)?,
        status: get(row, 8)?,
        attempts: get(row, 9)?,
        next_attempt_at: UnixMillis(get(row, 10)?),
        last_status: status_code(get(row, 11)?)?,
        last_error: get(row, 12)?,
        created_at: UnixMillis(get(row, 13)?),
        updated_at: UnixMillis(get(row, 14)?),
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

fn load_pool(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<PoolRecord>, StoreError> {
    sql.query_opt(
        &format!("SELECT {POOL_COLUMNS} FROM pools WHERE tenant_id = $1 AND id = $2"),
        &[&tenant.0, &id],
    )?
    .map(|row| pool_from_row(&row))
    .transpose()
}

/// A session's date that has not been used yet, as it would be made: the session's settings and
/// no use. `None` when `id` is not a date of a session.
fn load_session_date(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    id: &str,
    now: UnixMillis,
) -> Result<Option<PoolRecord>, StoreError> {
    let Some((session, date)) = SessionDate::split_instance_id(&PoolId(id.to_owned())) else {
        return Ok(None);
    };
    Ok(load_pool(sql, tenant, &session.0)?
        .filter(|row| row.per_date)
        .map(|row| PoolRecord::instance_of(&row, &row.core, date, now)))
}

/// Whether a pool exists for the tenant, a session's date not used yet included.
fn pool_exists(sql: &mut Db<'_>, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
    if load_pool(sql, tenant, id)?.is_some() {
        return Ok(true);
    }
    Ok(load_session_date(sql, tenant, id, UnixMillis(0))?.is_some())
}

fn load_entry(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<EntryRecord>, StoreError> {
    sql.query_opt(
        &format!("SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.tenant_id = $1 AND e.id = $2"),
        &[&tenant.0, &id],
    )?
    .map(|row| entry_from_row(&row))
    .transpose()
}

/// A pool's waiting entries in queue order, those past their deadline at `now` left out.
fn queue(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    pool_id: &str,
    now: UnixMillis,
    offset: i64,
    limit: i64,
) -> Result<Vec<EntryRecord>, StoreError> {
    sql.query(
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM}
             WHERE e.tenant_id = $1 AND e.pool_id = $2 AND e.status = 'waiting' AND e.expires_at > $3
             ORDER BY e.priority DESC, e.seq LIMIT $4 OFFSET $5"
        ),
        &[&tenant.0, &pool_id, &now.0, &limit, &offset],
    )?
    .iter()
    .map(entry_from_row)
    .collect()
}

/// 1 for the entry served next: the waiting entries of its pool ahead of it, plus one.
fn position(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    entry: &EntryRecord,
    now: UnixMillis,
) -> Result<u64, StoreError> {
    let ahead: i64 = get(
        &sql.query_one(
            "SELECT COUNT(*) FROM waitlist_entries
             WHERE tenant_id = $1 AND pool_id = $2 AND status = 'waiting' AND expires_at > $3
               AND (priority > $4 OR (priority = $4 AND seq < $5))",
            &[
                &tenant.0,
                &entry.pool_id,
                &now.0,
                &entry.priority,
                &entry.seq,
            ],
        )?,
        0,
    )?;
    Ok(ahead as u64 + 1)
}

/// The times of the pool's latest promotions in the rate window, newest first.
fn recent_promotions(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    pool_id: &str,
    now: UnixMillis,
) -> Result<Vec<UnixMillis>, StoreError> {
    let since = now.0 - RATE_WINDOW_MS;
    sql.query(
        "SELECT promoted_at FROM waitlist_entries
         WHERE tenant_id = $1 AND pool_id = $2 AND promoted_at IS NOT NULL AND promoted_at > $3
         ORDER BY promoted_at DESC LIMIT $4",
        &[&tenant.0, &pool_id, &since, &RECENT_PROMOTIONS],
    )?
    .iter()
    .map(|row| get(row, 0).map(UnixMillis))
    .collect()
}

/// The entry as of `now`, with its position and the pool's recent promotions while it waits.
fn entry_view(
    sql: &mut Db<'_>,
    tenant: &TenantId,
    row: &EntryRecord,
    now: UnixMillis,
) -> Result<WaitlistEntryView, StoreError> {
    let mut view = row.view(now);
    if view.status == EntryStatus::Waiting {
        view.position = Some(position(sql, tenant, row, now)?);
        view.recent_promotions = recent_promotions(sql, tenant, &row.pool_id, now)?;
    }
    Ok(view)
}

fn priority_classes(sql: &mut Db<'_>, tenant: &TenantId) -> Result<PriorityClasses, StoreError> {
    let Some(row) = sql.query_opt(
        "SELECT priority_base, priority_classes FROM tenant_settings WHERE tenant_id = $1",
        &[&tenant.0],
    )?
    else {
        return Ok(PriorityClasses::default());
    };
    let classes: &str = get(&row, 1)?;
    Ok(PriorityClasses {
        base: get(&row, 0)?,
        classes: serde_json::from_str::<BTreeMap<String, i64>>(classes)?,
    })
}

/// A tenant's pools read for [`PoolViews`] as of `now`, on the read's connection.
struct PostgresPoolRows<'s, 'r> {
    sql: &'s mut Db<'r>,
    tenant: &'s TenantId,
    now: UnixMillis,
}

impl PoolRows for PostgresPoolRows<'_, '_> {
    type Error = StoreError;

    fn pool_row(&mut self, id: &str) -> Result<Option<PoolRecord>, StoreError> {
        match load_pool(self.sql, self.tenant, id)? {
            Some(row) => Ok(Some(row)),
            None => load_session_date(self.sql, self.tenant, id, self.now),
        }
    }

    /// Batches expire due holds first, so this is usually one index probe that finds nothing.
    fn due_lines(&mut self) -> Result<Vec<HoldLineView>, StoreError> {
        let texts: Vec<String> = strings(&self.sql.query(
            "SELECT lines FROM holds WHERE status = 'held' AND expires_at <= $1 AND tenant_id = $2",
            &[&self.now.0, &self.tenant.0],
        )?)?;
        let mut lines = Vec::new();
        for text in texts {
            lines.extend(serde_json::from_str::<Vec<HoldLineView>>(&text)?);
        }
        Ok(lines)
    }
}

/// The tenant's pools as shown as of `now`. Other nodes write too, so there is no earliest
/// deadline to trust here: due holds are always looked for.
fn pool_views<'s, 'r>(
    sql: &'s mut Db<'r>,
    tenant: &'s TenantId,
    now: UnixMillis,
) -> Result<PoolViews<PostgresPoolRows<'s, 'r>>, StoreError> {
    PoolViews::new(PostgresPoolRows { sql, tenant, now }, true)
}
