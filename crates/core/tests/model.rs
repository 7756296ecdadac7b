//! Property tests for the pure core.
//!
//! The main property runs random sequences of operations (create pool, place, confirm, release,
//! extend, advance the clock, sweep expired holds, adjust, set active) through the core —
//! `PoolSet` plus the `Hold` state machine, with the holds' lines kept here — and through a naive
//! reference model that stores no counters at all: it recomputes every pool's use by summing the
//! live hold lines over the pool's subtree and decides fit by brute force over every pool. After
//! every step the two must agree, the invariants must hold, and the counters must equal both
//! audit recomputations (from the live holds, and from replaying a ledger kept by this test).

use allot_core::audit::{self, Counters};
use allot_core::units::{MAX_CAPACITY, MAX_LIMIT_PCT, MAX_QUANTITY, MAX_TTL_SECONDS};
use allot_core::{
    AdjustRefusal, Capacity, Hold, HoldLine, HoldStatus, LimitPct, LineEffect, MAX_POOL_DEPTH,
    Pool, PoolId, PoolLimits, PoolSet, Quantity, Refusal, TransitionError, TtlSeconds, UnitError,
    UnixMillis, Warning,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Moderate case counts, and no regression files: this suite must stay one file.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn pool_id(index: usize) -> PoolId {
    PoolId(format!("p{index}"))
}

/// An id no pool ever has.
fn ghost() -> PoolId {
    PoolId::from("ghost")
}

fn limits(capacity: i64, hard_pct: i64, soft_pct: i64) -> PoolLimits {
    PoolLimits {
        capacity: Capacity::new(capacity).expect("generated capacity is valid"),
        hard_limit_pct: LimitPct::new(hard_pct).expect("generated hard pct is valid"),
        soft_limit_pct: LimitPct::new(soft_pct).expect("generated soft pct is valid"),
    }
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Parent {
    Root,
    /// Under the deepest pool so far, so that long chains (up to `MAX_POOL_DEPTH`) occur.
    Deepest,
    Pick(Index),
}

#[derive(Debug, Clone)]
enum Target {
    Pool(Index),
    /// A pool id that does not exist.
    Ghost,
}

/// Which hold a lifecycle step goes to.
#[derive(Debug, Clone)]
enum Pick {
    /// Any hold, finished or not (most steps on finished holds are refused).
    Any(Index),
    /// A hold the step can apply to by its stored status (`Held` to confirm or extend, `Held` or
    /// `Confirmed` to release), if there is one: it may still turn out to have lapsed.
    Live(Index),
}

/// The capacity an adjust asks for.
#[derive(Debug, Clone)]
enum NewCapacity {
    Exactly(i64),
    /// The pool's current use plus this (clamped at 0), to probe the "never below use" edge.
    NearUse(i64),
}

#[derive(Debug, Clone)]
enum Op {
    CreatePool {
        parent: Parent,
        capacity: i64,
        hard_pct: i64,
        soft_pct: i64,
    },
    Place {
        lines: Vec<(Target, i64)>,
        confirm: bool,
        ttl: i64,
    },
    Confirm(Pick),
    Release(Pick),
    Extend(Pick, i64),
    /// Moves the simulated clock forward by this many milliseconds.
    Advance(i64),
    /// The sweeper: `Hold::expire` on every hold.
    Sweep,
    Adjust {
        target: Target,
        capacity: NewCapacity,
        hard_pct: i64,
        soft_pct: i64,
    },
    SetActive(Target, bool),
}

fn capacity_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![1 => Just(0i64), 8 => 1..=50i64]
}

fn pct_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(100i64),
        2 => Just(110i64),
        1 => Just(50i64),
        3 => 1..=200i64,
    ]
}

fn target_strategy() -> impl Strategy<Value = Target> {
    prop_oneof![
        20 => any::<Index>().prop_map(Target::Pool),
        1 => Just(Target::Ghost),
    ]
}

fn create_strategy() -> impl Strategy<Value = Op> {
    let parent = prop_oneof![
        1 => Just(Parent::Root),
        3 => Just(Parent::Deepest),
        2 => any::<Index>().prop_map(Parent::Pick),
    ];
    (parent, capacity_strategy(), pct_strategy(), pct_strategy()).prop_map(
        |(parent, capacity, hard_pct, soft_pct)| Op::CreatePool {
            parent,
            capacity,
            hard_pct,
            // A pool is created consistent; `adjust` is where inconsistent limits are tried.
            soft_pct: soft_pct.min(hard_pct),
        },
    )
}

fn pick_strategy() -> impl Strategy<Value = Pick> {
    prop_oneof![
        1 => any::<Index>().prop_map(Pick::Any),
        3 => any::<Index>().prop_map(Pick::Live),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let ttl = 1..=30i64;
    let advance = prop_oneof![
        3 => (0..=30i64).prop_map(|s| s * 1000),
        1 => 0..=30_000i64,
    ];
    let quantity = prop_oneof![3 => 1..=4i64, 1 => 1..=12i64];
    let new_capacity = prop_oneof![
        2 => capacity_strategy().prop_map(NewCapacity::Exactly),
        1 => (-3..=3i64).prop_map(NewCapacity::NearUse),
    ];
    let adjust = (
        target_strategy(),
        new_capacity,
        pct_strategy(),
        pct_strategy(),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(target, capacity, hard_pct, soft_pct, inconsistent)| Op::Adjust {
                target,
                capacity,
                hard_pct,
                // Mostly consistent limits; sometimes whatever came out (soft may exceed hard).
                soft_pct: if inconsistent {
                    soft_pct
                } else {
                    soft_pct.min(hard_pct)
                },
            },
        );
    prop_oneof![
        3 => create_strategy(),
        6 => (
            prop::collection::vec((target_strategy(), quantity), 1..=3),
            prop::bool::weighted(0.3),
            ttl.clone(),
        )
            .prop_map(|(lines, confirm, ttl)| Op::Place { lines, confirm, ttl }),
        2 => pick_strategy().prop_map(Op::Confirm),
        3 => pick_strategy().prop_map(Op::Release),
        1 => (pick_strategy(), ttl).prop_map(|(i, t)| Op::Extend(i, t)),
        3 => advance.prop_map(Op::Advance),
        2 => Just(Op::Sweep),
        2 => adjust,
        1 => (target_strategy(), prop::bool::weighted(0.7)).prop_map(|(t, a)| Op::SetActive(t, a)),
    ]
}

fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(create_strategy(), 1..=4),
        prop::collection::vec(op_strategy(), 1..=56),
    )
        .prop_map(|(mut creates, rest)| {
            creates.extend(rest);
            creates
        })
}

// ---------------------------------------------------------------------------------------------
// The reference model: no stored counters, everything recomputed naively.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ModelPool {
    parent: Option<usize>,
    /// 1 for a root.
    depth: usize,
    capacity: i64,
    hard_pct: i64,
    soft_pct: i64,
    active: bool,
}

impl ModelPool {
    fn limit(&self) -> i64 {
        self.capacity * self.hard_pct / 100
    }
    fn soft_limit(&self) -> i64 {
        self.capacity * self.soft_pct / 100
    }
}

#[derive(Debug, Clone)]
struct ModelHold {
    lines: Vec<(usize, i64)>,
    status: HoldStatus,
    expires_at: i64,
}

impl ModelHold {
    fn status_at(&self, now: i64) -> HoldStatus {
        if self.status == HoldStatus::Held && now >= self.expires_at {
            HoldStatus::Expired
        } else {
            self.status
        }
    }
}

#[derive(Debug, Default)]
struct Model {
    pools: Vec<ModelPool>,
    holds: Vec<ModelHold>,
}

impl Model {
    /// Whether `pool` is `ancestor` or lies somewhere below it.
    fn is_within(&self, pool: usize, ancestor: usize) -> bool {
        let mut next = Some(pool);
        while let Some(p) = next {
            if p == ancestor {
                return true;
            }
            next = self.pools[p].parent;
        }
        false
    }

    /// The pool and its ancestors, nearest first.
    fn ancestry(&self, pool: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut next = Some(pool);
        while let Some(p) = next {
            out.push(p);
            next = self.pools[p].parent;
        }
        out
    }

    /// Held and committed units of every live hold line in the pool's subtree.
    fn usage(&self, pool: usize) -> Counters {
        let mut counters = Counters::default();
        for hold in &self.holds {
            for &(line_pool, quantity) in &hold.lines {
                if !self.is_within(line_pool, pool) {
                    continue;
                }
                match hold.status {
                    HoldStatus::Held => counters.held += quantity,
                    HoldStatus::Confirmed => counters.committed += quantity,
                    HoldStatus::Released | HoldStatus::Expired => {}
                }
            }
        }
        counters
    }

    fn used(&self, pool: usize) -> i64 {
        let c = self.usage(pool);
        c.held + c.committed
    }

    fn index_of(&self, id: &PoolId) -> Option<usize> {
        (0..self.pools.len()).find(|&i| pool_id(i) == *id)
    }
}

// ---------------------------------------------------------------------------------------------
// The system under test: the core, plus what a caller (the store) would keep around it.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct SutHold {
    lines: Vec<HoldLine>,
    hold: Hold,
}

#[derive(Debug, Default)]
struct Sut {
    set: PoolSet,
    holds: Vec<SutHold>,
    /// One entry per line per lifecycle step: (pool, held delta, committed delta).
    ledger: Vec<(PoolId, i64, i64)>,
    parents: HashMap<PoolId, Option<PoolId>>,
}

impl Sut {
    fn write_ledger(&mut self, lines: &[HoldLine], effect: LineEffect) {
        for line in lines {
            self.ledger.push((
                line.pool_id.clone(),
                effect.held * line.quantity.get(),
                effect.committed * line.quantity.get(),
            ));
        }
    }

    /// Applies a lifecycle step's effect to hold `i`: counters and ledger.
    fn step(&mut self, i: usize, status: HoldStatus, effect: LineEffect) {
        let lines = self.holds[i].lines.clone();
        self.set.apply(&lines, effect);
        self.write_ledger(&lines, effect);
        self.holds[i].hold.status = status;
    }
}

struct World {
    sut: Sut,
    model: Model,
    now: i64,
}

fn resolve(target: &Target, model: &Model) -> Option<usize> {
    match target {
        Target::Pool(index) if !model.pools.is_empty() => Some(index.index(model.pools.len())),
        _ => None,
    }
}

fn id_of(pool: Option<usize>) -> PoolId {
    pool.map_or_else(ghost, pool_id)
}

impl World {
    fn new() -> Self {
        World {
            sut: Sut::default(),
            model: Model::default(),
            now: 1_700_000_000_000,
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::CreatePool {
                parent,
                capacity,
                hard_pct,
                soft_pct,
            } => self.create_pool(parent, *capacity, *hard_pct, *soft_pct),
            Op::Place {
                lines,
                confirm,
                ttl,
            } => self.place(lines, *confirm, *ttl),
            Op::Confirm(pick) => self.confirm(pick.clone()),
            Op::Release(pick) => self.release(pick.clone()),
            Op::Extend(pick, ttl) => self.extend(pick.clone(), *ttl),
            Op::Advance(ms) => {
                self.now += ms;
                Ok(())
            }
            Op::Sweep => self.sweep(),
            Op::Adjust {
                target,
                capacity,
                hard_pct,
                soft_pct,
            } => {
                let capacity = match *capacity {
                    NewCapacity::Exactly(c) => c,
                    NewCapacity::NearUse(delta) => resolve(target, &self.model)
                        .map_or(0, |p| (self.model.used(p) + delta).max(0)),
                };
                self.adjust(target, capacity, *hard_pct, *soft_pct)
            }
            Op::SetActive(target, active) => {
                let pool = resolve(target, &self.model);
                let found = self.sut.set.set_active(&id_of(pool), *active);
                prop_assert_eq!(found, pool.is_some(), "set_active found the pool");
                if let Some(p) = pool {
                    self.model.pools[p].active = *active;
                }
                Ok(())
            }
        }
    }

    fn create_pool(
        &mut self,
        parent: &Parent,
        capacity: i64,
        hard_pct: i64,
        soft_pct: i64,
    ) -> Result<(), TestCaseError> {
        let model = &mut self.model;
        let parent = match parent {
            Parent::Root => None,
            Parent::Deepest => (0..model.pools.len()).max_by_key(|&i| (model.pools[i].depth, i)),
            Parent::Pick(index) if !model.pools.is_empty() => Some(index.index(model.pools.len())),
            Parent::Pick(_) => None,
        };
        let depth = parent.map_or(1, |p| model.pools[p].depth + 1);
        if depth > MAX_POOL_DEPTH {
            // Callers refuse to create a pool that deep; the core never sees it.
            return Ok(());
        }
        let index = model.pools.len();
        model.pools.push(ModelPool {
            parent,
            depth,
            capacity,
            hard_pct,
            soft_pct,
            active: true,
        });
        let id = pool_id(index);
        let parent_id = parent.map(pool_id);
        prop_assert!(!self.sut.set.contains(&id));
        self.sut.set.insert(Pool::new(
            id.clone(),
            parent_id.clone(),
            limits(capacity, hard_pct, soft_pct),
        ));
        self.sut.parents.insert(id, parent_id);
        Ok(())
    }

    fn place(
        &mut self,
        lines: &[(Target, i64)],
        confirm: bool,
        ttl: i64,
    ) -> Result<(), TestCaseError> {
        let model = &self.model;
        let resolved: Vec<(Option<usize>, i64)> = lines
            .iter()
            .map(|(target, quantity)| (resolve(target, model), *quantity))
            .collect();
        let hold_lines: Vec<HoldLine> = resolved
            .iter()
            .map(|&(pool, quantity)| HoldLine {
                pool_id: id_of(pool),
                quantity: Quantity::new(quantity).expect("generated quantity is valid"),
            })
            .collect();

        let result = self.sut.set.place(&hold_lines, confirm);

        // The model's decision, by brute force over every pool.
        let n = model.pools.len();
        let unknown = resolved.iter().any(|(pool, _)| pool.is_none());
        let inactive: Vec<usize> = resolved
            .iter()
            .filter_map(|(pool, _)| *pool)
            .flat_map(|pool| model.ancestry(pool))
            .filter(|&p| !model.pools[p].active)
            .collect();
        let demand: Vec<i64> = (0..n)
            .map(|a| {
                resolved
                    .iter()
                    .filter(|(pool, _)| pool.is_some_and(|p| model.is_within(p, a)))
                    .map(|(_, quantity)| quantity)
                    .sum()
            })
            .collect();
        let used: Vec<i64> = (0..n).map(|a| model.used(a)).collect();
        let short: Vec<usize> = (0..n)
            .filter(|&a| demand[a] > 0 && used[a] + demand[a] > model.pools[a].limit())
            .collect();

        match result {
            Ok(placement) => {
                prop_assert!(!unknown, "placed a hold on an unknown pool");
                prop_assert!(
                    inactive.is_empty(),
                    "placed a hold under inactive pools {:?}",
                    inactive
                );
                prop_assert!(
                    short.is_empty(),
                    "placed a hold that does not fit pools {:?}",
                    short
                );
                let over_soft = (0..n).any(|a| {
                    demand[a] > 0 && used[a] + demand[a] > self.model.pools[a].soft_limit()
                });
                let expected: Vec<Warning> = if over_soft {
                    vec![Warning::OverSoftLimit]
                } else {
                    vec![]
                };
                prop_assert_eq!(placement.warnings, expected);

                let (status, effect) = if confirm {
                    (HoldStatus::Confirmed, LineEffect::HOLD_AND_CONFIRM)
                } else {
                    (HoldStatus::Held, LineEffect::HOLD)
                };
                let ttl = TtlSeconds::new(ttl).expect("generated ttl is valid");
                self.model.holds.push(ModelHold {
                    lines: resolved
                        .iter()
                        .map(|&(pool, quantity)| (pool.expect("known, checked above"), quantity))
                        .collect(),
                    status,
                    expires_at: self.now + ttl.get() * 1000,
                });
                self.sut.write_ledger(&hold_lines, effect);
                self.sut.holds.push(SutHold {
                    lines: hold_lines,
                    hold: Hold {
                        status,
                        expires_at: UnixMillis(self.now).plus(ttl),
                    },
                });
            }
            Err(Refusal::UnknownPool(id)) => {
                prop_assert!(unknown, "refused as unknown, but every pool exists");
                prop_assert_eq!(id, ghost());
            }
            Err(Refusal::PoolInactive(id)) => {
                prop_assert!(
                    inactive.iter().any(|&p| pool_id(p) == id),
                    "refused as inactive {}, which is not an inactive pool in the chains",
                    id
                );
            }
            Err(Refusal::InsufficientCapacity {
                pool_id: id,
                requested,
                available,
            }) => {
                prop_assert!(!unknown, "unknown pool reported as insufficient capacity");
                prop_assert!(
                    inactive.is_empty(),
                    "inactive pool reported as insufficient capacity"
                );
                let a = self.model.index_of(&id);
                prop_assert!(a.is_some(), "refusal names unknown pool {}", id);
                let a = a.expect("checked");
                prop_assert!(short.contains(&a), "pool {} is not short: {:?}", id, short);
                prop_assert_eq!(requested, demand[a]);
                prop_assert_eq!(available, (self.model.pools[a].limit() - used[a]).max(0));
            }
        }
        Ok(())
    }

    fn hold_index(&self, pick: Pick, live: &[HoldStatus]) -> Option<usize> {
        let candidates: Vec<usize> = match pick {
            Pick::Any(_) => (0..self.model.holds.len()).collect(),
            Pick::Live(_) => (0..self.model.holds.len())
                .filter(|&i| live.contains(&self.model.holds[i].status))
                .collect(),
        };
        let (Pick::Any(index) | Pick::Live(index)) = pick;
        (!candidates.is_empty()).then(|| candidates[index.index(candidates.len())])
    }

    fn confirm(&mut self, index: Pick) -> Result<(), TestCaseError> {
        let Some(i) = self.hold_index(index, &[HoldStatus::Held]) else {
            return Ok(());
        };
        let result = self.sut.holds[i].hold.confirm(UnixMillis(self.now));
        let expected = match self.model.holds[i].status_at(self.now) {
            HoldStatus::Held => Ok(HoldStatus::Confirmed),
            HoldStatus::Expired => Err(TransitionError::Expired),
            other => Err(TransitionError::WrongStatus(other)),
        };
        prop_assert_eq!(result.map(|(status, _)| status), expected);
        if let Ok((status, effect)) = result {
            self.sut.step(i, status, effect);
            self.model.holds[i].status = HoldStatus::Confirmed;
        }
        Ok(())
    }

    fn release(&mut self, index: Pick) -> Result<(), TestCaseError> {
        let Some(i) = self.hold_index(index, &[HoldStatus::Held, HoldStatus::Confirmed]) else {
            return Ok(());
        };
        let result = self.sut.holds[i].hold.release(UnixMillis(self.now));
        let expected = match self.model.holds[i].status_at(self.now) {
            HoldStatus::Held | HoldStatus::Confirmed => Ok(HoldStatus::Released),
            HoldStatus::Expired => Err(TransitionError::Expired),
            other => Err(TransitionError::WrongStatus(other)),
        };
        prop_assert_eq!(result.map(|(status, _)| status), expected);
        if let Ok((status, effect)) = result {
            self.sut.step(i, status, effect);
            self.model.holds[i].status = HoldStatus::Released;
        }
        Ok(())
    }

    fn extend(&mut self, index: Pick, ttl: i64) -> Result<(), TestCaseError> {
        let Some(i) = self.hold_index(index, &[HoldStatus::Held]) else {
            return Ok(());
        };
        let ttl = TtlSeconds::new(ttl).expect("generated ttl is valid");
        let result = self.sut.holds[i].hold.extend(UnixMillis(self.now), ttl);
        let expected = match self.model.holds[i].status_at(self.now) {
            HoldStatus::Held => Ok(UnixMillis(self.now + ttl.get() * 1000)),
            HoldStatus::Expired => Err(TransitionError::Expired),
            other => Err(TransitionError::WrongStatus(other)),
        };
        prop_assert_eq!(result, expected);
        if let Ok(expires_at) = result {
            self.sut.holds[i].hold.expires_at = expires_at;
            self.model.holds[i].expires_at = expires_at.0;
        }
        Ok(())
    }

    fn sweep(&mut self) -> Result<(), TestCaseError> {
        for i in 0..self.model.holds.len() {
            let result = self.sut.holds[i].hold.expire(UnixMillis(self.now));
            let model = &mut self.model.holds[i];
            let due = model.status == HoldStatus::Held && self.now >= model.expires_at;
            prop_assert_eq!(
                result.map(|(status, _)| status),
                due.then_some(HoldStatus::Expired),
                "expire of hold {}",
                i
            );
            if let Some((status, effect)) = result {
                model.status = HoldStatus::Expired;
                self.sut.step(i, status, effect);
            }
        }
        Ok(())
    }

    fn adjust(
        &mut self,
        target: &Target,
        capacity: i64,
        hard_pct: i64,
        soft_pct: i64,
    ) -> Result<(), TestCaseError> {
        let pool = resolve(target, &self.model);
        let result = self
            .sut
            .set
            .adjust(&id_of(pool), limits(capacity, hard_pct, soft_pct));
        let Some(p) = pool else {
            prop_assert_eq!(result, Err(AdjustRefusal::UnknownPool(ghost())));
            return Ok(());
        };
        let used = self.model.used(p);
        let soft_above_hard = soft_pct > hard_pct;
        // Lowering capacity below use is refused, and so is any limit below use; raising capacity
        // or loosening limits of a pool in its overage band is allowed.
        let lowered = capacity < self.model.pools[p].capacity;
        let below_use = (lowered && capacity < used) || capacity * hard_pct / 100 < used;
        let below_use_refusal = AdjustRefusal::BelowUse { capacity, used };
        match &result {
            Ok(()) => prop_assert!(
                !soft_above_hard && !below_use,
                "adjust accepted: capacity {}, hard {}%, soft {}%, used {}",
                capacity,
                hard_pct,
                soft_pct,
                used
            ),
            Err(AdjustRefusal::SoftAboveHard) => prop_assert!(soft_above_hard),
            Err(refusal @ AdjustRefusal::BelowUse { .. }) => {
                prop_assert!(below_use, "refused as below use, used {}", used);
                prop_assert_eq!(refusal, &below_use_refusal);
            }
            Err(AdjustRefusal::UnknownPool(id)) => {
                prop_assert!(false, "known pool {} refused as unknown", id);
            }
        }
        if result.is_ok() {
            let m = &mut self.model.pools[p];
            m.capacity = capacity;
            m.hard_pct = hard_pct;
            m.soft_pct = soft_pct;
        }
        Ok(())
    }

    /// Everything that must hold after every step.
    fn check(&self) -> Result<(), TestCaseError> {
        let (sut, model) = (&self.sut, &self.model);
        let n = model.pools.len();
        prop_assert_eq!(sut.set.iter().count(), n);
        let usage: Vec<Counters> = (0..n).map(|a| model.usage(a)).collect();
        let mut counters: HashMap<PoolId, Counters> = HashMap::new();
        for (a, m) in model.pools.iter().enumerate() {
            let id = pool_id(a);
            let pool = sut.set.get(&id);
            prop_assert!(pool.is_some(), "pool {} missing from the set", id);
            let pool = pool.expect("checked");

            // Settings as the model has them.
            prop_assert_eq!(&pool.parent_id, &m.parent.map(pool_id));
            prop_assert_eq!(pool.active, m.active);
            prop_assert_eq!(pool.limits.capacity.get(), m.capacity);
            prop_assert_eq!(i64::from(pool.limits.hard_limit_pct.get()), m.hard_pct);
            prop_assert_eq!(i64::from(pool.limits.soft_limit_pct.get()), m.soft_pct);
            prop_assert_eq!(pool.limits.limit(), m.limit());

            // Counters as the model recomputes them from live hold lines.
            let c = Counters {
                held: pool.held,
                committed: pool.committed,
            };
            prop_assert_eq!(c, usage[a], "counters of pool {}", id);

            // Invariants.
            prop_assert!(pool.held >= 0 && pool.committed >= 0, "{:?}", pool);
            prop_assert!(
                pool.used() <= pool.limits.limit(),
                "pool {} over its limit: used {} > limit {}",
                id,
                pool.used(),
                pool.limits.limit()
            );
            prop_assert!(pool.limits.is_consistent());
            prop_assert_eq!(pool.headroom(), pool.limits.limit() - pool.used());

            // The chain and what a new hold could get.
            let ancestry = model.ancestry(a);
            prop_assert!(ancestry.len() <= MAX_POOL_DEPTH);
            let chain = sut
                .set
                .chain(&id)
                .map(|chain| chain.iter().map(|p| p.id.clone()).collect::<Vec<PoolId>>());
            prop_assert_eq!(chain, Some(ancestry.iter().map(|&p| pool_id(p)).collect()));
            let available = if ancestry.iter().any(|&p| !model.pools[p].active) {
                0
            } else {
                ancestry
                    .iter()
                    .map(|&p| model.pools[p].limit() - usage[p].held - usage[p].committed)
                    .min()
                    .expect("a chain has at least its own pool")
            };
            prop_assert_eq!(sut.set.available(&id), Some(available), "available {}", id);

            counters.insert(id, c);
        }
        prop_assert_eq!(sut.set.available(&ghost()), None);
        prop_assert!(sut.set.chain(&ghost()).is_none());

        // Audit: from live holds (status as stored) and from replaying the ledger, both ways round.
        let from_holds = audit::counters_from_holds(
            sut.holds.iter().flat_map(|h| {
                h.lines
                    .iter()
                    .map(move |l| (l.pool_id.clone(), l.quantity.get(), h.hold.status))
            }),
            &sut.parents,
        );
        prop_assert_eq!(&from_holds, &counters, "counters_from_holds");
        let from_ledger = audit::counters_from_ledger(sut.ledger.iter().cloned(), &sut.parents);
        prop_assert_eq!(&from_ledger, &counters, "counters_from_ledger");
        let from_reversed =
            audit::counters_from_ledger(sut.ledger.iter().rev().cloned(), &sut.parents);
        prop_assert_eq!(&from_reversed, &counters, "ledger replayed backwards");

        // Holds: same stored state and same status as the world sees it now.
        prop_assert_eq!(sut.holds.len(), model.holds.len());
        for (i, (s, m)) in sut.holds.iter().zip(&model.holds).enumerate() {
            prop_assert_eq!(s.hold.status, m.status, "stored status of hold {}", i);
            prop_assert_eq!(s.hold.expires_at, UnixMillis(m.expires_at));
            prop_assert_eq!(
                s.hold.status_at(UnixMillis(self.now)),
                m.status_at(self.now),
                "status_at of hold {}",
                i
            );
            prop_assert_eq!(
                s.hold.is_due_to_expire(UnixMillis(self.now)),
                m.status == HoldStatus::Held && self.now >= m.expires_at
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn operations_match_the_reference_model(ops in ops_strategy()) {
        let mut world = World::new();
        world.check()?;
        for (step, op) in ops.iter().enumerate() {
            world.apply(op).map_err(|e| {
                TestCaseError::fail(format!("step {step} ({op:?}): {e}"))
            })?;
            world.check().map_err(|e| {
                TestCaseError::fail(format!("after step {step} ({op:?}): {e}"))
            })?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------------------------

/// Any i64, or a value within a few units of an interesting boundary.
fn i64_near(points: &'static [i64]) -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        (prop::sample::select(points), -3i64..=3).prop_map(|(p, d)| p.saturating_add(d)),
    ]
}

const BOUNDARIES: &[i64] = &[
    i64::MIN,
    -1,
    0,
    1,
    100,
    MAX_LIMIT_PCT as i64,
    MAX_TTL_SECONDS,
    MAX_QUANTITY,
    MAX_CAPACITY,
    u32::MAX as i64,
    // Wraps to 100 if narrowed to u32 before the range check.
    (1i64 << 32) + 100,
    i64::MAX,
];

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn quantity_accepts_exactly_its_range(v in i64_near(BOUNDARIES)) {
        match Quantity::new(v) {
            Ok(q) => {
                prop_assert!((1..=MAX_QUANTITY).contains(&v));
                prop_assert_eq!(q.get(), v);
            }
            Err(e) => {
                prop_assert!(!(1..=MAX_QUANTITY).contains(&v));
                prop_assert_eq!(e, UnitError::OutOfRange { min: 1, max: MAX_QUANTITY });
            }
        }
    }

    #[test]
    fn capacity_accepts_exactly_its_range(v in i64_near(BOUNDARIES)) {
        match Capacity::new(v) {
            Ok(c) => {
                prop_assert!((0..=MAX_CAPACITY).contains(&v));
                prop_assert_eq!(c.get(), v);
            }
            Err(e) => {
                prop_assert!(!(0..=MAX_CAPACITY).contains(&v));
                prop_assert_eq!(e, UnitError::OutOfRange { min: 0, max: MAX_CAPACITY });
            }
        }
    }

    #[test]
    fn limit_pct_accepts_exactly_its_range(v in i64_near(BOUNDARIES)) {
        let max = i64::from(MAX_LIMIT_PCT);
        match LimitPct::new(v) {
            Ok(p) => {
                prop_assert!((1..=max).contains(&v));
                prop_assert_eq!(i64::from(p.get()), v);
            }
            Err(e) => {
                prop_assert!(!(1..=max).contains(&v));
                prop_assert_eq!(e, UnitError::OutOfRange { min: 1, max });
            }
        }
    }

    #[test]
    fn ttl_accepts_exactly_its_range(v in i64_near(BOUNDARIES)) {
        match TtlSeconds::new(v) {
            Ok(t) => {
                prop_assert!((1..=MAX_TTL_SECONDS).contains(&v));
                prop_assert_eq!(t.get(), v);
            }
            Err(e) => {
                prop_assert!(!(1..=MAX_TTL_SECONDS).contains(&v));
                prop_assert_eq!(e, UnitError::OutOfRange { min: 1, max: MAX_TTL_SECONDS });
            }
        }
    }

    /// `capacity × pct / 100` rounded down, exactly, over the whole valid range (no overflow).
    #[test]
    fn limit_pct_of_is_the_exact_floor(
        capacity in prop_oneof![0..=MAX_CAPACITY, Just(MAX_CAPACITY), 0..=1000i64],
        pct in prop_oneof![1..=i64::from(MAX_LIMIT_PCT), Just(i64::from(MAX_LIMIT_PCT))],
    ) {
        let of = LimitPct::new(pct)
            .expect("valid pct")
            .of(Capacity::new(capacity).expect("valid capacity"));
        let exact = i128::from(capacity) * i128::from(pct) / 100;
        prop_assert_eq!(i128::from(of), exact);
        if pct <= 100 {
            prop_assert!(of <= capacity);
        }
        if pct >= 100 {
            prop_assert!(of >= capacity);
        }
    }

    #[test]
    fn unix_millis_plus_adds_whole_seconds(
        now in 0i64..=4_102_444_800_000, // up to 2100-01-01
        ttl in 1..=MAX_TTL_SECONDS,
    ) {
        let ttl = TtlSeconds::new(ttl).expect("valid ttl");
        prop_assert_eq!(UnixMillis(now).plus(ttl), UnixMillis(now + ttl.get() * 1000));
    }

    /// Every transition of a single hold, against the lifecycle table, for any status and times.
    #[test]
    fn hold_transitions_follow_the_table(
        status in prop::sample::select(vec![
            HoldStatus::Held,
            HoldStatus::Confirmed,
            HoldStatus::Released,
            HoldStatus::Expired,
        ]),
        expires_at in 0i64..=4_102_444_800_000,
        offset in prop_oneof![Just(0i64), Just(-1i64), Just(1i64), -100_000i64..=100_000],
        ttl in 1..=MAX_TTL_SECONDS,
    ) {
        let now = UnixMillis((expires_at + offset).max(0));
        let hold = Hold { status, expires_at: UnixMillis(expires_at) };
        let lapsed = status == HoldStatus::Held && now.0 >= expires_at;
        let seen = if lapsed { HoldStatus::Expired } else { status };
        prop_assert_eq!(hold.status_at(now), seen);
        prop_assert_eq!(hold.is_due_to_expire(now), lapsed);
        prop_assert_eq!(seen.is_live(), matches!(seen, HoldStatus::Held | HoldStatus::Confirmed));

        let refusal = |s: HoldStatus| {
            if s == HoldStatus::Expired {
                TransitionError::Expired
            } else {
                TransitionError::WrongStatus(s)
            }
        };
        prop_assert_eq!(
            hold.confirm(now),
            match seen {
                HoldStatus::Held => Ok((HoldStatus::Confirmed, LineEffect::CONFIRM)),
                s => Err(refusal(s)),
            }
        );
        prop_assert_eq!(
            hold.release(now),
            match seen {
                HoldStatus::Held => Ok((HoldStatus::Released, LineEffect::RELEASE_HELD)),
                HoldStatus::Confirmed => Ok((HoldStatus::Released, LineEffect::RELEASE_CONFIRMED)),
                s => Err(refusal(s)),
            }
        );
        prop_assert_eq!(
            hold.expire(now),
            lapsed.then_some((HoldStatus::Expired, LineEffect::RELEASE_HELD))
        );
        let ttl = TtlSeconds::new(ttl).expect("valid ttl");
        prop_assert_eq!(
            hold.extend(now, ttl),
            match seen {
                HoldStatus::Held => Ok(UnixMillis(now.0 + ttl.get() * 1000)),
                s => Err(refusal(s)),
            }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases
// ---------------------------------------------------------------------------------------------

/// Every path through a hold's lifecycle gives back exactly what it took.
#[test]
fn every_lifecycle_path_nets_to_zero() {
    let sum = |effects: &[LineEffect]| {
        effects
            .iter()
            .fold((0, 0), |(h, c), e| (h + e.held, c + e.committed))
    };
    assert_eq!(sum(&[LineEffect::HOLD, LineEffect::RELEASE_HELD]), (0, 0));
    assert_eq!(
        sum(&[
            LineEffect::HOLD,
            LineEffect::CONFIRM,
            LineEffect::RELEASE_CONFIRMED
        ]),
        (0, 0)
    );
    assert_eq!(
        sum(&[LineEffect::HOLD_AND_CONFIRM, LineEffect::RELEASE_CONFIRMED]),
        (0, 0)
    );
}

#[test]
fn hold_status_strings_round_trip() {
    for status in [
        HoldStatus::Held,
        HoldStatus::Confirmed,
        HoldStatus::Released,
        HoldStatus::Expired,
    ] {
        assert_eq!(HoldStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(HoldStatus::parse("HELD"), None);
    assert_eq!(HoldStatus::parse(""), None);
}

/// A straight chain of `levels` pools, p0 the root, each of capacity 100.
fn straight_chain(levels: usize) -> (PoolSet, HashMap<PoolId, Option<PoolId>>) {
    let mut set = PoolSet::new();
    let mut parents = HashMap::new();
    for level in 0..levels {
        let parent = level.checked_sub(1).map(pool_id);
        set.insert(Pool::new(
            pool_id(level),
            parent.clone(),
            limits(100, 100, 100),
        ));
        parents.insert(pool_id(level), parent);
    }
    (set, parents)
}

/// The deepest hierarchy allowed (`MAX_POOL_DEPTH` levels) works end to end.
#[test]
fn the_deepest_allowed_chain_places_and_audits() {
    let (mut set, parents) = straight_chain(MAX_POOL_DEPTH);
    let leaf = pool_id(MAX_POOL_DEPTH - 1);
    assert_eq!(set.chain(&leaf).map(|c| c.len()), Some(MAX_POOL_DEPTH));
    let line = HoldLine {
        pool_id: leaf.clone(),
        quantity: Quantity::new(7).expect("valid quantity"),
    };
    set.place(std::slice::from_ref(&line), false)
        .expect("fits everywhere");
    for pool in set.iter() {
        assert_eq!((pool.held, pool.committed), (7, 0), "pool {}", pool.id);
    }
    assert_eq!(set.available(&pool_id(0)), Some(93));
    let from_ledger = audit::counters_from_ledger([(leaf.clone(), 7, 0)], &parents);
    let from_holds = audit::counters_from_holds([(leaf, 7, HoldStatus::Held)], &parents);
    assert_eq!(from_ledger, from_holds);
    assert!(from_ledger.values().all(|c| *c
        == Counters {
            held: 7,
            committed: 0
        }));
}

/// One level deeper than allowed: the decisions and the audit must draw the line at the same
/// depth (neither silently accepts what the other refuses).
#[test]
fn decisions_and_audit_agree_on_the_depth_limit() {
    let levels = MAX_POOL_DEPTH + 1;
    let (set, parents) = straight_chain(levels);
    let leaf = pool_id(levels - 1);
    let chain_refused =
        catch_unwind(AssertUnwindSafe(|| set.chain(&leaf).map(|c| c.len()))).is_err();
    let audit_refused = catch_unwind(AssertUnwindSafe(|| {
        audit::counters_from_ledger([(leaf.clone(), 1, 0)], &parents)
    }))
    .is_err();
    assert_eq!(
        chain_refused, audit_refused,
        "PoolSet::chain refused: {chain_refused}, audit refused: {audit_refused}"
    );
    assert!(
        chain_refused,
        "a chain of {levels} levels is beyond MAX_POOL_DEPTH"
    );
}
