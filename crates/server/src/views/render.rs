//! The rendering of a writer's outcome into the exact bytes a client receives (and an
//! idempotency record keeps): one function for every route.

use super::alerts::RecipientsBody;
use super::holds::HoldBody;
use super::jobs::JobBody;
use super::keys::{ApiKeyCreatedBody, TenantBody, TenantCreatedBody};
use super::plans::PlanBody;
use super::pools::PoolBody;
use super::waitlist::{PriorityClassesBody, WaitlistEntryBody};
use super::webhooks::WebhookBody;
use crate::error::ApiError;
use crate::timestamps::rfc3339;
use allot_core::waitlist::DEFAULT_FALLBACK_WAIT_SECONDS;
use allot_store::{Outcome, StoredResponse, Success};
use axum::http::StatusCode;
use serde::Serialize;

/// The JSON of a success, or the problem of a failure: one function per route, used both for a
/// live answer and for the idempotency record, so a replay is byte-for-byte the first answer.
pub fn render(outcome: &Outcome, ok: StatusCode) -> StoredResponse {
    render_with(outcome, ok, DEFAULT_FALLBACK_WAIT_SECONDS)
}

/// `render`, with the server's fallback wait per place in line for waiting-list answers.
pub fn render_with(outcome: &Outcome, ok: StatusCode, fallback_wait: i64) -> StoredResponse {
    match outcome {
        Ok(success) => StoredResponse {
            // Nothing new was made: the answer is what already existed.
            status: match success {
                Success::AlreadyConsumed(_) | Success::Member { created: false, .. } => 200,
                // The plan changed and its members follow in a job that runs on.
                Success::PlanFollowed { .. } => 202,
                _ => ok.as_u16(),
            },
            body: success_bytes(success, fallback_wait),
        },
        Err(failure) => ApiError::from(failure.clone()).to_stored(),
    }
}

pub fn render_ok(outcome: &Outcome) -> StoredResponse {
    render(outcome, StatusCode::OK)
}

pub fn render_created(outcome: &Outcome) -> StoredResponse {
    render(outcome, StatusCode::CREATED)
}

fn to_bytes<T: Serialize>(body: T) -> Vec<u8> {
    serde_json::to_vec(&body).expect("response bodies serialize: no maps with non-string keys")
}

/// Serialises straight to bytes: the hot path (a hold) builds no intermediate JSON tree.
fn success_bytes(success: &Success, fallback_wait: i64) -> Vec<u8> {
    match success {
        Success::TenantCreated { tenant, key } => to_bytes(TenantCreatedBody {
            tenant: TenantBody {
                id: tenant.id.0.clone(),
                name: tenant.name.clone(),
                created_at: rfc3339(tenant.created_at),
            },
            api_key_id: key.id.clone(),
            api_key: None,
        }),
        Success::ApiKeyCreated(key) => to_bytes(ApiKeyCreatedBody {
            id: key.id.clone(),
            role: key.role.as_str().to_owned(),
            created_at: rfc3339(key.created_at),
            api_key: None,
        }),
        Success::ApiKeyRevoked => to_bytes(serde_json::json!({"revoked": true})),
        Success::Pool(pool) => to_bytes(PoolBody::from(pool)),
        Success::Hold { hold, warnings } => to_bytes(HoldBody::new(
            hold,
            Some(warnings.iter().map(|w| w.as_str().to_owned()).collect()),
        )),
        Success::Swept { expired } => to_bytes(serde_json::json!({"expired": expired})),
        Success::WaitlistEntry(entry) => to_bytes(WaitlistEntryBody::new(
            entry,
            fallback_wait,
            entry.updated_at,
        )),
        Success::PriorityClasses(classes) => to_bytes(PriorityClassesBody::from(classes)),
        Success::Webhook(webhook) => to_bytes(WebhookBody::new(webhook, None)),
        Success::WebhookDeleted => to_bytes(serde_json::json!({"deleted": true})),
        Success::DeliveryQueued { delivery_id } => {
            to_bytes(serde_json::json!({"delivery_id": delivery_id, "status": "pending"}))
        }
        Success::Recipients(groups) => to_bytes(RecipientsBody::from(groups)),
        Success::AttemptsRecorded => to_bytes(serde_json::json!({"recorded": true})),
        Success::Plan(plan) => to_bytes(PlanBody::from(plan)),
        Success::PlanFollowed { plan, job } => {
            let mut body = PlanBody::from(plan);
            body.job_id = Some(job.id.clone());
            to_bytes(body)
        }
        Success::Member { pool, .. } => to_bytes(PoolBody::from(pool)),
        Success::AlreadyConsumed(hold) => to_bytes(HoldBody::new(hold, Some(Vec::new()))),
        Success::Tickets(success) => super::tickets::success_bytes(success),
        Success::Job(job) => to_bytes(JobBody::new(job, Vec::new())),
    }
}
