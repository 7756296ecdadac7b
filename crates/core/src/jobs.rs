//! How a bulk job walks its items: chunk sizes and the limits on them, the next chunk after a
//! job's cursor, when a chunk is the job's last, the total a job announces, its rate, and how
//! long to wait before retrying a chunk that failed.
//!
//! A job keeps a cursor (the last item a chunk took) so a restart resumes after it; everything
//! here is a function of that cursor and the job's figures, never of a clock or a store.

use crate::units::{UnitError, UnixMillis};
use std::time::Duration;

/// Items per chunk of ticket generation when the request names none.
pub const DEFAULT_TICKET_CHUNK: usize = 1_000;
/// Largest chunk of ticket generation: one transaction each, so this bounds how long one chunk
/// holds the writer.
pub const MAX_TICKET_CHUNK: usize = 10_000;
/// Most items a job may be limited to.
pub const MAX_ITEM_LIMIT: i64 = 100_000_000;
/// Quotas per chunk of a bulk quota adjustment: one transaction each.
pub const QUOTA_CHUNK: usize = 500;

/// A requested chunk size, 1 to [`MAX_TICKET_CHUNK`]; [`DEFAULT_TICKET_CHUNK`] when left out.
pub fn ticket_chunk(requested: Option<i64>) -> Result<usize, UnitError> {
    let chunk = requested.unwrap_or(DEFAULT_TICKET_CHUNK as i64);
    if (1..=MAX_TICKET_CHUNK as i64).contains(&chunk) {
        Ok(chunk as usize)
    } else {
        Err(UnitError::OutOfRange {
            min: 1,
            max: MAX_TICKET_CHUNK as i64,
        })
    }
}

/// A requested limit on the items a job looks at: 1 to [`MAX_ITEM_LIMIT`].
pub fn item_limit(limit: i64) -> Result<i64, UnitError> {
    if (1..=MAX_ITEM_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(UnitError::OutOfRange {
            min: 1,
            max: MAX_ITEM_LIMIT,
        })
    }
}

/// The total a job announces: the items there are, or fewer when it is limited.
pub fn job_total(limit: Option<i64>, available: i64) -> i64 {
    limit.map_or(available, |limit| limit.min(available))
}

/// The next `want` items of a sorted list after `cursor` (the last item a chunk took), and
/// whether they reach its end: how a job walks a list given in its parameters.
pub fn next_after<'l>(
    list: &'l [String],
    cursor: Option<&str>,
    want: usize,
) -> (&'l [String], bool) {
    let start = cursor.map_or(0, |cursor| {
        list.partition_point(|item| item.as_str() <= cursor)
    });
    let end = start.saturating_add(want).min(list.len());
    (&list[start..end], end == list.len())
}

/// The size of a job's next chunk, given how many items it has `done` under its `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Items to take; 0 once the limit is reached.
    pub want: usize,
    /// Items the limit still allows.
    remaining: i64,
}

impl ChunkPlan {
    pub fn next(chunk: usize, limit: Option<i64>, done: i64) -> ChunkPlan {
        let remaining = limit.map_or(i64::MAX, |limit| limit - done);
        let want = (chunk.max(1) as i64).min(remaining.max(0)) as usize;
        ChunkPlan { want, remaining }
    }

    /// Whether a chunk of `taken` items is the job's last: its source is `exhausted`, or the
    /// chunk reaches the limit.
    pub fn is_last(&self, taken: usize, exhausted: bool) -> bool {
        exhausted || taken as i64 >= self.remaining
    }
}

/// Items per second from `since` to `until`, one decimal.
pub fn rate_per_second(done: i64, since: UnixMillis, until: UnixMillis) -> f64 {
    if done == 0 {
        return 0.0;
    }
    let millis = (until.0 - since.0).max(1);
    (done as f64 * 1000.0 / millis as f64 * 10.0).round() / 10.0
}

/// How long to wait before the `attempt`th retry of a failed chunk: doubling from 100 ms,
/// never more than five seconds.
pub fn retry_backoff(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(7)).min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn a_list_is_walked_after_the_cursor_to_its_end() {
        let items = list(&["a", "b", "c", "d", "e"]);
        assert_eq!(next_after(&items, None, 2), (&items[0..2], false));
        assert_eq!(next_after(&items, Some("b"), 2), (&items[2..4], false));
        assert_eq!(next_after(&items, Some("d"), 2), (&items[4..5], true));
        // A cursor between items (the one it named was removed) resumes after where it was.
        assert_eq!(next_after(&items, Some("bb"), 10), (&items[2..5], true));
        assert_eq!(next_after(&items, Some("e"), 2), (&items[5..5], true));
    }

    #[test]
    fn a_chunk_never_takes_past_the_limit_and_the_one_reaching_it_is_last() {
        let plan = ChunkPlan::next(1_000, Some(2_500), 2_000);
        assert_eq!(plan.want, 500);
        assert!(plan.is_last(500, false));
        assert!(!ChunkPlan::next(1_000, Some(2_500), 1_000).is_last(1_000, false));
    }

    #[test]
    fn a_limit_reached_wants_nothing_and_unlimited_jobs_end_with_their_source() {
        assert_eq!(ChunkPlan::next(1_000, Some(10), 10).want, 0);
        let plan = ChunkPlan::next(0, None, 5);
        assert_eq!(plan.want, 1, "a chunk of 0 would never move");
        assert!(!plan.is_last(1, false));
        assert!(plan.is_last(0, true));
    }

    #[test]
    fn chunk_sizes_and_limits_have_their_ranges() {
        assert_eq!(ticket_chunk(None), Ok(DEFAULT_TICKET_CHUNK));
        assert_eq!(ticket_chunk(Some(1)), Ok(1));
        assert_eq!(
            ticket_chunk(Some(0)).map_err(|e| e.to_string()),
            Err("must be between 1 and 10000".to_owned())
        );
        assert!(ticket_chunk(Some(MAX_TICKET_CHUNK as i64 + 1)).is_err());
        assert_eq!(
            item_limit(0).map_err(|e| e.to_string()),
            Err("must be between 1 and 100000000".to_owned())
        );
        assert_eq!(job_total(Some(10), 4), 4);
        assert_eq!(job_total(Some(3), 4), 3);
        assert_eq!(job_total(None, 4), 4);
    }

    #[test]
    fn the_rate_is_per_second_and_nothing_done_is_zero() {
        assert_eq!(rate_per_second(0, UnixMillis(0), UnixMillis(0)), 0.0);
        assert_eq!(
            rate_per_second(500, UnixMillis(0), UnixMillis(2_000)),
            250.0
        );
        // Done in the same millisecond it started: no division by zero.
        assert_eq!(rate_per_second(3, UnixMillis(7), UnixMillis(7)), 3000.0);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_five_seconds() {
        let waits: Vec<u128> = (1..=9).map(|n| retry_backoff(n).as_millis()).collect();
        assert_eq!(
            waits,
            vec![100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]
        );
    }
}
