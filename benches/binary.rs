//! WABinary decode and encode: ours against `wacore-binary` 0.7 (whatsapp-rust's codec) on
//! the same stanzas. Run: `cargo bench --bench binary -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wacore_binary as wacore;
use wasap::core::binary::{self, Content, Node};

/// Deterministic filler bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn ack() -> Node {
    Node::new("ack")
        .with_attr("class", "receipt")
        .with_attr("id", "3EB0A1B2C3D4E5F60718")
        .with_attr("to", "5511987654321@s.whatsapp.net")
        .with_attr("participant", "5511912345678:3@s.whatsapp.net")
        .with_attr("type", "read")
}

fn receipt() -> Node {
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

fn group_message() -> Node {
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

fn large_payload() -> Node {
    Node::new("iq")
        .with_attr("from", "@s.whatsapp.net")
        .with_attr("id", "36412.17-3")
        .with_attr("type", "result")
        .with_children(vec![Node::new("sync").with_bytes(bytes(256 * 1024, 1))])
}

fn notification() -> Node {
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

fn zlib(frame: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(vec![2u8], flate2::Compression::default());
    z.write_all(&frame[1..]).unwrap();
    z.finish().unwrap()
}

/// The same node in wacore-binary's model (JIDs as typed values where they parse: its
/// fastest encode path).
fn to_wacore(n: &Node) -> wacore::Node {
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

fn stanzas() -> Vec<(&'static str, Node)> {
    vec![
        ("ack", ack()),
        ("receipt", receipt()),
        ("group_message_20_devices", group_message()),
        ("notification_50_devices", notification()),
        ("large_payload_256k", large_payload()),
    ]
}

fn decode(c: &mut Criterion) {
    let mut frames: Vec<(String, Vec<u8>)> = stanzas()
        .into_iter()
        .map(|(name, n)| (name.to_string(), binary::encode_frame(&n).unwrap()))
        .collect();
    let zipped = zlib(&frames[3].1);
    frames.push(("zlib_notification".into(), zipped));
    for (name, frame) in &frames {
        // Both decoders must accept the frame.
        let body = wacore::util::unpack(frame).unwrap();
        wacore::marshal::unmarshal_ref(&body).unwrap();
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        let limits = binary::DecodeLimits::default();
        g.bench_function("wasap", |b| {
            b.iter(|| {
                let body = binary::unpack(black_box(frame), &limits).unwrap();
                let node = binary::decode(&body).unwrap();
                black_box(node.attrs.len());
            })
        });
        g.bench_function("wacore", |b| {
            b.iter(|| {
                let body = wacore::util::unpack(black_box(frame)).unwrap();
                let node = wacore::marshal::unmarshal_ref(&body).unwrap();
                black_box(node.attrs.len());
            })
        });
        g.finish();
    }
    let mix: Vec<Vec<u8>> = frames.iter().map(|(_, f)| f.clone()).collect();
    let total: usize = mix.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("decode/mix");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("wasap", |b| {
        let limits = binary::DecodeLimits::default();
        b.iter(|| {
            for f in &mix {
                let body = binary::unpack(black_box(f), &limits).unwrap();
                black_box(binary::decode(&body).unwrap().attrs.len());
            }
        })
    });
    g.bench_function("wacore", |b| {
        b.iter(|| {
            for f in &mix {
                let body = wacore::util::unpack(black_box(f)).unwrap();
                black_box(wacore::marshal::unmarshal_ref(&body).unwrap().attrs.len());
            }
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let all = stanzas();
    for (name, node) in &all {
        let theirs = to_wacore(node);
        let mut g = c.benchmark_group(format!("encode/{name}"));
        let len = binary::encode_frame(node).unwrap().len();
        g.throughput(Throughput::Bytes(len as u64));
        let mut buf = Vec::with_capacity(len);
        g.bench_function("wasap", |b| {
            b.iter(|| {
                buf.clear();
                buf.push(0);
                binary::encode(black_box(node), &mut buf).unwrap();
                black_box(buf.len());
            })
        });
        let mut buf = Vec::with_capacity(len);
        g.bench_function("wacore", |b| {
            b.iter(|| {
                wacore::marshal::marshal_to_vec(black_box(&theirs), &mut buf).unwrap();
                black_box(buf.len());
            })
        });
        g.finish();
    }
    let theirs: Vec<wacore::Node> = all.iter().map(|(_, n)| to_wacore(n)).collect();
    let mut g = c.benchmark_group("encode/mix");
    let mut buf = Vec::with_capacity(1 << 20);
    g.bench_function("wasap", |b| {
        b.iter(|| {
            for (_, n) in &all {
                buf.clear();
                buf.push(0);
                binary::encode(black_box(n), &mut buf).unwrap();
                black_box(buf.len());
            }
        })
    });
    let mut buf = Vec::with_capacity(1 << 20);
    g.bench_function("wacore", |b| {
        b.iter(|| {
            for n in &theirs {
                wacore::marshal::marshal_to_vec(black_box(n), &mut buf).unwrap();
                black_box(buf.len());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
