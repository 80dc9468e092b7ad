//! Webhook delivery of the real `wasap serve` binary, with a wa-sandbox as WhatsApp in this
//! process and sandbox phones sending real (encrypted) texts to the linked device:
//! - a receiver that is down while 500 messages arrive gets all of them once it is up, in
//!   per-chat order, with gap-free per-device sequence numbers;
//! - a gateway SIGKILLed in the middle of delivering loses nothing after a restart (a
//!   duplicate carries the same event id and body);
//! - receivers answering 500, or too slowly, are retried until the window closes; the dead
//!   letter is redelivered on request;
//! - SSE resumes after `Last-Event-ID` without loss;
//! - the Python verification snippet of docs/webhooks.md accepts every real delivery and
//!   rejects a tampered body and an old timestamp.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use wa_sandbox::{Phone, Sandbox, SandboxConfig};

const ADMIN: &str = "webhooks-e2e-admin-key-0123456789";

/// A directory removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wasap-webhooks-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `wasap serve` as a child process, connected to the test's sandbox.
struct Gateway {
    child: Child,
    base: String,
}

impl Gateway {
    fn start(data_dir: &Path, sandbox: &Sandbox, extra: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasap"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--webhooks-allow-private",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--wa-url")
            .arg(sandbox.ws_url())
            .arg("--wa-root-key")
            .arg(hex::encode(sandbox.root_public_key()))
            .args(extra)
            .env("WASAP_ADMIN_KEY", ADMIN)
            .env_remove("WASAP_DATABASE_URL")
            .env("WASAP_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("wasap runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("wasap printed its URL")
                .expect("stdout is text");
            if let Some(rest) = line.strip_prefix("Wasap gateway listening on ") {
                break rest.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Gateway { child, base }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill9(mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = self.child.wait();
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Subscribes `url` to `events`; returns the webhook id and its secret.
    async fn webhook_for(&self, url: &str, events: &[&str]) -> (String, String) {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/v1/webhooks",
                Some(json!({ "url": url, "events": events })),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        (
            v["id"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        )
    }

    /// Subscribes `url` to every event type.
    async fn webhook(&self, url: &str) -> (String, String) {
        self.webhook_for(url, &["*"]).await
    }

    /// Creates a device and lets `owner` scan its QR code.
    async fn link(&self, owner: &Phone) -> String {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/v1/devices",
                Some(json!({ "name": "shop" })),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let device = v["id"].as_str().unwrap().to_string();
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/devices/{device}/connect"),
                None,
            )
            .await;
        assert_eq!(s, 202, "{v}");
        let qr = poll("QR", 30, async || {
            let (s, v) = self
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/devices/{device}/qr"),
                    None,
                )
                .await;
            (s == 200).then(|| v["qr"].as_str().unwrap().to_string())
        })
        .await;
        owner.scan_qr(&qr).await.unwrap();
        self.wait_online(&device).await;
        device
    }

    async fn wait_online(&self, device: &str) {
        poll("device online", 60, async || {
            let (_, d) = self
                .call(reqwest::Method::GET, &format!("/v1/devices/{device}"), None)
                .await;
            (d["status"] == "online").then_some(())
        })
        .await;
    }

    /// How many inbound messages the gateway has stored.
    async fn inbound_count(&self) -> usize {
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/messages?direction=in&limit=200".to_string();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (s, v) = self.call(reqwest::Method::GET, &path, None).await;
            assert_eq!(s, 200, "{v}");
            n += v["data"].as_array().unwrap().len();
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return n,
            }
        }
    }

    /// `wasap_webhook_attempts_total{result="failed"}` of this process.
    async fn failed_attempts(&self) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("wasap_webhook_attempts_total{result=\"failed\"} "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the metric is exported")
    }

    async fn deliveries(&self, hook: &str, status: &str) -> Vec<Value> {
        let (s, v) = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/webhooks/{hook}/deliveries?status={status}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn poll<T>(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One delivery as the receiver saw it.
#[derive(Clone, Debug)]
struct Delivery {
    headers: HashMap<String, String>,
    body: Bytes,
    event: Value,
}

/// A local webhook receiver: answers `status` after `delay_ms`, records every request.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    fn new() -> Receiver {
        let r = Receiver::default();
        r.status.store(204, Ordering::SeqCst);
        r
    }

    async fn serve_on(&self, listener: tokio::net::TcpListener) {
        let me = self.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    let delay = me.delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    let status = me.status.load(Ordering::SeqCst);
                    if (200..300).contains(&status) {
                        let headers = headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let event = serde_json::from_slice(&body).unwrap();
                        me.got.lock().unwrap().push(Delivery {
                            headers,
                            body,
                            event,
                        });
                    }
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    async fn serve(&self) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        self.serve_on(l).await;
        addr
    }

    fn events(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.event.clone())
            .collect()
    }

    fn received_texts(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["type"] == "message.received")
            .map(|e| e["data"]["text"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Sends `count` texts to `owner`, round-robin from `senders`; text = "<sender>#<n>" where
/// `next[i]` counts the texts of sender `i`.
async fn send_texts(senders: &[Phone], owner: &Phone, next: &mut [usize], count: usize) {
    for i in 0..count {
        let k = i % senders.len();
        let phone = &senders[k];
        phone
            .send_text(&owner.jid(), &format!("{}#{}", phone.number(), next[k]))
            .await
            .unwrap();
        next[k] += 1;
    }
}

async fn sandbox_with_phones() -> (Sandbox, Phone, Vec<Phone>) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let owner = sandbox.create_phone("6281200000001").await.unwrap();
    let mut senders = Vec::new();
    for n in ["6281100000001", "6281100000002", "6281100000003"] {
        senders.push(sandbox.create_phone(n).await.unwrap());
    }
    (sandbox, owner, senders)
}

/// Checks per-chat order over first arrivals: the counter of each sender only goes up.
fn assert_per_chat_order(texts: &[String]) {
    let mut last: HashMap<&str, i64> = HashMap::new();
    let mut seen = BTreeSet::new();
    for t in texts {
        if !seen.insert(t.as_str()) {
            continue; // a duplicate after a crash
        }
        let (chat, n) = t.split_once('#').unwrap();
        let n: i64 = n.parse().unwrap();
        let prev = last.insert(chat, n).unwrap_or(-1);
        assert_eq!(n, prev + 1, "chat {chat}: {n} arrived after {prev}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_outage_and_gateway_sigkill_lose_no_webhook() {
    let dir = TempDir::new("outage");
    let (sandbox, owner, senders) = sandbox_with_phones().await;
    let retry = [
        "--webhook-retry-base-ms",
        "100",
        "--webhook-retry-max-ms",
        "500",
    ];
    let gw = Gateway::start(&dir.0, &sandbox, &retry);
    // The receiver's port is reserved but nobody listens: connections are refused.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (hook, _) = gw.webhook(&format!("http://{addr}/hook")).await;
    let device = gw.link(&owner).await;

    // 1. 500 texts from three phones while the receiver is down.
    let mut next = [0; 3];
    send_texts(&senders, &owner, &mut next, 500).await;
    poll("500 inbound messages stored", 180, async || {
        (gw.inbound_count().await == 500).then_some(())
    })
    .await;
    assert!(
        gw.failed_attempts().await > 0,
        "deliveries were attempted and failed while the receiver was down"
    );
    assert_eq!(gw.deliveries(&hook, "delivered").await.len(), 0);
    let receiver = Receiver::new();
    receiver
        .serve_on(tokio::net::TcpListener::bind(addr).await.unwrap())
        .await;
    poll("500 message.received delivered", 180, async || {
        (receiver.received_texts().len() >= 500).then_some(())
    })
    .await;
    let texts = receiver.received_texts();
    assert_eq!(texts.len(), 500, "each message once without a crash");
    assert_eq!(texts.iter().collect::<BTreeSet<_>>().len(), 500);
    assert_per_chat_order(&texts);
    let events = receiver.events();
    let seqs: Vec<i64> = events
        .iter()
        .filter(|e| e["device_id"] == device.as_str())
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "per-device sequence numbers arrive in order without a gap"
    );

    // 2. 150 more texts while the receiver fails; then it answers slowly and the gateway is
    // SIGKILLed in the middle of delivering them.
    receiver.status.store(503, Ordering::SeqCst);
    send_texts(&senders, &owner, &mut next, 150).await;
    poll("650 inbound messages stored", 120, async || {
        (gw.inbound_count().await == 650).then_some(())
    })
    .await;
    receiver.delay_ms.store(20, Ordering::SeqCst);
    receiver.status.store(200, Ordering::SeqCst);
    poll("some of the second batch delivered", 60, async || {
        (receiver.received_texts().len() >= 550).then_some(())
    })
    .await;
    gw.kill9();
    let before_kill = receiver.received_texts().len();
    assert!(before_kill < 650, "the kill came before the end");
    let gw = Gateway::start(&dir.0, &sandbox, &retry);
    gw.wait_online(&device).await;
    poll("every text delivered after the restart", 120, async || {
        let distinct: BTreeSet<String> = receiver.received_texts().into_iter().collect();
        (distinct.len() == 650).then_some(())
    })
    .await;
    assert_per_chat_order(&receiver.received_texts());
    // Duplicates are allowed, but as the same event: same id, same body.
    let mut by_id: HashMap<String, Bytes> = HashMap::new();
    let mut id_of_text: HashMap<String, String> = HashMap::new();
    for d in receiver.got.lock().unwrap().iter() {
        let id = d.event["id"].as_str().unwrap().to_string();
        assert_eq!(d.headers["webhook-id"], id);
        if let Some(prev) = by_id.insert(id.clone(), d.body.clone()) {
            assert_eq!(prev, d.body, "a redelivered event is the same event");
        }
        if d.event["type"] == "message.received" {
            let text = d.event["data"]["text"].as_str().unwrap().to_string();
            let prev = id_of_text.insert(text.clone(), id.clone());
            assert!(
                prev.is_none_or(|p| p == id),
                "{text} was announced under two event ids"
            );
        }
    }
    let seqs: BTreeSet<i64> = receiver
        .events()
        .iter()
        .filter(|e| e["device_id"] == device.as_str())
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    let max = *seqs.last().unwrap();
    assert_eq!(
        seqs,
        (1..=max).collect::<BTreeSet<_>>(),
        "no sequence number is missing after the crash"
    );
    drop(gw);
    sandbox.shutdown().await;
}

/// Reads `GET /v1/events` (after `last_event_id`) until `done` holds for the events read so
/// far; returns `(SSE id, event)` pairs.
async fn read_sse(
    gw: &Gateway,
    last_event_id: Option<i64>,
    done: impl Fn(&[(i64, Value)]) -> bool,
) -> Vec<(i64, Value)> {
    use futures_util::StreamExt;
    let mut rb = reqwest::Client::new()
        .get(format!("{}/v1/events", gw.base))
        .bearer_auth(ADMIN);
    if let Some(id) = last_event_id {
        rb = rb.header("Last-Event-ID", id.to_string());
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(&events) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the stream delivered what was expected in time")
            .expect("the stream stays open")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id:"));
            let data = block.lines().find_map(|l| l.strip_prefix("data:"));
            if let (Some(id), Some(data)) = (id, data) {
                events.push((
                    id.trim().parse().unwrap(),
                    serde_json::from_str(data.trim()).unwrap(),
                ));
            }
        }
    }
    events
}

fn sse_texts(events: &[(i64, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(_, e)| e["type"] == "message.received")
        .map(|(_, e)| e["data"]["text"].as_str().unwrap().to_string())
        .collect()
}

/// The first fenced block of `lang` in docs/webhooks.md.
fn doc_snippet(lang: &str) -> String {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/webhooks.md")).unwrap();
    let start = doc
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("docs/webhooks.md has a {lang} block"));
    let rest = &doc[start + lang.len() + 4..];
    rest[..rest.find("```").unwrap()].to_string()
}

/// Runs `program` with `script` (snippet + driver) on stdin-fed cases; returns its verdicts.
fn run_verifier(program: &str, script: &str, secret: &str, cases: &[Case]) -> Vec<bool> {
    use base64::Engine;
    use std::io::Write;
    let input = json!({
        "secret": secret,
        "cases": cases.iter().map(|(h, b)| json!({
            "headers": h,
            "body": base64::engine::general_purpose::STANDARD.encode(b),
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new(program)
        .args(if program == "python3" {
            ["-c", script]
        } else {
            ["-e", script]
        })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Headers and body of one delivery handed to a verifier.
type Case = (HashMap<String, String>, Vec<u8>);

const PYTHON_DRIVER: &str = r#"
import json, sys
_input = json.load(sys.stdin)
print(json.dumps([
    verify_webhook(_input["secret"], c["headers"], base64.b64decode(c["body"]))
    for c in _input["cases"]
]))
"#;

const NODE_DRIVER: &str = r#"
let _raw = '';
process.stdin.on('data', (d) => { _raw += d; });
process.stdin.on('end', () => {
  const input = JSON.parse(_raw);
  console.log(JSON.stringify(input.cases.map(
    (c) => verifyWebhook(input.secret, c.headers, Buffer.from(c.body, 'base64')))));
});
"#;

/// Real deliveries, each also tampered (body changed) and replayed (old timestamp, validly
/// re-signed): every real one must verify, no altered one may.
fn verifier_cases(secret: &str, real: &[Delivery]) -> (Vec<Case>, Vec<bool>) {
    let mut cases = Vec::new();
    let mut want = Vec::new();
    for d in real {
        cases.push((d.headers.clone(), d.body.to_vec()));
        want.push(true);
        let mut tampered = d.body.to_vec();
        let at = tampered.len() - 2;
        tampered[at] ^= 0x01;
        cases.push((d.headers.clone(), tampered));
        want.push(false);
        let old = d.headers["webhook-timestamp"].parse::<i64>().unwrap() - 600;
        let mut replayed = d.headers.clone();
        replayed.insert("webhook-timestamp".into(), old.to_string());
        replayed.insert(
            "webhook-signature".into(),
            wasap::server::webhooks::sign(secret, &d.headers["webhook-id"], old, &d.body),
        );
        cases.push((replayed, d.body.to_vec()));
        want.push(false);
    }
    (cases, want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receivers_are_retried_dead_lettered_and_redelivered_sse_resumes_and_the_documented_verifiers_accept_only_real_deliveries()
 {
    let dir = TempDir::new("dead");
    let (sandbox, owner, senders) = sandbox_with_phones().await;
    let gw = Gateway::start(
        &dir.0,
        &sandbox,
        &[
            "--webhook-retry-base-ms",
            "100",
            "--webhook-retry-max-ms",
            "300",
            "--webhook-retry-window-secs",
            "6",
        ],
    );
    let ok = Receiver::new();
    let failing = Receiver::new();
    failing.status.store(500, Ordering::SeqCst);
    let slow = Receiver::new();
    slow.delay_ms.store(2500, Ordering::SeqCst); // the gateway waits 2 s
    let (ok_hook, secret) = gw
        .webhook(&format!("http://{}/hook", ok.serve().await))
        .await;
    let (fail_hook, _) = gw
        .webhook_for(
            &format!("http://{}/hook", failing.serve().await),
            &["message.received"],
        )
        .await;
    let (slow_hook, _) = gw
        .webhook_for(
            &format!("http://{}/hook", slow.serve().await),
            &["message.received"],
        )
        .await;
    let satu = Receiver::new();
    let satu_url = format!("http://{}/hook", satu.serve().await);
    let (s, v) = gw
        .call(
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": satu_url, "events": ["message.received", "device.status"], "format": "satuapps" })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let satu_secret = v["secret"].as_str().unwrap().to_string();
    let device = gw.link(&owner).await;

    // A real inbound message; the healthy receiver gets it, the others fail until dead.
    senders[0]
        .send_text(&owner.jid(), "is my order on its way?")
        .await
        .unwrap();
    let event_id = poll("delivered to the healthy receiver", 30, async || {
        ok.events()
            .iter()
            .find(|e| e["type"] == "message.received")
            .map(|e| e["id"].as_str().unwrap().to_string())
    })
    .await;
    assert_eq!(gw.deliveries(&ok_hook, "dead").await.len(), 0);
    // The same message in SatuApps form (seed 000), with X-Device-Api-Key.
    let satu_msg = poll("SatuApps message", 30, async || {
        satu.got
            .lock()
            .unwrap()
            .iter()
            .find(|d| d.event["event"] == "message")
            .cloned()
    })
    .await;
    assert_eq!(satu_msg.headers["x-device-api-key"], satu_secret);
    // SatuApps names devices by number.
    let (_, linked) = gw
        .call(reqwest::Method::GET, &format!("/v1/devices/{device}"), None)
        .await;
    assert!(linked["number"].is_i64(), "{linked}");
    assert_eq!(
        satu_msg.event,
        json!({
            "event": "message", "device_id": linked["number"], "direction": "in",
            "from": format!("{}@s.whatsapp.net", senders[0].number()), "to": owner.number(),
            "type": "text", "message": "is my order on its way?",
            "timestamp": satu_msg.event["timestamp"], "message_id": satu_msg.event["message_id"],
        })
    );
    assert!(satu.events().iter().any(|e| e["event"] == "status"
        && e["status"] == "online"
        && e["phone_number"] == owner.number()));
    for (hook, error) in [
        (&fail_hook, "receiver answered 500"),
        (&slow_hook, "timeout"),
    ] {
        let dead = poll("dead letter", 60, async || {
            let dead = gw.deliveries(hook, "dead").await;
            dead.into_iter()
                .find(|d| d["event_id"] == event_id.as_str())
        })
        .await;
        let log = dead["attempt_log"].as_array().unwrap();
        assert!(log.len() >= 2, "retried before giving up: {dead}");
        assert!(log.iter().all(|a| a["error"] == error), "{dead}");
        assert_eq!(dead["attempts"], log.len());
    }
    assert!(failing.events().is_empty() && slow.events().is_empty());

    // Redelivery: one delivery by id, and all dead letters of a webhook.
    failing.status.store(204, Ordering::SeqCst);
    slow.delay_ms.store(0, Ordering::SeqCst);
    let dead = gw.deliveries(&fail_hook, "dead").await;
    let one = dead
        .iter()
        .find(|d| d["event_id"] == event_id.as_str())
        .unwrap();
    let (s, v) = gw
        .call(
            reqwest::Method::POST,
            &format!(
                "/v1/webhooks/{fail_hook}/deliveries/{}/redeliver",
                one["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!((s, &v["requeued"]), (202, &json!(1)), "{v}");
    let (s, v) = gw
        .call(
            reqwest::Method::POST,
            &format!("/v1/webhooks/{slow_hook}/redeliver"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert!(v["requeued"].as_u64().unwrap() >= 1, "{v}");
    for r in [&failing, &slow] {
        let got = poll("redelivered", 30, async || {
            r.got
                .lock()
                .unwrap()
                .iter()
                .find(|d| d.event["id"] == event_id.as_str())
                .cloned()
        })
        .await;
        assert_eq!(got.headers["webhook-id"], event_id);
        assert_eq!(got.event["data"]["text"], "is my order on its way?");
    }

    // SSE: a client reads up to the third of five texts, disconnects; five more arrive; it
    // resumes with Last-Event-ID and gets exactly what followed, with no position skipped.
    for i in 0..5 {
        senders[1]
            .send_text(&owner.jid(), &format!("sse#{i}"))
            .await
            .unwrap();
    }
    let first = read_sse(&gw, None, |ev| sse_texts(ev).contains(&"sse#4".to_string())).await;
    let (resume_at, _) = first
        .iter()
        .find(|(_, e)| e["data"]["text"] == "sse#2")
        .cloned()
        .unwrap();
    for i in 5..10 {
        senders[1]
            .send_text(&owner.jid(), &format!("sse#{i}"))
            .await
            .unwrap();
    }
    let resumed = read_sse(&gw, Some(resume_at), |ev| {
        sse_texts(ev).contains(&"sse#9".to_string())
    })
    .await;
    let ids: Vec<i64> = resumed.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (resume_at + 1..resume_at + 1 + ids.len() as i64).collect::<Vec<_>>(),
        "the stream resumes right after Last-Event-ID, with every position"
    );
    assert_eq!(
        sse_texts(&resumed),
        (3..10).map(|i| format!("sse#{i}")).collect::<Vec<_>>()
    );
    assert!(
        resumed
            .iter()
            .all(|(_, e)| e["device_id"] == device.as_str())
    );

    // The documented verifiers against every real delivery of the healthy receiver.
    poll("the healthy receiver got every text", 30, async || {
        (ok.received_texts().len() == 11).then_some(())
    })
    .await;
    let real: Vec<Delivery> = ok.got.lock().unwrap().clone();
    assert!(
        real.iter().any(|d| d.event["type"] == "device.status"),
        "device statuses are among the checked deliveries"
    );
    let (cases, want) = verifier_cases(&secret, &real);
    let python = format!("{}\n{PYTHON_DRIVER}", doc_snippet("python"));
    assert_eq!(run_verifier("python3", &python, &secret, &cases), want);
    if Command::new("node").arg("--version").output().is_ok() {
        let node = format!("{}\n{NODE_DRIVER}", doc_snippet("js"));
        assert_eq!(run_verifier("node", &node, &secret, &cases), want);
    } else {
        eprintln!("node not found: the Node snippet was not run");
    }
    drop(gw);
    sandbox.shutdown().await;
}

/// Benchmark (run with `--ignored --nocapture`): a backlog of `WASAP_BENCH_WEBHOOKS` (default
/// 2000) `message.received` events from sandbox texts, drained to a local receiver that
/// answers 204 at once; prints deliveries per second. docs/bench/webhooks.md has figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_webhook_deliveries_per_second() {
    let n: usize = std::env::var("WASAP_BENCH_WEBHOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = TempDir::new("bench");
    let (sandbox, owner, senders) = sandbox_with_phones().await;
    // Short retries: the receiver is down while the backlog builds up.
    let gw = Gateway::start(
        &dir.0,
        &sandbox,
        &[
            "--webhook-retry-base-ms",
            "50",
            "--webhook-retry-max-ms",
            "100",
        ],
    );
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _ = gw
        .webhook_for(&format!("http://{addr}/hook"), &["message.received"])
        .await;
    gw.link(&owner).await;
    let mut next = [0; 3];
    send_texts(&senders, &owner, &mut next, n).await;
    poll("backlog stored", 600, async || {
        (gw.inbound_count().await == n).then_some(())
    })
    .await;
    let receiver = Receiver::new();
    receiver
        .serve_on(tokio::net::TcpListener::bind(addr).await.unwrap())
        .await;
    let started = std::time::Instant::now();
    poll("backlog delivered", 600, async || {
        (receiver.received_texts().len() >= n).then_some(())
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "webhook deliveries: {n} in {secs:.2} s = {:.0}/s",
        n as f64 / secs
    );
    drop(gw);
    sandbox.shutdown().await;
}
