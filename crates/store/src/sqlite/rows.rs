//! Row ↔ record mapping shared by reads and the writer.

use crate::StoreError;
use crate::model::{HoldLineView, HoldView, PoolView, Price};
use allot_core::{
    Capacity, HoldLine, HoldStatus, LimitPct, Pool, PoolId, PoolLimits, Quantity, UnixMillis,
};
use rusqlite::Row;

/// Columns read for a pool, in the order [`PoolRow::from_row`] expects.
pub const POOL_COLUMNS: &str = "id, tenant_id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct, \
     held, committed, price_amount_minor, price_currency, metadata, active, created_at, updated_at";

/// A pool row: the core's view of it plus what only the API shows.
#[derive(Debug, Clone)]
pub struct PoolRow {
    pub core: Pool,
    pub name: String,
    pub unit: String,
    pub price: Option<Price>,
    /// Kept as the JSON text the client sent, re-parsed only to answer.
    pub metadata: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

impl PoolRow {
    pub fn from_row(row: &Row<'_>) -> Result<PoolRow, StoreError> {
        let capacity =
            Capacity::new(row.get(5)?).map_err(|_| corrupt("pool capacity out of range"))?;
        let hard =
            LimitPct::new(row.get(6)?).map_err(|_| corrupt("pool hard limit out of range"))?;
        let soft =
            LimitPct::new(row.get(7)?).map_err(|_| corrupt("pool soft limit out of range"))?;
        let amount: Option<i64> = row.get(10)?;
        let currency: Option<String> = row.get(11)?;
        let price = match (amount, currency) {
            (Some(amount_minor), Some(currency)) => Some(Price {
                amount_minor,
                currency,
            }),
            _ => None,
        };
        let mut core = Pool::new(
            PoolId(row.get(0)?),
            row.get::<_, Option<String>>(2)?.map(PoolId),
            PoolLimits {
                capacity,
                hard_limit_pct: hard,
                soft_limit_pct: soft,
            },
        );
        core.held = row.get(8)?;
        core.committed = row.get(9)?;
        core.active = row.get(13)?;
        Ok(PoolRow {
            core,
            name: row.get(3)?,
            unit: row.get(4)?,
            price,
            metadata: row.get(12)?,
            created_at: UnixMillis(row.get(14)?),
            updated_at: UnixMillis(row.get(15)?),
        })
    }

    /// The API view, given the pool's counters as they should be shown (`core` may have been
    /// corrected for holds that are due to expire) and its availability over its ancestors.
    pub fn view(&self, core: &Pool, available: i64) -> PoolView {
        PoolView {
            id: core.id.0.clone(),
            name: self.name.clone(),
            unit: self.unit.clone(),
            parent_id: core.parent_id.as_ref().map(|p| p.0.clone()),
            capacity: core.limits.capacity.get(),
            hard_limit_pct: core.limits.hard_limit_pct.get(),
            soft_limit_pct: core.limits.soft_limit_pct.get(),
            limit: core.limits.limit(),
            held: core.held,
            committed: core.committed,
            available,
            utilization_pct: core.utilization_pct(),
            over_soft_limit: core.over_soft_limit(),
            price: self.price.clone(),
            metadata: self
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok()),
            active: core.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Columns read for a hold, in the order [`HoldRow::from_row`] expects.
pub const HOLD_COLUMNS: &str = "id, status, holder, expires_at, lines, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct HoldRow {
    pub id: String,
    /// As stored: a held hold past its deadline stays `held` here until it is expired.
    pub status: HoldStatus,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    pub lines: Vec<HoldLineView>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl HoldRow {
    pub fn from_row(row: &Row<'_>) -> Result<HoldRow, StoreError> {
        let status: String = row.get(1)?;
        let lines: String = row.get(4)?;
        Ok(HoldRow {
            id: row.get(0)?,
            status: HoldStatus::parse(&status).ok_or_else(|| corrupt("unknown hold status"))?,
            holder: row.get(2)?,
            expires_at: UnixMillis(row.get(3)?),
            lines: serde_json::from_str(&lines)?,
            created_at: UnixMillis(row.get(5)?),
            updated_at: UnixMillis(row.get(6)?),
        })
    }

    pub fn lifecycle(&self) -> allot_core::Hold {
        allot_core::Hold {
            status: self.status,
            expires_at: self.expires_at,
        }
    }

    pub fn core_lines(&self) -> Result<Vec<HoldLine>, StoreError> {
        self.lines
            .iter()
            .map(|line| {
                Ok(HoldLine {
                    pool_id: PoolId(line.pool_id.clone()),
                    quantity: Quantity::new(line.quantity)
                        .map_err(|_| corrupt("hold line quantity out of range"))?,
                })
            })
            .collect()
    }

    /// The API view as of `now`.
    pub fn view(&self, now: UnixMillis) -> HoldView {
        HoldView {
            id: self.id.clone(),
            status: self.lifecycle().status_at(now),
            holder: self.holder.clone(),
            expires_at: self.expires_at,
            lines: self.lines.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
