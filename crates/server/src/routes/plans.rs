//! Plans and member quotas (memberships): a plan is the quota each member gets; a member's quota is
//! a pool made from it, with the ledger as its history.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind, corrupt};
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::extract::{IgnoredBody, JsonBody, parse_json};
use crate::jobs::params::{AdjustParams, KIND_ADJUST_QUOTAS};
use crate::page::{Page, PageParams};
use crate::requests::{
    CreatePlanRequest, PatchPlanRequest, PutMemberRequest, QuotaAdjustmentRequest,
};
use crate::state::{Actor, AppState};
use crate::views::{PlanBody, PoolBody, QuotaBody, render_created, render_ok};
use allot_store::jobs::{JobCommand, JobView};
use allot_store::{Command, Success};
use allot_store::{PlanView, Role, TenantId};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;

/// Create a plan (admin): a membership type, or a pricing model (seats, credits, learners).
#[utoipa::path(post, path = "/v1/plans", tag = "plans", request_body = CreatePlanRequest,
    responses((status = 201, body = PlanBody), (status = 400)), security(("bearer" = [])))]
pub async fn create_plan(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CreatePlanRequest>,
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

/// The tenant's plans.
#[utoipa::path(get, path = "/v1/plans", tag = "plans", params(crate::page::PageQuery),
    responses((status = 200, body = Page<PlanBody>)), security(("bearer" = [])))]
pub async fn list_plans(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::Query(page): PageParams,
) -> Result<Json<Page<PlanBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, page) = (caller.tenant, page.to_request()?);
    let found = state
        .read(move |store| store.list_plans(&tenant, page))
        .await?;
    Ok(Json(Page::of(&found, PlanBody::from)))
}

#[utoipa::path(get, path = "/v1/plans/{id}", tag = "plans",
    responses((status = 200, body = PlanBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PlanBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let plan = read_plan(&state, &caller.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan", &id))?;
    Ok(Json(PlanBody::from(&plan)))
}

async fn read_plan(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<PlanView>, ApiError> {
    let (tenant, id) = (tenant.clone(), id.to_owned());
    Ok(state
        .read(move |store| store.get_plan(&tenant, &id))
        .await?)
}

/// Change a plan (admin). A new capacity applies to members made from now on; with
/// `"apply_to_members": true` a bulk adjustment job also moves every existing member (202).
#[utoipa::path(patch, path = "/v1/plans/{id}", tag = "plans", request_body = PatchPlanRequest,
    responses((status = 200, body = PlanBody), (status = 202, body = PlanBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn patch_plan(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    body: JsonBody<PatchPlanRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let command = body.value.validate(id)?;
    let answer = state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            render_ok,
        )
        .await?;
    // A change that members follow queued its job in the same transaction.
    state.job_wake.notify_one();
    Ok(answer.into_response())
}

/// Queues a bulk adjustment job and wakes the job worker.
async fn start_adjustment(
    state: &AppState,
    caller: &crate::auth::TenantCaller,
    params: AdjustParams,
) -> Result<JobView, ApiError> {
    let total = match (&params.subjects, &params.plan_id) {
        (Some(subjects), _) => subjects.len() as i64,
        (None, Some(plan)) => {
            read_plan(state, &caller.tenant, plan)
                .await?
                .ok_or_else(|| ApiError::not_found("plan", plan))?
                .members
        }
        (None, None) => 0,
    };
    let command = Command::Job(JobCommand::Create {
        kind: KIND_ADJUST_QUOTAS.to_owned(),
        params: params.to_json(),
        total,
    });
    let envelope = allot_store::Envelope {
        tenant: caller.tenant.clone(),
        actor: Some(caller.key_id.clone()),
        command,
        idempotency: None,
    };
    let reply = state.writer.submit(envelope).await.map_err(|_| {
        ApiError::new(
            ErrorKind::Unavailable,
            "the store is busy or shutting down; retry shortly",
        )
    })?;
    state.job_wake.notify_one();
    match reply {
        allot_store::Reply::Outcome(Ok(Success::Job(job))) => Ok(job),
        allot_store::Reply::Outcome(Err(failure)) => Err(failure.into()),
        other => Err(corrupt(format!("creating a job answered {other:?}"))),
    }
}

/// Adjust many quotas at once (admin): every member of a plan, or a list of subjects, to a
/// capacity or by a delta, as a background job — 202 with the job; follow it at
/// `GET /v1/jobs/{id}`. A member that cannot take the change (its use is above the new capacity)
/// is listed among the job's failures with the reason; the rest go on.
#[utoipa::path(post, path = "/v1/quota-adjustments", tag = "plans", request_body = QuotaAdjustmentRequest,
    responses((status = 202, body = crate::views::JobBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn adjust_quotas(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<QuotaAdjustmentRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let params = body.value.validate()?;
    if let Some(plan) = &params.plan_id
        && read_plan(&state, &caller.tenant, plan).await?.is_none()
    {
        return Err(ApiError::not_found("plan", plan));
    }
    let job = start_adjustment(&state, &caller, params).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(crate::views::JobBody::new(&job, Vec::new())),
    )
        .into_response())
}

/// Give a member (or a campaign) its own quota from the plan (operator): 201 with its pool, or
/// 200 with the one it already has.
#[utoipa::path(put, path = "/v1/plans/{id}/members/{subject}", tag = "plans", request_body = Option<PutMemberRequest>,
    params(("id" = String, Path), ("subject" = String, Path, min_length = 1, max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")),
    responses((status = 201, body = PoolBody), (status = 200, body = PoolBody), (status = 404)),
    security(("bearer" = [])))]
pub async fn put_member(
    State(state): State<AppState>,
    write: WriteContext,
    Path((plan_id, subject)): Path<(String, String)>,
    IgnoredBody(raw): IgnoredBody,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    // No body, or `null`, is no request at all: the document's body is optional.
    let request: PutMemberRequest =
        if raw.iter().all(u8::is_ascii_whitespace) || raw.trim_ascii() == b"null" {
            PutMemberRequest::default()
        } else {
            parse_json(&raw)?
        };
    let command = request.validate(plan_id, subject)?;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&raw),
            render_created,
        )
        .await?
        .into_response())
}

/// A subject's quotas: use, limit and flags for each plan it is a member of.
#[utoipa::path(get, path = "/v1/quotas/{subject}", tag = "plans",
    responses((status = 200, body = Page<QuotaBody>), (status = 404)), security(("bearer" = [])))]
pub async fn subject_quotas(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
) -> Result<Json<Page<QuotaBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, now, read_subject) = (caller.tenant, state.clock.now(), subject.clone());
    let quotas = state
        .read(move |store| store.subject_quotas(&tenant, &read_subject, now))
        .await?;
    if quotas.is_empty() {
        return Err(ApiError::not_found("quota holder", &subject));
    }
    Ok(Json(Page::whole(
        quotas.iter().map(QuotaBody::from).collect(),
    )))
}
