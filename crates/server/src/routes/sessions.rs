//! Dated sessions: one session pool serves many dates, each its own instance made on first use.
//! A date is addressed under its session; a date not used yet reads as the session's settings
//! with nothing held.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::page::{Page, PageParams};
use crate::requests::PatchPoolRequest;
use crate::state::{Actor, AppState};
use crate::views::{PoolBody, render_ok};
use allot_core::{PoolId, SessionDate, UnixMillis};
use allot_store::{PoolView, Role};
use axum::Json;
use axum::extract::State;
use axum::response::Response;

/// A date given in a path or a query, `YYYY-MM-DD`.
pub(crate) fn parse_date(date: &str) -> Result<SessionDate, ApiError> {
    SessionDate::parse(date).map_err(|error| ApiError::invalid("date", error.to_string()))
}

/// The id of `date`'s instance of `session`, for a date given in a path or a query.
pub(crate) fn date_instance(session: &str, date: &str) -> Result<String, ApiError> {
    Ok(parse_date(date)?.instance_id(&PoolId(session.to_owned())).0)
}

/// Refuses a date of `session` that is over in the session's time zone (400, as a hold on it
/// would be): for reads that answer whether a hold could be placed.
pub(crate) fn refuse_over(
    date: SessionDate,
    session: &PoolView,
    now: UnixMillis,
) -> Result<(), ApiError> {
    date.upcoming_in(now, &session.zone())
        .map_err(|error| ApiError::invalid("date", error.to_string()))?;
    Ok(())
}

/// Refuses a date over in every time zone for a change (the writer decides in the session's).
fn upcoming_instance(session: &str, date: &str, now: UnixMillis) -> Result<String, ApiError> {
    let date = SessionDate::parse_upcoming(date, now)
        .map_err(|error| ApiError::invalid("date", error.to_string()))?;
    Ok(date.instance_id(&PoolId(session.to_owned())).0)
}

/// One date of a session: its capacity, use and availability. A date not used yet shows the
/// session's capacity and limits with nothing held.
#[utoipa::path(get, path = "/v1/pools/{id}/dates/{date}", tag = "sessions",
    params(("id" = String, Path, description = "The session pool"), ("date" = String, Path, format = Date, description = "YYYY-MM-DD")),
    responses((status = 200, body = PoolBody), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn get_date(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, date)): Path<(String, String)>,
) -> Result<Json<PoolBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let instance = date_instance(&id, &date)?;
    let (tenant, now, read_id) = (caller.tenant, state.clock.now(), instance.clone());
    let pool = state
        .read(move |store| store.get_pool(&tenant, &read_id, now))
        .await?
        .ok_or_else(|| ApiError::not_found("session date", &instance))?;
    Ok(Json(PoolBody::from(&pool)))
}

/// Change one date's capacity or limits (admin), leaving every other date alone. Raising it
/// serves that date's waiting list. Past dates are refused.
#[utoipa::path(patch, path = "/v1/pools/{id}/dates/{date}", tag = "sessions", request_body = PatchPoolRequest,
    params(("id" = String, Path, description = "The session pool"), ("date" = String, Path, format = Date, description = "YYYY-MM-DD")),
    responses((status = 200, body = PoolBody), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn patch_date(
    State(state): State<AppState>,
    write: WriteContext,
    Path((id, date)): Path<(String, String)>,
    body: JsonBody<PatchPoolRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let instance = upcoming_instance(&id, &date, state.clock.now())?;
    let command = body.value.validate(instance)?;
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

/// The dates of a session already made (used at least once), in date order.
#[utoipa::path(get, path = "/v1/pools/{id}/dates", tag = "sessions", params(crate::page::PageQuery),
    responses((status = 200, body = Page<PoolBody>), (status = 404)), security(("bearer" = [])))]
pub async fn list_dates(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: PageParams,
) -> Result<Json<Page<PoolBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let crate::extract::Query(page) = query;
    let (tenant, now, page, read_id) = (
        caller.tenant,
        state.clock.now(),
        page.to_request()?,
        id.clone(),
    );
    let found = state
        .read(move |store| store.session_dates(&tenant, &read_id, page, now))
        .await?
        .ok_or_else(|| ApiError::not_found("session", &id))?;
    Ok(Json(Page::of(&found, PoolBody::from)))
}
