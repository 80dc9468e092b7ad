//! A bare node (no flags byte) through the zero-copy decoder; a decoded node must survive
//! an encode/decode round trip at the string level that Baileys' rules guarantee: encoding
//! never fails and the re-encoded bytes decode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_core::binary;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = binary::decode(data) {
        let mut out = Vec::new();
        // Decoded nodes always have a tag and at most 65,535 attributes/children.
        binary::encode(&node, &mut out).expect("a decoded node encodes");
        let _ = binary::decode(&out);
    }
});
