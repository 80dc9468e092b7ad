//! A decrypted frame (flags byte, maybe zlib) through the WABinary decoder; whatever decodes
//! must also print as JSON and encode again without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_core::binary::{self, DecodeLimits, json};

fuzz_target!(|frame: &[u8]| {
    // A small inflation cap keeps compression bombs cheap for the fuzzer.
    let limits = DecodeLimits {
        max_inflated_len: 1 << 20,
        ..DecodeLimits::default()
    };
    if let Ok(node) = binary::decode_frame_with(frame, &limits) {
        let _ = json::to_json(&node);
        let _ = binary::encode_frame(&node);
    }
});
