//! Arbitrary bytes decrypted against a fixed, established session and a fixed sender key:
//! as a `msg`, as the inner message of a `pkmsg`, and as an `skmsg`. Must never panic, and
//! a failed decrypt must leave the record unchanged.
#![no_main]
use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_core::signal::{
    InMemorySignalStore, PreKeyWhisperMessage, ProtocolAddress, SenderKeyName, SenderKeyRecord,
    SenderKeyStore, SessionRecord, SessionStore, WhisperMessage, group, session,
};

fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("in-memory store"),
    }
}

/// Bob's session with Alice after one message each way, and Bob's copy of Alice's sender key.
fn fixture() -> &'static (SessionRecord, SenderKeyRecord) {
    static F: OnceLock<(SessionRecord, SenderKeyRecord)> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(1);
        let alice = InMemorySignalStore::generate(&mut rng);
        let bob = InMemorySignalStore::generate(&mut rng);
        let (a, b) = (ProtocolAddress::new("1", 1), ProtocolAddress::new("2", 1));
        let bundle = bob.new_prekey_bundle(1, &mut rng);
        run(session::process_prekey_bundle(&alice, &b, &bundle, &mut rng)).unwrap();
        let m = run(session::encrypt(&alice, &b, b"hello")).unwrap();
        run(session::decrypt_prekey_message(&bob, &a, &m.bytes, &mut rng)).unwrap();
        let r = run(session::encrypt(&bob, &a, b"hi")).unwrap();
        run(session::decrypt_message(&alice, &b, &r.bytes, &mut rng)).unwrap();
        let name = SenderKeyName::new("g@g.us", a.clone());
        let skdm = run(group::create_distribution_message(&alice, &name, &mut rng)).unwrap();
        run(group::process_distribution_message(&bob, &name, &skdm)).unwrap();
        (
            run(bob.load_session(&a)).unwrap().unwrap(),
            run(bob.load_sender_key(&name)).unwrap().unwrap(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (session, sender_key) = fixture();
    let mut rng = StdRng::seed_from_u64(2);
    let mut inner = None;
    if let Ok(m) = WhisperMessage::decode(data) {
        inner = Some(m);
    } else if let Ok(m) = PreKeyWhisperMessage::decode(data) {
        inner = Some(m.message);
    }
    if let Some(message) = inner {
        let mut record = session.clone();
        if record.decrypt(&message, &mut rng).is_err() {
            assert_eq!(&record, session);
        }
    }
    let mut record = sender_key.clone();
    if record.decrypt(data).is_err() {
        assert_eq!(&record, sender_key);
    }
});
