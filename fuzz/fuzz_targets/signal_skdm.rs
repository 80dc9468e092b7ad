//! SenderKeyDistributionMessage decoding, and re-encoding of what decodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wa_core::signal::SenderKeyDistributionMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = SenderKeyDistributionMessage::decode(data) {
        let again = SenderKeyDistributionMessage::decode(&m.encode()).expect("re-encoded SKDM decodes");
        assert_eq!(again, m);
    }
});
