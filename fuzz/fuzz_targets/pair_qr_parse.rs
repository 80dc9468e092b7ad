//! QR strings from arbitrary text: parse never panics, and what parses re-renders to a string
//! that parses to the same data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_core::pair::QrData;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(qr) = QrData::parse(text) {
        assert_eq!(QrData::parse(&qr.to_qr_string()), Ok(qr));
    }
});
