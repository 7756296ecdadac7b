//! Dated sessions (seed 000): one session pool serves many calendar dates. Each date gets its own
//! instance pool, made on first use with the session's capacity and limits. An instance's id is
//! derived from the session's id and the date, so addressing a date never needs a lookup.
//!
//! Dates are calendar dates in UTC: "today" is the UTC date of `now`.

use crate::pool::PoolId;
use crate::units::UnixMillis;
use std::fmt;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionDate(time::Date);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("must be a calendar date written YYYY-MM-DD")]
    Malformed,
    #[error("is in the past (dates are UTC)")]
    InThePast,
}

const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl SessionDate {
    /// Parses `YYYY-MM-DD`, refusing anything else (no times, no other separators).
    pub fn parse(text: &str) -> Result<SessionDate, DateError> {
        if text.len() != 10 {
            return Err(DateError::Malformed);
        }
        time::Date::parse(text, FORMAT)
            .map(SessionDate)
            .map_err(|_| DateError::Malformed)
    }

    /// Parses a date for a new hold, waiting-list entry or change: today or later.
    pub fn parse_upcoming(text: &str, now: UnixMillis) -> Result<SessionDate, DateError> {
        let date = SessionDate::parse(text)?;
        if date.is_past(now) {
            return Err(DateError::InThePast);
        }
        Ok(date)
    }

    /// The UTC date of `now`.
    pub fn today(now: UnixMillis) -> SessionDate {
        let at = time::OffsetDateTime::from_unix_timestamp(now.0.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        SessionDate(at.date())
    }

    /// Before today (UTC): a date no one can book any more.
    pub fn is_past(self, now: UnixMillis) -> bool {
        self < SessionDate::today(now)
    }

    /// The id of this date's instance of `session`.
    pub fn instance_id(self, session: &PoolId) -> PoolId {
        PoolId(format!("{session}-{self}"))
    }

    /// Splits an instance id back into its session and date; `None` for any other id.
    pub fn split_instance_id(id: &PoolId) -> Option<(PoolId, SessionDate)> {
        let split = id.0.len().checked_sub(11)?;
        // Ids come from clients: the cut must fall between characters, not inside one.
        if !id.0.is_char_boundary(split) {
            return None;
        }
        let (session, suffix) = id.0.split_at(split);
        let date = suffix.strip_prefix('-')?;
        let date = SessionDate::parse(date).ok()?;
        (!session.is_empty()).then(|| (PoolId(session.to_owned()), date))
    }
}

impl fmt::Display for SessionDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = (self.0.year(), self.0.month() as u8, self.0.day());
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(
            SessionDate::parse("2026-12-05").map(|d| d.to_string()),
            Ok("2026-12-05".to_owned())
        );
        for bad in [
            "2026-2-05",
            "2026-02-30",
            "26-12-05",
            "2026/12/05",
            "2026-12-05T00:00",
            "",
        ] {
            assert_eq!(SessionDate::parse(bad), Err(DateError::Malformed), "{bad}");
        }
    }

    #[test]
    fn today_is_the_utc_date_and_yesterday_is_past() {
        let now = UnixMillis(1_796_515_199_999); // 2026-12-05T23:59:59.999Z
        let today = SessionDate::today(now);
        assert_eq!(today.to_string(), "2026-12-05");
        assert!(!today.is_past(now));
        let yesterday = SessionDate::today(UnixMillis(now.0 - DAY_MS));
        assert!(yesterday.is_past(now));
        assert_eq!(
            SessionDate::parse_upcoming(&yesterday.to_string(), now),
            Err(DateError::InThePast)
        );
    }

    #[test]
    fn instance_ids_round_trip() {
        let session = PoolId("pool_abc".to_owned());
        let date = SessionDate::parse("2027-01-31").expect("valid date");
        let id = date.instance_id(&session);
        assert_eq!(id.0, "pool_abc-2027-01-31");
        assert_eq!(SessionDate::split_instance_id(&id), Some((session, date)));
        assert_eq!(SessionDate::split_instance_id(&"pool_abc".into()), None);
        assert_eq!(SessionDate::split_instance_id(&"-2027-01-31".into()), None);
    }
}
