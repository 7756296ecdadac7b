//! Alerts and the outbox: a section filling up alerts once per threshold and stays quiet while
//! the threshold is throttled; each alert is an event, sent to the webhooks that subscribed to
//! it and by e-mail to the threshold's recipient groups; the delivery worker's attempts move
//! each delivery to delivered, to a later retry, or to given up; a deleted webhook's pending
//! deliveries are given up.

use crate::harness::*;
use allot_core::UnixMillis;
use allot_store::observe::Observed;
use allot_store::*;
use std::collections::BTreeMap;

fn email(address: &str) -> Channel {
    Channel {
        email: Some(address.into()),
        webhook_id: None,
    }
}

/// (threshold, severity) of each alert the store logged for the tenant, in order.
fn alerts(observed: &Observed, tenant: &TenantId) -> Vec<(Option<u32>, String)> {
    observed
        .alerts
        .iter()
        .filter(|(owner, _)| owner == tenant)
        .map(|(_, alert)| (alert.threshold_pct, alert.severity.clone()))
        .collect()
}

fn webhook(outcome: Outcome) -> WebhookView {
    match outcome {
        Ok(Success::Webhook(view)) => view,
        other => panic!("no webhook: {other:?}"),
    }
}

fn attempt(
    delivery: &DeliveryView,
    at: UnixMillis,
    outcome: Result<u16, Option<i64>>,
) -> DeliveryAttempt {
    let (status, delivered, retry_at) = match outcome {
        Ok(status) => (Some(status), true, None),
        Err(retry_in) => (Some(503), false, retry_in.map(|ms| UnixMillis(at.0 + ms))),
    };
    DeliveryAttempt {
        delivery_id: delivery.id.clone(),
        at,
        status,
        error: (!delivered).then(|| "503 Service Unavailable".to_owned()),
        duration_ms: 12,
        delivered,
        retry_at,
    }
}

/// A 10-seat section sells 8, then 9: the 80 % and 90 % thresholds alert once each, with the
/// figures they fired at. Back down and up again within their throttle, nothing more fires;
/// past the 80 % throttle (24 h) it fires again. The 80 % alert goes to the sales group, which
/// has an address; the 90 % alert's group has none, so it is logged and sent nowhere.
pub fn a_section_filling_up_alerts_once_per_threshold_and_is_quiet_within_its_throttle<
    S: StoreUnderTest,
>(
    run: &mut Run<S>,
) {
    let groups = BTreeMap::from([("sales".to_owned(), vec![email("sales@example.com")])]);
    run.send(&acme(), Command::SetRecipients(groups), T0)
        .expect("accepted");
    let floor = run.create(&acme(), pool("Floor", 10), T0);
    let first = run.hold(&acme(), order(&floor.id, 8), at(SECOND));
    let second = run.hold(&acme(), order(&floor.id, 1), at(2 * SECOND));
    let fired = vec![
        (Some(80), "info".to_owned()),
        (Some(90), "warning".to_owned()),
    ];
    assert_eq!(alerts(&run.observe(), &acme()), fired);
    let observed = run.observe();
    let (_, at_90) = &observed.alerts[1];
    assert_eq!(
        (at_90.used, at_90.capacity, at_90.pool_id.as_str()),
        (9, 10, floor.id.as_str())
    );

    // Both carts given back, and 9 seats held again an hour later: both thresholds are
    // within their throttle.
    run.send(&acme(), release(&second), at(3 * SECOND))
        .expect("accepted");
    run.send(&acme(), release(&first), at(4 * SECOND))
        .expect("accepted");
    assert_eq!(run.figures(&acme(), &floor.id), (0, 0, 10));
    run.hold(&acme(), order(&floor.id, 9), at(HOUR));
    assert_eq!(alerts(&run.observe(), &acme()), fired);

    // A day later that cart has long lapsed; 9 seats held again: the 80 % threshold (24 h)
    // fires again, and 90 % (12 h) too.
    run.hold(&acme(), order(&floor.id, 9), at(25 * HOUR + SECOND));
    let observed = run.observe();
    assert_eq!(
        alerts(&observed, &acme()),
        [fired.clone(), fired].concat(),
        "each threshold fires again once its throttle is over"
    );
    let events: Vec<&str> = observed
        .events
        .iter()
        .map(|(_, e)| e.kind.as_str())
        .collect();
    assert_eq!(events, ["alert.fired"; 4]);
    let mailed: Vec<(&str, Option<&str>)> = observed
        .deliveries
        .iter()
        .map(|d| (d.channel.as_str(), d.email.as_deref()))
        .collect();
    assert_eq!(mailed, [("email", Some("sales@example.com")); 2]);
    assert!(
        alerts(&observed, &globex()).is_empty(),
        "another tenant's log is its own"
    );
}

/// Two webhooks: one for alerts, one for waiting-list offers. An alert is delivered to the
/// first only. A failed attempt with a retry keeps the delivery pending until then; a success
/// delivers it; a failure with no retry gives it up. Deleting a webhook gives up what was still
/// pending for it and stops new deliveries to it.
pub fn alerts_reach_the_webhooks_that_subscribed_and_attempts_move_each_delivery<
    S: StoreUnderTest,
>(
    run: &mut Run<S>,
) {
    let create = |events: &[&str]| Command::CreateWebhook {
        url: "https://tickets.example/hooks".into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: "whsec_0123456789abcdef".into(),
    };
    let alerts_hook = webhook(run.send(&acme(), create(&["alert.fired"]), T0));
    let offers_hook = webhook(run.send(&acme(), create(&["waitlist.offered"]), T0));
    let floor = run.create(&acme(), pool("Floor", 10), T0);
    run.hold(&acme(), order(&floor.id, 8), at(SECOND));

    let observed = run.observe();
    assert_eq!(observed.webhooks.len(), 2);
    let [delivery] = observed.deliveries.as_slice() else {
        panic!("one delivery: {:?}", observed.deliveries);
    };
    assert_eq!(
        (
            delivery.webhook_id.as_deref(),
            delivery.event_type.as_str(),
            delivery.status.as_str()
        ),
        (Some(alerts_hook.id.as_str()), "alert.fired", "pending")
    );

    // Refused with a 503: tried again in a minute.
    let tried = at(2 * SECOND);
    let retry = Command::RecordDeliveryAttempts(vec![attempt(delivery, tried, Err(Some(60_000)))]);
    assert!(matches!(
        run.send(&acme(), retry, tried),
        Ok(Success::AttemptsRecorded)
    ));
    let again = run.observe().deliveries.remove(0);
    assert_eq!(
        (
            again.status.as_str(),
            again.attempts,
            again.next_attempt_at,
            again.last_status
        ),
        ("pending", 1, at(62 * SECOND), Some(503))
    );
    // Then delivered.
    let sent = at(62 * SECOND);
    let success = Command::RecordDeliveryAttempts(vec![attempt(&again, sent, Ok(204))]);
    run.send(&acme(), success, sent).expect("accepted");
    let delivered = run.observe().deliveries.remove(0);
    assert_eq!(
        (
            delivered.status.as_str(),
            delivered.attempts,
            delivered.last_status
        ),
        ("delivered", 2, Some(204))
    );

    // The 90 % alert's delivery fails with no retry left: given up.
    run.hold(&acme(), order(&floor.id, 1), at(63 * SECOND));
    let pending = run.observe().deliveries.remove(1);
    let give_up =
        Command::RecordDeliveryAttempts(vec![attempt(&pending, at(64 * SECOND), Err(None))]);
    run.send(&acme(), give_up, at(64 * SECOND))
        .expect("accepted");
    assert_eq!(run.observe().deliveries[1].status, "failed");

    // The 100 % alert is still pending when its webhook is deleted: it is given up with it.
    run.hold(&acme(), order(&floor.id, 1), at(65 * SECOND));
    assert_eq!(run.observe().deliveries[2].status, "pending");
    let delete = Command::DeleteWebhook {
        webhook_id: alerts_hook.id.clone(),
    };
    assert!(matches!(
        run.send(&acme(), delete, at(66 * SECOND)),
        Ok(Success::WebhookDeleted)
    ));
    let observed = run.observe();
    let statuses: Vec<&str> = observed
        .deliveries
        .iter()
        .map(|d| d.status.as_str())
        .collect();
    assert_eq!(statuses, ["delivered", "failed", "failed"]);
    assert_eq!(
        observed
            .webhooks
            .iter()
            .map(|(_, hook)| hook.id.as_str())
            .collect::<Vec<_>>(),
        [offers_hook.id.as_str()],
        "the deleted webhook is no longer shown"
    );
}
