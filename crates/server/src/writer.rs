//! The batching writer: one OS thread owns the store's writer. It takes every command waiting in
//! its queue (up to `max_batch`), applies them in one transaction, and only after the commit
//! answers each caller. Under a rush, a thousand holds on one hot pool cost one transaction.
//!
//! Overload is answered, not queued without end: a request's command that finds the queue full
//! ([`Writer::try_submit`]) or that waited in it longer than the queue's timeout is refused with
//! [`WriteError::Overloaded`] without being applied, so the caller can be told to retry at once
//! instead of waiting while latency grows. The server's own workers (sweeper, jobs, deliveries)
//! wait for room instead: their work is bounded and must not be dropped.

use crate::clock::Clock;
use crate::metrics::Metrics;
use allot_store::{BatchWriter, Envelope, Reply, StoreError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most commands in one transaction: bounds the time one commit holds every caller in it.
pub const DEFAULT_MAX_BATCH: usize = 4_096;
/// Most commands waiting for the writer (`--writer-queue`): a request that finds it full is
/// answered 503. Four full batches: a few hundred milliseconds of work under a rush.
pub const DEFAULT_QUEUE_CAPACITY: usize = 16_384;
/// Longest a request's command may wait in the queue before the writer refuses it unapplied
/// (`--writer-queue-timeout-ms`): past it the caller is better told to retry.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);
/// A batch slower than this is logged as a warning with its size and the queue behind it.
pub const SLOW_BATCH: Duration = Duration::from_millis(100);

/// How the writer batches and how much it lets wait.
#[derive(Debug, Clone, Copy)]
pub struct WriterLimits {
    pub max_batch: usize,
    pub queue_capacity: usize,
    pub queue_timeout: Duration,
}

impl Default for WriterLimits {
    fn default() -> Self {
        WriterLimits {
            max_batch: DEFAULT_MAX_BATCH,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
        }
    }
}

struct Job {
    envelope: Envelope,
    reply: oneshot::Sender<Result<Reply, WriteError>>,
    /// Past this the writer refuses the command unapplied; `None`: the server's own work.
    refuse_after: Option<Instant>,
}

/// Why a command got no answer from the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The transaction failed; nothing in its batch happened.
    #[error("the batch failed: {0}")]
    BatchFailed(String),
    #[error("the batch failed and may be retried")]
    Transient,
    /// The writer has stopped (shutting down, or it crashed).
    #[error("the writer has stopped")]
    Stopped,
    /// The writer is behind: the queue was full, or the command waited past the queue's
    /// timeout. Nothing was applied.
    #[error("the writer is overloaded ({0})")]
    Overloaded(&'static str),
}

/// Why a command was refused as overload, as the metrics label it.
pub const QUEUE_FULL: &str = "queue_full";
pub const QUEUE_TIMEOUT: &str = "queue_timeout";

/// A cloneable handle for submitting commands.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    queue_timeout: Duration,
}

impl Writer {
    /// Starts the writer thread. It runs until every handle is dropped, then finishes the batch
    /// in flight and returns, closing the store.
    pub fn spawn(
        mut store: Box<dyn BatchWriter>,
        clock: Clock,
        limits: WriterLimits,
        metrics: Arc<Metrics>,
    ) -> Result<(Writer, JoinHandle<()>), std::io::Error> {
        let max_batch = limits.max_batch.max(1);
        let (queue, mut jobs) = mpsc::channel::<Job>(limits.queue_capacity.max(1));
        let thread = std::thread::Builder::new().name("allot-writer".into()).spawn(move || {
            let mut batch = Vec::with_capacity(max_batch);
            while let Some(first) = jobs.blocking_recv() {
                batch.push(first);
                while batch.len() < max_batch {
                    match jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                // Commands that waited too long are refused before anything is decided, so a
                // caller told to retry never finds its command applied after all.
                let taken = Instant::now();
                let late = |job: &Job| job.refuse_after.is_some_and(|deadline| taken > deadline);
                if batch.iter().any(late) {
                    let (refused, on_time): (Vec<Job>, Vec<Job>) = batch.drain(..).partition(late);
                    batch.extend(on_time);
                    for job in refused {
                        let _ = job.reply.send(Err(WriteError::Overloaded(QUEUE_TIMEOUT)));
                    }
                }
                if batch.is_empty() {
                    continue;
                }
                let size = batch.len();
                let (envelopes, replies): (Vec<Envelope>, Vec<_>) =
                    batch.drain(..).map(|job| (job.envelope, job.reply)).unzip();
                let started = std::time::Instant::now();
                // A bug that panics inside one batch must not take the writer (and every tenant's
                // writes) down with it: the batch's transaction is rolled back as the panic
                // unwinds, its callers get an error, and the next batch goes on.
                let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    store.apply(envelopes, clock.now())
                }))
                .unwrap_or_else(|_| {
                    Err(StoreError::Other(
                        "the write batch panicked; nothing in it was applied".into(),
                    ))
                });
                match applied {
                    Ok(answers) => {
                        for (reply, answer) in replies.into_iter().zip(answers) {
                            // A caller that went away (timeout, disconnect) no longer needs its answer.
                            let _ = reply.send(Ok(answer));
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, size, "write batch failed; nothing in it was applied");
                        // The database was away, or another writer moved a row this batch read
                        // (several nodes on PostgreSQL): nothing was applied, and the same
                        // request may well succeed when sent again.
                        let answer = match error {
                            error if error.is_transient() => WriteError::Transient,
                            other => WriteError::BatchFailed(other.to_string()),
                        };
                        for reply in replies {
                            let _ = reply.send(Err(answer.clone()));
                        }
                    }
                }
                let took = started.elapsed();
                metrics.batch(size, took);
                metrics.batch_committed(&store.take_tally());
                if took > SLOW_BATCH {
                    tracing::warn!(
                        size,
                        took_ms = took.as_millis() as u64,
                        queued = jobs.len(),
                        "slow write batch: {size} commands took {} ms to apply and commit (over {} ms); \
                         a small batch this slow means the disk's sync or a WAL checkpoint was slow, \
                         a full one (--max-batch) that the writer is behind",
                        took.as_millis(),
                        SLOW_BATCH.as_millis(),
                    );
                }
            }
            tracing::info!("writer stopped");
        })?;
        let queue_timeout = limits.queue_timeout;
        Ok((
            Writer {
                queue,
                queue_timeout,
            },
            thread,
        ))
    }

    /// The server's own work: waits for room in the queue, and is never refused as overload.
    pub async fn submit(&self, envelope: Envelope) -> Result<Reply, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                envelope,
                reply,
                refuse_after: None,
            })
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// A request's command: refused at once when the queue is full, and by the writer, unapplied,
    /// when it waited longer than the queue's timeout.
    pub async fn try_submit(&self, envelope: Envelope) -> Result<Reply, WriteError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            envelope,
            reply,
            refuse_after: Some(Instant::now() + self.queue_timeout),
        };
        self.queue.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => WriteError::Overloaded(QUEUE_FULL),
            mpsc::error::TrySendError::Closed(_) => WriteError::Stopped,
        })?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Commands waiting for the writer now, and the most that may.
    pub fn queue_depth(&self) -> (usize, usize) {
        let capacity = self.queue.max_capacity();
        (capacity - self.queue.capacity(), capacity)
    }

    /// Queues a command and returns its answer to await later. Commands queued one after another
    /// are applied in that order: a job keeps its next chunk queued while one is being written.
    pub async fn enqueue(&self, envelope: Envelope) -> Result<Pending, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                envelope,
                reply,
                refuse_after: None,
            })
            .await
            .map_err(|_| WriteError::Stopped)?;
        Ok(Pending(answer))
    }
}

/// The answer to a queued command.
pub struct Pending(oneshot::Receiver<Result<Reply, WriteError>>);

impl Pending {
    pub async fn answer(self) -> Result<Reply, WriteError> {
        self.0.await.map_err(|_| WriteError::Stopped)?
    }
}
