//! Reads of attendees, tickets and jobs, and the row mappings the writer shares.

use super::SqliteStore;
use crate::StoreError;
use crate::jobs::{JobCounters, JobItem, JobStatus, JobStore, JobView};
use crate::model::{Page, PageRequest, TenantId};
use crate::tickets::*;
use allot_core::UnixMillis;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// Columns of an attendee (alias `a`) with its live ticket, in the order [`attendee_from_row`] reads.
pub(super) const ATTENDEE_COLUMNS: &str = "a.id, a.event_id, a.external_id, a.name, a.email, a.section_id, a.created_at, a.updated_at, \
     (SELECT t.id FROM tickets t WHERE t.tenant_id = a.tenant_id AND t.attendee_id = a.id AND t.status != 'void')";

pub(super) fn attendee_from_row(row: &Row<'_>) -> Result<AttendeeView, StoreError> {
    Ok(AttendeeView {
        id: row.get(0)?,
        event_id: row.get(1)?,
        external_id: row.get(2)?,
        name: row.get(3)?,
        email: row.get(4)?,
        section_id: row.get(5)?,
        created_at: UnixMillis(row.get(6)?),
        updated_at: UnixMillis(row.get(7)?),
        ticket_id: row.get(8)?,
    })
}

/// Columns of a ticket (alias `t`), in the order [`ticket_from_row`] reads.
pub(super) const TICKET_COLUMNS: &str = "t.id, t.event_id, t.pool_id, t.attendee_id, t.hold_id, t.code, t.token_seed, t.status, \
     t.issued_at, t.used_at, t.voided_at, t.job_id";

pub(super) fn ticket_from_row(row: &Row<'_>) -> Result<TicketView, StoreError> {
    let status: String = row.get(7)?;
    Ok(TicketView {
        id: row.get(0)?,
        event_id: row.get(1)?,
        pool_id: row.get(2)?,
        attendee_id: row.get(3)?,
        hold_id: row.get(4)?,
        code: row.get(5)?,
        token_seed: row.get(6)?,
        status: TicketStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("unknown ticket status"))?,
        issued_at: UnixMillis(row.get(8)?),
        used_at: row.get::<_, Option<i64>>(9)?.map(UnixMillis),
        voided_at: row.get::<_, Option<i64>>(10)?.map(UnixMillis),
        job_id: row.get(11)?,
    })
}

pub(super) fn load_attendee(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<AttendeeView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ATTENDEE_COLUMNS} FROM attendees a WHERE a.tenant_id = ?1 AND a.id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant.0, id])?;
    match rows.next()? {
        Some(row) => Ok(Some(attendee_from_row(row)?)),
        None => Ok(None),
    }
}

pub(super) fn load_ticket(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<TicketView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.tenant_id = ?1 AND t.id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant.0, id])?;
    match rows.next()? {
        Some(row) => Ok(Some(ticket_from_row(row)?)),
        None => Ok(None),
    }
}

pub(super) const JOB_COLUMNS: &str = "id, kind, status, params, cursor, total, done, created, skipped, failed, error, \
     created_at, started_at, updated_at, finished_at";

pub(super) fn job_from_row(row: &Row<'_>) -> Result<JobView, StoreError> {
    let status: String = row.get(2)?;
    let params: String = row.get(3)?;
    Ok(JobView {
        id: row.get(0)?,
        kind: row.get(1)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("unknown job status"))?,
        params: serde_json::from_str(&params)?,
        cursor: row.get(4)?,
        total: row.get(5)?,
        counters: JobCounters {
            done: row.get(6)?,
            created: row.get(7)?,
            skipped: row.get(8)?,
            failed: row.get(9)?,
        },
        error: row.get(10)?,
        created_at: UnixMillis(row.get(11)?),
        started_at: row.get::<_, Option<i64>>(12)?.map(UnixMillis),
        updated_at: UnixMillis(row.get(13)?),
        finished_at: row.get::<_, Option<i64>>(14)?.map(UnixMillis),
    })
}

pub(super) fn load_job(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<JobView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = ?1 AND id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant.0, id])?;
    match rows.next()? {
        Some(row) => Ok(Some(job_from_row(row)?)),
        None => Ok(None),
    }
}

fn pool_parent(
    conn: &Connection,
    tenant: &TenantId,
    pool_id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT parent_id FROM pools WHERE id = ?1 AND tenant_id = ?2")?
        .query_row(params![pool_id, tenant.0], |row| row.get(0))
        .optional()?)
}

/// `has_ticket` as a bound parameter: NULL for either, 1 for with, 0 for without.
fn has_ticket_param(has_ticket: Option<bool>) -> Option<i64> {
    has_ticket.map(i64::from)
}

const HAS_TICKET_FILTER: &str = "(?3 IS NULL OR ?3 = EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = a.tenant_id \
     AND t.attendee_id = a.id AND t.status != 'void'))";

fn page_of<T>(mut items: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

impl TicketStore for SqliteStore {
    fn list_attendees(
        &self,
        tenant: &TenantId,
        event_id: &str,
        has_ticket: Option<bool>,
        page: PageRequest,
    ) -> Result<Option<Page<AttendeeView>>, StoreError> {
        self.read(|conn| {
            if pool_parent(conn, tenant, event_id)?.is_none() {
                return Ok(None);
            }
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ATTENDEE_COLUMNS} FROM attendees a
                 WHERE a.tenant_id = ?1 AND a.event_id = ?2 AND {HAS_TICKET_FILTER} AND a.id > ?4
                 ORDER BY a.id LIMIT ?5"
            ))?;
            let after = page.after.clone().unwrap_or_default();
            let mut rows = stmt.query(params![
                tenant.0,
                event_id,
                has_ticket_param(has_ticket),
                after,
                page.limit as i64 + 1
            ])?;
            let mut items = Vec::new();
            while let Some(row) = rows.next()? {
                items.push(attendee_from_row(row)?);
            }
            Ok(Some(page_of(items, page.limit, |a| a.id.clone())))
        })
    }

    fn count_attendees(
        &self,
        tenant: &TenantId,
        event_id: &str,
        has_ticket: Option<bool>,
    ) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            if pool_parent(conn, tenant, event_id)?.is_none() {
                return Ok(None);
            }
            let count = conn
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM attendees a WHERE a.tenant_id = ?1 AND a.event_id = ?2 AND {HAS_TICKET_FILTER}"
                ))?
                .query_row(
                    params![tenant.0, event_id, has_ticket_param(has_ticket)],
                    |row| row.get(0),
                )?;
            Ok(Some(count))
        })
    }

    fn attendee_ids_after(
        &self,
        tenant: &TenantId,
        event_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM attendees WHERE tenant_id = ?1 AND event_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
            )?;
            let ids = stmt
                .query_map(
                    params![tenant.0, event_id, after.unwrap_or(""), limit as i64],
                    |row| row.get(0),
                )?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
    }

    fn get_attendee(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<AttendeeView>, StoreError> {
        self.read(|conn| load_attendee(conn, tenant, id))
    }

    fn get_ticket(&self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, StoreError> {
        self.read(|conn| load_ticket(conn, tenant, id))
    }

    fn list_tickets(
        &self,
        tenant: &TenantId,
        event_id: &str,
        status: Option<TicketStatus>,
        job_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Option<Page<PrintableTicket>>, StoreError> {
        self.read(|conn| {
            if pool_parent(conn, tenant, event_id)?.is_none() {
                return Ok(None);
            }
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {TICKET_COLUMNS}, a.name, a.external_id, p.name
                 FROM tickets t
                 JOIN attendees a ON a.tenant_id = t.tenant_id AND a.id = t.attendee_id
                 LEFT JOIN pools p ON p.id = t.pool_id AND p.tenant_id = t.tenant_id AND t.pool_id != t.event_id
                 WHERE t.tenant_id = ?1 AND t.event_id = ?2 AND t.id > ?3
                   AND (?4 IS NULL OR t.status = ?4) AND (?5 IS NULL OR t.job_id = ?5)
                 ORDER BY t.id LIMIT ?6"
            ))?;
            let after = page.after.clone().unwrap_or_default();
            let mut rows = stmt.query(params![
                tenant.0,
                event_id,
                after,
                status.map(TicketStatus::as_str),
                job_id,
                page.limit as i64 + 1
            ])?;
            let mut items = Vec::new();
            while let Some(row) = rows.next()? {
                items.push(PrintableTicket {
                    ticket: ticket_from_row(row)?,
                    attendee_name: row.get(12)?,
                    external_id: row.get(13)?,
                    section_name: row.get(14)?,
                });
            }
            Ok(Some(page_of(items, page.limit, |t| t.ticket.id.clone())))
        })
    }

    fn ticket_counts(
        &self,
        tenant: &TenantId,
        pool_id: &str,
    ) -> Result<Option<TicketCounts>, StoreError> {
        self.read(|conn| {
            let Some(parent) = pool_parent(conn, tenant, pool_id)? else {
                return Ok(None);
            };
            // The pool's own tickets as an event, plus, as a section, its share of its parent's.
            let mut stmt = conn.prepare_cached(
                "SELECT status, COUNT(*) FROM tickets
                 WHERE tenant_id = ?1 AND (event_id = ?2 OR (event_id = ?3 AND pool_id = ?2))
                 GROUP BY status",
            )?;
            let mut rows = stmt.query(params![tenant.0, pool_id, parent])?;
            let mut counts = TicketCounts::default();
            while let Some(row) = rows.next()? {
                let status: String = row.get(0)?;
                let count: i64 = row.get(1)?;
                match TicketStatus::parse(&status) {
                    Some(TicketStatus::Valid) => counts.valid = count,
                    Some(TicketStatus::Used) => counts.used = count,
                    Some(TicketStatus::Void) => counts.void = count,
                    None => return Err(StoreError::corrupt("unknown ticket status")),
                }
            }
            Ok(Some(counts))
        })
    }
}

impl JobStore for SqliteStore {
    fn get_job(&self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, StoreError> {
        self.read(|conn| load_job(conn, tenant, id))
    }

    fn list_jobs(
        &self,
        tenant: &TenantId,
        kind: Option<&str>,
        page: crate::PageRequest,
    ) -> Result<crate::Page<JobView>, StoreError> {
        let before = page.after.clone().unwrap_or_else(|| "~".to_owned());
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = ?1 AND id < ?2 AND (?3 IS NULL OR kind = ?3)
                 ORDER BY id DESC LIMIT ?4"
            ))?;
            let mut rows = stmt.query(params![tenant.0, before, kind, page.limit as i64 + 1])?;
            let mut items = Vec::new();
            while let Some(row) = rows.next()? {
                items.push(job_from_row(row)?);
            }
            Ok(super::reads::paginate(items, page.limit, |job| job.id.clone()))
        })
    }

    fn active_jobs(&self) -> Result<Vec<(TenantId, String)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT tenant_id, id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT 1000",
            )?;
            let jobs = stmt
                .query_map([], |row| Ok((TenantId(row.get(0)?), row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(jobs)
        })
    }

    fn job_items(
        &self,
        tenant: &TenantId,
        job_id: &str,
        outcome: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<JobItem>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, item, outcome, reason FROM job_failures
                 WHERE tenant_id = ?1 AND job_id = ?2 AND seq > ?3 AND (?4 IS NULL OR outcome = ?4)
                 ORDER BY seq LIMIT ?5",
            )?;
            let items = stmt
                .query_map(
                    params![tenant.0, job_id, after_seq, outcome, limit as i64],
                    |row| {
                        Ok(JobItem {
                            seq: row.get(0)?,
                            item: row.get(1)?,
                            outcome: row.get(2)?,
                            reason: row.get(3)?,
                        })
                    },
                )?
                .collect::<Result<_, _>>()?;
            Ok(items)
        })
    }
}
