//! Conversations: one row per chat of a device, touched by every message written to the log
//! (outbound in [`crate::sending::insert`], inbound in the event path), with a status that
//! says who answers it: `BOT` (automation may reply) or `HUMAN` (an agent took over, so
//! automated replies stop). wabot's `/conversations` reads and changes them.

use sqlx::{Any, Transaction};

use crate::util::sha256_hex;

/// Automation may answer.
pub const BOT: &str = "BOT";
/// A human agent handles the chat; automated replies are refused.
pub const HUMAN: &str = "HUMAN";

/// The stable id of the conversation of `chat` on `device_id` (the same on every node and
/// after a restart, so upserts need no lookup).
pub fn id_of(device_id: &str, chat: &str) -> String {
    let h = sha256_hex(format!("{device_id}\n{chat}").as_bytes());
    format!("conv_{}", &h[..24])
}

/// A conversation's id and status after [`touch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched {
    /// Conversation id.
    pub id: String,
    /// `BOT` or `HUMAN`.
    pub status: String,
}

/// Creates the conversation of `chat` (status `BOT`) or moves its last-message time, inside
/// the transaction that writes the message. `contact_name` (the sender's push name of an
/// inbound message) replaces the stored one when given.
pub async fn touch(
    tx: &mut Transaction<'static, Any>,
    device_id: &str,
    chat: &str,
    contact_name: Option<&str>,
    at: i64,
) -> Result<Touched, sqlx::Error> {
    let (id, status): (String, String) = sqlx::query_as(
        "INSERT INTO conversations (id, device_id, chat, status, contact_name, last_message_at, created_at, updated_at) VALUES ($1, $2, $3, 'BOT', $4, $5, $5, $5) \
         ON CONFLICT (device_id, chat) DO UPDATE SET last_message_at = excluded.last_message_at, updated_at = excluded.updated_at, \
         contact_name = COALESCE(excluded.contact_name, conversations.contact_name) RETURNING id, status",
    )
    .bind(id_of(device_id, chat))
    .bind(device_id)
    .bind(chat)
    .bind(contact_name.filter(|n| !n.trim().is_empty()))
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Touched { id, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_device_and_chat() {
        let a = id_of("dev_1", "628123@s.whatsapp.net");
        assert_eq!(a, id_of("dev_1", "628123@s.whatsapp.net"));
        assert_ne!(a, id_of("dev_2", "628123@s.whatsapp.net"));
        assert_ne!(a, id_of("dev_1", "628124@s.whatsapp.net"));
        assert!(a.starts_with("conv_") && a.len() == 29, "{a}");
    }
}
