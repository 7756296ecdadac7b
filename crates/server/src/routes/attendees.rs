//! Attendees of an event: import (one JSON object, a JSON array, or CSV), list, and the ones
//! still missing a ticket.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::extract::{IgnoredBody, Query};
use crate::state::{AppState, WriteContext};
use crate::views::{Page, rfc3339};
use allot_store::tickets::{AttendeeView, NewAttendee, RowFailure, TicketCommand};
use allot_store::{Command, Role};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Largest import body: 64 MiB, about a million CSV rows.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// Most rows one import takes; split bigger files (the CLI does).
pub const MAX_IMPORT_ROWS: usize = 250_000;
/// Imports of at most this many rows answer with every attendee's id.
const LIST_IDS_UP_TO: usize = 1_000;
/// Most row failures an answer lists (all are counted).
const MAX_LISTED_FAILURES: usize = 1_000;
const MAX_TEXT_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendeeRequest {
    /// Your id for the person (a student number...): importing it again updates them.
    #[schema(example = "2021-0042")]
    pub external_id: String,
    #[schema(example = "Siti Rahma")]
    pub name: String,
    pub email: Option<String>,
    /// A section of the event (a child pool), by id or by name.
    pub section: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowFailureBody {
    /// The CSV line (1 is the header) or the position in the JSON array (from 1).
    pub line: u64,
    pub external_id: Option<String>,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendeeRefBody {
    pub id: String,
    pub external_id: String,
}

/// What an import did: good rows landed, bad rows are listed with their line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportBody {
    pub event_id: String,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    /// The first 1000 failures, by line.
    pub failures: Vec<RowFailureBody>,
    /// Every attendee the import touched, for imports of at most 1000 rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<AttendeeRefBody>>,
}

impl ImportBody {
    pub fn new(summary: &allot_store::tickets::ImportSummary) -> Self {
        ImportBody {
            event_id: summary.event_id.clone(),
            created: summary.created,
            updated: summary.updated,
            failed: summary.failures.len() as u64,
            failures: summary
                .failures
                .iter()
                .take(MAX_LISTED_FAILURES)
                .map(|f| RowFailureBody {
                    line: f.line,
                    external_id: f.external_id.clone(),
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect(),
            attendees: (!summary.attendees.is_empty()).then(|| {
                summary
                    .attendees
                    .iter()
                    .map(|(id, external_id)| AttendeeRefBody {
                        id: id.clone(),
                        external_id: external_id.clone(),
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendeeBody {
    pub id: String,
    pub event_id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub section_id: Option<String>,
    pub has_ticket: bool,
    pub ticket_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&AttendeeView> for AttendeeBody {
    fn from(a: &AttendeeView) -> Self {
        AttendeeBody {
            id: a.id.clone(),
            event_id: a.event_id.clone(),
            external_id: a.external_id.clone(),
            name: a.name.clone(),
            email: a.email.clone(),
            section_id: a.section_id.clone(),
            has_ticket: a.ticket_id.is_some(),
            ticket_id: a.ticket_id.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// The checks of one row, as field errors.
fn check_row(row: &AttendeeRequest) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    let mut text = |field: &'static str, value: &str, max: usize| {
        if value.trim().is_empty() {
            errors.push((field, "must not be empty".to_owned()));
        } else if value.chars().count() > max {
            errors.push((field, format!("must be at most {max} characters")));
        } else if value.chars().any(char::is_control) {
            errors.push((field, "must not contain control characters".to_owned()));
        }
    };
    text("external_id", &row.external_id, MAX_TEXT_CHARS);
    text("name", &row.name, MAX_TEXT_CHARS);
    if let Some(section) = &row.section {
        text("section", section, MAX_TEXT_CHARS);
    }
    if let Some(email) = &row.email {
        let at = email.find('@');
        if email.len() > MAX_EMAIL_CHARS
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
            || !matches!(at, Some(i) if i > 0 && i < email.len() - 1)
        {
            errors.push(("email", "is not an e-mail address".to_owned()));
        }
    }
    errors
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Sorts rows into good ones and failures with their line.
fn sort_row(
    line: u64,
    row: AttendeeRequest,
    good: &mut Vec<NewAttendee>,
    bad: &mut Vec<RowFailure>,
) {
    let row = AttendeeRequest {
        external_id: row.external_id.trim().to_owned(),
        name: row.name.trim().to_owned(),
        email: blank_to_none(row.email),
        section: blank_to_none(row.section),
    };
    let errors = check_row(&row);
    if errors.is_empty() {
        good.push(NewAttendee {
            line,
            external_id: row.external_id,
            name: row.name,
            email: row.email,
            section: row.section,
        });
    } else {
        bad.extend(errors.into_iter().map(|(field, message)| RowFailure {
            line,
            external_id: (!row.external_id.is_empty()).then(|| row.external_id.clone()),
            field: field.to_owned(),
            message,
        }));
    }
}

fn too_many_rows() -> ApiError {
    ApiError::invalid(
        "body",
        format!("an import takes at most {MAX_IMPORT_ROWS} rows; split the file"),
    )
}

/// Rows from a CSV body with a header naming external_id and name (email and section optional,
/// other columns ignored).
fn csv_rows(raw: &[u8]) -> Result<(Vec<NewAttendee>, Vec<RowFailure>), ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(raw);
    let headers = reader
        .headers()
        .map_err(|error| {
            ApiError::invalid("body", format!("the CSV header is unreadable: {error}"))
        })?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let (Some(external_id), Some(name)) = (column("external_id"), column("name")) else {
        return Err(ApiError::invalid(
            "body",
            "the CSV header must name external_id and name (email and section are optional)",
        ));
    };
    let (email, section) = (column("email"), column("section"));
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut record = csv::StringRecord::new();
    // Lines counted from byte offsets: the reader's own count skips blank lines.
    let mut lines = LineCounter::new(raw);
    loop {
        let line = lines.at(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                if good.len() + bad.len() >= MAX_IMPORT_ROWS {
                    return Err(too_many_rows());
                }
                let line = record.position().map_or(line, |p| lines.at(p.byte()));
                if record.iter().all(str::is_empty) {
                    continue;
                }
                let field =
                    |index: Option<usize>| index.and_then(|i| record.get(i)).map(str::to_owned);
                sort_row(
                    line,
                    AttendeeRequest {
                        external_id: field(Some(external_id)).unwrap_or_default(),
                        name: field(Some(name)).unwrap_or_default(),
                        email: field(email),
                        section: field(section),
                    },
                    &mut good,
                    &mut bad,
                );
            }
            Err(error) => {
                let line = error.position().map_or(line, |p| lines.at(p.byte()));
                bad.push(RowFailure {
                    line,
                    external_id: None,
                    field: "row".into(),
                    message: format!("unreadable CSV row: {}", error.kind_message()),
                });
                if bad.len() > MAX_IMPORT_ROWS {
                    return Err(too_many_rows());
                }
            }
        }
    }
    Ok((good, bad))
}

/// The 1-based line of a byte offset, for offsets that only grow.
struct LineCounter<'a> {
    raw: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(raw: &'a [u8]) -> Self {
        LineCounter {
            raw,
            offset: 0,
            line: 1,
        }
    }

    /// The line where a record starting at `byte` has its first field: blank lines the reader
    /// skipped before it are part of its span.
    fn at(&mut self, byte: u64) -> u64 {
        let mut byte = (byte as usize).min(self.raw.len());
        while byte < self.raw.len() && matches!(self.raw[byte], b'\n' | b'\r') {
            byte += 1;
        }
        if byte > self.offset {
            self.line += self.raw[self.offset..byte]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.offset = byte;
        }
        self.line
    }
}

trait KindMessage {
    fn kind_message(&self) -> String;
}

impl KindMessage for csv::Error {
    fn kind_message(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_owned(),
            _ => self.to_string(),
        }
    }
}

/// Rows from a JSON object (one attendee) or array (many). A single object with errors is a
/// 400; in an array each bad element is a failure with its position.
fn json_rows(raw: &[u8]) -> Result<(Vec<NewAttendee>, Vec<RowFailure>, bool), ApiError> {
    let value: serde_json::Value = crate::extract::parse_json(raw)?;
    let mut good = Vec::new();
    let mut bad = Vec::new();
    match value {
        serde_json::Value::Array(items) => {
            if items.len() > MAX_IMPORT_ROWS {
                return Err(too_many_rows());
            }
            for (index, item) in items.into_iter().enumerate() {
                let line = index as u64 + 1;
                match serde_json::from_value::<AttendeeRequest>(item) {
                    Ok(row) => sort_row(line, row, &mut good, &mut bad),
                    Err(error) => bad.push(RowFailure {
                        line,
                        external_id: None,
                        field: "row".into(),
                        message: error.to_string(),
                    }),
                }
            }
            Ok((good, bad, false))
        }
        object @ serde_json::Value::Object(_) => {
            let row: AttendeeRequest = crate::extract::parse_json(object.to_string().as_bytes())?;
            sort_row(1, row, &mut good, &mut bad);
            if !bad.is_empty() {
                let detail = bad
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(ApiError {
                    errors: bad
                        .into_iter()
                        .map(|f| crate::error::FieldError {
                            field: f.field,
                            message: f.message,
                        })
                        .collect(),
                    ..ApiError::new(ErrorKind::Validation, detail)
                });
            }
            Ok((good, bad, true))
        }
        _ => Err(ApiError::invalid(
            "body",
            "must be an attendee object or an array of them",
        )),
    }
}

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
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely: the same key and body replay the first answer for 24 h")),
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
    .map_err(|error| ApiError::new(ErrorKind::Internal, format!("parsing failed: {error}")))?;
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
pub struct AttendeeListQuery {
    /// `false`: only attendees without a ticket (void ones do not count); `true`: only with.
    pub has_ticket: Option<bool>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

fn list(
    state: &AppState,
    caller: &Caller,
    id: &str,
    has_ticket: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
) -> Result<Json<Page<AttendeeBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = super::PageQuery { limit, cursor }.to_request()?;
    let found = state
        .store
        .list_attendees(&caller.tenant, id, has_ticket, page)?
        .ok_or_else(|| ApiError::not_found("pool", id))?;
    Ok(Json(Page {
        items: found.items.iter().map(AttendeeBody::from).collect(),
        next_cursor: found.next_cursor,
    }))
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
}

/// The event's attendees who have no ticket (or only a void one).
#[utoipa::path(get, path = "/v1/pools/{id}/tickets/missing", tag = "attendees", params(super::PageQuery),
    responses((status = 200, body = Page<AttendeeBody>), (status = 404)), security(("bearer" = [])))]
pub async fn missing_tickets(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): super::PageParams,
) -> Result<Json<Page<AttendeeBody>>, ApiError> {
    list(&state, &caller, &id, Some(false), page.limit, page.cursor)
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
    let attendees = state
        .store
        .count_attendees(&caller.tenant, &id, None)?
        .ok_or_else(not_found)?;
    let missing = state
        .store
        .count_attendees(&caller.tenant, &id, Some(false))?
        .ok_or_else(not_found)?;
    Ok(Json(MissingCountBody {
        event_id: id.clone(),
        attendees,
        missing,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_lines_and_report_bad_ones() {
        let csv = "external_id,name,email,section,extra\n\
                   a1,Ann,ann@example.org,Hall A,x\n\
                   ,No Id,,,\n\
                   a3,Cy,not-an-email,,\n\
                   \n\
                   a5,Eve,,,\n";
        let (good, bad) = csv_rows(csv.as_bytes()).expect("a readable CSV");
        let lines: Vec<u64> = good.iter().map(|row| row.line).collect();
        assert_eq!(lines, vec![2, 6]);
        assert_eq!(good[0].section.as_deref(), Some("Hall A"));
        assert_eq!(good[1].email, None);
        let failed: Vec<(u64, &str)> = bad.iter().map(|f| (f.line, f.field.as_str())).collect();
        assert_eq!(failed, vec![(3, "external_id"), (4, "email")]);
    }

    #[test]
    fn a_csv_without_the_required_columns_is_refused() {
        assert!(csv_rows(b"id,full_name\n1,Ann\n").is_err());
    }
}
