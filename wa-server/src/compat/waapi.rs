//! Seed 002, the Baileys-based "waapi" gateway, including its Fonnte-compatible `POST /send`:
//! `/send`, `/api/send-message`, `/api/send-media`, `/api/devices/{deviceId}/wa-groups` and
//! `/api/status`, with that gateway's bodies (`{"status": false, "reason"}` on `/send`,
//! `{"error": "…"}` on `/api/…`). Sends go through `sending`; the device is the key's bound
//! device, else the online device with the lowest number.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::{Map, Value, json};

use super::{Device, Entry, KeyError, as_text, caller, display_to, own};
use crate::api::normalize_to;
use crate::error::ApiError;
use crate::queue::{MediaRef, StoredContent};
use crate::sending::{self, NewMessage, Priority};
use crate::state::AppState;
use crate::util::now_ms;

/// The most recipients one Fonnte `/send` may name.
const MAX_TARGETS: usize = 1000;

/// The most text one `/send` may queue in total (message × targets), so that a small body
/// cannot make the gateway write an outsized transaction.
const MAX_TOTAL_TEXT: usize = 4 * 1024 * 1024;

pub(super) fn table() -> Vec<Entry> {
    const MS: Option<&str> = Some("messages:send");
    const DR: Option<&str> = Some("devices:read");
    vec![
        ("POST", "/send", MS, post(fonnte_send)),
        ("POST", "/api/send-message", MS, post(send_message)),
        ("POST", "/api/send-media", MS, post(send_media)),
        (
            "GET",
            "/api/devices/{deviceId}/wa-groups",
            DR,
            get(wa_groups),
        ),
        ("GET", "/api/status", DR, get(status)),
    ]
}

/// A refusal; rendered as `{"status": false, "reason"}` on `/send` and `{"error"}` on `/api/…`.
#[derive(Debug)]
struct Fail {
    status: StatusCode,
    text: String,
    retry_after: Option<u64>,
}

impl Fail {
    fn new(status: StatusCode, text: impl Into<String>) -> Fail {
        Fail {
            status,
            text: text.into(),
            retry_after: None,
        }
    }
    fn bad(text: impl Into<String>) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, text)
    }
    fn not_connected(prefix: &str) -> Fail {
        Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{prefix}Device is not connected"),
        )
    }
    fn render(self, fonnte: bool) -> Response {
        let body = if fonnte {
            json!({ "status": false, "reason": self.text })
        } else {
            json!({ "error": self.text })
        };
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
            KeyError::Missing | KeyError::Invalid => {
                Fail::new(StatusCode::UNAUTHORIZED, "Unauthorized: Invalid API Key.")
            }
            KeyError::MissingScope(s) => Fail::new(
                StatusCode::FORBIDDEN,
                format!("Forbidden: this API key lacks the scope {s}"),
            ),
            KeyError::Refused(why) => Fail::new(StatusCode::FORBIDDEN, format!("Forbidden: {why}")),
            KeyError::RateLimited(s) => Fail {
                status: StatusCode::TOO_MANY_REQUESTS,
                text: "Too Many Requests: rate limit exceeded for this API key".into(),
                retry_after: Some(s),
            },
            KeyError::Internal => internal(),
        }
    }
}

fn internal() -> Fail {
    Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A native error from validation or the send path, in this contract's words.
fn from_api(e: ApiError, prefix: &str) -> Fail {
    match e.status {
        StatusCode::BAD_REQUEST => Fail::bad(match e.field {
            Some(f) => format!("Bad Request: {f}: {}", e.message),
            None => format!("Bad Request: {}", e.message),
        }),
        // The device was deleted between resolving and queueing.
        StatusCode::NOT_FOUND => Fail::not_connected(prefix),
        StatusCode::PAYMENT_REQUIRED => Fail::new(
            StatusCode::PAYMENT_REQUIRED,
            format!("{prefix}{}", e.message),
        ),
        s if s.is_server_error() => internal(),
        s => Fail::new(s, format!("{prefix}{}", e.message)),
    }
}

/// The request body as fields: a JSON object, or `application/x-www-form-urlencoded`.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Fail> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct == "application/x-www-form-urlencoded" {
        return Ok(url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    if ct.starts_with("multipart/") {
        return Err(Fail::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Content-Type: send application/json or application/x-www-form-urlencoded",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Fail::bad("Bad Request: the body must be a JSON object")),
        Err(e) => Err(Fail::bad(format!("Bad Request: invalid JSON body: {e}"))),
    }
}

/// A required text field (a number is taken as its digits).
fn required(f: &Map<String, Value>, names: &[&str]) -> Result<String, Fail> {
    names
        .iter()
        .find_map(|n| f.get(*n).and_then(as_text))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Fail::bad(format!("Missing required field: {}", names.join(" or "))))
}

fn optional(f: &Map<String, Value>, name: &str) -> Result<Option<String>, Fail> {
    match f.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_text(v)
            .map(Some)
            .ok_or_else(|| Fail::bad(format!("Bad Request: {name} must be a string"))),
    }
}

/// The device that sends for this key, which must be connected.
async fn online_device(
    st: &AppState,
    p: &crate::auth::Principal,
    prefix: &str,
) -> Result<Device, Fail> {
    match super::sending_device(st, p).await {
        Ok(Some(d)) if d.online() => Ok(d),
        Ok(_) => Err(Fail::not_connected(prefix)),
        Err(e) => Err(from_api(e, prefix)),
    }
}

/// Applies Fonnte's `countryCode`: a national number (leading 0) gets the code instead of
/// the 0; `0` turns this off. JIDs and `+…` numbers are left alone.
fn with_country_code(target: &str, code: &str) -> String {
    let t = target.trim();
    if code == "0" || t.contains('@') || t.starts_with('+') {
        return t.to_string();
    }
    let digits: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    match digits.strip_prefix('0') {
        Some(rest) => format!("{code}{rest}"),
        None => digits,
    }
}

/// Fonnte's `delay`: seconds between consecutive targets, `N` or `MIN-MAX` (random per gap).
fn parse_delay(spec: &str) -> Result<(u64, u64), Fail> {
    let bad =
        || Fail::bad("Bad Request: delay must be seconds, N or MIN-MAX (at most 3600)".to_string());
    let secs = |s: &str| s.trim().parse::<u64>().ok().filter(|v| *v <= 3600);
    let (a, b) = match spec.split_once('-') {
        Some((a, b)) => (secs(a).ok_or_else(bad)?, secs(b).ok_or_else(bad)?),
        None => {
            let v = secs(spec).ok_or_else(bad)?;
            (v, v)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// One Fonnte target: `number`, or `number|name|var1|var2…` whose parts fill `{name}`,
/// `{var1}`, … in the message.
fn personalize(entry: &str, message: &str) -> (String, String) {
    let mut parts = entry.split('|');
    let number = parts.next().unwrap_or("").trim().to_string();
    let mut text = message.to_string();
    for (i, value) in parts.enumerate() {
        let name = if i == 0 {
            "{name}".to_string()
        } else {
            format!("{{var{i}}}")
        };
        text = text.replace(&name, value.trim());
    }
    (number, text)
}

/// Fonnte's `url` attachment: an image or a video by the file's extension, any other file
/// as a document (named by `filename`, else the URL's last segment); the message is the
/// caption.
fn attachment(
    st: &AppState,
    url: &str,
    filename: Option<String>,
    caption: String,
) -> Result<StoredContent, Fail> {
    let name = file_name(url).unwrap_or_default().to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let kind = match ext {
        "jpg" | "jpeg" | "png" | "gif" | "webp" => "image",
        "mp4" | "3gp" | "mov" | "mkv" | "webm" => "video",
        _ => "document",
    };
    let media = MediaRef {
        url: url.to_string(),
        caption: (!caption.trim().is_empty()).then_some(caption),
        filename: (kind == "document")
            .then(|| filename.or_else(|| file_name(url)))
            .flatten(),
        mime_type: None,
    };
    let media = sending::check_media(st, "url", media)
        .map_err(|e| Fail::bad(format!("Bad Request: url: {}", e.message)))?;
    Ok(match kind {
        "image" => StoredContent::Image(media),
        "video" => StoredContent::Video(media),
        _ => StoredContent::Document(media),
    })
}

async fn fonnte_send(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match fonnte(&st, &headers, &body).await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(true),
    }
}

async fn fonnte(st: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, Fail> {
    let p = caller(st, headers, "messages:send").await?;
    let f = fields(headers, body)?;
    let targets_raw = required(&f, &["target", "to"])?;
    let url = optional(&f, "url")?.filter(|u| !u.trim().is_empty());
    // With an attachment the message is its caption and may be empty, as on Fonnte.
    let message = match &url {
        None => required(&f, &["message"])?,
        Some(_) => optional(&f, "message")?.unwrap_or_default(),
    };
    let filename = optional(&f, "filename")?.filter(|n| !n.trim().is_empty());
    let code = optional(&f, "countryCode")?.unwrap_or_else(|| "62".into());
    if code.is_empty() || code.len() > 4 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(Fail::bad("Bad Request: countryCode must be 1 to 4 digits"));
    }
    let delay = optional(&f, "delay")?
        .filter(|d| !d.trim().is_empty())
        .map(|d| parse_delay(&d))
        .transpose()?;
    let schedule = match optional(&f, "schedule")?.filter(|s| !s.trim().is_empty() && s != "0") {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<i64>()
                .ok()
                .filter(|v| (1..=253_402_300_799).contains(v))
                .ok_or_else(|| Fail::bad("Bad Request: schedule must be a unix timestamp"))?
                * 1000,
        ),
    };
    let entries: Vec<&str> = targets_raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if entries.is_empty() || entries.len() > MAX_TARGETS {
        return Err(Fail::bad(format!(
            "Bad Request: target must name 1 to {MAX_TARGETS} numbers"
        )));
    }
    if message.len().saturating_mul(entries.len()) > MAX_TOTAL_TEXT {
        return Err(Fail::bad(format!(
            "Bad Request: message × targets exceeds {MAX_TOTAL_TEXT} bytes; split the request"
        )));
    }
    let mut planned = Vec::with_capacity(entries.len());
    for entry in &entries {
        let (number, text) = personalize(entry, &message);
        let jid = normalize_to("target", &with_country_code(&number, &code))
            .map_err(|_| Fail::bad(format!("Bad Request: invalid target {number}")))?;
        let content = match &url {
            None => {
                sending::check_text("message", &text).map_err(|e| from_api(e, ""))?;
                StoredContent::Text { text }
            }
            Some(u) => attachment(st, u, filename.clone(), text)?,
        };
        planned.push((jid, content));
    }
    let device = online_device(st, &p, "").await?;
    // A schedule in the past means now, so that `delay` still spaces the targets.
    let now = now_ms();
    let mut send_at = schedule.map(|s| s.max(now)).or(delay.map(|_| now));
    let mut tx = st
        .db
        .begin_write()
        .await
        .map_err(|e| from_api(e.into(), ""))?;
    let mut ids = Vec::with_capacity(planned.len());
    let mut shown = Vec::with_capacity(planned.len());
    for (i, (jid, content)) in planned.into_iter().enumerate() {
        if i > 0
            && let (Some(t), Some((lo, hi))) = (send_at, delay)
        {
            send_at = Some(t + rand::thread_rng().gen_range(lo..=hi) as i64 * 1000);
        }
        let msg = NewMessage {
            device_id: device.id.clone(),
            to: jid.clone(),
            content,
            reply_to: None,
            mentions: Vec::new(),
            priority: Priority::Normal,
            send_at,
            reference_id: None,
            api_key_id: Some(p.key_id.clone()),
        };
        let q = sending::insert(st, &mut tx, msg)
            .await
            .map_err(|e| from_api(e, ""))?;
        ids.push(q.id);
        shown.push(display_to(&jid));
    }
    tx.commit().await.map_err(|e| from_api(e.into(), ""))?;
    crate::queue::wake(st, &device.id);
    Ok(json!({
        "status": true,
        "reason": "Message sent successfully",
        "detail": "success! message in queue",
        "id": ids,
        "process": "pending",
        "target": shown,
    }))
}

/// Queues one message on the key's device and answers the waapi success body.
async fn dispatch(
    st: &AppState,
    p: &crate::auth::Principal,
    to: &str,
    content: StoredContent,
    what: &str,
) -> Result<Value, Fail> {
    const PREFIX: &str = "Failed to send message: ";
    let jid = normalize_to("to", to).map_err(|e| from_api(e, PREFIX))?;
    let device = online_device(st, p, PREFIX).await?;
    let msg = NewMessage {
        device_id: device.id,
        to: jid.clone(),
        content,
        reply_to: None,
        mentions: Vec::new(),
        priority: Priority::Normal,
        send_at: None,
        reference_id: None,
        api_key_id: Some(p.key_id.clone()),
    };
    let message = format!("{what} dispatched successfully");
    let answer = sending::enqueue(st, msg, None, |q| {
        (
            StatusCode::OK,
            json!({
                "success": true,
                "message": message,
                "id": q.wa_message_id,
                "to": display_to(&jid),
                "timestamp": q.created_at / 1000,
            }),
        )
    })
    .await
    .map_err(|e| from_api(e, PREFIX))?;
    Ok(answer.body)
}

async fn send_message(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let p = caller(&st, &headers, "messages:send").await?;
        let f = fields(&headers, &body)?;
        let to = required(&f, &["to"])?;
        let text = required(&f, &["message"])?;
        sending::check_text("message", &text).map_err(|e| from_api(e, ""))?;
        dispatch(&st, &p, &to, StoredContent::Text { text }, "Message").await
    };
    match run.await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(false),
    }
}

/// The last path segment of a URL, as a document's file name.
fn file_name(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let last = u.path_segments()?.next_back()?.to_string();
    (!last.is_empty()).then_some(last)
}

async fn send_media(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let p = caller(&st, &headers, "messages:send").await?;
        let f = fields(&headers, &body)?;
        let kind = optional(&f, "type")?.unwrap_or_else(|| "image".into());
        if !matches!(kind.as_str(), "image" | "video" | "document") {
            return Err(Fail::bad(
                "Unsupported media type. Use: 'image', 'video', 'document'",
            ));
        }
        let to = required(&f, &["to"])?;
        let url = required(&f, &["url"])?;
        let caption = optional(&f, "caption")?.filter(|c| !c.is_empty());
        let media = MediaRef {
            filename: (kind == "document").then(|| file_name(&url)).flatten(),
            url,
            caption,
            mime_type: None,
        };
        let media = sending::check_media(&st, "media", media).map_err(|e| from_api(e, ""))?;
        let content = match kind.as_str() {
            "video" => StoredContent::Video(media),
            "document" => StoredContent::Document(media),
            _ => StoredContent::Image(media),
        };
        dispatch(&st, &p, &to, content, &format!("{kind} message")).await
    };
    match run.await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(false),
    }
}

const NOT_ACTIVE: &str = "Device is not connected or session not active";

async fn wa_groups(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(device_ref): Path<String>,
) -> Response {
    let run = async {
        let p = caller(&st, &headers, "devices:read").await?;
        let not_found = || Fail::new(StatusCode::NOT_FOUND, "Device not found");
        let device = super::device_by_ref(&st, &device_ref)
            .await
            .map_err(|e| from_api(e, ""))?
            .ok_or_else(not_found)?;
        if p.device_id.as_deref().is_some_and(|d| d != device.id) {
            return Err(not_found());
        }
        if !device.online() {
            return Err(Fail::new(StatusCode::SERVICE_UNAVAILABLE, NOT_ACTIVE));
        }
        let groups = st.transport.groups(&device.id).await.map_err(|e| match e {
            crate::transport::TransportError::Offline => {
                Fail::new(StatusCode::SERVICE_UNAVAILABLE, NOT_ACTIVE)
            }
            other => Fail::new(
                StatusCode::BAD_GATEWAY,
                format!("Failed to fetch groups: {other}"),
            ),
        })?;
        let list: Vec<Value> = groups
            .iter()
            .map(|g| json!({ "id": g.jid, "name": g.subject }))
            .collect();
        Ok::<_, Fail>(json!({ "success": true, "groups": list }))
    };
    match run.await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(false),
    }
}

/// The waapi status word of a native device status.
fn status_word(status: &str) -> &'static str {
    match status {
        "online" => "CONNECTED",
        "qr_waiting" => "SCAN_QR",
        "logged_out" => "LOGGED_OUT",
        "banned" => "BANNED",
        _ => "DISCONNECTED",
    }
}

/// One device in the `/api/status` form. `show_qr`: the key may read QR codes
/// (`devices:write`, as for the native QR route).
async fn status_entry(st: &AppState, d: &Device, show_qr: bool) -> Result<Value, sqlx::Error> {
    let pool = &st.db.pool;
    // Keys are stored hashed: the newest key bound to the device is shown by its prefix.
    let key: Option<(String,)> = sqlx::query_as(
        "SELECT prefix FROM api_keys WHERE device_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(&d.id)
    .fetch_optional(pool)
    .await?;
    let hook: Option<(String,)> = sqlx::query_as(
        "SELECT url FROM webhooks WHERE device_id = $1 AND enabled = 1 ORDER BY created_at, id LIMIT 1",
    )
    .bind(&d.id)
    .fetch_optional(pool)
    .await?;
    let (sent,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM messages WHERE device_id = $1 AND direction = 'out' AND status IN ('sent', 'delivered', 'read')",
    )
    .bind(&d.id)
    .fetch_one(pool)
    .await?;
    let qr = st
        .qr
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&d.id)
        .map(|(code, _)| code.clone());
    Ok(json!({
        "id": d.id,
        "name": d.name,
        "apiKey": key.map(|(prefix,)| format!("{prefix}…")),
        "webhookUrl": hook.map(|(u,)| u).unwrap_or_default(),
        "status": status_word(&d.status),
        "authenticated": matches!(d.status.as_str(), "online" | "offline"),
        "hasQr": qr.is_some(),
        "qr": if show_qr { qr } else { None },
        "phoneNumber": d.phone,
        "pushName": d.push_name,
        "totalMessagesSent": sent,
    }))
}

async fn status(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        let p = caller(&st, &headers, "devices:read").await?;
        let show_qr = p.require("devices:write").is_ok();
        let devices = super::visible_devices(&st, &p)
            .await
            .map_err(|e| from_api(e, ""))?;
        let mut list = Vec::with_capacity(devices.len());
        for d in &devices {
            list.push(
                status_entry(&st, d, show_qr)
                    .await
                    .map_err(|e| from_api(e.into(), ""))?,
            );
        }
        let public_url = st
            .config
            .compat
            .public_url
            .clone()
            .or_else(|| st.listen_url.get().cloned())
            .unwrap_or_default();
        Ok::<_, Fail>(json!({ "devices": list, "publicUrl": public_url }))
    };
    match run.await {
        Ok(v) => own((StatusCode::OK, Json(v)).into_response()),
        Err(f) => f.render(false),
    }
}

/// The OpenAPI operations of this contract.
pub(super) fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let s = |t: &str| json!({ "type": t });
    let ns = json!({ "type": ["string", "null"] });
    let fonnte_err = json!({ "type": "object", "properties": { "status": { "const": false }, "reason": s("string") }, "required": ["status", "reason"] });
    let waapi_err =
        json!({ "type": "object", "properties": { "error": s("string") }, "required": ["error"] });
    let resp = |d: &str, schema: &Value| json!({ "description": d, "content": { "application/json": { "schema": schema } } });
    let dispatched = json!({ "type": "object", "properties": { "success": s("boolean"), "message": s("string"), "id": s("string"), "to": s("string"), "timestamp": s("integer") }, "required": ["success", "message", "id", "to", "timestamp"] });
    let errors = |schema: &Value, codes: &[(&str, &str)]| {
        let mut m = Map::new();
        for (code, d) in codes {
            m.insert(code.to_string(), resp(d, schema));
        }
        m
    };
    let reads = [
        ("401", "missing or invalid API key"),
        ("403", "the key lacks the scope"),
        ("429", "rate limited; see Retry-After"),
        ("500", "internal error"),
    ];
    let mut common = vec![("400", "invalid request")];
    common.extend(reads);
    let send_errors = |schema: &Value| {
        let mut m = errors(schema, &common);
        m.insert(
            "503".into(),
            resp("the sending device is not connected", schema),
        );
        m.insert(
            "402".into(),
            resp("the credit balance does not cover the price", schema),
        );
        m
    };
    let op = |id: &str,
              summary: &str,
              scope: &str,
              security: Value,
              request: Option<Value>,
              ok: Value,
              mut responses: Map<String, Value>| {
        responses.insert("200".into(), ok);
        let mut o = json!({
            "operationId": id, "summary": summary, "tags": ["compat"],
            "x-required-scope": scope, "security": security, "responses": responses,
        });
        if let Some(r) = request {
            o["requestBody"] = r;
        }
        o
    };
    let fonnte_body = json!({ "type": "object", "properties": {
        "target": { "type": "string", "description": "comma-separated numbers, each optionally `number|name|var1…`; JIDs allowed" },
        "to": { "type": "string", "description": "alias of target" },
        "message": s("string"),
        "delay": { "type": "string", "description": "seconds between targets: N or MIN-MAX" },
        "schedule": { "type": "integer", "description": "unix seconds" },
        "countryCode": { "type": "string", "default": "62", "description": "replaces a leading 0; 0 disables" },
        "url": { "type": "string", "format": "uri", "description": "attachment: image or video by extension, else a document; the message is its caption" },
        "filename": { "type": "string", "description": "the document's file name" },
    }, "description": "message is required unless url is given" });
    let bearer = json!([{ "bearer": [] }, { "deviceApiKey": [] }]);
    vec![
        (
            "POST",
            "/send",
            op(
                "compatFonnteSend",
                "Fonnte-compatible send (seed 002): Authorization is the bare key",
                "messages:send",
                json!([{ "rawToken": [] }, { "bearer": [] }, { "deviceApiKey": [] }]),
                Some(json!({ "required": true, "content": {
                    "application/json": { "schema": fonnte_body },
                    "application/x-www-form-urlencoded": { "schema": fonnte_body },
                } })),
                resp(
                    "queued",
                    &json!({ "type": "object", "properties": { "status": { "const": true }, "reason": s("string"), "detail": s("string"), "id": { "type": "array", "items": s("string") }, "process": s("string"), "target": { "type": "array", "items": s("string") } }, "required": ["status", "reason", "detail", "id", "process", "target"] }),
                ),
                {
                    let mut m = send_errors(&fonnte_err);
                    m.insert(
                        "415".into(),
                        resp("multipart bodies are not accepted", &fonnte_err),
                    );
                    m
                },
            ),
        ),
        (
            "POST",
            "/api/send-message",
            op(
                "compatWaapiSendMessage",
                "waapi: send a text (seed 002)",
                "messages:send",
                bearer.clone(),
                Some(
                    json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": { "to": s("string"), "message": s("string") }, "required": ["to", "message"] } } } }),
                ),
                resp("queued", &dispatched),
                send_errors(&waapi_err),
            ),
        ),
        (
            "POST",
            "/api/send-media",
            op(
                "compatWaapiSendMedia",
                "waapi: send media by URL (seed 002)",
                "messages:send",
                bearer.clone(),
                Some(
                    json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "properties": { "to": s("string"), "url": { "type": "string", "format": "uri" }, "caption": s("string"), "type": { "type": "string", "enum": ["image", "video", "document"], "default": "image" } }, "required": ["to", "url"] } } } }),
                ),
                resp("queued", &dispatched),
                send_errors(&waapi_err),
            ),
        ),
        ("GET", "/api/devices/{deviceId}/wa-groups", {
            let mut o = op(
                "compatWaapiGroups",
                "waapi: the device's WhatsApp groups (seed 002)",
                "devices:read",
                bearer.clone(),
                None,
                resp(
                    "groups",
                    &json!({ "type": "object", "properties": { "success": s("boolean"), "groups": { "type": "array", "items": { "type": "object", "properties": { "id": s("string"), "name": s("string") }, "required": ["id", "name"] } } }, "required": ["success", "groups"] }),
                ),
                {
                    let mut m = errors(&waapi_err, &reads);
                    m.insert("404".into(), resp("no such device", &waapi_err));
                    m.insert("502".into(), resp("WhatsApp failed", &waapi_err));
                    m.insert(
                        "503".into(),
                        resp("the device is not connected", &waapi_err),
                    );
                    m
                },
            );
            o["parameters"] = json!([{ "name": "deviceId", "in": "path", "required": true, "schema": { "type": "string" }, "description": "`dev_…` id or device number" }]);
            o
        }),
        (
            "GET",
            "/api/status",
            op(
                "compatWaapiStatus",
                "waapi: every device's status and the public URL (seed 002)",
                "devices:read",
                bearer,
                None,
                resp(
                    "status",
                    &json!({ "type": "object", "properties": {
                        "devices": { "type": "array", "items": { "type": "object", "properties": {
                            "id": s("string"), "name": s("string"),
                            "apiKey": { "type": ["string", "null"], "description": "prefix of the newest key bound to the device, with an ellipsis (keys are stored hashed)" },
                            "webhookUrl": s("string"),
                            "status": { "type": "string", "enum": ["CONNECTED", "SCAN_QR", "DISCONNECTED", "LOGGED_OUT", "BANNED"] },
                            "authenticated": s("boolean"), "hasQr": s("boolean"),
                            "qr": { "type": ["string", "null"], "description": "only for keys with devices:write" },
                            "phoneNumber": ns, "pushName": ns, "totalMessagesSent": s("integer"),
                        } } },
                        "publicUrl": s("string"),
                    }, "required": ["devices", "publicUrl"] }),
                ),
                errors(&waapi_err, &reads),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_get_the_country_code() {
        assert_eq!(with_country_code("08123456789", "62"), "628123456789");
        assert_eq!(with_country_code("0812-3456-789", "62"), "628123456789");
        assert_eq!(with_country_code("628123456789", "62"), "628123456789");
        assert_eq!(with_country_code("0612345678", "31"), "31612345678");
    }

    #[test]
    fn country_code_zero_jids_and_plus_numbers_are_left_alone() {
        assert_eq!(with_country_code("08123456789", "0"), "08123456789");
        assert_eq!(
            with_country_code("+44 7700 900123", "62"),
            "+44 7700 900123"
        );
        assert_eq!(with_country_code("120363@g.us", "62"), "120363@g.us");
    }

    #[test]
    fn delay_is_seconds_or_a_range() {
        assert_eq!(parse_delay("2").unwrap(), (2, 2));
        assert_eq!(parse_delay("1-10").unwrap(), (1, 10));
        for bad in ["", "x", "5-1", "3601", "-1", "1-2-3"] {
            assert!(parse_delay(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_with_pipes_fill_name_and_variables() {
        let (n, t) = personalize(
            "08123|Budi|INV-1|Rp 10.000",
            "Halo {name}, tagihan {var1} sebesar {var2}",
        );
        assert_eq!(n, "08123");
        assert_eq!(t, "Halo Budi, tagihan INV-1 sebesar Rp 10.000");
        assert_eq!(
            personalize("628", "{name}"),
            ("628".into(), "{name}".into())
        );
    }

    #[test]
    fn form_and_json_bodies_give_the_same_fields() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let form = fields(&h, b"target=0812%2C0813&message=hi+there").unwrap();
        assert_eq!(form["target"], "0812,0813");
        assert_eq!(form["message"], "hi there");
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let js = fields(&h, br#"{"target": 628123, "message": "hi"}"#).unwrap();
        assert_eq!(required(&js, &["target", "to"]).unwrap(), "628123");
        assert!(fields(&h, b"[1]").is_err());
        assert!(fields(&h, b"{nope").is_err());
    }

    #[test]
    fn document_names_come_from_the_url_path() {
        assert_eq!(
            file_name("https://x.test/files/inv%201.pdf?a=1").as_deref(),
            Some("inv%201.pdf")
        );
        assert_eq!(file_name("https://x.test/"), None);
    }
}
