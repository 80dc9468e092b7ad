//! The high-level async WhatsApp Web multi-device client.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use wa_client::{Client, Event, SqliteStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder(SqliteStore::open("bot.db").await?).build();
//! let mut events = client.events();
//! client.connect().await?;
//! while let Some(event) = events.next().await {
//!     match event {
//!         Event::Qr(qr) => println!("{}", qr.to_terminal()),
//!         Event::Message(m) if !m.info.from_me => {
//!             if let Some(text) = m.text() {
//!                 client.send_text(m.chat(), text).await?;
//!             }
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`ClientBuilder`], [`Config`] | configuration: URL, root key, proxy, reconnect policy, names |
//! | [`Client`] | connection task, requests, sending, groups, presence, media |
//! | [`Event`], [`EventStream`] | everything that happens, as a `Stream` |
//! | [`store`] | device credentials, Signal state and caches; memory and SQLite |
//!
//! Tracing: spans `session`, `send` (message id) and `recv` (message id); nothing at info
//! level carries keys or message text.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod config;
mod conn;
mod error;
mod events;
mod groups;
mod keys;
mod media;
mod pairing;
mod presence;
mod qr;
mod recv;
mod send;
pub mod store;
mod transport;

pub use client::{Client, ClientBuilder};
pub use config::{Config, Proxy, ReconnectPolicy, WHATSAPP_WS_URL};
pub use error::{Error, Result};
pub use events::{
    ChatState, DisconnectReason, Event, EventStream, MessageEvent, MessageInfo, ReceiptEvent,
    ReceiptType,
};
pub use groups::{GroupInfo, GroupParticipant, ParticipantChange};
pub use media::{Upload, read_all};
pub use qr::QrCode;
pub use send::SendResponse;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{MemoryStore, Store};
pub use wa_core::Jid;
pub use wa_core::crypto::media::MediaKind;
pub use wa_core::message::{self as message, MessageContent};
