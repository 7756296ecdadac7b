//! The checks every request body shares: field errors collected so a client learns of every
//! mistake at once, and the shapes of names, ids, units, text, prices, metadata and dates. The
//! rules behind the values (limits, priorities, adjustments) are the core's; this only turns
//! their refusals into field errors.

use crate::error::{ApiError, FieldError};
use crate::views::pools::{PriceBody, ThresholdBody};
use allot_core::thresholds::{self, Severity, Threshold};
use allot_core::waitlist::{PromotionMode, WaitlistPolicy};
use allot_core::{PoolLimits, SessionDate, UnitError, UnixMillis};
use allot_store::{Price, ThresholdRecord};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub(super) const MAX_NAME_CHARS: usize = 200;
pub(super) const MAX_UNIT_CHARS: usize = 32;
pub(super) const MAX_HOLDER_CHARS: usize = 200;
pub(super) const MAX_REASON_CHARS: usize = 500;
pub(super) const MAX_METADATA_BYTES: usize = 16 * 1024;
pub(super) const MAX_ID_CHARS: usize = 100;

/// Collects field errors, so a client learns of every mistake at once.
#[derive(Default)]
pub(super) struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    pub(super) fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub(super) fn unit<T>(&mut self, field: &str, result: Result<T, UnitError>) -> Option<T> {
        result
            .map_err(|error| self.fail(field, error.to_string()))
            .ok()
    }

    pub(super) fn text(&mut self, field: &str, value: &str, max_chars: usize) {
        if value.trim().is_empty() {
            self.fail(field, "must not be empty");
        } else if value.chars().count() > max_chars {
            self.fail(field, format!("must be at most {max_chars} characters"));
        } else if value.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
    }

    pub(super) fn id(&mut self, field: &str, value: &str) {
        if value.is_empty()
            || value.len() > MAX_ID_CHARS
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.fail(field, "is not a valid id");
        }
    }

    pub(super) fn price(&mut self, field: &str, price: &PriceBody) -> Price {
        if price.amount_minor < 0 {
            self.fail(&format!("{field}.amount_minor"), "must not be negative");
        }
        if price.currency.len() != 3 || !price.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            self.fail(
                &format!("{field}.currency"),
                "must be an ISO 4217 code such as EUR",
            );
        }
        Price {
            amount_minor: price.amount_minor,
            currency: price.currency.clone(),
        }
    }

    pub(super) fn metadata(&mut self, value: &Value) {
        if !value.is_object() {
            self.fail("metadata", "must be a JSON object");
        } else if value.to_string().len() > MAX_METADATA_BYTES {
            self.fail(
                "metadata",
                format!("must be at most {MAX_METADATA_BYTES} bytes"),
            );
        }
    }

    /// A capacity and its limits as a pool or a plan takes them ([`PoolLimits::from_request`]).
    pub(super) fn limits(
        &mut self,
        capacity: i64,
        hard_limit_pct: Option<i64>,
        soft_limit_pct: Option<i64>,
    ) -> Option<PoolLimits> {
        PoolLimits::from_request(capacity, hard_limit_pct, soft_limit_pct)
            .map_err(|errors| {
                for error in errors {
                    self.fail(error.field(), error.to_string());
                }
            })
            .ok()
    }

    /// A session's date as the client addresses it: `YYYY-MM-DD`, not over everywhere (the
    /// writer decides in the session's time zone).
    pub(super) fn date(&mut self, field: &str, text: &str, now: UnixMillis) -> Option<SessionDate> {
        SessionDate::parse_upcoming(text, now)
            .map_err(|error| self.fail(field, error.to_string()))
            .ok()
    }

    /// A name a tenant gives (a recipient group, a priority class): 1 to 64 letters, digits,
    /// '_' or '-'.
    pub(super) fn name(&mut self, field: &str, name: &str) {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.fail(field, "a name is 1 to 64 letters, digits, '_' or '-'");
        }
    }

    pub(super) fn waitlist_policy(&mut self, value: &str) -> Option<WaitlistPolicy> {
        let policy = WaitlistPolicy::parse(value);
        if policy.is_none() {
            self.fail("waitlist_policy", "must be strict or skip");
        }
        policy
    }

    pub(super) fn waitlist_mode(&mut self, value: &str) -> Option<PromotionMode> {
        let mode = PromotionMode::parse(value);
        if mode.is_none() {
            self.fail("waitlist_mode", "must be offer or confirm");
        }
        mode
    }

    pub(super) fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match (self.errors.is_empty(), value) {
            (true, Some(value)) => Ok(value),
            _ => Err(ApiError::validation(self.errors)),
        }
    }
}

/// Distinguishes a field sent as `null` (Some(None)) from one left out (None).
pub(super) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(super) fn check_thresholds(
    checks: &mut Checks,
    thresholds: &[ThresholdBody],
) -> Vec<ThresholdRecord> {
    let mut records = Vec::with_capacity(thresholds.len());
    let mut core = Vec::with_capacity(thresholds.len());
    for (index, threshold) in thresholds.iter().enumerate() {
        let Some(severity) = Severity::parse(&threshold.severity) else {
            checks.fail(
                &format!("thresholds[{index}].severity"),
                "must be info, warning, error or critical",
            );
            continue;
        };
        for group in &threshold.recipients {
            checks.name(&format!("thresholds[{index}].recipients"), group);
        }
        let entry = Threshold {
            pct: threshold.pct,
            severity,
            recipients: threshold.recipients.clone(),
            throttle_seconds: threshold.throttle_seconds,
        };
        records.push(ThresholdRecord::from_core(&entry));
        core.push(entry);
    }
    if let Err(message) = thresholds::validate(&core) {
        checks.fail("thresholds", message);
    }
    records
}

pub(super) fn check_unit(checks: &mut Checks, unit: &str) {
    check_unit_field(checks, "unit", unit);
}

pub(super) fn check_unit_field(checks: &mut Checks, field: &str, unit: &str) {
    if unit.is_empty()
        || unit.len() > MAX_UNIT_CHARS
        || !unit
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        checks.fail(
            field,
            "must be 1 to 32 lowercase letters, digits, '_' or '-'",
        );
    }
}
