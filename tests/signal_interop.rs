//! `wa_core::signal` against the real libraries: libsignal-node 6.0.0 for sessions (both
//! directions, reordering, losses, re-established sessions) and Baileys 7.0.0-rc14's
//! sender keys for groups (both directions).
mod common;

use std::future::Future;
use std::task::{Context, Poll, Waker};

use common::interop::NodePeer;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use wa_core::signal::{
    CiphertextKind, InMemorySignalStore, PreKeyBundle, PreKeyWhisperMessage, ProtocolAddress,
    PublicKey, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyName, SessionStore,
    SignalError, group, session,
};

/// The in-memory store never waits, so one poll completes every call.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("in-memory store future pending"),
    }
}

const NODE_NAME: &str = "15550009";
const NODE_DEVICE: u32 = 2;
const OUR_NAME: &str = "15550001";
const OUR_DEVICE: u32 = 1;

/// Our device and the libsignal-node device, with each other's addresses.
struct Pair {
    us: InMemorySignalStore,
    node: NodePeer,
    node_addr: ProtocolAddress,
}

/// A message in flight from node to us or from us to node.
struct Wire {
    kind: CiphertextKind,
    body: Vec<u8>,
    text: String,
}

impl Pair {
    fn new() -> Self {
        Pair {
            us: InMemorySignalStore::generate(&mut OsRng),
            node: NodePeer::start("signal-peer.mjs", &[]),
            node_addr: ProtocolAddress::new(NODE_NAME, NODE_DEVICE),
        }
    }

    /// A fresh bundle of ours (with or without a one-time prekey), handed to node, which
    /// starts a session to us.
    fn node_initiates(&mut self, id: u32, with_one_time: bool) {
        let b = self.us.new_prekey_bundle(id, &mut OsRng);
        let (pre_id, pre_key) = b.pre_key.unwrap();
        let mut bundle = json!({
            "registrationId": b.registration_id,
            "identityKey": hex::encode(b.identity_key.serialize()),
            "signedPreKey": {
                "keyId": b.signed_pre_key_id,
                "publicKey": hex::encode(b.signed_pre_key.serialize()),
                "signature": hex::encode(b.signed_pre_key_signature),
            },
            "preKey": { "keyId": pre_id, "publicKey": hex::encode(pre_key.serialize()) },
        });
        if !with_one_time {
            bundle.as_object_mut().unwrap().remove("preKey");
        }
        let answer = self.node.call(&json!({
            "op": "process", "name": OUR_NAME, "device": OUR_DEVICE, "bundle": bundle,
        }));
        assert_eq!(answer["ok"], true, "{answer}");
    }

    /// Node's fresh bundle, processed by us: we start a session to node.
    fn we_initiate(&mut self, id: u32, with_one_time: bool) {
        let b = self
            .node
            .call(&json!({"op": "bundle", "preKeyId": id, "signedPreKeyId": id}));
        let key =
            |v: &Value| PublicKey::decode(&hex::decode(v.as_str().unwrap()).unwrap()).unwrap();
        let bundle = PreKeyBundle {
            registration_id: b["registrationId"].as_u64().unwrap() as u32,
            device_id: NODE_DEVICE,
            pre_key: with_one_time.then(|| {
                (
                    b["preKey"]["keyId"].as_u64().unwrap() as u32,
                    key(&b["preKey"]["publicKey"]),
                )
            }),
            signed_pre_key_id: b["signedPreKey"]["keyId"].as_u64().unwrap() as u32,
            signed_pre_key: key(&b["signedPreKey"]["publicKey"]),
            signed_pre_key_signature: hex::decode(b["signedPreKey"]["signature"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            identity_key: key(&b["identityKey"]),
        };
        run(session::process_prekey_bundle(
            &self.us,
            &self.node_addr,
            &bundle,
            &mut OsRng,
        ))
        .unwrap();
    }

    fn stored(&self) -> Vec<u8> {
        run(self.us.load_session(&self.node_addr))
            .unwrap()
            .unwrap()
            .serialize()
    }

    fn node_encrypts(&mut self, text: &str) -> Wire {
        let a = self.node.call(&json!({
            "op": "encrypt", "name": OUR_NAME, "device": OUR_DEVICE, "plaintext": hex::encode(text),
        }));
        let kind = match a["type"].as_u64() {
            Some(3) => CiphertextKind::Pkmsg,
            Some(1) => CiphertextKind::Msg,
            _ => panic!("node encrypt: {a}"),
        };
        Wire {
            kind,
            body: hex::decode(a["body"].as_str().unwrap()).unwrap(),
            text: text.into(),
        }
    }

    fn we_decrypt(&mut self, w: &Wire) {
        let plain = match w.kind {
            CiphertextKind::Pkmsg => run(session::decrypt_prekey_message(
                &self.us,
                &self.node_addr,
                &w.body,
                &mut OsRng,
            )),
            CiphertextKind::Msg => run(session::decrypt_message(
                &self.us,
                &self.node_addr,
                &w.body,
                &mut OsRng,
            )),
        }
        .unwrap_or_else(|e| panic!("we could not decrypt {:?}: {e}", w.text));
        assert_eq!(plain, w.text.as_bytes());
    }

    fn we_encrypt(&mut self, text: &str) -> Wire {
        let c = run(session::encrypt(&self.us, &self.node_addr, text.as_bytes())).unwrap();
        Wire {
            kind: c.kind,
            body: c.bytes,
            text: text.into(),
        }
    }

    fn node_decrypts(&mut self, w: &Wire) {
        let a = self.node.call(&json!({
            "op": "decrypt", "name": OUR_NAME, "device": OUR_DEVICE,
            "type": if w.kind == CiphertextKind::Pkmsg { 3 } else { 1 },
            "body": hex::encode(&w.body),
        }));
        assert_eq!(
            a["plaintext"],
            hex::encode(&w.text),
            "node could not decrypt {:?}: {a}",
            w.text
        );
    }

    /// 24 messages: bursts both ways, delivered out of order, with some dropped.
    fn converse(&mut self, tag: &str) {
        for round in 0..4 {
            let burst: Vec<Wire> = (0..3)
                .map(|i| self.node_encrypts(&format!("{tag} n{round}.{i}")))
                .collect();
            // Deliver 2, 0; drop 1.
            self.we_decrypt(&burst[2]);
            self.we_decrypt(&burst[0]);
            let burst: Vec<Wire> = (0..3)
                .map(|i| self.we_encrypt(&format!("{tag} r{round}.{i}")))
                .collect();
            assert!(burst.iter().all(|w| w.kind == CiphertextKind::Msg));
            // Deliver 1, 2, 0: all of them, reordered.
            self.node_decrypts(&burst[1]);
            self.node_decrypts(&burst[2]);
            self.node_decrypts(&burst[0]);
        }
    }
}

#[test]
fn libsignal_node_initiates_and_we_converse_and_survive_a_new_session() {
    let mut p = Pair::new();
    p.node_initiates(1, true);
    let first = p.node_encrypts("hello from libsignal");
    assert_eq!(first.kind, CiphertextKind::Pkmsg);
    let second = p.node_encrypts("second pkmsg");
    assert_eq!(second.kind, CiphertextKind::Pkmsg);
    p.we_decrypt(&first);
    p.we_decrypt(&second);
    let reply = p.we_encrypt("hello from wasap");
    assert_eq!(reply.kind, CiphertextKind::Msg);
    p.node_decrypts(&reply);
    assert_eq!(p.node_encrypts("after reply").kind, CiphertextKind::Msg);
    p.converse("a");

    // Node holds one message of the old session back and starts over from a new bundle
    // without a one-time prekey.
    let held = p.node_encrypts("old session, late");
    p.node_initiates(2, false);
    let fresh = p.node_encrypts("new session");
    assert_eq!(fresh.kind, CiphertextKind::Pkmsg);
    assert_eq!(
        PreKeyWhisperMessage::decode(&fresh.body)
            .unwrap()
            .pre_key_id,
        None
    );
    p.we_decrypt(&fresh);
    p.we_decrypt(&held);
    let ours = p.we_encrypt("on the new session");
    p.node_decrypts(&ours);
    p.converse("b");
}

#[test]
fn we_initiate_to_libsignal_node_and_converse_and_survive_a_new_session() {
    let mut p = Pair::new();
    p.we_initiate(1, true);
    let first = p.we_encrypt("hello libsignal");
    let second = p.we_encrypt("again");
    assert_eq!(
        (first.kind, second.kind),
        (CiphertextKind::Pkmsg, CiphertextKind::Pkmsg)
    );
    p.node_decrypts(&second);
    p.node_decrypts(&first);
    let reply = p.node_encrypts("hello wasap");
    assert_eq!(reply.kind, CiphertextKind::Msg);
    p.we_decrypt(&reply);
    assert_eq!(p.we_encrypt("now msg").kind, CiphertextKind::Msg);
    p.converse("a");

    // We hold one message of the old session back and start over without a one-time key.
    let held = p.we_encrypt("old session, late");
    p.we_initiate(2, false);
    let fresh = p.we_encrypt("new session");
    assert_eq!(fresh.kind, CiphertextKind::Pkmsg);
    p.node_decrypts(&fresh);
    let theirs = p.node_encrypts("on the new session");
    p.we_decrypt(&theirs);
    p.converse("b");

    // The late message of the old session still decrypts at libsignal-node ...
    p.node_decrypts(&held);
    // ... but libsignal-node tried its open session first and that attempt stepped the
    // open session's ratchet in place before the MAC failed (it does not work on a copy),
    // so what it sends next cannot be decrypted by anyone. We refuse it with a typed error
    // and keep our sessions as they were.
    let broken = p.node_encrypts("after node's failed trial decryption");
    let before = p.stored();
    let err = run(session::decrypt_message(
        &p.us,
        &p.node_addr,
        &broken.body,
        &mut OsRng,
    ))
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignalError::InvalidMac | SignalError::TooFarAhead { .. }
        ),
        "{err}"
    );
    assert_eq!(p.stored(), before);
    // Recovery as on WhatsApp (retry receipt -> new bundle): node starts a fresh session.
    p.node_initiates(3, true);
    let again = p.node_encrypts("recovered");
    assert_eq!(again.kind, CiphertextKind::Pkmsg);
    p.we_decrypt(&again);
    p.converse("c");
}

fn group_peer_call(peer: &mut NodePeer, op: &str, extra: Value) -> Value {
    let mut req = json!({"op": op, "group": "120363021033254949@g.us", "name": NODE_NAME, "device": NODE_DEVICE});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    peer.call(&req)
}

#[test]
fn baileys_sender_key_messages_decrypt_here() {
    let mut baileys = NodePeer::start("signal-group-peer.mjs", &[]);
    let us = InMemorySignalStore::generate(&mut OsRng);
    let name = SenderKeyName::new(
        "120363021033254949@g.us",
        ProtocolAddress::new(NODE_NAME, NODE_DEVICE),
    );
    let a = group_peer_call(&mut baileys, "create", json!({}));
    let skdm =
        SenderKeyDistributionMessage::decode(&hex::decode(a["skdm"].as_str().unwrap()).unwrap())
            .unwrap();
    run(group::process_distribution_message(&us, &name, &skdm)).unwrap();
    let messages: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| {
            let text = format!("from baileys {i}");
            let a = group_peer_call(
                &mut baileys,
                "encrypt",
                json!({"plaintext": hex::encode(&text)}),
            );
            (text, hex::decode(a["body"].as_str().unwrap()).unwrap())
        })
        .collect();
    // Baileys' encrypt skips an iteration after the first message (protocol notes §12.7),
    // so this also exercises skipped keys on our side.
    let iterations: Vec<u32> = messages
        .iter()
        .map(|(_, body)| SenderKeyMessage::decode(body).unwrap().iteration)
        .collect();
    assert_ne!(
        iterations,
        (0..10).collect::<Vec<u32>>(),
        "Baileys' iteration gaps"
    );
    // In order for the first half, the rest reversed.
    for (text, body) in messages[..5].iter().chain(messages[5..].iter().rev()) {
        let plain = run(group::decrypt(&us, &name, body)).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(plain, text.as_bytes());
    }
}

#[test]
fn our_sender_key_messages_decrypt_in_baileys() {
    let mut baileys = NodePeer::start("signal-group-peer.mjs", &[]);
    let us = InMemorySignalStore::generate(&mut OsRng);
    // We are the sender: Baileys keys our sender key under our address.
    let name = SenderKeyName::new(
        "120363021033254949@g.us",
        ProtocolAddress::new(NODE_NAME, NODE_DEVICE),
    );
    let skdm = run(group::create_distribution_message(&us, &name, &mut OsRng)).unwrap();
    let a = group_peer_call(
        &mut baileys,
        "process",
        json!({"skdm": hex::encode(skdm.encode())}),
    );
    assert_eq!(a["ok"], true, "{a}");
    let messages: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| {
            let text = format!("from wasap {i}");
            (
                text.clone(),
                run(group::encrypt(&us, &name, text.as_bytes(), &mut OsRng)).unwrap(),
            )
        })
        .collect();
    for (text, body) in messages[..5].iter().chain(messages[5..].iter().rev()) {
        let a = group_peer_call(&mut baileys, "decrypt", json!({"body": hex::encode(body)}));
        assert_eq!(
            a["plaintext"],
            hex::encode(text),
            "baileys could not decrypt {text:?}: {a}"
        );
    }
    // After a rotation Baileys reads the new key too.
    let skdm = run(group::rotate(&us, &name, &mut OsRng)).unwrap();
    let a = group_peer_call(
        &mut baileys,
        "process",
        json!({"skdm": hex::encode(skdm.encode())}),
    );
    assert_eq!(a["ok"], true, "{a}");
    let body = run(group::encrypt(&us, &name, b"rotated", &mut OsRng)).unwrap();
    let a = group_peer_call(&mut baileys, "decrypt", json!({"body": hex::encode(body)}));
    assert_eq!(a["plaintext"], hex::encode("rotated"), "{a}");
}
