//! The server: shared state, the HTTP router (websocket at `/ws/chat`, control API, media),
//! and the [`Sandbox`] handle tests hold.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use rand::rngs::OsRng;
use tokio::sync::{oneshot, watch};
use wa_core::binary::{Jid, Node};
use wa_core::crypto::KeyPair;
use wa_core::noise::{CertIssuer, CertValidity};
use wa_core::pair::{CompanionGrant, QrData, sign_companion_identity};
use wa_core::signal::{PreKeyBundle, PublicKey};

use crate::phone::Phone;
use crate::world::{self, GrantedPairing, Outbound, SharedWorld, World};
use crate::{Fault, SandboxError};

/// How a sandbox starts.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Keep accounts, devices, keys and groups in this file across restarts.
    pub state_file: Option<PathBuf>,
    /// Capacity of each connection's outgoing queue (stanzas).
    pub connection_queue: usize,
    /// Largest frame a client may send (bytes).
    pub max_frame_len: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            connection_queue: 256,
            max_frame_len: 4 << 20,
        }
    }
}

/// Server internals shared by connections, phones and the control API.
pub(crate) struct Shared {
    pub world: SharedWorld,
    pub static_kp: KeyPair,
    pub cert_chain: Vec<u8>,
    pub root: KeyPair,
    pub addr: SocketAddr,
    pub config: SandboxConfig,
    pub media: Mutex<HashMap<String, bytes::Bytes>>,
    pub next_conn: AtomicU64,
    pub next_stanza: AtomicU64,
    pub shutdown: watch::Sender<bool>,
    pub weak_self: std::sync::Weak<Shared>,
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn random64() -> [u8; 64] {
    let mut r = [0u8; 64];
    OsRng.fill_bytes(&mut r);
    r
}

impl Shared {
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        world::lock(&self.world)
    }

    /// A fresh stanza id for server-originated stanzas.
    pub fn stanza_id(&self) -> String {
        format!("{}", self.next_stanza.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Creates the account (and its phone) if needed.
    pub fn create_phone(&self, number: &str) -> Result<Phone, SandboxError> {
        if number.is_empty() || number.len() > 20 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SandboxError::BadNumber(number.to_owned()));
        }
        let mut w = self.world();
        if let Some(a) = w.accounts.get(number) {
            return Ok(a.phone.clone());
        }
        let phone = Phone::spawn(number, self.weak_self.clone());
        let lid = w.allocate_lid();
        w.lid_to_pn.insert(lid.clone(), number.to_owned());
        let raw_id = (OsRng.next_u32() >> 1) | 1;
        let mut devices = std::collections::BTreeMap::new();
        devices.insert(0, phone_record(&phone));
        w.accounts.insert(
            number.to_owned(),
            world::Account {
                lid,
                phone: phone.clone(),
                devices,
                next_device: 1,
                next_key_index: 1,
                raw_id,
            },
        );
        Ok(phone)
    }

    /// The phone of an account.
    pub fn phone(&self, number: &str) -> Option<Phone> {
        self.world().accounts.get(number).map(|a| a.phone.clone())
    }

    /// Phone side of QR pairing: sends pair-success to the companion showing `qr`.
    pub fn scan_qr(
        &self,
        phone: &Phone,
        qr: &str,
    ) -> Result<oneshot::Receiver<Result<Jid, String>>, SandboxError> {
        let data = QrData::parse(qr).map_err(|e| SandboxError::Pairing(e.to_string()))?;
        let mut w = self.world();
        let conn_id = *w
            .refs
            .get(&data.reference)
            .ok_or_else(|| SandboxError::Pairing("unknown or expired QR ref".into()))?;
        let reg = w
            .registrations
            .get(&conn_id)
            .ok_or_else(|| SandboxError::Pairing("companion is gone".into()))?;
        if reg.noise_public != data.noise_public
            || reg.registration.identity != data.identity_public
        {
            return Err(SandboxError::Pairing(
                "QR keys do not match the companion".into(),
            ));
        }
        if reg.granted.is_some() {
            return Err(SandboxError::Pairing(
                "companion is already being paired".into(),
            ));
        }
        let (tx, rx) = oneshot::channel();
        self.grant(&mut w, phone, conn_id, data.adv_secret, tx)?;
        Ok(rx)
    }

    /// Sends pair-success for registration `conn_id` on behalf of `phone`.
    pub fn grant(
        &self,
        w: &mut World,
        phone: &Phone,
        conn_id: u64,
        adv_secret: [u8; 32],
        done: oneshot::Sender<Result<Jid, String>>,
    ) -> Result<(), SandboxError> {
        let number = phone.number().to_owned();
        let account = w
            .accounts
            .get_mut(&number)
            .ok_or_else(|| SandboxError::NoSuchAccount(number.clone()))?;
        let device = account.next_device;
        let key_index = account.next_key_index;
        account.next_device = account.next_device.checked_add(1).unwrap_or(1);
        account.next_key_index += 1;
        let lid = account.lid.clone();
        let raw_id = account.raw_id;
        let reg = w
            .registrations
            .get_mut(&conn_id)
            .ok_or_else(|| SandboxError::Pairing("companion is gone".into()))?;
        let grant = CompanionGrant {
            raw_id,
            timestamp: now(),
            key_index,
            hosted: false,
        };
        let identity = sign_companion_identity(
            &phone.inner.identity,
            &reg.registration.identity,
            &adv_secret,
            &grant,
            &random64(),
        );
        let iq_id = self.stanza_id();
        let node = Node::new("iq")
            .with_attr("from", "s.whatsapp.net")
            .with_attr("type", "set")
            .with_attr("id", iq_id.clone())
            .with_attr("t", now().to_string())
            .with_children(vec![Node::new("pair-success").with_children(vec![
                Node::new("device-identity").with_bytes(identity),
                Node::new("platform").with_attr("name", "smba"),
                Node::new("device")
                    .with_attr("jid", Jid::pn_device(number.clone(), device).to_string())
                    .with_attr("lid", Jid::lid(lid).with_device(device).to_string()),
            ])]);
        reg.granted = Some(GrantedPairing {
            iq_id,
            phone_number: number,
            device,
            key_index,
            done: Some(done),
        });
        reg.conn
            .tx
            .try_send(Outbound::Node(node))
            .map_err(|_| SandboxError::Pairing("companion connection is busy or gone".into()))
    }

    /// Phone side of code pairing: the user typed `code`.
    pub fn enter_pair_code(
        &self,
        phone: &Phone,
        code: &str,
    ) -> Result<oneshot::Receiver<Result<Jid, String>>, SandboxError> {
        let mut w = self.world();
        let number = phone.number().to_owned();
        let conn_id = w
            .registrations
            .iter()
            .filter(|(_, r)| {
                r.code
                    .as_ref()
                    .is_some_and(|c| c.phone_number == number && c.primary.is_none())
            })
            .map(|(id, _)| *id)
            .max()
            .ok_or(SandboxError::NoPendingCode)?;
        let reg = w.registrations.get_mut(&conn_id).expect("found above");
        let pending = reg.code.as_mut().expect("filtered");
        let primary = wa_core::pair::code::PrimaryCodePairing::new(
            &mut OsRng,
            code,
            &pending.wrapped_companion_ephemeral,
        )
        .map_err(|e| SandboxError::Pairing(e.to_string()))?;
        let wrapped = primary.wrapped_ephemeral(&mut OsRng);
        let node = Node::new("notification")
            .with_attr("from", "s.whatsapp.net")
            .with_attr("type", "link_code_companion_reg")
            .with_attr("id", self.stanza_id())
            .with_attr("t", now().to_string())
            .with_children(vec![Node::new("link_code_companion_reg").with_children(
                vec![
                    Node::new("link_code_pairing_ref")
                        .with_bytes(pending.pairing_ref.as_bytes().to_vec()),
                    Node::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                        .with_bytes(wrapped.to_vec()),
                    Node::new("primary_identity_pub").with_bytes(phone.identity_public().to_vec()),
                ],
            )]);
        let (tx, rx) = oneshot::channel();
        pending.primary = Some(primary);
        pending.done = Some(tx);
        reg.conn
            .tx
            .try_send(Outbound::Node(node))
            .map_err(|_| SandboxError::Pairing("companion connection is busy or gone".into()))?;
        Ok(rx)
    }

    /// A prekey bundle for a device, consuming one of its one-time prekeys; sends the
    /// low-prekey notification when few are left.
    pub fn take_bundle(&self, device: &Jid) -> Option<PreKeyBundle> {
        let mut w = self.world();
        let number = w.resolve_user(device)?;
        let d = device.device();
        if d == 0 {
            return w.accounts.get(&number).map(|a| a.phone.bundle());
        }
        let record = w.accounts.get_mut(&number)?.devices.get_mut(&d)?;
        let pre_key = record.pre_keys.pop_front();
        let left = record.pre_keys.len();
        let bundle = PreKeyBundle {
            registration_id: record.registration_id,
            device_id: u32::from(d),
            pre_key: pre_key.map(|(id, k)| (id, PublicKey::from_bytes(k))),
            signed_pre_key_id: record.signed_pre_key_id,
            signed_pre_key: PublicKey::from_bytes(record.signed_pre_key),
            signed_pre_key_signature: record.signed_pre_key_signature,
            identity_key: PublicKey::from_bytes(record.identity),
        };
        if pre_key.is_some() && left < 5 {
            let note = Node::new("notification")
                .with_attr("from", "s.whatsapp.net")
                .with_attr("type", "encrypt")
                .with_attr("id", self.stanza_id())
                .with_attr("t", now().to_string())
                .with_children(vec![
                    Node::new("count").with_attr("value", left.to_string()),
                ]);
            w.deliver(&number, d, note);
        }
        Some(bundle)
    }

    /// Writes the state file, if configured.
    pub fn save_state(&self) {
        if let Some(path) = &self.config.state_file
            && let Err(e) = crate::state::save(self, path)
        {
            eprintln!(
                "wa-sandbox: cannot write state file {}: {e}",
                path.display()
            );
        }
    }
}

/// The device-0 entry of an account: the phone's keys (its bundles come from the phone).
pub(crate) fn phone_record(phone: &Phone) -> world::DeviceRecord {
    world::DeviceRecord {
        noise_public: [0; 32],
        registration_id: phone.inner.registration_id,
        identity: phone.identity_public(),
        signed_pre_key_id: 0,
        signed_pre_key: [0; 32],
        signed_pre_key_signature: [0; 64],
        pre_keys: Default::default(),
        key_index: 0,
        signed_identity: Vec::new(),
        platform: "phone".into(),
        offline: Default::default(),
    }
}

/// A running sandbox server.
pub struct Sandbox {
    pub(crate) shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Binds, loads the state file if any, and starts serving.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let loaded = match &config.state_file {
            Some(path) if path.exists() => Some(crate::state::load(path)?),
            _ => None,
        };
        let mut rng = OsRng;
        let root = loaded
            .as_ref()
            .map(|s| KeyPair::from_private(s.root_private))
            .unwrap_or_else(|| KeyPair::generate(&mut rng));
        let validity = CertValidity {
            not_before: now().saturating_sub(86_400),
            not_after: now() + 10 * 365 * 86_400,
        };
        let issuer = CertIssuer::new(root.clone(), KeyPair::generate(&mut rng), 1, validity);
        let static_kp = KeyPair::generate(&mut rng);
        let cert_chain = issuer.issue(&static_kp.public, 2, validity, &mut rng);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new_cyclic(|weak| Shared {
            world: Arc::new(Mutex::new(World::default())),
            static_kp,
            cert_chain,
            root,
            addr,
            config: config.clone(),
            media: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            next_stanza: AtomicU64::new(0),
            shutdown,
            weak_self: weak.clone(),
        });
        if let Some(state) = loaded {
            crate::state::restore(&shared, state)?;
        }
        let router = crate::http::router(shared.clone());
        let mut stop = shared.shutdown.subscribe();
        // Small stanzas must not wait for Nagle's algorithm to meet the peer's delayed ACK
        // (that alone held message latency at ~44 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
        Ok(Sandbox {
            shared,
            task: Some(task),
        })
    }

    /// `ws://127.0.0.1:PORT/ws/chat`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.shared.addr)
    }

    /// `http://127.0.0.1:PORT`: the control API and the media host.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The root public key clients must trust instead of WhatsApp's.
    pub fn root_public_key(&self) -> [u8; 32] {
        self.shared.root.public
    }

    /// The discovery line `wasap sandbox` prints.
    pub fn discovery_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ws_url": self.ws_url(),
            "root_key": hex::encode(self.root_public_key()),
            "control_url": self.control_url(),
        })
    }

    /// Creates an account with a virtual phone (or returns the existing one).
    pub async fn create_phone(&self, number: &str) -> Result<Phone, SandboxError> {
        let phone = self.shared.create_phone(number)?;
        self.shared.save_state();
        Ok(phone)
    }

    /// The phone of an existing account.
    pub fn phone(&self, number: &str) -> Option<Phone> {
        self.shared.phone(number)
    }

    /// The account's devices (device 0 first), for a user JID or number.
    pub fn devices(&self, user: &Jid) -> Vec<Jid> {
        let w = self.shared.world();
        match w.resolve_user(user) {
            Some(number) => w.device_jids(&number),
            None => Vec::new(),
        }
    }

    /// Every account's phone number.
    pub fn accounts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.shared.world().accounts.keys().cloned().collect();
        v.sort();
        v
    }

    /// Whether a device has a logged-in connection.
    pub fn is_online(&self, device: &Jid) -> bool {
        let w = self.shared.world();
        w.resolve_user(device)
            .is_some_and(|n| w.conns.contains_key(&(n, device.device())))
    }

    /// How many one-time prekeys the server holds for a device.
    pub fn prekey_count(&self, device: &Jid) -> usize {
        let w = self.shared.world();
        w.resolve_user(device)
            .and_then(|n| w.accounts.get(&n))
            .and_then(|a| a.devices.get(&device.device()))
            .map_or(0, |r| r.pre_keys.len())
    }

    /// Activity counters.
    pub fn stats(&self) -> world::Stats {
        self.shared.world().stats
    }

    /// Fault injection.
    pub fn fault(&self) -> Fault {
        Fault {
            shared: self.shared.clone(),
        }
    }

    /// Creates a group owned by `creator` (a phone number) with these participant numbers.
    pub fn create_group(
        &self,
        creator: &str,
        subject: &str,
        participants: &[&str],
    ) -> Result<Jid, SandboxError> {
        let numbers: Vec<String> = participants.iter().map(|s| s.to_string()).collect();
        crate::groups::create(&self.shared, creator, subject, &numbers)
    }

    /// Registers a companion device directly (no websocket pairing): the fast path for
    /// load tests. The returned device logs in with `noise_public` like a paired one.
    pub fn register_device_direct(
        &self,
        number: &str,
        noise_public: [u8; 32],
        registration: &wa_core::pair::RegistrationData,
    ) -> Result<Jid, SandboxError> {
        crate::pairing::register_direct(&self.shared, number, noise_public, registration)
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        self.shared.save_state();
        let _ = self.shared.shutdown.send(true);
        let conns: Vec<_> = self.shared.world().conns.drain().map(|(_, c)| c).collect();
        for c in conns {
            let _ = c.tx.try_send(Outbound::Drop);
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shared.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
