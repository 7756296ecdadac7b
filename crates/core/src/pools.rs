//! A working set of pools — the ones a batch of commands touches, with all their ancestors —
//! and the decisions over it. After every change the invariant is asserted:
//! for every pool touched, and every ancestor, held + committed ≤ limit (unless the pool was
//! already over before the change, which only a capacity cut can cause — and the core refuses those).

use crate::MAX_POOL_DEPTH;
use crate::hold::LineEffect;
use crate::limits::PoolLimits;
use crate::pool::{AdjustRefusal, Pool, PoolId};
use crate::units::Quantity;
// Pool ids are short strings looked up many times per hold: a fast hash, not SipHash.
use foldhash::HashMap;

/// One line of a hold: so many units of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldLine {
    pub pool_id: PoolId,
    pub quantity: Quantity,
}

/// Why a hold was refused. Running out is a value, not an error of the program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("pool {0} does not exist")]
    UnknownPool(PoolId),
    #[error("pool {0} is not active")]
    PoolInactive(PoolId),
    #[error("pool {pool_id} has {available} available, {requested} requested")]
    InsufficientCapacity {
        pool_id: PoolId,
        requested: i64,
        available: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// Use is above a pool's soft limit (a campaign quota's overage band).
    OverSoftLimit,
}

impl Warning {
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::OverSoftLimit => "over_soft_limit",
        }
    }
}

/// A hold that fitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    pub warnings: Vec<Warning>,
}

/// Pools keyed by id. Every pool's ancestors must be present too: callers load chains whole.
#[derive(Debug, Clone, Default)]
pub struct PoolSet {
    pools: HashMap<PoolId, Pool>,
}

impl PoolSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, pool: Pool) {
        self.pools.insert(pool.id.clone(), pool);
    }

    pub fn get(&self, id: &PoolId) -> Option<&Pool> {
        self.pools.get(id)
    }

    pub fn contains(&self, id: &PoolId) -> bool {
        self.pools.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.pools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Pool> {
        self.pools.values()
    }

    /// The pool and its ancestors, nearest first. `None` when the pool, or any ancestor, is not
    /// in the set.
    pub fn chain(&self, id: &PoolId) -> Option<Vec<&Pool>> {
        let mut chain = Vec::with_capacity(4);
        let mut next = Some(id);
        while let Some(id) = next {
            let pool = self.pools.get(id)?;
            assert!(
                chain.len() < MAX_POOL_DEPTH,
                "pool {id} is deeper than {MAX_POOL_DEPTH} levels"
            );
            chain.push(pool);
            next = pool.parent_id.as_ref();
        }
        Some(chain)
    }

    /// What a new hold of `quantity` could get from `id`: the least headroom over the pool and its
    /// ancestors, or 0 when any of them is inactive.
    pub fn available(&self, id: &PoolId) -> Option<i64> {
        let chain = self.chain(id)?;
        if chain.iter().any(|p| !p.active) {
            return Some(0);
        }
        chain.iter().map(|p| p.headroom()).min()
    }

    /// Places a hold: every line and every ancestor of every line fits, or nothing changes.
    /// `confirm` commits the units at once instead of holding them.
    pub fn place(&mut self, lines: &[HoldLine], confirm: bool) -> Result<Placement, Refusal> {
        // Demand per pool over the whole hold: two lines in sections of one event both count
        // against the event.
        let mut demand: Vec<(PoolId, i64)> = Vec::with_capacity(lines.len() * 2);
        for line in lines {
            let chain = self
                .chain(&line.pool_id)
                .ok_or_else(|| Refusal::UnknownPool(line.pool_id.clone()))?;
            for pool in chain {
                if !pool.active {
                    return Err(Refusal::PoolInactive(pool.id.clone()));
                }
                match demand.iter_mut().find(|(id, _)| *id == pool.id) {
                    Some((_, total)) => *total += line.quantity.get(),
                    None => demand.push((pool.id.clone(), line.quantity.get())),
                }
            }
        }
        for (id, requested) in &demand {
            let pool = &self.pools[id];
            if *requested > pool.headroom() {
                return Err(Refusal::InsufficientCapacity {
                    pool_id: id.clone(),
                    requested: *requested,
                    available: pool.headroom(),
                });
            }
        }
        let effect = if confirm {
            LineEffect::HOLD_AND_CONFIRM
        } else {
            LineEffect::HOLD
        };
        self.apply(lines, effect);
        let mut placement = Placement::default();
        if demand
            .iter()
            .any(|(id, _)| self.pools[id].over_soft_limit())
        {
            placement.warnings.push(Warning::OverSoftLimit);
        }
        Ok(placement)
    }

    /// Moves the counters of every line's pool and its ancestors by `effect` × quantity.
    /// Used for confirm, release and expire, which never need capacity: they only move units
    /// between held and committed, or give them back.
    pub fn apply(&mut self, lines: &[HoldLine], effect: LineEffect) {
        for line in lines {
            let mut next = Some(line.pool_id.clone());
            while let Some(id) = next {
                let pool = self.pools.get_mut(&id).unwrap_or_else(|| {
                    panic!("pool {id} is not loaded: callers load whole chains")
                });
                pool.held += effect.held * line.quantity.get();
                pool.committed += effect.committed * line.quantity.get();
                assert!(
                    pool.held >= 0 && pool.committed >= 0,
                    "pool {id} counters went negative"
                );
                // Growth must stay within the limit; shrinking is always allowed.
                if effect.held + effect.committed > 0 {
                    assert!(
                        pool.used() <= pool.limits.limit(),
                        "pool {id} exceeded its limit"
                    );
                }
                next = pool.parent_id.clone();
            }
        }
    }

    /// Changes a pool's capacity and limits. Refused when capacity is lowered below what is already
    /// held plus committed (never below current use), or when the new limit would be.
    /// A pool in its overage band (used above capacity, within a hard limit over 100%) may still
    /// raise its capacity or loosen its limits.
    pub fn adjust(&mut self, id: &PoolId, limits: PoolLimits) -> Result<(), AdjustRefusal> {
        let pool = self
            .pools
            .get_mut(id)
            .ok_or_else(|| AdjustRefusal::UnknownPool(id.clone()))?;
        pool.check_adjust(limits)?;
        pool.limits = limits;
        Ok(())
    }

    pub fn set_active(&mut self, id: &PoolId, active: bool) -> bool {
        match self.pools.get_mut(id) {
            Some(pool) => {
                pool.active = active;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Capacity, LimitPct};

    fn limits(capacity: i64) -> PoolLimits {
        PoolLimits::new(Capacity::new(capacity).expect("valid capacity"))
    }

    fn line(pool: &str, quantity: i64) -> HoldLine {
        HoldLine {
            pool_id: pool.into(),
            quantity: Quantity::new(quantity).expect("valid quantity"),
        }
    }

    /// An event of 10 with two sections of 8 each: the sections together oversubscribe the event.
    fn event() -> PoolSet {
        let mut set = PoolSet::new();
        set.insert(Pool::new("event".into(), None, limits(10)));
        set.insert(Pool::new("a".into(), Some("event".into()), limits(8)));
        set.insert(Pool::new("b".into(), Some("event".into()), limits(8)));
        set
    }

    #[test]
    fn a_hold_counts_in_its_pool_and_every_ancestor() {
        let mut set = event();
        set.place(&[line("a", 3)], false).expect("fits");
        assert_eq!(set.get(&"a".into()).map(|p| p.held), Some(3));
        assert_eq!(set.get(&"event".into()).map(|p| p.held), Some(3));
        assert_eq!(set.available(&"b".into()), Some(7));
    }

    #[test]
    fn the_ancestor_that_runs_short_is_named_and_nothing_changes() {
        let mut set = event();
        set.place(&[line("a", 8)], true).expect("fits");
        let refusal = set
            .place(&[line("b", 3)], false)
            .expect_err("event has only 2 left");
        assert_eq!(
            refusal,
            Refusal::InsufficientCapacity {
                pool_id: "event".into(),
                requested: 3,
                available: 2
            }
        );
        assert_eq!(set.get(&"b".into()).map(|p| p.held), Some(0));
    }

    #[test]
    fn lines_of_one_hold_add_up_against_a_shared_ancestor() {
        let mut set = event();
        let refusal = set
            .place(&[line("a", 6), line("b", 6)], false)
            .expect_err("12 > 10");
        assert!(matches!(
            refusal,
            Refusal::InsufficientCapacity { requested: 12, .. }
        ));
        assert_eq!(set.get(&"event".into()).map(|p| p.used()), Some(0));
    }

    #[test]
    fn overage_band_warns_then_blocks() {
        let mut set = PoolSet::new();
        let mut campaign = limits(100);
        campaign.hard_limit_pct = LimitPct::new(110).expect("valid pct");
        set.insert(Pool::new("c".into(), None, campaign));
        assert_eq!(
            set.place(&[line("c", 100)], true).map(|p| p.warnings),
            Ok(vec![])
        );
        assert_eq!(
            set.place(&[line("c", 5)], true).map(|p| p.warnings),
            Ok(vec![Warning::OverSoftLimit])
        );
        assert!(
            set.place(&[line("c", 6)], true).is_err(),
            "111% is above the hard limit"
        );
    }

    #[test]
    fn capacity_cannot_go_below_use() {
        let mut set = event();
        set.place(&[line("a", 4)], false).expect("fits");
        assert_eq!(
            set.adjust(&"a".into(), limits(3)),
            Err(AdjustRefusal::BelowUse {
                capacity: 3,
                used: 4
            })
        );
        assert_eq!(set.adjust(&"a".into(), limits(4)), Ok(()));
    }

    #[test]
    fn a_pool_in_its_overage_band_may_grow_but_not_shrink() {
        let mut set = PoolSet::new();
        let mut campaign = limits(100);
        campaign.hard_limit_pct = LimitPct::new(110).expect("valid pct");
        set.insert(Pool::new("c".into(), None, campaign));
        set.place(&[line("c", 105)], true)
            .expect("fits the overage band");
        let mut grown = campaign;
        grown.capacity = Capacity::new(102).expect("valid capacity");
        assert_eq!(set.adjust(&"c".into(), grown), Ok(()));
        let mut shrunk = grown;
        shrunk.capacity = Capacity::new(101).expect("valid capacity");
        assert_eq!(
            set.adjust(&"c".into(), shrunk),
            Err(AdjustRefusal::BelowUse {
                capacity: 101,
                used: 105
            })
        );
    }

    #[test]
    fn an_inactive_ancestor_refuses_holds() {
        let mut set = event();
        set.set_active(&"event".into(), false);
        assert_eq!(
            set.place(&[line("a", 1)], false),
            Err(Refusal::PoolInactive("event".into()))
        );
        assert_eq!(set.available(&"a".into()), Some(0));
    }
}
