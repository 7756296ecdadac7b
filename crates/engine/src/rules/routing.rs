//! Where events and alerts go. A webhook gets the event types it subscribed to (`*` for all);
//! an alert also goes to each channel of its recipient groups — once per channel, never to a
//! deleted webhook, and not a second time to a webhook that already gets it as a subscriber.

use crate::model::{Channel, DeliveryAttempt, DeliveryStatus};
use allot_core::UnixMillis;
use std::collections::BTreeMap;

/// An active webhook and the event types it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: String,
    pub events: Vec<String>,
}

impl Subscriber {
    pub fn wants(&self, kind: &str) -> bool {
        self.events
            .iter()
            .any(|event| event == "*" || event == kind)
    }
}

/// One delivery's destination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Webhook(String),
    Email(String),
}

/// The webhooks subscribed to `kind`, in the order the store listed them.
pub fn subscribed<'a>(subscribers: &'a [Subscriber], kind: &str) -> Vec<&'a str> {
    subscribers
        .iter()
        .filter(|subscriber| subscriber.wants(kind))
        .map(|subscriber| subscriber.id.as_str())
        .collect()
}

/// The recipient group a finished job's notice goes to when the job names none.
pub const JOB_NOTICE_GROUP: &str = "operations";

/// The deliveries of an event of `kind` addressed to recipient groups (an alert's, a finished
/// job's), beyond the webhooks subscribed to it: each channel of the groups, once.
pub fn group_targets(
    kind: &str,
    recipients: &[String],
    groups: &BTreeMap<String, Vec<Channel>>,
    subscribers: &[Subscriber],
) -> Vec<Target> {
    let mut channels: Vec<&Channel> = recipients
        .iter()
        .filter_map(|group| groups.get(group))
        .flatten()
        .collect();
    channels.sort_by(|a, b| (&a.email, &a.webhook_id).cmp(&(&b.email, &b.webhook_id)));
    channels.dedup();
    let already = subscribed(subscribers, kind);
    channels
        .into_iter()
        .filter_map(|channel| match (&channel.email, &channel.webhook_id) {
            (Some(email), _) => Some(Target::Email(email.clone())),
            (None, Some(webhook))
                if subscribers.iter().any(|s| &s.id == webhook)
                    && !already.contains(&webhook.as_str()) =>
            {
                Some(Target::Webhook(webhook.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Where an attempt leaves its delivery, and when it is due next: delivered, tried again at
/// the worker's `retry_at`, or given up when there is none.
pub fn after_attempt(attempt: &DeliveryAttempt) -> (DeliveryStatus, UnixMillis) {
    let status = match (attempt.delivered, attempt.retry_at) {
        (true, _) => DeliveryStatus::Delivered,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    (status, attempt.retry_at.unwrap_or(attempt.at))
}

/// An event as its destinations receive it (the Standard Webhooks shape: seconds, not millis).
pub fn payload(event_id: &str, kind: &str, data: &serde_json::Value, at: UnixMillis) -> String {
    serde_json::json!({"id": event_id, "type": kind, "timestamp": at.0 / 1000, "data": data})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(address: &str) -> Channel {
        Channel {
            email: Some(address.into()),
            webhook_id: None,
        }
    }

    fn hook(id: &str) -> Channel {
        Channel {
            email: None,
            webhook_id: Some(id.into()),
        }
    }

    fn subscriber(id: &str, events: &[&str]) -> Subscriber {
        Subscriber {
            id: id.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_wildcard_takes_every_event_and_a_list_only_its_own() {
        let all = subscriber("wh_all", &["*"]);
        let some = subscriber("wh_some", &["hold.confirmed"]);
        assert!(all.wants("waitlist.offered"));
        assert!(some.wants("hold.confirmed"));
        assert!(!some.wants("waitlist.offered"));
        assert_eq!(subscribed(&[all, some], "waitlist.offered"), vec!["wh_all"]);
    }

    #[test]
    fn an_alert_reaches_each_channel_once_and_no_deleted_or_subscribed_webhook() {
        // Admins and customer success share an address and a webhook; a third webhook was
        // deleted (it is no longer among the active subscribers); a fourth subscribes to alerts.
        let groups = BTreeMap::from([
            (
                "company_admin".into(),
                vec![email("ops@example.com"), hook("wh_shared")],
            ),
            (
                "customer_success".into(),
                vec![
                    email("ops@example.com"),
                    hook("wh_shared"),
                    hook("wh_deleted"),
                    hook("wh_alerts"),
                ],
            ),
        ]);
        let subscribers = [
            subscriber("wh_shared", &["hold.confirmed"]),
            subscriber("wh_alerts", &["alert.fired"]),
        ];
        let recipients = [
            "company_admin".to_owned(),
            "customer_success".to_owned(),
            "nobody".to_owned(),
        ];
        let targets = group_targets("alert.fired", &recipients, &groups, &subscribers);
        assert_eq!(
            targets,
            vec![
                Target::Webhook("wh_shared".into()),
                Target::Email("ops@example.com".into())
            ]
        );
    }
}
