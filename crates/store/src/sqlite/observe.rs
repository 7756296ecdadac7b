//! Everything an SQLite store shows, read through its own reads: every pool and hold as the API
//! would show them, and the ledger page by page.

use super::SqliteStore;
use crate::model::{PageRequest, TenantId};
use crate::observe::Observed;
use crate::{Store, StoreError};
use allot_core::UnixMillis;
use rusqlite::Connection;

impl SqliteStore {
    /// Everything the store shows, as of `now`.
    pub fn observe(&self, now: UnixMillis) -> Result<Observed, StoreError> {
        let pool_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM pools ORDER BY tenant_id, id",
            )
        })?;
        let hold_ids = self.read(|conn| {
            ids(
                conn,
                "SELECT tenant_id, id FROM holds ORDER BY tenant_id, id",
            )
        })?;
        let mut observed = Observed {
            pools: Vec::with_capacity(pool_ids.len()),
            holds: Vec::with_capacity(hold_ids.len()),
            ledger: Vec::new(),
        };
        for (tenant, id) in &pool_ids {
            let pool = self
                .get_pool(tenant, id, now)?
                .ok_or_else(|| gone("pool", id))?;
            observed.pools.push((tenant.clone(), pool));
            let mut after = None;
            loop {
                let page = PageRequest {
                    limit: crate::model::MAX_PAGE_SIZE,
                    after,
                };
                let page = self
                    .list_ledger(tenant, id, page)?
                    .ok_or_else(|| gone("pool", id))?;
                observed
                    .ledger
                    .extend(page.items.into_iter().map(|entry| (tenant.clone(), entry)));
                match page.next_cursor {
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
            }
        }
        observed.ledger.sort_by_key(|(_, entry)| entry.seq);
        for (tenant, id) in &hold_ids {
            let hold = self
                .get_hold(tenant, id, now)?
                .ok_or_else(|| gone("hold", id))?;
            observed.holds.push((tenant.clone(), hold));
        }
        Ok(observed)
    }
}

fn ids(conn: &Connection, sql: &str) -> Result<Vec<(TenantId, String)>, StoreError> {
    let ids = conn
        .prepare(sql)?
        .query_map([], |row| Ok((TenantId(row.get(0)?), row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

fn gone(kind: &str, id: &str) -> StoreError {
    StoreError::Corrupt(format!("{kind} {id} was listed and then not found"))
}
