//! `/v1/keys`: create (the key is shown once), list, disable/enable, revoke. Admin only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{check_len, ts};
use crate::auth::{Principal, SCOPES, generate_key, key_prefix};
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::util::{new_id, now_ms, sha256_hex};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    rate_limit_per_minute: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    enabled: bool,
}

/// The built-in admin key (provisioned at start); it cannot be disabled, or nobody could
/// enable it again.
const ADMIN_KEY_ID: &str = "key_admin";

type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
);

const COLS: &str =
    "id, name, scopes, device_id, rate_limit_per_minute, created_at, revoked_at, disabled_at";

fn view((id, name, scopes, device_id, rate, created, revoked, disabled): Row) -> Value {
    json!({
        "id": id,
        "name": name,
        "scopes": serde_json::from_str::<Value>(&scopes).unwrap_or(Value::Null),
        "device_id": device_id,
        "rate_limit_per_minute": rate,
        "enabled": disabled.is_none(),
        "created_at": ts(Some(created)),
        "revoked_at": ts(revoked),
        "disabled_at": ts(disabled),
    })
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    body: ApiJson<CreateKey>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("admin:*")?;
    let b = body.value;
    check_len("name", &b.name, 1, 100)?;
    if b.scopes.is_empty() {
        return Err(ApiError::field("scopes", "at least one scope is required"));
    }
    for (i, s) in b.scopes.iter().enumerate() {
        if !SCOPES.contains(&s.as_str()) {
            return Err(ApiError::field(
                format!("scopes[{i}]"),
                format!("unknown scope; known: {}", SCOPES.join(", ")),
            ));
        }
    }
    if b.rate_limit_per_minute == Some(0) {
        return Err(ApiError::field(
            "rate_limit_per_minute",
            "must be at least 1",
        ));
    }
    if let Some(d) = &b.device_id {
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM devices WHERE id = $1")
            .bind(d)
            .fetch_optional(&st.db.pool)
            .await?;
        if found.is_none() {
            return Err(ApiError::field("device_id", "no such device"));
        }
    }
    // wabot documents 60 requests a minute for keys created without a limit.
    let wabot_key = b
        .scopes
        .iter()
        .any(|s| crate::compat::wabot::OWN_SCOPES.contains(&s.as_str()));
    let rate = b
        .rate_limit_per_minute
        .map(i64::from)
        .or_else(|| {
            wabot_key.then_some(i64::from(
                crate::compat::wabot::DEFAULT_RATE_LIMIT_PER_MINUTE,
            ))
        })
        .or(st.config.default_rate_limit_per_minute.map(i64::from));
    let key = generate_key();
    let id = new_id("key");
    let now = now_ms();
    let scopes = serde_json::to_string(&b.scopes).expect("strings serialize");
    sqlx::query("INSERT INTO api_keys (id, name, prefix, hash, scopes, device_id, rate_limit_per_minute, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&id)
        .bind(&b.name)
        .bind(key_prefix(&key))
        .bind(sha256_hex(key.as_bytes()))
        .bind(&scopes)
        .bind(b.device_id.clone())
        .bind(rate)
        .bind(now)
        .execute(&st.db.pool)
        .await?;
    let mut v = view((id, b.name, scopes, b.device_id, rate, now, None, None));
    v["key"] = key.into();
    Ok((StatusCode::CREATED, Json(v)))
}

pub async fn list(State(st): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require("admin:*")?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM api_keys ORDER BY created_at, id"
    ))
    .fetch_all(&st.db.pool)
    .await?;
    let data: Vec<Value> = rows.into_iter().map(view).collect();
    Ok(Json(json!({ "data": data })))
}

/// `PATCH /v1/keys/{id}` `{"enabled": false}` switches a key off without revoking it (every
/// request with it is refused until `{"enabled": true}`); 404 for unknown or revoked keys.
pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiJson<UpdateKey>,
) -> Result<Json<Value>, ApiError> {
    p.require("admin:*")?;
    if id == ADMIN_KEY_ID && !body.value.enabled {
        return Err(ApiError::field(
            "enabled",
            "the built-in admin key cannot be disabled",
        ));
    }
    // Disabling keeps the first disable time; enabling clears it.
    let done = if body.value.enabled {
        sqlx::query("UPDATE api_keys SET disabled_at = NULL WHERE id = $1 AND revoked_at IS NULL")
            .bind(&id)
            .execute(&st.db.pool)
            .await?
    } else {
        sqlx::query("UPDATE api_keys SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1 AND revoked_at IS NULL")
            .bind(&id)
            .bind(now_ms())
            .execute(&st.db.pool)
            .await?
    };
    // The next request with this key reads the new state.
    st.key_cache.forget_all();
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("key"));
    }
    let row: Row = sqlx::query_as(&format!("SELECT {COLS} FROM api_keys WHERE id = $1"))
        .bind(&id)
        .fetch_one(&st.db.pool)
        .await?;
    Ok(Json(view(row)))
}

pub async fn revoke(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require("admin:*")?;
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(&id)
            .bind(now_ms())
            .execute(&st.db.pool)
            .await?;
    // Even when nothing changed here: the next request re-reads every key.
    st.key_cache.forget_all();
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("key"));
    }
    Ok(StatusCode::NO_CONTENT)
}
