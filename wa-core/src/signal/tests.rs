//! Both sides of the protocol against each other: conversations, ratchet steps, lost and
//! reordered messages, session replacement, limits, and typed errors that leave the store
//! untouched.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

/// The in-memory store never waits, so polling once with a no-op waker completes.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("in-memory store future pending"),
    }
}

struct Peer {
    store: InMemorySignalStore,
    address: ProtocolAddress,
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn peers(rng: &mut StdRng) -> (Peer, Peer) {
    (
        Peer {
            store: InMemorySignalStore::generate(rng),
            address: ProtocolAddress::new("15550001", 1),
        },
        Peer {
            store: InMemorySignalStore::generate(rng),
            address: ProtocolAddress::new("15550002", 3),
        },
    )
}

/// Alice starts a session with Bob from his bundle.
fn connect(alice: &Peer, bob: &Peer, rng: &mut StdRng) {
    let bundle = bob.store.new_prekey_bundle(1, rng);
    run(session::process_prekey_bundle(
        &alice.store,
        &bob.address,
        &bundle,
        rng,
    ))
    .unwrap();
}

fn send(from: &Peer, to: &Peer, text: &[u8]) -> CiphertextMessage {
    run(session::encrypt(&from.store, &to.address, text)).unwrap()
}

fn receive(
    at: &Peer,
    from: &Peer,
    message: &CiphertextMessage,
    rng: &mut StdRng,
) -> Result<Vec<u8>, SignalError> {
    match message.kind {
        CiphertextKind::Pkmsg => run(session::decrypt_prekey_message(
            &at.store,
            &from.address,
            &message.bytes,
            rng,
        )),
        CiphertextKind::Msg => run(session::decrypt_message(
            &at.store,
            &from.address,
            &message.bytes,
            rng,
        )),
    }
}

fn stored(at: &Peer, of: &Peer) -> Vec<u8> {
    run(at.store.load_session(&of.address))
        .unwrap()
        .map(|r| r.serialize())
        .unwrap_or_default()
}

/// Alice and Bob past the first pkmsg and one reply each way.
fn established(rng: &mut StdRng) -> (Peer, Peer) {
    let (alice, bob) = peers(rng);
    connect(&alice, &bob, rng);
    let m = send(&alice, &bob, b"hello");
    assert_eq!(receive(&bob, &alice, &m, rng).unwrap(), b"hello");
    let r = send(&bob, &alice, b"hi");
    assert_eq!(receive(&alice, &bob, &r, rng).unwrap(), b"hi");
    (alice, bob)
}

#[test]
fn initiator_sends_pkmsg_until_the_first_reply_decrypts() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    connect(&alice, &bob, &mut rng);
    let m1 = send(&alice, &bob, b"one");
    let m2 = send(&alice, &bob, b"two");
    assert_eq!(
        (m1.kind, m2.kind),
        (CiphertextKind::Pkmsg, CiphertextKind::Pkmsg)
    );
    assert_eq!(receive(&bob, &alice, &m1, &mut rng).unwrap(), b"one");
    assert_eq!(receive(&bob, &alice, &m2, &mut rng).unwrap(), b"two");
    let reply = send(&bob, &alice, b"three");
    assert_eq!(reply.kind, CiphertextKind::Msg);
    assert_eq!(receive(&alice, &bob, &reply, &mut rng).unwrap(), b"three");
    assert_eq!(send(&alice, &bob, b"four").kind, CiphertextKind::Msg);
}

#[test]
fn session_without_one_time_prekey_works() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    let mut bundle = bob.store.new_prekey_bundle(5, &mut rng);
    bundle.pre_key = None;
    run(session::process_prekey_bundle(
        &alice.store,
        &bob.address,
        &bundle,
        &mut rng,
    ))
    .unwrap();
    let m = send(&alice, &bob, b"no opk");
    assert_eq!(
        PreKeyWhisperMessage::decode(&m.bytes).unwrap().pre_key_id,
        None
    );
    assert_eq!(receive(&bob, &alice, &m, &mut rng).unwrap(), b"no opk");
    // The unused one-time prekey is still there.
    assert!(run(bob.store.load_pre_key(5)).unwrap().is_some());
}

#[test]
fn responder_deletes_the_used_one_time_prekey() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    connect(&alice, &bob, &mut rng);
    let m = send(&alice, &bob, b"x");
    receive(&bob, &alice, &m, &mut rng).unwrap();
    assert!(run(bob.store.load_pre_key(1)).unwrap().is_none());
}

#[test]
fn long_conversation_with_ratchet_steps_both_ways() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    for round in 0..30u32 {
        let (from, to) = if round % 3 == 0 {
            (&bob, &alice)
        } else {
            (&alice, &bob)
        };
        let text = format!("message {round}");
        let m = send(from, to, text.as_bytes());
        assert_eq!(receive(to, from, &m, &mut rng).unwrap(), text.as_bytes());
    }
}

#[test]
fn out_of_order_messages_decrypt_with_skipped_keys() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let msgs: Vec<_> = (0..6).map(|i| send(&alice, &bob, &[i])).collect();
    for i in [5usize, 0, 3, 1, 4, 2] {
        assert_eq!(
            receive(&bob, &alice, &msgs[i], &mut rng).unwrap(),
            [i as u8]
        );
    }
}

#[test]
fn messages_from_before_a_ratchet_step_still_decrypt() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let late = send(&alice, &bob, b"late");
    let m = send(&alice, &bob, b"on time");
    receive(&bob, &alice, &m, &mut rng).unwrap();
    let r = send(&bob, &alice, b"reply");
    receive(&alice, &bob, &r, &mut rng).unwrap();
    let next = send(&alice, &bob, b"new chain");
    assert_eq!(
        receive(&bob, &alice, &next, &mut rng).unwrap(),
        b"new chain"
    );
    assert_eq!(receive(&bob, &alice, &late, &mut rng).unwrap(), b"late");
}

#[test]
fn dropped_messages_do_not_break_the_conversation() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    for i in 0..10u8 {
        let m = send(&alice, &bob, &[i]);
        if i % 3 != 0 {
            assert_eq!(receive(&bob, &alice, &m, &mut rng).unwrap(), [i]);
        }
        let r = send(&bob, &alice, &[100 + i]);
        if i % 4 != 0 {
            assert_eq!(receive(&alice, &bob, &r, &mut rng).unwrap(), [100 + i]);
        }
    }
}

#[test]
fn replayed_message_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let m = send(&alice, &bob, b"once");
    receive(&bob, &alice, &m, &mut rng).unwrap();
    let before = stored(&bob, &alice);
    let err = receive(&bob, &alice, &m, &mut rng).unwrap_err();
    assert!(matches!(err, SignalError::DuplicateMessage(_)), "{err:?}");
    assert_eq!(stored(&bob, &alice), before);
}

#[test]
fn wrong_mac_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let mut m = send(&alice, &bob, b"tampered");
    let last = m.bytes.len() - 1;
    m.bytes[last] ^= 1;
    let before = stored(&bob, &alice);
    assert!(matches!(
        receive(&bob, &alice, &m, &mut rng),
        Err(SignalError::InvalidMac)
    ));
    assert_eq!(stored(&bob, &alice), before);
}

#[test]
fn truncated_message_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let mut m = send(&alice, &bob, b"cut");
    let before = stored(&bob, &alice);
    m.bytes.truncate(5);
    let err = receive(&bob, &alice, &m, &mut rng).unwrap_err();
    assert!(matches!(err, SignalError::TooShort(5)), "{err:?}");
    m.bytes.truncate(12.min(m.bytes.len()));
    assert!(receive(&bob, &alice, &m, &mut rng).is_err());
    assert_eq!(stored(&bob, &alice), before);
}

#[test]
fn wrong_version_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let mut m = send(&alice, &bob, b"v");
    m.bytes[0] = 0x22;
    let before = stored(&bob, &alice);
    assert!(matches!(
        receive(&bob, &alice, &m, &mut rng),
        Err(SignalError::UnsupportedVersion(0x22))
    ));
    assert_eq!(stored(&bob, &alice), before);
}

#[test]
fn unknown_one_time_prekey_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    connect(&alice, &bob, &mut rng);
    run(bob.store.remove_pre_key(1)).unwrap();
    let m = send(&alice, &bob, b"x");
    let err = receive(&bob, &alice, &m, &mut rng).unwrap_err();
    assert!(matches!(err, SignalError::UnknownPreKey(1)), "{err:?}");
    assert!(stored(&bob, &alice).is_empty());
    assert!(run(bob.store.identity(&alice.address)).unwrap().is_none());
}

#[test]
fn unknown_signed_prekey_is_rejected() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    let mut bundle = bob.store.new_prekey_bundle(1, &mut rng);
    bundle.signed_pre_key_id = 99; // the signature covers the key, not the id
    run(session::process_prekey_bundle(
        &alice.store,
        &bob.address,
        &bundle,
        &mut rng,
    ))
    .unwrap();
    let m = send(&alice, &bob, b"x");
    assert!(matches!(
        receive(&bob, &alice, &m, &mut rng),
        Err(SignalError::UnknownSignedPreKey(99))
    ));
    assert!(stored(&bob, &alice).is_empty());
}

#[test]
fn bundle_with_bad_signature_is_rejected_and_stores_nothing() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    let mut bundle = bob.store.new_prekey_bundle(1, &mut rng);
    bundle.signed_pre_key_signature[10] ^= 1;
    let err = run(session::process_prekey_bundle(
        &alice.store,
        &bob.address,
        &bundle,
        &mut rng,
    ))
    .unwrap_err();
    assert!(matches!(err, SignalError::BadSignature));
    assert!(stored(&alice, &bob).is_empty());
    assert!(run(alice.store.identity(&bob.address)).unwrap().is_none());
}

#[test]
fn pkmsg_with_corrupted_inner_mac_creates_no_session() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    connect(&alice, &bob, &mut rng);
    let mut m = send(&alice, &bob, b"x");
    let last = m.bytes.len() - 1;
    m.bytes[last] ^= 0x40;
    assert!(receive(&bob, &alice, &m, &mut rng).is_err());
    assert!(stored(&bob, &alice).is_empty());
    assert!(run(bob.store.load_pre_key(1)).unwrap().is_some());
}

#[test]
fn new_identity_in_pkmsg_is_reported_not_accepted() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    // Alice reinstalls: same address, new identity.
    let alice2 = Peer {
        store: InMemorySignalStore::generate(&mut rng),
        address: alice.address.clone(),
    };
    connect(&alice2, &bob, &mut rng);
    let m = send(&alice2, &bob, b"it's me");
    let before = stored(&bob, &alice);
    let err = receive(&bob, &alice2, &m, &mut rng).unwrap_err();
    let SignalError::UntrustedIdentity { identity, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(stored(&bob, &alice), before);
    // The application accepts the new key and retries.
    assert_eq!(
        run(bob.store.save_identity(&alice.address, &identity)).unwrap(),
        IdentityChange::Replaced
    );
    assert_eq!(receive(&bob, &alice2, &m, &mut rng).unwrap(), b"it's me");
}

#[test]
fn encrypt_to_a_changed_identity_is_refused() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    run(alice
        .store
        .save_identity(&bob.address, &PublicKey::from_bytes([9; 32])))
    .unwrap();
    let err = run(session::encrypt(&alice.store, &bob.address, b"x")).unwrap_err();
    assert!(matches!(err, SignalError::UntrustedIdentity { .. }));
}

#[test]
fn encrypt_without_session_is_a_typed_error() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    let err = run(session::encrypt(&alice.store, &bob.address, b"x")).unwrap_err();
    assert!(matches!(err, SignalError::NoSession(a) if a == "15550002.3"));
}

#[test]
fn reestablished_session_keeps_the_old_one_for_late_messages() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let late = send(&alice, &bob, b"old session");
    // Alice fetches a new bundle and starts over (e.g. after a retry receipt).
    let bundle = bob.store.new_prekey_bundle(2, &mut rng);
    run(session::process_prekey_bundle(
        &alice.store,
        &bob.address,
        &bundle,
        &mut rng,
    ))
    .unwrap();
    let fresh = send(&alice, &bob, b"new session");
    assert_eq!(fresh.kind, CiphertextKind::Pkmsg);
    assert_eq!(
        receive(&bob, &alice, &fresh, &mut rng).unwrap(),
        b"new session"
    );
    assert_eq!(
        receive(&bob, &alice, &late, &mut rng).unwrap(),
        b"old session"
    );
    let record = run(bob.store.load_session(&alice.address))
        .unwrap()
        .unwrap();
    assert_eq!(record.previous_session_count(), 1);
    // Bob answers on the new session and Alice reads it.
    let r = send(&bob, &alice, b"ok");
    assert_eq!(receive(&alice, &bob, &r, &mut rng).unwrap(), b"ok");
}

#[test]
fn simultaneous_initiation_still_delivers_both_ways() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    connect(&alice, &bob, &mut rng);
    connect(&bob, &alice, &mut rng);
    let from_alice = send(&alice, &bob, b"a1");
    let from_bob = send(&bob, &alice, b"b1");
    assert_eq!(receive(&bob, &alice, &from_alice, &mut rng).unwrap(), b"a1");
    assert_eq!(receive(&alice, &bob, &from_bob, &mut rng).unwrap(), b"b1");
    // Each side now sends on the session the other started; the receiver finds it among
    // its previous sessions.
    for i in 0..5u8 {
        let m = send(&alice, &bob, &[i]);
        assert_eq!(receive(&bob, &alice, &m, &mut rng).unwrap(), [i]);
        let r = send(&bob, &alice, &[i + 100]);
        assert_eq!(receive(&alice, &bob, &r, &mut rng).unwrap(), [i + 100]);
    }
}

#[test]
fn repeated_pkmsg_of_one_session_reuses_it() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    connect(&alice, &bob, &mut rng);
    let m1 = send(&alice, &bob, b"1");
    let m2 = send(&alice, &bob, b"2");
    receive(&bob, &alice, &m1, &mut rng).unwrap();
    // The one-time prekey is gone, yet the second pkmsg still decrypts: same base key.
    assert_eq!(receive(&bob, &alice, &m2, &mut rng).unwrap(), b"2");
    let record = run(bob.store.load_session(&alice.address))
        .unwrap()
        .unwrap();
    assert_eq!(record.previous_session_count(), 0);
}

#[test]
fn skipping_up_to_the_limit_works_and_beyond_fails() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    for _ in 0..MAX_FORWARD_JUMP {
        send(&alice, &bob, b"lost");
    }
    let m = send(&alice, &bob, b"far");
    assert_eq!(receive(&bob, &alice, &m, &mut rng).unwrap(), b"far");
    for _ in 0..=MAX_FORWARD_JUMP {
        send(&alice, &bob, b"lost");
    }
    let m = send(&alice, &bob, b"too far");
    let before = stored(&bob, &alice);
    let err = receive(&bob, &alice, &m, &mut rng).unwrap_err();
    assert!(matches!(err, SignalError::TooFarAhead { .. }), "{err:?}");
    assert_eq!(stored(&bob, &alice), before);
}

#[test]
fn skipped_keys_per_chain_are_bounded() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let first = send(&alice, &bob, b"first");
    for _ in 0..1500 {
        send(&alice, &bob, b"lost");
    }
    let m = send(&alice, &bob, b"a");
    receive(&bob, &alice, &m, &mut rng).unwrap();
    for _ in 0..1500 {
        send(&alice, &bob, b"lost");
    }
    let m = send(&alice, &bob, b"b");
    receive(&bob, &alice, &m, &mut rng).unwrap();
    // 3000 keys were skipped; the oldest fell out of the 2000-key window.
    assert!(matches!(
        receive(&bob, &alice, &first, &mut rng),
        Err(SignalError::DuplicateMessage(_))
    ));
}

#[test]
fn old_receiving_chains_are_bounded() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let stale = send(&alice, &bob, b"stale");
    for _ in 0..MAX_RECEIVER_CHAINS + 1 {
        let m = send(&alice, &bob, b"x");
        receive(&bob, &alice, &m, &mut rng).unwrap();
        let r = send(&bob, &alice, b"y");
        receive(&alice, &bob, &r, &mut rng).unwrap();
    }
    assert!(receive(&bob, &alice, &stale, &mut rng).is_err());
}

#[test]
fn previous_sessions_are_bounded() {
    let mut rng = rng();
    let (alice, bob) = peers(&mut rng);
    for id in 1..=(MAX_PREVIOUS_SESSIONS as u32 + 3) {
        let bundle = bob.store.new_prekey_bundle(id, &mut rng);
        run(session::process_prekey_bundle(
            &alice.store,
            &bob.address,
            &bundle,
            &mut rng,
        ))
        .unwrap();
    }
    let record = run(alice.store.load_session(&bob.address))
        .unwrap()
        .unwrap();
    assert_eq!(record.previous_session_count(), MAX_PREVIOUS_SESSIONS);
}

#[test]
fn session_record_round_trips_through_bytes() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let pending = send(&alice, &bob, b"skip me");
    let m = send(&alice, &bob, b"x");
    receive(&bob, &alice, &m, &mut rng).unwrap();
    let record = run(bob.store.load_session(&alice.address))
        .unwrap()
        .unwrap();
    let bytes = record.serialize();
    assert_eq!(bytes[0], 1);
    let back = SessionRecord::deserialize(&bytes).unwrap();
    assert_eq!(back, record);
    // A session restored from bytes still decrypts the skipped message.
    run(bob.store.store_session(&alice.address, &back)).unwrap();
    assert_eq!(
        receive(&bob, &alice, &pending, &mut rng).unwrap(),
        b"skip me"
    );
}

#[test]
fn record_decoding_returns_typed_errors() {
    assert!(matches!(
        SessionRecord::deserialize(&[]),
        Err(SignalError::CorruptRecord(_))
    ));
    assert!(matches!(
        SessionRecord::deserialize(&[9, 1]),
        Err(SignalError::UnsupportedRecordVersion(9))
    ));
    assert!(matches!(
        SessionRecord::deserialize(&[1, 0x0a, 0x05, 1]),
        Err(SignalError::Protobuf(_))
    ));
    // A state without its sender chain.
    assert!(matches!(
        SessionRecord::deserialize(&[1, 0x0a, 0x00]),
        Err(SignalError::MissingField(_))
    ));
    assert!(matches!(
        SenderKeyRecord::deserialize(&[2]),
        Err(SignalError::UnsupportedRecordVersion(2))
    ));
    assert!(PreKeyRecord::deserialize(&[1]).is_err());
}

#[test]
fn key_records_round_trip_through_bytes() {
    let mut rng = rng();
    let identity = IdentityKeyPair::generate(&mut rng);
    assert_eq!(
        IdentityKeyPair::deserialize(&identity.serialize()).unwrap(),
        identity
    );
    let signed = SignedPreKeyRecord::generate(&identity, 7, 1_700_000_000, &mut rng);
    assert_eq!(
        SignedPreKeyRecord::deserialize(&signed.serialize()).unwrap(),
        signed
    );
    assert!(identity.public_key().verify_signature(
        &PublicKey::from(&signed.key_pair).serialize(),
        &signed.signature
    ));
    for pre_key in generate_pre_keys(MAX_PRE_KEY_ID - 1, 3, &mut rng) {
        assert_eq!(
            PreKeyRecord::deserialize(&pre_key.serialize()).unwrap(),
            pre_key
        );
    }
}

#[test]
fn pre_key_ids_wrap_within_24_bits() {
    let ids: Vec<u32> = generate_pre_keys(MAX_PRE_KEY_ID - 1, 3, &mut rng())
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, [MAX_PRE_KEY_ID - 1, MAX_PRE_KEY_ID, 1]);
}

#[test]
fn public_keys_decode_33_and_32_byte_forms_only() {
    let k = PublicKey::from_bytes([3; 32]);
    assert_eq!(PublicKey::decode(&k.serialize()).unwrap(), k);
    assert_eq!(PublicKey::decode(&[3; 32]).unwrap(), k);
    let mut wrong_type = k.serialize();
    wrong_type[0] = 0x06;
    assert!(PublicKey::decode(&wrong_type).is_err());
    assert!(PublicKey::decode(&[5; 31]).is_err());
}

#[test]
fn whisper_message_mac_covers_both_identities_in_order() {
    let mut rng = rng();
    let (alice, bob) = established(&mut rng);
    let m = send(&alice, &bob, b"x");
    let parsed = WhisperMessage::decode(&m.bytes).unwrap();
    // Decrypting as if Bob had sent it (identities swapped) must fail the MAC.
    let record = run(bob.store.load_session(&alice.address))
        .unwrap()
        .unwrap();
    let mut state = record.current.clone().unwrap();
    std::mem::swap(&mut state.local_identity, &mut state.remote_identity);
    assert!(matches!(
        state.decrypt(&parsed, &mut rng),
        Err(SignalError::InvalidMac)
    ));
}

// ---- sender keys ----

fn group_name(sender: &Peer) -> SenderKeyName {
    SenderKeyName::new("120363021033254949@g.us", sender.address.clone())
}

fn group_setup(rng: &mut StdRng) -> (Peer, Peer, SenderKeyName) {
    let (alice, bob) = peers(rng);
    let name = group_name(&alice);
    let skdm = run(group::create_distribution_message(&alice.store, &name, rng)).unwrap();
    let skdm = SenderKeyDistributionMessage::decode(&skdm.encode()).unwrap();
    run(group::process_distribution_message(
        &bob.store, &name, &skdm,
    ))
    .unwrap();
    (alice, bob, name)
}

fn stored_sender_key(at: &Peer, name: &SenderKeyName) -> Vec<u8> {
    run(at.store.load_sender_key(name))
        .unwrap()
        .unwrap()
        .serialize()
}

#[test]
fn group_messages_decrypt_in_and_out_of_order() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    let msgs: Vec<_> = (0..8u8)
        .map(|i| run(group::encrypt(&alice.store, &name, &[i], &mut rng)).unwrap())
        .collect();
    for i in [0usize, 3, 1, 7, 2, 6, 4, 5] {
        assert_eq!(
            run(group::decrypt(&bob.store, &name, &msgs[i])).unwrap(),
            [i as u8]
        );
    }
}

#[test]
fn group_encrypt_uses_consecutive_iterations_from_zero() {
    let mut rng = rng();
    let (alice, _bob, name) = group_setup(&mut rng);
    for expected in 0..3 {
        let m = run(group::encrypt(&alice.store, &name, b"x", &mut rng)).unwrap();
        assert_eq!(SenderKeyMessage::decode(&m).unwrap().iteration, expected);
    }
}

#[test]
fn distribution_message_carries_the_current_iteration() {
    let mut rng = rng();
    let (alice, _bob, name) = group_setup(&mut rng);
    let early = run(group::encrypt(&alice.store, &name, b"before", &mut rng)).unwrap();
    let later = run(group::encrypt(&alice.store, &name, b"after", &mut rng)).unwrap();
    let carol = InMemorySignalStore::generate(&mut rng);
    let skdm = run(group::create_distribution_message(
        &alice.store,
        &name,
        &mut rng,
    ))
    .unwrap();
    assert_eq!(skdm.iteration, 2);
    run(group::process_distribution_message(&carol, &name, &skdm)).unwrap();
    // Carol joined later: she cannot read the earlier messages, only new ones.
    assert!(run(group::decrypt(&carol, &name, &early)).is_err());
    assert!(run(group::decrypt(&carol, &name, &later)).is_err());
    let m = run(group::encrypt(&alice.store, &name, b"welcome", &mut rng)).unwrap();
    assert_eq!(run(group::decrypt(&carol, &name, &m)).unwrap(), b"welcome");
}

#[test]
fn group_replay_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    let m = run(group::encrypt(&alice.store, &name, b"x", &mut rng)).unwrap();
    run(group::decrypt(&bob.store, &name, &m)).unwrap();
    let before = stored_sender_key(&bob, &name);
    assert!(matches!(
        run(group::decrypt(&bob.store, &name, &m)),
        Err(SignalError::DuplicateMessage(0))
    ));
    assert_eq!(stored_sender_key(&bob, &name), before);
}

#[test]
fn group_bad_signature_is_rejected_and_changes_nothing() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    let mut m = run(group::encrypt(&alice.store, &name, b"x", &mut rng)).unwrap();
    let last = m.len() - 1;
    m[last - 3] ^= 1;
    let before = stored_sender_key(&bob, &name);
    assert!(matches!(
        run(group::decrypt(&bob.store, &name, &m)),
        Err(SignalError::BadSignature)
    ));
    assert_eq!(stored_sender_key(&bob, &name), before);
}

#[test]
fn group_forward_jump_is_limited() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    for _ in 0..=MAX_FORWARD_JUMP {
        run(group::encrypt(&alice.store, &name, b"lost", &mut rng)).unwrap();
    }
    let m = run(group::encrypt(&alice.store, &name, b"far", &mut rng)).unwrap();
    let before = stored_sender_key(&bob, &name);
    assert!(matches!(
        run(group::decrypt(&bob.store, &name, &m)),
        Err(SignalError::TooFarAhead { .. })
    ));
    assert_eq!(stored_sender_key(&bob, &name), before);
}

#[test]
fn group_unknown_key_id_and_missing_record_are_typed_errors() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    let other = SenderKeyName::new("other@g.us", alice.address.clone());
    let m = run(group::encrypt(&alice.store, &name, b"x", &mut rng)).unwrap();
    assert!(matches!(
        run(group::decrypt(&bob.store, &other, &m)),
        Err(SignalError::NoSenderKey(_))
    ));
    run(group::rotate(&alice.store, &name, &mut rng)).unwrap();
    let m = run(group::encrypt(&alice.store, &name, b"y", &mut rng)).unwrap();
    assert!(matches!(
        run(group::decrypt(&bob.store, &name, &m)),
        Err(SignalError::NoSenderKeyState(_))
    ));
}

#[test]
fn rotation_uses_a_new_key_id_and_old_messages_still_decrypt() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    let old = run(group::encrypt(&alice.store, &name, b"old key", &mut rng)).unwrap();
    let first_id = SenderKeyMessage::decode(&old).unwrap().key_id;
    let skdm = run(group::rotate(&alice.store, &name, &mut rng)).unwrap();
    assert_ne!(skdm.key_id, first_id);
    run(group::process_distribution_message(
        &bob.store, &name, &skdm,
    ))
    .unwrap();
    let new = run(group::encrypt(&alice.store, &name, b"new key", &mut rng)).unwrap();
    assert_eq!(SenderKeyMessage::decode(&new).unwrap().key_id, skdm.key_id);
    assert_eq!(
        run(group::decrypt(&bob.store, &name, &new)).unwrap(),
        b"new key"
    );
    assert_eq!(
        run(group::decrypt(&bob.store, &name, &old)).unwrap(),
        b"old key"
    );
}

#[test]
fn sender_key_states_are_bounded() {
    let mut rng = rng();
    let mut record = SenderKeyRecord::new();
    let first = record.rotate(&mut rng).key_id;
    for _ in 0..MAX_SENDER_KEY_STATES {
        record.rotate(&mut rng);
    }
    let back = SenderKeyRecord::deserialize(&record.serialize()).unwrap();
    assert_eq!(back, record);
    let skdm = record.distribution_message().unwrap();
    assert_ne!(skdm.key_id, first);
    let m = SenderKeyMessage::new(first, 0, vec![0; 16], &[1; 32], &[0; 64])
        .serialized()
        .to_vec();
    assert!(matches!(record.decrypt(&m), Err(SignalError::NoSenderKeyState(id)) if id == first));
}

#[test]
fn repeated_distribution_message_does_not_rewind_the_chain() {
    let mut rng = rng();
    let (alice, bob, name) = group_setup(&mut rng);
    let skdm = run(group::create_distribution_message(
        &alice.store,
        &name,
        &mut rng,
    ))
    .unwrap();
    let m = run(group::encrypt(&alice.store, &name, b"x", &mut rng)).unwrap();
    run(group::decrypt(&bob.store, &name, &m)).unwrap();
    run(group::process_distribution_message(
        &bob.store, &name, &skdm,
    ))
    .unwrap();
    assert!(matches!(
        run(group::decrypt(&bob.store, &name, &m)),
        Err(SignalError::DuplicateMessage(0))
    ));
}

#[test]
fn distribution_message_accepts_a_32_byte_signing_key() {
    let proto = wire::SenderKeyDistributionMessage {
        id: Some(5),
        iteration: Some(0),
        chain_key: Some(vec![1; 32].into()),
        signing_key: Some(vec![2; 32].into()),
    };
    let mut bytes = vec![0x33];
    prost::Message::encode(&proto, &mut bytes).unwrap();
    let skdm = SenderKeyDistributionMessage::decode(&bytes).unwrap();
    assert_eq!(skdm.signing_key, PublicKey::from_bytes([2; 32]));
    assert_eq!(skdm.encode()[0], CIPHERTEXT_VERSION);
}

#[test]
fn message_decoders_reject_short_input_and_missing_fields() {
    assert!(matches!(
        WhisperMessage::decode(&[0x33; 8]),
        Err(SignalError::TooShort(8))
    ));
    assert!(matches!(
        PreKeyWhisperMessage::decode(&[]),
        Err(SignalError::TooShort(0))
    ));
    assert!(matches!(
        PreKeyWhisperMessage::decode(&[0x33]),
        Err(SignalError::MissingField(_))
    ));
    assert!(matches!(
        SenderKeyMessage::decode(&[0x33; 64]),
        Err(SignalError::TooShort(64))
    ));
    assert!(matches!(
        SenderKeyDistributionMessage::decode(&[0x13]),
        Err(SignalError::UnsupportedVersion(0x13))
    ));
}

// ---- properties ----

#[derive(Debug, Clone)]
enum Op {
    Send { from_alice: bool },
    DeliverOldest,
    DeliverNewest,
    DropOldest,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        any::<bool>().prop_map(|from_alice| Op::Send { from_alice }),
        Just(Op::DeliverOldest),
        Just(Op::DeliverNewest),
        Just(Op::DropOldest),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whatever the schedule of sends, reordering and losses, every delivered message
    /// decrypts to what was sent. (At most 8 steps keeps every chain within the bounds.)
    #[test]
    fn any_delivery_schedule_decrypts_every_delivered_message(ops in proptest::collection::vec(op(), 1..=8), seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (alice, bob) = established(&mut rng);
        let mut in_flight: Vec<(bool, CiphertextMessage, Vec<u8>)> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            let deliver = match op {
                Op::Send { from_alice } => {
                    let text = format!("message {n}").into_bytes();
                    let (from, to) = if from_alice { (&alice, &bob) } else { (&bob, &alice) };
                    in_flight.push((from_alice, send(from, to, &text), text));
                    None
                }
                Op::DeliverOldest if !in_flight.is_empty() => Some(in_flight.remove(0)),
                Op::DeliverNewest => in_flight.pop(),
                Op::DropOldest if !in_flight.is_empty() => {
                    in_flight.remove(0);
                    None
                }
                _ => None,
            };
            if let Some((from_alice, message, text)) = deliver {
                let (at, from) = if from_alice { (&bob, &alice) } else { (&alice, &bob) };
                proptest::prop_assert_eq!(receive(at, from, &message, &mut rng).unwrap(), text);
            }
        }
    }

    /// Decoders and record parsers return values or typed errors on any input.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let _ = WhisperMessage::decode(&bytes);
        let _ = PreKeyWhisperMessage::decode(&bytes);
        let _ = SenderKeyMessage::decode(&bytes);
        let _ = SenderKeyDistributionMessage::decode(&bytes);
        let _ = SessionRecord::deserialize(&bytes);
        let _ = SenderKeyRecord::deserialize(&bytes);
        let _ = PreKeyRecord::deserialize(&bytes);
        let _ = SignedPreKeyRecord::deserialize(&bytes);
        let _ = IdentityKeyPair::deserialize(&bytes);
        let _ = unpad_message(&bytes);
    }

    /// Padding round-trips for any message.
    #[test]
    fn padding_round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), seed: u64) {
        let padded = pad_message(&bytes, &mut StdRng::seed_from_u64(seed));
        proptest::prop_assert_eq!(unpad_message(&padded).unwrap(), &bytes[..]);
    }
}
