//! Pairing input from the network, from arbitrary bytes: pair-success (companion side),
//! pair-device-sign and key-index lists (phone side), ClientPayload (server side) and the
//! phone-code key bundle (phone side). None may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wa_core::crypto::KeyPair;
use wa_core::pair::{
    code::{CompanionCodePairing, PrimaryCodePairing},
    complete_pair_success, read_client_payload, verify_key_index_list, verify_pair_device_sign,
};

struct Fixture {
    companion: KeyPair,
    phone: KeyPair,
    code: PrimaryCodePairing,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Fixed keys; the code pairing state is built once (PBKDF2 is slow on purpose).
        let companion_code =
            CompanionCodePairing::from_parts("ABCD1234", KeyPair::from_private([4; 32])).unwrap();
        let hello = wa_core::pair::code::wrap_ephemeral(
            companion_code.code(),
            &companion_code.ephemeral().public,
            &[5; 32],
            &[6; 16],
        );
        let mut rng = Counter(0);
        Fixture {
            companion: KeyPair::from_private([1; 32]),
            phone: KeyPair::from_private([2; 32]),
            code: PrimaryCodePairing::new(&mut rng, "ABCD1234", &hello).unwrap(),
        }
    })
}

/// Deterministic bytes for the fixture (not random; fuzzing needs reproducibility).
struct Counter(u8);
impl rand_core::RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for Counter {}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let _ = complete_pair_success(data, &[3; 32], &f.companion, &[7; 64]);
    let _ = verify_pair_device_sign(data, &f.phone.public, &f.companion.public);
    let _ = verify_key_index_list(data, None);
    let _ = verify_key_index_list(data, Some(&f.phone.public));
    let _ = read_client_payload(data);
    let _ = f.code.finish(&f.phone, data);
});
