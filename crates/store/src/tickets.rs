//! Reads of tickets (their records and commands are the engine's: [`allot_engine::tickets`]).

pub use allot_engine::tickets::*;

use crate::StoreError;
use crate::model::*;

/// Reads of attendees and tickets. `None` where the event (pool) does not exist for the tenant.
pub trait TicketStore {
    fn list_attendees(
        &self,
        tenant: &TenantId,
        event_id: &str,
        has_ticket: Option<bool>,
        page: PageRequest,
    ) -> Result<Option<Page<AttendeeView>>, StoreError>;

    fn count_attendees(
        &self,
        tenant: &TenantId,
        event_id: &str,
        has_ticket: Option<bool>,
    ) -> Result<Option<i64>, StoreError>;

    /// Ids of the event's attendees after `after`, in id order: a job's next chunk.
    fn attendee_ids_after(
        &self,
        tenant: &TenantId,
        event_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    fn get_attendee(&self, tenant: &TenantId, id: &str)
    -> Result<Option<AttendeeView>, StoreError>;

    fn get_ticket(&self, tenant: &TenantId, id: &str) -> Result<Option<TicketView>, StoreError>;

    /// The event's tickets in id order, optionally of one status and one issuing job.
    fn list_tickets(
        &self,
        tenant: &TenantId,
        event_id: &str,
        status: Option<TicketStatus>,
        job_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Option<Page<PrintableTicket>>, StoreError>;

    /// Tickets by status of a pool: an event's whole, or one section's.
    fn ticket_counts(
        &self,
        tenant: &TenantId,
        pool_id: &str,
    ) -> Result<Option<TicketCounts>, StoreError>;
}
