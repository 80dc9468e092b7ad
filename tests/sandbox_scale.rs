//! `wasap sandbox` holds 1,000 concurrent paired connections, each a real websocket +
//! Noise XX + login. Devices are registered through the control API's fast path (no QR
//! round trip); the server's RSS is read from /proc before and after connecting, and the
//! per-connection figure is printed (recorded in docs/bench/sandbox.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use wasap::core::binary::{Node, decode_frame, encode_frame};
use wasap::core::crypto::KeyPair;
use wasap::core::noise::{CertVerifier, FrameDecoder, FrameEncoder, NoiseInitiator, WA_INTRO};
use wasap::core::pair::{ClientConfig, CompanionKeys, login_payload, registration_payload};

const CONNECTIONS: usize = 1000;
const PHONES: usize = 100;

struct Server {
    child: Child,
    discovery: Value,
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
    let discovery: Value = serde_json::from_str(&line).expect("discovery JSON");
    Server { child, discovery }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A one-shot HTTP/1.1 JSON POST (the test needs nothing more).
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

struct Registered {
    number: u64,
    device: u32,
    noise: KeyPair,
}

async fn connect_and_login(
    ws_url: String,
    root: [u8; 32],
    dev: Arc<Registered>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = connect_async(ws_url).await.expect("connect");
    let mut framer = FrameEncoder::client(None).unwrap();
    let mut decoder = FrameDecoder::new();
    let init = NoiseInitiator::new(dev.noise.clone(), KeyPair::generate(&mut OsRng), &WA_INTRO);
    ws.send(Message::Binary(
        framer.encode(&init.client_hello()).unwrap().into(),
    ))
    .await
    .unwrap();
    let mut next = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| loop {
        if let Some(f) = decoder.next_frame().unwrap() {
            return f;
        }
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => decoder.push(&b),
            other => panic!("connection ended: {other:?}"),
        }
    };
    let hello = next(&mut ws).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let awaiting = init
        .read_server_hello(&hello, &CertVerifier::with_root(root), now)
        .expect("certificate chain verifies");
    let payload = login_payload(dev.number, dev.device, &ClientConfig::default()).encode_to_vec();
    let (finish, mut cipher) = awaiting.write_client_finish(&payload);
    ws.send(Message::Binary(framer.encode(&finish).unwrap().into()))
        .await
        .unwrap();
    let success = next(&mut ws).await;
    let node = decode_frame(&cipher.open(&success).unwrap()).unwrap();
    assert_eq!(node.tag.as_str(), "success", "{node:?}");
    // One ping round trip proves the connection is fully usable.
    let ping = Node::new("iq")
        .with_attr("id", "p1")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "get")
        .with_attr("xmlns", "w:p");
    let sealed = cipher.seal(&encode_frame(&ping).unwrap()).unwrap();
    ws.send(Message::Binary(framer.encode(&sealed).unwrap().into()))
        .await
        .unwrap();
    loop {
        let frame = next(&mut ws).await;
        let node = decode_frame(&cipher.open(&frame).unwrap()).unwrap();
        if node.attr("id") == Some("p1") {
            assert_eq!(node.attr("type"), Some("result"));
            break;
        }
    }
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_holds_1000_paired_connections() {
    let server = start_server();
    let pid = server.child.id();
    let ws_url = server.discovery["ws_url"].as_str().unwrap().to_owned();
    let control = server.discovery["control_url"].as_str().unwrap().to_owned();
    let root: [u8; 32] = hex::decode(server.discovery["root_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();

    let setup = Instant::now();
    let mut devices = Vec::with_capacity(CONNECTIONS);
    for p in 0..PHONES {
        let number = 6289000000000u64 + p as u64;
        post(&control, "/phones", &json!({"number": number.to_string()}));
        for _ in 0..CONNECTIONS / PHONES {
            let keys = CompanionKeys::generate(&mut OsRng);
            let payload = registration_payload(&keys, &ClientConfig::default()).encode_to_vec();
            let answer = post(
                &control,
                &format!("/phones/{number}/devices"),
                &json!({"payload": hex::encode(payload), "noise_public": hex::encode(keys.noise.public)}),
            );
            let device: wasap::core::binary::Jid =
                answer["device"].as_str().unwrap().parse().unwrap();
            devices.push(Arc::new(Registered {
                number,
                device: u32::from(device.device()),
                noise: keys.noise,
            }));
        }
    }
    let setup = setup.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    let start = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for dev in devices {
        let (url, limit) = (ws_url.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            connect_and_login(url, root, dev).await
        }));
    }
    let mut sockets = Vec::with_capacity(CONNECTIONS);
    for t in tasks {
        sockets.push(
            tokio::time::timeout(Duration::from_secs(120), t)
                .await
                .expect("connections within the time bound")
                .unwrap(),
        );
    }
    let connect_time = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    assert_eq!(sockets.len(), CONNECTIONS);
    let per_conn = (after.saturating_sub(before)) as f64 / CONNECTIONS as f64;
    println!(
        "sandbox scale: {CONNECTIONS} connections; setup {setup:?}; connect+login+ping {connect_time:?}; \
         server RSS before {before} KiB, after {after} KiB, {per_conn:.1} KiB per connection"
    );
    assert!(connect_time < Duration::from_secs(120));
    // Generous bound: small per-connection buffers keep this far below it.
    assert!(per_conn < 256.0, "{per_conn:.1} KiB per connection");
    drop(sockets);
}
