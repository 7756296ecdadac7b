//! Tickets: bulk generation (a job), reading one with its magic link, voiding, QR codes, a
//! printable PDF, check-in at the door and check-in counts per pool.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::extract::Path;
use crate::extract::WriteContext;
use crate::extract::{IgnoredBody, JsonBody, Query};
use crate::jobs::params::KIND_GENERATE_TICKETS;
use crate::page::Page;
use crate::printing::{PrintItem, QrMatrix, tickets_pdf};
use crate::requests::{CheckInRequest, GenerateRequest};
use crate::state::{Actor, AppState};
use crate::views::{CheckInBody, CheckInCountsBody, JobBody, TicketBody, render};
use allot_store::jobs::JobCommand;
use allot_store::tickets::{TicketCommand, TicketStatus, TicketView};
use allot_store::{Command, Outcome, Role, StoredResponse};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

/// Most tickets one PDF holds; page through bigger events with `cursor`.
const MAX_PDF_TICKETS: usize = 1_000;

fn render_accepted(outcome: &Outcome) -> StoredResponse {
    render(outcome, StatusCode::ACCEPTED)
}

/// Issue tickets to an event's attendees as a background job (operator): 202 with the job;
/// follow it at `GET /v1/jobs/{id}`. Each ticket commits one unit of its section (or the
/// event), so a full event reports "no capacity" per attendee instead of overselling.
#[utoipa::path(post, path = "/v1/pools/{id}/tickets/generate", tag = "tickets", request_body = GenerateRequest,
    responses((status = 202, body = JobBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn generate(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    body: JsonBody<GenerateRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let params = body.value.validate(id)?;
    // One read for both: how many attendees the event has (unless the request names them),
    // and whether it exists at all.
    let (tenant, now, event_id) = (
        caller.tenant.clone(),
        state.clock.now(),
        params.event_id.clone(),
    );
    let count_them = params.attendee_ids.is_none();
    let (attendees, exists) = state
        .read(move |store| {
            let attendees = match count_them {
                true => store.count_attendees(&tenant, &event_id, None)?,
                false => None,
            };
            let exists = store.get_pool(&tenant, &event_id, now)?.is_some();
            Ok((attendees, exists))
        })
        .await?;
    let not_found = || ApiError::not_found("pool", &params.event_id);
    let available = match &params.attendee_ids {
        Some(ids) => ids.len() as i64,
        None => attendees.ok_or_else(not_found)?,
    };
    if !exists {
        return Err(not_found());
    }
    let total = allot_core::jobs::job_total(params.limit, available);
    let command = Command::Job(JobCommand::Create {
        kind: KIND_GENERATE_TICKETS.to_owned(),
        params: params.to_json(),
        total,
    });
    let answer = state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            render_accepted,
        )
        .await?;
    state.job_wake.notify_one();
    Ok(answer.into_response())
}

async fn load_ticket(state: &AppState, caller: &Caller, id: &str) -> Result<TicketView, ApiError> {
    let caller = caller.require(Role::Operator)?;
    let (tenant, read_id) = (caller.tenant, id.to_owned());
    state
        .read(move |store| store.get_ticket(&tenant, &read_id))
        .await?
        .ok_or_else(|| ApiError::not_found("ticket", id))
}

/// Read a ticket with its token and magic link (operator: the token admits its holder).
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets",
    responses((status = 200, body = TicketBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TicketBody>, ApiError> {
    let ticket = load_ticket(&state, &caller, &id).await?;
    let token = state.tickets.token(&ticket.attendee_id, &ticket.token_seed);
    let magic_link = state.tickets.magic_link(&token);
    Ok(Json(
        TicketBody::new(&ticket).with_secret(token, magic_link),
    ))
}

/// Void a valid ticket (operator): its unit goes back to the pool. A used ticket cannot be voided.
#[utoipa::path(post, path = "/v1/tickets/{id}/void", tag = "tickets",
    responses((status = 200, body = TicketBody), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn void_ticket(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    IgnoredBody(body): IgnoredBody,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            Command::Tickets(TicketCommand::Void { ticket_id: id }),
            write.identity(&body),
            crate::views::render_ok,
        )
        .await?
        .into_response())
}

fn qr_of(state: &AppState, ticket: &TicketView) -> Result<QrMatrix, ApiError> {
    let link = state
        .tickets
        .magic_link(&state.tickets.token(&ticket.attendee_id, &ticket.token_seed));
    QrMatrix::encode(&link).map_err(|error| {
        ApiError::new(
            ErrorKind::Internal,
            format!("cannot encode a QR code: {error}"),
        )
    })
}

fn with_type(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The ticket's QR code (its magic link) as SVG.
#[utoipa::path(get, path = "/v1/tickets/{id}/qr.svg", tag = "tickets",
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404)),
    security(("bearer" = [])))]
pub async fn qr_svg(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ticket = load_ticket(&state, &caller, &id).await?;
    Ok(with_type(
        qr_of(&state, &ticket)?.svg().into_bytes(),
        "image/svg+xml",
    ))
}

/// The ticket's QR code (its magic link) as PNG, 8 pixels per module.
#[utoipa::path(get, path = "/v1/tickets/{id}/qr.png", tag = "tickets",
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404)),
    security(("bearer" = [])))]
pub async fn qr_png(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ticket = load_ticket(&state, &caller, &id).await?;
    let png = qr_of(&state, &ticket)?.png(8).map_err(|error| {
        ApiError::new(ErrorKind::Internal, format!("cannot draw a PNG: {error}"))
    })?;
    Ok(with_type(png, "image/png"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListQuery {
    /// valid, used or void.
    #[param(value_type = Option<crate::requests::names::TicketStatusName>)]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
}

fn parse_status(status: Option<&str>) -> Result<Option<TicketStatus>, ApiError> {
    status
        .map(|text| {
            TicketStatus::parse(text)
                .ok_or_else(|| ApiError::invalid("status", "must be valid, used or void"))
        })
        .transpose()
}

/// List an event's tickets, without their tokens.
#[utoipa::path(get, path = "/v1/pools/{id}/tickets", tag = "tickets", params(TicketListQuery),
    responses((status = 200, body = Page<TicketBody>), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_tickets(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<TicketListQuery>,
) -> Result<Json<Page<TicketBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let status = parse_status(query.status.as_deref())?;
    let page = crate::page::request(query.limit, query.cursor)?;
    let (tenant, read_id) = (caller.tenant, id.clone());
    let found = state
        .read(move |store| store.list_tickets(&tenant, &read_id, status, None, page))
        .await?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
    Ok(Json(Page::of(&found, |t| TicketBody::new(&t.ticket))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PdfQuery {
    /// Tickets in this PDF, 1 to 1000 (default 1000); the `X-Next-Cursor` header pages on.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    /// valid (default), used or void.
    #[param(value_type = Option<crate::requests::names::TicketStatusName>)]
    pub status: Option<String>,
}

/// A printable PDF of an event's tickets (operator): A4, 8 per page, each with the event,
/// the attendee's name, section, code and QR code. At most 1000 per document; when there are
/// more, the `X-Next-Cursor` header gives the `cursor` of the next document.
#[utoipa::path(get, path = "/v1/pools/{id}/tickets.pdf", tag = "tickets", params(PdfQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404)),
    security(("bearer" = [])))]
pub async fn tickets_pdf_route(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<PdfQuery>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Role::Operator)?;
    let status = parse_status(query.status.as_deref())?.unwrap_or(TicketStatus::Valid);
    let limit = allot_core::page::page_size_within(query.limit, MAX_PDF_TICKETS, MAX_PDF_TICKETS)
        .map_err(|error| ApiError::invalid("limit", error.to_string()))?;
    let page = crate::page::request(Some(limit), query.cursor)?;
    let (tenant, now, read_id) = (caller.tenant, state.clock.now(), id.clone());
    let found = state
        .read(move |store| {
            let Some(event) = store.get_pool(&tenant, &read_id, now)? else {
                return Ok(None);
            };
            let tickets = store.list_tickets(&tenant, &read_id, Some(status), None, page)?;
            Ok(tickets.map(|tickets| (event, tickets)))
        })
        .await?;
    let (event, found) = found.ok_or_else(|| ApiError::not_found("pool", &id))?;
    let items: Vec<PrintItem<'_>> = found
        .items
        .iter()
        .map(|ticket| PrintItem {
            ticket,
            qr_data: state.tickets.magic_link(
                &state
                    .tickets
                    .token(&ticket.ticket.attendee_id, &ticket.ticket.token_seed),
            ),
        })
        .collect();
    let pdf = tickets_pdf(&event.name, &items).map_err(|error| {
        ApiError::new(ErrorKind::Internal, format!("cannot draw the PDF: {error}"))
    })?;
    let mut response = with_type(pdf, "application/pdf");
    if let Some(next) = found.next_cursor
        && let Ok(value) = HeaderValue::from_str(&next)
    {
        response.headers_mut().insert("x-next-cursor", value);
    }
    Ok(response)
}

/// Scan a ticket at the door (operator). The first scan answers 200 with the ticket and the
/// attendee; later scans answer 409 ticket-used with the first scan's time (`used_at`); a void
/// ticket answers 409 ticket-void and an unknown token 404. Two scans at once admit once.
#[utoipa::path(post, path = "/v1/checkins", tag = "tickets", request_body = CheckInRequest,
    responses((status = 200, body = CheckInBody), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn check_in(
    State(state): State<AppState>,
    write: WriteContext,
    body: JsonBody<CheckInRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let token = crate::tickets::token_from_scan(&body.value.token);
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::invalid("token", "is not a ticket token"));
    }
    // A token that names no attendee cannot be one of ours.
    let attendee_id = crate::tickets::attendee_of_token(token)
        .ok_or_else(|| ApiError::not_found("ticket", "for this token"))?;
    let command = Command::Tickets(TicketCommand::CheckIn {
        attendee_id,
        token_hash: crate::tickets::token_hash(token),
    });
    Ok(state
        .submit(
            Actor::Tenant(&caller),
            command,
            write.identity(&body.raw),
            crate::views::render_ok,
        )
        .await?
        .into_response())
}

/// Check-ins of a pool: for an event all its tickets, for a section the tickets of that section.
#[utoipa::path(get, path = "/v1/pools/{id}/checkins", tag = "tickets",
    responses((status = 200, body = CheckInCountsBody), (status = 404)), security(("bearer" = [])))]
pub async fn checkin_counts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CheckInCountsBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, read_id) = (caller.tenant, id.clone());
    let counts = state
        .read(move |store| store.ticket_counts(&tenant, &read_id))
        .await?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
    Ok(Json(CheckInCountsBody {
        pool_id: id,
        checked_in: counts.used,
        not_checked_in: counts.valid,
        void: counts.void,
        issued: counts.used + counts.valid,
    }))
}
