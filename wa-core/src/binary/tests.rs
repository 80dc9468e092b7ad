//! Specification tests of the codec: the byte vectors of protocol-notes §4.7 (made with
//! Baileys 7.0.0-rc14), each tag, the limits on untrusted input, and property round trips.

use std::borrow::Cow;

use proptest::prelude::*;

use super::consts::*;
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// (node, Baileys' frame) pairs from protocol-notes §4.7.
fn vectors() -> Vec<(Node, &'static str)> {
    vec![
        (
            Node::new("iq")
                .with_attr("id", "1")
                .with_attr("to", "@s.whatsapp.net")
                .with_attr("type", "get")
                .with_attr("xmlns", "w:p"),
            "00 f8 09 19 08 55 11 fa 00 03 04 29 16 57",
        ),
        (
            Node::new("iq")
                .with_attr("to", "@s.whatsapp.net")
                .with_attr("type", "get")
                .with_attr("xmlns", "w:p")
                .with_children(vec![Node::new("ping")]),
            "00 f8 08 19 11 fa 00 03 04 29 16 57 f8 01 f8 01 56",
        ),
        (
            Node::new("receipt")
                .with_attr("id", "ABCDEF0123")
                .with_attr("to", "123456789@s.whatsapp.net"),
            "00 f8 05 07 08 fb 05 ab cd ef 01 23 11 fa ff 85 12 34 56 78 9f 03",
        ),
        (
            Node::new("presence")
                .with_attr("type", "available")
                .with_attr("name", "Bob"),
            "00 f8 05 1f 04 88 89 fc 03 42 6f 62",
        ),
        (
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr("type", "pkmsg")
                .with_bytes(vec![1u8, 2, 3]),
            "00 f8 06 1d 51 45 04 53 fc 03 01 02 03",
        ),
        (
            Node::new("to").with_attr("jid", "123456789:12@s.whatsapp.net"),
            "00 f8 03 11 0c f7 00 0c ff 85 12 34 56 78 9f",
        ),
        (
            Node::new("to").with_attr("jid", "98765:3@lid"),
            "00 f8 03 11 0c f7 01 03 ff 83 98 76 5f",
        ),
        (
            Node::new("x").with_attr("a", "12345-6.7"),
            "00 f8 03 fc 01 78 fc 01 61 ff 85 12 34 5a 6b 7f",
        ),
        (
            Node::new("x").with_attr("a", "3EB0ABCDEF"),
            "00 f8 03 fc 01 78 fc 01 61 fb 05 3e b0 ab cd ef",
        ),
        (
            Node::new("x").with_attr("a", "123"),
            "00 f8 03 fc 01 78 fc 01 61 ff 82 12 3f",
        ),
        (
            Node::new("x").with_attr("a", "hello"),
            "00 f8 03 fc 01 78 fc 01 61 fc 05 68 65 6c 6c 6f",
        ),
        (
            Node::new("x").with_attr("a", "120363021033254949@g.us"),
            "00 f8 03 fc 01 78 fc 01 61 fa ff 09 12 03 63 02 10 33 25 49 49 1c",
        ),
    ]
}

#[test]
fn encoder_reproduces_every_baileys_vector() {
    for (node, hex) in vectors() {
        assert_eq!(encode_frame(&node).unwrap(), unhex(hex), "{node:?}");
    }
}

#[test]
fn decoder_reads_every_baileys_vector() {
    for (node, hex) in vectors() {
        assert_eq!(decode_frame(&unhex(hex)).unwrap(), node, "{hex}");
    }
}

#[test]
fn decoding_borrows_raw_strings_and_bytes_from_the_input() {
    let bytes = unhex("f8 05 1f 04 88 89 fc 03 42 6f 62");
    let node = decode(&bytes).unwrap();
    assert!(node.attrs[1].1.is_borrowed());
    let enc = unhex("f8 06 1d 51 45 04 53 fc 03 01 02 03");
    let node = decode(&enc).unwrap();
    assert!(matches!(node.content, Content::Bytes(Cow::Borrowed(_))));
}

#[test]
fn empty_string_is_binary8_of_length_zero() {
    let n = Node::new("x").with_attr("a", "");
    assert_eq!(
        encode_frame(&n).unwrap(),
        unhex("00 f8 03 fc 01 78 fc 01 61 fc 00")
    );
}

#[test]
fn device_zero_uses_ad_jid_and_decodes_without_device() {
    // Baileys writes AD_JID for any ":device" and its decoder prints device 0 as no device.
    let n = Node::new("to").with_attr("jid", "123:0@s.whatsapp.net");
    let frame = encode_frame(&n).unwrap();
    assert_eq!(frame, unhex("00 f8 03 11 0c f7 00 00 ff 82 12 3f"));
    assert_eq!(
        decode_frame(&frame).unwrap().attr("jid"),
        Some("123@s.whatsapp.net")
    );
}

#[test]
fn agent_of_a_pn_device_becomes_the_domain_byte() {
    let n = Node::new("to").with_attr("jid", "123_1:2@s.whatsapp.net");
    assert_eq!(
        encode_frame(&n).unwrap(),
        unhex("00 f8 03 11 0c f7 01 02 ff 82 12 3f")
    );
}

#[test]
fn hosted_servers_have_their_domain_bytes() {
    for (server, domain) in [("hosted", 0x80u8), ("hosted.lid", 0x81)] {
        let n = Node::new("to").with_attr("jid", format!("5:99@{server}"));
        let frame = encode_frame(&n).unwrap();
        assert_eq!(&frame[5..8], &[AD_JID, domain, 99]);
        assert_eq!(
            decode_frame(&frame).unwrap().attr("jid"),
            Some(&*format!("5:99@{server}"))
        );
    }
}

#[test]
fn strings_with_two_ats_nest_jid_pairs() {
    let n = Node::new("x").with_attr("a", "u@v@w");
    let frame = encode_frame(&n).unwrap();
    assert_eq!(
        frame,
        unhex("00 f8 03 fc 01 78 fc 01 61 fa fc 01 75 fa 51 ee 3f")
    );
    assert_eq!(decode_frame(&frame).unwrap(), n);
}

#[test]
fn lowercase_hex_goes_out_raw() {
    let frame = encode_frame(&Node::new("x").with_attr("a", "3eb0")).unwrap();
    assert_eq!(&frame[9..], &unhex("fc 04 33 65 62 30")[..]);
}

#[test]
fn strings_longer_than_127_are_not_packed() {
    let s = "1".repeat(128);
    let frame = encode_frame(&Node::new("iq").with_text(s.as_str())).unwrap();
    assert_eq!(frame[4], BINARY_8);
    let s127 = "1".repeat(127);
    let frame = encode_frame(&Node::new("iq").with_text(s127.as_str())).unwrap();
    assert_eq!(&frame[4..6], &[NIBBLE_8, 0x80 | 64]);
}

#[test]
fn byte_lengths_pick_binary8_20_32_at_the_boundaries() {
    for (len, tag, header) in [
        (255usize, BINARY_8, 2usize),
        (256, BINARY_20, 4),
        ((1 << 20) - 1, BINARY_20, 4),
        (1 << 20, BINARY_32, 5),
    ] {
        let node = Node::new("iq").with_bytes(vec![7u8; len]);
        let frame = encode_frame(&node).unwrap();
        assert_eq!(frame[4], tag, "{len}");
        assert_eq!(frame.len(), 4 + header + len);
        assert_eq!(decode_frame(&frame).unwrap(), node);
    }
}

#[test]
fn list_sizes_pick_list8_and_list16() {
    for (n, head) in [
        (0usize, vec![LIST_EMPTY]),
        (255, vec![LIST_8, 255]),
        (256, vec![LIST_16, 1, 0]),
    ] {
        let node = Node::new("iq").with_children(vec![Node::new("ping"); n]);
        let frame = encode_frame(&node).unwrap();
        assert_eq!(&frame[4..4 + head.len()], &head[..], "{n}");
        assert_eq!(decode_frame(&frame).unwrap(), node);
    }
}

#[test]
fn fb_and_interop_jids_decode_to_baileys_strings() {
    // FB_JID: user "5", device 1, server msgr (token 0xcc).
    let fb = unhex("f8 03 fc 01 78 fc 01 61 f6 ff 81 5f 00 01 cc");
    assert_eq!(decode(&fb).unwrap().attr("a"), Some("5:1@msgr"));
    // INTEROP_JID: user "5", device 2, integrator 7, server "interop".
    let interop =
        unhex("f8 03 fc 01 78 fc 01 61 f5 ff 81 5f 00 02 00 07 fc 07 69 6e 74 65 72 6f 70");
    assert_eq!(decode(&interop).unwrap().attr("a"), Some("7-5:2@interop"));
}

#[test]
fn interop_jid_without_a_readable_server_defaults_to_interop() {
    let interop = unhex("f8 02 fc 01 78 f5 ff 81 5f 00 02 00 07");
    assert_eq!(
        decode(&interop).unwrap().content_text(),
        Some("7-5:2@interop")
    );
}

#[test]
fn nibble_filler_inside_a_string_decodes_as_nul() {
    let bytes = unhex("f8 02 fc 01 78 ff 01 1f");
    let n = decode(&bytes).unwrap();
    assert_eq!(n.content_text(), Some("1\0"));
}

#[test]
fn compressed_frames_are_inflated() {
    use std::io::Write;
    let node = Node::new("x").with_bytes(vec![0u8; 5000]);
    let plain = encode_frame(&node).unwrap();
    let mut z = flate2::write::ZlibEncoder::new(vec![2u8], flate2::Compression::default());
    z.write_all(&plain[1..]).unwrap();
    assert_eq!(decode_frame(&z.finish().unwrap()).unwrap(), node);
}

#[test]
fn inflation_past_the_limit_is_refused() {
    use std::io::Write;
    let plain = encode_frame(&Node::new("x").with_bytes(vec![0u8; 100_000])).unwrap();
    let mut z = flate2::write::ZlibEncoder::new(vec![2u8], flate2::Compression::best());
    z.write_all(&plain[1..]).unwrap();
    let frame = z.finish().unwrap();
    let limits = DecodeLimits {
        max_inflated_len: 50_000,
        ..DecodeLimits::default()
    };
    assert_eq!(
        decode_frame_with(&frame, &limits),
        Err(DecodeError::InflatedTooLarge(50_000))
    );
}

#[test]
fn truncated_and_corrupt_zlib_are_errors() {
    assert!(matches!(
        decode_frame(&[2, 0x78, 0x9c, 0x01]),
        Err(DecodeError::Inflate)
    ));
    assert!(matches!(
        decode_frame(&[2, 0xde, 0xad]),
        Err(DecodeError::Inflate)
    ));
}

#[test]
fn decode_rejects_an_empty_frame() {
    assert_eq!(decode_frame(&[]), Err(DecodeError::EmptyFrame));
}

#[test]
fn decode_rejects_truncated_input_everywhere() {
    let full = unhex("f8 06 1d 51 45 04 53 fc 03 01 02 03");
    for cut in 0..full.len() {
        assert!(
            decode(&full[..cut]).is_err(),
            "prefix of {cut} bytes accepted"
        );
    }
}

#[test]
fn decode_rejects_trailing_bytes() {
    assert_eq!(
        decode(&unhex("f8 01 56 00")),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn decode_rejects_empty_tags_and_empty_lists() {
    assert!(matches!(
        decode(&unhex("f8 01 00")),
        Err(DecodeError::InvalidNode(0))
    ));
    assert!(matches!(
        decode(&unhex("00")),
        Err(DecodeError::InvalidNode(0))
    ));
    assert!(matches!(
        decode(&unhex("56")),
        Err(DecodeError::InvalidListTag { tag: 0x56, .. })
    ));
}

#[test]
fn decode_rejects_unused_tags_and_bad_nibbles() {
    assert!(matches!(
        decode(&unhex("f8 01 f0")),
        Err(DecodeError::InvalidStringTag { tag: 0xf0, .. })
    ));
    assert!(matches!(
        decode(&unhex("f8 01 ff 01 1c")),
        Err(DecodeError::InvalidNibble { nibble: 12, .. })
    ));
}

#[test]
fn decode_rejects_jid_pairs_without_server() {
    assert!(matches!(
        decode(&unhex("f8 02 56 fa 00 00")),
        Err(DecodeError::InvalidJidPair(_))
    ));
}

#[test]
fn decode_caps_nesting_depth() {
    let mut bytes = Vec::new();
    for _ in 0..300 {
        bytes.extend_from_slice(&[0xf8, 0x02, 0x56, 0xf8, 0x01]);
    }
    bytes.extend_from_slice(&[0xf8, 0x01, 0x56]);
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::TooDeep(DEFAULT_MAX_DEPTH as u32))
    );
    let shallow = DecodeLimits {
        max_depth: 400,
        ..DecodeLimits::default()
    };
    assert!(decode_with(&bytes, &shallow).is_ok());
}

#[test]
fn decode_caps_nested_jid_strings() {
    let mut bytes = vec![0xf8, 0x02, 0x56];
    bytes.extend(std::iter::repeat_n(JID_PAIR, 10_000));
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::TooDeep(DEFAULT_MAX_DEPTH as u32))
    );
}

#[test]
fn huge_declared_lengths_do_not_allocate_or_panic() {
    assert!(decode(&unhex("f9 ff ff 56")).is_err());
    assert!(decode(&unhex("f8 02 56 fe ff ff ff ff 00")).is_err());
    assert!(decode(&unhex("f8 02 56 f9 ff ff")).is_err());
}

#[test]
fn encode_rejects_empty_tags() {
    assert_eq!(encode_frame(&Node::new("")), Err(EncodeError::EmptyTag));
}

#[test]
fn encode_rejects_more_than_65535_children() {
    let n = Node::new("x").with_children(vec![Node::new("y"); 65_536]);
    assert_eq!(encode_frame(&n), Err(EncodeError::TooManyChildren(65_536)));
}

#[test]
fn string_content_survives_but_empty_string_content_comes_back_as_bytes() {
    // Baileys decodes BINARY_* content as a Buffer, and "" is written as BINARY_8 0.
    let frame = encode_frame(&Node::new("x").with_text("")).unwrap();
    assert_eq!(
        decode_frame(&frame).unwrap().content,
        Content::Bytes(Cow::Borrowed(&[]))
    );
}

// --- properties ---------------------------------------------------------------------------

/// Strings that Baileys' encoder writes in a form its decoder reads back unchanged.
fn canonical_text() -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(token::SINGLE_BYTE_TOKENS[1..].to_vec()).prop_map(String::from),
        prop::sample::select(token::DOUBLE_BYTE_TOKENS[2].to_vec()).prop_map(String::from),
        "[0-9.-]{1,128}",
        "[0-9A-F]{1,128}",
        "[a-zA-Z ]{1,40}",
        "\\PC{1,20}".prop_filter("no @", |s| !s.contains('@')),
        ("[0-9]{1,15}", 1u8..=255).prop_map(|(u, d)| format!("{u}:{d}@s.whatsapp.net")),
        ("[0-9]{1,15}", 1u8..=255).prop_map(|(u, d)| format!("{u}:{d}@lid")),
        "[0-9]{1,18}".prop_map(|u| format!("{u}@g.us")),
        "[0-9]{0,15}".prop_map(|u| format!("{u}@s.whatsapp.net")),
    ]
    .boxed()
}

fn arb_node() -> impl Strategy<Value = Node> {
    let attrs = prop::collection::vec((canonical_text(), canonical_text()), 0..5).boxed();
    let leaf = (
        canonical_text(),
        attrs.clone(),
        prop_oneof![
            Just(Content::None),
            // Raw string content comes back as bytes (BINARY_* content), so only strings that
            // travel as tokens, packed or JIDs keep their string-ness.
            canonical_text()
                .prop_filter("not raw", |s| !s.is_empty()
                    && (token::lookup(s).is_some()
                        || s.contains('@')
                        || (s.len() <= 127
                            && s.bytes().all(|c| c.is_ascii_digit()
                                || c == b'-'
                                || c == b'.'
                                || (b'A'..=b'F').contains(&c)))))
                .prop_map(|s| Content::Text(Text::from(s))),
            prop::collection::vec(any::<u8>(), 0..600).prop_map(|b| Content::Bytes(b.into())),
        ],
    )
        .prop_map(|(tag, attrs, content)| build(tag, attrs, content));
    leaf.prop_recursive(4, 64, 8, move |inner| {
        (
            canonical_text(),
            attrs.clone(),
            prop::collection::vec(inner, 0..8),
        )
            .prop_map(|(tag, attrs, kids)| build(tag, attrs, Content::Nodes(kids)))
    })
}

fn build(tag: String, attrs: Vec<(String, String)>, content: Content<'static>) -> Node {
    Node {
        tag: Text::from(tag),
        attrs: attrs
            .into_iter()
            .map(|(k, v)| (Text::from(k), Text::from(v)))
            .collect(),
        content,
    }
}

proptest! {
    #[test]
    fn random_nodes_round_trip(node in arb_node()) {
        let frame = encode_frame(&node).unwrap();
        prop_assert_eq!(decode_frame(&frame).unwrap(), node);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_frame(&bytes);
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(node in arb_node(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut frame = encode_frame(&node).unwrap();
        let i = at.index(frame.len());
        frame[i] = b;
        let _ = decode_frame(&frame);
    }
}

#[test]
fn decode_results_stay_small() {
    // Results are moved for every string; keeping them small keeps decoding fast.
    assert!(std::mem::size_of::<DecodeError>() <= 16);
    assert!(std::mem::size_of::<Result<Text<'_>, DecodeError>>() <= 48);
}

#[test]
fn jid_values_encode_like_their_text() {
    for text in [
        "123456789:12@s.whatsapp.net",
        "98765:3@lid",
        "5:99@hosted.lid",
        "120363021033254949@g.us",
        "@s.whatsapp.net",
        "status@broadcast",
    ] {
        let jid: Jid = text.parse().unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        encode_jid(&jid, &mut a).unwrap();
        encode_str(text, &mut b).unwrap();
        assert_eq!(a, b, "{text}");
    }
}

#[test]
fn nested_list_headers_do_not_reserve_their_declared_sizes() {
    // 250 nested nodes each declaring 65,535 children: a few bytes each. Reserving the
    // declared sizes up front would take 250 x 65,535 nodes; the decoder must fail fast on the
    // truncated input without that (this test would run out of memory or time otherwise).
    let mut bytes = Vec::new();
    for _ in 0..250 {
        bytes.extend_from_slice(&[0xf8, 0x02, 0x56, 0xf9, 0xff, 0xff]);
    }
    bytes.resize(bytes.len() + 65_535 * 3, 0);
    assert!(decode(&bytes).is_err());
}

#[test]
fn nested_interop_jids_cannot_make_decoding_exponential() {
    // Each INTEROP_JID whose optional server fails is re-read by the level above; a chain of
    // them used to take seconds for a few hundred bytes (found by fuzzing).
    let mut bytes = vec![0xf8, 0x02, 0x56];
    bytes.extend(std::iter::repeat_n(INTEROP_JID, 200));
    bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x3c]);
    let start = std::time::Instant::now();
    assert!(decode(&bytes).is_err());
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn one_interop_jid_with_a_readable_server_is_within_budget() {
    let interop =
        unhex("f8 03 fc 01 78 fc 01 61 f5 ff 81 5f 00 02 00 07 fc 07 69 6e 74 65 72 6f 70");
    assert_eq!(decode(&interop).unwrap().attr("a"), Some("7-5:2@interop"));
}
