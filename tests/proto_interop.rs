//! Our `.proto` subset against Baileys' generated protobuf code (WAProto, protobufjs).
//!
//! Baileys encodes a populated instance of every message type we declare. For each:
//! 1. our prost type decodes the bytes and re-encodes them;
//! 2. Baileys decodes our bytes: its JSON must equal the JSON of the original object
//!    (nothing was lost or renumbered by our decode/encode);
//! 3. our schema renders our bytes as JSON (prost-reflect over the same `.proto` files):
//!    it must equal Baileys' JSON too, so every field number carries the same name and type;
//! 4. every field our schema declares was set in some sample (coverage of the schema).
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, ReflectMessage, Value};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use wa_core::proto;

/// Fields our schema declares that Baileys' current schema no longer has.
const NOT_IN_BAILEYS: &[&str] = &["wa.Message.ExtendedTextMessage.canonicalUrl"];

fn pool() -> DescriptorPool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("wa-core/proto");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    let fds = protox::compile(&files, [&dir]).unwrap();
    DescriptorPool::from_file_descriptor_set(fds).unwrap()
}

fn reencode<T: prost::Message + Default>(bytes: &[u8]) -> Vec<u8> {
    T::decode(bytes)
        .unwrap_or_else(|e| panic!("prost decode: {e}"))
        .encode_to_vec()
}

/// Decodes Baileys' bytes with our generated prost type and encodes them again.
fn prost_roundtrip(baileys_type: &str, bytes: &[u8]) -> Vec<u8> {
    match baileys_type {
        "Message" => reencode::<proto::Message>(bytes),
        "MessageKey" => reencode::<proto::MessageKey>(bytes),
        "WebMessageInfo" => reencode::<proto::WebMessageInfo>(bytes),
        "HandshakeMessage" => reencode::<proto::HandshakeMessage>(bytes),
        "CertChain" => reencode::<proto::CertChain>(bytes),
        "CertChain.NoiseCertificate.Details" => {
            reencode::<proto::cert_chain::noise_certificate::Details>(bytes)
        }
        "DeviceProps" => reencode::<proto::DeviceProps>(bytes),
        "ClientPayload" => reencode::<proto::ClientPayload>(bytes),
        "ADVDeviceIdentity" => reencode::<proto::AdvDeviceIdentity>(bytes),
        "ADVSignedDeviceIdentity" => reencode::<proto::AdvSignedDeviceIdentity>(bytes),
        "ADVSignedDeviceIdentityHMAC" => reencode::<proto::AdvSignedDeviceIdentityHmac>(bytes),
        "ADVKeyIndexList" => reencode::<proto::AdvKeyIndexList>(bytes),
        "ADVSignedKeyIndexList" => reencode::<proto::AdvSignedKeyIndexList>(bytes),
        other => panic!("no prost type mapped for {other}"),
    }
}

/// Records which fields of which message types are set, recursively.
fn collect_set_fields(msg: &DynamicMessage, seen: &mut BTreeMap<String, BTreeSet<String>>) {
    for (field, value) in msg.fields() {
        seen.entry(msg.descriptor().full_name().to_owned())
            .or_default()
            .insert(field.name().to_owned());
        let nested: Vec<&DynamicMessage> = match value {
            Value::Message(m) => vec![m],
            Value::List(items) => items.iter().filter_map(Value::as_message).collect(),
            _ => vec![],
        };
        for m in nested {
            collect_set_fields(m, seen);
        }
    }
}

#[test]
fn baileys_samples_survive_our_decode_and_encode_with_identical_field_meaning() {
    let pool = pool();
    let mut peer = common::interop::NodePeer::start("proto-peer.mjs", &[]);
    let samples = peer.call(&json!({"op": "samples"}));
    let samples = samples["samples"].as_array().expect("samples");
    assert!(
        samples.len() > 20,
        "expected many samples, got {}",
        samples.len()
    );
    let mut seen = BTreeMap::new();

    for sample in samples {
        let ty = sample["type"].as_str().unwrap();
        let baileys_bytes = B64.decode(sample["b64"].as_str().unwrap()).unwrap();
        let expected = &sample["json"];
        let ours = prost_roundtrip(ty, &baileys_bytes);

        let answer = peer.call(&json!({"op": "decode", "type": ty, "b64": B64.encode(&ours)}));
        assert_eq!(
            &answer["json"], expected,
            "Baileys' view of our {ty} re-encoding"
        );

        let desc = pool
            .get_message_by_name(&format!("wa.{ty}"))
            .unwrap_or_else(|| panic!("wa.{ty} not in our schema"));
        let dynamic = DynamicMessage::decode(desc, &ours[..]).unwrap();
        let our_json = serde_json::to_value(&dynamic).unwrap();
        assert_eq!(&our_json, expected, "our schema's view of {ty}");
        collect_set_fields(&dynamic, &mut seen);
    }

    let mut unset = Vec::new();
    // Only WhatsApp's schema (package `wa`): `signal.*` holds Signal wire formats, checked
    // against libsignal-node in signal_interop, and our own storage records.
    for msg in pool.all_messages().filter(|m| m.package_name() == "wa") {
        for field in msg.fields() {
            let name = format!("{}.{}", msg.full_name(), field.name());
            let covered = seen
                .get(msg.full_name())
                .is_some_and(|s| s.contains(field.name()));
            if !covered && !NOT_IN_BAILEYS.contains(&name.as_str()) {
                unset.push(name);
            }
        }
    }
    assert!(unset.is_empty(), "fields no sample sets: {unset:#?}");
}

#[test]
fn canonical_url_uses_field_four() {
    // Not in Baileys' current schema, so checked on the wire directly: tag (4 << 3) | 2.
    let msg = proto::message::ExtendedTextMessage {
        canonical_url: Some("https://example.com".into()),
        ..Default::default()
    };
    let bytes = msg.encode_to_vec();
    assert_eq!(bytes[0], 0x22);
    assert_eq!(&bytes[2..], b"https://example.com");
    let kind = pool()
        .get_message_by_name("wa.Message.ExtendedTextMessage")
        .unwrap()
        .get_field_by_name("canonicalUrl")
        .unwrap()
        .kind();
    assert!(matches!(kind, Kind::String));
}
