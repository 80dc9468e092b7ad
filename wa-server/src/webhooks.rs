//! Webhook signing (Standard Webhooks) and the durable delivery worker: due deliveries are
//! sent in per-device order, every attempt is logged, failures back off exponentially with
//! jitter until the retry window closes, then the delivery becomes a dead letter.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::media::IpNetwork;
use crate::state::{AppState, Metrics};
use crate::util::{new_id, now_ms};

/// A fresh secret, `whsec_` + base64 of 24 random bytes.
pub fn generate_secret() -> String {
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    format!("whsec_{}", STANDARD.encode(b))
}

/// The HMAC key a secret stands for: the base64 payload of a `whsec_` secret, else its bytes.
pub fn secret_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&secret_key(secret)).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Receiver-side check: true when any `v1,` signature in `header` matches (constant time).
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let expected = sign(secret, id, timestamp, body);
    header
        .split(' ')
        .any(|sig| crate::util::ct_eq(sig.as_bytes(), expected.as_bytes()))
}

/// The HTTP client used for webhook delivery, under the same address policy as media.
pub fn client(
    allow: Vec<IpNetwork>,
    allow_private: bool,
    timeout: std::time::Duration,
) -> reqwest::Client {
    let allow: Vec<IpNetwork> = if allow_private {
        vec![
            "0.0.0.0/0".parse().expect("static"),
            "::/0".parse().expect("static"),
        ]
    } else {
        allow
    };
    crate::media::guarded_client(Arc::new(allow), timeout)
}

/// Event types a `format: "satuapps"` webhook can carry.
pub const SATUAPPS_EVENTS: &[&str] = &["message.received", "device.status"];

/// The SatuApps form of an event: `{"event": "message", …}` for an incoming message,
/// `{"event": "status", …}` for a device status; `None` for other types. `phone` is the
/// device's own number (the `to` of a message); `number` is the device's number, SatuApps'
/// integer `device_id` (the `dev_…` id is sent only for a device without one).
pub fn satuapps_payload(
    event: &serde_json::Value,
    phone: Option<&str>,
    number: Option<i64>,
) -> Option<serde_json::Value> {
    use serde_json::json;
    let data = &event["data"];
    let device_id = number.map_or_else(|| event["device_id"].clone(), Into::into);
    match event["type"].as_str()? {
        "message.received" => Some(json!({
            "event": "message",
            "device_id": device_id,
            "direction": "in",
            "from": data["from"],
            "to": phone,
            "type": data["type"],
            "message": data["text"].as_str().unwrap_or(""),
            "timestamp": data["timestamp"],
            "message_id": data["wa_message_id"],
        })),
        "device.status" => Some(json!({
            "event": "status",
            "device_id": device_id,
            "status": data["status"],
            "phone_number": data["phone"].as_str().or(phone),
            "last_seen_at": data.get("last_seen_at").filter(|v| v.is_string()).unwrap_or(&event["timestamp"]),
        })),
        _ => None,
    }
}

struct Due {
    id: String,
    webhook_id: String,
    event_pos: i64,
    attempts: i64,
    created_at: i64,
}

/// The (webhook, device) pairs with an attempt under way: their next delivery waits, so
/// per-device order holds, while other pairs go ahead (a slow receiver holds back only
/// itself).
type InFlight = Arc<Mutex<HashSet<(String, String)>>>;

/// Runs until shutdown: delivers due webhook deliveries.
pub async fn run(state: AppState) {
    let cfg = state.config.webhooks.clone();
    let http = client(
        state.config.media.allow.clone(),
        cfg.allow_private_targets,
        cfg.timeout,
    );
    let inflight = InFlight::default();
    loop {
        if state.stopping.load(Ordering::SeqCst) {
            break;
        }
        // Every attempt started wakes this loop when it is done, so there is nothing to
        // look for until then (or until a new event or the poll interval).
        if let Err(e) = round(&state, &http, &inflight).await {
            tracing::warn!(error = %e, "webhook round failed");
        }
        tokio::select! {
            _ = state.webhook_wake.notified() => {}
            _ = tokio::time::sleep(cfg.poll_interval) => {}
            _ = state.stopped() => break,
        }
    }
    // Let attempts under way record their outcome (bounded by the receiver timeout).
    let deadline = Instant::now() + cfg.timeout + std::time::Duration::from_secs(1);
    while !lock(&inflight).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn lock(inflight: &InFlight) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
    inflight.lock().unwrap_or_else(|p| p.into_inner())
}

/// One pass: starts an attempt for the first due delivery of every (webhook, device) pair
/// that has none under way.
async fn round(
    state: &AppState,
    http: &reqwest::Client,
    inflight: &InFlight,
) -> Result<(), sqlx::Error> {
    // Taken before the query: an attempt that finishes after this snapshot committed its
    // outcome before leaving the set, so the query below cannot see it as still pending.
    let busy = lock(inflight).clone();
    let now = now_ms();
    type Row = (String, String, i64, String, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, webhook_id, event_pos, device_id, attempts, created_at FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY event_pos LIMIT 200",
    )
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    let mut seen = HashSet::new();
    for (id, webhook_id, event_pos, device_id, attempts, created_at) in rows {
        let key = (webhook_id.clone(), device_id.clone());
        if busy.contains(&key) || !seen.insert(key.clone()) {
            continue;
        }
        // Per-device order: an earlier pending delivery (backing off) blocks later ones.
        let (earlier,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 AND device_id = $2 AND status = 'pending' AND event_pos < $3",
        )
        .bind(&webhook_id)
        .bind(&device_id)
        .bind(event_pos)
        .fetch_one(&state.db.pool)
        .await?;
        if earlier != 0 {
            continue;
        }
        lock(inflight).insert(key.clone());
        let due = Due {
            id,
            webhook_id,
            event_pos,
            attempts,
            created_at,
        };
        let (state, http, inflight) = (state.clone(), http.clone(), inflight.clone());
        tokio::spawn(async move {
            if let Err(e) = attempt(&state, &http, due).await {
                tracing::warn!(error = %e, "recording a webhook attempt failed");
            }
            lock(&inflight).remove(&key);
            state.webhook_wake.notify_one();
        });
    }
    Ok(())
}

async fn attempt(state: &AppState, http: &reqwest::Client, d: Due) -> Result<(), sqlx::Error> {
    let cfg = &state.config.webhooks;
    let hook: Option<(String, String, String, String)> =
        sqlx::query_as("SELECT url, secret, headers, format FROM webhooks WHERE id = $1")
            .bind(&d.webhook_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let event: Option<(String, String)> =
        sqlx::query_as("SELECT id, payload FROM events WHERE pos = $1")
            .bind(d.event_pos)
            .fetch_optional(&state.db.pool)
            .await?;
    let (Some((url, secret, headers, format)), Some((event_id, payload))) = (hook, event) else {
        sqlx::query("UPDATE webhook_deliveries SET status = 'dead', last_error = 'webhook or event deleted', updated_at = $2 WHERE id = $1")
            .bind(&d.id)
            .bind(now_ms())
            .execute(&state.db.pool)
            .await?;
        return Ok(());
    };
    let satuapps = format == "satuapps";
    let payload = if satuapps {
        let device: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT d.phone, d.number FROM devices d JOIN webhook_deliveries w ON w.device_id = d.id WHERE w.id = $1",
        )
        .bind(&d.id)
        .fetch_optional(&state.db.pool)
        .await?;
        let (phone, number) = device.unwrap_or((None, None));
        serde_json::from_str(&payload)
            .ok()
            .and_then(|e| satuapps_payload(&e, phone.as_deref(), number))
            .map(|v| v.to_string())
            .unwrap_or(payload)
    } else {
        payload
    };
    let ts = now_ms() / 1000;
    let body = payload.into_bytes();
    let mut req = http
        .post(&url)
        .header("content-type", "application/json")
        .header("webhook-id", &event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sign(&secret, &event_id, ts, &body))
        .header("user-agent", "wasap-webhooks/0.1");
    let extra: Vec<(String, String)> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&headers)
            .map(|m| {
                m.into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
    if satuapps
        && !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-device-api-key"))
    {
        // SatuApps receivers check this header to know the sender; it carries the webhook's
        // secret (the gateway keeps API keys only as hashes). A configured header wins.
        req = req.header("x-device-api-key", &secret);
    }
    for (k, v) in extra {
        req = req.header(k, v);
    }
    let started = Instant::now();
    let outcome = req.body(body).send().await;
    let latency = started.elapsed().as_millis() as i64;
    let (code, error) = match outcome {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i64), None),
        Ok(r) => (
            Some(r.status().as_u16() as i64),
            Some(format!("receiver answered {}", r.status().as_u16())),
        ),
        Err(e) if e.is_timeout() => (None, Some("timeout".to_string())),
        Err(e) => (
            None,
            Some(format!("connection failed: {}", e.without_url())),
        ),
    };
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    sqlx::query("INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(new_id("att"))
        .bind(&d.id)
        .bind(now)
        .bind(code)
        .bind(latency)
        .bind(error.clone())
        .execute(&mut *tx)
        .await?;
    let attempts = d.attempts + 1;
    if error.is_none() {
        Metrics::inc(&state.metrics.webhook_ok);
        sqlx::query("UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_status_code = $3, last_error = NULL, updated_at = $4 WHERE id = $1")
            .bind(&d.id)
            .bind(attempts)
            .bind(code)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    } else {
        Metrics::inc(&state.metrics.webhook_failed);
        let delay = crate::queue::backoff(cfg.retry_base, cfg.retry_max, attempts as u32)
            .as_millis() as i64;
        let dead = now + delay > d.created_at + cfg.retry_window.as_millis() as i64;
        if dead {
            Metrics::inc(&state.metrics.webhook_dead);
        }
        sqlx::query("UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6, updated_at = $7 WHERE id = $1")
            .bind(&d.id)
            .bind(if dead { "dead" } else { "pending" })
            .bind(attempts)
            .bind(now + delay)
            .bind(code)
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_standard_webhooks_construction() {
        // Independent computation: HMAC-SHA256 over "id.ts.body" with the decoded secret.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}");
        let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(
            sign(
                secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                b"{\"test\": 2432232314}"
            ),
            want
        );
    }

    /// The field names and JSON types of a SatuApps payload, for comparison with the seed.
    fn shape(v: &serde_json::Value) -> Vec<(String, &'static str)> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let t = match v {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "bool",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::Object(_) => "object",
                };
                (k.clone(), t)
            })
            .collect()
    }

    /// The seed's examples (shared/seeds/000), field by field.
    fn seed(v: serde_json::Value) -> Vec<(String, &'static str)> {
        shape(&v)
    }

    #[test]
    fn satuapps_message_has_the_fields_and_types_of_the_seed() {
        let event = serde_json::json!({
            "id": "evt_1", "type": "message.received", "device_id": "dev_1", "sequence": 3,
            "timestamp": "2025-11-18T13:20:11.400Z",
            "data": { "message_id": "msg_1", "wa_message_id": "AB12CD34EF56",
                "chat": "6281234567890@s.whatsapp.net", "from": "6281234567890@s.whatsapp.net",
                "push_name": null, "type": "text", "text": "Bisa bantu cek status order?",
                "media": null, "quoted": null, "mentions": [], "is_group": false,
                "timestamp": "2025-11-18T13:20:11.200Z" }
        });
        let got = satuapps_payload(&event, Some("6281111111111"), Some(12)).unwrap();
        let want = seed(serde_json::json!({
            "event": "message", "device_id": 12, "direction": "in",
            "from": "6281234567890@s.whatsapp.net", "to": "6281111111111", "type": "text",
            "message": "Bisa bantu cek status order?", "timestamp": "2025-11-18T13:20:11.200Z",
            "message_id": "AB12CD34EF56"
        }));
        assert_eq!(shape(&got), want);
        assert_eq!(got["message"], "Bisa bantu cek status order?");
        assert_eq!(got["message_id"], "AB12CD34EF56");
        assert_eq!(got["to"], "6281111111111");
        assert_eq!(got["device_id"], 12);
    }

    #[test]
    fn satuapps_status_has_the_fields_and_types_of_the_seed() {
        let event = serde_json::json!({
            "id": "evt_2", "type": "device.status", "device_id": "dev_1", "sequence": 4,
            "timestamp": "2025-11-18T12:59:44.000Z",
            "data": { "status": "offline", "phone": "6281111111111", "push_name": null }
        });
        let got = satuapps_payload(&event, None, Some(12)).unwrap();
        let want = seed(serde_json::json!({
            "event": "status", "device_id": 12, "status": "offline",
            "phone_number": "6281111111111", "last_seen_at": "2025-11-18T12:59:44.000Z"
        }));
        assert_eq!(shape(&got), want);
        assert_eq!(got["status"], "offline");
    }

    #[test]
    fn satuapps_has_no_form_for_other_events() {
        let event = serde_json::json!({ "type": "message.sent", "device_id": "dev_1", "data": {} });
        assert_eq!(satuapps_payload(&event, None, Some(1)), None);
    }

    #[test]
    fn satuapps_falls_back_to_the_device_id_without_a_number() {
        let event = serde_json::json!({ "type": "device.status", "device_id": "dev_1",
            "timestamp": "2025-11-18T12:59:44.000Z", "data": { "status": "online", "phone": null } });
        assert_eq!(
            satuapps_payload(&event, None, None).unwrap()["device_id"],
            "dev_1"
        );
    }

    #[test]
    fn verify_rejects_tampered_body_and_accepts_any_listed_signature() {
        let s = generate_secret();
        let sig = sign(&s, "evt_1", 10, b"{}");
        assert!(verify(&s, "evt_1", 10, b"{}", &format!("v1,bogus {sig}")));
        assert!(!verify(&s, "evt_1", 10, b"{ }", &sig));
        assert!(!verify(&s, "evt_1", 11, b"{}", &sig));
    }
}
