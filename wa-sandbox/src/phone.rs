//! Virtual phones: the primary device (device 0) of each sandbox account.
//!
//! A phone has its own Signal identity (wa-core's Signal over an in-memory store). It is
//! always online inside the server: stanzas for device 0 arrive on its inbox channel and a
//! task decrypts them. It sends like a client does (device lists, prekey bundles that
//! consume one-time prekeys, fan-out to the peer's devices and to its own companions).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prost::Message as _;
use rand::rngs::OsRng;
use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use wa_core::binary::{Jid, Node};
use wa_core::crypto::KeyPair;
use wa_core::proto;
use wa_core::signal::{
    PreKeyBundle, ProtocolAddress, SenderKeyDistributionMessage, SenderKeyName, SessionStore,
    generate_registration_id, group, session, unpad_message,
};

use crate::phone_store::PhoneStore;

use crate::SandboxError;
use crate::server::Shared;

/// Stanzas waiting for a phone; beyond this, deliveries wait in a spawned task.
const INBOX_CAPACITY: usize = 4096;
/// Most received messages a phone remembers (and de-duplicates against).
const MAX_RECEIVED: usize = 10_000;

/// What a phone keeps of the messages it received. Like a real WhatsApp client, it shows a
/// message once: a second copy with the same (chat, sender, id) — a sender re-sending after a
/// crash, say — is dropped and only counted.
#[derive(Default)]
struct Inbox {
    messages: std::collections::VecDeque<ReceivedMessage>,
    /// (chat, sending user, id) of every message in `messages`.
    seen: std::collections::HashSet<(String, String, String)>,
    duplicates: u64,
}

/// The de-duplication key: the sending user, not the device, since a message keeps its id
/// whichever of the sender's devices (re)sends it.
fn inbox_key(m: &ReceivedMessage) -> (String, String, String) {
    let user = m
        .from
        .split_once('@')
        .map(|(u, _)| u.split_once(':').map_or(u, |(u, _)| u))
        .unwrap_or(&m.from);
    (m.chat.clone(), user.to_owned(), m.id.clone())
}

/// A message a phone received and decrypted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedMessage {
    /// The stanza id.
    pub id: String,
    /// The sending device.
    pub from: String,
    /// The chat: the sender's user JID, or the group.
    pub chat: String,
    /// The text, for text messages.
    pub text: Option<String>,
    /// The decrypted, unpadded `Message` protobuf (after unwrapping `deviceSentMessage`).
    #[serde(serialize_with = "as_hex")]
    pub raw: Vec<u8>,
}

fn as_hex<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// A virtual phone: the primary device of one account. Cheap to clone.
#[derive(Clone)]
pub struct Phone {
    pub(crate) inner: Arc<PhoneInner>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("number", &self.inner.number)
            .finish_non_exhaustive()
    }
}

pub(crate) struct PhoneInner {
    pub number: String,
    pub identity: KeyPair,
    pub store: PhoneStore,
    pub registration_id: u32,
    pub shared: Weak<Shared>,
    received: Mutex<Inbox>,
    /// Recently sent messages by id (chat, message), for retry receipts.
    pub sent: Mutex<std::collections::VecDeque<(String, Jid, proto::Message)>>,
    arrived: Notify,
    echo: AtomicBool,
    inbox: mpsc::Sender<Node>,
}

impl Phone {
    /// A new phone with a fresh identity; its task starts on the current runtime.
    pub(crate) fn spawn(number: &str, shared: Weak<Shared>) -> Phone {
        let mut rng = OsRng;
        let identity = KeyPair::generate(&mut rng);
        let registration_id = generate_registration_id(&mut rng);
        Phone::spawn_with(number, identity, registration_id, shared)
    }

    /// A phone with a known identity (restored from a state file).
    pub(crate) fn spawn_with(
        number: &str,
        identity: KeyPair,
        registration_id: u32,
        shared: Weak<Shared>,
    ) -> Phone {
        let store = PhoneStore::new(identity.clone(), registration_id);
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        let phone = Phone {
            inner: Arc::new(PhoneInner {
                number: number.to_owned(),
                identity,
                store,
                registration_id,
                shared,
                received: Mutex::new(Inbox::default()),
                sent: Mutex::new(std::collections::VecDeque::new()),
                arrived: Notify::new(),
                echo: AtomicBool::new(false),
                inbox: tx,
            }),
        };
        tokio::spawn(run(Arc::downgrade(&phone.inner), rx));
        phone
    }

    /// The account's phone number.
    pub fn number(&self) -> &str {
        &self.inner.number
    }

    /// `number@s.whatsapp.net`.
    pub fn jid(&self) -> Jid {
        Jid::pn(self.inner.number.clone())
    }

    /// The phone's identity public key (also the account signature key).
    pub fn identity_public(&self) -> [u8; 32] {
        self.inner.identity.public
    }

    fn shared(&self) -> Result<Arc<Shared>, SandboxError> {
        self.inner.shared.upgrade().ok_or(SandboxError::ShutDown)
    }

    /// Scans a QR string: pairs the companion that shows it (pair-success, then waits for
    /// its pair-device-sign). Returns the companion's new device JID.
    pub async fn scan_qr(&self, qr: &str) -> Result<Jid, SandboxError> {
        let rx = self.shared()?.scan_qr(self, qr)?;
        wait_pairing(rx).await
    }

    /// The user types the 8-character code shown by a companion that asked for phone-code
    /// pairing with this number. Returns the companion's device JID once paired.
    ///
    /// A companion's `companion_hello` may still be in flight when the code is shown, so
    /// this waits up to 5 s for it.
    pub async fn enter_pair_code(&self, code: &str) -> Result<Jid, SandboxError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let rx = loop {
            match self.shared()?.enter_pair_code(self, code) {
                Err(SandboxError::NoPendingCode) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => break other?,
            }
        };
        wait_pairing(rx).await
    }

    /// Sends an encrypted text to a user or group; returns the message id.
    pub async fn send_text(&self, to: &Jid, text: &str) -> Result<String, SandboxError> {
        let message = proto::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        self.send_message(to, &message).await
    }

    /// Sends any `Message` protobuf, encrypted; returns the message id.
    pub async fn send_message(
        &self,
        to: &Jid,
        message: &proto::Message,
    ) -> Result<String, SandboxError> {
        let shared = self.shared()?;
        crate::send::phone_send(&shared, self, to, message).await
    }

    /// Everything this phone decrypted so far, oldest first, each message once (see
    /// [`Phone::duplicates_suppressed`]).
    pub fn received(&self) -> Vec<ReceivedMessage> {
        lock(&self.inner.received)
            .messages
            .iter()
            .cloned()
            .collect()
    }

    /// How many decrypted messages were dropped because the phone already had one with the
    /// same chat, sender and id.
    pub fn duplicates_suppressed(&self) -> u64 {
        lock(&self.inner.received).duplicates
    }

    /// Waits until a received message satisfies `pred` (checking earlier ones too).
    pub async fn wait_for(
        &self,
        pred: impl Fn(&ReceivedMessage) -> bool,
        timeout: Duration,
    ) -> Option<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.arrived.notified();
            if let Some(m) = lock(&self.inner.received).messages.iter().find(|m| pred(m)) {
                return Some(m.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Waits for a text message whose text satisfies `pred`.
    pub async fn wait_for_text(
        &self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<ReceivedMessage> {
        self.wait_for(|m| m.text.as_deref().is_some_and(&pred), timeout)
            .await
    }

    /// Echo mode: reply to every text from someone else with the same text.
    pub fn set_echo(&self, on: bool) {
        self.inner.echo.store(on, Ordering::Relaxed);
    }

    /// Whether echo mode is on.
    pub fn echo(&self) -> bool {
        self.inner.echo.load(Ordering::Relaxed)
    }

    /// Hands a stanza to the phone's task.
    pub(crate) fn deliver(&self, node: Node) {
        match self.inner.inbox.try_send(node) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(node)) => {
                let tx = self.inner.inbox.clone();
                tokio::spawn(async move {
                    let _ = tx.send(node).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// A prekey bundle of device 0 with a fresh one-time prekey (phones have an endless
    /// supply).
    pub(crate) fn bundle(&self) -> PreKeyBundle {
        self.inner.store.bundle()
    }

    /// Makes sure a session with `device` exists, fetching a bundle from the server.
    pub(crate) async fn ensure_session(
        &self,
        shared: &Shared,
        device: &Jid,
    ) -> Result<ProtocolAddress, SandboxError> {
        let address = address_of(device);
        if self.inner.store.load_session(&address).await?.is_none() {
            let bundle = shared
                .take_bundle(device)
                .ok_or_else(|| SandboxError::NoSuchDevice(device.to_string()))?;
            session::process_prekey_bundle(&self.inner.store, &address, &bundle, &mut OsRng)
                .await?;
        }
        Ok(address)
    }

    /// Keeps `message` unless the phone already has it; returns whether it was new.
    fn record(&self, message: ReceivedMessage) -> bool {
        let key = inbox_key(&message);
        let mut inbox = lock(&self.inner.received);
        if inbox.seen.contains(&key) {
            inbox.duplicates += 1;
            return false;
        }
        if inbox.messages.len() >= MAX_RECEIVED
            && let Some(old) = inbox.messages.pop_front()
        {
            inbox.seen.remove(&inbox_key(&old));
        }
        inbox.seen.insert(key);
        inbox.messages.push_back(message);
        drop(inbox);
        self.inner.arrived.notify_waiters();
        true
    }
}

/// The Signal address of a device JID.
pub(crate) fn address_of(jid: &Jid) -> ProtocolAddress {
    ProtocolAddress::from_jid_parts(&jid.user, jid.domain_type(), u32::from(jid.device()))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn wait_pairing(
    rx: tokio::sync::oneshot::Receiver<Result<Jid, String>>,
) -> Result<Jid, SandboxError> {
    match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(Ok(jid))) => Ok(jid),
        Ok(Ok(Err(e))) => Err(SandboxError::Pairing(e)),
        Ok(Err(_)) => Err(SandboxError::Pairing("companion disconnected".into())),
        Err(_) => Err(SandboxError::Pairing("timed out".into())),
    }
}

async fn run(phone: Weak<PhoneInner>, mut rx: mpsc::Receiver<Node>) {
    while let Some(node) = rx.recv().await {
        let Some(inner) = phone.upgrade() else { return };
        let phone = Phone { inner };
        match node.tag.as_str() {
            "message" => handle_message(&phone, &node).await,
            "receipt" if node.attr("type") == Some("retry") => {
                if let Some(shared) = phone.inner.shared.upgrade() {
                    crate::send::resend_on_retry(&shared, &phone, &node).await;
                }
            }
            _ => {}
        }
    }
}

async fn handle_message(phone: &Phone, node: &Node) {
    let Some(shared) = phone.inner.shared.upgrade() else {
        return;
    };
    let (Some(id), Some(Ok(from))) = (node.attr("id"), node.attr_jid("from")) else {
        return;
    };
    let participant = node.attr_jid("participant").and_then(Result::ok);
    let sender = participant.clone().unwrap_or_else(|| from.clone());
    let chat = if from.is_group() {
        from.clone()
    } else if sender.user == phone.inner.number {
        node.attr_jid("recipient")
            .and_then(Result::ok)
            .unwrap_or_else(|| sender.to_non_ad())
    } else {
        sender.to_non_ad()
    };
    let address = address_of(&sender);
    let store = &phone.inner.store;
    let mut texts = Vec::new();
    for enc in node.children_by_tag("enc") {
        let Some(bytes) = enc.content_bytes() else {
            continue;
        };
        let plain = match enc.attr("type") {
            Some("pkmsg") => session::decrypt_prekey_message(store, &address, bytes, &mut OsRng)
                .await
                .ok(),
            Some("msg") => session::decrypt_message(store, &address, bytes, &mut OsRng)
                .await
                .ok(),
            Some("skmsg") => {
                let name = SenderKeyName::new(chat.to_string(), address.clone());
                group::decrypt(store, &name, bytes).await.ok()
            }
            _ => None,
        };
        let Some(plain) = plain else { continue };
        let Ok(unpadded) = unpad_message(&plain) else {
            continue;
        };
        let Ok(mut message) = proto::Message::decode(unpadded) else {
            continue;
        };
        if let Some(sent) = wa_core::message::unwrap_device_sent(&message) {
            message = sent.message;
        }
        if let Some(skdm) = message.sender_key_distribution_message.as_ref()
            && let Some(Ok(dist)) = skdm
                .axolotl_sender_key_distribution_message
                .as_deref()
                .map(SenderKeyDistributionMessage::decode)
        {
            let name = SenderKeyName::new(chat.to_string(), address.clone());
            let _ = group::process_distribution_message(store, &name, &dist).await;
        }
        let text = message.conversation.clone().or_else(|| {
            message
                .extended_text_message
                .as_ref()
                .and_then(|e| e.text.clone())
        });
        let only_skdm = text.is_none()
            && message.sender_key_distribution_message.is_some()
            && message.conversation.is_none();
        if only_skdm {
            continue;
        }
        let fresh = phone.record(ReceivedMessage {
            id: id.to_owned(),
            from: sender.to_string(),
            chat: chat.to_string(),
            text: text.clone(),
            raw: message.encode_to_vec(),
        });
        // A dropped duplicate is not shown, so it is not echoed either.
        if fresh {
            texts.push(text);
        }
    }
    // Delivery receipt, as a client sends it.
    let mut receipt = Node::new("receipt")
        .with_attr("id", id.to_owned())
        .with_attr("to", from.to_string());
    if let Some(p) = &participant {
        receipt = receipt.with_attr("participant", p.to_string());
    }
    shared.route_receipt(&phone.inner.number, 0, &receipt);
    if phone.echo() && sender.user != phone.inner.number {
        for text in texts.into_iter().flatten() {
            let _ = phone.send_text(&chat, &text).await;
        }
    }
}
