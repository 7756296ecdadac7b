//! Making and changing pools: where a pool may sit, which limits it gets, and how a session-wide
//! change reaches the session's dates.

use crate::command::{Failure, PoolPatch};
use crate::records::PoolRecord;
use allot_core::{Capacity, LimitPct, Pool, PoolId, PoolLimits};

fn invalid(field: &str, message: &str) -> Failure {
    Failure::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// Whether a new pool may go under `parent`, whose chain (itself and its ancestors) is
/// `parent_chain_len` pools long. A session's dates count against the session's own parent, so
/// nothing may sit under a session; and chains stay short because every decision walks them.
pub fn check_parent(parent: &PoolRecord, parent_chain_len: usize) -> Result<(), Failure> {
    if parent.per_date {
        return Err(invalid(
            "parent_id",
            "a session that serves many dates cannot have pools under it; its dates count against its own parent",
        ));
    }
    if parent_chain_len >= allot_core::MAX_POOL_DEPTH {
        return Err(invalid("parent_id", "pools nest at most 8 levels deep"));
    }
    Ok(())
}

/// A pool's limits as asked for: refused when the soft limit is above the hard one.
pub fn new_limits(
    capacity: Capacity,
    hard_limit_pct: LimitPct,
    soft_limit_pct: LimitPct,
) -> Result<PoolLimits, Failure> {
    let limits = PoolLimits {
        capacity,
        hard_limit_pct,
        soft_limit_pct,
    };
    if !limits.is_consistent() {
        return Err(invalid("soft_limit_pct", "must not exceed hard_limit_pct"));
    }
    Ok(limits)
}

/// The limits a patch leaves: each figure it names, the current one otherwise.
pub fn patched_limits(current: PoolLimits, patch: &PoolPatch) -> PoolLimits {
    PoolLimits {
        capacity: patch.capacity.unwrap_or(current.capacity),
        hard_limit_pct: patch.hard_limit_pct.unwrap_or(current.hard_limit_pct),
        soft_limit_pct: patch.soft_limit_pct.unwrap_or(current.soft_limit_pct),
    }
}

/// Of a session's dates from today on, those a session-wide change to `limits` must change:
/// every date is checked before any changes — all of them, or none, with the first date that
/// cannot take the change named. `dates` are (date label, live pool), in date order.
pub fn dates_to_change<'a>(
    limits: PoolLimits,
    dates: impl IntoIterator<Item = (&'a str, &'a Pool)>,
) -> Result<Vec<PoolId>, Failure> {
    let mut changed = Vec::new();
    for (label, pool) in dates {
        if pool.limits == limits {
            continue;
        }
        if let Err(refusal) = pool.check_adjust(limits) {
            return Err(Failure::Rejected(format!(
                "date {label}: {refusal}; no date was changed"
            )));
        }
        changed.push(pool.id.clone());
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WaitlistSettings;
    use allot_core::UnixMillis;

    fn limits(capacity: i64, hard: i64, soft: i64) -> PoolLimits {
        PoolLimits {
            capacity: Capacity::new(capacity).expect("valid"),
            hard_limit_pct: LimitPct::new(hard).expect("valid"),
            soft_limit_pct: LimitPct::new(soft).expect("valid"),
        }
    }

    fn record(id: &str, per_date: bool) -> PoolRecord {
        PoolRecord {
            core: Pool::new(PoolId(id.into()), None, limits(10, 100, 100)),
            name: id.into(),
            unit: "seats".into(),
            price: None,
            metadata: None,
            created_at: UnixMillis(0),
            updated_at: UnixMillis(0),
            per_date,
            session_id: None,
            date: None,
            time_zone: None,
            waitlist: WaitlistSettings::default(),
            waiting: 0,
            waiting_below: 0,
            thresholds: None,
            alert_marks: None,
        }
    }

    #[test]
    fn nothing_goes_under_a_dated_tour_and_chains_stop_at_eight() {
        assert!(check_parent(&record("event", false), 1).is_ok());
        let under_session = check_parent(&record("tour", true), 1).expect_err("refused");
        assert!(matches!(under_session, Failure::Invalid { field, .. } if field == "parent_id"));
        assert!(check_parent(&record("deep", false), 7).is_ok());
        assert!(check_parent(&record("deep", false), 8).is_err());
    }

    #[test]
    fn a_soft_limit_above_the_hard_one_is_refused() {
        // A campaign quota allows 10% overage with a warning: soft 100, hard 110 is the case.
        assert!(
            new_limits(
                limits(1, 110, 100).capacity,
                LimitPct::new(110).expect("ok"),
                LimitPct::new(100).expect("ok")
            )
            .is_ok()
        );
        let refused = new_limits(
            Capacity::new(5).expect("ok"),
            LimitPct::new(100).expect("ok"),
            LimitPct::new(110).expect("ok"),
        );
        assert!(
            matches!(refused, Err(Failure::Invalid { field, .. }) if field == "soft_limit_pct")
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let current = limits(10, 110, 100);
        let patch = PoolPatch {
            capacity: Some(Capacity::new(20).expect("ok")),
            ..PoolPatch::default()
        };
        assert_eq!(patched_limits(current, &patch), limits(20, 110, 100));
        assert_eq!(patched_limits(current, &PoolPatch::default()), current);
    }

    #[test]
    fn a_session_wide_cut_changes_every_date_or_none() {
        let mut busy = Pool::new(PoolId("tour-2026-12-09".into()), None, limits(10, 100, 100));
        busy.committed = 8;
        let quiet = Pool::new(PoolId("tour-2026-12-08".into()), None, limits(10, 100, 100));
        let same = Pool::new(PoolId("tour-2026-12-10".into()), None, limits(6, 100, 100));
        // Cutting to 6 fits the quiet date, skips the one already at 6, and not the busy one:
        // the busy one is named and no date changes.
        let refused = dates_to_change(
            limits(6, 100, 100),
            [
                ("2026-12-08", &quiet),
                ("2026-12-09", &busy),
                ("2026-12-10", &same),
            ],
        )
        .expect_err("refused");
        assert!(
            matches!(&refused, Failure::Rejected(text) if text.starts_with("date 2026-12-09:"))
        );
        let changed = dates_to_change(
            limits(9, 100, 100),
            [
                ("2026-12-08", &quiet),
                ("2026-12-09", &busy),
                ("2026-12-10", &same),
            ],
        )
        .expect("fits every date");
        assert_eq!(changed.len(), 3);
        let changed = dates_to_change(
            limits(6, 100, 100),
            [("2026-12-08", &quiet), ("2026-12-10", &same)],
        )
        .expect("fits");
        assert_eq!(changed, vec![quiet.id.clone()]);
    }
}
