//! A pool as every store's reads show it as of a moment: its figures with holds past their
//! deadline counted as expired — even before a batch has expired them — and what a new hold could
//! get from it through its ancestors. The rule is here once; a store only says how to read a
//! pool's row and the lines of the tenant's due holds ([`PoolRows`]).

use crate::Error;
use crate::model::{HoldLineView, PoolView};
use crate::records::PoolRecord;
use allot_core::{PoolId, PoolSet};
use std::collections::HashMap;

/// What [`PoolViews`] reads from a store, for one tenant as of one moment.
pub trait PoolRows {
    type Error: From<Error>;

    /// The pool as stored (a session's date not used yet as it would be made), `None` when the
    /// tenant has no such pool.
    fn pool_row(&mut self, id: &str) -> Result<Option<PoolRecord>, Self::Error>;

    /// The lines of the tenant's holds still held whose deadline has passed.
    fn due_lines(&mut self) -> Result<Vec<HoldLineView>, Self::Error>;
}

/// Pools shown as of one moment, each row read once however many views need it.
pub struct PoolViews<S: PoolRows> {
    rows: S,
    read: HashMap<String, Option<PoolRecord>>,
    /// Units of due holds per pool, rolled up to its ancestors.
    due: HashMap<String, i64>,
}

impl<S: PoolRows> PoolViews<S> {
    /// `count_due: false` when the store knows no hold can be due yet (its earliest deadline
    /// is later), which saves looking.
    pub fn new(rows: S, count_due: bool) -> Result<Self, S::Error> {
        let mut views = PoolViews {
            rows,
            read: HashMap::new(),
            due: HashMap::new(),
        };
        if count_due {
            for line in views.rows.due_lines()? {
                let mut next = Some(line.pool_id);
                let mut depth = 0;
                while let Some(id) = next {
                    depth += 1;
                    if depth > allot_core::MAX_POOL_DEPTH {
                        return Err(Error::Corrupt(format!("pool {id} is nested too deep")).into());
                    }
                    *views.due.entry(id.clone()).or_default() += line.quantity;
                    next = views
                        .row(&id)?
                        .and_then(|row| row.core.parent_id.map(|p| p.0));
                }
            }
        }
        Ok(views)
    }

    fn row(&mut self, id: &str) -> Result<Option<PoolRecord>, S::Error> {
        if let Some(row) = self.read.get(id) {
            return Ok(row.clone());
        }
        let row = self.rows.pool_row(id)?;
        self.read.insert(id.to_owned(), row.clone());
        Ok(row)
    }

    /// The pool's row with its held units less those of due holds.
    fn corrected(&mut self, id: &str) -> Result<Option<PoolRecord>, S::Error> {
        let Some(mut row) = self.row(id)? else {
            return Ok(None);
        };
        let due = self.due.get(id).copied().unwrap_or(0);
        row.core.held = (row.core.held - due).max(0);
        Ok(Some(row))
    }

    /// The pool as shown, `None` when the tenant has no such pool.
    pub fn view(&mut self, id: &str) -> Result<Option<PoolView>, S::Error> {
        let Some(pool) = self.corrected(id)? else {
            return Ok(None);
        };
        let mut chain = PoolSet::new();
        chain.insert(pool.core.clone());
        let mut next = pool.core.parent_id.clone();
        while let Some(PoolId(parent)) = next {
            let Some(ancestor) = self.corrected(&parent)? else {
                return Err(
                    Error::Corrupt(format!("pool {id} has a missing ancestor {parent}")).into(),
                );
            };
            next = ancestor.core.parent_id.clone();
            chain.insert(ancestor.core);
            if chain.iter().count() > allot_core::MAX_POOL_DEPTH {
                return Err(Error::Corrupt(format!("pool {id} is nested too deep")).into());
            }
        }
        let available = chain.available(&pool.core.id).unwrap_or(0);
        Ok(Some(pool.view(&pool.core, available)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;

    /// Pools kept by the engine's test port, and the due lines a test gives.
    struct Rows {
        port: RecordingPort,
        due: Vec<HoldLineView>,
    }

    impl PoolRows for Rows {
        type Error = Error;

        fn pool_row(&mut self, id: &str) -> Result<Option<PoolRecord>, Error> {
            Ok(self.port.pools.get(&PoolId(id.into())).cloned())
        }

        fn due_lines(&mut self) -> Result<Vec<HoldLineView>, Error> {
            Ok(std::mem::take(&mut self.due))
        }
    }

    fn line(pool: &str, quantity: i64) -> HoldLineView {
        HoldLineView {
            pool_id: pool.into(),
            quantity,
            unit_price: None,
        }
    }

    /// An event of 10 with a section of 8: 6 seats held in the section, 2 of them by a cart
    /// past its deadline. Both show 4 held, and the section can still give 4 (its own limit).
    #[test]
    fn a_due_cart_reads_as_expired_up_the_chain_and_availability_is_the_least_headroom() {
        let mut port = RecordingPort::default();
        port.add_pool("event", "Concert", "seats", 10, 0);
        port.add_pool("floor", "Floor", "seats", 8, 0);
        for (id, held) in [("event", 6), ("floor", 6)] {
            port.pools
                .get_mut(&PoolId(id.into()))
                .expect("added")
                .core
                .held = held;
        }
        port.pools
            .get_mut(&PoolId("floor".into()))
            .expect("added")
            .core
            .parent_id = Some(PoolId("event".into()));
        let rows = Rows {
            port,
            due: vec![line("floor", 2)],
        };
        let mut views = PoolViews::new(rows, true).expect("reads");
        let floor = views.view("floor").expect("reads").expect("exists");
        let event = views.view("event").expect("reads").expect("exists");
        assert_eq!((floor.held, floor.available), (4, 4));
        assert_eq!((event.held, event.available), (4, 6));
        assert_eq!(views.view("balcony").expect("reads"), None);
    }

    #[test]
    fn a_pool_whose_ancestor_is_missing_is_corrupt() {
        let mut port = RecordingPort::default();
        port.add_pool("floor", "Floor", "seats", 8, 0);
        port.pools
            .get_mut(&PoolId("floor".into()))
            .expect("added")
            .core
            .parent_id = Some(PoolId("gone".into()));
        let rows = Rows { port, due: vec![] };
        let mut views = PoolViews::new(rows, false).expect("reads");
        assert!(matches!(views.view("floor"), Err(Error::Corrupt(_))));
    }
}
