//! Handshake messages from arbitrary bytes: the responder reading a client hello and a client
//! finish, and the initiator reading a server hello.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use wa_core::crypto::KeyPair;
use wa_core::noise::{
    CertVerifier, NoiseInitiator, NoiseResponder, ResponderAwaitingFinish, WA_INTRO,
};

fn kp(n: u8) -> KeyPair {
    KeyPair::from_private([n; 32])
}

/// The three states that read untrusted bytes, prepared once (key agreement is slow).
struct States {
    responder: NoiseResponder,
    awaiting: ResponderAwaitingFinish,
    initiator: NoiseInitiator,
    verifier: CertVerifier,
}

fn states() -> &'static States {
    static STATES: OnceLock<States> = OnceLock::new();
    STATES.get_or_init(|| {
        let responder = NoiseResponder::new(kp(1), kp(2), vec![1, 2, 3], &WA_INTRO);
        let initiator = NoiseInitiator::new(kp(3), kp(4), &WA_INTRO);
        let (_, awaiting) = responder
            .clone()
            .read_client_hello(&initiator.client_hello())
            .expect("valid hello")
            .write_server_hello();
        States {
            responder,
            awaiting,
            initiator,
            verifier: CertVerifier::with_root(kp(5).public),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = states();
    let _ = s.responder.clone().read_client_hello(data);
    let _ = s.awaiting.clone().read_client_finish(data);
    let _ = s
        .initiator
        .clone()
        .read_server_hello(data, &s.verifier, 1_750_000_000);
});
