//! Certificate chain verification of arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_core::noise::CertVerifier;

fuzz_target!(|data: &[u8]| {
    let key = [9u8; 32];
    let _ = CertVerifier::whatsapp().verify(data, &key, 1_750_000_000);
    let _ = CertVerifier::with_root([7; 32]).verify(data, &key, 0);
});
