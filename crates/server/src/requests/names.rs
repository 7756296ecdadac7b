//! The words a request field or query parameter takes, listed for the OpenAPI document (each
//! field stays a string: its check names what is wrong). Each list is the one its parser in the
//! core or the store accepts; `the_document_lists_every_word_the_parsers_take` keeps them equal.

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
