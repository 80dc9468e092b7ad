//! Every route of the native API over HTTP against a real wa-sandbox through the real
//! `ClientTransport`, once on SQLite and once on PostgreSQL (inbound media download is in
//! `sandbox_e2e.rs`): keys, devices (QR as text, PNG and
//! SVG, pairing code, reconnect, logout, delete), messages of every kind as the recipient's
//! phone decodes them, idempotency, priorities, scheduled sends, the message log's filters and
//! cursor, WhatsApp groups, contacts and contact groups, broadcasts, webhooks and their
//! deliveries, the event stream, credits, the error statuses, and the unauthenticated
//! endpoints.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use common::sandbox::{APP_SCOPES, SandboxGateway as Gateway};
use common::{ADMIN, Db, fast_config};
use prost::Message as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wa_core::proto;
use wa_sandbox::{Phone, ReceivedMessage};
use wa_server::DeviceTransport;

const WAIT: Duration = Duration::from_secs(20);

async fn serve(app: Router) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// A gateway with one device linked by `owner`'s phone; returns (gateway, device id, owner).
async fn linked(
    db: Db,
    config: wa_server::Config,
    owner: &str,
) -> Option<(Gateway, String, Phone)> {
    let g = Gateway::start(db, config).await?;
    let phone = g.sandbox().create_phone(owner).await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &phone).await;
    Some((g, dev, phone))
}

/// What `phone` decoded for WhatsApp id `wa_id`.
async fn received(phone: &Phone, wa_id: &str) -> (ReceivedMessage, proto::Message) {
    let m = phone
        .wait_for(|m| m.id == wa_id, WAIT)
        .await
        .unwrap_or_else(|| panic!("{} never received {wa_id}", phone.number()));
    let decoded = proto::Message::decode(m.raw.as_slice()).unwrap();
    (m, decoded)
}

fn wa_id(v: &Value) -> String {
    v["wa_message_id"].as_str().unwrap().to_string()
}

/// Takes the device offline so that what is queued stays queued.
async fn offline(g: &Gateway, dev: &str) {
    g.transport.disconnect(dev).await.unwrap();
    g.wait_device(ADMIN, dev, "offline").await;
}

async fn online(g: &Gateway, dev: &str) {
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/connect"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    g.wait_device(ADMIN, dev, "online").await;
}

async fn health_readiness_metrics_and_openapi_need_no_key(db: Db) {
    let Some((g, dev, _owner)) = linked(db, fast_config(), "6281300000001").await else {
        return;
    };
    let friend = g.sandbox().create_phone("6281300000002").await.unwrap();
    let m = g
        .send_body(
            ADMIN,
            &dev,
            json!({ "to": friend.number(), "text": "count me" }),
        )
        .await;
    received(&friend, &wa_id(&m)).await;
    g.wait_message(ADMIN, m["id"].as_str().unwrap(), "delivered")
        .await;

    let get = |path: &'static str| {
        let http = g.http.clone();
        let url = format!("{}{path}", g.base);
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (s, body) = get("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );
    let (s, body) = get("/readyz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["database"],
        "ok"
    );
    // The sent counter moves just after the send's acknowledgement is stored, which a fast
    // delivery receipt can overtake: poll.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (s, metrics) = get("/metrics").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            metrics.contains("wasap_devices{status=\"online\"} 1"),
            "{metrics}"
        );
        let sent = metrics
            .lines()
            .find_map(|l| l.strip_prefix("wasap_messages_sent_total "))
            .unwrap_or_else(|| panic!("no sent counter: {metrics}"));
        if sent == "1" {
            assert!(
                metrics.contains("wasap_messages{direction=\"out\",status=\"delivered\"} 1"),
                "{metrics}"
            );
            let count: u64 = metrics
                .lines()
                .find_map(|l| l.strip_prefix("wasap_http_request_duration_seconds_count "))
                .unwrap_or_else(|| panic!("no latency histogram: {metrics}"))
                .parse()
                .unwrap();
            assert!(count >= 3, "requests so far are timed: {metrics}");
            assert!(
                metrics.contains(&format!(
                    "wasap_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
                )),
                "{metrics}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, doc) = get("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let qr_params = doc["paths"]["/v1/devices/{id}/qr"]["get"]["parameters"].to_string();
    assert!(qr_params.contains("\"format\""), "{qr_params}");
    let qr_types = &doc["paths"]["/v1/devices/{id}/qr"]["get"]["responses"]["200"]["content"];
    for kind in ["application/json", "image/svg+xml", "image/png"] {
        assert!(qr_types[kind].is_object(), "{kind} missing: {qr_types}");
    }
    g.stop().await;
}

async fn keys_are_created_listed_disabled_enabled_and_revoked_each_taking_effect_at_once(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let (id, key) = g
        .key_with(json!({ "name": "ci", "scopes": ["devices:read"] }))
        .await;
    assert!(key.starts_with("wsk_"), "{key}");
    let (s, list) = g.call(ADMIN, Method::GET, "/v1/keys", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("the new key is listed");
    assert_eq!(listed["scopes"], json!(["devices:read"]));
    assert!(
        listed.get("key").is_none() && listed.get("hash").is_none(),
        "{listed}"
    );
    // Used (and so remembered by the gateway) before each change: every change applies to
    // the very next request.
    let use_key = || async { g.call(&key, Method::GET, "/v1/devices", None).await.0 };
    for _ in 0..3 {
        assert_eq!(use_key().await, StatusCode::OK);
    }
    let (s, v) = g
        .call(
            ADMIN,
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(use_key().await, StatusCode::UNAUTHORIZED);
    let (s, v) = g
        .call(
            ADMIN,
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(use_key().await, StatusCode::OK);
    let (s, v) = g
        .call(ADMIN, Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = g.call(&key, Method::GET, "/v1/devices", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = g
        .call(ADMIN, Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (_, list) = g.call(ADMIN, Method::GET, "/v1/keys", None).await;
    let revoked = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    g.stop().await;
}

async fn a_device_shows_its_qr_as_text_png_and_svg_links_reconnects_logs_out_and_is_deleted(
    db: Db,
) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let key = g.key(APP_SCOPES).await;
    let phone = g.sandbox().create_phone("6281300000011").await.unwrap();
    let dev = g.create_device(&key).await;
    let (s, list) = g.call(&key, Method::GET, "/v1/devices", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"][0]["id"], dev.as_str());
    assert_eq!(list["data"][0]["status"], "created");

    let qr = g.connect_for_qr(&key, &dev).await;
    let png = g
        .request(
            &key,
            Method::GET,
            &format!("/v1/devices/{dev}/qr?format=png"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(png.headers()["cache-control"], "no-store");
    let png = png.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = g
        .request(
            &key,
            Method::GET,
            &format!("/v1/devices/{dev}/qr?format=svg"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    let (s, v) = g
        .call(
            &key,
            Method::GET,
            &format!("/v1/devices/{dev}/qr?format=bmp"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "format");

    phone.scan_qr(&qr).await.unwrap();
    let d = g.wait_device(&key, &dev, "online").await;
    assert_eq!(d["phone"], phone.number());
    let (s, v) = g
        .call(&key, Method::GET, &format!("/v1/devices/{dev}/qr"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    let (s, v) = g
        .call(
            &key,
            Method::POST,
            &format!("/v1/devices/{dev}/reconnect"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    g.wait_device(&key, &dev, "online").await;
    assert_eq!(g.sandbox().devices(&phone.jid()).len(), 2, "still one link");

    let (s, v) = g
        .call(
            &key,
            Method::POST,
            &format!("/v1/devices/{dev}/logout"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    g.wait_device(&key, &dev, "logged_out").await;
    assert_eq!(g.sandbox().devices(&phone.jid()).len(), 1);

    // Linked again, this time by pairing code, then deleted.
    let (s, v) = g
        .call(
            &key,
            Method::POST,
            &format!("/v1/devices/{dev}/pair-code"),
            Some(json!({ "phone": phone.number() })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    phone
        .enter_pair_code(v["code"].as_str().unwrap())
        .await
        .unwrap();
    g.wait_device(&key, &dev, "online").await;
    let (s, v) = g
        .call(&key, Method::DELETE, &format!("/v1/devices/{dev}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(g.sandbox().devices(&phone.jid()).len(), 1);
    let (s, _) = g
        .call(&key, Method::GET, &format!("/v1/devices/{dev}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    g.stop().await;
}

async fn every_message_kind_reaches_the_phone_and_each_202_equals_the_stored_message(db: Db) {
    let media = serve(Router::new().route(
        "/{name}",
        get(
            |axum::extract::Path(name): axum::extract::Path<String>| async move {
                let kind = match name.rsplit('.').next() {
                    Some("jpg") => "image/jpeg",
                    Some("mp4") => "video/mp4",
                    Some("ogg") => "audio/ogg",
                    _ => "application/pdf",
                };
                ([("content-type", kind)], vec![name.len() as u8; 2048])
            },
        ),
    ))
    .await;
    let mut config = fast_config();
    config.media.allow = vec!["127.0.0.0/8".parse().unwrap()];
    let Some((g, dev, owner)) = linked(db, config, "6281300000021").await else {
        return;
    };
    let friend = g.sandbox().create_phone("6281300000022").await.unwrap();
    let to = friend.number().to_string();
    let first = g
        .send_body(ADMIN, &dev, json!({ "to": to, "text": "first" }))
        .await;
    received(&friend, &wa_id(&first)).await;
    g.wait_message(ADMIN, first["id"].as_str().unwrap(), "delivered")
        .await;

    offline(&g, &dev).await;
    let url = |name: &str| format!("http://{media}/{name}");
    let bodies = [
        json!({ "to": to, "text": "see @6281300000021", "reply_to": wa_id(&first), "mentions": [owner.number()] }),
        json!({ "to": to, "image": { "url": url("cat.jpg"), "caption": "a cat" } }),
        json!({ "to": to, "video": { "url": url("clip.mp4"), "caption": "a clip" } }),
        json!({ "to": to, "audio": { "url": url("voice.ogg") } }),
        json!({ "to": to, "document": { "url": url("invoice.pdf"), "filename": "invoice.pdf" } }),
        json!({ "to": to, "location": { "latitude": -6.2, "longitude": 106.8, "name": "Monas" } }),
        json!({ "to": to, "contact": { "name": "Ani", "phone": "+62 811 0000 0001" } }),
        json!({ "to": to, "reaction": { "message_id": wa_id(&first), "emoji": "👍" } }),
    ];
    let mut accepted = Vec::new();
    for body in bodies {
        let a = g.send_body(ADMIN, &dev, body).await;
        // Read back at once: the 202 was built in memory and must match the row.
        let (s, stored) = g
            .call(
                ADMIN,
                Method::GET,
                &format!("/v1/messages/{}", a["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(stored, a);
        accepted.push(a);
    }
    online(&g, &dev).await;

    let kinds: Vec<&str> = accepted
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "text", "image", "video", "audio", "document", "location", "contact", "reaction"
        ]
    );
    let (_, text) = received(&friend, &wa_id(&accepted[0])).await;
    let ext = text
        .extended_text_message
        .expect("a reply is an extended text");
    assert_eq!(ext.text.as_deref(), Some("see @6281300000021"));
    let ctx = ext.context_info.unwrap();
    assert_eq!(ctx.stanza_id, Some(wa_id(&first)));
    assert_eq!(
        ctx.mentioned_jid,
        [format!("{}@s.whatsapp.net", owner.number())]
    );
    let (_, image) = received(&friend, &wa_id(&accepted[1])).await;
    let image = image.image_message.unwrap();
    assert_eq!(image.caption.as_deref(), Some("a cat"));
    assert_eq!(image.mimetype.as_deref(), Some("image/jpeg"));
    assert_eq!(image.file_length, Some(2048));
    let (_, video) = received(&friend, &wa_id(&accepted[2])).await;
    assert_eq!(
        video.video_message.unwrap().caption.as_deref(),
        Some("a clip")
    );
    let (_, audio) = received(&friend, &wa_id(&accepted[3])).await;
    assert_eq!(
        audio.audio_message.unwrap().mimetype.as_deref(),
        Some("audio/ogg")
    );
    let (_, doc) = received(&friend, &wa_id(&accepted[4])).await;
    let doc = doc.document_message.or_else(|| {
        doc.document_with_caption_message
            .and_then(|w| w.message)
            .and_then(|m| m.document_message)
    });
    assert_eq!(doc.unwrap().file_name.as_deref(), Some("invoice.pdf"));
    let (_, place) = received(&friend, &wa_id(&accepted[5])).await;
    let place = place.location_message.unwrap();
    assert_eq!(
        (place.degrees_latitude, place.name.as_deref()),
        (Some(-6.2), Some("Monas"))
    );
    let (_, card) = received(&friend, &wa_id(&accepted[6])).await;
    let card = card.contact_message.unwrap();
    assert_eq!(card.display_name.as_deref(), Some("Ani"));
    assert!(card.vcard.unwrap().contains("6281100000001"));
    let (_, reaction) = received(&friend, &wa_id(&accepted[7])).await;
    let reaction = reaction.reaction_message.unwrap();
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    assert_eq!(reaction.key.unwrap().id, Some(wa_id(&first)));
    for a in &accepted {
        g.wait_message(ADMIN, a["id"].as_str().unwrap(), "delivered")
            .await;
    }
    g.stop().await;
}

async fn idempotency_priorities_and_scheduled_sends_hold_against_whatsapp(db: Db) {
    let Some((g, dev, _owner)) = linked(db, fast_config(), "6281300000031").await else {
        return;
    };
    let friend = g.sandbox().create_phone("6281300000032").await.unwrap();
    let to = friend.number().to_string();
    let path = format!("/v1/devices/{dev}/messages");

    // Idempotency: a repeat answers the same body and sends nothing new.
    let body = json!({ "to": to, "text": "once" });
    let send_idem = |body: Value| {
        g.request(ADMIN, Method::POST, &path)
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let first = send_idem(body.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = send_idem(body.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = send_idem(json!({ "to": to, "text": "twice" }))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    received(&friend, &wa_id(&first)).await;
    // Acknowledged by the server before the device goes away (else it is re-sent, same id).
    g.wait_message(ADMIN, first["id"].as_str().unwrap(), "delivered")
        .await;

    // Priorities: queued while offline, they leave high first, low last.
    offline(&g, &dev).await;
    let mut by_priority = HashMap::new();
    for p in ["low", "normal", "high"] {
        let a = g
            .send_body(ADMIN, &dev, json!({ "to": to, "text": p, "priority": p }))
            .await;
        assert_eq!(a["priority"], p);
        by_priority.insert(p, wa_id(&a));
    }
    // Scheduled two seconds ahead: it waits although the device comes online at once.
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let later = g
        .send_body(
            ADMIN,
            &dev,
            json!({ "to": to, "text": "later", "send_at": at }),
        )
        .await;
    assert!(later["send_at"].is_string(), "{later}");
    online(&g, &dev).await;
    received(&friend, &by_priority["low"]).await;
    let order: Vec<String> = friend
        .received()
        .into_iter()
        .filter_map(|m| {
            m.text
                .filter(|t| ["low", "normal", "high"].contains(&t.as_str()))
        })
        .collect();
    assert_eq!(order, ["high", "normal", "low"]);
    let waiting = g
        .call(
            ADMIN,
            Method::GET,
            &format!("/v1/messages/{}", later["id"].as_str().unwrap()),
            None,
        )
        .await
        .1;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now_s < at {
        assert_eq!(waiting["status"], "queued", "{waiting}");
    }
    let sent = g
        .wait_message(ADMIN, later["id"].as_str().unwrap(), "delivered")
        .await;
    assert!(
        sent["sent_at"].as_str().unwrap() >= later["send_at"].as_str().unwrap(),
        "{sent}"
    );
    received(&friend, &wa_id(&later)).await;
    // Every send was acknowledged before the device went offline: nothing went out twice.
    assert_eq!(friend.duplicates_suppressed(), 0);
    g.stop().await;
}

async fn the_message_log_filters_by_device_chat_direction_status_and_time_and_pages_by_cursor(
    db: Db,
) {
    let Some((g, dev, _owner)) = linked(db, fast_config(), "6281300000041").await else {
        return;
    };
    let echo = g.sandbox().create_phone("6281300000042").await.unwrap();
    echo.set_echo(true);
    let quiet = g.sandbox().create_phone("6281300000043").await.unwrap();
    let other_dev = g.create_device(ADMIN).await;
    let mut ids = Vec::new();
    for (to, text) in [
        (&echo, "e1"),
        (&quiet, "q1"),
        (&echo, "e2"),
        (&quiet, "q2"),
        (&echo, "e3"),
    ] {
        let a = g
            .send_body(ADMIN, &dev, json!({ "to": to.number(), "text": text }))
            .await;
        ids.push(a["id"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let count = |v: &Value| v["data"].as_array().map(Vec::len);
    g.wait_for(ADMIN, "/v1/messages?direction=in", "three echoes", |v| {
        (count(v) == Some(3)).then_some(())
    })
    .await;
    for id in &ids {
        g.wait_message(ADMIN, id, "delivered").await;
    }
    let gr = &g;
    let list = |q: String| async move {
        gr.call(ADMIN, Method::GET, &format!("/v1/messages?{q}"), None)
            .await
    };
    let (s, v) = list("direction=out".into()).await;
    assert_eq!((s, count(&v)), (StatusCode::OK, Some(5)));
    let (_, v) = list(format!("chat={}", echo.number())).await;
    assert_eq!(count(&v), Some(6), "three out, three echoed in");
    let (_, v) = list(format!("chat={}&direction=out", quiet.number())).await;
    let texts: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["q2", "q1"], "newest first");
    let (_, v) = list("status=received".into()).await;
    assert_eq!(count(&v), Some(3));
    let (_, v) = list("status=delivered".into()).await;
    assert_eq!(count(&v), Some(5));
    let (_, v) = list(format!("device_id={dev}")).await;
    assert_eq!(count(&v), Some(8));
    let (_, v) = list(format!("device_id={other_dev}")).await;
    assert_eq!(count(&v), Some(0));
    let third = g
        .call(
            ADMIN,
            Method::GET,
            &format!("/v1/messages/{}", ids[2]),
            None,
        )
        .await
        .1;
    let since = third["created_at"].as_str().unwrap();
    let (_, v) = list(format!("direction=out&since={since}")).await;
    assert_eq!(count(&v), Some(3));
    let (_, v) = list(format!("direction=out&until={since}")).await;
    assert_eq!(count(&v), Some(2));

    // Pages of two cover everything once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".into(),
        };
        let (s, page) = list(q).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert!(count(&page).unwrap() <= 2);
        for m in page["data"].as_array().unwrap() {
            seen.push((
                m["created_at"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted);
    assert_eq!(seen.iter().map(|s| &s.1).collect::<HashSet<_>>().len(), 8);
    let (s, v) = list("cursor=not-a-cursor".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "cursor");
    g.stop().await;
}

async fn whatsapp_groups_are_created_listed_changed_messaged_and_left(db: Db) {
    let Some((g, dev, owner)) = linked(db, fast_config(), "6281300000051").await else {
        return;
    };
    let [ani, budi, citra] = ["6281300000052", "6281300000053", "6281300000054"];
    let mut phones = HashMap::new();
    for n in [ani, budi, citra] {
        phones.insert(n, g.sandbox().create_phone(n).await.unwrap());
    }
    let base = format!("/v1/devices/{dev}/groups");
    let (s, created) = g
        .call(
            ADMIN,
            Method::POST,
            &base,
            Some(json!({ "subject": "Toko", "participants": [ani, budi] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let jid = created["jid"].as_str().unwrap().to_string();
    let (s, list) = g.call(ADMIN, Method::GET, &base, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["data"][0]["jid"], jid.as_str());
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("{base}/{jid}/participants"),
            Some(json!({ "add": [citra] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("{base}/{jid}/participants"),
            Some(json!({ "remove": [ani] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, one) = g
        .call(ADMIN, Method::GET, &format!("{base}/{jid}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{one}");
    let mut members: Vec<String> = one["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["jid"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    let mut expected: Vec<String> = [owner.number(), budi, citra]
        .iter()
        .map(|n| format!("{n}@s.whatsapp.net"))
        .collect();
    expected.sort();
    assert_eq!(members, expected);

    let m = g
        .send_body(ADMIN, &dev, json!({ "to": jid, "text": "halo grup" }))
        .await;
    for n in [budi, citra] {
        let (got, _) = received(&phones[n], &wa_id(&m)).await;
        assert_eq!(got.chat, jid);
        assert_eq!(got.text.as_deref(), Some("halo grup"));
    }
    g.wait_message(ADMIN, m["id"].as_str().unwrap(), "delivered")
        .await;
    assert!(phones[ani].received().is_empty(), "removed before the send");

    let (s, v) = g
        .call(ADMIN, Method::POST, &format!("{base}/{jid}/leave"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, list) = g.call(ADMIN, Method::GET, &base, None).await;
    assert_eq!(list["data"], json!([]));
    g.stop().await;
}

async fn contacts_contact_groups_and_a_broadcast_reach_each_member(db: Db) {
    let Some((g, dev, _owner)) = linked(db, fast_config(), "6281300000061").await else {
        return;
    };
    let ani_phone = g.sandbox().create_phone("6281300000062").await.unwrap();
    let budi_phone = g.sandbox().create_phone("6281300000063").await.unwrap();
    let contact = |name: &'static str, phone: &'static str| {
        g.call(
            ADMIN,
            Method::POST,
            "/v1/contacts",
            Some(json!({ "name": name, "phone": phone })),
        )
    };
    let (s, ani) = contact("Ani Wijaya", "+62 813 0000 0062").await;
    assert_eq!(s, StatusCode::CREATED, "{ani}");
    let (s, budi) = contact("Budi", "6281300000063").await;
    assert_eq!(s, StatusCode::CREATED, "{budi}");
    let (s, _) = contact("Budi again", "6281300000063").await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (ani_id, budi_id) = (ani["id"].as_str().unwrap(), budi["id"].as_str().unwrap());
    let (s, v) = g
        .call(
            ADMIN,
            Method::PATCH,
            &format!("/v1/contacts/{budi_id}"),
            Some(json!({ "name": "Budi Santoso" })),
        )
        .await;
    assert_eq!(
        (s, v["name"].as_str()),
        (StatusCode::OK, Some("Budi Santoso"))
    );
    let (s, v) = g
        .call(ADMIN, Method::GET, &format!("/v1/contacts/{ani_id}"), None)
        .await;
    assert_eq!(
        (s, v["jid"].as_str()),
        (StatusCode::OK, Some("6281300000062@s.whatsapp.net"))
    );
    let (_, list) = g.call(ADMIN, Method::GET, "/v1/contacts", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    let (s, grp) = g
        .call(
            ADMIN,
            Method::POST,
            "/v1/contact-groups",
            Some(json!({ "name": "pelanggan", "contact_ids": [ani_id] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{grp}");
    let gid = grp["id"].as_str().unwrap();
    let (s, _) = g
        .call(
            ADMIN,
            Method::PUT,
            &format!("/v1/contact-groups/{gid}/members/{budi_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = g
        .call(
            ADMIN,
            Method::PATCH,
            &format!("/v1/contact-groups/{gid}"),
            Some(json!({ "description": "loyal" })),
        )
        .await;
    assert_eq!((s, v["member_count"].as_u64()), (StatusCode::OK, Some(2)));
    let (_, groups) = g.call(ADMIN, Method::GET, "/v1/contact-groups", None).await;
    assert_eq!(groups["data"][0]["id"], gid);

    let (s, bc) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/broadcasts"),
            Some(json!({ "contact_group_id": gid, "text": "Halo {{first_name}}, kode {{promo}}", "vars": { "promo": "HEMAT" } })),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{bc}");
    assert_eq!(bc["count"], 2);
    for (phone, text) in [
        (&ani_phone, "Halo Ani, kode HEMAT"),
        (&budi_phone, "Halo Budi, kode HEMAT"),
    ] {
        let got = phone
            .wait_for_text(|t| t == text, WAIT)
            .await
            .unwrap_or_else(|| panic!("{} never got {text:?}", phone.number()));
        assert_eq!(got.chat, "6281300000061@s.whatsapp.net");
    }

    let (s, _) = g
        .call(
            ADMIN,
            Method::DELETE,
            &format!("/v1/contact-groups/{gid}/members/{ani_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = g
        .call(
            ADMIN,
            Method::DELETE,
            &format!("/v1/contacts/{ani_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = g
        .call(
            ADMIN,
            Method::DELETE,
            &format!("/v1/contact-groups/{gid}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = g
        .call(
            ADMIN,
            Method::GET,
            &format!("/v1/contact-groups/{gid}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    g.stop().await;
}

async fn webhooks_are_managed_deliver_signed_events_redeliver_and_stream_as_sse(db: Db) {
    let Some((g, dev, _owner)) = linked(db, fast_config(), "6281300000071").await else {
        return;
    };
    let friend = g.sandbox().create_phone("6281300000072").await.unwrap();
    let hooks: Arc<Mutex<Vec<(Value, bool)>>> = Arc::default();
    let got = hooks.clone();
    let receiver = serve(Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let got = got.clone();
            async move {
                let signed = headers.keys().any(|k| k.as_str().contains("signature"));
                got.lock()
                    .unwrap()
                    .push((serde_json::from_slice(&body).unwrap(), signed));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    ))
    .await;
    let (s, hook) = g
        .call(
            ADMIN,
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": format!("http://{receiver}/hook"), "events": ["message.status"], "secret": "s3cret-s3cret-s3cret" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let hid = hook["id"].as_str().unwrap().to_string();
    let (s, list) = g.call(ADMIN, Method::GET, "/v1/webhooks", None).await;
    assert_eq!(
        (s, list["data"][0]["id"].as_str()),
        (StatusCode::OK, Some(hid.as_str()))
    );
    let (s, v) = g
        .call(
            ADMIN,
            Method::PATCH,
            &format!("/v1/webhooks/{hid}"),
            Some(json!({ "events": ["message.status", "message.received"] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = g
        .call(ADMIN, Method::GET, &format!("/v1/webhooks/{hid}"), None)
        .await;
    assert_eq!(
        (s, v["events"].clone()),
        (
            StatusCode::OK,
            json!(["message.status", "message.received"])
        )
    );

    let m = g
        .send_body(
            ADMIN,
            &dev,
            json!({ "to": friend.number(), "text": "hook me" }),
        )
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = hooks.lock().unwrap().clone();
        let statuses: HashSet<&str> = seen
            .iter()
            .filter(|(e, _)| {
                e["type"] == "message.status" && e["data"]["message_id"] == id.as_str()
            })
            .map(|(e, _)| e["data"]["status"].as_str().unwrap())
            .collect();
        if statuses.contains("sent") && statuses.contains("delivered") {
            assert!(seen.iter().all(|(_, signed)| *signed), "unsigned delivery");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhooks missing: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = g
        .wait_for(
            ADMIN,
            &format!("/v1/webhooks/{hid}/deliveries?status=delivered"),
            "two delivered deliveries",
            |v| {
                let d = v["data"].as_array()?;
                (d.len() == 2).then(|| d.clone())
            },
        )
        .await;
    assert_eq!(deliveries[0]["attempt_log"][0]["status_code"], 204);
    let before = hooks.lock().unwrap().len();
    let did = deliveries[0]["id"].as_str().unwrap();
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/webhooks/{hid}/deliveries/{did}/redeliver"),
            None,
        )
        .await;
    assert_eq!((s, v["requeued"].as_u64()), (StatusCode::ACCEPTED, Some(1)));
    let deadline = tokio::time::Instant::now() + WAIT;
    while hooks.lock().unwrap().len() == before {
        assert!(tokio::time::Instant::now() < deadline, "no redelivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/webhooks/{hid}/redeliver"),
            None,
        )
        .await;
    assert_eq!(
        (s, v["requeued"].as_u64()),
        (StatusCode::ACCEPTED, Some(0)),
        "nothing is dead"
    );

    // The same events on the SSE stream, from the start.
    let mut sse = g
        .request(ADMIN, Method::GET, "/v1/events?after=0")
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), StatusCode::OK);
    assert!(
        sse.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut text = String::new();
    while !text.contains("\"status\":\"delivered\"") {
        let chunk = tokio::time::timeout(WAIT, sse.chunk())
            .await
            .expect("the stream stalled")
            .unwrap()
            .expect("the stream ended");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: message.status"), "{text}");
    assert!(text.contains("\"status\":\"sent\""), "{text}");
    drop(sse);

    let (s, _) = g
        .call(ADMIN, Method::DELETE, &format!("/v1/webhooks/{hid}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = g
        .call(ADMIN, Method::GET, &format!("/v1/webhooks/{hid}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    g.stop().await;
}

async fn credits_pay_for_sends_and_the_ledger_records_grants_and_debits(db: Db) {
    let mut config = fast_config();
    config.price_per_message = 1;
    let Some((g, dev, _owner)) = linked(db, config, "6281300000081").await else {
        return;
    };
    let friend = g.sandbox().create_phone("6281300000082").await.unwrap();
    let reader = g.key(&["credits:read"]).await;
    let (s, v) = g.call(&reader, Method::GET, "/v1/credits", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["balance"].as_i64(), v["price_per_message"].as_i64()),
        (Some(0), Some(1))
    );
    let path = format!("/v1/devices/{dev}/messages");
    let send = |text: &'static str| {
        g.call(
            ADMIN,
            Method::POST,
            &path,
            Some(json!({ "to": friend.number(), "text": text })),
        )
    };
    let (s, v) = send("free?").await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
    assert_eq!(v["error"]["code"], "insufficient_credits");
    let (s, v) = g
        .call(
            &reader,
            Method::POST,
            "/v1/credits/grants",
            Some(json!({ "amount": 2 })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            "/v1/credits/grants",
            Some(json!({ "amount": 2, "note": "trial" })),
        )
        .await;
    assert_eq!(
        (s, v["balance"].as_i64()),
        (StatusCode::CREATED, Some(2)),
        "{v}"
    );
    let mut paid = Vec::new();
    for text in ["paid 1", "paid 2"] {
        let (s, v) = send(text).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        paid.push(v);
    }
    let (s, _) = send("broke").await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    for m in &paid {
        received(&friend, &wa_id(m)).await;
    }
    let (s, ledger) = g
        .call(&reader, Method::GET, "/v1/credits/ledger?limit=2", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{ledger}");
    let kinds: Vec<&str> = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["debit", "debit"]);
    let paid_ids: HashSet<&str> = paid.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let debited: HashSet<&str> = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(debited, paid_ids);
    let cursor = ledger["next_cursor"].as_str().expect("a second page");
    let (_, older) = g
        .call(
            &reader,
            Method::GET,
            &format!("/v1/credits/ledger?cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(older["data"][0]["kind"], "grant");
    assert_eq!(older["data"][0]["note"], "trial");
    let (_, v) = g.call(&reader, Method::GET, "/v1/credits", None).await;
    assert_eq!(v["balance"], 0);
    g.stop().await;
}

async fn errors_answer_400_401_403_404_409_413_and_429_in_the_error_shape(db: Db) {
    let Some((g, dev, owner)) = linked(db, fast_config(), "6281300000091").await else {
        return;
    };
    let shape = |v: &Value, code: &str| {
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["message"].is_string(), "{v}");
        assert!(
            v["error"]["request_id"]
                .as_str()
                .unwrap()
                .starts_with("req_"),
            "{v}"
        );
    };
    let path = format!("/v1/devices/{dev}/messages");
    // 400: malformed JSON, and a field at fault.
    let r = g
        .request(ADMIN, Method::POST, &path)
        .header("content-type", "application/json")
        .body("{\"to\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    shape(&r.json().await.unwrap(), "invalid_request");
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &path,
            Some(json!({ "to": "nobody", "text": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "to");
    // 401: no key, an unknown key.
    let r = g
        .http
        .get(format!("{}/v1/devices", g.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    shape(&r.json().await.unwrap(), "unauthorized");
    let (s, v) = g
        .call(
            "wsk_not-a-real-key-at-all",
            Method::GET,
            "/v1/devices",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    shape(&v, "unauthorized");
    // 403: a key without the route's scope.
    let reader = g.key(&["devices:read"]).await;
    let (s, v) = g
        .call(
            &reader,
            Method::POST,
            &path,
            Some(json!({ "to": "628123456", "text": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["scope"], "messages:send");
    // 404: unknown device, message, route.
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            "/v1/devices/dev_missing/messages",
            Some(json!({ "to": "628123456", "text": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    shape(&v, "not_found");
    let (s, _) = g
        .call(ADMIN, Method::GET, "/v1/messages/msg_missing", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = g.call(ADMIN, Method::GET, "/v1/nothing-here", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    shape(&v, "not_found");
    // 409: a pairing code for a device that is linked and online.
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/pair-code"),
            Some(json!({ "phone": owner.number() })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    shape(&v, "conflict");
    // 413: a body over the limit (64 KiB in the test configuration).
    let big = "x".repeat(70 * 1024);
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &path,
            Some(json!({ "to": "628123456", "text": big })),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    shape(&v, "payload_too_large");
    // 429: a key limited to two requests a minute, with Retry-After.
    let (_, slow) = g
        .key_with(json!({ "name": "slow", "scopes": ["devices:read"], "rate_limit_per_minute": 2 }))
        .await;
    for _ in 0..2 {
        assert_eq!(
            g.call(&slow, Method::GET, "/v1/devices", None).await.0,
            StatusCode::OK
        );
    }
    let r = g
        .request(&slow, Method::GET, "/v1/devices")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    shape(&r.json().await.unwrap(), "rate_limited");
    g.stop().await;
}

async fn a_dropped_connection_is_counted_as_a_reconnect_and_the_device_comes_back(db: Db) {
    let Some((g, dev, owner)) = linked(db, fast_config(), "6281300000021").await else {
        return;
    };
    let device_jid = g
        .sandbox()
        .devices(&owner.jid())
        .into_iter()
        .find(|d| d.device() != 0)
        .expect("the gateway's companion");
    assert!(g.sandbox().fault().drop_connection(&device_jid));
    let metric = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .map(str::to_owned)
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = g
            .http
            .get(format!("{}/metrics", g.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            metric(&text, "wasap_decrypt_failures_total").as_deref(),
            Some("0"),
            "{text}"
        );
        if metric(&text, "wasap_reconnects_total").as_deref() == Some("1")
            && g.sandbox().is_online(&device_jid)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    g.wait_device(ADMIN, &dev, "online").await;
    g.stop().await;
}

both_backends!(
    a_dropped_connection_is_counted_as_a_reconnect_and_the_device_comes_back,
    health_readiness_metrics_and_openapi_need_no_key,
    keys_are_created_listed_disabled_enabled_and_revoked_each_taking_effect_at_once,
    a_device_shows_its_qr_as_text_png_and_svg_links_reconnects_logs_out_and_is_deleted,
    every_message_kind_reaches_the_phone_and_each_202_equals_the_stored_message,
    idempotency_priorities_and_scheduled_sends_hold_against_whatsapp,
    the_message_log_filters_by_device_chat_direction_status_and_time_and_pages_by_cursor,
    whatsapp_groups_are_created_listed_changed_messaged_and_left,
    contacts_contact_groups_and_a_broadcast_reach_each_member,
    webhooks_are_managed_deliver_signed_events_redeliver_and_stream_as_sse,
    credits_pay_for_sends_and_the_ledger_records_grants_and_debits,
    errors_answer_400_401_403_404_409_413_and_429_in_the_error_shape,
);
