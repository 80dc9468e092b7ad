//! The event log and webhook outbox. [`record`] runs inside the caller's transaction, so an
//! event (and one delivery row per matching webhook) exists exactly when the state change it
//! describes was committed. Also applies what transports report ([`apply_transport_event`]).

use serde_json::{Value, json};
use sqlx::{Any, Transaction};

use crate::state::{AppState, Metrics};
use crate::transport::{InboundMessage, ReceiptKind, TransportEvent};
use crate::util::{new_id, new_wa_message_id, now_ms, rfc3339};

/// Event types the gateway emits.
pub const EVENT_TYPES: &[&str] = &[
    "device.status",
    "message.received",
    "message.status",
    "group.participants",
];

/// Records a `message.status` event for our outbound message `message_id` (now `status`:
/// sent, delivered, read or failed) inside `tx`, with the message's chat, WhatsApp id, the
/// caller's reference and, for failures, the reason.
pub async fn record_status(
    tx: &mut Transaction<'static, Any>,
    device_id: &str,
    message_id: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT chat, wa_message_id, reference_id, attempts FROM messages WHERE id = $1",
    )
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((chat, wa_message_id, reference_id, attempts)) = row else {
        return Ok(None);
    };
    let mut data = json!({
        "message_id": message_id,
        "wa_message_id": wa_message_id,
        "chat": chat,
        "reference_id": reference_id,
        "status": status,
        "attempts": attempts,
    });
    if let Some(r) = reason {
        data["reason"] = r.into();
    }
    record(tx, device_id, "message.status", data).await
}

/// Appends an event for `device_id` inside `tx`. Returns its global position, or `None` when
/// the device no longer exists.
pub async fn record(
    tx: &mut Transaction<'static, Any>,
    device_id: &str,
    event_type: &str,
    data: Value,
) -> Result<Option<i64>, sqlx::Error> {
    let seq: Option<(i64,)> = sqlx::query_as(
        "UPDATE devices SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq",
    )
    .bind(device_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((seq,)) = seq else { return Ok(None) };
    // One counter row gives a gap-free global order equal to commit order: the row lock is
    // held until this transaction commits.
    let (pos,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + 1 WHERE name = 'events' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    let now = now_ms();
    let id = new_id("evt");
    let payload = json!({
        "id": id,
        "type": event_type,
        "device_id": device_id,
        "sequence": seq,
        "timestamp": rfc3339(now),
        "data": data,
    });
    sqlx::query(
        "INSERT INTO events (pos, id, device_id, seq, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(pos)
    .bind(&id)
    .bind(device_id)
    .bind(seq)
    .bind(event_type)
    .bind(payload.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let hooks: Vec<(String, String)> =
        sqlx::query_as("SELECT id, events FROM webhooks WHERE enabled = 1 AND (device_id IS NULL OR device_id = $1)")
            .bind(device_id)
            .fetch_all(&mut **tx)
            .await?;
    for (hook_id, events) in hooks {
        let wanted: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
        if !wanted.iter().any(|e| e == "*" || e == event_type) {
            continue;
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_pos, device_id, status, attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
        )
        .bind(new_id("dlv"))
        .bind(&hook_id)
        .bind(pos)
        .bind(device_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Some(pos))
}

/// Applies one transport report to the database (with its event) and wakes listeners.
pub async fn apply_transport_event(
    state: &AppState,
    event: TransportEvent,
) -> Result<(), sqlx::Error> {
    // Reports that change no rows are handled without a transaction (on SQLite one would
    // take the write lock).
    match &event {
        TransportEvent::Qr { device_id, code } => {
            state
                .qr
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(device_id.clone(), (code.clone(), now_ms()));
            return Ok(());
        }
        TransportEvent::Reconnecting { .. } => {
            Metrics::inc(&state.metrics.reconnects);
            return Ok(());
        }
        TransportEvent::DecryptFailed { .. } => {
            Metrics::inc(&state.metrics.decrypt_failures);
            return Ok(());
        }
        _ => {}
    }
    let mut tx = state.db.begin_write().await?;
    let now = now_ms();
    let mut wake_device = None;
    let pos = match event {
        TransportEvent::Qr { .. }
        | TransportEvent::Reconnecting { .. }
        | TransportEvent::DecryptFailed { .. } => return Ok(()),
        TransportEvent::Status {
            device_id,
            status,
            phone,
            push_name,
        } => {
            if status != crate::transport::DeviceStatus::QrWaiting {
                state
                    .qr
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&device_id);
            }
            let done = sqlx::query(
                "UPDATE devices SET status = $2, phone = COALESCE($3, phone), push_name = COALESCE($4, push_name), last_seen_at = $5, updated_at = $5 WHERE id = $1",
            )
            .bind(&device_id)
            .bind(status.as_str())
            .bind(phone.clone())
            .bind(push_name.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(());
            }
            wake_device = Some(device_id.clone());
            let data = json!({
                "status": status.as_str(),
                "phone": phone,
                "push_name": push_name,
                "last_seen_at": rfc3339(now),
            });
            record(&mut tx, &device_id, "device.status", data).await?
        }
        TransportEvent::Receipt {
            device_id,
            wa_message_id,
            kind,
        } => {
            let (new, sql) = match kind {
                ReceiptKind::Delivered => (
                    "delivered",
                    "UPDATE messages SET status = 'delivered', delivered_at = $3, updated_at = $3 WHERE device_id = $1 AND wa_message_id = $2 AND direction = 'out' AND status IN ('queued', 'sent') RETURNING id",
                ),
                ReceiptKind::Read => (
                    "read",
                    "UPDATE messages SET status = 'read', read_at = $3, delivered_at = COALESCE(delivered_at, $3), updated_at = $3 WHERE device_id = $1 AND wa_message_id = $2 AND direction = 'out' AND status IN ('queued', 'sent', 'delivered') RETURNING id",
                ),
            };
            // The receipt can overtake the server's acknowledgement of the send: the message
            // is then still queued. It was sent, so say so first, in order.
            let promoted: Option<(String, i64)> = sqlx::query_as(
                "UPDATE messages SET status = 'sent', sent_at = $3, attempts = attempts + 1, updated_at = $3 WHERE device_id = $1 AND wa_message_id = $2 AND direction = 'out' AND status = 'queued' RETURNING id, attempts",
            )
            .bind(&device_id)
            .bind(&wa_message_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, _attempts)) = promoted {
                record_status(&mut tx, &device_id, &id, "sent", None).await?;
            }
            let row: Option<(String,)> = sqlx::query_as(sql)
                .bind(&device_id)
                .bind(&wa_message_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((id,)) = row else { return Ok(()) };
            record_status(&mut tx, &device_id, &id, new, None).await?
        }
        TransportEvent::GroupParticipants {
            device_id,
            group,
            author,
            action,
            participants,
        } => {
            let data = json!({
                "group": group,
                "action": action,
                "author": author,
                "participants": participants,
            });
            record(&mut tx, &device_id, "group.participants", data).await?
        }
        TransportEvent::Inbound { device_id, message } => {
            match store_inbound(&mut tx, &device_id, &message, now).await? {
                Some(data) => {
                    Metrics::inc(&state.metrics.messages_received);
                    record(&mut tx, &device_id, "message.received", data).await?
                }
                None => return Ok(()),
            }
        }
    };
    tx.commit().await?;
    if let Some(pos) = pos {
        state.events_committed(pos);
    }
    if let Some(d) = wake_device {
        crate::queue::wake(state, &d);
    }
    Ok(())
}

async fn store_inbound(
    tx: &mut Transaction<'static, Any>,
    device_id: &str,
    m: &InboundMessage,
    now: i64,
) -> Result<Option<Value>, sqlx::Error> {
    let exists: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM messages WHERE device_id = $1 AND wa_message_id = $2 AND direction = 'in'",
    )
    .bind(device_id)
    .bind(&m.wa_message_id)
    .fetch_optional(&mut **tx)
    .await?;
    if exists.is_some() {
        return Ok(None); // a redelivered message is stored and announced once
    }
    let id = new_id("msg");
    let wa = if m.wa_message_id.is_empty() {
        new_wa_message_id()
    } else {
        m.wa_message_id.clone()
    };
    let kind = if m.kind.is_empty() {
        "text"
    } else {
        m.kind.as_str()
    };
    let media = m.media.as_ref().map(|x| {
        json!({
            "mime_type": x.mime_type,
            "file_length": x.file_length,
            "file_name": x.file_name,
            // Our own download route: the media key never leaves the gateway.
            "download_url": x.download.as_ref().map(|_| format!("/v1/messages/{id}/media")),
        })
    });
    let mut content = json!({ "type": kind, "text": m.text });
    if let Some(media) = &media {
        content["media"] = media.clone();
    }
    if !m.mentions.is_empty() {
        content["mentions"] = json!(m.mentions);
    }
    let mut stored = json!({
        "content": content,
        "reply_to": m.quoted,
        "push_name": m.push_name,
        "sender_phone": m.sender_phone,
        "sender_lid": m.sender_lid,
    });
    if let Some(d) = m.media.as_ref().and_then(|x| x.download.as_ref()) {
        stored["media_download"] = serde_json::to_value(d).expect("serializable");
    }
    // Group chats are named by the group, not by whoever wrote last.
    let name = (!m.is_group).then_some(m.push_name.as_deref()).flatten();
    let conversation = crate::conversations::touch(tx, device_id, &m.chat, name, now).await?;
    sqlx::query(
        "INSERT INTO messages (id, device_id, direction, chat, sender, kind, content, status, wa_message_id, priority, attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, 'in', $3, $4, $5, $6, 'received', $7, 1, 0, $8, $8, $8)",
    )
    .bind(&id)
    .bind(device_id)
    .bind(&m.chat)
    .bind(&m.sender)
    .bind(kind)
    .bind(stored.to_string())
    .bind(&wa)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Some(json!({
        "message_id": id,
        "wa_message_id": wa,
        "chat": m.chat,
        "from": m.sender,
        "sender_phone": m.sender_phone,
        "sender_lid": m.sender_lid,
        "push_name": m.push_name,
        "type": kind,
        "text": m.text,
        "media": media,
        "quoted": m.quoted,
        "mentions": m.mentions,
        "is_group": m.is_group,
        "timestamp": rfc3339(m.timestamp_ms),
        // Automation reading this event must stay quiet while an agent handles the chat.
        "conversation": { "id": conversation.id, "status": conversation.status },
    })))
}

/// Consumes transport reports until the channel closes.
pub async fn run_transport_events(
    state: AppState,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<TransportEvent>,
) {
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => ev,
                None => break,
            },
            _ = state.stopped() => break,
        };
        // A report must not be lost: transient database trouble (a busy SQLite file, a lost
        // connection, a serialization failure) is retried until it passes or the gateway
        // stops; anything else is retried a few times and then logged as an error.
        let mut attempt = 0u32;
        loop {
            match apply_transport_event(&state, ev.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    attempt += 1;
                    let transient = is_transient(&e);
                    if !transient && attempt >= 5 {
                        tracing::error!(error = %e, event = %describe(&ev), "transport event could not be stored");
                        break;
                    }
                    tracing::warn!(error = %e, attempt, transient, "applying transport event failed");
                    let wait = std::time::Duration::from_millis(100u64 << attempt.min(5));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = state.stopped() => return,
                    }
                }
            }
        }
    }
}

/// Whether a database error may pass on a retry: lock contention, serialization failures,
/// deadlocks and connection trouble.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            // SQLite SQLITE_BUSY (5) / SQLITE_LOCKED (6) and their extended codes;
            // PostgreSQL serialization failure, deadlock and connection classes.
            let sqlite_busy = code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy || code == "40001" || code == "40P01" || code.starts_with("08")
        }
        _ => false,
    }
}

/// What a transport event is about, without message contents (for logs).
fn describe(ev: &TransportEvent) -> String {
    match ev {
        TransportEvent::Status {
            device_id, status, ..
        } => format!("status {} of {device_id}", status.as_str()),
        TransportEvent::Receipt {
            device_id,
            wa_message_id,
            ..
        } => format!("receipt for {wa_message_id} on {device_id}"),
        TransportEvent::Qr { device_id, .. } => format!("qr of {device_id}"),
        TransportEvent::Inbound { device_id, message } => {
            format!("inbound {} on {device_id}", message.wa_message_id)
        }
        TransportEvent::GroupParticipants {
            device_id, group, ..
        } => format!("group change of {group} on {device_id}"),
        TransportEvent::Reconnecting { device_id } => format!("reconnect of {device_id}"),
        TransportEvent::DecryptFailed {
            device_id,
            wa_message_id,
            ..
        } => format!("decrypt failure of {wa_message_id} on {device_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_and_pool_timeouts_are_transient_but_decode_errors_are_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::other(
            "reset"
        ))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }
}
