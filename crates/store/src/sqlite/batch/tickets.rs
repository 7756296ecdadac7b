//! Attendees and tickets in the writer. A ticket is issued by placing a confirmed hold of one
//! unit through the same path as `POST /v1/holds` (the core decides, the ledger records), so a
//! full event answers "no capacity" per attendee and is never oversold; voiding releases it.

use super::super::ticket_reads::{load_attendee, load_ticket};
use super::{Working, jobs, load_hold, new_id, place_hold, tenant_pools, transition};
use crate::StoreError;
use crate::command::{Failure, Outcome, Success};
use crate::jobs::{JobCounters, JobItem, JobProgress};
use crate::model::{LedgerKind, TenantId};
use crate::tickets::*;
use allot_core::{HoldLine, PoolId, Quantity, Refusal, UnixMillis};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::HashMap;

pub(super) fn execute(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    command: TicketCommand,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    match command {
        TicketCommand::UpsertAttendees {
            event_id,
            rows,
            rejected,
            list,
        } => upsert_attendees(tx, work, tenant, event_id, rows, rejected, list, now),
        TicketCommand::IssueChunk {
            event_id,
            progress,
            skip_existing,
            items,
        } => issue_chunk(
            tx,
            work,
            tenant,
            actor,
            &event_id,
            &progress,
            skip_existing,
            items,
            now,
        ),
        TicketCommand::Void { ticket_id } => void_ticket(tx, work, tenant, actor, &ticket_id, now),
        TicketCommand::CheckIn { token_hash } => check_in(tx, tenant, actor, &token_hash, now),
    }
}

fn pool_not_found(id: &str) -> Outcome {
    Err(Failure::NotFound {
        kind: "pool",
        id: id.to_owned(),
    })
}

#[allow(clippy::too_many_arguments)]
fn upsert_attendees(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    event_id: String,
    rows: Vec<NewAttendee>,
    rejected: Vec<RowFailure>,
    list: bool,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let pools = tenant_pools(&mut work.tenants, tenant);
    if !pools.load_chain(tx, tenant, &PoolId(event_id.clone()))? {
        return Ok(pool_not_found(&event_id));
    }
    // A section is a child of the event, named by id or by name; each looked up once per import.
    // An update without an email or section keeps the stored one (a CSV may lack the column).
    let mut sections: HashMap<String, Option<String>> = HashMap::new();
    let mut find_section = tx.prepare_cached(
        "SELECT id FROM pools WHERE tenant_id = ?1 AND parent_id = ?2 AND (id = ?3 OR name = ?3)
         ORDER BY id = ?3 DESC, id LIMIT 1",
    )?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO attendees (tenant_id, id, event_id, external_id, name, email, section_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT (tenant_id, event_id, external_id) DO UPDATE SET
             name = excluded.name, email = COALESCE(excluded.email, email),
             section_id = COALESCE(excluded.section_id, section_id), updated_at = excluded.updated_at
         RETURNING id",
    )?;
    let mut summary = ImportSummary {
        event_id: event_id.clone(),
        failures: rejected,
        ..ImportSummary::default()
    };
    for row in rows {
        let section_id = match &row.section {
            None => None,
            Some(key) => {
                if !sections.contains_key(key) {
                    let found: Option<String> = find_section
                        .query_row(params![tenant.0, event_id, key], |r| r.get(0))
                        .optional()?;
                    sections.insert(key.clone(), found);
                }
                match &sections[key] {
                    Some(id) => Some(id.clone()),
                    None => {
                        summary.failures.push(RowFailure {
                            line: row.line,
                            external_id: Some(row.external_id),
                            field: "section".into(),
                            message: format!("no section {key:?} under this event"),
                        });
                        continue;
                    }
                }
            }
        };
        let id = new_id("att");
        let landed: String = upsert.query_row(
            params![
                tenant.0,
                id,
                event_id,
                row.external_id,
                row.name,
                row.email,
                section_id,
                now.0
            ],
            |r| r.get(0),
        )?;
        if landed == id {
            summary.created += 1;
        } else {
            summary.updated += 1;
        }
        if list {
            summary.attendees.push((landed, row.external_id));
        }
    }
    summary.failures.sort_by_key(|failure| failure.line);
    Ok(Ok(Success::Tickets(TicketSuccess::Imported(summary))))
}

/// What became of one attendee in a chunk.
enum Issued {
    Created,
    Skipped(String),
    Failed(String),
}

#[allow(clippy::too_many_arguments)]
fn issue_chunk(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    event_id: &str,
    progress: &JobProgress,
    skip_existing: bool,
    items: Vec<PreparedTicket>,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let job = match jobs::claim(tx, tenant, progress)? {
        Ok(job) => job,
        Err(failure) => return Ok(Err(failure)),
    };
    if !tenant_pools(&mut work.tenants, tenant).load_chain(
        tx,
        tenant,
        &PoolId(event_id.to_owned()),
    )? {
        return Ok(pool_not_found(event_id));
    }
    let mut delta = JobCounters::default();
    let mut noted = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let issued = issue_one(
            tx,
            work,
            tenant,
            actor,
            event_id,
            &job.id,
            skip_existing,
            item,
            now,
        )?;
        delta.done += 1;
        let (outcome, reason) = match issued {
            Issued::Created => {
                delta.created += 1;
                continue;
            }
            Issued::Skipped(reason) => {
                delta.skipped += 1;
                ("skipped", reason)
            }
            Issued::Failed(reason) => {
                delta.failed += 1;
                ("failed", reason)
            }
        };
        noted.push(JobItem {
            seq: job.counters.done + index as i64,
            item: item.attendee_id.clone(),
            outcome: outcome.to_owned(),
            reason,
        });
    }
    let job = jobs::advance(tx, tenant, &job, progress, delta, &noted, now)?;
    Ok(Ok(Success::Tickets(TicketSuccess::Chunk(job))))
}

#[allow(clippy::too_many_arguments)]
fn issue_one(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    event_id: &str,
    job_id: &str,
    skip_existing: bool,
    item: &PreparedTicket,
    now: UnixMillis,
) -> Result<Issued, StoreError> {
    let attendee: Option<(String, Option<String>)> = tx
        .prepare_cached(
            "SELECT event_id, section_id FROM attendees WHERE tenant_id = ?1 AND id = ?2",
        )?
        .query_row(params![tenant.0, item.attendee_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((attendee_event, section_id)) = attendee else {
        return Ok(Issued::Failed("unknown attendee".into()));
    };
    if attendee_event != event_id {
        return Ok(Issued::Failed("the attendee is not of this event".into()));
    }
    let existing: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT id, status FROM tickets WHERE tenant_id = ?1 AND attendee_id = ?2 AND status != 'void'",
        )?
        .query_row(params![tenant.0, item.attendee_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    if let Some((ticket_id, status)) = existing {
        if skip_existing {
            return Ok(Issued::Skipped("has a ticket".into()));
        }
        if status == TicketStatus::Used.as_str() {
            return Ok(Issued::Skipped("the ticket was already used".into()));
        }
        // Regenerating keeps the ticket and its unit, and replaces its code and token: the old
        // QR code stops working.
        tx.prepare_cached(
            "UPDATE tickets SET code = ?3, token_seed = ?4, token_hash = ?5, issued_at = ?6, job_id = ?7
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![
            tenant.0,
            ticket_id,
            item.code,
            item.token_seed,
            item.token_hash,
            now.0,
            job_id
        ])?;
        return Ok(Issued::Created);
    }
    let pool_id = section_id.unwrap_or_else(|| event_id.to_owned());
    let line = HoldLine {
        pool_id: PoolId(pool_id.clone()),
        quantity: Quantity::new(1).map_err(|e| StoreError::Other(e.to_string()))?,
    };
    let hold = match place_hold(tx, work, tenant, actor, vec![line], now, None, true, now)? {
        Ok(Success::Hold { hold, .. }) => hold,
        Ok(_) => return Err(StoreError::Other("a hold answered something else".into())),
        Err(Failure::Refused(Refusal::InsufficientCapacity { .. })) => {
            return Ok(Issued::Failed("no capacity".into()));
        }
        Err(failure) => return Ok(Issued::Failed(failure.to_string())),
    };
    tx.prepare_cached(
        "INSERT INTO tickets (tenant_id, id, event_id, pool_id, attendee_id, hold_id, code, token_seed, token_hash,
             status, issued_at, job_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'valid', ?10, ?11)",
    )?
    .execute(params![
        tenant.0,
        new_id("tkt"),
        event_id,
        pool_id,
        item.attendee_id,
        hold.id,
        item.code,
        item.token_seed,
        item.token_hash,
        now.0,
        job_id
    ])?;
    Ok(Issued::Created)
}

fn void_ticket(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    actor: Option<&str>,
    ticket_id: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let Some(ticket) = load_ticket(tx, tenant, ticket_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "ticket",
            id: ticket_id.to_owned(),
        }));
    };
    match ticket.status {
        TicketStatus::Valid => {}
        TicketStatus::Void => {
            return Ok(Err(TicketFailure::Void {
                ticket_id: ticket.id,
            }
            .into()));
        }
        // Someone already came in on it: giving its unit back would oversell the hall.
        TicketStatus::Used => {
            return Ok(Err(TicketFailure::AlreadyUsed {
                ticket_id: ticket.id,
                used_at: ticket.used_at.unwrap_or(ticket.issued_at),
            }
            .into()));
        }
    }
    let hold = load_hold(tx, tenant, &ticket.hold_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("ticket {} names a missing hold", ticket.id)))?;
    let (status, effect) = hold.lifecycle().release(now).map_err(|error| {
        StoreError::Corrupt(format!(
            "ticket {}'s hold cannot be released: {error}",
            ticket.id
        ))
    })?;
    transition(
        tx,
        work,
        tenant,
        actor,
        &hold,
        status,
        effect,
        LedgerKind::Release,
        now,
    )?;
    tx.prepare_cached(
        "UPDATE tickets SET status = 'void', voided_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![tenant.0, ticket.id, now.0])?;
    let ticket = load_ticket(tx, tenant, ticket_id)?
        .ok_or_else(|| StoreError::Other("a ticket just voided is missing".into()))?;
    Ok(Ok(Success::Tickets(TicketSuccess::Ticket(ticket))))
}

fn check_in(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    actor: Option<&str>,
    token_hash: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    let ticket_id: Option<String> = tx
        .prepare_cached("SELECT id FROM tickets WHERE token_hash = ?1 AND tenant_id = ?2")?
        .query_row(params![token_hash, tenant.0], |row| row.get(0))
        .optional()?;
    let Some(ticket) = (match ticket_id {
        Some(id) => load_ticket(tx, tenant, &id)?,
        None => None,
    }) else {
        return Ok(Err(Failure::NotFound {
            kind: "ticket",
            id: "for this token".into(),
        }));
    };
    let record = |result: &str| -> Result<(), StoreError> {
        tx.prepare_cached(
            "INSERT INTO checkins (tenant_id, id, ticket_id, result, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![tenant.0, new_id("chk"), ticket.id, result, actor, now.0])?;
        Ok(())
    };
    match ticket.status {
        TicketStatus::Used => {
            record("already_used")?;
            Ok(Err(TicketFailure::AlreadyUsed {
                ticket_id: ticket.id.clone(),
                used_at: ticket.used_at.unwrap_or(ticket.issued_at),
            }
            .into()))
        }
        TicketStatus::Void => {
            record("void")?;
            Ok(Err(TicketFailure::Void {
                ticket_id: ticket.id.clone(),
            }
            .into()))
        }
        TicketStatus::Valid => {
            record("admitted")?;
            tx.prepare_cached(
                "UPDATE tickets SET status = 'used', used_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.0, ticket.id, now.0])?;
            let ticket = load_ticket(tx, tenant, &ticket.id)?
                .ok_or_else(|| StoreError::Other("a ticket just used is missing".into()))?;
            let attendee = load_attendee(tx, tenant, &ticket.attendee_id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("ticket {} names a missing attendee", ticket.id))
            })?;
            Ok(Ok(Success::Tickets(TicketSuccess::CheckedIn {
                ticket,
                attendee,
            })))
        }
    }
}
