//! wabot's conversations: the list (status filter, cursor pages), one conversation with its
//! last messages, sending into it `as` someone, and the hand-off to a human agent.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Any;

use super::{
    ListQuery, Reply, SENDERS, WabotError, caller, commit_answer, decode_cursor, encode_cursor,
    envelope, idempotency, limit, ok, parse, query, replay, stored,
};
use crate::auth::Principal;
use crate::conversations::{BOT, HUMAN};
use crate::queue::StoredContent;
use crate::sending::{self, Annotations, NewMessage, Priority};
use crate::state::AppState;
use crate::util::{now_ms, rfc3339};

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

pub(super) async fn list_conversations(
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
pub(super) struct DetailQuery {
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

pub(super) async fn get_conversation(
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

pub(super) async fn send_message(
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

pub(super) async fn handoff(
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
    let mut tx = st.db.begin_write().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
