//! The engine's port over one batch of the in-memory store. Each change is applied to the
//! state at once, so every later read sees it; what it replaced goes on an undo log, and a batch
//! that fails is taken back entry by entry, newest first.

use super::faults::Faults;
use super::outbox::OutboxUndo;
use super::tickets::TicketUndo;
use super::{MemoryState, StoredEntry, StoredKey, restore};
use crate::command::StoredResponse;
use crate::ids::Ids;
use crate::jobs::{JobState, JobView};
use crate::model::{Channel, EventView, LedgerEntry, PlanView, Tenant, TenantId};
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use allot_core::waitlist::{EntryStatus, PriorityClasses, QueueKey};
use allot_core::{PoolId, SessionDate, UnixMillis};
use allot_engine::Error;
use allot_engine::change::{Change, NewEntry, NewHold, PoolUse};
use allot_engine::port::LoadPools;
use allot_engine::port::Port;
use allot_engine::records::{EntryRecord, HoldRecord, PoolRecord};
use allot_engine::rules::idempotency::KeyRecord;
use allot_engine::rules::routing::Subscriber;
use std::collections::BTreeMap;

/// A pool whose use must be at `from` to change: the engine's cache and the store disagree
/// otherwise, and the batch must not commit.
fn pool_to_change<'s>(
    state: &'s mut MemoryState,
    key: &(TenantId, PoolId),
    from: PoolUse,
) -> Result<&'s mut PoolRecord, Error> {
    let row = state
        .pools
        .get_mut(key)
        .ok_or_else(|| Error::Conflict(format!("pool {} is gone", key.1.0)))?;
    if PoolUse::of(&row.core) != from {
        return Err(Error::Conflict(format!(
            "pool {} was written by someone else",
            key.1.0
        )));
    }
    Ok(row)
}

/// What one change replaced.
enum Undo {
    Tenant(TenantId),
    ApiKey((TenantId, String), Option<StoredKey>),
    Pool((TenantId, PoolId), Option<Box<PoolRecord>>),
    Hold((TenantId, String), Option<HoldRecord>),
    Consumption((TenantId, PoolId, String), Option<String>),
    LedgerAppended,
    Idempotency((TenantId, String), Option<(KeyRecord, StoredResponse)>),
    Ids(Ids),
    Plan((TenantId, String), Option<PlanView>),
    Member((TenantId, String, String)),
    Job((TenantId, String), Option<Box<JobView>>),
    JobItem((TenantId, String, i64)),
    Tickets(TicketUndo),
    Outbox(OutboxUndo),
    Entry((TenantId, String), Option<Box<StoredEntry>>),
    WaitlistSeq(i64),
    PriorityClasses(TenantId, Option<PriorityClasses>),
    EventAppended,
}

pub(super) struct MemoryBatch<'a> {
    state: &'a mut MemoryState,
    faults: &'a mut Faults,
    undo: Vec<Undo>,
}

impl<'a> MemoryBatch<'a> {
    pub(super) fn new(state: &'a mut MemoryState, faults: &'a mut Faults) -> Self {
        MemoryBatch {
            state,
            faults,
            undo: Vec::new(),
        }
    }

    /// The pools the batch wrote (made, counters or settings), each once.
    pub(super) fn written_pools(&self) -> Vec<(TenantId, PoolId)> {
        let mut written: Vec<(TenantId, PoolId)> = self
            .undo
            .iter()
            .filter_map(|undo| match undo {
                Undo::Pool(key, _) => Some(key.clone()),
                _ => None,
            })
            .collect();
        written.sort();
        written.dedup();
        written
    }

    /// Takes back every change of the batch, newest first.
    pub(super) fn roll_back(mut self) {
        while let Some(undo) = self.undo.pop() {
            let state = &mut *self.state;
            match undo {
                Undo::Tenant(id) => {
                    state.tenants.remove(&id);
                }
                Undo::ApiKey(key, old) => restore(&mut state.api_keys, key, old),
                Undo::Pool(key, old) => restore(&mut state.pools, key, old.map(|row| *row)),
                Undo::Hold(key, old) => {
                    state.put_hold(key, old);
                }
                Undo::Consumption(key, old) => restore(&mut state.consumptions, key, old),
                Undo::LedgerAppended => {
                    state.ledger.pop();
                }
                Undo::Idempotency(key, old) => restore(&mut state.idempotency, key, old),
                Undo::Ids(ids) => state.ids = ids,
                Undo::Plan(key, old) => restore(&mut state.plans, key, old),
                Undo::Member(key) => {
                    state.members.remove(&key);
                }
                Undo::Job(key, old) => restore(&mut state.jobs, key, old.map(|job| *job)),
                Undo::JobItem(key) => {
                    state.job_items.remove(&key);
                }
                Undo::Tickets(undo) => state.tickets.undo(undo),
                Undo::Outbox(undo) => state.outbox.undo(undo),
                Undo::Entry(key, old) => {
                    state.put_entry(key, old.map(|e| *e));
                }
                Undo::WaitlistSeq(seq) => state.waitlist_seq = seq,
                Undo::PriorityClasses(tenant, old) => {
                    restore(&mut state.priority_classes, tenant, old)
                }
                Undo::EventAppended => {
                    state.events.pop();
                }
            }
        }
    }

    /// A row that must be at `from` to change; another writer moved it otherwise.
    fn hold_to_change(&mut self, tenant: &TenantId, id: &str) -> Result<HoldRecord, Error> {
        self.state
            .holds
            .get(&(tenant.clone(), id.to_owned()))
            .cloned()
            .ok_or_else(|| Error::Conflict(format!("hold {id} is gone")))
    }

    fn set_hold(&mut self, tenant: &TenantId, hold: HoldRecord) {
        let key = (tenant.clone(), hold.id.clone());
        let old = self.state.put_hold(key.clone(), Some(hold));
        self.undo.push(Undo::Hold(key, old));
    }

    fn apply(&mut self, change: Change) -> Result<(), Error> {
        let state = &mut *self.state;
        match change {
            Change::NewTenant { id, name, at } => {
                let tenant = Tenant {
                    id: id.clone(),
                    name,
                    created_at: at,
                };
                if state.tenants.insert(id.clone(), tenant).is_some() {
                    return Err(Error::Conflict(format!("tenant {} exists", id.0)));
                }
                self.undo.push(Undo::Tenant(id));
            }
            Change::NewApiKey {
                tenant,
                key_id,
                key_hash,
                role,
                at,
            } => {
                let key = (tenant, key_id);
                let stored = StoredKey {
                    key_hash,
                    role,
                    created_at: at,
                    revoked_at: None,
                };
                let old = state.api_keys.insert(key.clone(), stored);
                self.undo.push(Undo::ApiKey(key, old));
            }
            Change::ApiKeyRevoked { tenant, key_id, at } => {
                let key = (tenant, key_id);
                let Some(stored) = state
                    .api_keys
                    .get_mut(&key)
                    .filter(|k| k.revoked_at.is_none())
                else {
                    return Err(Error::Conflict(format!(
                        "api key {} is no longer live",
                        key.1
                    )));
                };
                let old = stored.clone();
                stored.revoked_at = Some(at);
                self.undo.push(Undo::ApiKey(key, Some(old)));
            }
            Change::NewPool { tenant, pool } => {
                let key = (tenant, pool.core.id.clone());
                if let Some(old) = state.pools.insert(key.clone(), *pool) {
                    state.pools.insert(key.clone(), old);
                    return Err(Error::Conflict(format!("pool {} exists", key.1.0)));
                }
                self.undo.push(Undo::Pool(key, None));
            }
            Change::PoolCounters {
                tenant,
                pool_id,
                from,
                to,
            } => {
                let key = (tenant, pool_id);
                let row = pool_to_change(state, &key, from)?;
                self.undo
                    .push(Undo::Pool(key.clone(), Some(Box::new(row.clone()))));
                row.core.held = to.held;
                row.core.committed = to.committed;
                row.waiting = to.waiting;
                row.waiting_below = to.waiting_below;
                row.alert_marks = to.alert_marks;
                row.updated_at = to.updated_at;
            }
            Change::PoolRewritten { tenant, from, pool } => {
                let key = (tenant, pool.core.id.clone());
                let row = pool_to_change(state, &key, from)?;
                let old = std::mem::replace(row, *pool);
                self.undo.push(Undo::Pool(key, Some(Box::new(old))));
            }
            Change::SessionWaitlist {
                tenant,
                session,
                settings,
            } => {
                let dates = state.pools.iter_mut().filter(|((owner, _), row)| {
                    *owner == tenant && row.session_id.as_deref() == Some(session.0.as_str())
                });
                for (key, row) in dates {
                    self.undo
                        .push(Undo::Pool(key.clone(), Some(Box::new(row.clone()))));
                    row.waitlist = settings;
                }
            }
            Change::NewHold(hold) => {
                let tenant = hold.tenant.clone();
                let record = hold_record(hold)?;
                if state
                    .holds
                    .contains_key(&(tenant.clone(), record.id.clone()))
                {
                    return Err(Error::Conflict(format!("hold {} exists", record.id)));
                }
                self.set_hold(&tenant, record);
            }
            Change::HoldStatus {
                tenant,
                hold_id,
                from,
                to,
                at,
            } => {
                let mut hold = self.hold_to_change(&tenant, &hold_id)?;
                if hold.status != from {
                    return Err(Error::Conflict(format!(
                        "hold {hold_id} is no longer {from:?}"
                    )));
                }
                hold.status = to;
                hold.updated_at = at;
                self.set_hold(&tenant, hold);
            }
            Change::HoldExpiry {
                tenant,
                hold_id,
                from,
                to,
                at,
            } => {
                let mut hold = self.hold_to_change(&tenant, &hold_id)?;
                if hold.expires_at != from {
                    return Err(Error::Conflict(format!("hold {hold_id}'s deadline moved")));
                }
                hold.expires_at = to;
                hold.updated_at = at;
                self.set_hold(&tenant, hold);
            }
            Change::Consumption {
                tenant,
                pool_id,
                subject,
                hold_id,
            } => {
                let key = (tenant, pool_id, subject);
                let old = state.consumptions.insert(key.clone(), hold_id);
                self.undo.push(Undo::Consumption(key, old));
            }
            Change::Ledger(entry) => {
                let seq = state.ledger.len() as i64 + 1;
                let stored = LedgerEntry {
                    seq,
                    pool_id: entry.pool_id.0,
                    hold_id: entry.hold_id,
                    kind: entry.kind,
                    held_delta: entry.held_delta,
                    committed_delta: entry.committed_delta,
                    capacity_after: entry.capacity_after,
                    actor: entry.actor,
                    reason: entry.reason,
                    at: entry.at,
                };
                state.ledger.push((entry.tenant, stored));
                self.undo.push(Undo::LedgerAppended);
            }
            Change::IdempotencyRecord {
                tenant,
                key,
                request_hash,
                response,
                at,
            } => {
                let key = (tenant, key);
                let record = KeyRecord {
                    request_hash,
                    created_at: at,
                };
                let old = state.idempotency.insert(key.clone(), (record, response));
                self.undo.push(Undo::Idempotency(key, old));
            }
            Change::ForgetIdempotency { before, limit } => {
                let mut old: Vec<_> = state
                    .idempotency
                    .iter()
                    .filter(|(_, (record, _))| record.created_at <= before)
                    .map(|(key, (record, _))| (record.created_at, key.clone()))
                    .collect();
                old.sort();
                for (_, key) in old.into_iter().take(limit.max(0) as usize) {
                    let forgotten = state.idempotency.remove(&key);
                    self.undo.push(Undo::Idempotency(key, forgotten));
                }
            }

            // Plans and quotas
            Change::NewPlan { tenant, plan } => {
                let key = (tenant, plan.id.clone());
                if state.plans.contains_key(&key) {
                    return Err(Error::Conflict(format!("plan {} exists", key.1)));
                }
                state.plans.insert(key.clone(), *plan);
                self.undo.push(Undo::Plan(key, None));
            }
            Change::PlanUpdated {
                tenant,
                plan_id,
                from,
                to,
                at,
            } => {
                let key = (tenant, plan_id);
                let Some(plan) = state
                    .plans
                    .get_mut(&key)
                    .filter(|plan| plan.name == from.name && plan.capacity == from.capacity)
                else {
                    return Err(Error::Conflict(format!("plan {} changed meanwhile", key.1)));
                };
                let old = plan.clone();
                plan.name = to.name;
                plan.capacity = to.capacity;
                plan.updated_at = at;
                self.undo.push(Undo::Plan(key, Some(old)));
            }
            Change::NewMember {
                tenant,
                plan_id,
                subject,
                pool_id,
            } => {
                let taken =
                    state
                        .members
                        .contains_key(&(tenant.clone(), plan_id.clone(), subject.clone()))
                        || state
                            .members
                            .iter()
                            .any(|((owner, _, _), pool)| *owner == tenant && *pool == pool_id);
                if taken || !state.pools.contains_key(&(tenant.clone(), pool_id.clone())) {
                    return Err(Error::Conflict(format!(
                        "pool {pool_id} cannot become {subject}'s quota from plan {plan_id}"
                    )));
                }
                let key = (tenant, plan_id, subject);
                state.members.insert(key.clone(), pool_id);
                self.undo.push(Undo::Member(key));
            }

            // Jobs
            Change::NewJob { tenant, job } => {
                let key = (tenant, job.id.clone());
                if state.jobs.contains_key(&key) {
                    return Err(Error::Conflict(format!("job {} exists", key.1)));
                }
                state.jobs.insert(key.clone(), *job);
                self.undo.push(Undo::Job(key, None));
            }
            Change::JobProgress {
                tenant,
                job_id,
                from,
                to,
            } => {
                let key = (tenant, job_id);
                let Some(job) = state
                    .jobs
                    .get_mut(&key)
                    .filter(|job| JobState::of(job) == *from)
                else {
                    return Err(Error::Conflict(format!(
                        "job {} has moved meanwhile",
                        key.1
                    )));
                };
                let old = job.clone();
                *job = to.applied_to(&old);
                self.undo.push(Undo::Job(key, Some(Box::new(old))));
            }
            Change::NewJobItems {
                tenant,
                job_id,
                items,
                at,
            } => {
                for item in items {
                    let key = (tenant.clone(), job_id.clone(), item.seq);
                    if state.job_items.contains_key(&key) {
                        return Err(Error::Conflict(format!(
                            "job {job_id} already noted item {}",
                            item.seq
                        )));
                    }
                    state.job_items.insert(key.clone(), (item, at));
                    self.undo.push(Undo::JobItem(key));
                }
            }

            // Waiting lists
            Change::NewWaitlistEntry { tenant, entry } => {
                let key = (tenant.clone(), entry.id.clone());
                if state.entries.contains_key(&key) {
                    return Err(Error::Conflict(format!("entry {} exists", key.1)));
                }
                let Some(pool) = state.pools.get(&(tenant, entry.pool_id.clone())) else {
                    return Err(Error::Conflict(format!(
                        "entry {} waits on a missing pool {}",
                        entry.id, entry.pool_id
                    )));
                };
                let stored = stored_entry(*entry, pool);
                state.put_entry(key.clone(), Some(stored));
                self.undo.push(Undo::Entry(key, None));
            }
            Change::WaitlistEntryStatus {
                tenant,
                entry_id,
                from,
                to,
                at,
            } => {
                let key = (tenant, entry_id);
                let Some(stored) = state
                    .entries
                    .get_mut(&key)
                    .filter(|stored| stored.record.status == from)
                else {
                    return Err(Error::Conflict(format!(
                        "entry {} is no longer {from:?}",
                        key.1
                    )));
                };
                let mut changed = stored.clone();
                changed.record.status = to;
                changed.record.updated_at = at;
                let old = state.put_entry(key.clone(), Some(changed));
                self.undo.push(Undo::Entry(key, old.map(Box::new)));
            }
            Change::WaitlistEntryPromoted {
                tenant,
                entry_id,
                to,
                hold_id,
                offer_expires_at,
                at,
            } => {
                let key = (tenant, entry_id);
                let Some(stored) = state
                    .entries
                    .get_mut(&key)
                    .filter(|stored| stored.record.status == EntryStatus::Waiting)
                else {
                    return Err(Error::Conflict(format!(
                        "entry {} is no longer waiting",
                        key.1
                    )));
                };
                let mut changed = stored.clone();
                let record = &mut changed.record;
                record.status = to;
                record.hold_id = Some(hold_id);
                record.offer_expires_at = offer_expires_at;
                record.promoted_at = Some(at);
                record.updated_at = at;
                let old = state.put_entry(key.clone(), Some(changed));
                self.undo.push(Undo::Entry(key, old.map(Box::new)));
            }
            Change::PriorityClasses { tenant, classes } => {
                let old = state.priority_classes.insert(tenant.clone(), classes);
                self.undo.push(Undo::PriorityClasses(tenant, old));
            }
            Change::NewEvent {
                tenant,
                id,
                kind,
                data,
                at,
            } => {
                let seq = state.events.len() as i64 + 1;
                let event = EventView {
                    seq,
                    id,
                    kind: kind.to_owned(),
                    data,
                    created_at: at,
                };
                state.events.push((tenant, event));
                self.undo.push(Undo::EventAppended);
            }
            change @ (Change::NewDelivery { .. }
            | Change::NewAlert { .. }
            | Change::NewWebhook { .. }
            | Change::WebhookDeactivated { .. }
            | Change::PendingDeliveriesFailed { .. }
            | Change::RecipientGroups { .. }
            | Change::DeliveryAttempted { .. }) => {
                let undo = state.outbox.apply(change)?;
                self.undo.extend(undo.into_iter().map(Undo::Outbox));
            }
            // Attendees and tickets
            change @ (Change::NewAttendee { .. }
            | Change::AttendeeUpdated { .. }
            | Change::NewTicket { .. }
            | Change::TicketReissued { .. }
            | Change::TicketStatus { .. }
            | Change::NewCheckIn { .. }) => {
                let undo = state.tickets.apply(change)?;
                self.undo.extend(undo.into_iter().map(Undo::Tickets));
            }
        }
        Ok(())
    }

    /// The tenant's waiting entries on `pool`, in serving order.
    /// A tenant's pools that are dates of `session`, in date order.
    fn dates_of<'s>(
        &'s self,
        tenant: &'s TenantId,
        session: &'s PoolId,
    ) -> impl Iterator<Item = &'s PoolRecord> {
        let mut dates: Vec<&PoolRecord> = self
            .state
            .pools
            .iter()
            .filter(|((owner, _), row)| {
                owner == tenant && row.session_id.as_deref() == Some(session.0.as_str())
            })
            .map(|(_, row)| row)
            .collect();
        dates.sort_by(|a, b| a.date.cmp(&b.date));
        dates.into_iter()
    }
}

fn queue_key(entry: &EntryRecord) -> QueueKey {
    QueueKey {
        priority: entry.priority,
        seq: entry.seq,
    }
}

/// A new entry as the store keeps it, with its pool's session and date.
fn stored_entry(entry: NewEntry, pool: &PoolRecord) -> StoredEntry {
    StoredEntry {
        record: EntryRecord {
            id: entry.id,
            pool_id: entry.pool_id.0,
            holder: entry.holder,
            quantity: entry.quantity,
            priority: entry.priority,
            seq: entry.seq,
            status: EntryStatus::Waiting,
            hold_id: None,
            expires_at: entry.expires_at,
            offer_expires_at: None,
            promoted_at: None,
            created_at: entry.created_at,
            updated_at: entry.created_at,
            session_id: pool.session_id.clone(),
            date: pool.date.clone(),
        },
        priority_classes: entry.priority_classes,
    }
}

/// A new hold as the store keeps it.
fn hold_record(hold: NewHold) -> Result<HoldRecord, Error> {
    Ok(HoldRecord {
        id: hold.id,
        status: hold.status,
        holder: hold.holder,
        expires_at: hold.expires_at,
        lines: serde_json::from_str(&hold.lines)?,
        created_at: hold.created_at,
        updated_at: hold.created_at,
        waitlist_entry_id: hold.waitlist_entry_id,
    })
}

impl LoadPools for MemoryBatch<'_> {
    fn pool(&mut self, tenant: &TenantId, id: &PoolId) -> Result<Option<PoolRecord>, Error> {
        Ok(self.state.pools.get(&(tenant.clone(), id.clone())).cloned())
    }
}

impl Port for MemoryBatch<'_> {
    fn new_id(&mut self, prefix: &str) -> String {
        self.undo.push(Undo::Ids(self.state.ids.clone()));
        self.state.ids.next(prefix)
    }

    fn persist(&mut self, change: Change) -> Result<(), Error> {
        self.faults.before_persist()?;
        self.apply(change)
    }

    fn hold(&mut self, tenant: &TenantId, id: &str) -> Result<Option<HoldRecord>, Error> {
        Ok(self
            .state
            .holds
            .get(&(tenant.clone(), id.to_owned()))
            .cloned())
    }

    fn due_holds(&mut self, now: UnixMillis) -> Result<Vec<(TenantId, HoldRecord)>, Error> {
        let due = self
            .state
            .held_by_deadline
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .map(|(_, tenant, id)| {
                let hold = self.state.holds[&(tenant.clone(), id.clone())].clone();
                (tenant.clone(), hold)
            })
            .collect();
        Ok(due)
    }

    fn consumption(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        subject: &str,
    ) -> Result<Option<String>, Error> {
        let key = (tenant.clone(), pool.clone(), subject.to_owned());
        Ok(self.state.consumptions.get(&key).cloned())
    }

    fn idempotency_record(
        &mut self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<(KeyRecord, StoredResponse)>, Error> {
        let key = (tenant.clone(), key.to_owned());
        Ok(self.state.idempotency.get(&key).cloned())
    }

    fn api_key_is_live(&mut self, tenant: &TenantId, key_id: &str) -> Result<bool, Error> {
        let key = (tenant.clone(), key_id.to_owned());
        Ok(self
            .state
            .api_keys
            .get(&key)
            .is_some_and(|stored| stored.revoked_at.is_none()))
    }

    fn session_dates(&mut self, tenant: &TenantId, session: &PoolId) -> Result<Vec<PoolId>, Error> {
        Ok(self
            .dates_of(tenant, session)
            .map(|row| row.core.id.clone())
            .collect())
    }

    fn session_dates_with_waiting(
        &mut self,
        tenant: &TenantId,
        session: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(self
            .dates_of(tenant, session)
            .filter(|row| row.waiting > 0)
            .map(|row| row.core.id.clone())
            .collect())
    }

    // Plans and quotas

    fn plan(&mut self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, Error> {
        Ok(self.state.plan(tenant, id))
    }

    fn member_pool(
        &mut self,
        tenant: &TenantId,
        plan_id: &str,
        subject: &str,
    ) -> Result<Option<PoolId>, Error> {
        let key = (tenant.clone(), plan_id.to_owned(), subject.to_owned());
        Ok(self.state.members.get(&key).cloned())
    }

    // Jobs

    fn job(&mut self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, Error> {
        Ok(self
            .state
            .jobs
            .get(&(tenant.clone(), id.to_owned()))
            .cloned())
    }

    // Waiting lists

    fn next_entry_seq(&mut self) -> Result<i64, Error> {
        self.undo.push(Undo::WaitlistSeq(self.state.waitlist_seq));
        self.state.waitlist_seq += 1;
        Ok(self.state.waitlist_seq)
    }

    fn waitlist_entry(
        &mut self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<EntryRecord>, Error> {
        let key = (tenant.clone(), id.to_owned());
        Ok(self
            .state
            .entries
            .get(&key)
            .map(|stored| stored.record.clone()))
    }

    fn waiting_entries(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, Error> {
        Ok(self
            .state
            .waiting_on(tenant, &pool.0)
            .skip(offset.max(0) as usize)
            .take(limit.max(0) as usize)
            .cloned()
            .collect())
    }

    fn entry_position(
        &mut self,
        tenant: &TenantId,
        entry: &EntryRecord,
        now: UnixMillis,
    ) -> Result<u64, Error> {
        let ahead = self
            .state
            .waiting_on(tenant, &entry.pool_id)
            .filter(|other| other.expires_at > now && queue_key(other) < queue_key(entry))
            .count();
        Ok(ahead as u64 + 1)
    }

    fn recent_promotions(
        &mut self,
        tenant: &TenantId,
        pool: &PoolId,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, Error> {
        Ok(self
            .state
            .promotions_since(tenant, &pool.0, since)
            .take(limit.max(0) as usize)
            .collect())
    }

    fn priority_classes(&mut self, tenant: &TenantId) -> Result<PriorityClasses, Error> {
        Ok(self
            .state
            .priority_classes
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    fn due_entries(
        &mut self,
        now: UnixMillis,
        limit: i64,
    ) -> Result<Vec<(TenantId, EntryRecord)>, Error> {
        Ok(self
            .state
            .waiting_due(now)
            .take(limit.max(0) as usize)
            .map(|(tenant, entry)| (tenant.clone(), entry.clone()))
            .collect())
    }

    fn dates_with_waiting_before(
        &mut self,
        before: SessionDate,
        limit: i64,
    ) -> Result<Vec<(TenantId, PoolId)>, Error> {
        // Dates are stored as YYYY-MM-DD, so they compare as text (as SQLite compares them).
        let before = before.to_string();
        let mut dates: Vec<(&str, TenantId, PoolId)> = self
            .state
            .pools
            .iter()
            .filter(|(_, row)| row.waiting > 0)
            .filter_map(|((tenant, id), row)| {
                let date = row.date.as_deref().filter(|date| *date < before.as_str())?;
                Some((date, tenant.clone(), id.clone()))
            })
            .collect();
        dates.sort();
        dates.truncate(limit.max(0) as usize);
        Ok(dates
            .into_iter()
            .map(|(_, tenant, id)| (tenant, id))
            .collect())
    }

    fn children_with_waiting(
        &mut self,
        tenant: &TenantId,
        parent: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(self
            .state
            .pools
            .iter()
            .filter(|((owner, _), row)| {
                owner == tenant
                    && row.core.parent_id.as_ref() == Some(parent)
                    && row.waiting_below > 0
            })
            .map(|((_, id), _)| id.clone())
            .collect())
    }

    // Attendees and tickets

    fn event_section(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        id_or_name: &str,
    ) -> Result<Option<String>, Error> {
        let mut sections = self.state.pools.iter().filter(|((owner, _), row)| {
            owner == tenant && row.core.parent_id.as_ref().is_some_and(|p| p.0 == event_id)
        });
        // By id first, then the lowest id of that name (the map is in id order).
        let by_id = sections
            .clone()
            .find(|((_, id), _)| id.0 == id_or_name)
            .or_else(|| sections.find(|(_, row)| row.name == id_or_name));
        Ok(by_id.map(|((_, id), _)| id.0.clone()))
    }

    fn attendee_by_external_id(
        &mut self,
        tenant: &TenantId,
        event_id: &str,
        external_id: &str,
    ) -> Result<Option<AttendeeView>, Error> {
        Ok(self
            .state
            .tickets
            .attendee_by_external_id(tenant, event_id, external_id))
    }

    fn attendee(&mut self, tenant: &TenantId, id: &str) -> Result<Option<AttendeeView>, Error> {
        Ok(self.state.tickets.attendee(tenant, id))
    }

    fn attendee_for_issue(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
    ) -> Result<Option<AttendeeForIssue>, Error> {
        Ok(self.state.tickets.attendee_for_issue(tenant, attendee_id))
    }

    fn ticket(&mut self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, Error> {
        Ok(self.state.tickets.ticket(tenant, id))
    }

    fn ticket_for_token(
        &mut self,
        tenant: &TenantId,
        attendee_id: &str,
        token_hash: &str,
    ) -> Result<Option<TicketView>, Error> {
        Ok(self
            .state
            .tickets
            .ticket_for_token(tenant, attendee_id, token_hash))
    }

    // The outbox

    fn subscribers(&mut self, tenant: &TenantId) -> Result<Vec<Subscriber>, Error> {
        Ok(self.state.outbox.subscribers(tenant))
    }

    fn recipient_groups(
        &mut self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<String, Vec<Channel>>, Error> {
        Ok(self.state.outbox.recipient_groups(tenant))
    }

    fn webhook_is_active(&mut self, tenant: &TenantId, webhook_id: &str) -> Result<bool, Error> {
        Ok(self.state.outbox.webhook_is_active(tenant, webhook_id))
    }

    fn pending_delivery_attempts(&mut self, delivery_id: &str) -> Result<Option<i64>, Error> {
        Ok(self.state.outbox.pending_delivery_attempts(delivery_id))
    }
}
