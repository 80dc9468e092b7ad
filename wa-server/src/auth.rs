//! API keys: generation, hashed storage, the bearer-token extractor, scopes and the per-key
//! token-bucket rate limiter.
//!
//! Key format: `wsk_` + 43 characters of URL-safe base64 (32 random bytes). The database keeps
//! the first 12 characters in clear as a lookup prefix and the hex SHA-256 of the whole key;
//! candidates found by prefix are compared in constant time.
//!
//! Verified keys are remembered in memory for a few seconds ([`KeyCache`]) so that a burst of
//! requests does not read the key table once per request; revoking (or otherwise changing) a
//! key must call [`KeyCache::forget_all`], and the short lifetime bounds how long another
//! gateway node on the same database keeps honouring a key it revoked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::Engine;
use rand::RngCore;

use crate::error::ApiError;
use crate::state::AppState;
use crate::util::{ct_eq, sha256_hex};

/// Every scope a key can hold.
pub const SCOPES: &[&str] = &[
    "devices:read",
    "devices:write",
    "messages:send",
    "messages:read",
    "webhooks:write",
    "contacts:read",
    "contacts:write",
    "credits:read",
    "conversations:read",
    "conversations:write",
    "products:read",
    "products:write",
    "usage:read",
    // Opens the web dashboard (`/dashboard`), where the person acts with every scope above
    // except `admin:*`; the key itself gains nothing else on the API.
    "dashboard",
    "admin:*",
];

/// Length of the clear lookup prefix.
pub const PREFIX_LEN: usize = 12;

/// A fresh random key.
pub fn generate_key() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    format!(
        "wsk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// The lookup prefix of a presented key.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(PREFIX_LEN).collect()
}

type KeyRow = (
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    Option<i64>,
);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Key id.
    pub key_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When set, the key may act on this device only.
    pub device_id: Option<String>,
}

impl Principal {
    /// Whether the key is an admin key.
    pub fn is_admin(&self) -> bool {
        self.scopes.iter().any(|s| s == "admin:*")
    }
    /// Whether the key holds `scope` (or `admin:*`).
    pub fn has(&self, scope: &str) -> bool {
        self.is_admin() || self.scopes.iter().any(|s| s == scope)
    }
    /// 403 unless the key holds `scope` (or `admin:*`).
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }
    /// 404 when the key is bound to another device (the device's existence is not revealed).
    pub fn check_device(&self, device_id: &str) -> Result<(), ApiError> {
        match &self.device_id {
            Some(d) if d != device_id => Err(ApiError::not_found("device")),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already authenticated by the route's scope guard: do not look up (or rate-count) twice.
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <key>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Authorization must be Bearer <key>"))?;
        authenticate(state, token).await
    }
}

/// Looks up a presented key (from whichever header or body field the route reads it),
/// applies its rate limit, and returns the caller. 401 when the key is unknown, revoked or
/// disabled, 429 when its bucket is empty.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let row = find_key_any(state, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))?;
    if row.disabled {
        return Err(ApiError::unauthorized("this API key is disabled"));
    }
    rate_limit(state, &row)?;
    Ok(row.principal)
}

/// Takes one request from the key's per-minute budget; 429 with the wait when it is spent.
pub fn rate_limit(state: &AppState, row: &KeyRecord) -> Result<(), ApiError> {
    if let Some(per_minute) = row.rate_limit_per_minute.filter(|r| *r > 0) {
        state
            .limiter
            .check(
                &row.principal.key_id,
                per_minute.min(i64::from(u32::MAX)) as u32,
            )
            .map_err(ApiError::rate_limited)?;
    }
    Ok(())
}

/// A key found by [`find_key`] or [`find_key_any`].
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The caller it authenticates.
    pub principal: Principal,
    /// Its per-minute limit, when it has one.
    pub rate_limit_per_minute: Option<i64>,
    /// The name given at creation (WhatsHub calls it the app).
    pub name: String,
    /// Switched off with `PATCH /v1/keys/{id}`: it authenticates nothing until re-enabled.
    pub disabled: bool,
}

/// How long a verified key is trusted without reading the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Most keys remembered at once; the cache starts over when full.
const KEY_CACHE_MAX: usize = 4096;

/// Keys verified recently, by the SHA-256 of the presented token. Only keys that were found
/// are kept, so random tokens cannot grow it and an unknown key is always looked up.
#[derive(Default)]
pub struct KeyCache {
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<String, (KeyRecord, Instant)>,
    /// Bumped by every [`KeyCache::forget_all`]: a lookup that read the table before a
    /// revocation must not put the old row back afterwards.
    generation: u64,
}

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record of `hash` if it was verified less than [`KEY_CACHE_TTL`] before `now`.
    fn get(&self, hash: &str, now: Instant) -> Option<KeyRecord> {
        self.lock()
            .entries
            .get(hash)
            .filter(|(_, at)| now.saturating_duration_since(*at) < KEY_CACHE_TTL)
            .map(|(record, _)| record.clone())
    }

    /// The generation to hand back to [`KeyCache::put`] after reading the table.
    fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Remembers `record`, read at `generation`, unless the cache was cleared since.
    fn put(&self, hash: String, record: KeyRecord, generation: u64, now: Instant) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= KEY_CACHE_MAX {
            state.entries.clear();
        }
        state.entries.insert(hash, (record, now));
    }

    /// Drops every remembered key. Call it after any change to `api_keys` (revocation,
    /// disabling, new scopes) so the change applies to the very next request.
    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.generation += 1;
    }
}

/// The live (not revoked, not disabled) key whose hash matches `token`, without touching
/// rate limits.
#[allow(dead_code)] // for contracts that read keys from bodies or other headers
pub async fn find_key(state: &AppState, token: &str) -> Result<Option<KeyRecord>, ApiError> {
    Ok(find_key_any(state, token).await?.filter(|k| !k.disabled))
}

/// Like [`find_key`], but also returns a disabled key (flagged), for contracts that answer a
/// disabled key differently from an unknown one. Served from [`KeyCache`] when the key was
/// verified less than [`KEY_CACHE_TTL`] ago.
pub async fn find_key_any(state: &AppState, token: &str) -> Result<Option<KeyRecord>, ApiError> {
    let hash = sha256_hex(token.as_bytes());
    if let Some(record) = state.key_cache.get(&hash, Instant::now()) {
        return Ok(Some(record));
    }
    let generation = state.key_cache.generation();
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT id, hash, scopes, device_id, rate_limit_per_minute, name, disabled_at FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
    )
    .bind(key_prefix(token))
    .fetch_all(&state.db.pool)
    .await?;
    let mut found = None;
    for (id, stored, scopes, device_id, rate, name, disabled_at) in rows {
        // Compare every candidate so timing does not depend on which one matched.
        if ct_eq(stored.as_bytes(), hash.as_bytes()) {
            found = Some((id, scopes, device_id, rate, name, disabled_at));
        }
    }
    let record = found.map(
        |(key_id, scopes, device_id, rate, name, disabled_at)| KeyRecord {
            principal: Principal {
                key_id,
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                device_id,
            },
            rate_limit_per_minute: rate,
            name,
            disabled: disabled_at.is_some(),
        },
    );
    if let Some(r) = &record {
        state
            .key_cache
            .put(hash, r.clone(), generation, Instant::now());
    }
    Ok(record)
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per key: capacity = the per-minute limit, refilled continuously.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token for `key_id`, or returns the whole seconds until one is available.
    pub fn check(&self, key_id: &str, per_minute: u32) -> Result<(), u64> {
        let now = Instant::now();
        let cap = per_minute.max(1) as f64;
        let rate = cap / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.entry(key_id.to_string()).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(cap);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_capacity_then_refuses_with_wait() {
        let l = RateLimiter::default();
        for _ in 0..3 {
            assert!(l.check("k", 3).is_ok());
        }
        let wait = l.check("k", 3).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(l.check("other", 3).is_ok());
    }

    fn record(id: &str) -> KeyRecord {
        KeyRecord {
            principal: Principal {
                key_id: id.into(),
                scopes: vec!["devices:read".into()],
                device_id: None,
            },
            rate_limit_per_minute: None,
            name: "test".into(),
            disabled: false,
        }
    }

    #[test]
    fn cached_keys_expire_after_the_ttl() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        cache.put("h".into(), record("k1"), cache.generation(), t0);
        assert_eq!(cache.get("h", t0).unwrap().principal.key_id, "k1");
        let almost = t0 + KEY_CACHE_TTL - Duration::from_millis(1);
        assert!(cache.get("h", almost).is_some());
        assert!(cache.get("h", t0 + KEY_CACHE_TTL).is_none());
        assert!(cache.get("other", t0).is_none());
    }

    #[test]
    fn forgetting_clears_keys_and_refuses_lookups_that_started_before() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        cache.put("h".into(), record("k1"), cache.generation(), t0);
        // A lookup reads the table, then the key is revoked, then the lookup finishes.
        let read_at = cache.generation();
        cache.forget_all();
        assert!(cache.get("h", t0).is_none());
        cache.put("h".into(), record("k1"), read_at, t0);
        assert!(cache.get("h", t0).is_none(), "a stale row came back");
        cache.put("h".into(), record("k1"), cache.generation(), t0);
        assert!(cache.get("h", t0).is_some());
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        for i in 0..KEY_CACHE_MAX + 1 {
            cache.put(format!("h{i}"), record("k"), cache.generation(), t0);
        }
        assert_eq!(cache.lock().entries.len(), 1);
    }

    #[test]
    fn generated_keys_are_distinct_and_prefixed() {
        let a = generate_key();
        assert!(a.starts_with("wsk_") && a.len() == 47);
        assert_ne!(a, generate_key());
    }
}
