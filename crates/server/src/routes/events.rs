//! The event outbox, readable as a feed: what happened, in order (waiting-list promotions,
//! offers, lapses, expiries). Webhook delivery reads the same outbox.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Query;
use crate::page::Page;
use crate::views::EventBody;
use allot_store::Role;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type, e.g. `waitlist.offered`.
    #[serde(rename = "type")]
    #[param(min_length = 1, max_length = 64)]
    pub kind: Option<String>,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page (an event's `seq`).
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// The tenant's events, oldest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = Page<EventBody>), (status = 400)), security(("bearer" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventQuery>,
) -> Result<Json<Page<EventBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(query.limit, query.cursor)?;
    if let Some(kind) = &query.kind
        && (kind.is_empty() || kind.len() > 64)
    {
        return Err(ApiError::invalid("type", "is not an event type"));
    }
    let tenant = caller.tenant;
    let found = state
        .read(move |store| store.list_events(&tenant, query.kind.as_deref(), page))
        .await?;
    Ok(Json(Page::of(&found, EventBody::from)))
}
