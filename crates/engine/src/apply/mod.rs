//! The writer's commands, decided against the batch's working set through a [`Port`]: each
//! function reads what it needs, lets the core and the rules decide, and hands the store
//! [`Change`](crate::change::Change)s.
//!
//! - [`holds`]: place, confirm, release, extend, expire.
//! - [`pools`]: create and update.
//! - [`keys`]: tenants and API keys.
//! - [`plans`]: plans, and members' quota pools made from them.
//! - [`quotas`]: a chunk of a bulk quota adjustment, with its job's progress.
//! - [`jobs`]: creating and finishing jobs, and each chunk's claim on its job.
//! - [`tickets`]: attendees imported, tickets issued in chunks, voided and checked in.
//! - [`alerts`]: thresholds and queue alerts over what the batch changed, throttled.
//! - [`outbox`]: events and their deliveries, alerts routed to recipients, webhooks and
//!   recipient groups, and delivery attempts.
//! - [`waitlist`]: joining and cancelling, priority classes, offers settling, entries
//!   expiring, and promotion of freed capacity to those waiting.
//! - this module: idempotency keys around any command.

pub mod alerts;
pub mod holds;
pub mod jobs;
pub mod keys;
pub mod outbox;
pub mod plans;
pub mod pools;
pub mod quotas;
#[cfg(test)]
pub(crate) mod test_port;
pub mod tickets;
pub mod waitlist;

use crate::Error;
use crate::change::Change;
use crate::command::{Failure, Idempotency, Outcome, Reply};
use crate::model::TenantId;
use crate::port::Port;
use crate::rules::idempotency::{self, KeyUse};
use allot_core::UnixMillis;

/// Most idempotency records one sweep forgets: bounds the sweep's share of a batch.
pub const MAX_IDEMPOTENCY_RECORDS_PER_SWEEP: i64 = 10_000;

/// Before a command with an idempotency key runs: the reply it already has (the kept answer
/// replayed, or a mismatch), or `None` to run it.
pub fn replay<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    idempotency: &Idempotency,
    now: UnixMillis,
) -> Result<Option<Reply>, Error> {
    let previous = port.idempotency_record(tenant, &idempotency.key)?;
    let (record, response) = previous.unzip();
    Ok(
        match idempotency::decide(record.as_ref(), &idempotency.request_hash, now) {
            KeyUse::Replay => Some(Reply::Rendered {
                response: response.ok_or_else(|| {
                    Error::Corrupt("a replayed idempotency key has no response".into())
                })?,
                replayed: true,
            }),
            KeyUse::Mismatch => Some(Reply::Outcome(Err(Failure::IdempotencyMismatch))),
            KeyUse::Fresh => None,
        },
    )
}

/// After it ran: the answer rendered once and kept under the key, in the same batch.
pub fn keep<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    idempotency: Idempotency,
    outcome: &Outcome,
    now: UnixMillis,
) -> Result<Reply, Error> {
    let response = (idempotency.render)(outcome);
    port.persist(Change::IdempotencyRecord {
        tenant: tenant.clone(),
        key: idempotency.key,
        request_hash: idempotency.request_hash,
        response: response.clone(),
        at: now,
    })?;
    Ok(Reply::Rendered {
        response,
        replayed: false,
    })
}

/// Forgets idempotency records past their window, oldest first, a bounded number per sweep.
pub fn forget_old_keys<P: Port>(port: &mut P, now: UnixMillis) -> Result<(), Error> {
    port.persist(Change::ForgetIdempotency {
        before: idempotency::forget_before(now),
        limit: MAX_IDEMPOTENCY_RECORDS_PER_SWEEP,
    })
}
