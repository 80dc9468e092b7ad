//! Signal layer costs: steady-state 1:1 encrypt/decrypt of a 100-byte message, session
//! setup (bundle -> first pkmsg -> decrypt), and a group send to 1 and 256 devices
//! (one sender-key encrypt plus one pairwise encrypt of the SKDM per device).
//!
//! `cargo bench --bench signal`; the same work for libsignal-node: `interop/bench-signal.mjs`.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use wa_core::signal::{InMemorySignalStore, ProtocolAddress, SenderKeyName, group, session};

/// The in-memory store never waits, so one poll completes every call.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("in-memory store future pending"),
    }
}

const MESSAGE: [u8; 100] = [0x42; 100];

/// Two stores with an established session (one message each way), and their addresses.
fn established(
    rng: &mut StdRng,
) -> (
    InMemorySignalStore,
    ProtocolAddress,
    InMemorySignalStore,
    ProtocolAddress,
) {
    let alice = InMemorySignalStore::generate(rng);
    let bob = InMemorySignalStore::generate(rng);
    let (a, b) = (
        ProtocolAddress::new("1555000001", 1),
        ProtocolAddress::new("1555000002", 1),
    );
    connect(&alice, &bob, &a, &b, rng);
    (alice, a, bob, b)
}

fn connect(
    alice: &InMemorySignalStore,
    bob: &InMemorySignalStore,
    a: &ProtocolAddress,
    b: &ProtocolAddress,
    rng: &mut StdRng,
) {
    let bundle = bob.new_prekey_bundle(1, rng);
    run(session::process_prekey_bundle(alice, b, &bundle, rng)).unwrap();
    let m = run(session::encrypt(alice, b, b"hello")).unwrap();
    run(session::decrypt_prekey_message(bob, a, &m.bytes, rng)).unwrap();
    let r = run(session::encrypt(bob, a, b"hi")).unwrap();
    run(session::decrypt_message(alice, b, &r.bytes, rng)).unwrap();
}

fn one_to_one(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let (alice, _a, _bob, b) = established(&mut rng);
    let mut g = c.benchmark_group("signal");
    g.bench_function("encrypt_100B", |bench| {
        bench.iter(|| run(session::encrypt(&alice, &b, &MESSAGE)).unwrap())
    });
    // Decrypt needs Alice's next ciphertexts in order; batches are made untimed.
    let (alice, a2, bob2, b2) = established(&mut rng); // a fresh pair for in-order decrypts
    g.bench_function("decrypt_100B", |bench| {
        bench.iter_batched(
            || run(session::encrypt(&alice, &b2, &MESSAGE)).unwrap(),
            |m| {
                run(session::decrypt_message(
                    &bob2,
                    &a2,
                    &m.bytes,
                    &mut StdRng::seed_from_u64(2),
                ))
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("encrypt_decrypt_100B", |bench| {
        bench.iter(|| {
            let m = run(session::encrypt(&alice, &b2, &MESSAGE)).unwrap();
            run(session::decrypt_message(&bob2, &a2, &m.bytes, &mut rng)).unwrap()
        })
    });
    g.bench_function("session_setup", |bench| {
        let mut rng = StdRng::seed_from_u64(3);
        bench.iter_batched(
            || {
                let alice = InMemorySignalStore::generate(&mut rng);
                let bob = InMemorySignalStore::generate(&mut rng);
                let bundle = bob.new_prekey_bundle(1, &mut rng);
                (alice, bob, bundle)
            },
            |(alice, bob, bundle)| {
                let mut rng = StdRng::seed_from_u64(4);
                let (a, b) = (ProtocolAddress::new("1", 1), ProtocolAddress::new("2", 1));
                run(session::process_prekey_bundle(
                    &alice, &b, &bundle, &mut rng,
                ))
                .unwrap();
                let m = run(session::encrypt(&alice, &b, &MESSAGE)).unwrap();
                run(session::decrypt_prekey_message(
                    &bob, &a, &m.bytes, &mut rng,
                ))
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn group_send(c: &mut Criterion) {
    let mut g = c.benchmark_group("signal_group");
    for devices in [1usize, 256] {
        let mut rng = StdRng::seed_from_u64(5);
        let sender = InMemorySignalStore::generate(&mut rng);
        let me = ProtocolAddress::new("1555000001", 1);
        let peers: Vec<ProtocolAddress> = (0..devices)
            .map(|i| {
                let peer = InMemorySignalStore::generate(&mut rng);
                let addr = ProtocolAddress::new(format!("1555{i:06}"), 1);
                connect(&sender, &peer, &me, &addr, &mut rng);
                addr
            })
            .collect();
        let name = SenderKeyName::new("120363021033254949@g.us", me.clone());
        let skdm = run(group::create_distribution_message(&sender, &name, &mut rng))
            .unwrap()
            .encode();
        if devices == 1 {
            g.bench_function("sender_key_encrypt_100B", |bench| {
                bench.iter(|| run(group::encrypt(&sender, &name, &MESSAGE, &mut rng)).unwrap())
            });
        }
        g.bench_function(format!("send_100B_to_{devices}_devices"), |bench| {
            bench.iter(|| {
                let body = run(group::encrypt(&sender, &name, &MESSAGE, &mut rng)).unwrap();
                for peer in &peers {
                    run(session::encrypt(&sender, peer, &skdm)).unwrap();
                }
                body
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = one_to_one, group_send }
criterion_main!(benches);
