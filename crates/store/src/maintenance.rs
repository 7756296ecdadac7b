//! What an operator runs against a store beside the server: the audit behind `allot verify` and
//! the consistent copy behind `allot backup`. Both may run while a server writes.

use crate::StoreError;
use std::path::Path;

/// The operator's tools on one store, obtained with [`crate::open_for_maintenance`].
pub trait Maintenance {
    /// Recomputes every pool's counters from the ledger and from the live holds, checks the
    /// ledger runs and the waiting lists, and reports every disagreement with what is stored.
    fn verify(&self) -> Result<VerifyReport, StoreError>;

    /// Writes one consistent snapshot of the store to `dest`, a file that must not exist yet,
    /// and checks it before answering.
    fn backup_to(&self, dest: &Path) -> Result<BackupReport, StoreError>;
}

/// One disagreement between what is stored and what was recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub pool_id: String,
    /// Which fact disagrees: `held`, `committed` or `capacity`, and against which source.
    pub what: String,
    pub stored: i64,
    pub recomputed: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub pools: usize,
    pub ledger_entries: i64,
    pub live_holds: usize,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The copy's size in bytes.
    pub bytes: u64,
    /// Its schema version.
    pub schema_version: i64,
}
