//! The README quick start, run against the real binary: `wasap serve --demo` prints the admin
//! key and URL; a device created over HTTP links by itself, a text to a demo contact is
//! delivered and its echo lands in the message log; after SIGTERM and a restart on the same
//! data directory the key stays valid (and is not printed again) and the device comes back.

mod common;

use std::time::Duration;

use common::serve::Gateway;
use serde_json::{Value, json};

async fn call(url: &str, key: &str, method: reqwest::Method, body: Option<Value>) -> (u16, Value) {
    let mut rb = reqwest::Client::new().request(method, url).bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn poll(what: &str, mut check: impl AsyncFnMut() -> Option<Value>) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `text` to the first demo contact and waits for delivery and the echo.
async fn send_and_get_echo(base: &str, key: &str, device: &str, text: &str) {
    let (s, m) = call(
        &format!("{base}/v1/devices/{device}/messages"),
        key,
        reqwest::Method::POST,
        Some(json!({ "to": "6281100000001", "text": text })),
    )
    .await;
    assert_eq!(s, 202, "{m}");
    let id = m["id"].as_str().unwrap().to_string();
    poll("delivered", async || {
        let (_, m) = call(
            &format!("{base}/v1/messages/{id}"),
            key,
            reqwest::Method::GET,
            None,
        )
        .await;
        (m["status"] == "delivered").then_some(m)
    })
    .await;
    let echo = poll("echo", async || {
        let (_, v) = call(
            &format!("{base}/v1/messages?device_id={device}&direction=in"),
            key,
            reqwest::Method::GET,
            None,
        )
        .await;
        v["data"]
            .as_array()?
            .iter()
            .find(|m| m["content"]["text"] == text)
            .cloned()
    })
    .await;
    assert_eq!(echo["from"], "6281100000001@s.whatsapp.net");
}

async fn wait_status(base: &str, key: &str, device: &str, status: &str) -> Value {
    poll(status, async || {
        let (_, d) = call(
            &format!("{base}/v1/devices/{device}"),
            key,
            reqwest::Method::GET,
            None,
        )
        .await;
        (d["status"] == status).then_some(d)
    })
    .await
}

/// Creates and connects a device; the demo links it. Returns its id and phone number.
async fn link_device(base: &str, key: &str, name: &str) -> (String, String) {
    let (s, dev) = call(
        &format!("{base}/v1/devices"),
        key,
        reqwest::Method::POST,
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(s, 201, "{dev}");
    let device = dev["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        &format!("{base}/v1/devices/{device}/connect"),
        key,
        reqwest::Method::POST,
        None,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let online = wait_status(base, key, &device, "online").await;
    let phone = online["phone"].as_str().unwrap().to_string();
    assert!(phone.starts_with("62812"), "{online}");
    (device, phone)
}

/// What the event stream holds so far (read until it stays quiet briefly).
async fn sse(base: &str, key: &str) -> String {
    use futures_util::StreamExt;
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/events"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut body = String::new();
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_millis(500), stream.next()).await
    {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_start_demo_links_sends_echoes_and_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("wasap-serve-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gw = Gateway::start(&dir);
    let key = gw
        .admin_key
        .clone()
        .expect("first start prints the admin key");
    let base = gw.url.clone();

    // A device that is logged out before the restart takes the first demo number along.
    let first = link_device(&base, &key, "first").await;
    let (device, phone) = link_device(&base, &key, "shop").await;
    assert_ne!(phone, first.1);
    send_and_get_echo(&base, &key, &device, "hello from the quick start").await;
    let (s, v) = call(
        &format!("{base}/v1/devices/{}/logout", first.0),
        &key,
        reqwest::Method::POST,
        None,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    wait_status(&base, &key, &first.0, "logged_out").await;
    gw.terminate();

    let gw = Gateway::start(&dir);
    assert_eq!(
        gw.admin_key, None,
        "the key is printed only at the first start"
    );
    let base = gw.url.clone();
    let relinked = poll("online again", async || {
        let (s, d) = call(
            &format!("{base}/v1/devices/{device}"),
            &key,
            reqwest::Method::GET,
            None,
        )
        .await;
        assert_eq!(s, 200, "{d}");
        (d["status"] == "online").then_some(d)
    })
    .await;
    assert_eq!(
        relinked["phone"],
        phone.as_str(),
        "the demo phone number is kept"
    );
    // The sandbox kept its state: the device logged in again, it was not linked anew.
    let events = sse(&base, &key).await;
    let statuses: Vec<&str> = events
        .lines()
        .filter(|l| l.starts_with("data:") && l.contains(&device) && l.contains("device.status"))
        .filter_map(|l| l.split("\"status\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(
        statuses,
        ["qr_waiting", "online", "online"],
        "statuses of the device before and after the restart: {events}"
    );
    send_and_get_echo(&base, &key, &device, "still here after a restart").await;
    gw.terminate();

    // Without the sandbox state the old credentials are refused: the device is reported
    // logged out and linked again by itself, by the same demo phone.
    std::fs::remove_file(dir.join("sandbox.json")).unwrap();
    let gw = Gateway::start(&dir);
    let base = gw.url.clone();
    let relinked = poll("linked again", async || {
        let (_, d) = call(
            &format!("{base}/v1/devices/{device}"),
            &key,
            reqwest::Method::GET,
            None,
        )
        .await;
        (d["status"] == "online").then_some(d)
    })
    .await;
    assert_eq!(relinked["phone"], phone.as_str());
    let events = sse(&base, &key).await;
    assert!(
        events
            .lines()
            .any(|l| l.contains(&device) && l.contains("\"status\":\"logged_out\"")),
        "the refused login is reported: {events}"
    );
    send_and_get_echo(&base, &key, &device, "linked anew").await;
    gw.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}
