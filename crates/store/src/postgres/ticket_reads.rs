//! Reads of attendees, tickets and jobs, answering what SQLite's (`crate::sqlite::ticket_reads`)
//! answer.

use super::reads::paginate;
use super::rows::{
    ATTENDEE_COLUMNS, JOB_COLUMNS, TICKET_COLUMNS, attendee_from_row, get, job_from_row,
    ticket_from_row,
};
use super::{PostgresStore, Sql};
use crate::StoreError;
use crate::jobs::{JobItem, JobStore, JobView};
use crate::model::{Page, PageRequest, TenantId};
use crate::tickets::*;
use postgres::Client;

/// `Some(parent)` for a pool of the tenant (`parent` itself may be `None`), `None` for no pool.
fn pool_parent(
    sql: &mut Sql<'_, Client>,
    tenant: &TenantId,
    pool_id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    sql.query_opt(
        "SELECT parent_id FROM pools WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &pool_id],
    )?
    .map(|row| get(&row, 0))
    .transpose()
}

/// Whether the attendee has a live ticket, as a filter: NULL lets every attendee through.
const HAS_TICKET_FILTER: &str = "($3::boolean IS NULL OR $3 = EXISTS (SELECT 1 FROM tickets t \
     WHERE t.tenant_id = a.tenant_id AND t.attendee_id = a.id AND t.status <> 'void'))";

impl TicketStore for PostgresStore {
    fn list_attendees(
        &self,
        tenant: &TenantId,
        event_id: &str,
        has_ticket: Option<bool>,
        page: PageRequest,
    ) -> Result<Option<Page<AttendeeView>>, StoreError> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|sql| {
            if pool_parent(sql, tenant, event_id)?.is_none() {
                return Ok(None);
            }
            let items = sql
                .query(
                    &format!(
                        "SELECT {ATTENDEE_COLUMNS} FROM attendees a
                         WHERE a.tenant_id = $1 AND a.event_id = $2 AND {HAS_TICKET_FILTER} AND a.id > $4
                         ORDER BY a.id LIMIT $5"
                    ),
                    &[
                        &tenant.0,
                        &event_id,
                        &has_ticket,
                        &after,
                        &(page.limit as i64 + 1),
                    ],
                )?
                .iter()
                .map(attendee_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(paginate(items, page.limit, |a| a.id.clone())))
        })
    }

    fn count_attendees(
        &self,
        tenant: &TenantId,
        event_id: &str,
        has_ticket: Option<bool>,
    ) -> Result<Option<i64>, StoreError> {
        self.read(|sql| {
            if pool_parent(sql, tenant, event_id)?.is_none() {
                return Ok(None);
            }
            let row = sql.query_one(
                &format!(
                    "SELECT COUNT(*) FROM attendees a
                     WHERE a.tenant_id = $1 AND a.event_id = $2 AND {HAS_TICKET_FILTER}"
                ),
                &[&tenant.0, &event_id, &has_ticket],
            )?;
            Ok(Some(get(&row, 0)?))
        })
    }

    fn attendee_ids_after(
        &self,
        tenant: &TenantId,
        event_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.read(|sql| {
            sql.query(
                "SELECT id FROM attendees WHERE tenant_id = $1 AND event_id = $2 AND id > $3
                 ORDER BY id LIMIT $4",
                &[&tenant.0, &event_id, &after.unwrap_or(""), &(limit as i64)],
            )?
            .iter()
            .map(|row| get(row, 0))
            .collect()
        })
    }

    fn get_attendee(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<AttendeeView>, StoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!(
                    "SELECT {ATTENDEE_COLUMNS} FROM attendees a WHERE a.tenant_id = $1 AND a.id = $2"
                ),
                &[&tenant.0, &id],
            )?
            .map(|row| attendee_from_row(&row))
            .transpose()
        })
    }

    fn get_ticket(&self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, StoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.tenant_id = $1 AND t.id = $2"
                ),
                &[&tenant.0, &id],
            )?
            .map(|row| ticket_from_row(&row))
            .transpose()
        })
    }

    fn list_tickets(
        &self,
        tenant: &TenantId,
        event_id: &str,
        status: Option<TicketStatus>,
        job_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Option<Page<PrintableTicket>>, StoreError> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|sql| {
            if pool_parent(sql, tenant, event_id)?.is_none() {
                return Ok(None);
            }
            let rows = sql.query(
                &format!(
                    "SELECT {TICKET_COLUMNS}, a.name, a.external_id, p.name
                     FROM tickets t
                     JOIN attendees a ON a.tenant_id = t.tenant_id AND a.id = t.attendee_id
                     LEFT JOIN pools p ON p.tenant_id = t.tenant_id AND p.id = t.pool_id
                         AND t.pool_id <> t.event_id
                     WHERE t.tenant_id = $1 AND t.event_id = $2 AND t.id > $3
                       AND ($4::text IS NULL OR t.status = $4) AND ($5::text IS NULL OR t.job_id = $5)
                     ORDER BY t.id LIMIT $6"
                ),
                &[
                    &tenant.0,
                    &event_id,
                    &after,
                    &status.map(TicketStatus::as_str),
                    &job_id,
                    &(page.limit as i64 + 1),
                ],
            )?;
            let items = rows
                .iter()
                .map(|row| {
                    Ok(PrintableTicket {
                        ticket: ticket_from_row(row)?,
                        attendee_name: get(row, 12)?,
                        external_id: get(row, 13)?,
                        section_name: get(row, 14)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Some(paginate(items, page.limit, |t| t.ticket.id.clone())))
        })
    }

    fn ticket_counts(
        &self,
        tenant: &TenantId,
        pool_id: &str,
    ) -> Result<Option<TicketCounts>, StoreError> {
        self.read(|sql| {
            let Some(parent) = pool_parent(sql, tenant, pool_id)? else {
                return Ok(None);
            };
            // The pool's own tickets as an event, plus, as a section, its share of its parent's.
            let rows = sql.query(
                "SELECT status, COUNT(*) FROM tickets
                 WHERE tenant_id = $1 AND (event_id = $2 OR (event_id = $3 AND pool_id = $2))
                 GROUP BY status",
                &[&tenant.0, &pool_id, &parent],
            )?;
            let mut counts = TicketCounts::default();
            for row in &rows {
                let status: &str = get(row, 0)?;
                let count: i64 = get(row, 1)?;
                match TicketStatus::parse(status) {
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

impl JobStore for PostgresStore {
    fn get_job(&self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, StoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"),
                &[&tenant.0, &id],
            )?
            .map(|row| job_from_row(&row))
            .transpose()
        })
    }

    fn list_jobs(
        &self,
        tenant: &TenantId,
        kind: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<JobView>, StoreError> {
        // Newest first: the cursor is the last id shown, and "~" sorts after every id.
        let before = page.after.clone().unwrap_or_else(|| "~".to_owned());
        self.read(|sql| {
            let items = sql
                .query(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM jobs
                         WHERE tenant_id = $1 AND id < $2 AND ($3::text IS NULL OR kind = $3)
                         ORDER BY id DESC LIMIT $4"
                    ),
                    &[&tenant.0, &before, &kind, &(page.limit as i64 + 1)],
                )?
                .iter()
                .map(job_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(paginate(items, page.limit, |job| job.id.clone()))
        })
    }

    fn active_jobs(&self) -> Result<Vec<(TenantId, String)>, StoreError> {
        self.read(|sql| {
            sql.query(
                "SELECT tenant_id, id FROM jobs WHERE status IN ('queued', 'running')
                 ORDER BY created_at, id LIMIT 1000",
                &[],
            )?
            .iter()
            .map(|row| Ok((TenantId(get(row, 0)?), get(row, 1)?)))
            .collect()
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
        self.read(|sql| {
            sql.query(
                "SELECT seq, item, outcome, reason FROM job_failures
                 WHERE tenant_id = $1 AND job_id = $2 AND seq > $3 AND ($4::text IS NULL OR outcome = $4)
                 ORDER BY seq LIMIT $5",
                &[&tenant.0, &job_id, &after_seq, &outcome, &(limit as i64)],
            )?
            .iter()
            .map(|row| {
                Ok(JobItem {
                    seq: get(row, 0)?,
                    item: get(row, 1)?,
                    outcome: get(row, 2)?,
                    reason: get(row, 3)?,
                })
            })
            .collect()
        })
    }
}
