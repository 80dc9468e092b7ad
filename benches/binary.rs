//! WABinary decode and encode: ours against `wacore-binary` 0.7 (whatsapp-rust's codec) on
//! the same stanzas. Run: `cargo bench --bench binary -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wacore_binary as wacore;
use wasap::core::binary;

#[path = "common/binary_stanzas.rs"]
mod stanzas;
use stanzas::{stanzas, to_wacore, to_wacore_strings, zlib};

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
        let theirs_strings = to_wacore_strings(node);
        // A fresh copy, allocated next to wacore's: the large payload is a pure `memcpy`, whose
        // speed depends on where the source buffer landed.
        let node = &node.clone();
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
        g.bench_function("wacore_string_attrs", |b| {
            b.iter(|| {
                wacore::marshal::marshal_to_vec(black_box(&theirs_strings), &mut buf).unwrap();
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
