//! The engine's port over one batch: SQLite's reads and writes ([`SqlitePort`]), and the end
//! of the batch SQLite still does itself ([`StoreRules`]): writing the changed pools'
//! counters, with the batch's pools handed back to the [`Working`] set that writes them.

use super::{SqlitePort, Working};
use crate::StoreError;
use crate::command::StoredResponse;
use crate::jobs::JobView;
use crate::model::{Channel, PlanView, TenantId};
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use allot_core::waitlist::PriorityClasses;
use allot_core::{PoolId, SessionDate, UnixMillis};
use allot_engine::Error;
use allot_engine::batch::StoreRules;
use allot_engine::change::Change;
use allot_engine::port::Port;
use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use allot_engine::rules::idempotency::KeyRecord;
use allot_engine::rules::routing::Subscriber;
use allot_engine::working::{LoadPools, Tenants};
use rusqlite::Transaction;
use std::collections::BTreeMap;

pub(in crate::sqlite) struct SqliteBatch<'a, 't> {
    pub tx: &'a Transaction<'t>,
    /// The batch's SQLite side. Its `tenants` stay empty while the engine holds the pools, and
    /// hold them while SQLite decides.
    pub work: &'a mut Working,
}

impl SqliteBatch<'_, '_> {
    fn port(&mut self) -> SqlitePort<'_, '_> {
        self.work.port(self.tx)
    }

    /// Runs one of SQLite's own decisions with the batch's pools in the working set (two
    /// swaps of a map: nothing is copied).
    fn with_pools<T>(
        &mut self,
        tenants: &mut Tenants,
        decide: impl FnOnce(&Transaction<'_>, &mut Working) -> Result<T, StoreError>,
    ) -> Result<T, Error> {
        std::mem::swap(&mut self.work.tenants, tenants);
        let decided = decide(self.tx, self.work);
        std::mem::swap(&mut self.work.tenants, tenants);
        Ok(decided?)
    }
}

impl LoadPools for SqliteBatch<'_, '_> {
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error> {
        self.port().pool(tenant, id)
    }
}

impl Port for SqliteBatch<'_, '_> {
    fn new_id(&mut self, prefix: &str) -> String {
        self.port().new_id(prefix)
    }

    fn persist(&mut self, change: Change) -> Result<(), Error> {
        self.port().persist(change)
    }

    fn hold(&mut self, tenant: &TenantId, id: &str) -> Result<Option<HoldRecord>, Error> {
        self.port().hold(tenant, id)
    }

    fn due_holds(&mut self, now: UnixMillis) -> Result<Vec<(TenantId, HoldRecord)>, Error> {
        self.port().due_holds(now)
    }

    fn consumption(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        subject: &str,
    ) -> Result<Option<String>, Error> {
        self.port().consumption(tenant, pool, subject)
    }

    fn idempotency_record(
        &mut self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<(KeyRecord, StoredResponse)>, Error> {
        self.port().idempotency_record(tenant, key)
    }

    fn api_key_is_live(&mut self, tenant: &TenantId, key_id: &str) -> Result<bool, Error> {
        self.port().api_key_is_live(tenant, key_id)
    }

    fn session_dates(&mut self, tenant: &TenantId, session: &PoolId) -> Result<Vec<PoolId>, Error> {
        self.port().session_dates(tenant, session)
    }

    fn session_dates_with_waiting(
        &mut self,
        tenant: &TenantId,
        session: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        self.port().session_dates_with_waiting(tenant, session)
    }

    // Plans and quotas

    fn plan(&mut self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, Error> {
        self.port().plan(tenant, id)
    }

    fn member_pool(
        &mut self,
        tenant: &TenantId,
        plan_id: &str,
        subject: &str,
    ) -> Result<Option<PoolId>, Error> {
        self.port().member_pool(tenant, plan_id, subject)
    }

    // Jobs

    fn job(&mut self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, Error> {
        self.port().job(tenant, id)
    }

    // Attendees and tickets

    fn event_section(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        id_or_name: &str,
    ) -> Result<Option<String>, Error> {
        self.port().event_section(tenant, event_id, id_or_name)
    }

    fn attendee_by_external_id(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        external_id: &str,
    ) -> Result<Option<AttendeeView>, Error> {
        self.port()
            .attendee_by_external_id(tenant, event_id, external_id)
    }

    fn attendee(&mut self, tenant: &TenantId, id: &str) -> Result<Option<AttendeeView>, Error> {
        self.port().attendee(tenant, id)
    }

    fn attendee_for_issue(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
    ) -> Result<Option<AttendeeForIssue>, Error> {
        self.port().attendee_for_issue(tenant, attendee_id)
    }

    fn ticket(&mut self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, Error> {
        self.port().ticket(tenant, id)
    }

    fn ticket_for_token(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
        token_hash: &str,
    ) -> Result<Option<TicketView>, Error> {
        self.port()
            .ticket_for_token(tenant, attendee_id, token_hash)
    }

    // Waiting lists

    fn next_entry_seq(&mut self) -> Result<i64, Error> {
        self.port().next_entry_seq()
    }

    fn waitlist_entry(
        &mut self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<EntryRecord>, Error> {
        self.port().waitlist_entry(tenant, id)
    }

    fn waiting_entries(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, Error> {
        self.port().waiting_entries(tenant, pool, offset, limit)
    }

    fn entry_position(
        &mut self,
        tenant: &TenantId,
        entry: &EntryRecord,
        now: UnixMillis,
    ) -> Result<u64, Error> {
        self.port().entry_position(tenant, entry, now)
    }

    fn recent_promotions(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, Error> {
        self.port().recent_promotions(tenant, pool, since, limit)
    }

    fn priority_classes(&mut self, tenant: &TenantId) -> Result<PriorityClasses, Error> {
        self.port().priority_classes(tenant)
    }

    fn due_entries(
        &mut self,
        now: UnixMillis,
        limit: i64,
    ) -> Result<Vec<(TenantId, EntryRecord)>, Error> {
        self.port().due_entries(now, limit)
    }

    fn dates_with_waiting_before(
        &mut self,
        before: SessionDate,
        limit: i64,
    ) -> Result<Vec<(TenantId, PoolId)>, Error> {
        self.port().dates_with_waiting_before(before, limit)
    }

    fn children_with_waiting(
        &mut self,
        tenant: &TenantId,
        parent: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        self.port().children_with_waiting(tenant, parent)
    }

    // The outbox

    fn subscribers(&mut self, tenant: &TenantId) -> Result<Vec<Subscriber>, Error> {
        self.port().subscribers(tenant)
    }

    fn recipient_groups(
        &mut self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<String, Vec<Channel>>, Error> {
        self.port().recipient_groups(tenant)
    }

    fn webhook_is_active(&mut self, tenant: &TenantId, webhook_id: &str) -> Result<bool, Error> {
        self.port().webhook_is_active(tenant, webhook_id)
    }

    fn pending_delivery_attempts(&mut self, delivery_id: &str) -> Result<Option<i64>, Error> {
        self.port().pending_delivery_attempts(delivery_id)
    }
}

impl StoreRules for SqliteBatch<'_, '_> {
    fn finish(&mut self, tenants: &mut Tenants, now: UnixMillis) -> Result<(), Error> {
        self.with_pools(tenants, |tx, work| work.flush(tx, now))
    }
}
