//! The words a request field or query parameter takes, listed for the OpenAPI document (each
//! field stays a string: its check names what is wrong). Each list is the words its parser in
//! the core or the store takes; `the_document_lists_every_word_the_parsers_take` checks each.

use utoipa::ToSchema;

/// An API key's role.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RoleName {
    Admin,
    Operator,
    Viewer,
}

/// Whether a request at the head of a waiting list that does not fit blocks the smaller ones.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum WaitlistPolicyName {
    Strict,
    Skip,
}

/// What promotion from a waiting list makes: a hold to confirm, or a booking.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum WaitlistModeName {
    Offer,
    Confirm,
}

/// An alert's severity.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SeverityName {
    Info,
    Warning,
    Error,
    Critical,
}

/// A hold's status.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum HoldStatusName {
    Held,
    Confirmed,
    Released,
    Expired,
}

/// A ticket's status.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TicketStatusName {
    Valid,
    Used,
    Void,
}

/// A string schema with bounds, for the items of a list (utoipa puts no bounds on a
/// `Vec<String>`'s items): the type exists only to be named by `value_type`.
macro_rules! bounded_string {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        bounded_string!($(#[$doc])* $name, $min, $max, None::<&str>);
    };
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $pattern:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .min_length(Some($min))
                    .max_length(Some($max))
                    .pattern($pattern)
                    .into()
            }
        }

        impl ToSchema for $name {}
    };
}

bounded_string!(
    /// A name a tenant gives: a recipient group, a priority class (`Checks::name`).
    GroupName,
    1,
    64,
    Some("^[A-Za-z0-9_-]+$")
);

bounded_string!(
    /// An event type a webhook subscribes to, such as `hold.confirmed`, `waitlist.*` or `*`.
    EventTypeName,
    1,
    64,
    Some("^[a-z._*]+$")
);

bounded_string!(
    /// An attendee's id as a list names it (`Checks::id` takes at most 100 bytes: printable
    /// ASCII here, so a character is a byte).
    AttendeeIdText,
    1,
    100,
    Some("^[!-~]+$")
);

bounded_string!(
    /// Who a quota is for, as the platform names them.
    SubjectText,
    1,
    200
);

/// A priority, or a priority class's bonus over the base: within ±`MAX_PRIORITY`.
pub struct PriorityBonus;

impl utoipa::PartialSchema for PriorityBonus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let bound = allot_core::waitlist::MAX_PRIORITY as f64;
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(-bound))
            .maximum(Some(bound))
            .into()
    }
}

impl ToSchema for PriorityBonus {}

#[cfg(test)]
mod tests {
    use super::*;
    use allot_core::HoldStatus;
    use allot_core::thresholds::Severity;
    use allot_core::waitlist::{PromotionMode, WaitlistPolicy};
    use allot_store::Role;
    use allot_store::tickets::TicketStatus;
    use utoipa::PartialSchema;

    /// The words a schema lists.
    fn words<T: PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).expect("a schema serialises");
        schema["enum"]
            .as_array()
            .expect("an enum schema")
            .iter()
            .map(|word| word.as_str().expect("a word").to_owned())
            .collect()
    }

    #[test]
    fn the_document_lists_every_word_the_parsers_take() {
        fn check<T: PartialSchema>(parses: impl Fn(&str) -> bool, expected: &[&str]) {
            let listed = words::<T>();
            assert_eq!(listed, expected);
            for word in &listed {
                assert!(parses(word), "{word} is listed but not taken");
            }
            assert!(!parses("not-a-word"));
        }
        check::<RoleName>(
            |w| Role::parse(w).is_some(),
            &["admin", "operator", "viewer"],
        );
        check::<WaitlistPolicyName>(|w| WaitlistPolicy::parse(w).is_some(), &["strict", "skip"]);
        check::<WaitlistModeName>(|w| PromotionMode::parse(w).is_some(), &["offer", "confirm"]);
        check::<SeverityName>(
            |w| Severity::parse(w).is_some(),
            &["info", "warning", "error", "critical"],
        );
        check::<HoldStatusName>(
            |w| HoldStatus::parse(w).is_some(),
            &["held", "confirmed", "released", "expired"],
        );
        check::<TicketStatusName>(
            |w| TicketStatus::parse(w).is_some(),
            &["valid", "used", "void"],
        );
    }
}
