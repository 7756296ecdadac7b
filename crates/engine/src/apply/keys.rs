//! Tenants and their API keys.

use crate::Error;
use crate::change::Change;
use crate::command::{Failure, Outcome, Success};
use crate::model::{ApiKey, Role, Tenant, TenantId};
use crate::port::Port;
use allot_core::UnixMillis;

pub fn create_tenant<P: Port>(
    port: &mut P,
    name: String,
    key_id: String,
    key_hash: String,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    let id = TenantId(port.new_id("ten"));
    port.persist(Change::NewTenant {
        id: id.clone(),
        name: name.clone(),
        at: now,
    })?;
    let key = create_key(port, &id, key_id, key_hash, Role::Admin, now)?;
    Ok(Ok(Success::TenantCreated {
        tenant: Tenant {
            id,
            name,
            created_at: now,
        },
        key,
    }))
}

pub fn create_key<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    key_id: String,
    key_hash: String,
    role: Role,
    now: UnixMillis,
) -> Result<ApiKey, Error> {
    port.persist(Change::NewApiKey {
        tenant: tenant.clone(),
        key_id: key_id.clone(),
        key_hash,
        role,
        at: now,
    })?;
    Ok(ApiKey {
        id: key_id,
        tenant_id: tenant.clone(),
        role,
        created_at: now,
    })
}

pub fn revoke_key<P: Port>(
    port: &mut P,
    tenant: &TenantId,
    key_id: String,
    now: UnixMillis,
) -> Result<Outcome, Error> {
    if !port.api_key_is_live(tenant, &key_id)? {
        return Ok(Err(Failure::NotFound {
            kind: "api key",
            id: key_id,
        }));
    }
    port.persist(Change::ApiKeyRevoked {
        tenant: tenant.clone(),
        key_id,
        at: now,
    })?;
    Ok(Ok(Success::ApiKeyRevoked))
}
