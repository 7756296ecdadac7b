//! Validated values. Each constructor refuses what the domain cannot hold, so a `Quantity` is
//! always at least 1 and no sum of counters can overflow an `i64`.

use std::fmt;

/// Largest quantity one hold line may ask for.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
/// Largest capacity a pool may have. With `MAX_LIMIT_PCT` the largest limit still fits an i64
/// many times over, so counter arithmetic never overflows.
pub const MAX_CAPACITY: i64 = 1_000_000_000_000;
/// Largest hard limit, as a percentage of capacity (a campaign quota with 10% overage uses 110).
pub const MAX_LIMIT_PCT: u32 = 1_000;
/// Longest a hold may live before it expires: 30 days.
pub const MAX_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// Why a value was refused. The message is written for the API client who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("must be between {min} and {max}")]
    OutOfRange { min: i64, max: i64 },
}

fn in_range(value: i64, min: i64, max: i64) -> Result<i64, UnitError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(UnitError::OutOfRange { min, max })
    }
}

/// How many units one line asks for: 1 ..= `MAX_QUANTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    pub fn new(value: i64) -> Result<Self, UnitError> {
        in_range(value, 1, MAX_QUANTITY).map(Self)
    }
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A pool's capacity: 0 ..= `MAX_CAPACITY` (0 is a pool that admits nobody yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capacity(i64);

impl Capacity {
    pub fn new(value: i64) -> Result<Self, UnitError> {
        in_range(value, 0, MAX_CAPACITY).map(Self)
    }
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A limit as a percentage of capacity: 1 ..= `MAX_LIMIT_PCT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LimitPct(u32);

impl LimitPct {
    pub const HUNDRED: LimitPct = LimitPct(100);

    pub fn new(value: i64) -> Result<Self, UnitError> {
        in_range(value, 1, i64::from(MAX_LIMIT_PCT)).map(|v| Self(v as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
    /// `capacity × pct / 100`, rounded down: the number of units this percentage allows.
    pub fn of(self, capacity: Capacity) -> i64 {
        capacity.get() * i64::from(self.0) / 100
    }
}

/// How long a hold lives before it expires: 1 ..= `MAX_TTL_SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TtlSeconds(i64);

impl TtlSeconds {
    /// An event cart's reservation: 15 minutes.
    pub const DEFAULT: TtlSeconds = TtlSeconds(900);

    pub fn new(value: i64) -> Result<Self, UnitError> {
        in_range(value, 1, MAX_TTL_SECONDS).map(Self)
    }
    pub fn get(self) -> i64 {
        self.0
    }
}

/// An instant as milliseconds since the Unix epoch, UTC. The core never reads a clock:
/// callers pass `now` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    pub fn plus(self, ttl: TtlSeconds) -> UnixMillis {
        UnixMillis(self.0 + ttl.get() * 1000)
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_refuses_zero_negative_and_huge() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-1).is_err());
        assert!(Quantity::new(MAX_QUANTITY + 1).is_err());
        assert!(Quantity::new(i64::MAX).is_err());
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
    }

    #[test]
    fn limit_pct_rounds_down() {
        let cap = Capacity::new(15).expect("valid capacity");
        assert_eq!(LimitPct::new(110).expect("valid pct").of(cap), 16);
        assert_eq!(LimitPct::HUNDRED.of(cap), 15);
    }

    #[test]
    fn largest_limit_fits_in_i64() {
        let cap = Capacity::new(MAX_CAPACITY).expect("valid capacity");
        let pct = LimitPct::new(i64::from(MAX_LIMIT_PCT)).expect("valid pct");
        assert_eq!(pct.of(cap), MAX_CAPACITY * 10);
    }
}
