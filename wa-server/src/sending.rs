//! Accepting an outbound message into the durable queue: the one write path that the native
//! API and every compatibility API go through. The message row (and the idempotency record,
//! when the caller sent a key) is committed before the caller answers.

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;
use crate::queue::{MediaRef, StoredContent};
use crate::state::AppState;
use crate::util::{new_id, new_wa_message_id, now_ms};

/// Queue priority: lower numbers are sent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// Ahead of everything else.
    High,
    /// The default.
    #[default]
    Normal,
    /// After everything else.
    Low,
}

impl Priority {
    /// The stored rank.
    pub fn rank(self) -> i64 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
    /// The API name of a stored rank.
    pub fn name_of(rank: i64) -> &'static str {
        match rank {
            0 => "high",
            2 => "low",
            _ => "normal",
        }
    }
}

/// A validated message ready to be queued.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The device that sends it (must exist).
    pub device_id: String,
    /// Recipient JID (already normalized, e.g. with `api::normalize_to`).
    pub to: String,
    /// What to send.
    pub content: StoredContent,
    /// WhatsApp id of the quoted message.
    pub reply_to: Option<String>,
    /// Mentioned user JIDs.
    pub mentions: Vec<String>,
    /// Queue priority.
    pub priority: Priority,
    /// Earliest send time, unix milliseconds.
    pub send_at: Option<i64>,
    /// The caller's own reference.
    pub reference_id: Option<String>,
    /// The API key that queued it (recorded in the credit ledger).
    pub api_key_id: Option<String>,
}

/// What a compatibility API records with a message besides its content.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// Who the message is sent as (wabot's `HUMAN_AGENT`, `BOT`, `SYSTEM`).
    pub sent_as: Option<String>,
}

/// An `Idempotency-Key` presented with a request.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The API key that presented it (keys are scoped per API key).
    pub api_key_id: String,
    /// The header value.
    pub key: String,
    /// Hash of what identifies the request (route + body): the same key with another
    /// fingerprint is a 409.
    pub fingerprint: String,
}

/// What the caller answers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Response body.
    pub body: Value,
    /// True when this is the stored answer of an earlier request with the same key.
    pub replayed: bool,
    /// The queued message (None on a replay).
    #[allow(dead_code)] // read by the compatibility APIs
    pub message: Option<QueuedMessage>,
}

/// The message that was just queued.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Our message id (`msg_…`).
    pub id: String,
    /// The WhatsApp message id it will carry on every attempt.
    pub wa_message_id: String,
    /// When it was accepted, unix milliseconds.
    pub created_at: i64,
    /// Its job number: unique, assigned in commit order (WhatsHub's `jobId`).
    pub job_no: i64,
    /// The conversation (chat of the device) it belongs to.
    pub conversation_id: String,
    /// The native API's JSON view of the message.
    pub view: Value,
}

/// The stored answer for an idempotency key: `Some` when the same request was answered
/// before, a 409 when the key was used with a different request.
pub async fn replay(st: &AppState, idem: &Idempotency) -> Result<Option<Answer>, ApiError> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2",
    )
    .bind(&idem.api_key_id)
    .bind(&idem.key)
    .fetch_optional(&st.db.pool)
    .await?;
    match row {
        Some((hash, status, body)) if hash == idem.fingerprint => Ok(Some(Answer {
            status: StatusCode::from_u16(status as u16).unwrap_or(StatusCode::ACCEPTED),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            replayed: true,
            message: None,
        })),
        Some(_) => Err(ApiError::conflict(
            "Idempotency-Key was already used with a different request body",
        )),
        None => Ok(None),
    }
}

/// Checks a media reference: an allowed URL (no private addresses unless allow-listed) and a
/// caption of at most 4096 characters. `field` names the request field in errors.
pub fn check_media(st: &AppState, field: &str, m: MediaRef) -> Result<MediaRef, ApiError> {
    crate::media::validate_url(&st.config.media.allow, &m.url)
        .map_err(|e| ApiError::field(format!("{field}.url"), e.to_string()))?;
    if m.caption.as_ref().is_some_and(|c| c.chars().count() > 4096) {
        return Err(ApiError::field(
            format!("{field}.caption"),
            "must be at most 4096 characters",
        ));
    }
    Ok(m)
}

/// Checks a text body: not blank, at most 65,536 characters.
pub fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.chars().count() > 65536 {
        return Err(ApiError::field(field, "must be 1 to 65536 characters"));
    }
    Ok(())
}

/// Whether the device exists.
pub async fn device_exists(st: &AppState, device_id: &str) -> Result<bool, ApiError> {
    Ok(device_exists_db(st, device_id).await?)
}

/// [`device_exists`] with the database error as it came.
pub(crate) async fn device_exists_db(st: &AppState, device_id: &str) -> Result<bool, sqlx::Error> {
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(&st.db.pool)
        .await?;
    Ok(exists.is_some())
}

/// Queues `msg` and wakes its device's worker. `render` turns the queued message into the
/// route's answer; with `idem`, that answer is stored in the same transaction and a repeated
/// request gets it back unchanged (a concurrent duplicate waits for the first and replays it).
/// Without `idem`, the message shares a transaction with concurrent sends
/// ([`crate::group_commit`]); either way it is committed before this returns.
pub async fn enqueue(
    st: &AppState,
    msg: NewMessage,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&QueuedMessage) -> (StatusCode, Value),
) -> Result<Answer, ApiError> {
    enqueue_annotated(st, msg, &Annotations::default(), idem, render).await
}

/// [`enqueue`] that also records `notes` with the message.
pub async fn enqueue_annotated(
    st: &AppState,
    msg: NewMessage,
    notes: &Annotations,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&QueuedMessage) -> (StatusCode, Value),
) -> Result<Answer, ApiError> {
    let Some(k) = idem else {
        let queued = crate::group_commit::submit(st, msg, notes.clone()).await?;
        let (status, body) = render(&queued);
        return Ok(Answer {
            status,
            body,
            replayed: false,
            message: Some(queued),
        });
    };
    if let Some(a) = replay(st, k).await? {
        return Ok(a);
    }
    if !device_exists(st, &msg.device_id).await? {
        return Err(ApiError::not_found("device"));
    }
    let device_id = msg.device_id.clone();
    let mut tx = st.db.begin_write().await?;
    let queued = insert_annotated(st, &mut tx, msg, notes).await?;
    let (status, body) = render(&queued);
    let mut raced = false;
    {
        let inserted = sqlx::query("INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&k.api_key_id)
            .bind(&k.key)
            .bind(&k.fingerprint)
            .bind(status.as_u16() as i64)
            .bind(body.to_string())
            .bind(queued.created_at)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => raced = true,
            Err(e) => return Err(e.into()),
        }
    }
    let committed = if raced {
        tx.rollback().await.map(|_| false)
    } else {
        tx.commit().await.map(|_| true)
    };
    if !matches!(committed, Ok(true)) {
        // A concurrent request with the same key won the race: answer as it did (its row
        // is committed by now, since ours waited on it).
        if let Some(a) = replay(st, k).await? {
            return Ok(a);
        }
        return Err(match committed {
            Err(e) => e.into(),
            Ok(_) => {
                ApiError::conflict("a concurrent request with this Idempotency-Key is in progress")
            }
        });
    }
    tracing::info!(message_id = %queued.id, device_id = %device_id, "message queued");
    crate::queue::wake(st, &device_id);
    Ok(Answer {
        status,
        body,
        replayed: false,
        message: Some(queued),
    })
}

/// Writes `msg` into the queue inside `tx` and debits its price (when sends cost credits),
/// without committing or waking the worker: the building block of [`enqueue`] and of
/// broadcasts, which queue many messages in one transaction. 402 `insufficient_credits` when
/// the balance does not cover the price.
pub async fn insert(
    st: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    msg: NewMessage,
) -> Result<QueuedMessage, ApiError> {
    insert_annotated(st, tx, msg, &Annotations::default()).await
}

/// [`insert`] that also records `notes` with the message.
pub async fn insert_annotated(
    st: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    msg: NewMessage,
    notes: &Annotations,
) -> Result<QueuedMessage, ApiError> {
    insert_ref(st, tx, &msg, notes).await.map_err(|e| match e {
        InsertError::Refused(e) => e,
        InsertError::Db(e) => e.into(),
    })
}

/// Why [`insert_ref`] wrote nothing.
#[derive(Debug)]
pub(crate) enum InsertError {
    /// The message is refused (402 `insufficient_credits`); the transaction is still usable.
    Refused(ApiError),
    /// The database failed; the transaction must be abandoned.
    Db(sqlx::Error),
}

/// The stored form of a message, serialized without copying it: the fields of
/// [`crate::queue::StoredMessage`], in its order, so both give the same JSON.
#[derive(serde::Serialize)]
struct StoredView<'a> {
    content: &'a StoredContent,
    reply_to: &'a Option<String>,
    mentions: &'a [String],
}

/// A message's row, computed before it is written.
pub(crate) struct Row<'a> {
    msg: &'a NewMessage,
    notes: &'a Annotations,
    id: String,
    wa_id: String,
    kind: &'static str,
    stored_json: String,
    due: i64,
    expires_at: i64,
    now: i64,
    /// Set by [`number_and_file`].
    job_no: i64,
    /// Set by [`number_and_file`].
    conversation_id: String,
}

impl<'a> Row<'a> {
    /// Fresh ids, the stored JSON and the queue times of `msg`.
    pub(crate) fn new(st: &AppState, msg: &'a NewMessage, notes: &'a Annotations) -> Row<'a> {
        let now = now_ms();
        let due = msg.send_at.unwrap_or(now).max(now);
        Row {
            msg,
            notes,
            id: new_id("msg"),
            wa_id: new_wa_message_id(),
            kind: msg.content.kind(),
            stored_json: serde_json::to_string(&StoredView {
                content: &msg.content,
                reply_to: &msg.reply_to,
                mentions: &msg.mentions,
            })
            .expect("serializable"),
            due,
            expires_at: due + st.config.queue.offline_expiry.as_millis() as i64,
            now,
            job_no: 0,
            conversation_id: String::new(),
        }
    }

    /// What the caller answers once the row is committed.
    pub(crate) fn queued(self) -> QueuedMessage {
        let m = self.msg;
        let mut view = crate::api::message_view_new(
            &self.id,
            &m.device_id,
            &m.to,
            self.kind,
            &self.stored_json,
            &self.wa_id,
            m.priority.rank(),
            m.send_at,
            m.reference_id.as_deref(),
            self.now,
        );
        view["job_no"] = self.job_no.into();
        QueuedMessage {
            view,
            id: self.id,
            wa_message_id: self.wa_id,
            created_at: self.now,
            job_no: self.job_no,
            conversation_id: self.conversation_id,
        }
    }
}

/// Gives `rows` their job numbers, in order, and files each in its conversation, inside
/// `tx`: one counter update for all of them and one upsert per chat. The counter row stays
/// locked until commit, so job numbers follow commit order and a rolled-back batch gives its
/// numbers back.
pub(crate) async fn number_and_file(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &mut [Row<'_>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let (last,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + $1 WHERE name = 'jobs' RETURNING value",
    )
    .bind(rows.len() as i64)
    .fetch_one(&mut **tx)
    .await?;
    let first = last - rows.len() as i64 + 1;
    for (i, r) in rows.iter_mut().enumerate() {
        r.job_no = first + i as i64;
    }
    // The latest message of each chat sets its conversation's last-message time.
    let mut chats: Vec<(&str, &str, i64)> = Vec::new();
    for r in rows.iter() {
        match chats
            .iter_mut()
            .find(|(d, c, _)| *d == r.msg.device_id && *c == r.msg.to)
        {
            Some(entry) => entry.2 = entry.2.max(r.now),
            None => chats.push((&r.msg.device_id, &r.msg.to, r.now)),
        }
    }
    let mut filed = Vec::with_capacity(chats.len());
    for (device, chat, at) in chats {
        let conversation = crate::conversations::touch(tx, device, chat, None, at).await?;
        filed.push((device.to_string(), chat.to_string(), conversation.id));
    }
    for r in rows.iter_mut() {
        if let Some((_, _, id)) = filed
            .iter()
            .find(|(d, c, _)| *d == r.msg.device_id && *c == r.msg.to)
        {
            r.conversation_id = id.clone();
        }
    }
    Ok(())
}

/// Columns of a queued message; each row binds [`ROW_PARAMS`] values.
const INSERT_HEAD: &str = "INSERT INTO messages (id, device_id, direction, chat, kind, content, status, wa_message_id, priority, send_at, reference_id, attempts, next_attempt_at, expires_at, created_at, updated_at, job_no, sent_as) VALUES ";

/// Bound values per row of [`INSERT_HEAD`].
const ROW_PARAMS: usize = 14;

/// Writes `rows` with one multi-row INSERT (both engines accept `VALUES (…), (…)`).
pub(crate) async fn write_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[Row<'_>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::with_capacity(INSERT_HEAD.len() + rows.len() * 110);
    sql.push_str(INSERT_HEAD);
    for i in 0..rows.len() {
        let p = |k: usize| i * ROW_PARAMS + k;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, 'out', ${}, ${}, ${}, 'queued', ${}, ${}, ${}, ${}, 0, ${}, ${}, ${}, ${}, ${}, ${})",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
            p(11),
            p(12),
            p(12),
            p(13),
            p(14),
        ));
    }
    let mut q = sqlx::query(&sql);
    for r in rows {
        q = q
            .bind(&r.id)
            .bind(&r.msg.device_id)
            .bind(&r.msg.to)
            .bind(r.kind)
            .bind(&r.stored_json)
            .bind(&r.wa_id)
            .bind(r.msg.priority.rank())
            .bind(r.msg.send_at)
            .bind(r.msg.reference_id.as_deref())
            .bind(r.due)
            .bind(r.expires_at)
            .bind(r.now)
            .bind(r.job_no)
            .bind(r.notes.sent_as.as_deref());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Debits the price of `row` inside `tx` when sends cost credits.
pub(crate) async fn debit(
    st: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    row: &Row<'_>,
) -> Result<(), InsertError> {
    if st.config.price_per_message <= 0 {
        return Ok(());
    }
    crate::credits::debit(
        tx,
        st.config.price_per_message,
        &row.id,
        row.msg.api_key_id.as_deref(),
    )
    .await
    .map(|_| ())
    .map_err(|e| match e {
        crate::credits::CreditError::Insufficient { balance, price } => {
            InsertError::Refused(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_credits",
                format!("a message costs {price} credits; the balance is {balance}"),
            ))
        }
        crate::credits::CreditError::Db(e) => InsertError::Db(e),
    })
}

/// [`insert_annotated`] on a borrowed message, telling refusals from database errors (a
/// batch goes on after a refusal and is abandoned after a database error).
pub(crate) async fn insert_ref(
    st: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    msg: &NewMessage,
    notes: &Annotations,
) -> Result<QueuedMessage, InsertError> {
    let mut row = Row::new(st, msg, notes);
    debit(st, tx, &row).await?;
    number_and_file(tx, std::slice::from_mut(&mut row))
        .await
        .map_err(InsertError::Db)?;
    write_rows(tx, std::slice::from_ref(&row))
        .await
        .map_err(InsertError::Db)?;
    Ok(row.queued())
}
