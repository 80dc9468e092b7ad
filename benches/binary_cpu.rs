//! WABinary decode and encode, ours against `wacore-binary` 0.7, timed in on-CPU time of the
//! benchmark thread (`/proc/thread-self/schedstat`), which stays meaningful on a loaded
//! machine where wall-clock (criterion) figures swing with the neighbours.
//!
//! Run: `cargo bench --bench binary_cpu` (Linux). Prints one row per stanza and operation:
//! nanoseconds per operation for each side (median of 5 rounds) and the ratio wacore / wasap
//! (above 1 means we are faster).

use std::hint::black_box;

use wacore_binary as wacore;
use wasap::core::binary;

#[path = "common/binary_stanzas.rs"]
mod stanzas;
use stanzas::{stanzas, to_wacore, to_wacore_strings, zlib};

/// Nanoseconds this thread has spent on a CPU.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat (Linux only)")
}

/// Median of five rounds, in on-CPU nanoseconds per call. The kernel refreshes the counter
/// at scheduler ticks, so each round runs for at least 200 ms of CPU time.
fn time(mut f: impl FnMut()) -> f64 {
    let mut iters: u64 = 64;
    loop {
        let start = cpu_ns();
        for _ in 0..iters {
            f();
        }
        if cpu_ns() - start >= 50_000_000 {
            break;
        }
        iters *= 2;
    }
    iters *= 4;
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let start = cpu_ns();
            for _ in 0..iters {
                f();
            }
            (cpu_ns() - start) as f64 / iters as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn row(name: &str, ours: f64, theirs: f64) {
    println!(
        "| {name} | {ours:.0} | {theirs:.0} | {:.2} |",
        theirs / ours
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let all = stanzas();
    let mut frames: Vec<(String, Vec<u8>)> = all
        .iter()
        .map(|(name, n)| (name.to_string(), binary::encode_frame(n).unwrap()))
        .collect();
    let zipped = zlib(&frames[3].1);
    frames.push(("zlib_notification".into(), zipped));
    let limits = binary::DecodeLimits::default();

    println!("| decode | wasap ns | wacore ns | wacore/wasap |");
    println!("|---|---|---|---|");
    let (mut sum_ours, mut sum_theirs) = (0.0, 0.0);
    for (name, frame) in &frames {
        let ours = time(|| {
            let body = binary::unpack(black_box(frame), &limits).unwrap();
            black_box(binary::decode(&body).unwrap().attrs.len());
        });
        let theirs = time(|| {
            let body = wacore::util::unpack(black_box(frame)).unwrap();
            black_box(wacore::marshal::unmarshal_ref(&body).unwrap().attrs.len());
        });
        row(name, ours, theirs);
        sum_ours += ours;
        sum_theirs += theirs;
    }
    row("**mix (sum)**", sum_ours, sum_theirs);

    println!();
    println!(
        "| encode | wasap ns | wacore ns (typed JIDs) | wacore/wasap | wacore ns (string attrs) | wacore/wasap |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut sum_ours, mut sum_typed, mut sum_strings) = (0.0, 0.0, 0.0);
    let mut buf = Vec::with_capacity(1 << 20);
    for (name, node) in &all {
        let typed = to_wacore(node);
        let strings = to_wacore_strings(node);
        // A fresh copy, allocated next to wacore's copies: the large payload is a pure
        // `memcpy`, whose speed depends on where the source buffer landed.
        let node = &node.clone();
        let ours = time(|| {
            buf.clear();
            buf.push(0);
            binary::encode(black_box(node), &mut buf).unwrap();
            black_box(buf.len());
        });
        let theirs_typed = time(|| {
            wacore::marshal::marshal_to_vec(black_box(&typed), &mut buf).unwrap();
            black_box(buf.len());
        });
        let theirs_strings = time(|| {
            wacore::marshal::marshal_to_vec(black_box(&strings), &mut buf).unwrap();
            black_box(buf.len());
        });
        println!(
            "| {name} | {ours:.0} | {theirs_typed:.0} | {:.2} | {theirs_strings:.0} | {:.2} |",
            theirs_typed / ours,
            theirs_strings / ours
        );
        sum_ours += ours;
        sum_typed += theirs_typed;
        sum_strings += theirs_strings;
    }
    println!(
        "| **mix (sum)** | {sum_ours:.0} | {sum_typed:.0} | {:.2} | {sum_strings:.0} | {:.2} |",
        sum_typed / sum_ours,
        sum_strings / sum_ours
    );
}
