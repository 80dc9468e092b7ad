//! Options shared by the client subcommands (`pair`, `listen`, `send`): where the store is and
//! which server to talk to; plus the JSON form of client events.

use std::path::PathBuf;

use serde_json::{Value, json};
use wasap::client::{Client, Event, MessageContent, ReceiptType, SqliteStore};

/// `--store`, `--wa-url`, `--wa-root-key`.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The SQLite file holding the device (created if missing).
    #[arg(long, default_value = "wasap.db")]
    pub store: PathBuf,
    /// Websocket URL of the server (default WhatsApp's).
    #[arg(long, env = "WASAP_WA_URL")]
    pub wa_url: Option<String>,
    /// The server's Noise root public key, 64 hex digits (default WhatsApp's).
    #[arg(long, env = "WASAP_WA_ROOT_KEY")]
    pub wa_root_key: Option<String>,
    /// Proxy for the websocket and media (`http://host:port` or `socks5://host:port`).
    #[arg(long, env = "WASAP_PROXY")]
    pub proxy: Option<String>,
}

impl ClientArgs {
    /// Opens the store and builds a client (not connected). `phone`: pair by code.
    pub async fn client(&self, phone: Option<&str>) -> Result<Client, String> {
        let store = SqliteStore::open(&self.store)
            .await
            .map_err(|e| format!("cannot open {}: {e}", self.store.display()))?;
        let mut builder = Client::builder(store).device_name("Wasap CLI");
        if let Some(url) = &self.wa_url {
            builder = builder.ws_url(url.clone());
        }
        if let Some(key) = &self.wa_root_key {
            let bytes: [u8; 32] = hex::decode(key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("--wa-root-key must be 64 hex digits")?;
            builder = builder.root_key(bytes);
        }
        if let Some(proxy) = &self.proxy {
            let proxy = wasap::client::Proxy::parse(proxy).ok_or("bad --proxy URL")?;
            builder = builder.proxy(proxy);
        }
        if let Some(phone) = phone {
            builder = builder.pair_with_phone(phone);
        }
        Ok(builder.build())
    }
}

/// A tokio runtime for a subcommand.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn content_type(content: &MessageContent) -> &'static str {
    match content {
        MessageContent::Text(_) => "text",
        MessageContent::Image(_) => "image",
        MessageContent::Video(_) => "video",
        MessageContent::Audio(a) if a.voice_note => "ptt",
        MessageContent::Audio(_) => "audio",
        MessageContent::Document(_) => "document",
        MessageContent::Sticker(_) => "sticker",
        MessageContent::Location(_) => "location",
        MessageContent::Contact(_) => "contact",
        MessageContent::Reaction(_) => "reaction",
        MessageContent::Edit(_) => "edit",
        MessageContent::Revoke(_) => "revoke",
        MessageContent::Poll(_) => "poll",
        _ => "other",
    }
}

fn receipt_type(kind: ReceiptType) -> &'static str {
    match kind {
        ReceiptType::Delivered => "delivered",
        ReceiptType::Sender => "sender",
        ReceiptType::Read => "read",
        ReceiptType::ReadSelf => "read-self",
        ReceiptType::Played => "played",
        ReceiptType::Retry => "retry",
        _ => "other",
    }
}

/// One JSON object per event (`None` for events the CLI does not report).
pub fn event_json(event: &Event) -> Option<Value> {
    Some(match event {
        Event::Qr(qr) => json!({"event": "qr", "code": qr.code}),
        Event::PairCode { code } => json!({"event": "pair_code", "code": code}),
        Event::PairSuccess { jid } => json!({"event": "paired", "jid": jid.to_string()}),
        Event::PairError { reason } => json!({"event": "pair_error", "reason": reason}),
        Event::Connected { jid } => json!({"event": "connected", "jid": jid.to_string()}),
        Event::Disconnected {
            reason,
            reconnecting,
        } => json!({
            "event": "disconnected",
            "reason": format!("{reason:?}"),
            "reconnecting": reconnecting,
        }),
        Event::LoggedOut { reason } => json!({"event": "logged_out", "reason": reason}),
        Event::Message(m) => {
            let mut v = json!({
                "event": "message",
                "id": m.info.id,
                "chat": m.info.chat.to_string(),
                "from": m.info.sender.to_string(),
                "from_me": m.info.from_me,
                "timestamp": m.info.timestamp,
                "type": content_type(&m.content),
            });
            if let Some(text) = m.text() {
                v["text"] = json!(text);
            }
            if let Some(name) = &m.info.push_name {
                v["push_name"] = json!(name);
            }
            if let MessageContent::Location(l) = &m.content {
                v["latitude"] = json!(l.latitude);
                v["longitude"] = json!(l.longitude);
            }
            v
        }
        Event::UndecryptableMessage { info, .. } => json!({
            "event": "undecryptable",
            "id": info.id,
            "chat": info.chat.to_string(),
            "from": info.sender.to_string(),
        }),
        Event::Receipt(r) => json!({
            "event": "receipt",
            "ids": r.ids,
            "chat": r.chat.to_string(),
            "from": r.sender.to_string(),
            "type": receipt_type(r.kind),
            "timestamp": r.timestamp,
        }),
        Event::Presence {
            from,
            available,
            last_seen,
        } => json!({
            "event": "presence",
            "from": from.to_string(),
            "available": available,
            "last_seen": last_seen,
        }),
        Event::GroupUpdate {
            group,
            action,
            participants,
            ..
        } => json!({
            "event": "group_update",
            "group": group.to_string(),
            "action": action,
            "participants": participants.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        Event::OfflineSyncCompleted { count } => json!({"event": "offline_sync", "count": count}),
        _ => return None,
    })
}
