//! Holds: place (all lines fit or nothing changes), confirm, release, extend, read, list.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::extract::{IgnoredBody, JsonBody, Query};
use crate::page::Page;
use crate::requests::{CreateHoldRequest, ExtendHoldRequest};
use crate::state::{Actor, AppState};
use crate::views::{HoldBody, render_created, render_ok};
use allot_core::HoldStatus;
use allot_store::{Command, HoldFilter, Role};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// Hold capacity on one or more pools. Every line and every ancestor fits, or nothing changes
/// and the answer is 409 insufficient-capacity naming the pool that ran short.
#[utoipa::path(post, path = "/v1/holds", tag = "holds", request_body = CreateHoldRequest,
    responses((status = 201, body = HoldBody), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn create_hold(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CreateHoldRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let command = body.value.validate(state.clock.now())?;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            render_created,
        )
        .await?
        .into_response())
}

/// A lifecycle verb (operator): submits `command` and answers 200 with the hold.
async fn step(
    state: AppState,
    write: WriteContext,
    body: &[u8],
    command: Command,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(body),
            render_ok,
        )
        .await?
        .into_response())
}

/// held → confirmed: held units become committed. An expired hold answers 410.
#[utoipa::path(post, path = "/v1/holds/{id}/confirm", tag = "holds",
    responses((status = 200, body = HoldBody), (status = 404), (status = 409), (status = 410)),
    security(("bearer" = [])))]
pub async fn confirm_hold(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    IgnoredBody(body): IgnoredBody,
) -> Result<Response, ApiError> {
    step(state, write, &body, Command::ConfirmHold { hold_id: id }).await
}

/// held or confirmed → released: the capacity comes back. Releasing a confirmed hold cancels it.
#[utoipa::path(post, path = "/v1/holds/{id}/release", tag = "holds",
    responses((status = 200, body = HoldBody), (status = 404), (status = 409), (status = 410)),
    security(("bearer" = [])))]
pub async fn release_hold(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    IgnoredBody(body): IgnoredBody,
) -> Result<Response, ApiError> {
    step(state, write, &body, Command::ReleaseHold { hold_id: id }).await
}

/// Give a held hold a new deadline, `ttl_seconds` from now. An expired hold answers 410.
#[utoipa::path(post, path = "/v1/holds/{id}/extend", tag = "holds", request_body = ExtendHoldRequest,
    responses((status = 200, body = HoldBody), (status = 404), (status = 409), (status = 410)),
    security(("bearer" = [])))]
pub async fn extend_hold(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    body: JsonBody<ExtendHoldRequest>,
) -> Result<Response, ApiError> {
    let ttl = body.value.validate()?;
    step(
        state,
        write,
        &body.raw,
        Command::ExtendHold { hold_id: id, ttl },
    )
    .await
}

/// Read a hold. A held hold past its deadline reads as expired.
#[utoipa::path(get, path = "/v1/holds/{id}", tag = "holds",
    responses((status = 200, body = HoldBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HoldBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, now, read_id) = (caller.tenant, state.clock.now(), id.clone());
    let hold = state
        .read(move |store| store.get_hold(&tenant, &read_id, now))
        .await?;
    let hold = hold.ok_or_else(|| ApiError::not_found("hold", &id))?;
    Ok(Json(HoldBody::new(&hold, None)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HoldListQuery {
    pub holder: Option<String>,
    /// held, confirmed, released or expired.
    #[param(value_type = Option<crate::requests::names::HoldStatusName>)]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
}

/// List holds, oldest first, by holder and status.
#[utoipa::path(get, path = "/v1/holds", tag = "holds", params(HoldListQuery),
    responses((status = 200, body = Page<HoldBody>), (status = 400)), security(("bearer" = [])))]
pub async fn list_holds(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HoldListQuery>,
) -> Result<Json<Page<HoldBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(HoldStatus::parse(text).ok_or_else(|| {
            ApiError::invalid("status", "must be held, confirmed, released or expired")
        })?),
    };
    let page = crate::page::request(query.limit, query.cursor)?;
    let filter = HoldFilter {
        holder: query.holder,
        status,
    };
    let (tenant, now) = (caller.tenant, state.clock.now());
    let found = state
        .read(move |store| store.list_holds(&tenant, &filter, page, now))
        .await?;
    Ok(Json(Page::of(&found, |h| HoldBody::new(h, None))))
}
