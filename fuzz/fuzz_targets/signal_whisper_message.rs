//! WhisperMessage (`msg`) decoding: any bytes give a value or a typed error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wa_core::signal::WhisperMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = WhisperMessage::decode(data) {
        assert_eq!(m.serialized(), data);
    }
});
