//! A port for the engine's own tests: one tenant's pools, plans, members and jobs in ordered
//! maps, every change recorded in order (and applied, so later reads see it), ids counted up.

use crate::Error;
use crate::change::Change;
use crate::command::StoredResponse;
use crate::jobs::{JobState, JobView};
use crate::model::{PlanView, TenantId};
use crate::port::Port;
use crate::records::HoldRecord;
use crate::rules::idempotency::KeyRecord;
use crate::tickets::{AttendeeForIssue, AttendeeView, TicketView};
use crate::working::LoadPools;
use allot_core::{PoolId, UnixMillis};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct RecordingPort {
    pub pools: BTreeMap<PoolId, crate::records::PoolRecord>,
    pub plans: BTreeMap<String, PlanView>,
    /// (plan, subject) → the member's pool.
    pub members: BTreeMap<(String, String), PoolId>,
    pub jobs: BTreeMap<String, JobView>,
    /// Every change persisted, in order.
    pub changes: Vec<Change>,
    last_id: u64,
}

impl RecordingPort {
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
}
