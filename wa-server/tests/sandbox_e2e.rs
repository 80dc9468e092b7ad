//! The gateway end to end over real sockets: HTTP in front, `ClientTransport` (wa-client)
//! behind, a real wa-sandbox as WhatsApp, on SQLite and on PostgreSQL. Linking by QR and by
//! pairing code, texts with receipts, echoes as inbound messages and webhooks, media by URL,
//! logout.

mod common;

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
use wa_sandbox::Jid;
use wa_server::DeviceTransport;

async fn serve(app: Router) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

async fn text_goes_out_with_receipts_and_the_echo_comes_back_as_inbound_and_webhook(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let key = g.key(APP_SCOPES).await;
    let hooks: Arc<Mutex<Vec<Value>>> = Arc::default();
    let got = hooks.clone();
    let hook_addr = serve(Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let got = got.clone();
            async move {
                got.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    ))
    .await;
    let (s, v) = g
        .call(
            &key,
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": format!("http://{hook_addr}/hook"), "events": ["message.received", "message.status"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let owner = g.sandbox().create_phone("6281200000001").await.unwrap();
    let contact = g.sandbox().create_phone("6281100000001").await.unwrap();
    contact.set_echo(true);
    let dev = g.create_device(&key).await;
    g.link_by_qr(&key, &dev, &owner).await;

    let id = g
        .send(
            &key,
            &dev,
            json!({ "to": "+62 811-0000-0001", "text": "hello gateway" }),
        )
        .await;
    let sent = g.wait_message(&key, &id, "delivered").await;
    assert!(
        sent["sent_at"].is_string() && sent["delivered_at"].is_string(),
        "{sent}"
    );
    let wa_id = sent["wa_message_id"].as_str().unwrap().to_string();
    let received = contact
        .wait_for(|m| m.id == wa_id, Duration::from_secs(10))
        .await
        .expect("the contact received the text");
    assert_eq!(received.text.as_deref(), Some("hello gateway"));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let inbound = loop {
        let (_, v) = g
            .call(&key, Method::GET, "/v1/messages?direction=in", None)
            .await;
        if let Some(m) = v["data"].as_array().and_then(|a| a.first()) {
            break m.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no inbound message");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(inbound["from"], "6281100000001@s.whatsapp.net");
    assert_eq!(inbound["chat"], "6281100000001@s.whatsapp.net");
    assert_eq!(inbound["type"], "text");
    assert_eq!(inbound["content"]["text"], "hello gateway");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = hooks.lock().unwrap().clone();
        let received = events.iter().find(|e| e["type"] == "message.received");
        let delivered = events
            .iter()
            .find(|e| e["type"] == "message.status" && e["data"]["status"] == "delivered");
        if let (Some(r), Some(d)) = (received, delivered) {
            assert_eq!(r["device_id"], dev.as_str());
            assert_eq!(r["data"]["text"], "hello gateway");
            assert_eq!(r["data"]["from"], "6281100000001@s.whatsapp.net");
            assert_eq!(r["data"]["sender_phone"], "6281100000001");
            assert!(
                r["data"]["sender_lid"]
                    .as_str()
                    .is_some_and(|l| l.ends_with("@lid")),
                "{r}"
            );
            assert_eq!(r["data"]["message_id"], inbound["id"]);
            assert_eq!(r["data"]["is_group"], false);
            assert_eq!(d["data"]["message_id"], id.as_str());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhooks missing: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    g.stop().await;
}

async fn image_by_url_reaches_the_phone_with_caption_and_hash(db: Db) {
    let image: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let served = image.clone();
    let media = serve(Router::new().route(
        "/cat.png",
        get(move || {
            let body = served.clone();
            async move { ([("content-type", "image/png")], body) }
        }),
    ))
    .await;
    let mut config = fast_config();
    config.media.allow = vec!["127.0.0.0/8".parse().unwrap()];
    let Some(g) = Gateway::start(db, config).await else {
        return;
    };
    let owner = g.sandbox().create_phone("6281200000002").await.unwrap();
    let contact = g.sandbox().create_phone("6281100000002").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &owner).await;
    let id = g
        .send(
            ADMIN,
            &dev,
            json!({ "to": "6281100000002", "image": { "url": format!("http://{media}/cat.png"), "caption": "a cat" } }),
        )
        .await;
    let sent = g.wait_message(ADMIN, &id, "delivered").await;
    let wa_id = sent["wa_message_id"].as_str().unwrap().to_string();
    let got = contact
        .wait_for(|m| m.id == wa_id, Duration::from_secs(10))
        .await
        .expect("the contact received the image");
    let message = wa_core::proto::Message::decode(got.raw.as_slice()).unwrap();
    let img = message.image_message.expect("an image message");
    assert_eq!(img.caption.as_deref(), Some("a cat"));
    assert_eq!(img.mimetype.as_deref(), Some("image/png"));
    assert_eq!(img.file_length, Some(image.len() as u64));
    assert_eq!(
        img.file_sha256.as_deref(),
        Some(wa_core::crypto::sha256(&image).as_slice())
    );
    g.stop().await;
}

async fn pairing_code_links_the_device_to_that_number(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    // A number WhatsApp does not know gets an error at once, not a code.
    let stranger = g.create_device(ADMIN).await;
    let started = std::time::Instant::now();
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{stranger}/pair-code"),
            Some(json!({ "phone": "6289999999999" })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("404"),
        "{v}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let phone = g.sandbox().create_phone("6281200000003").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/pair-code"),
            Some(json!({ "phone": "+62 812 0000 0003" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = v["code"].as_str().unwrap();
    assert_eq!(code.len(), 8, "{v}");
    phone.enter_pair_code(code).await.unwrap();
    let d = g.wait_device(ADMIN, &dev, "online").await;
    assert_eq!(d["phone"], "6281200000003");
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/pair-code"),
            Some(json!({ "phone": "6281200000003" })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    g.stop().await;
}

async fn logout_and_delete_unlink_the_device_from_the_phone(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let phone = g.sandbox().create_phone("6281200000004").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &phone).await;
    let user: Jid = phone.jid();
    assert_eq!(g.sandbox().devices(&user).len(), 2);
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/logout"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    g.wait_device(ADMIN, &dev, "logged_out").await;
    assert_eq!(
        g.sandbox().devices(&user).len(),
        1,
        "only the phone is left"
    );
    assert!(
        !g.transport.store_path(&dev).exists(),
        "the device store is gone"
    );
    // Linking again works after a logout.
    g.link_by_qr(ADMIN, &dev, &phone).await;
    assert_eq!(g.sandbox().devices(&user).len(), 2);
    // Deleting a linked device unlinks it too.
    let (s, v) = g
        .call(ADMIN, Method::DELETE, &format!("/v1/devices/{dev}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(g.sandbox().devices(&user).len(), 1);
    assert!(!g.transport.store_path(&dev).exists());
    g.stop().await;
}

async fn offline_device_keeps_messages_queued_until_it_reconnects(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let phone = g.sandbox().create_phone("6281200000005").await.unwrap();
    let contact = g.sandbox().create_phone("6281100000003").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &phone).await;
    g.transport.disconnect(&dev).await.unwrap();
    g.wait_device(ADMIN, &dev, "offline").await;
    let id = g
        .send(
            ADMIN,
            &dev,
            json!({ "to": "6281100000003", "text": "later" }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, m) = g
        .call(ADMIN, Method::GET, &format!("/v1/messages/{id}"), None)
        .await;
    assert_eq!(m["status"], "queued", "{m}");
    assert_eq!(m["attempts"], 0, "{m}");
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/connect"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let sent = g.wait_message(ADMIN, &id, "delivered").await;
    let wa_id = sent["wa_message_id"].as_str().unwrap().to_string();
    assert!(
        contact
            .wait_for(|m| m.id == wa_id, Duration::from_secs(10))
            .await
            .is_some()
    );
    g.stop().await;
}

async fn linked_devices_reconnect_by_themselves_after_a_gateway_restart(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let phone = g.sandbox().create_phone("6281200000006").await.unwrap();
    let contact = g.sandbox().create_phone("6281100000001").await.unwrap();
    contact.set_echo(true);
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &phone).await;
    let g = g.restart(fast_config()).await;
    // No QR this time: the stored credentials log in again.
    let d = g.wait_device(ADMIN, &dev, "online").await;
    assert_eq!(d["phone"], "6281200000006");
    assert_eq!(g.sandbox().devices(&phone.jid()).len(), 2);
    let id = g
        .send(
            ADMIN,
            &dev,
            json!({ "to": "6281100000001", "text": "after restart" }),
        )
        .await;
    g.wait_message(ADMIN, &id, "delivered").await;
    g.stop().await;
}

async fn inbound_media_carries_type_caption_metadata_quote_and_mentions(db: Db) {
    use wa_core::message::{Context, Image, Media, MessageContent, Quote};
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let owner = g.sandbox().create_phone("6281200000007").await.unwrap();
    let friend = g.sandbox().create_phone("6281100000002").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &owner).await;
    let image = MessageContent::Image(Image {
        media: Media {
            url: Some("https://mmg.whatsapp.net/x".into()),
            direct_path: Some("/x".into()),
            media_key: Some(vec![1; 32]),
            file_sha256: Some(vec![2; 32]),
            file_enc_sha256: Some(vec![3; 32]),
            file_length: Some(1234),
            mimetype: Some("image/jpeg".into()),
            media_key_timestamp: Some(1_700_000_000),
        },
        caption: Some("look at this".into()),
        context: Some(Context {
            quote: Some(Quote {
                stanza_id: "3EB0QUOTED".into(),
                participant: Some("6281200000007@s.whatsapp.net".into()),
                ..Default::default()
            }),
            mentions: vec!["6281200000007@s.whatsapp.net".into()],
            ..Default::default()
        }),
        ..Default::default()
    });
    let wa_id = friend
        .send_message(&owner.jid(), &image.to_proto())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let m = loop {
        let (_, v) = g
            .call(ADMIN, Method::GET, "/v1/messages?direction=in", None)
            .await;
        if let Some(m) = v["data"].as_array().and_then(|a| a.first()) {
            break m.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no inbound message");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(m["wa_message_id"], wa_id.as_str());
    assert_eq!(m["type"], "image");
    assert_eq!(m["from"], "6281100000002@s.whatsapp.net");
    assert_eq!(m["content"]["text"], "look at this");
    assert_eq!(m["content"]["media"]["mime_type"], "image/jpeg");
    assert_eq!(m["content"]["media"]["file_length"], 1234);
    assert_eq!(m["content"]["mentions"][0], "6281200000007@s.whatsapp.net");
    assert_eq!(m["reply_to"], "3EB0QUOTED");
    assert!(m.get("push_name").is_some(), "{m}");
    g.stop().await;
}

async fn demo_mode_links_by_qr_and_by_code_by_itself_and_contacts_echo(db: Db) {
    let Some(g) = Gateway::start_demo(db).await else {
        return;
    };
    let by_qr = g.create_device(ADMIN).await;
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{by_qr}/connect"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let d = g.wait_device(ADMIN, &by_qr, "online").await;
    assert_eq!(d["phone"], "6281200000001");

    let by_code = g.create_device(ADMIN).await;
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{by_code}/pair-code"),
            Some(json!({ "phone": "6289900000001" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = g.wait_device(ADMIN, &by_code, "online").await;
    assert_eq!(d["phone"], "6289900000001");

    for (device, contact) in [(&by_qr, "6281100000002"), (&by_code, "6281100000003")] {
        let id = g
            .send(
                ADMIN,
                device,
                json!({ "to": contact, "text": format!("hi {contact}") }),
            )
            .await;
        g.wait_message(ADMIN, &id, "delivered").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (_, v) = g
                .call(
                    ADMIN,
                    Method::GET,
                    &format!("/v1/messages?device_id={device}&direction=in"),
                    None,
                )
                .await;
            if let Some(m) = v["data"].as_array().and_then(|a| a.first()) {
                assert_eq!(m["from"], format!("{contact}@s.whatsapp.net"));
                assert_eq!(m["content"]["text"], format!("hi {contact}"));
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no echo from {contact}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    g.stop().await;
}

async fn a_read_receipt_from_the_recipients_client_marks_the_message_read(db: Db) {
    use futures_util::StreamExt;
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let owner = g.sandbox().create_phone("6281200000008").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &owner).await;
    // The recipient reads on a linked wa-client device of their own.
    let friend = g.sandbox().create_phone("6281100000008").await.unwrap();
    let reader = wa_client::Client::builder(wa_client::MemoryStore::new())
        .ws_url(g.sandbox().ws_url())
        .root_key(g.sandbox().root_public_key())
        .build();
    let mut events = reader.events();
    reader.connect().await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.next()).await {
            Ok(Some(wa_client::Event::Qr(qr))) => {
                friend.scan_qr(&qr.code).await.unwrap();
                break;
            }
            Ok(Some(_)) => {}
            other => panic!("no QR: {other:?}"),
        }
    }
    reader
        .wait_connected(Duration::from_secs(20))
        .await
        .unwrap();

    let id = g
        .send(
            ADMIN,
            &dev,
            json!({ "to": "6281100000008", "text": "please read" }),
        )
        .await;
    let wa_id = g.wait_message(ADMIN, &id, "delivered").await["wa_message_id"]
        .as_str()
        .unwrap()
        .to_string();
    let chat = loop {
        match tokio::time::timeout(Duration::from_secs(20), events.next()).await {
            Ok(Some(wa_client::Event::Message(m))) if m.info.id == wa_id => {
                break m.info.chat.clone();
            }
            Ok(Some(_)) => {}
            other => panic!("the reader never got the message: {other:?}"),
        }
    };
    reader.mark_read(&chat, None, &[wa_id]).await.unwrap();
    let read = g.wait_message(ADMIN, &id, "read").await;
    assert!(read["read_at"].is_string(), "{read}");
    reader.disconnect().await;
    g.stop().await;
}

/// A wa-client linked to a fresh account `number` on the sandbox (another WhatsApp user).
async fn linked_client(g: &Gateway, number: &str) -> (wa_client::Client, wa_client::EventStream) {
    use futures_util::StreamExt;
    let phone = g.sandbox().create_phone(number).await.unwrap();
    let client = wa_client::Client::builder(wa_client::MemoryStore::new())
        .ws_url(g.sandbox().ws_url())
        .root_key(g.sandbox().root_public_key())
        .build();
    let mut events = client.events();
    client.connect().await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.next()).await {
            Ok(Some(wa_client::Event::Qr(qr))) => {
                phone.scan_qr(&qr.code).await.unwrap();
                break;
            }
            Ok(Some(_)) => {}
            other => panic!("no QR: {other:?}"),
        }
    }
    client
        .wait_connected(Duration::from_secs(20))
        .await
        .unwrap();
    (client, events)
}

async fn received_media_downloads_through_the_gateway_url_byte_for_byte(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let owner = g.sandbox().create_phone("6281200000009").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &owner).await;
    let (sender, _events) = linked_client(&g, "6281100000009").await;
    let picture: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    sender
        .send_image(&owner.jid(), &picture, "image/png", Some("the plan"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let m = loop {
        let (_, v) = g
            .call(ADMIN, Method::GET, "/v1/messages?direction=in", None)
            .await;
        if let Some(m) = v["data"].as_array().and_then(|a| a.first()) {
            break m.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no inbound image");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = m["content"]["media"]["download_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no download_url in {m}"))
        .to_string();
    assert_eq!(
        url,
        format!("/v1/messages/{}/media", m["id"].as_str().unwrap())
    );
    assert!(
        !m.to_string().contains("media_key"),
        "the media key must not be exposed: {m}"
    );
    let resp = g
        .http
        .get(format!("{}{url}", g.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), picture.as_slice());
    // A text message has no media to download.
    let id = g
        .send(
            ADMIN,
            &dev,
            json!({ "to": "6281100000009", "text": "thanks" }),
        )
        .await;
    let (s, v) = g
        .call(
            ADMIN,
            Method::GET,
            &format!("/v1/messages/{id}/media"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    sender.disconnect().await;
    g.stop().await;
}

async fn group_membership_changes_become_group_participants_events(db: Db) {
    let Some(g) = Gateway::start(db, fast_config()).await else {
        return;
    };
    let owner = g.sandbox().create_phone("6281200000010").await.unwrap();
    g.sandbox().create_phone("6281100000010").await.unwrap();
    g.sandbox().create_phone("6281100000011").await.unwrap();
    let dev = g.create_device(ADMIN).await;
    g.link_by_qr(ADMIN, &dev, &owner).await;
    let (s, group) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/groups"),
            Some(json!({ "subject": "Tim", "participants": ["6281100000010"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{group}");
    let jid = group["jid"].as_str().unwrap().to_string();
    let (s, v) = g
        .call(
            ADMIN,
            Method::POST,
            &format!("/v1/devices/{dev}/groups/{jid}/participants"),
            Some(json!({ "add": ["6281100000011"] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = read_events(&g).await;
        if let Some(e) = events
            .iter()
            .find(|e| e["type"] == "group.participants" && e["data"]["action"] == "add")
        {
            assert_eq!(e["device_id"], dev.as_str());
            assert_eq!(e["data"]["group"], jid.as_str());
            assert_eq!(
                e["data"]["participants"],
                json!(["6281100000011@s.whatsapp.net"])
            );
            assert_eq!(e["data"]["author"], "6281200000010@s.whatsapp.net");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no group.participants event: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    g.stop().await;
}

/// Every event recorded so far, from the SSE stream (read until it goes quiet).
async fn read_events(g: &Gateway) -> Vec<Value> {
    use futures_util::StreamExt;
    let resp = g
        .http
        .get(format!("{}/v1/events", g.base))
        .bearer_auth(ADMIN)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_millis(300), stream.next()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

both_backends!(
    text_goes_out_with_receipts_and_the_echo_comes_back_as_inbound_and_webhook,
    image_by_url_reaches_the_phone_with_caption_and_hash,
    pairing_code_links_the_device_to_that_number,
    logout_and_delete_unlink_the_device_from_the_phone,
    offline_device_keeps_messages_queued_until_it_reconnects,
    linked_devices_reconnect_by_themselves_after_a_gateway_restart,
    inbound_media_carries_type_caption_metadata_quote_and_mentions,
    demo_mode_links_by_qr_and_by_code_by_itself_and_contacts_echo,
    a_read_receipt_from_the_recipients_client_marks_the_message_read,
    received_media_downloads_through_the_gateway_url_byte_for_byte,
    group_membership_changes_become_group_participants_events,
);
