//! The engine's ports over one SQLite transaction.

use super::super::reads::load_pool;
use super::Appends;
use crate::model::TenantId;
use allot_core::PoolId;
use allot_engine::Error;
use allot_engine::records::PoolRecord;
use allot_engine::working::{LoadPools, NewLedgerEntry, PoolPort};
use rusqlite::Transaction;

/// Pools read in the batch's transaction.
pub(in crate::sqlite) struct Tx<'a, 't>(pub &'a Transaction<'t>);

impl LoadPools for Tx<'_, '_> {
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error> {
        Ok(load_pool(self.0, tenant, &id.0)?)
    }
}

/// The transaction with the batch's pending appends: a pool made on first use is inserted at
/// once, its ledger entry joins the others.
pub(in crate::sqlite) struct UsePort<'a, 't> {
    pub tx: &'a Transaction<'t>,
    pub appends: &'a mut Appends,
}

impl LoadPools for UsePort<'_, '_> {
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error> {
        Ok(load_pool(self.tx, tenant, &id.0)?)
    }
}

impl PoolPort for UsePort<'_, '_> {
    fn insert_pool(&mut self, tenant: &TenantId, pool: &PoolRecord) -> Result<(), Error> {
        Ok(super::insert_pool_row(self.tx, tenant, pool)?)
    }

    fn append_ledger(&mut self, entry: NewLedgerEntry<'_>) {
        self.appends.ledger(entry);
    }
}
