//! What anyone can see of a store's decisions — every pool with its figures, every hold, the
//! whole ledger — gathered in one value, so that two stores given the same commands can be
//! shown to agree, and a simulation can check its invariants against what was persisted.

use crate::model::{HoldView, LedgerEntry, PoolView, TenantId};

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// By tenant, then pool id.
    pub pools: Vec<(TenantId, PoolView)>,
    /// By tenant, then hold id; each with its status as of the moment observed.
    pub holds: Vec<(TenantId, HoldView)>,
    /// In the order appended.
    pub ledger: Vec<(TenantId, LedgerEntry)>,
}
