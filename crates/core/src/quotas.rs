//! Bulk quota adjustments as a client asks for them: every quota set to one capacity, or moved
//! by one delta — exactly one of the two.

use crate::units::{Capacity, MAX_CAPACITY, UnitError};

/// What a bulk adjustment does to each quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Every quota gets this capacity.
    SetTo(Capacity),
    /// Every quota's capacity moves by this much (negative takes away).
    Add(i64),
}

/// Why an adjustment was refused; each names the request field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustmentError {
    #[error("{0}")]
    Capacity(UnitError),
    #[error("must be a non-zero change within the capacity range")]
    Delta,
    #[error("give capacity or delta, not both")]
    NotExactlyOne,
}

impl AdjustmentError {
    pub fn field(&self) -> &'static str {
        match self {
            AdjustmentError::Delta => "delta",
            AdjustmentError::Capacity(_) | AdjustmentError::NotExactlyOne => "capacity",
        }
    }
}

impl Adjustment {
    /// The adjustment a request's `capacity` and `delta` ask for. A delta of 0 would change
    /// nothing and still write every member's history, so it is refused; one larger than any
    /// capacity can only be a mistake.
    pub fn from_request(
        capacity: Option<i64>,
        delta: Option<i64>,
    ) -> Result<Adjustment, AdjustmentError> {
        match (capacity, delta) {
            (Some(capacity), None) => Capacity::new(capacity)
                .map(Adjustment::SetTo)
                .map_err(AdjustmentError::Capacity),
            (None, Some(delta)) => {
                if delta == 0 || delta.unsigned_abs() > MAX_CAPACITY.unsigned_abs() {
                    Err(AdjustmentError::Delta)
                } else {
                    Ok(Adjustment::Add(delta))
                }
            }
            _ => Err(AdjustmentError::NotExactlyOne),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capacity_or_a_delta_is_taken() {
        assert_eq!(
            Adjustment::from_request(Some(50), None),
            Ok(Adjustment::SetTo(Capacity::new(50).expect("valid")))
        );
        assert_eq!(
            Adjustment::from_request(None, Some(-5)),
            Ok(Adjustment::Add(-5))
        );
    }

    #[test]
    fn both_or_neither_is_refused_on_the_capacity_field() {
        for (capacity, delta) in [(Some(5), Some(5)), (None, None)] {
            let refused = Adjustment::from_request(capacity, delta).expect_err("refused");
            assert_eq!(refused, AdjustmentError::NotExactlyOne);
            assert_eq!(refused.field(), "capacity");
        }
    }

    #[test]
    fn a_zero_or_out_of_range_delta_is_refused() {
        // A renewal that adds nothing would still write a history entry for every member.
        assert_eq!(
            Adjustment::from_request(None, Some(0)),
            Err(AdjustmentError::Delta)
        );
        assert_eq!(
            Adjustment::from_request(None, Some(MAX_CAPACITY + 1)),
            Err(AdjustmentError::Delta)
        );
        assert_eq!(
            Adjustment::from_request(None, Some(i64::MIN)),
            Err(AdjustmentError::Delta)
        );
        assert!(Adjustment::from_request(None, Some(-MAX_CAPACITY)).is_ok());
    }

    #[test]
    fn a_negative_capacity_is_refused_with_its_range() {
        let refused = Adjustment::from_request(Some(-1), None).expect_err("refused");
        assert_eq!(refused.field(), "capacity");
        assert!(refused.to_string().starts_with("must be between 0 and"));
    }
}
