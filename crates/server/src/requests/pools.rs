//! Pools: creating one (a section under an event, a dated tour session, a campaign under a
//! bundle) and changing one.

use super::checks::{
    Checks, MAX_NAME_CHARS, MAX_REASON_CHARS, check_thresholds, check_unit, nullable,
};
use crate::error::ApiError;
use crate::views::pools::{PriceBody, ThresholdBody};
use allot_core::{Capacity, LimitPct, SessionZone, TtlSeconds};
use allot_store::command::{NewPool, PoolPatch};
use allot_store::{Command, WaitlistSettings};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePoolRequest {
    #[schema(example = "Main hall")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[schema(example = 500)]
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub capacity: i64,
    /// What one unit is: seats, credits, learners... Default `units`.
    #[schema(example = "seats")]
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9_-]+$")]
    pub unit: Option<String>,
    /// Make this pool count against another: a section under an event, a campaign under a bundle.
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
    pub parent_id: Option<String>,
    /// Use may reach capacity × hard_limit_pct / 100. Default 100.
    #[schema(example = 100)]
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub hard_limit_pct: Option<i64>,
    /// Above capacity × soft_limit_pct / 100 a hold carries a warning. Default min(100, hard).
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub soft_limit_pct: Option<i64>,
    pub price: Option<PriceBody>,
    /// Free-form JSON object, at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// A session that serves many dates (a tour per day): each date gets its own instance with this
    /// capacity and these limits, made on first use. Holds and waiting lists then name a `date`.
    #[serde(default)]
    pub per_date: bool,
    /// For a session (`per_date`): the IANA time zone its dates are calendar dates in, such as
    /// `America/New_York`; a date is over once it has ended there. Default `UTC`. Set when the
    /// session is created.
    #[schema(example = "Europe/Paris")]
    pub time_zone: Option<String>,
    /// `strict` (default): a request at the head of the waiting list that does not fit blocks the
    /// smaller ones behind it. `skip`: smaller ones may pass it.
    #[schema(example = "strict")]
    #[schema(value_type = Option<crate::requests::names::WaitlistPolicyName>)]
    pub waitlist_policy: Option<String>,
    /// `offer` (default): promotion makes a hold the holder confirms. `confirm`: promotion
    /// books at once.
    #[schema(example = "offer")]
    #[schema(value_type = Option<crate::requests::names::WaitlistModeName>)]
    pub waitlist_mode: Option<String>,
    /// How long an offer's hold lives. Default 900 (15 minutes).
    #[schema(minimum = 1, maximum = 2592000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub offer_ttl_seconds: Option<i64>,
    /// When to alert. Default the campaign table: 80% info → sales (24 h), 90% warning →
    /// company_admin (12 h), 100% error and 110% critical → company_admin and customer_success
    /// (6 h, 1 h). `[]` never alerts.
    pub thresholds: Option<Vec<ThresholdBody>>,
}

impl CreatePoolRequest {
    pub fn validate(self) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        checks.text("name", &self.name, MAX_NAME_CHARS);
        let unit = self.unit.unwrap_or_else(|| "units".to_owned());
        check_unit(&mut checks, &unit);
        if let Some(parent) = &self.parent_id {
            checks.id("parent_id", parent);
        }
        let limits = checks.limits(self.capacity, self.hard_limit_pct, self.soft_limit_pct);
        let price = self
            .price
            .as_ref()
            .map(|price| checks.price("price", price));
        if let Some(metadata) = &self.metadata {
            checks.metadata(metadata);
        }
        let mut waitlist = WaitlistSettings::default();
        if let Some(policy) = &self.waitlist_policy {
            waitlist.policy = checks.waitlist_policy(policy).unwrap_or_default();
        }
        if let Some(mode) = &self.waitlist_mode {
            waitlist.mode = checks.waitlist_mode(mode).unwrap_or_default();
        }
        if let Some(ttl) = self.offer_ttl_seconds {
            waitlist.offer_ttl = checks
                .unit("offer_ttl_seconds", TtlSeconds::new(ttl))
                .unwrap_or(TtlSeconds::DEFAULT);
        }
        let thresholds = self
            .thresholds
            .as_ref()
            .map(|thresholds| check_thresholds(&mut checks, thresholds));
        let time_zone = self.time_zone.as_deref().and_then(|name| {
            if !self.per_date {
                checks.fail(
                    "time_zone",
                    "only a session with dates (per_date: true) has a time zone",
                );
                return None;
            }
            SessionZone::parse(name)
                .map_err(|error| checks.fail("time_zone", error.to_string()))
                .ok()
        });
        let command = limits.map(|limits| {
            Command::CreatePool(NewPool {
                name: self.name.trim().to_owned(),
                unit,
                parent_id: self.parent_id,
                capacity: limits.capacity,
                hard_limit_pct: limits.hard_limit_pct,
                soft_limit_pct: limits.soft_limit_pct,
                price,
                metadata: self.metadata,
                per_date: self.per_date,
                time_zone,
                waitlist,
                thresholds,
            })
        });
        checks.finish(command)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPoolRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    /// Refused with 409 when below what is already held plus committed.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub capacity: Option<i64>,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub hard_limit_pct: Option<i64>,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub soft_limit_pct: Option<i64>,
    /// A new price for new holds; `null` removes it. Existing holds keep their locked price.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<PriceBody>)]
    pub price: Option<Option<PriceBody>>,
    pub active: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Why capacity or limits changed; kept in the ledger.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub reason: Option<String>,
    /// strict or skip (see POST /v1/pools).
    #[schema(value_type = Option<crate::requests::names::WaitlistPolicyName>)]
    pub waitlist_policy: Option<String>,
    /// offer or confirm (see POST /v1/pools).
    #[schema(value_type = Option<crate::requests::names::WaitlistModeName>)]
    pub waitlist_mode: Option<String>,
    #[schema(minimum = 1, maximum = 2592000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub offer_ttl_seconds: Option<i64>,
    /// On a session: also apply a capacity or limit change to the dates already made, from today
    /// on (all of them or none). Default false: only dates made from now on get the new figures.
    #[serde(default)]
    pub apply_to_dates: bool,
    /// New thresholds; `null` goes back to the default campaign table.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ThresholdBody>>)]
    pub thresholds: Option<Option<Vec<ThresholdBody>>>,
    /// Not changeable: a session's time zone is set when it is created (it decides which of
    /// its dates are over). Read here only to be refused with that reason, so the document
    /// leaves it out (a body that names it is not one the schema allows).
    #[schema(ignore)]
    pub time_zone: Option<Value>,
}

impl PatchPoolRequest {
    pub fn validate(self, pool_id: String) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        if self.time_zone.is_some() {
            checks.fail(
                "time_zone",
                "is set when the session is created and cannot be changed",
            );
        }
        if let Some(name) = &self.name {
            checks.text("name", name, MAX_NAME_CHARS);
        }
        if let Some(reason) = &self.reason {
            checks.text("reason", reason, MAX_REASON_CHARS);
        }
        let mut patch = PoolPatch {
            name: self.name.map(|name| name.trim().to_owned()),
            active: self.active,
            reason: self.reason,
            ..PoolPatch::default()
        };
        if let Some(capacity) = self.capacity {
            patch.capacity = checks.unit("capacity", Capacity::new(capacity));
        }
        if let Some(pct) = self.hard_limit_pct {
            patch.hard_limit_pct = checks.unit("hard_limit_pct", LimitPct::new(pct));
        }
        if let Some(pct) = self.soft_limit_pct {
            patch.soft_limit_pct = checks.unit("soft_limit_pct", LimitPct::new(pct));
        }
        if let Some(price) = &self.price {
            patch.price = Some(price.as_ref().map(|price| checks.price("price", price)));
        }
        if let Some(metadata) = &self.metadata {
            checks.metadata(metadata);
        }
        patch.metadata = self.metadata;
        if let Some(policy) = &self.waitlist_policy {
            patch.waitlist_policy = checks.waitlist_policy(policy);
        }
        if let Some(mode) = &self.waitlist_mode {
            patch.waitlist_mode = checks.waitlist_mode(mode);
        }
        if let Some(ttl) = self.offer_ttl_seconds {
            patch.offer_ttl = checks.unit("offer_ttl_seconds", TtlSeconds::new(ttl));
        }
        patch.apply_to_dates = self.apply_to_dates;
        if let Some(thresholds) = &self.thresholds {
            patch.thresholds = Some(
                thresholds
                    .as_ref()
                    .map(|thresholds| check_thresholds(&mut checks, thresholds)),
            );
        }
        checks.finish(Some(Command::UpdatePool { pool_id, patch }))
    }
}
