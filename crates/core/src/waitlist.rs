//! Waiting lists (dated tours, sold-out sections): who asked when a pool was full, in what order they are served, and
//! who is served when capacity comes back.
//!
//! Order is priority, highest first, then arrival. Promotion walks the waiting entries of every
//! pool whose availability may have grown, in that order across all of them, and places each
//! entry through [`PoolSet::place`] — so a promotion can never take a pool or an ancestor past its
//! limit, and each entry is decided once per pass. A pool's [`WaitlistPolicy`] says whether an
//! entry that does not fit blocks the ones behind it.

use crate::pool::PoolId;
use crate::pools::{HoldLine, PoolSet, Refusal};
use crate::units::{Quantity, UnixMillis};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Whether a request at the head that does not fit blocks smaller ones behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitlistPolicy {
    /// First in line is served first, even if a smaller request behind it would fit (fair).
    #[default]
    Strict,
    /// Entries that fit pass one that does not (fuller use of capacity).
    Skip,
}

impl WaitlistPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitlistPolicy::Strict => "strict",
            WaitlistPolicy::Skip => "skip",
        }
    }
    pub fn parse(value: &str) -> Option<WaitlistPolicy> {
        match value {
            "strict" => Some(WaitlistPolicy::Strict),
            "skip" => Some(WaitlistPolicy::Skip),
            _ => None,
        }
    }
}

/// What promotion gives an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromotionMode {
    /// A hold with its own TTL that the holder confirms; if it lapses the next entry is served.
    #[default]
    Offer,
    /// A confirmed booking at once (a tour's queue turns the entry straight into a booking).
    Confirm,
}

impl PromotionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionMode::Offer => "offer",
            PromotionMode::Confirm => "confirm",
        }
    }
    pub fn parse(value: &str) -> Option<PromotionMode> {
        match value {
            "offer" => Some(PromotionMode::Offer),
            "confirm" => Some(PromotionMode::Confirm),
            _ => None,
        }
    }
}

/// Where an entry is in its life.
///
/// waiting → offered → accepted | declined | lapsed; waiting → confirmed (confirm mode);
/// waiting → expired; waiting | offered → cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryStatus {
    Waiting,
    /// Promoted in offer mode: a hold waits for the holder's confirmation.
    Offered,
    /// The offer's hold was confirmed.
    Accepted,
    /// Promoted in confirm mode: the hold was confirmed at once.
    Confirmed,
    /// The holder released the offer's hold.
    Declined,
    /// The offer's hold expired unconfirmed.
    Lapsed,
    /// Waited past its `expires_at` without being served.
    Expired,
    Cancelled,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Waiting => "waiting",
            EntryStatus::Offered => "offered",
            EntryStatus::Accepted => "accepted",
            EntryStatus::Confirmed => "confirmed",
            EntryStatus::Declined => "declined",
            EntryStatus::Lapsed => "lapsed",
            EntryStatus::Expired => "expired",
            EntryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<EntryStatus> {
        [
            EntryStatus::Waiting,
            EntryStatus::Offered,
            EntryStatus::Accepted,
            EntryStatus::Confirmed,
            EntryStatus::Declined,
            EntryStatus::Lapsed,
            EntryStatus::Expired,
            EntryStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }

    /// The status as of `now`: a waiting entry past its deadline reads as expired even before
    /// the sweeper has written it down.
    pub fn at(self, expires_at: UnixMillis, now: UnixMillis) -> EntryStatus {
        if self == EntryStatus::Waiting && expires_at <= now {
            EntryStatus::Expired
        } else {
            self
        }
    }

    /// Only waiting and offered entries may be cancelled.
    pub fn can_cancel(self) -> bool {
        matches!(self, EntryStatus::Waiting | EntryStatus::Offered)
    }
}

/// An entry's place in line. Sorts first the entry served first: higher priority, then the
/// earlier arrival (`seq` is a counter the store hands out in arrival order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueKey {
    pub priority: i64,
    pub seq: i64,
}

impl Ord for QueueKey {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .priority
            .cmp(&self.priority)
            .then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for QueueKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A waiting entry as promotion sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingEntry {
    pub id: String,
    pub pool_id: PoolId,
    pub quantity: Quantity,
    pub key: QueueKey,
    pub expires_at: UnixMillis,
}

/// One pool's waiting entries, in queue order, with how that pool serves them.
#[derive(Debug, Clone)]
pub struct Queue {
    pub pool_id: PoolId,
    pub policy: WaitlistPolicy,
    pub mode: PromotionMode,
    pub entries: Vec<WaitingEntry>,
}

/// What promotion decided for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The entry's quantity was placed on its pool (held in offer mode, committed in confirm
    /// mode); the caller writes the hold.
    Promote {
        entry: WaitingEntry,
        mode: PromotionMode,
    },
    /// The entry was past its deadline when its turn came.
    Expire { entry: WaitingEntry },
}

/// Serves waiting entries from `queues` in queue order across all of them, placing each one that
/// fits on `set`. A queue with the strict policy stops at its first entry that does not fit; with
/// skip, later entries may pass it. Entries past their deadline are expired, never served.
pub fn promote(set: &mut PoolSet, queues: Vec<Queue>, now: UnixMillis) -> Vec<Decision> {
    let mut cursors: Vec<(Queue, usize, bool)> =
        queues.into_iter().map(|queue| (queue, 0, false)).collect();
    let mut decisions = Vec::new();
    loop {
        // The open queue whose next entry comes first in line.
        let next = cursors
            .iter()
            .enumerate()
            .filter(|(_, (queue, index, blocked))| !blocked && *index < queue.entries.len())
            .min_by_key(|(_, (queue, index, _))| queue.entries[*index].key)
            .map(|(position, _)| position);
        let Some(position) = next else {
            return decisions;
        };
        let (queue, index, blocked) = &mut cursors[position];
        let entry = queue.entries[*index].clone();
        *index += 1;
        if entry.expires_at <= now {
            decisions.push(Decision::Expire { entry });
            continue;
        }
        let line = HoldLine {
            pool_id: entry.pool_id.clone(),
            quantity: entry.quantity,
        };
        match set.place(&[line], queue.mode == PromotionMode::Confirm) {
            Ok(_) => decisions.push(Decision::Promote {
                entry,
                mode: queue.mode,
            }),
            // Nothing in an inactive or missing pool can be served, whatever the policy.
            Err(Refusal::PoolInactive(_) | Refusal::UnknownPool(_)) => *blocked = true,
            Err(Refusal::InsufficientCapacity { .. }) => {
                if queue.policy == WaitlistPolicy::Strict {
                    *blocked = true;
                }
            }
        }
    }
}

/// How far back promotions count towards a pool's measured rate.
pub const RATE_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// How many of a pool's latest promotions (within [`RATE_WINDOW_MS`]) its measured rate is
/// taken from.
pub const RECENT_PROMOTIONS: i64 = 20;

/// Seconds until the entry at `position` (1 = next) is likely served, from the rate at which
/// this pool actually promoted entries: `recent_promotions` are the times of its latest
/// promotions (any order). With none in the last 24 h, `fallback_per_position` seconds per place
/// in line (five minutes by default).
pub fn estimate_wait_seconds(
    position: u64,
    recent_promotions: &[UnixMillis],
    now: UnixMillis,
    fallback_per_position: i64,
) -> i64 {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    let in_window: Vec<i64> = recent_promotions
        .iter()
        .map(|at| at.0)
        .filter(|at| now.0 - at < RATE_WINDOW_MS && *at <= now.0)
        .collect();
    let Some(oldest) = in_window.iter().min() else {
        return position.saturating_mul(fallback_per_position);
    };
    // n promotions over the span from the oldest of them until now: span / n per entry.
    let span_ms = (now.0 - oldest).max(1_000);
    let per_entry_ms = span_ms / in_window.len() as i64;
    (position.saturating_mul(per_entry_ms) + 999) / 1000
}

/// Highest and lowest priority an entry may have.
pub const MAX_PRIORITY: i64 = 1_000_000;

/// A tenant's named priority classes: an entry's priority is `base` plus the bonus of each class
/// it names. Tour bookings are the documented example: base 1; registered +2, private_silver +2,
/// private_gold +3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityClasses {
    pub base: i64,
    pub classes: BTreeMap<String, i64>,
}

impl Default for PriorityClasses {
    /// Base 1 and no classes, until a tenant sets its own.
    fn default() -> Self {
        PriorityClasses {
            base: 1,
            classes: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    #[error("no priority class named {0:?}; see PUT /v1/settings/priority-classes")]
    UnknownClass(String),
    #[error("priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")]
    OutOfRange,
}

impl PriorityClasses {
    /// The documented example, from tour bookings: base 1; registered users +2, private_silver
    /// bookings +2, private_gold bookings +3.
    pub fn tour_booking_example() -> Self {
        PriorityClasses {
            base: 1,
            classes: [
                ("registered", 2),
                ("private_silver", 2),
                ("private_gold", 3),
            ]
            .into_iter()
            .map(|(name, bonus)| (name.to_owned(), bonus))
            .collect(),
        }
    }

    /// `base` plus the bonus of every class named.
    pub fn priority_of(&self, names: &[String]) -> Result<i64, PriorityError> {
        let mut priority = self.base;
        for name in names {
            let bonus = self
                .classes
                .get(name)
                .ok_or_else(|| PriorityError::UnknownClass(name.clone()))?;
            priority = priority.saturating_add(*bonus);
        }
        check_priority(priority)
    }
}

/// How long an entry waits when the request names no time: two hours, as a tour's queue does.
pub const DEFAULT_WAIT_SECONDS: i64 = 7_200;

/// Seconds per place in line assumed for an estimate when a pool has promoted nobody in the
/// last 24 h: five minutes (the server's `--waitlist-fallback-wait-seconds` changes it).
pub const DEFAULT_FALLBACK_WAIT_SECONDS: i64 = 300;

/// Most priority classes a tenant may define, and an entry may name.
pub const MAX_PRIORITY_CLASSES: usize = 100;

/// The priority an entry asks for when it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorityAsk {
    /// The tenant's base priority.
    Base,
    /// This priority, as given.
    Explicit(i64),
    /// The base plus the bonus of each class named (decided against the tenant's classes when
    /// the entry is written).
    Classes(Vec<String>),
}

/// Why a join's priority was refused; each names the request field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityAskError {
    #[error("give priority or priority_class, not both")]
    Both,
    #[error("{0}")]
    Priority(PriorityError),
    #[error("must name 1 to {MAX_PRIORITY_CLASSES} classes")]
    ClassCount,
}

impl PriorityAskError {
    pub fn field(&self) -> &'static str {
        match self {
            PriorityAskError::Priority(_) => "priority",
            PriorityAskError::Both | PriorityAskError::ClassCount => "priority_class",
        }
    }
}

impl PriorityAsk {
    /// The ask a join's `priority` and `priority_class` make: at most one of them.
    pub fn from_request(
        priority: Option<i64>,
        classes: Option<Vec<String>>,
    ) -> Result<PriorityAsk, PriorityAskError> {
        match (priority, classes) {
            (Some(_), Some(_)) => Err(PriorityAskError::Both),
            (Some(priority), None) => check_priority(priority)
                .map(PriorityAsk::Explicit)
                .map_err(PriorityAskError::Priority),
            (None, Some(names)) if names.is_empty() || names.len() > MAX_PRIORITY_CLASSES => {
                Err(PriorityAskError::ClassCount)
            }
            (None, Some(names)) => Ok(PriorityAsk::Classes(names)),
            (None, None) => Ok(PriorityAsk::Base),
        }
    }
}

pub fn check_priority(priority: i64) -> Result<i64, PriorityError> {
    if (-MAX_PRIORITY..=MAX_PRIORITY).contains(&priority) {
        Ok(priority)
    } else {
        Err(PriorityError::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Capacity;
    use crate::{Pool, PoolLimits};

    fn set_with(pools: &[(&str, Option<&str>, i64, i64)]) -> PoolSet {
        let mut set = PoolSet::new();
        for (id, parent, capacity, used) in pools {
            let mut pool = Pool::new(
                (*id).into(),
                parent.map(PoolId::from),
                PoolLimits::new(Capacity::new(*capacity).expect("valid capacity")),
            );
            pool.committed = *used;
            set.insert(pool);
        }
        // Roll children's use up into their parents, as the store keeps it.
        let children: Vec<(PoolId, i64)> = set
            .iter()
            .filter_map(|p| p.parent_id.clone().map(|parent| (parent, p.committed)))
            .collect();
        let mut rolled = PoolSet::new();
        for pool in set.iter() {
            let mut pool = pool.clone();
            pool.committed += children
                .iter()
                .filter(|(parent, _)| *parent == pool.id)
                .map(|(_, used)| used)
                .sum::<i64>();
            rolled.insert(pool);
        }
        rolled
    }

    fn entry(id: &str, pool: &str, quantity: i64, priority: i64, seq: i64) -> WaitingEntry {
        WaitingEntry {
            id: id.to_owned(),
            pool_id: pool.into(),
            quantity: Quantity::new(quantity).expect("valid quantity"),
            key: QueueKey { priority, seq },
            expires_at: UnixMillis(10_000),
        }
    }

    fn queue(pool: &str, policy: WaitlistPolicy, mut entries: Vec<WaitingEntry>) -> Queue {
        entries.sort_by_key(|e| e.key);
        Queue {
            pool_id: pool.into(),
            policy,
            mode: PromotionMode::Offer,
            entries,
        }
    }

    fn promoted(decisions: &[Decision]) -> Vec<&str> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Promote { entry, .. } => Some(entry.id.as_str()),
                Decision::Expire { .. } => None,
            })
            .collect()
    }

    #[test]
    fn higher_priority_first_then_arrival() {
        let mut set = set_with(&[("p", None, 2, 0)]);
        let q = queue(
            "p",
            WaitlistPolicy::Strict,
            vec![
                entry("early", "p", 1, 1, 1),
                entry("gold", "p", 1, 4, 3),
                entry("late", "p", 1, 1, 2),
            ],
        );
        let decisions = promote(&mut set, vec![q], UnixMillis(0));
        assert_eq!(promoted(&decisions), vec!["gold", "early"]);
        assert_eq!(set.get(&"p".into()).map(|p| p.held), Some(2));
    }

    #[test]
    fn strict_blocks_behind_a_large_head_and_skip_lets_smaller_pass() {
        let entries = vec![entry("big", "p", 3, 1, 1), entry("small", "p", 1, 1, 2)];
        let mut strict = set_with(&[("p", None, 2, 0)]);
        let decisions = promote(
            &mut strict,
            vec![queue("p", WaitlistPolicy::Strict, entries.clone())],
            UnixMillis(0),
        );
        assert!(decisions.is_empty());
        let mut skip = set_with(&[("p", None, 2, 0)]);
        let decisions = promote(
            &mut skip,
            vec![queue("p", WaitlistPolicy::Skip, entries)],
            UnixMillis(0),
        );
        assert_eq!(promoted(&decisions), vec!["small"]);
    }

    #[test]
    fn entries_past_their_deadline_expire_instead_of_being_served() {
        let mut set = set_with(&[("p", None, 5, 0)]);
        let mut stale = entry("stale", "p", 1, 9, 1);
        stale.expires_at = UnixMillis(100);
        let q = queue(
            "p",
            WaitlistPolicy::Strict,
            vec![stale, entry("fresh", "p", 1, 1, 2)],
        );
        let decisions = promote(&mut set, vec![q], UnixMillis(100));
        assert!(matches!(&decisions[0], Decision::Expire { entry } if entry.id == "stale"));
        assert_eq!(promoted(&decisions), vec!["fresh"]);
    }

    #[test]
    fn queues_under_a_shared_ancestor_are_served_in_one_order_within_its_limit() {
        // An event of 3 with two sections of 5: the event is what runs short.
        let mut set = set_with(&[
            ("event", None, 3, 0),
            ("a", Some("event"), 5, 0),
            ("b", Some("event"), 5, 0),
        ]);
        let decisions = promote(
            &mut set,
            vec![
                queue(
                    "a",
                    WaitlistPolicy::Strict,
                    vec![entry("a1", "a", 1, 1, 2), entry("a2", "a", 1, 1, 4)],
                ),
                queue(
                    "b",
                    WaitlistPolicy::Strict,
                    vec![entry("b1", "b", 1, 1, 1), entry("b2", "b", 1, 1, 3)],
                ),
            ],
            UnixMillis(0),
        );
        assert_eq!(promoted(&decisions), vec!["b1", "a1", "b2"]);
        assert_eq!(set.get(&"event".into()).map(|p| p.used()), Some(3));
    }

    #[test]
    fn confirm_mode_commits() {
        let mut set = set_with(&[("p", None, 1, 0)]);
        let mut q = queue("p", WaitlistPolicy::Strict, vec![entry("e", "p", 1, 1, 1)]);
        q.mode = PromotionMode::Confirm;
        promote(&mut set, vec![q], UnixMillis(0));
        assert_eq!(
            set.get(&"p".into()).map(|p| (p.held, p.committed)),
            Some((0, 1))
        );
    }

    #[test]
    fn estimates_come_from_the_measured_rate_or_the_fallback() {
        let now = UnixMillis(1_000_000_000);
        assert_eq!(estimate_wait_seconds(3, &[], now, 300), 900);
        // Four promotions over the last 400 s: one every 100 s.
        let recent = [
            UnixMillis(now.0 - 400_000),
            UnixMillis(now.0 - 300_000),
            UnixMillis(now.0 - 200_000),
            UnixMillis(now.0 - 100_000),
        ];
        assert_eq!(estimate_wait_seconds(1, &recent, now, 300), 100);
        assert_eq!(estimate_wait_seconds(5, &recent, now, 300), 500);
        // Promotions older than a day no longer count.
        let stale = [UnixMillis(now.0 - RATE_WINDOW_MS - 1)];
        assert_eq!(estimate_wait_seconds(2, &stale, now, 300), 600);
    }

    #[test]
    fn tour_booking_classes_add_their_bonuses_to_the_base() {
        let classes = PriorityClasses::tour_booking_example();
        assert_eq!(classes.priority_of(&[]), Ok(1));
        assert_eq!(classes.priority_of(&["registered".to_owned()]), Ok(3));
        assert_eq!(
            classes.priority_of(&["registered".to_owned(), "private_gold".to_owned()]),
            Ok(6)
        );
        assert_eq!(
            classes.priority_of(&["vip".to_owned()]),
            Err(PriorityError::UnknownClass("vip".to_owned()))
        );
    }

    #[test]
    fn statuses_round_trip_and_waiting_lapses_at_its_deadline() {
        for status in [
            EntryStatus::Waiting,
            EntryStatus::Offered,
            EntryStatus::Cancelled,
        ] {
            assert_eq!(EntryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(
            EntryStatus::Waiting.at(UnixMillis(5), UnixMillis(5)),
            EntryStatus::Expired
        );
        assert_eq!(
            EntryStatus::Offered.at(UnixMillis(5), UnixMillis(9)),
            EntryStatus::Offered
        );
    }

    #[test]
    fn a_join_asks_for_one_kind_of_priority_at_most() {
        assert_eq!(PriorityAsk::from_request(None, None), Ok(PriorityAsk::Base));
        assert_eq!(
            PriorityAsk::from_request(Some(7), None),
            Ok(PriorityAsk::Explicit(7))
        );
        let gold = vec!["private_gold".to_owned()];
        assert_eq!(
            PriorityAsk::from_request(None, Some(gold.clone())),
            Ok(PriorityAsk::Classes(gold.clone()))
        );
        let both = PriorityAsk::from_request(Some(7), Some(gold)).expect_err("refused");
        assert_eq!(
            (both.field(), both),
            ("priority_class", PriorityAskError::Both)
        );
    }

    #[test]
    fn a_join_priority_is_within_range_and_names_1_to_100_classes() {
        let refused = PriorityAsk::from_request(Some(MAX_PRIORITY + 1), None).expect_err("refused");
        assert_eq!(refused.field(), "priority");
        assert_eq!(
            PriorityAsk::from_request(None, Some(Vec::new())),
            Err(PriorityAskError::ClassCount)
        );
        let many = vec!["registered".to_owned(); MAX_PRIORITY_CLASSES + 1];
        let refused = PriorityAsk::from_request(None, Some(many)).expect_err("refused");
        assert_eq!(refused.to_string(), "must name 1 to 100 classes");
    }
}
