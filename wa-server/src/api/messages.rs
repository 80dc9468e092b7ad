//! `/v1/devices/{id}/messages` (accept into the queue, with Idempotency-Key), `/v1/messages`
//! (log with cursor pagination and filters) and `/v1/messages/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{normalize_phone, normalize_to, ts};
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::queue::{MediaRef, StoredContent};
use crate::sending::{self, Idempotency, NewMessage};
use crate::state::AppState;
use crate::util::{parse_rfc3339, sha256_hex};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactCard {
    name: String,
    phone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reaction {
    message_id: String,
    emoji: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    Normal,
    Low,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum When {
    Unix(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    to: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image: Option<MediaRef>,
    #[serde(default)]
    video: Option<MediaRef>,
    #[serde(default)]
    audio: Option<MediaRef>,
    #[serde(default)]
    document: Option<MediaRef>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    contact: Option<ContactCard>,
    #[serde(default)]
    reaction: Option<Reaction>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    mentions: Option<Vec<String>>,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    send_at: Option<When>,
    #[serde(default)]
    reference_id: Option<String>,
}

const COLS: &str = "id, device_id, direction, chat, sender, kind, content, status, failure_reason, wa_message_id, priority, send_at, reference_id, attempts, job_no, created_at, updated_at, sent_at, delivered_at, read_at";

fn view(r: &AnyRow) -> Result<Value, sqlx::Error> {
    let content: String = r.try_get("content")?;
    let stored: Value = serde_json::from_str(&content).unwrap_or(Value::Null);
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "device_id": r.try_get::<String, _>("device_id")?,
        "direction": r.try_get::<String, _>("direction")?,
        "chat": r.try_get::<String, _>("chat")?,
        "from": r.try_get::<Option<String>, _>("sender")?,
        "push_name": stored.get("push_name").cloned().unwrap_or(Value::Null),
        "type": r.try_get::<String, _>("kind")?,
        "content": stored.get("content").cloned().unwrap_or(stored.clone()),
        "reply_to": stored.get("reply_to").cloned().unwrap_or(Value::Null),
        "status": r.try_get::<String, _>("status")?,
        "failure_reason": r.try_get::<Option<String>, _>("failure_reason")?,
        "wa_message_id": r.try_get::<String, _>("wa_message_id")?,
        "priority": sending::Priority::name_of(r.try_get("priority")?),
        "send_at": ts(r.try_get("send_at")?),
        "reference_id": r.try_get::<Option<String>, _>("reference_id")?,
        "attempts": r.try_get::<i64, _>("attempts")?,
        "job_no": r.try_get::<Option<i64>, _>("job_no")?,
        "created_at": ts(Some(r.try_get("created_at")?)),
        "updated_at": ts(Some(r.try_get("updated_at")?)),
        "sent_at": ts(r.try_get("sent_at")?),
        "delivered_at": ts(r.try_get("delivered_at")?),
        "read_at": ts(r.try_get("read_at")?),
    }))
}

fn media(field: &str, st: &AppState, m: MediaRef) -> Result<MediaRef, ApiError> {
    sending::check_media(st, field, m)
}

fn content(st: &AppState, b: &mut SendMessage) -> Result<StoredContent, ApiError> {
    let mut found: Vec<(&'static str, StoredContent)> = Vec::new();
    if let Some(text) = b.text.take() {
        sending::check_text("text", &text)?;
        found.push(("text", StoredContent::Text { text }));
    }
    if let Some(m) = b.image.take() {
        found.push(("image", StoredContent::Image(media("image", st, m)?)));
    }
    if let Some(m) = b.video.take() {
        found.push(("video", StoredContent::Video(media("video", st, m)?)));
    }
    if let Some(m) = b.audio.take() {
        found.push(("audio", StoredContent::Audio(media("audio", st, m)?)));
    }
    if let Some(m) = b.document.take() {
        found.push((
            "document",
            StoredContent::Document(media("document", st, m)?),
        ));
    }
    if let Some(l) = b.location.take() {
        if !(-90.0..=90.0).contains(&l.latitude) {
            return Err(ApiError::field(
                "location.latitude",
                "must be between -90 and 90",
            ));
        }
        if !(-180.0..=180.0).contains(&l.longitude) {
            return Err(ApiError::field(
                "location.longitude",
                "must be between -180 and 180",
            ));
        }
        found.push((
            "location",
            StoredContent::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
            },
        ));
    }
    if let Some(c) = b.contact.take() {
        super::check_len("contact.name", &c.name, 1, 200)?;
        let phone = normalize_phone(&c.phone).ok_or_else(|| {
            ApiError::field("contact.phone", "must be a phone number with country code")
        })?;
        found.push((
            "contact",
            StoredContent::Contact {
                name: c.name,
                phone,
            },
        ));
    }
    if let Some(r) = b.reaction.take() {
        super::check_len("reaction.message_id", &r.message_id, 1, 128)?;
        if r.emoji.chars().count() > 16 {
            return Err(ApiError::field(
                "reaction.emoji",
                "must be one emoji (or empty to remove)",
            ));
        }
        found.push((
            "reaction",
            StoredContent::Reaction {
                message_id: r.message_id,
                emoji: r.emoji,
            },
        ));
    }
    match found.len() {
        0 => Err(ApiError::field(
            "text",
            "one of text, image, video, audio, document, location, contact, reaction is required",
        )),
        1 => Ok(found.pop().expect("one").1),
        _ => Err(ApiError::field(
            found[1].0,
            format!(
                "only one content kind per message; got {} and {}",
                found[0].0, found[1].0
            ),
        )),
    }
}

pub async fn send(
    State(st): State<AppState>,
    p: Principal,
    Path(device_id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<SendMessage>,
) -> Result<Response, ApiError> {
    p.require("messages:send")?;
    p.check_device(&device_id)?;
    let idem = idempotency_key(&headers)?.map(|key| Idempotency {
        api_key_id: p.key_id.clone(),
        key,
        fingerprint: sha256_hex(
            &[
                format!("POST /v1/devices/{device_id}/messages\n").as_bytes(),
                &body.raw[..],
            ]
            .concat(),
        ),
    });
    if let Some(k) = &idem
        && let Some(a) = sending::replay(&st, k).await?
    {
        return Ok(answer(a));
    }
    let mut b = body.value;
    let to = normalize_to("to", &b.to)?;
    let content = content(&st, &mut b)?;
    let mentions = b
        .mentions
        .take()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, m)| normalize_to(&format!("mentions[{i}]"), m))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(r) = &b.reply_to {
        super::check_len("reply_to", r, 1, 128)?;
    }
    if let Some(r) = &b.reference_id {
        super::check_len("reference_id", r, 1, 128)?;
    }
    let send_at = match b.send_at.take() {
        None => None,
        Some(When::Unix(s)) if (0..=253_402_300_799).contains(&s) => Some(s * 1000),
        Some(When::Text(t)) if parse_rfc3339(&t).is_some() => parse_rfc3339(&t),
        Some(_) => {
            return Err(ApiError::field(
                "send_at",
                "must be an RFC 3339 timestamp or unix seconds",
            ));
        }
    };
    let msg = NewMessage {
        device_id,
        to,
        content,
        reply_to: b.reply_to,
        mentions,
        priority: match b.priority.unwrap_or(Priority::Normal) {
            Priority::High => sending::Priority::High,
            Priority::Normal => sending::Priority::Normal,
            Priority::Low => sending::Priority::Low,
        },
        send_at,
        reference_id: b.reference_id,
        api_key_id: Some(p.key_id.clone()),
    };
    let a = sending::enqueue(&st, msg, idem.as_ref(), |q| {
        (StatusCode::ACCEPTED, q.view.clone())
    })
    .await?;
    Ok(answer(a))
}

/// The `Idempotency-Key` header, if present: 1 to 255 visible characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        Some(v) => {
            let s = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 255);
            Ok(Some(
                s.ok_or_else(|| {
                    ApiError::field(
                        "Idempotency-Key",
                        "must be 1 to 255 visible ASCII characters",
                    )
                })?
                .to_string(),
            ))
        }
        None => Ok(None),
    }
}

/// The HTTP response for an accepted (or replayed) send; replays carry
/// `Idempotent-Replayed: true`.
pub fn answer(a: sending::Answer) -> Response {
    let mut r = (a.status, Json(a.body)).into_response();
    if a.replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// The native view of a message that was just queued, identical to what `GET
/// /v1/messages/{id}` returns for it, built without reading the row back.
#[allow(clippy::too_many_arguments)]
pub fn message_view_new(
    id: &str,
    device_id: &str,
    chat: &str,
    kind: &str,
    stored_content: &str,
    wa_message_id: &str,
    priority: i64,
    send_at: Option<i64>,
    reference_id: Option<&str>,
    now: i64,
) -> Value {
    let stored: Value = serde_json::from_str(stored_content).unwrap_or(Value::Null);
    json!({
        "id": id,
        "device_id": device_id,
        "direction": "out",
        "chat": chat,
        "from": Value::Null,
        "push_name": stored.get("push_name").cloned().unwrap_or(Value::Null),
        "type": kind,
        "content": stored.get("content").cloned().unwrap_or(stored.clone()),
        "reply_to": stored.get("reply_to").cloned().unwrap_or(Value::Null),
        "status": "queued",
        "failure_reason": Value::Null,
        "wa_message_id": wa_message_id,
        "priority": sending::Priority::name_of(priority),
        "send_at": ts(send_at),
        "reference_id": reference_id,
        "attempts": 0,
        "created_at": ts(Some(now)),
        "updated_at": ts(Some(now)),
        "sent_at": Value::Null,
        "delivered_at": Value::Null,
        "read_at": Value::Null,
    })
}

pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require("messages:read")?;
    let row = sqlx::query(&format!("SELECT {COLS} FROM messages WHERE id = $1"))
        .bind(&id)
        .fetch_optional(&st.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let device: String = row.try_get("device_id")?;
    if p.device_id.as_deref().is_some_and(|d| d != device) {
        return Err(ApiError::not_found("message"));
    }
    Ok(Json(view(&row)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    device_id: Option<String>,
    chat: Option<String>,
    direction: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    job_no: Option<i64>,
}

enum Param {
    S(String),
    I(i64),
}

pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require("messages:read")?;
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let mut push = |sql: &str, v: Param, conds: &mut Vec<String>| {
        params.push(v);
        conds.push(sql.replace('?', &format!("${}", params.len())));
    };
    let device = match (&p.device_id, q.device_id) {
        (Some(bound), Some(asked)) if *bound != asked => return Err(ApiError::not_found("device")),
        (Some(bound), _) => Some(bound.clone()),
        (None, asked) => asked,
    };
    if let Some(d) = device {
        push("device_id = ?", Param::S(d), &mut conds);
    }
    if let Some(c) = q.chat {
        push("chat = ?", Param::S(normalize_to("chat", &c)?), &mut conds);
    }
    if let Some(d) = q.direction {
        if d != "in" && d != "out" {
            return Err(ApiError::field("direction", "must be in or out"));
        }
        push("direction = ?", Param::S(d), &mut conds);
    }
    if let Some(s) = q.status {
        if !["queued", "sent", "delivered", "read", "failed", "received"].contains(&s.as_str()) {
            return Err(ApiError::field(
                "status",
                "must be queued, sent, delivered, read, failed or received",
            ));
        }
        push("status = ?", Param::S(s), &mut conds);
    }
    if let Some(n) = q.job_no {
        push("job_no = ?", Param::I(n), &mut conds);
    }
    if let Some(s) = q.since {
        let t = parse_rfc3339(&s)
            .ok_or_else(|| ApiError::field("since", "must be an RFC 3339 timestamp"))?;
        push("created_at >= ?", Param::I(t), &mut conds);
    }
    if let Some(s) = q.until {
        let t = parse_rfc3339(&s)
            .ok_or_else(|| ApiError::field("until", "must be an RFC 3339 timestamp"))?;
        push("created_at < ?", Param::I(t), &mut conds);
    }
    if let Some(c) = q.cursor {
        let bad = || ApiError::field("cursor", "invalid cursor");
        let raw = URL_SAFE_NO_PAD.decode(c.as_bytes()).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (t, id) = raw.split_once(':').ok_or_else(bad)?;
        let t: i64 = t.parse().map_err(|_| bad())?;
        params.push(Param::I(t));
        let a = params.len();
        params.push(Param::S(id.to_string()));
        conds.push(format!(
            "(created_at < ${a} OR (created_at = ${a} AND id < ${}))",
            a + 1
        ));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 200"));
    }
    let where_ = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLS} FROM messages {where_} ORDER BY created_at DESC, id DESC LIMIT {}",
        limit + 1
    );
    let mut query = sqlx::query(&sql);
    for prm in params {
        query = match prm {
            Param::S(s) => query.bind(s),
            Param::I(i) => query.bind(i),
        };
    }
    let mut rows = query.fetch_all(&st.db.pool).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        let last = rows.last().expect("non-empty when more");
        let t: i64 = last.try_get("created_at")?;
        let id: String = last.try_get("id")?;
        Some(URL_SAFE_NO_PAD.encode(format!("{t}:{id}")))
    } else {
        None
    };
    let data = rows.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "data": data, "next_cursor": next })))
}

/// `GET /v1/messages/{id}/media`: the decrypted media of a received message, downloaded from
/// WhatsApp through the device on request. It is staged in an unlinked temporary file so the
/// MAC and hashes are checked before the first byte is served, without holding it in memory.
pub async fn download_media(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    p.require("messages:read")?;
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT device_id, kind, content FROM messages WHERE id = $1")
            .bind(&id)
            .fetch_optional(&st.db.pool)
            .await?;
    let (device_id, kind, content) = row.ok_or_else(|| ApiError::not_found("message"))?;
    if p.device_id.as_deref().is_some_and(|d| d != device_id) {
        return Err(ApiError::not_found("message"));
    }
    let stored: Value = serde_json::from_str(&content).unwrap_or(Value::Null);
    let download: crate::transport::MediaDownload = stored
        .get("media_download")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| ApiError::not_found("media of this message"))?;
    let media = stored.pointer("/content/media");
    let mime = media
        .and_then(|m| m.get("mime_type"))
        .and_then(Value::as_str)
        .filter(|m| HeaderValue::from_str(m).is_ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let file_name = media
        .and_then(|m| m.get("file_name"))
        .and_then(Value::as_str)
        .map(|n| {
            // Only a conservative character set goes into the header.
            n.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
                .collect::<String>()
        })
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("{id}.{kind}"));

    let path = std::env::temp_dir().join(format!("wasap-media-{}", crate::util::new_id("tmp")));
    let mut file = tokio::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .await
        .map_err(ApiError::internal)?;
    // Unlinked at once: the open handle keeps the data until the response is done.
    let _ = tokio::fs::remove_file(&path).await;
    let length = st
        .transport
        .download_media(&device_id, &download, &mut file)
        .await
        .map_err(super::devices::transport_error)?;
    file.rewind().await.map_err(ApiError::internal)?;
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut r = axum::body::Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_str(&mime).expect("checked above"),
    );
    h.insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(length),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}
