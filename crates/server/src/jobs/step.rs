//! What every kind of job's step shares: how a step ends, why a job fails, and the way its
//! chunks reach the writer.

use crate::state::{AppState, ReadError};
use crate::writer::WriteError;
use allot_store::jobs::{JobCommand, JobStatus};
use allot_store::{Command, Envelope, Failure, Reply, TenantId};
use std::fmt;

pub(crate) enum Step {
    /// A chunk landed (or the job finished): go on.
    Continue,
    /// The job cannot go on: fail it, with the reason kept on the job.
    Fail(JobFailed),
}

/// Why a job cannot go on. Its text is the job's `error`, as clients read it.
#[derive(Debug)]
pub(crate) enum JobFailed {
    /// The stored parameters do not read as this kind's.
    UnreadableParams(serde_json::Error),
    /// A quota adjustment that names neither a capacity nor a delta.
    NoChange,
    UnknownKind(String),
    /// The event tickets were being issued for was deleted.
    EventGone,
    /// The writer refused a chunk.
    Refused(Failure),
    /// The writer answered a chunk with something no chunk can get: a bug.
    Unexpected(Box<Reply>),
    /// A chunk kept failing on the write path.
    GaveUp {
        retries: u32,
        last: StepError,
    },
}

impl fmt::Display for JobFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobFailed::UnreadableParams(error) => write!(f, "unreadable parameters: {error}"),
            JobFailed::NoChange => f.write_str("give capacity or delta"),
            JobFailed::UnknownKind(kind) => write!(f, "unknown job kind {kind}"),
            JobFailed::EventGone => f.write_str("the event no longer exists"),
            JobFailed::Refused(failure) => write!(f, "{failure}"),
            JobFailed::Unexpected(reply) => write!(f, "unexpected answer to a chunk: {reply:?}"),
            JobFailed::GaveUp { retries, last } => {
                write!(f, "gave up after {retries} retries: {}", last.message)
            }
        }
    }
}

/// A step that failed on the way to the store or the writer: retried, then given up.
#[derive(Debug)]
pub(crate) struct StepError {
    pub(crate) transient: bool,
    message: String,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ReadError> for StepError {
    fn from(error: ReadError) -> Self {
        StepError {
            transient: error.is_transient(),
            message: error.to_string(),
        }
    }
}

impl From<WriteError> for StepError {
    fn from(error: WriteError) -> Self {
        StepError {
            transient: matches!(error, WriteError::Transient),
            message: error.to_string(),
        }
    }
}

/// Sends one of a job's commands through the writer, as the job (no actor, no idempotency key:
/// a job's chunks claim its cursor instead).
pub(crate) async fn submit(
    state: &AppState,
    tenant: &TenantId,
    command: Command,
) -> Result<Reply, WriteError> {
    state
        .writer
        .submit(Envelope {
            tenant: tenant.clone(),
            actor: None,
            command,
            idempotency: None,
        })
        .await
}

/// Marks a job finished with `status`, and why when it failed.
pub(crate) async fn finish(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
    status: JobStatus,
    error: Option<String>,
) -> Result<(), WriteError> {
    let command = Command::Job(JobCommand::Finish {
        job_id: id.to_owned(),
        status,
        error,
    });
    submit(state, tenant, command).await.map(|_| ())
}
