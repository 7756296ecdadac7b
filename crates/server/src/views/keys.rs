//! Tenants and API keys. A secret is shown in the answer that made it, and never again.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBody {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: String,
    pub role: String,
    pub created_at: String,
}

/// A new tenant and its first admin key. The key is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreatedBody {
    pub tenant: TenantBody,
    pub api_key_id: String,
    /// The secret. A replay of this request by Idempotency-Key omits it: it is not stored.
    pub api_key: Option<String>,
}

/// A new API key. The secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreatedBody {
    pub id: String,
    pub role: String,
    pub created_at: String,
    pub api_key: Option<String>,
}
