//! One client connection: the Noise handshake, then the stanza loop.
//!
//! The task owns its websocket, its transport cipher and its frame decoder; the rest of the
//! server reaches it only through a bounded [`Outbound`] channel. Any bad frame, failed
//! decryption or undecodable node ends this connection (with a stream error when the
//! transport still works) and touches nothing else.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use rand::RngCore;
use rand::rngs::OsRng;
use tokio::sync::mpsc;
use wa_core::binary::{DecodeLimits, Jid, Node, decode_frame_with, encode_frame};
use wa_core::crypto::KeyPair;
use wa_core::noise::{FrameDecoder, FrameEncoder, NoiseResponder, TransportCipher, WA_INTRO};
use wa_core::pair::{ClientHello, read_client_payload};

use crate::server::{Shared, now};
use crate::world::{ConnHandle, Outbound, PendingRegistration};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// A client silent for this long is dropped (clients ping every 20–30 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Client stanzas are shallow (a message is five levels deep) and small once inflated.
const STANZA_LIMITS: DecodeLimits = DecodeLimits {
    max_inflated_len: 4 << 20,
    max_depth: 32,
};
/// How long a connection stays open after a stream error for the client to close it.
const STREAM_ERROR_GRACE: Duration = Duration::from_secs(1);

/// Why a connection ends.
#[derive(Debug)]
pub(crate) enum Close {
    /// The peer went away or we were told to drop it.
    Quiet,
    /// Bad input: send this stream error code, then close.
    Protocol(u16),
}

/// Who is on the other end, once the handshake is done.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    /// A paired device that logged in.
    Device { number: String, device: u16 },
    /// A companion waiting to be paired.
    Registering,
}

/// The live state of one connection's stanza loop.
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub id: u64,
    pub peer: Peer,
    ws: WebSocket,
    cipher: TransportCipher,
    framer: FrameEncoder,
    decoder: FrameDecoder,
    pub delay: Option<Duration>,
    /// A queued stanza whose send failed: it goes back to the device's queue.
    unsent: Option<Node>,
}

pub(crate) async fn serve(ws: WebSocket, shared: Arc<Shared>) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
    shared.world().stats.connections_accepted += 1;
    let (tx, mut rx) = mpsc::channel(shared.config.connection_queue.max(8));
    let kill = Arc::new(tokio::sync::Notify::new());
    let handle = ConnHandle {
        id,
        tx,
        kill: kill.clone(),
    };
    let Some(mut conn) = handshake(ws, shared.clone(), id, &handle).await else {
        return;
    };
    let result = conn.run(&mut rx, &kill).await;
    // Detach first, so nothing more is routed to a connection that is closing.
    conn.unregister(&mut rx);
    conn.finish(result).await;
}

async fn recv_frame(ws: &mut WebSocket, decoder: &mut FrameDecoder) -> Option<Vec<u8>> {
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => return Some(frame),
            Ok(None) => {}
            Err(_) => return None,
        }
        match ws.recv().await? {
            Ok(Message::Binary(b)) => decoder.push(&b),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn handshake(
    mut ws: WebSocket,
    shared: Arc<Shared>,
    id: u64,
    handle: &ConnHandle,
) -> Option<Conn> {
    let mut decoder =
        FrameDecoder::expecting_intro().with_max_frame_len(shared.config.max_frame_len);
    let mut framer = FrameEncoder::server();
    let fut = async {
        let hello = recv_frame(&mut ws, &mut decoder).await?;
        let responder = NoiseResponder::new(
            shared.static_kp.clone(),
            KeyPair::generate(&mut OsRng),
            shared.cert_chain.clone(),
            &WA_INTRO,
        );
        let read = responder.read_client_hello(&hello).ok()?;
        let (server_hello, awaiting) = read.write_server_hello();
        let out = framer.encode(&server_hello).ok()?;
        ws.send(Message::Binary(out.into())).await.ok()?;
        let finish = recv_frame(&mut ws, &mut decoder).await?;
        awaiting.read_client_finish(&finish).ok()
    };
    let finished = match tokio::time::timeout(HANDSHAKE_TIMEOUT, fut).await {
        Ok(Some(f)) => f,
        _ => {
            shared.world().stats.protocol_errors += 1;
            let _ = ws.close().await;
            return None;
        }
    };
    let mut conn = Conn {
        shared: shared.clone(),
        id,
        peer: Peer::Registering,
        ws,
        cipher: finished.cipher,
        framer,
        decoder,
        delay: None,
        unsent: None,
    };
    match read_client_payload(&finished.payload) {
        Ok(ClientHello::Login { phone, device, .. }) => {
            conn.login(phone.to_string(), device, finished.client_static, handle)
                .await
        }
        Ok(ClientHello::Registration(reg)) => {
            if !reg.signature_valid() {
                conn.send_failure("400").await;
                return None;
            }
            let mut refs = Vec::with_capacity(6);
            for _ in 0..6 {
                let mut r = [0u8; 18];
                OsRng.fill_bytes(&mut r);
                use base64::Engine;
                refs.push(format!(
                    "2@{}",
                    base64::engine::general_purpose::STANDARD.encode(r)
                ));
            }
            {
                let mut w = shared.world();
                for r in &refs {
                    w.refs.insert(r.clone(), id);
                }
                w.registrations.insert(
                    id,
                    PendingRegistration {
                        conn: handle.clone(),
                        refs: refs.clone(),
                        registration: reg,
                        noise_public: finished.client_static,
                        granted: None,
                        code: None,
                    },
                );
            }
            let iq = Node::new("iq")
                .with_attr("from", "s.whatsapp.net")
                .with_attr("type", "set")
                .with_attr("id", shared.stanza_id())
                .with_attr("xmlns", "md")
                .with_children(vec![
                    Node::new("pair-device").with_children(
                        refs.into_iter()
                            .map(|r| Node::new("ref").with_bytes(r.into_bytes()))
                            .collect(),
                    ),
                ]);
            conn.send(&iq).await.ok()?;
            Some(conn)
        }
        _ => {
            shared.world().stats.protocol_errors += 1;
            conn.send_failure("400").await;
            None
        }
    }
}

impl Conn {
    async fn login(
        mut self,
        number: String,
        device: u32,
        noise_public: [u8; 32],
        handle: &ConnHandle,
    ) -> Option<Conn> {
        let device = u16::try_from(device).ok();
        let found = {
            let mut w = self.shared.world();
            let known = device.and_then(|d| {
                let a = w.accounts.get(&number)?;
                let rec = a.devices.get(&d)?;
                (d != 0 && rec.noise_public == noise_public).then(|| (a.lid.clone(), d))
            });
            known.map(|(lid, d)| {
                let old = w.conns.insert((number.clone(), d), handle.clone());
                let queued: Vec<Node> = w
                    .accounts
                    .get_mut(&number)
                    .and_then(|a| a.devices.get_mut(&d))
                    .map(|r| r.offline.drain(..).collect())
                    .unwrap_or_default();
                let delay = w.delays.get(&(number.clone(), d)).copied();
                if old.is_none() {
                    // A replaced connection is not counted twice.
                    w.stats.connections_online += 1;
                }
                (lid, queued, old, delay)
            })
        };
        let Some((lid, queued, old, delay)) = found else {
            self.send_failure("401").await;
            return None;
        };
        self.delay = delay;
        let device = device.unwrap_or(0);
        if let Some(old) = old {
            let _ = old.tx.try_send(Outbound::Replaced);
        }
        self.peer = Peer::Device {
            number: number.clone(),
            device,
        };
        let success = Node::new("success")
            .with_attr("t", now().to_string())
            .with_attr("props", "1")
            .with_attr("abprops", "1")
            .with_attr("location", "sandbox")
            .with_attr("creation", now().to_string())
            .with_attr("lid", Jid::lid(lid).with_device(device).to_string());
        self.send(&success).await.ok()?;
        let count = queued.len();
        for node in queued {
            let node = node.with_attr("offline", "1");
            self.send(&node).await.ok()?;
        }
        let offline = Node::new("ib")
            .with_attr("from", "s.whatsapp.net")
            .with_children(vec![
                Node::new("offline").with_attr("count", count.to_string()),
            ]);
        self.send(&offline).await.ok()?;
        Some(self)
    }

    async fn send_failure(&mut self, reason: &str) {
        let node = Node::new("failure").with_attr("reason", reason.to_owned());
        let _ = self.send(&node).await;
        let _ = self.ws.close().await;
    }

    /// Encodes, encrypts and frames one node.
    pub async fn send(&mut self, node: &Node) -> Result<(), Close> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        let plain = encode_frame(node).map_err(|_| Close::Quiet)?;
        let sealed = self.cipher.seal(&plain).map_err(|_| Close::Quiet)?;
        let framed = self.framer.encode(&sealed).map_err(|_| Close::Quiet)?;
        self.ws
            .send(Message::Binary(framed.into()))
            .await
            .map_err(|_| Close::Quiet)
    }

    async fn run(
        &mut self,
        rx: &mut mpsc::Receiver<Outbound>,
        kill: &tokio::sync::Notify,
    ) -> Result<(), Close> {
        let mut stop = self.shared.shutdown.subscribe();
        let limits = STANZA_LIMITS;
        loop {
            tokio::select! {
                incoming = tokio::time::timeout(IDLE_TIMEOUT, self.ws.recv()) => {
                    let chunk = match incoming {
                        Err(_) => return Err(Close::Quiet),
                        Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return Err(Close::Quiet),
                        Ok(Some(Ok(Message::Binary(b)))) => b,
                        Ok(Some(Ok(_))) => continue,
                    };
                    self.decoder.push(&chunk);
                    loop {
                        let frame = match self.decoder.next_frame() {
                            Ok(Some(f)) => f,
                            Ok(None) => break,
                            Err(_) => return Err(Close::Protocol(400)),
                        };
                        let plain = self.cipher.open(&frame).map_err(|_| Close::Quiet)?;
                        let node = decode_frame_with(&plain, &limits).map_err(|_| Close::Protocol(400))?;
                        self.handle(node).await?;
                    }
                }
                out = rx.recv() => match out {
                    Some(Outbound::Node(n)) => {
                        // A reader that stopped reading blocks the write: the kill (sent when
                        // its queue overflowed) must still end the connection.
                        let written = tokio::select! {
                            r = self.send(&n) => Some(r),
                            _ = kill.notified() => None,
                        };
                        match written {
                            Some(Ok(())) => {}
                            Some(Err(e)) => {
                                self.unsent = Some(n);
                                return Err(e);
                            }
                            None => {
                                self.unsent = Some(n);
                                return Err(Close::Quiet);
                            }
                        }
                    }
                    Some(Outbound::StreamError(code)) => return Err(Close::Protocol(code)),
                    Some(Outbound::Replaced) => {
                        let node = Node::new("stream:error").with_children(vec![
                            Node::new("conflict").with_attr("type", "replaced"),
                        ]);
                        let _ = self.send(&node).await;
                        return Err(Close::Quiet);
                    }
                    Some(Outbound::Delay(d)) => self.delay = (!d.is_zero()).then_some(d),
                    Some(Outbound::Drop) | None => return Err(Close::Quiet),
                },
                _ = stop.changed() => return Err(Close::Quiet),
                _ = kill.notified() => return Err(Close::Quiet),
            }
        }
    }

    async fn finish(&mut self, result: Result<(), Close>) {
        if let Err(Close::Protocol(code)) = result {
            if matches!(code, 400 | 500) {
                self.shared.world().stats.protocol_errors += 1;
            }
            let node = Node::new("stream:error").with_attr("code", code.to_string());
            if self.send(&node).await.is_ok() {
                // Like WhatsApp, let the client close first (briefly): a client that sees the
                // socket close before it read the stream error reports "connection closed"
                // instead of the code (Baileys does, e.g. 428 instead of 515).
                let _ = tokio::time::timeout(STREAM_ERROR_GRACE, async {
                    while let Some(Ok(m)) = self.ws.recv().await {
                        if matches!(m, Message::Close(_)) {
                            break;
                        }
                    }
                })
                .await;
            }
        }
        let _ = self.ws.close().await;
    }

    /// Forgets the connection; stanzas still waiting in its queue go to the device's next
    /// connection (or its offline queue).
    fn unregister(&mut self, rx: &mut mpsc::Receiver<Outbound>) {
        let mut w = self.shared.world();
        match &self.peer {
            Peer::Device { number, device } => {
                let key = (number.clone(), *device);
                if w.conns.get(&key).is_some_and(|c| c.id == self.id) {
                    w.conns.remove(&key);
                    w.stats.connections_online = w.stats.connections_online.saturating_sub(1);
                    crate::presence::went_offline(&mut w, number, *device);
                }
                rx.close();
                // Oldest first: the stanza whose write failed, then the queue.
                let mut back: Vec<Node> = self.unsent.take().into_iter().collect();
                while let Ok(out) = rx.try_recv() {
                    if let Outbound::Node(node) = out {
                        back.push(node);
                    }
                }
                w.requeue_front(number, *device, back);
            }
            Peer::Registering => {
                if let Some(mut reg) = w.registrations.remove(&self.id) {
                    for r in &reg.refs {
                        w.refs.remove(r);
                    }
                    if let Some(done) = reg.granted.as_mut().and_then(|g| g.done.take()) {
                        let _ = done.send(Err("companion disconnected before signing".into()));
                    }
                }
            }
        }
    }

    /// Handles one stanza from the client.
    async fn handle(&mut self, node: Node) -> Result<(), Close> {
        let replies = match self.peer.clone() {
            Peer::Registering => crate::pairing::handle_registering(self, &node)?,
            Peer::Device { number, device } => {
                crate::stanza::handle(&self.shared, &number, device, node)?
            }
        };
        for r in replies {
            match r {
                Reply::Node(n) => self.send(&n).await?,
                Reply::Close(c) => return Err(c),
            }
        }
        Ok(())
    }
}

/// What handling a stanza asks the connection to do.
pub(crate) enum Reply {
    /// Send this node back.
    Node(Node),
    /// Close (after sending what came before).
    Close(Close),
}
