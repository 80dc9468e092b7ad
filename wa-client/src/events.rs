//! What the client reports: the [`Event`] enum and the [`EventStream`] that carries it.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;
use wa_core::Jid;
use wa_core::message::MessageContent;
use wa_core::proto;

use crate::qr::QrCode;

/// Something that happened on the connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// Show this QR code to pair (a new one replaces the previous as the refs rotate).
    Qr(QrCode),
    /// Type this code on the phone (pairing by phone number).
    PairCode {
        /// The 8-character code.
        code: String,
    },
    /// The phone linked us; the client reconnects and logs in.
    PairSuccess {
        /// Our new device JID.
        jid: Jid,
    },
    /// Pairing failed or the QR refs ran out.
    PairError {
        /// What went wrong.
        reason: String,
    },
    /// Logged in and ready to send: prekeys are uploaded.
    Connected {
        /// Our device JID.
        jid: Jid,
    },
    /// The connection ended.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// Whether the client will reconnect by itself.
        reconnecting: bool,
    },
    /// The account removed this device (or the server refused our credentials); the store
    /// has been cleared.
    LoggedOut {
        /// The server's reason code or text.
        reason: String,
    },
    /// A message arrived (also messages we sent from another of our devices).
    Message(Box<MessageEvent>),
    /// A message arrived that could not be decrypted; a retry receipt was sent.
    UndecryptableMessage {
        /// Where it came from.
        info: MessageInfo,
        /// Why decryption failed.
        error: String,
    },
    /// Someone received, read or played messages we sent.
    Receipt(ReceiptEvent),
    /// A contact's availability changed.
    Presence {
        /// Who.
        from: Jid,
        /// Online or not.
        available: bool,
        /// Last seen (unix seconds), when given.
        last_seen: Option<u64>,
    },
    /// Someone is typing or recording, or stopped.
    ChatState {
        /// The chat.
        chat: Jid,
        /// Who (differs from `chat` in groups).
        sender: Jid,
        /// What they do.
        state: ChatState,
    },
    /// A group changed (participants added, removed, promoted, …).
    GroupUpdate {
        /// The group.
        group: Jid,
        /// Who made the change.
        author: Option<Jid>,
        /// `add`, `remove`, `promote`, `demote`, `subject`, …
        action: String,
        /// The participants concerned.
        participants: Vec<Jid>,
    },
    /// The messages queued while we were away have all been delivered.
    OfflineSyncCompleted {
        /// How many there were.
        count: u32,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The socket closed or failed.
    ConnectionLost(String),
    /// The server asked for a restart (stream error 515, e.g. after pairing).
    RestartRequired,
    /// Another connection of this device replaced this one (no reconnect).
    Replaced,
    /// Stream error 401: logged out.
    LoggedOut,
    /// The server is unavailable (503) or sent another stream error / login failure.
    ServerError(u16),
    /// Keepalive pings went unanswered.
    KeepaliveTimeout,
    /// [`Client::disconnect`](crate::Client::disconnect) or shutdown.
    Requested,
}

/// Where a message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The message id.
    pub id: String,
    /// The chat (the other user, or the group).
    pub chat: Jid,
    /// The sending device.
    pub sender: Jid,
    /// Sent by one of our own devices.
    pub from_me: bool,
    /// Server timestamp (unix seconds).
    pub timestamp: u64,
    /// The sender's push name, when the server passed it.
    pub push_name: Option<String>,
    /// The chat is a group.
    pub is_group: bool,
    /// The message was queued while we were offline.
    pub offline: bool,
    /// The sender's LID (`…@lid`, no device) when known: the sender itself when the message is
    /// LID-addressed, otherwise the server's `sender_lid` / `participant_lid` hint.
    pub sender_lid: Option<Jid>,
    /// The sender's phone-number JID (`…@s.whatsapp.net`, no device) when known: the sender
    /// itself when PN-addressed, otherwise the server's `sender_pn` / `participant_pn` hint.
    pub sender_pn: Option<Jid>,
}

/// A received message.
#[derive(Debug, Clone)]
pub struct MessageEvent {
    /// Where it came from.
    pub info: MessageInfo,
    /// The typed content.
    pub content: MessageContent,
    /// The decrypted protobuf (after unwrapping a `deviceSentMessage`).
    pub raw: proto::Message,
}

impl MessageEvent {
    /// The text or caption, if any.
    pub fn text(&self) -> Option<&str> {
        self.content.text()
    }

    /// The chat to answer in.
    pub fn chat(&self) -> &Jid {
        &self.info.chat
    }
}

/// What a receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptType {
    /// Delivered to a device.
    Delivered,
    /// Delivered to one of our own other devices.
    Sender,
    /// Read.
    Read,
    /// Read, with read receipts disabled on the reader's side.
    ReadSelf,
    /// A voice note or video was played.
    Played,
    /// The recipient could not decrypt and asked for a re-send (handled automatically).
    Retry,
    /// Anything else.
    Other,
}

impl ReceiptType {
    pub(crate) fn from_attr(t: Option<&str>) -> ReceiptType {
        match t {
            None | Some("") | Some("inactive") | Some("peer_msg") => ReceiptType::Delivered,
            Some("sender") => ReceiptType::Sender,
            Some("read") => ReceiptType::Read,
            Some("read-self") => ReceiptType::ReadSelf,
            Some("played") | Some("played-self") => ReceiptType::Played,
            Some("retry") => ReceiptType::Retry,
            Some(_) => ReceiptType::Other,
        }
    }
}

/// A receipt for messages we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptEvent {
    /// The message ids.
    pub ids: Vec<String>,
    /// The chat.
    pub chat: Jid,
    /// The device that sent the receipt.
    pub sender: Jid,
    /// What happened.
    pub kind: ReceiptType,
    /// When (unix seconds).
    pub timestamp: u64,
}

/// Typing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatState {
    /// Typing.
    Composing,
    /// Recording a voice note.
    Recording,
    /// Stopped.
    Paused,
}

/// Hands events to every live [`EventStream`].
#[derive(Default)]
pub(crate) struct Emitter {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Event>>>,
}

impl Emitter {
    pub(crate) fn subscribe(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push(tx);
        EventStream { rx }
    }

    pub(crate) fn emit(&self, event: Event) {
        let mut subs = self.lock();
        subs.retain(|s| !s.is_closed());
        if let Some((last, rest)) = subs.split_last() {
            for s in rest {
                let _ = s.send(event.clone());
            }
            let _ = last.send(event);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<Event>>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The events of one client, as a [`Stream`]. Every stream sees every event emitted after it
/// was created; it ends when the client is dropped or shut down.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl EventStream {
    /// The next event (`None` when the client is gone).
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}
