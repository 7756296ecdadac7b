//! Tickets and attendees: a ticket (its token and magic link only when read one by one), the
//! door's answer to a scan, check-in counts, an import's report and an attendee.

use super::jobs::JobBody;
use crate::timestamps::rfc3339;
use allot_store::tickets::{AttendeeView, TicketSuccess, TicketView};
use serde::Serialize;
use utoipa::ToSchema;

/// Most row failures an import's answer lists (all are counted).
const MAX_LISTED_FAILURES: usize = 1_000;

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

    /// With the secret that admits its holder, for an operator reading it one by one.
    pub fn with_secret(mut self, token: String, magic_link: String) -> Self {
        self.token = Some(token);
        self.magic_link = Some(magic_link);
        self
    }
}

/// The door's answer to a first scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInBody {
    /// Always `admitted`; a refused scan is a problem (ticket-used, ticket-void, not-found).
    pub result: String,
    pub ticket: TicketBody,
    pub attendee: AttendeeBody,
}

/// Renders the ticket successes; called from `render`.
pub fn success_bytes(success: &TicketSuccess) -> Vec<u8> {
    let bytes = match success {
        TicketSuccess::Imported(summary) => serde_json::to_vec(&ImportBody::new(summary)),
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
