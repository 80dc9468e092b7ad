//! Contract 003, WhatsHub: `POST /api/v1/messages/send` with `app_id` and `secret_key` in the
//! body, translated onto the native send path ([`crate::sending::enqueue`]).
//!
//! An app is an API key: `app_id` is the key's id, `secret_key` the key itself, the app's name
//! the key's name, and its session the device the key is bound to. Answers are
//! `{"success": true, …, "jobId"}` with 200, or `{"error": "<message>"}` with the documented
//! status and Indonesian message.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::Entry;
use super::composer::{self, ComposeRequest};
use super::ordered::Json;
use crate::auth;
use crate::error::{ApiError, OwnShape};
use crate::queue::{MediaRef, StoredContent};
use crate::sending::{self, NewMessage, Priority};
use crate::state::AppState;

/// The messages the contract documents, word for word.
pub mod msg {
    /// 401: a credential is missing.
    pub const CREDENTIALS_REQUIRED: &str = "app_id dan secret_key wajib disertakan";
    /// 401: the key is unknown, revoked, or not the key of `app_id`.
    pub const SECRET_INVALID: &str = "secret_key tidak valid";
    /// 403: the key is disabled.
    pub const APP_DISABLED: &str = "Aplikasi ini sedang dinonaktifkan";
    /// 400: no text, raw_data or file.
    pub const CONTENT_REQUIRED: &str =
        "content harus memiliki minimal salah satu: text, raw_data, atau file";
    /// 400: the key is bound to no (existing) device.
    pub const NO_SESSION: &str = "Aplikasi belum memiliki device/session";
    /// 200.
    pub const QUEUED: &str = "Pesan berhasil dimasukkan ke antrean";
}

/// The contract's routes.
pub(super) fn table() -> Vec<Entry> {
    vec![(
        "POST",
        "/api/v1/messages/send",
        Some("messages:send"),
        post(send).fallback(|| async {
            HubError::new(StatusCode::METHOD_NOT_ALLOWED, "Gunakan metode POST")
        }),
    )]
}

/// The contract's OpenAPI operation.
pub(super) fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let s = |t: &str| json!({ "type": t });
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "type": "object", "properties": { "error": s("string") }, "required": ["error"] } } } });
    let location = json!({ "type": "object", "properties": { "latitude": s("number"), "longitude": s("number"), "title": s("string") }, "required": ["latitude", "longitude"] });
    let send = json!({
        "operationId": "compatWhatshubSend",
        "summary": "WhatsHub: queue a text, media, location or AI-composed message (seed 003)",
        "tags": ["compat"],
        "x-required-scope": "messages:send",
        "description": "app_id is an API key's id and secret_key the key; the key's bound device is the session (docs/compat.md).",
        "security": [],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": {
            "app_id": s("string"), "secret_key": s("string"),
            "to": { "type": "string", "description": "628xxx, 628xxx@c.us or a group …@g.us" },
            "type": { "type": "string", "enum": ["text", "image", "file", "document", "location"], "default": "text" },
            "content": { "type": "object", "properties": {
                "text": s("string"),
                "raw_data": { "type": ["object", "string"] },
                "file": { "type": "object", "properties": { "url": { "type": "string", "format": "uri" }, "mimetype": s("string"), "filename": s("string") }, "required": ["url"] },
            } },
            "location": location,
            "priority": { "type": "string", "enum": ["high", "normal", "low"], "default": "normal" },
            "use_ai": s("boolean"), "ai_context": s("string"),
        }, "required": ["app_id", "secret_key", "to"] } } } },
        "responses": {
            "200": { "description": "queued", "content": { "application/json": { "schema": { "type": "object", "properties": {
                "success": { "const": true }, "message": s("string"), "jobId": { "type": "string", "pattern": "^[0-9]+$" },
                "app": s("string"), "session": s("string"), "recipient": s("string"), "type": s("string"), "location": location,
            }, "required": ["success", "message", "jobId", "app", "session", "recipient", "type"] } } } },
            "400": err("invalid request, or `Aplikasi belum memiliki device/session`"),
            "401": err("`app_id dan secret_key wajib disertakan` or `secret_key tidak valid`"),
            "402": err("the credit balance does not cover the message"),
            "403": err("`Aplikasi ini sedang dinonaktifkan` (disabled key) or the key lacks messages:send"),
            "429": err("the key's rate limit (see Retry-After)"),
            "502": err("use_ai: the AI endpoint failed; nothing was queued"),
        },
    });
    vec![("POST", "/api/v1/messages/send", send)]
}

/// A failure in the contract's shape, `{"error": "<message>"}`.
#[derive(Debug)]
struct HubError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl HubError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HubError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ApiError> for HubError {
    fn from(e: ApiError) -> Self {
        let message = match e.status {
            StatusCode::NOT_FOUND => return HubError::bad(msg::NO_SESSION),
            StatusCode::PAYMENT_REQUIRED => format!("Saldo kredit tidak mencukupi: {}", e.message),
            StatusCode::TOO_MANY_REQUESTS => {
                "Terlalu banyak permintaan untuk aplikasi ini, coba lagi nanti".to_string()
            }
            s if s.is_server_error() => "Terjadi kesalahan pada server".to_string(),
            _ => e.message,
        };
        HubError {
            status: e.status,
            message,
            retry_after: e.retry_after,
        }
    }
}

impl From<sqlx::Error> for HubError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r.extensions_mut().insert(OwnShape);
        r
    }
}

/// `type` of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Image,
    File,
    Document,
    Location,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "text" => Kind::Text,
            "image" => Kind::Image,
            "file" => Kind::File,
            "document" => Kind::Document,
            "location" => Kind::Location,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Image => "image",
            Kind::File => "file",
            Kind::Document => "document",
            Kind::Location => "location",
        }
    }
}

async fn send(State(st): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    match handle(&st, body).await {
        Ok(v) => {
            let mut r = (StatusCode::OK, axum::Json(v)).into_response();
            r.extensions_mut().insert(OwnShape);
            r
        }
        Err(e) => e.into_response(),
    }
}

fn opt_str<'a>(body: &'a Json, key: &str, what: &str) -> Result<Option<&'a str>, HubError> {
    match body.field(key) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(HubError::bad(format!("{what} harus berupa string"))),
    }
}

async fn handle(st: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Value, HubError> {
    let raw = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            HubError::new(StatusCode::PAYLOAD_TOO_LARGE, "Body request terlalu besar")
        } else {
            HubError::bad("Body request tidak dapat dibaca")
        }
    })?;
    let body = Json::parse(&raw)
        .ok()
        .filter(|b| matches!(b, Json::Object(_)))
        .ok_or_else(|| HubError::bad("Body request harus berupa objek JSON yang valid"))?;

    // Who is asking: the documented 401/403/400 checks, in order.
    let cred = |k: &str| {
        body.field(k)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let (Some(app_id), Some(secret)) = (cred("app_id"), cred("secret_key")) else {
        return Err(HubError::new(
            StatusCode::UNAUTHORIZED,
            msg::CREDENTIALS_REQUIRED,
        ));
    };
    let key = auth::find_key_any(st, secret)
        .await?
        .filter(|k| k.principal.key_id == app_id)
        .ok_or_else(|| HubError::new(StatusCode::UNAUTHORIZED, msg::SECRET_INVALID))?;
    if key.disabled {
        return Err(HubError::new(StatusCode::FORBIDDEN, msg::APP_DISABLED));
    }
    auth::rate_limit(st, &key)?;
    if !key.principal.has("messages:send") {
        return Err(HubError::new(
            StatusCode::FORBIDDEN,
            "Aplikasi tidak memiliki izin mengirim pesan (scope messages:send)",
        ));
    }
    let device_id = key
        .principal
        .device_id
        .clone()
        .ok_or_else(|| HubError::bad(msg::NO_SESSION))?;
    let session: (String,) = sqlx::query_as("SELECT name FROM devices WHERE id = $1")
        .bind(&device_id)
        .fetch_optional(&st.db.pool)
        .await?
        .ok_or_else(|| HubError::bad(msg::NO_SESSION))?;

    // What to send. A number sent as a JSON number (a common client slip) reads as its digits.
    let to = match body.field("to") {
        None => return Err(HubError::bad("to wajib diisi")),
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) if n.is_u64() => n.to_string(),
        Some(_) => return Err(HubError::bad("to harus berupa string")),
    };
    let (jid, recipient) = recipient(&to)?;
    let kind = match opt_str(&body, "type", "type")? {
        None => Kind::Text,
        Some(t) => Kind::parse(t.trim()).ok_or_else(|| {
            HubError::bad("type tidak valid: gunakan text, image, file, document, atau location")
        })?,
    };
    let priority = match opt_str(&body, "priority", "priority")? {
        None => Priority::Normal,
        Some("high") => Priority::High,
        Some("normal") => Priority::Normal,
        Some("low") => Priority::Low,
        Some(_) => return Err(HubError::bad("priority harus high, normal, atau low")),
    };
    let use_ai = match body.field("use_ai") {
        None => false,
        Some(Json::Bool(b)) => *b,
        Some(_) => return Err(HubError::bad("use_ai harus berupa boolean")),
    };
    let ai_context = opt_str(&body, "ai_context", "ai_context")?;
    if ai_context.is_some_and(|c| c.chars().count() > 4000) {
        return Err(HubError::bad("ai_context maksimal 4000 karakter"));
    }

    let (content, location) = if kind == Kind::Location {
        location(&body)?
    } else {
        let c = match body.field("content") {
            None => return Err(HubError::bad(msg::CONTENT_REQUIRED)),
            Some(c @ Json::Object(_)) => c,
            Some(_) => return Err(HubError::bad("content harus berupa objek")),
        };
        let text = opt_str(c, "text", "content.text")?;
        let raw_data = c.field("raw_data");
        let file = match c.field("file") {
            None => None,
            Some(f @ Json::Object(_)) => Some(f),
            Some(_) => return Err(HubError::bad("content.file harus berupa objek")),
        };
        if text.is_none_or(|t| t.trim().is_empty()) && raw_data.is_none() && file.is_none() {
            return Err(HubError::bad(msg::CONTENT_REQUIRED));
        }
        let body_text = compose(st, text, raw_data, use_ai, ai_context).await?;
        (media_or_text(st, kind, body_text, file)?, None)
    };

    let msg = NewMessage {
        device_id,
        to: jid,
        content,
        reply_to: None,
        mentions: Vec::new(),
        priority,
        send_at: None,
        reference_id: None,
        api_key_id: Some(key.principal.key_id.clone()),
    };
    let app = key.name.clone();
    let answer = sending::enqueue(st, msg, None, |q| {
        let mut v = json!({
            "success": true,
            "message": msg::QUEUED,
            "jobId": q.job_no.to_string(),
            "app": app,
            "session": session.0,
            "recipient": recipient,
            "type": kind.name(),
        });
        if let Some(l) = location {
            v["location"] = l;
        }
        (StatusCode::OK, v)
    })
    .await?;
    Ok(answer.body)
}

/// `to` as (JID to send to, recipient as WhatsHub reports it): persons as `628…@c.us`
/// (from `628…`, `+62 8…`, `08…`, `628…@c.us` or `628…@s.whatsapp.net`), groups as given.
fn recipient(to: &str) -> Result<(String, String), HubError> {
    let bad = || {
        HubError::bad(
            "Format nomor tujuan (to) tidak valid: gunakan 628xxx, 628xxx@c.us, atau ID grup @g.us",
        )
    };
    let t = to.trim();
    if t.ends_with("@g.us") {
        let jid = crate::api::normalize_to("to", t).map_err(|_| bad())?;
        return Ok((jid.clone(), jid));
    }
    let number = t
        .strip_suffix("@c.us")
        .or_else(|| t.strip_suffix("@s.whatsapp.net"))
        .unwrap_or(t);
    let mut digits = crate::api::normalize_phone(number).ok_or_else(bad)?;
    // Indonesian numbers are often written nationally (08…): WhatsApp needs 628….
    if !number.trim_start().starts_with('+')
        && let Some(rest) = digits.strip_prefix('0')
    {
        digits = format!("62{rest}");
    }
    Ok((format!("{digits}@s.whatsapp.net"), format!("{digits}@c.us")))
}

fn location(body: &Json) -> Result<(StoredContent, Option<Value>), HubError> {
    let l = match body.field("location") {
        Some(l @ Json::Object(_)) => l,
        _ => {
            return Err(HubError::bad(
                "location wajib diisi (latitude, longitude) untuk type location",
            ));
        }
    };
    let coord = |k: &str, range: std::ops::RangeInclusive<f64>| {
        l.field(k)
            .and_then(Json::as_f64)
            .filter(|v| range.contains(v))
            .ok_or_else(|| {
                HubError::bad(format!(
                    "location.{k} wajib berupa angka antara {} dan {}",
                    range.start(),
                    range.end()
                ))
            })
    };
    let latitude = coord("latitude", -90.0..=90.0)?;
    let longitude = coord("longitude", -180.0..=180.0)?;
    let title = opt_str(l, "title", "location.title")?.map(str::to_string);
    if title.as_ref().is_some_and(|t| t.chars().count() > 1000) {
        return Err(HubError::bad("location.title maksimal 1000 karakter"));
    }
    let echo = json!({ "latitude": latitude, "longitude": longitude, "title": title });
    Ok((
        StoredContent::Location {
            latitude,
            longitude,
            name: title,
            address: None,
        },
        Some(echo),
    ))
}

/// The message text: without `use_ai`, the text followed by the rendering of `raw_data`;
/// with it, what the configured composer makes of them and `ai_context`.
async fn compose(
    st: &AppState,
    text: Option<&str>,
    raw_data: Option<&Json>,
    use_ai: bool,
    ai_context: Option<&str>,
) -> Result<Option<String>, HubError> {
    let lines = raw_data.map(composer::render_raw_data);
    let json = raw_data.map(Json::to_json_string);
    let req = ComposeRequest {
        raw_data_json: json.as_deref(),
        raw_data_lines: lines.as_deref(),
        text,
        context: ai_context,
    };
    if !use_ai || composer::plain(&req).is_none() {
        return Ok(composer::plain(&req));
    }
    match st.composer.compose(&req).await {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            tracing::warn!(error = %e, "AI composition failed");
            Err(HubError::new(
                StatusCode::BAD_GATEWAY,
                "Gagal menyusun pesan dengan AI, coba lagi nanti",
            ))
        }
    }
}

fn media_or_text(
    st: &AppState,
    kind: Kind,
    text: Option<String>,
    file: Option<&Json>,
) -> Result<StoredContent, HubError> {
    if kind == Kind::Text {
        let text = text.ok_or_else(|| {
            HubError::bad("content.text atau content.raw_data wajib diisi untuk type text")
        })?;
        sending::check_text("content.text", &text)
            .map_err(|_| HubError::bad("Isi pesan maksimal 65536 karakter"))?;
        return Ok(StoredContent::Text { text });
    }
    let f = file.ok_or_else(|| {
        HubError::bad(format!(
            "content.file (url, mimetype, filename) wajib diisi untuk type {}",
            kind.name()
        ))
    })?;
    let url = opt_str(f, "url", "content.file.url")?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| HubError::bad("content.file.url wajib diisi"))?;
    let mime_type = opt_str(f, "mimetype", "content.file.mimetype")?.map(str::to_string);
    let filename = opt_str(f, "filename", "content.file.filename")?.map(str::to_string);
    if mime_type.as_ref().is_some_and(|m| m.len() > 255)
        || filename.as_ref().is_some_and(|n| n.chars().count() > 255)
    {
        return Err(HubError::bad(
            "content.file.mimetype dan content.file.filename maksimal 255 karakter",
        ));
    }
    let m = MediaRef {
        url: url.trim().to_string(),
        caption: text.filter(|t| !t.trim().is_empty()),
        filename,
        mime_type,
    };
    let m = sending::check_media(st, "content.file", m).map_err(|e| {
        if e.field.as_deref() == Some("content.file.caption") {
            HubError::bad("Caption maksimal 4096 karakter")
        } else {
            HubError::bad(format!("content.file.url tidak valid: {}", e.message))
        }
    })?;
    Ok(match kind {
        Kind::Image => StoredContent::Image(m),
        _ => StoredContent::Document(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_reported_as_c_us_and_groups_pass_through() {
        let r = |s: &str| recipient(s).map_err(|e| e.message);
        assert_eq!(
            r("6281234567890").unwrap(),
            (
                "6281234567890@s.whatsapp.net".to_string(),
                "6281234567890@c.us".to_string()
            )
        );
        assert_eq!(r("6281234567890@c.us").unwrap().1, "6281234567890@c.us");
        assert_eq!(r("081234567890").unwrap().1, "6281234567890@c.us");
        assert_eq!(
            r("6281234567890-1600000000@g.us").unwrap().0,
            "6281234567890-1600000000@g.us"
        );
        for bad in ["", "abc", "628@evil.example", "x@g.us", "62 81x@c.us"] {
            assert!(r(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn types_parse_and_name_round_trip() {
        for t in ["text", "image", "file", "document", "location"] {
            assert_eq!(Kind::parse(t).unwrap().name(), t);
        }
        assert!(Kind::parse("video").is_none());
    }
}
