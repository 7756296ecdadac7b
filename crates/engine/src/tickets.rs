//! Attendees, tickets and check-ins (graduation tickets, event entry): records, commands and reads.
//!
//! An event is a pool and its sections are child pools. An attendee belongs to one event (and
//! maybe one section); a ticket belongs to one attendee and owns one confirmed hold of one unit on
//! its section (or the event), so issuing goes through the core's capacity decision like any hold,
//! voiding releases the hold, and the ledger and `allot verify` see tickets as holds.
//!
//! A ticket's secret token is never stored: only its SHA-256 (to confirm it at check-in) and a
//! random seed from which the server, with a key the database does not hold, derives the token
//! again to draw its QR code. A reader of the database can therefore not check in. The token
//! names its attendee, whose one live ticket check-in then looks up.

use crate::jobs::{JobProgress, JobView};
use allot_core::UnixMillis;

/// One attendee row to upsert (by `external_id` within the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttendee {
    /// Where the row came from: the CSV line or the JSON array position (1-based).
    pub line: u64,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// A child pool of the event, by id or by name.
    pub section: Option<String>,
}

/// A row that did not land, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFailure {
    pub line: u64,
    pub external_id: Option<String>,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeView {
    pub id: String,
    pub event_id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub section_id: Option<String>,
    /// The attendee's ticket that is not void, if any.
    pub ticket_id: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Valid,
    Used,
    Void,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Valid => "valid",
            TicketStatus::Used => "used",
            TicketStatus::Void => "void",
        }
    }

    pub fn parse(value: &str) -> Option<TicketStatus> {
        match value {
            "valid" => Some(TicketStatus::Valid),
            "used" => Some(TicketStatus::Used),
            "void" => Some(TicketStatus::Void),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    pub id: String,
    pub event_id: String,
    /// The pool the ticket holds a unit of: the attendee's section, or the event.
    pub pool_id: String,
    pub attendee_id: String,
    pub hold_id: String,
    /// Short, human-readable, for reading out at a desk.
    pub code: String,
    /// What the server derives the token from (with its own key); useless without that key.
    pub token_seed: String,
    pub status: TicketStatus,
    pub issued_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
    pub voided_at: Option<UnixMillis>,
    /// The job that issued (or last reissued) the ticket.
    pub job_id: Option<String>,
}

/// What issuing needs to know of an attendee: their event and section, and their live (not
/// void) ticket with its status, if they have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeForIssue {
    pub event_id: String,
    pub section_id: Option<String>,
    pub live_ticket: Option<(String, TicketStatus)>,
}

/// A ticket with what a printed ticket shows of its attendee and section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintableTicket {
    pub ticket: TicketView,
    pub attendee_name: String,
    pub external_id: String,
    pub section_name: Option<String>,
}

/// A ticket ready to issue: the server made its secret parts, the writer decides the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTicket {
    pub attendee_id: String,
    pub code: String,
    pub token_seed: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
}

#[derive(Debug, Clone)]
pub enum TicketCommand {
    /// Upserts attendees of `event_id` on `external_id`. `rejected` are rows the server already
    /// found invalid; they are reported with the rest.
    UpsertAttendees {
        event_id: String,
        rows: Vec<NewAttendee>,
        rejected: Vec<RowFailure>,
        /// Answer with the attendees' ids (small imports).
        list: bool,
    },
    /// One chunk of a bulk issuance job: every item is created, skipped or failed, and the job
    /// advances, in one transaction.
    IssueChunk {
        event_id: String,
        progress: JobProgress,
        /// Leave attendees with a ticket alone; otherwise give their valid ticket a new token.
        skip_existing: bool,
        items: Vec<PreparedTicket>,
    },
    /// Voids a valid ticket and gives its unit back.
    Void { ticket_id: String },
    /// Admits, once, the live ticket of `attendee_id` (named by the token) if its token hashes
    /// to `token_hash`; a void ticket with that hash is answered as void.
    CheckIn {
        attendee_id: String,
        token_hash: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub event_id: String,
    pub created: u64,
    pub updated: u64,
    pub failures: Vec<RowFailure>,
    /// `(id, external_id)` of every row that landed, when asked for.
    pub attendees: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum TicketSuccess {
    Imported(ImportSummary),
    Chunk(JobView),
    Ticket(TicketView),
    CheckedIn {
        ticket: TicketView,
        attendee: AttendeeView,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketFailure {
    #[error("ticket {ticket_id} was already used")]
    AlreadyUsed {
        ticket_id: String,
        used_at: UnixMillis,
    },
    #[error("ticket {ticket_id} is void")]
    Void { ticket_id: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketCounts {
    pub valid: i64,
    pub used: i64,
    pub void: i64,
}
