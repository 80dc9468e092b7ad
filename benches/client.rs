//! wa-client through a `wasap sandbox` process on loopback:
//! 1. latency: one message at a time from client A to client B (send -> B's `Message` event);
//! 2. throughput: many messages in flight from A until B has them all;
//! 3. memory: 1,000 idle logged-in clients in this process (RSS delta / 1,000).
//!
//! `CARGO_TARGET_DIR=… cargo bench --bench client` (results in docs/bench/client.md).
//! Devices are registered through the sandbox control API's fast path (no QR round trip).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use prost::Message as _;
use serde_json::{Value, json};
use wasap::client::store::{Device, DeviceStore};
use wasap::client::{Client, Event, EventStream, MemoryStore};
use wasap::core::Jid;
use wasap::core::pair::{ClientConfig, CompanionKeys, registration_payload};

struct Server {
    child: Child,
    ws_url: String,
    control: String,
    root: [u8; 32],
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasap"))
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start wasap sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("discovery line");
    let d: Value = serde_json::from_str(&line).expect("discovery JSON");
    Server {
        child,
        ws_url: d["ws_url"].as_str().unwrap().to_owned(),
        control: d["control_url"].as_str().unwrap().to_owned(),
        root: hex::decode(d["root_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    }
}

fn post(control: &str, path: &str, body: &Value) -> Value {
    let addr = control.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}\n{body}");
    serde_json::from_str(body).expect("JSON body")
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A client whose device the sandbox registered directly for `number`.
async fn registered_client(server: &Server, number: &str, pre_keys: u32) -> Client {
    let keys = CompanionKeys::generate(&mut rand::rngs::OsRng);
    let payload = registration_payload(&keys, &ClientConfig::default()).encode_to_vec();
    let answer = post(
        &server.control,
        &format!("/phones/{number}/devices"),
        &json!({"payload": hex::encode(payload), "noise_public": hex::encode(keys.noise.public)}),
    );
    let jid: Jid = answer["device"].as_str().unwrap().parse().unwrap();
    let mut device = Device::new(keys);
    device.jid = Some(jid);
    device.account = Some(Vec::new());
    let store = MemoryStore::new();
    store.save_device(&device).await.unwrap();
    Client::builder(store)
        .ws_url(server.ws_url.clone())
        .root_key(server.root)
        .configure(|c| {
            c.initial_pre_keys = pre_keys;
            c.send_presence_on_connect = false;
        })
        .build()
}

async fn next_text(events: &mut EventStream) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
            Ok(Some(Event::Message(m))) => return m.text().unwrap_or_default().to_owned(),
            Ok(Some(_)) => {}
            other => panic!("no message: {other:?}"),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn messaging(server: &Server) {
    post(
        &server.control,
        "/phones",
        &json!({"number": "6289100000001"}),
    );
    post(
        &server.control,
        "/phones",
        &json!({"number": "6289100000002"}),
    );
    let alice = registered_client(server, "6289100000001", 100).await;
    let bob = registered_client(server, "6289100000002", 100).await;
    let mut bob_events = bob.events();
    alice.connect().await.unwrap();
    bob.connect().await.unwrap();
    alice.wait_connected(Duration::from_secs(30)).await.unwrap();
    bob.wait_connected(Duration::from_secs(30)).await.unwrap();
    let to = Jid::pn("6289100000002");

    // Warm-up: sessions, device lists.
    for i in 0..20 {
        alice.send_text(&to, &format!("warm {i}")).await.unwrap();
        next_text(&mut bob_events).await;
    }

    const LATENCY_N: usize = 500;
    let mut latencies = Vec::with_capacity(LATENCY_N);
    for i in 0..LATENCY_N {
        let start = Instant::now();
        alice.send_text(&to, &format!("l{i}")).await.unwrap();
        let got = next_text(&mut bob_events).await;
        latencies.push(start.elapsed());
        assert_eq!(got, format!("l{i}"));
    }
    latencies.sort();
    println!(
        "latency A->B over {LATENCY_N} sequential messages: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );

    const THROUGHPUT_N: usize = 5000;
    const IN_FLIGHT: usize = 64;
    let start = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let sender = {
        let alice = alice.clone();
        let to = to.clone();
        tokio::spawn(async move {
            let mut tasks = Vec::with_capacity(THROUGHPUT_N);
            for i in 0..THROUGHPUT_N {
                let permit = limit.clone().acquire_owned().await.unwrap();
                let (alice, to) = (alice.clone(), to.clone());
                tasks.push(tokio::spawn(async move {
                    alice.send_text(&to, &format!("t{i}")).await.unwrap();
                    drop(permit);
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        })
    };
    for _ in 0..THROUGHPUT_N {
        next_text(&mut bob_events).await;
    }
    let elapsed = start.elapsed();
    sender.await.unwrap();
    println!(
        "throughput A->B: {THROUGHPUT_N} messages ({IN_FLIGHT} in flight) in {elapsed:?} = {:.0} msg/s",
        THROUGHPUT_N as f64 / elapsed.as_secs_f64()
    );
    alice.disconnect().await;
    bob.disconnect().await;
}

async fn memory(server: &Server) {
    const CLIENTS: usize = 1000;
    const PER_PHONE: usize = 10;
    const PRE_KEYS: u32 = 30;
    for p in 0..CLIENTS / PER_PHONE {
        post(
            &server.control,
            "/phones",
            &json!({"number": format!("{}", 6289200000000u64 + p as u64)}),
        );
    }
    // Register first (key generation, HTTP) so the measurement holds only clients.
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let number = format!("{}", 6289200000000u64 + (i / PER_PHONE) as u64);
        clients.push(registered_client(server, &number, PRE_KEYS).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib();
    let start = Instant::now();
    for batch in clients.chunks(50) {
        for c in batch {
            c.connect().await.unwrap();
        }
        for c in batch {
            c.wait_connected(Duration::from_secs(60)).await.unwrap();
        }
    }
    let connect_time = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib();
    let per = (after.saturating_sub(before)) as f64 / CLIENTS as f64;
    println!(
        "memory: {CLIENTS} idle logged-in clients (MemoryStore, {PRE_KEYS} prekeys each) connected in {connect_time:?}; \
         RSS before {before} KiB, after {after} KiB: {per:.1} KiB per client"
    );
    for c in &clients {
        c.disconnect().await;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("client: benchmark");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = start_server();
    runtime.block_on(async {
        messaging(&server).await;
        memory(&server).await;
    });
}
