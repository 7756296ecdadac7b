//! Utilisation thresholds and the alerts they raise (campaign quotas): which thresholds a change of use
//! crossed upward, and which of those may fire now given when each last fired (throttling).
//! Delivery is elsewhere; this only decides.

use crate::units::UnixMillis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(value: &str) -> Option<Severity> {
        match value {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// One threshold: when use reaches `pct` percent of capacity, alert `recipients` (named groups)
/// with `severity`, at most once every `throttle_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    pub pct: u32,
    pub severity: Severity,
    pub recipients: Vec<String>,
    pub throttle_seconds: i64,
}

impl Threshold {
    fn new(pct: u32, severity: Severity, recipients: &[&str], throttle_hours: i64) -> Self {
        Threshold {
            pct,
            severity,
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
            throttle_seconds: throttle_hours * 3600,
        }
    }

    /// Whether `used` units of `capacity` are at or above this threshold. Integer arithmetic:
    /// a threshold is reached exactly, never by rounding.
    pub fn reached(&self, used: i64, capacity: i64) -> bool {
        if capacity == 0 {
            return used > 0;
        }
        i128::from(used) * 100 >= i128::from(capacity) * i128::from(self.pct)
    }
}

/// The default table, from campaign quotas: 80% info → sales (24 h), 90% warning → company admin (12 h),
/// 100% error → admin and customer success (6 h), 110% critical → the same (1 h).
pub fn default_thresholds() -> Vec<Threshold> {
    vec![
        Threshold::new(80, Severity::Info, &["sales"], 24),
        Threshold::new(90, Severity::Warning, &["company_admin"], 12),
        Threshold::new(
            100,
            Severity::Error,
            &["company_admin", "customer_success"],
            6,
        ),
        Threshold::new(
            110,
            Severity::Critical,
            &["company_admin", "customer_success"],
            1,
        ),
    ]
}

/// Use against capacity at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub used: i64,
    pub capacity: i64,
}

/// The indexes of the thresholds that fire for a change from `before` to `after` — more use, or
/// less capacity: crossed upward by this change, and not fired within their throttle interval.
/// `last_fired[i]` is when threshold `i` last fired, if ever.
pub fn firing(
    thresholds: &[Threshold],
    before: Usage,
    after: Usage,
    last_fired: &[Option<UnixMillis>],
    now: UnixMillis,
) -> Vec<usize> {
    assert_eq!(
        thresholds.len(),
        last_fired.len(),
        "one last-fired time per threshold"
    );
    thresholds
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            !t.reached(before.used, before.capacity) && t.reached(after.used, after.capacity)
        })
        .filter(|(i, t)| match last_fired[*i] {
            None => true,
            Some(at) => now.0 - at.0 >= t.throttle_seconds * 1000,
        })
        .map(|(i, _)| i)
        .collect()
}

/// Operational alerts about waiting lists (dated tours), beside the utilisation thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAlert {
    /// The waiting list grew past the configured length (10 by default).
    Long,
    /// Capacity is 0 and people are waiting.
    Shortage,
}

impl QueueAlert {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueAlert::Long => "queue_long",
            QueueAlert::Shortage => "shortage",
        }
    }
}

/// A waiting list longer than this raises a queue alert (and is a long queue among the current
/// conditions).
pub const QUEUE_ALERT_LENGTH: i64 = 10;

/// Whether a waiting list is longer than `long_after`.
fn queue_is_long(waiting: i64, long_after: i64) -> bool {
    waiting > long_after
}

/// Whether people wait for a pool that has no capacity at all.
fn short_with_people_waiting(waiting: i64, capacity: i64) -> bool {
    capacity == 0 && waiting > 0
}

/// Queue alerts raised by a change of a pool's waiting list or capacity: each fires when its
/// condition becomes true (not while it stays true).
pub fn queue_alerts(long_after: i64, before: (i64, i64), after: (i64, i64)) -> Vec<QueueAlert> {
    let ((waiting_before, capacity_before), (waiting_after, capacity_after)) = (before, after);
    let mut alerts = Vec::new();
    if !queue_is_long(waiting_before, long_after) && queue_is_long(waiting_after, long_after) {
        alerts.push(QueueAlert::Long);
    }
    if !short_with_people_waiting(waiting_before, capacity_before)
        && short_with_people_waiting(waiting_after, capacity_after)
    {
        alerts.push(QueueAlert::Shortage);
    }
    alerts
}

/// Above this share of its capacity in use, a pool shows as nearly full among the current
/// conditions.
pub const NEARLY_FULL_PCT: i64 = 90;

/// What holds of a pool right now, beside the log of alerts that fired: the conditions an
/// operator's board lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// More than [`NEARLY_FULL_PCT`] of its capacity is held or sold.
    NearlyFull,
    /// Its waiting list is longer than the queue alerts' length.
    LongQueue,
    /// It has no capacity, and people wait for it.
    NoCapacityWithPeopleWaiting,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::NearlyFull => "nearly_full",
            Condition::LongQueue => "long_queue",
            Condition::NoCapacityWithPeopleWaiting => "no_capacity_with_people_waiting",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Condition::NearlyFull | Condition::LongQueue => Severity::Warning,
            Condition::NoCapacityWithPeopleWaiting => Severity::Error,
        }
    }
}

/// The conditions that hold of a pool with these figures, waiting lists longer than
/// `long_after` counting as long (the queue alerts' rule, read as a state).
pub fn current_conditions(
    used: i64,
    capacity: i64,
    waiting: i64,
    long_after: i64,
) -> Vec<Condition> {
    let mut conditions = Vec::new();
    if i128::from(used) * 100 > i128::from(capacity) * i128::from(NEARLY_FULL_PCT) && used > 0 {
        conditions.push(Condition::NearlyFull);
    }
    if queue_is_long(waiting, long_after) {
        conditions.push(Condition::LongQueue);
    }
    if short_with_people_waiting(waiting, capacity) {
        conditions.push(Condition::NoCapacityWithPeopleWaiting);
    }
    conditions
}

/// Checks a threshold table a tenant sends: percentages 1 to 1000, throttles up to 30 days,
/// at least one recipient group each.
pub fn validate(thresholds: &[Threshold]) -> Result<(), String> {
    if thresholds.len() > 20 {
        return Err("at most 20 thresholds".to_owned());
    }
    for (index, threshold) in thresholds.iter().enumerate() {
        // Each threshold is throttled by its percentage: two at one percentage would share it.
        if thresholds[..index].iter().any(|t| t.pct == threshold.pct) {
            return Err(format!("[{index}].pct {} appears twice", threshold.pct));
        }
        if !(1..=1000).contains(&threshold.pct) {
            return Err(format!("[{index}].pct must be between 1 and 1000"));
        }
        if !(0..=30 * 24 * 3600).contains(&threshold.throttle_seconds) {
            return Err(format!(
                "[{index}].throttle_seconds must be between 0 and 30 days"
            ));
        }
        if threshold.recipients.is_empty() {
            return Err(format!("[{index}].recipients must name at least one group"));
        }
    }
    Ok(())
}

/// A campaign quota's capacity flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtilizationFlags {
    /// At or above 80% of capacity.
    pub near: bool,
    /// At or above 100%.
    pub at: bool,
    /// Above 100% (the overage band).
    pub over: bool,
}

impl UtilizationFlags {
    pub fn of(used: i64, capacity: i64) -> Self {
        let (used, capacity) = (i128::from(used), i128::from(capacity));
        UtilizationFlags {
            near: used * 100 >= capacity * 80 && (capacity > 0 || used > 0),
            at: used >= capacity && (capacity > 0 || used > 0),
            over: used > capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(1_790_000_000_000);

    fn fire(before: i64, after: i64, last: [Option<UnixMillis>; 4]) -> Vec<u32> {
        let thresholds = default_thresholds();
        let usage = |used| Usage {
            used,
            capacity: 100,
        };
        firing(&thresholds, usage(before), usage(after), &last, NOW)
            .into_iter()
            .map(|i| thresholds[i].pct)
            .collect()
    }

    #[test]
    fn nothing_fires_below_eighty_percent() {
        assert!(fire(0, 79, [None; 4]).is_empty());
    }

    #[test]
    fn each_threshold_fires_once_when_crossed_upward() {
        assert_eq!(fire(79, 80, [None; 4]), vec![80]);
        assert_eq!(fire(80, 95, [None; 4]), vec![90]);
        assert_eq!(fire(0, 110, [None; 4]), vec![80, 90, 100, 110]);
        assert!(
            fire(95, 85, [None; 4]).is_empty(),
            "falling use fires nothing"
        );
        assert!(
            fire(85, 89, [None; 4]).is_empty(),
            "staying above 80 does not fire it again"
        );
    }

    #[test]
    fn throttling_holds_back_a_repeat_within_its_interval() {
        let an_hour_ago = Some(UnixMillis(NOW.0 - 3_600_000));
        let a_day_ago = Some(UnixMillis(NOW.0 - 24 * 3_600_000));
        assert!(
            fire(79, 80, [an_hour_ago, None, None, None]).is_empty(),
            "80% throttles for 24 h"
        );
        assert_eq!(fire(79, 80, [a_day_ago, None, None, None]), vec![80]);
        assert_eq!(
            fire(109, 110, [None, None, None, an_hour_ago]),
            vec![110],
            "110% throttles for 1 h"
        );
    }

    #[test]
    fn a_capacity_cut_can_cross_a_threshold_too() {
        let thresholds = default_thresholds();
        let fired = firing(
            &thresholds,
            Usage {
                used: 50,
                capacity: 100,
            },
            Usage {
                used: 50,
                capacity: 60,
            },
            &[None; 4],
            NOW,
        );
        assert_eq!(fired, vec![0], "50 of 60 is 83%");
    }

    #[test]
    fn queue_alerts_fire_when_their_condition_starts() {
        assert_eq!(queue_alerts(10, (10, 5), (11, 5)), vec![QueueAlert::Long]);
        assert!(queue_alerts(10, (11, 5), (12, 5)).is_empty());
        assert_eq!(queue_alerts(10, (1, 5), (1, 0)), vec![QueueAlert::Shortage]);
        assert_eq!(queue_alerts(10, (0, 0), (1, 0)), vec![QueueAlert::Shortage]);
        assert!(queue_alerts(10, (1, 0), (2, 0)).is_empty());
    }

    #[test]
    fn the_default_table_alerts_sales_then_admins_then_customer_success() {
        let table = default_thresholds();
        let summary: Vec<(u32, &str, usize, i64)> = table
            .iter()
            .map(|t| {
                (
                    t.pct,
                    t.severity.as_str(),
                    t.recipients.len(),
                    t.throttle_seconds / 3600,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (80, "info", 1, 24),
                (90, "warning", 1, 12),
                (100, "error", 2, 6),
                (110, "critical", 2, 1)
            ]
        );
    }

    #[test]
    fn flags_mark_near_at_and_over_capacity_including_zero_capacity() {
        assert_eq!(UtilizationFlags::of(79, 100), UtilizationFlags::default());
        assert_eq!(
            UtilizationFlags::of(80, 100),
            UtilizationFlags {
                near: true,
                at: false,
                over: false
            }
        );
        assert_eq!(
            UtilizationFlags::of(100, 100),
            UtilizationFlags {
                near: true,
                at: true,
                over: false
            }
        );
        assert_eq!(
            UtilizationFlags::of(105, 100),
            UtilizationFlags {
                near: true,
                at: true,
                over: true
            }
        );
        assert_eq!(
            UtilizationFlags::of(0, 0),
            UtilizationFlags::default(),
            "an empty zero pool is not full"
        );
        assert_eq!(
            UtilizationFlags::of(1, 0),
            UtilizationFlags {
                near: true,
                at: true,
                over: true
            }
        );
    }

    #[test]
    fn current_conditions_are_the_queue_alerts_rules_read_as_a_state() {
        // 91 of 100 seats used: nearly full; 90 of 100 is not yet.
        assert_eq!(current_conditions(91, 100, 0, 10), [Condition::NearlyFull]);
        assert!(current_conditions(90, 100, 0, 10).is_empty());
        // Eleven waiting is a long queue; capacity 0 with one waiting is a shortage.
        assert_eq!(current_conditions(0, 100, 11, 10), [Condition::LongQueue]);
        assert_eq!(
            current_conditions(0, 0, 1, 10),
            [Condition::NoCapacityWithPeopleWaiting]
        );
        assert!(
            current_conditions(0, 0, 0, 10).is_empty(),
            "an empty pool of nothing"
        );
        assert_eq!(
            current_conditions(12, 10, 11, 10),
            [Condition::NearlyFull, Condition::LongQueue],
            "oversold into an overage band and a long queue at once"
        );
    }
}
