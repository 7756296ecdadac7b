//! Prometheus text at `/metrics`, one registry per server (so two servers in one process, as in
//! the tests, count apart). Counters move where the server learns what happened: the HTTP
//! middleware for requests, [`Metrics::command_answered`] where the writer's answer to a command
//! comes back, [`Metrics::batch_committed`] on the writer's thread for what a batch did on its own
//! (expiries, offers, lapses, alerts), the delivery and job workers for theirs. Figures that are
//! state rather than events (backlogs, running jobs, file sizes, the process) are read when
//! scraped.
//!
//! Labels are bounded: a route's template (`/v1/holds/{id}`, never an id), the method, the status
//! class, a refusal's reason, an alert's severity.

use allot_store::{BatchTally, Command, Failure, Outcome, Success};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The content type of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    /// `2xx`, `4xx`, `5xx`, …
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request latency buckets: 0.5 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric one server keeps.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    holds_granted: Counter,
    holds_refused: Family<ReasonLabels, Counter>,
    holds_confirmed: Counter,
    holds_released: Counter,
    holds_expired: Counter,
    waitlist_joins: Counter,
    waitlist_serves: Counter,
    waitlist_lapses: Counter,
    alerts_fired: Family<SeverityLabels, Counter>,
    deliveries_sent: Counter,
    deliveries_failed: Counter,
    deliveries_given_up: Counter,
    deliveries_pending: Gauge,
    delivery_oldest_pending_age: FloatGauge,
    jobs_running: Gauge,
    job_chunks: Counter,
    job_failures: Counter,
    writer_queue_depth: Gauge,
    writer_queue_capacity: Gauge,
    writer_overloaded: Family<ReasonLabels, Counter>,
    writer_batches: Counter,
    writer_commands: Counter,
    writer_batch_size: Histogram,
    writer_batch_duration: Histogram,
    store_database_bytes: Gauge,
    store_wal_bytes: Gauge,
    /// A counter, as Prometheus names it (`process_cpu_seconds_total`): moved up to what /proc says.
    process_cpu_seconds: Counter<f64, AtomicU64>,
    process_resident_memory_bytes: Gauge,
    process_virtual_memory_bytes: Gauge,
    process_open_fds: Gauge,
    process_max_fds: Gauge,
    process_start_time_seconds: Gauge,
}

/// What a scrape reads from the store and the writer just before rendering.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub writer_queue_depth: usize,
    pub writer_queue_capacity: usize,
    pub deliveries_pending: u64,
    pub oldest_pending_delivery_age: Option<Duration>,
    pub jobs_running: u64,
    /// The SQLite file, when the store is one: its size and its WAL's are read from disk.
    pub database_file: Option<PathBuf>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            holds_granted: Counter::default(),
            holds_refused: Family::default(),
            holds_confirmed: Counter::default(),
            holds_released: Counter::default(),
            holds_expired: Counter::default(),
            waitlist_joins: Counter::default(),
            waitlist_serves: Counter::default(),
            waitlist_lapses: Counter::default(),
            alerts_fired: Family::default(),
            deliveries_sent: Counter::default(),
            deliveries_failed: Counter::default(),
            deliveries_given_up: Counter::default(),
            deliveries_pending: Gauge::default(),
            delivery_oldest_pending_age: FloatGauge::default(),
            jobs_running: Gauge::default(),
            job_chunks: Counter::default(),
            job_failures: Counter::default(),
            writer_queue_depth: Gauge::default(),
            writer_queue_capacity: Gauge::default(),
            writer_overloaded: Family::default(),
            writer_batches: Counter::default(),
            writer_commands: Counter::default(),
            // 1 to 32,768 commands, doubling.
            writer_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            // 0.1 ms to about 3 s, doubling.
            writer_batch_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            store_database_bytes: Gauge::default(),
            store_wal_bytes: Gauge::default(),
            process_cpu_seconds: Counter::default(),
            process_resident_memory_bytes: Gauge::default(),
            process_virtual_memory_bytes: Gauge::default(),
            process_open_fds: Gauge::default(),
            process_max_fds: Gauge::default(),
            process_start_time_seconds: Gauge::default(),
            registry: Registry::default(),
        };
        // Counters get `_total` from the encoder.
        let m = &metrics;
        let r = &mut registry;
        r.register(
            "allot_http_requests",
            "HTTP requests answered, by route template, method and status class.",
            m.http_requests.clone(),
        );
        r.register(
            "allot_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route template and method.",
            m.http_duration.clone(),
        );
        r.register(
            "allot_holds_granted",
            "Holds granted (placed, or confirmed at once).",
            m.holds_granted.clone(),
        );
        r.register(
            "allot_holds_refused",
            "Holds refused, by reason (insufficient_capacity, inactive, not_found, unit_mismatch, invalid, conflict, ...).",
            m.holds_refused.clone(),
        );
        r.register(
            "allot_holds_confirmed",
            "Holds confirmed.",
            m.holds_confirmed.clone(),
        );
        r.register(
            "allot_holds_released",
            "Holds released.",
            m.holds_released.clone(),
        );
        r.register(
            "allot_holds_expired",
            "Holds whose deadline passed unconfirmed.",
            m.holds_expired.clone(),
        );
        r.register(
            "allot_waitlist_joins",
            "Entries that joined a waiting list.",
            m.waitlist_joins.clone(),
        );
        r.register(
            "allot_waitlist_serves",
            "Waiting-list entries served from freed capacity (offered a hold, or confirmed).",
            m.waitlist_serves.clone(),
        );
        r.register(
            "allot_waitlist_lapses",
            "Waiting-list offers that lapsed unaccepted, and entries whose wait ran out.",
            m.waitlist_lapses.clone(),
        );
        r.register(
            "allot_alerts_fired",
            "Alerts fired, by severity.",
            m.alerts_fired.clone(),
        );
        r.register(
            "allot_deliveries_sent",
            "Webhook and e-mail deliveries sent.",
            m.deliveries_sent.clone(),
        );
        r.register(
            "allot_deliveries_failed",
            "Delivery attempts that failed (to be retried, or given up).",
            m.deliveries_failed.clone(),
        );
        r.register(
            "allot_deliveries_given_up",
            "Deliveries given up after their last attempt.",
            m.deliveries_given_up.clone(),
        );
        r.register(
            "allot_deliveries_pending",
            "Deliveries waiting to be sent.",
            m.deliveries_pending.clone(),
        );
        r.register(
            "allot_delivery_oldest_pending_age_seconds",
            "Age of the oldest delivery still waiting (0 when none waits).",
            m.delivery_oldest_pending_age.clone(),
        );
        r.register(
            "allot_jobs_running",
            "Background jobs queued or running.",
            m.jobs_running.clone(),
        );
        r.register(
            "allot_job_chunks",
            "Job chunks written.",
            m.job_chunks.clone(),
        );
        r.register(
            "allot_job_failures",
            "Job steps that failed (retried or ending the job).",
            m.job_failures.clone(),
        );
        r.register(
            "allot_writer_queue_depth",
            "Commands waiting for the writer.",
            m.writer_queue_depth.clone(),
        );
        r.register(
            "allot_writer_queue_capacity",
            "Most commands that may wait for the writer (--writer-queue).",
            m.writer_queue_capacity.clone(),
        );
        r.register(
            "allot_writer_overloaded",
            "Requests answered 503 because the writer was behind, by reason (queue_full, queue_timeout).",
            m.writer_overloaded.clone(),
        );
        r.register(
            "allot_writer_batches",
            "Write transactions committed or failed.",
            m.writer_batches.clone(),
        );
        r.register(
            "allot_writer_commands",
            "Commands applied through the writer.",
            m.writer_commands.clone(),
        );
        r.register(
            "allot_writer_batch_size",
            "Commands per write transaction.",
            m.writer_batch_size.clone(),
        );
        r.register(
            "allot_writer_batch_duration_seconds",
            "Time to apply and commit one write transaction.",
            m.writer_batch_duration.clone(),
        );
        r.register(
            "allot_store_database_bytes",
            "Size of the SQLite database file.",
            m.store_database_bytes.clone(),
        );
        r.register(
            "allot_store_wal_bytes",
            "Size of the SQLite write-ahead log.",
            m.store_wal_bytes.clone(),
        );
        r.register(
            "process_cpu_seconds",
            "User and system CPU time spent.",
            m.process_cpu_seconds.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory size.",
            m.process_resident_memory_bytes.clone(),
        );
        r.register(
            "process_virtual_memory_bytes",
            "Virtual memory size.",
            m.process_virtual_memory_bytes.clone(),
        );
        r.register(
            "process_open_fds",
            "Open file descriptors.",
            m.process_open_fds.clone(),
        );
        r.register(
            "process_max_fds",
            "Most open file descriptors allowed (soft limit).",
            m.process_max_fds.clone(),
        );
        r.register(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            m.process_start_time_seconds.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// One HTTP request answered. `route` is the matched template, never the path.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status: class.to_owned(),
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A command's answer, counted.
    pub fn count(&self, counted: Counted) {
        match counted {
            Counted::HoldGranted => self.holds_granted.inc(),
            Counted::HoldRefused(reason) => self
                .holds_refused
                .get_or_create(&ReasonLabels {
                    reason: reason.to_owned(),
                })
                .inc(),
            Counted::HoldConfirmed => self.holds_confirmed.inc(),
            Counted::HoldReleased => self.holds_released.inc(),
            Counted::WaitlistJoined => self.waitlist_joins.inc(),
        };
    }

    /// What committed batches did besides answering.
    pub fn batch_committed(&self, tally: &BatchTally) {
        self.holds_expired.inc_by(tally.holds_expired);
        self.waitlist_serves.inc_by(tally.waitlist_serves);
        self.waitlist_lapses.inc_by(tally.waitlist_lapses);
        for (severity, count) in &tally.alerts_fired {
            self.alerts_fired
                .get_or_create(&SeverityLabels {
                    severity: severity.clone(),
                })
                .inc_by(*count);
        }
    }

    /// One write transaction of `size` commands, committed or failed, in `took`.
    pub fn batch(&self, size: usize, took: Duration) {
        self.writer_batches.inc();
        self.writer_commands.inc_by(size as u64);
        self.writer_batch_size.observe(size as f64);
        self.writer_batch_duration.observe(took.as_secs_f64());
    }

    /// A request answered 503 because the writer was behind.
    pub fn overloaded(&self, reason: &'static str) {
        self.writer_overloaded
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Delivery attempts made: `sent` succeeded, `failed` did not, `given_up` of those were the last.
    pub fn deliveries(&self, sent: u64, failed: u64, given_up: u64) {
        self.deliveries_sent.inc_by(sent);
        self.deliveries_failed.inc_by(failed);
        self.deliveries_given_up.inc_by(given_up);
    }

    pub fn job_chunk(&self) {
        self.job_chunks.inc();
    }

    pub fn job_failure(&self) {
        self.job_failures.inc();
    }

    /// Prometheus text (OpenMetrics), with the scraped figures in `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.writer_queue_depth
            .set(gauge(snapshot.writer_queue_depth as u64));
        self.writer_queue_capacity
            .set(gauge(snapshot.writer_queue_capacity as u64));
        self.deliveries_pending
            .set(gauge(snapshot.deliveries_pending));
        self.delivery_oldest_pending_age.set(
            snapshot
                .oldest_pending_delivery_age
                .map_or(0.0, |age| age.as_secs_f64()),
        );
        self.jobs_running.set(gauge(snapshot.jobs_running));
        if let Some(database) = &snapshot.database_file {
            let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
            let mut wal = database.clone().into_os_string();
            wal.push("-wal");
            self.store_database_bytes.set(gauge(size(database)));
            self.store_wal_bytes
                .set(gauge(size(std::path::Path::new(&wal))));
        }
        self.read_process();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The process's figures from /proc; left as they were where /proc cannot be read.
    fn read_process(&self) {
        let Ok(process) = procfs::process::Process::myself() else {
            return;
        };
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        if let Ok(stat) = process.stat() {
            let ticks = procfs::ticks_per_second().max(1) as f64;
            let spent = (stat.utime + stat.stime) as f64 / ticks;
            let counted = self.process_cpu_seconds.get();
            if spent > counted {
                self.process_cpu_seconds.inc_by(spent - counted);
            }
            self.process_resident_memory_bytes
                .set(gauge(stat.rss.saturating_mul(procfs::page_size())));
            self.process_virtual_memory_bytes.set(gauge(stat.vsize));
            if let Ok(boot) = procfs::boot_time_secs() {
                let started = boot as f64 + stat.starttime as f64 / ticks;
                self.process_start_time_seconds.set(started as i64);
            }
        }
        if let Ok(open) = process.fd_count() {
            self.process_open_fds.set(gauge(open as u64));
        }
        if let Ok(limits) = process.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            self.process_max_fds.set(gauge(max));
        }
    }
}

/// A command's answer as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    HoldGranted,
    /// Why, as a label.
    HoldRefused(&'static str),
    HoldConfirmed,
    HoldReleased,
    WaitlistJoined,
}

impl Counted {
    /// What `kind`'s command answered with `outcome` counts as, if anything.
    pub fn of(kind: CommandKind, outcome: &Outcome) -> Option<Counted> {
        Some(match (kind, outcome) {
            (CommandKind::PlaceHold, Ok(Success::Hold { .. })) => Counted::HoldGranted,
            (CommandKind::PlaceHold, Err(failure)) => Counted::HoldRefused(refusal_reason(failure)),
            (CommandKind::ConfirmHold, Ok(Success::Hold { .. })) => Counted::HoldConfirmed,
            (CommandKind::ReleaseHold, Ok(Success::Hold { .. })) => Counted::HoldReleased,
            (CommandKind::JoinWaitlist, Ok(Success::WaitlistEntry(_))) => Counted::WaitlistJoined,
            _ => return None,
        })
    }
}

/// The commands whose answers are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    PlaceHold,
    ConfirmHold,
    ReleaseHold,
    JoinWaitlist,
    Other,
}

impl CommandKind {
    pub fn of(command: &Command) -> Self {
        match command {
            Command::PlaceHold { .. } => CommandKind::PlaceHold,
            Command::ConfirmHold { .. } => CommandKind::ConfirmHold,
            Command::ReleaseHold { .. } => CommandKind::ReleaseHold,
            Command::JoinWaitlist(_) => CommandKind::JoinWaitlist,
            _ => CommandKind::Other,
        }
    }
}

/// Why a hold was refused, as a label: one word per kind of failure, never an id.
fn refusal_reason(failure: &Failure) -> &'static str {
    use allot_core::Refusal;
    match failure {
        Failure::Refused(refusal) => match refusal {
            Refusal::InsufficientCapacity { .. } => "insufficient_capacity",
            Refusal::PoolInactive(_) => "inactive",
            Refusal::UnknownPool(_) => "not_found",
        },
        Failure::UnitMismatch { .. } => "unit_mismatch",
        Failure::NotFound { .. } => "not_found",
        Failure::IdempotencyMismatch => "idempotency_mismatch",
        Failure::Invalid { .. } => "invalid",
        Failure::Conflict { .. } | Failure::Rejected(_) => "conflict",
        _ => "other",
    }
}
