//! Our Noise responder against Baileys' client-side handler, and our initiator against a
//! transcript recorded from that exchange (`tests/vectors/noise_xx_transcript.json`).
//!
//! Baileys verifies the intermediate certificate with `WA_CERT_DETAILS.PUBLIC_KEY`, a plain
//! exported object it reads at verification time; the peer script (interop/noise-peer.mjs)
//! assigns our test root's public key to it before the handshake. Nothing else is patched.
//!
//! Quirk: Baileys 7.0.0-rc14's `Curve.verify` only catches exceptions, while libsignal 6.0.0's
//! `verifySignature` returns `false` for a bad signature instead of throwing, so Baileys accepts
//! any well-formed chain. The signatures are therefore also checked separately with libsignal,
//! honouring its result (`verify_chain`).
//!
//! Set `WASAP_RECORD_VECTORS=1` to rewrite the transcript from a fresh Baileys run.
mod common;

use common::interop::NodePeer;
use prost::Message as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use wa_core::crypto::KeyPair;
use wa_core::noise::{
    CertIssuer, CertValidity, CertVerifier, ClientFinished, FrameDecoder, FrameEncoder,
    NoiseInitiator, NoiseResponder, TransportCipher, WA_INTRO,
};
use wa_core::proto;

const NOW: u64 = 1_750_000_000;
const VALID: CertValidity = CertValidity {
    not_before: 1_700_000_000,
    not_after: 1_800_000_000,
};
const TRANSCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/noise_xx_transcript.json"
);

/// The fixed keys of one connection.
struct Keys {
    root: KeyPair,
    intermediate: KeyPair,
    server_static: KeyPair,
    server_ephemeral: KeyPair,
    client_static: KeyPair,
    client_ephemeral: KeyPair,
}

fn keys(seed: u8) -> Keys {
    let k = |n: u8| KeyPair::from_private([seed.wrapping_mul(16).wrapping_add(n); 32]);
    Keys {
        root: k(1),
        intermediate: k(2),
        server_static: k(3),
        server_ephemeral: k(4),
        client_static: k(5),
        client_ephemeral: k(6),
    }
}

fn cert_chain(keys: &Keys) -> Vec<u8> {
    let issuer = CertIssuer::new(keys.root.clone(), keys.intermediate.clone(), 1, VALID);
    issuer.issue(
        &keys.server_static.public,
        2,
        VALID,
        &mut StdRng::seed_from_u64(7),
    )
}

fn client_payload() -> Vec<u8> {
    proto::ClientPayload {
        username: Some(6_281_234_567_890),
        device: Some(3),
        passive: Some(true),
        pull: Some(true),
        connect_type: Some(proto::client_payload::ConnectType::WifiUnknown as i32),
        connect_reason: Some(proto::client_payload::ConnectReason::UserActivated as i32),
        user_agent: Some(proto::client_payload::UserAgent {
            platform: Some(proto::client_payload::user_agent::Platform::Web as i32),
            app_version: Some(proto::AppVersion {
                primary: Some(2),
                secondary: Some(3000),
                tertiary: Some(1_035_194_821),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn call(peer: &mut NodePeer, req: Value) -> Value {
    let answer = peer.call(&req);
    assert!(answer.get("error").is_none(), "{req} -> {answer}");
    answer
}

fn hx(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

fn hexs(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

/// One full exchange: Baileys initiator, our responder, then transport frames both ways.
/// Returns everything that crossed the wire, as the transcript stores it.
fn run_against_baileys(keys: &Keys, routing: Option<&[u8]>) -> Value {
    let mut peer = NodePeer::start("noise-peer.mjs", &[]);
    let mut start = json!({
        "op": "start",
        "root": hx(keys.root.public),
        "ephemeral": hx(keys.client_ephemeral.private),
        "static": hx(keys.client_static.private),
    });
    if let Some(r) = routing {
        start["routing"] = json!(hx(r));
    }
    let client_hello_wire = hexs(&call(&mut peer, start)["wire"]);

    let mut from_client = FrameDecoder::expecting_intro();
    let mut to_client = FrameEncoder::server();
    from_client.push(&client_hello_wire);
    let hello = from_client
        .next_frame()
        .unwrap()
        .expect("whole client hello");
    assert_eq!(from_client.routing_info(), routing);

    let chain = cert_chain(keys);
    let responder = NoiseResponder::new(
        keys.server_static.clone(),
        keys.server_ephemeral.clone(),
        chain.clone(),
        &WA_INTRO,
    );
    let (server_hello, responder) = responder
        .read_client_hello(&hello)
        .unwrap()
        .write_server_hello();
    let server_hello_wire = to_client.encode(&server_hello).unwrap();
    let payload = client_payload();
    let finish_wire = hexs(
        &call(
            &mut peer,
            json!({"op": "server_hello", "wire": hx(&server_hello_wire), "payload": hx(&payload)}),
        )["wire"],
    );
    from_client.push(&finish_wire);
    let ClientFinished {
        client_static,
        payload: got_payload,
        mut cipher,
    } = responder
        .read_client_finish(&from_client.next_frame().unwrap().unwrap())
        .unwrap();
    assert_eq!(client_static, keys.client_static.public);
    assert_eq!(got_payload, payload);
    let decoded = proto::ClientPayload::decode(&got_payload[..]).unwrap();
    assert_eq!(decoded.username, Some(6_281_234_567_890));

    let mut up = Vec::new();
    for data in [&b"\x00first client frame"[..], &[0u8; 1000][..], b""] {
        let wire = hexs(&call(&mut peer, json!({"op": "send", "data": hx(data)}))["wire"]);
        from_client.push(&wire);
        let frame = from_client.next_frame().unwrap().unwrap();
        assert_eq!(cipher.open(&frame).unwrap(), data);
        up.push(json!({"plaintext": hx(data), "wire": hx(&wire)}));
    }

    let mut down = Vec::new();
    for (i, node) in [
        json!({"tag": "success", "attrs": {"t": "1750000000", "lid": "123@lid"}}),
        json!({"tag": "iq", "attrs": {"id": "abc", "type": "result"}, "content": "text content"}),
    ]
    .into_iter()
    .enumerate()
    {
        let data = hexs(
            &call(
                &mut peer,
                json!({"op": "encode_node", "node": node.clone()}),
            )["data"],
        );
        let wire = to_client.encode(&cipher.seal(&data).unwrap()).unwrap();
        // Deliver the first frame in two websocket messages to exercise Baileys' buffering.
        let nodes = if i == 0 {
            let first = call(&mut peer, json!({"op": "recv", "wire": hx(&wire[..5])}));
            assert_eq!(first["nodes"], json!([]));
            call(&mut peer, json!({"op": "recv", "wire": hx(&wire[5..])}))
        } else {
            call(&mut peer, json!({"op": "recv", "wire": hx(&wire)}))
        };
        assert_eq!(nodes["nodes"][0]["tag"], node["tag"]);
        assert_eq!(nodes["nodes"][0]["attrs"], node["attrs"]);
        down.push(json!({"plaintext": hx(&data), "wire": hx(&wire)}));
    }

    json!({
        "description": "Noise_XX_25519_AESGCM_SHA256 as WhatsApp uses it: Baileys 7.0.0-rc14 initiator (makeNoiseHandler) with a fixed ephemeral key against the wa_core responder. Keys are raw X25519 private keys; wires are the exact websocket bytes.",
        "prologue": hx(WA_INTRO),
        "now": NOW,
        "root_public": hx(keys.root.public),
        "server_static_private": hx(keys.server_static.private),
        "server_ephemeral_private": hx(keys.server_ephemeral.private),
        "client_static_private": hx(keys.client_static.private),
        "client_ephemeral_private": hx(keys.client_ephemeral.private),
        "cert_chain": hx(&chain),
        "client_payload": hx(&payload),
        "client_hello_wire": hx(&client_hello_wire),
        "server_hello_wire": hx(&server_hello_wire),
        "client_finish_wire": hx(&finish_wire),
        "client_to_server": up,
        "server_to_client": down,
    })
}

#[test]
fn baileys_initiator_completes_the_handshake_with_our_responder() {
    run_against_baileys(&keys(2), None);
}

#[test]
fn baileys_initiator_with_edge_routing_prefix_is_accepted() {
    run_against_baileys(&keys(3), Some(b"\x08\x02\x10\x05routing"));
}

#[test]
fn our_server_decoder_reads_baileys_intro_and_hello_cut_at_every_point() {
    let keys = keys(6);
    let mut peer = NodePeer::start("noise-peer.mjs", &[]);
    let wire = hexs(
        &call(
            &mut peer,
            json!({"op": "start", "ephemeral": hx(keys.client_ephemeral.private),
                   "static": hx(keys.client_static.private), "routing": hx(b"edge-route")}),
        )["wire"],
    );
    for split in 0..=wire.len() {
        let mut dec = FrameDecoder::expecting_intro();
        dec.push(&wire[..split]);
        let mut frames: Vec<Vec<u8>> = std::iter::from_fn(|| dec.next_frame().unwrap()).collect();
        dec.push(&wire[split..]);
        frames.extend(std::iter::from_fn(|| dec.next_frame().unwrap()));
        assert_eq!(frames.len(), 1, "split at {split}");
        assert_eq!(dec.routing_info(), Some(&b"edge-route"[..]));
        let hello = proto::HandshakeMessage::decode(&frames[0][..]).unwrap();
        assert_eq!(
            hello.client_hello.unwrap().ephemeral.unwrap(),
            keys.client_ephemeral.public.to_vec()
        );
    }
}

/// Baileys' handshake with a server chain not signed by the root it trusts.
fn baileys_server_hello_with_whatsapp_root(keys: &Keys) -> Value {
    let mut peer = NodePeer::start("noise-peer.mjs", &[]);
    let hello = call(
        &mut peer,
        json!({"op": "start", "ephemeral": hx(keys.client_ephemeral.private), "static": hx(keys.client_static.private)}),
    );
    let mut dec = FrameDecoder::expecting_intro();
    dec.push(&hexs(&hello["wire"]));
    let responder = NoiseResponder::new(
        keys.server_static.clone(),
        keys.server_ephemeral.clone(),
        cert_chain(keys),
        &WA_INTRO,
    );
    let (server_hello, _) = responder
        .read_client_hello(&dec.next_frame().unwrap().unwrap())
        .unwrap()
        .write_server_hello();
    let wire = FrameEncoder::server().encode(&server_hello).unwrap();
    peer.call(&json!({"op": "server_hello", "wire": hx(wire), "payload": "00"}))
}

#[test]
fn baileys_ignores_the_result_of_its_certificate_signature_check() {
    // Documents the quirk above: if this starts failing, Baileys now really checks the root
    // and the answer should be "noise intermediate certificate signature invalid".
    let answer = baileys_server_hello_with_whatsapp_root(&keys(4));
    assert!(answer.get("error").is_none(), "{answer}");
}

#[test]
fn libsignal_verifies_our_chain_signatures_under_our_root_only() {
    let keys = keys(5);
    let chain = hx(cert_chain(&keys));
    let mut peer = NodePeer::start("noise-peer.mjs", &[]);
    let ours = call(
        &mut peer,
        json!({"op": "verify_chain", "chain": chain, "root": hx(keys.root.public)}),
    );
    assert_eq!(
        ours,
        json!({"intermediate": true, "leaf": true, "issuerSerial": 0})
    );
    let production = call(
        &mut peer,
        json!({"op": "verify_chain", "chain": chain, "root": hx(wa_core::noise::WA_CERT_PUB_KEY)}),
    );
    assert_eq!(production["intermediate"], false);
}

#[test]
fn baileys_reproduces_the_recorded_transcript() {
    let fresh = run_against_baileys(&keys(1), None);
    if std::env::var_os("WASAP_RECORD_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
        std::fs::write(TRANSCRIPT, text).unwrap();
    }
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(TRANSCRIPT).unwrap()).unwrap();
    assert_eq!(fresh, recorded);
}

fn key_pair(v: &Value) -> KeyPair {
    KeyPair::from_private(hexs(v).try_into().unwrap())
}

#[test]
fn our_initiator_reproduces_the_recorded_client_bytes_and_accepts_the_server() {
    let t: Value = serde_json::from_str(&std::fs::read_to_string(TRANSCRIPT).unwrap()).unwrap();
    let initiator = NoiseInitiator::new(
        key_pair(&t["client_static_private"]),
        key_pair(&t["client_ephemeral_private"]),
        &hexs(&t["prologue"]),
    );
    let mut enc = FrameEncoder::client(None).unwrap();
    assert_eq!(
        enc.encode(&initiator.client_hello()).unwrap(),
        hexs(&t["client_hello_wire"])
    );

    let mut dec = FrameDecoder::new();
    dec.push(&hexs(&t["server_hello_wire"]));
    let root: [u8; 32] = hexs(&t["root_public"]).try_into().unwrap();
    let accepted = initiator
        .read_server_hello(
            &dec.next_frame().unwrap().unwrap(),
            &CertVerifier::with_root(root),
            t["now"].as_u64().unwrap(),
        )
        .unwrap();
    assert_eq!(
        accepted.server_static(),
        &key_pair(&t["server_static_private"]).public
    );
    let (finish, mut cipher): (Vec<u8>, TransportCipher) =
        accepted.write_client_finish(&hexs(&t["client_payload"]));
    assert_eq!(enc.encode(&finish).unwrap(), hexs(&t["client_finish_wire"]));

    for frame in t["client_to_server"].as_array().unwrap() {
        let sealed = cipher.seal(&hexs(&frame["plaintext"])).unwrap();
        assert_eq!(enc.encode(&sealed).unwrap(), hexs(&frame["wire"]));
    }
    for frame in t["server_to_client"].as_array().unwrap() {
        dec.push(&hexs(&frame["wire"]));
        let got = cipher.open(&dec.next_frame().unwrap().unwrap()).unwrap();
        assert_eq!(got, hexs(&frame["plaintext"]));
    }
}
