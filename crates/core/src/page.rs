//! How many items one page of a list holds.

use crate::units::UnitError;

/// Items per page when the client names no `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Most items one page may hold: bounds the work and the answer of every list read.
pub const MAX_PAGE_SIZE: usize = 1_000;

/// A requested page size: 1 to [`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when left out.
pub fn page_size(limit: Option<usize>) -> Result<usize, UnitError> {
    page_size_within(limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
}

/// A requested page size for a list with its own bounds (a printed document of tickets).
pub fn page_size_within(
    limit: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, UnitError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(UnitError::OutOfRange {
            min: 1,
            max: max as i64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_1_to_1000_items_and_100_by_default() {
        assert_eq!(page_size(None), Ok(100));
        assert_eq!(page_size(Some(1)), Ok(1));
        assert_eq!(page_size(Some(1_000)), Ok(1_000));
        // An empty page would never move a cursor on.
        assert_eq!(
            page_size(Some(0)).map_err(|e| e.to_string()),
            Err("must be between 1 and 1000".to_owned())
        );
        assert!(page_size(Some(1_001)).is_err());
    }

    #[test]
    fn a_list_with_its_own_bounds_defaults_to_them() {
        assert_eq!(page_size_within(None, 1_000, 1_000), Ok(1_000));
        assert!(page_size_within(Some(1_001), 1_000, 1_000).is_err());
    }
}
