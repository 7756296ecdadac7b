//! Tenants and API keys: a tenant's name, a key's role.

use super::checks::{Checks, MAX_NAME_CHARS};
use crate::error::ApiError;
use allot_store::Role;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[schema(example = "Acme Tickets")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
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
    #[schema(value_type = crate::requests::names::RoleName)]
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
