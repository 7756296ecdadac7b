//! Attendees of an event: import (one JSON object, a JSON array, or CSV), list, and the ones
//! still missing a ticket.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind, corrupt};
use crate::extract::Path;
use crate::extract::{IgnoredBody, Query, WriteContext};
use crate::page::Page;
use crate::requests::AttendeeRequest;
use crate::requests::attendees::{LIST_IDS_UP_TO, csv_rows, json_rows};
use crate::state::AppState;
use crate::views::{AttendeeBody, ImportBody};
use allot_store::tickets::TicketCommand;
use allot_store::{Command, Role};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Add or update attendees of an event (a pool) by `external_id` (operator). The body is one
/// attendee, a JSON array of them, or CSV (`Content-Type: text/csv`) with a header row naming
/// `external_id`, `name` and optionally `email` and `section` (a child pool's id or name). A bad
/// row is reported with its line and the good rows still land. Updating a row without an email
/// or section keeps the stored one.
#[utoipa::path(post, path = "/v1/pools/{id}/attendees", tag = "attendees",
    request_body(content(
        (AttendeeRequest = "application/json"),
        (Vec<AttendeeRequest> = "application/json"),
        (String = "text/csv", example = "external_id,name,email,section\n2021-0042,Siti Rahma,siti@example.org,Hall A\n"))),
    responses((status = 200, body = ImportBody), (status = 400), (status = 404), (status = 415)),
    security(("bearer" = [])))]
pub async fn import_attendees(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    IgnoredBody(raw): IgnoredBody,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let mime = media_type(&headers);
    let csv = mime == "text/csv";
    let json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if !csv && !json {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "send attendees as application/json or text/csv",
        ));
    }
    // Parsing a large import takes a while: off the async workers.
    let body = raw.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        if csv {
            csv_rows(&body).map(|(good, bad)| (good, bad, false))
        } else {
            json_rows(&body)
        }
    })
    .await
    .map_err(|error| corrupt(format!("parsing an import did not finish: {error}")))?;
    let (rows, rejected, _single) = parsed?;
    let list = rows.len() + rejected.len() <= LIST_IDS_UP_TO;
    let command = Command::Tickets(TicketCommand::UpsertAttendees {
        event_id: id,
        rows,
        rejected,
        list,
    });
    Ok(state
        .submit(
            crate::state::Actor::Tenant(&caller),
            command,
            write.identity(&raw),
            crate::views::render_ok,
        )
        .await?
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttendeeListQuery {
    /// `false`: only attendees without a ticket (void ones do not count); `true`: only with.
    pub has_ticket: Option<bool>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
}

async fn list(
    state: &AppState,
    caller: &Caller,
    id: &str,
    has_ticket: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
) -> Result<Json<Page<AttendeeBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(limit, cursor)?;
    let (tenant, read_id) = (caller.tenant, id.to_owned());
    let found = state
        .read(move |store| store.list_attendees(&tenant, &read_id, has_ticket, page))
        .await?
        .ok_or_else(|| ApiError::not_found("pool", id))?;
    Ok(Json(Page::of(&found, AttendeeBody::from)))
}

/// List an event's attendees in import order, optionally only those with or without a ticket.
#[utoipa::path(get, path = "/v1/pools/{id}/attendees", tag = "attendees", params(AttendeeListQuery),
    responses((status = 200, body = Page<AttendeeBody>), (status = 404)), security(("bearer" = [])))]
pub async fn list_attendees(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<AttendeeListQuery>,
) -> Result<Json<Page<AttendeeBody>>, ApiError> {
    list(
        &state,
        &caller,
        &id,
        query.has_ticket,
        query.limit,
        query.cursor,
    )
    .await
}

/// The event's attendees who have no ticket (or only a void one).
#[utoipa::path(get, path = "/v1/pools/{id}/tickets/missing", tag = "attendees", params(crate::page::PageQuery),
    responses((status = 200, body = Page<AttendeeBody>), (status = 404)), security(("bearer" = [])))]
pub async fn missing_tickets(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): crate::page::PageParams,
) -> Result<Json<Page<AttendeeBody>>, ApiError> {
    list(&state, &caller, &id, Some(false), page.limit, page.cursor).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissingCountBody {
    pub event_id: String,
    pub attendees: i64,
    pub missing: i64,
}

/// How many of the event's attendees have no ticket.
#[utoipa::path(get, path = "/v1/pools/{id}/tickets/missing/count", tag = "attendees",
    responses((status = 200, body = MissingCountBody), (status = 404)), security(("bearer" = [])))]
pub async fn missing_count(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MissingCountBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let not_found = || ApiError::not_found("pool", &id);
    let (tenant, read_id) = (caller.tenant, id.clone());
    let (attendees, missing) = state
        .read(move |store| {
            let attendees = store.count_attendees(&tenant, &read_id, None)?;
            let missing = store.count_attendees(&tenant, &read_id, Some(false))?;
            Ok((attendees, missing))
        })
        .await?;
    let attendees = attendees.ok_or_else(not_found)?;
    let missing = missing.ok_or_else(not_found)?;
    Ok(Json(MissingCountBody {
        event_id: id.clone(),
        attendees,
        missing,
    }))
}
