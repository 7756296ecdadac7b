//! Bulk quota adjustments: one chunk of a job's quotas, each adjusted through the core like any
//! capacity change — a new capacity below what a member already uses is that member's failure,
//! never the chunk's — and the job advanced in the same batch, or nothing at all.

use crate::Error;
use crate::apply::jobs;
use crate::change::Change;
use crate::command::{Outcome, QuotaChunk, Success};
use crate::jobs::{JobCounters, JobItem};
use crate::model::{LedgerKind, TenantId};
use crate::port::Port;
use crate::rules::quotas as quota_rules;
use crate::working::{NewLedgerEntry, TenantPools};
use allot_core::{PoolId, PoolLimits, UnixMillis};

pub fn adjust_chunk<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    chunk: QuotaChunk,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let job = match jobs::claim(port, tenant, &chunk.progress)? {
        Ok(job) => job,
        Err(failure) => return Ok(Err(failure)),
    };
    let mut counters = JobCounters::default();
    let mut items = Vec::new();
    for (offset, target) in chunk.targets.iter().enumerate() {
        counters.done += 1;
        let seq = chunk.first_seq + offset as i64;
        let mut fail = |reason: String| {
            items.push(JobItem {
                seq,
                item: target.label.clone(),
                outcome: "failed".to_owned(),
                reason,
            });
        };
        let Some(pool_id) = &target.pool_id else {
            counters.failed += 1;
            fail("no quota to adjust".to_owned());
            continue;
        };
        let pool_id = PoolId(pool_id.clone());
        if !pools.load_chain(port, tenant, &pool_id)? {
            counters.failed += 1;
            fail("the quota's pool no longer exists".to_owned());
            continue;
        }
        let current = pools.set.get(&pool_id).expect("loaded above").limits;
        let capacity = match quota_rules::new_capacity(chunk.change, current.capacity) {
            Ok(capacity) => capacity,
            Err(reason) => {
                counters.failed += 1;
                fail(reason);
                continue;
            }
        };
        let limits = PoolLimits {
            capacity,
            ..current
        };
        if limits == current {
            counters.skipped += 1;
            continue;
        }
        if let Err(refusal) = pools.set.adjust(&pool_id, limits) {
            counters.failed += 1;
            fail(refusal.to_string());
            continue;
        }
        let entry = NewLedgerEntry {
            tenant,
            pool_id: &pool_id,
            hold_id: None,
            kind: LedgerKind::Adjust,
            held_delta: 0,
            committed_delta: 0,
            capacity_after: capacity.get(),
            actor,
            reason: Some(&chunk.reason),
            at: now,
        };
        port.persist(Change::Ledger(entry.into()))?;
        pools.dirty.insert(pool_id.clone());
        pools.freed.insert(pool_id.clone());
        pools.lower_baseline(&pool_id);
        counters.created += 1;
    }
    let job = jobs::advance(port, tenant, &job, &chunk.progress, counters, items, now)?;
    Ok(Ok(Success::Job(job)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;
    use crate::command::{Adjustment, Failure, QuotaTarget};
    use crate::jobs::{JobFailure, JobProgress, JobStatus};
    use allot_core::Capacity;

    const NOW: UnixMillis = UnixMillis(1_000);

    fn tenant() -> TenantId {
        TenantId("ten_1".into())
    }

    fn quota(port: &mut RecordingPort, id: &str, capacity: i64, committed: i64) {
        port.add_pool(id, &format!("Gold: {id}"), "credits", capacity, committed);
    }

    fn target(label: &str, pool: Option<&str>) -> QuotaTarget {
        QuotaTarget {
            label: label.into(),
            pool_id: pool.map(str::to_owned),
        }
    }

    #[test]
    fn each_member_is_adjusted_or_fails_alone_and_the_job_moves_with_the_chunk() {
        let mut port = RecordingPort::default();
        quota(&mut port, "pool_ana", 10, 2);
        quota(&mut port, "pool_bo", 15, 0);
        quota(&mut port, "pool_cy", 10, 8);
        let job = jobs::create(
            &mut port,
            &tenant(),
            "quotas.adjust".into(),
            serde_json::Value::Null,
            5,
            NOW,
        )
        .expect("decided");
        port.take_changes();
        let chunk = || QuotaChunk {
            progress: JobProgress {
                job_id: job.id.clone(),
                expected_cursor: None,
                next_cursor: Some("5".into()),
                last: false,
            },
            first_seq: 0,
            targets: vec![
                target("ana", Some("pool_ana")),
                // Already at the new capacity: nothing to do.
                target("bo", Some("pool_bo")),
                target("cy", Some("pool_cy")),
                target("dee", None),
                target("eve", Some("pool_gone")),
            ],
            change: Adjustment::SetTo(Capacity::new(15).expect("valid")),
            reason: "plan changed".into(),
        };
        let mut pools = TenantPools::default();
        let outcome =
            adjust_chunk(&mut port, &mut pools, &tenant(), None, chunk(), NOW).expect("decided");
        let Ok(Success::Job(moved)) = outcome else {
            panic!("no job: {outcome:?}");
        };
        assert_eq!(moved.status, JobStatus::Running);
        assert_eq!(moved.cursor.as_deref(), Some("5"));
        // ana and cy raised to 15; bo already there; dee has no quota, eve's pool is gone.
        assert_eq!(
            (
                moved.counters.done,
                moved.counters.created,
                moved.counters.skipped,
                moved.counters.failed
            ),
            (5, 2, 1, 2)
        );
        let ledger: Vec<_> = port
            .changes
            .iter()
            .filter_map(|change| match change {
                Change::Ledger(entry) => Some((entry.pool_id.0.as_str(), entry.capacity_after)),
                _ => None,
            })
            .collect();
        assert_eq!(ledger, [("pool_ana", 15), ("pool_cy", 15)]);
        assert!(port.changes.iter().any(|change| matches!(
            change,
            Change::NewJobItems { items, .. }
                if items.iter().map(|item| (item.seq, item.item.as_str())).eq([(3, "dee"), (4, "eve")])
        )));
        assert_eq!(
            pools
                .set
                .get(&PoolId("pool_ana".into()))
                .expect("loaded")
                .limits
                .capacity
                .get(),
            15
        );
        assert!(pools.dirty.contains(&PoolId("pool_ana".into())));
        port.take_changes();
        // Sent again: the job's cursor moved on, and nothing is adjusted twice.
        let resent =
            adjust_chunk(&mut port, &mut pools, &tenant(), None, chunk(), NOW).expect("decided");
        assert_eq!(
            resent.expect_err("stale"),
            Failure::from(JobFailure::Stale { job_id: job.id })
        );
        assert!(port.changes.is_empty());
    }

    #[test]
    fn a_capacity_below_what_a_member_uses_fails_that_member() {
        let mut port = RecordingPort::default();
        quota(&mut port, "pool_cy", 10, 8);
        let job = jobs::create(
            &mut port,
            &tenant(),
            "quotas.adjust".into(),
            serde_json::Value::Null,
            1,
            NOW,
        )
        .expect("decided");
        let chunk = QuotaChunk {
            progress: JobProgress {
                job_id: job.id.clone(),
                expected_cursor: None,
                next_cursor: None,
                last: true,
            },
            first_seq: 0,
            targets: vec![target("cy", Some("pool_cy"))],
            change: Adjustment::Add(-5),
            reason: "downgrade".into(),
        };
        let mut pools = TenantPools::default();
        let outcome =
            adjust_chunk(&mut port, &mut pools, &tenant(), None, chunk, NOW).expect("decided");
        let Ok(Success::Job(done)) = outcome else {
            panic!("no job: {outcome:?}");
        };
        assert_eq!(
            (done.status, done.counters.failed, done.total),
            (JobStatus::Done, 1, 1)
        );
        assert_eq!(
            pools
                .set
                .get(&PoolId("pool_cy".into()))
                .expect("loaded")
                .limits
                .capacity
                .get(),
            10,
            "unchanged"
        );
        assert!(
            !port
                .changes
                .iter()
                .any(|change| matches!(change, Change::Ledger(_)))
        );
    }
}
