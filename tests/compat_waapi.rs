//! Seed 002 (the Baileys-based waapi gateway with its Fonnte-compatible `/send`) against the
//! real `wasap serve --demo`, on SQLite and on PostgreSQL: every documented request sent as
//! the seed writes it, every documented response field with its type, every documented
//! error with its body, and the auth rules. A send per route is followed to the demo contact
//! (its echo, or the delivery receipt for media).

mod common;

use std::net::SocketAddr;

use common::demo_gateway::{Db, DemoGateway, assert_like, poll, run_example, send, unix_ms};
use reqwest::Method;
use serde_json::{Value, json};

/// A demo contact that echoes every text.
const ECHO: &str = "6281100000001";
const ECHO_2: &str = "6281100000002";

fn seed(text: &str) -> Value {
    serde_json::from_str(text).expect("seed example is JSON")
}

// The response examples of seed 002, as written there.
const SEND_OK: &str = r#"{ "status": true, "reason": "Message sent successfully" }"#;
const SEND_ERR: &str = r#"{ "status": false, "reason": "Unauthorized: Invalid API Key." }"#;
const MESSAGE_OK: &str = r#"{ "success": true, "message": "Message dispatched successfully", "id": "3EB0C1B2D953E2FC3EC8", "to": "628123456789", "timestamp": 1779348348 }"#;
const MESSAGE_ERR: &str = r#"{ "error": "Failed to send message: Device is not connected" }"#;
const MEDIA_OK: &str = r#"{ "success": true, "message": "image message dispatched successfully", "id": "3EB0C1B2D953E2FC3EC8", "to": "628123456789", "timestamp": 1779348348 }"#;
const MEDIA_ERR: &str =
    r#"{ "error": "Unsupported media type. Use: 'image', 'video', 'document'" }"#;
const GROUPS_OK: &str = r#"{ "success": true, "groups": [ { "id": "1203630234567890@g.us", "name": "Family Group" } ] }"#;
const GROUPS_503: &str = r#"{ "error": "Device is not connected or session not active" }"#;
const STATUS_OK: &str = r#"{ "devices": [ { "id": "device_legacy", "name": "Default Device", "apiKey": "wa_f1e2d3c4b5a697887766554433221100", "webhookUrl": "", "status": "CONNECTED", "authenticated": true, "hasQr": false, "qr": null, "phoneNumber": "628123456789", "pushName": "CS WaApi", "totalMessagesSent": 5 } ], "publicUrl": "https://waapi.hsblink.web.id" }"#;
const STATUS_500: &str = r#"{ "error": "Internal Server Error" }"#;

/// A gateway with one linked device and a key with the send and read scopes.
async fn linked(db: Db, extra: &[&str]) -> Option<(DemoGateway, Value, String)> {
    let gw = DemoGateway::start(db, extra)?;
    let device = gw.link_device("waapi").await;
    let (_, key) = gw
        .create_key(&["messages:send", "devices:read"], None)
        .await;
    Some((gw, device, key))
}

fn id_of(device: &Value) -> String {
    device["id"].as_str().unwrap().to_string()
}

async fn fonnte_send_of_the_seed_example_is_queued_with_fonnte_fields(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    // The seed's request: Authorization is the bare token, JSON body with target and message.
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .json(&json!({ "target": "628123456789", "message": "Halo dari Wasap" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_like(&v, &seed(SEND_OK), &[]);
    assert_eq!(
        v,
        json!({ "status": true, "reason": "Message sent successfully", "detail": "success! message in queue", "id": v["id"], "process": "pending", "target": ["628123456789"] })
    );
    let id = v["id"][0].as_str().unwrap();
    let (s, m) = gw
        .admin(Method::GET, &format!("/v1/messages/{id}"), None)
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["chat"], "628123456789@s.whatsapp.net");
    assert_eq!(m["device_id"], device["id"]);

    let text = "fonnte json to the echo contact";
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .json(&json!({ "target": ECHO, "message": text })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    gw.wait_echo(&id_of(&device), ECHO, text).await;
}

async fn fonnte_send_takes_form_bodies_the_to_alias_and_country_code_62(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let text = "form body with a national number";
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .form(&[("to", "081100000002"), ("message", text)]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["target"], json!([ECHO_2]), "0… became 62…");
    gw.wait_echo(&id_of(&device), ECHO_2, text).await;

    // Another country code, and 0 to keep the number as given.
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .form(&[
                ("target", "0612345678"),
                ("message", "hi"),
                ("countryCode", "31"),
            ]),
    )
    .await;
    assert_eq!((s, &v["target"]), (200, &json!(["31612345678"])), "{v}");
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .json(&json!({ "target": "0612345678", "message": "hi", "countryCode": "0" })),
    )
    .await;
    assert_eq!((s, &v["target"]), (200, &json!(["0612345678"])), "{v}");
}

async fn fonnte_send_splits_targets_personalizes_and_spaces_them_by_delay_and_schedule(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .json(&json!({
                "target": "081100000001|Ani, 081100000002|Budi|INV-7",
                "message": "Halo {name} {var1}",
                "delay": "2",
            })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["target"], json!([ECHO, ECHO_2]));
    let ids: Vec<&str> = v["id"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let mut send_at = Vec::new();
    for id in &ids {
        let (_, m) = gw
            .admin(Method::GET, &format!("/v1/messages/{id}"), None)
            .await;
        send_at.push(unix_ms(m["send_at"].as_str().unwrap()));
    }
    assert_eq!(send_at[1] - send_at[0], 2000, "delay 2 s between targets");
    gw.wait_echo(&id_of(&device), ECHO, "Halo Ani {var1}").await;
    gw.wait_echo(&id_of(&device), ECHO_2, "Halo Budi INV-7")
        .await;

    // schedule: unix seconds; the message waits until then.
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .form(&[
                ("target", ECHO),
                ("message", "later"),
                ("schedule", &at.to_string()),
            ]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, m) = gw
        .admin(
            Method::GET,
            &format!("/v1/messages/{}", v["id"][0].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(m["status"], "queued");
    assert_eq!(unix_ms(m["send_at"].as_str().unwrap()), at as i64 * 1000);
}

async fn fonnte_send_attaches_a_file_by_url_with_the_message_as_caption(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let media = media_server(vec![7u8; 1500], "application/octet-stream").await;
    let dev = id_of(&device);
    for (file, kind, message, filename) in [
        ("promo.png", "image", "Promo minggu ini", None),
        ("invoice.pdf", "document", "", Some("INV-7.pdf")),
    ] {
        let mut form = vec![
            ("target", "081100000001".to_string()),
            ("url", format!("http://{media}/{file}")),
            ("message", message.to_string()),
        ];
        if let Some(f) = filename {
            form.push(("filename", f.to_string()));
        }
        let (s, v) = send(
            gw.request(Method::POST, "/send")
                .header("Authorization", &key)
                .form(&form),
        )
        .await;
        assert_eq!(s, 200, "{file}: {v}");
        let id = v["id"][0].as_str().unwrap().to_string();
        let m = poll(&format!("{file} delivered"), async || {
            let (_, m) = gw
                .admin(Method::GET, &format!("/v1/messages/{id}"), None)
                .await;
            (m["status"] == "delivered").then_some(m)
        })
        .await;
        assert_eq!(m["type"], kind, "{m}");
        if message.is_empty() {
            assert_eq!(m["content"].get("caption"), None, "{m}");
        } else {
            assert_eq!(m["content"]["caption"], message, "{m}");
        }
        if let Some(f) = filename {
            assert_eq!(m["content"]["filename"], f, "{m}");
        }
        assert_eq!(m["device_id"], dev.as_str());
    }
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .form(&[("target", ECHO), ("url", "http://10.1.2.3/x.png")]),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_like(&v, &seed(SEND_ERR), &[]);
}

async fn fonnte_send_errors_are_status_false_with_a_reason(db: Db) {
    let Some((gw, _device, key)) = linked(db, &[]).await else {
        return;
    };
    let body = json!({ "target": ECHO, "message": "x" });
    // 401 exactly as the seed: a wrong key, and no key at all.
    for rb in [
        gw.request(Method::POST, "/send")
            .header("Authorization", "not-a-key")
            .json(&body),
        gw.request(Method::POST, "/send").json(&body),
    ] {
        let (s, v) = send(rb).await;
        assert_eq!((s, &v), (401, &seed(SEND_ERR)));
    }
    // A key without messages:send.
    let (_, reader) = gw.create_key(&["devices:read"], None).await;
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &reader)
            .json(&body),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_like(&v, &seed(SEND_ERR), &[]);
    assert_eq!(v["status"], false);
    // Missing fields and bad values.
    for bad in [
        json!({ "message": "x" }),
        json!({ "target": ECHO }),
        json!({ "target": "abc", "message": "x" }),
        json!({ "target": ECHO, "message": "x", "delay": "soon" }),
        json!({ "target": ECHO, "message": "x", "countryCode": "+62" }),
    ] {
        let (s, v) = send(
            gw.request(Method::POST, "/send")
                .header("Authorization", &key)
                .json(&bad),
        )
        .await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert_like(&v, &seed(SEND_ERR), &[]);
        assert_eq!(v["status"], false);
    }
    // More than 1,000 targets, or more than 4 MiB of text in total.
    let many = vec![ECHO; 1001].join(",");
    let big = "x".repeat(4200);
    for bad in [
        json!({ "target": many, "message": "x" }),
        json!({ "target": vec![ECHO; 1000].join(","), "message": big }),
    ] {
        let (s, v) = send(
            gw.request(Method::POST, "/send")
                .header("Authorization", &key)
                .json(&bad),
        )
        .await;
        assert_eq!((s, &v["status"]), (400, &json!(false)), "{v}");
    }
    // The seed's 503: no connected device.
    let (_, d) = gw.admin(Method::GET, "/v1/devices", None).await;
    let dev = d["data"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = gw
        .admin(Method::POST, &format!("/v1/devices/{dev}/logout"), None)
        .await;
    assert_eq!(s, 202, "{v}");
    gw.wait_status(&dev, "logged_out").await;
    let (s, v) = send(
        gw.request(Method::POST, "/send")
            .header("Authorization", &key)
            .json(&body),
    )
    .await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(
        v,
        json!({ "status": false, "reason": "Device is not connected" })
    );
}

async fn api_send_message_of_the_seed_example_answers_the_documented_fields(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&key)
            .json(&json!({ "to": "628123456789", "message": "Halo dari Wasap" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_like(&v, &seed(MESSAGE_OK), &[]);
    assert_eq!(v["message"], "Message dispatched successfully");
    assert_eq!(v["to"], "628123456789");
    assert!(v["id"].as_str().unwrap().starts_with("3EB0"), "{v}");
    let out = gw.outbound(&id_of(&device)).await;
    assert!(
        out.iter().any(|m| m["wa_message_id"] == v["id"]),
        "the id is the WhatsApp message id: {out:?}"
    );

    let text = "api send-message to the echo contact";
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&key)
            .json(&json!({ "to": ECHO, "message": text })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    gw.wait_echo(&id_of(&device), ECHO, text).await;
}

async fn api_send_message_errors_use_the_error_field(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let body = json!({ "to": ECHO, "message": "x" });
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth("wsk_wrong")
            .json(&body),
    )
    .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v, json!({ "error": "Unauthorized: Invalid API Key." }));
    let (_, reader) = gw.create_key(&["devices:read"], None).await;
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&reader)
            .json(&body),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_like(&v, &seed(MESSAGE_ERR), &[]);
    for bad in [
        json!({ "to": ECHO }),
        json!({ "message": "x" }),
        json!({ "to": "x1", "message": "x" }),
    ] {
        let (s, v) = send(
            gw.request(Method::POST, "/api/send-message")
                .bearer_auth(&key)
                .json(&bad),
        )
        .await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert_like(&v, &seed(MESSAGE_ERR), &[]);
    }
    let dev = id_of(&device);
    gw.admin(Method::POST, &format!("/v1/devices/{dev}/logout"), None)
        .await;
    gw.wait_status(&dev, "logged_out").await;
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&key)
            .json(&body),
    )
    .await;
    assert_eq!((s, v), (503, seed(MESSAGE_ERR)));
}

/// A local HTTP server that serves `bytes` as `content_type` at any path.
async fn media_server(bytes: Vec<u8>, content_type: &'static str) -> SocketAddr {
    let app = axum::Router::new().fallback(move || {
        let body = bytes.clone();
        async move { ([("content-type", content_type)], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn api_send_media_of_the_seed_example_reaches_the_contact(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    // The seed's documented request, as written (the URL is not fetched before sending).
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-media")
            .bearer_auth(&key)
            .json(&json!({ "to": "628123456789", "url": "https://placehold.co/600x400.png", "caption": "Pesan keterangan", "type": "image" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_like(&v, &seed(MEDIA_OK), &[]);
    assert_eq!(v["message"], "image message dispatched successfully");

    let png: Vec<u8> = (0..2000u32).map(|i| (i * 13 % 251) as u8).collect();
    let media = media_server(png, "image/png").await;
    let dev = id_of(&device);
    for (kind, caption) in [
        ("image", Some("a chart")),
        ("video", None),
        ("document", Some("invoice")),
    ] {
        let mut body = json!({ "to": ECHO, "url": format!("http://{media}/files/{kind}.bin") });
        if kind != "image" {
            body["type"] = kind.into();
        }
        if let Some(c) = caption {
            body["caption"] = c.into();
        }
        let (s, v) = send(
            gw.request(Method::POST, "/api/send-media")
                .bearer_auth(&key)
                .json(&body),
        )
        .await;
        assert_eq!(s, 200, "{kind}: {v}");
        assert_eq!(
            v["message"],
            format!("{kind} message dispatched successfully")
        );
        let wa_id = v["id"].as_str().unwrap().to_string();
        // The contact's delivery receipt: it received the media.
        let m = poll(&format!("{kind} delivered"), async || {
            gw.outbound(&dev)
                .await
                .into_iter()
                .find(|m| m["wa_message_id"] == wa_id.as_str() && m["status"] == "delivered")
        })
        .await;
        assert_eq!(m["type"], kind);
        assert_eq!(m["content"]["caption"].as_str(), caption, "{m}");
    }
}

async fn api_send_media_errors_include_the_documented_unsupported_type(db: Db) {
    let Some((gw, _device, key)) = linked(db, &[]).await else {
        return;
    };
    for kind in ["audio", "sticker", "IMAGE"] {
        let (s, v) = send(
            gw.request(Method::POST, "/api/send-media")
                .bearer_auth(&key)
                .json(
                    &json!({ "to": ECHO, "url": "https://placehold.co/600x400.png", "type": kind }),
                ),
        )
        .await;
        assert_eq!((s, v), (400, seed(MEDIA_ERR)), "{kind}");
    }
    for bad in [
        json!({ "to": ECHO }),
        json!({ "url": "https://placehold.co/600x400.png" }),
        json!({ "to": ECHO, "url": "ftp://example.com/x.png" }),
        json!({ "to": ECHO, "url": "http://10.0.0.1/x.png" }),
    ] {
        let (s, v) = send(
            gw.request(Method::POST, "/api/send-media")
                .bearer_auth(&key)
                .json(&bad),
        )
        .await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert_like(&v, &seed(MEDIA_ERR), &[]);
    }
    let (_, reader) = gw.create_key(&["devices:read"], None).await;
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-media")
            .bearer_auth(&reader)
            .json(&json!({ "to": ECHO, "url": "https://placehold.co/600x400.png" })),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({ "error": "Forbidden: this API key lacks the scope messages:send" })
        )
    );
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-media")
            .json(&json!({ "to": ECHO, "url": "https://placehold.co/600x400.png" })),
    )
    .await;
    assert_eq!(
        (s, v),
        (401, json!({ "error": "Unauthorized: Invalid API Key." }))
    );
}

async fn wa_groups_lists_the_devices_groups_and_503s_when_not_connected(db: Db) {
    let Some((gw, device, key)) = linked(db, &[]).await else {
        return;
    };
    let dev = id_of(&device);
    let (s, g) = gw
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/groups"),
            Some(json!({ "subject": "Family Group", "participants": [ECHO, ECHO_2] })),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let number = device["number"].as_i64().unwrap();
    for reference in [dev.clone(), number.to_string()] {
        let (s, v) = send(
            gw.request(Method::GET, &format!("/api/devices/{reference}/wa-groups"))
                .bearer_auth(&key),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_like(&v, &seed(GROUPS_OK), &[]);
        assert_eq!(
            v["groups"],
            json!([{ "id": g["jid"], "name": "Family Group" }])
        );
    }
    // Not connected: created but never linked.
    let idle = gw.create_device("idle").await;
    let (s, v) = send(
        gw.request(
            Method::GET,
            &format!("/api/devices/{}/wa-groups", idle["id"].as_str().unwrap()),
        )
        .bearer_auth(&key),
    )
    .await;
    assert_eq!((s, v), (503, seed(GROUPS_503)));
    let (s, v) = send(
        gw.request(Method::GET, "/api/devices/dev_missing/wa-groups")
            .bearer_auth(&key),
    )
    .await;
    assert_eq!((s, v), (404, json!({ "error": "Device not found" })));
    // A key bound to another device does not see this one.
    let (_, bound) = gw.create_key(&["devices:read"], idle["id"].as_str()).await;
    let (s, v) = send(
        gw.request(Method::GET, &format!("/api/devices/{dev}/wa-groups"))
            .bearer_auth(&bound),
    )
    .await;
    assert_eq!((s, v), (404, json!({ "error": "Device not found" })));
    let (_, sender) = gw.create_key(&["messages:send"], None).await;
    let (s, v) = send(
        gw.request(Method::GET, &format!("/api/devices/{dev}/wa-groups"))
            .bearer_auth(&sender),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({ "error": "Forbidden: this API key lacks the scope devices:read" })
        )
    );
    let (s, v) = send(gw.request(Method::GET, &format!("/api/devices/{dev}/wa-groups"))).await;
    assert_eq!(
        (s, v),
        (401, json!({ "error": "Unauthorized: Invalid API Key." }))
    );
}

async fn status_reports_every_documented_device_field_and_the_public_url(db: Db) {
    let Some((gw, device, key)) =
        linked(db, &["--public-url", "https://waapi.example.test/"]).await
    else {
        return;
    };
    let dev = id_of(&device);
    let (_, bound) = gw.create_key(&["messages:send"], Some(&dev)).await;
    let (s, hook) = gw
        .admin(
            Method::POST,
            "/v1/webhooks",
            Some(json!({ "url": "http://127.0.0.1:9/hook", "events": ["message.received"], "device_id": dev })),
        )
        .await;
    assert_eq!(s, 201, "{hook}");
    let text = "counted as sent";
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&bound)
            .json(&json!({ "to": ECHO, "message": text })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    gw.wait_echo(&dev, ECHO, text).await;
    let idle = gw.create_device("idle").await;

    let (s, v) = send(gw.request(Method::GET, "/api/status").bearer_auth(&key)).await;
    assert_eq!(s, 200, "{v}");
    // The demo phones have no WhatsApp profile name: pushName stays null until WhatsApp
    // reports one.
    assert_like(&v, &seed(STATUS_OK), &["pushName", "phoneNumber", "apiKey"]);
    assert_eq!(v["publicUrl"], "https://waapi.example.test");
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{v}");
    let d = &devices[0];
    assert_eq!(d["id"], dev.as_str());
    assert_eq!(d["name"], "waapi");
    assert_eq!(d["status"], "CONNECTED");
    assert_eq!(d["authenticated"], true);
    assert_eq!(d["phoneNumber"], device["phone"]);
    assert_eq!(d["webhookUrl"], "http://127.0.0.1:9/hook");
    assert_eq!(d["apiKey"], format!("{}…", &bound[..12]).as_str());
    assert_eq!(d["totalMessagesSent"], 1);
    let other = &devices[1];
    assert_eq!(other["id"], idle["id"]);
    assert_eq!(other["status"], "DISCONNECTED");
    assert_eq!(other["authenticated"], false);
    assert_eq!(other["apiKey"], Value::Null);
    assert_eq!(other["webhookUrl"], "");
    assert_eq!(other["totalMessagesSent"], 0);

    // A bound key sees its own device only; a key without devices:read is refused.
    let (_, bound_reader) = gw.create_key(&["devices:read"], Some(&dev)).await;
    let (s, v) = send(
        gw.request(Method::GET, "/api/status")
            .bearer_auth(&bound_reader),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["devices"].as_array().unwrap().len(), 1);
    let (s, v) = send(gw.request(Method::GET, "/api/status").bearer_auth(&bound)).await;
    assert_eq!(s, 403, "{v}");
    assert_like(&v, &seed(STATUS_500), &[]);
    let (s, v) = send(gw.request(Method::GET, "/api/status")).await;
    assert_eq!(
        (s, v),
        (401, json!({ "error": "Unauthorized: Invalid API Key." }))
    );
}

async fn status_defaults_the_public_url_to_the_listen_address(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let (_, reader) = gw.create_key(&["devices:read"], None).await;
    let (s, v) = send(gw.request(Method::GET, "/api/status").bearer_auth(&reader)).await;
    assert_eq!(
        (s, v),
        (200, json!({ "devices": [], "publicUrl": gw.base }))
    );
}

async fn status_answers_the_documented_500_when_the_database_fails(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    gw.create_device("one").await;
    let (_, reader) = gw.create_key(&["devices:read"], None).await;
    // Break the database under the running gateway.
    let broke = match db {
        Db::Sqlite => std::process::Command::new("sqlite3")
            .arg(gw.dir.join("wasap.db"))
            .arg("DROP TABLE webhooks")
            .status()
            .map(|s| s.success())
            .unwrap_or(false),
        Db::Postgres => gw.psql("DROP TABLE webhooks"),
    };
    if !broke {
        eprintln!("SKIPPED: no sqlite3 command to break the database with");
        return;
    }
    let (s, v) = send(gw.request(Method::GET, "/api/status").bearer_auth(&reader)).await;
    assert_eq!((s, v), (500, seed(STATUS_500)));
}

async fn a_bound_key_sends_through_its_device_and_an_unbound_one_through_the_first_online(db: Db) {
    let Some((gw, first, key)) = linked(db, &[]).await else {
        return;
    };
    let second = gw.link_device("second").await;
    let (_, bound) = gw
        .create_key(&["messages:send"], second["id"].as_str())
        .await;
    for (k, device, text) in [
        (&bound, &second, "through the bound device"),
        (&key, &first, "through the first online device"),
    ] {
        let (s, v) = send(
            gw.request(Method::POST, "/api/send-message")
                .bearer_auth(k)
                .json(&json!({ "to": ECHO, "message": text })),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        gw.wait_echo(&id_of(device), ECHO, text).await;
    }
    // The key model: the same key as a bare token, a Bearer token and X-Device-Api-Key.
    for rb in [
        gw.request(Method::POST, "/send")
            .header("Authorization", &bound),
        gw.request(Method::POST, "/send").bearer_auth(&bound),
        gw.request(Method::POST, "/send")
            .header("X-Device-Api-Key", &bound),
    ] {
        let (s, v) = send(rb.json(&json!({ "target": ECHO, "message": "same key" }))).await;
        assert_eq!(s, 200, "{v}");
    }
    // A bound key whose device is offline does not fall back to another device.
    let dev = id_of(&second);
    gw.admin(Method::POST, &format!("/v1/devices/{dev}/logout"), None)
        .await;
    gw.wait_status(&dev, "logged_out").await;
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&bound)
            .json(&json!({ "to": ECHO, "message": "x" })),
    )
    .await;
    assert_eq!((s, v), (503, seed(MESSAGE_ERR)));
    let text = "the unbound key still has the first device";
    let (s, v) = send(
        gw.request(Method::POST, "/api/send-message")
            .bearer_auth(&key)
            .json(&json!({ "to": ECHO, "message": text })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    gw.wait_echo(&id_of(&first), ECHO, text).await;
}

async fn the_waapi_migration_example_runs_against_the_demo(db: Db) {
    let Some(gw) = DemoGateway::start(db, &[]) else {
        return;
    };
    let out = run_example(&gw, "python3", "examples/compat/waapi.py");
    assert!(out.contains("\"status\":true"), "{out}");
    assert!(out.contains("echo received"), "{out}");
}

on_both_databases!(
    fonnte_send_of_the_seed_example_is_queued_with_fonnte_fields,
    fonnte_send_takes_form_bodies_the_to_alias_and_country_code_62,
    fonnte_send_splits_targets_personalizes_and_spaces_them_by_delay_and_schedule,
    fonnte_send_attaches_a_file_by_url_with_the_message_as_caption,
    fonnte_send_errors_are_status_false_with_a_reason,
    api_send_message_of_the_seed_example_answers_the_documented_fields,
    api_send_message_errors_use_the_error_field,
    api_send_media_of_the_seed_example_reaches_the_contact,
    api_send_media_errors_include_the_documented_unsupported_type,
    wa_groups_lists_the_devices_groups_and_503s_when_not_connected,
    status_reports_every_documented_device_field_and_the_public_url,
    status_defaults_the_public_url_to_the_listen_address,
    status_answers_the_documented_500_when_the_database_fails,
    a_bound_key_sends_through_its_device_and_an_unbound_one_through_the_first_online,
    the_waapi_migration_example_runs_against_the_demo,
);
