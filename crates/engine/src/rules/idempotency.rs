//! Idempotency keys: the same key with the same request within the window replays the first
//! answer without acting again; with another request it is refused; past the window the key may
//! be used afresh.

use allot_core::UnixMillis;

/// Idempotency records are honoured this long (24 h), then the key may be used afresh.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// What a store keeps of a key's first use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub request_hash: String,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Never used, or used longer ago than the window: act, and keep the answer.
    Fresh,
    /// The same request again: answer what was answered the first time.
    Replay,
    /// Another request under a key still in its window.
    Mismatch,
}

pub fn decide(previous: Option<&KeyRecord>, request_hash: &str, now: UnixMillis) -> KeyUse {
    match previous {
        Some(record) if now.0 - record.created_at.0 < IDEMPOTENCY_WINDOW_MS => {
            if record.request_hash == request_hash {
                KeyUse::Replay
            } else {
                KeyUse::Mismatch
            }
        }
        _ => KeyUse::Fresh,
    }
}

/// Records created at or before this instant are past their window and may be forgotten.
pub fn forget_before(now: UnixMillis) -> UnixMillis {
    UnixMillis(now.0 - IDEMPOTENCY_WINDOW_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str, at: i64) -> KeyRecord {
        KeyRecord {
            request_hash: hash.to_owned(),
            created_at: UnixMillis(at),
        }
    }

    #[test]
    fn a_new_key_acts() {
        assert_eq!(decide(None, "h", UnixMillis(5)), KeyUse::Fresh);
    }

    #[test]
    fn the_same_request_replays_and_another_is_refused_within_the_window() {
        let first = record("h", 1_000);
        let inside = UnixMillis(1_000 + IDEMPOTENCY_WINDOW_MS - 1);
        assert_eq!(decide(Some(&first), "h", inside), KeyUse::Replay);
        assert_eq!(decide(Some(&first), "other", inside), KeyUse::Mismatch);
    }

    #[test]
    fn a_key_past_its_window_acts_afresh_even_with_another_request() {
        // A client reusing yesterday's cart key for today's cart must not get yesterday's hold.
        let first = record("h", 1_000);
        let after = UnixMillis(1_000 + IDEMPOTENCY_WINDOW_MS);
        assert_eq!(decide(Some(&first), "other", after), KeyUse::Fresh);
        assert_eq!(decide(Some(&first), "h", after), KeyUse::Fresh);
        assert_eq!(forget_before(after), UnixMillis(1_000));
    }
}
