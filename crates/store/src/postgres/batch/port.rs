//! The engine's reads in the batch's transaction. Every change is written as it is decided
//! (`changes`), so a read always answers as the batch has changed the store so far.

use super::PgPort;
use crate::StoreError;
use crate::command::StoredResponse;
use crate::jobs::JobView;
use crate::model::{Channel, PlanView, TenantId};
use crate::postgres::rows::{
    ATTENDEE_COLUMNS, ENTRY_COLUMNS, ENTRY_FROM, HOLD_COLUMNS, JOB_COLUMNS, PLAN_COLUMNS,
    POOL_COLUMNS, TICKET_COLUMNS, attendee_from_row, entry_from_row, get, hold_from_row,
    job_from_row, plan_from_row, pool_from_row, ticket_from_row,
};
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketStatus, TicketView};
use allot_core::waitlist::PriorityClasses;
use allot_core::{PoolId, SessionDate, UnixMillis};
use allot_engine::Error;
use allot_engine::change::Change;
use allot_engine::port::LoadPools;
use allot_engine::port::Port;
use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use allot_engine::rules::idempotency::KeyRecord;
use allot_engine::rules::routing::Subscriber;
use postgres::Row;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Texts made from column lists once, so each is one prepared statement.
static POOL_FOR_UPDATE: LazyLock<String> = LazyLock::new(|| {
    // Locked until the batch commits: no other writer decides on this pool meanwhile.
    format!("SELECT {POOL_COLUMNS} FROM pools WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
});
static HOLD: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {HOLD_COLUMNS} FROM holds WHERE tenant_id = $1 AND id = $2"));
static DUE_HOLDS: LazyLock<String> = LazyLock::new(|| {
    // In deadline order, as the in-memory store expires them, so ledgers read alike.
    format!(
        "SELECT {HOLD_COLUMNS}, tenant_id FROM holds WHERE status = 'held' AND expires_at <= $1
         ORDER BY expires_at, tenant_id, id"
    )
});
static PLAN: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {PLAN_COLUMNS} FROM plans p WHERE p.tenant_id = $1 AND p.id = $2")
});
static JOB: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"));
static ATTENDEE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {ATTENDEE_COLUMNS} FROM attendees a WHERE a.tenant_id = $1 AND a.id = $2")
});
static ATTENDEE_BY_EXTERNAL_ID: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ATTENDEE_COLUMNS} FROM attendees a
         WHERE a.tenant_id = $1 AND a.event_id = $2 AND a.external_id = $3"
    )
});
static TICKET: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.tenant_id = $1 AND t.id = $2")
});
static ENTRY: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.tenant_id = $1 AND e.id = $2")
});
static QUEUE: LazyLock<String> = LazyLock::new(|| {
    // Past their deadline included: the writer expires them as their turn comes.
    format!(
        "SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM}
         WHERE e.tenant_id = $1 AND e.pool_id = $2 AND e.status = 'waiting'
         ORDER BY e.priority DESC, e.seq LIMIT $3 OFFSET $4"
    )
});
static DUE_ENTRIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ENTRY_COLUMNS}, e.tenant_id FROM {ENTRY_FROM}
         WHERE e.status = 'waiting' AND e.expires_at <= $1 ORDER BY e.expires_at, e.seq LIMIT $2"
    )
});

fn pool_ids(rows: Vec<Row>) -> Result<Vec<PoolId>, StoreError> {
    rows.iter().map(|row| get(row, 0).map(PoolId)).collect()
}

impl PgPort<'_, '_> {
    fn pool_ids_of(
        &mut self,
        sql: &str,
        tenant: &TenantId,
        pool: &PoolId,
    ) -> Result<Vec<PoolId>, StoreError> {
        pool_ids(self.sql.query(sql, &[&tenant.0, &pool.0])?)
    }

    fn ticket_by_id(
        &mut self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<TicketView>, StoreError> {
        self.sql
            .query_opt(&TICKET, &[&tenant.0, &id])?
            .map(|row| ticket_from_row(&row))
            .transpose()
    }
}

impl LoadPools for PgPort<'_, '_> {
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error> {
        let row = self.sql.query_opt(&POOL_FOR_UPDATE, &[&tenant.0, &id.0])?;
        Ok(row.map(|row| pool_from_row(&row)).transpose()?)
    }
}

impl Port for PgPort<'_, '_> {
    fn new_id(&mut self, prefix: &str) -> String {
        self.ids.next(prefix)
    }

    fn persist(&mut self, change: Change) -> Result<(), Error> {
        Ok(self.persist_change(change)?)
    }

    fn hold(&mut self, tenant: &TenantId, id: &str) -> Result<Option<HoldRecord>, Error> {
        let row = self.sql.query_opt(&HOLD, &[&tenant.0, &id])?;
        Ok(row.map(|row| hold_from_row(&row)).transpose()?)
    }

    fn due_holds(&mut self, now: UnixMillis) -> Result<Vec<(TenantId, HoldRecord)>, Error> {
        let rows = self.sql.query(&DUE_HOLDS, &[&now.0])?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            // The tenant comes after the hold's own columns, which hold_from_row reads by place.
            due.push((TenantId(get(row, 8)?), hold_from_row(row)?));
        }
        Ok(due)
    }

    fn consumption(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        subject: &str,
    ) -> Result<Option<String>, Error> {
        let row = self.sql.query_opt(
            "SELECT hold_id FROM consumptions WHERE tenant_id = $1 AND pool_id = $2 AND subject = $3",
            &[&tenant.0, &pool.0, &subject],
        )?;
        let hold_id: Option<String> = row.map(|row| get(&row, 0)).transpose()?;
        self.read.consumptions.insert(
            (tenant.clone(), pool.clone(), subject.to_owned()),
            hold_id.clone(),
        );
        Ok(hold_id)
    }

    fn idempotency_record(
        &mut self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<(KeyRecord, StoredResponse)>, Error> {
        let row = self.sql.query_opt(
            "SELECT request_hash, status, body, created_at FROM idempotency
             WHERE tenant_id = $1 AND key = $2",
            &[&tenant.0, &key],
        )?;
        let created_at: Option<i64> = row.as_ref().map(|row| get(row, 3)).transpose()?;
        self.read
            .keys
            .insert((tenant.clone(), key.to_owned()), created_at);
        let Some(row) = row else {
            return Ok(None);
        };
        let status = u16::try_from(get::<i64>(&row, 1)?)
            .map_err(|_| StoreError::corrupt("an idempotency record's status is out of range"))?;
        Ok(Some((
            KeyRecord {
                request_hash: get(&row, 0)?,
                created_at: UnixMillis(get(&row, 3)?),
            },
            StoredResponse {
                status,
                body: get(&row, 2)?,
            },
        )))
    }

    fn api_key_is_live(&mut self, tenant: &TenantId, key_id: &str) -> Result<bool, Error> {
        let row = self.sql.query_opt(
            "SELECT 1 FROM api_keys WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            &[&tenant.0, &key_id],
        )?;
        Ok(row.is_some())
    }

    fn session_dates(&mut self, tenant: &TenantId, session: &PoolId) -> Result<Vec<PoolId>, Error> {
        Ok(self.pool_ids_of(
            "SELECT id FROM pools WHERE tenant_id = $1 AND session_id = $2 ORDER BY date, id",
            tenant,
            session,
        )?)
    }

    fn session_dates_with_waiting(
        &mut self,
        tenant: &TenantId,
        session: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(self.pool_ids_of(
            "SELECT id FROM pools WHERE tenant_id = $1 AND session_id = $2 AND waiting > 0
             ORDER BY date, id",
            tenant,
            session,
        )?)
    }

    // Plans and quotas

    fn plan(&mut self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, Error> {
        let row = self.sql.query_opt(&PLAN, &[&tenant.0, &id])?;
        Ok(row.map(|row| plan_from_row(&row)).transpose()?)
    }

    fn member_pool(
        &mut self,
        tenant: &TenantId,
        plan_id: &str,
        subject: &str,
    ) -> Result<Option<PoolId>, Error> {
        let row = self.sql.query_opt(
            "SELECT id FROM pools WHERE tenant_id = $1 AND plan_id = $2 AND subject = $3",
            &[&tenant.0, &plan_id, &subject],
        )?;
        Ok(row.map(|row| get(&row, 0).map(PoolId)).transpose()?)
    }

    // Jobs

    fn job(&mut self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, Error> {
        let row = self.sql.query_opt(&JOB, &[&tenant.0, &id])?;
        Ok(row.map(|row| job_from_row(&row)).transpose()?)
    }

    // Attendees and tickets

    fn event_section(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        id_or_name: &str,
    ) -> Result<Option<String>, Error> {
        // By id first, else the lowest id of that name.
        let row = self.sql.query_opt(
            "SELECT id FROM pools WHERE tenant_id = $1 AND parent_id = $2 AND (id = $3 OR name = $3)
             ORDER BY id = $3 DESC, id LIMIT 1",
            &[&tenant.0, &event_id, &id_or_name],
        )?;
        Ok(row.map(|row| get(&row, 0)).transpose()?)
    }

    fn attendee_by_external_id(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        external_id: &str,
    ) -> Result<Option<AttendeeView>, Error> {
        let row = self.sql.query_opt(
            &ATTENDEE_BY_EXTERNAL_ID,
            &[&tenant.0, &event_id, &external_id],
        )?;
        Ok(row.map(|row| attendee_from_row(&row)).transpose()?)
    }

    fn attendee(&mut self, tenant: &TenantId, id: &str) -> Result<Option<AttendeeView>, Error> {
        let row = self.sql.query_opt(&ATTENDEE, &[&tenant.0, &id])?;
        Ok(row.map(|row| attendee_from_row(&row)).transpose()?)
    }

    fn attendee_for_issue(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
    ) -> Result<Option<AttendeeForIssue>, Error> {
        let Some(row) = self.sql.query_opt(
            "SELECT a.event_id, a.section_id, t.id, t.status FROM attendees a
             LEFT JOIN tickets t ON t.tenant_id = a.tenant_id AND t.attendee_id = a.id AND t.status <> 'void'
             WHERE a.tenant_id = $1 AND a.id = $2",
            &[&tenant.0, &attendee_id],
        )?
        else {
            return Ok(None);
        };
        let ticket: Option<String> = get(&row, 2)?;
        let status: Option<&str> = get(&row, 3)?;
        let live_ticket = match (ticket, status) {
            (Some(id), Some(status)) => {
                let status = TicketStatus::parse(status).ok_or_else(|| {
                    StoreError::corrupt(format!("ticket {id} has status {status:?}"))
                })?;
                Some((id, status))
            }
            _ => None,
        };
        Ok(Some(AttendeeForIssue {
            event_id: get(&row, 0)?,
            section_id: get(&row, 1)?,
            live_ticket,
        }))
    }

    fn ticket(&mut self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, Error> {
        Ok(self.ticket_by_id(tenant, id)?)
    }

    fn ticket_for_token(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
        token_hash: &str,
    ) -> Result<Option<TicketView>, Error> {
        let live = self.sql.query_opt(
            "SELECT id FROM tickets
             WHERE tenant_id = $1 AND attendee_id = $2 AND status <> 'void' AND token_hash = $3",
            &[&tenant.0, &attendee_id, &token_hash],
        )?;
        let row = match live {
            Some(row) => Some(row),
            None => self.sql.query_opt(
                "SELECT id FROM tickets WHERE tenant_id = $1 AND token_hash = $2 AND status = 'void'
                 ORDER BY id LIMIT 1",
                &[&tenant.0, &token_hash],
            )?,
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let id: String = get(&row, 0)?;
        Ok(self.ticket_by_id(tenant, &id)?)
    }

    // Waiting lists

    fn next_entry_seq(&mut self) -> Result<i64, Error> {
        Ok(get(
            &self.sql.query_one("SELECT nextval('waitlist_seq')", &[])?,
            0,
        )?)
    }

    fn waitlist_entry(
        &mut self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<EntryRecord>, Error> {
        let row = self.sql.query_opt(&ENTRY, &[&tenant.0, &id])?;
        Ok(row.map(|row| entry_from_row(&row)).transpose()?)
    }

    fn waiting_entries(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, Error> {
        let rows = self
            .sql
            .query(&QUEUE, &[&tenant.0, &pool.0, &limit, &offset])?;
        Ok(rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<_, StoreError>>()?)
    }

    fn entry_position(
        &mut self,
        tenant: &TenantId,
        entry: &EntryRecord,
        now: UnixMillis,
    ) -> Result<u64, Error> {
        let ahead: i64 = get(
            &self.sql.query_one(
                "SELECT COUNT(*) FROM waitlist_entries
                 WHERE tenant_id = $1 AND pool_id = $2 AND status = 'waiting' AND expires_at > $3
                   AND (priority > $4 OR (priority = $4 AND seq < $5))",
                &[
                    &tenant.0,
                    &entry.pool_id,
                    &now.0,
                    &entry.priority,
                    &entry.seq,
                ],
            )?,
            0,
        )?;
        Ok(ahead as u64 + 1)
    }

    fn recent_promotions(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, Error> {
        let rows = self.sql.query(
            "SELECT promoted_at FROM waitlist_entries
             WHERE tenant_id = $1 AND pool_id = $2 AND promoted_at IS NOT NULL AND promoted_at > $3
             ORDER BY promoted_at DESC LIMIT $4",
            &[&tenant.0, &pool.0, &since.0, &limit],
        )?;
        Ok(rows
            .iter()
            .map(|row| get(row, 0).map(UnixMillis))
            .collect::<Result<_, StoreError>>()?)
    }

    fn priority_classes(&mut self, tenant: &TenantId) -> Result<PriorityClasses, Error> {
        let Some(row) = self.sql.query_opt(
            "SELECT priority_base, priority_classes FROM tenant_settings WHERE tenant_id = $1",
            &[&tenant.0],
        )?
        else {
            return Ok(PriorityClasses::default());
        };
        let classes: &str = get(&row, 1)?;
        Ok(PriorityClasses {
            base: get(&row, 0)?,
            classes: serde_json::from_str::<BTreeMap<String, i64>>(classes)
                .map_err(StoreError::from)?,
        })
    }

    fn due_entries(
        &mut self,
        now: UnixMillis,
        limit: i64,
    ) -> Result<Vec<(TenantId, EntryRecord)>, Error> {
        let rows = self.sql.query(&DUE_ENTRIES, &[&now.0, &limit])?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            // The tenant comes after the entry's own columns.
            due.push((TenantId(get(row, 15)?), entry_from_row(row)?));
        }
        Ok(due)
    }

    fn dates_with_waiting_before(
        &mut self,
        before: SessionDate,
        limit: i64,
    ) -> Result<Vec<(TenantId, PoolId)>, Error> {
        // Dates are stored as YYYY-MM-DD (in byte order): they compare as text.
        let rows = self.sql.query(
            "SELECT tenant_id, id FROM pools
             WHERE date IS NOT NULL AND waiting > 0 AND date < $1
             ORDER BY date, tenant_id, id LIMIT $2",
            &[&before.to_string(), &limit],
        )?;
        Ok(rows
            .iter()
            .map(|row| Ok((TenantId(get(row, 0)?), PoolId(get(row, 1)?))))
            .collect::<Result<_, StoreError>>()?)
    }

    fn children_with_waiting(
        &mut self,
        tenant: &TenantId,
        parent: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(self.pool_ids_of(
            "SELECT id FROM pools WHERE tenant_id = $1 AND parent_id = $2 AND waiting_below > 0
             ORDER BY id",
            tenant,
            parent,
        )?)
    }

    // The outbox

    fn subscribers(&mut self, tenant: &TenantId) -> Result<Vec<Subscriber>, Error> {
        let rows = self.sql.query(
            "SELECT id, events FROM webhooks WHERE tenant_id = $1 AND active ORDER BY id",
            &[&tenant.0],
        )?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let events: &str = get(row, 1)?;
            found.push(Subscriber {
                id: get(row, 0)?,
                events: serde_json::from_str(events).map_err(StoreError::from)?,
            });
        }
        Ok(found)
    }

    fn recipient_groups(
        &mut self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<String, Vec<Channel>>, Error> {
        let rows = self.sql.query(
            "SELECT name, channels FROM recipient_groups WHERE tenant_id = $1 ORDER BY name",
            &[&tenant.0],
        )?;
        let mut groups = BTreeMap::new();
        for row in &rows {
            let channels: &str = get(row, 1)?;
            groups.insert(
                get(row, 0)?,
                serde_json::from_str(channels).map_err(StoreError::from)?,
            );
        }
        Ok(groups)
    }

    fn webhook_is_active(&mut self, tenant: &TenantId, webhook_id: &str) -> Result<bool, Error> {
        let row = self.sql.query_opt(
            "SELECT 1 FROM webhooks WHERE tenant_id = $1 AND id = $2 AND active",
            &[&tenant.0, &webhook_id],
        )?;
        Ok(row.is_some())
    }

    fn pending_delivery_attempts(&mut self, delivery_id: &str) -> Result<Option<i64>, Error> {
        let row = self.sql.query_opt(
            "SELECT attempts FROM deliveries WHERE id = $1 AND status = 'pending'",
            &[&delivery_id],
        )?;
        Ok(row.map(|row| get(&row, 0)).transpose()?)
    }
}
