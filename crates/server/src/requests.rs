//! Request bodies and their validation into the store's commands. Every check collects a field
//! error; a request with any is answered 400 with all of them, and nothing is written.

use crate::error::{ApiError, ErrorKind, FieldError};
use crate::views::PriceBody;
use allot_core::quotas::Adjustment;
use allot_core::thresholds::{self, Severity, Threshold};
use allot_core::waitlist::{
    DEFAULT_WAIT_SECONDS, MAX_PRIORITY_CLASSES, PriorityAsk, PriorityClasses, PromotionMode,
    WaitlistPolicy, check_priority,
};
use allot_core::{
    Capacity, HoldLine, LimitPct, MAX_LINES_PER_HOLD, PoolId, PoolLimits, Quantity, SessionDate,
    SessionZone, TtlSeconds, UnitError, UnixMillis,
};
use allot_store::command::{HoldExtras, NewPlan, NewPool, NewWaitlistEntry, PoolPatch};
use allot_store::{
    Channel, Command, Price, PriorityRequest, Role, ThresholdRecord, WaitlistSettings,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

const MAX_NAME_CHARS: usize = 200;
const MAX_UNIT_CHARS: usize = 32;
const MAX_HOLDER_CHARS: usize = 200;
const MAX_REASON_CHARS: usize = 500;
const MAX_METADATA_BYTES: usize = 16 * 1024;
const MAX_ID_CHARS: usize = 100;

/// Collects field errors, so a client learns of every mistake at once.
#[derive(Default)]
struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn unit<T>(&mut self, field: &str, result: Result<T, UnitError>) -> Option<T> {
        result
            .map_err(|error| self.fail(field, error.to_string()))
            .ok()
    }

    fn text(&mut self, field: &str, value: &str, max_chars: usize) {
        if value.trim().is_empty() {
            self.fail(field, "must not be empty");
        } else if value.chars().count() > max_chars {
            self.fail(field, format!("must be at most {max_chars} characters"));
        } else if value.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
    }

    fn id(&mut self, field: &str, value: &str) {
        if value.is_empty()
            || value.len() > MAX_ID_CHARS
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.fail(field, "is not a valid id");
        }
    }

    fn price(&mut self, field: &str, price: &PriceBody) -> Price {
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

    fn metadata(&mut self, value: &Value) {
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
    fn limits(
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
    fn date(&mut self, field: &str, text: &str, now: UnixMillis) -> Option<SessionDate> {
        SessionDate::parse_upcoming(text, now)
            .map_err(|error| self.fail(field, error.to_string()))
            .ok()
    }

    /// A name a tenant gives (a recipient group, a priority class): 1 to 64 letters, digits,
    /// '_' or '-'.
    fn name(&mut self, field: &str, name: &str) {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.fail(field, "a name is 1 to 64 letters, digits, '_' or '-'");
        }
    }

    fn waitlist_policy(&mut self, value: &str) -> Option<WaitlistPolicy> {
        let policy = WaitlistPolicy::parse(value);
        if policy.is_none() {
            self.fail("waitlist_policy", "must be strict or skip");
        }
        policy
    }

    fn waitlist_mode(&mut self, value: &str) -> Option<PromotionMode> {
        let mode = PromotionMode::parse(value);
        if mode.is_none() {
            self.fail("waitlist_mode", "must be offer or confirm");
        }
        mode
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match (self.errors.is_empty(), value) {
            (true, Some(value)) => Ok(value),
            _ => {
                let detail = self
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(ApiError {
                    errors: self.errors,
                    ..ApiError::new(ErrorKind::Validation, detail)
                })
            }
        }
    }
}

/// Distinguishes a field sent as `null` (Some(None)) from one left out (None).
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[schema(example = "Acme Tickets")]
    pub name: String,
}

impl CreateTenantRequest {
    pub fn validate(&self) -> Result<String, ApiError> {
        let mut checks = Checks::default();
        checks.text("name", &self.name, MAX_NAME_CHARS);
        checks.finish(Some(self.name.trim().to_owned()))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// admin, operator or viewer.
    #[schema(example = "operator")]
    pub role: String,
}

impl CreateApiKeyRequest {
    pub fn validate(&self) -> Result<Role, ApiError> {
        let mut checks = Checks::default();
        let role = Role::parse(&self.role);
        if role.is_none() {
            checks.fail("role", "must be admin, operator or viewer");
        }
        checks.finish(role)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePoolRequest {
    #[schema(example = "Main hall")]
    pub name: String,
    #[schema(example = 500)]
    pub capacity: i64,
    /// What one unit is: seats, credits, learners... Default `units`.
    #[schema(example = "seats")]
    pub unit: Option<String>,
    /// Make this pool count against another: a section under an event, a campaign under a bundle.
    pub parent_id: Option<String>,
    /// Use may reach capacity × hard_limit_pct / 100. Default 100.
    #[schema(example = 100)]
    pub hard_limit_pct: Option<i64>,
    /// Above capacity × soft_limit_pct / 100 a hold carries a warning. Default min(100, hard).
    pub soft_limit_pct: Option<i64>,
    pub price: Option<PriceBody>,
    /// Free-form JSON object, at most 16 KiB.
    pub metadata: Option<Value>,
    /// A session that serves many dates (seed 000): each date gets its own instance with this
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
    pub waitlist_policy: Option<String>,
    /// `offer` (default): promotion makes a hold the holder confirms. `confirm`: promotion
    /// books at once.
    #[schema(example = "offer")]
    pub waitlist_mode: Option<String>,
    /// How long an offer's hold lives. Default 900 (15 minutes).
    pub offer_ttl_seconds: Option<i64>,
    /// When to alert. Default seed 004's table: 80% info → sales (24 h), 90% warning →
    /// company_admin (12 h), 100% error and 110% critical → company_admin and customer_success
    /// (6 h, 1 h). `[]` never alerts.
    pub thresholds: Option<Vec<ThresholdBody>>,
}

/// One threshold: at `pct` percent of capacity, alert the `recipients` groups with `severity`,
/// at most once every `throttle_seconds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdBody {
    #[schema(example = 80)]
    pub pct: u32,
    /// info, warning, error or critical.
    #[schema(example = "info")]
    pub severity: String,
    #[schema(example = json!(["sales"]))]
    pub recipients: Vec<String>,
    #[schema(example = 86400)]
    pub throttle_seconds: i64,
}

fn check_thresholds(checks: &mut Checks, thresholds: &[ThresholdBody]) -> Vec<ThresholdRecord> {
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

fn check_unit(checks: &mut Checks, unit: &str) {
    check_unit_field(checks, "unit", unit);
}

fn check_unit_field(checks: &mut Checks, field: &str, unit: &str) {
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPoolRequest {
    pub name: Option<String>,
    /// Refused with 409 when below what is already held plus committed.
    pub capacity: Option<i64>,
    pub hard_limit_pct: Option<i64>,
    pub soft_limit_pct: Option<i64>,
    /// A new price for new holds; `null` removes it. Existing holds keep their locked price.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<PriceBody>)]
    pub price: Option<Option<PriceBody>>,
    pub active: Option<bool>,
    pub metadata: Option<Value>,
    /// Why capacity or limits changed; kept in the ledger.
    pub reason: Option<String>,
    /// strict or skip (see POST /v1/pools).
    pub waitlist_policy: Option<String>,
    /// offer or confirm (see POST /v1/pools).
    pub waitlist_mode: Option<String>,
    pub offer_ttl_seconds: Option<i64>,
    /// On a session: also apply a capacity or limit change to the dates already made, from today
    /// on (all of them or none). Default false: only dates made from now on get the new figures.
    #[serde(default)]
    pub apply_to_dates: bool,
    /// New thresholds; `null` goes back to seed 004's table.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ThresholdBody>>)]
    pub thresholds: Option<Option<Vec<ThresholdBody>>>,
    /// Not changeable: a session's time zone is set when it is created (it decides which of
    /// its dates are over). Accepted here only to be refused with that reason.
    #[schema(value_type = Option<String>)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldLineRequest {
    pub pool_id: String,
    #[schema(example = 2)]
    pub quantity: i64,
    /// For a session pool (`per_date`): the date, `YYYY-MM-DD`, not over in the session's time zone.
    #[schema(example = "2026-12-24")]
    pub date: Option<String>,
    /// The unit this line takes (seats, credits, learners...): a pool that counts another unit
    /// refuses the hold with 422 unit-mismatch.
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHoldRequest {
    /// 1 to 64 lines; all fit (with every ancestor) or nothing is held.
    pub lines: Vec<HoldLineRequest>,
    /// How long the hold lives unless confirmed. Default 900 (15 minutes), at most 30 days.
    #[schema(example = 900)]
    pub ttl_seconds: Option<i64>,
    /// Who the hold is for, as your platform names them; filter holds by it.
    pub holder: Option<String>,
    /// Commit at once instead of holding (consumption: a seat, credits, a learner).
    #[serde(default)]
    pub confirm: bool,
    /// Who or what is consumed (a learner, a volunteer): counted once per pool. Asking again for
    /// the same subject answers 200 with the hold that counted it, and consumes nothing more.
    pub subject: Option<String>,
    /// Why, kept in the ledger entries (a member's quota history).
    pub reason: Option<String>,
}

impl CreateHoldRequest {
    pub fn validate(self, now: UnixMillis) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        if self.lines.is_empty() {
            checks.fail("lines", "must hold at least one line");
        } else if self.lines.len() > MAX_LINES_PER_HOLD {
            checks.fail(
                "lines",
                format!("must hold at most {MAX_LINES_PER_HOLD} lines"),
            );
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.iter().enumerate() {
            checks.id(&format!("lines[{index}].pool_id"), &line.pool_id);
            let mut pool_id = PoolId(line.pool_id.clone());
            if let Some(date) = &line.date
                && let Some(date) = checks.date(&format!("lines[{index}].date"), date, now)
            {
                pool_id = date.instance_id(&pool_id);
            }
            if let Some(quantity) = checks.unit(
                &format!("lines[{index}].quantity"),
                Quantity::new(line.quantity),
            ) {
                lines.push(HoldLine { pool_id, quantity });
            }
            if let Some(unit) = &line.unit {
                check_unit_field(&mut checks, &format!("lines[{index}].unit"), unit);
            }
        }
        let ttl = match self.ttl_seconds {
            Some(seconds) => checks.unit("ttl_seconds", TtlSeconds::new(seconds)),
            None => Some(TtlSeconds::DEFAULT),
        };
        if let Some(holder) = &self.holder {
            checks.text("holder", holder, MAX_HOLDER_CHARS);
        }
        if let Some(subject) = &self.subject {
            checks.text("subject", subject, MAX_HOLDER_CHARS);
        }
        if let Some(reason) = &self.reason {
            checks.text("reason", reason, MAX_REASON_CHARS);
        }
        let extras = HoldExtras {
            units: self.lines.iter().map(|line| line.unit.clone()).collect(),
            subject: self.subject,
            reason: self.reason,
        };
        let command = ttl.map(|ttl| Command::PlaceHold {
            lines,
            ttl,
            holder: self.holder,
            confirm: self.confirm,
            extras,
        });
        checks.finish(command)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendHoldRequest {
    /// The hold's new deadline is this many seconds from now.
    #[schema(example = 300)]
    pub ttl_seconds: i64,
}

impl ExtendHoldRequest {
    pub fn validate(&self) -> Result<TtlSeconds, ApiError> {
        let mut checks = Checks::default();
        let ttl = checks.unit("ttl_seconds", TtlSeconds::new(self.ttl_seconds));
        checks.finish(ttl)
    }
}

/// A priority class name, or several whose bonuses add up (registered and private_gold: +5).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PriorityClassField {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinWaitlistRequest {
    #[schema(example = 2)]
    pub quantity: i64,
    /// Who is waiting, as your platform names them; list their entries with GET /v1/waitlist?holder=.
    #[schema(example = "user_42")]
    pub holder: String,
    /// For a session pool (`per_date`): the date, `YYYY-MM-DD`, not over in the session's time zone.
    pub date: Option<String>,
    /// Higher is served first; default the tenant's base priority. Not with `priority_class`.
    pub priority: Option<i64>,
    /// A class from PUT /v1/settings/priority-classes, or a list of them: base + their bonuses.
    #[schema(value_type = Option<Object>, example = "registered")]
    pub priority_class: Option<PriorityClassField>,
    /// Waiting ends this long after joining. Default 7200 (2 hours, seed 000), at most 30 days.
    #[schema(example = 7200)]
    pub expires_in_seconds: Option<i64>,
}

impl JoinWaitlistRequest {
    pub fn validate(self, pool_id: String, now: UnixMillis) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        checks.id("pool_id", &pool_id);
        let mut pool_id = PoolId(pool_id);
        if let Some(date) = &self.date
            && let Some(date) = checks.date("date", date, now)
        {
            pool_id = date.instance_id(&pool_id);
        }
        let quantity = checks.unit("quantity", Quantity::new(self.quantity));
        checks.text("holder", &self.holder, MAX_HOLDER_CHARS);
        let expires_in = checks.unit(
            "expires_in_seconds",
            TtlSeconds::new(self.expires_in_seconds.unwrap_or(DEFAULT_WAIT_SECONDS)),
        );
        let classes = self.priority_class.map(|classes| match classes {
            PriorityClassField::One(name) => vec![name],
            PriorityClassField::Many(names) => names,
        });
        let priority = match PriorityAsk::from_request(self.priority, classes) {
            Ok(PriorityAsk::Base) => Some(PriorityRequest::Base),
            Ok(PriorityAsk::Explicit(priority)) => Some(PriorityRequest::Explicit(priority)),
            Ok(PriorityAsk::Classes(names)) => Some(PriorityRequest::Classes(names)),
            Err(error) => {
                checks.fail(error.field(), error.to_string());
                None
            }
        };
        let command = match (quantity, expires_in, priority) {
            (Some(quantity), Some(expires_in), Some(priority)) => {
                Some(Command::JoinWaitlist(NewWaitlistEntry {
                    pool_id: pool_id.0,
                    holder: self.holder,
                    quantity,
                    priority,
                    expires_in,
                }))
            }
            _ => None,
        };
        checks.finish(command)
    }
}

/// A tenant's priority classes: an entry's priority is `base` plus the bonus of each class it
/// names. Seed 000's rules as an example: base 1; registered +2, private_silver +2, private_gold +3.
#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityClassesBody {
    /// The priority of an entry that names no class. Default 1.
    #[serde(default = "default_priority_base")]
    #[schema(example = 1)]
    pub base: i64,
    /// Class name → bonus over the base.
    #[schema(example = json!({"registered": 2, "private_silver": 2, "private_gold": 3}))]
    pub classes: BTreeMap<String, i64>,
}

fn default_priority_base() -> i64 {
    PriorityClasses::default().base
}

impl From<&PriorityClasses> for PriorityClassesBody {
    fn from(classes: &PriorityClasses) -> Self {
        PriorityClassesBody {
            base: classes.base,
            classes: classes.classes.clone(),
        }
    }
}

impl PriorityClassesBody {
    pub fn validate(self) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        if let Err(error) = check_priority(self.base) {
            checks.fail("base", error.to_string());
        }
        if self.classes.len() > MAX_PRIORITY_CLASSES {
            checks.fail(
                "classes",
                format!("must have at most {MAX_PRIORITY_CLASSES} classes"),
            );
        }
        for (name, bonus) in &self.classes {
            checks.name(&format!("classes.{name}"), name);
            if let Err(error) = check_priority(*bonus) {
                checks.fail(&format!("classes.{name}"), error.to_string());
            }
        }
        checks.finish(Some(Command::SetPriorityClasses(PriorityClasses {
            base: self.base,
            classes: self.classes,
        })))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST events: http or https.
    #[schema(example = "https://example.com/allot-events")]
    pub url: String,
    /// Event types to send, e.g. `["waitlist.offered", "alert.fired"]`; `["*"]` for all.
    #[schema(example = json!(["*"]))]
    pub events: Vec<String>,
    /// The signing secret, `whsec_` and 24 to 64 base64 bytes (Standard Webhooks). Default: one
    /// is generated and shown once in the answer.
    pub secret: Option<String>,
}

impl CreateWebhookRequest {
    /// The command, and the secret to show once.
    pub fn validate(self) -> Result<(Command, String), ApiError> {
        let mut checks = Checks::default();
        match reqwest::Url::parse(&self.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => checks.fail("url", "must be an absolute http or https URL"),
        }
        if self.url.len() > 2000 {
            checks.fail("url", "must be at most 2000 characters");
        }
        if self.events.is_empty() || self.events.len() > 50 {
            checks.fail("events", "must list 1 to 50 event types, or [\"*\"]");
        }
        for event in &self.events {
            if event.is_empty()
                || event.len() > 64
                || !event
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_' || b == b'*')
            {
                checks.fail("events", format!("{event:?} is not an event type"));
            }
        }
        let secret = match self.secret {
            Some(secret) => {
                if crate::delivery::signing_key(&secret).is_none() {
                    checks.fail(
                        "secret",
                        "must be whsec_ followed by 24 to 64 base64-encoded bytes",
                    );
                }
                secret
            }
            None => crate::delivery::generate_webhook_secret(),
        };
        let command = Command::CreateWebhook {
            url: self.url,
            events: self.events,
            secret: secret.clone(),
        };
        checks.finish(Some((command, secret)))
    }
}

/// Checks recipient groups: names, and each channel an e-mail address or a webhook id.
pub fn validate_recipients(groups: BTreeMap<String, Vec<Channel>>) -> Result<Command, ApiError> {
    let mut checks = Checks::default();
    if groups.len() > 100 {
        checks.fail("groups", "at most 100 groups");
    }
    for (name, channels) in &groups {
        checks.name(&format!("groups.{name}"), name);
        if channels.len() > 50 {
            checks.fail(&format!("groups.{name}"), "at most 50 channels per group");
        }
        for (index, channel) in channels.iter().enumerate() {
            let field = format!("groups.{name}[{index}]");
            match (&channel.email, &channel.webhook_id) {
                (Some(email), None) => {
                    if email.parse::<lettre::Address>().is_err() {
                        checks.fail(&field, "is not an e-mail address");
                    }
                }
                (None, Some(webhook)) => checks.id(&field, webhook),
                _ => checks.fail(&field, "must be {\"email\": ...} or {\"webhook_id\": ...}"),
            }
        }
    }
    checks.finish(Some(Command::SetRecipients(groups)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlanRequest {
    #[schema(example = "Gold membership")]
    pub name: String,
    /// What the quota counts: seats, credits, learners...
    #[schema(example = "credits")]
    pub unit: String,
    #[schema(example = 100)]
    pub capacity: i64,
    /// Default 100; seed 004's 10% overage is 110.
    pub hard_limit_pct: Option<i64>,
    pub soft_limit_pct: Option<i64>,
    /// Thresholds for members' quotas; default seed 004's table.
    pub thresholds: Option<Vec<ThresholdBody>>,
}

impl CreatePlanRequest {
    pub fn validate(self) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        checks.text("name", &self.name, MAX_NAME_CHARS);
        check_unit(&mut checks, &self.unit);
        let limits = checks.limits(self.capacity, self.hard_limit_pct, self.soft_limit_pct);
        let thresholds = self
            .thresholds
            .as_ref()
            .map(|thresholds| check_thresholds(&mut checks, thresholds));
        let command = limits.map(|limits| {
            Command::CreatePlan(NewPlan {
                name: self.name.trim().to_owned(),
                unit: self.unit,
                capacity: limits.capacity,
                hard_limit_pct: limits.hard_limit_pct,
                soft_limit_pct: limits.soft_limit_pct,
                thresholds,
            })
        });
        checks.finish(command)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPlanRequest {
    pub name: Option<String>,
    /// The capacity members made from now on get.
    pub capacity: Option<i64>,
    /// Also move every existing member's quota to the new capacity, as a bulk adjustment job
    /// (a member already using more is reported as a failure and keeps its quota).
    #[serde(default)]
    pub apply_to_members: bool,
    /// Why, for the members' quota history.
    pub reason: Option<String>,
}

impl PatchPlanRequest {
    /// The plan change, with the job that moves existing members when asked.
    pub fn validate(self, plan_id: String) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        if let Some(name) = &self.name {
            checks.text("name", name, MAX_NAME_CHARS);
        }
        if let Some(reason) = &self.reason {
            checks.text("reason", reason, MAX_REASON_CHARS);
        }
        let capacity = match self.capacity {
            Some(capacity) => checks.unit("capacity", Capacity::new(capacity)),
            None => None,
        };
        if self.apply_to_members && capacity.is_none() {
            checks.fail("apply_to_members", "needs a capacity to apply");
        }
        let reason = self
            .reason
            .clone()
            .unwrap_or_else(|| "the plan's capacity changed".to_owned());
        let follow = if self.apply_to_members {
            capacity.map(|capacity| (capacity, reason))
        } else {
            None
        };
        let members_follow = match follow {
            Some((capacity, reason)) => {
                let params = crate::quota_jobs::AdjustParams {
                    plan_id: Some(plan_id.clone()),
                    subjects: None,
                    capacity: Some(capacity.get()),
                    delta: None,
                    reason,
                };
                let params = serde_json::to_value(&params).map_err(|error| {
                    ApiError::new(ErrorKind::Internal, format!("job parameters: {error}"))
                })?;
                Some((crate::quota_jobs::KIND_ADJUST_QUOTAS.to_owned(), params))
            }
            None => None,
        };
        checks.finish(Some(Command::UpdatePlan {
            plan_id,
            name: self.name.map(|name| name.trim().to_owned()),
            capacity,
            members_follow,
        }))
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMemberRequest {
    /// Count the member's use against a shared pool too (a campaign under a bundle).
    pub parent_id: Option<String>,
}

impl PutMemberRequest {
    pub fn validate(self, plan_id: String, subject: String) -> Result<Command, ApiError> {
        let mut checks = Checks::default();
        checks.text("subject", &subject, MAX_HOLDER_CHARS);
        if let Some(parent) = &self.parent_id {
            checks.id("parent_id", parent);
        }
        checks.finish(Some(Command::PutMember {
            plan_id,
            subject,
            parent_id: self.parent_id,
        }))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaAdjustmentRequest {
    /// Every member of this plan; with `subjects`, only those subjects' quotas from this plan.
    pub plan_id: Option<String>,
    /// These subjects' quotas (at most 100,000).
    pub subjects: Option<Vec<String>>,
    /// The new capacity. Not with `delta`.
    pub capacity: Option<i64>,
    /// Add to each capacity (negative takes away). Not with `capacity`.
    pub delta: Option<i64>,
    /// Why: kept in every member's quota history.
    #[schema(example = "annual plan renewal")]
    pub reason: String,
}

/// Most subjects one bulk adjustment may list.
const MAX_ADJUSTED_SUBJECTS: usize = 100_000;

impl QuotaAdjustmentRequest {
    pub fn validate(self) -> Result<crate::quota_jobs::AdjustParams, ApiError> {
        let mut checks = Checks::default();
        checks.text("reason", &self.reason, MAX_REASON_CHARS);
        if self.plan_id.is_none() && self.subjects.is_none() {
            checks.fail("plan_id", "give plan_id, subjects, or both");
        }
        if let Some(plan) = &self.plan_id {
            checks.id("plan_id", plan);
        }
        let mut subjects = self.subjects;
        if let Some(list) = subjects.as_mut() {
            if list.is_empty() || list.len() > MAX_ADJUSTED_SUBJECTS {
                checks.fail("subjects", "must list 1 to 100,000 subjects");
            }
            for subject in list.iter() {
                if subject.is_empty() || subject.chars().count() > MAX_HOLDER_CHARS {
                    checks.fail("subjects", "each subject is 1 to 200 characters");
                    break;
                }
            }
            list.sort();
            list.dedup();
        }
        if let Err(error) = Adjustment::from_request(self.capacity, self.delta) {
            checks.fail(error.field(), error.to_string());
        }
        checks.finish(Some(crate::quota_jobs::AdjustParams {
            plan_id: self.plan_id,
            subjects,
            capacity: self.capacity,
            delta: self.delta,
            reason: self.reason.trim().to_owned(),
        }))
    }
}
