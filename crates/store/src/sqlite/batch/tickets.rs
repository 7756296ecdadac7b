//! Attendees and tickets in the writer. A ticket is issued as a confirmed hold of one unit,
//! decided by the core exactly as `POST /v1/holds` with `confirm: true` is, so a full event
//! answers "no capacity" per attendee and is never oversold; voiding releases the hold. A chunk
//! writes one ledger entry per pool for the units it issued (the hold rows name each unit), so
//! `allot verify` recomputes the same counters from the ledger and from the holds.

use super::super::reads::load_hold;
use super::super::ticket_reads::{load_attendee, load_ticket};
use super::{LedgerEntry, SqlitePort, Tx, Working, new_id, tenant_pools, transition};
use crate::StoreError;
use crate::command::{Failure, Outcome, Success};
use crate::jobs::{JobCounters, JobItem, JobProgress};
use crate::model::{HoldLineView, LedgerKind, TenantId};
use crate::tickets::*;
use allot_core::{HoldLine, PoolId, Quantity, Refusal, UnixMillis};
use allot_engine::apply::jobs as engine_jobs;
use allot_engine::rules::tickets::{self as ticket_rules, AttendeeTicket, IssueStep, issue_step};
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
        TicketCommand::CheckIn {
            attendee_id,
            token_hash,
        } => check_in(tx, tenant, actor, &attendee_id, &token_hash, now),
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
    if !pools.load_chain(&mut Tx(tx), tenant, &PoolId(event_id.clone()))? {
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

/// What one chunk issued, per pool: written as one ledger entry per pool when the chunk ends.
#[derive(Default)]
struct Issuance {
    committed: HashMap<PoolId, i64>,
    /// The `lines` JSON of a one-unit hold on each pool, made once per chunk.
    lines: HashMap<PoolId, String>,
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
    let job = match engine_jobs::claim(&mut work.port(tx), tenant, progress)? {
        Ok(job) => job,
        Err(failure) => return Ok(Err(failure)),
    };
    if !tenant_pools(&mut work.tenants, tenant).load_chain(
        &mut Tx(tx),
        tenant,
        &PoolId(event_id.to_owned()),
    )? {
        return Ok(pool_not_found(event_id));
    }
    let mut delta = JobCounters::default();
    let mut noted = Vec::new();
    let mut issuance = Issuance::default();
    for (index, item) in items.iter().enumerate() {
        let issued = issue_one(
            tx,
            work,
            tenant,
            event_id,
            &job.id,
            skip_existing,
            item,
            &mut issuance,
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
    // One ledger entry per pool for the whole chunk: the tickets (and their holds) name the
    // units one by one; the ledger keeps the counters recomputable at a fraction of the rows.
    let pools = tenant_pools(&mut work.tenants, tenant);
    let mut committed: Vec<(PoolId, i64)> = issuance.committed.into_iter().collect();
    committed.sort();
    let reason = format!("tickets issued by job {}", job.id);
    for (pool_id, units) in committed {
        let capacity = pools
            .set
            .get(&pool_id)
            .expect("a pool that issued tickets is loaded")
            .limits
            .capacity
            .get();
        work.appends.ledger(LedgerEntry {
            tenant,
            pool_id: &pool_id,
            hold_id: None,
            kind: LedgerKind::Hold,
            held_delta: 0,
            committed_delta: units,
            capacity_after: capacity,
            actor,
            reason: Some(&reason),
            at: now,
        });
        pools.mark_chain_dirty(&pool_id);
    }
    let job = engine_jobs::advance(
        &mut work.port(tx),
        tenant,
        &job,
        progress,
        delta,
        noted,
        now,
    )?;
    Ok(Ok(Success::Tickets(TicketSuccess::Chunk(job))))
}

/// An attendee's event and section, and the id and status of their ticket that is not void.
type AttendeeAndTicket = (String, Option<String>, Option<String>, Option<String>);

#[allow(clippy::too_many_arguments)]
fn issue_one(
    tx: &Transaction<'_>,
    work: &mut Working,
    tenant: &TenantId,
    event_id: &str,
    job_id: &str,
    skip_existing: bool,
    item: &PreparedTicket,
    issuance: &mut Issuance,
    now: UnixMillis,
) -> Result<Issued, StoreError> {
    // The attendee, and their ticket that is not void, in one probe of each index.
    let found: Option<AttendeeAndTicket> = tx
        .prepare_cached(
            "SELECT a.event_id, a.section_id, t.id, t.status FROM attendees a
             LEFT JOIN tickets t ON t.tenant_id = a.tenant_id AND t.attendee_id = a.id AND t.status != 'void'
             WHERE a.tenant_id = ?1 AND a.id = ?2",
        )?
        .query_row(params![tenant.0, item.attendee_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let (attendee, section_id) = match &found {
        None => (None, None),
        Some((attendee_event, section_id, ticket_id, status)) => {
            let live_ticket = match (ticket_id, status) {
                (Some(id), Some(status)) => {
                    let status = TicketStatus::parse(status).ok_or_else(|| {
                        StoreError::Corrupt(format!("ticket {id} has status {status:?}"))
                    })?;
                    Some((id.as_str(), status))
                }
                _ => None,
            };
            let attendee = AttendeeTicket {
                event_id: attendee_event,
                live_ticket,
            };
            (Some(attendee), section_id.clone())
        }
    };
    match issue_step(attendee, event_id, skip_existing) {
        IssueStep::Fail(reason) => return Ok(Issued::Failed(reason.into())),
        IssueStep::Skip(reason) => return Ok(Issued::Skipped(reason.into())),
        IssueStep::Issue => {}
        IssueStep::Reissue { ticket_id } => {
            // Regenerating keeps the ticket and its unit, and replaces its code and token: the
            // old QR code stops working.
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
    }
    let pool_id = PoolId(section_id.unwrap_or_else(|| event_id.to_owned()));
    let pools = tenant_pools(&mut work.tenants, tenant);
    // As for a hold: a dated session's own pool, or a past date, is refused.
    if let Err(failure) = pools.load_for_use(
        &mut SqlitePort {
            tx,
            appends: &mut work.appends,
            ids: &mut work.ids,
            waitlist_seq: &mut work.waitlist_seq,
            outbox: &mut work.outbox,
        },
        tenant,
        &pool_id,
        now,
    )? {
        return Ok(Issued::Failed(failure.to_string()));
    }
    // The core decides, exactly as for `POST /v1/holds` with `confirm: true`.
    let line = HoldLine {
        pool_id: pool_id.clone(),
        quantity: Quantity::new(1).map_err(|e| StoreError::Other(e.to_string()))?,
    };
    match pools.set.place(std::slice::from_ref(&line), true) {
        Ok(_) => {}
        Err(Refusal::InsufficientCapacity { .. }) => {
            return Ok(Issued::Failed("no capacity".into()));
        }
        Err(refusal) => return Ok(Issued::Failed(refusal.to_string())),
    }
    if !issuance.lines.contains_key(&pool_id) {
        let lines = vec![HoldLineView {
            pool_id: pool_id.0.clone(),
            quantity: 1,
            unit_price: pools.rows[&pool_id].price.clone(),
        }];
        issuance
            .lines
            .insert(pool_id.clone(), serde_json::to_string(&lines)?);
    }
    let hold_id = new_id("hold");
    tx.prepare_cached(
        "INSERT INTO holds (id, tenant_id, status, holder, expires_at, lines, created_at, updated_at)
         VALUES (?1, ?2, 'confirmed', NULL, ?3, ?4, ?3, ?3)",
    )?
    .execute(params![hold_id, tenant.0, now.0, issuance.lines[&pool_id]])?;
    tx.prepare_cached(
        "INSERT INTO tickets (tenant_id, id, event_id, pool_id, attendee_id, hold_id, code, token_seed, token_hash,
             status, issued_at, job_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'valid', ?10, ?11)",
    )?
    .execute(params![
        tenant.0,
        new_id("tkt"),
        event_id,
        pool_id.0,
        item.attendee_id,
        hold_id,
        item.code,
        item.token_seed,
        item.token_hash,
        now.0,
        job_id
    ])?;
    *issuance.committed.entry(pool_id).or_default() += 1;
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
    if let Err(failure) = ticket_rules::check_void(&ticket) {
        return Ok(Err(failure.into()));
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
    attendee_id: &str,
    token_hash: &str,
    now: UnixMillis,
) -> Result<Outcome, StoreError> {
    // The attendee's live ticket if the token is its current one, else a void ticket of it.
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
    let (result, admitted) = ticket_rules::check_in(&ticket);
    record(result)?;
    if let Err(failure) = admitted {
        return Ok(Err(failure.into()));
    }
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
