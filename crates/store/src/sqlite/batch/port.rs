//! The engine's port over one SQLite transaction: reads in the batch's transaction, and each
//! [`Change`] written as SQLite does best — new holds and ledger entries gathered in [`Appends`]
//! and written many rows per statement, the rest at once. A read of `holds` writes the pending
//! hold rows first, so the engine always reads what it has decided.

use super::super::outbox::{self, Outbox};
use super::super::plans::load_plan;
use super::super::reads::{load_hold, load_pool};
use super::super::rows::{ENTRY_COLUMNS, ENTRY_FROM, HOLD_COLUMNS, entry_from_row, hold_from_row};
use super::super::ticket_reads::load_job;
use super::super::waitlist::{load_entry, position, priority_classes, promotions_since, queue};
use super::{Appends, tickets};
use crate::StoreError;
use crate::command::StoredResponse;
use crate::ids::Ids;
use crate::jobs::JobView;
use crate::model::{Channel, PlanView, TenantId};
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use allot_core::waitlist::PriorityClasses;
use allot_core::{PoolId, SessionDate, SessionZone, UnixMillis};
use allot_engine::Error;
use allot_engine::change::{Change, PoolCounters};
use allot_engine::port::LoadPools;
use allot_engine::port::Port;
use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use allot_engine::rules::idempotency::KeyRecord;
use allot_engine::rules::routing::Subscriber;
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::BTreeMap;

/// The transaction with the batch's pending appends, and the counters it saves at its end.
pub(in crate::sqlite) struct SqlitePort<'a, 't> {
    pub tx: &'a Transaction<'t>,
    pub appends: &'a mut Appends,
    pub ids: &'a mut Ids,
    /// The last waiting-list arrival number handed out.
    pub waitlist_seq: &'a mut i64,
    /// Events are numbered and routed to webhooks here.
    pub outbox: &'a mut Outbox,
    /// Pools' counters, written together at the end of the batch.
    pub pool_counters: &'a mut Vec<(PoolId, PoolCounters)>,
}

impl SqlitePort<'_, '_> {
    /// Writes pending hold rows before `holds` is read.
    fn see_pending_holds(&mut self) -> Result<(), StoreError> {
        if self.appends.has_pending_holds() {
            self.appends.write(self.tx)?;
        }
        Ok(())
    }

    /// One row changed by a transition from → to, or another writer got there first.
    fn one_row(changed: usize, what: impl FnOnce() -> String) -> Result<(), Error> {
        match changed {
            1 => Ok(()),
            _ => Err(Error::Conflict(what())),
        }
    }

    fn write(&mut self, change: Change) -> Result<(), StoreError> {
        let tx = self.tx;
        match change {
            change @ (Change::NewAttendee { .. }
            | Change::AttendeeUpdated { .. }
            | Change::NewTicket { .. }
            | Change::TicketReissued { .. }
            | Change::TicketStatus { .. }
            | Change::NewCheckIn { .. }) => tickets::write(tx, change)?,
            Change::NewTenant { id, name, at } => {
                tx.prepare_cached(
                    "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id.0, name, at.0])?;
            }
            Change::NewApiKey {
                tenant,
                key_id,
                key_hash,
                role,
                at,
            } => {
                tx.prepare_cached(
                    "INSERT INTO api_keys (id, tenant_id, role, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![key_id, tenant.0, role.as_str(), key_hash, at.0])?;
            }
            Change::ApiKeyRevoked { tenant, key_id, at } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND tenant_id = ?2 AND revoked_at IS NULL",
                    )?
                    .execute(params![key_id, tenant.0, at.0])?;
                Self::one_row(changed, || format!("api key {key_id} is no longer live"))?;
            }
            Change::NewPool { tenant, pool } => insert_pool_row(tx, &tenant, &pool)?,
            // Gathered, and written many pools per statement once the engine is done.
            Change::PoolCounters { pool_id, to, .. } => self.pool_counters.push((pool_id, to)),
            Change::PoolRewritten { pool, .. } => rewrite_pool_row(tx, &pool)?,
            Change::SessionWaitlist {
                tenant,
                session,
                settings,
            } => {
                tx.prepare_cached(
                    "UPDATE pools SET waitlist_policy = ?3, waitlist_mode = ?4, offer_ttl_seconds = ?5
                     WHERE tenant_id = ?1 AND session_id = ?2",
                )?
                .execute(params![
                    tenant.0,
                    session.0,
                    settings.policy.as_str(),
                    settings.mode.as_str(),
                    settings.offer_ttl.get()
                ])?;
            }
            Change::NewHold(hold) => self.appends.hold(hold),
            Change::HoldStatus {
                tenant,
                hold_id,
                from,
                to,
                at,
            } => {
                self.see_pending_holds()?;
                if to == allot_core::HoldStatus::Expired {
                    self.appends.holds_expired += 1;
                }
                let changed = tx
                    .prepare_cached(
                        "UPDATE holds SET status = ?4, updated_at = ?5 WHERE tenant_id = ?1 AND id = ?2 AND status = ?3",
                    )?
                    .execute(params![tenant.0, hold_id, from.as_str(), to.as_str(), at.0])?;
                Self::one_row(changed, || format!("hold {hold_id} is no longer {from:?}"))?;
            }
            Change::HoldExpiry {
                tenant,
                hold_id,
                from,
                to,
                at,
            } => {
                self.see_pending_holds()?;
                let changed = tx
                    .prepare_cached(
                        "UPDATE holds SET expires_at = ?4, updated_at = ?5
                         WHERE tenant_id = ?1 AND id = ?2 AND expires_at = ?3",
                    )?
                    .execute(params![tenant.0, hold_id, from.0, to.0, at.0])?;
                Self::one_row(changed, || format!("hold {hold_id}'s deadline moved"))?;
            }
            Change::Consumption {
                tenant,
                pool_id,
                subject,
                hold_id,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO consumptions (tenant_id, pool_id, subject, hold_id) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![tenant.0, pool_id.0, subject, hold_id])?;
            }
            Change::Ledger(entry) => self.appends.ledger(entry),
            Change::IdempotencyRecord {
                tenant,
                key,
                request_hash,
                response,
                at,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO idempotency (tenant_id, key, request_hash, status, body, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![tenant.0, key, request_hash, response.status, response.body, at.0])?;
            }
            Change::ForgetIdempotency { before, limit } => {
                tx.prepare_cached(
                    "DELETE FROM idempotency WHERE (tenant_id, key) IN (
                         SELECT tenant_id, key FROM idempotency WHERE created_at <= ?1 ORDER BY created_at LIMIT ?2)",
                )?
                .execute(params![before.0, limit])?;
            }

            // Plans and quotas
            Change::NewPlan { tenant, plan } => {
                tx.prepare_cached(
                    "INSERT INTO plans (tenant_id, id, name, unit, capacity, hard_limit_pct, soft_limit_pct, thresholds, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    tenant.0,
                    plan.id,
                    plan.name,
                    plan.unit,
                    plan.capacity,
                    plan.hard_limit_pct,
                    plan.soft_limit_pct,
                    plan.thresholds,
                    plan.created_at.0,
                    plan.updated_at.0
                ])?;
            }
            Change::PlanUpdated {
                tenant,
                plan_id,
                from,
                to,
                at,
            } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE plans SET name = ?5, capacity = ?6, updated_at = ?7
                         WHERE tenant_id = ?1 AND id = ?2 AND name = ?3 AND capacity = ?4",
                    )?
                    .execute(params![
                        tenant.0,
                        plan_id,
                        from.name,
                        from.capacity,
                        to.name,
                        to.capacity,
                        at.0
                    ])?;
                Self::one_row(changed, || format!("plan {plan_id} changed meanwhile"))?;
            }
            Change::NewMember {
                tenant,
                plan_id,
                subject,
                pool_id,
            } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE pools SET plan_id = ?3, subject = ?4
                         WHERE tenant_id = ?1 AND id = ?2 AND plan_id IS NULL",
                    )?
                    .execute(params![tenant.0, pool_id.0, plan_id, subject])?;
                Self::one_row(changed, || format!("pool {pool_id} is already a member's"))?;
            }

            // Jobs
            Change::NewJob { tenant, job } => {
                tx.prepare_cached(
                    "INSERT INTO jobs (tenant_id, id, kind, status, params, total, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    tenant.0,
                    job.id,
                    job.kind,
                    job.status.as_str(),
                    job.params.to_string(),
                    job.total,
                    job.created_at.0,
                    job.updated_at.0
                ])?;
            }
            Change::JobProgress {
                tenant,
                job_id,
                from,
                to,
            } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE jobs SET status = ?6, cursor = ?7, total = ?8, done = ?9, created = ?10,
                             skipped = ?11, failed = ?12, error = ?13, started_at = ?14, updated_at = ?15,
                             finished_at = ?16
                         WHERE tenant_id = ?1 AND id = ?2 AND status = ?3 AND cursor IS ?4 AND done = ?5",
                    )?
                    .execute(params![
                        tenant.0,
                        job_id,
                        from.status.as_str(),
                        from.cursor,
                        from.counters.done,
                        to.status.as_str(),
                        to.cursor,
                        to.total,
                        to.counters.done,
                        to.counters.created,
                        to.counters.skipped,
                        to.counters.failed,
                        to.error,
                        to.started_at.map(|at| at.0),
                        to.updated_at.0,
                        to.finished_at.map(|at| at.0)
                    ])?;
                Self::one_row(changed, || format!("job {job_id} has moved meanwhile"))?;
            }
            Change::NewJobItems {
                tenant,
                job_id,
                items,
                at,
            } => {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO job_failures (tenant_id, job_id, seq, item, outcome, reason, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for item in items {
                    insert.execute(params![
                        tenant.0,
                        job_id,
                        item.seq,
                        item.item,
                        item.outcome,
                        item.reason,
                        at.0
                    ])?;
                }
            }

            // Waiting lists
            Change::NewWaitlistEntry { tenant, entry } => {
                let classes = entry
                    .priority_classes
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?;
                tx.prepare_cached(
                    "INSERT INTO waitlist_entries (tenant_id, id, pool_id, holder, quantity, priority, priority_classes, seq,
                         status, expires_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'waiting', ?9, ?10, ?10)",
                )?
                .execute(params![
                    tenant.0,
                    entry.id,
                    entry.pool_id.0,
                    entry.holder,
                    entry.quantity,
                    entry.priority,
                    classes,
                    entry.seq,
                    entry.expires_at.0,
                    entry.created_at.0
                ])?;
            }
            Change::WaitlistEntryStatus {
                tenant,
                entry_id,
                from,
                to,
                at,
            } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE waitlist_entries SET status = ?4, updated_at = ?5
                         WHERE tenant_id = ?1 AND id = ?2 AND status = ?3",
                    )?
                    .execute(params![
                        tenant.0,
                        entry_id,
                        from.as_str(),
                        to.as_str(),
                        at.0
                    ])?;
                Self::one_row(changed, || {
                    format!("entry {entry_id} is no longer {from:?}")
                })?;
            }
            Change::WaitlistEntryPromoted {
                tenant,
                entry_id,
                to,
                hold_id,
                offer_expires_at,
                at,
            } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE waitlist_entries SET status = ?3, hold_id = ?4, offer_expires_at = ?5,
                             promoted_at = ?6, updated_at = ?6
                         WHERE tenant_id = ?1 AND id = ?2 AND status = 'waiting'",
                    )?
                    .execute(params![
                        tenant.0,
                        entry_id,
                        to.as_str(),
                        hold_id,
                        offer_expires_at.map(|at| at.0),
                        at.0
                    ])?;
                Self::one_row(changed, || format!("entry {entry_id} is no longer waiting"))?;
            }
            Change::PriorityClasses { tenant, classes } => {
                tx.prepare_cached(
                    "INSERT INTO tenant_settings (tenant_id, priority_base, priority_classes) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant_id) DO UPDATE SET priority_base = ?2, priority_classes = ?3",
                )?
                .execute(params![
                    tenant.0,
                    classes.base,
                    serde_json::to_string(&classes.classes)?
                ])?;
            }
            outbox_change @ (Change::NewEvent { .. }
            | Change::NewDelivery { .. }
            | Change::NewAlert { .. }
            | Change::NewWebhook { .. }
            | Change::WebhookDeactivated { .. }
            | Change::PendingDeliveriesFailed { .. }
            | Change::RecipientGroups { .. }
            | Change::DeliveryAttempted { .. }) => self.outbox.write(tx, outbox_change)?,
        }
        Ok(())
    }
}

impl LoadPools for SqlitePort<'_, '_> {
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error> {
        Ok(load_pool(self.tx, tenant, &id.0)?)
    }
}

impl Port for SqlitePort<'_, '_> {
    fn new_id(&mut self, prefix: &str) -> String {
        self.ids.next(prefix)
    }

    fn persist(&mut self, change: Change) -> Result<(), Error> {
        Ok(self.write(change)?)
    }

    fn hold(&mut self, tenant: &TenantId, id: &str) -> Result<Option<HoldRecord>, Error> {
        self.see_pending_holds()?;
        Ok(load_hold(self.tx, tenant, id)?)
    }

    fn due_holds(&mut self, now: UnixMillis) -> Result<Vec<(TenantId, HoldRecord)>, Error> {
        self.see_pending_holds()?;
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {HOLD_COLUMNS}, tenant_id FROM holds WHERE status = 'held' AND expires_at <= ?1"
        )).map_err(StoreError::from)?;
        let mut due = Vec::new();
        let mut rows = stmt.query([now.0]).map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            // The tenant comes after the hold's own columns, which from_row reads by position.
            let tenant = TenantId(row.get(8).map_err(StoreError::from)?);
            due.push((tenant, hold_from_row(row)?));
        }
        Ok(due)
    }

    fn consumption(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        subject: &str,
    ) -> Result<Option<String>, Error> {
        let hold_id = self
            .tx
            .prepare_cached(
                "SELECT hold_id FROM consumptions WHERE tenant_id = ?1 AND pool_id = ?2 AND subject = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![tenant.0, pool.0, subject], |row| row.get(0))
                    .optional()
            })
            .map_err(StoreError::from)?;
        Ok(hold_id)
    }

    fn idempotency_record(
        &mut self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<(KeyRecord, StoredResponse)>, Error> {
        let record = self
            .tx
            .prepare_cached(
                "SELECT request_hash, status, body, created_at FROM idempotency WHERE tenant_id = ?1 AND key = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![tenant.0, key], |row| {
                    Ok((
                        KeyRecord {
                            request_hash: row.get(0)?,
                            created_at: UnixMillis(row.get(3)?),
                        },
                        StoredResponse {
                            status: row.get(1)?,
                            body: row.get(2)?,
                        },
                    ))
                })
                .optional()
            })
            .map_err(StoreError::from)?;
        Ok(record)
    }

    fn api_key_is_live(&mut self, tenant: &TenantId, key_id: &str) -> Result<bool, Error> {
        let live = self
            .tx
            .prepare_cached(
                "SELECT 1 FROM api_keys WHERE id = ?1 AND tenant_id = ?2 AND revoked_at IS NULL",
            )
            .and_then(|mut stmt| stmt.exists(params![key_id, tenant.0]))
            .map_err(StoreError::from)?;
        Ok(live)
    }

    fn session_dates(&mut self, tenant: &TenantId, session: &PoolId) -> Result<Vec<PoolId>, Error> {
        pool_ids(
            self.tx,
            "SELECT id FROM pools WHERE tenant_id = ?1 AND session_id = ?2 ORDER BY date",
            tenant,
            session,
        )
    }

    fn session_dates_with_waiting(
        &mut self,
        tenant: &TenantId,
        session: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        pool_ids(
            self.tx,
            "SELECT id FROM pools WHERE tenant_id = ?1 AND session_id = ?2 AND waiting > 0",
            tenant,
            session,
        )
    }

    // Plans and quotas

    fn plan(&mut self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, Error> {
        Ok(load_plan(self.tx, tenant, id)?)
    }

    fn member_pool(
        &mut self,
        tenant: &TenantId,
        plan_id: &str,
        subject: &str,
    ) -> Result<Option<PoolId>, Error> {
        let pool_id = self
            .tx
            .prepare_cached(
                "SELECT id FROM pools WHERE tenant_id = ?1 AND plan_id = ?2 AND subject = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![tenant.0, plan_id, subject], |row| {
                    row.get(0).map(PoolId)
                })
                .optional()
            })
            .map_err(StoreError::from)?;
        Ok(pool_id)
    }

    // Jobs

    fn job(&mut self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, Error> {
        Ok(load_job(self.tx, tenant, id)?)
    }

    // Attendees and tickets

    fn event_section(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        id_or_name: &str,
    ) -> Result<Option<String>, Error> {
        Ok(tickets::event_section(
            self.tx, tenant, event_id, id_or_name,
        )?)
    }

    fn attendee_by_external_id(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        external_id: &str,
    ) -> Result<Option<AttendeeView>, Error> {
        Ok(tickets::attendee_by_external_id(
            self.tx,
            tenant,
            event_id,
            external_id,
        )?)
    }

    fn attendee(&mut self, tenant: &TenantId, id: &str) -> Result<Option<AttendeeView>, Error> {
        Ok(tickets::attendee(self.tx, tenant, id)?)
    }

    fn attendee_for_issue(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
    ) -> Result<Option<AttendeeForIssue>, Error> {
        Ok(tickets::attendee_for_issue(self.tx, tenant, attendee_id)?)
    }

    fn ticket(&mut self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, Error> {
        Ok(tickets::ticket(self.tx, tenant, id)?)
    }

    fn ticket_for_token(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
        token_hash: &str,
    ) -> Result<Option<TicketView>, Error> {
        Ok(tickets::ticket_for_token(
            self.tx,
            tenant,
            attendee_id,
            token_hash,
        )?)
    }

    // Waiting lists

    fn next_entry_seq(&mut self) -> Result<i64, Error> {
        *self.waitlist_seq += 1;
        Ok(*self.waitlist_seq)
    }

    fn waitlist_entry(
        &mut self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<EntryRecord>, Error> {
        Ok(load_entry(self.tx, tenant, id)?)
    }

    fn waiting_entries(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, Error> {
        Ok(queue(self.tx, tenant, &pool.0, None, offset, limit)?)
    }

    fn entry_position(
        &mut self,
        tenant: &TenantId,
        entry: &EntryRecord,
        now: UnixMillis,
    ) -> Result<u64, Error> {
        Ok(position(self.tx, tenant, entry, now)?)
    }

    fn recent_promotions(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, Error> {
        Ok(promotions_since(self.tx, tenant, &pool.0, since, limit)?)
    }

    fn priority_classes(&mut self, tenant: &TenantId) -> Result<PriorityClasses, Error> {
        Ok(priority_classes(self.tx, tenant)?)
    }

    fn due_entries(
        &mut self,
        now: UnixMillis,
        limit: i64,
    ) -> Result<Vec<(TenantId, EntryRecord)>, Error> {
        let read = || -> Result<Vec<(TenantId, EntryRecord)>, StoreError> {
            // The tenant comes after the entry's own columns, which from_row reads by position.
            let mut stmt = self.tx.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS}, e.tenant_id FROM {ENTRY_FROM}
                 WHERE e.status = 'waiting' AND e.expires_at <= ?1 ORDER BY e.expires_at, e.seq LIMIT ?2"
            ))?;
            let mut rows = stmt.query(params![now.0, limit])?;
            let mut due = Vec::new();
            while let Some(row) = rows.next()? {
                due.push((TenantId(row.get(15)?), entry_from_row(row)?));
            }
            Ok(due)
        };
        Ok(read()?)
    }

    fn dates_with_waiting_before(
        &mut self,
        before: SessionDate,
        limit: i64,
    ) -> Result<Vec<(TenantId, PoolId)>, Error> {
        let dates = self
            .tx
            .prepare_cached(
                "SELECT tenant_id, id FROM pools
                 WHERE date IS NOT NULL AND waiting > 0 AND date < ?1 ORDER BY date, tenant_id, id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![before.to_string(), limit], |row| {
                    Ok((TenantId(row.get(0)?), PoolId(row.get(1)?)))
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(StoreError::from)?;
        Ok(dates)
    }

    fn children_with_waiting(
        &mut self,
        tenant: &TenantId,
        parent: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        pool_ids(
            self.tx,
            "SELECT id FROM pools WHERE tenant_id = ?1 AND parent_id = ?2 AND waiting_below > 0",
            tenant,
            parent,
        )
    }

    // The outbox

    fn subscribers(&mut self, tenant: &TenantId) -> Result<Vec<Subscriber>, Error> {
        Ok(self.outbox.subscribers(self.tx, tenant)?.to_vec())
    }

    fn recipient_groups(
        &mut self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<String, Vec<Channel>>, Error> {
        Ok(self.outbox.recipients(self.tx, tenant)?.clone())
    }

    fn webhook_is_active(&mut self, tenant: &TenantId, webhook_id: &str) -> Result<bool, Error> {
        Ok(outbox::webhook_is_active(self.tx, tenant, webhook_id)?)
    }

    fn pending_delivery_attempts(&mut self, delivery_id: &str) -> Result<Option<i64>, Error> {
        Ok(outbox::pending_delivery_attempts(self.tx, delivery_id)?)
    }
}

fn pool_ids(
    tx: &Transaction<'_>,
    sql: &str,
    tenant: &TenantId,
    session: &PoolId,
) -> Result<Vec<PoolId>, Error> {
    let ids = tx
        .prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params![tenant.0, session.0], |row| row.get(0).map(PoolId))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(StoreError::from)?;
    Ok(ids)
}

pub(in crate::sqlite) fn insert_pool_row(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    row: &PoolRecord,
) -> Result<(), StoreError> {
    let limits = row.core.limits;
    tx.prepare_cached(
        "INSERT INTO pools (id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, held, committed,
             price_amount_minor, price_currency, metadata, active, created_at, updated_at,
             per_date, session_id, date, waitlist_policy, waitlist_mode, offer_ttl_seconds, waiting, waiting_below, thresholds,
             time_zone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16, ?17, ?18, ?19, ?20, ?21, 0, 0, ?22, ?23)",
    )?
    .execute(params![
        row.core.id.0,
        tenant.0,
        row.core.parent_id.as_ref().map(|p| p.0.clone()),
        row.name,
        row.unit,
        limits.capacity.get(),
        limits.hard_limit_pct.get(),
        limits.soft_limit_pct.get(),
        row.core.held,
        row.core.committed,
        row.price.as_ref().map(|p| p.amount_minor),
        row.price.as_ref().map(|p| p.currency.clone()),
        row.metadata,
        row.core.active,
        row.created_at.0,
        row.per_date,
        row.session_id,
        row.date,
        row.waitlist.policy.as_str(),
        row.waitlist.mode.as_str(),
        row.waitlist.offer_ttl.get(),
        row.thresholds,
        row.time_zone.as_ref().map(SessionZone::name),
    ])?;
    Ok(())
}

/// A pool whose settings changed, written whole.
fn rewrite_pool_row(tx: &Transaction<'_>, row: &PoolRecord) -> Result<(), StoreError> {
    let (core, limits) = (&row.core, row.core.limits);
    tx.prepare_cached(
        "UPDATE pools SET held = ?2, committed = ?3, capacity = ?4, hard_limit_pct = ?5, soft_limit_pct = ?6,
             active = ?7, name = ?8, price_amount_minor = ?9, price_currency = ?10, metadata = ?11, updated_at = ?12,
             waitlist_policy = ?13, waitlist_mode = ?14, offer_ttl_seconds = ?15, waiting = ?16, waiting_below = ?17,
             thresholds = ?18, alert_marks = ?19
         WHERE id = ?1",
    )?
    .execute(params![
        core.id.0,
        core.held,
        core.committed,
        limits.capacity.get(),
        limits.hard_limit_pct.get(),
        limits.soft_limit_pct.get(),
        core.active,
        row.name,
        row.price.as_ref().map(|p| p.amount_minor),
        row.price.as_ref().map(|p| p.currency.clone()),
        row.metadata,
        row.updated_at.0,
        row.waitlist.policy.as_str(),
        row.waitlist.mode.as_str(),
        row.waitlist.offer_ttl.get(),
        row.waiting,
        row.waiting_below,
        row.thresholds,
        row.alert_marks,
    ])?;
    Ok(())
}
