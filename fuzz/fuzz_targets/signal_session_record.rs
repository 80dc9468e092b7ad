//! Session record deserialization; what decodes re-serializes to an equal record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wa_core::signal::SessionRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = SessionRecord::deserialize(data) {
        let again = SessionRecord::deserialize(&record.serialize()).expect("round trip");
        assert_eq!(again, record);
    }
});
