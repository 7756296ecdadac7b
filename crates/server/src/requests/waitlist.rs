//! Waiting lists: joining one, and a tenant's priority classes.

use super::checks::{Checks, MAX_HOLDER_CHARS};
use crate::error::ApiError;
use crate::views::waitlist::PriorityClassesBody;
use allot_core::waitlist::{
    DEFAULT_WAIT_SECONDS, MAX_PRIORITY_CLASSES, PriorityAsk, PriorityClasses, check_priority,
};
use allot_core::{PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::Command;
use allot_store::command::NewWaitlistEntry;
use serde::Deserialize;
use utoipa::ToSchema;

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
    #[schema(minimum = 1, maximum = 1000000000)]
    #[serde(deserialize_with = "crate::views::integers::integer")]
    pub quantity: i64,
    /// Who is waiting, as your platform names them; list their entries with GET /v1/waitlist?holder=.
    #[schema(example = "user_42")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub holder: String,
    /// For a session pool (`per_date`): the date, `YYYY-MM-DD`, not over in the session's time zone.
    #[schema(format = Date)]
    pub date: Option<String>,
    /// Higher is served first; default the tenant's base priority. Not with `priority_class`.
    #[schema(minimum = -1000000, maximum = 1000000)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
    pub priority: Option<i64>,
    /// A class from PUT /v1/settings/priority-classes, or a list of them: base + their bonuses.
    #[schema(value_type = Option<Object>, example = "registered")]
    pub priority_class: Option<PriorityClassField>,
    /// Waiting ends this long after joining. Default 7200 (2 hours, as a tour's queue), at most 30 days.
    #[schema(example = 7200)]
    #[serde(default, deserialize_with = "crate::views::integers::optional_integer")]
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
            Ok(ask) => Some(ask),
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
