//! The outbox: events, the deliveries they fan out to, and the alert log — all written in the
//! transaction of the change that caused them, so a crash can delay a delivery but never lose
//! one, and never announce a change that did not commit.

use super::batch::new_id;
use crate::StoreError;
use crate::command::{Failure, Outcome, Success};
use crate::model::{Channel, DeliveryAttempt, TenantId, WebhookView};
use allot_core::UnixMillis;
use allot_engine::rules::routing::{self, Subscriber, Target as Destination};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// An alert to log and send.
pub(super) struct NewAlert<'a> {
    pub pool_id: &'a str,
    pub kind: &'a str,
    pub threshold_pct: Option<u32>,
    pub severity: &'a str,
    pub recipients: &'a [String],
    pub used: i64,
    pub capacity: i64,
    pub waiting: i64,
}

/// The batch's view of the outbox: the sequence counters, and each tenant's webhooks and
/// recipient groups, read once per batch when first needed.
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

    /// Appends an event, and a pending delivery to every active webhook of the tenant that
    /// subscribed to its type. Returns the event's id.
    pub(super) fn record_event(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        kind: &str,
        data: serde_json::Value,
        now: UnixMillis,
    ) -> Result<String, StoreError> {
        self.event_seq += 1;
        self.tally.event(kind);
        let id = new_id("evt");
        let data_text = data.to_string();
        tx.prepare_cached(
            "INSERT INTO events (tenant_id, seq, id, type, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![tenant.0, self.event_seq, id, kind, data_text, now.0])?;
        let payload =
            json!({"id": id, "type": kind, "timestamp": now.0 / 1000, "data": data}).to_string();
        let targets: Vec<String> = routing::subscribed(self.subscribers(tx, tenant)?, kind)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for webhook in targets {
            insert_delivery(
                tx,
                tenant,
                Target::Webhook(&webhook),
                &id,
                kind,
                &payload,
                now,
            )?;
        }
        Ok(id)
    }

    /// Logs an alert, records it as an `alert.fired` event, and queues it for every channel of
    /// its recipient groups (a webhook that already subscribed to alerts gets it once).
    pub(super) fn record_alert(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        alert: NewAlert<'_>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.alert_seq += 1;
        self.tally.alert(alert.severity);
        let id = new_id("alert");
        tx.prepare_cached(
            "INSERT INTO alerts (tenant_id, seq, id, pool_id, kind, threshold_pct, severity, recipients, used, capacity, waiting, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            tenant.0,
            self.alert_seq,
            id,
            alert.pool_id,
            alert.kind,
            alert.threshold_pct,
            alert.severity,
            serde_json::to_string(alert.recipients)?,
            alert.used,
            alert.capacity,
            alert.waiting,
            now.0
        ])?;
        let data = json!({
            "alert_id": id, "pool_id": alert.pool_id, "kind": alert.kind,
            "threshold_pct": alert.threshold_pct, "severity": alert.severity,
            "recipients": alert.recipients, "used": alert.used, "capacity": alert.capacity,
            "waiting": alert.waiting,
        });
        let event_id = self.record_event(tx, tenant, "alert.fired", data.clone(), now)?;
        let payload =
            json!({"id": event_id, "type": "alert.fired", "timestamp": now.0 / 1000, "data": data})
                .to_string();
        self.subscribers(tx, tenant)?;
        self.recipients(tx, tenant)?;
        let destinations = routing::alert_targets(
            alert.recipients,
            &self.recipients[tenant],
            &self.subscribers[tenant],
        );
        for destination in &destinations {
            let target = match destination {
                Destination::Email(email) => Target::Email(email),
                Destination::Webhook(webhook) => Target::Webhook(webhook),
            };
            insert_delivery(tx, tenant, target, &event_id, "alert.fired", &payload, now)?;
        }
        Ok(())
    }

    fn subscribers(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
    ) -> Result<&[Subscriber], StoreError> {
        if !self.subscribers.contains_key(tenant) {
            let mut stmt = tx.prepare_cached(
                "SELECT id, events FROM webhooks WHERE tenant_id = ?1 AND active = 1",
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

    fn recipients(
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
    pub(super) fn forget(&mut self, tenant: &TenantId) {
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

pub(super) enum Target<'a> {
    Webhook(&'a str),
    Email(&'a str),
}

/// A pending delivery, due at once.
pub(super) fn insert_delivery(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    target: Target<'_>,
    event_id: &str,
    kind: &str,
    payload: &str,
    now: UnixMillis,
) -> Result<String, StoreError> {
    let (channel, webhook, email) = match target {
        Target::Webhook(id) => ("webhook", Some(id), None),
        Target::Email(address) => ("email", None, Some(address)),
    };
    let id = new_id("dlv");
    tx.prepare_cached(
        "INSERT INTO deliveries (id, tenant_id, channel, webhook_id, email, event_id, event_type, payload, status,
             attempts, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9, ?9)",
    )?
    .execute(params![id, tenant.0, channel, webhook, email, event_id, kind, payload, now.0])?;
    Ok(id)
}

pub(super) fn create_webhook(
    tx: &Transaction<'_>,
    outbox: &mut Outbox,
    tenant: &TenantId,
    url: String,
    events: Vec<String>,
    secret: String,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let id = new_id("wh");
    tx.prepare_cached(
        "INSERT INTO webhooks (tenant_id, id, url, events, secret, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
    )?
    .execute(params![tenant.0, id, url, serde_json::to_string(&events)?, secret, now.0])?;
    outbox.forget(tenant);
    Ok(Ok(Success::Webhook(WebhookView {
        id,
        url,
        events,
        active: true,
        created_at: now,
    })))
}

pub(super) fn delete_webhook(
    tx: &Transaction<'_>,
    outbox: &mut Outbox,
    tenant: &TenantId,
    webhook_id: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE webhooks SET active = 0 WHERE tenant_id = ?1 AND id = ?2 AND active = 1",
        )?
        .execute(params![tenant.0, webhook_id])?;
    if changed == 0 {
        return Ok(Err(Failure::NotFound {
            kind: "webhook",
            id: webhook_id.to_owned(),
        }));
    }
    tx.prepare_cached(
        "UPDATE deliveries SET status = 'failed', last_error = 'the webhook was deleted', updated_at = ?3
         WHERE tenant_id = ?1 AND webhook_id = ?2 AND status = 'pending'",
    )?
    .execute(params![tenant.0, webhook_id, now.0])?;
    outbox.forget(tenant);
    Ok(Ok(Success::WebhookDeleted))
}

pub(super) fn test_webhook(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    webhook_id: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let active: Option<i64> = tx
        .prepare_cached("SELECT active FROM webhooks WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant.0, webhook_id], |row| row.get(0))
        .optional()?;
    if active != Some(1) {
        return Ok(Err(Failure::NotFound {
            kind: "webhook",
            id: webhook_id.to_owned(),
        }));
    }
    let event_id = new_id("evt");
    let payload = json!({
        "id": event_id, "type": "webhook.test", "timestamp": now.0 / 1000,
        "data": {"webhook_id": webhook_id, "message": "a test delivery from allot"},
    })
    .to_string();
    let delivery_id = insert_delivery(
        tx,
        tenant,
        Target::Webhook(webhook_id),
        &event_id,
        "webhook.test",
        &payload,
        now,
    )?;
    Ok(Ok(Success::DeliveryQueued { delivery_id }))
}

pub(super) fn set_recipients(
    tx: &Transaction<'_>,
    outbox: &mut Outbox,
    tenant: &TenantId,
    groups: BTreeMap<String, Vec<Channel>>,
) -> Result<Outcome, StoreError> {
    tx.prepare_cached("DELETE FROM recipient_groups WHERE tenant_id = ?1")?
        .execute([&tenant.0])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO recipient_groups (tenant_id, name, channels) VALUES (?1, ?2, ?3)",
    )?;
    for (name, channels) in &groups {
        insert.execute(params![tenant.0, name, serde_json::to_string(channels)?])?;
    }
    outbox.forget(tenant);
    Ok(Ok(Success::Recipients(groups)))
}

/// Writes down what the delivery worker's attempts came to: each attempt in the log, and the
/// delivery delivered, scheduled again, or given up.
pub(super) fn record_attempts(
    tx: &Transaction<'_>,
    attempts: Vec<DeliveryAttempt>,
) -> Result<Outcome, StoreError> {
    let mut update = tx.prepare_cached(
        "UPDATE deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3, last_status = ?4,
             last_error = ?5, updated_at = ?6
         WHERE id = ?1 AND status = 'pending' RETURNING attempts",
    )?;
    let mut log = tx.prepare_cached(
        "INSERT OR IGNORE INTO delivery_attempts (delivery_id, attempt, at, status, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for attempt in attempts {
        let status = match (attempt.delivered, attempt.retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        let next = attempt.retry_at.unwrap_or(attempt.at);
        let number: Option<i64> = update
            .query_row(
                params![
                    attempt.delivery_id,
                    status,
                    next.0,
                    attempt.status,
                    attempt.error,
                    attempt.at.0
                ],
                |row| row.get(0),
            )
            .optional()?;
        // A delivery no longer pending (its webhook was deleted meanwhile) keeps its state.
        if let Some(number) = number {
            log.execute(params![
                attempt.delivery_id,
                number,
                attempt.at.0,
                attempt.status,
                attempt.error,
                attempt.duration_ms
            ])?;
        }
    }
    Ok(Ok(Success::AttemptsRecorded))
}
