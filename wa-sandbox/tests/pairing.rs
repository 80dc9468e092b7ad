//! Pairing against the sandbox with wa-core's companion side: QR and phone code, the 515
//! restart, login, and refusal of unknown devices.

mod common;

use common::{Companion, TIMEOUT, paired};
use prost::Message as _;
use rand::rngs::OsRng;
use wa_core::binary::{Jid, Node};
use wa_core::pair::code::CompanionCodePairing;
use wa_core::pair::{ClientConfig, login_payload};
use wa_sandbox::{Sandbox, SandboxConfig};

#[tokio::test]
async fn qr_pairing_restarts_with_515_and_logs_in() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281100000001").await.unwrap();
    let (companion, mut client) = paired(&sandbox, &phone).await;
    let jid = companion.jid.clone().unwrap();
    assert_eq!(jid.user, "6281100000001");
    assert_eq!(jid.device(), 1);
    assert_eq!(
        sandbox.devices(&phone.jid()),
        vec![Jid::pn_device("6281100000001", 0), jid.clone()]
    );
    let offline = client.recv_until(|n| n.tag.as_str() == "ib").await.unwrap();
    assert_eq!(
        offline.child("offline").and_then(|o| o.attr("count")),
        Some("0")
    );
    assert!(sandbox.is_online(&jid));
}

#[tokio::test]
async fn pair_device_sends_six_distinct_refs() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let companion = Companion::new();
    let (_client, refs) = companion.register(&sandbox).await;
    let mut unique = refs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    assert!(refs.iter().all(|r| r.starts_with("2@")));
}

#[tokio::test]
async fn scanning_a_qr_with_other_keys_is_refused() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281100000002").await.unwrap();
    let companion = Companion::new();
    let (_client, refs) = companion.register(&sandbox).await;
    let impostor = Companion::new();
    assert!(phone.scan_qr(&impostor.qr(&refs[0])).await.is_err());
}

#[tokio::test]
async fn login_of_an_unknown_device_fails_with_401() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sandbox.create_phone("6281100000003").await.unwrap();
    let companion = Companion::new();
    let payload = login_payload(6281100000003, 5, &ClientConfig::default()).encode_to_vec();
    let mut client = common::Client::connect(&sandbox, &companion.keys.noise, &payload).await;
    let first = client.recv().await.unwrap();
    assert_eq!(first.tag.as_str(), "failure");
    assert_eq!(first.attr("reason"), Some("401"));
}

#[tokio::test]
async fn phone_code_pairing_links_the_companion() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281100000004").await.unwrap();
    let mut companion = Companion::new();
    let (mut reg, _refs) = companion.register(&sandbox).await;
    let code = CompanionCodePairing::new(&mut OsRng, None).unwrap();
    let hello = Node::new("iq")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("id", "hello-1")
        .with_attr("xmlns", "md")
        .with_children(vec![
            Node::new("link_code_companion_reg")
                .with_attr("jid", "6281100000004@s.whatsapp.net")
                .with_attr("stage", "companion_hello")
                .with_attr("should_show_push_notification", "true")
                .with_children(vec![
                    Node::new("link_code_pairing_wrapped_companion_ephemeral_pub")
                        .with_bytes(code.wrapped_ephemeral(&mut OsRng).to_vec()),
                    Node::new("companion_server_auth_key_pub")
                        .with_bytes(companion.keys.noise.public.to_vec()),
                    Node::new("companion_platform_id").with_text("1"),
                    Node::new("companion_platform_display").with_text("Chrome (Linux)"),
                    Node::new("link_code_pairing_nonce").with_text("0"),
                ]),
        ]);
    let answer = reg.iq(hello).await;
    let pairing_ref = answer
        .child("link_code_companion_reg")
        .and_then(|r| r.child("link_code_pairing_ref"))
        .and_then(|r| r.content_bytes())
        .unwrap()
        .to_vec();
    let typed = {
        let phone = phone.clone();
        let code = code.code().to_owned();
        tokio::spawn(async move { phone.enter_pair_code(&code).await })
    };
    let note = reg
        .recv_until(|n| n.attr("type") == Some("link_code_companion_reg"))
        .await
        .unwrap();
    let inner = note.child("link_code_companion_reg").unwrap();
    assert_eq!(
        inner
            .child("link_code_pairing_ref")
            .unwrap()
            .content_bytes()
            .unwrap(),
        &pairing_ref[..]
    );
    let wrapped = inner
        .child("link_code_pairing_wrapped_primary_ephemeral_pub")
        .unwrap()
        .content_bytes()
        .unwrap();
    let primary: [u8; 32] = inner
        .child("primary_identity_pub")
        .unwrap()
        .content_bytes()
        .unwrap()
        .try_into()
        .unwrap();
    let finish = code
        .finish(&mut OsRng, &companion.keys.identity, wrapped, &primary)
        .unwrap();
    let finish_iq = Node::new("iq")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("id", "finish-1")
        .with_attr("xmlns", "md")
        .with_children(vec![
            Node::new("link_code_companion_reg")
                .with_attr("jid", "6281100000004@s.whatsapp.net")
                .with_attr("stage", "companion_finish")
                .with_children(vec![
                    Node::new("link_code_pairing_wrapped_key_bundle")
                        .with_bytes(finish.wrapped_bundle.clone()),
                    Node::new("companion_identity_public")
                        .with_bytes(companion.keys.identity.public.to_vec()),
                    Node::new("link_code_pairing_ref").with_bytes(pairing_ref.clone()),
                ]),
        ]);
    reg.send(&finish_iq).await;
    let adv = finish.adv_secret;
    let stream_error = companion.finish_pairing(&mut reg, &adv).await;
    assert_eq!(stream_error.as_deref(), Some("515"));
    let device = tokio::time::timeout(TIMEOUT, typed)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(Some(device), companion.jid.clone());
    let (_client, first) = companion.login(&sandbox).await;
    assert_eq!(first.tag.as_str(), "success");
}

#[tokio::test]
async fn certificate_chain_verifies_only_under_the_sandbox_root() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use wa_core::crypto::KeyPair;
    use wa_core::noise::{CertVerifier, FrameDecoder, FrameEncoder, NoiseInitiator, WA_INTRO};
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let hello_for = |root: [u8; 32]| {
        let url = sandbox.ws_url();
        async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut framer = FrameEncoder::client(None).unwrap();
            let init = NoiseInitiator::new(
                KeyPair::generate(&mut OsRng),
                KeyPair::generate(&mut OsRng),
                &WA_INTRO,
            );
            ws.send(Message::Binary(
                framer.encode(&init.client_hello()).unwrap().into(),
            ))
            .await
            .unwrap();
            let mut decoder = FrameDecoder::new();
            let frame = loop {
                if let Some(f) = decoder.next_frame().unwrap() {
                    break f;
                }
                match ws.next().await {
                    Some(Ok(Message::Binary(b))) => decoder.push(&b),
                    other => panic!("{other:?}"),
                }
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            init.read_server_hello(&frame, &CertVerifier::with_root(root), now)
                .is_ok()
        }
    };
    assert!(hello_for(sandbox.root_public_key()).await);
    let mut other = sandbox.root_public_key();
    other[5] ^= 0x40;
    assert!(!hello_for(other).await);
    assert!(!hello_for(wa_core::noise::WA_CERT_PUB_KEY).await);
}

#[tokio::test]
async fn a_second_login_replaces_the_first() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281100000005").await.unwrap();
    let (companion, mut first) = paired(&sandbox, &phone).await;
    let (_second, node) = companion.login(&sandbox).await;
    assert_eq!(node.tag.as_str(), "success");
    let err = first
        .recv_until(|n| n.tag.as_str() == "stream:error")
        .await
        .unwrap();
    assert_eq!(
        err.child("conflict").and_then(|c| c.attr("type")),
        Some("replaced")
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(sandbox.stats().connections_online, 1);
    assert!(sandbox.is_online(companion.jid.as_ref().unwrap()));
}
