//! The server's shared state: accounts and their devices, registered keys, online
//! connections, offline queues, pending pairings, groups and faults.
//!
//! Everything lives behind one `std::sync::Mutex` held only for short, non-async critical
//! sections; deliveries to connections go through bounded channels with `try_send`, so a
//! slow client never blocks the server (it is disconnected and its stanzas are queued).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use wa_core::binary::{Jid, Node, Server};
use wa_core::pair::RegistrationData;

use crate::phone::Phone;

/// Most stanzas kept for one offline device; older ones are dropped first.
pub(crate) const MAX_OFFLINE_QUEUE: usize = 10_000;
/// Most one-time prekeys kept per device.
pub(crate) const MAX_PREKEYS: usize = 2_000;

/// What a connection task is told to do by the rest of the server.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send this node.
    Node(Node),
    /// Send `<stream:error code=…/>` and close.
    StreamError(u16),
    /// Another connection for the same device took over.
    Replaced,
    /// Close the socket without a word.
    Drop,
    /// Delay every following frame by this much (zero: no delay).
    Delay(Duration),
}

/// A live connection as the rest of the server sees it.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    pub id: u64,
    pub tx: mpsc::Sender<Outbound>,
    /// Closes the connection even when `tx` is full (a stalled reader): a `Drop` message
    /// could not be queued then, and the socket would stay open while stanzas go elsewhere.
    pub kill: Arc<tokio::sync::Notify>,
}

/// One registered (paired) companion device, or a phone's device 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceRecord {
    pub noise_public: [u8; 32],
    pub registration_id: u32,
    pub identity: [u8; 32],
    pub signed_pre_key_id: u32,
    pub signed_pre_key: [u8; 32],
    #[serde(with = "hex64")]
    pub signed_pre_key_signature: [u8; 64],
    pub pre_keys: VecDeque<(u32, [u8; 32])>,
    pub key_index: u32,
    /// `ADVSignedDeviceIdentity` with the account signature key.
    pub signed_identity: Vec<u8>,
    pub platform: String,
    #[serde(skip)]
    pub offline: VecDeque<Node>,
}

/// An account: a phone number, its LID, and its devices (0 = the virtual phone).
#[derive(Debug)]
pub(crate) struct Account {
    pub lid: String,
    pub phone: Phone,
    pub devices: BTreeMap<u16, DeviceRecord>,
    pub next_device: u16,
    pub next_key_index: u32,
    pub raw_id: u32,
}

/// A group chat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub id: String,
    pub subject: String,
    pub creator: String,
    pub creation: u64,
    /// Phone numbers, in join order; admins flagged.
    pub participants: Vec<(String, bool)>,
}

/// A companion that connected with a registration payload and waits to be paired.
#[derive(Debug)]
pub(crate) struct PendingRegistration {
    pub conn: ConnHandle,
    pub refs: Vec<String>,
    pub registration: Box<RegistrationData>,
    pub noise_public: [u8; 32],
    /// Set once a phone granted pairing: waiting for `pair-device-sign`.
    pub granted: Option<GrantedPairing>,
    /// Phone-code pairing state, after `companion_hello`.
    pub code: Option<CodePairing>,
}

/// A pair-success that was sent and waits for the companion's signature.
#[derive(Debug)]
pub(crate) struct GrantedPairing {
    pub iq_id: String,
    pub phone_number: String,
    pub device: u16,
    pub key_index: u32,
    pub done: Option<oneshot::Sender<Result<Jid, String>>>,
}

/// `companion_hello` state of phone-code pairing.
#[derive(Debug)]
pub(crate) struct CodePairing {
    pub phone_number: String,
    pub pairing_ref: String,
    pub wrapped_companion_ephemeral: Vec<u8>,
    /// The phone's side, once the user entered the code.
    pub primary: Option<wa_core::pair::code::PrimaryCodePairing>,
    pub done: Option<oneshot::Sender<Result<Jid, String>>>,
}

/// Counters of the server's activity, for tests and the control API.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Stats {
    /// Websocket connections accepted.
    pub connections_accepted: u64,
    /// Connections currently logged in.
    pub connections_online: u64,
    /// Connections closed because of bad input.
    pub protocol_errors: u64,
    /// Stanzas routed to devices.
    pub stanzas_routed: u64,
}

/// The shared state.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub accounts: HashMap<String, Account>,
    pub lid_to_pn: HashMap<String, String>,
    pub conns: HashMap<(String, u16), ConnHandle>,
    /// pair-device ref -> registration connection id.
    pub refs: HashMap<String, u64>,
    pub registrations: HashMap<u64, PendingRegistration>,
    pub groups: HashMap<String, Group>,
    pub refuse_connections: bool,
    pub delays: HashMap<(String, u16), Duration>,
    pub stats: Stats,
    /// Users who announced `available`, with the announcing device.
    pub available: HashMap<String, u16>,
    /// Presence subscribers by watched user.
    pub presence_subs: HashMap<String, std::collections::HashSet<(String, u16)>>,
    pub next_lid: u64,
    pub next_group: u64,
}

impl World {
    /// The phone number of the account a user or device JID names (PN or LID).
    pub fn resolve_user(&self, jid: &Jid) -> Option<String> {
        match jid.server {
            Server::Pn => self
                .accounts
                .contains_key(&jid.user)
                .then(|| jid.user.clone()),
            Server::Lid => self.lid_to_pn.get(&jid.user).cloned(),
            _ => None,
        }
    }

    /// The devices of an account, as PN device JIDs (device 0 first).
    pub fn device_jids(&self, number: &str) -> Vec<Jid> {
        self.accounts
            .get(number)
            .map(|a| {
                a.devices
                    .keys()
                    .map(|d| Jid::pn_device(number, *d))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Hands `node` to the device's connection, or queues it when the device is offline
    /// (or too slow: its connection is then dropped). Device 0 is the phone: the node is
    /// returned for the caller to pass on outside the lock.
    /// Puts stanzas that were routed to a connection but never written back at the front of
    /// the device's offline queue, oldest first (or hands them to the device's new connection
    /// when it already reconnected).
    pub fn requeue_front(&mut self, number: &str, device: u16, nodes: Vec<Node>) {
        if self.conns.contains_key(&(number.to_owned(), device)) {
            for n in nodes {
                // Counted once already, when first routed.
                self.stats.stanzas_routed = self.stats.stanzas_routed.saturating_sub(1);
                self.deliver(number, device, n);
            }
            return;
        }
        if let Some(record) = self
            .accounts
            .get_mut(number)
            .and_then(|a| a.devices.get_mut(&device))
        {
            for n in nodes.into_iter().rev() {
                record.offline.push_front(n);
            }
            // Over the cap the oldest go, as in `deliver`.
            while record.offline.len() > MAX_OFFLINE_QUEUE {
                record.offline.pop_front();
            }
        }
    }

    pub fn deliver(&mut self, number: &str, device: u16, node: Node) -> Option<(Phone, Node)> {
        self.stats.stanzas_routed += 1;
        if device == 0 {
            return self.accounts.get(number).map(|a| (a.phone.clone(), node));
        }
        let key = (number.to_owned(), device);
        let node = match self.conns.get(&key) {
            Some(conn) => match conn.tx.try_send(Outbound::Node(node)) {
                Ok(()) => return None,
                Err(mpsc::error::TrySendError::Full(Outbound::Node(n)))
                | Err(mpsc::error::TrySendError::Closed(Outbound::Node(n))) => {
                    // Too slow or gone: forget the connection and close it, keep the stanza.
                    // What is still in its queue goes back in front of it when the
                    // connection unregisters, so the device gets everything in order on
                    // its next login.
                    if let Some(conn) = self.conns.remove(&key) {
                        conn.kill.notify_one();
                    }
                    n
                }
                Err(_) => return None,
            },
            None => node,
        };
        if let Some(record) = self
            .accounts
            .get_mut(number)
            .and_then(|a| a.devices.get_mut(&device))
        {
            if record.offline.len() >= MAX_OFFLINE_QUEUE {
                record.offline.pop_front();
            }
            record.offline.push_back(node);
        }
        None
    }

    /// A fresh LID user for a new account.
    pub fn allocate_lid(&mut self) -> String {
        self.next_lid += 1;
        format!("{}", 100_000_000_000_000u64 + self.next_lid * 7919)
    }
}

/// Shared handle to the world.
pub(crate) type SharedWorld = Arc<std::sync::Mutex<World>>;

/// Locks the world; a panic elsewhere never leaves it half-updated in a way that matters
/// for a test server, so poisoning is ignored.
pub(crate) fn lock(world: &SharedWorld) -> std::sync::MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 64 bytes"))
    }
}
