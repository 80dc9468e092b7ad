//! WABinary against Baileys 7.0.0-rc14: the token tables; fixed coverage cases (every JID
//! kind, nibble and hex strings of every length 1..128, byte contents of 0, 1, 255, 256,
//! 65,535, 65,536, 2^20-1 and 2^20+1 bytes, lists of 0/1/255/256 children, 60 levels of
//! nesting); 5,000 seeded random nodes; zlib frames; and 1,000 damaged frames.
//! Baileys encodes and decodes them in `interop/binary-cases.mjs`; we must produce the same
//! bytes and the same decoded nodes, and refuse what Baileys refuses.
//!
//! Where Baileys is lax we are strict, on purpose: bytes left after the node (Baileys ignores
//! them; we return `TrailingBytes`).

mod common;

use std::sync::OnceLock;

use serde::Deserialize;
use wasap::core::binary::{self, DecodeError, Node, json, token};

/// Seed and size of the generated set (reproduce a failure with the same seed).
const SEED: &str = "20261121";
const COUNT: &str = "5000";

#[derive(Debug, Deserialize)]
struct Case {
    kind: String,
    node: Option<String>,
    frame: Option<String>,
    encode_error: Option<String>,
    decoded: Option<String>,
    decode_error: Option<String>,
    consumed: Option<usize>,
    body_len: Option<usize>,
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let out = common::interop::run_script("binary-cases.mjs", &[SEED, COUNT], b"");
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("case line"))
            .collect()
    })
}

fn of_kind(kind: &str) -> impl Iterator<Item = &'static Case> + '_ {
    cases().iter().filter(move |c| c.kind == kind)
}

fn check(failures: Vec<String>, total: usize) {
    assert!(total > 0, "no cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases disagree with Baileys (seed {SEED}); first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn short(s: &str) -> &str {
    &s[..s.floor_char_boundary(300)]
}

#[test]
fn token_tables_equal_baileys() {
    #[derive(Deserialize)]
    struct Tables {
        single: Vec<String>,
        double: Vec<Vec<String>>,
    }
    let out = common::interop::run_script("binary-tokens.mjs", &[], b"");
    let t: Tables = serde_json::from_slice(&out).unwrap();
    assert_eq!(t.single, token::SINGLE_BYTE_TOKENS);
    assert_eq!(t.double.len(), 4);
    for (ours, theirs) in token::DOUBLE_BYTE_TOKENS.iter().zip(&t.double) {
        assert_eq!(theirs, ours);
    }
}

#[test]
fn our_encoding_equals_baileys_bytes() {
    let mut failures = Vec::new();
    let mut total = 0;
    for case in of_kind("node") {
        total += 1;
        let text = case.node.as_deref().unwrap();
        let node = json::from_json(text).expect("generated node parses");
        match (binary::encode_frame(&node), &case.frame, &case.encode_error) {
            (Ok(ours), Some(theirs), _) if hex::encode(&ours) == *theirs => {}
            (Err(_), None, Some(_)) => {}
            (ours, theirs, err) => failures.push(format!(
                "node {}\n  ours   {:?}\n  theirs {:?} {err:?}",
                short(text),
                ours.map(|b| short(&hex::encode(b)).to_string()),
                theirs.as_deref().map(short)
            )),
        }
    }
    check(failures, total);
}

#[test]
fn our_decoding_equals_baileys_decoding() {
    let mut failures = Vec::new();
    let mut total = 0;
    for case in of_kind("node").chain(of_kind("zlib")) {
        let Some(frame) = &case.frame else { continue };
        total += 1;
        let bytes = hex::decode(frame).unwrap();
        let theirs = case
            .decoded
            .as_deref()
            .map(|t| json::from_json(t).expect("Baileys' node parses"));
        match (binary::decode_frame(&bytes), theirs) {
            (Ok(ours), Some(theirs)) if ours == theirs => {}
            // Baileys' encoder can write what its decoder refuses; so must we both.
            (Err(_), None) if case.decode_error.is_some() => {
                eprintln!("both refuse {}: {:?}", short(frame), case.decode_error);
            }
            (other, _) => failures.push(format!(
                "frame {}\n  ours   {}\n  theirs {}",
                short(frame),
                short(
                    &other
                        .map(|n| json::to_json(&n))
                        .unwrap_or_else(|e| e.to_string())
                ),
                short(case.decoded.as_deref().unwrap_or_default())
            )),
        }
    }
    check(failures, total);
}

/// Baileys' decoded attributes live in a JS object: duplicates merge (last wins) and
/// integer-like keys sort first. Damaged frames can produce both, so compare them as maps.
fn normalized(mut n: Node) -> Node {
    let mut attrs: Vec<_> = Vec::new();
    for (k, v) in n.attrs.drain(..) {
        attrs.retain(|(key, _): &(binary::Text<'static>, _)| *key != k);
        attrs.push((k, v));
    }
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    n.attrs = attrs;
    if let binary::Content::Nodes(children) = n.content {
        n.content = binary::Content::Nodes(children.into_iter().map(normalized).collect());
    }
    n
}

#[test]
fn damaged_frames_are_refused_where_baileys_refuses_them() {
    let mut failures = Vec::new();
    let mut total = 0;
    let (mut both_refuse, mut both_accept, mut trailing) = (0, 0, 0);
    for case in of_kind("malformed") {
        total += 1;
        let frame = case.frame.as_deref().unwrap();
        let bytes = hex::decode(frame).unwrap();
        let ours = binary::decode_frame(&bytes);
        match (&ours, &case.decoded, &case.decode_error) {
            (Err(_), None, Some(_)) => both_refuse += 1,
            // Baileys ignores what follows the node; we refuse it.
            (Err(DecodeError::TrailingBytes(n)), Some(_), None)
                if case.body_len.zip(case.consumed).map(|(l, c)| l - c) == Some(*n as usize) =>
            {
                trailing += 1
            }
            (Ok(ours), Some(theirs), None)
                if case.consumed == case.body_len
                    && normalized(ours.clone())
                        == normalized(json::from_json(theirs).expect("Baileys' node parses")) =>
            {
                both_accept += 1
            }
            _ => failures.push(format!(
                "frame {}\n  ours   {:?}\n  theirs {:?} / {:?}",
                short(frame),
                ours.map(|n| json::to_json(&n)),
                case.decoded,
                case.decode_error
            )),
        }
    }
    eprintln!(
        "damaged frames: {both_refuse} refused by both, {both_accept} accepted by both, {trailing} with trailing bytes"
    );
    check(failures, total);
}
