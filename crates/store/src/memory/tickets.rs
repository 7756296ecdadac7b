//! Attendees, tickets and scans at the door, as the in-memory store keeps them: the changes the
//! engine decides applied at once (each answering how to take it back), and the reads issuing
//! and check-in need. Reads scan a tenant's rows: this store holds test-sized events.

use crate::model::TenantId;
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketStatus, TicketView};
use allot_core::UnixMillis;
use allot_engine::Error;
use allot_engine::change::Change;
use std::collections::BTreeMap;

/// A ticket as kept: its view and the hash its token must have at the door.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTicket {
    pub view: TicketView,
    pub token_hash: String,
}

/// One scan at the door.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    pub tenant: TenantId,
    pub id: String,
    pub ticket_id: String,
    pub result: &'static str,
    pub actor: Option<String>,
    pub at: UnixMillis,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketBook {
    /// Attendees by tenant and id; `ticket_id` is answered from `tickets`, not kept here.
    pub attendees: BTreeMap<(TenantId, String), AttendeeView>,
    /// Attendee ids by tenant, event and external id: one attendee each.
    pub by_external_id: BTreeMap<(TenantId, String, String), String>,
    pub tickets: BTreeMap<(TenantId, String), StoredTicket>,
    pub checkins: Vec<CheckIn>,
}

/// What one change replaced.
pub(super) enum TicketUndo {
    Attendee((TenantId, String), Option<AttendeeView>),
    ExternalId((TenantId, String, String)),
    Ticket((TenantId, String), Option<StoredTicket>),
    CheckInAppended,
}

impl TicketBook {
    /// Applies a change of attendees or tickets; answers what takes it back, in order.
    pub(super) fn apply(&mut self, change: Change) -> Result<Vec<TicketUndo>, Error> {
        let mut undo = Vec::new();
        match change {
            Change::NewAttendee { tenant, attendee } => {
                let external = (
                    tenant.clone(),
                    attendee.event_id.clone(),
                    attendee.external_id.clone(),
                );
                let key = (tenant, attendee.id.clone());
                if self.by_external_id.contains_key(&external) || self.attendees.contains_key(&key)
                {
                    return Err(Error::Conflict(format!(
                        "attendee {} of event {} exists",
                        external.2, external.1
                    )));
                }
                self.by_external_id.insert(external.clone(), key.1.clone());
                undo.push(TicketUndo::ExternalId(external));
                self.attendees.insert(key.clone(), *attendee);
                undo.push(TicketUndo::Attendee(key, None));
            }
            Change::AttendeeUpdated {
                tenant,
                attendee_id,
                name,
                email,
                section_id,
                at,
            } => {
                let key = (tenant, attendee_id);
                let Some(attendee) = self.attendees.get_mut(&key) else {
                    return Err(Error::Conflict(format!("attendee {} is gone", key.1)));
                };
                let old = attendee.clone();
                attendee.name = name;
                attendee.email = email;
                attendee.section_id = section_id;
                attendee.updated_at = at;
                undo.push(TicketUndo::Attendee(key, Some(old)));
            }
            Change::NewTicket {
                tenant,
                ticket,
                token_hash,
            } => {
                if self.live_ticket_of(&tenant, &ticket.attendee_id).is_some() {
                    return Err(Error::Conflict(format!(
                        "attendee {} already has a live ticket",
                        ticket.attendee_id
                    )));
                }
                let key = (tenant, ticket.id.clone());
                let stored = StoredTicket {
                    view: *ticket,
                    token_hash,
                };
                let old = self.tickets.insert(key.clone(), stored);
                undo.push(TicketUndo::Ticket(key, old));
            }
            Change::TicketReissued {
                tenant,
                ticket_id,
                code,
                token_seed,
                token_hash,
                job_id,
                at,
            } => {
                let key = (tenant, ticket_id);
                let Some(stored) = self
                    .tickets
                    .get_mut(&key)
                    .filter(|stored| stored.view.status != TicketStatus::Void)
                else {
                    return Err(Error::Conflict(format!(
                        "ticket {} is no longer live",
                        key.1
                    )));
                };
                let old = stored.clone();
                stored.view.code = code;
                stored.view.token_seed = token_seed;
                stored.view.issued_at = at;
                stored.view.job_id = Some(job_id);
                stored.token_hash = token_hash;
                undo.push(TicketUndo::Ticket(key, Some(old)));
            }
            Change::TicketStatus {
                tenant,
                ticket_id,
                from,
                to,
                at,
            } => {
                let key = (tenant, ticket_id);
                let Some(stored) = self
                    .tickets
                    .get_mut(&key)
                    .filter(|stored| stored.view.status == from)
                else {
                    return Err(Error::Conflict(format!(
                        "ticket {} is no longer {}",
                        key.1,
                        from.as_str()
                    )));
                };
                let old = stored.clone();
                stored.view.status = to;
                match to {
                    TicketStatus::Used => stored.view.used_at = Some(at),
                    TicketStatus::Void => stored.view.voided_at = Some(at),
                    TicketStatus::Valid => {}
                }
                undo.push(TicketUndo::Ticket(key, Some(old)));
            }
            Change::NewCheckIn {
                tenant,
                id,
                ticket_id,
                result,
                actor,
                at,
            } => {
                self.checkins.push(CheckIn {
                    tenant,
                    id,
                    ticket_id,
                    result,
                    actor,
                    at,
                });
                undo.push(TicketUndo::CheckInAppended);
            }
            other => {
                return Err(Error::Other(format!(
                    "not a change of attendees or tickets: {other:?}"
                )));
            }
        }
        Ok(undo)
    }

    pub(super) fn undo(&mut self, undo: TicketUndo) {
        match undo {
            TicketUndo::Attendee(key, old) => match old {
                Some(old) => {
                    self.attendees.insert(key, old);
                }
                None => {
                    self.attendees.remove(&key);
                }
            },
            TicketUndo::ExternalId(key) => {
                self.by_external_id.remove(&key);
            }
            TicketUndo::Ticket(key, old) => match old {
                Some(old) => {
                    self.tickets.insert(key, old);
                }
                None => {
                    self.tickets.remove(&key);
                }
            },
            TicketUndo::CheckInAppended => {
                self.checkins.pop();
            }
        }
    }

    fn tickets_of<'a>(&'a self, tenant: &'a TenantId) -> impl Iterator<Item = &'a StoredTicket> {
        self.tickets
            .iter()
            .filter(move |((owner, _), _)| owner == tenant)
            .map(|(_, stored)| stored)
    }

    fn live_ticket_of<'a>(
        &'a self,
        tenant: &'a TenantId,
        attendee_id: &str,
    ) -> Option<&'a StoredTicket> {
        self.tickets_of(tenant).find(|stored| {
            stored.view.attendee_id == attendee_id && stored.view.status != TicketStatus::Void
        })
    }

    /// The attendee with their live ticket's id, as every store answers it.
    pub fn attendee(&self, tenant: &TenantId, id: &str) -> Option<AttendeeView> {
        let attendee = self.attendees.get(&(tenant.clone(), id.to_owned()))?;
        Some(AttendeeView {
            ticket_id: self
                .live_ticket_of(tenant, id)
                .map(|stored| stored.view.id.clone()),
            ..attendee.clone()
        })
    }

    pub fn attendee_by_external_id(
        &self,
        tenant: &TenantId,
        event_id: &str,
        external_id: &str,
    ) -> Option<AttendeeView> {
        let key = (tenant.clone(), event_id.to_owned(), external_id.to_owned());
        let id = self.by_external_id.get(&key)?;
        self.attendee(tenant, id)
    }

    pub fn attendee_for_issue(
        &self,
        tenant: &TenantId,
        attendee_id: &str,
    ) -> Option<AttendeeForIssue> {
        let attendee = self
            .attendees
            .get(&(tenant.clone(), attendee_id.to_owned()))?;
        Some(AttendeeForIssue {
            event_id: attendee.event_id.clone(),
            section_id: attendee.section_id.clone(),
            live_ticket: self
                .live_ticket_of(tenant, attendee_id)
                .map(|stored| (stored.view.id.clone(), stored.view.status)),
        })
    }

    pub fn ticket(&self, tenant: &TenantId, id: &str) -> Option<TicketView> {
        self.tickets
            .get(&(tenant.clone(), id.to_owned()))
            .map(|stored| stored.view.clone())
    }

    pub fn ticket_for_token(
        &self,
        tenant: &TenantId,
        attendee_id: &str,
        token_hash: &str,
    ) -> Option<TicketView> {
        let live = self
            .live_ticket_of(tenant, attendee_id)
            .filter(|stored| stored.token_hash == token_hash);
        live.or_else(|| {
            self.tickets_of(tenant).find(|stored| {
                stored.view.status == TicketStatus::Void && stored.token_hash == token_hash
            })
        })
        .map(|stored| stored.view.clone())
    }
}
