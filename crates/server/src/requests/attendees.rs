//! Attendees of an event as an import sends them: one JSON object, a JSON array, or CSV with a
//! header row. Each row is checked on its own: a bad one is reported with its line and the good
//! ones still land.

use crate::error::ApiError;
use allot_store::tickets::{NewAttendee, RowFailure};
use serde::Deserialize;
use utoipa::ToSchema;

/// Largest import body: 64 MiB, about a million CSV rows.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// Most rows one import takes; split bigger files (the CLI does).
pub const MAX_IMPORT_ROWS: usize = 250_000;
/// Imports of at most this many rows answer with every attendee's id.
pub const LIST_IDS_UP_TO: usize = 1_000;
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
pub fn csv_rows(raw: &[u8]) -> Result<(Vec<NewAttendee>, Vec<RowFailure>), ApiError> {
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
pub fn json_rows(raw: &[u8]) -> Result<(Vec<NewAttendee>, Vec<RowFailure>, bool), ApiError> {
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
                return Err(ApiError::validation(
                    bad.into_iter()
                        .map(|f| crate::error::FieldError {
                            field: f.field,
                            message: f.message,
                        })
                        .collect(),
                ));
            }
            Ok((good, bad, true))
        }
        _ => Err(ApiError::invalid(
            "body",
            "must be an attendee object or an array of them",
        )),
    }
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
