//! PreKeyWhisperMessage (`pkmsg`) decoding, and re-encoding of what decodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wa_core::signal::PreKeyWhisperMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = PreKeyWhisperMessage::decode(data) {
        let again = PreKeyWhisperMessage::decode(&m.encode()).expect("re-encoded pkmsg decodes");
        assert_eq!(again, m);
    }
});
