//! The outbox as SQLite keeps it: events, the deliveries they fan out to, the alert log,
//! webhooks and recipient groups, each written in the transaction of the change that caused it
//! (the engine decides them all, in `apply::outbox`), and the reads the engine routes with.

use crate::StoreError;
use crate::model::{Channel, DeliveryAttempt, DeliveryStatus, TenantId};
use allot_core::UnixMillis;
use allot_engine::change::{Change, NewDelivery};
use allot_engine::rules::routing::{Subscriber, Target};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::{BTreeMap, HashMap};

/// The batch's view of the outbox: the sequence counters, and each tenant's webhooks and
/// recipient groups, read once per batch when first asked for and forgotten when they change.
#[derive(Default)]
pub(super) struct Outbox {
    pub(super) event_seq: i64,
    pub(super) alert_seq: i64,
    subscribers: HashMap<TenantId, Vec<Subscriber>>,
    recipients: HashMap<TenantId, BTreeMap<String, Vec<Channel>>>,
    /// The batch's events and alerts, counted for metrics.
    pub(super) tally: crate::BatchTally,
}

impl Outbox {
    pub(super) fn new(event_seq: i64, alert_seq: i64) -> Self {
        Outbox {
            event_seq,
            alert_seq,
            ..Outbox::default()
        }
    }

    /// Writes one of the outbox's changes (the port hands it no other kind).
    pub(super) fn write(&mut self, tx: &Transaction<'_>, change: Change) -> Result<(), StoreError> {
        match change {
            Change::NewEvent {
                tenant,
                id,
                kind,
                data,
                at,
            } => {
                self.event_seq += 1;
                self.tally.event(kind);
                tx.prepare_cached(
                    "INSERT INTO events (tenant_id, seq, id, type, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![tenant.0, self.event_seq, id, kind, data.to_string(), at.0])?;
            }
            Change::NewDelivery { tenant, delivery } => insert_delivery(tx, &tenant, &delivery)?,
            Change::NewAlert { tenant, alert } => {
                self.alert_seq += 1;
                self.tally.alert(alert.severity);
                tx.prepare_cached(
                    "INSERT INTO alerts (tenant_id, seq, id, pool_id, kind, threshold_pct, severity, recipients, used, capacity, waiting, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?
                .execute(params![
                    tenant.0,
                    self.alert_seq,
                    alert.id,
                    alert.pool_id.0,
                    alert.kind,
                    alert.threshold_pct,
                    alert.severity,
                    serde_json::to_string(&alert.recipients)?,
                    alert.used,
                    alert.capacity,
                    alert.waiting,
                    alert.at.0
                ])?;
            }
            Change::NewWebhook { tenant, webhook } => {
                tx.prepare_cached(
                    "INSERT INTO webhooks (tenant_id, id, url, events, secret, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
                )?
                .execute(params![
                    tenant.0,
                    webhook.id,
                    webhook.url,
                    serde_json::to_string(&webhook.events)?,
                    webhook.secret,
                    webhook.at.0
                ])?;
                self.forget(&tenant);
            }
            Change::WebhookDeactivated { tenant, webhook_id } => {
                let changed = tx
                    .prepare_cached(
                        "UPDATE webhooks SET active = 0 WHERE tenant_id = ?1 AND id = ?2 AND active = 1",
                    )?
                    .execute(params![tenant.0, webhook_id])?;
                if changed != 1 {
                    return Err(StoreError::Conflict(format!(
                        "webhook {webhook_id} is no longer active"
                    )));
                }
                self.forget(&tenant);
            }
            Change::PendingDeliveriesFailed {
                tenant,
                webhook_id,
                error,
                at,
            } => {
                tx.prepare_cached(
                    "UPDATE deliveries SET status = 'failed', last_error = ?3, updated_at = ?4
                     WHERE tenant_id = ?1 AND webhook_id = ?2 AND status = 'pending'",
                )?
                .execute(params![tenant.0, webhook_id, error, at.0])?;
            }
            Change::RecipientGroups { tenant, groups } => {
                tx.prepare_cached("DELETE FROM recipient_groups WHERE tenant_id = ?1")?
                    .execute([&tenant.0])?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO recipient_groups (tenant_id, name, channels) VALUES (?1, ?2, ?3)",
                )?;
                for (name, channels) in &groups {
                    insert.execute(params![tenant.0, name, serde_json::to_string(channels)?])?;
                }
                self.forget(&tenant);
            }
            Change::DeliveryAttempted {
                attempt,
                number,
                to,
                next_attempt_at,
            } => record_attempt(tx, &attempt, number, to, next_attempt_at)?,
            other => {
                return Err(StoreError::Other(format!(
                    "not a change of the outbox: {other:?}"
                )));
            }
        }
        Ok(())
    }

    /// The tenant's active webhooks, read once per batch.
    pub(super) fn subscribers(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
    ) -> Result<&[Subscriber], StoreError> {
        if !self.subscribers.contains_key(tenant) {
            let mut stmt = tx.prepare_cached(
                "SELECT id, events FROM webhooks WHERE tenant_id = ?1 AND active = 1 ORDER BY id",
            )?;
            let rows = stmt.query_map([&tenant.0], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut found = Vec::new();
            for row in rows {
                let (id, events) = row?;
                found.push(Subscriber {
                    id,
                    events: serde_json::from_str(&events)?,
                });
            }
            self.subscribers.insert(tenant.clone(), found);
        }
        Ok(&self.subscribers[tenant])
    }

    /// The tenant's recipient groups, read once per batch.
    pub(super) fn recipients(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
    ) -> Result<&BTreeMap<String, Vec<Channel>>, StoreError> {
        if !self.recipients.contains_key(tenant) {
            self.recipients
                .insert(tenant.clone(), recipient_groups(tx, tenant)?);
        }
        Ok(&self.recipients[tenant])
    }

    /// A change to a tenant's webhooks or recipients: read them afresh for the rest of the batch.
    fn forget(&mut self, tenant: &TenantId) {
        self.subscribers.remove(tenant);
        self.recipients.remove(tenant);
    }
}

/// A tenant's recipient groups.
pub(super) fn recipient_groups(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
) -> Result<BTreeMap<String, Vec<Channel>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, channels FROM recipient_groups WHERE tenant_id = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([&tenant.0], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut groups = BTreeMap::new();
    for row in rows {
        let (name, channels) = row?;
        groups.insert(name, serde_json::from_str(&channels)?);
    }
    Ok(groups)
}

/// A pending delivery, due at once.
fn insert_delivery(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    delivery: &NewDelivery,
) -> Result<(), StoreError> {
    let (channel, webhook, email) = match &delivery.target {
        Target::Webhook(id) => ("webhook", Some(id), None),
        Target::Email(address) => ("email", None, Some(address)),
    };
    tx.prepare_cached(
        "INSERT INTO deliveries (id, tenant_id, channel, webhook_id, email, event_id, event_type, payload, status,
             attempts, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9, ?9)",
    )?
    .execute(params![
        delivery.id,
        tenant.0,
        channel,
        webhook,
        email,
        delivery.event_id,
        delivery.kind,
        delivery.payload,
        delivery.at.0
    ])?;
    Ok(())
}

/// Whether the tenant has this webhook and it is not deleted.
pub(super) fn webhook_is_active(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    webhook_id: &str,
) -> Result<bool, StoreError> {
    let active: Option<i64> = tx
        .prepare_cached("SELECT active FROM webhooks WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant.0, webhook_id], |row| row.get(0))
        .optional()?;
    Ok(active == Some(1))
}

/// How many attempts a pending delivery has had; `None` when it is not pending.
pub(super) fn pending_delivery_attempts(
    tx: &Transaction<'_>,
    delivery_id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT attempts FROM deliveries WHERE id = ?1 AND status = 'pending'")?
        .query_row([delivery_id], |row| row.get(0))
        .optional()?)
}

/// One attempt in the log, and the delivery delivered, scheduled again, or given up.
fn record_attempt(
    tx: &Transaction<'_>,
    attempt: &DeliveryAttempt,
    number: i64,
    to: DeliveryStatus,
    next_attempt_at: UnixMillis,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4, last_status = ?5,
                 last_error = ?6, updated_at = ?7
             WHERE id = ?1 AND status = 'pending' AND attempts = ?3 - 1",
        )?
        .execute(params![
            attempt.delivery_id,
            to.as_str(),
            number,
            next_attempt_at.0,
            attempt.status,
            attempt.error,
            attempt.at.0
        ])?;
    if changed != 1 {
        return Err(StoreError::Conflict(format!(
            "delivery {} is no longer pending at attempt {}",
            attempt.delivery_id,
            number - 1
        )));
    }
    tx.prepare_cached(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, status, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        attempt.delivery_id,
        number,
        attempt.at.0,
        attempt.status,
        attempt.error,
        attempt.duration_ms
    ])?;
    Ok(())
}
