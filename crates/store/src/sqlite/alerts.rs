//! Alerts, decided once per batch over the pools the batch changed: the utilisation
//! thresholds (crossed upward, throttled per threshold) and the queue alerts (a waiting
//! list longer than 10, capacity 0 with people waiting). The core decides; this reads the figures,
//! logs what fired through the outbox, and keeps when each last fired.

use super::batch::{Baseline, Working};
use super::outbox::NewAlert;
use super::rows::PoolRecord;
use crate::StoreError;
use crate::model::ThresholdRecord;
use allot_core::thresholds::{
    QueueAlert, Threshold, Usage, default_thresholds, firing, queue_alerts,
};
use allot_core::{Pool, PoolId, UnixMillis};
use rusqlite::Transaction;
use std::collections::BTreeMap;
use std::sync::LazyLock;

static DEFAULT_THRESHOLDS: LazyLock<Vec<Threshold>> = LazyLock::new(default_thresholds);

/// A waiting list longer than this raises a queue alert.
pub const QUEUE_ALERT_LENGTH: i64 = 10;

/// Queue alerts repeat at most hourly per pool.
const QUEUE_ALERT_THROTTLE_MS: i64 = 3_600_000;

/// The recipient group queue alerts go to.
const QUEUE_ALERT_RECIPIENTS: &str = "operations";

/// A pool's thresholds: its own, or the default table.
pub(super) fn thresholds_of(stored: Option<&str>) -> Result<Vec<Threshold>, StoreError> {
    match stored {
        None => Ok(DEFAULT_THRESHOLDS.clone()),
        Some(text) => {
            let records: Vec<ThresholdRecord> = serde_json::from_str(text)?;
            records
                .iter()
                .map(|record| {
                    record
                        .to_core()
                        .ok_or_else(|| StoreError::Corrupt("unknown threshold severity".into()))
                })
                .collect()
        }
    }
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

impl Candidate {
    fn of(
        pool: &Pool,
        row: &PoolRecord,
        before: Baseline,
    ) -> Result<Option<Candidate>, StoreError> {
        let after = Baseline {
            used: pool.used(),
            capacity: pool.limits.capacity.get(),
            waiting: row.waiting,
        };
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
}

pub(super) fn raise_alerts(
    tx: &Transaction<'_>,
    work: &mut Working,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let Working {
        tenants, outbox, ..
    } = work;
    for (tenant, pools) in tenants.iter_mut() {
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
            let Candidate {
                before,
                after,
                thresholds,
                queue,
            } = candidate;
            let thresholds: &[Threshold] = thresholds.as_deref().unwrap_or(&DEFAULT_THRESHOLDS);
            let usage = |figures: Baseline| Usage {
                used: figures.used,
                capacity: figures.capacity,
            };
            let row = pools.rows.get_mut(&id).expect("a dirty pool has its row");
            let mut marks: BTreeMap<String, i64> = match &row.alert_marks {
                Some(text) => serde_json::from_str(text)?,
                None => BTreeMap::new(),
            };
            let last_fired: Vec<Option<UnixMillis>> = thresholds
                .iter()
                .map(|t| {
                    marks
                        .get(&format!("pct:{}", t.pct))
                        .copied()
                        .map(UnixMillis)
                })
                .collect();
            for index in firing(thresholds, usage(before), usage(after), &last_fired, now) {
                let threshold = &thresholds[index];
                let alert = NewAlert {
                    pool_id: &id.0,
                    kind: "threshold",
                    threshold_pct: Some(threshold.pct),
                    severity: threshold.severity.as_str(),
                    recipients: &threshold.recipients,
                    used: after.used,
                    capacity: after.capacity,
                    waiting: after.waiting,
                };
                outbox.record_alert(tx, tenant, alert, now)?;
                marks.insert(format!("pct:{}", threshold.pct), now.0);
            }
            for kind in queue {
                let key = kind.as_str();
                if marks
                    .get(key)
                    .is_some_and(|at| now.0 - at < QUEUE_ALERT_THROTTLE_MS)
                {
                    continue;
                }
                let severity = match kind {
                    allot_core::thresholds::QueueAlert::Long => "warning",
                    allot_core::thresholds::QueueAlert::Shortage => "error",
                };
                let alert = NewAlert {
                    pool_id: &id.0,
                    kind: key,
                    threshold_pct: None,
                    severity,
                    recipients: &[QUEUE_ALERT_RECIPIENTS.to_owned()],
                    used: after.used,
                    capacity: after.capacity,
                    waiting: after.waiting,
                };
                outbox.record_alert(tx, tenant, alert, now)?;
                marks.insert(key.to_owned(), now.0);
            }
            row.alert_marks = Some(serde_json::to_string(&marks)?);
        }
    }
    Ok(())
}
