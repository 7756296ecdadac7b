//! A hold's lifecycle as pure transitions: held → confirmed, held | confirmed → released,
//! held → expired. Like a two-phase transfer: pending, then posted, voided or expired.

use crate::units::{TtlSeconds, UnixMillis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldStatus {
    Held,
    Confirmed,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Confirmed => "confirmed",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<HoldStatus> {
        match value {
            "held" => Some(HoldStatus::Held),
            "confirmed" => Some(HoldStatus::Confirmed),
            "released" => Some(HoldStatus::Released),
            "expired" => Some(HoldStatus::Expired),
            _ => None,
        }
    }

    /// Whether a hold in this status still occupies capacity.
    pub fn is_live(self) -> bool {
        matches!(self, HoldStatus::Held | HoldStatus::Confirmed)
    }
}

/// What a lifecycle step does to each pool a hold's lines touch (and their ancestors),
/// per unit of the line's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineEffect {
    pub held: i64,
    pub committed: i64,
}

impl LineEffect {
    pub const HOLD: LineEffect = LineEffect {
        held: 1,
        committed: 0,
    };
    pub const HOLD_AND_CONFIRM: LineEffect = LineEffect {
        held: 0,
        committed: 1,
    };
    pub const CONFIRM: LineEffect = LineEffect {
        held: -1,
        committed: 1,
    };
    pub const RELEASE_HELD: LineEffect = LineEffect {
        held: -1,
        committed: 0,
    };
    pub const RELEASE_CONFIRMED: LineEffect = LineEffect {
        held: 0,
        committed: -1,
    };
}

/// Why a lifecycle step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The hold lapsed before the step arrived (HTTP 410).
    #[error("the hold expired")]
    Expired,
    /// The step makes no sense from the hold's current status (HTTP 409).
    #[error("the hold is {}", .0.as_str())]
    WrongStatus(HoldStatus),
}

/// The lifecycle state of one hold: enough to decide every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub status: HoldStatus,
    pub expires_at: UnixMillis,
}

impl Hold {
    /// The status as the world should see it at `now`: a held hold past its deadline is expired
    /// whether or not the sweeper has written that down yet.
    pub fn status_at(&self, now: UnixMillis) -> HoldStatus {
        if self.status == HoldStatus::Held && now >= self.expires_at {
            HoldStatus::Expired
        } else {
            self.status
        }
    }

    pub fn is_due_to_expire(&self, now: UnixMillis) -> bool {
        self.status == HoldStatus::Held && now >= self.expires_at
    }

    /// held → confirmed.
    pub fn confirm(&self, now: UnixMillis) -> Result<(HoldStatus, LineEffect), TransitionError> {
        match self.status_at(now) {
            HoldStatus::Held => Ok((HoldStatus::Confirmed, LineEffect::CONFIRM)),
            HoldStatus::Expired => Err(TransitionError::Expired),
            other => Err(TransitionError::WrongStatus(other)),
        }
    }

    /// held → released, or confirmed → released (a cancellation). Capacity comes back either way.
    pub fn release(&self, now: UnixMillis) -> Result<(HoldStatus, LineEffect), TransitionError> {
        match self.status_at(now) {
            HoldStatus::Held => Ok((HoldStatus::Released, LineEffect::RELEASE_HELD)),
            HoldStatus::Confirmed => Ok((HoldStatus::Released, LineEffect::RELEASE_CONFIRMED)),
            HoldStatus::Expired => Err(TransitionError::Expired),
            other => Err(TransitionError::WrongStatus(other)),
        }
    }

    /// held → expired, once its deadline has passed.
    pub fn expire(&self, now: UnixMillis) -> Option<(HoldStatus, LineEffect)> {
        self.is_due_to_expire(now)
            .then_some((HoldStatus::Expired, LineEffect::RELEASE_HELD))
    }

    /// A held hold gets a new deadline `ttl` from now. Counters do not move.
    pub fn extend(&self, now: UnixMillis, ttl: TtlSeconds) -> Result<UnixMillis, TransitionError> {
        match self.status_at(now) {
            HoldStatus::Held => Ok(now.plus(ttl)),
            HoldStatus::Expired => Err(TransitionError::Expired),
            other => Err(TransitionError::WrongStatus(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_until(ms: i64) -> Hold {
        Hold {
            status: HoldStatus::Held,
            expires_at: UnixMillis(ms),
        }
    }

    #[test]
    fn a_held_hold_past_its_deadline_reads_as_expired() {
        let hold = held_until(1_000);
        assert_eq!(hold.status_at(UnixMillis(999)), HoldStatus::Held);
        assert_eq!(hold.status_at(UnixMillis(1_000)), HoldStatus::Expired);
    }

    #[test]
    fn confirming_or_extending_after_the_deadline_is_expired() {
        let hold = held_until(1_000);
        assert_eq!(
            hold.confirm(UnixMillis(1_000)),
            Err(TransitionError::Expired)
        );
        let ttl = TtlSeconds::new(60).expect("valid ttl");
        assert_eq!(
            hold.extend(UnixMillis(2_000), ttl),
            Err(TransitionError::Expired)
        );
        assert_eq!(hold.extend(UnixMillis(500), ttl), Ok(UnixMillis(60_500)));
    }

    #[test]
    fn releasing_a_confirmed_hold_gives_back_committed_units() {
        let hold = Hold {
            status: HoldStatus::Confirmed,
            expires_at: UnixMillis(0),
        };
        assert_eq!(
            hold.release(UnixMillis(10)),
            Ok((HoldStatus::Released, LineEffect::RELEASE_CONFIRMED))
        );
        assert_eq!(
            hold.expire(UnixMillis(10)),
            None,
            "a confirmed hold never expires"
        );
    }

    #[test]
    fn finished_holds_refuse_every_step() {
        for status in [HoldStatus::Released, HoldStatus::Expired] {
            let hold = Hold {
                status,
                expires_at: UnixMillis(i64::MAX),
            };
            assert!(hold.confirm(UnixMillis(0)).is_err());
            assert!(hold.release(UnixMillis(0)).is_err());
        }
    }
}
