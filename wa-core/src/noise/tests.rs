//! Both handshake roles against each other, then transport frames through the frame codec.

use super::*;
use crate::crypto::KeyPair;
use crate::proto::HandshakeMessage;
use prost::Message;
use rand::SeedableRng;
use rand::rngs::StdRng;

const NOW: u64 = 1_750_000_000;
const VALID: CertValidity = CertValidity {
    not_before: 1_700_000_000,
    not_after: 1_800_000_000,
};

struct Setup {
    initiator: NoiseInitiator,
    responder: NoiseResponder,
    verifier: CertVerifier,
    client_static: [u8; 32],
}

fn setup(seed: u64) -> Setup {
    let mut rng = StdRng::seed_from_u64(seed);
    let issuer = CertIssuer::new(
        KeyPair::generate(&mut rng),
        KeyPair::generate(&mut rng),
        7,
        VALID,
    );
    let server_static = KeyPair::generate(&mut rng);
    let chain = issuer.issue(&server_static.public, 8, VALID, &mut rng);
    let client_static = KeyPair::generate(&mut rng);
    Setup {
        client_static: client_static.public,
        initiator: NoiseInitiator::new(client_static, KeyPair::generate(&mut rng), &WA_INTRO),
        responder: NoiseResponder::new(
            server_static,
            KeyPair::generate(&mut rng),
            chain,
            &WA_INTRO,
        ),
        verifier: CertVerifier::with_root(issuer.root_public()),
    }
}

fn complete(s: Setup, payload: &[u8]) -> (TransportCipher, ClientFinished) {
    let hello = s.initiator.client_hello();
    let (server_hello, responder) = s
        .responder
        .read_client_hello(&hello)
        .unwrap()
        .write_server_hello();
    let client = s
        .initiator
        .read_server_hello(&server_hello, &s.verifier, NOW)
        .unwrap();
    let (finish, cipher) = client.write_client_finish(payload);
    (cipher, responder.read_client_finish(&finish).unwrap())
}

#[test]
fn handshake_delivers_client_static_and_payload_to_the_responder() {
    let s = setup(1);
    let client_static = s.client_static;
    let (_, done) = complete(s, b"client payload bytes");
    assert_eq!(done.client_static, client_static);
    assert_eq!(done.payload, b"client payload bytes");
}

#[test]
fn initiator_learns_the_certified_server_static_key() {
    let s = setup(2);
    let hello = s.initiator.client_hello();
    let (server_hello, _) = s
        .responder
        .read_client_hello(&hello)
        .unwrap()
        .write_server_hello();
    let client = s
        .initiator
        .read_server_hello(&server_hello, &s.verifier, NOW)
        .unwrap();
    assert_eq!(client.cert_chain().leaf.key, *client.server_static());
    assert_eq!(client.cert_chain().intermediate.serial, 7);
    assert_eq!(client.cert_chain().leaf.serial, 8);
}

#[test]
fn transport_frames_flow_both_ways_through_the_frame_codec() {
    let (mut client, done) = complete(setup(3), b"p");
    let mut server = done.cipher;
    let mut client_enc = FrameEncoder::server(); // intro already sent with the hello
    let mut server_enc = FrameEncoder::server();
    let mut at_server = FrameDecoder::new();
    let mut at_client = FrameDecoder::new();
    for i in 0..4u8 {
        let node = vec![i; 100 * usize::from(i)];
        at_server.push(&client_enc.encode(&client.seal(&node).unwrap()).unwrap());
        let frame = at_server.next_frame().unwrap().unwrap();
        assert_eq!(server.open(&frame).unwrap(), node);

        at_client.push(&server_enc.encode(&server.seal(&node).unwrap()).unwrap());
        let frame = at_client.next_frame().unwrap().unwrap();
        assert_eq!(client.open(&frame).unwrap(), node);
    }
    assert_eq!(client.sender().counter(), Some(4));
    assert_eq!(server.sender().counter(), Some(4));
}

#[test]
fn whole_connection_runs_over_the_framed_byte_stream() {
    let s = setup(4);
    let mut client_enc = FrameEncoder::client(Some(b"edge")).unwrap();
    let mut server_dec = FrameDecoder::expecting_intro();
    let mut server_enc = FrameEncoder::server();
    let mut client_dec = FrameDecoder::new();

    server_dec.push(&client_enc.encode(&s.initiator.client_hello()).unwrap());
    let hello = server_dec.next_frame().unwrap().unwrap();
    assert_eq!(server_dec.routing_info(), Some(&b"edge"[..]));
    let (server_hello, responder) = s
        .responder
        .read_client_hello(&hello)
        .unwrap()
        .write_server_hello();
    client_dec.push(&server_enc.encode(&server_hello).unwrap());
    let client = s
        .initiator
        .read_server_hello(&client_dec.next_frame().unwrap().unwrap(), &s.verifier, NOW)
        .unwrap();
    let (finish, mut client_cipher) = client.write_client_finish(b"payload");
    server_dec.push(&client_enc.encode(&finish).unwrap());
    let done = responder
        .read_client_finish(&server_dec.next_frame().unwrap().unwrap())
        .unwrap();
    let mut server_cipher = done.cipher;
    client_dec.push(
        &server_enc
            .encode(&server_cipher.seal(b"\0success").unwrap())
            .unwrap(),
    );
    let frame = client_dec.next_frame().unwrap().unwrap();
    assert_eq!(client_cipher.open(&frame).unwrap(), b"\0success");
}

#[test]
fn different_prologues_fail_at_the_first_encrypted_field() {
    let mut s = setup(5);
    let mut rng = StdRng::seed_from_u64(55);
    s.initiator = NoiseInitiator::new(
        KeyPair::generate(&mut rng),
        KeyPair::generate(&mut rng),
        b"WA\x06\x02",
    );
    let (server_hello, _) = s
        .responder
        .read_client_hello(&s.initiator.client_hello())
        .unwrap()
        .write_server_hello();
    assert_eq!(
        s.initiator
            .read_server_hello(&server_hello, &s.verifier, NOW)
            .unwrap_err(),
        HandshakeError::Decrypt("server static key")
    );
}

fn tamper_server_hello(
    edit: impl FnOnce(&mut crate::proto::handshake_message::ServerHello),
) -> HandshakeError {
    let s = setup(6);
    let (server_hello, _) = s
        .responder
        .read_client_hello(&s.initiator.client_hello())
        .unwrap()
        .write_server_hello();
    let mut msg = HandshakeMessage::decode(&server_hello[..]).unwrap();
    edit(msg.server_hello.as_mut().unwrap());
    s.initiator
        .read_server_hello(&msg.encode_to_vec(), &s.verifier, NOW)
        .unwrap_err()
}

fn flip(b: &mut Option<bytes::Bytes>) {
    let mut v = b.take().unwrap().to_vec();
    v[5] ^= 1;
    *b = Some(v.into());
}

#[test]
fn tampered_server_ephemeral_fails_to_decrypt_the_static_key() {
    assert_eq!(
        tamper_server_hello(|h| flip(&mut h.ephemeral)),
        HandshakeError::Decrypt("server static key")
    );
}

#[test]
fn tampered_server_static_fails_authentication() {
    assert_eq!(
        tamper_server_hello(|h| flip(&mut h.r#static)),
        HandshakeError::Decrypt("server static key")
    );
}

#[test]
fn tampered_certificate_ciphertext_fails_authentication() {
    assert_eq!(
        tamper_server_hello(|h| flip(&mut h.payload)),
        HandshakeError::Decrypt("certificate chain")
    );
}

#[test]
fn short_server_ephemeral_is_rejected() {
    assert_eq!(
        tamper_server_hello(|h| h.ephemeral = Some(vec![1; 31].into())),
        HandshakeError::BadKeyLength {
            field: "server ephemeral",
            len: 31
        }
    );
}

#[test]
fn server_hello_without_certificate_is_rejected() {
    assert_eq!(
        tamper_server_hello(|h| h.payload = None),
        HandshakeError::MissingField("serverHello.payload")
    );
}

#[test]
fn initiator_rejects_a_chain_from_another_root() {
    let s = setup(7);
    let (server_hello, _) = s
        .responder
        .read_client_hello(&s.initiator.client_hello())
        .unwrap()
        .write_server_hello();
    assert_eq!(
        s.initiator
            .read_server_hello(&server_hello, &CertVerifier::whatsapp(), NOW)
            .unwrap_err(),
        HandshakeError::Cert(CertError::BadSignature(CertLevel::Intermediate))
    );
}

#[test]
fn responder_with_a_chain_for_another_key_is_rejected() {
    let mut rng = StdRng::seed_from_u64(8);
    let issuer = CertIssuer::new(
        KeyPair::generate(&mut rng),
        KeyPair::generate(&mut rng),
        1,
        VALID,
    );
    let other = KeyPair::generate(&mut rng);
    let chain = issuer.issue(&other.public, 2, VALID, &mut rng);
    let responder = NoiseResponder::new(
        KeyPair::generate(&mut rng),
        KeyPair::generate(&mut rng),
        chain,
        &WA_INTRO,
    );
    let initiator = NoiseInitiator::new(
        KeyPair::generate(&mut rng),
        KeyPair::generate(&mut rng),
        &WA_INTRO,
    );
    let (hello, _) = responder
        .read_client_hello(&initiator.client_hello())
        .unwrap()
        .write_server_hello();
    assert_eq!(
        initiator
            .read_server_hello(&hello, &CertVerifier::with_root(issuer.root_public()), NOW)
            .unwrap_err(),
        HandshakeError::Cert(CertError::LeafKeyMismatch)
    );
}

#[test]
fn initiator_rejects_a_client_hello_in_place_of_the_server_hello() {
    let s = setup(9);
    let hello = s.initiator.client_hello();
    assert_eq!(
        s.initiator
            .read_server_hello(&hello, &s.verifier, NOW)
            .unwrap_err(),
        HandshakeError::UnexpectedMessage("server hello")
    );
}

#[test]
fn initiator_rejects_garbage() {
    let s = setup(10);
    assert_eq!(
        s.initiator
            .read_server_hello(&[0xff, 0xff, 0xff], &s.verifier, NOW)
            .unwrap_err(),
        HandshakeError::Malformed
    );
}

#[test]
fn responder_rejects_a_hello_without_ephemeral() {
    let s = setup(11);
    let msg = HandshakeMessage {
        client_hello: Some(Default::default()),
        ..Default::default()
    };
    assert_eq!(
        s.responder
            .read_client_hello(&msg.encode_to_vec())
            .unwrap_err(),
        HandshakeError::MissingField("clientHello.ephemeral")
    );
}

#[test]
fn responder_rejects_an_ik_client_hello() {
    let s = setup(12);
    let mut msg = HandshakeMessage::decode(&s.initiator.client_hello()[..]).unwrap();
    msg.client_hello.as_mut().unwrap().r#static = Some(vec![0; 48].into());
    assert_eq!(
        s.responder
            .read_client_hello(&msg.encode_to_vec())
            .unwrap_err(),
        HandshakeError::IkNotSupported
    );
}

fn finish_with(
    edit: impl FnOnce(&mut crate::proto::handshake_message::ClientFinish),
) -> HandshakeError {
    let s = setup(13);
    let (server_hello, responder) = s
        .responder
        .read_client_hello(&s.initiator.client_hello())
        .unwrap()
        .write_server_hello();
    let (finish, _) = s
        .initiator
        .read_server_hello(&server_hello, &s.verifier, NOW)
        .unwrap()
        .write_client_finish(b"payload");
    let mut msg = HandshakeMessage::decode(&finish[..]).unwrap();
    edit(msg.client_finish.as_mut().unwrap());
    responder
        .read_client_finish(&msg.encode_to_vec())
        .unwrap_err()
}

#[test]
fn tampered_client_static_fails_authentication() {
    assert_eq!(
        finish_with(|f| flip(&mut f.r#static)),
        HandshakeError::Decrypt("client static key")
    );
}

#[test]
fn tampered_client_payload_fails_authentication() {
    assert_eq!(
        finish_with(|f| flip(&mut f.payload)),
        HandshakeError::Decrypt("client payload")
    );
}

#[test]
fn client_finish_without_payload_is_rejected() {
    assert_eq!(
        finish_with(|f| f.payload = None),
        HandshakeError::MissingField("clientFinish.payload")
    );
}

#[test]
fn tampered_transport_frame_is_a_typed_error() {
    let (mut client, done) = complete(setup(14), b"p");
    let mut server = done.cipher;
    let mut frame = client.seal(b"\0<iq/>").unwrap();
    let last = frame.len() - 1;
    frame[last] ^= 0x80;
    assert_eq!(
        server.open(&frame),
        Err(TransportError::TagMismatch { counter: 0 })
    );
}
