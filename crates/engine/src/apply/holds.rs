//! Holds: placing one (the core decides against the working set), confirming, releasing,
//! extending and expiring, each change to the store as a [`Change`] and one ledger entry per
//! line.

use crate::Error;
use crate::change::{Change, NewHold};
use crate::command::{Failure, HoldExtras, Outcome, Success};
use crate::model::{HoldLineView, HoldView, LedgerKind, TenantId};
use crate::port::Port;
use crate::records::HoldRecord;
use crate::rules::holds as hold_rules;
use crate::working::{NewLedgerEntry, TenantPools, Tenants, tenant_pools};
use allot_core::{
    HoldLine, HoldStatus, LineEffect, PoolId, TransitionError, TtlSeconds, UnixMillis,
};

/// A new hold as asked for.
pub struct HoldRequest {
    pub lines: Vec<HoldLine>,
    pub expires_at: UnixMillis,
    pub holder: Option<String>,
    pub confirm: bool,
    pub extras: HoldExtras,
}

/// A hold's move that settles the waiting-list offer it was made for: the entry follows it
/// (confirmed, released or expired).
#[derive(Debug, Clone)]
pub struct OfferSettled {
    pub tenant: TenantId,
    pub entry_id: String,
    pub hold_id: String,
    pub kind: LedgerKind,
}

pub fn place<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    request: HoldRequest,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let HoldRequest {
        lines,
        expires_at,
        holder,
        confirm,
        extras,
    } = request;
    for (index, line) in lines.iter().enumerate() {
        if let Err(failure) = pools.load_for_use(port, tenant, &line.pool_id, now)? {
            return Ok(Err(hold_rules::name_line(index, failure)));
        }
        let requested = extras.units.get(index).and_then(Option::as_deref);
        if let Err(failure) =
            hold_rules::check_unit(&line.pool_id, requested, &pools.rows[&line.pool_id].unit)
        {
            return Ok(Err(failure));
        }
    }
    // A subject counts once per pool: the live hold that already counted it on any of the
    // lines' pools is the answer.
    let consumed_pools = distinct_pools(&lines);
    if let Some(subject) = &extras.subject {
        for pool_id in &consumed_pools {
            if let Some(hold_id) = port.consumption(tenant, pool_id, subject)?
                && let Some(counted) = port.hold(tenant, &hold_id)?
                && counted.lifecycle().status_at(now).is_live()
            {
                return Ok(Ok(Success::AlreadyConsumed(counted.view(now))));
            }
        }
    }
    let placement = match pools.set.place(&lines, confirm) {
        Ok(placement) => placement,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let status = if confirm {
        HoldStatus::Confirmed
    } else {
        HoldStatus::Held
    };
    let hold = Placed {
        lines: &lines,
        status,
        holder,
        expires_at,
        waitlist_entry_id: None,
        subject: extras.subject.as_deref(),
        reason: extras.reason.as_deref(),
    };
    let hold = write_placed(port, pools, tenant, actor, hold, now)?;
    if let Some(subject) = &extras.subject {
        for pool_id in consumed_pools {
            port.persist(Change::Consumption {
                tenant: tenant.clone(),
                pool_id,
                subject: subject.clone(),
                hold_id: hold.id.clone(),
            })?;
        }
    }
    Ok(Ok(Success::Hold {
        hold,
        warnings: placement.warnings,
    }))
}

/// The pools a hold's lines name, each once, in the order of the lines.
fn distinct_pools(lines: &[HoldLine]) -> Vec<PoolId> {
    let mut pools: Vec<PoolId> = Vec::with_capacity(lines.len());
    for line in lines {
        if !pools.contains(&line.pool_id) {
            pools.push(line.pool_id.clone());
        }
    }
    pools
}

/// A hold the core has just placed, to be written down.
pub struct Placed<'a> {
    pub lines: &'a [HoldLine],
    /// Held, or confirmed at once.
    pub status: HoldStatus,
    pub holder: Option<String>,
    pub expires_at: UnixMillis,
    pub waitlist_entry_id: Option<&'a str>,
    /// Who or what the hold consumes, counted once per pool.
    pub subject: Option<&'a str>,
    /// Why, kept in each line's ledger entry.
    pub reason: Option<&'a str>,
}

/// Writes a placed hold: its row, with each line's price locked in, and one ledger entry per line.
pub fn write_placed<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: Placed<'_>,
    now: UnixMillis,
) -> Result<HoldView, Error> {
    let hold_id = port.new_id("hold");
    let line_views: Vec<HoldLineView> = hold
        .lines
        .iter()
        .map(|line| HoldLineView {
            pool_id: line.pool_id.0.clone(),
            quantity: line.quantity.get(),
            unit_price: pools.rows[&line.pool_id].price.clone(),
        })
        .collect();
    port.persist(Change::NewHold(NewHold {
        id: hold_id.clone(),
        tenant: tenant.clone(),
        status: hold.status,
        holder: hold.holder.clone(),
        expires_at: hold.expires_at,
        lines: serde_json::to_string(&line_views)?,
        created_at: now,
        waitlist_entry_id: hold.waitlist_entry_id.map(str::to_owned),
        subject: hold.subject.map(str::to_owned),
    }))?;
    let effect = if hold.status == HoldStatus::Confirmed {
        LineEffect::HOLD_AND_CONFIRM
    } else {
        LineEffect::HOLD
    };
    let change = LineChange {
        hold_id: &hold_id,
        kind: LedgerKind::Hold,
        effect,
        actor,
        reason: hold.reason,
    };
    append_line_entries(port, pools, tenant, hold.lines, change, now)?;
    Ok(HoldView {
        id: hold_id,
        status: hold.status,
        holder: hold.holder,
        expires_at: hold.expires_at,
        lines: line_views,
        created_at: now,
        updated_at: now,
    })
}

/// What one step of a hold did to each of its lines, for the ledger.
#[derive(Clone, Copy)]
struct LineChange<'a> {
    hold_id: &'a str,
    kind: LedgerKind,
    effect: LineEffect,
    actor: Option<&'a str>,
    reason: Option<&'a str>,
}

/// One ledger entry per line of a hold (the counters have already moved), and the lines' chains
/// marked for the end of the batch.
fn append_line_entries<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    lines: &[HoldLine],
    change: LineChange<'_>,
    now: UnixMillis,
) -> Result<(), Error> {
    for line in lines {
        let quantity = line.quantity.get();
        let capacity = pools
            .set
            .get(&line.pool_id)
            .expect("a changed line's pool is loaded")
            .limits
            .capacity
            .get();
        let entry = NewLedgerEntry {
            tenant,
            pool_id: &line.pool_id,
            hold_id: Some(change.hold_id),
            kind: change.kind,
            held_delta: change.effect.held * quantity,
            committed_delta: change.effect.committed * quantity,
            capacity_after: capacity,
            actor: change.actor,
            reason: change.reason,
            at: now,
        };
        port.persist(Change::Ledger(entry.into()))?;
        pools.mark_chain_dirty(&line.pool_id);
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Confirm,
    Release,
}

/// Confirms or releases a hold by id. With the answer comes the offer the step settled, if any.
pub fn step<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    hold_id: &str,
    now: UnixMillis,
    step: Step,
) -> Result<(Outcome, Option<OfferSettled>), Error> {
    let Some(hold) = port.hold(tenant, hold_id)? else {
        let not_found = Failure::NotFound {
            kind: "hold",
            id: hold_id.to_owned(),
        };
        return Ok((Err(not_found), None));
    };
    let (stepped, settled) = step_loaded(port, pools, tenant, actor, hold, now, step)?;
    let outcome = match stepped {
        Ok(hold) => Ok(Success::Hold {
            hold: hold.view(now),
            warnings: Vec::new(),
        }),
        Err(error) => Err(error.into()),
    };
    Ok((outcome, settled))
}

/// Confirms or releases a loaded hold, if its lifecycle allows; answers the hold as it is after.
pub fn step_loaded<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: HoldRecord,
    now: UnixMillis,
    step: Step,
) -> Result<(Result<HoldRecord, TransitionError>, Option<OfferSettled>), Error> {
    let decided = match step {
        Step::Confirm => hold.lifecycle().confirm(now),
        Step::Release => hold.lifecycle().release(now),
    };
    let (status, effect) = match decided {
        Ok(decided) => decided,
        Err(error) => return Ok((Err(error), None)),
    };
    let kind = match step {
        Step::Confirm => LedgerKind::Confirm,
        Step::Release => LedgerKind::Release,
    };
    let settled = transition(port, pools, tenant, actor, &hold, status, effect, kind, now)?;
    let hold = HoldRecord {
        status,
        updated_at: now,
        ..hold
    };
    Ok((Ok(hold), settled))
}

/// Moves a hold to `status`: counters of every line's pool chain by `effect`, the hold, and one
/// ledger entry per line. Capacity given back is marked for promotion. Answers the waiting-list
/// offer the move settles, if the hold was made for one.
#[allow(clippy::too_many_arguments)]
pub fn transition<P: Port>(
    port: &mut P,
    pools: &mut TenantPools,
    tenant: &TenantId,
    actor: Option<&str>,
    hold: &HoldRecord,
    status: HoldStatus,
    effect: LineEffect,
    kind: LedgerKind,
    now: UnixMillis,
) -> Result<Option<OfferSettled>, Error> {
    let lines = hold.core_lines()?;
    for line in &lines {
        if !pools.load_chain(port, tenant, &line.pool_id)? {
            return Err(Error::Corrupt(format!(
                "hold {} names a missing pool {}",
                hold.id, line.pool_id
            )));
        }
    }
    pools.set.apply(&lines, effect);
    let change = LineChange {
        hold_id: &hold.id,
        kind,
        effect,
        actor,
        reason: None,
    };
    append_line_entries(port, pools, tenant, &lines, change, now)?;
    if effect.held + effect.committed < 0 {
        for line in &lines {
            let root = pools.root_of(&line.pool_id);
            pools.freed.insert(root);
            pools.lower_baseline(&line.pool_id);
        }
    }
    port.persist(Change::HoldStatus {
        tenant: tenant.clone(),
        hold_id: hold.id.clone(),
        from: hold.status,
        to: status,
        at: now,
    })?;
    Ok(hold
        .waitlist_entry_id
        .as_ref()
        .map(|entry_id| OfferSettled {
            tenant: tenant.clone(),
            entry_id: entry_id.clone(),
            hold_id: hold.id.clone(),
            kind,
        }))
}

pub fn extend<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    hold_id: &str,
    ttl: TtlSeconds,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let Some(hold) = port.hold(tenant, hold_id)? else {
        return Ok(Err(Failure::NotFound {
            kind: "hold",
            id: hold_id.to_owned(),
        }));
    };
    let expires_at = match hold.lifecycle().extend(now, ttl) {
        Ok(at) => at,
        Err(error) => return Ok(Err(error.into())),
    };
    port.persist(Change::HoldExpiry {
        tenant: tenant.clone(),
        hold_id: hold.id.clone(),
        from: hold.expires_at,
        to: expires_at,
        at: now,
    })?;
    let hold = HoldRecord {
        expires_at,
        updated_at: now,
        ..hold
    };
    Ok(Ok(Success::Hold {
        hold: hold.view(now),
        warnings: Vec::new(),
    }))
}

/// Expires every hold whose deadline has passed, across tenants, before any decision is made.
/// Answers how many, and the offers their expiry settled.
pub fn expire_due<P: Port>(
    port: &mut P,
    tenants: &mut Tenants,
    now: UnixMillis,
) -> Result<(usize, Vec<OfferSettled>), Error> {
    let due = port.due_holds(now)?;
    let mut settled = Vec::new();
    for (tenant, hold) in &due {
        let (status, effect) = hold
            .lifecycle()
            .expire(now)
            .ok_or_else(|| Error::Corrupt(format!("due hold {} is not due", hold.id)))?;
        let pools = tenant_pools(tenants, tenant);
        let offer = transition(
            port,
            pools,
            tenant,
            None,
            hold,
            status,
            effect,
            LedgerKind::Expire,
            now,
        )?;
        settled.extend(offer);
    }
    Ok((due.len(), settled))
}
