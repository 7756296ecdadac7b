//! The outbox as the in-memory store keeps it: the alert log, webhooks, recipient groups,
//! deliveries and their attempts — the changes the engine decides applied at once (each
//! answering how to take it back), and the reads it routes with. (Events are in the state's
//! own log.) Nothing is sent from here: no worker delivers for this store.

use super::restore;
use crate::model::{
    AlertView, Channel, DeliveryAttempt, DeliveryStatus, DeliveryView, TenantId, WebhookView,
};
use allot_core::{PoolId, UnixMillis};
use allot_engine::Error;
use allot_engine::change::{Change, NewAlert, NewDelivery, NewWebhook};
use allot_engine::rules::routing::{Subscriber, Target};
use std::collections::BTreeMap;

/// A webhook as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWebhook {
    pub webhook: NewWebhook,
    pub active: bool,
}

/// A delivery as kept: as queued, and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDelivery {
    pub tenant: TenantId,
    pub delivery: NewDelivery,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: UnixMillis,
    /// The HTTP status or SMTP reply code of the last attempt that got an answer.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxBook {
    /// In the order logged; each numbered from 1 across tenants by its place here.
    pub alerts: Vec<(TenantId, NewAlert)>,
    pub webhooks: BTreeMap<(TenantId, String), StoredWebhook>,
    pub recipients: BTreeMap<TenantId, BTreeMap<String, Vec<Channel>>>,
    /// By id, across tenants (the delivery worker serves them all).
    pub deliveries: BTreeMap<String, StoredDelivery>,
    /// Every attempt logged, with its number, in order.
    pub attempts: Vec<(DeliveryAttempt, i64)>,
}

/// What one change replaced.
pub(super) enum OutboxUndo {
    AlertAppended,
    Webhook((TenantId, String), Option<StoredWebhook>),
    Recipients(TenantId, Option<BTreeMap<String, Vec<Channel>>>),
    Delivery(String, Option<Box<StoredDelivery>>),
    AttemptAppended,
}

impl OutboxBook {
    /// Applies a change of the outbox; answers what takes it back, in order.
    pub(super) fn apply(&mut self, change: Change) -> Result<Vec<OutboxUndo>, Error> {
        let mut undo = Vec::new();
        match change {
            Change::NewAlert { tenant, alert } => {
                self.alerts.push((tenant, *alert));
                undo.push(OutboxUndo::AlertAppended);
            }
            Change::NewWebhook { tenant, webhook } => {
                let key = (tenant, webhook.id.clone());
                if self.webhooks.contains_key(&key) {
                    return Err(Error::Conflict(format!("webhook {} exists", key.1)));
                }
                let stored = StoredWebhook {
                    webhook: *webhook,
                    active: true,
                };
                self.webhooks.insert(key.clone(), stored);
                undo.push(OutboxUndo::Webhook(key, None));
            }
            Change::WebhookDeactivated { tenant, webhook_id } => {
                let key = (tenant, webhook_id);
                let Some(stored) = self.webhooks.get_mut(&key).filter(|stored| stored.active)
                else {
                    return Err(Error::Conflict(format!(
                        "webhook {} is no longer active",
                        key.1
                    )));
                };
                let old = stored.clone();
                stored.active = false;
                undo.push(OutboxUndo::Webhook(key, Some(old)));
            }
            Change::PendingDeliveriesFailed {
                tenant,
                webhook_id,
                error,
                at,
            } => {
                for (id, stored) in self.deliveries.iter_mut() {
                    let to_webhook = matches!(&stored.delivery.target,
                        Target::Webhook(hook) if *hook == webhook_id);
                    if stored.tenant != tenant
                        || !to_webhook
                        || stored.status != DeliveryStatus::Pending
                    {
                        continue;
                    }
                    undo.push(OutboxUndo::Delivery(
                        id.clone(),
                        Some(Box::new(stored.clone())),
                    ));
                    stored.status = DeliveryStatus::Failed;
                    stored.last_error = Some(error.to_owned());
                    stored.updated_at = at;
                }
            }
            Change::RecipientGroups { tenant, groups } => {
                let old = self.recipients.insert(tenant.clone(), groups);
                undo.push(OutboxUndo::Recipients(tenant, old));
            }
            Change::NewDelivery { tenant, delivery } => {
                let id = delivery.id.clone();
                if self.deliveries.contains_key(&id) {
                    return Err(Error::Conflict(format!("delivery {id} exists")));
                }
                let stored = StoredDelivery {
                    tenant,
                    next_attempt_at: delivery.at,
                    updated_at: delivery.at,
                    delivery: *delivery,
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    last_status: None,
                    last_error: None,
                };
                self.deliveries.insert(id.clone(), stored);
                undo.push(OutboxUndo::Delivery(id, None));
            }
            Change::DeliveryAttempted {
                attempt,
                number,
                to,
                next_attempt_at,
            } => {
                let id = attempt.delivery_id.clone();
                let Some(stored) = self.deliveries.get_mut(&id).filter(|stored| {
                    stored.status == DeliveryStatus::Pending && stored.attempts == number - 1
                }) else {
                    return Err(Error::Conflict(format!(
                        "delivery {id} is no longer pending at attempt {}",
                        number - 1
                    )));
                };
                undo.push(OutboxUndo::Delivery(
                    id.clone(),
                    Some(Box::new(stored.clone())),
                ));
                stored.status = to;
                stored.attempts = number;
                stored.next_attempt_at = next_attempt_at;
                stored.last_status = attempt.status;
                stored.last_error = attempt.error.clone();
                stored.updated_at = attempt.at;
                self.attempts.push((attempt, number));
                undo.push(OutboxUndo::AttemptAppended);
            }
            other => {
                return Err(Error::Other(format!(
                    "not a change of the outbox: {other:?}"
                )));
            }
        }
        Ok(undo)
    }

    pub(super) fn undo(&mut self, undo: OutboxUndo) {
        match undo {
            OutboxUndo::AlertAppended => {
                self.alerts.pop();
            }
            OutboxUndo::Webhook(key, old) => restore(&mut self.webhooks, key, old),
            OutboxUndo::Recipients(tenant, old) => restore(&mut self.recipients, tenant, old),
            OutboxUndo::Delivery(id, old) => restore(&mut self.deliveries, id, old.map(|d| *d)),
            OutboxUndo::AttemptAppended => {
                self.attempts.pop();
            }
        }
    }

    /// The tenant's active webhooks, in id order.
    pub fn subscribers(&self, tenant: &TenantId) -> Vec<Subscriber> {
        self.webhooks
            .iter()
            .filter(|((owner, _), stored)| owner == tenant && stored.active)
            .map(|((_, id), stored)| Subscriber {
                id: id.clone(),
                events: stored.webhook.events.clone(),
            })
            .collect()
    }

    pub fn recipient_groups(&self, tenant: &TenantId) -> BTreeMap<String, Vec<Channel>> {
        self.recipients.get(tenant).cloned().unwrap_or_default()
    }

    pub fn webhook_is_active(&self, tenant: &TenantId, webhook_id: &str) -> bool {
        self.webhooks
            .get(&(tenant.clone(), webhook_id.to_owned()))
            .is_some_and(|stored| stored.active)
    }

    pub fn pending_delivery_attempts(&self, delivery_id: &str) -> Option<i64> {
        self.deliveries
            .get(delivery_id)
            .filter(|stored| stored.status == DeliveryStatus::Pending)
            .map(|stored| stored.attempts)
    }

    /// The alert log as the API shows it, numbered from 1 across tenants in the order logged.
    pub fn alert_views(&self) -> impl Iterator<Item = (TenantId, AlertView)> + '_ {
        self.alerts.iter().zip(1..).map(|((tenant, alert), seq)| {
            let view = AlertView {
                seq,
                id: alert.id.clone(),
                pool_id: alert.pool_id.0.clone(),
                kind: alert.kind.to_owned(),
                threshold_pct: alert.threshold_pct,
                severity: alert.severity.to_owned(),
                recipients: alert.recipients.clone(),
                used: alert.used,
                capacity: alert.capacity,
                waiting: alert.waiting,
                created_at: alert.at,
            };
            (tenant.clone(), view)
        })
    }

    /// The active webhooks, by tenant, then id.
    pub fn webhook_views(&self) -> Vec<(TenantId, WebhookView)> {
        self.webhooks
            .iter()
            .filter(|(_, stored)| stored.active)
            .map(|((tenant, id), stored)| {
                let view = WebhookView {
                    id: id.clone(),
                    url: stored.webhook.url.clone(),
                    events: stored.webhook.events.clone(),
                    active: true,
                    created_at: stored.webhook.at,
                };
                (tenant.clone(), view)
            })
            .collect()
    }

    /// Every delivery with where it stands, by id.
    pub fn delivery_views(&self) -> Vec<DeliveryView> {
        self.deliveries
            .values()
            .map(|stored| {
                let (channel, webhook_id, email) = match &stored.delivery.target {
                    Target::Webhook(id) => ("webhook", Some(id.clone()), None),
                    Target::Email(address) => ("email", None, Some(address.clone())),
                };
                DeliveryView {
                    id: stored.delivery.id.clone(),
                    tenant_id: stored.tenant.clone(),
                    channel: channel.to_owned(),
                    webhook_id,
                    email,
                    event_id: stored.delivery.event_id.clone(),
                    event_type: stored.delivery.kind.clone(),
                    payload: stored.delivery.payload.clone(),
                    status: stored.status.as_str().to_owned(),
                    attempts: stored.attempts,
                    next_attempt_at: stored.next_attempt_at,
                    last_status: stored.last_status,
                    last_error: stored.last_error.clone(),
                    created_at: stored.delivery.at,
                    updated_at: stored.updated_at,
                }
            })
            .collect()
    }

    /// The alerts a pool raised, oldest first.
    pub fn alerts_of<'a>(
        &'a self,
        tenant: &'a TenantId,
        pool: &'a PoolId,
    ) -> impl Iterator<Item = &'a NewAlert> {
        self.alerts
            .iter()
            .filter(move |(owner, alert)| owner == tenant && alert.pool_id == *pool)
            .map(|(_, alert)| alert)
    }
}
