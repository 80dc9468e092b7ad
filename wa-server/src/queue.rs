//! The outbound queue: one worker task per device takes due messages in priority order,
//! resolves media, hands them to the transport, paces sends with jitter, retries transient
//! failures with exponential backoff (keeping the WhatsApp message id), holds messages while
//! the device is offline and fails them once they expire.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::events::record_status;
use crate::state::{AppState, Metrics};
use crate::transport::{MediaPayload, OutboundContent, OutboundMessage, SendError};
use crate::util::now_ms;

/// A media reference as accepted by the API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MediaRef {
    /// http(s) URL fetched by the gateway at send time.
    pub url: String,
    /// Caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// File name (documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// MIME type; taken from the response when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// Message content as stored in `messages.content`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoredContent {
    /// Text.
    Text {
        /// Body.
        text: String,
    },
    /// Image by URL.
    Image(MediaRef),
    /// Video by URL.
    Video(MediaRef),
    /// Audio by URL.
    Audio(MediaRef),
    /// Document by URL.
    Document(MediaRef),
    /// Location.
    Location {
        /// Degrees north.
        latitude: f64,
        /// Degrees east.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
    },
    /// Contact card.
    Contact {
        /// Name.
        name: String,
        /// Phone digits.
        phone: String,
    },
    /// Reaction.
    Reaction {
        /// WhatsApp id of the target message.
        message_id: String,
        /// Emoji.
        emoji: String,
    },
}

impl StoredContent {
    /// The `kind` column value.
    pub fn kind(&self) -> &'static str {
        match self {
            StoredContent::Text { .. } => "text",
            StoredContent::Image(_) => "image",
            StoredContent::Video(_) => "video",
            StoredContent::Audio(_) => "audio",
            StoredContent::Document(_) => "document",
            StoredContent::Location { .. } => "location",
            StoredContent::Contact { .. } => "contact",
            StoredContent::Reaction { .. } => "reaction",
        }
    }
}

/// The whole stored outbound request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Content.
    pub content: StoredContent,
    /// Quoted WhatsApp message id.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Mentioned JIDs.
    #[serde(default)]
    pub mentions: Vec<String>,
}

/// Wakes (spawning if needed) the worker of `device_id`. No-op before background tasks start.
pub fn wake(state: &AppState, device_id: &str) {
    if !state.background.load(Ordering::SeqCst) {
        return;
    }
    let mut workers = state.workers.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = workers.get(device_id) {
        n.notify_one();
        return;
    }
    let notify = Arc::new(Notify::new());
    workers.insert(device_id.to_string(), notify.clone());
    tokio::spawn(worker(state.clone(), device_id.to_string(), notify));
}

/// Called once before the gateway serves: nothing is connected yet after a (re)start, so
/// devices recorded as online become offline and those waiting for a QR scan become created. Returns the linked devices (online or offline
/// before the start) whose connections the transport should resume.
pub async fn reset_after_start(state: &AppState) -> Result<Vec<String>, sqlx::Error> {
    let linked: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM devices WHERE status IN ('online', 'offline')")
            .fetch_all(&state.db.pool)
            .await?;
    sqlx::query("UPDATE devices SET status = 'offline' WHERE status = 'online'")
        .execute(&state.db.pool)
        .await?;
    // A QR code shown before the restart is gone with its connection.
    sqlx::query("UPDATE devices SET status = 'created' WHERE status = 'qr_waiting'")
        .execute(&state.db.pool)
        .await?;
    Ok(linked.into_iter().map(|(id,)| id).collect())
}

/// Starts a worker for every device and asks the transport to resume the `linked` ones.
pub async fn start_all(state: &AppState, linked: Vec<String>) -> Result<(), sqlx::Error> {
    let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM devices")
        .fetch_all(&state.db.pool)
        .await?;
    for (id,) in ids {
        wake(state, &id);
    }
    for id in linked {
        if let Err(e) = state.transport.connect(&id).await {
            tracing::warn!(device_id = %id, error = %e, "resuming device connection failed");
        }
    }
    Ok(())
}

fn jittered(min: Duration, max: Duration) -> Duration {
    if max <= min {
        return min;
    }
    rand::thread_rng().gen_range(min..=max)
}

/// Delay before retry number `attempts` (1-based): base·2^(attempts−1), capped, times a random
/// factor in [0.5, 1].
pub fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(max);
    exp.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

/// Longest sleep of a worker whose device is not online (a safety net; status changes and
/// new messages wake workers at once).
const OFFLINE_IDLE: Duration = Duration::from_secs(30);

enum Step {
    Worked,
    Idle(Duration),
    Gone,
}

async fn worker(state: AppState, device_id: String, notify: Arc<Notify>) {
    loop {
        if state.stopping.load(Ordering::SeqCst) {
            break;
        }
        let step = match step(&state, &device_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, device_id, "queue step failed");
                Step::Idle(state.config.queue.poll_interval)
            }
        };
        match step {
            Step::Worked => {
                let q = &state.config.queue;
                tokio::select! {
                    _ = tokio::time::sleep(jittered(q.min_delay, q.max_delay)) => {}
                    _ = state.stopped() => break,
                }
            }
            Step::Idle(d) => {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(d) => {}
                    _ = state.stopped() => break,
                }
            }
            Step::Gone => break,
        }
    }
    state
        .workers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&device_id);
}

async fn fail(
    state: &AppState,
    id: &str,
    device_id: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin_write().await?;
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE messages SET status = 'failed', failure_reason = $2, updated_at = $3 WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut pos = None;
    if done.rows_affected() > 0 {
        Metrics::inc(&state.metrics.messages_failed);
        pos = record_status(&mut tx, device_id, id, "failed", Some(reason)).await?;
    }
    tx.commit().await?;
    if let Some(p) = pos {
        state.events_committed(p);
    }
    Ok(())
}

async fn step(state: &AppState, device_id: &str) -> Result<Step, sqlx::Error> {
    let q = &state.config.queue;
    let now = now_ms();
    let device: Option<(String,)> = sqlx::query_as("SELECT status FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(&state.db.pool)
        .await?;
    let Some((status,)) = device else {
        sqlx::query(
            "UPDATE messages SET status = 'failed', failure_reason = 'device_deleted', updated_at = $2 WHERE device_id = $1 AND status = 'queued'",
        )
        .bind(device_id)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
        return Ok(Step::Gone);
    };
    let expired: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM messages WHERE device_id = $1 AND direction = 'out' AND status = 'queued' AND expires_at IS NOT NULL AND expires_at <= $2",
    )
    .bind(device_id)
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    for (id,) in expired {
        fail(state, &id, device_id, "expired").await?;
    }
    if status != "online" {
        // Sleep until the next expiry; a status change or a new message wakes the worker.
        let soonest: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT MIN(expires_at) FROM messages WHERE device_id = $1 AND direction = 'out' AND status = 'queued'",
        )
        .bind(device_id)
        .fetch_optional(&state.db.pool)
        .await?;
        let wait = soonest
            .and_then(|(t,)| t)
            .map(|t| Duration::from_millis((t - now).max(1) as u64))
            .unwrap_or(OFFLINE_IDLE)
            .min(OFFLINE_IDLE);
        return Ok(Step::Idle(wait));
    }
    type Row = (String, String, String, String, i64);
    let next: Option<Row> = sqlx::query_as(
        "SELECT id, chat, content, wa_message_id, attempts FROM messages WHERE device_id = $1 AND direction = 'out' AND status = 'queued' AND next_attempt_at <= $2 ORDER BY priority, created_at, id LIMIT 1",
    )
    .bind(device_id)
    .bind(now)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((id, chat, content, wa_id, attempts)) = next else {
        let soonest: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT MIN(next_attempt_at) FROM messages WHERE device_id = $1 AND direction = 'out' AND status = 'queued'",
        )
        .bind(device_id)
        .fetch_optional(&state.db.pool)
        .await
        .unwrap_or(None);
        let wait = soonest
            .and_then(|(t,)| t)
            .map(|t| Duration::from_millis((t - now).max(1) as u64))
            .unwrap_or(q.poll_interval)
            .min(q.poll_interval);
        return Ok(Step::Idle(wait));
    };
    let stored: StoredMessage = match serde_json::from_str(&content) {
        Ok(s) => s,
        Err(_) => {
            fail(state, &id, device_id, "corrupt stored content").await?;
            return Ok(Step::Idle(Duration::ZERO));
        }
    };
    let attempt = attempts as u32 + 1;
    let result = match prepare(state, stored.content).await {
        Ok(content) => {
            let msg = OutboundMessage {
                id: id.clone(),
                wa_message_id: wa_id.clone(),
                to: chat,
                content,
                reply_to: stored.reply_to,
                mentions: stored.mentions,
                attempt,
            };
            match tokio::time::timeout(q.send_timeout, state.transport.send(device_id, &msg)).await
            {
                Ok(r) => r,
                Err(_) => Err(SendError::Temporary("send timed out".into())),
            }
        }
        Err(e) => Err(e),
    };
    let now = now_ms();
    match result {
        Ok(()) => {
            let mut tx = state.db.begin_write().await?;
            let done = sqlx::query(
                "UPDATE messages SET status = 'sent', sent_at = $2, attempts = $3, updated_at = $2 WHERE id = $1 AND status = 'queued'",
            )
            .bind(&id)
            .bind(now)
            .bind(attempt as i64)
            .execute(&mut *tx)
            .await?;
            // A receipt that overtook the send's acknowledgement already marked it sent.
            let pos = if done.rows_affected() > 0 {
                record_status(&mut tx, device_id, &id, "sent", None).await?
            } else {
                None
            };
            tx.commit().await?;
            Metrics::inc(&state.metrics.messages_sent);
            if let Some(p) = pos {
                state.events_committed(p);
            }
            Ok(Step::Worked)
        }
        Err(SendError::Offline) => Ok(Step::Idle(q.poll_interval)),
        Err(SendError::Permanent(reason)) => {
            fail(state, &id, device_id, &reason).await?;
            Ok(Step::Idle(Duration::ZERO))
        }
        Err(SendError::Temporary(reason)) => {
            if attempt >= q.max_attempts {
                fail(
                    state,
                    &id,
                    device_id,
                    &format!("gave up after {attempt} attempts: {reason}"),
                )
                .await?;
            } else {
                Metrics::inc(&state.metrics.send_retries);
                let delay = backoff(q.retry_base, q.retry_max, attempt);
                sqlx::query(
                    "UPDATE messages SET attempts = $2, next_attempt_at = $3, failure_reason = $4, updated_at = $5 WHERE id = $1 AND status = 'queued'",
                )
                .bind(&id)
                .bind(attempt as i64)
                .bind(now + delay.as_millis() as i64)
                .bind(&reason)
                .bind(now)
                .execute(&state.db.pool)
                .await?;
            }
            Ok(Step::Idle(Duration::ZERO))
        }
    }
}

async fn fetch_media(state: &AppState, m: MediaRef) -> Result<MediaPayload, SendError> {
    match state.media.fetch(&m.url).await {
        Ok(f) => Ok(MediaPayload {
            data: f.data,
            mime_type: m
                .mime_type
                .or(f.content_type)
                .unwrap_or_else(|| "application/octet-stream".into()),
            caption: m.caption,
            filename: m.filename,
        }),
        Err(e) if e.is_transient() => Err(SendError::Temporary(e.to_string())),
        Err(e) => Err(SendError::Permanent(e.to_string())),
    }
}

async fn prepare(state: &AppState, c: StoredContent) -> Result<OutboundContent, SendError> {
    Ok(match c {
        StoredContent::Text { text } => OutboundContent::Text(text),
        StoredContent::Image(m) => OutboundContent::Image(fetch_media(state, m).await?),
        StoredContent::Video(m) => OutboundContent::Video(fetch_media(state, m).await?),
        StoredContent::Audio(m) => OutboundContent::Audio(fetch_media(state, m).await?),
        StoredContent::Document(m) => OutboundContent::Document(fetch_media(state, m).await?),
        StoredContent::Location {
            latitude,
            longitude,
            name,
            address,
        } => OutboundContent::Location {
            latitude,
            longitude,
            name,
            address,
        },
        StoredContent::Contact { name, phone } => OutboundContent::Contact { name, phone },
        StoredContent::Reaction { message_id, emoji } => {
            OutboundContent::Reaction { message_id, emoji }
        }
    })
}
