//! What the simulated clients send: tenants set up first, then pools in hierarchies of up to
//! three levels and dated sessions (a tour per day), and a stream of holds — on sections, on a
//! session's dates (some of them over, some the session itself), on members' quotas — confirms,
//! releases, extensions, capacity changes, plans and their members, bulk quota adjustments in
//! jobs (chunks sent again), graduation tickets (attendees imported into an event's sections,
//! tickets issued in chunks, scans at the door, voids), waiting lists (buyers joining full
//! sections, strict or skip, offered or confirmed, cancelling), and sweeps, some under an idempotency key and some of those sent
//! again. Every choice comes from the run's random source, so a seed is a history.

use allot_core::waitlist::{PromotionMode, WaitlistPolicy};
use allot_core::{
    Capacity, HoldLine, LimitPct, PoolId, Quantity, SessionDate, TtlSeconds, UnixMillis,
};
use allot_store::command::{
    Adjustment, HoldExtras, NewPlan, NewPool, NewWaitlistEntry, PoolPatch, PriorityAsk, QuotaChunk,
    QuotaTarget,
};
use allot_store::jobs::{JobCommand, JobProgress, JobStatus};
use allot_store::model::WaitlistSettings;
use allot_store::tickets::{NewAttendee, PreparedTicket, TicketCommand, TicketSuccess};
use allot_store::{
    Command, Envelope, Idempotency, Outcome, Reply, StoredResponse, Success, TenantId,
};
use fastrand::Rng;
use std::collections::BTreeMap;

/// Tenants in a run: enough that isolation matters, few enough that pools fill up.
const TENANTS: usize = 4;
/// Pools per tenant, at most.
const POOLS_PER_TENANT: usize = 24;
/// Hold ids remembered for confirms, releases and extensions.
const HOLDS_REMEMBERED: usize = 512;
/// Keyed requests remembered to send again.
const KEYS_REMEMBERED: usize = 64;
/// Who or what a hold may consume once per pool (a learner, a volunteer).
const SUBJECTS: u32 = 16;
/// Dated sessions per tenant, at most.
const SESSIONS_PER_TENANT: usize = 3;
/// Plans per tenant, at most; members are drawn from [`SUBJECTS`].
const PLANS_PER_TENANT: usize = 3;
/// Quota jobs remembered for their chunks.
const JOBS_REMEMBERED: usize = 16;
const DAY_MS: i64 = 86_400_000;
/// Graduates per event, by external id: an import names some of them again.
const GRADUATES: u32 = 20;
/// Attendees remembered for tickets and scans.
const ATTENDEES_REMEMBERED: usize = 256;
/// Tickets remembered (from scans) to void.
const TICKETS_REMEMBERED: usize = 64;
/// Waiting-list entries remembered to cancel.
const ENTRIES_REMEMBERED: usize = 128;

/// One command as sent, kept to check its answer and perhaps to send again.
#[derive(Debug, Clone)]
pub struct Sent {
    pub tenant: TenantId,
    pub command: Command,
    /// The key and the request it stands for, when sent with one.
    pub key: Option<(String, u64)>,
    /// For a repeat: the answer the key gave the first time.
    pub first_answer: Option<StoredResponse>,
}

#[derive(Debug, Default)]
pub struct Learned {
    pub placed: u64,
    pub expired: u64,
    /// Holds placed on a session's date (its instance made on first use).
    pub on_dates: u64,
    pub members: u64,
    pub quota_chunks: u64,
    /// Tickets issued by chunks, and scans that admitted someone.
    pub tickets: u64,
    pub admitted: u64,
    /// Buyers who joined a waiting list.
    pub joined: u64,
}

#[derive(Debug)]
pub struct Workload {
    pub tenants: Vec<TenantId>,
    /// Each tenant's pools with their depth (a root is 0).
    pub pools: Vec<Vec<(PoolId, usize)>>,
    /// Each tenant's dated sessions: holds go on their dates, never on them.
    sessions: Vec<Vec<PoolId>>,
    plans: Vec<Vec<String>>,
    /// Each tenant's members' quota pools (also in `pools`, as leaves).
    member_pools: Vec<Vec<PoolId>>,
    /// Bulk quota jobs: (tenant index, job id); each is sent one chunk, perhaps twice.
    jobs: Vec<(usize, String)>,
    /// Ticket issuance jobs: (tenant index, job id).
    ticket_jobs: Vec<(usize, String)>,
    /// Attendees imported: (tenant index, event id, attendee id).
    attendees: Vec<(usize, String, String)>,
    /// The token hash last sent for each attendee's ticket.
    tokens: BTreeMap<String, String>,
    next_token: u64,
    /// Tickets seen at the door: (tenant index, ticket id).
    tickets: Vec<(usize, String)>,
    /// Waiting-list entries joined: (tenant index, entry id).
    entries: Vec<(usize, String)>,
    holds: Vec<(usize, String)>,
    /// Keyed requests answered, with the answer kept: (tenant index, sent, answer).
    keyed: Vec<(usize, Sent, StoredResponse)>,
    next_key: u64,
    requested_tenants: usize,
    /// The clock as the clients see it: which dates are upcoming.
    now: UnixMillis,
}

impl Workload {
    /// Clients whose clock starts at `start`.
    pub fn new(start: UnixMillis) -> Self {
        Workload {
            tenants: Vec::new(),
            pools: Vec::new(),
            sessions: Vec::new(),
            plans: Vec::new(),
            member_pools: Vec::new(),
            jobs: Vec::new(),
            ticket_jobs: Vec::new(),
            attendees: Vec::new(),
            tokens: BTreeMap::new(),
            next_token: 0,
            tickets: Vec::new(),
            entries: Vec::new(),
            holds: Vec::new(),
            keyed: Vec::new(),
            next_key: 0,
            requested_tenants: 0,
            now: start,
        }
    }

    /// Mostly small steps; now and then a jump past every deadline.
    pub fn advance_clock(&mut self, rng: &mut Rng, now: UnixMillis) -> UnixMillis {
        let step = match rng.u32(0..100) {
            0..=1 => rng.i64(600_000..3_600_000),
            2..=10 => rng.i64(10_000..120_000),
            _ => rng.i64(0..2_000),
        };
        self.now = UnixMillis(now.0 + step);
        self.now
    }

    /// A batch of `size` envelopes, and what each was.
    pub fn batch(&mut self, rng: &mut Rng, size: usize) -> (Vec<Envelope>, Vec<Sent>) {
        let mut envelopes = Vec::with_capacity(size);
        let mut sent = Vec::with_capacity(size);
        for _ in 0..size {
            let one = self.next_command(rng);
            envelopes.push(envelope(&one));
            sent.push(one);
        }
        (envelopes, sent)
    }

    fn next_command(&mut self, rng: &mut Rng) -> Sent {
        if self.tenants.is_empty() || self.requested_tenants < TENANTS {
            // Tenants come first; their ids are learned from the answers.
            self.requested_tenants += 1;
            let command = Command::CreateTenant {
                name: format!("tenant {}", self.requested_tenants),
                key_id: format!("key_{}", rng.u64(..)),
                key_hash: format!("{:016x}", rng.u64(..)),
            };
            return plain(TenantId(String::new()), command);
        }
        let t = rng.usize(0..self.tenants.len());
        let tenant = self.tenants[t].clone();
        if !self.keyed.is_empty() && rng.u32(0..100) < 4 {
            return self.repeat(rng);
        }
        let command = match rng.u32(0..100) {
            _ if self.pools[t].len() < 3 => self.new_pool(rng, t),
            0..=3 if self.pools[t].len() < POOLS_PER_TENANT => self.new_pool(rng, t),
            4 if self.sessions[t].len() < SESSIONS_PER_TENANT => self.new_session(rng, t),
            5 if self.plans[t].len() < PLANS_PER_TENANT => self.new_plan(rng, t),
            6..=7 if !self.plans[t].is_empty() => self.put_member(rng, t),
            8..=9 if !self.member_pools[t].is_empty() => self.new_quota_job(rng),
            10..=12 if self.jobs.iter().any(|(owner, _)| *owner == t) => self.quota_chunk(rng, t),
            13 if self.jobs.iter().any(|(owner, _)| *owner == t) => self.finish_job(rng, t),
            14..=16 => self.join(rng, t),
            17 if self.entries.iter().any(|(owner, _)| *owner == t) => self.cancel(rng, t),
            18..=49 => self.hold(rng, t),
            50..=61 => self.step(rng, t, Step::Confirm),
            62..=71 => self.step(rng, t, Step::Release),
            72..=77 => self.step(rng, t, Step::Extend),
            78..=87 => self.change_capacity(rng, t),
            88..=90 => self.toggle_active(rng, t),
            91..=93 => Command::SweepExpired,
            94 => self.import_attendees(rng, t),
            95 => Command::Job(JobCommand::Create {
                kind: "tickets.generate".into(),
                params: serde_json::json!({}),
                total: 4,
            }),
            96..=97 if self.has_ticket_job(t) && self.has_attendees(t) => self.ticket_chunk(rng, t),
            98 if self.has_attendees(t) => self.scan(rng, t),
            99 if self.tickets.iter().any(|(owner, _)| *owner == t) => self.void(rng, t),
            _ => self.hold(rng, t),
        };
        let mut sent = plain(tenant, command);
        if rng.u32(0..100) < 15 {
            self.next_key += 1;
            sent.key = Some((
                format!("key-{}", self.next_key),
                request_hash(&sent.command),
            ));
        }
        sent
    }

    /// A batch that failed made nothing: the tenants it asked for are asked for again.
    pub fn failed(&mut self, sent: &[Sent]) {
        let tenants = sent
            .iter()
            .filter(|one| matches!(one.command, Command::CreateTenant { .. }))
            .count();
        self.requested_tenants -= tenants.min(self.requested_tenants);
    }

    /// A keyed request sent again: the same request (answered as before), or another request
    /// under the same key (refused).
    fn repeat(&mut self, rng: &mut Rng) -> Sent {
        let (t, first, answer) = self.keyed[rng.usize(0..self.keyed.len())].clone();
        let mut again = first;
        again.tenant = self.tenants[t].clone();
        again.first_answer = Some(answer);
        if rng.bool() {
            // Same key, another request.
            let (key, hash) = again.key.take().expect("a kept request has its key");
            again.key = Some((key, hash ^ 1));
            again.first_answer = None;
        }
        again
    }

    fn new_pool(&self, rng: &mut Rng, t: usize) -> Command {
        let pools = &self.pools[t];
        // A third are roots; the rest hang under a pool of depth 0 or 1.
        let parents: Vec<&PoolId> = pools
            .iter()
            .filter(|(_, depth)| *depth < 2)
            .map(|(id, _)| id)
            .collect();
        let parent = (!parents.is_empty() && rng.u32(0..3) > 0)
            .then(|| parents[rng.usize(0..parents.len())].0.clone());
        let hard = [100, 100, 100, 110, 90][rng.usize(0..5)];
        Command::CreatePool(NewPool {
            name: format!("section {}", pools.len()),
            unit: "seats".into(),
            parent_id: parent,
            capacity: capacity(rng.i64(1..=60)),
            hard_limit_pct: LimitPct::new(hard).expect("a valid limit"),
            soft_limit_pct: LimitPct::new(hard.min(100) - rng.i64(0..10)).expect("a valid limit"),
            price: None,
            metadata: None,
            per_date: false,
            time_zone: None,
            waitlist: waitlist_settings(rng),
            thresholds: None,
        })
    }

    /// A buyer joining the line of a section (often a full one).
    fn join(&self, rng: &mut Rng, t: usize) -> Command {
        let priority = match rng.u32(0..4) {
            0 => PriorityAsk::Explicit(rng.i64(0..=10)),
            _ => PriorityAsk::Base,
        };
        Command::JoinWaitlist(NewWaitlistEntry {
            pool_id: self.pool(rng, t).0,
            holder: format!("buyer {}", rng.u32(0..100)),
            quantity: Quantity::new(rng.i64(1..=4)).expect("a valid quantity"),
            priority,
            expires_in: TtlSeconds::new(rng.i64(30..=3_600)).expect("a valid ttl"),
        })
    }

    fn cancel(&self, rng: &mut Rng, t: usize) -> Command {
        let mine: Vec<&String> = self
            .entries
            .iter()
            .filter(|(owner, _)| *owner == t)
            .map(|(_, id)| id)
            .collect();
        Command::CancelWaitlistEntry {
            entry_id: mine[rng.usize(0..mine.len())].clone(),
        }
    }

    fn new_session(&self, rng: &mut Rng, t: usize) -> Command {
        Command::CreatePool(NewPool {
            name: format!("tour {}", self.sessions[t].len()),
            unit: "seats".into(),
            parent_id: None,
            capacity: capacity(rng.i64(1..=30)),
            hard_limit_pct: LimitPct::HUNDRED,
            soft_limit_pct: LimitPct::HUNDRED,
            price: None,
            metadata: None,
            per_date: true,
            time_zone: None,
            waitlist: waitlist_settings(rng),
            thresholds: None,
        })
    }

    fn new_plan(&self, rng: &mut Rng, t: usize) -> Command {
        let hard = [100, 100, 120][rng.usize(0..3)];
        Command::CreatePlan(NewPlan {
            name: format!("tier {}", self.plans[t].len()),
            unit: "credits".into(),
            capacity: capacity(rng.i64(1..=40)),
            hard_limit_pct: LimitPct::new(hard).expect("a valid limit"),
            // Now and then a soft limit above the hard one, which is refused.
            soft_limit_pct: LimitPct::new([100, 90, 130][rng.usize(0..3)]).expect("a valid limit"),
            thresholds: None,
        })
    }

    fn put_member(&self, rng: &mut Rng, t: usize) -> Command {
        let plans = &self.plans[t];
        Command::PutMember {
            plan_id: plans[rng.usize(0..plans.len())].clone(),
            subject: format!("member {}", rng.u32(0..SUBJECTS)),
            parent_id: None,
        }
    }

    /// A bulk quota adjustment queued; its chunk comes later.
    fn new_quota_job(&self, rng: &mut Rng) -> Command {
        Command::Job(JobCommand::Create {
            kind: "quotas.adjust".into(),
            params: serde_json::json!({"delta": rng.i64(-5..=5)}),
            total: 3,
        })
    }

    fn remembered_job(&self, rng: &mut Rng, t: usize) -> String {
        let mine: Vec<&String> = self
            .jobs
            .iter()
            .filter(|(owner, _)| *owner == t)
            .map(|(_, id)| id)
            .collect();
        mine[rng.usize(0..mine.len())].clone()
    }

    /// The one chunk of a quota job: sent again after it landed, it is stale and adjusts nothing.
    fn quota_chunk(&self, rng: &mut Rng, t: usize) -> Command {
        let members = &self.member_pools[t];
        let targets = (0..rng.usize(1..=3))
            .map(|n| QuotaTarget {
                label: format!("target {n}"),
                // Now and then a subject with no quota: that item fails alone.
                pool_id: (!members.is_empty() && rng.u32(0..8) > 0)
                    .then(|| members[rng.usize(0..members.len())].0.clone()),
            })
            .collect();
        let change = match rng.bool() {
            true => Adjustment::Add(rng.i64(-8..=8)),
            false => Adjustment::SetTo(capacity(rng.i64(0..=40))),
        };
        Command::AdjustQuotas(QuotaChunk {
            progress: JobProgress {
                job_id: self.remembered_job(rng, t),
                expected_cursor: None,
                next_cursor: None,
                last: true,
            },
            first_seq: 0,
            targets,
            change,
            reason: "the term's allowance changed".into(),
        })
    }

    fn finish_job(&self, rng: &mut Rng, t: usize) -> Command {
        let failed = rng.bool();
        Command::Job(JobCommand::Finish {
            job_id: self.remembered_job(rng, t),
            status: if failed {
                JobStatus::Failed
            } else {
                JobStatus::Done
            },
            error: failed.then(|| "the platform cancelled it".into()),
        })
    }

    fn has_ticket_job(&self, t: usize) -> bool {
        self.ticket_jobs.iter().any(|(owner, _)| *owner == t)
    }

    fn has_attendees(&self, t: usize) -> bool {
        self.attendees.iter().any(|(owner, _, _)| *owner == t)
    }

    /// Graduates imported into an event (a root pool), by the name of a section that may or
    /// may not be under it; the same graduates again update their rows.
    fn import_attendees(&self, rng: &mut Rng, t: usize) -> Command {
        let events: Vec<&PoolId> = self.pools[t]
            .iter()
            .filter(|(_, depth)| *depth == 0)
            .map(|(id, _)| id)
            .collect();
        let event_id = match events.is_empty() {
            true => "pool_missing".to_owned(),
            false => events[rng.usize(0..events.len())].0.clone(),
        };
        let rows = (0..rng.u64(1..=4))
            .map(|line| NewAttendee {
                line: line + 1,
                external_id: format!("grad {}", rng.u32(0..GRADUATES)),
                name: format!("Graduate {}", rng.u32(..)),
                email: None,
                section: (rng.u32(0..3) > 0).then(|| format!("section {}", rng.usize(0..8))),
            })
            .collect();
        Command::Tickets(TicketCommand::UpsertAttendees {
            event_id,
            rows,
            rejected: Vec::new(),
            list: true,
        })
    }

    fn attendee_of(&self, rng: &mut Rng, t: usize) -> (String, String) {
        let mine: Vec<&(usize, String, String)> = self
            .attendees
            .iter()
            .filter(|(owner, _, _)| *owner == t)
            .collect();
        let (_, event, attendee) = mine[rng.usize(0..mine.len())];
        (event.clone(), attendee.clone())
    }

    /// A chunk of tickets for some of an event's attendees (now and then one of another event):
    /// each is issued, regenerated or refused; the job's one chunk, perhaps sent twice.
    fn ticket_chunk(&mut self, rng: &mut Rng, t: usize) -> Command {
        let (event_id, _) = self.attendee_of(rng, t);
        let items = (0..rng.usize(1..=4))
            .map(|_| {
                let (_, attendee_id) = self.attendee_of(rng, t);
                self.next_token += 1;
                let token_hash = format!("token-hash-{}", self.next_token);
                self.tokens.insert(attendee_id.clone(), token_hash.clone());
                PreparedTicket {
                    attendee_id,
                    code: format!("C{}", self.next_token),
                    token_seed: format!("seed-{}", self.next_token),
                    token_hash,
                }
            })
            .collect();
        let jobs: Vec<&String> = self
            .ticket_jobs
            .iter()
            .filter(|(owner, _)| *owner == t)
            .map(|(_, id)| id)
            .collect();
        Command::Tickets(TicketCommand::IssueChunk {
            event_id,
            progress: JobProgress {
                job_id: jobs[rng.usize(0..jobs.len())].clone(),
                expected_cursor: None,
                next_cursor: None,
                last: true,
            },
            skip_existing: rng.bool(),
            items,
        })
    }

    /// A scan at the door with the attendee's last token, or now and then an old one.
    fn scan(&self, rng: &mut Rng, t: usize) -> Command {
        let (_, attendee_id) = self.attendee_of(rng, t);
        let token_hash = match self.tokens.get(&attendee_id) {
            Some(token) if rng.u32(0..10) > 0 => token.clone(),
            _ => format!("token-hash-{}", rng.u64(0..=self.next_token)),
        };
        Command::Tickets(TicketCommand::CheckIn {
            attendee_id,
            token_hash,
        })
    }

    fn void(&self, rng: &mut Rng, t: usize) -> Command {
        let mine: Vec<&String> = self
            .tickets
            .iter()
            .filter(|(owner, _)| *owner == t)
            .map(|(_, id)| id)
            .collect();
        Command::Tickets(TicketCommand::Void {
            ticket_id: mine[rng.usize(0..mine.len())].clone(),
        })
    }

    fn pool(&self, rng: &mut Rng, t: usize) -> PoolId {
        let sessions = &self.sessions[t];
        if !sessions.is_empty() && rng.u32(0..100) < 15 {
            let session = &sessions[rng.usize(0..sessions.len())];
            if rng.u32(0..20) == 0 {
                // The session itself takes no holds.
                return session.clone();
            }
            // Yesterday (over), today or a few days ahead.
            let day = SessionDate::today(UnixMillis(self.now.0 + rng.i64(-1..=4) * DAY_MS));
            return day.instance_id(session);
        }
        let pools = &self.pools[t];
        if pools.is_empty() || rng.u32(0..100) == 0 {
            // Now and then an id that is not there, or another tenant's.
            let other = rng.usize(0..self.pools.len());
            return match self.pools[other].first() {
                Some((id, _)) if other != t => id.clone(),
                _ => PoolId("pool_missing".into()),
            };
        }
        pools[rng.usize(0..pools.len())].0.clone()
    }

    fn hold(&self, rng: &mut Rng, t: usize) -> Command {
        let lines = (0..rng.usize(1..=2))
            .map(|_| HoldLine {
                pool_id: self.pool(rng, t),
                quantity: Quantity::new(rng.i64(1..=6)).expect("a valid quantity"),
            })
            .collect();
        let subject = (rng.u32(0..10) == 0).then(|| format!("learner {}", rng.u32(0..SUBJECTS)));
        Command::PlaceHold {
            lines,
            ttl: TtlSeconds::new(rng.i64(1..=900)).expect("a valid ttl"),
            holder: Some(format!("buyer {}", rng.u32(0..100))),
            confirm: rng.u32(0..10) == 0,
            extras: HoldExtras {
                units: Vec::new(),
                subject,
                reason: None,
            },
        }
    }

    fn step(&self, rng: &mut Rng, t: usize, step: Step) -> Command {
        let mine: Vec<&String> = self
            .holds
            .iter()
            .filter(|(owner, _)| *owner == t)
            .map(|(_, id)| id)
            .collect();
        let hold_id = match mine.is_empty() || rng.u32(0..50) == 0 {
            true => "hold_missing".to_owned(),
            false => mine[rng.usize(0..mine.len())].clone(),
        };
        match step {
            Step::Confirm => Command::ConfirmHold { hold_id },
            Step::Release => Command::ReleaseHold { hold_id },
            Step::Extend => Command::ExtendHold {
                hold_id,
                ttl: TtlSeconds::new(rng.i64(1..=900)).expect("a valid ttl"),
            },
        }
    }

    fn change_capacity(&self, rng: &mut Rng, t: usize) -> Command {
        Command::UpdatePool {
            pool_id: self.pool(rng, t).0,
            patch: PoolPatch {
                capacity: Some(capacity(rng.i64(0..=80))),
                reason: Some("the venue changed its plan".into()),
                ..PoolPatch::default()
            },
        }
    }

    fn toggle_active(&self, rng: &mut Rng, t: usize) -> Command {
        Command::UpdatePool {
            pool_id: self.pool(rng, t).0,
            patch: PoolPatch {
                active: Some(rng.u32(0..3) > 0),
                ..PoolPatch::default()
            },
        }
    }

    /// Learns ids from the answers: tenants, pools, holds; keeps keyed answers to repeat.
    pub fn learn(&mut self, sent: &[Sent], replies: &[Reply]) -> Learned {
        let mut learned = Learned::default();
        for (one, reply) in sent.iter().zip(replies) {
            let outcome = match reply {
                Reply::Outcome(outcome) => Some(outcome),
                Reply::Rendered { response, replayed } => {
                    if !replayed && let Some(t) = self.tenant_index(&one.tenant) {
                        self.keep_keyed(t, one, response.clone());
                    }
                    None
                }
            };
            let Some(Ok(success)) = outcome else {
                continue;
            };
            match success {
                Success::TenantCreated { tenant, .. } => {
                    self.tenants.push(tenant.id.clone());
                    self.pools.push(Vec::new());
                    self.sessions.push(Vec::new());
                    self.plans.push(Vec::new());
                    self.member_pools.push(Vec::new());
                }
                Success::Pool(pool) if pool.per_date => {
                    if let Some(t) = self.tenant_index(&one.tenant)
                        && !self.sessions[t].iter().any(|id| id.0 == pool.id)
                    {
                        self.sessions[t].push(PoolId(pool.id.clone()));
                    }
                }
                Success::Plan(plan) => {
                    if let Some(t) = self.tenant_index(&one.tenant)
                        && !self.plans[t].contains(&plan.id)
                    {
                        self.plans[t].push(plan.id.clone());
                    }
                }
                Success::Member { pool, created } => {
                    learned.members += u64::from(*created);
                    let id = PoolId(pool.id.clone());
                    if let Some(t) = self.tenant_index(&one.tenant)
                        && !self.member_pools[t].contains(&id)
                    {
                        self.member_pools[t].push(id.clone());
                        // A leaf: nothing is made under a member's quota.
                        self.pools[t].push((id, 2));
                    }
                }
                Success::Job(_) if matches!(one.command, Command::AdjustQuotas(_)) => {
                    learned.quota_chunks += 1;
                }
                Success::Job(job)
                    if matches!(one.command, Command::Job(JobCommand::Create { .. })) =>
                {
                    if let Some(t) = self.tenant_index(&one.tenant) {
                        let jobs = match job.kind.as_str() {
                            "tickets.generate" => &mut self.ticket_jobs,
                            _ => &mut self.jobs,
                        };
                        if jobs.len() == JOBS_REMEMBERED {
                            jobs.remove(0);
                        }
                        jobs.push((t, job.id.clone()));
                    }
                }
                Success::Tickets(TicketSuccess::Imported(summary)) => {
                    if let Some(t) = self.tenant_index(&one.tenant) {
                        for (id, _) in &summary.attendees {
                            let known = (t, summary.event_id.clone(), id.clone());
                            if !self.attendees.contains(&known) {
                                if self.attendees.len() == ATTENDEES_REMEMBERED {
                                    self.attendees.remove(0);
                                }
                                self.attendees.push(known);
                            }
                        }
                    }
                }
                Success::WaitlistEntry(entry)
                    if matches!(one.command, Command::JoinWaitlist(_)) =>
                {
                    learned.joined += 1;
                    if let Some(t) = self.tenant_index(&one.tenant) {
                        if self.entries.len() == ENTRIES_REMEMBERED {
                            self.entries.remove(0);
                        }
                        self.entries.push((t, entry.id.clone()));
                    }
                }
                Success::Tickets(TicketSuccess::Chunk(job)) => {
                    // One chunk per job: what it created is this chunk's.
                    learned.tickets += job.counters.created as u64;
                }
                Success::Tickets(TicketSuccess::CheckedIn { ticket, .. }) => {
                    learned.admitted += 1;
                    if let Some(t) = self.tenant_index(&one.tenant) {
                        if self.tickets.len() == TICKETS_REMEMBERED {
                            self.tickets.remove(0);
                        }
                        self.tickets.push((t, ticket.id.clone()));
                    }
                }
                Success::Pool(pool) => {
                    if let Some(t) = self.tenant_index(&one.tenant)
                        && !self.pools[t].iter().any(|(id, _)| id.0 == pool.id)
                    {
                        let depth = match &pool.parent_id {
                            None => 0,
                            Some(parent) => self.pools[t]
                                .iter()
                                .find(|(id, _)| &id.0 == parent)
                                .map_or(0, |(_, depth)| depth + 1),
                        };
                        self.pools[t].push((PoolId(pool.id.clone()), depth));
                    }
                }
                Success::Hold { hold, .. } if matches!(one.command, Command::PlaceHold { .. }) => {
                    learned.placed += 1;
                    if let Command::PlaceHold { lines, .. } = &one.command
                        && lines
                            .iter()
                            .any(|line| SessionDate::split_instance_id(&line.pool_id).is_some())
                    {
                        learned.on_dates += 1;
                    }
                    if let Some(t) = self.tenant_index(&one.tenant) {
                        if self.holds.len() == HOLDS_REMEMBERED {
                            self.holds.remove(0);
                        }
                        self.holds.push((t, hold.id.clone()));
                    }
                }
                Success::Swept { expired } => learned.expired += *expired as u64,
                _ => {}
            }
        }
        learned
    }

    fn keep_keyed(&mut self, t: usize, one: &Sent, answer: StoredResponse) {
        if one.first_answer.is_some() {
            return;
        }
        if self.keyed.len() == KEYS_REMEMBERED {
            self.keyed.remove(0);
        }
        self.keyed.push((t, one.clone(), answer));
    }

    fn tenant_index(&self, tenant: &TenantId) -> Option<usize> {
        self.tenants.iter().position(|known| known == tenant)
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Confirm,
    Release,
    Extend,
}

fn plain(tenant: TenantId, command: Command) -> Sent {
    Sent {
        tenant,
        command,
        key: None,
        first_answer: None,
    }
}

/// Strict or skip, offered or confirmed at once, offers of a minute to a quarter hour.
fn waitlist_settings(rng: &mut Rng) -> WaitlistSettings {
    WaitlistSettings {
        policy: match rng.bool() {
            true => WaitlistPolicy::Strict,
            false => WaitlistPolicy::Skip,
        },
        mode: match rng.u32(0..3) {
            0 => PromotionMode::Confirm,
            _ => PromotionMode::Offer,
        },
        offer_ttl: TtlSeconds::new(rng.i64(60..=900)).expect("a valid ttl"),
    }
}

fn capacity(units: i64) -> Capacity {
    Capacity::new(units).expect("a valid capacity")
}

/// Stands for the request's method, path and body, as the server's hash does.
fn request_hash(command: &Command) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    format!("{command:?}").hash(&mut hasher);
    hasher.finish()
}

pub fn envelope(sent: &Sent) -> Envelope {
    Envelope {
        tenant: sent.tenant.clone(),
        actor: Some("key_simulated".into()),
        command: sent.command.clone(),
        idempotency: sent.key.as_ref().map(|(key, hash)| Idempotency {
            key: key.clone(),
            request_hash: format!("{hash:016x}"),
            render: Box::new(render),
        }),
    }
}

/// What the server would send back, as the simulation keeps it: the outcome in words.
pub fn render(outcome: &Outcome) -> StoredResponse {
    StoredResponse {
        status: if outcome.is_ok() { 200 } else { 409 },
        body: format!("{outcome:?}").into_bytes(),
    }
}
