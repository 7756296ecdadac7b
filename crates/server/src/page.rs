//! The one paginator: every list route reads `?limit=&cursor=` through [`PageQuery`] (or
//! [`request`] when its query has filters beside them) and answers a [`Page`] built with
//! [`Page::of`]. The page size's bounds are the core's (`allot_core::page`); a cursor is opaque
//! here and checked only for its shape.

use crate::error::ApiError;
use crate::extract::Query;
use allot_store::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest cursor a list gives out.
const MAX_CURSOR_CHARS: usize = 200;

/// `?limit=&cursor=` on every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn to_request(&self) -> Result<PageRequest, ApiError> {
        request(self.limit, self.cursor.clone())
    }
}

pub type PageParams = Query<PageQuery>;

/// `?limit=&cursor=` on a list whose cursor is a sequence number (a pool's ledger): the store
/// refuses any other cursor, so the document says so.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SequencePageQuery {
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

impl SequencePageQuery {
    pub fn to_request(&self) -> Result<PageRequest, ApiError> {
        request(self.limit, self.cursor.clone())
    }
}

/// The store's page request for a list's `limit` and `cursor`.
pub fn request(limit: Option<usize>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = allot_core::page::page_size(limit)
        .map_err(|error| ApiError::invalid("limit", error.to_string()))?;
    if let Some(cursor) = &cursor
        && (cursor.is_empty() || cursor.len() > MAX_CURSOR_CHARS)
    {
        return Err(ApiError::invalid(
            "cursor",
            "is not a cursor this list gave out",
        ));
    }
    Ok(PageRequest {
        limit,
        after: cursor,
    })
}

/// A page of a list. Pass `next_cursor` back as `?cursor=` for the next page; null means the end.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The body of a page the store read, each item rendered with `body`.
    pub fn of<'a, V>(found: &'a allot_store::Page<V>, body: impl FnMut(&'a V) -> T) -> Page<T> {
        Page {
            items: found.items.iter().map(body).collect(),
            next_cursor: found.next_cursor.clone(),
        }
    }

    /// A whole list in one page (lists a tenant keeps short: its webhooks, a subject's quotas).
    pub fn whole(items: Vec<T>) -> Page<T> {
        Page {
            items,
            next_cursor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_refused_only_for_its_shape() {
        assert!(request(None, Some(String::new())).is_err());
        assert!(request(None, Some("x".repeat(MAX_CURSOR_CHARS + 1))).is_err());
        let page = request(Some(7), Some("p_1".into())).expect("valid");
        assert_eq!((page.limit, page.after.as_deref()), (7, Some("p_1")));
    }
}
