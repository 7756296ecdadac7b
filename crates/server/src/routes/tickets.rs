//! Tickets: bulk generation (a job), reading one with its magic link, voiding, QR codes, a
//! printable PDF, check-in at the door and check-in counts per pool.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::extract::{IgnoredBody, JsonBody, Query};
use crate::jobs::{GenerateParams, KIND_GENERATE_TICKETS};
use crate::printing::{PrintItem, QrMatrix, tickets_pdf};
use crate::routes::jobs::JobBody;
use crate::state::{Actor, AppState, WriteContext};
use crate::views::{Page, render, rfc3339};
use allot_store::jobs::JobCommand;
use allot_store::tickets::{TicketCommand, TicketStatus, TicketSuccess, TicketView};
use allot_store::{Command, Outcome, Role, StoredResponse};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most attendees one generation request may name.
const MAX_ATTENDEE_IDS: usize = 20_000;
/// Most tickets one PDF holds; page through bigger events with `cursor`.
const MAX_PDF_TICKETS: usize = 1_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketBody {
    pub id: String,
    pub event_id: String,
    /// The pool the ticket holds one unit of: the attendee's section, or the event.
    pub pool_id: String,
    pub attendee_id: String,
    pub hold_id: String,
    #[schema(example = "7KQ2M-XH4PD")]
    pub code: String,
    /// valid, used or void.
    pub status: String,
    pub issued_at: String,
    pub used_at: Option<String>,
    pub voided_at: Option<String>,
    /// The secret to check in with; only on `GET /v1/tickets/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The base URL configured with `ALLOT_TICKET_LINK_BASE`, then the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magic_link: Option<String>,
}

impl TicketBody {
    pub fn new(ticket: &TicketView) -> Self {
        TicketBody {
            id: ticket.id.clone(),
            event_id: ticket.event_id.clone(),
            pool_id: ticket.pool_id.clone(),
            attendee_id: ticket.attendee_id.clone(),
            hold_id: ticket.hold_id.clone(),
            code: ticket.code.clone(),
            status: ticket.status.as_str().to_owned(),
            issued_at: rfc3339(ticket.issued_at),
            used_at: ticket.used_at.map(rfc3339),
            voided_at: ticket.voided_at.map(rfc3339),
            token: None,
            magic_link: None,
        }
    }

    fn with_secret(mut self, state: &AppState, ticket: &TicketView) -> Self {
        let token = state.tickets.token(&ticket.attendee_id, &ticket.token_seed);
        self.magic_link = Some(state.tickets.magic_link(&token));
        self.token = Some(token);
        self
    }
}

/// The door's answer to a first scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInBody {
    /// Always `admitted`; a refused scan is a problem (ticket-used, ticket-void, not-found).
    pub result: String,
    pub ticket: TicketBody,
    pub attendee: crate::routes::attendees::AttendeeBody,
}

/// Renders the ticket successes; called from `views::success_bytes`.
pub fn success_bytes(success: &TicketSuccess) -> Vec<u8> {
    let bytes = match success {
        TicketSuccess::Imported(summary) => {
            serde_json::to_vec(&crate::routes::attendees::ImportBody::new(summary))
        }
        TicketSuccess::Chunk(job) => serde_json::to_vec(&JobBody::new(job, Vec::new())),
        TicketSuccess::Ticket(ticket) => serde_json::to_vec(&TicketBody::new(ticket)),
        TicketSuccess::CheckedIn { ticket, attendee } => serde_json::to_vec(&CheckInBody {
            result: "admitted".into(),
            ticket: TicketBody::new(ticket),
            attendee: attendee.into(),
        }),
    };
    bytes.expect("response bodies serialize")
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// Only these attendees; all of the event's when absent.
    pub attendee_ids: Option<Vec<String>>,
    /// Leave attendees who have a ticket alone (default). `false` regenerates: their valid
    /// ticket gets a new code and token (the old QR code stops working); used ones are skipped.
    pub skip_existing: Option<bool>,
    /// Look at no more than this many attendees, in import order.
    pub limit: Option<i64>,
    /// Attendees per transaction, 1 to 10000; default 1000.
    pub chunk: Option<i64>,
}

fn render_accepted(outcome: &Outcome) -> StoredResponse {
    render(outcome, StatusCode::ACCEPTED)
}

/// Issue tickets to an event's attendees as a background job (operator): 202 with the job;
/// follow it at `GET /v1/jobs/{id}`. Each ticket commits one unit of its section (or the
/// event), so a full event reports "no capacity" per attendee instead of overselling.
#[utoipa::path(post, path = "/v1/pools/{id}/tickets/generate", tag = "tickets", request_body = GenerateRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely: the same key and body answer the same job for 24 h")),
    responses((status = 202, body = JobBody), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn generate(
    State(state): State<AppState>,
    write: WriteContext,
    Path(id): Path<String>,
    body: JsonBody<GenerateRequest>,
) -> Result<Response, ApiError> {
    let caller = write.caller.require(Role::Operator)?;
    let request = &body.value;
    let mut errors = Vec::new();
    let chunk = allot_core::jobs::ticket_chunk(request.chunk)
        .map_err(|error| errors.push(("chunk", error.to_string())))
        .unwrap_or_default();
    if let Some(limit) = request.limit
        && let Err(error) = allot_core::jobs::item_limit(limit)
    {
        errors.push(("limit", error.to_string()));
    }
    let attendee_ids = request.attendee_ids.clone().map(|mut ids| {
        ids.sort();
        ids.dedup();
        ids
    });
    if let Some(ids) = &attendee_ids {
        if ids.is_empty() || ids.len() > MAX_ATTENDEE_IDS {
            errors.push((
                "attendee_ids",
                format!("must name 1 to {MAX_ATTENDEE_IDS} attendees"),
            ));
        }
        if ids.iter().any(|id| id.is_empty() || id.len() > 100) {
            errors.push(("attendee_ids", "holds an id that is not valid".to_owned()));
        }
    }
    if !errors.is_empty() {
        let detail = errors
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ApiError {
            errors: errors
                .into_iter()
                .map(|(field, message)| crate::error::FieldError {
                    field: field.to_owned(),
                    message,
                })
                .collect(),
            ..ApiError::new(ErrorKind::Validation, detail)
        });
    }
    let available = match &attendee_ids {
        Some(ids) => ids.len() as i64,
        None => state
            .store
            .count_attendees(&caller.tenant, &id, None)?
            .ok_or_else(|| ApiError::not_found("pool", &id))?,
    };
    if state
        .store
        .get_pool(&caller.tenant, &id, state.clock.now())?
        .is_none()
    {
        return Err(ApiError::not_found("pool", &id));
    }
    let params = GenerateParams {
        event_id: id,
        attendee_ids,
        skip_existing: request.skip_existing.unwrap_or(true),
        limit: request.limit,
        chunk,
    };
    let total = allot_core::jobs::job_total(request.limit, available);
    let command = Command::Job(JobCommand::Create {
        kind: KIND_GENERATE_TICKETS.to_owned(),
        params: serde_json::to_value(&params)
            .map_err(|e| ApiError::new(ErrorKind::Internal, format!("job parameters: {e}")))?,
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

fn load_ticket(state: &AppState, caller: &Caller, id: &str) -> Result<TicketView, ApiError> {
    let caller = caller.require(Role::Operator)?;
    state
        .store
        .get_ticket(&caller.tenant, id)?
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
    let ticket = load_ticket(&state, &caller, &id)?;
    Ok(Json(TicketBody::new(&ticket).with_secret(&state, &ticket)))
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
    let ticket = load_ticket(&state, &caller, &id)?;
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
    let ticket = load_ticket(&state, &caller, &id)?;
    let png = qr_of(&state, &ticket)?.png(8).map_err(|error| {
        ApiError::new(ErrorKind::Internal, format!("cannot draw a PNG: {error}"))
    })?;
    Ok(with_type(png, "image/png"))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TicketListQuery {
    /// valid, used or void.
    pub status: Option<String>,
    pub limit: Option<usize>,
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
    let page = super::PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .to_request()?;
    let found = state
        .store
        .list_tickets(&caller.tenant, &id, status, None, page)?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
    Ok(Json(Page {
        items: found
            .items
            .iter()
            .map(|t| TicketBody::new(&t.ticket))
            .collect(),
        next_cursor: found.next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PdfQuery {
    /// Tickets in this PDF, 1 to 1000 (default 1000); the `X-Next-Cursor` header pages on.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// valid (default), used or void.
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
    let page = super::PageQuery {
        limit: Some(limit),
        cursor: query.cursor,
    }
    .to_request()?;
    let event = state
        .store
        .get_pool(&caller.tenant, &id, state.clock.now())?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
    let found = state
        .store
        .list_tickets(&caller.tenant, &id, Some(status), None, page)?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// What the scanner read: the token, or the whole magic link.
    pub token: String,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInCountsBody {
    pub pool_id: String,
    /// Tickets used: people who came in.
    pub checked_in: i64,
    /// Valid tickets not used yet.
    pub not_checked_in: i64,
    pub void: i64,
    /// Tickets that count against capacity: checked in or not yet.
    pub issued: i64,
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
    let counts = state
        .store
        .ticket_counts(&caller.tenant, &id)?
        .ok_or_else(|| ApiError::not_found("pool", &id))?;
    Ok(Json(CheckInCountsBody {
        pool_id: id,
        checked_in: counts.used,
        not_checked_in: counts.valid,
        void: counts.void,
        issued: counts.used + counts.valid,
    }))
}
