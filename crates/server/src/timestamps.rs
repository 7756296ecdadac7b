//! Timestamps as the API writes and reads them: RFC 3339 in UTC with milliseconds.

use allot_core::UnixMillis;

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T08:00:00.000Z`.
/// Always three fraction digits (the well-known `Rfc3339` format trims them: `…:20Z`, `….5Z`), so
/// every timestamp has one width and sorts as text.
pub fn rfc3339(at: UnixMillis) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let nanos = i128::from(at.0) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 time (any offset) into milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<UnixMillis> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(UnixMillis)
}
