//! Group commit of accepted messages: concurrent sends without an `Idempotency-Key` are
//! written by one task, many to a transaction and many rows to an INSERT, so a burst pays
//! for one commit (one WAL append on SQLite, one fsync on PostgreSQL) per batch instead of
//! one per request, and SQLite writers stop queueing on its single write lock. Each caller is answered only after the
//! transaction holding its row committed: durability is the same as a transaction per
//! request.
//!
//! The writer task starts when the first message arrives and ends when none is waiting, so
//! there is nothing to start or stop with the server. When a batch fails as a whole (a
//! database error, not a refusal such as 402 or 404), its messages are written again one
//! transaction each, so one bad message cannot fail its neighbours.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::sending::{self, Annotations, InsertError, NewMessage, QueuedMessage, Row};
use crate::state::AppState;

/// Most messages written in one transaction.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<QueuedMessage, ApiError>>;

/// A message waiting to be written, with what its API records besides it.
struct Pending {
    msg: NewMessage,
    notes: Annotations,
}

#[derive(Default)]
struct Waiting {
    messages: Vec<(Pending, Reply)>,
    /// True while a writer task runs; it takes everything pushed before it stops.
    writer: bool,
}

/// The messages waiting for the writer task (one per gateway).
#[derive(Default)]
pub struct GroupCommit {
    waiting: Mutex<Waiting>,
}

/// Queues `msg` durably: returns once its row is committed (or with the reason it was
/// refused), then its device's worker is awake.
pub async fn submit(
    st: &AppState,
    msg: NewMessage,
    notes: Annotations,
) -> Result<QueuedMessage, ApiError> {
    let (tx, rx) = oneshot::channel();
    let start_writer = {
        let mut w = lock(&st.group_commit.waiting);
        w.messages.push((Pending { msg, notes }, tx));
        !std::mem::replace(&mut w.writer, true)
    };
    if start_writer {
        // A task of its own: the caller's request may be dropped (client gone) while the
        // batch it would have written is still owed to the other callers.
        tokio::spawn(writer(st.clone()));
    }
    rx.await
        .map_err(|_| ApiError::internal("the message writer stopped"))?
}

fn lock(m: &Mutex<Waiting>) -> std::sync::MutexGuard<'_, Waiting> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Clears the writer flag if the task unwinds from a panic, so the next send starts a new
/// writer instead of waiting forever. (A normal end clears it under the same lock that saw
/// the queue empty.)
struct PanicGuard<'a>(&'a GroupCommit);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.waiting).writer = false;
        }
    }
}

async fn writer(st: AppState) {
    let _guard = PanicGuard(&st.group_commit);
    loop {
        let batch: Vec<(Pending, Reply)> = {
            let mut w = lock(&st.group_commit.waiting);
            if w.messages.is_empty() {
                // Still under the lock, so a message pushed after this starts a new writer.
                w.writer = false;
                return;
            }
            let n = w.messages.len().min(MAX_BATCH);
            w.messages.drain(..n).collect()
        };
        write(&st, batch).await;
    }
}

/// Writes one batch and answers every caller in it.
async fn write(st: &AppState, batch: Vec<(Pending, Reply)>) {
    let (messages, replies): (Vec<Pending>, Vec<Reply>) = batch.into_iter().unzip();
    let outcomes = match in_one_transaction(st, &messages).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            tracing::warn!(error = %e, messages = messages.len(), "batch insert failed; writing one by one");
            let mut outcomes = Vec::with_capacity(messages.len());
            for m in &messages {
                outcomes.push(alone(st, m).await);
            }
            outcomes
        }
    };
    let mut woken = HashSet::new();
    for ((Pending { msg, .. }, reply), outcome) in messages.iter().zip(replies).zip(outcomes) {
        if let Ok(q) = &outcome {
            tracing::info!(message_id = %q.id, device_id = %msg.device_id, "message queued");
            if woken.insert(msg.device_id.as_str()) {
                crate::queue::wake(st, &msg.device_id);
            }
        }
        // The caller may have gone away; its message is queued all the same.
        let _ = reply.send(outcome);
    }
}

/// Which of the batch's devices exist, read before the transaction starts (as a request on
/// its own would), so the transaction's first statement is a write and SQLite takes its
/// write lock at once instead of failing to upgrade a read.
async fn existing_devices(
    st: &AppState,
    messages: &[Pending],
) -> Result<HashMap<String, bool>, sqlx::Error> {
    let mut found = HashMap::new();
    for Pending { msg: m, .. } in messages {
        if !found.contains_key(&m.device_id) {
            let exists = sending::device_exists_db(st, &m.device_id).await?;
            found.insert(m.device_id.clone(), exists);
        }
    }
    Ok(found)
}

/// Rows per INSERT statement: few distinct statement texts for the statement cache, and
/// far below either engine's limit on bound parameters.
const ROWS_PER_INSERT: usize = 32;

/// The whole batch in one transaction, its rows written by multi-row INSERTs. A refused
/// message (unknown device, no credit) leaves no trace and does not stop the others; a
/// database error fails the batch.
async fn in_one_transaction(
    st: &AppState,
    messages: &[Pending],
) -> Result<Vec<Result<QueuedMessage, ApiError>>, sqlx::Error> {
    let devices = existing_devices(st, messages).await?;
    let mut tx = st.db.begin_write().await?;
    let mut outcomes: Vec<Option<Result<QueuedMessage, ApiError>>> =
        Vec::with_capacity(messages.len());
    let mut rows = Vec::with_capacity(messages.len());
    let mut slots = Vec::with_capacity(messages.len());
    for (i, Pending { msg: m, notes }) in messages.iter().enumerate() {
        if !devices.get(&m.device_id).copied().unwrap_or(false) {
            outcomes.push(Some(Err(ApiError::not_found("device"))));
            continue;
        }
        let row = Row::new(st, m, notes);
        match sending::debit(st, &mut tx, &row).await {
            Ok(()) => {
                outcomes.push(None);
                rows.push(row);
                slots.push(i);
            }
            Err(InsertError::Refused(e)) => outcomes.push(Some(Err(e))),
            Err(InsertError::Db(e)) => return Err(e),
        }
    }
    sending::number_and_file(&mut tx, &mut rows).await?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        sending::write_rows(&mut tx, chunk).await?;
    }
    tx.commit().await?;
    for (i, row) in slots.into_iter().zip(rows) {
        outcomes[i] = Some(Ok(row.queued()));
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(ApiError::internal("a batched message had no outcome"))))
        .collect())
}

/// One message in a transaction of its own (after its batch failed).
async fn alone(st: &AppState, p: &Pending) -> Result<QueuedMessage, ApiError> {
    if !sending::device_exists_db(st, &p.msg.device_id).await? {
        return Err(ApiError::not_found("device"));
    }
    let mut tx = st.db.begin_write().await?;
    let q = sending::insert_ref(st, &mut tx, &p.msg, &p.notes)
        .await
        .map_err(|e| match e {
            InsertError::Refused(e) => e,
            InsertError::Db(e) => e.into(),
        })?;
    tx.commit().await?;
    Ok(q)
}
