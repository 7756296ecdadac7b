//! Placing a hold: what each line must match before the core decides on capacity.

use crate::command::Failure;
use allot_core::PoolId;

/// A line that names the unit it takes must take it from a pool counting that unit: credits are
/// not taken from a seats pool.
pub fn check_unit(pool_id: &PoolId, requested: Option<&str>, actual: &str) -> Result<(), Failure> {
    match requested {
        Some(requested) if requested != actual => Err(Failure::UnitMismatch {
            pool_id: pool_id.0.clone(),
            requested: requested.to_owned(),
            actual: actual.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// A refusal of one line's date names that line (`lines[2].date`), as the HTTP layer names the
/// dates it refuses itself; other refusals pass as they are.
pub fn name_line(index: usize, failure: Failure) -> Failure {
    match failure {
        Failure::Invalid { field, message } if field == "date" => Failure::Invalid {
            field: format!("lines[{index}].date"),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_are_not_taken_from_a_seats_pool() {
        let pool = PoolId("pool_1".into());
        assert!(check_unit(&pool, None, "seats").is_ok());
        assert!(check_unit(&pool, Some("seats"), "seats").is_ok());
        assert_eq!(
            check_unit(&pool, Some("credits"), "seats"),
            Err(Failure::UnitMismatch {
                pool_id: "pool_1".into(),
                requested: "credits".into(),
                actual: "seats".into()
            })
        );
    }

    #[test]
    fn a_refused_date_names_its_line() {
        let date = Failure::Invalid {
            field: "date".into(),
            message: "over".into(),
        };
        assert!(
            matches!(name_line(2, date), Failure::Invalid { field, .. } if field == "lines[2].date")
        );
        let other = Failure::Invalid {
            field: "quantity".into(),
            message: "x".into(),
        };
        assert!(
            matches!(name_line(2, other), Failure::Invalid { field, .. } if field == "quantity")
        );
    }
}
