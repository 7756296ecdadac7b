//! Recomputing counters two independent ways, for `allot verify` and the property tests:
//! by replaying the ledger, and by summing the live holds. Both roll use up to ancestors the same
//! way the decisions do.

use crate::hold::HoldStatus;
use crate::pool::PoolId;
use std::collections::HashMap;

/// Held and committed units of one pool, including every pool below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub held: i64,
    pub committed: i64,
}

/// Rolls per-pool deltas up to every ancestor. `parents` maps each pool to its parent.
fn roll_up(
    own: HashMap<PoolId, Counters>,
    parents: &HashMap<PoolId, Option<PoolId>>,
) -> HashMap<PoolId, Counters> {
    let mut rolled: HashMap<PoolId, Counters> = parents
        .keys()
        .map(|id| (id.clone(), Counters::default()))
        .collect();
    for (id, counters) in own {
        let mut next = Some(id);
        let mut depth = 0;
        while let Some(id) = next {
            depth += 1;
            assert!(
                depth <= crate::MAX_POOL_DEPTH,
                "pool hierarchy too deep or cyclic at {id}"
            );
            let entry = rolled.entry(id.clone()).or_default();
            entry.held += counters.held;
            entry.committed += counters.committed;
            next = parents.get(&id).cloned().flatten();
        }
    }
    rolled
}

/// Counters from ledger entries: each entry is (pool the line was on, held delta, committed delta).
pub fn counters_from_ledger(
    entries: impl IntoIterator<Item = (PoolId, i64, i64)>,
    parents: &HashMap<PoolId, Option<PoolId>>,
) -> HashMap<PoolId, Counters> {
    let mut own: HashMap<PoolId, Counters> = HashMap::new();
    for (pool, held, committed) in entries {
        let entry = own.entry(pool).or_default();
        entry.held += held;
        entry.committed += committed;
    }
    roll_up(own, parents)
}

/// Counters from holds: each line is (pool, quantity, the hold's status as stored).
pub fn counters_from_holds(
    lines: impl IntoIterator<Item = (PoolId, i64, HoldStatus)>,
    parents: &HashMap<PoolId, Option<PoolId>>,
) -> HashMap<PoolId, Counters> {
    let mut own: HashMap<PoolId, Counters> = HashMap::new();
    for (pool, quantity, status) in lines {
        let entry = own.entry(pool).or_default();
        match status {
            HoldStatus::Held => entry.held += quantity,
            HoldStatus::Confirmed => entry.committed += quantity,
            HoldStatus::Released | HoldStatus::Expired => {}
        }
    }
    roll_up(own, parents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_and_holds_roll_up_to_ancestors() {
        let parents: HashMap<PoolId, Option<PoolId>> = [
            ("event".into(), None),
            ("a".into(), Some("event".into())),
            ("b".into(), Some("event".into())),
        ]
        .into_iter()
        .collect();
        let from_ledger = counters_from_ledger(
            [("a".into(), 2, 0), ("b".into(), 3, 0), ("a".into(), -2, 2)],
            &parents,
        );
        let from_holds = counters_from_holds(
            [
                ("a".into(), 2, HoldStatus::Confirmed),
                ("b".into(), 3, HoldStatus::Held),
            ],
            &parents,
        );
        assert_eq!(from_ledger, from_holds);
        assert_eq!(
            from_ledger[&PoolId::from("event")],
            Counters {
                held: 3,
                committed: 2
            }
        );
    }
}
