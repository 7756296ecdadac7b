//! Attendees and tickets as SQLite keeps them for the engine, which decides them
//! (`allot_engine::apply::tickets`): the reads issuing and check-in need, each one probe of an
//! index, and the changes written at once (a ticket's hold goes with the other new holds).

use super::super::ticket_reads::{ATTENDEE_COLUMNS, attendee_from_row, load_attendee, load_ticket};
use crate::StoreError;
use crate::model::TenantId;
use crate::tickets::*;
use allot_engine::change::Change;
use rusqlite::{OptionalExtension, Transaction, params};

/// A section of an event: its child pool with this id, or else its child pool of this name.
pub(super) fn event_section(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    event_id: &str,
    id_or_name: &str,
) -> Result<Option<String>, StoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT id FROM pools WHERE tenant_id = ?1 AND parent_id = ?2 AND (id = ?3 OR name = ?3)
             ORDER BY id = ?3 DESC, id LIMIT 1",
        )?
        .query_row(params![tenant.0, event_id, id_or_name], |r| r.get(0))
        .optional()?)
}

pub(super) fn attendee_by_external_id(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    event_id: &str,
    external_id: &str,
) -> Result<Option<AttendeeView>, StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {ATTENDEE_COLUMNS} FROM attendees a
         WHERE a.tenant_id = ?1 AND a.event_id = ?2 AND a.external_id = ?3"
    ))?;
    let mut rows = stmt.query(params![tenant.0, event_id, external_id])?;
    match rows.next()? {
        Some(row) => Ok(Some(attendee_from_row(row)?)),
        None => Ok(None),
    }
}

pub(super) fn attendee(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<AttendeeView>, StoreError> {
    load_attendee(tx, tenant, id)
}

/// The attendee, and their ticket that is not void, in one probe of each index.
pub(super) fn attendee_for_issue(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    attendee_id: &str,
) -> Result<Option<AttendeeForIssue>, StoreError> {
    type Found = (String, Option<String>, Option<String>, Option<String>);
    let found: Option<Found> = tx
        .prepare_cached(
            "SELECT a.event_id, a.section_id, t.id, t.status FROM attendees a
             LEFT JOIN tickets t ON t.tenant_id = a.tenant_id AND t.attendee_id = a.id AND t.status != 'void'
             WHERE a.tenant_id = ?1 AND a.id = ?2",
        )?
        .query_row(params![tenant.0, attendee_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let Some((event_id, section_id, ticket_id, status)) = found else {
        return Ok(None);
    };
    let live_ticket = match (ticket_id, status) {
        (Some(id), Some(status)) => {
            let status = TicketStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket {id} has status {status:?}")))?;
            Some((id, status))
        }
        _ => None,
    };
    Ok(Some(AttendeeForIssue {
        event_id,
        section_id,
        live_ticket,
    }))
}

pub(super) fn ticket(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<TicketView>, StoreError> {
    load_ticket(tx, tenant, id)
}

/// The attendee's live ticket if the token is its current one, else a void ticket with it.
pub(super) fn ticket_for_token(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    attendee_id: &str,
    token_hash: &str,
) -> Result<Option<TicketView>, StoreError> {
    let live: Option<String> = tx
        .prepare_cached(
            "SELECT id FROM tickets WHERE tenant_id = ?1 AND attendee_id = ?2 AND status != 'void' AND token_hash = ?3",
        )?
        .query_row(params![tenant.0, attendee_id, token_hash], |row| row.get(0))
        .optional()?;
    let ticket_id = match live {
        Some(id) => Some(id),
        None => tx
            .prepare_cached(
                "SELECT id FROM tickets WHERE tenant_id = ?1 AND token_hash = ?2 AND status = 'void'",
            )?
            .query_row(params![tenant.0, token_hash], |row| row.get(0))
            .optional()?,
    };
    match ticket_id {
        Some(id) => load_ticket(tx, tenant, &id),
        None => Ok(None),
    }
}

/// Writes a change of attendees or tickets.
pub(super) fn write(tx: &Transaction<'_>, change: Change) -> Result<(), StoreError> {
    match change {
        Change::NewAttendee { tenant, attendee } => {
            tx.prepare_cached(
                "INSERT INTO attendees (tenant_id, id, event_id, external_id, name, email, section_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                tenant.0,
                attendee.id,
                attendee.event_id,
                attendee.external_id,
                attendee.name,
                attendee.email,
                attendee.section_id,
                attendee.created_at.0,
                attendee.updated_at.0
            ])?;
        }
        Change::AttendeeUpdated {
            tenant,
            attendee_id,
            name,
            email,
            section_id,
            at,
        } => {
            let changed = tx
                .prepare_cached(
                    "UPDATE attendees SET name = ?3, email = ?4, section_id = ?5, updated_at = ?6
                     WHERE tenant_id = ?1 AND id = ?2",
                )?
                .execute(params![
                    tenant.0,
                    attendee_id,
                    name,
                    email,
                    section_id,
                    at.0
                ])?;
            one_row(changed, || format!("attendee {attendee_id} is gone"))?;
        }
        Change::NewTicket {
            tenant,
            ticket,
            token_hash,
        } => {
            tx.prepare_cached(
                "INSERT INTO tickets (tenant_id, id, event_id, pool_id, attendee_id, hold_id, code, token_seed, token_hash,
                     status, issued_at, job_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                tenant.0,
                ticket.id,
                ticket.event_id,
                ticket.pool_id,
                ticket.attendee_id,
                ticket.hold_id,
                ticket.code,
                ticket.token_seed,
                token_hash,
                ticket.status.as_str(),
                ticket.issued_at.0,
                ticket.job_id
            ])?;
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
            let changed = tx
                .prepare_cached(
                    "UPDATE tickets SET code = ?3, token_seed = ?4, token_hash = ?5, issued_at = ?6, job_id = ?7
                     WHERE tenant_id = ?1 AND id = ?2 AND status != 'void'",
                )?
                .execute(params![
                    tenant.0, ticket_id, code, token_seed, token_hash, at.0, job_id
                ])?;
            one_row(changed, || format!("ticket {ticket_id} is no longer live"))?;
        }
        Change::TicketStatus {
            tenant,
            ticket_id,
            from,
            to,
            at,
        } => {
            let (used_at, voided_at) = match to {
                TicketStatus::Used => (Some(at.0), None),
                TicketStatus::Void => (None, Some(at.0)),
                TicketStatus::Valid => (None, None),
            };
            let changed = tx
                .prepare_cached(
                    "UPDATE tickets SET status = ?4, used_at = COALESCE(?5, used_at), voided_at = COALESCE(?6, voided_at)
                     WHERE tenant_id = ?1 AND id = ?2 AND status = ?3",
                )?
                .execute(params![
                    tenant.0,
                    ticket_id,
                    from.as_str(),
                    to.as_str(),
                    used_at,
                    voided_at
                ])?;
            one_row(changed, || {
                format!("ticket {ticket_id} is no longer {}", from.as_str())
            })?;
        }
        Change::NewCheckIn {
            tenant,
            id,
            ticket_id,
            result,
            actor,
            at,
        } => {
            tx.prepare_cached(
                "INSERT INTO checkins (tenant_id, id, ticket_id, result, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![tenant.0, id, ticket_id, result, actor, at.0])?;
        }
        other => {
            return Err(StoreError::Other(format!(
                "not a change of attendees or tickets: {other:?}"
            )));
        }
    }
    Ok(())
}

/// One row changed by a transition from → to, or another writer got there first.
fn one_row(changed: usize, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    match changed {
        1 => Ok(()),
        _ => Err(StoreError::Conflict(what())),
    }
}
