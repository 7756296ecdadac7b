//! Who is calling: the super-admin (by the admin token) or a tenant's API key (by its hash).
//! Keys are 256 random bits, shown once and stored only as a SHA-256 hash: a hash suffices because
//! the keys are random, not chosen by people.

use crate::error::ApiError;
use crate::state::AppState;
use allot_store::{ApiKey, Role, Store, TenantId};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
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

    fn lookup(&self, store: &dyn Store, hash: &str) -> Result<Option<ApiKey>, ApiError> {
        if let Some((key, at)) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(key.clone()));
        }
        let found = store.find_api_key(hash)?;
        if let Some(key) = &found {
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= KEY_CACHE_MAX {
                cache.clear();
            }
            cache.insert(hash.to_owned(), (key.clone(), Instant::now()));
        }
        Ok(found)
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

/// Counts a request against its key's rate, if the server has one (the super-admin has none).
fn check_rate(state: &AppState, key_id: &str) -> Result<(), ApiError> {
    use governor::clock::{Clock, DefaultClock};
    let Some(limiter) = &state.rate_limit else {
        return Ok(());
    };
    limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::rate_limited(wait.as_secs_f64().ceil().max(1.0) as u64)
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <API key>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty() && token.len() <= 512)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be 'Bearer <API key>'")
            })?;
        let hash = hash_secret(token);
        // Comparing hashes, not secrets, keeps the comparison's timing independent of the secret.
        if hash == state.auth.admin_token_hash {
            return Ok(Caller::SuperAdmin);
        }
        match state.auth.lookup(state.store.as_ref(), &hash)? {
            Some(key) => {
                check_rate(state, &key.id)?;
                Ok(Caller::Key(key))
            }
            None => Err(ApiError::unauthorized(
                "the API key is not valid or was revoked",
            )),
        }
    }
}
