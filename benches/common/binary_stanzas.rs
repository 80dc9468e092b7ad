//! The stanzas both WABinary benchmarks use, and their conversion to wacore-binary's model.

use std::io::Write;

use wacore_binary as wacore;
use wasap::core::binary::{Content, Node};

/// Deterministic filler bytes.
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

pub fn ack() -> Node {
    Node::new("ack")
        .with_attr("class", "receipt")
        .with_attr("id", "3EB0A1B2C3D4E5F60718")
        .with_attr("to", "5511987654321@s.whatsapp.net")
        .with_attr("participant", "5511912345678:3@s.whatsapp.net")
        .with_attr("type", "read")
}

pub fn receipt() -> Node {
    Node::new("receipt")
        .with_attr("from", "5511987654321:12@s.whatsapp.net")
        .with_attr("id", "3EB0A1B2C3D4E5F60718")
        .with_attr("t", "1700000000")
        .with_attr("type", "read")
        .with_children(vec![
            Node::new("list").with_children(
                (0..5)
                    .map(|i| Node::new("item").with_attr("id", format!("3EB0C0FFEE{i:010}")))
                    .collect(),
            ),
        ])
}

pub fn group_message() -> Node {
    let participants = (0..20)
        .map(|i| {
            Node::new("to")
                .with_attr(
                    "jid",
                    format!("55119{:08}:{}@s.whatsapp.net", 1000 + i * 7, i % 5),
                )
                .with_children(vec![
                    Node::new("enc")
                        .with_attr("v", "2")
                        .with_attr("type", if i % 3 == 0 { "pkmsg" } else { "msg" })
                        .with_bytes(bytes(150 + i, i as u8)),
                ])
        })
        .collect();
    Node::new("message")
        .with_attr("id", "3EB0A1B2C3D4E5F60718")
        .with_attr("to", "120363021033254949@g.us")
        .with_attr("type", "text")
        .with_attr("addressing_mode", "pn")
        .with_children(vec![
            Node::new("participants").with_children(participants),
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr("type", "skmsg")
                .with_bytes(bytes(220, 9)),
            Node::new("device-identity").with_bytes(bytes(170, 3)),
        ])
}

pub fn large_payload() -> Node {
    Node::new("iq")
        .with_attr("from", "@s.whatsapp.net")
        .with_attr("id", "36412.17-3")
        .with_attr("type", "result")
        .with_children(vec![Node::new("sync").with_bytes(bytes(256 * 1024, 1))])
}

pub fn notification() -> Node {
    Node::new("notification")
        .with_attr("from", "5511987654321@s.whatsapp.net")
        .with_attr("id", "2853215641")
        .with_attr("t", "1700000000")
        .with_attr("type", "devices")
        .with_children(vec![
            Node::new("devices").with_children(
                (0..50)
                    .map(|i| {
                        Node::new("device")
                            .with_attr("jid", format!("5511987654321:{i}@s.whatsapp.net"))
                            .with_attr("key-index", format!("{i}"))
                    })
                    .collect(),
            ),
        ])
}

pub fn zlib(frame: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(vec![2u8], flate2::Compression::default());
    z.write_all(&frame[1..]).unwrap();
    z.finish().unwrap()
}

/// The same node in wacore-binary's model (JIDs as typed values where they parse: its
/// fastest encode path).
pub fn to_wacore(n: &Node) -> wacore::Node {
    let attrs: wacore::Attrs = n
        .attrs
        .iter()
        .map(|(k, v)| {
            let value = match v.contains('@').then(|| v.parse::<wacore::Jid>()) {
                Some(Ok(jid)) => wacore::NodeValue::Jid(jid),
                _ => wacore::NodeValue::from(v.as_str()),
            };
            (std::borrow::Cow::Owned(k.to_string()), value)
        })
        .collect();
    let content = match &n.content {
        Content::None => None,
        Content::Text(t) => Some(wacore::NodeContent::String(t.as_str().into())),
        Content::Bytes(b) => Some(wacore::NodeContent::Bytes(b.to_vec())),
        Content::Nodes(c) => Some(wacore::NodeContent::Nodes(
            c.iter().map(to_wacore).collect(),
        )),
    };
    wacore::Node::new(n.tag.to_string(), attrs, content)
}

pub fn stanzas() -> Vec<(&'static str, Node)> {
    vec![
        ("ack", ack()),
        ("receipt", receipt()),
        ("group_message_20_devices", group_message()),
        ("notification_50_devices", notification()),
        ("large_payload_256k", large_payload()),
    ]
}

/// The same node in wacore-binary's model with every attribute a plain string (the path a
/// string-typed caller takes).
pub fn to_wacore_strings(n: &Node) -> wacore::Node {
    let attrs: wacore::Attrs = n
        .attrs
        .iter()
        .map(|(k, v)| {
            (
                std::borrow::Cow::Owned(k.to_string()),
                wacore::NodeValue::from(v.as_str()),
            )
        })
        .collect();
    let content = match &n.content {
        Content::None => None,
        Content::Text(t) => Some(wacore::NodeContent::String(t.as_str().into())),
        Content::Bytes(b) => Some(wacore::NodeContent::Bytes(b.to_vec())),
        Content::Nodes(c) => Some(wacore::NodeContent::Nodes(
            c.iter().map(to_wacore_strings).collect(),
        )),
    };
    wacore::Node::new(n.tag.to_string(), attrs, content)
}
