//! The outbox: events and the deliveries they fan out to, alerts logged and routed to their
//! recipients, the webhooks and recipient groups that decide where they go, and what the
//! delivery worker's attempts came to. Everything here is written in the batch of the change
//! that caused it, so a crash can delay a delivery but never lose one, and never announce a
//! change that did not commit.

use crate::Error;
use crate::change::{Change, NewAlert, NewDelivery, NewWebhook};
use crate::command::{Failure, Outcome, Success};
use crate::jobs::JobView;
use crate::model::{Channel, DeliveryAttempt, TenantId, WebhookView};
use crate::port::Port;
use crate::rules::routing::{self, Target};
use allot_core::UnixMillis;
use serde_json::json;
use std::collections::BTreeMap;

/// What a deleted webhook's pending deliveries are failed with.
const WEBHOOK_DELETED: &str = "the webhook was deleted";

/// Records an event and queues a delivery to every active webhook of the tenant subscribed to
/// its type. Answers the event's id.
pub fn record_event<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    kind: &'static str,
    data: serde_json::Value,
    now: UnixMillis,
) -> Result<String, Error> {
    Ok(record(port, tenant, kind, data, now)?.0)
}

/// [`record_event`], answering the payload its deliveries carry as well.
fn record<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    kind: &'static str,
    data: serde_json::Value,
    now: UnixMillis,
) -> Result<(String, String), Error> {
    let id = port.new_id("evt");
    let payload = routing::payload(&id, kind, &data, now);
    port.persist(Change::NewEvent {
        tenant: tenant.clone(),
        id: id.clone(),
        kind,
        data,
        at: now,
    })?;
    let subscribers = port.subscribers(tenant)?;
    for webhook in routing::subscribed(&subscribers, kind) {
        let target = Target::Webhook(webhook.to_owned());
        queue(port, tenant, target, &id, kind, payload.clone(), now)?;
    }
    Ok((id, payload))
}

/// Logs an alert, records it as an `alert.fired` event (its subscribers get it), and queues it
/// for every channel of its recipient groups that does not get it already.
pub fn record_alert<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    alert: NewAlert,
) -> Result<(), Error> {
    let now = alert.at;
    let data = json!({
        "alert_id": alert.id, "pool_id": alert.pool_id.0, "kind": alert.kind,
        "threshold_pct": alert.threshold_pct, "severity": alert.severity,
        "recipients": alert.recipients, "used": alert.used, "capacity": alert.capacity,
        "waiting": alert.waiting,
    });
    let recipients = alert.recipients.clone();
    port.persist(Change::NewAlert {
        tenant: tenant.clone(),
        alert: Box::new(alert),
    })?;
    record_for_groups(port, tenant, "alert.fired", data, &recipients, now)
}

/// Announces a job that just ended as a `job.completed` event (its subscribers get it), and
/// queues it for every channel of the recipient group the job names (`notify` in its
/// parameters), or of [`routing::JOB_NOTICE_GROUP`].
pub fn record_job_completed<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    job: &JobView,
    now: UnixMillis,
) -> Result<(), Error> {
    let group = job.params["notify"]
        .as_str()
        .unwrap_or(routing::JOB_NOTICE_GROUP);
    let data = json!({
        "job_id": job.id, "kind": job.kind, "status": job.status.as_str(),
        "total": job.total, "done": job.counters.done, "created": job.counters.created,
        "skipped": job.counters.skipped, "failed": job.counters.failed, "error": job.error,
        "recipients": [group],
    });
    record_for_groups(
        port,
        tenant,
        "job.completed",
        data,
        &[group.to_owned()],
        now,
    )
}

/// Records an event for its subscribers and for each channel of `recipients` (groups).
fn record_for_groups<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    kind: &'static str,
    data: serde_json::Value,
    recipients: &[String],
    now: UnixMillis,
) -> Result<(), Error> {
    let (event_id, payload) = record(port, tenant, kind, data, now)?;
    let groups = port.recipient_groups(tenant)?;
    let subscribers = port.subscribers(tenant)?;
    for target in routing::group_targets(kind, recipients, &groups, &subscribers) {
        queue(port, tenant, target, &event_id, kind, payload.clone(), now)?;
    }
    Ok(())
}

fn queue<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    target: Target,
    event_id: &str,
    kind: &str,
    payload: String,
    now: UnixMillis,
) -> Result<String, Error> {
    let id = port.new_id("dlv");
    port.persist(Change::NewDelivery {
        tenant: tenant.clone(),
        delivery: Box::new(NewDelivery {
            id: id.clone(),
            target,
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
            payload,
            at: now,
        }),
    })?;
    Ok(id)
}

pub fn create_webhook<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    url: String,
    events: Vec<String>,
    secret: String,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let id = port.new_id("wh");
    let view = WebhookView {
        id: id.clone(),
        url: url.clone(),
        events: events.clone(),
        active: true,
        created_at: now,
    };
    port.persist(Change::NewWebhook {
        tenant: tenant.clone(),
        webhook: Box::new(NewWebhook {
            id,
            url,
            events,
            secret,
            at: now,
        }),
    })?;
    Ok(Ok(Success::Webhook(view)))
}

/// Deletes a webhook: it gets nothing more, and what was still pending for it is given up.
pub fn delete_webhook<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    webhook_id: &str,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    if let Err(missing) = active_webhook(port, tenant, webhook_id)? {
        return Ok(Err(missing));
    }
    port.persist(Change::WebhookDeactivated {
        tenant: tenant.clone(),
        webhook_id: webhook_id.to_owned(),
    })?;
    port.persist(Change::PendingDeliveriesFailed {
        tenant: tenant.clone(),
        webhook_id: webhook_id.to_owned(),
        error: WEBHOOK_DELETED,
        at: now,
    })?;
    Ok(Ok(Success::WebhookDeleted))
}

/// Queues a test delivery to one webhook, whatever it subscribed to. It is no event: the log
/// does not show it.
pub fn test_webhook<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    webhook_id: &str,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    if let Err(missing) = active_webhook(port, tenant, webhook_id)? {
        return Ok(Err(missing));
    }
    let kind = "webhook.test";
    let event_id = port.new_id("evt");
    let data = json!({"webhook_id": webhook_id, "message": "a test delivery from allot"});
    let payload = routing::payload(&event_id, kind, &data, now);
    let target = Target::Webhook(webhook_id.to_owned());
    let delivery_id = queue(port, tenant, target, &event_id, kind, payload, now)?;
    Ok(Ok(Success::DeliveryQueued { delivery_id }))
}

pub fn set_recipients<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    groups: BTreeMap<String, Vec<Channel>>,
) -> Result<Outcome, Error> {
    port.persist(Change::RecipientGroups {
        tenant: tenant.clone(),
        groups: groups.clone(),
    })?;
    Ok(Ok(Success::Recipients(groups)))
}

/// Writes down what the delivery worker's attempts came to. A delivery no longer pending (its
/// webhook was deleted meanwhile) keeps its state, and the attempt is not logged.
pub fn record_attempts<P: Port>(
    port: &mut P,
    attempts: Vec<DeliveryAttempt>,
) -> Result<Outcome, Error> {
    for attempt in attempts {
        let Some(before) = port.pending_delivery_attempts(&attempt.delivery_id)? else {
            continue;
        };
        let (to, next_attempt_at) = routing::after_attempt(&attempt);
        port.persist(Change::DeliveryAttempted {
            attempt,
            number: before + 1,
            to,
            next_attempt_at,
        })?;
    }
    Ok(Ok(Success::AttemptsRecorded))
}

/// A webhook the tenant has and has not deleted; any other is not found.
fn active_webhook<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    webhook_id: &str,
) -> Result<Result<(), Failure>, Error> {
    Ok(match port.webhook_is_active(tenant, webhook_id)? {
        true => Ok(()),
        false => Err(Failure::NotFound {
            kind: "webhook",
            id: webhook_id.to_owned(),
        }),
    })
}
