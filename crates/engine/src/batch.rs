//! One batch, decided in arrival order: holds whose deadline passed expire first, so a lapsed
//! hold never blocks anyone; then each command (inside its idempotency key, when it has one),
//! with the capacity it freed offered to those waiting before the next command can take it;
//! then the alerts on what the batch changed, and the store writes the pools' counters.
//!
//! The engine decides every command: holds, pools, tenants and keys, idempotency, plans and
//! quotas, jobs, attendees and tickets, waiting lists, and the outbox (events, alerts,
//! webhooks, recipients, delivery attempts). What a store still does itself at the end of a
//! batch — write the changed pools' counters — is [`StoreRules::finish`].

use crate::Error;
use crate::apply::holds::{self, HoldRequest, Step};
use crate::apply::{self, alerts, jobs, keys, outbox, plans, pools, quotas, tickets, waitlist};
use crate::command::{Command, Envelope, Outcome, Reply, Success};
use crate::model::TenantId;
use crate::port::Port;
use crate::working::{Tenants, tenant_pools};
use allot_core::{PoolId, UnixMillis};

/// What a store still does itself at the end of a batch, until the engine states it as changes.
pub trait StoreRules {
    /// Ends the batch: every changed pool's counters.
    fn finish(&mut self, tenants: &mut Tenants, now: UnixMillis) -> Result<(), Error>;
}

/// Decides a batch and answers one reply per envelope, in order. `expire_first: false` skips the
/// probe for due holds when the store knows none can be due (its earliest deadline is later).
/// An `Err` means the batch must not commit.
pub fn apply<P: Port + StoreRules>(
    port: &mut P,
    tenants: &mut Tenants,
    batch: Vec<Envelope>,
    now: UnixMillis,
    expire_first: bool,
) -> Result<Vec<Reply>, Error> {
    let expired = if expire_first {
        let (expired, settled) = holds::expire_due(port, tenants, now)?;
        waitlist::settle_offers(port, settled, now)?;
        expired
    } else {
        0
    };
    waitlist::promote_freed(port, tenants, now)?;
    let mut replies = Vec::with_capacity(batch.len());
    for envelope in batch {
        replies.push(apply_envelope(port, tenants, envelope, now, expired)?);
        waitlist::promote_freed(port, tenants, now)?;
    }
    alerts::raise(port, tenants, now)?;
    port.finish(tenants, now)?;
    Ok(replies)
}

fn apply_envelope<P: Port + StoreRules>(
    port: &mut P,
    tenants: &mut Tenants,
    envelope: Envelope,
    now: UnixMillis,
    expired_this_batch: usize,
) -> Result<Reply, Error> {
    let Envelope {
        tenant,
        actor,
        command,
        idempotency,
    } = envelope;
    let actor = actor.as_deref();
    let Some(idempotency) = idempotency else {
        let outcome = execute(
            port,
            tenants,
            &tenant,
            actor,
            command,
            now,
            expired_this_batch,
        )?;
        return Ok(Reply::Outcome(outcome));
    };
    if let Some(reply) = apply::replay(port, &tenant, &idempotency, now)? {
        return Ok(reply);
    }
    let outcome = execute(
        port,
        tenants,
        &tenant,
        actor,
        command,
        now,
        expired_this_batch,
    )?;
    apply::keep(port, &tenant, idempotency, &outcome, now)
}

/// Decides one command.
pub fn execute<P: Port + StoreRules>(
    port: &mut P,
    tenants: &mut Tenants,
    tenant: &TenantId,
    actor: Option<&str>,
    command: Command,
    now: UnixMillis,
    expired_this_batch: usize,
) -> Result<Outcome, Error> {
    match command {
        Command::CreateTenant {
            name,
            key_id,
            key_hash,
        } => keys::create_tenant(port, name, key_id, key_hash, now),
        Command::CreateApiKey {
            key_id,
            key_hash,
            role,
        } => {
            let key = keys::create_key(port, tenant, key_id, key_hash, role, now)?;
            Ok(Ok(Success::ApiKeyCreated(key)))
        }
        Command::RevokeApiKey { key_id } => keys::revoke_key(port, tenant, key_id, now),
        Command::CreatePool(new_pool) => {
            let pools = tenant_pools(tenants, tenant);
            pools::create(port, pools, tenant, actor, new_pool, now)
        }
        Command::UpdatePool { pool_id, patch } => {
            let pools = tenant_pools(tenants, tenant);
            pools::update(port, pools, tenant, actor, PoolId(pool_id), patch, now)
        }
        Command::PlaceHold {
            lines,
            ttl,
            holder,
            confirm,
            extras,
        } => {
            let request = HoldRequest {
                lines,
                expires_at: now.plus(ttl),
                holder,
                confirm,
                extras,
            };
            let pools = tenant_pools(tenants, tenant);
            holds::place(port, pools, tenant, actor, request, now)
        }
        Command::ConfirmHold { hold_id } => {
            step_hold(port, tenants, tenant, actor, &hold_id, now, Step::Confirm)
        }
        Command::ReleaseHold { hold_id } => {
            step_hold(port, tenants, tenant, actor, &hold_id, now, Step::Release)
        }
        Command::ExtendHold { hold_id, ttl } => holds::extend(port, tenant, &hold_id, ttl, now),
        Command::SweepExpired => {
            apply::forget_old_keys(port, now)?;
            let entries = waitlist::expire_due_entries(port, tenants, now)?;
            Ok(Ok(Success::Swept {
                expired: expired_this_batch + entries,
            }))
        }
        Command::CreatePlan(plan) => plans::create(port, tenant, plan, now),
        Command::UpdatePlan {
            plan_id,
            name,
            capacity,
            members_follow,
        } => plans::update(port, tenant, &plan_id, name, capacity, members_follow, now),
        Command::PutMember {
            plan_id,
            subject,
            parent_id,
        } => {
            let pools = tenant_pools(tenants, tenant);
            plans::put_member(
                port, pools, tenant, actor, &plan_id, &subject, parent_id, now,
            )
        }
        Command::AdjustQuotas(chunk) => {
            let pools = tenant_pools(tenants, tenant);
            quotas::adjust_chunk(port, pools, tenant, actor, chunk, now)
        }
        Command::Job(command) => jobs::execute(port, tenant, command, now),
        Command::JoinWaitlist(entry) => waitlist::join(port, tenants, tenant, entry, now),
        Command::CancelWaitlistEntry { entry_id } => {
            waitlist::cancel(port, tenants, tenant, actor, &entry_id, now)
        }
        Command::SetPriorityClasses(classes) => {
            waitlist::set_priority_classes(port, tenant, classes)
        }
        Command::Tickets(command) => {
            let pools = tenant_pools(tenants, tenant);
            tickets::execute(port, pools, tenant, actor, command, now)
        }
        Command::CreateWebhook {
            url,
            events,
            secret,
        } => outbox::create_webhook(port, tenant, url, events, secret, now),
        Command::DeleteWebhook { webhook_id } => {
            outbox::delete_webhook(port, tenant, &webhook_id, now)
        }
        Command::TestWebhook { webhook_id } => outbox::test_webhook(port, tenant, &webhook_id, now),
        Command::SetRecipients(groups) => outbox::set_recipients(port, tenant, groups),
        Command::RecordDeliveryAttempts(attempts) => outbox::record_attempts(port, attempts),
    }
}

fn step_hold<P: Port + StoreRules>(
    port: &mut P,
    tenants: &mut Tenants,
    tenant: &TenantId,
    actor: Option<&str>,
    hold_id: &str,
    now: UnixMillis,
    step: Step,
) -> Result<Outcome, Error> {
    let pools = tenant_pools(tenants, tenant);
    let (outcome, settled) = holds::step(port, pools, tenant, actor, hold_id, now, step)?;
    waitlist::settle_offers(port, settled, now)?;
    Ok(outcome)
}
