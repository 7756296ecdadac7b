//! Tickets' outcomes: whether an attendee gets a new ticket, keeps theirs with new tokens, or is
//! skipped or failed; whether a ticket may be voided; what a scan at the door does.

use crate::tickets::{TicketFailure, TicketStatus, TicketView};

/// What issuing does for one attendee, given what the store holds of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueStep {
    /// A new ticket, taking one unit of the attendee's section (or the event).
    Issue,
    /// New tokens on the attendee's live ticket (regeneration): no unit moves.
    Reissue {
        ticket_id: String,
    },
    Skip(&'static str),
    Fail(&'static str),
}

/// The attendee as loaded: their event and their live (not void) ticket, if any.
pub struct AttendeeTicket<'a> {
    pub event_id: &'a str,
    pub live_ticket: Option<(&'a str, TicketStatus)>,
}

pub fn issue_step(
    attendee: Option<AttendeeTicket<'_>>,
    event_id: &str,
    skip_existing: bool,
) -> IssueStep {
    let Some(attendee) = attendee else {
        return IssueStep::Fail("unknown attendee");
    };
    if attendee.event_id != event_id {
        return IssueStep::Fail("the attendee is not of this event");
    }
    match attendee.live_ticket {
        None => IssueStep::Issue,
        Some(_) if skip_existing => IssueStep::Skip("has a ticket"),
        // A ticket scanned at the door keeps its tokens: a new QR would not let anyone in again.
        Some((_, TicketStatus::Used)) => IssueStep::Skip("the ticket was already used"),
        Some((ticket_id, _)) => IssueStep::Reissue {
            ticket_id: ticket_id.to_owned(),
        },
    }
}

/// A valid ticket may be voided (its unit goes back); a used or void one may not.
pub fn check_void(ticket: &TicketView) -> Result<(), TicketFailure> {
    match ticket.status {
        TicketStatus::Valid => Ok(()),
        TicketStatus::Void => Err(TicketFailure::Void {
            ticket_id: ticket.id.clone(),
        }),
        TicketStatus::Used => Err(TicketFailure::AlreadyUsed {
            ticket_id: ticket.id.clone(),
            used_at: ticket.used_at.unwrap_or(ticket.issued_at),
        }),
    }
}

/// A scan at the door: the result kept in the check-in log, and whether it admits. A valid
/// ticket admits once; every later scan is logged and refused with the first scan's time.
pub fn check_in(ticket: &TicketView) -> (&'static str, Result<(), TicketFailure>) {
    match check_void(ticket) {
        Ok(()) => ("admitted", Ok(())),
        Err(failure @ TicketFailure::Void { .. }) => ("void", Err(failure)),
        Err(failure @ TicketFailure::AlreadyUsed { .. }) => ("already_used", Err(failure)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allot_core::UnixMillis;

    fn ticket(status: TicketStatus, used_at: Option<i64>) -> TicketView {
        TicketView {
            id: "tkt_1".into(),
            event_id: "graduation".into(),
            pool_id: "graduation".into(),
            attendee_id: "att_1".into(),
            hold_id: "hold_1".into(),
            code: "ABC".into(),
            token_seed: "seed".into(),
            status,
            issued_at: UnixMillis(10),
            used_at: used_at.map(UnixMillis),
            voided_at: None,
            job_id: None,
        }
    }

    fn attendee<'a>(
        event_id: &'a str,
        live: Option<(&'a str, TicketStatus)>,
    ) -> Option<AttendeeTicket<'a>> {
        Some(AttendeeTicket {
            event_id,
            live_ticket: live,
        })
    }

    #[test]
    fn a_graduate_without_a_ticket_gets_one_and_others_are_skipped_or_reissued() {
        assert_eq!(
            issue_step(attendee("graduation", None), "graduation", true),
            IssueStep::Issue
        );
        assert_eq!(
            issue_step(
                attendee("graduation", Some(("tkt_1", TicketStatus::Valid))),
                "graduation",
                true
            ),
            IssueStep::Skip("has a ticket")
        );
        assert_eq!(
            issue_step(
                attendee("graduation", Some(("tkt_1", TicketStatus::Valid))),
                "graduation",
                false
            ),
            IssueStep::Reissue {
                ticket_id: "tkt_1".into()
            }
        );
        assert_eq!(
            issue_step(
                attendee("graduation", Some(("tkt_1", TicketStatus::Used))),
                "graduation",
                false
            ),
            IssueStep::Skip("the ticket was already used")
        );
    }

    #[test]
    fn an_unknown_or_foreign_attendee_fails_alone() {
        assert_eq!(
            issue_step(None, "graduation", true),
            IssueStep::Fail("unknown attendee")
        );
        assert_eq!(
            issue_step(attendee("other-ceremony", None), "graduation", true),
            IssueStep::Fail("the attendee is not of this event")
        );
    }

    #[test]
    fn a_ticket_admits_once_and_void_ones_never() {
        assert_eq!(
            check_in(&ticket(TicketStatus::Valid, None)),
            ("admitted", Ok(()))
        );
        let again = check_in(&ticket(TicketStatus::Used, Some(20)));
        assert_eq!(
            again,
            (
                "already_used",
                Err(TicketFailure::AlreadyUsed {
                    ticket_id: "tkt_1".into(),
                    used_at: UnixMillis(20)
                })
            )
        );
        assert_eq!(check_in(&ticket(TicketStatus::Void, None)).0, "void");
        assert!(check_void(&ticket(TicketStatus::Valid, None)).is_ok());
        assert!(check_void(&ticket(TicketStatus::Void, None)).is_err());
    }
}
