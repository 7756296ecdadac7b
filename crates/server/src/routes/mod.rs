//! HTTP routes. Handlers translate HTTP to the store's commands and reads, and back; every rule
//! about capacity lives in the core and every query in the store.

pub mod alerts;
pub mod attendees;
pub mod events;
pub mod holds;
pub mod jobs;
pub mod keys;
pub mod ops;
pub mod plans;
pub mod pools;
pub mod sessions;
pub mod tickets;
pub mod waitlist;
pub mod webhooks;

use crate::error::{ApiError, ErrorKind};
use crate::extract::Query;
use allot_store::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;

/// `?limit=&cursor=` on every list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1 to 1000, default 100.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn to_request(&self) -> Result<PageRequest, ApiError> {
        let limit = allot_core::page::page_size(self.limit)
            .map_err(|error| ApiError::invalid("limit", error.to_string()))?;
        if let Some(cursor) = &self.cursor
            && (cursor.is_empty() || cursor.len() > 200)
        {
            return Err(ApiError::invalid(
                "cursor",
                "is not a cursor this list gave out",
            ));
        }
        Ok(PageRequest {
            limit,
            after: self.cursor.clone(),
        })
    }
}

pub type PageParams = Query<PageQuery>;

/// Answers unknown paths with a problem, not an empty 404.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route; see /openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        "this route does not take that method; see /openapi.json",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_core_and_the_store_agree_on_page_sizes() {
        // The store bounds its reads by its own copy; a page the core allows must fit in it.
        assert_eq!(
            allot_core::page::DEFAULT_PAGE_SIZE,
            allot_store::DEFAULT_PAGE_SIZE
        );
        assert_eq!(allot_core::page::MAX_PAGE_SIZE, allot_store::MAX_PAGE_SIZE);
    }
}
