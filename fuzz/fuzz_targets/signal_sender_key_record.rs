//! Sender key record deserialization; what decodes re-serializes to an equal record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wa_core::signal::SenderKeyRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = SenderKeyRecord::deserialize(data) {
        let again = SenderKeyRecord::deserialize(&record.serialize()).expect("round trip");
        assert_eq!(again, record);
    }
});
