//! `wasap listen --json` and `wasap send` against an in-process sandbox.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use wa_sandbox::{Sandbox, SandboxConfig};

const WAIT: Duration = Duration::from_secs(30);

fn wasap(sandbox: &Sandbox, store: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasap"));
    cmd.args(args)
        .arg("--store")
        .arg(store)
        .env("WASAP_WA_URL", sandbox.ws_url())
        .env("WASAP_WA_ROOT_KEY", hex::encode(sandbox.root_public_key()));
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_pairs_prints_events_and_send_delivers() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281100000101").await.unwrap();
    let bob = sandbox.create_phone("6281100000102").await.unwrap();
    let store = std::env::temp_dir().join(format!("wasap-cli-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&store);

    let mut listen = Command::new(env!("CARGO_BIN_EXE_wasap"));
    listen
        .args(["listen", "--json", "--store"])
        .arg(&store)
        .env("WASAP_WA_URL", sandbox.ws_url())
        .env("WASAP_WA_ROOT_KEY", hex::encode(sandbox.root_public_key()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = listen.spawn().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let value: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    let mut next_event = async |name: &str| -> serde_json::Value {
        tokio::time::timeout(WAIT, async {
            loop {
                let v = rx.recv().await.expect("listen ended");
                if v["event"] == name {
                    return v;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {name} event"))
    };
    let qr = next_event("qr").await;
    phone.scan_qr(qr["code"].as_str().unwrap()).await.unwrap();
    let connected = next_event("connected").await;
    assert!(
        connected["jid"]
            .as_str()
            .unwrap()
            .starts_with("6281100000101:")
    );
    bob.send_text(&phone.jid(), "hi from bob").await.unwrap();
    let message = next_event("message").await;
    assert_eq!(message["type"], "text");
    assert_eq!(message["text"], "hi from bob");
    assert_eq!(message["chat"], "6281100000102@s.whatsapp.net");
    assert!(message["id"].as_str().is_some());
    child.kill().unwrap();
    let _ = child.wait();

    let out = wasap(
        &sandbox,
        &store,
        &[
            "send",
            "--to",
            "6281100000102@s.whatsapp.net",
            "--text",
            "hi bob",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(printed["id"].as_str().unwrap().starts_with("3EB0"));
    assert!(printed["timestamp"].as_u64().unwrap() > 0);
    bob.wait_for_text(|t| t == "hi bob", WAIT)
        .await
        .expect("bob gets the text");

    let out = wasap(
        &sandbox,
        &store,
        &["send", "--to", "6281100000102", "--location", "-6.2,106.8"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&store);
}

#[test]
fn send_without_a_paired_device_fails() {
    let store = std::env::temp_dir().join(format!("wasap-cli-empty-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&store);
    let out = Command::new(env!("CARGO_BIN_EXE_wasap"))
        .args(["send", "--to", "6281", "--text", "x", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wasap pair"));
    let _ = std::fs::remove_file(&store);
}
