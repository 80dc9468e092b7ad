//! Crash safety of the real binary: `wasap sandbox` runs as its own process (the receiving
//! phone outlives the gateway), `wasap serve --pacing-ms 0` accepts a burst of 1,000 texts to
//! one phone and is SIGKILLed in the middle, then restarted on the same data directory. Every
//! message answered 202 must reach the phone exactly once as the phone shows it. A send that
//! was on the wire when the process died is repeated after the restart with the same WhatsApp
//! message id (the queue is at-least-once towards WhatsApp); like a real phone, the sandbox
//! phone drops the copy and counts it, so at most that one send (the queue sends one at a
//! time per device) is a wire duplicate, and no message gets a second id.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

const ADMIN: &str = "crash-test-admin-key-0123456789";
const OWNER: &str = "6281200000001";
const FRIEND: &str = "6281100000009";
const BURST: usize = 1000;
/// The gateway is killed once this many messages were accepted.
const KILL_AFTER: usize = 300;

/// A child process killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `wasap <args>` and returns it with the first stdout line matching `pick`.
fn spawn(args: &[&str], pick: impl Fn(&str) -> Option<String>) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasap"))
        .args(args)
        .env("WASAP_ADMIN_KEY", ADMIN)
        .env_remove("WASAP_DATABASE_URL")
        .env("WASAP_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("wasap runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = loop {
        let line = lines
            .next()
            .expect("wasap printed its address")
            .expect("stdout is text");
        if let Some(v) = pick(&line) {
            break v;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), found)
}

fn start_gateway(dir: &Path, ws_url: &str, root_key: &str) -> (Proc, String) {
    spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
            "--wa-url",
            ws_url,
            "--wa-root-key",
            root_key,
            "--pacing-ms",
            "0",
        ],
        |l| {
            l.strip_prefix("Wasap gateway listening on ")
                .map(|u| u.trim().to_string())
        },
    )
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut rb = http.request(method, url).bearer_auth(ADMIN);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
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

async fn wait_online(http: &reqwest::Client, base: &str, dev: &str) {
    poll("device online", 30, async || {
        let (_, d) = call(
            http,
            reqwest::Method::GET,
            &format!("{base}/v1/devices/{dev}"),
            None,
        )
        .await
        .ok()?;
        (d["status"] == "online").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_message_reaches_the_phone_exactly_once_across_a_sigkill() {
    let started = std::time::Instant::now();
    let dir = std::env::temp_dir().join(format!("wasap-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let http = reqwest::Client::new();

    let (_sandbox, discovery) = spawn(&["sandbox", "--listen", "127.0.0.1:0"], |l| {
        l.trim_start().starts_with('{').then(|| l.to_string())
    });
    let discovery: Value = serde_json::from_str(&discovery).unwrap();
    let ws_url = discovery["ws_url"].as_str().unwrap().to_string();
    let root_key = discovery["root_key"].as_str().unwrap().to_string();
    let control = discovery["control_url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    for number in [OWNER, FRIEND] {
        let (s, v) = call(
            &http,
            reqwest::Method::POST,
            &format!("{control}/phones"),
            Some(json!({ "number": number })),
        )
        .await
        .unwrap();
        assert_eq!(s, 200, "{v}");
    }

    let (gateway, base) = start_gateway(&dir, &ws_url, &root_key);
    let (s, d) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/v1/devices"),
        Some(json!({ "name": "crash" })),
    )
    .await
    .unwrap();
    assert_eq!(s, 201, "{d}");
    let dev = d["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/v1/devices/{dev}/connect"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s, 202, "{v}");
    let qr = poll("QR", 30, async || {
        let (s, v) = call(
            &http,
            reqwest::Method::GET,
            &format!("{base}/v1/devices/{dev}/qr"),
            None,
        )
        .await
        .ok()?;
        (s == 200).then(|| v["qr"].as_str().unwrap().to_string())
    })
    .await;
    let (s, v) = call(
        &http,
        reqwest::Method::POST,
        &format!("{control}/phones/{OWNER}/scan"),
        Some(json!({ "qr": qr })),
    )
    .await
    .unwrap();
    assert_eq!(s, 200, "{v}");
    wait_online(&http, &base, &dev).await;

    // The burst: 16 connections; the gateway dies under it.
    // (message id, WhatsApp id) of every 202.
    let accepted: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let gateway = Arc::new(std::sync::Mutex::new(Some(gateway)));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (http, base, dev) = (http.clone(), base.clone(), dev.clone());
        let (accepted, count, next, killed, gateway) = (
            accepted.clone(),
            count.clone(),
            next.clone(),
            killed.clone(),
            gateway.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= BURST || killed.load(Ordering::SeqCst) {
                    return;
                }
                let sent = call(
                    &http,
                    reqwest::Method::POST,
                    &format!("{base}/v1/devices/{dev}/messages"),
                    Some(json!({ "to": FRIEND, "text": format!("burst {i}") })),
                )
                .await;
                match sent {
                    Ok((202, m)) => {
                        accepted.lock().unwrap().push(ids_of(&m));
                        if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                            killed.store(true, Ordering::SeqCst);
                            // Dropping the process handle sends SIGKILL.
                            gateway.lock().unwrap().take();
                        }
                    }
                    Ok((s, m)) => panic!("refused with {s}: {m}"),
                    // The gateway is gone: this one was never acknowledged.
                    Err(_) => return,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        killed.load(Ordering::SeqCst),
        "the gateway was never killed"
    );
    let before_restart = accepted.lock().unwrap().len();
    assert!(before_restart >= KILL_AFTER);

    // Restart on the same data directory; the rest of the burst goes to the new process.
    let (_gateway, base) = start_gateway(&dir, &ws_url, &root_key);
    wait_online(&http, &base, &dev).await;
    let from = next.load(Ordering::SeqCst).min(BURST);
    for i in from..BURST {
        let (s, m) = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/v1/devices/{dev}/messages"),
            Some(json!({ "to": FRIEND, "text": format!("burst {i}") })),
        )
        .await
        .unwrap();
        assert_eq!(s, 202, "{m}");
        accepted.lock().unwrap().push(ids_of(&m));
    }
    let accepted = accepted.lock().unwrap().clone();

    let received: HashMap<String, usize> =
        poll("every accepted message received", 90, async || {
            let counts = received_counts(&http, &control).await?;
            accepted
                .iter()
                .all(|(_, wa)| counts.contains_key(wa))
                .then_some(counts)
        })
        .await;
    let shown_twice: Vec<(&String, &usize)> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        shown_twice.is_empty(),
        "the phone shows messages more than once: {shown_twice:?}"
    );
    let (_, dup) = call(
        &http,
        reqwest::Method::GET,
        &format!("{control}/phones/{FRIEND}/duplicates"),
        None,
    )
    .await
    .unwrap();
    let wire_duplicates = dup["suppressed"].as_u64().expect("a duplicate count");
    assert!(
        wire_duplicates <= 1,
        "{wire_duplicates} sends repeated on the wire; only the one in flight at the SIGKILL may"
    );

    // The gateway's side: every message it holds (the accepted ones, plus any committed while
    // its 202 was lost in the kill) went out with the id it was given at accept time, and the
    // phone got exactly those ids: nothing was re-sent under a new id.
    let log = poll("the gateway marks every message sent", 30, async || {
        let log = gateway_log(&http, &base, &dev).await;
        log.values()
            .all(|(_, status)| ["sent", "delivered", "read"].contains(&status.as_str()))
            .then_some(log)
    })
    .await;
    for (id, wa) in &accepted {
        assert_eq!(log.get(id).map(|(w, _)| w), Some(wa), "message {id}");
    }
    let mut logged: Vec<&String> = log.values().map(|(wa, _)| wa).collect();
    logged.sort();
    let mut shown: Vec<&String> = received.keys().collect();
    shown.sort();
    assert_eq!(logged, shown, "the phone's ids differ from the gateway's");
    let mut unique: Vec<&String> = accepted.iter().map(|(_, wa)| wa).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        accepted.len(),
        "the gateway reused a WhatsApp id"
    );
    eprintln!(
        "accepted {} ({} before the SIGKILL, {} more committed without a 202), the phone shows {} messages once each; wire duplicates dropped by the phone: {}; in {:?}",
        accepted.len(),
        before_restart,
        log.len() - accepted.len(),
        received.len(),
        wire_duplicates,
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(&dir);
}

/// (message id, WhatsApp id) of a 202 body.
fn ids_of(m: &Value) -> (String, String) {
    (
        m["id"].as_str().unwrap().to_string(),
        m["wa_message_id"].as_str().unwrap().to_string(),
    )
}

/// How often the phone shows each message id.
async fn received_counts(http: &reqwest::Client, control: &str) -> Option<HashMap<String, usize>> {
    let (_, list) = call(
        http,
        reqwest::Method::GET,
        &format!("{control}/phones/{FRIEND}/received"),
        None,
    )
    .await
    .ok()?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in list.as_array()? {
        *counts.entry(m["id"].as_str()?.to_string()).or_default() += 1;
    }
    Some(counts)
}

/// Every outbound message of `dev` in the gateway's log: id -> (WhatsApp id, status).
async fn gateway_log(
    http: &reqwest::Client,
    base: &str,
    dev: &str,
) -> HashMap<String, (String, String)> {
    let mut log = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/messages?device_id={dev}&direction=out&limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (s, page) = call(http, reqwest::Method::GET, &url, None).await.unwrap();
        assert_eq!(s, 200, "{page}");
        for m in page["data"].as_array().unwrap() {
            let (id, wa) = ids_of(m);
            log.insert(id, (wa, m["status"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return log,
        }
    }
}
