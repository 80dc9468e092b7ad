//! Seed 000, SatuApps: `POST /api/wa/{device_id}/send-message` (key in `X-Device-Api-Key`,
//! device by number or `dev_…` id) and `GET /api/profile` (the credit balance), with the
//! seed's rate limits (per device on `/api/wa`, per key on `/api/profile`) and its error
//! shape `{"error", "message", "hint", "request_id"}`. An exhausted credit balance is the
//! seed's 429 `quota_exceeded`; an exceeded rate limit is a 429 `rate_limited` with
//! Retry-After. The webhook bodies live in `webhooks::satuapps_payload`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{Entry, KeyError, as_text, caller, own, request_id};
use crate::api::{check_len, normalize_to};
use crate::error::ApiError;
use crate::queue::{MediaRef, StoredContent};
use crate::sending::{self, NewMessage, Priority};
use crate::state::AppState;
use crate::util::rfc3339;

pub(super) fn table() -> Vec<Entry> {
    vec![
        (
            "POST",
            "/api/wa/{device_id}/send-message",
            Some("messages:send"),
            post(send_message),
        ),
        ("GET", "/api/profile", Some("credits:read"), get(profile)),
    ]
}

const PAYLOAD_HINT: &str = "Pastikan body JSON berisi to & message";

/// A refusal in the SatuApps error shape.
#[derive(Debug)]
struct Fail {
    status: StatusCode,
    error: &'static str,
    message: String,
    hint: String,
    retry_after: Option<u64>,
}

impl Fail {
    fn new(
        status: StatusCode,
        error: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Fail {
        Fail {
            status,
            error,
            message: message.into(),
            hint: hint.into(),
            retry_after: None,
        }
    }
    fn payload(message: impl Into<String>) -> Fail {
        Fail::new(
            StatusCode::BAD_REQUEST,
            "invalid_payload",
            message,
            PAYLOAD_HINT,
        )
    }
    fn unauthorized(message: &str) -> Fail {
        Fail::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            message,
            "Kirim API Key device di header X-Device-Api-Key (atau Authorization: Bearer)",
        )
    }
    fn rate_limited(retry_after: u64, what: &str) -> Fail {
        Fail {
            retry_after: Some(retry_after),
            ..Fail::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Batas request {what} terlampaui"),
                format!("Coba lagi dalam {retry_after} detik"),
            )
        }
    }
    fn internal() -> Fail {
        Fail::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Terjadi kesalahan di server",
            "Coba lagi beberapa saat lagi",
        )
    }
    fn render(self, headers: &HeaderMap) -> Response {
        let body = json!({
            "error": self.error,
            "message": self.message,
            "hint": self.hint,
            "request_id": request_id(headers),
        });
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        own(r)
    }
}

impl From<KeyError> for Fail {
    fn from(e: KeyError) -> Fail {
        match e {
            KeyError::Missing => Fail::unauthorized("API Key belum dikirim"),
            KeyError::Invalid => Fail::unauthorized("API Key salah"),
            KeyError::MissingScope(s) => Fail::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("API Key ini tidak memiliki scope {s}"),
                "Buat API Key dengan scope tersebut",
            ),
            KeyError::Refused(why) => Fail::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                why,
                "Hubungi admin gateway untuk mengaktifkan API Key ini",
            ),
            KeyError::RateLimited(s) => Fail::rate_limited(s, "API Key"),
            KeyError::Internal => Fail::internal(),
        }
    }
}

/// A native error from validation or the send path, in SatuApps' words.
fn from_api(e: ApiError) -> Fail {
    match (e.status, e.code) {
        (_, "insufficient_credits") => Fail::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            "Kuota paket habis",
            "Tambah saldo (POST /v1/credits/grants) lalu kirim ulang",
        ),
        (StatusCode::BAD_REQUEST, _) => Fail::payload(match e.field {
            Some(f) => format!("Field {f} tidak valid: {}", e.message),
            None => e.message,
        }),
        (StatusCode::NOT_FOUND, _) => device_not_found(),
        _ => Fail::internal(),
    }
}

fn device_not_found() -> Fail {
    Fail::new(
        StatusCode::NOT_FOUND,
        "device_not_found",
        "Device tidak ditemukan",
        "Gunakan nomor device (atau id dev_…) dari GET /v1/devices",
    )
}

/// A field that must be a non-blank string (a number is taken as its digits).
fn required(body: &Map<String, Value>, name: &str) -> Result<String, Fail> {
    body.get(name)
        .and_then(as_text)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Fail::payload(format!("Field {name} wajib diisi")))
}

/// The optional `media` object as message content.
fn media(st: &AppState, v: &Value) -> Result<Option<StoredContent>, Fail> {
    if v.is_null() {
        return Ok(None);
    }
    let m = v
        .as_object()
        .ok_or_else(|| Fail::payload("Field media harus berupa object {type, url, caption}"))?;
    let kind = match m.get("type") {
        None | Some(Value::Null) => "image".to_string(),
        Some(t) => t.as_str().unwrap_or("").to_string(),
    };
    let url = m
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| Fail::payload("Field media.url wajib diisi"))?;
    let caption = match m.get("caption") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.is_empty() => None,
        Some(Value::String(c)) => Some(c.clone()),
        Some(_) => return Err(Fail::payload("Field media.caption harus berupa string")),
    };
    let r = sending::check_media(
        st,
        "media",
        MediaRef {
            url: url.to_string(),
            caption,
            filename: None,
            mime_type: None,
        },
    )
    .map_err(from_api)?;
    Ok(Some(match kind.as_str() {
        "image" => StoredContent::Image(r),
        "video" => StoredContent::Video(r),
        "audio" => StoredContent::Audio(r),
        "document" => StoredContent::Document(r),
        _ => {
            return Err(Fail::payload(
                "Field media.type harus image, video, audio atau document",
            ));
        }
    }))
}

async fn send_message(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(device_ref): Path<String>,
    body: Bytes,
) -> Response {
    match send(&st, &headers, &device_ref, &body).await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(&headers),
    }
}

async fn send(
    st: &AppState,
    headers: &HeaderMap,
    device_ref: &str,
    body: &[u8],
) -> Result<Value, Fail> {
    let p = caller(st, headers, "messages:send").await?;
    let device = super::device_by_ref(st, device_ref)
        .await
        .map_err(from_api)?;
    // A key belongs to one device: another device's path is a wrong key, not a lookup.
    if let Some(bound) = &p.device_id
        && device.as_ref().is_none_or(|d| &d.id != bound)
    {
        return Err(Fail::unauthorized(
            "API Key tidak terhubung dengan device ini",
        ));
    }
    let device = device.ok_or_else(device_not_found)?;
    st.compat_limits
        .satuapps_device
        .check(&device.id, st.config.compat.satuapps_device_per_minute)
        .map_err(|s| Fail::rate_limited(s, "device"))?;
    let b = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Fail::payload("Body harus berupa JSON object")),
    };
    let to = required(&b, "to")?;
    let text = required(&b, "message")?;
    let jid = normalize_to("to", &to).map_err(from_api)?;
    sending::check_text("message", &text).map_err(from_api)?;
    let reference_id = match b.get("reference_id") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let r = as_text(v)
                .ok_or_else(|| Fail::payload("Field reference_id harus berupa string"))?;
            check_len("reference_id", &r, 1, 128).map_err(from_api)?;
            Some(r)
        }
    };
    let media = media(st, b.get("media").unwrap_or(&Value::Null))?;
    if !device.online() {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "device_offline",
            "Device belum online",
            "Hubungkan device (POST /v1/devices/{id}/connect) dan scan QR",
        ));
    }
    // The text first, then the media: both in one transaction, so either both are queued
    // (and paid for) or neither.
    let mut contents = vec![StoredContent::Text { text }];
    contents.extend(media);
    let mut tx = st.db.begin_write().await.map_err(|e| from_api(e.into()))?;
    let mut first = None;
    for content in contents {
        let q = sending::insert(
            st,
            &mut tx,
            NewMessage {
                device_id: device.id.clone(),
                to: jid.clone(),
                content,
                reply_to: None,
                mentions: Vec::new(),
                priority: Priority::Normal,
                send_at: None,
                reference_id: reference_id.clone(),
                api_key_id: Some(p.key_id.clone()),
            },
        )
        .await
        .map_err(from_api)?;
        first.get_or_insert(q);
    }
    tx.commit().await.map_err(|e| from_api(e.into()))?;
    crate::queue::wake(st, &device.id);
    let q = first.ok_or_else(Fail::internal)?;
    Ok(json!({
        "status": "queued",
        "device_id": device.number,
        "queued_at": rfc3339(q.created_at),
        "job_id": format!("send:{}:{}", device.number, q.id),
    }))
}

async fn profile(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        let p = caller(&st, &headers, "credits:read").await?;
        st.compat_limits
            .satuapps_user
            .check(&p.key_id, st.config.compat.satuapps_user_per_minute)
            .map_err(|s| Fail::rate_limited(s, "user"))?;
        let (name,): (String,) = sqlx::query_as("SELECT name FROM api_keys WHERE id = $1")
            .bind(&p.key_id)
            .fetch_one(&st.db.pool)
            .await
            .map_err(|e| from_api(e.into()))?;
        let device = match &p.device_id {
            Some(d) => super::device_by_ref(&st, d)
                .await
                .map_err(from_api)?
                .map(|d| d.number),
            None => None,
        };
        let b = crate::credits::balances(&st.db.pool)
            .await
            .map_err(|e| from_api(e.into()))?;
        Ok::<_, Fail>(json!({
            "id": p.key_id,
            "name": name,
            "token_balance": b.total(),
            "balances": { "allowance": b.allowance, "rollover": b.rollover, "topup": b.topup },
            "price_per_message": st.config.price_per_message,
            "device_id": device,
        }))
    };
    match run.await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(&headers),
    }
}

/// The OpenAPI operations of this contract.
pub(super) fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let s = |t: &str| json!({ "type": t });
    let err = json!({ "type": "object", "properties": { "error": s("string"), "message": s("string"), "hint": s("string"), "request_id": s("string") }, "required": ["error", "message", "hint", "request_id"] });
    let resp =
        |d: &str| json!({ "description": d, "content": { "application/json": { "schema": err } } });
    let security = json!([{ "deviceApiKey": [] }, { "bearer": [] }]);
    let send = json!({
        "operationId": "compatSatuappsSendMessage",
        "summary": "SatuApps: queue a text (and optional media) on a device (seed 000)",
        "tags": ["compat"],
        "x-required-scope": "messages:send",
        "security": security,
        "parameters": [{ "name": "device_id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "device number (e.g. 12) or `dev_…` id" }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": {
            "to": s("string"), "message": s("string"), "reference_id": s("string"),
            "media": { "type": "object", "properties": { "type": { "type": "string", "enum": ["image", "video", "audio", "document"] }, "url": { "type": "string", "format": "uri" }, "caption": s("string") }, "required": ["url"] },
        }, "required": ["to", "message"] } } } },
        "responses": {
            "200": { "description": "queued", "content": { "application/json": { "schema": { "type": "object", "properties": {
                "status": { "const": "queued" }, "device_id": s("integer"), "queued_at": { "type": "string", "format": "date-time" }, "job_id": s("string"),
            }, "required": ["status", "device_id", "queued_at", "job_id"] } } } },
            "400": resp("`invalid_payload`"),
            "401": resp("`unauthorized`: missing or wrong key, or a key of another device"),
            "403": resp("`forbidden`: the key lacks the scope"),
            "404": resp("`device_not_found`"),
            "409": resp("`device_offline`: the device is not online"),
            "429": resp("`quota_exceeded` (credit balance used up) or `rate_limited` (see Retry-After)"),
            "500": resp("`internal_error`"),
        },
    });
    let profile = json!({
        "operationId": "compatSatuappsProfile",
        "summary": "SatuApps: the key's profile and the credit (token) balance (seed 000)",
        "tags": ["compat"],
        "x-required-scope": "credits:read",
        "security": security,
        "responses": {
            "200": { "description": "profile", "content": { "application/json": { "schema": { "type": "object", "properties": {
                "id": s("string"), "name": s("string"), "token_balance": s("integer"),
                "balances": { "type": "object", "properties": { "allowance": s("integer"), "rollover": s("integer"), "topup": s("integer") } },
                "price_per_message": s("integer"), "device_id": { "type": ["integer", "null"] },
            }, "required": ["id", "name", "token_balance", "balances", "price_per_message", "device_id"] } } } },
            "401": resp("`unauthorized`"),
            "403": resp("`forbidden`: the key lacks the scope"),
            "429": resp("`rate_limited` (see Retry-After)"),
            "500": resp("`internal_error`"),
        },
    });
    vec![
        ("POST", "/api/wa/{device_id}/send-message", send),
        ("GET", "/api/profile", profile),
    ]
}
