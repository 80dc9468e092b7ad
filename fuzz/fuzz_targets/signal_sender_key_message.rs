//! SenderKeyMessage (`skmsg`) decoding and signature checking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wa_core::signal::{PublicKey, SenderKeyMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = SenderKeyMessage::decode(data) {
        let _ = m.verify_signature(&PublicKey::from_bytes([9; 32]));
    }
});
