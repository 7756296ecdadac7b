//! The batching writer: one OS thread owns the store's writer. It takes every command waiting in
//! its queue (up to `max_batch`), applies them in one transaction, and only after the commit
//! answers each caller. Under a rush, a thousand holds on one hot pool cost one transaction.

use crate::clock::Clock;
use allot_store::{BatchWriter, Envelope, Reply, StoreError};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Most commands in one transaction: bounds the time one commit holds every caller in it.
pub const DEFAULT_MAX_BATCH: usize = 4_096;
/// Most commands waiting for the writer; further callers wait for room (backpressure).
pub const QUEUE_CAPACITY: usize = 65_536;

struct Job {
    envelope: Envelope,
    reply: oneshot::Sender<Result<Reply, WriteError>>,
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
}

/// A cloneable handle for submitting commands.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread. It runs until every handle is dropped, then finishes the batch
    /// in flight and returns, closing the store.
    pub fn spawn(
        mut store: Box<dyn BatchWriter>,
        clock: Clock,
        max_batch: usize,
    ) -> Result<(Writer, JoinHandle<()>), std::io::Error> {
        let (queue, mut jobs) = mpsc::channel::<Job>(QUEUE_CAPACITY);
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
                        let answer = match error {
                            StoreError::Unavailable(_) => WriteError::Transient,
                            other => WriteError::BatchFailed(other.to_string()),
                        };
                        for reply in replies {
                            let _ = reply.send(Err(answer.clone()));
                        }
                    }
                }
                crate::metrics::record_batch(size, started.elapsed());
            }
            tracing::info!("writer stopped");
        })?;
        Ok((Writer { queue }, thread))
    }

    pub async fn submit(&self, envelope: Envelope) -> Result<Reply, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { envelope, reply })
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Queues a command and returns its answer to await later. Commands queued one after another
    /// are applied in that order: a job keeps its next chunk queued while one is being written.
    pub async fn enqueue(&self, envelope: Envelope) -> Result<Pending, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { envelope, reply })
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
