//! wa-client and Baileys 7.0.0-rc14 through wa-sandbox: 1:1 texts both ways (each side's
//! first message a pkmsg), our own second device, and a group with Baileys as a member.

mod common;

use std::time::Duration;

use common::interop::NodePeer;
use futures_util::StreamExt;
use serde_json::{Value, json};
use wa_client::{Client, Event, EventStream, MemoryStore, MessageEvent, ReconnectPolicy};
use wa_sandbox::{Phone, Sandbox, SandboxConfig};

const WAIT: Duration = Duration::from_secs(30);

struct Baileys {
    peer: NodePeer,
    dir: std::path::PathBuf,
}

impl Drop for Baileys {
    fn drop(&mut self) {
        let _ = self.peer.call(&json!({"op": "stop"}));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Baileys {
    fn call(&mut self, request: Value) -> Value {
        let answer = self.peer.call(&request);
        assert!(answer.get("error").is_none(), "{request} -> {answer}");
        answer
    }

    fn message(&mut self, text: &str) -> Value {
        self.call(json!({"op": "next_event", "kind": "message", "match": text, "from_me": false, "timeout_ms": 30_000}))
    }

    async fn paired(sandbox: &Sandbox, phone: &Phone, name: &str) -> Baileys {
        let dir = std::env::temp_dir().join(format!("wasap-cb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut b = Baileys {
            peer: NodePeer::start("sandbox-peer.mjs", &[]),
            dir: dir.clone(),
        };
        b.call(json!({
            "op": "start",
            "ws_url": sandbox.ws_url(),
            "root": hex::encode(sandbox.root_public_key()),
            "dir": dir.to_string_lossy(),
        }));
        let qr = b.call(json!({"op": "next_event", "kind": "qr", "timeout_ms": 30_000}))["qr"]
            .as_str()
            .unwrap()
            .to_owned();
        phone.scan_qr(&qr).await.expect("phone scans Baileys' QR");
        b.call(json!({"op": "next_event", "kind": "open", "timeout_ms": 30_000}));
        let device = wa_sandbox::Jid::pn_device(phone.number(), 1);
        for _ in 0..100 {
            if sandbox.prekey_count(&device) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        b
    }
}

fn client(sandbox: &Sandbox) -> Client {
    Client::builder(MemoryStore::new())
        .ws_url(sandbox.ws_url())
        .root_key(sandbox.root_public_key())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            ..Default::default()
        })
        .configure(|c| c.initial_pre_keys = 20)
        .build()
}

async fn pair(phone: &Phone, client: &Client) -> EventStream {
    let mut events = client.events();
    client.connect().await.unwrap();
    let qr = loop {
        if let Event::Qr(qr) = tokio::time::timeout(WAIT, events.next())
            .await
            .unwrap()
            .unwrap()
        {
            break qr;
        }
    };
    phone.scan_qr(&qr.code).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    events
}

async fn message(events: &mut EventStream, text: &str) -> Box<MessageEvent> {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Event::Message(m)) = events.next().await
                && m.text() == Some(text)
            {
                return m;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no message {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_and_group_messages_with_baileys() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let ours_phone = sandbox.create_phone("6281300000001").await.unwrap();
    let theirs_phone = sandbox.create_phone("6281300000002").await.unwrap();
    let ours = client(&sandbox);
    let ours2 = client(&sandbox);
    let mut events = pair(&ours_phone, &ours).await;
    let mut events2 = pair(&ours_phone, &ours2).await;
    let mut baileys = Baileys::paired(&sandbox, &theirs_phone, "b").await;

    // Our first message to Baileys is a pkmsg.
    let sent = ours
        .send_text(&theirs_phone.jid(), "hello baileys")
        .await
        .unwrap();
    let got = baileys.message("hello baileys");
    assert_eq!(got["id"], sent.id.as_str());
    assert_eq!(got["from"], "6281300000001@s.whatsapp.net");
    // Our second device gets the device-sent copy.
    let mirrored = message(&mut events2, "hello baileys").await;
    assert!(mirrored.info.from_me);
    assert_eq!(mirrored.info.chat, theirs_phone.jid());

    // Baileys' first message to our device is a pkmsg too (our device is new to it... or its
    // session continues); either way it decrypts.
    baileys
        .call(json!({"op": "send", "to": "6281300000001@s.whatsapp.net", "text": "hello wasap"}));
    let got = message(&mut events, "hello wasap").await;
    assert_eq!(got.info.chat, theirs_phone.jid());
    assert!(!got.info.from_me);

    // Steady state both ways.
    ours.send_text(&theirs_phone.jid(), "second from wasap")
        .await
        .unwrap();
    baileys.message("second from wasap");
    baileys.call(
        json!({"op": "send", "to": "6281300000001@s.whatsapp.net", "text": "second from baileys"}),
    );
    message(&mut events, "second from baileys").await;

    // A group created by us with Baileys in it: sender keys both ways.
    let group = ours
        .create_group("with baileys", &[theirs_phone.jid()])
        .await
        .unwrap();
    ours.send_text(&group.jid, "hello group").await.unwrap();
    let got = baileys.message("hello group");
    assert_eq!(got["from"], group.jid.to_string());
    baileys
        .call(json!({"op": "send", "to": group.jid.to_string(), "text": "baileys to the group"}));
    let got = message(&mut events, "baileys to the group").await;
    assert!(got.info.is_group);
    assert_eq!(got.info.chat, group.jid);
    assert_eq!(got.info.sender.user, theirs_phone.number());
    ours.disconnect().await;
    ours2.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_decrypts_every_media_kind_we_upload() {
    use base64::Engine as _;
    use wa_client::MediaKind;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let ours_phone = sandbox.create_phone("6281300000011").await.unwrap();
    let theirs_phone = sandbox.create_phone("6281300000012").await.unwrap();
    let ours = client(&sandbox);
    pair(&ours_phone, &ours).await;
    let mut baileys = Baileys::paired(&sandbox, &theirs_phone, "m").await;
    let to = theirs_phone.jid();
    let data: Vec<u8> = (0..100_003u32).map(|i| (i % 253) as u8).collect();
    let expected = hex::encode(wa_core::crypto::sha256(&data));
    for (kind, baileys_type) in [
        (MediaKind::Image, "image"),
        (MediaKind::Video, "video"),
        (MediaKind::Audio, "audio"),
        (MediaKind::Document, "document"),
        (MediaKind::Image, "sticker"),
    ] {
        let upload = ours.upload(&data, kind).await.unwrap();
        let media = upload.to_media("application/octet-stream");
        let content = match baileys_type {
            "image" => wa_client::MessageContent::Image(wa_client::message::Image {
                media,
                ..Default::default()
            }),
            "video" => wa_client::MessageContent::Video(wa_client::message::Video {
                media,
                ..Default::default()
            }),
            "audio" => wa_client::MessageContent::Audio(wa_client::message::Audio {
                media,
                voice_note: true,
                ..Default::default()
            }),
            "document" => wa_client::MessageContent::Document(wa_client::message::Document {
                media,
                ..Default::default()
            }),
            _ => wa_client::MessageContent::Sticker(wa_client::message::Sticker {
                media,
                ..Default::default()
            }),
        };
        let sent = ours.send(&to, content).await.unwrap();
        // Baileys receives the media message (its peer reports no text for it).
        let got = baileys.call(
            json!({"op": "next_event", "kind": "message", "from_me": false, "timeout_ms": 30_000}),
        );
        assert_eq!(got["id"], sent.id.as_str());
        let request = json!({
            "media_key": base64::engine::general_purpose::STANDARD.encode(upload.media_key),
            "url": upload.url,
            "type": baileys_type,
        });
        let out =
            common::interop::run_script("media-decrypt.mjs", &[], request.to_string().as_bytes());
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["length"], data.len());
        assert_eq!(out["sha256"], expected.as_str(), "{baileys_type}");
    }
    ours.disconnect().await;
}
