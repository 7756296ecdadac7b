//! Waiting lists (dated tours, sold-out sections): join a full pool's list, see positions and estimated waits, cancel;
//! promotion happens in the writer when capacity frees. Priority classes are per tenant.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::extract::{IgnoredBody, JsonBody, Query};
use crate::page::Page;
use crate::requests::JoinWaitlistRequest;
use crate::state::{Actor, AppState};
use crate::views::{
    PriorityClassesBody, WaitlistEntryBody, WaitlistStatusBody, render_ok, render_with,
};
use allot_store::Role;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// Join a pool's waiting list (operator). Ordered by priority, highest first, then arrival. If
/// capacity is free and no one is ahead, the entry is served at once: the answer is then
/// `offered` (a hold to confirm) or `confirmed`, by the pool's mode.
#[utoipa::path(post, path = "/v1/pools/{id}/waitlist", tag = "waitlist", request_body = JoinWaitlistRequest,
    responses((status = 201, body = WaitlistEntryBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn join(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    body: JsonBody<JoinWaitlistRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let command = body.value.validate(id, state.clock.now())?;
    let fallback = state.fallback_wait_seconds;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            move |outcome: &allot_store::Outcome| {
                render_with(outcome, StatusCode::CREATED, fallback)
            },
        )
        .await?
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolWaitlistQuery {
    /// For a session pool: the date, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub date: Option<String>,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page (a position).
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// A pool's waiting list: how many wait and for how much, average waits, and the entries in the
/// order they will be served, each with its position and estimated wait.
#[utoipa::path(get, path = "/v1/pools/{id}/waitlist", tag = "waitlist", params(PoolWaitlistQuery),
    responses((status = 200, body = WaitlistStatusBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn pool_waitlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<PoolWaitlistQuery>,
) -> Result<Json<WaitlistStatusBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(query.limit, query.cursor)?;
    let pool_id = match &query.date {
        Some(date) => super::sessions::date_instance(&id, date)?,
        None => id,
    };
    let (tenant, now, read_id) = (caller.tenant, state.clock.now(), pool_id.clone());
    let status = state
        .read(move |store| store.pool_waitlist(&tenant, &read_id, page, now))
        .await?
        .ok_or_else(|| ApiError::not_found("pool", &pool_id))?;
    Ok(Json(WaitlistStatusBody::new(
        &status,
        state.fallback_wait_seconds,
        now,
    )))
}

/// One entry: its status, and while it waits its position and estimated wait.
#[utoipa::path(get, path = "/v1/waitlist/{id}", tag = "waitlist",
    responses((status = 200, body = WaitlistEntryBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WaitlistEntryBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, now, read_id) = (caller.tenant, state.clock.now(), id.clone());
    let entry = state
        .read(move |store| store.get_waitlist_entry(&tenant, &read_id, now))
        .await?
        .ok_or_else(|| ApiError::not_found("waitlist entry", &id))?;
    Ok(Json(WaitlistEntryBody::new(
        &entry,
        state.fallback_wait_seconds,
        now,
    )))
}

/// Cancel a waiting or offered entry (operator). An offer's hold is released and the capacity
/// goes to the next in line. Any other status answers 409.
#[utoipa::path(delete, path = "/v1/waitlist/{id}", tag = "waitlist",
    responses((status = 200, body = WaitlistEntryBody), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn cancel_entry(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    IgnoredBody(body): IgnoredBody,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let fallback = state.fallback_wait_seconds;
    let command = allot_store::Command::CancelWaitlistEntry { entry_id: id };
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body),
            move |outcome: &allot_store::Outcome| render_with(outcome, StatusCode::OK, fallback),
        )
        .await?
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HolderQuery {
    /// Whose entries.
    #[param(min_length = 1, max_length = 200)]
    pub holder: String,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// One holder's entries, newest first (a signed-in user's "my queue entries").
#[utoipa::path(get, path = "/v1/waitlist", tag = "waitlist", params(HolderQuery),
    responses((status = 200, body = Page<WaitlistEntryBody>), (status = 400)), security(("bearer" = [])))]
pub async fn holder_entries(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HolderQuery>,
) -> Result<Json<Page<WaitlistEntryBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(query.limit, query.cursor)?;
    if query.holder.is_empty() || query.holder.chars().count() > 200 {
        return Err(ApiError::invalid("holder", "must be 1 to 200 characters"));
    }
    let (tenant, now) = (caller.tenant, state.clock.now());
    let found = state
        .read(move |store| store.holder_waitlist(&tenant, &query.holder, page, now))
        .await?;
    Ok(Json(Page::of(&found, |entry| {
        WaitlistEntryBody::new(entry, state.fallback_wait_seconds, now)
    })))
}

/// The tenant's priority classes.
#[utoipa::path(get, path = "/v1/settings/priority-classes", tag = "waitlist",
    responses((status = 200, body = PriorityClassesBody)), security(("bearer" = [])))]
pub async fn get_priority_classes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PriorityClassesBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let tenant = caller.tenant;
    let classes = state
        .read(move |store| store.priority_classes(&tenant))
        .await?;
    Ok(Json(PriorityClassesBody::from(&classes)))
}

/// Replace the tenant's priority classes (admin). Entries already waiting keep their priority.
#[utoipa::path(put, path = "/v1/settings/priority-classes", tag = "waitlist", request_body = PriorityClassesBody,
    responses((status = 200, body = PriorityClassesBody), (status = 400)), security(("bearer" = [])))]
pub async fn put_priority_classes(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<PriorityClassesBody>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let command = body.value.validate()?;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            render_ok,
        )
        .await?
        .into_response())
}
