//! Seed 000 (SatuApps) against the real `wasap serve --demo`, on SQLite and on PostgreSQL:
//! the seed's send-message request as written, every documented response field with its
//! type, the documented errors (401 unauthorized, 409 device_offline, 429 quota_exceeded, the
//! invalid_payload example), the rate limits (60/min per device, 20/min per key), the
//! profile's token balance, device numbers, and the webhook bodies.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use common::demo_gateway::{
    Db, DemoGateway, assert_like, poll, run_example, send, send_full, unix_ms,
};
use reqwest::Method;
use serde_json::{Value, json};

/// A demo contact that echoes every text.
const ECHO: &str = "6281100000001";

fn seed(text: &str) -> Value {
    serde_json::from_str(text).expect("seed example is JSON")
}

// The examples of seed 000, as written there.
const SEND_REQUEST: &str = r#"{
  "to": "6281234567890",
  "message": "Halo, ini pesan otomatis.",
  "reference_id": "INV-23001",
  "media": {
    "type": "image",
    "url": "https://example.com/invoice.png",
    "caption": "Invoice terbaru"
  }
}"#;
const SEND_RESPONSE: &str = r#"{
  "status": "queued",
  "device_id": 12,
  "queued_at": "2025-11-18T12:46:05.233Z",
  "job_id": "send:12:bf8882f0-7d75-4c2c-94be-15f3b3341d90"
}"#;
const WEBHOOK_MESSAGE: &str = r#"{
  "event": "message",
  "device_id": 12,
  "direction": "in",
  "from": "6281234567890@s.whatsapp.net",
  "to": "6281111111111",
  "type": "text",
  "message": "Bisa bantu cek status order?",
  "timestamp": "2025-11-18T13:20:11.200Z",
  "message_id": "AB12CD34EF56"
}"#;
const WEBHOOK_STATUS: &str = r#"{
  "event": "status",
  "device_id": 12,
  "status": "offline",
  "phone_number": "6281111111111",
  "last_seen_at": "2025-11-18T12:59:44.000Z"
}"#;
const ERROR: &str = r#"{
  "error": "invalid_payload",
  "message": "Field message wajib diisi",
  "hint": "Pastikan body JSON berisi to & message",
  "request_id": "req-1ecf14d9c1f2"
}"#;

/// A gateway with one linked device and a key bound to it (send scope, as a SatuApps device
/// API key).
async fn linked(db: Db, extra: &[&str]) -> Option<(DemoGateway, Value, String)> {
    let gw = DemoGateway::start(db, extra)?;
    let device = gw.link_device("satuapps").await;
    let (_, key) = gw
        .create_key(&["messages:send"], device["id"].as_str())
        .await;
    Some((gw, device, key))
}

fn send_path(device: &Value) -> String {
    format!(
        "/api/wa/{}/send-message",
        device["number"].as_i64().unwrap()
    )
}

/// Asserts the SatuApps error shape with `status` and `error`, and that `request_id` is the
/// request's `x-request-id`.
async fn expect_error(rb: reqwest::RequestBuilder, status: u16, error: &str) -> Value {
    let (s, h, v) = send_full(rb).await;
    assert_eq!(s, status, "{v}");
    assert_like(&v, &seed(ERROR), &[]);
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(
        v["request_id"],
        h["x-request-id"].to_str().unwrap(),
        "request_id is the request's id"
    );
    v
}

async fn the_seed_request_queues_the_text_then_the_media_as_one_job(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let (s, v) = send(
        gw.request(Method::POST, &send_path(&device))
            .header("X-Device-Api-Key", &key)
            .header("Content-Type", "application/json")
            .body(SEND_REQUEST),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_like(&v, &seed(SEND_RESPONSE), &[]);
    let number = device["number"].as_i64().unwrap();
    assert_eq!(v["status"], "queued");
    assert_eq!(v["device_id"], number);
    let job = v["job_id"].as_str().unwrap();
    let msg_id = job
        .strip_prefix(&format!("send:{number}:"))
        .expect("job_id is send:<device>:<message id>");
    let queued_at = unix_ms(v["queued_at"].as_str().unwrap());
    let out = gw.outbound(device["id"].as_str().unwrap()).await;
    let mine: Vec<&Value> = out
        .iter()
        .filter(|m| m["reference_id"] == "INV-23001")
        .collect();
    assert_eq!(mine.len(), 2, "the text and the image: {out:?}");
    let text = mine.iter().find(|m| m["type"] == "text").unwrap();
    let image = mine.iter().find(|m| m["type"] == "image").unwrap();
    assert_eq!(text["id"], msg_id);
    assert_eq!(unix_ms(text["created_at"].as_str().unwrap()), queued_at);
    assert_eq!(text["content"]["text"], "Halo, ini pesan otomatis.");
    assert_eq!(text["chat"], "6281234567890@s.whatsapp.net");
    assert_eq!(image["content"]["url"], "https://example.com/invoice.png");
    assert_eq!(image["content"]["caption"], "Invoice terbaru");

    // The same request shape to a demo contact arrives.
    let text = "Halo, ini pesan otomatis ke kontak demo.";
    let (s, v) = send(
        gw.request(Method::POST, &send_path(&device))
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": ECHO, "message": text, "reference_id": "INV-23002" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    gw.wait_echo(device["id"].as_str().unwrap(), ECHO, text)
        .await;
}

async fn devices_are_named_by_number_or_id_and_numbers_are_never_reused(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let one = gw.link_device("one").await;
    let two = gw.create_device("two").await;
    assert_eq!(
        (one["number"].as_i64(), two["number"].as_i64()),
        (Some(1), Some(2))
    );
    let (s, v) = gw
        .admin(
            Method::DELETE,
            &format!("/v1/devices/{}", two["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let three = gw.create_device("three").await;
    assert_eq!(three["number"], 3, "{three}");
    let (_, key) = gw.create_key(&["messages:send"], None).await;
    for reference in ["1", one["id"].as_str().unwrap()] {
        let text = format!("by reference {reference}");
        let (s, v) = send(
            gw.request(Method::POST, &format!("/api/wa/{reference}/send-message"))
                .header("X-Device-Api-Key", &key)
                .json(&json!({ "to": ECHO, "message": text })),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["device_id"], 1);
        gw.wait_echo(one["id"].as_str().unwrap(), ECHO, &text).await;
    }
    // An unbound key naming a device that does not exist.
    for missing in ["2", "99", "dev_missing"] {
        expect_error(
            gw.request(Method::POST, &format!("/api/wa/{missing}/send-message"))
                .header("X-Device-Api-Key", &key)
                .json(&json!({ "to": ECHO, "message": "x" })),
            404,
            "device_not_found",
        )
        .await;
    }
}

async fn auth_errors_are_401_unauthorized_and_403_forbidden(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let path = send_path(&device);
    let body = json!({ "to": ECHO, "message": "x" });
    let v = expect_error(
        gw.request(Method::POST, &path).json(&body),
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(v["message"], "API Key belum dikirim");
    let v = expect_error(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", "wsk_not_a_key")
            .json(&body),
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(v["message"], "API Key salah");
    // A device's key does not work on another device's path.
    let other = gw.link_device("other").await;
    let v = expect_error(
        gw.request(Method::POST, &send_path(&other))
            .header("X-Device-Api-Key", &key)
            .json(&body),
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(v["message"], "API Key tidak terhubung dengan device ini");
    // Nor on a device that does not exist (its existence is not revealed).
    expect_error(
        gw.request(Method::POST, "/api/wa/99/send-message")
            .header("X-Device-Api-Key", &key)
            .json(&body),
        401,
        "unauthorized",
    )
    .await;
    // A key without messages:send.
    let (_, reader) = gw
        .create_key(&["credits:read"], device["id"].as_str())
        .await;
    expect_error(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", &reader)
            .json(&body),
        403,
        "forbidden",
    )
    .await;
    // The same key as a Bearer token works too.
    let (s, v) = send(
        gw.request(Method::POST, &path)
            .bearer_auth(&key)
            .json(&body),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

async fn invalid_payloads_answer_the_seed_error_example(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let path = send_path(&device);
    // The seed's example: no message.
    let v = expect_error(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": "6281234567890" })),
        400,
        "invalid_payload",
    )
    .await;
    assert_eq!(v["message"], "Field message wajib diisi");
    assert_eq!(v["hint"], "Pastikan body JSON berisi to & message");
    for (body, message) in [
        (json!({ "message": "x" }), "Field to wajib diisi"),
        (
            json!({ "to": ECHO, "message": "  " }),
            "Field message wajib diisi",
        ),
        (json!("to"), "Body harus berupa JSON object"),
    ] {
        let v = expect_error(
            gw.request(Method::POST, &path)
                .header("X-Device-Api-Key", &key)
                .json(&body),
            400,
            "invalid_payload",
        )
        .await;
        assert_eq!(v["message"], message);
    }
    for body in [
        json!({ "to": "halo", "message": "x" }),
        json!({ "to": ECHO, "message": "x", "media": "https://example.com/a.png" }),
        json!({ "to": ECHO, "message": "x", "media": { "type": "sticker", "url": "https://example.com/a.png" } }),
        json!({ "to": ECHO, "message": "x", "media": { "type": "image" } }),
        json!({ "to": ECHO, "message": "x", "media": { "url": "http://127.0.0.1.nip.invalid:99999/x" } }),
        json!({ "to": ECHO, "message": "x", "reference_id": "" }),
    ] {
        expect_error(
            gw.request(Method::POST, &path)
                .header("X-Device-Api-Key", &key)
                .json(&body),
            400,
            "invalid_payload",
        )
        .await;
    }
    // Not JSON at all.
    expect_error(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", &key)
            .header("Content-Type", "application/json")
            .body("{to:"),
        400,
        "invalid_payload",
    )
    .await;
}

async fn a_device_that_is_not_online_is_409_device_offline(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let device = gw.create_device("never linked").await;
    let (_, key) = gw
        .create_key(&["messages:send"], device["id"].as_str())
        .await;
    let v = expect_error(
        gw.request(Method::POST, &send_path(&device))
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": ECHO, "message": "x" })),
        409,
        "device_offline",
    )
    .await;
    assert_eq!(v["message"], "Device belum online");
    assert!(gw.outbound(device["id"].as_str().unwrap()).await.is_empty());
}

async fn a_used_up_balance_is_429_quota_exceeded_and_the_ledger_has_every_debit(db: Db) {
    let Some((gw, device, key)) = linked(db, &["--price-per-message", "1"]).await else {
        return;
    };
    let (s, v) = gw
        .admin(
            Method::POST,
            "/v1/credits/grants",
            Some(json!({ "amount": 3 })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, profile_key) = gw.create_key(&["credits:read"], None).await;
    let balance = async || {
        let (s, p) = send(
            gw.request(Method::GET, "/api/profile")
                .bearer_auth(&profile_key),
        )
        .await;
        assert_eq!(s, 200, "{p}");
        p["token_balance"].as_i64().unwrap()
    };
    assert_eq!(balance().await, 3);
    let path = send_path(&device);
    let (s, v) = send(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": ECHO, "message": "paid with one credit" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(balance().await, 2);
    // Text and media are two messages: two credits.
    let (s, v) = send(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", &key)
            .header("Content-Type", "application/json")
            .body(SEND_REQUEST),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(balance().await, 0);
    let v = expect_error(
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": ECHO, "message": "no credit left" })),
        429,
        "quota_exceeded",
    )
    .await;
    assert_eq!(v["message"], "Kuota paket habis");
    // Nothing was queued for the refused request; the ledger holds the grant and 3 debits.
    let out = gw.outbound(device["id"].as_str().unwrap()).await;
    assert_eq!(out.len(), 3, "{out:?}");
    let (_, ledger) = gw.admin(Method::GET, "/v1/credits/ledger", None).await;
    let kinds: Vec<&str> = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["debit", "debit", "debit", "grant"], "{ledger}");
    gw.wait_echo(device["id"].as_str().unwrap(), ECHO, "paid with one credit")
        .await;
}

/// Sends requests until one is refused with 429 and returns how many passed before it, with
/// the refusal's headers and body. The bucket holds `budget` requests and refills at
/// `per_minute`: the count must be `budget` plus at most what refilled meanwhile, so a slow
/// machine cannot make the check flaky.
async fn until_limited(
    budget: u64,
    per_minute: u64,
    mut request: impl AsyncFnMut() -> (u16, reqwest::header::HeaderMap, Value),
) -> (u64, reqwest::header::HeaderMap, Value) {
    let started = std::time::Instant::now();
    let mut accepted = 0;
    loop {
        let (s, h, v) = request().await;
        if s == 429 {
            let refilled = (started.elapsed().as_secs_f64() * per_minute as f64 / 60.0).ceil();
            assert!(
                accepted <= budget + refilled as u64,
                "{accepted} passed, budget {budget} + {refilled} refilled"
            );
            return (accepted, h, v);
        }
        assert!(s == 200 || s == 400, "request {accepted}: {s} {v}");
        accepted += 1;
        assert!(accepted <= budget * 4, "the limit never held");
    }
}

async fn the_device_rate_limit_is_60_per_minute_with_retry_after(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let other = gw.link_device("other").await;
    let (_, other_key) = gw
        .create_key(&["messages:send"], other["id"].as_str())
        .await;
    // Invalid bodies cost no message, but they count as requests.
    let attempt = |path: String, key: String| {
        gw.request(Method::POST, &path)
            .header("X-Device-Api-Key", key)
            .json(&json!({ "to": ECHO }))
    };
    let (accepted, h, v) = until_limited(60, 60, async || {
        send_full(attempt(send_path(&device), key.clone())).await
    })
    .await;
    assert!(accepted >= 60, "{accepted}");
    assert_eq!(v["error"], "rate_limited");
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Another device has its own budget.
    let (s, v) = send(attempt(send_path(&other), other_key)).await;
    assert_eq!(s, 400, "{v}");
}

async fn the_profile_has_the_token_balance_and_a_limit_of_20_per_minute(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let device = gw.create_device("bound").await;
    let (s, v) = gw
        .admin(
            Method::POST,
            "/v1/credits/grants",
            Some(json!({ "amount": 120, "bucket": "allowance" })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (key_id, key) = gw
        .create_key(&["credits:read"], device["id"].as_str())
        .await;
    let (s, p) = send(gw.request(Method::GET, "/api/profile").bearer_auth(&key)).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        p,
        json!({
            "id": key_id, "name": "compat test", "token_balance": 120,
            "balances": { "allowance": 120, "rollover": 0, "topup": 0 },
            "price_per_message": 0, "device_id": device["number"],
        })
    );
    // The first request above counts: 19 more pass, then the limit holds.
    let (accepted, h, v) = until_limited(19, 20, async || {
        send_full(gw.request(Method::GET, "/api/profile").bearer_auth(&key)).await
    })
    .await;
    assert!(accepted >= 19, "{accepted}");
    assert_eq!(v["error"], "rate_limited");
    assert!(h.contains_key("retry-after"));
    // Per key: another key is not limited by this one.
    let (_, other) = gw.create_key(&["credits:read"], None).await;
    let (s, v) = send(gw.request(Method::GET, "/api/profile").bearer_auth(&other)).await;
    assert_eq!(s, 200, "{v}");
    // Auth rules.
    let (_, sender) = gw.create_key(&["messages:send"], None).await;
    expect_error(
        gw.request(Method::GET, "/api/profile").bearer_auth(&sender),
        403,
        "forbidden",
    )
    .await;
    expect_error(gw.request(Method::GET, "/api/profile"), 401, "unauthorized").await;
}

async fn the_rate_limits_are_configurable(db: Db) {
    let Some((gw, device, key)) = linked(
        db,
        &["--satuapps-device-rate", "3", "--satuapps-user-rate", "2"],
    )
    .await
    else {
        return;
    };
    for _ in 0..3 {
        let (s, _) = send(
            gw.request(Method::POST, &send_path(&device))
                .header("X-Device-Api-Key", &key)
                .json(&json!({ "to": ECHO })),
        )
        .await;
        assert_eq!(s, 400);
    }
    expect_error(
        gw.request(Method::POST, &send_path(&device))
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": ECHO })),
        429,
        "rate_limited",
    )
    .await;
    let (_, reader) = gw.create_key(&["credits:read"], None).await;
    for _ in 0..2 {
        let (s, _) = send(gw.request(Method::GET, "/api/profile").bearer_auth(&reader)).await;
        assert_eq!(s, 200);
    }
    expect_error(
        gw.request(Method::GET, "/api/profile").bearer_auth(&reader),
        429,
        "rate_limited",
    )
    .await;
}

/// What a webhook receiver got: each body with its X-Device-Api-Key header.
type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A webhook receiver that records every delivery.
async fn receiver() -> (SocketAddr, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let sink = sink.clone();
        async move {
            let key = headers
                .get("x-device-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
            sink.lock().unwrap().push((key, v));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, got)
}

async fn webhooks_carry_the_device_number_in_the_seed_shapes(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let (addr, got) = receiver().await;
    let device = gw.create_device("hooked").await;
    let id = device["id"].as_str().unwrap().to_string();
    let number = device["number"].as_i64().unwrap();
    let (s, hook) = gw
        .admin(
            Method::POST,
            "/v1/webhooks",
            Some(json!({
                "url": format!("http://{addr}/satuapps"), "events": ["message.received", "device.status"],
                "device_id": id, "format": "satuapps",
            })),
        )
        .await;
    assert_eq!(s, 201, "{hook}");
    gw.admin(Method::POST, &format!("/v1/devices/{id}/connect"), None)
        .await;
    let online = gw.wait_status(&id, "online").await;
    let (_, key) = gw.create_key(&["messages:send"], Some(&id)).await;
    let text = "Bisa bantu cek status order?";
    let (s, v) = send(
        gw.request(Method::POST, &format!("/api/wa/{number}/send-message"))
            .header("X-Device-Api-Key", &key)
            .json(&json!({ "to": ECHO, "message": text })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (header, message) = poll("the message webhook", async || {
        got.lock()
            .unwrap()
            .iter()
            .find(|(_, b)| b["event"] == "message")
            .cloned()
    })
    .await;
    assert_like(&message, &seed(WEBHOOK_MESSAGE), &[]);
    assert_eq!(message["device_id"], number);
    assert_eq!(message["from"], format!("{ECHO}@s.whatsapp.net").as_str());
    assert_eq!(message["to"], online["phone"]);
    assert_eq!(message["message"], text);
    assert!(header.is_some(), "X-Device-Api-Key identifies the sender");
    let status = poll("the online status webhook", async || {
        got.lock()
            .unwrap()
            .iter()
            .find(|(_, b)| b["event"] == "status" && b["status"] == "online")
            .map(|(_, b)| b.clone())
    })
    .await;
    assert_like(&status, &seed(WEBHOOK_STATUS), &[]);
    assert_eq!(status["device_id"], number);
    assert_eq!(status["phone_number"], online["phone"]);
}

async fn the_satuapps_migration_example_runs_against_the_demo(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let out = run_example(&gw, "python3", "examples/compat/satuapps.py");
    assert!(out.contains("\"status\":\"queued\""), "{out}");
    assert!(out.contains("echo received"), "{out}");
}

on_both_databases!(
    the_seed_request_queues_the_text_then_the_media_as_one_job,
    devices_are_named_by_number_or_id_and_numbers_are_never_reused,
    auth_errors_are_401_unauthorized_and_403_forbidden,
    invalid_payloads_answer_the_seed_error_example,
    a_device_that_is_not_online_is_409_device_offline,
    a_used_up_balance_is_429_quota_exceeded_and_the_ledger_has_every_debit,
    the_device_rate_limit_is_60_per_minute_with_retry_after,
    the_profile_has_the_token_balance_and_a_limit_of_20_per_minute,
    the_rate_limits_are_configurable,
    webhooks_carry_the_device_number_in_the_seed_shapes,
    the_satuapps_migration_example_runs_against_the_demo,
);
