//! [`Client`] and [`ClientBuilder`]: the public handle and the state shared by its tasks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use wa_core::Jid;
use wa_core::binary::{Node, encode_frame};
use wa_core::pair::{CompanionKeys, code::CompanionCodePairing};

use crate::config::{Config, Proxy, ReconnectPolicy};
use crate::conn::SessionEnd;
use crate::error::{Error, Result};
use crate::events::{Emitter, EventStream};
use crate::store::{Device, Store};

/// Builds a [`Client`].
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use wa_client::{Client, MemoryStore};
/// let client = Client::builder(MemoryStore::new())
///     .device_name("My bot")
///     .build();
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    store: Arc<dyn Store>,
    config: Config,
}

impl ClientBuilder {
    /// The websocket URL (default WhatsApp's).
    pub fn ws_url(mut self, url: impl Into<String>) -> Self {
        self.config.ws_url = url.into();
        self
    }

    /// The Noise certificate root key to trust (default WhatsApp's production root).
    pub fn root_key(mut self, key: [u8; 32]) -> Self {
        self.config.root_key = key;
        self
    }

    /// An HTTP or SOCKS5 proxy for the websocket and media.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.config.proxy = Some(proxy);
        self
    }

    /// The reconnect policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = policy;
        self
    }

    /// The name the phone shows for this linked device.
    pub fn device_name(mut self, name: impl Into<String>) -> Self {
        self.config.client.os = name.into();
        self
    }

    /// The browser kind the phone shows.
    pub fn browser(mut self, platform: wa_core::proto::device_props::PlatformType) -> Self {
        self.config.client.platform_type = platform;
        self
    }

    /// Our push name (the name others see).
    pub fn push_name(mut self, name: impl Into<String>) -> Self {
        self.config.client.push_name = Some(name.into());
        self
    }

    /// Pair by phone code for `phone` (international digits) instead of a QR code; the code
    /// arrives as [`Event::PairCode`](crate::Event::PairCode).
    pub fn pair_with_phone(mut self, phone: impl Into<String>) -> Self {
        self.config.pair_phone = Some(phone.into());
        self
    }

    /// Changes any other setting.
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// The client (not yet connected: call [`Client::connect`]).
    pub fn build(self) -> Client {
        let mut prefix = [0u8; 2];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let (shutdown, _) = watch::channel(false);
        let (connected, _) = watch::channel(None);
        Client {
            inner: Arc::new(Inner {
                config: self.config,
                store: self.store,
                events: Emitter::default(),
                conn: Mutex::new(None),
                draining_handler: Mutex::new(None),
                pending: Mutex::new(HashMap::new()),
                id_prefix: format!("{}.{}-", prefix[0], prefix[1]),
                counter: AtomicU64::new(1),
                crypto_lock: tokio::sync::Mutex::new(()),
                task: Mutex::new(None),
                shutdown,
                connected,
                code_pairing: Mutex::new(None),
                media_conn: tokio::sync::Mutex::new(None),
                http: OnceLock::new(),
            }),
        }
    }
}

/// The live connection of the current session.
pub(crate) struct ConnHandle {
    pub(crate) tx: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) end: mpsc::UnboundedSender<SessionEnd>,
}

/// A phone-code pairing in progress.
pub(crate) struct CodePairing {
    pub(crate) phone: String,
    pub(crate) pairing: CompanionCodePairing,
    pub(crate) reference: Option<Vec<u8>>,
}

/// Cached `media_conn` answer.
#[derive(Clone, Debug)]
pub(crate) struct MediaConn {
    pub(crate) auth: String,
    pub(crate) hosts: Vec<String>,
    pub(crate) expires: std::time::Instant,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) events: Emitter,
    pub(crate) conn: Mutex<Option<ConnHandle>>,
    /// The previous connection's handler task when it had not finished its queue by the time
    /// the connection ended: the next connection's handler waits for it, so stanzas are
    /// always handled one at a time and in arrival order, across reconnects.
    pub(crate) draining_handler: Mutex<Option<JoinHandle<()>>>,
    pub(crate) pending: Mutex<HashMap<String, oneshot::Sender<Node>>>,
    id_prefix: String,
    counter: AtomicU64,
    /// Serializes Signal session and sender-key updates (send and receive paths).
    pub(crate) crypto_lock: tokio::sync::Mutex<()>,
    task: Mutex<Option<JoinHandle<()>>>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) connected: watch::Sender<Option<Jid>>,
    pub(crate) code_pairing: Mutex<Option<CodePairing>>,
    pub(crate) media_conn: tokio::sync::Mutex<Option<MediaConn>>,
    pub(crate) http: OnceLock<reqwest::Client>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Inner {
    /// A fresh stanza id.
    pub(crate) fn next_id(&self) -> String {
        format!(
            "{}{}",
            self.id_prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The stored device, creating (and storing) a fresh unpaired one if there is none.
    pub(crate) async fn ensure_device(&self) -> Result<Device> {
        if let Some(device) = self.store.load_device().await? {
            return Ok(device);
        }
        let device = Device::new(CompanionKeys::generate(&mut rand::rngs::OsRng));
        self.store.save_device(&device).await?;
        Ok(device)
    }

    /// The stored, paired device.
    pub(crate) async fn paired_device(&self) -> Result<Device> {
        match self.store.load_device().await? {
            Some(d) if d.is_paired() => Ok(d),
            _ => Err(Error::NotLoggedIn),
        }
    }

    /// Our device JID.
    pub(crate) async fn own_jid(&self) -> Result<Jid> {
        self.paired_device().await?.jid.ok_or(Error::NotLoggedIn)
    }

    /// Sends one node on the current connection.
    pub(crate) fn send_node(&self, node: &Node) -> Result<()> {
        let frame = encode_frame(node).map_err(|e| Error::protocol(e.to_string()))?;
        let conn = lock(&self.conn);
        let conn = conn.as_ref().ok_or(Error::NotConnected)?;
        conn.tx.send(frame).map_err(|_| Error::NotConnected)
    }

    /// Ends the current session (the run loop decides what happens next).
    pub(crate) fn end_session(&self, end: SessionEnd) {
        if let Some(conn) = lock(&self.conn).as_ref() {
            let _ = conn.end.send(end);
        }
    }

    fn register(&self, key: String) -> oneshot::Receiver<Node> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(key, tx);
        rx
    }

    async fn wait(&self, key: &str, rx: oneshot::Receiver<Node>) -> Result<Node> {
        match tokio::time::timeout(self.config.request_timeout, rx).await {
            Ok(Ok(node)) => Ok(node),
            Ok(Err(_)) => Err(Error::NotConnected),
            Err(_) => {
                lock(&self.pending).remove(key);
                Err(Error::Timeout)
            }
        }
    }

    /// Sends an `<iq>` (its `id` is set here) and waits for the answer; `type="error"`
    /// answers become [`Error::Server`].
    pub(crate) async fn iq(&self, node: Node) -> Result<Node> {
        let id = self.next_id();
        let node = node.with_attr("id", id.clone());
        let rx = self.register(id.clone());
        if let Err(e) = self.send_node(&node) {
            lock(&self.pending).remove(&id);
            return Err(e);
        }
        let answer = self.wait(&id, rx).await?;
        if answer.attr("type") == Some("error") {
            let error = answer.child("error");
            return Err(Error::Server {
                code: error
                    .and_then(|e| e.attr("code"))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                text: error
                    .and_then(|e| e.attr("text"))
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        Ok(answer)
    }

    /// Sends a `<message>` with id `id` and waits for the server's `<ack class="message">`.
    pub(crate) async fn send_message_node(&self, node: &Node, id: &str) -> Result<Node> {
        let key = format!("ack:{id}");
        let rx = self.register(key.clone());
        if let Err(e) = self.send_node(node) {
            lock(&self.pending).remove(&key);
            return Err(e);
        }
        let ack = self.wait(&key, rx).await?;
        if let Some(code) = ack.attr("error") {
            return Err(Error::Server {
                code: code.parse().unwrap_or(0),
                text: "message refused".into(),
            });
        }
        Ok(ack)
    }

    /// Hands a response to whoever waits for it; returns the node when nobody does.
    pub(crate) fn route_response(&self, node: Node) -> Option<Node> {
        let key = match node.tag.as_str() {
            "iq" if matches!(node.attr("type"), Some("result" | "error")) => {
                node.attr("id").map(str::to_owned)
            }
            "ack" if node.attr("class") == Some("message") => {
                node.attr("id").map(|id| format!("ack:{id}"))
            }
            _ => None,
        };
        match key.and_then(|k| lock(&self.pending).remove(&k)) {
            Some(tx) => {
                let _ = tx.send(node);
                None
            }
            None => Some(node),
        }
    }

    /// Fails every waiter (the connection is gone).
    pub(crate) fn clear_pending(&self) {
        lock(&self.pending).clear();
    }

    pub(crate) fn http(&self) -> Result<&reqwest::Client> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(300));
        if let Some(proxy) = &self.config.proxy {
            builder = builder.proxy(
                reqwest::Proxy::all(proxy.url()).map_err(|e| Error::Transport(e.to_string()))?,
            );
        }
        let client = builder
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(self.http.get_or_init(|| client))
    }
}

/// The async WhatsApp client. Cheap to clone; all clones drive the same connection.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use wa_client::{Client, Event, MemoryStore};
/// let client = Client::builder(MemoryStore::new()).build();
/// let mut events = client.events();
/// client.connect().await?;
/// while let Some(event) = events.next().await {
///     match event {
///         Event::Qr(qr) => println!("{}", qr.to_terminal()),
///         Event::Message(m) if m.text() == Some("ping") => {
///             client.send_text(m.chat(), "pong").await?;
///         }
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ws_url", &self.inner.config.ws_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a client over `store`.
    pub fn builder(store: impl Store) -> ClientBuilder {
        Self::builder_arc(Arc::new(store))
    }

    /// Starts building a client over a shared store.
    pub fn builder_arc(store: Arc<dyn Store>) -> ClientBuilder {
        ClientBuilder {
            store,
            config: Config::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// A stream of every event from now on. Subscribe before [`Client::connect`] so the
    /// first events (QR codes, `Connected`) are not missed.
    pub fn events(&self) -> EventStream {
        self.inner.events.subscribe()
    }

    /// Starts the connection task: it pairs (QR or phone code) if the store holds no device,
    /// logs in, and reconnects with backoff according to the policy. Returns at once.
    pub async fn connect(&self) -> Result<()> {
        self.inner.ensure_device().await?;
        let mut task = lock(&self.inner.task);
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        self.inner.shutdown.send_replace(false);
        *task = Some(tokio::spawn(crate::conn::run(self.inner.clone())));
        Ok(())
    }

    /// Waits until the client is logged in and ready, or `timeout` passes.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<Jid> {
        let mut rx = self.inner.connected.subscribe();
        let wait = async {
            loop {
                if let Some(jid) = rx.borrow_and_update().clone() {
                    return Ok(jid);
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Shutdown);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// Whether the client is logged in right now.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.borrow().is_some()
    }

    /// Our device JID, once paired.
    pub async fn jid(&self) -> Option<Jid> {
        self.inner.store.load_device().await.ok().flatten()?.jid
    }

    /// Closes the connection and stops reconnecting; waits for the connection task to end.
    pub async fn disconnect(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.end_session(SessionEnd::Shutdown);
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Unlinks this device from the account, clears the store and disconnects.
    pub async fn logout(&self) -> Result<()> {
        let jid = self.inner.own_jid().await?;
        let iq = Node::new("iq")
            .with_attr("to", "s.whatsapp.net")
            .with_attr("type", "set")
            .with_attr("xmlns", "md")
            .with_children(vec![
                Node::new("remove-companion-device")
                    .with_attr("jid", jid.to_string())
                    .with_attr("reason", "user_initiated"),
            ]);
        let result = self.inner.iq(iq).await;
        self.disconnect().await;
        self.inner.store.clear().await?;
        match result {
            // The server may close the stream (401) before answering.
            Ok(_) | Err(Error::NotConnected) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Requests a phone pairing code for `phone` on the current (unpaired) connection; the
    /// user types it on the phone. Usually [`ClientBuilder::pair_with_phone`] is simpler.
    pub async fn request_pair_code(&self, phone: &str) -> Result<String> {
        crate::pairing::request_code(&self.inner, phone).await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}
