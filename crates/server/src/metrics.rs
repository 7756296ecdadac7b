//! Prometheus text at `/metrics`: counters kept in atomics, no registry needed for this handful.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static BATCHES: AtomicU64 = AtomicU64::new(0);
static BATCHED_COMMANDS: AtomicU64 = AtomicU64::new(0);
static BATCH_MICROS: AtomicU64 = AtomicU64::new(0);
static LARGEST_BATCH: AtomicU64 = AtomicU64::new(0);
static SLOWEST_BATCH_MICROS: AtomicU64 = AtomicU64::new(0);

pub fn record_batch(size: usize, took: Duration) {
    BATCHES.fetch_add(1, Ordering::Relaxed);
    BATCHED_COMMANDS.fetch_add(size as u64, Ordering::Relaxed);
    BATCH_MICROS.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    LARGEST_BATCH.fetch_max(size as u64, Ordering::Relaxed);
    SLOWEST_BATCH_MICROS.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
}

pub fn render() -> String {
    let mut out = String::new();
    let metrics = [
        (
            "allot_write_batches_total",
            "counter",
            "Write transactions committed or failed.",
            BATCHES.load(Ordering::Relaxed),
        ),
        (
            "allot_write_commands_total",
            "counter",
            "Commands applied through the writer.",
            BATCHED_COMMANDS.load(Ordering::Relaxed),
        ),
        (
            "allot_write_batch_microseconds_total",
            "counter",
            "Time spent applying batches.",
            BATCH_MICROS.load(Ordering::Relaxed),
        ),
        (
            "allot_write_batch_size_max",
            "gauge",
            "Largest batch seen since start.",
            LARGEST_BATCH.load(Ordering::Relaxed),
        ),
        (
            "allot_write_batch_microseconds_max",
            "gauge",
            "Longest a batch took (transaction and commit) since start.",
            SLOWEST_BATCH_MICROS.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, value) in metrics {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}
