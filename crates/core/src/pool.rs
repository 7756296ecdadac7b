//! One pool: its settings, its counters, its limit.
//!
//! Counters are rolled up: a hold on a section also counts in the event above it, so checking a
//! pool and its ancestors is a walk up a short chain, never a scan of a subtree.

use crate::limits::PoolLimits;
use std::fmt;

/// An opaque pool id. The core only compares them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolId(pub String);

impl fmt::Display for PoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PoolId {
    fn from(value: &str) -> Self {
        PoolId(value.to_owned())
    }
}

/// Why a change of capacity or limits was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustRefusal {
    #[error("pool {0} does not exist")]
    UnknownPool(PoolId),
    #[error("capacity {capacity} is below the {used} units already held or committed")]
    BelowUse { capacity: i64, used: i64 },
    #[error("the soft limit may not exceed the hard limit")]
    SoftAboveHard,
}

/// A pool's settings and rolled-up counters, as the core decides over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: PoolId,
    pub parent_id: Option<PoolId>,
    pub limits: PoolLimits,
    /// An inactive pool refuses new holds; existing holds carry on.
    pub active: bool,
    /// Units held (not yet confirmed) in this pool and every pool below it.
    pub held: i64,
    /// Units confirmed in this pool and every pool below it.
    pub committed: i64,
}

impl Pool {
    pub fn new(id: PoolId, parent_id: Option<PoolId>, limits: PoolLimits) -> Self {
        Pool {
            id,
            parent_id,
            limits,
            active: true,
            held: 0,
            committed: 0,
        }
    }

    pub fn used(&self) -> i64 {
        self.held + self.committed
    }

    /// Units this pool alone could still take: limit − held − committed, never below 0.
    pub fn headroom(&self) -> i64 {
        (self.limits.limit() - self.used()).max(0)
    }

    /// Whether the pool may take `limits`: never a capacity lowered below what is already held
    /// plus committed (a tour's adjustment never goes below current use), nor a limit below it. A pool in its overage band (used above
    /// capacity, within a hard limit over 100%) may still raise its capacity or loosen its limits.
    pub fn check_adjust(&self, limits: PoolLimits) -> Result<(), AdjustRefusal> {
        if !limits.is_consistent() {
            return Err(AdjustRefusal::SoftAboveHard);
        }
        let used = self.used();
        let lowered = limits.capacity < self.limits.capacity;
        if (lowered && limits.capacity.get() < used) || limits.limit() < used {
            return Err(AdjustRefusal::BelowUse {
                capacity: limits.capacity.get(),
                used,
            });
        }
        Ok(())
    }

    pub fn over_soft_limit(&self) -> bool {
        self.used() > self.limits.soft_limit()
    }

    /// Use as a percentage of capacity (not of the limit), so overage shows above 100.
    pub fn utilization_pct(&self) -> f64 {
        crate::limits::utilization_pct(self.used(), self.limits.capacity.get())
    }
}
