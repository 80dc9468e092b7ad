//! The SSRF-safe media fetcher, webhooks (signing, order, retries, dead letters, redelivery)
//! and the SSE stream.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::routing::{get, post};
use common::{ADMIN, Db, Harness, fast_config};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wa_server::media::{FetchError, MediaFetcher, MediaPolicy};
use wa_server::{DeviceStatus, OutboundContent, ReceiptKind, TransportEvent};

async fn serve(app: Router) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

async fn media_server() -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/img",
            get(|| async { ([("content-type", "image/png")], vec![7u8; 1000]) }),
        )
        .route("/big", get(|| async { vec![1u8; 10_000] }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        );
    serve(app).await
}

fn policy(allow_loopback: bool) -> MediaPolicy {
    MediaPolicy {
        max_bytes: 4096,
        timeout: Duration::from_millis(500),
        allow: if allow_loopback {
            vec!["127.0.0.0/8".parse().unwrap()]
        } else {
            vec![]
        },
    }
}

#[tokio::test]
async fn fetcher_reads_allowed_loopback_media() {
    let addr = media_server().await;
    let f = MediaFetcher::new(policy(true))
        .fetch(&format!("http://{addr}/img"))
        .await
        .unwrap();
    assert_eq!(f.data.len(), 1000);
    assert_eq!(f.content_type.as_deref(), Some("image/png"));
    let via_name = MediaFetcher::new(policy(true))
        .fetch(&format!("http://localhost:{}/img", addr.port()))
        .await
        .unwrap();
    assert_eq!(via_name.data.len(), 1000);
}

#[tokio::test]
async fn fetcher_refuses_loopback_without_allow_list_by_ip_and_by_name() {
    let addr = media_server().await;
    let f = MediaFetcher::new(policy(false));
    assert!(matches!(
        f.fetch(&format!("http://{addr}/img")).await,
        Err(FetchError::ForbiddenAddress)
    ));
    let by_name = f
        .fetch(&format!("http://localhost:{}/img", addr.port()))
        .await;
    assert!(
        matches!(by_name, Err(FetchError::ForbiddenAddress)),
        "{by_name:?}"
    );
}

#[tokio::test]
async fn fetcher_enforces_size_limit_and_timeout() {
    let addr = media_server().await;
    let f = MediaFetcher::new(policy(true));
    assert!(matches!(
        f.fetch(&format!("http://{addr}/big")).await,
        Err(FetchError::TooLarge(4096))
    ));
    let started = std::time::Instant::now();
    assert!(matches!(
        f.fetch(&format!("http://{addr}/slow")).await,
        Err(FetchError::Timeout)
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn image_messages_carry_fetched_bytes_only_from_allowed_hosts(db: Db) {
    let addr = media_server().await;
    let mut cfg = fast_config();
    cfg.media = policy(true);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let m = h.send(&dev, json!({ "to": "628111222333", "image": { "url": format!("http://{addr}/img"), "caption": "look" } })).await;
    h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    match &h.transport.sent()[0].message.content {
        OutboundContent::Image(p) => {
            assert_eq!(p.data.len(), 1000);
            assert_eq!(p.mime_type, "image/png");
            assert_eq!(p.caption.as_deref(), Some("look"));
        }
        other => panic!("{other:?}"),
    }
    h.stop().await;

    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let (s, v) = h
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/messages"),
            Some(json!({ "to": "628111222333", "image": { "url": format!("http://{addr}/img") } })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "image.url");
    let m = h.send(&dev, json!({ "to": "628111222333", "document": { "url": format!("http://localhost:{}/img", addr.port()) } })).await;
    let failed = h.wait_status(m["id"].as_str().unwrap(), "failed").await;
    assert!(
        failed["failure_reason"]
            .as_str()
            .unwrap()
            .contains("forbidden"),
        "{failed}"
    );
    assert!(h.transport.sent().is_empty());
    h.stop().await;
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    fail_first: Arc<Mutex<u32>>,
}

async fn receiver(r: Receiver) -> String {
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let mut fails = r.fail_first.lock().unwrap();
                if *fails > 0 {
                    *fails -= 1;
                    return AxStatus::INTERNAL_SERVER_ERROR;
                }
                r.got.lock().unwrap().push((headers, body));
                AxStatus::NO_CONTENT
            }
        }),
    );
    format!("http://{}/hook", serve(app).await)
}

async fn create_hook(h: &Harness, url: &str) -> (String, String) {
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": url, "events": ["*"], "headers": { "X-Tenant": "t1" } })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let secret = v["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    (v["id"].as_str().unwrap().to_string(), secret)
}

async fn webhooks_are_signed_ordered_and_gap_free(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let r = Receiver::default();
    let url = receiver(r.clone()).await;
    let (hook, secret) = create_hook(&h, &url).await;
    let (_, listed) = h
        .admin(Method::GET, &format!("/v1/webhooks/{hook}"), None)
        .await;
    assert!(listed.get("secret").is_none() && !listed.to_string().contains(&secret));
    *r.fail_first.lock().unwrap() = 2;
    let dev = h.online_device("d").await;
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "hi" }))
        .await;
    h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    assert!(h.transport.receipt(
        &dev,
        m["wa_message_id"].as_str().unwrap(),
        ReceiptKind::Delivered
    ));
    h.wait_for(|| async { r.got.lock().unwrap().len() == 3 })
        .await;
    let got = r.got.lock().unwrap().clone();
    let mut types = Vec::new();
    for (i, (headers, body)) in got.iter().enumerate() {
        let id = headers["webhook-id"].to_str().unwrap();
        let ts: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let sig = headers["webhook-signature"].to_str().unwrap();
        assert!(
            wa_server::webhooks::verify(&secret, id, ts, body, sig),
            "bad signature"
        );
        assert!(!wa_server::webhooks::verify(&secret, id, ts + 1, body, sig));
        assert_eq!(headers["x-tenant"], "t1");
        let ev: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(ev["id"], id);
        assert_eq!(ev["device_id"], dev.as_str());
        assert_eq!(
            ev["sequence"],
            (i + 1) as i64,
            "per-device sequence without gaps, in order"
        );
        types.push(label(&ev));
    }
    assert_eq!(
        types,
        [
            "device.status",
            "message.status:sent",
            "message.status:delivered"
        ]
    );
    let (_, log) = h
        .admin(
            Method::GET,
            &format!("/v1/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    let first = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_position"] == 1)
        .unwrap()
        .clone();
    assert_eq!(first["status"], "delivered");
    let codes: Vec<i64> = first["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 204]);
    h.stop().await;
}

async fn failing_deliveries_become_dead_letters_and_can_be_redelivered(db: Db) {
    let mut cfg = fast_config();
    cfg.webhooks.retry_window = Duration::from_millis(200);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let r = Receiver::default();
    *r.fail_first.lock().unwrap() = u32::MAX;
    let url = receiver(r.clone()).await;
    let (hook, _) = create_hook(&h, &url).await;
    h.online_device("d").await;
    let dead = || async {
        let (_, log) = h
            .admin(
                Method::GET,
                &format!("/v1/webhooks/{hook}/deliveries?status=dead"),
                None,
            )
            .await;
        log["data"].as_array().unwrap().len() == 1
    };
    h.wait_for(dead).await;
    *r.fail_first.lock().unwrap() = 0;
    let (s, v) = h
        .admin(
            Method::POST,
            &format!("/v1/webhooks/{hook}/redeliver"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(v["requeued"], 1);
    h.wait_for(|| async { r.got.lock().unwrap().len() == 1 })
        .await;
    // The receiver has the request before the gateway records the outcome.
    let delivered = || async {
        let (_, log) = h
            .admin(
                Method::GET,
                &format!("/v1/webhooks/{hook}/deliveries"),
                None,
            )
            .await;
        log["data"][0]["status"] == "delivered"
    };
    h.wait_for(delivered).await;
    let (_, log) = h
        .admin(
            Method::GET,
            &format!("/v1/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    let did = log["data"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = h
        .admin(
            Method::POST,
            &format!("/v1/webhooks/{hook}/deliveries/{did}/redeliver"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    h.wait_for(|| async { r.got.lock().unwrap().len() == 2 })
        .await;
    h.stop().await;
}

async fn webhooks_receive_only_their_device_and_event_types(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let a = h.create_device("a").await;
    let b = h.create_device("b").await;
    let r = Receiver::default();
    let url = receiver(r.clone()).await;
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": url, "events": ["message.status"], "device_id": a })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(h.transport.set_online(&a, "6281"));
    assert!(h.transport.set_online(&b, "6282"));
    let ma = h
        .send(&a, json!({ "to": "628111222333", "text": "a" }))
        .await;
    let mb = h
        .send(&b, json!({ "to": "628111222333", "text": "b" }))
        .await;
    h.wait_status(ma["id"].as_str().unwrap(), "sent").await;
    h.wait_status(mb["id"].as_str().unwrap(), "sent").await;
    h.wait_for(|| async { !r.got.lock().unwrap().is_empty() })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let ev: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(
        (ev["type"].as_str(), ev["device_id"].as_str()),
        (Some("message.status"), Some(a.as_str()))
    );
    assert_eq!(ev["data"]["status"], "sent");
    assert_eq!(ev["data"]["message_id"], ma["id"]);
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": url, "events": ["message.exploded"] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "events[0]");
    h.stop().await;
}

async fn slow_receivers_time_out_and_are_logged(db: Db) {
    let mut cfg = fast_config();
    cfg.webhooks.timeout = Duration::from_millis(200);
    cfg.webhooks.retry_base = Duration::from_secs(60);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let app = Router::new().route(
        "/hook",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            AxStatus::OK
        }),
    );
    let url = format!("http://{}/hook", serve(app).await);
    let (hook, _) = create_hook(&h, &url).await;
    h.online_device("d").await;
    let attempted = || async {
        let (_, log) = h
            .admin(
                Method::GET,
                &format!("/v1/webhooks/{hook}/deliveries"),
                None,
            )
            .await;
        log["data"]
            .as_array()
            .is_some_and(|d| d.len() == 1 && d[0]["attempts"] == 1)
    };
    h.wait_for(attempted).await;
    let (_, log) = h
        .admin(
            Method::GET,
            &format!("/v1/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    let d = &log["data"][0];
    assert_eq!(d["status"], "pending");
    assert_eq!(d["attempt_log"][0]["error"], "timeout");
    assert!(d["attempt_log"][0]["latency_ms"].as_i64().unwrap() < 1500);
    assert!(d["next_attempt_at"].is_string());
    h.stop().await;
}

async fn webhook_subscriptions_can_be_listed_updated_and_deleted(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let r = Receiver::default();
    let url = receiver(r.clone()).await;
    let (s, v) = h.admin(Method::POST, "/v1/webhooks", Some(json!({ "url": url, "events": ["message.status"], "secret": "my-own-secret-0123456789", "headers": { "Authorization": "Basic c2VjcmV0" } }))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["secret"], "my-own-secret-0123456789");
    let id = v["id"].as_str().unwrap().to_string();
    let (_, list) = h.admin(Method::GET, "/v1/webhooks", None).await;
    let text = list.to_string();
    assert!(
        !text.contains("my-own-secret") && !text.contains("c2VjcmV0"),
        "secrets and header values stay hidden: {text}"
    );
    assert_eq!(list["data"][0]["header_names"], json!(["Authorization"]));
    let (s, v) = h
        .admin(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(json!({ "events": ["*"], "enabled": false })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["enabled"].as_bool(), v["events"].clone()),
        (Some(false), json!(["*"]))
    );
    // Disabled: events are not queued for it.
    h.online_device("d").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (_, log) = h
        .admin(Method::GET, &format!("/v1/webhooks/{id}/deliveries"), None)
        .await;
    assert!(log["data"].as_array().unwrap().is_empty());
    for (body, field) in [
        (json!({ "url": "ftp://x" }), "url"),
        (
            json!({ "headers": { "webhook-id": "forged" } }),
            "headers.webhook-id",
        ),
        (json!({ "events": [] }), "events"),
    ] {
        let (s, v) = h
            .admin(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(body))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field))
        );
    }
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": url, "events": ["*"], "secret": "short" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("secret"))
    );
    let (s, _) = h
        .admin(Method::DELETE, &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = h
        .admin(Method::GET, &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    h.stop().await;
}

async fn private_webhook_targets_are_refused_unless_allowed(db: Db) {
    let mut cfg = fast_config();
    cfg.webhooks.allow_private_targets = false;
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/x",
    ] {
        let (s, v) = h
            .admin(
                Method::POST,
                "/v1/webhooks",
                Some(json!({ "url": url, "events": ["*"] })),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("url")),
            "{url}"
        );
    }
    h.stop().await;
}

async fn old_events_and_finished_deliveries_are_swept(db: Db) {
    let mut cfg = fast_config();
    cfg.event_retention = Duration::from_millis(300);
    cfg.janitor_interval = Duration::from_millis(100);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let r = Receiver::default();
    let url = receiver(r.clone()).await;
    let (hook, _) = create_hook(&h, &url).await;
    h.online_device("d").await;
    h.wait_for(|| async { r.got.lock().unwrap().len() == 1 })
        .await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.database_url).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64,)>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
                .0
        }
    };
    h.wait_for(|| async { count("SELECT COUNT(*) FROM events").await == 0 })
        .await;
    assert_eq!(count("SELECT COUNT(*) FROM webhook_deliveries").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM webhook_attempts").await, 0);
    let (_, log) = h
        .admin(
            Method::GET,
            &format!("/v1/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    assert!(log["data"].as_array().unwrap().is_empty());
    pool.close().await;
    h.stop().await;
}

async fn read_sse(h: &Harness, last_event_id: Option<&str>, want: usize) -> Vec<(String, String)> {
    let mut rb = h
        .http
        .get(format!("{}/v1/events", h.base))
        .bearer_auth(ADMIN);
    if let Some(id) = last_event_id {
        rb = rb.header("last-event-id", id);
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < want {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("SSE events in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|s| s.trim().to_string())
            };
            if let (Some(id), Some(data)) = (field("id:"), field("data:")) {
                let ev: Value = serde_json::from_str(&data).unwrap();
                events.push((id, label(&ev)));
            }
        }
    }
    events
}

async fn sse_streams_events_and_resumes_after_last_event_id(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("d").await;
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "x" }))
        .await;
    h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    let all = read_sse(&h, None, 2).await;
    assert_eq!(all[0].1, "device.status");
    assert_eq!(all[1].1, "message.status:sent");
    let rest = read_sse(&h, Some(&all[0].0), 1).await;
    assert_eq!(rest[0], all[1]);
    // Live: an event committed after connecting arrives too.
    let wa = m["wa_message_id"].as_str().unwrap().to_string();
    let (live, _) = tokio::join!(read_sse(&h, Some(&all[1].0), 1), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(h.transport.receipt(&dev, &wa, ReceiptKind::Read));
    });
    assert_eq!(live[0].1, "message.status:read");
    h.stop().await;
}

async fn a_slow_receiver_holds_back_only_its_own_webhook(db: Db) {
    let mut cfg = fast_config();
    cfg.webhooks.timeout = Duration::from_secs(5);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let slow_hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hits = slow_hits.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let hits = hits.clone();
            async move {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                AxStatus::OK
            }
        }),
    );
    let slow_url = format!("http://{}/hook", serve(app).await);
    let fast = Receiver::default();
    let fast_url = receiver(fast.clone()).await;
    create_hook(&h, &slow_url).await;
    create_hook(&h, &fast_url).await;
    let dev = h.online_device("d").await;
    for (i, status) in [DeviceStatus::Offline, DeviceStatus::Online]
        .into_iter()
        .cycle()
        .take(4)
        .enumerate()
    {
        assert!(h.transport.emit(TransportEvent::Status {
            device_id: dev.clone(),
            status,
            phone: Some(format!("62812000000{i}")),
            push_name: None,
        }));
    }
    // Five events or more; each slow attempt takes 1.5 s. Had the fast webhook waited for
    // the slow one, the slow receiver would have been called about as often by now.
    h.wait_for(|| async { fast.got.lock().unwrap().len() >= 5 })
        .await;
    let slow = slow_hits.load(std::sync::atomic::Ordering::SeqCst);
    assert!(slow <= 2, "the slow receiver was called {slow} times");
    h.stop().await;
}

both_backends!(
    image_messages_carry_fetched_bytes_only_from_allowed_hosts,
    webhooks_are_signed_ordered_and_gap_free,
    failing_deliveries_become_dead_letters_and_can_be_redelivered,
    webhooks_receive_only_their_device_and_event_types,
    webhook_subscriptions_can_be_listed_updated_and_deleted,
    private_webhook_targets_are_refused_unless_allowed,
    old_events_and_finished_deliveries_are_swept,
    slow_receivers_time_out_and_are_logged,
    sse_streams_events_and_resumes_after_last_event_id,
    a_slow_receiver_holds_back_only_its_own_webhook,
);

/// An event's type, with the status for `message.status` events (`message.status:sent`).
fn label(ev: &Value) -> String {
    let t = ev["type"].as_str().unwrap_or_default();
    match ev["data"]["status"].as_str() {
        Some(status) if t == "message.status" => format!("{t}:{status}"),
        _ => t.to_string(),
    }
}
