//! Who is calling: the super-admin (by the admin token) or a tenant's API key (by its hash).
//! Keys are 256 random bits, shown once and stored only as a SHA-256 hash: a hash suffices because
//! the keys are random, not chosen by people.

use crate::error::ApiError;
use allot_store::{ApiKey, Role, TenantId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a key looked up in the store is trusted without asking again. Revocation on this
/// node clears it at once; the window only matters for keys revoked by another node.
const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Most keys remembered; past this the cache is cleared rather than grown.
const KEY_CACHE_MAX: usize = 100_000;

pub const KEY_PREFIX: &str = "allot_";

/// A new random secret, URL-safe: `allot_` and 64 hex digits (256 bits).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub struct Auth {
    admin_token_hash: String,
    cache: RwLock<HashMap<String, (ApiKey, Instant)>>,
}

impl Auth {
    pub fn new(admin_token: &str) -> Self {
        Auth {
            admin_token_hash: hash_secret(admin_token),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Whether `hash` is the super-admin token's. Comparing hashes, not secrets, keeps the
    /// comparison's timing independent of the secret.
    pub fn is_admin(&self, hash: &str) -> bool {
        hash == self.admin_token_hash
    }

    /// The key with this hash, if it was looked up within `KEY_CACHE_TTL`.
    pub fn cached(&self, hash: &str) -> Option<ApiKey> {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(key, _)| key.clone())
    }

    /// Remembers a key just found in the store.
    pub fn remember(&self, hash: &str, key: &ApiKey) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash.to_owned(), (key.clone(), Instant::now()));
    }

    /// Forgets a revoked key so that its next request is refused.
    pub fn forget_key(&self, key_id: &str) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (key, _)| key.id != key_id);
    }
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    SuperAdmin,
    Key(ApiKey),
}

/// A tenant's key with at least the role a route needs.
#[derive(Debug, Clone)]
pub struct TenantCaller {
    pub tenant: TenantId,
    pub key_id: String,
    pub role: Role,
}

impl Caller {
    /// The tenant key behind this request, if its role is at least `role`.
    pub fn require(&self, role: Role) -> Result<TenantCaller, ApiError> {
        match self {
            Caller::SuperAdmin => Err(ApiError::forbidden(
                "the admin token manages tenants; use a tenant's API key for tenant data",
            )),
            Caller::Key(key) if key.role >= role => Ok(TenantCaller {
                tenant: key.tenant_id.clone(),
                key_id: key.id.clone(),
                role: key.role,
            }),
            Caller::Key(key) => Err(ApiError::forbidden(&format!(
                "this {} key may not do that; it needs the {} role",
                key.role.as_str(),
                role.as_str()
            ))),
        }
    }

    pub fn require_super_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::SuperAdmin => Ok(()),
            Caller::Key(_) => Err(ApiError::forbidden(
                "only the admin token may manage tenants",
            )),
        }
    }
}
