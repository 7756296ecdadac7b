//! The alert log and the recipient groups alerts go to.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::WriteContext;
use crate::extract::{JsonBody, Query};
use crate::page::Page;
use crate::requests::validate_recipients;
use crate::state::{Actor, AppState};
use crate::views::{AlertBody, PoolConditionsBody, RecipientsBody, render_ok};
use allot_store::{AlertFilter, Role};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    pub pool_id: Option<String>,
    /// info, warning, error or critical.
    #[param(value_type = Option<crate::requests::names::SeverityName>)]
    pub severity: Option<String>,
    /// RFC 3339: only alerts at or after this time.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Alerts that fired, oldest first: thresholds crossed upward (campaign quotas) and
/// waiting-list alerts (dated tours), each with the utilisation and the recipients at the time.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Page<AlertBody>), (status = 400)), security(("bearer" = [])))]
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AlertQuery>,
) -> Result<Json<Page<AlertBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(query.limit, query.cursor)?;
    if let Some(severity) = &query.severity
        && allot_core::thresholds::Severity::parse(severity).is_none()
    {
        return Err(ApiError::invalid(
            "severity",
            "must be info, warning, error or critical",
        ));
    }
    let since = match &query.since {
        None => None,
        Some(text) => Some(crate::timestamps::parse_rfc3339(text).ok_or_else(|| {
            ApiError::invalid(
                "since",
                "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z",
            )
        })?),
    };
    let filter = AlertFilter {
        pool_id: query.pool_id,
        severity: query.severity,
        since,
    };
    let tenant = caller.tenant;
    let found = state
        .read(move |store| store.list_alerts(&tenant, &filter, page))
        .await?;
    Ok(Json(Page::of(&found, AlertBody::from)))
}

/// Pools looked at per request of the current conditions, at most: a tenant with more pools
/// follows `next_cursor` (a page may then hold fewer items than its limit).
const CONDITIONS_SCAN: usize = 10_000;

/// What holds now, pool by pool, in pool id order: more than 90 % used, a waiting list longer
/// than 10, no capacity with people waiting — computed as of the request, beside the log of
/// alerts that fired. Pools without a condition are left out.
#[utoipa::path(get, path = "/v1/alerts/current", tag = "alerts", params(crate::page::PageQuery),
    responses((status = 200, body = Page<PoolConditionsBody>), (status = 400)), security(("bearer" = [])))]
pub async fn current_conditions(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<crate::page::PageQuery>,
) -> Result<Json<Page<PoolConditionsBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let wanted = query.to_request()?;
    let tenant = caller.tenant;
    let now = state.clock.now();
    let (items, next_cursor) = state
        .read(move |store| {
            let mut items = Vec::new();
            let mut after = wanted.after.clone();
            let mut scanned = 0;
            loop {
                let page = allot_store::PageRequest {
                    limit: allot_store::MAX_PAGE_SIZE,
                    after: after.clone(),
                };
                let found = store.list_pools(&tenant, None, page, now)?;
                for pool in &found.items {
                    scanned += 1;
                    if let Some(item) = PoolConditionsBody::of(pool) {
                        items.push(item);
                    }
                    if items.len() == wanted.limit || scanned == CONDITIONS_SCAN {
                        let more = found.next_cursor.is_some()
                            || found.items.last().map(|last| &last.id) != Some(&pool.id);
                        return Ok((items, more.then(|| pool.id.clone())));
                    }
                }
                match found.next_cursor {
                    Some(cursor) => after = Some(cursor),
                    None => return Ok((items, None)),
                }
            }
        })
        .await?;
    Ok(Json(Page { items, next_cursor }))
}

/// The tenant's recipient groups.
#[utoipa::path(get, path = "/v1/settings/recipients", tag = "alerts",
    responses((status = 200, body = RecipientsBody)), security(("bearer" = [])))]
pub async fn get_recipients(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RecipientsBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let tenant = caller.tenant;
    let groups = state.read(move |store| store.recipients(&tenant)).await?;
    Ok(Json(RecipientsBody::from(&groups)))
}

/// Replace the tenant's recipient groups (admin): each name (sales, company_admin,
/// customer_success, operations, or your own) maps to e-mail addresses and webhooks.
#[utoipa::path(put, path = "/v1/settings/recipients", tag = "alerts", request_body = RecipientsBody,
    responses((status = 200, body = RecipientsBody), (status = 400)), security(("bearer" = [])))]
pub async fn put_recipients(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<RecipientsBody>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let command = validate_recipients(body.value.groups)?;
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
