//! Dated sessions (a tour per day): one session pool serves many calendar dates. Each date gets its own
//! instance pool, made on first use with the session's capacity and limits. An instance's id is
//! derived from the session's id and the date, so addressing a date never needs a lookup.
//!
//! Dates are calendar dates in the session's time zone ([`SessionZone`], UTC unless the session
//! names one): a date is over once it has ended there, so an evening show in Los Angeles can still
//! be booked after midnight UTC.

use crate::pool::PoolId;
use crate::units::UnixMillis;
use std::fmt;

/// How far behind UTC the furthest-west time zones are (Etc/GMT+12).
const EARLIEST_OFFSET_MS: i64 = 12 * 3_600_000;
/// How far ahead of UTC the furthest-east time zones are (Pacific/Kiritimati).
const LATEST_OFFSET_MS: i64 = 14 * 3_600_000;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionDate(time::Date);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("must be a calendar date written YYYY-MM-DD")]
    Malformed,
    #[error("is in the past")]
    InThePast,
    #[error("is in the past (in the session's time zone, {zone})")]
    OverIn { zone: String },
}

/// The time zone a session's dates are calendar dates in: an IANA name such as
/// `America/New_York`, looked up in the time zone database built into allot.
#[derive(Debug, Clone)]
pub struct SessionZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a time zone allot knows: give an IANA name such as Europe/Paris or UTC")]
pub struct UnknownZone;

impl SessionZone {
    pub fn utc() -> Self {
        SessionZone {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// An IANA time zone name (`Europe/Paris`, `UTC`), as the database spells it.
    pub fn parse(name: &str) -> Result<SessionZone, UnknownZone> {
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| UnknownZone)?;
        // The database's own spelling: `europe/paris` is kept as `Europe/Paris`. Its entries
        // that are not places (`Etc/Unknown`, `Factory`) are refused.
        let name = zone.iana_name().ok_or(UnknownZone)?.to_owned();
        if ["Etc/Unknown", "Factory"].contains(&name.as_str()) {
            return Err(UnknownZone);
        }
        Ok(SessionZone { name, zone })
    }

    /// Every name [`SessionZone::parse`] takes, in the database's own spelling.
    pub fn names() -> Vec<String> {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .filter_map(|name| SessionZone::parse(name.as_str()).ok())
            .map(|zone| zone.name)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The calendar date of `now` in this zone.
    pub fn today(&self, now: UnixMillis) -> SessionDate {
        let at = jiff::Timestamp::from_millisecond(now.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let offset_ms = i64::from(self.zone.to_offset(at).seconds()) * 1000;
        SessionDate::utc_date_of(UnixMillis(now.0.saturating_add(offset_ms)))
    }
}

impl PartialEq for SessionZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for SessionZone {}

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

    /// Parses a date for a new hold, waiting-list entry or change, before the session (and so
    /// its time zone) is known: refuses only a date that is over in every time zone. The writer
    /// decides in the session's own zone ([`SessionDate::is_past_in`]).
    pub fn parse_upcoming(text: &str, now: UnixMillis) -> Result<SessionDate, DateError> {
        let date = SessionDate::parse(text)?;
        if date < SessionDate::earliest_today(now) {
            return Err(DateError::InThePast);
        }
        Ok(date)
    }

    /// The UTC date of `now`.
    pub fn today(now: UnixMillis) -> SessionDate {
        SessionDate::utc_date_of(now)
    }

    fn utc_date_of(at: UnixMillis) -> SessionDate {
        let at = time::OffsetDateTime::from_unix_timestamp(at.0.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        SessionDate(at.date())
    }

    /// The earliest date that is today somewhere: the zones furthest west are 12 hours behind UTC.
    pub fn earliest_today(now: UnixMillis) -> SessionDate {
        SessionDate::today(UnixMillis(now.0.saturating_sub(EARLIEST_OFFSET_MS)))
    }

    /// The latest date that is today somewhere: the zones furthest east are 14 hours ahead of
    /// UTC. Every date that is over anywhere is before it.
    pub fn latest_today(now: UnixMillis) -> SessionDate {
        SessionDate::today(UnixMillis(now.0.saturating_add(LATEST_OFFSET_MS)))
    }

    /// Before today in `zone`: a date no one can book any more.
    pub fn is_past_in(self, now: UnixMillis, zone: &SessionZone) -> bool {
        self < zone.today(now)
    }

    /// The date, unless it is over in `zone`.
    pub fn upcoming_in(
        self,
        now: UnixMillis,
        zone: &SessionZone,
    ) -> Result<SessionDate, DateError> {
        if self.is_past_in(now, zone) {
            return Err(DateError::OverIn {
                zone: zone.name().to_owned(),
            });
        }
        Ok(self)
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

    fn zone(name: &str) -> SessionZone {
        SessionZone::parse(name).expect("a known zone")
    }

    #[test]
    fn today_is_the_date_in_the_sessions_zone() {
        let now = UnixMillis(1_796_515_199_999); // 2026-12-05T23:59:59.999Z
        let utc = SessionZone::utc();
        assert_eq!(utc.today(now).to_string(), "2026-12-05");
        assert_eq!(SessionDate::today(now), utc.today(now));
        // 15:59 in Los Angeles (UTC-8 in winter), 13:59 the next day on Kiritimati (UTC+14).
        assert_eq!(
            zone("America/Los_Angeles").today(now).to_string(),
            "2026-12-05"
        );
        assert_eq!(
            zone("Pacific/Kiritimati").today(now).to_string(),
            "2026-12-06"
        );

        // Half an hour later the 5th is over in UTC but not in Los Angeles.
        let later = UnixMillis(now.0 + 30 * 60_000);
        let fifth = SessionDate::parse("2026-12-05").expect("valid date");
        assert!(fifth.is_past_in(later, &utc));
        assert!(!fifth.is_past_in(later, &zone("America/Los_Angeles")));
        assert!(!fifth.is_past_in(now, &utc));

        // Summer time: 2026-07-01T06:30Z is still June 30 in Los Angeles (UTC-7), not at UTC-8.
        let july = UnixMillis(1_782_887_400_000);
        assert_eq!(
            zone("America/Los_Angeles").today(july).to_string(),
            "2026-06-30"
        );
        assert_eq!(zone("Etc/GMT+8").today(july).to_string(), "2026-06-30");
        assert_eq!(zone("Etc/GMT+6").today(july).to_string(), "2026-07-01");
    }

    #[test]
    fn before_the_zone_is_known_only_a_date_over_everywhere_is_refused() {
        let now = UnixMillis(1_796_517_000_000); // 2026-12-06T00:30Z: 12:30 on the 5th at UTC-12
        assert_eq!(SessionDate::earliest_today(now).to_string(), "2026-12-05");
        assert_eq!(SessionDate::latest_today(now).to_string(), "2026-12-06");
        let noon = UnixMillis(now.0 + 10 * 3_600_000); // 10:30Z: 00:30 on the 7th at UTC+14
        assert_eq!(SessionDate::latest_today(noon).to_string(), "2026-12-07");
        assert!(SessionDate::parse_upcoming("2026-12-05", now).is_ok());
        assert_eq!(
            SessionDate::parse_upcoming("2026-12-04", now),
            Err(DateError::InThePast)
        );
    }

    #[test]
    fn the_zone_names_listed_are_the_ones_taken() {
        let names = SessionZone::names();
        assert!(names.len() > 300, "{} names", names.len());
        for name in ["Europe/Paris", "America/New_York", "UTC"] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        assert!(!names.iter().any(|n| n == "Factory" || n == "Etc/Unknown"));
        for name in &names {
            assert_eq!(
                SessionZone::parse(name).map(|zone| zone.name),
                Ok(name.clone())
            );
        }
    }

    #[test]
    fn zones_are_iana_names_in_the_databases_spelling() {
        assert_eq!(zone("europe/paris").name(), "Europe/Paris");
        assert_eq!(zone("UTC"), SessionZone::utc());
        for bad in [
            "Mars/Olympus_Mons",
            "",
            "+05:00",
            "UTC+5",
            "Europe/",
            "etc/unknown",
            "Factory",
        ] {
            assert_eq!(
                SessionZone::parse(bad).map(|_| ()),
                Err(UnknownZone),
                "{bad}"
            );
        }
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
