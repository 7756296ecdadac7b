//! Alerts: the recipient groups they go to.

use super::checks::Checks;
use crate::error::ApiError;
use allot_store::{Channel, Command};
use std::collections::BTreeMap;

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
