//! Background jobs: long work (bulk ticket issuance, bulk quota adjustments) done in chunks.
//!
//! A job is a row with a kind, its parameters, a cursor and counters. A worker reads the job,
//! prepares the next chunk, and sends it through the writer as one command; the writer applies the
//! chunk *and* advances the job's cursor and counters in the same transaction. A chunk is applied
//! only when the job's cursor is still the one the worker started from, so a chunk sent twice (a
//! retry after a lost answer, a restart) is refused as stale instead of applied twice: each chunk
//! lands exactly once, and a restarted worker resumes from the stored cursor.

use allot_core::UnixMillis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<JobStatus> {
        match value {
            "queued" => Some(JobStatus::Queued),
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed)
    }
}

/// What a job has done so far. `done` counts items looked at: created + skipped + failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounters {
    pub done: i64,
    pub created: i64,
    pub skipped: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub status: JobStatus,
    pub params: serde_json::Value,
    /// Where the next chunk starts (opaque to everyone but the job's kind); `None` before the first.
    pub cursor: Option<String>,
    /// Items the job expects to look at (an estimate fixed at creation; exact once done).
    pub total: i64,
    pub counters: JobCounters,
    pub error: Option<String>,
    pub created_at: UnixMillis,
    pub started_at: Option<UnixMillis>,
    pub updated_at: UnixMillis,
    pub finished_at: Option<UnixMillis>,
}

/// One item a job skipped or failed, for the job's answer and its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobItem {
    /// The item's position in the job (0-based), unique per job.
    pub seq: i64,
    pub item: String,
    /// `skipped` or `failed`.
    pub outcome: String,
    pub reason: String,
}

/// A chunk's claim on its job: applied only if the job's cursor is still `expected_cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProgress {
    pub job_id: String,
    pub expected_cursor: Option<String>,
    pub next_cursor: Option<String>,
    /// This chunk is the job's last: the job is done once it lands.
    pub last: bool,
}

#[derive(Debug, Clone)]
pub enum JobCommand {
    Create {
        kind: String,
        params: serde_json::Value,
        total: i64,
    },
    /// Ends a job: `Done` (nothing left) or `Failed` with the error.
    Finish {
        job_id: String,
        status: JobStatus,
        error: Option<String>,
    },
}

/// Why a job command or a chunk did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    /// The job's cursor moved past where this chunk started: the chunk was already applied.
    #[error("job {job_id} has moved past this chunk")]
    Stale { job_id: String },
    #[error("job {job_id} is already finished")]
    Finished { job_id: String },
}

/// What moves in a job as it runs: everything but its id, kind, parameters and creation time.
/// A store checks the state it finds against `from` before writing `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    pub status: JobStatus,
    pub cursor: Option<String>,
    pub total: i64,
    pub counters: JobCounters,
    pub error: Option<String>,
    pub started_at: Option<UnixMillis>,
    pub updated_at: UnixMillis,
    pub finished_at: Option<UnixMillis>,
}

impl JobState {
    pub fn of(job: &JobView) -> Self {
        JobState {
            status: job.status,
            cursor: job.cursor.clone(),
            total: job.total,
            counters: job.counters,
            error: job.error.clone(),
            started_at: job.started_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }

    /// The job as it is in this state.
    pub fn applied_to(self, job: &JobView) -> JobView {
        JobView {
            id: job.id.clone(),
            kind: job.kind.clone(),
            params: job.params.clone(),
            created_at: job.created_at,
            status: self.status,
            cursor: self.cursor,
            total: self.total,
            counters: self.counters,
            error: self.error,
            started_at: self.started_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
        }
    }
}
