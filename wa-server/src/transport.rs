//! The seam between the gateway and WhatsApp. The gateway's queue workers hand a prepared
//! message to a [`DeviceTransport`]; the transport reports what happens on the device
//! (receipts, inbound messages, status changes) through the [`EventSink`] it was given at
//! start. The real implementation wraps wa-client; [`MemoryTransport`] is the test double.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Connection state of a device, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Created, never connected.
    Created,
    /// Waiting for a QR scan or pairing code.
    QrWaiting,
    /// Connected and logged in.
    Online,
    /// Logged in but not connected.
    Offline,
    /// Logged out by the phone or the API.
    LoggedOut,
    /// Banned by WhatsApp.
    Banned,
}

impl DeviceStatus {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Created => "created",
            DeviceStatus::QrWaiting => "qr_waiting",
            DeviceStatus::Online => "online",
            DeviceStatus::Offline => "offline",
            DeviceStatus::LoggedOut => "logged_out",
            DeviceStatus::Banned => "banned",
        }
    }
}

/// Media bytes fetched by the gateway, ready to be encrypted and uploaded by the transport.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPayload {
    /// The content.
    pub data: Bytes,
    /// MIME type (from the request or the fetch response).
    pub mime_type: String,
    /// Caption, for image/video/document.
    pub caption: Option<String>,
    /// File name, for documents.
    pub filename: Option<String>,
}

/// What to send, after the gateway resolved everything that needs the network (media URLs).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OutboundContent {
    /// Plain text.
    Text(String),
    /// An image.
    Image(MediaPayload),
    /// A video.
    Video(MediaPayload),
    /// An audio file or voice note.
    Audio(MediaPayload),
    /// A document.
    Document(MediaPayload),
    /// A location pin.
    Location {
        /// Degrees north.
        latitude: f64,
        /// Degrees east.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Street address.
        address: Option<String>,
    },
    /// A contact card.
    Contact {
        /// Display name.
        name: String,
        /// Phone number (digits).
        phone: String,
    },
    /// A reaction to an earlier message.
    Reaction {
        /// The WhatsApp id of the message reacted to.
        message_id: String,
        /// The emoji; empty removes the reaction.
        emoji: String,
    },
}

/// One message handed to a transport.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// Gateway message id (`msg_…`).
    pub id: String,
    /// WhatsApp message id, fixed at accept time and identical on every retry.
    pub wa_message_id: String,
    /// Recipient JID (user, group).
    pub to: String,
    /// The content.
    pub content: OutboundContent,
    /// WhatsApp id of the quoted message.
    pub reply_to: Option<String>,
    /// Mentioned JIDs.
    pub mentions: Vec<String>,
    /// 1 on the first try, then 2, 3, …
    pub attempt: u32,
}

/// Why a send did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The device is not connected; the gateway keeps the message queued (offline buffering)
    /// without counting an attempt.
    #[error("device offline")]
    Offline,
    /// A transient failure; the gateway retries with backoff.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// A failure that retrying cannot fix; the message fails with this reason.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// A receipt kind reported by WhatsApp for an outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// Delivered to the recipient's device.
    Delivered,
    /// Read by the recipient.
    Read,
}

/// Metadata of the media in an incoming message (the bytes stay on WhatsApp's media hosts).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InboundMedia {
    /// MIME type.
    pub mime_type: Option<String>,
    /// Size of the plaintext in bytes.
    pub file_length: Option<u64>,
    /// File name (documents).
    pub file_name: Option<String>,
    /// What it takes to download and decrypt it later, when the message carried it.
    pub download: Option<MediaDownload>,
}

/// Where an incoming message's media lives and how to decrypt it. Stored with the message
/// (never shown through the API: the media key decrypts the file).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct MediaDownload {
    /// `image`, `video`, `audio`, `document` or `sticker` (selects the key derivation).
    pub kind: String,
    /// Full URL, when given.
    pub url: Option<String>,
    /// Path on the media hosts.
    pub direct_path: Option<String>,
    /// The 32-byte media key, base64.
    pub media_key: String,
    /// SHA-256 of the plaintext, base64.
    pub file_sha256: Option<String>,
    /// SHA-256 of the encrypted blob, base64.
    pub file_enc_sha256: Option<String>,
}

/// An incoming message, as the transport decoded it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InboundMessage {
    /// WhatsApp message id.
    pub wa_message_id: String,
    /// Chat JID (the sender for 1:1, the group for groups).
    pub chat: String,
    /// Sender JID.
    pub sender: String,
    /// The sender's phone number (digits), when known.
    pub sender_phone: Option<String>,
    /// The sender's LID (`…@lid`), when known.
    pub sender_lid: Option<String>,
    /// Text, or the caption of media, when the message has any.
    pub text: Option<String>,
    /// Unix milliseconds from the message.
    pub timestamp_ms: i64,
    /// The sender's push name, when WhatsApp passed it.
    pub push_name: Option<String>,
    /// Content kind: `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`,
    /// `contact`, `reaction`, `poll`, `other` (empty means `text`).
    pub kind: String,
    /// Media metadata, for media kinds.
    pub media: Option<InboundMedia>,
    /// WhatsApp id of the quoted message, for replies.
    pub quoted: Option<String>,
    /// Mentioned JIDs.
    pub mentions: Vec<String>,
    /// The chat is a group.
    pub is_group: bool,
}

/// Something that happened on a device.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// Events are few and moved once into a channel; boxing the inbound message would only make
// constructing them clumsier.
#[allow(clippy::large_enum_variant)]
pub enum TransportEvent {
    /// The device's connection state changed.
    Status {
        /// Gateway device id.
        device_id: String,
        /// New state.
        status: DeviceStatus,
        /// Phone number, once known.
        phone: Option<String>,
        /// Push name, once known.
        push_name: Option<String>,
    },
    /// A delivery or read receipt for a message we sent.
    Receipt {
        /// Gateway device id.
        device_id: String,
        /// WhatsApp id of our message.
        wa_message_id: String,
        /// Which receipt.
        kind: ReceiptKind,
    },
    /// A new QR code to show for linking (they rotate; the latest one counts).
    Qr {
        /// Gateway device id.
        device_id: String,
        /// The QR payload string.
        code: String,
    },
    /// A message arrived.
    Inbound {
        /// Gateway device id.
        device_id: String,
        /// The message.
        message: InboundMessage,
    },
    /// A linked device lost its connection and is reconnecting by itself.
    Reconnecting {
        /// Gateway device id.
        device_id: String,
    },
    /// An incoming message could not be decrypted; the transport asked the sender to send it
    /// again (retry receipt).
    DecryptFailed {
        /// Gateway device id.
        device_id: String,
        /// WhatsApp id of the message.
        wa_message_id: String,
        /// Who sent it.
        sender: String,
    },
    /// Members of a group the device is in were added, removed, promoted or demoted (or
    /// left / joined by link).
    GroupParticipants {
        /// Gateway device id.
        device_id: String,
        /// The group JID.
        group: String,
        /// Who made the change, when known.
        author: Option<String>,
        /// `add`, `remove`, `promote`, `demote`, `leave` or `join`… as WhatsApp names it.
        action: String,
        /// The member JIDs concerned.
        participants: Vec<String>,
    },
}

/// Why a device operation (connect, logout, pairing code) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The transport does not implement this operation.
    #[error("not supported by this transport")]
    Unsupported,
    /// The device is in a state that does not allow the operation (e.g. already paired).
    #[error("invalid device state: {0}")]
    InvalidState(String),
    /// The device is not connected, so the operation cannot reach WhatsApp now.
    #[error("device offline")]
    Offline,
    /// WhatsApp refused the operation (e.g. not a member, not an admin, no such group).
    #[error("refused by WhatsApp ({code}): {text}")]
    Refused {
        /// WhatsApp's error code (a 4xx).
        code: u16,
        /// Its text.
        text: String,
    },
    /// The operation failed.
    #[error("{0}")]
    Failed(String),
}

/// A member of a WhatsApp group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    /// The member's JID.
    pub jid: String,
    /// An admin of the group.
    pub is_admin: bool,
    /// The group's creator (super admin).
    pub is_super_admin: bool,
}

/// A WhatsApp group's metadata, as a device sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMetadata {
    /// The group JID (`…@g.us`).
    pub jid: String,
    /// The group's name.
    pub subject: String,
    /// Who created it.
    pub creator: Option<String>,
    /// When, unix seconds.
    pub created_at: Option<u64>,
    /// The members.
    pub participants: Vec<GroupMember>,
}

/// Adding or removing group members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantAction {
    /// Add the members.
    Add,
    /// Remove the members.
    Remove,
}

/// What happened to one member of an add/remove request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantOutcome {
    /// The member's JID.
    pub jid: String,
    /// WhatsApp's error code for this member when it refused (e.g. 403 privacy, 409 already
    /// a member, 404 not on WhatsApp); `None` when done.
    pub error: Option<u16>,
}

/// Where transports report events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventSink(pub(crate) mpsc::UnboundedSender<TransportEvent>);

impl EventSink {
    /// Creates a sink and the receiving end (the gateway owns the receiver).
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<TransportEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink(tx), rx)
    }
    /// Reports an event; false once the gateway has stopped.
    pub fn emit(&self, event: TransportEvent) -> bool {
        self.0.send(event).is_ok()
    }
}

/// The gateway's view of a WhatsApp connection provider. Object-safe; the gateway holds an
/// `Arc<dyn DeviceTransport>`.
#[async_trait]
pub trait DeviceTransport: Send + Sync + 'static {
    /// Called once when the gateway starts: the transport reports events through `sink`.
    fn attach(&self, sink: EventSink);

    /// Sends one prepared message through `device_id`. Returning `Ok` means WhatsApp's server
    /// accepted it (status `sent`); receipts follow as events.
    async fn send(&self, device_id: &str, message: &OutboundMessage) -> Result<(), SendError>;

    /// Starts (or resumes) the device's connection. Progress arrives as events: `Qr` while
    /// waiting to be linked, then `Status`.
    async fn connect(&self, _device_id: &str) -> Result<(), TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Closes the connection, keeping the credentials.
    async fn disconnect(&self, _device_id: &str) -> Result<(), TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Unlinks the device from the phone and forgets its credentials.
    async fn logout(&self, _device_id: &str) -> Result<(), TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Requests a pairing code for linking by phone number (`phone` is digits with country
    /// code); the user types it on the phone.
    async fn pairing_code(&self, _device_id: &str, _phone: &str) -> Result<String, TransportError> {
        Err(TransportError::Unsupported)
    }

    /// The WhatsApp groups the device is a member of.
    async fn groups(&self, _device_id: &str) -> Result<Vec<GroupMetadata>, TransportError> {
        Err(TransportError::Unsupported)
    }

    /// One group's metadata (`group` is a `…@g.us` JID).
    async fn group_info(
        &self,
        _device_id: &str,
        _group: &str,
    ) -> Result<GroupMetadata, TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Creates a group with the device's account as admin and `participants` (user JIDs).
    async fn create_group(
        &self,
        _device_id: &str,
        _subject: &str,
        _participants: &[String],
    ) -> Result<GroupMetadata, TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Adds or removes members (user JIDs) of a group the device administers.
    async fn change_participants(
        &self,
        _device_id: &str,
        _group: &str,
        _action: ParticipantAction,
        _participants: &[String],
    ) -> Result<Vec<ParticipantOutcome>, TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Leaves a group.
    async fn leave_group(&self, _device_id: &str, _group: &str) -> Result<(), TransportError> {
        Err(TransportError::Unsupported)
    }

    /// Downloads and decrypts an incoming message's media into `out`; returns the plaintext
    /// length. The file's hashes and MAC are checked before `Ok`; on error, what was written
    /// must be discarded.
    async fn download_media(
        &self,
        _device_id: &str,
        _media: &MediaDownload,
        _out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    ) -> Result<u64, TransportError> {
        Err(TransportError::Unsupported)
    }
}

/// A transport that never connects: every device stays offline. The default until wa-client
/// is plugged in.
#[derive(Debug, Default)]
pub struct NullTransport;

#[async_trait]
impl DeviceTransport for NullTransport {
    fn attach(&self, _sink: EventSink) {}
    async fn send(&self, _device_id: &str, _message: &OutboundMessage) -> Result<(), SendError> {
        Err(SendError::Offline)
    }
}

/// A recorded send.
#[derive(Debug, Clone)]
pub struct RecordedSend {
    /// Device it went through.
    pub device_id: String,
    /// What was sent.
    pub message: OutboundMessage,
    /// When (monotonic).
    pub at: std::time::Instant,
}

/// What the next send through a device does, when scripted.
enum Script {
    Fail(SendError),
    Hang,
}

#[derive(Default)]
struct MemoryState {
    sink: Option<EventSink>,
    sends: Vec<RecordedSend>,
    attempts: Vec<RecordedSend>,
    scripted: HashMap<String, VecDeque<Script>>,
    calls: Vec<(String, String)>,
}

/// In-memory transport for tests: records every send, lets the test script failures and
/// inject receipts, inbound messages and status changes.
#[derive(Clone, Default)]
pub struct MemoryTransport {
    state: Arc<Mutex<MemoryState>>,
}

impl MemoryTransport {
    /// A new transport with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Successful sends, in order.
    pub fn sent(&self) -> Vec<RecordedSend> {
        self.lock().sends.clone()
    }
    /// Every call to `send`, including failed ones.
    pub fn attempts(&self) -> Vec<RecordedSend> {
        self.lock().attempts.clone()
    }
    /// Control calls (`connect`, `disconnect`, `logout`, `pairing_code`) as (operation, device id).
    pub fn calls(&self) -> Vec<(String, String)> {
        self.lock().calls.clone()
    }
    /// Makes the next sends through `device_id` fail with these errors, in order.
    pub fn fail_next(&self, device_id: &str, errors: impl IntoIterator<Item = SendError>) {
        self.lock()
            .scripted
            .entry(device_id.to_string())
            .or_default()
            .extend(errors.into_iter().map(Script::Fail));
    }
    /// Makes the next send through `device_id` never return (a stuck connection).
    pub fn hang_next(&self, device_id: &str) {
        self.lock()
            .scripted
            .entry(device_id.to_string())
            .or_default()
            .push_back(Script::Hang);
    }
    /// Emits an event as if it came from WhatsApp. False until the gateway attached.
    pub fn emit(&self, event: TransportEvent) -> bool {
        let sink = self.lock().sink.clone();
        sink.map(|s| s.emit(event)).unwrap_or(false)
    }
    /// Shorthand: the device is now online.
    pub fn set_online(&self, device_id: &str, phone: &str) -> bool {
        self.emit(TransportEvent::Status {
            device_id: device_id.to_string(),
            status: DeviceStatus::Online,
            phone: Some(phone.to_string()),
            push_name: Some("Test".to_string()),
        })
    }
    /// Shorthand: a receipt for one of our messages.
    pub fn receipt(&self, device_id: &str, wa_message_id: &str, kind: ReceiptKind) -> bool {
        self.emit(TransportEvent::Receipt {
            device_id: device_id.to_string(),
            wa_message_id: wa_message_id.to_string(),
            kind,
        })
    }
}

#[async_trait]
impl DeviceTransport for MemoryTransport {
    fn attach(&self, sink: EventSink) {
        self.lock().sink = Some(sink);
    }

    async fn send(&self, device_id: &str, message: &OutboundMessage) -> Result<(), SendError> {
        let rec = RecordedSend {
            device_id: device_id.to_string(),
            message: message.clone(),
            at: std::time::Instant::now(),
        };
        let script = {
            let mut st = self.lock();
            st.attempts.push(rec.clone());
            st.scripted.get_mut(device_id).and_then(VecDeque::pop_front)
        };
        match script {
            Some(Script::Fail(err)) => Err(err),
            Some(Script::Hang) => std::future::pending().await,
            None => {
                self.lock().sends.push(rec);
                Ok(())
            }
        }
    }

    async fn connect(&self, device_id: &str) -> Result<(), TransportError> {
        self.lock().calls.push(("connect".into(), device_id.into()));
        Ok(())
    }

    async fn disconnect(&self, device_id: &str) -> Result<(), TransportError> {
        self.lock()
            .calls
            .push(("disconnect".into(), device_id.into()));
        Ok(())
    }

    async fn logout(&self, device_id: &str) -> Result<(), TransportError> {
        self.lock().calls.push(("logout".into(), device_id.into()));
        let sink = self.lock().sink.clone();
        if let Some(s) = sink {
            s.emit(TransportEvent::Status {
                device_id: device_id.into(),
                status: DeviceStatus::LoggedOut,
                phone: None,
                push_name: None,
            });
        }
        Ok(())
    }

    async fn pairing_code(&self, device_id: &str, phone: &str) -> Result<String, TransportError> {
        self.lock()
            .calls
            .push(("pairing_code".into(), device_id.into()));
        // A deterministic fake: eight characters derived from the phone number.
        let digits: String = phone.chars().rev().take(8).collect();
        Ok(format!("{digits:0>8}")
            .chars()
            .map(|c| (b'A' + (c as u8 - b'0')) as char)
            .collect())
    }
}
