//! What the simulated clients send: tenants set up first, then pools in hierarchies of up to
//! three levels and a stream of holds, confirms, releases, extensions, capacity changes and
//! sweeps, some under an idempotency key and some of those sent again. Every choice comes from
//! the run's random source, so a seed is a history.

use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::{HoldExtras, NewPool, PoolPatch};
use allot_store::{
    Command, Envelope, Idempotency, Outcome, Reply, StoredResponse, Success, TenantId,
};
use fastrand::Rng;

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
}

#[derive(Debug, Default)]
pub struct Workload {
    pub tenants: Vec<TenantId>,
    /// Each tenant's pools with their depth (a root is 0).
    pub pools: Vec<Vec<(PoolId, usize)>>,
    holds: Vec<(usize, String)>,
    /// Keyed requests answered, with the answer kept: (tenant index, sent, answer).
    keyed: Vec<(usize, Sent, StoredResponse)>,
    next_key: u64,
    requested_tenants: usize,
}

impl Workload {
    pub fn new() -> Self {
        Workload::default()
    }

    /// Mostly small steps; now and then a jump past every deadline.
    pub fn advance_clock(&self, rng: &mut Rng, now: UnixMillis) -> UnixMillis {
        let step = match rng.u32(0..100) {
            0..=1 => rng.i64(600_000..3_600_000),
            2..=10 => rng.i64(10_000..120_000),
            _ => rng.i64(0..2_000),
        };
        UnixMillis(now.0 + step)
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
            4..=49 => self.hold(rng, t),
            50..=61 => self.step(rng, t, Step::Confirm),
            62..=71 => self.step(rng, t, Step::Release),
            72..=77 => self.step(rng, t, Step::Extend),
            78..=87 => self.change_capacity(rng, t),
            88..=90 => self.toggle_active(rng, t),
            91..=93 => Command::SweepExpired,
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
            waitlist: Default::default(),
            thresholds: None,
        })
    }

    fn pool(&self, rng: &mut Rng, t: usize) -> PoolId {
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
