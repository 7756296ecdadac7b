//! A seeded, deterministic simulation of allot's decision engine: random workloads over many
//! tenants — pools in hierarchies, dated sessions, holds placed, confirmed, released, extended
//! and left to expire, capacity changes, plans, members' quotas and bulk quota jobs, graduation
//! tickets issued, scanned and voided, sweeps,
//! repeated requests under one idempotency key — against the
//! in-memory store, on a clock that jumps, with faults injected: a persist that fails (its batch
//! must leave nothing behind) and a crash between batches (the writer restarts from what was
//! committed). Invariants are checked after every batch; the same seed gives the same history.
//!
//! - [`workload`]: what the simulated clients ask for, drawn from the seed.
//! - [`check`]: the invariants, over what the store committed.
//! - this module: the run itself, its [`Config`] and its [`Report`].

pub mod check;
pub mod workload;

use allot_core::UnixMillis;
use allot_store::memory::MemoryStore;
use allot_store::{BatchWriter, Reply};
use check::Violation;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};
use workload::Workload;

/// The simulated clock starts here (a Monday in 2026, UTC).
pub const START: UnixMillis = UnixMillis(1_790_000_000_000);

#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// Commands to send in all.
    pub ops: u64,
    /// Whether to inject failing persists and crashes.
    pub faults: bool,
    /// The full invariants (every pool, hold and ledger entry) run every this many batches and
    /// at the end; the batch's own checks run after every batch.
    pub full_check_every: u64,
}

impl Config {
    pub fn new(seed: u64, ops: u64) -> Self {
        Config {
            seed,
            ops,
            faults: true,
            full_check_every: 64,
        }
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let faults = if self.faults { "" } else { " --no-faults" };
        format!(
            "allot simulate --seed {} --ops {}{faults}",
            self.seed, self.ops
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ops: u64,
    pub batches: u64,
    /// Batches failed on purpose by an injected persist fault.
    pub failed_batches: u64,
    pub crashes: u64,
    /// Holds placed and expired, to show the run went somewhere.
    pub holds_placed: u64,
    pub holds_expired: u64,
    /// Holds placed on a session's dates, members given a quota, quota chunks that landed.
    pub holds_on_dates: u64,
    pub members: u64,
    pub quota_chunks: u64,
    /// Tickets issued, and scans at the door that admitted someone.
    pub tickets: u64,
    pub admitted: u64,
    /// Buyers who joined a waiting list, and entries served by promotion.
    pub joined: u64,
    pub served: u64,
    /// A hash of every reply and of the final state: two runs of one seed must agree.
    pub history: u64,
    pub elapsed: Duration,
}

/// A run that broke an invariant: what, and where.
#[derive(Debug, Clone)]
pub struct Failure {
    pub config: Config,
    pub batch: u64,
    pub violation: Violation,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} broke an invariant in batch {}: {}\nreplay it with: {}",
            self.config.seed,
            self.batch,
            self.violation,
            self.config.replay_command()
        )
    }
}

impl std::error::Error for Failure {}

pub fn run(config: &Config) -> Result<Report, Failure> {
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let mut store = MemoryStore::new();
    let mut workload = Workload::new(START);
    let mut now = START;
    // When the last batch that committed ran: the state is as of then (a failed batch decided
    // nothing, not even expiry).
    let mut committed_at = START;
    let mut history = DefaultHasher::new();
    let mut report = Report {
        ops: 0,
        batches: 0,
        failed_batches: 0,
        crashes: 0,
        holds_placed: 0,
        holds_expired: 0,
        holds_on_dates: 0,
        members: 0,
        quota_chunks: 0,
        tickets: 0,
        admitted: 0,
        joined: 0,
        served: 0,
        history: 0,
        elapsed: Duration::ZERO,
    };
    let fail = |batch: u64, violation: Violation| Failure {
        config: config.clone(),
        batch,
        violation,
    };
    while report.ops < config.ops {
        report.batches += 1;
        let batch_number = report.batches;
        now = workload.advance_clock(&mut rng, now);
        let size = rng.u64(1..=32).min(config.ops - report.ops);
        let (batch, sent) = workload.batch(&mut rng, size as usize);
        report.ops += size;
        let inject = config.faults && rng.u32(0..100) < 3;
        let before = inject.then(|| check::Fingerprint::of(store.state()));
        if inject {
            store.faults().fail_persist(rng.usize(0..40));
        }
        match store.apply(batch, now) {
            Ok(replies) => {
                committed_at = now;
                if store.faults().pending() {
                    // The batch made fewer changes than the fault waited for.
                    store.faults().clear();
                }
                for reply in &replies {
                    hash_reply(&mut history, reply);
                }
                let counts = workload.learn(&sent, &replies);
                report.holds_placed += counts.placed;
                report.holds_expired += counts.expired;
                report.holds_on_dates += counts.on_dates;
                report.members += counts.members;
                report.quota_chunks += counts.quota_chunks;
                report.tickets += counts.tickets;
                report.admitted += counts.admitted;
                report.joined += counts.joined;
                check::after_batch(&store, &sent, &replies, now)
                    .map_err(|violation| fail(batch_number, violation))?;
            }
            Err(_) => {
                report.failed_batches += 1;
                workload.failed(&sent);
                let before = before.ok_or_else(|| {
                    fail(
                        batch_number,
                        Violation::new("a batch failed with no fault injected"),
                    )
                })?;
                check::nothing_left_behind(&before, store.state())
                    .map_err(|violation| fail(batch_number, violation))?;
                batch_number.hash(&mut history);
            }
        }
        if config.faults && rng.u32(0..100) < 2 {
            let committed = check::Committed::of(store.state());
            store.restart();
            report.crashes += 1;
            check::nothing_lost_in_a_crash(&committed, &store)
                .map_err(|violation| fail(batch_number, violation))?;
        }
        if batch_number.is_multiple_of(config.full_check_every) {
            check::full(store.state(), committed_at)
                .and_then(|()| check::cache_is_committed(&store))
                .map_err(|violation| fail(batch_number, violation))?;
        }
    }
    check::full(store.state(), committed_at)
        .and_then(|()| check::cache_is_committed(&store))
        .map_err(|violation| fail(report.batches, violation))?;
    report.served = check::entries_served(store.state());
    format!("{:?}", store.state().observe(now)).hash(&mut history);
    report.history = history.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Hashes text as it is written, without keeping it.
struct HashWriter<'h>(&'h mut DefaultHasher);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

fn hash_reply(history: &mut DefaultHasher, reply: &Reply) {
    use std::fmt::Write;
    match reply {
        Reply::Outcome(outcome) => {
            write!(HashWriter(history), "{outcome:?}").expect("hashing cannot fail")
        }
        Reply::Rendered { response, replayed } => {
            (response.status, &response.body, replayed).hash(history)
        }
    }
}
