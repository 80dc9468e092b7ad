//! Noise transport and handshake costs: sealing and opening one frame at several sizes, and
//! a complete XX handshake (both roles, certificate verification included).

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use wa_core::crypto::KeyPair;
use wa_core::noise::{
    CertIssuer, CertValidity, CertVerifier, CipherState, NoiseInitiator, NoiseResponder, WA_INTRO,
};

const SIZES: [usize; 3] = [64, 1024, 64 * 1024];
const VALID: CertValidity = CertValidity {
    not_before: 0,
    not_after: u64::MAX,
};

fn transport(c: &mut Criterion) {
    let mut group = c.benchmark_group("noise_transport");
    for size in SIZES {
        let plaintext = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &plaintext, |b, pt| {
            let mut cipher = CipherState::new(&[1; 32]);
            b.iter(|| cipher.seal(black_box(pt)).unwrap());
        });
        let frame = CipherState::new(&[1; 32]).seal(&plaintext).unwrap();
        group.bench_with_input(BenchmarkId::new("open", size), &frame, |b, frame| {
            // Every iteration opens counter 0, as the frame was sealed; the fresh state (key
            // schedule) is built outside the timed section.
            b.iter_batched(
                || CipherState::new(&[1; 32]),
                |mut cipher| cipher.open(black_box(frame)).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn handshake(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let issuer = CertIssuer::new(
        KeyPair::generate(&mut rng),
        KeyPair::generate(&mut rng),
        1,
        VALID,
    );
    let server_static = KeyPair::generate(&mut rng);
    let chain = issuer.issue(&server_static.public, 2, VALID, &mut rng);
    let verifier = CertVerifier::with_root(issuer.root_public());
    let client_static = KeyPair::generate(&mut rng);
    let payload = vec![0u8; 200];
    c.bench_function("noise_handshake_round_trip", |b| {
        b.iter(|| {
            let initiator = NoiseInitiator::new(
                client_static.clone(),
                KeyPair::generate(&mut rng),
                &WA_INTRO,
            );
            let responder = NoiseResponder::new(
                server_static.clone(),
                KeyPair::generate(&mut rng),
                chain.clone(),
                &WA_INTRO,
            );
            let (hello, responder) = responder
                .read_client_hello(&initiator.client_hello())
                .unwrap()
                .write_server_hello();
            let (finish, _) = initiator
                .read_server_hello(&hello, &verifier, 1_750_000_000)
                .unwrap()
                .write_client_finish(&payload);
            black_box(responder.read_client_finish(&finish).unwrap())
        });
    });
}

criterion_group!(benches, transport, handshake);
criterion_main!(benches);
