//! Contract 001, wabot: `/api/v1/…` with Bearer keys and scopes, the `{"ok": true, "data"}` /
//! `{"ok": false, "error": {"code", "message"}}` envelope, `Idempotency-Key` on POST and the
//! key's per-minute rate limit (60 by default for keys made for this contract).
//!
//! Everything maps onto the native model: conversations are the chats of the message log
//! ([`crate::conversations`]), sends go through [`crate::sending::enqueue_annotated`] (the
//! `as` of a message is recorded with it), credits and usage read the credit ledger and the
//! message log. A conversation handed off to a human (`HUMAN`) refuses messages sent `as: BOT`,
//! and inbound events carry its status, so automation stays quiet while an agent answers.
//!
//! This file owns the route table, the envelope, authentication, idempotency and paging
//! helpers; `conversations`, `products` and `usage` (credits and usage) hold the handlers,
//! `openapi` their documentation.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, patch, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::{Any, Transaction};

use super::Entry;
use crate::api::messages::idempotency_key;
use crate::auth::{self, Principal};
use crate::error::{ApiError, OwnShape};
use crate::sending::{self, Idempotency};
use crate::state::AppState;
use crate::util::{now_ms, rfc3339, sha256_hex};

mod conversations;
mod openapi;
mod products;
mod usage;

use conversations::{get_conversation, handoff, list_conversations, send_message};
pub(super) use openapi::openapi_ops;
use products::{create_product, list_products, update_product};
use usage::{credits, usage};

/// Requests per minute of keys created with a wabot scope and no explicit limit.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 60;

/// The scopes only this contract uses (`messages:send` and `credits:read` are shared with
/// the native API).
pub const OWN_SCOPES: &[&str] = &[
    "conversations:read",
    "conversations:write",
    "products:read",
    "products:write",
    "usage:read",
];

/// Who a message is sent as.
const SENDERS: &[&str] = &["HUMAN_AGENT", "BOT", "SYSTEM"];

const DAY_MS: i64 = 86_400_000;

fn route(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(|| async {
        WabotError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Metode HTTP ini tidak didukung pada endpoint ini",
        )
    })
}

/// The contract's routes. A path served for several methods carries the 405 fallback once
/// (axum refuses to merge two method routers that both have one).
pub(super) fn table() -> Vec<Entry> {
    const CR: Option<&str> = Some("conversations:read");
    const CW: Option<&str> = Some("conversations:write");
    const PW: Option<&str> = Some("products:write");
    vec![
        ("GET", "/api/v1/ping", None, route(get(ping))),
        (
            "GET",
            "/api/v1/conversations",
            CR,
            route(get(list_conversations)),
        ),
        (
            "GET",
            "/api/v1/conversations/{id}",
            CR,
            route(get(get_conversation)),
        ),
        (
            "POST",
            "/api/v1/conversations/{id}/messages",
            Some("messages:send"),
            route(post(send_message)),
        ),
        (
            "POST",
            "/api/v1/conversations/{id}/handoff",
            CW,
            route(post(handoff)),
        ),
        (
            "GET",
            "/api/v1/products",
            Some("products:read"),
            route(get(list_products)),
        ),
        ("POST", "/api/v1/products", PW, post(create_product)),
        (
            "PATCH",
            "/api/v1/products/{id}",
            PW,
            route(patch(update_product)),
        ),
        (
            "GET",
            "/api/v1/credits",
            Some("credits:read"),
            route(get(credits)),
        ),
        (
            "GET",
            "/api/v1/usage",
            Some("usage:read"),
            route(get(usage)),
        ),
    ]
}

/// Unknown paths under the base URL answer in the envelope too.
pub(super) fn unknown_routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/{*rest}",
        any(|| async { WabotError::not_found("Endpoint") }),
    )
}

/// A failure in the envelope `{"ok": false, "error": {"code", "message"}}`.
#[derive(Debug)]
struct WabotError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl WabotError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        WabotError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }
    fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }
    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} tidak ditemukan"),
        )
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }
}

impl From<ApiError> for WabotError {
    fn from(e: ApiError) -> Self {
        let (code, message) = match e.status.as_u16() {
            400 | 413 | 415 => ("VALIDATION_ERROR", e.message),
            401 => ("UNAUTHORIZED", e.message),
            402 => ("INSUFFICIENT_CREDITS", e.message),
            403 => ("FORBIDDEN", e.message),
            404 => ("NOT_FOUND", e.message),
            409 => ("CONFLICT", e.message),
            429 => (
                "RATE_LIMITED",
                "Melebihi batas rate limit API key ini".to_string(),
            ),
            _ => (
                "INTERNAL",
                "Kesalahan server, coba lagi atau hubungi support".to_string(),
            ),
        };
        let status = if e.status.is_server_error() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else if matches!(e.status.as_u16(), 413 | 415) {
            StatusCode::BAD_REQUEST
        } else {
            e.status
        };
        WabotError {
            status,
            code,
            message: match e.field {
                Some(f) if !message.contains(&f) => format!("{f}: {message}"),
                _ => message,
            },
            retry_after: e.retry_after,
        }
    }
}

impl From<sqlx::Error> for WabotError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for WabotError {
    fn into_response(self) -> Response {
        let body = json!({ "ok": false, "error": { "code": self.code, "message": self.message } });
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r.extensions_mut().insert(OwnShape);
        r
    }
}

type Reply = Result<Response, WabotError>;

fn envelope(data: Value) -> Value {
    json!({ "ok": true, "data": data })
}

fn ok(status: StatusCode, data: Value) -> Reply {
    Ok((status, axum::Json(envelope(data))).into_response())
}

/// The stored (or replayed) answer as a response; replays say so in a header.
fn stored(status: StatusCode, body: Value, replayed: bool) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// Authenticates the Bearer key (401, 429) and checks `scope` (403 FORBIDDEN).
async fn caller(
    st: &AppState,
    headers: &HeaderMap,
    scope: Option<&str>,
) -> Result<Principal, WabotError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            WabotError::unauthorized("API key wajib disertakan: Authorization: Bearer <key>")
        })?;
    let p = auth::authenticate(st, token).await.map_err(|e| {
        if e.status == StatusCode::UNAUTHORIZED {
            WabotError::unauthorized("API key tidak valid, sudah di-revoke, atau dinonaktifkan")
        } else {
            e.into()
        }
    })?;
    if let Some(s) = scope
        && !p.has(s)
    {
        return Err(WabotError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!("API key tidak punya scope {s}"),
        ));
    }
    Ok(p)
}

/// A JSON body: `Content-Type: application/json` and a well-formed document.
fn parse<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, Bytes), WabotError> {
    let raw = body.map_err(|_| {
        WabotError::validation("Body request tidak dapat dibaca atau terlalu besar")
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(WabotError::validation(
            "Content-Type harus application/json",
        ));
    }
    let v = crate::error::parse_json::<T>(&raw)?;
    Ok((v, raw))
}

/// The request's `Idempotency-Key`, scoped to the key and fingerprinted with route and body.
fn idempotency(
    headers: &HeaderMap,
    p: &Principal,
    route: &str,
    raw: &[u8],
) -> Result<Option<Idempotency>, WabotError> {
    Ok(idempotency_key(headers)?.map(|key| Idempotency {
        api_key_id: p.key_id.clone(),
        key,
        fingerprint: sha256_hex(&[format!("{route}\n").as_bytes(), raw].concat()),
    }))
}

/// The earlier answer to the same request, when there is one.
async fn replay(st: &AppState, idem: Option<&Idempotency>) -> Result<Option<Response>, WabotError> {
    if let Some(k) = idem
        && let Some(a) = sending::replay(st, k).await?
    {
        return Ok(Some(stored(a.status, a.body, true)));
    }
    Ok(None)
}

/// Stores the answer with the change it describes (inside `tx`). `false` when a concurrent
/// request with the same key stored first: roll back and replay.
async fn remember(
    tx: &mut Transaction<'static, Any>,
    idem: Option<&Idempotency>,
    status: StatusCode,
    body: &Value,
) -> Result<bool, WabotError> {
    let Some(k) = idem else { return Ok(true) };
    let r = sqlx::query("INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&k.api_key_id)
        .bind(&k.key)
        .bind(&k.fingerprint)
        .bind(i64::from(status.as_u16()))
        .bind(body.to_string())
        .bind(now_ms())
        .execute(&mut **tx)
        .await;
    match r {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Commits a change with its stored answer, or answers as the concurrent winner did.
async fn commit_answer(
    st: &AppState,
    mut tx: Transaction<'static, Any>,
    idem: Option<&Idempotency>,
    status: StatusCode,
    data: Value,
) -> Reply {
    let body = envelope(data);
    if remember(&mut tx, idem, status, &body).await? {
        tx.commit().await?;
        return Ok(stored(status, body, false));
    }
    tx.rollback().await?;
    replay(st, idem).await?.ok_or_else(|| {
        WabotError::conflict("Permintaan lain dengan Idempotency-Key ini sedang diproses")
    })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, WabotError> {
    q.map(|Query(v)| v).map_err(|e| {
        WabotError::validation(format!("Parameter query tidak valid: {}", e.body_text()))
    })
}

fn encode_cursor(t: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{t}:{id}"))
}

fn decode_cursor(c: &str) -> Result<(i64, String), WabotError> {
    let bad = || {
        WabotError::validation("cursor tidak valid: gunakan next_cursor dari halaman sebelumnya")
    };
    let raw = URL_SAFE_NO_PAD.decode(c.as_bytes()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (t, id) = raw.split_once(':').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, id.to_string()))
}

fn limit(v: Option<i64>, default: i64, max: i64, name: &str) -> Result<i64, WabotError> {
    let n = v.unwrap_or(default);
    if !(1..=max).contains(&n) {
        return Err(WabotError::validation(format!(
            "{name} harus 1 sampai {max}"
        )));
    }
    Ok(n)
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

// ---- ping -------------------------------------------------------------------------------

async fn ping(State(st): State<AppState>, headers: HeaderMap) -> Reply {
    let p = caller(&st, &headers, None).await?;
    let (name,): (String,) = sqlx::query_as("SELECT name FROM api_keys WHERE id = $1")
        .bind(&p.key_id)
        .fetch_one(&st.db.pool)
        .await?;
    ok(
        StatusCode::OK,
        json!({
            "pong": true,
            "key": { "id": p.key_id, "name": name, "scopes": p.scopes, "device_id": p.device_id },
            "server_time": rfc3339(now_ms()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_validation_error() {
        let c = encode_cursor(1_700_000_000_000, "conv_abc");
        assert_eq!(
            decode_cursor(&c).unwrap(),
            (1_700_000_000_000, "conv_abc".to_string())
        );
        for bad in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("nocolon"),
            &URL_SAFE_NO_PAD.encode("x:id"),
        ] {
            assert_eq!(
                decode_cursor(bad).unwrap_err().code,
                "VALIDATION_ERROR",
                "{bad}"
            );
        }
    }

    #[test]
    fn native_errors_map_onto_the_documented_codes() {
        let code = |e: ApiError| WabotError::from(e).code;
        assert_eq!(code(ApiError::bad_request("x")), "VALIDATION_ERROR");
        assert_eq!(code(ApiError::unauthorized("x")), "UNAUTHORIZED");
        assert_eq!(code(ApiError::missing_scope("x")), "FORBIDDEN");
        assert_eq!(code(ApiError::not_found("x")), "NOT_FOUND");
        assert_eq!(code(ApiError::rate_limited(3)), "RATE_LIMITED");
        assert_eq!(code(ApiError::internal("boom")), "INTERNAL");
        assert_eq!(
            WabotError::from(ApiError::rate_limited(3)).retry_after,
            Some(3)
        );
    }
}
