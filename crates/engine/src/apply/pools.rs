//! Pools: making one under its parent, and changing one — its limits (a session's dates all or
//! none), its settings, its waiting-list way of serving.

use crate::Error;
use crate::change::Change;
use crate::command::{Failure, NewPool, Outcome, PoolPatch, Success};
use crate::model::{LedgerKind, TenantId};
use crate::port::Port;
use crate::records::PoolRecord;
use crate::rules::pools as pool_rules;
use crate::working::{Baseline, NewLedgerEntry, TenantPools};
use allot_core::{Pool, PoolId, Refusal, SessionDate, UnixMillis};

fn invalid(field: &str, message: &str) -> Outcome {
    Err(Failure::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    })
}

pub fn create<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    new_pool: NewPool,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let parent_id = new_pool.parent_id.map(PoolId);
    if let Some(parent) = &parent_id {
        if !pools.load_chain(port, tenant, parent)? {
            return Ok(invalid("parent_id", "no such pool"));
        }
        let depth = pools.set.chain(parent).map_or(0, |chain| chain.len());
        if let Err(failure) = pool_rules::check_parent(&pools.rows[parent], depth) {
            return Ok(Err(failure));
        }
    }
    let limits = match pool_rules::new_limits(
        new_pool.capacity,
        new_pool.hard_limit_pct,
        new_pool.soft_limit_pct,
    ) {
        Ok(limits) => limits,
        Err(failure) => return Ok(Err(failure)),
    };
    let id = PoolId(port.new_id("pool"));
    let row = PoolRecord {
        core: Pool::new(id.clone(), parent_id, limits),
        name: new_pool.name,
        unit: new_pool.unit,
        price: new_pool.price,
        metadata: new_pool.metadata.as_ref().map(serde_json::Value::to_string),
        created_at: now,
        updated_at: now,
        per_date: new_pool.per_date,
        session_id: None,
        date: None,
        time_zone: new_pool.time_zone,
        waitlist: new_pool.waitlist,
        waiting: 0,
        waiting_below: 0,
        thresholds: match &new_pool.thresholds {
            Some(thresholds) => Some(serde_json::to_string(thresholds)?),
            None => None,
        },
        alert_marks: None,
    };
    port.persist(Change::NewPool {
        tenant: tenant.clone(),
        pool: Box::new(row.clone()),
    })?;
    let entry = NewLedgerEntry {
        tenant,
        pool_id: &id,
        hold_id: None,
        kind: LedgerKind::Adjust,
        held_delta: 0,
        committed_delta: 0,
        capacity_after: limits.capacity.get(),
        actor,
        reason: Some("created"),
        at: now,
    };
    port.persist(Change::Ledger(entry.into()))?;
    pools.set.insert(row.core.clone());
    pools.missing.remove(&id);
    pools
        .baseline
        .insert(id.clone(), Baseline::of(&row.core, &row));
    pools.rows.insert(id.clone(), row);
    Ok(Ok(Success::Pool(pools.view(&id))))
}

pub fn update<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    id: PoolId,
    patch: PoolPatch,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let not_found = |id: PoolId| {
        Ok(Err(Failure::NotFound {
            kind: "pool",
            id: id.0,
        }))
    };
    // One date's instance is made on its first use, a change of its capacity included.
    if SessionDate::split_instance_id(&id).is_some() {
        match pools.load_for_use(port, tenant, &id, now)? {
            Ok(()) => {}
            Err(Failure::Refused(Refusal::UnknownPool(_))) => return not_found(id),
            Err(failure) => return Ok(Err(failure)),
        }
    } else if !pools.load_chain(port, tenant, &id)? {
        return not_found(id);
    }
    let current = pools.set.get(&id).expect("loaded above").limits;
    let limits = pool_rules::patched_limits(current, &patch);
    let is_session = pools.rows[&id].per_date;
    if limits != current
        && let Err(refusal) = pools
            .set
            .get(&id)
            .expect("loaded above")
            .check_adjust(limits)
    {
        return Ok(Err(refusal.into()));
    }
    // A session-wide change reaches the dates already made only when asked (even when the
    // session itself already has these figures), and never a past one. Every date is checked
    // before any changes: all of them, or none.
    let mut changed: Vec<PoolId> = Vec::new();
    if limits != current {
        changed.push(id.clone());
    }
    if is_session && patch.apply_to_dates {
        let zone = pools.rows[&id].zone();
        // Which dates are over is the core's call (calendar dates in the session's zone).
        let dates: Vec<PoolId> = port
            .session_dates(tenant, &id)?
            .into_iter()
            .filter(|date_id| {
                SessionDate::split_instance_id(date_id)
                    .is_some_and(|(_, date)| !date.is_past_in(now, &zone))
            })
            .collect();
        for date_id in &dates {
            if !pools.load_chain(port, tenant, date_id)? {
                return Err(Error::Corrupt(format!("date {date_id} vanished")));
            }
        }
        let loaded = dates.iter().map(|date_id| {
            let label = pools.rows[date_id].date.as_deref().unwrap_or("?");
            (label, pools.set.get(date_id).expect("loaded above"))
        });
        match pool_rules::dates_to_change(limits, loaded) {
            Ok(dates) => changed.extend(dates),
            Err(failure) => return Ok(Err(failure)),
        }
    }
    let reason = patch.reason.as_deref().unwrap_or("adjusted");
    for pool_id in &changed {
        pools
            .set
            .adjust(pool_id, limits)
            .expect("checked above, in the same working set");
        let entry = NewLedgerEntry {
            tenant,
            pool_id,
            hold_id: None,
            kind: LedgerKind::Adjust,
            held_delta: 0,
            committed_delta: 0,
            capacity_after: limits.capacity.get(),
            actor,
            reason: Some(reason),
            at: now,
        };
        port.persist(Change::Ledger(entry.into()))?;
        pools.dirty.insert(pool_id.clone());
        pools.freed.insert(pool_id.clone());
        pools.lower_baseline(pool_id);
    }
    if let Some(active) = patch.active {
        pools.set.set_active(&id, active);
        pools.freed.insert(id.clone());
    }
    let waitlist_changed = patch.waitlist_policy.is_some()
        || patch.waitlist_mode.is_some()
        || patch.offer_ttl.is_some();
    let row = pools.rows.get_mut(&id).expect("loaded above");
    if let Some(name) = patch.name {
        row.name = name;
    }
    if let Some(price) = patch.price {
        row.price = price;
    }
    if let Some(metadata) = patch.metadata {
        row.metadata = Some(metadata.to_string());
    }
    if let Some(thresholds) = &patch.thresholds {
        row.thresholds = match thresholds {
            Some(thresholds) => Some(serde_json::to_string(thresholds)?),
            None => None,
        };
    }
    if waitlist_changed {
        let settings = &mut row.waitlist;
        settings.policy = patch.waitlist_policy.unwrap_or(settings.policy);
        settings.mode = patch.waitlist_mode.unwrap_or(settings.mode);
        settings.offer_ttl = patch.offer_ttl.unwrap_or(settings.offer_ttl);
        let settings = *settings;
        if is_session {
            // A session's dates serve their lists the session's way: the ones in this batch's
            // working set and the ones in the store alike.
            port.persist(Change::SessionWaitlist {
                tenant: tenant.clone(),
                session: id.clone(),
                settings,
            })?;
            for date in pools.rows.values_mut() {
                if date.session_id.as_deref() == Some(id.0.as_str()) {
                    date.waitlist = settings;
                    pools.freed.insert(date.core.id.clone());
                }
            }
            // Dates not in this batch that have people waiting are served the new way too.
            let waiting_dates = port.session_dates_with_waiting(tenant, &id)?;
            pools.freed.extend(waiting_dates);
        }
        pools.freed.insert(id.clone());
    }
    let row = pools.rows.get_mut(&id).expect("loaded above");
    row.updated_at = now;
    pools.dirty.insert(id.clone());
    pools.reconfigured.insert(id.clone());
    Ok(Ok(Success::Pool(pools.view(&id))))
}
