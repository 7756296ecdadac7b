//! Tenants (super-admin) and API keys (tenant admins).

use crate::auth::{Caller, generate_secret, hash_secret};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::page::Page;
use crate::requests::{CreateApiKeyRequest, CreateTenantRequest};
use crate::state::{Actor, AppState};
use crate::timestamps::rfc3339;
use crate::views::{ApiKeyBody, ApiKeyCreatedBody, TenantCreatedBody, render_created, render_ok};
use allot_store::{Command, Role};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

fn new_key_id() -> String {
    format!("key_{}", uuid::Uuid::now_v7().simple())
}

/// Adds the secret as `field` to a freshly created body.
fn with_secret(body: &[u8], field: &str, secret: &str) -> Option<Value> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    value
        .as_object_mut()?
        .insert(field.into(), Value::String(secret.to_owned()));
    Some(value)
}

/// Create a tenant and its first admin key (super-admin only).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = TenantCreatedBody), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CreateTenantRequest>,
) -> Result<Response, ApiError> {
    write.caller.require_super_admin()?;
    let name = body.value.validate()?;
    let secret = generate_secret();
    let command = Command::CreateTenant {
        name,
        key_id: new_key_id(),
        key_hash: hash_secret(&secret),
    };
    let answer = state
        .submit(
            Actor::SuperAdmin,
            command,
            write.identity(&body.raw),
            render_created,
        )
        .await?;
    Ok(secret_answer(answer, "api_key", &secret))
}

/// The answer to a request that made a secret: the secret is shown in the live answer only. It
/// is not in the stored body, so a replay by Idempotency-Key omits it.
pub(crate) fn secret_answer(answer: crate::state::Answer, field: &str, secret: &str) -> Response {
    if !answer.replayed
        && answer.response.status == StatusCode::CREATED.as_u16()
        && let Some(value) = with_secret(&answer.response.body, field, secret)
    {
        return (StatusCode::CREATED, Json(value)).into_response();
    }
    answer.into_response()
}

/// Create an API key for the caller's tenant (admin).
#[utoipa::path(post, path = "/v1/api-keys", tag = "api keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyCreatedBody), (status = 400), (status = 403)),
    security(("bearer" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CreateApiKeyRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let role = body.value.validate()?;
    let secret = generate_secret();
    let command = Command::CreateApiKey {
        key_id: new_key_id(),
        key_hash: hash_secret(&secret),
        role,
    };
    let answer = state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            render_created,
        )
        .await?;
    Ok(secret_answer(answer, "api_key", &secret))
}

/// List the tenant's active API keys (admin). Secrets are never shown again.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api keys",
    responses((status = 200, body = Page<ApiKeyBody>)), security(("bearer" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let caller = caller.require(Role::Admin)?;
    let tenant = caller.tenant;
    let keys = state
        .read(move |store| store.list_api_keys(&tenant))
        .await?;
    let body: Vec<ApiKeyBody> = keys
        .iter()
        .map(|key| ApiKeyBody {
            id: key.id.clone(),
            role: key.role.as_str().to_owned(),
            created_at: rfc3339(key.created_at),
        })
        .collect();
    Ok(Json(Page::whole(body)).into_response())
}

/// Revoke an API key (admin). Its next request is refused with 401.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api keys",
    responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Admin)?;
    let command = Command::RevokeApiKey { key_id: id.clone() };
    let answer = state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&[]),
            render_ok,
        )
        .await?;
    if answer.response.status == StatusCode::OK.as_u16() {
        state.auth.forget_key(&id);
    }
    Ok(answer.into_response())
}
