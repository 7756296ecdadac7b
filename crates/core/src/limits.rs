//! How far a pool may be used ([`PoolLimits`]), and limits as a client asks for them: the defaults a pool or a plan gets when a figure is left
//! out, the rule that a soft limit never sits above the hard one, how full a pool reads, and
//! whether a hold of some quantity could be placed now.

use crate::units::{Capacity, LimitPct, Quantity, UnitError};

/// The hard limit a pool or plan gets when none is asked for: exactly its capacity.
pub const DEFAULT_HARD_LIMIT_PCT: i64 = 100;

/// How far a pool may be used. `hard` caps held + committed; above `soft` a hold still succeeds
/// but carries a warning (a campaign quota: 10% overage allowed with a warning, blocked above
/// 110%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    pub capacity: Capacity,
    pub hard_limit_pct: LimitPct,
    pub soft_limit_pct: LimitPct,
}

impl PoolLimits {
    /// Limits with the defaults: hard 100%, soft 100%.
    pub fn new(capacity: Capacity) -> Self {
        PoolLimits {
            capacity,
            hard_limit_pct: LimitPct::HUNDRED,
            soft_limit_pct: LimitPct::HUNDRED,
        }
    }

    /// The most units held + committed may reach.
    pub fn limit(&self) -> i64 {
        self.hard_limit_pct.of(self.capacity)
    }

    /// Above this many units a successful hold carries a warning.
    pub fn soft_limit(&self) -> i64 {
        self.soft_limit_pct.of(self.capacity)
    }

    /// Whether the soft limit is within the hard one ([`soft_within_hard`]).
    pub fn is_consistent(&self) -> bool {
        soft_within_hard(self.soft_limit_pct, self.hard_limit_pct)
    }
}

/// Why asked-for limits were refused; each names the request field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("{0}")]
    Capacity(UnitError),
    #[error("{0}")]
    HardLimit(UnitError),
    #[error("{0}")]
    SoftLimit(UnitError),
    #[error("must not exceed hard_limit_pct")]
    SoftAboveHard,
}

impl LimitsError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            LimitsError::Capacity(_) => "capacity",
            LimitsError::HardLimit(_) => "hard_limit_pct",
            LimitsError::SoftLimit(_) | LimitsError::SoftAboveHard => "soft_limit_pct",
        }
    }
}

impl PoolLimits {
    /// Limits from a request's figures. The hard limit defaults to 100%; the soft one to the
    /// lower of 100% and the hard one, so a pool capped below its capacity does not warn only
    /// once it is already refused. Every error is returned, in field order, so a client learns
    /// of all its mistakes at once.
    pub fn from_request(
        capacity: i64,
        hard_limit_pct: Option<i64>,
        soft_limit_pct: Option<i64>,
    ) -> Result<PoolLimits, Vec<LimitsError>> {
        let mut errors = Vec::new();
        let capacity = Capacity::new(capacity)
            .map_err(|error| errors.push(LimitsError::Capacity(error)))
            .ok();
        let hard = LimitPct::new(hard_limit_pct.unwrap_or(DEFAULT_HARD_LIMIT_PCT))
            .map_err(|error| errors.push(LimitsError::HardLimit(error)))
            .ok();
        let soft = match soft_limit_pct {
            Some(pct) => LimitPct::new(pct)
                .map_err(|error| errors.push(LimitsError::SoftLimit(error)))
                .ok(),
            None => hard.map(|hard| hard.min(LimitPct::HUNDRED)),
        };
        if let (Some(hard), Some(soft)) = (hard, soft)
            && !soft_within_hard(soft, hard)
        {
            errors.push(LimitsError::SoftAboveHard);
        }
        match (capacity, hard, soft) {
            (Some(capacity), Some(hard_limit_pct), Some(soft_limit_pct)) if errors.is_empty() => {
                Ok(PoolLimits {
                    capacity,
                    hard_limit_pct,
                    soft_limit_pct,
                })
            }
            _ => Err(errors),
        }
    }
}

/// The soft limit may not sit above the hard one: a warning that can never fire is a mistake.
pub fn soft_within_hard(soft: LimitPct, hard: LimitPct) -> bool {
    soft <= hard
}

/// `used` as a percentage of `whole`, two decimals: a display figure, never an input to a
/// decision. Of a whole of 0, any use reads as 100% (full) and none as 0%.
pub fn utilization_pct(used: i64, whole: i64) -> f64 {
    if whole == 0 {
        if used > 0 { 100.0 } else { 0.0 }
    } else {
        (used as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// Whether a hold of `quantity` would be placed now on a pool that is `active` and has
/// `available` units (its least headroom over itself and its ancestors).
pub fn can_hold(active: bool, available: i64, quantity: Quantity) -> bool {
    active && available >= quantity.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(value: i64) -> LimitPct {
        LimitPct::new(value).expect("a valid percentage")
    }

    #[test]
    fn left_out_limits_are_a_hard_and_soft_limit_of_exactly_the_capacity() {
        let limits = PoolLimits::from_request(500, None, None).expect("valid");
        assert_eq!(limits.hard_limit_pct, pct(100));
        assert_eq!(limits.soft_limit_pct, pct(100));
    }

    #[test]
    fn a_hard_limit_below_100_pulls_the_default_soft_limit_down_with_it() {
        // Otherwise a pool capped at 80% would be refused for a soft limit it never asked for.
        let limits = PoolLimits::from_request(100, Some(80), None).expect("valid");
        assert_eq!(limits.soft_limit_pct, pct(80));
    }

    #[test]
    fn an_overage_band_keeps_the_default_soft_limit_at_capacity() {
        // A campaign quota with 10% overage warns from its capacity and blocks above 110%.
        let limits = PoolLimits::from_request(100, Some(110), None).expect("valid");
        assert_eq!(
            (limits.soft_limit(), limits.limit()),
            (100, 110),
            "warn above capacity, block above the limit"
        );
    }

    #[test]
    fn a_soft_limit_above_the_hard_one_is_refused_on_the_soft_field() {
        let refused = PoolLimits::from_request(100, Some(100), Some(120)).expect_err("refused");
        assert_eq!(refused, vec![LimitsError::SoftAboveHard]);
        assert_eq!(refused[0].field(), "soft_limit_pct");
        assert_eq!(refused[0].to_string(), "must not exceed hard_limit_pct");
    }

    #[test]
    fn every_bad_figure_is_reported_at_once_in_field_order() {
        let refused = PoolLimits::from_request(-1, Some(0), Some(0)).expect_err("refused");
        let fields: Vec<&str> = refused.iter().map(LimitsError::field).collect();
        assert_eq!(fields, vec!["capacity", "hard_limit_pct", "soft_limit_pct"]);
    }

    #[test]
    fn soft_above_hard_is_reported_beside_a_bad_capacity() {
        let refused = PoolLimits::from_request(-1, Some(50), Some(60)).expect_err("refused");
        assert_eq!(
            refused.iter().map(LimitsError::field).collect::<Vec<_>>(),
            vec!["capacity", "soft_limit_pct"]
        );
    }

    #[test]
    fn utilization_reads_overage_above_100_and_an_empty_whole_as_full_or_empty() {
        assert_eq!(utilization_pct(110, 100), 110.0);
        assert_eq!(utilization_pct(1, 3), 33.33);
        assert_eq!(utilization_pct(0, 0), 0.0);
        assert_eq!(utilization_pct(5, 0), 100.0);
    }

    #[test]
    fn a_hold_fits_exactly_and_never_on_an_inactive_pool() {
        let two = Quantity::new(2).expect("valid");
        assert!(can_hold(true, 2, two));
        assert!(!can_hold(true, 1, two));
        assert!(!can_hold(false, 100, two));
    }
}
