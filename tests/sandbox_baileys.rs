//! Baileys 7.0.0-rc14 against wa-sandbox: it verifies the sandbox's certificate chain,
//! pairs by QR through a virtual phone, restarts after 515, uploads prekeys, and exchanges
//! texts with virtual phones, with another Baileys, and in a group of three.

mod common;

use std::time::Duration;

use common::interop::NodePeer;
use serde_json::{Value, json};
use wa_sandbox::{Jid, Phone, Sandbox, SandboxConfig};

const WAIT: Duration = Duration::from_secs(20);

struct Baileys {
    peer: NodePeer,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Baileys {
    fn call(&mut self, request: Value) -> Value {
        let answer = self.peer.call(&request);
        assert!(answer.get("error").is_none(), "{request} -> {answer}");
        answer
    }

    fn event(&mut self, kind: &str) -> Value {
        self.call(json!({"op": "next_event", "kind": kind, "timeout_ms": 30_000}))
    }

    fn message(&mut self, text: &str) -> Value {
        self.call(json!({"op": "next_event", "kind": "message", "match": text, "from_me": false, "timeout_ms": 30_000}))
    }

    /// Starts Baileys against the sandbox; it connects and registers.
    fn start(sandbox: &Sandbox, name: &str) -> Baileys {
        let dir = std::env::temp_dir().join(format!("wasap-baileys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut b = Baileys {
            peer: NodePeer::start("sandbox-peer.mjs", &[]),
            _dir: TempDir(dir.clone()),
        };
        b.call(json!({
            "op": "start",
            "ws_url": sandbox.ws_url(),
            "root": hex::encode(sandbox.root_public_key()),
            "dir": dir.to_string_lossy(),
        }));
        b
    }

    /// Starts Baileys against the sandbox and pairs it with `phone` through a QR scan.
    async fn paired(sandbox: &Sandbox, phone: &Phone, name: &str) -> Baileys {
        let mut b = Baileys::start(sandbox, name);
        let qr = b.event("qr")["qr"].as_str().unwrap().to_owned();
        let device = phone.scan_qr(&qr).await.expect("phone scans Baileys' QR");
        assert_eq!(device.user, phone.number());
        let close = b.event("close");
        assert_eq!(close["code"], 515);
        b.event("open");
        b
    }
}

async fn wait_prekeys(sandbox: &Sandbox, device: &Jid) {
    for _ in 0..100 {
        if sandbox.prekey_count(device) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{device} uploaded no prekeys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_pairs_and_exchanges_texts_with_phones_peers_and_groups() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone_a = sandbox.create_phone("6281200000001").await.unwrap();
    let phone_b = sandbox.create_phone("6281200000002").await.unwrap();
    let phone_c = sandbox.create_phone("6281200000003").await.unwrap();

    let mut a = Baileys::paired(&sandbox, &phone_a, "a").await;
    let a_device = Jid::pn_device("6281200000001", 1);
    wait_prekeys(&sandbox, &a_device).await;
    assert!(sandbox.is_online(&a_device));

    // A virtual phone writes to Baileys, and Baileys answers.
    phone_b
        .send_text(&phone_a.jid(), "hello from phone b")
        .await
        .unwrap();
    let got = a.message("hello from phone b");
    assert_eq!(got["from"], "6281200000002@s.whatsapp.net");
    a.call(json!({"op": "send", "to": "6281200000002@s.whatsapp.net", "text": "hello phone b"}));
    let seen = phone_b
        .wait_for_text(|t| t == "hello phone b", WAIT)
        .await
        .expect("phone b decrypts Baileys' text");
    assert!(seen.from.starts_with("6281200000001"), "{}", seen.from);
    // Baileys' own phone sees the copy for its other devices.
    phone_a
        .wait_for_text(|t| t == "hello phone b", WAIT)
        .await
        .expect("own phone gets the device-sent copy");

    // Echo mode.
    phone_b.set_echo(true);
    a.call(json!({"op": "send", "to": "6281200000002@s.whatsapp.net", "text": "echo me"}));
    let echoed = a.message("echo me");
    assert_eq!(echoed["from"], "6281200000002@s.whatsapp.net");
    assert_eq!(echoed["fromMe"], false);
    phone_b.set_echo(false);

    // A second Baileys, paired to another phone.
    let mut c = Baileys::paired(&sandbox, &phone_c, "c").await;
    wait_prekeys(&sandbox, &Jid::pn_device("6281200000003", 1)).await;
    a.call(json!({"op": "send", "to": "6281200000003@s.whatsapp.net", "text": "hi c, from a"}));
    let got = c.message("hi c, from a");
    assert_eq!(got["from"], "6281200000001@s.whatsapp.net");
    c.call(json!({"op": "send", "to": "6281200000001@s.whatsapp.net", "text": "hi a, from c"}));
    let got = a.message("hi a, from c");
    assert_eq!(got["from"], "6281200000003@s.whatsapp.net");

    // A group of three: Baileys a, Baileys c and phone b.
    let group = a.call(json!({
        "op": "group_create",
        "subject": "sandbox trio",
        "participants": ["6281200000003@s.whatsapp.net", "6281200000002@s.whatsapp.net"],
    }))["jid"]
        .as_str()
        .unwrap()
        .to_owned();
    let meta = a.call(json!({"op": "group_metadata", "jid": group}));
    assert_eq!(meta["participants"].as_array().unwrap().len(), 3);
    a.call(json!({"op": "send", "to": group, "text": "hello group"}));
    let got = c.message("hello group");
    assert_eq!(got["from"], group.as_str());
    assert_eq!(got["participant"], "6281200000001@s.whatsapp.net");
    phone_b
        .wait_for_text(|t| t == "hello group", WAIT)
        .await
        .expect("phone b decrypts the group text");
    let group_jid: Jid = group.parse().unwrap();
    phone_b
        .send_text(&group_jid, "phone b to the group")
        .await
        .unwrap();
    a.message("phone b to the group");
    c.message("phone b to the group");
    c.call(json!({"op": "send", "to": group, "text": "c to the group"}));
    a.message("c to the group");
    phone_b
        .wait_for_text(|t| t == "c to the group", WAIT)
        .await
        .expect("phone b decrypts c's group text");

    a.call(json!({"op": "stop"}));
    c.call(json!({"op": "stop"}));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_pairs_by_phone_code_and_survives_drops_and_stream_errors() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281200000011").await.unwrap();
    let friend = sandbox.create_phone("6281200000012").await.unwrap();
    let mut b = Baileys::start(&sandbox, "code");
    b.event("qr");
    let code = b.call(json!({"op": "pair_code", "number": "6281200000011"}))["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 8);
    let device = phone
        .enter_pair_code(&code)
        .await
        .expect("phone-code pairing");
    assert_eq!(device, Jid::pn_device("6281200000011", 1));
    assert_eq!(b.event("close")["code"], 515);
    b.event("open");
    wait_prekeys(&sandbox, &device).await;

    friend
        .send_text(&phone.jid(), "paired by code")
        .await
        .unwrap();
    b.message("paired by code");

    // Dropped: Baileys reconnects and receives what arrived meanwhile from the offline queue.
    assert!(sandbox.fault().drop_connection(&device));
    b.event("close");
    friend
        .send_text(&phone.jid(), "while reconnecting")
        .await
        .unwrap();
    b.event("open");
    b.message("while reconnecting");

    // A 503 stream error: Baileys reconnects too.
    assert!(sandbox.fault().stream_error(&device, 503));
    b.event("close");
    b.event("open");
    b.call(json!({"op": "send", "to": "6281200000012@s.whatsapp.net", "text": "still here"}));
    friend
        .wait_for_text(|t| t == "still here", WAIT)
        .await
        .expect("friend gets it");
    b.call(json!({"op": "stop"}));
    sandbox.shutdown().await;
}
