//! Attendees and tickets. A ticket is issued as a confirmed hold of one unit, decided by the core
//! exactly as a hold placed with `confirm: true` is, so a full event answers "no capacity" per
//! attendee and is never oversold; voiding releases the hold. A chunk of a bulk issuance writes
//! one ledger entry per pool for the units it issued (the hold rows name each unit), so
//! `allot verify` recomputes the same counters from the ledger and from the holds.

use crate::Error;
use crate::apply::holds::{self, Step};
use crate::apply::jobs;
use crate::change::{Change, NewHold};
use crate::command::{Failure, Outcome, Success};
use crate::jobs::{JobCounters, JobItem, JobProgress};
use crate::model::{HoldLineView, LedgerKind, TenantId};
use crate::port::Port;
use crate::rules::tickets::{self as ticket_rules, AttendeeTicket, IssueStep};
use crate::tickets::*;
use crate::working::{NewLedgerEntry, TenantPools};
use allot_core::{HoldLine, HoldStatus, PoolId, Quantity, Refusal, UnixMillis};
use std::collections::{BTreeMap, HashMap};

pub fn execute<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    command: TicketCommand,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    match command {
        TicketCommand::UpsertAttendees {
            event_id,
            rows,
            rejected,
            list,
        } => upsert_attendees(port, pools, tenant, event_id, rows, rejected, list, now),
        TicketCommand::IssueChunk {
            event_id,
            progress,
            skip_existing,
            items,
        } => {
            let chunk = Chunk {
                event_id: &event_id,
                progress: &progress,
                skip_existing,
            };
            issue_chunk(port, pools, tenant, actor, chunk, items, now)
        }
        TicketCommand::Void { ticket_id } => void(port, pools, tenant, actor, &ticket_id, now),
        TicketCommand::CheckIn {
            attendee_id,
            token_hash,
        } => check_in(port, tenant, actor, &attendee_id, &token_hash, now),
    }
}

fn pool_not_found(id: &str) -> Outcome {
    Err(Failure::NotFound {
        kind: "pool",
        id: id.to_owned(),
    })
}

/// Upserts attendees on their external id. A row without an e-mail or a section keeps the
/// stored one (a CSV may lack the column); a section is named by id or by name, each looked up
/// once per import.
#[allow(clippy::too_many_arguments)]
fn upsert_attendees<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    event_id: String,
    rows: Vec<NewAttendee>,
    rejected: Vec<RowFailure>,
    list: bool,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    if !pools.load_chain(port, tenant, &PoolId(event_id.clone()))? {
        return Ok(pool_not_found(&event_id));
    }
    let mut sections: HashMap<String, Option<String>> = HashMap::new();
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
                    let found = port.event_section(tenant, &event_id, key)?;
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
        let id = match port.attendee_by_external_id(tenant, &event_id, &row.external_id)? {
            Some(stored) => {
                port.persist(Change::AttendeeUpdated {
                    tenant: tenant.clone(),
                    attendee_id: stored.id.clone(),
                    name: row.name,
                    email: row.email.or(stored.email),
                    section_id: section_id.or(stored.section_id),
                    at: now,
                })?;
                summary.updated += 1;
                stored.id
            }
            None => {
                let id = port.new_id("att");
                let attendee = AttendeeView {
                    id: id.clone(),
                    event_id: event_id.clone(),
                    external_id: row.external_id.clone(),
                    name: row.name,
                    email: row.email,
                    section_id,
                    ticket_id: None,
                    created_at: now,
                    updated_at: now,
                };
                port.persist(Change::NewAttendee {
                    tenant: tenant.clone(),
                    attendee: Box::new(attendee),
                })?;
                summary.created += 1;
                id
            }
        };
        if list {
            summary.attendees.push((id, row.external_id));
        }
    }
    summary.failures.sort_by_key(|failure| failure.line);
    Ok(Ok(Success::Tickets(TicketSuccess::Imported(summary))))
}

/// Which chunk of which issuance job.
struct Chunk<'a> {
    event_id: &'a str,
    progress: &'a JobProgress,
    skip_existing: bool,
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
    committed: BTreeMap<PoolId, i64>,
    /// The `lines` JSON of a one-unit hold on each pool, made once per chunk.
    lines: HashMap<PoolId, String>,
}

fn issue_chunk<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    chunk: Chunk<'_>,
    items: Vec<PreparedTicket>,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let job = match jobs::claim(port, tenant, chunk.progress)? {
        Ok(job) => job,
        Err(failure) => return Ok(Err(failure)),
    };
    if !pools.load_chain(port, tenant, &PoolId(chunk.event_id.to_owned()))? {
        return Ok(pool_not_found(chunk.event_id));
    }
    let mut delta = JobCounters::default();
    let mut noted = Vec::new();
    let mut issuance = Issuance::default();
    for (index, item) in items.iter().enumerate() {
        let issued = issue_one(
            port,
            pools,
            tenant,
            &chunk,
            &job.id,
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
    let reason = format!("tickets issued by job {}", job.id);
    for (pool_id, units) in issuance.committed {
        let capacity = pools
            .set
            .get(&pool_id)
            .expect("a pool that issued tickets is loaded")
            .limits
            .capacity
            .get();
        let entry = NewLedgerEntry {
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
        };
        port.persist(Change::Ledger(entry.into()))?;
        pools.mark_chain_dirty(&pool_id);
    }
    let job = jobs::advance(port, tenant, &job, chunk.progress, delta, noted, now)?;
    Ok(Ok(Success::Tickets(TicketSuccess::Chunk(job))))
}

#[allow(clippy::too_many_arguments)]
fn issue_one<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    chunk: &Chunk<'_>,
    job_id: &str,
    item: &PreparedTicket,
    issuance: &mut Issuance,
    now: UnixMillis,
) -> Result<Issued, Error> {
    let found = port.attendee_for_issue(tenant, &item.attendee_id)?;
    let attendee = found.as_ref().map(|found| AttendeeTicket {
        event_id: &found.event_id,
        live_ticket: found
            .live_ticket
            .as_ref()
            .map(|(id, status)| (id.as_str(), *status)),
    });
    match ticket_rules::issue_step(attendee, chunk.event_id, chunk.skip_existing) {
        IssueStep::Fail(reason) => return Ok(Issued::Failed(reason.into())),
        IssueStep::Skip(reason) => return Ok(Issued::Skipped(reason.into())),
        IssueStep::Issue => {}
        IssueStep::Reissue { ticket_id } => {
            // Regenerating keeps the ticket and its unit, and replaces its code and token.
            port.persist(Change::TicketReissued {
                tenant: tenant.clone(),
                ticket_id,
                code: item.code.clone(),
                token_seed: item.token_seed.clone(),
                token_hash: item.token_hash.clone(),
                job_id: job_id.to_owned(),
                at: now,
            })?;
            return Ok(Issued::Created);
        }
    }
    let section_id = found.and_then(|found| found.section_id);
    let pool_id = PoolId(section_id.unwrap_or_else(|| chunk.event_id.to_owned()));
    // As for a hold: a dated session's own pool, or a past date, is refused.
    if let Err(failure) = pools.load_for_use(port, tenant, &pool_id, now)? {
        return Ok(Issued::Failed(failure.to_string()));
    }
    let line = HoldLine {
        pool_id: pool_id.clone(),
        quantity: Quantity::new(1).expect("one is a valid quantity"),
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
    let hold_id = port.new_id("hold");
    port.persist(Change::NewHold(NewHold {
        id: hold_id.clone(),
        tenant: tenant.clone(),
        status: HoldStatus::Confirmed,
        holder: None,
        expires_at: now,
        lines: issuance.lines[&pool_id].clone(),
        created_at: now,
        waitlist_entry_id: None,
        subject: None,
    }))?;
    let ticket = TicketView {
        id: port.new_id("tkt"),
        event_id: chunk.event_id.to_owned(),
        pool_id: pool_id.0.clone(),
        attendee_id: item.attendee_id.clone(),
        hold_id,
        code: item.code.clone(),
        token_seed: item.token_seed.clone(),
        status: TicketStatus::Valid,
        issued_at: now,
        used_at: None,
        voided_at: None,
        job_id: Some(job_id.to_owned()),
    };
    port.persist(Change::NewTicket {
        tenant: tenant.clone(),
        ticket: Box::new(ticket),
        token_hash: item.token_hash.clone(),
    })?;
    *issuance.committed.entry(pool_id).or_default() += 1;
    Ok(Issued::Created)
}

/// Voids a valid ticket: its hold is released, and the unit goes back to those waiting.
fn void<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    ticket_id: &str,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let Some(ticket) = port.ticket(tenant, ticket_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "ticket",
            id: ticket_id.to_owned(),
        }));
    };
    if let Err(failure) = ticket_rules::check_void(&ticket) {
        return Ok(Err(failure.into()));
    }
    let hold = port
        .hold(tenant, &ticket.hold_id)?
        .ok_or_else(|| Error::Corrupt(format!("ticket {} names a missing hold", ticket.id)))?;
    let (released, _) = holds::step_loaded(port, pools, tenant, actor, hold, now, Step::Release)?;
    released.map_err(|error| {
        Error::Corrupt(format!(
            "ticket {}'s hold cannot be released: {error}",
            ticket.id
        ))
    })?;
    port.persist(Change::TicketStatus {
        tenant: tenant.clone(),
        ticket_id: ticket.id.clone(),
        from: ticket.status,
        to: TicketStatus::Void,
        at: now,
    })?;
    let ticket = TicketView {
        status: TicketStatus::Void,
        voided_at: Some(now),
        ..ticket
    };
    Ok(Ok(Success::Tickets(TicketSuccess::Ticket(ticket))))
}

/// A scan at the door: logged whatever it answers; a valid ticket admits once.
fn check_in<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    actor: Option<&str>,
    attendee_id: &str,
    token_hash: &str,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let Some(ticket) = port.ticket_for_token(tenant, attendee_id, token_hash)? else {
        return Ok(Err(Failure::NotFound {
            kind: "ticket",
            id: "for this token".into(),
        }));
    };
    let (result, admitted) = ticket_rules::check_in(&ticket);
    let id = port.new_id("chk");
    port.persist(Change::NewCheckIn {
        tenant: tenant.clone(),
        id,
        ticket_id: ticket.id.clone(),
        result,
        actor: actor.map(str::to_owned),
        at: now,
    })?;
    if let Err(failure) = admitted {
        return Ok(Err(failure.into()));
    }
    port.persist(Change::TicketStatus {
        tenant: tenant.clone(),
        ticket_id: ticket.id.clone(),
        from: ticket.status,
        to: TicketStatus::Used,
        at: now,
    })?;
    let ticket = TicketView {
        status: TicketStatus::Used,
        used_at: Some(now),
        ..ticket
    };
    let attendee = port
        .attendee(tenant, &ticket.attendee_id)?
        .ok_or_else(|| Error::Corrupt(format!("ticket {} names a missing attendee", ticket.id)))?;
    Ok(Ok(Success::Tickets(TicketSuccess::CheckedIn {
        ticket,
        attendee,
    })))
}
