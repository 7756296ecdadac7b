//! A port for the engine's own tests: one tenant's pools, plans, members, jobs and waiting-list
//! entries in ordered maps, every change recorded in order (and applied, so later reads see it), ids counted up.

use crate::Error;
use crate::change::Change;
use crate::command::StoredResponse;
use crate::jobs::{JobState, JobView};
use crate::model::{Channel, DeliveryStatus, PlanView, TenantId};
use crate::port::LoadPools;
use crate::port::Port;
use crate::records::{EntryRecord, HoldRecord};
use crate::rules::idempotency::KeyRecord;
use crate::rules::routing::Subscriber;
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use allot_core::waitlist::{EntryStatus, PriorityClasses, QueueKey};
use allot_core::{PoolId, SessionDate, UnixMillis};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct RecordingPort {
    pub pools: BTreeMap<PoolId, crate::records::PoolRecord>,
    pub plans: BTreeMap<String, PlanView>,
    /// (plan, subject) → the member's pool.
    pub members: BTreeMap<(String, String), PoolId>,
    pub jobs: BTreeMap<String, JobView>,
    pub entries: BTreeMap<String, EntryRecord>,
    pub classes: Option<PriorityClasses>,
    /// Webhooks by id: what each subscribed to, and whether it is active.
    pub webhooks: BTreeMap<String, (Vec<String>, bool)>,
    pub recipients: BTreeMap<String, Vec<Channel>>,
    /// Pending deliveries and their attempts so far.
    pub pending_deliveries: BTreeMap<String, i64>,
    last_entry_seq: i64,
    /// Every change persisted, in order.
    pub changes: Vec<Change>,
    last_id: u64,
}

impl RecordingPort {
    /// A root pool of `capacity` (limits at 100 %) with `committed` already used.
    pub fn add_pool(&mut self, id: &str, name: &str, unit: &str, capacity: i64, committed: i64) {
        let limits = allot_core::PoolLimits {
            capacity: allot_core::Capacity::new(capacity).expect("valid"),
            hard_limit_pct: allot_core::LimitPct::HUNDRED,
            soft_limit_pct: allot_core::LimitPct::HUNDRED,
        };
        let mut core = allot_core::Pool::new(PoolId(id.into()), None, limits);
        core.committed = committed;
        let row = crate::records::PoolRecord {
            core,
            name: name.to_owned(),
            unit: unit.to_owned(),
            price: None,
            metadata: None,
            created_at: UnixMillis(0),
            updated_at: UnixMillis(0),
            per_date: false,
            session_id: None,
            date: None,
            time_zone: None,
            waitlist: crate::model::WaitlistSettings::default(),
            waiting: 0,
            waiting_below: 0,
            thresholds: None,
            alert_marks: None,
        };
        self.pools.insert(PoolId(id.into()), row);
    }

    /// A pool whose use must be `from` to be written.
    fn pool_at(
        &mut self,
        id: &PoolId,
        from: crate::change::PoolUse,
    ) -> Result<&mut crate::records::PoolRecord, Error> {
        let row = self.pools.get_mut(id).expect("a written pool exists");
        if crate::change::PoolUse::of(&row.core) != from {
            return Err(Error::Conflict(format!(
                "pool {id} was written by someone else"
            )));
        }
        Ok(row)
    }

    /// The changes persisted since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }
}

impl LoadPools for RecordingPort {
    fn pool(
        &mut self,
        _tenant: &TenantId,
        id: &PoolId,
    ) -> Result<Option<crate::records::PoolRecord>, Error> {
        Ok(self.pools.get(id).cloned())
    }
}

impl Port for RecordingPort {
    fn new_id(&mut self, prefix: &str) -> String {
        self.last_id += 1;
        format!("{prefix}_{}", self.last_id)
    }

    fn persist(&mut self, change: Change) -> Result<(), Error> {
        match &change {
            Change::NewPool { pool, .. } => {
                self.pools.insert(pool.core.id.clone(), (**pool).clone());
            }
            Change::PoolCounters {
                pool_id, from, to, ..
            } => {
                let row = self.pool_at(pool_id, *from)?;
                row.core.held = to.held;
                row.core.committed = to.committed;
                row.waiting = to.waiting;
                row.waiting_below = to.waiting_below;
                row.alert_marks.clone_from(&to.alert_marks);
                row.updated_at = to.updated_at;
            }
            Change::PoolRewritten { from, pool, .. } => {
                *self.pool_at(&pool.core.id, *from)? = (**pool).clone();
            }
            Change::NewPlan { plan, .. } => {
                self.plans.insert(plan.id.clone(), (**plan).clone());
            }
            Change::PlanUpdated {
                plan_id, to, at, ..
            } => {
                let plan = self.plans.get_mut(plan_id).expect("a changed plan exists");
                plan.name = to.name.clone();
                plan.capacity = to.capacity;
                plan.updated_at = *at;
            }
            Change::NewMember {
                plan_id,
                subject,
                pool_id,
                ..
            } => {
                self.members
                    .insert((plan_id.clone(), subject.clone()), pool_id.clone());
            }
            Change::NewJob { job, .. } => {
                self.jobs.insert(job.id.clone(), (**job).clone());
            }
            Change::JobProgress {
                job_id, from, to, ..
            } => {
                let job = self.jobs.get_mut(job_id).expect("a moved job exists");
                if JobState::of(job) != **from {
                    return Err(Error::Conflict(format!("job {job_id} has moved")));
                }
                *job = (**to).clone().applied_to(job);
            }
            Change::NewWaitlistEntry { entry, .. } => {
                let record = EntryRecord {
                    id: entry.id.clone(),
                    pool_id: entry.pool_id.0.clone(),
                    holder: entry.holder.clone(),
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
                    session_id: None,
                    date: None,
                };
                self.entries.insert(entry.id.clone(), record);
            }
            Change::WaitlistEntryStatus {
                entry_id,
                from,
                to,
                at,
                ..
            } => {
                let entry = self
                    .entries
                    .get_mut(entry_id)
                    .expect("a moved entry exists");
                if entry.status != *from {
                    return Err(Error::Conflict(format!("entry {entry_id} has moved")));
                }
                entry.status = *to;
                entry.updated_at = *at;
            }
            Change::WaitlistEntryPromoted {
                entry_id,
                to,
                hold_id,
                offer_expires_at,
                at,
                ..
            } => {
                let entry = self
                    .entries
                    .get_mut(entry_id)
                    .expect("a served entry exists");
                entry.status = *to;
                entry.hold_id = Some(hold_id.clone());
                entry.offer_expires_at = *offer_expires_at;
                entry.promoted_at = Some(*at);
                entry.updated_at = *at;
            }
            Change::PriorityClasses { classes, .. } => self.classes = Some(classes.clone()),
            Change::NewWebhook { webhook, .. } => {
                let subscribed = (webhook.events.clone(), true);
                self.webhooks.insert(webhook.id.clone(), subscribed);
            }
            Change::WebhookDeactivated { webhook_id, .. } => {
                let webhook = self.webhooks.get_mut(webhook_id);
                webhook.expect("a deleted webhook exists").1 = false;
            }
            Change::RecipientGroups { groups, .. } => self.recipients = groups.clone(),
            Change::NewDelivery { delivery, .. } => {
                self.pending_deliveries.insert(delivery.id.clone(), 0);
            }
            Change::DeliveryAttempted {
                attempt,
                number,
                to,
                ..
            } => {
                if *to == DeliveryStatus::Pending {
                    self.pending_deliveries
                        .insert(attempt.delivery_id.clone(), *number);
                } else {
                    self.pending_deliveries.remove(&attempt.delivery_id);
                }
            }
            _ => {}
        }
        self.changes.push(change);
        Ok(())
    }

    fn hold(&mut self, _tenant: &TenantId, _id: &str) -> Result<Option<HoldRecord>, Error> {
        Ok(None)
    }

    fn due_holds(&mut self, _now: UnixMillis) -> Result<Vec<(TenantId, HoldRecord)>, Error> {
        Ok(Vec::new())
    }

    fn consumption(
        &mut self,
        _tenant: &TenantId,
        _pool: &PoolId,
        _subject: &str,
    ) -> Result<Option<String>, Error> {
        Ok(None)
    }

    fn idempotency_record(
        &mut self,
        _tenant: &TenantId,
        _key: &str,
    ) -> Result<Option<(KeyRecord, StoredResponse)>, Error> {
        Ok(None)
    }

    fn api_key_is_live(&mut self, _tenant: &TenantId, _key_id: &str) -> Result<bool, Error> {
        Ok(false)
    }

    fn session_dates(
        &mut self,
        _tenant: &TenantId,
        _session: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(Vec::new())
    }

    fn session_dates_with_waiting(
        &mut self,
        _tenant: &TenantId,
        _session: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(Vec::new())
    }

    fn plan(&mut self, _tenant: &TenantId, id: &str) -> Result<Option<PlanView>, Error> {
        let members = self.members.keys().filter(|(plan, _)| plan == id).count();
        Ok(self.plans.get(id).map(|plan| PlanView {
            members: members as i64,
            ..plan.clone()
        }))
    }

    fn member_pool(
        &mut self,
        _tenant: &TenantId,
        plan_id: &str,
        subject: &str,
    ) -> Result<Option<PoolId>, Error> {
        let key = (plan_id.to_owned(), subject.to_owned());
        Ok(self.members.get(&key).cloned())
    }

    fn job(&mut self, _tenant: &TenantId, id: &str) -> Result<Option<JobView>, Error> {
        Ok(self.jobs.get(id).cloned())
    }

    // No attendees or tickets: their family is tested on the stores (crates/store/tests).

    fn event_section(
        &mut self,
        _tenant: &TenantId,
        _event_id: &str,
        _id_or_name: &str,
    ) -> Result<Option<String>, Error> {
        Ok(None)
    }

    fn attendee_by_external_id(
        &mut self,
        _tenant: &TenantId,
        _event_id: &str,
        _external_id: &str,
    ) -> Result<Option<AttendeeView>, Error> {
        Ok(None)
    }

    fn attendee(&mut self, _tenant: &TenantId, _id: &str) -> Result<Option<AttendeeView>, Error> {
        Ok(None)
    }

    fn attendee_for_issue(
        &mut self,
        _tenant: &TenantId,
        _attendee_id: &str,
    ) -> Result<Option<AttendeeForIssue>, Error> {
        Ok(None)
    }

    fn ticket(&mut self, _tenant: &TenantId, _id: &str) -> Result<Option<TicketView>, Error> {
        Ok(None)
    }

    fn ticket_for_token(
        &mut self,
        _tenant: &TenantId,
        _attendee_id: &str,
        _token_hash: &str,
    ) -> Result<Option<TicketView>, Error> {
        Ok(None)
    }

    fn next_entry_seq(&mut self) -> Result<i64, Error> {
        self.last_entry_seq += 1;
        Ok(self.last_entry_seq)
    }

    fn waitlist_entry(
        &mut self,
        _tenant: &TenantId,
        id: &str,
    ) -> Result<Option<EntryRecord>, Error> {
        Ok(self.entries.get(id).cloned())
    }

    fn waiting_entries(
        &mut self,
        _tenant: &TenantId,
        pool: &PoolId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, Error> {
        let mut waiting: Vec<EntryRecord> = self
            .entries
            .values()
            .filter(|entry| entry.pool_id == pool.0 && entry.status == EntryStatus::Waiting)
            .cloned()
            .collect();
        waiting.sort_by_key(|entry| QueueKey {
            priority: entry.priority,
            seq: entry.seq,
        });
        Ok(waiting
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect())
    }

    fn entry_position(
        &mut self,
        _tenant: &TenantId,
        entry: &EntryRecord,
        now: UnixMillis,
    ) -> Result<u64, Error> {
        let key = |e: &EntryRecord| QueueKey {
            priority: e.priority,
            seq: e.seq,
        };
        let ahead = self
            .entries
            .values()
            .filter(|other| other.pool_id == entry.pool_id)
            .filter(|other| other.status == EntryStatus::Waiting && other.expires_at > now)
            .filter(|other| key(other) < key(entry))
            .count();
        Ok(ahead as u64 + 1)
    }

    fn recent_promotions(
        &mut self,
        _tenant: &TenantId,
        pool: &PoolId,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, Error> {
        let mut times: Vec<UnixMillis> = self
            .entries
            .values()
            .filter(|entry| entry.pool_id == pool.0)
            .filter_map(|entry| entry.promoted_at)
            .filter(|at| *at > since)
            .collect();
        times.sort_by(|a, b| b.cmp(a));
        times.truncate(limit as usize);
        Ok(times)
    }

    fn priority_classes(&mut self, _tenant: &TenantId) -> Result<PriorityClasses, Error> {
        Ok(self.classes.clone().unwrap_or_default())
    }

    fn due_entries(
        &mut self,
        _now: UnixMillis,
        _limit: i64,
    ) -> Result<Vec<(TenantId, EntryRecord)>, Error> {
        Ok(Vec::new())
    }

    fn dates_with_waiting_before(
        &mut self,
        _before: SessionDate,
        _limit: i64,
    ) -> Result<Vec<(TenantId, PoolId)>, Error> {
        Ok(Vec::new())
    }

    fn children_with_waiting(
        &mut self,
        _tenant: &TenantId,
        parent: &PoolId,
    ) -> Result<Vec<PoolId>, Error> {
        Ok(self
            .pools
            .values()
            .filter(|row| row.core.parent_id.as_ref() == Some(parent) && row.waiting_below > 0)
            .map(|row| row.core.id.clone())
            .collect())
    }

    fn subscribers(&mut self, _tenant: &TenantId) -> Result<Vec<Subscriber>, Error> {
        Ok(self
            .webhooks
            .iter()
            .filter(|(_, (_, active))| *active)
            .map(|(id, (events, _))| Subscriber {
                id: id.clone(),
                events: events.clone(),
            })
            .collect())
    }

    fn recipient_groups(
        &mut self,
        _tenant: &TenantId,
    ) -> Result<BTreeMap<String, Vec<Channel>>, Error> {
        Ok(self.recipients.clone())
    }

    fn webhook_is_active(&mut self, _tenant: &TenantId, webhook_id: &str) -> Result<bool, Error> {
        Ok(self
            .webhooks
            .get(webhook_id)
            .is_some_and(|(_, active)| *active))
    }

    fn pending_delivery_attempts(&mut self, delivery_id: &str) -> Result<Option<i64>, Error> {
        Ok(self.pending_deliveries.get(delivery_id).copied())
    }
}
