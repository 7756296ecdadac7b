//! Pools: create, read, list, change, totals over children, availability, ledger.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::extract::{JsonBody, Query};
use crate::page::Page;
use crate::requests::{CreatePoolRequest, PatchPoolRequest};
use crate::state::{Actor, AppState};
use crate::views::{
    AvailabilityBody, LedgerEntryBody, PoolBody, TotalsBody, UsageBody, UtilizationBody,
    render_created, render_ok,
};
use allot_core::PoolId;
use allot_store::{PoolView, Role, TenantId};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// Create a pool (admin).
#[utoipa::path(post, path = "/v1/pools", tag = "pools", request_body = CreatePoolRequest,
    responses((status = 201, body = PoolBody), (status = 400), (status = 403)),
    security(("bearer" = [])))]
pub async fn create_pool(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CreatePoolRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let command = body.value.validate()?;
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

/// Read a pool with its counters and availability.
#[utoipa::path(get, path = "/v1/pools/{id}", tag = "pools",
    responses((status = 200, body = PoolBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_pool(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PoolBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, now) = (caller.tenant, state.clock.now());
    let pool = {
        let id = id.clone();
        state
            .read(move |store| store.get_pool(&tenant, &id, now))
            .await?
    };
    let pool = pool.ok_or_else(|| ApiError::not_found("pool", &id))?;
    Ok(Json(PoolBody::from(&pool)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolListQuery {
    /// Only the direct children of this pool.
    pub parent_id: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
}

/// List pools, optionally the children of one.
#[utoipa::path(get, path = "/v1/pools", tag = "pools", params(PoolListQuery),
    responses((status = 200, body = Page<PoolBody>)), security(("bearer" = [])))]
pub async fn list_pools(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PoolListQuery>,
) -> Result<Json<Page<PoolBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(query.limit, query.cursor)?;
    let (tenant, now) = (caller.tenant, state.clock.now());
    let found = state
        .read(move |store| store.list_pools(&tenant, query.parent_id.as_deref(), page, now))
        .await?;
    Ok(Json(Page::of(&found, PoolBody::from)))
}

/// Change a pool's name, price, limits, capacity (with a reason) or active flag (admin).
/// Capacity below what is already held plus committed is refused with 409.
#[utoipa::path(patch, path = "/v1/pools/{id}", tag = "pools", request_body = PatchPoolRequest,
    responses((status = 200, body = PoolBody), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn patch_pool(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    body: JsonBody<PatchPoolRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let command = body.value.validate(id)?;
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

/// A pool and its direct children.
async fn read_children(
    state: &AppState,
    tenant: TenantId,
    id: &str,
) -> Result<(PoolView, Vec<PoolView>), ApiError> {
    let now = state.clock.now();
    let read_id = id.to_owned();
    state
        .read(move |store| store.pool_children(&tenant, &read_id, now))
        .await?
        .ok_or_else(|| ApiError::not_found("pool", id))
}

/// Sums over a pool's direct children: an event's totals over its sections.
#[utoipa::path(get, path = "/v1/pools/{id}/totals", tag = "pools",
    responses((status = 200, body = TotalsBody), (status = 404)), security(("bearer" = [])))]
pub async fn pool_totals(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TotalsBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (pool, children) = read_children(&state, caller.tenant, &id).await?;
    let figures = children.iter().map(|c| allot_core::ChildFigures {
        capacity: c.capacity,
        held: c.held,
        committed: c.committed,
        available: c.available,
    });
    let totals = allot_core::Totals::over(pool.available, figures);
    Ok(Json(TotalsBody {
        pool_id: pool.id,
        children: totals.children,
        capacity: totals.capacity,
        held: totals.held,
        committed: totals.committed,
        available: totals.available,
        utilization_pct: totals.utilization_pct(),
    }))
}

/// Use against capacity and limit, with near/at/over flags; for a bundle, each campaign under it.
#[utoipa::path(get, path = "/v1/pools/{id}/utilization", tag = "pools",
    responses((status = 200, body = UtilizationBody), (status = 404)), security(("bearer" = [])))]
pub async fn utilization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UtilizationBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (pool, children) = read_children(&state, caller.tenant, &id).await?;
    Ok(Json(UtilizationBody {
        total: UsageBody::from(&pool),
        breakdown: children.iter().map(UsageBody::from).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Units wanted; at least 1, default 1.
    #[param(minimum = 1, maximum = 1000000000)]
    pub quantity: Option<i64>,
    /// For a session pool: the date, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub date: Option<String>,
}

/// Whether `quantity` units could be held now.
#[utoipa::path(get, path = "/v1/pools/{id}/availability", tag = "pools", params(AvailabilityQuery),
    responses((status = 200, body = AvailabilityBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<AvailabilityQuery>,
) -> Result<Json<AvailabilityBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let quantity = allot_core::Quantity::new(query.quantity.unwrap_or(1))
        .map_err(|error| ApiError::invalid("quantity", error.to_string()))?;
    let now = state.clock.now();
    let (pool, id) = match &query.date {
        Some(date) => {
            let date = super::sessions::parse_date(date)?;
            let instance = date.instance_id(&PoolId(id.clone())).0;
            // One blocking read for both: the session (is the date over where it runs?) and
            // the date's availability.
            let (tenant, read_instance) = (caller.tenant, instance.clone());
            let (session, pool) = state
                .read(move |store| {
                    let Some(session) = store.get_pool(&tenant, &id, now)? else {
                        return Ok((None, None));
                    };
                    let pool = store.availability(&tenant, &read_instance, now)?;
                    Ok((Some(session), pool))
                })
                .await?;
            if let Some(session) = session {
                super::sessions::refuse_over(date, &session, now)?;
            }
            (pool, instance)
        }
        None => {
            let (tenant, read_id) = (caller.tenant, id.clone());
            let pool = state
                .read(move |store| store.availability(&tenant, &read_id, now))
                .await?;
            (pool, id)
        }
    };
    let pool = pool.ok_or_else(|| ApiError::not_found("pool", &id))?;
    if pool.per_date {
        return Err(ApiError::invalid(
            "date",
            "this pool is a session that serves many dates: give ?date=YYYY-MM-DD",
        ));
    }
    Ok(Json(AvailabilityBody {
        can_hold: allot_core::limits::can_hold(pool.active, pool.available, quantity),
        pool_id: id,
        available: pool.available,
        quantity: quantity.get(),
    }))
}

/// Page through a pool's ledger: every change to its counters or capacity, oldest first.
#[utoipa::path(get, path = "/v1/pools/{id}/ledger", tag = "pools", params(crate::page::SequencePageQuery),
    responses((status = 200, body = Page<LedgerEntryBody>), (status = 404)),
    security(("bearer" = [])))]
pub async fn pool_ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): Query<crate::page::SequencePageQuery>,
) -> Result<Json<Page<LedgerEntryBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, page, read_id) = (caller.tenant, page.to_request()?, id.clone());
    let found = state
        .read(move |store| store.list_ledger(&tenant, &read_id, page))
        .await?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
    Ok(Json(Page::of(&found, LedgerEntryBody::from)))
}
