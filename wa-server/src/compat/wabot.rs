//! Contract 001, wabot: `/api/v1/…` with Bearer keys and scopes, the `{"ok": true, "data"}` /
//! `{"ok": false, "error": {"code", "message"}}` envelope, `Idempotency-Key` on POST and the
//! key's per-minute rate limit (60 by default for keys made for this contract).
//!
//! Everything maps onto the native model: conversations are the chats of the message log
//! ([`crate::conversations`]), sends go through [`crate::sending::enqueue_annotated`] (the
//! `as` of a message is recorded with it), credits and usage read the credit ledger and the
//! message log. A conversation handed off to a human (`HUMAN`) refuses messages sent `as: BOT`,
//! and inbound events carry its status, so automation stays quiet while an agent answers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, patch, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use sqlx::{Any, Transaction};

use super::Entry;
use crate::api::messages::idempotency_key;
use crate::auth::{self, Principal};
use crate::conversations::{BOT, HUMAN};
use crate::error::{ApiError, OwnShape};
use crate::queue::StoredContent;
use crate::sending::{self, Annotations, Idempotency, NewMessage, Priority};
use crate::state::AppState;
use crate::util::{new_id, now_ms, rfc3339, sha256_hex};

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

/// The contract's OpenAPI operations.
pub(super) fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let s = |t: &str| json!({ "type": t });
    let ts = json!({ "type": ["string", "null"], "format": "date-time" });
    let ok = |data: Value| json!({ "type": "object", "properties": { "ok": { "const": true }, "data": data }, "required": ["ok", "data"] });
    let fail = json!({ "type": "object", "properties": { "ok": { "const": false }, "error": { "type": "object", "properties": {
        "code": { "type": "string", "enum": ["VALIDATION_ERROR", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "INSUFFICIENT_CREDITS", "METHOD_NOT_ALLOWED", "RATE_LIMITED", "INTERNAL"] },
        "message": s("string") }, "required": ["code", "message"] } }, "required": ["ok", "error"] });
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": fail } } });
    let answer = |status: &str, data: Value| json!({ status: { "description": "ok", "content": { "application/json": { "schema": ok(data) } } } });
    let conversation = json!({ "type": "object", "properties": {
        "id": s("string"), "device_id": s("string"), "chat": s("string"), "phone": { "type": ["string", "null"] },
        "name": { "type": ["string", "null"] }, "is_group": s("boolean"), "status": { "type": "string", "enum": ["BOT", "HUMAN"] },
        "last_message_at": ts, "handoff_at": ts, "created_at": ts, "updated_at": ts,
    }, "required": ["id", "status"] });
    let message = json!({ "type": "object", "properties": {
        "id": s("string"), "direction": { "type": "string", "enum": ["in", "out"] },
        "as": { "type": "string", "enum": ["CUSTOMER", "HUMAN_AGENT", "BOT", "SYSTEM"] },
        "from": { "type": ["string", "null"] }, "type": s("string"), "text": { "type": ["string", "null"] },
        "status": s("string"), "created_at": ts,
    }, "required": ["id", "direction", "as"] });
    let product = json!({ "type": "object", "properties": {
        "id": s("string"), "name": s("string"), "description": { "type": ["string", "null"] }, "sku": { "type": ["string", "null"] },
        "price": s("integer"), "stock": s("integer"), "image_url": { "type": ["string", "null"] }, "active": s("boolean"),
        "created_at": ts, "updated_at": ts,
    }, "required": ["id", "name", "price", "stock"] });
    let page = |item: &Value| json!({ "type": "object", "properties": { "items": { "type": "array", "items": item }, "next_cursor": { "type": ["string", "null"] } }, "required": ["items", "next_cursor"] });
    let q = |name: &str, schema: Value, d: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": d });
    let id = |d: &str| json!({ "name": "id", "in": "path", "required": true, "schema": s("string"), "description": d });
    let idem = json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": s("string"), "description": "a retry with the same key and body gets the first answer (Idempotent-Replayed: true)" });
    let body = |schema: Value| json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    let product_fields = json!({ "name": s("string"), "price": { "type": "integer", "minimum": 0 }, "stock": { "type": "integer", "minimum": 0 },
        "description": { "type": ["string", "null"] }, "sku": { "type": ["string", "null"] }, "image_url": { "type": ["string", "null"], "format": "uri" }, "active": s("boolean") });
    let op = |op_id: &str,
              summary: &str,
              scope: Option<&str>,
              mut responses: Value,
              extra: Value| {
        let r = responses.as_object_mut().expect("object");
        r.insert(
            "401".into(),
            err("UNAUTHORIZED: no key, or an unknown, revoked or disabled key"),
        );
        if scope.is_some() {
            r.insert("403".into(), err("FORBIDDEN: the key lacks the scope"));
        }
        r.insert("429".into(), err("RATE_LIMITED (see Retry-After)"));
        r.insert("500".into(), err("INTERNAL"));
        let mut o = json!({
            "operationId": op_id, "summary": format!("wabot: {summary} (seed 001)"), "tags": ["compat"],
            "security": [{ "bearer": [] }], "responses": responses,
        });
        if let Some(sc) = scope {
            o["x-required-scope"] = sc.into();
        }
        if let Value::Object(m) = extra {
            for (k, v) in m {
                o[k] = v;
            }
        }
        o
    };
    let with = |mut a: Value, extra: &[(&str, Value)]| {
        for (k, v) in extra {
            a[*k] = v.clone();
        }
        a
    };
    let e400 = err("VALIDATION_ERROR");
    let e404 = err("NOT_FOUND");
    let e409 = err(
        "CONFLICT: as BOT into a HUMAN conversation, or an Idempotency-Key reused with another body",
    );
    vec![
        (
            "GET",
            "/api/v1/ping",
            op(
                "compatWabotPing",
                "check the connection and the key",
                None,
                answer(
                    "200",
                    json!({ "type": "object", "properties": { "pong": s("boolean"), "key": s("object"), "server_time": ts } }),
                ),
                json!({}),
            ),
        ),
        (
            "GET",
            "/api/v1/conversations",
            op(
                "compatWabotListConversations",
                "conversations, most recent first",
                Some("conversations:read"),
                with(answer("200", page(&conversation)), &[("400", e400.clone())]),
                json!({ "parameters": [
                q("status", json!({ "type": "string", "enum": ["BOT", "HUMAN"] }), "only this status"),
                q("limit", json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 }), "page size"),
                q("cursor", s("string"), "next_cursor of the previous page"),
            ] }),
            ),
        ),
        (
            "GET",
            "/api/v1/conversations/{id}",
            op(
                "compatWabotGetConversation",
                "a conversation with its last messages",
                Some("conversations:read"),
                with(
                    answer(
                        "200",
                        with(
                            conversation.clone(),
                            &[(
                                "properties",
                                with(
                                    conversation["properties"].clone(),
                                    &[("messages", json!({ "type": "array", "items": message }))],
                                ),
                            )],
                        ),
                    ),
                    &[("400", e400.clone()), ("404", e404.clone())],
                ),
                json!({ "parameters": [id("conversation id"), q("messages", json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 }), "how many of the last messages")] }),
            ),
        ),
        (
            "POST",
            "/api/v1/conversations/{id}/messages",
            op(
                "compatWabotSendMessage",
                "send a text into a conversation",
                Some("messages:send"),
                with(
                    answer(
                        "202",
                        json!({ "type": "object", "properties": { "id": s("string"), "conversation_id": s("string"), "as": s("string"), "text": s("string"), "status": { "const": "queued" }, "created_at": ts } }),
                    ),
                    &[
                        ("400", e400.clone()),
                        ("402", err("INSUFFICIENT_CREDITS")),
                        ("404", e404.clone()),
                        ("409", e409.clone()),
                    ],
                ),
                json!({ "parameters": [id("conversation id"), idem.clone()], "requestBody": body(json!({ "type": "object", "properties": { "text": s("string"), "as": { "type": "string", "enum": ["HUMAN_AGENT", "BOT", "SYSTEM"], "default": "SYSTEM" } }, "required": ["text"] })) }),
            ),
        ),
        (
            "POST",
            "/api/v1/conversations/{id}/handoff",
            op(
                "compatWabotHandoff",
                "hand a conversation to a human agent (status HUMAN)",
                Some("conversations:write"),
                with(
                    answer("200", conversation.clone()),
                    &[("404", e404.clone()), ("409", e409.clone())],
                ),
                json!({ "parameters": [id("conversation id"), idem.clone()] }),
            ),
        ),
        (
            "GET",
            "/api/v1/products",
            op(
                "compatWabotListProducts",
                "the product catalog, newest first",
                Some("products:read"),
                with(answer("200", page(&product)), &[("400", e400.clone())]),
                json!({ "parameters": [
                q("limit", json!({ "type": "integer", "minimum": 1, "maximum": 200, "default": 50 }), "page size"),
                q("cursor", s("string"), "next_cursor of the previous page"),
            ] }),
            ),
        ),
        (
            "POST",
            "/api/v1/products",
            op(
                "compatWabotCreateProduct",
                "create a product",
                Some("products:write"),
                with(
                    answer("201", product.clone()),
                    &[("400", e400.clone()), ("409", e409.clone())],
                ),
                json!({ "parameters": [idem], "requestBody": body(json!({ "type": "object", "properties": product_fields, "required": ["name", "price"] })) }),
            ),
        ),
        (
            "PATCH",
            "/api/v1/products/{id}",
            op(
                "compatWabotUpdateProduct",
                "update a product (price, stock, …)",
                Some("products:write"),
                with(
                    answer("200", product),
                    &[("400", e400.clone()), ("404", e404)],
                ),
                json!({ "parameters": [id("product id")], "requestBody": body(json!({ "type": "object", "properties": product_fields })) }),
            ),
        ),
        (
            "GET",
            "/api/v1/credits",
            op(
                "compatWabotCredits",
                "the credit balance (allowance, rollover, top-up)",
                Some("credits:read"),
                answer(
                    "200",
                    json!({ "type": "object", "properties": { "balance": s("integer"), "allowance": s("integer"), "rollover": s("integer"), "topup": s("integer"), "price_per_message": s("integer") } }),
                ),
                json!({}),
            ),
        ),
        (
            "GET",
            "/api/v1/usage",
            op(
                "compatWabotUsage",
                "credits and messages per UTC day",
                Some("usage:read"),
                with(
                    answer(
                        "200",
                        json!({ "type": "object", "properties": {
                "days": s("integer"), "from": s("string"), "to": s("string"), "timezone": s("string"),
                "credits": s("object"), "messages": s("object"), "daily": { "type": "array", "items": s("object") } } }),
                    ),
                    &[("400", e400)],
                ),
                json!({ "parameters": [q("days", json!({ "type": "integer", "minimum": 1, "maximum": 366, "default": 30 }), "how many days, today included")] }),
            ),
        ),
    ]
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

enum Param {
    S(String),
    I(i64),
}

fn bind_all<'q>(
    mut q: sqlx::query::QueryAs<'q, Any, ConvRow, sqlx::any::AnyArguments<'q>>,
    params: Vec<Param>,
) -> sqlx::query::QueryAs<'q, Any, ConvRow, sqlx::any::AnyArguments<'q>> {
    for p in params {
        q = match p {
            Param::S(s) => q.bind(s),
            Param::I(i) => q.bind(i),
        };
    }
    q
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

// ---- conversations ------------------------------------------------------------------------

type ConvRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    i64,
    i64,
);

const CONV_COLS: &str = "id, device_id, chat, status, contact_name, last_message_at, handoff_at, created_at, updated_at";

fn conversation_view(r: &ConvRow) -> Value {
    let (id, device, chat, status, name, last, handoff, created, updated) = r;
    json!({
        "id": id,
        "device_id": device,
        "chat": chat,
        "phone": chat.strip_suffix("@s.whatsapp.net"),
        "name": name,
        "is_group": chat.ends_with("@g.us"),
        "status": status,
        "last_message_at": rfc3339(*last),
        "handoff_at": handoff.map(rfc3339),
        "created_at": rfc3339(*created),
        "updated_at": rfc3339(*updated),
    })
}

/// The conversation `id` as the caller may see it (a device-bound key sees its device only).
async fn find_conversation(st: &AppState, p: &Principal, id: &str) -> Result<ConvRow, WabotError> {
    let row: Option<ConvRow> = sqlx::query_as(&format!(
        "SELECT {CONV_COLS} FROM conversations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&st.db.pool)
    .await?;
    row.filter(|r| p.device_id.as_ref().is_none_or(|d| *d == r.1))
        .ok_or_else(|| WabotError::not_found("Percakapan"))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list_conversations(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("conversations:read")).await?;
    let q = query(q)?;
    let limit = limit(q.limit, 20, 100, "limit")?;
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    if let Some(d) = &p.device_id {
        params.push(Param::S(d.clone()));
        conds.push(format!("device_id = ${}", params.len()));
    }
    if let Some(s) = &q.status {
        let s = s.trim().to_ascii_uppercase();
        if s != BOT && s != HUMAN {
            return Err(WabotError::validation("status harus BOT atau HUMAN"));
        }
        params.push(Param::S(s));
        conds.push(format!("status = ${}", params.len()));
    }
    if let Some(c) = &q.cursor {
        let (t, id) = decode_cursor(c)?;
        params.push(Param::I(t));
        let a = params.len();
        params.push(Param::S(id));
        conds.push(format!(
            "(last_message_at < ${a} OR (last_message_at = ${a} AND id < ${}))",
            a + 1
        ));
    }
    let where_ = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let sql = format!(
        "SELECT {CONV_COLS} FROM conversations {where_} ORDER BY last_message_at DESC, id DESC LIMIT {}",
        limit + 1
    );
    let mut rows: Vec<ConvRow> = bind_all(sqlx::query_as(&sql), params)
        .fetch_all(&st.db.pool)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|r| encode_cursor(r.5, &r.0)))
        .flatten();
    let items: Vec<Value> = rows.iter().map(conversation_view).collect();
    ok(
        StatusCode::OK,
        json!({ "items": items, "next_cursor": next }),
    )
}

#[derive(Deserialize)]
struct DetailQuery {
    messages: Option<i64>,
}

type MsgRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    i64,
);

fn message_view(r: &MsgRow) -> Value {
    let (id, direction, sender, kind, content, status, sent_as, created) = r;
    let stored: Value = serde_json::from_str(content).unwrap_or(Value::Null);
    let c = &stored["content"];
    let text = c["text"].as_str().or_else(|| c["caption"].as_str());
    let role = if direction == "in" {
        "CUSTOMER"
    } else {
        sent_as.as_deref().unwrap_or("SYSTEM")
    };
    json!({
        "id": id,
        "direction": direction,
        "as": role,
        "from": sender,
        "type": kind,
        "text": text,
        "status": status,
        "created_at": rfc3339(*created),
    })
}

async fn get_conversation(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<DetailQuery>, QueryRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("conversations:read")).await?;
    let q = query(q)?;
    let n = limit(q.messages, 20, 100, "messages")?;
    let conv = find_conversation(&st, &p, &id).await?;
    let mut rows: Vec<MsgRow> = sqlx::query_as(
        "SELECT id, direction, sender, kind, content, status, sent_as, created_at FROM messages WHERE device_id = $1 AND chat = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(&conv.1)
    .bind(&conv.2)
    .bind(n)
    .fetch_all(&st.db.pool)
    .await?;
    rows.reverse(); // oldest first, as a chat reads
    let mut v = conversation_view(&conv);
    v["messages"] = rows.iter().map(message_view).collect();
    ok(StatusCode::OK, v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    text: String,
    #[serde(default, rename = "as")]
    sender: Option<String>,
}

async fn send_message(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("messages:send")).await?;
    let (b, raw) = parse::<SendBody>(&headers, body)?;
    let idem = idempotency(
        &headers,
        &p,
        &format!("POST /api/v1/conversations/{id}/messages"),
        &raw,
    )?;
    if let Some(r) = replay(&st, idem.as_ref()).await? {
        return Ok(r);
    }
    let sender = match b.sender.as_deref().map(str::trim) {
        None => "SYSTEM",
        Some(s) => SENDERS
            .iter()
            .copied()
            .find(|x| *x == s)
            .ok_or_else(|| WabotError::validation("as harus HUMAN_AGENT, BOT, atau SYSTEM"))?,
    };
    sending::check_text("text", &b.text)
        .map_err(|_| WabotError::validation("text wajib diisi (1 sampai 65536 karakter)"))?;
    let conv = find_conversation(&st, &p, &id).await?;
    if sender == BOT && conv.3 == HUMAN {
        return Err(WabotError::conflict(
            "Percakapan ini ditangani agen manusia (status HUMAN): balasan otomatis (as: BOT) dihentikan",
        ));
    }
    let msg = NewMessage {
        device_id: conv.1.clone(),
        to: conv.2.clone(),
        content: StoredContent::Text {
            text: b.text.clone(),
        },
        reply_to: None,
        mentions: Vec::new(),
        priority: Priority::Normal,
        send_at: None,
        reference_id: None,
        api_key_id: Some(p.key_id.clone()),
    };
    let notes = Annotations {
        sent_as: Some(sender.to_string()),
    };
    let a = sending::enqueue_annotated(&st, msg, &notes, idem.as_ref(), |q| {
        let data = json!({
            "id": q.id,
            "conversation_id": q.conversation_id,
            "as": sender,
            "text": b.text,
            "status": "queued",
            "created_at": rfc3339(q.created_at),
        });
        (StatusCode::ACCEPTED, envelope(data))
    })
    .await?;
    Ok(stored(a.status, a.body, a.replayed))
}

async fn handoff(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("conversations:write")).await?;
    let raw = body.map_err(|_| WabotError::validation("Body request tidak dapat dibaca"))?;
    let idem = idempotency(
        &headers,
        &p,
        &format!("POST /api/v1/conversations/{id}/handoff"),
        &raw,
    )?;
    if let Some(r) = replay(&st, idem.as_ref()).await? {
        return Ok(r);
    }
    find_conversation(&st, &p, &id).await?;
    let now = now_ms();
    let mut tx = st.db.pool.begin().await?;
    // Handing off twice keeps the first hand-off time.
    sqlx::query("UPDATE conversations SET status = 'HUMAN', handoff_at = COALESCE(handoff_at, $2), updated_at = $2 WHERE id = $1")
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let row: ConvRow = sqlx::query_as(&format!(
        "SELECT {CONV_COLS} FROM conversations WHERE id = $1"
    ))
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    commit_answer(
        &st,
        tx,
        idem.as_ref(),
        StatusCode::OK,
        conversation_view(&row),
    )
    .await
}

// ---- products -------------------------------------------------------------------------------

type ProductRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<String>,
    i64,
    i64,
    i64,
);

const PRODUCT_COLS: &str =
    "id, name, description, sku, price, stock, image_url, active, created_at, updated_at";

fn product_view(r: &ProductRow) -> Value {
    let (id, name, description, sku, price, stock, image_url, active, created, updated) = r;
    json!({
        "id": id,
        "name": name,
        "description": description,
        "sku": sku,
        "price": price,
        "stock": stock,
        "image_url": image_url,
        "active": *active != 0,
        "created_at": rfc3339(*created),
        "updated_at": rfc3339(*updated),
    })
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProduct {
    name: String,
    price: i64,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProduct {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    price: Option<i64>,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    image_url: Option<Option<String>>,
    #[serde(default)]
    active: Option<bool>,
}

fn check_product_text(field: &str, v: &str, min: usize, max: usize) -> Result<(), WabotError> {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max {
        return Err(WabotError::validation(format!(
            "{field} harus {min} sampai {max} karakter"
        )));
    }
    Ok(())
}

fn check_amount(field: &str, v: i64) -> Result<(), WabotError> {
    if !(0..=1_000_000_000_000).contains(&v) {
        return Err(WabotError::validation(format!(
            "{field} harus bilangan bulat 0 sampai 10^12"
        )));
    }
    Ok(())
}

fn check_image_url(v: &str) -> Result<(), WabotError> {
    match reqwest::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && v.len() <= 2048 => Ok(()),
        _ => Err(WabotError::validation("image_url harus URL http(s)")),
    }
}

async fn list_products(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    caller(&st, &headers, Some("products:read")).await?;
    let q = query(q)?;
    if q.status.is_some() {
        return Err(WabotError::validation("status bukan filter produk"));
    }
    let limit = limit(q.limit, 50, 200, "limit")?;
    let rows: Vec<ProductRow> = match &q.cursor {
        Some(c) => {
            let (t, id) = decode_cursor(c)?;
            sqlx::query_as(&format!("SELECT {PRODUCT_COLS} FROM products WHERE created_at < $1 OR (created_at = $1 AND id < $2) ORDER BY created_at DESC, id DESC LIMIT $3"))
                .bind(t)
                .bind(id)
                .bind(limit + 1)
                .fetch_all(&st.db.pool)
                .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {PRODUCT_COLS} FROM products ORDER BY created_at DESC, id DESC LIMIT $1"
            ))
            .bind(limit + 1)
            .fetch_all(&st.db.pool)
            .await?
        }
    };
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = more
        .then(|| rows.last().map(|r| encode_cursor(r.8, &r.0)))
        .flatten();
    let items: Vec<Value> = rows.iter().map(product_view).collect();
    ok(
        StatusCode::OK,
        json!({ "items": items, "next_cursor": next }),
    )
}

async fn create_product(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("products:write")).await?;
    let (b, raw) = parse::<CreateProduct>(&headers, body)?;
    let idem = idempotency(&headers, &p, "POST /api/v1/products", &raw)?;
    if let Some(r) = replay(&st, idem.as_ref()).await? {
        return Ok(r);
    }
    check_product_text("name", &b.name, 1, 200)?;
    check_amount("price", b.price)?;
    let stock = b.stock.unwrap_or(0);
    check_amount("stock", stock)?;
    if let Some(d) = &b.description {
        check_product_text("description", d, 0, 5000)?;
    }
    if let Some(s) = &b.sku {
        check_product_text("sku", s, 1, 100)?;
    }
    if let Some(u) = &b.image_url {
        check_image_url(u)?;
    }
    let now = now_ms();
    let row: ProductRow = (
        new_id("prd"),
        b.name.trim().to_string(),
        b.description,
        b.sku,
        b.price,
        stock,
        b.image_url,
        i64::from(b.active.unwrap_or(true)),
        now,
        now,
    );
    let mut tx = st.db.pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO products ({PRODUCT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&row.0)
    .bind(&row.1)
    .bind(row.2.clone())
    .bind(row.3.clone())
    .bind(row.4)
    .bind(row.5)
    .bind(row.6.clone())
    .bind(row.7)
    .bind(row.8)
    .bind(row.9)
    .execute(&mut *tx)
    .await?;
    commit_answer(
        &st,
        tx,
        idem.as_ref(),
        StatusCode::CREATED,
        product_view(&row),
    )
    .await
}

async fn update_product(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    caller(&st, &headers, Some("products:write")).await?;
    let (b, _) = parse::<UpdateProduct>(&headers, body)?;
    let now = now_ms();
    let mut tx = st.db.pool.begin().await?;
    // Write first: the row lock (PostgreSQL) or write lock (SQLite, where upgrading a read
    // transaction fails when another connection wrote meanwhile) serializes concurrent PATCHes.
    let locked = sqlx::query("UPDATE products SET updated_at = $2 WHERE id = $1")
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(WabotError::not_found("Produk"));
    }
    let mut row: ProductRow = sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLS} FROM products WHERE id = $1"
    ))
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(n) = b.name {
        check_product_text("name", &n, 1, 200)?;
        row.1 = n.trim().to_string();
    }
    if let Some(v) = b.price {
        check_amount("price", v)?;
        row.4 = v;
    }
    if let Some(v) = b.stock {
        check_amount("stock", v)?;
        row.5 = v;
    }
    if let Some(d) = b.description {
        if let Some(d) = &d {
            check_product_text("description", d, 0, 5000)?;
        }
        row.2 = d;
    }
    if let Some(s) = b.sku {
        if let Some(s) = &s {
            check_product_text("sku", s, 1, 100)?;
        }
        row.3 = s;
    }
    if let Some(u) = b.image_url {
        if let Some(u) = &u {
            check_image_url(u)?;
        }
        row.6 = u;
    }
    if let Some(a) = b.active {
        row.7 = i64::from(a);
    }
    row.9 = now;
    sqlx::query("UPDATE products SET name = $2, description = $3, sku = $4, price = $5, stock = $6, image_url = $7, active = $8, updated_at = $9 WHERE id = $1")
        .bind(&row.0)
        .bind(&row.1)
        .bind(row.2.clone())
        .bind(row.3.clone())
        .bind(row.4)
        .bind(row.5)
        .bind(row.6.clone())
        .bind(row.7)
        .bind(row.9)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    ok(StatusCode::OK, product_view(&row))
}

// ---- credits and usage ---------------------------------------------------------------------

async fn credits(State(st): State<AppState>, headers: HeaderMap) -> Reply {
    caller(&st, &headers, Some("credits:read")).await?;
    let b = crate::credits::balances(&st.db.pool).await?;
    ok(
        StatusCode::OK,
        json!({
            "balance": b.total(),
            "allowance": b.allowance,
            "rollover": b.rollover,
            "topup": b.topup,
            "price_per_message": st.config.price_per_message,
        }),
    )
}

#[derive(Deserialize)]
struct UsageQuery {
    days: Option<i64>,
}

#[derive(Default, Clone, Copy)]
struct Day {
    spent: i64,
    granted: i64,
    sent: i64,
    received: i64,
}

async fn usage(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("usage:read")).await?;
    let q = query(q)?;
    let days = limit(q.days, 30, 366, "days")?;
    // UTC days, today included.
    let today = now_ms().div_euclid(DAY_MS);
    let first = today - (days - 1);
    let since = first * DAY_MS;
    let mut per_day = vec![Day::default(); days as usize];
    let slot = |d: i64| {
        usize::try_from(d - first)
            .ok()
            .filter(|i| *i < days as usize)
    };
    let ledger: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT CAST(created_at / 86400000 AS BIGINT) AS d, kind, CAST(SUM(amount) AS BIGINT) FROM credit_ledger WHERE created_at >= $1 AND kind IN ('debit', 'grant') GROUP BY d, kind",
    )
    .bind(since)
    .fetch_all(&st.db.pool)
    .await?;
    for (d, kind, sum) in ledger {
        if let Some(i) = slot(d) {
            match kind.as_str() {
                "debit" => per_day[i].spent += -sum,
                _ => per_day[i].granted += sum,
            }
        }
    }
    let counts: Vec<(i64, String, i64)> = match &p.device_id {
        Some(dev) => sqlx::query_as(
            "SELECT CAST(created_at / 86400000 AS BIGINT) AS d, direction, COUNT(*) FROM messages WHERE created_at >= $1 AND device_id = $2 GROUP BY d, direction",
        )
        .bind(since)
        .bind(dev)
        .fetch_all(&st.db.pool)
        .await?,
        None => sqlx::query_as(
            "SELECT CAST(created_at / 86400000 AS BIGINT) AS d, direction, COUNT(*) FROM messages WHERE created_at >= $1 GROUP BY d, direction",
        )
        .bind(since)
        .fetch_all(&st.db.pool)
        .await?,
    };
    for (d, direction, n) in counts {
        if let Some(i) = slot(d) {
            if direction == "in" {
                per_day[i].received += n;
            } else {
                per_day[i].sent += n;
            }
        }
    }
    let date = |d: i64| rfc3339(d * DAY_MS)[..10].to_string();
    let total = per_day.iter().fold(Day::default(), |a, d| Day {
        spent: a.spent + d.spent,
        granted: a.granted + d.granted,
        sent: a.sent + d.sent,
        received: a.received + d.received,
    });
    let daily: Vec<Value> = per_day
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "date": date(first + i as i64),
                "credits_spent": d.spent,
                "credits_granted": d.granted,
                "messages_sent": d.sent,
                "messages_received": d.received,
            })
        })
        .collect();
    ok(
        StatusCode::OK,
        json!({
            "days": days,
            "from": date(first),
            "to": date(today),
            "timezone": "UTC",
            "credits": { "spent": total.spent, "granted": total.granted },
            "messages": { "sent": total.sent, "received": total.received },
            "daily": daily,
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

    #[test]
    fn inbound_messages_are_from_the_customer_and_outbound_default_to_system() {
        let row = |dir: &str, sent_as: Option<&str>| -> MsgRow {
            (
                "msg_1".into(),
                dir.into(),
                None,
                "text".into(),
                r#"{"content":{"type":"text","text":"halo"}}"#.into(),
                "queued".into(),
                sent_as.map(str::to_string),
                0,
            )
        };
        assert_eq!(message_view(&row("in", None))["as"], "CUSTOMER");
        assert_eq!(message_view(&row("out", None))["as"], "SYSTEM");
        let v = message_view(&row("out", Some("HUMAN_AGENT")));
        assert_eq!(
            (v["as"].as_str(), v["text"].as_str()),
            (Some("HUMAN_AGENT"), Some("halo"))
        );
    }
}
