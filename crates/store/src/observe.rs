//! What anyone can see of a store's decisions — every pool with its figures, every hold, the
//! whole ledger, every plan with its members, every job with the items it failed or skipped,
//! every attendee and ticket, the event log, the alert log, the webhooks and every delivery —
//! gathered in one value, so that two stores given the same commands can be shown to agree (the
//! conformance suite), and a simulation can check its invariants against what was persisted.

use crate::jobs::{JobItem, JobView};
use crate::model::{
    AlertView, DeliveryView, EventView, HoldView, LedgerEntry, PlanView, PoolView, TenantId,
    WebhookView,
};
use crate::tickets::{AttendeeView, TicketView};

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// By tenant, then pool id; each with its figures as of the moment observed (a hold past
    /// its deadline no longer counts, even before a batch has expired it).
    pub pools: Vec<(TenantId, PoolView)>,
    /// By tenant, then hold id; each with its status as of the moment observed.
    pub holds: Vec<(TenantId, HoldView)>,
    /// In the order appended.
    pub ledger: Vec<(TenantId, LedgerEntry)>,
    /// By tenant, then plan id; each with how many members it has.
    pub plans: Vec<(TenantId, PlanView)>,
    /// Each member's quota pool, by tenant, plan id, then subject.
    pub members: Vec<Member>,
    /// By tenant, then job id.
    pub jobs: Vec<(TenantId, JobView)>,
    /// The items each job skipped or failed: by tenant, job id, then position in the job.
    pub job_items: Vec<(TenantId, String, JobItem)>,
    /// By tenant, then attendee id; each with their live ticket's id.
    pub attendees: Vec<(TenantId, AttendeeView)>,
    /// By tenant, then ticket id.
    pub tickets: Vec<(TenantId, TicketView)>,
    /// By tenant, then in the order they happened.
    pub events: Vec<(TenantId, EventView)>,
    /// By tenant, then in the order they fired.
    pub alerts: Vec<(TenantId, AlertView)>,
    /// The active webhooks, by tenant, then id.
    pub webhooks: Vec<(TenantId, WebhookView)>,
    /// Every delivery (to webhooks and by e-mail) with where it stands, by id.
    pub deliveries: Vec<DeliveryView>,
}

/// A subject's quota pool from a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub tenant: TenantId,
    pub plan_id: String,
    pub subject: String,
    pub pool_id: String,
}
