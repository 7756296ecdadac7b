//! Alerts, decided once at the end of a batch over the pools it changed: the utilisation
//! thresholds (crossed upward, each throttled by its own period) and the queue alerts (a waiting
//! list longer than [`QUEUE_ALERT_LENGTH`], capacity 0 with people waiting, at most hourly).
//! The core decides what fires; this compares each pool with its figures before the batch,
//! logs what fired through the outbox, and keeps on the pool when each last fired.

use crate::Error;
use crate::apply::outbox;
use crate::change::NewAlert;
use crate::model::{TenantId, ThresholdRecord};
use crate::port::Port;
use crate::records::PoolRecord;
use crate::working::{Baseline, TenantPools, Tenants};
use allot_core::thresholds::{
    QUEUE_ALERT_LENGTH, QueueAlert, Threshold, Usage, default_thresholds, firing, queue_alerts,
};
use allot_core::{Pool, PoolId, UnixMillis};
use std::collections::BTreeMap;
use std::sync::LazyLock;

static DEFAULT_THRESHOLDS: LazyLock<Vec<Threshold>> = LazyLock::new(default_thresholds);

/// Queue alerts repeat at most hourly per pool.
const QUEUE_ALERT_THROTTLE_MS: i64 = 3_600_000;

/// The recipient group queue alerts go to.
const QUEUE_ALERT_RECIPIENTS: &str = "operations";

/// Raises the alerts of every pool the batch changed, tenant by tenant, each tenant's in pool
/// id order so that two stores raise them alike.
pub fn raise<P: Port>(port: &mut P, tenants: &mut Tenants, now: UnixMillis) -> Result<(), Error> {
    let mut ordered: Vec<&TenantId> = tenants.keys().collect();
    ordered.sort();
    let ordered: Vec<TenantId> = ordered.into_iter().cloned().collect();
    for tenant in ordered {
        let pools = tenants.get_mut(&tenant).expect("listed above");
        raise_for_tenant(port, &tenant, pools, now)?;
    }
    Ok(())
}

fn raise_for_tenant<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    pools: &mut TenantPools,
    now: UnixMillis,
) -> Result<(), Error> {
    // Most changed pools raise nothing: find the few that may, then record theirs in id order.
    let mut candidates: Vec<(PoolId, Candidate)> = Vec::new();
    for id in &pools.dirty {
        let Some(before) = pools.baseline.get(id).copied() else {
            continue;
        };
        let pool = pools.set.get(id).expect("a dirty pool is loaded");
        if let Some(candidate) = Candidate::of(pool, &pools.rows[id], before)? {
            candidates.push((id.clone(), candidate));
        }
    }
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, candidate) in candidates {
        let row = pools.rows.get_mut(&id).expect("a dirty pool has its row");
        let mut marks = AlertMarks::of(row)?;
        for firing in candidate.fire(&id, &marks, now) {
            marks.fired(&firing.mark, now);
            let alert = firing.alert(port.new_id("alert"));
            outbox::record_alert(port, tenant, alert)?;
        }
        row.alert_marks = Some(marks.to_text()?);
    }
    Ok(())
}

/// A pool's thresholds as stored (JSON), or the default table when it has none of its own.
pub fn thresholds_of(stored: Option<&str>) -> Result<Vec<Threshold>, Error> {
    match stored {
        None => Ok(DEFAULT_THRESHOLDS.clone()),
        Some(text) => {
            let records: Vec<ThresholdRecord> = serde_json::from_str(text)
                .map_err(|error| Error::Corrupt(format!("a pool's thresholds: {error}")))?;
            records
                .iter()
                .map(|record| {
                    record
                        .to_core()
                        .ok_or_else(|| Error::Corrupt("unknown threshold severity".into()))
                })
                .collect()
        }
    }
}

/// When each of a pool's thresholds (`pct:80`) and queue alerts (`queue_long`) last fired.
struct AlertMarks(BTreeMap<String, i64>);

impl AlertMarks {
    fn of(row: &PoolRecord) -> Result<Self, Error> {
        match &row.alert_marks {
            Some(text) => serde_json::from_str(text)
                .map(AlertMarks)
                .map_err(|error| Error::Corrupt(format!("a pool's alert marks: {error}"))),
            None => Ok(AlertMarks(BTreeMap::new())),
        }
    }

    fn last(&self, mark: &str) -> Option<UnixMillis> {
        self.0.get(mark).copied().map(UnixMillis)
    }

    fn fired(&mut self, mark: &str, now: UnixMillis) {
        self.0.insert(mark.to_owned(), now.0);
    }

    fn to_text(&self) -> Result<String, Error> {
        serde_json::to_string(&self.0).map_err(|error| Error::Other(error.to_string()))
    }
}

fn threshold_mark(threshold: &Threshold) -> String {
    format!("pct:{}", threshold.pct)
}

/// A changed pool that crossed a threshold upward or meets a queue alert's condition (whether
/// throttling lets it fire is decided after).
struct Candidate {
    before: Baseline,
    after: Baseline,
    /// The pool's own thresholds; `None` for the default table.
    thresholds: Option<Vec<Threshold>>,
    queue: Vec<QueueAlert>,
}

/// An alert the throttles let through, with the mark it sets; its id is made when it is logged.
struct Firing {
    mark: String,
    kind: &'static str,
    threshold_pct: Option<u32>,
    severity: &'static str,
    recipients: Vec<String>,
    figures: Baseline,
    at: UnixMillis,
    pool_id: PoolId,
}

impl Firing {
    fn alert(self, id: String) -> NewAlert {
        NewAlert {
            id,
            pool_id: self.pool_id,
            kind: self.kind,
            threshold_pct: self.threshold_pct,
            severity: self.severity,
            recipients: self.recipients,
            used: self.figures.used,
            capacity: self.figures.capacity,
            waiting: self.figures.waiting,
            at: self.at,
        }
    }
}

impl Candidate {
    fn of(pool: &Pool, row: &PoolRecord, before: Baseline) -> Result<Option<Candidate>, Error> {
        let after = Baseline::of(pool, row);
        // The common case under load: nothing that could raise an alert grew.
        if after.used <= before.used
            && after.capacity >= before.capacity
            && after.waiting <= before.waiting
        {
            return Ok(None);
        }
        let thresholds = match &row.thresholds {
            None => None,
            Some(text) => Some(thresholds_of(Some(text))?),
        };
        let crossed = thresholds
            .as_deref()
            .unwrap_or(&DEFAULT_THRESHOLDS)
            .iter()
            .any(|t| {
                !t.reached(before.used, before.capacity) && t.reached(after.used, after.capacity)
            });
        let queue = queue_alerts(
            QUEUE_ALERT_LENGTH,
            (before.waiting, before.capacity),
            (after.waiting, after.capacity),
        );
        if !crossed && queue.is_empty() {
            return Ok(None);
        }
        Ok(Some(Candidate {
            before,
            after,
            thresholds,
            queue,
        }))
    }

    /// The alerts that fire now: thresholds crossed and out of their throttle, then the queue
    /// alerts out of theirs.
    fn fire(&self, pool_id: &PoolId, marks: &AlertMarks, now: UnixMillis) -> Vec<Firing> {
        let thresholds: &[Threshold] = self.thresholds.as_deref().unwrap_or(&DEFAULT_THRESHOLDS);
        let usage = |figures: Baseline| Usage {
            used: figures.used,
            capacity: figures.capacity,
        };
        let last_fired: Vec<Option<UnixMillis>> = thresholds
            .iter()
            .map(|t| marks.last(&threshold_mark(t)))
            .collect();
        let alert = |mark: String, kind, threshold_pct, severity, recipients| Firing {
            mark,
            kind,
            threshold_pct,
            severity,
            recipients,
            figures: self.after,
            at: now,
            pool_id: pool_id.clone(),
        };
        let mut fired = Vec::new();
        for index in firing(
            thresholds,
            usage(self.before),
            usage(self.after),
            &last_fired,
            now,
        ) {
            let threshold = &thresholds[index];
            fired.push(alert(
                threshold_mark(threshold),
                "threshold",
                Some(threshold.pct),
                threshold.severity.as_str(),
                threshold.recipients.clone(),
            ));
        }
        for kind in &self.queue {
            let mark = kind.as_str();
            if marks
                .last(mark)
                .is_some_and(|at| now.0 - at.0 < QUEUE_ALERT_THROTTLE_MS)
            {
                continue;
            }
            let severity = match kind {
                QueueAlert::Long => "warning",
                QueueAlert::Shortage => "error",
            };
            fired.push(alert(
                mark.to_owned(),
                mark,
                None,
                severity,
                vec![QUEUE_ALERT_RECIPIENTS.to_owned()],
            ));
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;
    use crate::change::Change;
    use crate::model::Channel;
    use crate::rules::routing::Target;
    use crate::working::tenant_pools;

    /// Loads the section, sets what is committed on it as a batch would, and raises alerts.
    fn commit(port: &mut RecordingPort, tenants: &mut Tenants, committed: i64, now: i64) {
        let tenant = TenantId("t".into());
        let id = PoolId("floor".into());
        let pools = tenant_pools(tenants, &tenant);
        assert!(pools.load_chain(port, &tenant, &id).expect("loads"));
        let mut pool = pools.set.get(&id).expect("loaded").clone();
        pool.committed = committed;
        pools.set.insert(pool);
        pools.dirty.insert(id);
        raise(port, tenants, UnixMillis(now)).expect("raises");
    }

    fn alerts(changes: &[Change]) -> Vec<(u32, &'static str)> {
        changes
            .iter()
            .filter_map(|change| match change {
                Change::NewAlert { alert, .. } => Some((alert.threshold_pct?, alert.severity)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_section_crossing_80_and_90_percent_alerts_each_once_and_routes_to_recipients() {
        let mut port = RecordingPort::default();
        port.add_pool("floor", "Floor", "seat", 10, 0);
        port.recipients = BTreeMap::from([(
            "sales".to_owned(),
            vec![Channel {
                email: Some("sales@example.com".into()),
                webhook_id: None,
            }],
        )]);
        let mut tenants = Tenants::default();
        commit(&mut port, &mut tenants, 9, 1_000);
        let changes = port.take_changes();
        assert_eq!(alerts(&changes), vec![(80, "info"), (90, "warning")]);
        // Each alert is an event; the 80 % one reaches the sales address, the 90 % one has no
        // channel (its group is not set).
        let deliveries: Vec<&Target> = changes
            .iter()
            .filter_map(|change| match change {
                Change::NewDelivery { delivery, .. } => Some(&delivery.target),
                _ => None,
            })
            .collect();
        assert_eq!(deliveries, vec![&Target::Email("sales@example.com".into())]);
        let row = &tenants[&TenantId("t".into())].rows[&PoolId("floor".into())];
        let marks: BTreeMap<String, i64> =
            serde_json::from_str(row.alert_marks.as_deref().expect("marked")).expect("json");
        assert_eq!(marks.get("pct:80"), Some(&1_000));
        assert_eq!(marks.get("pct:90"), Some(&1_000));
    }

    #[test]
    fn a_threshold_crossed_again_within_its_throttle_stays_quiet_and_fires_after_it() {
        let mut port = RecordingPort::default();
        port.add_pool("floor", "Floor", "seat", 10, 0);
        let mut tenants = Tenants::default();
        commit(&mut port, &mut tenants, 8, 0);
        assert_eq!(alerts(&port.take_changes()), vec![(80, "info")]);
        // Down and up again an hour later: the 80 % alert is throttled for 24 h.
        for pools in tenants.values_mut() {
            pools.end_batch();
        }
        commit(&mut port, &mut tenants, 2, 1_000);
        for pools in tenants.values_mut() {
            pools.end_batch();
        }
        commit(&mut port, &mut tenants, 8, 3_600_000);
        assert_eq!(alerts(&port.take_changes()), vec![]);
        for pools in tenants.values_mut() {
            pools.end_batch();
        }
        commit(&mut port, &mut tenants, 2, 3_600_001);
        for pools in tenants.values_mut() {
            pools.end_batch();
        }
        commit(&mut port, &mut tenants, 8, 25 * 3_600_000);
        assert_eq!(alerts(&port.take_changes()), vec![(80, "info")]);
    }
}
