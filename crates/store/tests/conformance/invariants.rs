//! The facts `allot verify` checks, re-derived from what a store shows rather than from its
//! tables, so they hold for any store: each pool's counters equal its live holds (its own and
//! those below it), replaying the ledger gives the same counters and the pool's capacity, and no
//! pool holds more than its limit nor offers more than its headroom. And how two stores are
//! compared: what each shows, with every id replaced by its place.

use allot_core::PoolId;
use allot_core::audit::{counters_from_holds, counters_from_ledger};
use allot_store::TenantId;
use allot_store::observe::Observed;
use std::collections::{BTreeSet, HashMap};

/// Every invariant over what `observed` shows, as of the moment it was observed (which must be
/// the last batch's: a hold past its deadline then has been expired by that batch).
pub fn check(observed: &Observed) -> Result<(), String> {
    let tenants: BTreeSet<&TenantId> = observed.pools.iter().map(|(tenant, _)| tenant).collect();
    for (tenant, hold) in &observed.holds {
        for line in &hold.lines {
            let owned = observed
                .pools
                .iter()
                .any(|(owner, pool)| owner == tenant && pool.id == line.pool_id);
            if !owned {
                return Err(format!(
                    "hold {} of {tenant:?} counts on pool {}, which its tenant does not have",
                    hold.id, line.pool_id
                ));
            }
        }
    }
    for tenant in tenants {
        check_tenant(observed, tenant)?;
    }
    Ok(())
}

fn check_tenant(observed: &Observed, tenant: &TenantId) -> Result<(), String> {
    let pools: Vec<_> = observed
        .pools
        .iter()
        .filter(|(owner, _)| owner == tenant)
        .map(|(_, pool)| pool)
        .collect();
    let parents: HashMap<PoolId, Option<PoolId>> = pools
        .iter()
        .map(|pool| (PoolId(pool.id.clone()), pool.parent_id.clone().map(PoolId)))
        .collect();
    let lines = observed
        .holds
        .iter()
        .filter(|(owner, _)| owner == tenant)
        .flat_map(|(_, hold)| {
            hold.lines
                .iter()
                .map(|line| (PoolId(line.pool_id.clone()), line.quantity, hold.status))
        });
    let from_holds = counters_from_holds(lines, &parents);
    let entries: Vec<_> = observed
        .ledger
        .iter()
        .filter(|(owner, _)| owner == tenant)
        .map(|(_, entry)| entry)
        .collect();
    let from_ledger = counters_from_ledger(
        entries.iter().map(|entry| {
            (
                PoolId(entry.pool_id.clone()),
                entry.held_delta,
                entry.committed_delta,
            )
        }),
        &parents,
    );
    for pool in pools {
        let id = PoolId(pool.id.clone());
        let counters = (pool.held, pool.committed);
        let holds = from_holds
            .get(&id)
            .map(|c| (c.held, c.committed))
            .unwrap_or_default();
        if counters != holds {
            return Err(format!(
                "pool {id} of {tenant:?} counts (held, committed) {counters:?}, its live holds {holds:?}"
            ));
        }
        let ledger = from_ledger
            .get(&id)
            .map(|c| (c.held, c.committed))
            .unwrap_or_default();
        if counters != ledger {
            return Err(format!(
                "pool {id} of {tenant:?} counts {counters:?}, its ledger replays to {ledger:?}"
            ));
        }
        let last_capacity = entries
            .iter()
            .rev()
            .find(|entry| entry.pool_id == pool.id)
            .map(|entry| entry.capacity_after);
        if last_capacity != Some(pool.capacity) {
            return Err(format!(
                "pool {id} of {tenant:?} has capacity {}, its ledger ends at {last_capacity:?}",
                pool.capacity
            ));
        }
        let used = pool.held + pool.committed;
        if pool.held < 0 || pool.committed < 0 || used > pool.limit {
            return Err(format!(
                "pool {id} of {tenant:?} uses {used} ({} held, {} committed) of a limit of {}",
                pool.held, pool.committed, pool.limit
            ));
        }
        if pool.available < 0 || pool.available > pool.limit - used {
            return Err(format!(
                "pool {id} of {tenant:?} offers {} with {} left under its limit",
                pool.available,
                pool.limit - used
            ));
        }
    }
    Ok(())
}

/// Whether two stores show the same: every pool, hold, ledger entry, plan, member, job and job
/// item alike once each id a store made is replaced by its place (all are shown in id order, and both stores make ids
/// that sort in the order they were made). Answers the first difference.
pub fn agree(store: &Observed, reference: &Observed) -> Result<(), String> {
    let store_lines = normalised(store);
    let reference_lines = normalised(reference);
    for (place, (line, expected)) in store_lines.iter().zip(&reference_lines).enumerate() {
        if line != expected {
            return Err(format!(
                "at {place}:\n  this store: {line}\n  reference:  {expected}"
            ));
        }
    }
    if store_lines.len() != reference_lines.len() {
        return Err(format!(
            "{} things shown, the reference shows {}",
            store_lines.len(),
            reference_lines.len()
        ));
    }
    Ok(())
}

/// Everything shown, one line of text each, ids named by their place.
fn normalised(observed: &Observed) -> Vec<String> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for (place, (_, pool)) in observed.pools.iter().enumerate() {
        ids.push((pool.id.clone(), format!("<pool {place}>")));
    }
    for (place, (_, hold)) in observed.holds.iter().enumerate() {
        ids.push((hold.id.clone(), format!("<hold {place}>")));
    }
    for (place, (_, plan)) in observed.plans.iter().enumerate() {
        ids.push((plan.id.clone(), format!("<plan {place}>")));
    }
    for (place, (_, job)) in observed.jobs.iter().enumerate() {
        ids.push((job.id.clone(), format!("<job {place}>")));
    }
    for (place, (_, attendee)) in observed.attendees.iter().enumerate() {
        ids.push((attendee.id.clone(), format!("<attendee {place}>")));
    }
    for (place, (_, ticket)) in observed.tickets.iter().enumerate() {
        ids.push((ticket.id.clone(), format!("<ticket {place}>")));
    }
    for (place, (_, event)) in observed.events.iter().enumerate() {
        ids.push((event.id.clone(), format!("<event {place}>")));
    }
    for (place, (_, alert)) in observed.alerts.iter().enumerate() {
        ids.push((alert.id.clone(), format!("<alert {place}>")));
    }
    for (place, (_, webhook)) in observed.webhooks.iter().enumerate() {
        ids.push((webhook.id.clone(), format!("<webhook {place}>")));
    }
    for (place, delivery) in observed.deliveries.iter().enumerate() {
        ids.push((delivery.id.clone(), format!("<delivery {place}>")));
    }
    // Longest first, so that no id is replaced inside a longer one (a date's id holds its
    // session's).
    ids.sort_by_key(|(id, _)| std::cmp::Reverse(id.len()));
    let name = |text: String| {
        ids.iter()
            .fold(text, |text, (id, place)| text.replace(id.as_str(), place))
    };
    let pools = observed.pools.iter().map(|pool| format!("{pool:?}"));
    let holds = observed.holds.iter().map(|hold| format!("{hold:?}"));
    let ledger = observed.ledger.iter().map(|entry| format!("{entry:?}"));
    let plans = observed.plans.iter().map(|plan| format!("{plan:?}"));
    let members = observed.members.iter().map(|member| format!("{member:?}"));
    let jobs = observed.jobs.iter().map(|job| format!("{job:?}"));
    let items = observed.job_items.iter().map(|item| format!("{item:?}"));
    let attendees = observed.attendees.iter().map(|one| format!("{one:?}"));
    let tickets = observed.tickets.iter().map(|ticket| format!("{ticket:?}"));
    let events = observed.events.iter().map(|event| format!("{event:?}"));
    let alerts = observed.alerts.iter().map(|alert| format!("{alert:?}"));
    let webhooks = observed.webhooks.iter().map(|hook| format!("{hook:?}"));
    let deliveries = observed.deliveries.iter().map(|one| format!("{one:?}"));
    pools
        .chain(holds)
        .chain(ledger)
        .chain(plans)
        .chain(members)
        .chain(jobs)
        .chain(items)
        .chain(attendees)
        .chain(tickets)
        .chain(events)
        .chain(alerts)
        .chain(webhooks)
        .chain(deliveries)
        .map(name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{agree, check};
    use crate::harness::{Memory, Run, T0, acme, order, pool};

    /// The checks can fail: a pool shown counting a seat no hold holds is caught, and so is
    /// a ledger that no longer replays to the counters.
    #[test]
    fn a_pool_counting_seats_no_hold_holds_is_caught() {
        let mut run = Run::new(Memory::new());
        let event = run.create(&acme(), pool("Concert", 10), T0);
        run.hold(&acme(), order(&event.id, 4), T0);
        let good = run.observe();
        check(&good).expect("the store keeps its invariants");

        let mut counted_twice = good.clone();
        counted_twice.pools[0].1.held += 1;
        let violation = check(&counted_twice).expect_err("caught");
        assert!(violation.contains("its live holds"), "{violation}");

        let mut ledger_lost = good.clone();
        ledger_lost.ledger.pop();
        let violation = check(&ledger_lost).expect_err("caught");
        assert!(violation.contains("ledger"), "{violation}");

        let mut other = good.clone();
        other.holds[0].1.lines[0].quantity = 5;
        assert!(
            agree(&other, &good).is_err(),
            "a different hold is a difference"
        );
    }
}
