//! Each [`Change`] the engine decides, written at once in the batch's transaction, one row per
//! statement. A transition names the state it expects (`WHERE status = <from>`) and is a
//! conflict when no row is there any more; sequence numbers (ledger, events, alerts) come from
//! the database.

use super::{PgPort, one_row};
use crate::StoreError;
use crate::model::{DeliveryAttempt, DeliveryStatus, TenantId};
use allot_core::{HoldStatus, SessionZone, UnixMillis};
use allot_engine::change::{Change, NewDelivery};
use allot_engine::records::PoolRecord;
use allot_engine::rules::routing::Target;

pub(super) fn persist(port: &mut PgPort<'_, '_>, change: Change) -> Result<(), StoreError> {
    let sql = &mut port.sql;
    match change {
        Change::NewTenant { id, name, at } => {
            sql.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)",
                &[&id.0, &name, &at.0],
            )?;
        }
        Change::NewApiKey {
            tenant,
            key_id,
            key_hash,
            role,
            at,
        } => {
            sql.execute(
                "INSERT INTO api_keys (id, tenant_id, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&key_id, &tenant.0, &role.as_str(), &key_hash, &at.0],
            )?;
        }
        Change::ApiKeyRevoked { tenant, key_id, at } => {
            let changed = sql.execute(
                "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                &[&tenant.0, &key_id, &at.0],
            )?;
            one_row(changed, || format!("api key {key_id} is no longer live"))?;
        }
        Change::NewPool { tenant, pool } => insert_pool(port, &tenant, &pool)?,
        Change::PoolCounters {
            tenant,
            pool_id,
            from,
            to,
        } => port.write_pool_counters(&tenant, &pool_id, from, &to)?,
        Change::PoolRewritten { tenant, from, pool } => {
            port.write_pool_whole(&tenant, from, &pool)?
        }
        Change::SessionWaitlist {
            tenant,
            session,
            settings,
        } => {
            sql.execute(
                "UPDATE pools SET waitlist_policy = $3, waitlist_mode = $4, offer_ttl_seconds = $5
                 WHERE tenant_id = $1 AND session_id = $2",
                &[
                    &tenant.0,
                    &session.0,
                    &settings.policy.as_str(),
                    &settings.mode.as_str(),
                    &settings.offer_ttl.get(),
                ],
            )?;
        }
        Change::NewHold(hold) => {
            sql.execute(
                "INSERT INTO holds (tenant_id, id, status, holder, expires_at, lines, created_at,
                     updated_at, waitlist_entry_id, subject)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
                &[
                    &hold.tenant.0,
                    &hold.id,
                    &hold.status.as_str(),
                    &hold.holder,
                    &hold.expires_at.0,
                    &hold.lines,
                    &hold.created_at.0,
                    &hold.waitlist_entry_id,
                    &hold.subject,
                ],
            )?;
        }
        Change::HoldStatus {
            tenant,
            hold_id,
            from,
            to,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE holds SET status = $4, updated_at = $5
                 WHERE tenant_id = $1 AND id = $2 AND status = $3",
                &[&tenant.0, &hold_id, &from.as_str(), &to.as_str(), &at.0],
            )?;
            one_row(changed, || format!("hold {hold_id} is no longer {from:?}"))?;
            if to == HoldStatus::Expired {
                port.tally.holds_expired += 1;
            }
        }
        Change::HoldExpiry {
            tenant,
            hold_id,
            from,
            to,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE holds SET expires_at = $4, updated_at = $5
                 WHERE tenant_id = $1 AND id = $2 AND expires_at = $3",
                &[&tenant.0, &hold_id, &from.0, &to.0, &at.0],
            )?;
            one_row(changed, || format!("hold {hold_id}'s deadline moved"))?;
        }
        Change::Consumption {
            tenant,
            pool_id,
            subject,
            hold_id,
        } => {
            let key = (tenant, pool_id, subject);
            match port.read.consumptions.get(&key).cloned().flatten() {
                // Replacing the hold that counted the subject before (its hold lapsed), if
                // no other writer replaced it first.
                Some(counted) => {
                    let (tenant, pool_id, subject) = &key;
                    let changed = port.sql.execute(
                        "UPDATE consumptions SET hold_id = $4
                         WHERE tenant_id = $1 AND pool_id = $2 AND subject = $3 AND hold_id = $5",
                        &[&tenant.0, &pool_id.0, subject, &hold_id, &counted],
                    )?;
                    one_row(changed, || {
                        format!("{subject} was counted again on pool {pool_id} meanwhile")
                    })?;
                }
                // Free when read: a writer that counted the subject meanwhile holds the key.
                None => {
                    let (tenant, pool_id, subject) = &key;
                    port.sql.execute(
                        "INSERT INTO consumptions (tenant_id, pool_id, subject, hold_id)
                         VALUES ($1, $2, $3, $4)",
                        &[&tenant.0, &pool_id.0, subject, &hold_id],
                    )?;
                }
            }
            port.read.consumptions.insert(key, Some(hold_id));
        }
        Change::Ledger(entry) => {
            sql.execute(
                "INSERT INTO ledger (tenant_id, pool_id, hold_id, kind, held_delta, committed_delta,
                     capacity_after, actor, reason, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &entry.tenant.0,
                    &entry.pool_id.0,
                    &entry.hold_id,
                    &entry.kind.as_str(),
                    &entry.held_delta,
                    &entry.committed_delta,
                    &entry.capacity_after,
                    &entry.actor,
                    &entry.reason,
                    &entry.at.0,
                ],
            )?;
        }
        Change::IdempotencyRecord {
            tenant,
            key,
            request_hash,
            response,
            at,
        } => {
            let status = i64::from(response.status);
            let claim = (tenant, key);
            match port.read.keys.get(&claim).copied().flatten() {
                // A record past its window, replaced (the engine decided it may) if no other
                // writer replaced it first.
                Some(made_at) => {
                    let (tenant, key) = &claim;
                    let changed = port.sql.execute(
                        "UPDATE idempotency SET request_hash = $3, status = $4, body = $5, created_at = $6
                         WHERE tenant_id = $1 AND key = $2 AND created_at = $7",
                        &[
                            &tenant.0,
                            key,
                            &request_hash,
                            &status,
                            &response.body,
                            &at.0,
                            &made_at,
                        ],
                    )?;
                    one_row(changed, || {
                        format!("idempotency key {key} was used meanwhile")
                    })?;
                }
                // Free when read: if another writer took the key meanwhile, its batch
                // commits and this one fails as a conflict (a retry under the key replays).
                None => {
                    let (tenant, key) = &claim;
                    port.sql.execute(
                        "INSERT INTO idempotency (tenant_id, key, request_hash, status, body, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[&tenant.0, key, &request_hash, &status, &response.body, &at.0],
                    )?;
                }
            }
            port.read.keys.insert(claim, Some(at.0));
        }
        Change::ForgetIdempotency { before, limit } => {
            sql.execute(
                "DELETE FROM idempotency WHERE (tenant_id, key) IN (
                     SELECT tenant_id, key FROM idempotency WHERE created_at <= $1
                     ORDER BY created_at LIMIT $2)",
                &[&before.0, &limit],
            )?;
        }

        // Plans and quotas
        Change::NewPlan { tenant, plan } => {
            sql.execute(
                "INSERT INTO plans (tenant_id, id, name, unit, capacity, hard_limit_pct, soft_limit_pct,
                     thresholds, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &tenant.0,
                    &plan.id,
                    &plan.name,
                    &plan.unit,
                    &plan.capacity,
                    &i64::from(plan.hard_limit_pct),
                    &i64::from(plan.soft_limit_pct),
                    &plan.thresholds,
                    &plan.created_at.0,
                    &plan.updated_at.0,
                ],
            )?;
        }
        Change::PlanUpdated {
            tenant,
            plan_id,
            from,
            to,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE plans SET name = $5, capacity = $6, updated_at = $7
                 WHERE tenant_id = $1 AND id = $2 AND name = $3 AND capacity = $4",
                &[
                    &tenant.0,
                    &plan_id,
                    &from.name,
                    &from.capacity,
                    &to.name,
                    &to.capacity,
                    &at.0,
                ],
            )?;
            one_row(changed, || format!("plan {plan_id} changed meanwhile"))?;
        }
        Change::NewMember {
            tenant,
            plan_id,
            subject,
            pool_id,
        } => {
            let changed = sql.execute(
                "UPDATE pools SET plan_id = $3, subject = $4
                 WHERE tenant_id = $1 AND id = $2 AND plan_id IS NULL",
                &[&tenant.0, &pool_id.0, &plan_id, &subject],
            )?;
            one_row(changed, || format!("pool {pool_id} is already a member's"))?;
        }

        // Jobs
        Change::NewJob { tenant, job } => {
            sql.execute(
                "INSERT INTO jobs (tenant_id, id, kind, status, params, total, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &tenant.0,
                    &job.id,
                    &job.kind,
                    &job.status.as_str(),
                    &job.params.to_string(),
                    &job.total,
                    &job.created_at.0,
                    &job.updated_at.0,
                ],
            )?;
        }
        Change::JobProgress {
            tenant,
            job_id,
            from,
            to,
        } => {
            let changed = sql.execute(
                "UPDATE jobs SET status = $6, cursor = $7, total = $8, done = $9, created = $10,
                     skipped = $11, failed = $12, error = $13, started_at = $14, updated_at = $15,
                     finished_at = $16
                 WHERE tenant_id = $1 AND id = $2 AND status = $3
                   AND cursor IS NOT DISTINCT FROM $4 AND done = $5",
                &[
                    &tenant.0,
                    &job_id,
                    &from.status.as_str(),
                    &from.cursor,
                    &from.counters.done,
                    &to.status.as_str(),
                    &to.cursor,
                    &to.total,
                    &to.counters.done,
                    &to.counters.created,
                    &to.counters.skipped,
                    &to.counters.failed,
                    &to.error,
                    &to.started_at.map(|at| at.0),
                    &to.updated_at.0,
                    &to.finished_at.map(|at| at.0),
                ],
            )?;
            one_row(changed, || format!("job {job_id} has moved meanwhile"))?;
        }
        Change::NewJobItems {
            tenant,
            job_id,
            items,
            at,
        } => {
            for item in items {
                sql.execute(
                    "INSERT INTO job_failures (tenant_id, job_id, seq, item, outcome, reason, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &tenant.0,
                        &job_id,
                        &item.seq,
                        &item.item,
                        &item.outcome,
                        &item.reason,
                        &at.0,
                    ],
                )?;
            }
        }

        // Attendees and tickets
        Change::NewAttendee { tenant, attendee } => {
            sql.execute(
                "INSERT INTO attendees (tenant_id, id, event_id, external_id, name, email, section_id,
                     created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &tenant.0,
                    &attendee.id,
                    &attendee.event_id,
                    &attendee.external_id,
                    &attendee.name,
                    &attendee.email,
                    &attendee.section_id,
                    &attendee.created_at.0,
                    &attendee.updated_at.0,
                ],
            )?;
        }
        Change::AttendeeUpdated {
            tenant,
            attendee_id,
            name,
            email,
            section_id,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE attendees SET name = $3, email = $4, section_id = $5, updated_at = $6
                 WHERE tenant_id = $1 AND id = $2",
                &[&tenant.0, &attendee_id, &name, &email, &section_id, &at.0],
            )?;
            one_row(changed, || format!("attendee {attendee_id} is gone"))?;
        }
        Change::NewTicket {
            tenant,
            ticket,
            token_hash,
        } => {
            sql.execute(
                "INSERT INTO tickets (tenant_id, id, event_id, pool_id, attendee_id, hold_id, code,
                     token_seed, token_hash, status, issued_at, job_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &tenant.0,
                    &ticket.id,
                    &ticket.event_id,
                    &ticket.pool_id,
                    &ticket.attendee_id,
                    &ticket.hold_id,
                    &ticket.code,
                    &ticket.token_seed,
                    &token_hash,
                    &ticket.status.as_str(),
                    &ticket.issued_at.0,
                    &ticket.job_id,
                ],
            )?;
        }
        Change::TicketReissued {
            tenant,
            ticket_id,
            code,
            token_seed,
            token_hash,
            job_id,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE tickets SET code = $3, token_seed = $4, token_hash = $5, issued_at = $6, job_id = $7
                 WHERE tenant_id = $1 AND id = $2 AND status <> 'void'",
                &[
                    &tenant.0,
                    &ticket_id,
                    &code,
                    &token_seed,
                    &token_hash,
                    &at.0,
                    &job_id,
                ],
            )?;
            one_row(changed, || format!("ticket {ticket_id} is no longer live"))?;
        }
        Change::TicketStatus {
            tenant,
            ticket_id,
            from,
            to,
            at,
        } => {
            use crate::tickets::TicketStatus;
            let (used_at, voided_at) = match to {
                TicketStatus::Used => (Some(at.0), None),
                TicketStatus::Void => (None, Some(at.0)),
                TicketStatus::Valid => (None, None),
            };
            let changed = sql.execute(
                "UPDATE tickets SET status = $4, used_at = COALESCE($5, used_at),
                     voided_at = COALESCE($6, voided_at)
                 WHERE tenant_id = $1 AND id = $2 AND status = $3",
                &[
                    &tenant.0,
                    &ticket_id,
                    &from.as_str(),
                    &to.as_str(),
                    &used_at,
                    &voided_at,
                ],
            )?;
            one_row(changed, || {
                format!("ticket {ticket_id} is no longer {}", from.as_str())
            })?;
        }
        Change::NewCheckIn {
            tenant,
            id,
            ticket_id,
            result,
            actor,
            at,
        } => {
            sql.execute(
                "INSERT INTO checkins (tenant_id, id, ticket_id, result, actor, at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&tenant.0, &id, &ticket_id, &result, &actor, &at.0],
            )?;
        }

        // Waiting lists
        Change::NewWaitlistEntry { tenant, entry } => {
            let classes = entry
                .priority_classes
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            sql.execute(
                "INSERT INTO waitlist_entries (tenant_id, id, pool_id, holder, quantity, priority,
                     priority_classes, seq, status, expires_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $9, $10, $10)",
                &[
                    &tenant.0,
                    &entry.id,
                    &entry.pool_id.0,
                    &entry.holder,
                    &entry.quantity,
                    &entry.priority,
                    &classes,
                    &entry.seq,
                    &entry.expires_at.0,
                    &entry.created_at.0,
                ],
            )?;
        }
        Change::WaitlistEntryStatus {
            tenant,
            entry_id,
            from,
            to,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE waitlist_entries SET status = $4, updated_at = $5
                 WHERE tenant_id = $1 AND id = $2 AND status = $3",
                &[&tenant.0, &entry_id, &from.as_str(), &to.as_str(), &at.0],
            )?;
            one_row(changed, || {
                format!("entry {entry_id} is no longer {from:?}")
            })?;
        }
        Change::WaitlistEntryPromoted {
            tenant,
            entry_id,
            to,
            hold_id,
            offer_expires_at,
            at,
        } => {
            let changed = sql.execute(
                "UPDATE waitlist_entries SET status = $3, hold_id = $4, offer_expires_at = $5,
                     promoted_at = $6, updated_at = $6
                 WHERE tenant_id = $1 AND id = $2 AND status = 'waiting'",
                &[
                    &tenant.0,
                    &entry_id,
                    &to.as_str(),
                    &hold_id,
                    &offer_expires_at.map(|at| at.0),
                    &at.0,
                ],
            )?;
            one_row(changed, || format!("entry {entry_id} is no longer waiting"))?;
        }
        Change::PriorityClasses { tenant, classes } => {
            sql.execute(
                "INSERT INTO tenant_settings (tenant_id, priority_base, priority_classes) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id) DO UPDATE SET priority_base = EXCLUDED.priority_base,
                     priority_classes = EXCLUDED.priority_classes",
                &[
                    &tenant.0,
                    &classes.base,
                    &serde_json::to_string(&classes.classes)?,
                ],
            )?;
        }

        // The outbox
        Change::NewEvent {
            tenant,
            id,
            kind,
            data,
            at,
        } => {
            port.tally.event(kind);
            sql.execute(
                "INSERT INTO events (tenant_id, id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&tenant.0, &id, &kind, &data.to_string(), &at.0],
            )?;
        }
        Change::NewDelivery { tenant, delivery } => insert_delivery(port, &tenant, &delivery)?,
        Change::NewAlert { tenant, alert } => {
            port.tally.alert(alert.severity);
            sql.execute(
                "INSERT INTO alerts (tenant_id, id, pool_id, kind, threshold_pct, severity, recipients,
                     used, capacity, waiting, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &tenant.0,
                    &alert.id,
                    &alert.pool_id.0,
                    &alert.kind,
                    &alert.threshold_pct.map(i64::from),
                    &alert.severity,
                    &serde_json::to_string(&alert.recipients)?,
                    &alert.used,
                    &alert.capacity,
                    &alert.waiting,
                    &alert.at.0,
                ],
            )?;
        }
        Change::NewWebhook { tenant, webhook } => {
            sql.execute(
                "INSERT INTO webhooks (tenant_id, id, url, events, secret, active, created_at)
                 VALUES ($1, $2, $3, $4, $5, true, $6)",
                &[
                    &tenant.0,
                    &webhook.id,
                    &webhook.url,
                    &serde_json::to_string(&webhook.events)?,
                    &webhook.secret,
                    &webhook.at.0,
                ],
            )?;
        }
        Change::WebhookDeactivated { tenant, webhook_id } => {
            let changed = sql.execute(
                "UPDATE webhooks SET active = false WHERE tenant_id = $1 AND id = $2 AND active",
                &[&tenant.0, &webhook_id],
            )?;
            one_row(changed, || {
                format!("webhook {webhook_id} is no longer active")
            })?;
        }
        Change::PendingDeliveriesFailed {
            tenant,
            webhook_id,
            error,
            at,
        } => {
            sql.execute(
                "UPDATE deliveries SET status = 'failed', last_error = $3, updated_at = $4
                 WHERE tenant_id = $1 AND webhook_id = $2 AND status = 'pending'",
                &[&tenant.0, &webhook_id, &error, &at.0],
            )?;
        }
        Change::RecipientGroups { tenant, groups } => {
            sql.execute(
                "DELETE FROM recipient_groups WHERE tenant_id = $1",
                &[&tenant.0],
            )?;
            for (name, channels) in &groups {
                sql.execute(
                    "INSERT INTO recipient_groups (tenant_id, name, channels) VALUES ($1, $2, $3)",
                    &[&tenant.0, name, &serde_json::to_string(channels)?],
                )?;
            }
        }
        Change::DeliveryAttempted {
            attempt,
            number,
            to,
            next_attempt_at,
        } => record_attempt(port, &attempt, number, to, next_attempt_at)?,
    }
    Ok(())
}

fn insert_pool(
    port: &mut PgPort<'_, '_>,
    tenant: &TenantId,
    row: &PoolRecord,
) -> Result<(), StoreError> {
    let limits = row.core.limits;
    port.sql.execute(
        "INSERT INTO pools (tenant_id, id, parent_id, name, unit, capacity, hard_limit_pct, soft_limit_pct,
             held, committed, price_amount_minor, price_currency, metadata, active, created_at, updated_at,
             per_date, session_id, date, waitlist_policy, waitlist_mode, offer_ttl_seconds, waiting,
             waiting_below, thresholds, time_zone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18,
             $19, $20, $21, 0, 0, $22, $23)",
        &[
            &tenant.0,
            &row.core.id.0,
            &row.core.parent_id.as_ref().map(|p| p.0.clone()),
            &row.name,
            &row.unit,
            &limits.capacity.get(),
            &i64::from(limits.hard_limit_pct.get()),
            &i64::from(limits.soft_limit_pct.get()),
            &row.core.held,
            &row.core.committed,
            &row.price.as_ref().map(|p| p.amount_minor),
            &row.price.as_ref().map(|p| p.currency.clone()),
            &row.metadata,
            &row.core.active,
            &row.created_at.0,
            &row.per_date,
            &row.session_id,
            &row.date,
            &row.waitlist.policy.as_str(),
            &row.waitlist.mode.as_str(),
            &row.waitlist.offer_ttl.get(),
            &row.thresholds,
            &row.time_zone.as_ref().map(SessionZone::name),
        ],
    )?;
    Ok(())
}

/// A pending delivery, due at once.
fn insert_delivery(
    port: &mut PgPort<'_, '_>,
    tenant: &TenantId,
    delivery: &NewDelivery,
) -> Result<(), StoreError> {
    let (channel, webhook, email) = match &delivery.target {
        Target::Webhook(id) => ("webhook", Some(id), None),
        Target::Email(address) => ("email", None, Some(address)),
    };
    port.sql.execute(
        "INSERT INTO deliveries (tenant_id, id, channel, webhook_id, email, event_id, event_type, payload,
             status, attempts, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9, $9)",
        &[
            &tenant.0,
            &delivery.id,
            &channel,
            &webhook,
            &email,
            &delivery.event_id,
            &delivery.kind,
            &delivery.payload,
            &delivery.at.0,
        ],
    )?;
    Ok(())
}

/// One attempt in the log, and the delivery delivered, scheduled again, or given up.
fn record_attempt(
    port: &mut PgPort<'_, '_>,
    attempt: &DeliveryAttempt,
    number: i64,
    to: DeliveryStatus,
    next_attempt_at: UnixMillis,
) -> Result<(), StoreError> {
    let status = attempt.status.map(i64::from);
    let changed = port.sql.execute(
        "UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_status = $5,
             last_error = $6, updated_at = $7
         WHERE id = $1 AND status = 'pending' AND attempts + 1 = $3",
        &[
            &attempt.delivery_id,
            &to.as_str(),
            &number,
            &next_attempt_at.0,
            &status,
            &attempt.error,
            &attempt.at.0,
        ],
    )?;
    one_row(changed, || {
        format!(
            "delivery {} is no longer pending at attempt {}",
            attempt.delivery_id,
            number - 1
        )
    })?;
    port.sql.execute(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, status, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &attempt.delivery_id,
            &number,
            &attempt.at.0,
            &status,
            &attempt.error,
            &attempt.duration_ms,
        ],
    )?;
    Ok(())
}
