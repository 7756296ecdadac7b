//! Promotion against random pools and queues: it never takes a pool or an ancestor past its
//! limit, serves each entry at most once, keeps strict queues in order, and leaves no capacity
//! idle that a waiting entry could have used.

use allot_core::waitlist::{
    Decision, PromotionMode, Queue, QueueKey, WaitingEntry, WaitlistPolicy, promote,
};
use allot_core::{Capacity, Pool, PoolId, PoolLimits, PoolSet, Quantity, UnixMillis};
use proptest::prelude::*;
use std::collections::HashSet;

const NOW: UnixMillis = UnixMillis(1_000);

/// One waiting entry: (quantity, priority, already past its deadline?).
type EntrySpec = (i64, i64, bool);

/// One child pool: (capacity, already used, strict?, confirm mode?, its waiting entries).
type ChildSpec = (i64, i64, bool, bool, Vec<EntrySpec>);

#[derive(Debug, Clone)]
struct Scenario {
    parent_capacity: i64,
    children: Vec<ChildSpec>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let child = (
        0i64..12,
        0i64..12,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((1i64..5, 0i64..3, prop::bool::weighted(0.1)), 0..8),
    );
    (0i64..30, prop::collection::vec(child, 1..4)).prop_map(|(parent_capacity, children)| {
        Scenario {
            parent_capacity,
            children,
        }
    })
}

fn build(scenario: &Scenario) -> (PoolSet, Vec<Queue>) {
    let mut set = PoolSet::new();
    let limits = |capacity: i64| PoolLimits::new(Capacity::new(capacity).expect("valid"));
    let mut parent = Pool::new("parent".into(), None, limits(scenario.parent_capacity));
    let mut queues = Vec::new();
    let mut seq = 0;
    for (index, (capacity, used, strict, confirm, entries)) in scenario.children.iter().enumerate()
    {
        let id = PoolId(format!("child{index}"));
        // Existing use fits the child and what the parent still has.
        let used = (*used).min(*capacity).min(parent.headroom());
        let mut child = Pool::new(id.clone(), Some(parent.id.clone()), limits(*capacity));
        child.committed = used;
        parent.committed += used;
        set.insert(child);
        let mut waiting: Vec<WaitingEntry> = entries
            .iter()
            .map(|(quantity, priority, expired)| {
                seq += 1;
                WaitingEntry {
                    id: format!("e{seq}"),
                    pool_id: id.clone(),
                    quantity: Quantity::new(*quantity).expect("valid"),
                    key: QueueKey {
                        priority: *priority,
                        seq,
                    },
                    expires_at: if *expired { NOW } else { UnixMillis(NOW.0 + 1) },
                }
            })
            .collect();
        waiting.sort_by_key(|entry| entry.key);
        queues.push(Queue {
            pool_id: id,
            policy: if *strict {
                WaitlistPolicy::Strict
            } else {
                WaitlistPolicy::Skip
            },
            mode: if *confirm {
                PromotionMode::Confirm
            } else {
                PromotionMode::Offer
            },
            entries: waiting,
        });
    }
    set.insert(parent);
    (set, queues)
}

proptest! {
    #[test]
    fn promotion_respects_limits_order_and_leaves_nothing_idle(scenario in scenario()) {
        let (mut set, queues) = build(&scenario);
        let decisions = promote(&mut set, queues.clone(), NOW);

        let mut decided = HashSet::new();
        let mut promoted = HashSet::new();
        for decision in &decisions {
            let (entry, is_promotion) = match decision {
                Decision::Promote { entry, .. } => (entry, true),
                Decision::Expire { entry } => (entry, false),
            };
            prop_assert!(decided.insert(entry.id.clone()), "{} decided twice", entry.id);
            prop_assert!(!is_promotion || entry.expires_at > NOW, "an expired entry was served");
            prop_assert_eq!(!is_promotion, entry.expires_at <= NOW);
            if is_promotion {
                promoted.insert(entry.id.clone());
            }
        }
        for pool in set.iter() {
            prop_assert!(pool.used() <= pool.limits.limit(), "{} over its limit", pool.id);
        }
        for queue in &queues {
            let available = set.available(&queue.pool_id).expect("loaded");
            let live: Vec<&WaitingEntry> =
                queue.entries.iter().filter(|e| e.expires_at > NOW).collect();
            match queue.policy {
                WaitlistPolicy::Strict => {
                    // Served entries are a prefix of the queue, and the first one left does not fit.
                    let served = live.iter().take_while(|e| promoted.contains(&e.id)).count();
                    prop_assert!(live[served..].iter().all(|e| !promoted.contains(&e.id)));
                    if let Some(head) = live.get(served) {
                        prop_assert!(head.quantity.get() > available);
                    }
                }
                WaitlistPolicy::Skip => {
                    for entry in live.iter().filter(|e| !promoted.contains(&e.id)) {
                        prop_assert!(entry.quantity.get() > available);
                    }
                }
            }
        }
    }
}
