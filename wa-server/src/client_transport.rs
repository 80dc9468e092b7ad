//! [`ClientTransport`]: the real [`DeviceTransport`], one wa-client [`Client`] per gateway
//! device. Each device keeps its WhatsApp credentials and Signal state in its own SQLite file,
//! `<devices_dir>/<device_id>.db` (also when the gateway database is PostgreSQL: the client
//! store is per device and local to the node that runs it). Client events become
//! [`TransportEvent`]s; [`OutboundMessage`]s become wa-client sends with the gateway's fixed
//! WhatsApp message id, so a retried send is never shown twice.
//!
//! An optional [`AutoLinker`] plays the phone's part for new devices (the `--demo` mode: a
//! sandbox phone scans every QR and types every pairing code).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use wa_client::message::{
    Audio, Contact, Context, Document, Image, Location, MessageKey, Quote, Reaction, Text, Video,
};
use wa_client::{Client, DisconnectReason, Event, MediaKind, MessageContent, ReceiptType};
use wa_core::Jid;

use crate::transport::{
    DeviceStatus, DeviceTransport, EventSink, GroupMember, GroupMetadata, InboundMedia,
    InboundMessage, MediaDownload, MediaPayload, OutboundContent, OutboundMessage,
    ParticipantAction, ParticipantOutcome, ReceiptKind, SendError, TransportError, TransportEvent,
};

/// Plays the phone's part when a device shows a QR code or asks for a pairing code. Used by
/// the demo mode; a production gateway has none (a person scans the QR).
#[async_trait]
pub trait AutoLinker: Send + Sync + 'static {
    /// A device shows its first QR code of a connection attempt.
    async fn scan(&self, device_id: &str, qr: &str);
    /// A pairing code is about to be requested for `phone` (e.g. create the account).
    async fn prepare_code(&self, phone: &str);
    /// A pairing code was issued for `phone`: type it on the phone.
    async fn enter_code(&self, phone: &str, code: &str);
}

/// Where devices connect and where their stores live.
#[derive(Clone)]
pub struct ClientTransportConfig {
    /// Directory of the per-device client stores (`<device_id>.db`), created if missing.
    pub devices_dir: PathBuf,
    /// Websocket URL (default: WhatsApp's).
    pub ws_url: Option<String>,
    /// Noise certificate root key to trust (default: WhatsApp's production root).
    pub root_key: Option<[u8; 32]>,
    /// The name the phone shows for linked devices.
    pub device_name: String,
    /// Links new devices by itself (demo mode).
    pub auto_linker: Option<Arc<dyn AutoLinker>>,
}

impl ClientTransportConfig {
    /// Stores under `devices_dir`, connecting to WhatsApp.
    pub fn new(devices_dir: impl Into<PathBuf>) -> Self {
        ClientTransportConfig {
            devices_dir: devices_dir.into(),
            ws_url: None,
            root_key: None,
            device_name: "Wasap".into(),
            auto_linker: None,
        }
    }
}

impl std::fmt::Debug for ClientTransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTransportConfig")
            .field("devices_dir", &self.devices_dir)
            .field("ws_url", &self.ws_url)
            .field("auto_linker", &self.auto_linker.is_some())
            .finish_non_exhaustive()
    }
}

/// Who waits for the pairing code of a device: the code, or why there is none.
type CodeWaiter = tokio::sync::oneshot::Sender<Result<String, String>>;

/// One device's client and the task that turns its events into transport events.
struct Slot {
    client: Client,
    pump: tokio::task::JoinHandle<()>,
    /// Set while the API logs the device out (no automatic re-pairing then).
    logging_out: Arc<AtomicBool>,
    /// A pairing code was requested: the auto-linker must not scan the QR.
    code_pairing: Arc<AtomicBool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// The wa-client based transport. Cheap to share (`Arc`).
pub struct ClientTransport {
    config: ClientTransportConfig,
    sink: OnceLock<EventSink>,
    slots: tokio::sync::Mutex<HashMap<String, Slot>>,
    pair_codes: Arc<Mutex<HashMap<String, CodeWaiter>>>,
}

impl std::fmt::Debug for ClientTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Device ids become file names: only the gateway's own id alphabet is accepted.
fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn failed(e: impl std::fmt::Display) -> TransportError {
    TransportError::Failed(e.to_string())
}

impl ClientTransport {
    /// A transport with no device started yet.
    pub fn new(config: ClientTransportConfig) -> Self {
        ClientTransport {
            config,
            sink: OnceLock::new(),
            slots: Default::default(),
            pair_codes: Default::default(),
        }
    }

    /// The store file of a device.
    pub fn store_path(&self, device_id: &str) -> PathBuf {
        self.config.devices_dir.join(format!("{device_id}.db"))
    }

    /// Disconnects every device (keeping credentials); call at shutdown.
    pub async fn shutdown(&self) {
        let slots: Vec<Slot> = self.slots.lock().await.drain().map(|(_, s)| s).collect();
        futures_util::future::join_all(slots.iter().map(|s| s.client.disconnect())).await;
    }

    fn emit(&self, event: TransportEvent) {
        if let Some(sink) = self.sink.get() {
            sink.emit(event);
        }
    }

    async fn build_slot(
        &self,
        device_id: &str,
        pair_phone: Option<&str>,
    ) -> Result<Slot, TransportError> {
        if !valid_device_id(device_id) {
            return Err(TransportError::InvalidState("bad device id".into()));
        }
        std::fs::create_dir_all(&self.config.devices_dir).map_err(failed)?;
        let store = wa_client::SqliteStore::open(self.store_path(device_id))
            .await
            .map_err(failed)?;
        let mut builder = Client::builder(store).device_name(self.config.device_name.clone());
        if let Some(url) = &self.config.ws_url {
            builder = builder.ws_url(url.clone());
        }
        if let Some(key) = self.config.root_key {
            builder = builder.root_key(key);
        }
        if let Some(phone) = pair_phone {
            builder = builder.pair_with_phone(phone);
        }
        let client = builder.build();
        let logging_out = Arc::new(AtomicBool::new(false));
        let code_pairing = Arc::new(AtomicBool::new(pair_phone.is_some()));
        let pump = Pump {
            device_id: device_id.to_string(),
            sink: self.sink.get().cloned(),
            client: client.clone(),
            linker: self.config.auto_linker.clone(),
            logging_out: logging_out.clone(),
            code_pairing: code_pairing.clone(),
            pair_codes: self.pair_codes.clone(),
        };
        let events = client.events();
        let pump = tokio::spawn(pump.run(events));
        Ok(Slot {
            client,
            pump,
            logging_out,
            code_pairing,
        })
    }

    async fn is_paired(client: &Client) -> bool {
        client.jid().await.is_some()
    }

    /// The device's client, when it is connected.
    async fn connected(&self, device_id: &str) -> Result<Client, TransportError> {
        let slots = self.slots.lock().await;
        match slots.get(device_id) {
            Some(s) if s.client.is_connected() => Ok(s.client.clone()),
            _ => Err(TransportError::Offline),
        }
    }
}

/// A client error of a request/answer operation (groups) as the gateway reports it.
fn op_error(e: wa_client::Error) -> TransportError {
    use wa_client::Error as E;
    match e {
        E::NotConnected | E::NotLoggedIn | E::LoggedOut | E::Shutdown => TransportError::Offline,
        E::InvalidArgument(m) => TransportError::InvalidState(m),
        E::Server { code, text } if (400..500).contains(&code) => {
            TransportError::Refused { code, text }
        }
        other => failed(other),
    }
}

fn parse_jid(s: &str) -> Result<Jid, TransportError> {
    s.parse()
        .map_err(|_| TransportError::InvalidState(format!("not a JID: {s}")))
}

fn parse_jids(list: &[String]) -> Result<Vec<Jid>, TransportError> {
    list.iter().map(|s| parse_jid(s)).collect()
}

fn group_metadata(g: wa_client::GroupInfo) -> GroupMetadata {
    GroupMetadata {
        jid: g.jid.to_non_ad().to_string(),
        subject: g.subject,
        creator: g.creator.map(|c| c.to_non_ad().to_string()),
        created_at: g.creation,
        participants: g
            .participants
            .into_iter()
            .map(|p| GroupMember {
                jid: p.jid.to_non_ad().to_string(),
                is_admin: p.is_admin,
                is_super_admin: p.is_super_admin,
            })
            .collect(),
    }
}

/// Turns one client's events into transport events.
struct Pump {
    device_id: String,
    sink: Option<EventSink>,
    client: Client,
    linker: Option<Arc<dyn AutoLinker>>,
    logging_out: Arc<AtomicBool>,
    code_pairing: Arc<AtomicBool>,
    pair_codes: Arc<Mutex<HashMap<String, CodeWaiter>>>,
}

impl Pump {
    fn emit(&self, event: TransportEvent) {
        if let Some(sink) = &self.sink {
            sink.emit(event);
        }
    }

    fn status(&self, status: DeviceStatus, phone: Option<String>) {
        self.emit(TransportEvent::Status {
            device_id: self.device_id.clone(),
            status,
            phone,
            push_name: None,
        });
    }

    async fn run(self, mut events: wa_client::EventStream) {
        // Whether this connection attempt already showed a QR (the linker scans only the first).
        let mut qr_shown = false;
        while let Some(event) = events.next().await {
            match event {
                Event::Qr(qr) => {
                    if !qr_shown {
                        self.status(DeviceStatus::QrWaiting, None);
                    }
                    self.emit(TransportEvent::Qr {
                        device_id: self.device_id.clone(),
                        code: qr.code.clone(),
                    });
                    if !qr_shown
                        && !self.code_pairing.load(Ordering::SeqCst)
                        && let Some(linker) = self.linker.clone()
                    {
                        let id = self.device_id.clone();
                        tokio::spawn(async move { linker.scan(&id, &qr.code).await });
                    }
                    qr_shown = true;
                }
                Event::PairCode { code } => {
                    self.status(DeviceStatus::QrWaiting, None);
                    let waiter = lock(&self.pair_codes).remove(&self.device_id);
                    if let Some(tx) = waiter {
                        let _ = tx.send(Ok(code));
                    }
                }
                Event::PairError { reason } => {
                    tracing::info!(device_id = %self.device_id, %reason, "pairing failed");
                    let waiter = lock(&self.pair_codes).remove(&self.device_id);
                    if let Some(tx) = waiter {
                        let _ = tx.send(Err(reason));
                    }
                }
                Event::Connected { jid } => {
                    qr_shown = false;
                    self.code_pairing.store(false, Ordering::SeqCst);
                    self.status(DeviceStatus::Online, Some(jid.user.clone()));
                }
                Event::Disconnected {
                    reason,
                    reconnecting,
                } => {
                    qr_shown = false;
                    if reconnecting
                        && !matches!(reason, DisconnectReason::RestartRequired)
                        && ClientTransport::is_paired(&self.client).await
                    {
                        self.emit(TransportEvent::Reconnecting {
                            device_id: self.device_id.clone(),
                        });
                    }
                    // LoggedOut reports itself; a restart (stream error 515, e.g. right
                    // after pairing) reconnects at once and is no status change.
                    if matches!(
                        reason,
                        DisconnectReason::LoggedOut | DisconnectReason::RestartRequired
                    ) {
                        continue;
                    }
                    if ClientTransport::is_paired(&self.client).await {
                        self.status(DeviceStatus::Offline, None);
                    } else if !reconnecting {
                        // Pairing ended (QR codes expired): not linked, not waiting.
                        self.status(DeviceStatus::Created, None);
                    }
                }
                Event::LoggedOut { reason } => {
                    tracing::info!(device_id = %self.device_id, %reason, "device logged out");
                    if self.logging_out.load(Ordering::SeqCst) {
                        continue; // the API's logout reports it once done
                    }
                    self.status(DeviceStatus::LoggedOut, None);
                    // In demo mode a fresh sandbox does not know the old credentials: link
                    // again at once (unless the API asked for the logout).
                    if self.linker.is_some() {
                        let client = self.client.clone();
                        tokio::spawn(async move {
                            // Let the finished connection task be reaped first.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            let _ = client.connect().await;
                        });
                    }
                }
                Event::Receipt(r) => {
                    let kind = match r.kind {
                        ReceiptType::Delivered => ReceiptKind::Delivered,
                        ReceiptType::Read | ReceiptType::ReadSelf | ReceiptType::Played => {
                            ReceiptKind::Read
                        }
                        _ => continue,
                    };
                    for id in r.ids {
                        self.emit(TransportEvent::Receipt {
                            device_id: self.device_id.clone(),
                            wa_message_id: id,
                            kind,
                        });
                    }
                }
                Event::UndecryptableMessage { info, error } => {
                    tracing::warn!(
                        device_id = %self.device_id,
                        message_id = %info.id,
                        sender = %info.sender,
                        %error,
                        "undecryptable message; retry receipt sent"
                    );
                    self.emit(TransportEvent::DecryptFailed {
                        device_id: self.device_id.clone(),
                        wa_message_id: info.id.clone(),
                        sender: info.sender.to_non_ad().to_string(),
                    });
                }
                Event::GroupUpdate {
                    group,
                    author,
                    action,
                    participants,
                } if is_membership_change(&action) => {
                    self.emit(TransportEvent::GroupParticipants {
                        device_id: self.device_id.clone(),
                        group: group.to_non_ad().to_string(),
                        author: author.map(|a| a.to_non_ad().to_string()),
                        action,
                        participants: participants
                            .iter()
                            .map(|p| p.to_non_ad().to_string())
                            .collect(),
                    });
                }
                Event::Message(m) => {
                    if m.info.from_me {
                        continue;
                    }
                    self.emit(TransportEvent::Inbound {
                        device_id: self.device_id.clone(),
                        message: inbound(&m),
                    });
                }
                _ => {}
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Group notifications that change who is in the group or who administers it (not the
/// subject, description or settings).
fn is_membership_change(action: &str) -> bool {
    matches!(
        action,
        "add" | "remove" | "promote" | "demote" | "leave" | "join" | "invite" | "modify"
    )
}

/// The gateway's view of a received message.
fn inbound(m: &wa_client::MessageEvent) -> InboundMessage {
    let content = &m.content;
    let kind = match content {
        MessageContent::Text(_) => "text",
        MessageContent::Image(_) => "image",
        MessageContent::Video(_) => "video",
        MessageContent::Audio(_) => "audio",
        MessageContent::Document(_) => "document",
        MessageContent::Sticker(_) => "sticker",
        MessageContent::Location(_) => "location",
        MessageContent::Contact(_) => "contact",
        MessageContent::Reaction(_) => "reaction",
        MessageContent::Poll(_) => "poll",
        _ => "other",
    };
    let media = content.media().map(|(media, _)| InboundMedia {
        mime_type: media.mimetype.clone(),
        file_length: media.file_length,
        file_name: match content {
            MessageContent::Document(d) => d.file_name.clone(),
            _ => None,
        },
        download: media_download(kind, media),
    });
    let text = match content {
        MessageContent::Location(l) => l.name.clone().or_else(|| l.address.clone()),
        MessageContent::Contact(c) => c.display_name.clone(),
        MessageContent::Reaction(r) => Some(r.emoji.clone()),
        MessageContent::Poll(p) => Some(p.name.clone()),
        other => other.text().map(str::to_owned),
    };
    let quoted = match content {
        MessageContent::Reaction(r) => Some(r.target.id.clone()),
        _ => content
            .context()
            .and_then(|c| c.quote.as_ref())
            .map(|q| q.stanza_id.clone()),
    };
    InboundMessage {
        wa_message_id: m.info.id.clone(),
        chat: m.info.chat.to_non_ad().to_string(),
        sender: m.info.sender.to_non_ad().to_string(),
        sender_phone: m.info.sender_pn.as_ref().map(|j| j.user.clone()),
        sender_lid: m.info.sender_lid.as_ref().map(|j| j.to_string()),
        text,
        timestamp_ms: (m.info.timestamp as i64).saturating_mul(1000),
        push_name: m.info.push_name.clone(),
        kind: kind.to_string(),
        media,
        quoted,
        mentions: content
            .context()
            .map(|c| c.mentions.clone())
            .unwrap_or_default(),
        is_group: m.info.is_group,
    }
}

/// The stored download reference of received media; `None` without a usable key or location.
fn media_download(kind: &str, m: &wa_client::message::Media) -> Option<MediaDownload> {
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let key = m.media_key32()?;
    if m.direct_path.is_none() && m.url.is_none() {
        return None;
    }
    Some(MediaDownload {
        kind: kind.to_string(),
        url: m.url.clone(),
        direct_path: m.direct_path.clone(),
        media_key: b64(&key),
        file_sha256: m.file_sha256.as_deref().map(b64),
        file_enc_sha256: m.file_enc_sha256.as_deref().map(b64),
    })
}

/// The client's view of a stored download reference.
fn media_of(d: &MediaDownload) -> Result<(wa_client::message::Media, MediaKind), TransportError> {
    use base64::Engine;
    let un = |v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|_| TransportError::Failed("stored media reference is corrupt".into()))
    };
    let kind = match d.kind.as_str() {
        "image" | "sticker" => MediaKind::Image,
        "video" => MediaKind::Video,
        "audio" => MediaKind::Audio,
        "document" => MediaKind::Document,
        other => {
            return Err(TransportError::Failed(format!(
                "no media download for kind {other}"
            )));
        }
    };
    let media = wa_client::message::Media {
        url: d.url.clone(),
        direct_path: d.direct_path.clone(),
        media_key: Some(un(&d.media_key)?),
        file_sha256: d.file_sha256.as_deref().map(un).transpose()?,
        file_enc_sha256: d.file_enc_sha256.as_deref().map(un).transpose()?,
        ..Default::default()
    };
    Ok((media, kind))
}

/// What retrying can and cannot fix.
fn send_error(e: wa_client::Error) -> SendError {
    use wa_client::Error as E;
    match e {
        E::NotConnected | E::NotLoggedIn | E::LoggedOut | E::Shutdown => SendError::Offline,
        E::InvalidArgument(m) => SendError::Permanent(m),
        E::Server { code, text } if (400..500).contains(&code) && code != 429 => {
            SendError::Permanent(format!("server error {code}: {text}"))
        }
        other => SendError::Temporary(other.to_string()),
    }
}

fn context(to: &Jid, reply_to: &Option<String>, mentions: &[String]) -> Option<Context> {
    if reply_to.is_none() && mentions.is_empty() {
        return None;
    }
    Some(Context {
        quote: reply_to.as_ref().map(|id| Quote {
            stanza_id: id.clone(),
            // In a 1:1 chat the quoted message is the other party's; groups need its author,
            // which the gateway does not know.
            participant: (!to.is_group()).then(|| to.to_non_ad().to_string()),
            ..Default::default()
        }),
        mentions: mentions.to_vec(),
        ..Default::default()
    })
}

fn vcard(name: &str, phone: &str) -> String {
    let clean = |s: &str| s.replace(['\r', '\n', ';'], " ");
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!(
        "BEGIN:VCARD\nVERSION:3.0\nFN:{}\nTEL;type=CELL;type=VOICE;waid={digits}:+{digits}\nEND:VCARD",
        clean(name)
    )
}

async fn upload(
    client: &Client,
    m: &MediaPayload,
    kind: MediaKind,
) -> Result<wa_client::message::Media, SendError> {
    let up = client.upload(&m.data, kind).await.map_err(send_error)?;
    Ok(up.to_media(&m.mime_type))
}

async fn content(
    client: &Client,
    to: &Jid,
    msg: &OutboundMessage,
) -> Result<MessageContent, SendError> {
    let ctx = context(to, &msg.reply_to, &msg.mentions);
    Ok(match &msg.content {
        OutboundContent::Text(text) => MessageContent::Text(Text {
            text: text.clone(),
            context: ctx,
            ..Default::default()
        }),
        OutboundContent::Image(m) => MessageContent::Image(Image {
            media: upload(client, m, MediaKind::Image).await?,
            caption: m.caption.clone(),
            context: ctx,
            ..Default::default()
        }),
        OutboundContent::Video(m) => MessageContent::Video(Video {
            media: upload(client, m, MediaKind::Video).await?,
            caption: m.caption.clone(),
            context: ctx,
            ..Default::default()
        }),
        OutboundContent::Audio(m) => MessageContent::Audio(Audio {
            media: upload(client, m, MediaKind::Audio).await?,
            voice_note: m.mime_type.contains("opus"),
            context: ctx,
            ..Default::default()
        }),
        OutboundContent::Document(m) => MessageContent::Document(Document {
            media: upload(client, m, MediaKind::Document).await?,
            file_name: Some(m.filename.clone().unwrap_or_else(|| "file".into())),
            caption: m.caption.clone(),
            context: ctx,
            ..Default::default()
        }),
        OutboundContent::Location {
            latitude,
            longitude,
            name,
            address,
        } => MessageContent::Location(Location {
            latitude: *latitude,
            longitude: *longitude,
            name: name.clone(),
            address: address.clone(),
            context: ctx,
            ..Default::default()
        }),
        OutboundContent::Contact { name, phone } => MessageContent::Contact(Contact {
            display_name: Some(name.clone()),
            vcard: vcard(name, phone),
            context: ctx,
        }),
        OutboundContent::Reaction { message_id, emoji } => MessageContent::Reaction(Reaction {
            target: MessageKey {
                remote_jid: to.to_non_ad().to_string(),
                from_me: false,
                id: message_id.clone(),
                participant: None,
            },
            emoji: emoji.clone(),
            sender_timestamp_ms: Some(crate::util::now_ms()),
        }),
    })
}

#[async_trait]
impl DeviceTransport for ClientTransport {
    fn attach(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }

    async fn send(&self, device_id: &str, msg: &OutboundMessage) -> Result<(), SendError> {
        let client = {
            let slots = self.slots.lock().await;
            match slots.get(device_id) {
                Some(s) if s.client.is_connected() => s.client.clone(),
                _ => return Err(SendError::Offline),
            }
        };
        let to: Jid = msg
            .to
            .parse()
            .map_err(|_| SendError::Permanent(format!("not a JID: {}", msg.to)))?;
        let content = content(&client, &to, msg).await?;
        client
            .send_with_id(&to, content, msg.wa_message_id.clone())
            .await
            .map(|_| ())
            .map_err(send_error)
    }

    async fn connect(&self, device_id: &str) -> Result<(), TransportError> {
        let mut slots = self.slots.lock().await;
        // A client built for phone-code pairing that stopped unpaired is rebuilt for QR.
        let stale = match slots.get(device_id) {
            Some(s) => {
                s.client.config().pair_phone.is_some()
                    && !s.client.is_connected()
                    && !Self::is_paired(&s.client).await
            }
            None => false,
        };
        if stale && let Some(old) = slots.remove(device_id) {
            old.client.disconnect().await;
        }
        if !slots.contains_key(device_id) {
            let slot = self.build_slot(device_id, None).await?;
            slots.insert(device_id.to_string(), slot);
        }
        let slot = slots.get(device_id).expect("inserted above");
        slot.logging_out.store(false, Ordering::SeqCst);
        slot.client.connect().await.map_err(failed)
    }

    async fn disconnect(&self, device_id: &str) -> Result<(), TransportError> {
        let slot = self.slots.lock().await.remove(device_id);
        if let Some(slot) = slot {
            // This call reports the status; the pump must not add a second one.
            slot.pump.abort();
            slot.client.disconnect().await;
            if Self::is_paired(&slot.client).await {
                self.emit(TransportEvent::Status {
                    device_id: device_id.to_string(),
                    status: DeviceStatus::Offline,
                    phone: None,
                    push_name: None,
                });
            }
        }
        Ok(())
    }

    async fn logout(&self, device_id: &str) -> Result<(), TransportError> {
        if !valid_device_id(device_id) {
            return Err(TransportError::InvalidState("bad device id".into()));
        }
        let slot = self.slots.lock().await.remove(device_id);
        let slot = match slot {
            Some(s) => s,
            None if self.store_path(device_id).exists() => self.build_slot(device_id, None).await?,
            None => return Ok(()),
        };
        slot.logging_out.store(true, Ordering::SeqCst);
        let client = slot.client.clone();
        if Self::is_paired(&client).await {
            // Unlinking needs a live connection; a device that cannot connect in time is
            // forgotten locally all the same.
            if !client.is_connected() {
                let _ = client.connect().await;
                let _ = client.wait_connected(Duration::from_secs(10)).await;
            }
            if let Err(e) = client.logout().await {
                tracing::warn!(device_id, error = %e, "logout request failed; forgetting the device locally");
                client.disconnect().await;
                client.store().clear().await.map_err(failed)?;
            }
        } else {
            client.disconnect().await;
            client.store().clear().await.map_err(failed)?;
        }
        drop(slot);
        drop(client);
        // Nothing of the device is worth keeping; the next connect starts a fresh store.
        let path = self.store_path(device_id);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        self.emit(TransportEvent::Status {
            device_id: device_id.to_string(),
            status: DeviceStatus::LoggedOut,
            phone: None,
            push_name: None,
        });
        Ok(())
    }

    async fn pairing_code(&self, device_id: &str, phone: &str) -> Result<String, TransportError> {
        if let Some(linker) = &self.config.auto_linker {
            linker.prepare_code(phone).await;
        }
        // A running QR connection can ask for a code itself (without holding the device table
        // lock while it waits for the server).
        let running = {
            let slots = self.slots.lock().await;
            match slots.get(device_id) {
                Some(s) if Self::is_paired(&s.client).await => {
                    return Err(TransportError::InvalidState(
                        "the device is already linked".into(),
                    ));
                }
                Some(s) if s.client.config().pair_phone.is_none() && !s.pump.is_finished() => {
                    s.code_pairing.store(true, Ordering::SeqCst);
                    Some(s.client.clone())
                }
                _ => None,
            }
        };
        let mut code = None;
        if let Some(client) = running {
            code = request_on_running(&client, phone).await.ok();
        }
        let code = match code {
            Some(code) => code,
            // Otherwise start a client that pairs by code from the beginning.
            None => {
                let rx = {
                    let mut slots = self.slots.lock().await;
                    if let Some(old) = slots.remove(device_id) {
                        old.pump.abort();
                        old.client.disconnect().await;
                    }
                    let slot = self.build_slot(device_id, Some(phone)).await?;
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    lock(&self.pair_codes).insert(device_id.to_string(), tx);
                    slot.client.connect().await.map_err(failed)?;
                    slots.insert(device_id.to_string(), slot);
                    rx
                };
                let answer = tokio::time::timeout(Duration::from_secs(30), rx).await;
                lock(&self.pair_codes).remove(device_id);
                match answer {
                    Ok(Ok(Ok(code))) => code,
                    Ok(Ok(Err(reason))) => return Err(TransportError::Failed(reason)),
                    _ => {
                        return Err(TransportError::Failed(
                            "no pairing code from WhatsApp in time".into(),
                        ));
                    }
                }
            }
        };
        if let Some(linker) = self.config.auto_linker.clone() {
            let (phone, code) = (phone.to_string(), code.clone());
            tokio::spawn(async move { linker.enter_code(&phone, &code).await });
        }
        Ok(code)
    }

    async fn groups(&self, device_id: &str) -> Result<Vec<GroupMetadata>, TransportError> {
        self.list_groups(device_id).await
    }

    async fn group_info(
        &self,
        device_id: &str,
        group: &str,
    ) -> Result<GroupMetadata, TransportError> {
        self.one_group(device_id, group).await
    }

    async fn create_group(
        &self,
        device_id: &str,
        subject: &str,
        participants: &[String],
    ) -> Result<GroupMetadata, TransportError> {
        self.new_group(device_id, subject, participants).await
    }

    async fn change_participants(
        &self,
        device_id: &str,
        group: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantOutcome>, TransportError> {
        self.members(device_id, group, action, participants).await
    }

    async fn leave_group(&self, device_id: &str, group: &str) -> Result<(), TransportError> {
        self.leave(device_id, group).await
    }

    async fn download_media(
        &self,
        device_id: &str,
        media: &MediaDownload,
        mut out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    ) -> Result<u64, TransportError> {
        let (media, kind) = media_of(media)?;
        let client = self.connected(device_id).await?;
        client
            .download_to(&media, kind, &mut out)
            .await
            .map_err(|e| TransportError::Failed(e.to_string()))
    }
}

/// The group operations, kept apart from the trait impl above for readability.
impl ClientTransport {
    async fn list_groups(&self, device_id: &str) -> Result<Vec<GroupMetadata>, TransportError> {
        let client = self.connected(device_id).await?;
        let groups = client.groups().await.map_err(op_error)?;
        Ok(groups.into_iter().map(group_metadata).collect())
    }

    async fn one_group(
        &self,
        device_id: &str,
        group: &str,
    ) -> Result<GroupMetadata, TransportError> {
        let group = parse_jid(group)?;
        let client = self.connected(device_id).await?;
        client
            .group_info(&group)
            .await
            .map(group_metadata)
            .map_err(op_error)
    }

    async fn new_group(
        &self,
        device_id: &str,
        subject: &str,
        participants: &[String],
    ) -> Result<GroupMetadata, TransportError> {
        let jids = parse_jids(participants)?;
        let client = self.connected(device_id).await?;
        client
            .create_group(subject, &jids)
            .await
            .map(group_metadata)
            .map_err(op_error)
    }

    async fn members(
        &self,
        device_id: &str,
        group: &str,
        action: ParticipantAction,
        participants: &[String],
    ) -> Result<Vec<ParticipantOutcome>, TransportError> {
        let group = parse_jid(group)?;
        let jids = parse_jids(participants)?;
        let client = self.connected(device_id).await?;
        let changes = match action {
            ParticipantAction::Add => client.add_participants(&group, &jids).await,
            ParticipantAction::Remove => client.remove_participants(&group, &jids).await,
        }
        .map_err(op_error)?;
        Ok(changes
            .into_iter()
            .map(|c| ParticipantOutcome {
                jid: c.jid.to_non_ad().to_string(),
                error: c.error,
            })
            .collect())
    }

    async fn leave(&self, device_id: &str, group: &str) -> Result<(), TransportError> {
        let group = parse_jid(group)?;
        let client = self.connected(device_id).await?;
        client.leave_group(&group).await.map_err(op_error)
    }
}

/// Asks a connection that is already waiting for a QR scan for a pairing code.
async fn request_on_running(client: &Client, phone: &str) -> Result<String, wa_client::Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client.request_pair_code(phone).await {
            Err(wa_client::Error::NotConnected) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Where a data directory keeps the device stores.
pub fn devices_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("devices")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_that_could_escape_the_store_directory_are_refused() {
        assert!(valid_device_id("dev_1d38c0dbf3ad1ba67e41af01"));
        for bad in ["", "../x", "a/b", "dev.db", &"x".repeat(65)] {
            assert!(!valid_device_id(bad), "{bad}");
        }
    }

    #[test]
    fn client_errors_map_to_queue_decisions() {
        use wa_client::Error as E;
        assert_eq!(send_error(E::NotConnected), SendError::Offline);
        assert_eq!(send_error(E::NotLoggedIn), SendError::Offline);
        assert!(matches!(send_error(E::Timeout), SendError::Temporary(_)));
        assert!(matches!(
            send_error(E::Server {
                code: 503,
                text: "unavailable".into()
            }),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            send_error(E::Server {
                code: 429,
                text: "rate".into()
            }),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            send_error(E::Server {
                code: 406,
                text: "bad".into()
            }),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            send_error(E::InvalidArgument("x".into())),
            SendError::Permanent(_)
        ));
    }

    #[test]
    fn replies_in_direct_chats_quote_the_other_party() {
        let to: Jid = "6281100000001@s.whatsapp.net".parse().unwrap();
        let ctx = context(&to, &Some("3EB0AA".into()), &[]).unwrap();
        let quote = ctx.quote.unwrap();
        assert_eq!(quote.stanza_id, "3EB0AA");
        assert_eq!(
            quote.participant.as_deref(),
            Some("6281100000001@s.whatsapp.net")
        );
        assert!(context(&to, &None, &[]).is_none());
        let group: Jid = "120363000000000001@g.us".parse().unwrap();
        let ctx = context(&group, &None, &["628123@s.whatsapp.net".into()]).unwrap();
        assert!(ctx.quote.is_none());
        assert_eq!(ctx.mentions, vec!["628123@s.whatsapp.net".to_string()]);
    }

    #[test]
    fn contact_cards_carry_the_whatsapp_id_and_no_injected_lines() {
        let card = vcard("Ani\nEVIL:1", "+62 811-0000-0001");
        assert!(card.contains("FN:Ani EVIL:1\n"), "{card}");
        assert!(card.contains("waid=6281100000001:+6281100000001"), "{card}");
        assert_eq!(card.lines().count(), 5);
    }
}
