//! Totals over a pool's direct children: an event's totals over its sections.

/// One child's figures, as shown on the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildFigures {
    pub capacity: i64,
    pub held: i64,
    pub committed: i64,
    pub available: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub children: usize,
    pub capacity: i64,
    pub held: i64,
    pub committed: i64,
    /// What the children could still take together. Their own headroom adds up, but the parent
    /// caps it: sections may oversubscribe an event, and the event's limit still holds.
    pub available: i64,
}

impl Totals {
    pub fn over(parent_available: i64, children: impl IntoIterator<Item = ChildFigures>) -> Totals {
        let mut totals = Totals::default();
        for child in children {
            totals.children += 1;
            totals.capacity += child.capacity;
            totals.held += child.held;
            totals.committed += child.committed;
            totals.available += child.available;
        }
        totals.available = totals.available.min(parent_available).max(0);
        totals
    }

    /// (held + committed) as a percentage of the children's capacity, two decimals.
    pub fn utilization_pct(&self) -> f64 {
        // Children without capacity read as empty, whatever they hold: the figure is about
        // how much of the sections' room is taken, and there is none.
        if self.capacity == 0 {
            0.0
        } else {
            crate::limits::utilization_pct(self.held + self.committed, self.capacity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_caps_what_oversubscribed_sections_could_take() {
        let section = |held| ChildFigures {
            capacity: 8,
            held,
            committed: 0,
            available: 8 - held,
        };
        let totals = Totals::over(4, [section(3), section(3)]);
        assert_eq!(
            (
                totals.children,
                totals.capacity,
                totals.held,
                totals.available
            ),
            (2, 16, 6, 4)
        );
        assert_eq!(totals.utilization_pct(), 37.5);
    }

    #[test]
    fn no_children_is_all_zero() {
        assert_eq!(Totals::over(10, []), Totals::default());
        assert_eq!(Totals::default().utilization_pct(), 0.0);
    }
}
