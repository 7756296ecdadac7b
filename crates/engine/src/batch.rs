//! One batch, decided in arrival order: holds whose deadline passed expire first, so a lapsed
//! hold never blocks anyone; then each command (inside its idempotency key, when it has one),
//! with the capacity it freed offered to those waiting before the next command can take it;
//! then the alerts on what the batch changed, and last each changed pool's counters (or the
//! whole pool, when its settings changed), once per batch however many commands used it.
//!
//! The engine decides every command: holds, pools, tenants and keys, idempotency, plans and
//! quotas, jobs, attendees and tickets, waiting lists, and the outbox (events, alerts,
//! webhooks, recipients, delivery attempts). A store only loads what the engine asks for and
//! persists the [`crate::change::Change`]s it hands over.

use crate::Error;
use crate::apply::holds::{self, HoldRequest, Step};
use crate::apply::{self, alerts, jobs, keys, outbox, plans, pools, quotas, tickets, waitlist};
use crate::command::{Command, Envelope, Outcome, Reply, Success};
use crate::model::TenantId;
use crate::port::Port;
use crate::working::{Tenants, tenant_pools};
use allot_core::{PoolId, UnixMillis};

/// Decides a batch and answers one reply per envelope, in order. `expire_first: false` skips the
/// probe for due holds when the store knows none can be due (its earliest deadline is later).
/// An `Err` means the batch must not commit.
pub fn apply<P: Port>(
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
    write_pools(port, tenants, now)?;
    Ok(replies)
}

/// Hands the store each changed pool's write, last in the batch: a pool many commands used is
/// written once.
fn write_pools<P: Port>(port: &mut P, tenants: &mut Tenants, now: UnixMillis) -> Result<(), Error> {
    for (tenant, pools) in tenants.iter_mut() {
        for write in pools.settle_dirty(tenant, now) {
            port.persist(write)?;
        }
    }
    Ok(())
}

fn apply_envelope<P: Port>(
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
pub fn execute<P: Port>(
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

fn step_hold<P: Port>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::test_port::RecordingPort;
    use crate::change::{Change, PoolUse};
    use crate::command::{HoldExtras, PoolPatch};
    use allot_core::{Capacity, HoldLine, Quantity, TtlSeconds};

    fn envelope(command: Command) -> Envelope {
        Envelope {
            tenant: TenantId("t".into()),
            actor: None,
            command,
            idempotency: None,
        }
    }

    fn hold(pool: &str, quantity: i64) -> Envelope {
        envelope(Command::PlaceHold {
            lines: vec![HoldLine {
                pool_id: PoolId(pool.into()),
                quantity: Quantity::new(quantity).expect("valid"),
            }],
            ttl: TtlSeconds::new(600).expect("valid"),
            holder: None,
            confirm: false,
            extras: HoldExtras::default(),
        })
    }

    /// Each pool is written once at the end of the batch, however many commands used it: as its
    /// counters when only its use changed, whole when its capacity did; each write names the use
    /// it replaces, so a store holding something else refuses it.
    #[test]
    fn a_batch_writes_each_pool_it_used_once_as_counters_or_whole() {
        let mut port = RecordingPort::default();
        port.add_pool("floor", "Floor", "seat", 10, 2);
        port.add_pool("balcony", "Balcony", "seat", 10, 0);
        let mut tenants = Tenants::default();
        let batch = vec![
            hold("floor", 1),
            hold("floor", 2),
            hold("balcony", 1),
            envelope(Command::UpdatePool {
                pool_id: "balcony".into(),
                patch: PoolPatch {
                    capacity: Some(Capacity::new(20).expect("valid")),
                    ..PoolPatch::default()
                },
            }),
        ];
        let replies =
            apply(&mut port, &mut tenants, batch, UnixMillis(5_000), true).expect("applies");
        assert_eq!(replies.len(), 4);
        let mut writes: Vec<(String, PoolUse, i64, i64)> = port
            .take_changes()
            .into_iter()
            .filter_map(|change| match change {
                Change::PoolCounters {
                    pool_id, from, to, ..
                } => Some((
                    format!("counters {pool_id}"),
                    from,
                    to.held,
                    to.updated_at.0,
                )),
                Change::PoolRewritten { from, pool, .. } => Some((
                    format!(
                        "whole {} capacity {}",
                        pool.core.id,
                        pool.core.limits.capacity.get()
                    ),
                    from,
                    pool.core.held,
                    pool.updated_at.0,
                )),
                _ => None,
            })
            .collect();
        writes.sort_by(|a, b| a.0.cmp(&b.0));
        let unused = |committed| PoolUse { held: 0, committed };
        assert_eq!(
            writes,
            vec![
                ("counters floor".into(), unused(2), 3, 5_000),
                ("whole balcony capacity 20".into(), unused(0), 1, 5_000),
            ]
        );
        assert_eq!(port.pools[&PoolId("floor".into())].core.held, 3);
        assert_eq!(
            port.pools[&PoolId("balcony".into())]
                .core
                .limits
                .capacity
                .get(),
            20
        );

        // A store whose pool is no longer at the use the engine last wrote refuses the batch.
        port.pools
            .get_mut(&PoolId("floor".into()))
            .expect("exists")
            .core
            .held = 9;
        for pools in tenants.values_mut() {
            pools.end_batch();
        }
        let refused = apply(
            &mut port,
            &mut tenants,
            vec![hold("floor", 1)],
            UnixMillis(6_000),
            true,
        );
        assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    }
}
