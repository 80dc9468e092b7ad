//! A minimal companion for the sandbox's tests, built on wa-core: websocket + Noise XX
//! initiator + binary nodes, and the companion side of pairing.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use rand::rngs::OsRng;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use wa_core::binary::{Jid, Node, decode_frame, encode_frame};
use wa_core::crypto::KeyPair;
use wa_core::noise::{
    CertVerifier, FrameDecoder, FrameEncoder, NoiseInitiator, TransportCipher, WA_INTRO,
};
use wa_core::pair::{
    ClientConfig, CompanionKeys, CompanionPlatform, QrData, complete_pair_success, login_payload,
    registration_payload,
};
use wa_sandbox::Sandbox;

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    cipher: TransportCipher,
    framer: FrameEncoder,
    decoder: FrameDecoder,
}

impl Client {
    /// Connects and completes the handshake with this ClientPayload.
    pub async fn connect(sandbox: &Sandbox, noise: &KeyPair, payload: &[u8]) -> Client {
        let (mut ws, _) = connect_async(sandbox.ws_url())
            .await
            .expect("websocket connect");
        let mut framer = FrameEncoder::client(None).unwrap();
        let mut decoder = FrameDecoder::new();
        let init = NoiseInitiator::new(noise.clone(), KeyPair::generate(&mut OsRng), &WA_INTRO);
        ws.send(Message::Binary(
            framer.encode(&init.client_hello()).unwrap().into(),
        ))
        .await
        .unwrap();
        let hello = read_frame(&mut ws, &mut decoder)
            .await
            .expect("server hello");
        let verifier = CertVerifier::with_root(sandbox.root_public_key());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let awaiting = init
            .read_server_hello(&hello, &verifier, now)
            .expect("server hello verifies");
        let (finish, cipher) = awaiting.write_client_finish(payload);
        ws.send(Message::Binary(framer.encode(&finish).unwrap().into()))
            .await
            .unwrap();
        Client {
            ws,
            cipher,
            framer,
            decoder,
        }
    }

    pub async fn send(&mut self, node: &Node) {
        let plain = encode_frame(node).unwrap();
        let sealed = self.cipher.seal(&plain).unwrap();
        let framed = self.framer.encode(&sealed).unwrap();
        self.ws.send(Message::Binary(framed.into())).await.unwrap();
    }

    /// Sends raw bytes as one websocket message.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.ws.send(Message::Binary(bytes.into())).await;
    }

    /// Sends `plain` (a flags byte + node, or garbage) through the transport cipher.
    pub async fn send_sealed(&mut self, plain: &[u8]) {
        let sealed = self.cipher.seal(plain).unwrap();
        let framed = self.framer.encode(&sealed).unwrap();
        let _ = self.ws.send(Message::Binary(framed.into())).await;
    }

    /// The next node, or None when the connection closed or nothing came in time.
    pub async fn recv(&mut self) -> Option<Node> {
        let frame = tokio::time::timeout(TIMEOUT, read_frame(&mut self.ws, &mut self.decoder))
            .await
            .ok()??;
        let plain = self.cipher.open(&frame).ok()?;
        decode_frame(&plain).ok()
    }

    /// Receives until a node satisfies `pred`; answers IQs from the server on the way.
    pub async fn recv_until(&mut self, pred: impl Fn(&Node) -> bool) -> Option<Node> {
        loop {
            let node = self.recv().await?;
            if pred(&node) {
                return Some(node);
            }
        }
    }

    /// Sends an IQ and waits for its answer.
    pub async fn iq(&mut self, iq: Node) -> Node {
        let id = iq.attr("id").expect("iq id").to_owned();
        self.send(&iq).await;
        self.recv_until(|n| n.tag.as_str() == "iq" && n.attr("id") == Some(id.as_str()))
            .await
            .expect("iq answer")
    }
}

async fn read_frame(
    ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>,
    decoder: &mut FrameDecoder,
) -> Option<Vec<u8>> {
    loop {
        if let Ok(Some(f)) = decoder.next_frame() {
            return Some(f);
        }
        match ws.next().await? {
            Ok(Message::Binary(b)) => decoder.push(&b),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// A companion's keys and, once paired, its JID.
pub struct Companion {
    pub keys: CompanionKeys,
    pub jid: Option<Jid>,
    /// ADVSignedDeviceIdentity with the account signature key.
    pub account: Vec<u8>,
}

impl Companion {
    pub fn new() -> Companion {
        Companion {
            keys: CompanionKeys::generate(&mut OsRng),
            jid: None,
            account: Vec::new(),
        }
    }

    pub async fn register(&self, sandbox: &Sandbox) -> (Client, Vec<String>) {
        let payload = registration_payload(&self.keys, &ClientConfig::default()).encode_to_vec();
        let mut client = Client::connect(sandbox, &self.keys.noise, &payload).await;
        let iq = client
            .recv_until(|n| n.child("pair-device").is_some())
            .await
            .expect("pair-device");
        let refs = iq
            .child("pair-device")
            .unwrap()
            .children_by_tag("ref")
            .map(|r| String::from_utf8(r.content_bytes().unwrap().to_vec()).unwrap())
            .collect();
        let ack = Node::new("iq")
            .with_attr("to", "s.whatsapp.net")
            .with_attr("type", "result")
            .with_attr("id", iq.attr("id").unwrap().to_owned());
        client.send(&ack).await;
        (client, refs)
    }

    pub fn qr(&self, reference: &str) -> String {
        QrData {
            reference: reference.to_owned(),
            noise_public: self.keys.noise.public,
            identity_public: self.keys.identity.public,
            adv_secret: self.keys.adv_secret,
            platform: CompanionPlatform::Chrome,
        }
        .to_qr_string()
    }

    /// Handles pair-success on `client` with `adv_secret`, replies pair-device-sign, and
    /// returns the stream error code that follows.
    pub async fn finish_pairing(
        &mut self,
        client: &mut Client,
        adv_secret: &[u8; 32],
    ) -> Option<String> {
        let iq = client
            .recv_until(|n| n.child("pair-success").is_some())
            .await?;
        let success = iq.child("pair-success").unwrap();
        let identity = success
            .child("device-identity")
            .unwrap()
            .content_bytes()
            .unwrap();
        let mut random = [0u8; 64];
        rand::RngCore::fill_bytes(&mut OsRng, &mut random);
        let pairing =
            complete_pair_success(identity, adv_secret, &self.keys.identity, &random).ok()?;
        self.jid = success
            .child("device")
            .and_then(|d| d.attr_jid("jid"))
            .and_then(Result::ok);
        self.account = pairing.signed_identity_bytes();
        let reply = Node::new("iq")
            .with_attr("to", "s.whatsapp.net")
            .with_attr("type", "result")
            .with_attr("id", iq.attr("id").unwrap().to_owned())
            .with_children(vec![Node::new("pair-device-sign").with_children(vec![
                Node::new("device-identity")
                    .with_attr("key-index", pairing.key_index.to_string())
                    .with_bytes(pairing.reply_identity()),
            ])]);
        client.send(&reply).await;
        let err = client
            .recv_until(|n| n.tag.as_str() == "stream:error")
            .await?;
        err.attr("code").map(str::to_owned)
    }

    /// Logs in; returns the client and the first node (success or failure).
    pub async fn login(&self, sandbox: &Sandbox) -> (Client, Node) {
        let jid = self.jid.as_ref().expect("paired");
        let payload = login_payload(
            jid.user.parse().unwrap(),
            u32::from(jid.device()),
            &ClientConfig::default(),
        )
        .encode_to_vec();
        let mut client = Client::connect(sandbox, &self.keys.noise, &payload).await;
        let first = client.recv().await.expect("login answer");
        (client, first)
    }
}

/// Pairs a fresh companion with `phone` by QR and logs it in.
pub async fn paired(sandbox: &Sandbox, phone: &wa_sandbox::Phone) -> (Companion, Client) {
    let mut companion = Companion::new();
    let (mut reg, refs) = companion.register(sandbox).await;
    let qr = companion.qr(&refs[0]);
    let scan = {
        let phone = phone.clone();
        tokio::spawn(async move { phone.scan_qr(&qr).await })
    };
    let adv = companion.keys.adv_secret;
    let code = companion.finish_pairing(&mut reg, &adv).await;
    assert_eq!(code.as_deref(), Some("515"));
    let device = scan.await.unwrap().expect("scan succeeds");
    assert_eq!(Some(&device), companion.jid.as_ref());
    let (client, first) = companion.login(sandbox).await;
    assert_eq!(first.tag.as_str(), "success", "{first:?}");
    (companion, client)
}
