//! Webhooks: endpoints that receive events, signed the Standard Webhooks way, with every
//! delivery and attempt on record.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::extract::{IgnoredBody, JsonBody};
use crate::page::{Page, PageParams};
use crate::requests::CreateWebhookRequest;
use crate::state::{Actor, AppState};
use crate::views::{DeliveryBody, WebhookBody, render_created, render_ok};
use allot_store::{Command, Role};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// Register a webhook (admin). The answer shows the signing secret once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookBody), (status = 400)), security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    if !state.webhook_allow_private {
        crate::egress::check_url(&body.value.url)
            .map_err(|reason| ApiError::invalid("url", reason))?;
    }
    let (command, secret) = body.value.validate()?;
    let answer = state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            render_created,
        )
        .await?;
    Ok(super::keys::secret_answer(answer, "secret", &secret))
}

/// The tenant's webhooks.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Page<WebhookBody>)), security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<WebhookBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let tenant = caller.tenant;
    let webhooks = state
        .read(move |store| store.list_webhooks(&tenant))
        .await?;
    Ok(Json(Page::whole(
        webhooks.iter().map(|w| WebhookBody::new(w, None)).collect(),
    )))
}

/// Delete a webhook (admin); its pending deliveries are given up.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    IgnoredBody(body): IgnoredBody,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            Command::DeleteWebhook { webhook_id: id },
            write.identity(&body),
            render_ok,
        )
        .await?
        .into_response())
}

/// Send a `webhook.test` event to the webhook now (admin): 202 with the delivery to watch.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks",
    responses((status = 202), (status = 404)), security(("bearer" = [])))]
pub async fn test_webhook(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    IgnoredBody(body): IgnoredBody,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let answer = state
        .submit(
            Actor::Tenant(&caller),
            Command::TestWebhook { webhook_id: id },
            write.identity(&body),
            |outcome: &allot_store::Outcome| crate::views::render(outcome, StatusCode::ACCEPTED),
        )
        .await?;
    state.delivery_wakeup.notify_one();
    Ok(answer.into_response())
}

/// A webhook's deliveries, newest first, each with its attempts and their outcomes.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", params(crate::page::PageQuery),
    responses((status = 200, body = Page<DeliveryBody>), (status = 404)), security(("bearer" = [])))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    crate::extract::Query(page): PageParams,
) -> Result<Json<Page<DeliveryBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, page, read_id) = (caller.tenant, page.to_request()?, id.clone());
    let found = state
        .read(move |store| store.list_deliveries(&tenant, &read_id, page))
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", &id))?;
    Ok(Json(Page::of(&found, DeliveryBody::from)))
}
