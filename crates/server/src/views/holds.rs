//! Holds: a hold with its lines, their locked prices and any warning.

use super::pools::PriceBody;
use crate::timestamps::rfc3339;
use allot_store::HoldView;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldLineBody {
    pub pool_id: String,
    pub quantity: i64,
    /// The pool's price when the hold was made; later price changes do not touch it.
    pub unit_price: Option<PriceBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldBody {
    pub id: String,
    /// held, confirmed, released or expired.
    #[schema(example = "held")]
    pub status: String,
    pub holder: Option<String>,
    pub expires_at: String,
    pub lines: Vec<HoldLineBody>,
    pub created_at: String,
    pub updated_at: String,
    /// On a change: `over_soft_limit` when a pool is now above its soft limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

impl HoldBody {
    pub fn new(hold: &HoldView, warnings: Option<Vec<String>>) -> Self {
        HoldBody {
            id: hold.id.clone(),
            status: hold.status.as_str().to_owned(),
            holder: hold.holder.clone(),
            expires_at: rfc3339(hold.expires_at),
            lines: hold
                .lines
                .iter()
                .map(|line| HoldLineBody {
                    pool_id: line.pool_id.clone(),
                    quantity: line.quantity,
                    unit_price: line.unit_price.as_ref().map(PriceBody::from),
                })
                .collect(),
            created_at: rfc3339(hold.created_at),
            updated_at: rfc3339(hold.updated_at),
            warnings,
        }
    }
}
