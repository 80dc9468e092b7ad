//! The HTTP control API: every route once, as a test in another language would use it,
//! plus device removal and retry-receipt pass-through over the wire.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::paired;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wa_core::binary::Node;
use wa_sandbox::{Sandbox, SandboxConfig};

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn control_api_drives_phones_groups_and_faults() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let addr = sandbox.local_addr();
    let (status, discovery) = call(addr, "GET", "/", None).await;
    assert_eq!(status, 200);
    assert_eq!(discovery, sandbox.discovery_json());

    let (status, created) = call(
        addr,
        "POST",
        "/phones",
        Some(json!({"number": "6281700000001"})),
    )
    .await;
    assert_eq!(
        (status, created["jid"].as_str()),
        (200, Some("6281700000001@s.whatsapp.net"))
    );
    call(
        addr,
        "POST",
        "/phones",
        Some(json!({"number": "6281700000002"})),
    )
    .await;
    let (status, _) = call(addr, "POST", "/phones", Some(json!({"number": "12ab"}))).await;
    assert_eq!(status, 400);

    // Pair a companion through the scan route.
    let companion = common::Companion::new();
    let (mut reg, refs) = companion.register(&sandbox).await;
    let qr = companion.qr(&refs[2]);
    let scan = tokio::spawn(async move {
        call(
            addr,
            "POST",
            "/phones/6281700000001/scan",
            Some(json!({"qr": qr})),
        )
        .await
    });
    let mut companion = companion;
    let adv = companion.keys.adv_secret;
    assert_eq!(
        companion.finish_pairing(&mut reg, &adv).await.as_deref(),
        Some("515")
    );
    let (status, scanned) = scan.await.unwrap();
    assert_eq!(
        (status, scanned["device"].as_str()),
        (200, Some("6281700000001:1@s.whatsapp.net"))
    );

    let (_, account) = call(addr, "GET", "/accounts/6281700000001/devices", None).await;
    assert_eq!(account["devices"].as_array().unwrap().len(), 2);
    assert!(account["lid"].as_str().unwrap().ends_with("@lid"));
    let (_, accounts) = call(addr, "GET", "/accounts", None).await;
    assert_eq!(accounts.as_array().unwrap().len(), 2);
    let (status, _) = call(addr, "GET", "/accounts/6289999999999/devices", None).await;
    assert_eq!(status, 404);

    // Phone to phone, echo, received.
    call(
        addr,
        "POST",
        "/phones/6281700000002/echo",
        Some(json!({"on": true})),
    )
    .await;
    let (status, sent) = call(
        addr,
        "POST",
        "/phones/6281700000001/send",
        Some(json!({"to": "6281700000002@s.whatsapp.net", "text": "ping"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(sent["id"].as_str().unwrap().starts_with("3EB0"));
    let phone1 = sandbox.phone("6281700000001").unwrap();
    let echoed = phone1
        .wait_for_text(|t| t == "ping", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(echoed.chat, "6281700000002@s.whatsapp.net");
    let (_, received) = call(addr, "GET", "/phones/6281700000002/received", None).await;
    assert_eq!(received[0]["text"], "ping");
    assert_eq!(received[0]["from"], "6281700000001@s.whatsapp.net");
    let (status, dups) = call(addr, "GET", "/phones/6281700000002/duplicates", None).await;
    assert_eq!((status, dups), (200, json!({ "suppressed": 0 })));
    let (status, _) = call(addr, "GET", "/phones/6289999999999/duplicates", None).await;
    assert_eq!(status, 404);

    let (status, group) = call(
        addr,
        "POST",
        "/groups",
        Some(json!({"creator": "6281700000001", "subject": "g", "participants": ["6281700000002@s.whatsapp.net"]})),
    )
    .await;
    assert_eq!(status, 200);
    let gid = group["jid"].as_str().unwrap().to_owned();
    call(
        addr,
        "POST",
        "/phones/6281700000002/echo",
        Some(json!({"on": false})),
    )
    .await;
    call(
        addr,
        "POST",
        "/phones/6281700000001/send",
        Some(json!({"to": gid, "text": "to the group"})),
    )
    .await;
    let phone2 = sandbox.phone("6281700000002").unwrap();
    let got = phone2
        .wait_for_text(|t| t == "to the group", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.chat, gid);

    // Faults.
    let (mut client, first) = companion.login(&sandbox).await;
    assert_eq!(first.tag.as_str(), "success");
    let device = json!({"device": "6281700000001:1@s.whatsapp.net"});
    let (_, r) = call(
        addr,
        "POST",
        "/faults/delay",
        Some(json!({"device": "6281700000001:1@s.whatsapp.net", "ms": 1})),
    )
    .await;
    assert_eq!(r["ok"], true);
    let (_, r) = call(
        addr,
        "POST",
        "/faults/stream-error",
        Some(json!({"device": "6281700000001:1@s.whatsapp.net", "code": 503})),
    )
    .await;
    assert_eq!(r["sent"], true);
    let err = client
        .recv_until(|n| n.tag.as_str() == "stream:error")
        .await
        .unwrap();
    assert_eq!(err.attr("code"), Some("503"));
    let (_, r) = call(addr, "POST", "/faults/drop", Some(device)).await;
    assert_eq!(r["dropped"], false, "already gone");
    call(addr, "POST", "/faults/refuse", Some(json!({"on": true}))).await;
    assert!(
        tokio_tungstenite::connect_async(sandbox.ws_url())
            .await
            .is_err()
    );
    call(addr, "POST", "/faults/refuse", Some(json!({"on": false}))).await;
    let (_, stats) = call(addr, "GET", "/stats", None).await;
    assert!(stats["connections_accepted"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn retry_receipts_pass_through_and_device_removal_is_announced() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let a = sandbox.create_phone("6281700000011").await.unwrap();
    let (_first, mut c1) = paired(&sandbox, &a).await;
    let (second, mut c2) = paired(&sandbox, &a).await;
    for c in [&mut c1, &mut c2] {
        c.recv_until(|n| n.tag.as_str() == "ib").await.unwrap();
    }
    let retry = Node::new("receipt")
        .with_attr("id", "3EB0RETRY")
        .with_attr("to", "6281700000011:1@s.whatsapp.net")
        .with_attr("type", "retry")
        .with_children(vec![
            Node::new("retry")
                .with_attr("count", "2")
                .with_attr("id", "3EB0RETRY"),
            Node::new("registration").with_bytes(vec![0, 0, 1, 2]),
        ]);
    c2.send(&retry).await;
    let got = c1
        .recv_until(|n| n.tag.as_str() == "receipt")
        .await
        .unwrap();
    assert_eq!(got.attr("type"), Some("retry"));
    assert_eq!(got.attr("from"), Some("6281700000011:2@s.whatsapp.net"));
    assert_eq!(got.child("retry").and_then(|r| r.attr("count")), Some("2"));
    assert_eq!(
        got.child("registration").and_then(|r| r.content_bytes()),
        Some(&[0u8, 0, 1, 2][..])
    );

    let logout = Node::new("iq")
        .with_attr("id", "bye")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "md")
        .with_children(vec![
            Node::new("remove-companion-device")
                .with_attr("jid", second.jid.clone().unwrap().to_string())
                .with_attr("reason", "user_initiated"),
        ]);
    c2.send(&logout).await;
    let note = c1
        .recv_until(|n| n.attr("type") == Some("devices"))
        .await
        .unwrap();
    let removed = note
        .child("remove")
        .and_then(|r| r.child("device"))
        .unwrap();
    assert_eq!(removed.attr("jid"), Some("6281700000011:2@s.whatsapp.net"));
    assert_eq!(sandbox.devices(&a.jid()).len(), 2);
    let (_c, first) = second.login(&sandbox).await;
    assert_eq!(first.attr("reason"), Some("401"));
}

#[tokio::test]
async fn read_receipts_to_a_chat_reach_every_device_of_the_sender() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let a = sandbox.create_phone("6281700000021").await.unwrap();
    let b = sandbox.create_phone("6281700000022").await.unwrap();
    let (_ca, mut ca) = paired(&sandbox, &a).await;
    let (_cb, mut cb) = paired(&sandbox, &b).await;
    for c in [&mut ca, &mut cb] {
        c.recv_until(|n| n.tag.as_str() == "ib").await.unwrap();
    }
    let read = Node::new("receipt")
        .with_attr("id", "3EB0READ")
        .with_attr("to", "6281700000022@s.whatsapp.net")
        .with_attr("type", "read")
        .with_attr("t", "1700000000");
    ca.send(&read).await;
    let ack = ca.recv_until(|n| n.tag.as_str() == "ack").await.unwrap();
    assert_eq!(ack.attr("class"), Some("receipt"));
    let got = cb
        .recv_until(|n| n.tag.as_str() == "receipt")
        .await
        .unwrap();
    assert_eq!(got.attr("type"), Some("read"));
    assert_eq!(got.attr("from"), Some("6281700000021:1@s.whatsapp.net"));
    assert_eq!(got.attr("id"), Some("3EB0READ"));
}
