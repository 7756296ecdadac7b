//! Bulk quota adjustments: each member's quota is set to a capacity or moved by a delta.

use crate::command::Adjustment;
use allot_core::Capacity;

/// A quota's new capacity, or why it cannot have one (a delta taking it below zero or past the
/// largest capacity) — a failure of that member only, reported in the job.
pub fn new_capacity(change: Adjustment, current: Capacity) -> Result<Capacity, String> {
    match change {
        Adjustment::SetTo(capacity) => Ok(capacity),
        Adjustment::Add(delta) => Capacity::new(current.get().saturating_add(delta))
            .map_err(|error| format!("capacity {} {delta:+}: {error}", current.get())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(n: i64) -> Capacity {
        Capacity::new(n).expect("valid")
    }

    #[test]
    fn set_replaces_and_add_moves_the_capacity() {
        assert_eq!(
            new_capacity(Adjustment::SetTo(cap(50)), cap(10)),
            Ok(cap(50))
        );
        assert_eq!(new_capacity(Adjustment::Add(5), cap(10)), Ok(cap(15)));
        assert_eq!(new_capacity(Adjustment::Add(-10), cap(10)), Ok(cap(0)));
    }

    #[test]
    fn a_delta_below_zero_fails_that_member_with_the_arithmetic_named() {
        let refused = new_capacity(Adjustment::Add(-11), cap(10)).expect_err("refused");
        assert!(refused.starts_with("capacity 10 -11: "), "{refused}");
        // Saturating, so an absurd delta is a refusal, not an overflow.
        assert!(new_capacity(Adjustment::Add(i64::MAX), cap(10)).is_err());
    }
}
