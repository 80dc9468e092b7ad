//! Messages: accept-then-queue, idempotency, status transitions from receipts, priorities,
//! scheduled sends, pacing, retries, offline buffering with expiry, and the message log.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN, Db, Harness, fast_config};
use reqwest::{Method, StatusCode};
use serde_json::json;
use wa_server::{OutboundContent, ReceiptKind, SendError, TransportEvent};

async fn accepted_message_is_stored_sent_then_follows_receipts(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let m = h
        .send(
            &dev,
            json!({ "to": "+62 812 000 111", "text": "halo", "reference_id": "order-7" }),
        )
        .await;
    assert_eq!(m["status"], "queued");
    assert_eq!(m["chat"], "62812000111@s.whatsapp.net");
    let id = m["id"].as_str().unwrap();
    let wa = m["wa_message_id"].as_str().unwrap().to_string();
    let sent = h.wait_status(id, "sent").await;
    assert_eq!(sent["reference_id"], "order-7");
    let rec = h.transport.sent();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].message.wa_message_id, wa);
    assert_eq!(rec[0].message.content, OutboundContent::Text("halo".into()));
    assert!(h.transport.receipt(&dev, &wa, ReceiptKind::Delivered));
    h.wait_status(id, "delivered").await;
    assert!(h.transport.receipt(&dev, &wa, ReceiptKind::Read));
    let read = h.wait_status(id, "read").await;
    assert!(read["delivered_at"].is_string() && read["read_at"].is_string());
    // A late delivered receipt does not move the status backwards.
    assert!(h.transport.receipt(&dev, &wa, ReceiptKind::Delivered));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.message(id).await["status"], "read");
    h.stop().await;
}

async fn message_row_exists_before_any_send(db: Db) {
    // With no transport connection the message can only be visible because it was stored.
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("offline").await;
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "later" }))
        .await;
    let got = h.message(m["id"].as_str().unwrap()).await;
    assert_eq!(got["status"], "queued");
    assert_eq!(got["wa_message_id"], m["wa_message_id"]);
    assert!(h.transport.attempts().is_empty());
    h.stop().await;
}

async fn idempotency_key_replays_first_response_and_rejects_other_bodies(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("d").await;
    let url = format!("{}/v1/devices/{dev}/messages", h.base);
    let body = json!({ "to": "628111222333", "text": "once" });
    let post = |b: serde_json::Value| {
        h.http
            .post(&url)
            .bearer_auth(ADMIN)
            .header("idempotency-key", "abc-1")
            .json(&b)
            .send()
    };
    let r1 = post(body.clone()).await.unwrap();
    assert_eq!(r1.status(), StatusCode::ACCEPTED);
    let v1: serde_json::Value = r1.json().await.unwrap();
    let r2 = post(body.clone()).await.unwrap();
    assert_eq!(r2.status(), StatusCode::ACCEPTED);
    assert_eq!(r2.headers()["idempotent-replayed"], "true");
    let v2: serde_json::Value = r2.json().await.unwrap();
    assert_eq!(v1, v2);
    let r3 = post(json!({ "to": "628111222333", "text": "twice" }))
        .await
        .unwrap();
    assert_eq!(r3.status(), StatusCode::CONFLICT);
    let v3: serde_json::Value = r3.json().await.unwrap();
    assert_eq!(v3["error"]["code"], "conflict");
    let (_, log) = h.admin(Method::GET, "/v1/messages", None).await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1);
    h.stop().await;
}

async fn concurrent_requests_with_one_idempotency_key_create_one_message(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("d").await;
    let url = format!("{}/v1/devices/{dev}/messages", h.base);
    let body = json!({ "to": "628111222333", "text": "race" });
    let reqs = (0..6).map(|_| {
        h.http
            .post(&url)
            .bearer_auth(ADMIN)
            .header("idempotency-key", "race-1")
            .json(&body)
            .send()
    });
    let resps = futures_util::future::join_all(reqs).await;
    let mut ids = std::collections::HashSet::new();
    for r in resps {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let v: serde_json::Value = r.json().await.unwrap();
        ids.insert(v["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "every response names the same message");
    let (_, log) = h.admin(Method::GET, "/v1/messages", None).await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1);
    h.stop().await;
}

async fn device_bound_keys_send_and_read_only_through_their_device(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let a = h.create_device("a").await;
    let b = h.create_device("b").await;
    let (s, k) = h.admin(Method::POST, "/v1/keys", Some(json!({ "name": "a-only", "scopes": ["messages:send", "messages:read"], "device_id": a }))).await;
    assert_eq!(s, StatusCode::CREATED);
    let key = k["key"].as_str().unwrap();
    let body = json!({ "to": "628111222333", "text": "x" });
    let (s, _, mine) = h
        .call(
            Method::POST,
            &format!("/v1/devices/{a}/messages"),
            Some(key),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = h
        .call(
            Method::POST,
            &format!("/v1/devices/{b}/messages"),
            Some(key),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let other = h.send(&b, body).await;
    let (_, _, log) = h.call(Method::GET, "/v1/messages", Some(key), None).await;
    let ids: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine["id"].as_str().unwrap()]);
    let (s, _, _) = h
        .call(
            Method::GET,
            &format!("/v1/messages/{}", other["id"].as_str().unwrap()),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = h
        .call(
            Method::GET,
            &format!("/v1/messages?device_id={b}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    h.stop().await;
}

async fn higher_priority_messages_leave_first(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("d").await;
    for (text, prio) in [
        ("low", "low"),
        ("normal", "normal"),
        ("high", "high"),
        ("low2", "low"),
    ] {
        h.send(
            &dev,
            json!({ "to": "628111222333", "text": text, "priority": prio }),
        )
        .await;
    }
    assert!(h.transport.set_online(&dev, "62811"));
    h.wait_for(|| async { h.transport.sent().len() == 4 }).await;
    let order: Vec<_> = h
        .transport
        .sent()
        .into_iter()
        .map(|r| match r.message.content {
            OutboundContent::Text(t) => t,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(order, ["high", "normal", "low", "low2"]);
    h.stop().await;
}

async fn scheduled_message_waits_for_send_at(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let m = h
        .send(
            &dev,
            json!({ "to": "628111222333", "text": "later", "send_at": at }),
        )
        .await;
    let now = h
        .send(&dev, json!({ "to": "628111222333", "text": "now" }))
        .await;
    h.wait_status(now["id"].as_str().unwrap(), "sent").await;
    assert_eq!(
        h.message(m["id"].as_str().unwrap()).await["status"],
        "queued"
    );
    let sent = h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    let sent_at = wa_server_rfc3339_secs(sent["sent_at"].as_str().unwrap());
    assert!(sent_at >= at as i64, "sent at {sent_at}, scheduled {at}");
    h.stop().await;
}

fn wa_server_rfc3339_secs(s: &str) -> i64 {
    // Parse "YYYY-MM-DDTHH:MM:SS.mmmZ" by asking the system: compare via chrono-free arithmetic.
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|x| x.split('.').next().unwrap().parse().unwrap())
        .collect();
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    days * 86400 + t[0] * 3600 + t[1] * 60 + t[2]
}

async fn pacing_spaces_sends_on_one_device(db: Db) {
    let mut cfg = fast_config();
    cfg.queue.min_delay = Duration::from_millis(150);
    cfg.queue.max_delay = Duration::from_millis(250);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let dev = h.create_device("d").await;
    for i in 0..3 {
        h.send(
            &dev,
            json!({ "to": "628111222333", "text": format!("m{i}") }),
        )
        .await;
    }
    assert!(h.transport.set_online(&dev, "62811"));
    h.wait_for(|| async { h.transport.sent().len() == 3 }).await;
    let at: Vec<Instant> = h.transport.sent().iter().map(|r| r.at).collect();
    for w in at.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= Duration::from_millis(150), "{gap:?}");
    }
    h.stop().await;
}

async fn temporary_failures_retry_with_backoff_keeping_the_whatsapp_id(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    h.transport.fail_next(
        &dev,
        [
            SendError::Temporary("stream reset".into()),
            SendError::Temporary("timeout".into()),
        ],
    );
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "persist" }))
        .await;
    let done = h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    assert_eq!(done["attempts"], 3);
    let attempts = h.transport.attempts();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a.message.wa_message_id == m["wa_message_id"].as_str().unwrap())
    );
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.message.attempt)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // Backoff: base 50 ms with jitter in [0.5, 1] → at least 25 ms between tries.
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(25));
    h.stop().await;
}

async fn a_stuck_send_times_out_and_is_retried(db: Db) {
    let mut cfg = fast_config();
    cfg.queue.send_timeout = Duration::from_millis(150);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let dev = h.online_device("d").await;
    h.transport.hang_next(&dev);
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "stuck" }))
        .await;
    let sent = h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    assert_eq!(sent["attempts"], 2);
    let attempts = h.transport.attempts();
    assert_eq!(
        attempts[0].message.wa_message_id,
        attempts[1].message.wa_message_id
    );
    h.stop().await;
}

async fn exhausted_or_permanent_failures_fail_with_reason(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    h.transport
        .fail_next(&dev, [SendError::Permanent("not on WhatsApp".into())]);
    let a = h
        .send(&dev, json!({ "to": "628111222333", "text": "a" }))
        .await;
    let fa = h.wait_status(a["id"].as_str().unwrap(), "failed").await;
    assert_eq!(fa["failure_reason"], "not on WhatsApp");
    h.transport
        .fail_next(&dev, (0..3).map(|_| SendError::Temporary("busy".into())));
    let b = h
        .send(&dev, json!({ "to": "628111222333", "text": "b" }))
        .await;
    let fb = h.wait_status(b["id"].as_str().unwrap(), "failed").await;
    assert!(
        fb["failure_reason"]
            .as_str()
            .unwrap()
            .contains("3 attempts"),
        "{fb}"
    );
    h.stop().await;
}

async fn offline_device_buffers_until_expiry(db: Db) {
    let mut cfg = fast_config();
    cfg.queue.offline_expiry = Duration::from_millis(1000);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let dev = h.create_device("d").await;
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "stale" }))
        .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        h.message(m["id"].as_str().unwrap()).await["status"],
        "queued"
    );
    let failed = h.wait_status(m["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["failure_reason"], "expired");
    assert!(h.transport.attempts().is_empty());
    // Offline reported by the transport also holds messages, without counting attempts.
    let dev2 = h.online_device("d2").await;
    h.transport.fail_next(&dev2, [SendError::Offline]);
    let m2 = h
        .send(&dev2, json!({ "to": "628111222333", "text": "later" }))
        .await;
    let sent = h.wait_status(m2["id"].as_str().unwrap(), "sent").await;
    assert_eq!(sent["attempts"], 1);
    h.stop().await;
}

async fn inbound_messages_are_logged_once(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let inbound = TransportEvent::Inbound {
        device_id: dev.clone(),
        message: wa_server::InboundMessage {
            wa_message_id: "ABCDEF".into(),
            chat: "628999@s.whatsapp.net".into(),
            sender: "628999@s.whatsapp.net".into(),
            text: Some("hi gateway".into()),
            timestamp_ms: 1_700_000_000_000,
            push_name: Some("Ani".into()),
            ..Default::default()
        },
    };
    assert!(h.transport.emit(inbound.clone()));
    assert!(h.transport.emit(inbound));
    h.wait_for(|| async {
        h.admin(Method::GET, "/v1/messages?direction=in", None)
            .await
            .1["data"]
            .as_array()
            .unwrap()
            .len()
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, log) = h
        .admin(Method::GET, "/v1/messages?direction=in", None)
        .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1);
    assert_eq!(log["data"][0]["status"], "received");
    assert_eq!(log["data"][0]["content"]["text"], "hi gateway");
    assert_eq!(log["data"][0]["type"], "text");
    assert_eq!(log["data"][0]["push_name"], "Ani");
    h.stop().await;
}

async fn message_log_paginates_and_filters(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let a = h.create_device("a").await;
    let b = h.create_device("b").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            h.send(&a, json!({ "to": "628111222333", "text": format!("a{i}") }))
                .await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    h.send(&b, json!({ "to": "628444555666", "text": "b0" }))
        .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/messages?device_id={a}&limit=2&cursor={c}"),
            None => format!("/v1/messages?device_id={a}&limit=2"),
        };
        let (s, page) = h.admin(Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|m| m["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // Pages concatenate to the one-page listing (newest first), with nothing missing.
    let (_, full) = h
        .admin(
            Method::GET,
            &format!("/v1/messages?device_id={a}&limit=200"),
            None,
        )
        .await;
    let full: Vec<String> = full["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, full);
    let mut sorted = seen.clone();
    sorted.sort();
    ids.sort();
    assert_eq!(sorted, ids);
    let (_, chat) = h
        .admin(Method::GET, "/v1/messages?chat=628444555666", None)
        .await;
    assert_eq!(chat["data"].as_array().unwrap().len(), 1);
    let (_, queued) = h
        .admin(
            Method::GET,
            "/v1/messages?status=queued&direction=out",
            None,
        )
        .await;
    assert_eq!(queued["data"].as_array().unwrap().len(), 6);
    let (_, none) = h
        .admin(Method::GET, "/v1/messages?since=2999-01-01T00:00:00Z", None)
        .await;
    assert!(none["data"].as_array().unwrap().is_empty());
    let (_, all) = h
        .admin(Method::GET, "/v1/messages?until=2999-01-01T00:00:00Z", None)
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 6);
    let (s, v) = h.admin(Method::GET, "/v1/messages?cursor=%%%", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    h.stop().await;
}

async fn structured_contents_reach_the_transport(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    h.send(&dev, json!({ "to": "120363000000000001@g.us", "location": { "latitude": -6.2, "longitude": 106.8, "name": "Monas" }, "mentions": ["628111"] })).await;
    h.send(&dev, json!({ "to": "628111222333", "reaction": { "message_id": "3EB0AA", "emoji": "👍" }, "priority": "high" })).await;
    h.wait_for(|| async { h.transport.sent().len() == 2 }).await;
    let sent = h.transport.sent();
    assert!(sent.iter().any(|r| matches!(&r.message.content, OutboundContent::Location { name: Some(n), .. } if n == "Monas") && r.message.to == "120363000000000001@g.us" && r.message.mentions == ["628111@s.whatsapp.net"]));
    assert!(sent.iter().any(
        |r| matches!(&r.message.content, OutboundContent::Reaction { emoji, .. } if emoji == "👍")
    ));
    h.stop().await;
}

async fn a_receipt_that_overtakes_the_send_marks_it_sent_then_delivered_once(db: Db) {
    let mut cfg = fast_config();
    cfg.queue.send_timeout = Duration::from_millis(300);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let dev = h.online_device("d").await;
    h.transport.hang_next(&dev);
    let m = h
        .send(
            &dev,
            json!({ "to": "628111222333", "text": "fast receipt" }),
        )
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    let wa = m["wa_message_id"].as_str().unwrap().to_string();
    h.wait_for(|| async { !h.transport.attempts().is_empty() })
        .await;
    assert!(h.transport.receipt(&dev, &wa, ReceiptKind::Delivered));
    let delivered = h.wait_status(&id, "delivered").await;
    assert!(delivered["sent_at"].is_string(), "{delivered}");
    assert_eq!(delivered["attempts"], 1);
    // The stuck send times out, but the message is not sent again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(h.transport.attempts().len(), 1);
    let (_, page) = h
        .admin(Method::GET, &format!("/v1/messages/{id}"), None)
        .await;
    assert_eq!(page["status"], "delivered");
    let events = h
        .http
        .get(format!("{}/v1/events", h.base))
        .bearer_auth(common::ADMIN)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap();
    let mut body = String::new();
    let mut stream = events.bytes_stream();
    use futures_util::StreamExt;
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_millis(300), stream.next()).await
    {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    let statuses: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter(|e| e["type"] == "message.status")
        .map(|e| e["data"]["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(statuses, ["sent", "delivered"], "{body}");
    h.stop().await;
}

async fn after_a_restart_the_in_flight_send_repeats_with_its_id_and_acked_ones_stay_sent(db: Db) {
    let mut cfg = fast_config();
    // Long enough that the stuck send is still "on the wire" when the gateway goes away.
    cfg.queue.send_timeout = Duration::from_secs(60);
    let Some(h) = Harness::start(db, cfg.clone()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let acked = h
        .send(&dev, json!({ "to": "628111222333", "text": "acked" }))
        .await;
    h.wait_status(acked["id"].as_str().unwrap(), "sent").await;
    h.transport.hang_next(&dev);
    let flying = h
        .send(&dev, json!({ "to": "628111222333", "text": "in flight" }))
        .await;
    let flying_wa = flying["wa_message_id"].as_str().unwrap().to_string();
    h.wait_for(|| async {
        h.transport
            .attempts()
            .iter()
            .any(|a| a.message.wa_message_id == flying_wa)
    })
    .await;

    let url = h.stop_keep_db().await;
    let h = Harness::start_on(url, cfg).await;
    assert!(h.transport.set_online(&dev, "628111"));
    h.wait_status(flying["id"].as_str().unwrap(), "sent").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent: Vec<String> = h
        .transport
        .attempts()
        .iter()
        .map(|a| a.message.wa_message_id.clone())
        .collect();
    assert_eq!(sent, vec![flying_wa], "only the in-flight message, same id");
    assert_eq!(
        h.message(acked["id"].as_str().unwrap()).await["status"],
        "sent"
    );
    h.stop().await;
}

async fn concurrent_sends_are_each_committed_and_answered_as_stored(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("offline").await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (h, dev) = (h.clone(), dev.clone());
        tasks.push(tokio::spawn(async move {
            h.send(
                &dev,
                json!({ "to": "628111222333", "text": format!("n{i}") }),
            )
            .await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let mut ids: Vec<&str> = answers.iter().map(|a| a["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    for a in &answers {
        assert_eq!(&h.message(a["id"].as_str().unwrap()).await, a);
    }
    let h = std::sync::Arc::into_inner(h).unwrap();
    h.stop().await;
}

async fn a_refused_send_in_a_burst_does_not_fail_its_neighbours(db: Db) {
    let mut cfg = fast_config();
    cfg.price_per_message = 1;
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/credits/grants",
            Some(json!({ "amount": 5, "bucket": "topup" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let dev = h.create_device("offline").await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let h = h.clone();
        // Every third request names a device that does not exist.
        let target = if i % 3 == 0 {
            "dev_missing".to_string()
        } else {
            dev.clone()
        };
        tasks.push(tokio::spawn(async move {
            h.admin(
                Method::POST,
                &format!("/v1/devices/{target}/messages"),
                Some(json!({ "to": "628111222333", "text": format!("n{i}") })),
            )
            .await
            .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().as_u16());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [202, 202, 202, 202, 202, 402, 402, 402, 404, 404, 404, 404]
    );
    let (_, log) = h
        .admin(Method::GET, "/v1/messages?direction=out", None)
        .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 5);
    let (_, credits) = h.admin(Method::GET, "/v1/credits", None).await;
    assert_eq!(credits["balance"], 0);
    let h = std::sync::Arc::into_inner(h).unwrap();
    h.stop().await;
}

async fn a_database_error_on_one_send_in_a_burst_fails_only_that_send(db: Db) {
    use sqlx::Executor;
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    // The database itself refuses any message whose content says "poison".
    let pool = sqlx::AnyPool::connect(&h.database_url).await.unwrap();
    match db {
        Db::Sqlite => {
            pool.execute("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.content LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
                .await
                .unwrap();
        }
        Db::Postgres => {
            pool.execute("CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.content LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
                .await
                .unwrap();
            pool.execute("CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()")
                .await
                .unwrap();
        }
    }
    pool.close().await;
    let dev = h.create_device("offline").await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (h, dev) = (h.clone(), dev.clone());
        let text = if i == 7 {
            "poison".to_string()
        } else {
            format!("n{i}")
        };
        tasks.push(tokio::spawn(async move {
            h.admin(
                Method::POST,
                &format!("/v1/devices/{dev}/messages"),
                Some(json!({ "to": "628111222333", "text": text })),
            )
            .await
        }));
    }
    let mut refused = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            StatusCode::ACCEPTED => {
                assert_eq!(
                    h.message(v["id"].as_str().unwrap()).await["status"],
                    "queued"
                );
            }
            StatusCode::INTERNAL_SERVER_ERROR => refused += 1,
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(refused, 1);
    let (_, log) = h
        .admin(Method::GET, "/v1/messages?direction=out&limit=50", None)
        .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 19);
    let h = std::sync::Arc::into_inner(h).unwrap();
    h.stop().await;
}

both_backends!(
    accepted_message_is_stored_sent_then_follows_receipts,
    a_receipt_that_overtakes_the_send_marks_it_sent_then_delivered_once,
    message_row_exists_before_any_send,
    idempotency_key_replays_first_response_and_rejects_other_bodies,
    concurrent_requests_with_one_idempotency_key_create_one_message,
    device_bound_keys_send_and_read_only_through_their_device,
    higher_priority_messages_leave_first,
    scheduled_message_waits_for_send_at,
    pacing_spaces_sends_on_one_device,
    temporary_failures_retry_with_backoff_keeping_the_whatsapp_id,
    exhausted_or_permanent_failures_fail_with_reason,
    a_stuck_send_times_out_and_is_retried,
    offline_device_buffers_until_expiry,
    inbound_messages_are_logged_once,
    message_log_paginates_and_filters,
    structured_contents_reach_the_transport,
    after_a_restart_the_in_flight_send_repeats_with_its_id_and_acked_ones_stay_sent,
    concurrent_sends_are_each_committed_and_answered_as_stored,
    a_refused_send_in_a_burst_does_not_fail_its_neighbours,
    a_database_error_on_one_send_in_a_burst_fails_only_that_send,
);
