//! Reads of jobs (their records and commands are the engine's: [`allot_engine::jobs`]).

pub use allot_engine::jobs::*;

use crate::StoreError;
use crate::model::*;

/// Reads of jobs.
pub trait JobStore {
    fn get_job(&self, tenant: &TenantId, id: &str) -> Result<Option<JobView>, StoreError>;

    /// The tenant's jobs, newest first (the cursor is a job id), optionally of one kind.
    fn list_jobs(
        &self,
        tenant: &TenantId,
        kind: Option<&str>,
        page: crate::PageRequest,
    ) -> Result<crate::Page<JobView>, StoreError>;

    /// Every queued or running job, oldest first, across tenants: what a worker resumes on start.
    fn active_jobs(&self) -> Result<Vec<(TenantId, String)>, StoreError>;

    /// A job's skipped and failed items after position `after_seq`, in order, at most `limit`.
    fn job_items(
        &self,
        tenant: &TenantId,
        job_id: &str,
        outcome: Option<&str>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<JobItem>, StoreError>;
}
