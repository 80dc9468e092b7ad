//! Messaging through the sandbox with wa-core's Signal on the companion side: phone to
//! companion and back, receipts, offline queue, prekey consumption and the low-prekey
//! notification, usync device lists and device notifications, media, the state file.

mod common;

use std::time::Duration;

use common::{Client, Companion, paired};
use prost::Message as _;
use rand::rngs::OsRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wa_core::binary::{Jid, Node};
use wa_core::proto;
use wa_core::signal::{
    IdentityKeyPair, InMemorySignalStore, PreKeyStore, ProtocolAddress, SignedPreKeyRecord,
    SignedPreKeyStore, generate_pre_keys, pad_message, session, unpad_message,
};
use wa_sandbox::{Sandbox, SandboxConfig};

const WAIT: Duration = Duration::from_secs(10);

/// The companion's Signal store, with its signed prekey and `count` uploaded prekeys.
async fn signal_store(
    companion: &Companion,
    client: &mut Client,
    count: u32,
) -> InMemorySignalStore {
    let keys = &companion.keys;
    let store = InMemorySignalStore::new(
        IdentityKeyPair::from_key_pair(keys.identity.clone()),
        keys.registration_id,
    );
    store
        .store_signed_pre_key(&SignedPreKeyRecord {
            id: keys.signed_pre_key.id,
            key_pair: keys.signed_pre_key.key_pair.clone(),
            signature: keys.signed_pre_key.signature,
            timestamp: 0,
        })
        .await
        .unwrap();
    let pre_keys = generate_pre_keys(1, count, &mut OsRng);
    let mut list = Vec::new();
    for k in &pre_keys {
        store.store_pre_key(k).await.unwrap();
        list.push(Node::new("key").with_children(vec![
            Node::new("id").with_bytes(k.id.to_be_bytes()[1..].to_vec()),
            Node::new("value").with_bytes(k.key_pair.public.to_vec()),
        ]));
    }
    let skey = &keys.signed_pre_key;
    let upload = Node::new("iq")
        .with_attr("id", "upload")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "encrypt")
        .with_children(vec![
            Node::new("registration").with_bytes(keys.registration_id.to_be_bytes().to_vec()),
            Node::new("type").with_bytes(vec![5u8]),
            Node::new("identity").with_bytes(keys.identity.public.to_vec()),
            Node::new("list").with_children(list),
            Node::new("skey").with_children(vec![
                Node::new("id").with_bytes(skey.id.to_be_bytes()[1..].to_vec()),
                Node::new("value").with_bytes(skey.key_pair.public.to_vec()),
                Node::new("signature").with_bytes(skey.signature.to_vec()),
            ]),
        ]);
    assert_eq!(client.iq(upload).await.attr("type"), Some("result"));
    store
}

async fn decrypt_text(store: &InMemorySignalStore, message: &Node) -> String {
    let from: Jid = message.attr("from").unwrap().parse().unwrap();
    let address = ProtocolAddress::from_jid_parts(&from.user, 0, u32::from(from.device()));
    let enc = message.child("enc").unwrap();
    let bytes = enc.content_bytes().unwrap();
    let plain = match enc.attr("type") {
        Some("pkmsg") => session::decrypt_prekey_message(store, &address, bytes, &mut OsRng).await,
        _ => session::decrypt_message(store, &address, bytes, &mut OsRng).await,
    }
    .unwrap();
    let m = proto::Message::decode(unpad_message(&plain).unwrap()).unwrap();
    m.conversation.unwrap()
}

fn prekey_count(sandbox: &Sandbox, jid: &Jid) -> usize {
    sandbox.prekey_count(jid)
}

#[tokio::test]
async fn phone_and_companion_exchange_texts_with_receipts() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone_a = sandbox.create_phone("6281400000001").await.unwrap();
    let phone_b = sandbox.create_phone("6281400000002").await.unwrap();
    let (companion, mut client) = paired(&sandbox, &phone_a).await;
    let jid = companion.jid.clone().unwrap();
    let store = signal_store(&companion, &mut client, 10).await;
    assert_eq!(prekey_count(&sandbox, &jid), 10);

    let id = phone_b
        .send_text(&phone_a.jid(), "hi from b")
        .await
        .unwrap();
    let message = client
        .recv_until(|n| n.tag.as_str() == "message")
        .await
        .unwrap();
    assert_eq!(message.attr("id"), Some(id.as_str()));
    assert_eq!(message.attr("from"), Some("6281400000002@s.whatsapp.net"));
    assert_eq!(message.child("enc").unwrap().attr("type"), Some("pkmsg"));
    assert_eq!(decrypt_text(&store, &message).await, "hi from b");
    assert_eq!(
        prekey_count(&sandbox, &jid),
        9,
        "the phone's bundle fetch used one prekey"
    );

    // The reply rides the session the pkmsg set up.
    let reply = proto::Message {
        conversation: Some("hi b".into()),
        ..Default::default()
    };
    let to_b = ProtocolAddress::new("6281400000002", 0);
    let ct = session::encrypt(
        &store,
        &to_b,
        &pad_message(&reply.encode_to_vec(), &mut OsRng),
    )
    .await
    .unwrap();
    let stanza = Node::new("message")
        .with_attr("id", "3EB0REPLY1")
        .with_attr("to", "6281400000002@s.whatsapp.net")
        .with_attr("type", "text")
        .with_children(vec![Node::new("participants").with_children(vec![
                Node::new("to")
                    .with_attr("jid", "6281400000002:0@s.whatsapp.net")
                    .with_children(vec![
                        Node::new("enc")
                            .with_attr("v", "2")
                            .with_attr("type", ct.kind.enc_type())
                            .with_bytes(ct.bytes),
                    ]),
            ])]);
    client.send(&stanza).await;
    let ack = client
        .recv_until(|n| n.tag.as_str() == "ack")
        .await
        .unwrap();
    assert_eq!(ack.attr("id"), Some("3EB0REPLY1"));
    assert_eq!(ack.attr("class"), Some("message"));
    let got = phone_b
        .wait_for_text(|t| t == "hi b", WAIT)
        .await
        .expect("phone b decrypts");
    assert_eq!(got.chat, "6281400000001@s.whatsapp.net");
    let receipt = client
        .recv_until(|n| n.tag.as_str() == "receipt")
        .await
        .unwrap();
    assert_eq!(receipt.attr("id"), Some("3EB0REPLY1"));
    assert_eq!(receipt.attr("from"), Some("6281400000002@s.whatsapp.net"));
}

/// Encrypts `text` to `to`'s phone (device 0) and sends it from the companion with stanza `id`.
async fn send_text_to_phone(
    store: &InMemorySignalStore,
    client: &mut Client,
    to: &str,
    id: &str,
    text: &str,
) {
    let message = proto::Message {
        conversation: Some(text.into()),
        ..Default::default()
    };
    let ct = session::encrypt(
        store,
        &ProtocolAddress::new(to, 0),
        &pad_message(&message.encode_to_vec(), &mut OsRng),
    )
    .await
    .unwrap();
    let stanza = Node::new("message")
        .with_attr("id", id.to_owned())
        .with_attr("to", format!("{to}@s.whatsapp.net"))
        .with_attr("type", "text")
        .with_children(vec![Node::new("participants").with_children(vec![
                Node::new("to")
                    .with_attr("jid", format!("{to}:0@s.whatsapp.net"))
                    .with_children(vec![
                        Node::new("enc")
                            .with_attr("v", "2")
                            .with_attr("type", ct.kind.enc_type())
                            .with_bytes(ct.bytes),
                    ]),
            ])]);
    client.send(&stanza).await;
}

#[tokio::test]
async fn phone_shows_a_resent_message_id_once_and_counts_the_copy() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone_a = sandbox.create_phone("6281400000011").await.unwrap();
    let phone_b = sandbox.create_phone("6281400000012").await.unwrap();
    let (companion, mut client) = paired(&sandbox, &phone_a).await;
    let store = signal_store(&companion, &mut client, 10).await;
    // Phone b starts the session, as in the exchange above.
    phone_b.send_text(&phone_a.jid(), "hello").await.unwrap();
    let hello = client
        .recv_until(|n| n.tag.as_str() == "message")
        .await
        .unwrap();
    assert_eq!(decrypt_text(&store, &hello).await, "hello");

    // The same id twice (re-encrypted, as a sender retrying after a crash does), then another.
    let b = "6281400000012";
    send_text_to_phone(&store, &mut client, b, "3EB0SAMEID01", "first copy").await;
    send_text_to_phone(&store, &mut client, b, "3EB0SAMEID01", "second copy").await;
    send_text_to_phone(&store, &mut client, b, "3EB0OTHER001", "next").await;
    phone_b
        .wait_for_text(|t| t == "next", WAIT)
        .await
        .expect("phone b decrypts the next message");
    let texts: Vec<Option<String>> = phone_b.received().into_iter().map(|m| m.text).collect();
    assert_eq!(
        texts,
        vec![Some("first copy".to_string()), Some("next".to_string())]
    );
    assert_eq!(phone_b.duplicates_suppressed(), 1);
}

#[tokio::test]
async fn offline_device_gets_its_queue_on_next_login() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone_a = sandbox.create_phone("6281400000011").await.unwrap();
    let phone_b = sandbox.create_phone("6281400000012").await.unwrap();
    let (companion, mut client) = paired(&sandbox, &phone_a).await;
    let store = signal_store(&companion, &mut client, 10).await;
    drop(client);
    let jid = companion.jid.clone().unwrap();
    for _ in 0..50 {
        if !sandbox.is_online(&jid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!sandbox.is_online(&jid));
    phone_b
        .send_text(&phone_a.jid(), "while you were away")
        .await
        .unwrap();
    let (mut client, first) = companion.login(&sandbox).await;
    assert_eq!(first.tag.as_str(), "success");
    let message = client.recv().await.unwrap();
    assert_eq!(message.tag.as_str(), "message");
    assert_eq!(message.attr("offline"), Some("1"));
    assert_eq!(decrypt_text(&store, &message).await, "while you were away");
    let ib = client.recv().await.unwrap();
    assert_eq!(ib.child("offline").and_then(|o| o.attr("count")), Some("1"));
}

#[tokio::test]
async fn bundle_fetch_below_five_prekeys_sends_the_low_prekey_notification() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone_a = sandbox.create_phone("6281400000021").await.unwrap();
    let phone_b = sandbox.create_phone("6281400000022").await.unwrap();
    let (companion, mut client) = paired(&sandbox, &phone_a).await;
    let _store = signal_store(&companion, &mut client, 5).await;
    phone_b
        .send_text(&phone_a.jid(), "uses a prekey")
        .await
        .unwrap();
    let note = client
        .recv_until(|n| n.tag.as_str() == "notification" && n.attr("type") == Some("encrypt"))
        .await
        .unwrap();
    assert_eq!(note.child("count").and_then(|c| c.attr("value")), Some("4"));
    let count = Node::new("iq")
        .with_attr("id", "count")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "get")
        .with_attr("xmlns", "encrypt")
        .with_children(vec![Node::new("count")]);
    let answer = client.iq(count).await;
    assert_eq!(
        answer.child("count").and_then(|c| c.attr("value")),
        Some("4")
    );
}

#[tokio::test]
async fn usync_lists_devices_and_pairing_notifies_the_other_devices() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281400000031").await.unwrap();
    let (_first, mut client) = paired(&sandbox, &phone).await;
    let (second, _client2) = paired(&sandbox, &phone).await;
    let note = client
        .recv_until(|n| n.attr("type") == Some("devices"))
        .await
        .unwrap();
    let added = note.child("add").and_then(|a| a.child("device")).unwrap();
    assert_eq!(
        added.attr("jid"),
        Some(second.jid.clone().unwrap().to_string().as_str())
    );
    let usync = Node::new("iq")
        .with_attr("id", "usync")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "get")
        .with_attr("xmlns", "usync")
        .with_children(vec![
            Node::new("usync")
                .with_attr("sid", "s1")
                .with_attr("mode", "query")
                .with_attr("context", "message")
                .with_children(vec![
                    Node::new("query").with_children(vec![
                        Node::new("devices").with_attr("version", "2"),
                        Node::new("lid"),
                    ]),
                    Node::new("list").with_children(vec![
                        Node::new("user").with_attr("jid", "6281400000031@s.whatsapp.net"),
                        Node::new("user").with_attr("jid", "6289999999999@s.whatsapp.net"),
                    ]),
                ]),
        ]);
    let answer = client.iq(usync).await;
    let users: Vec<&Node> = answer
        .child("usync")
        .unwrap()
        .child("list")
        .unwrap()
        .children_by_tag("user")
        .collect();
    let ids: Vec<(&str, Option<&str>)> = users[0]
        .child("devices")
        .unwrap()
        .child("device-list")
        .unwrap()
        .children_by_tag("device")
        .map(|d| (d.attr("id").unwrap(), d.attr("key-index")))
        .collect();
    assert_eq!(ids, vec![("0", None), ("1", Some("1")), ("2", Some("2"))]);
    let list = users[0]
        .child("devices")
        .unwrap()
        .child("key-index-list")
        .unwrap();
    let verified = wa_core::pair::verify_key_index_list(
        list.content_bytes().unwrap(),
        Some(&phone.identity_public()),
    )
    .expect("signed by the phone");
    assert_eq!(verified.valid_indexes, vec![1, 2]);
    assert_eq!(verified.current_index, 2);
    assert!(verified.allows(2, Some(2)));
    assert!(
        users[0]
            .child("lid")
            .and_then(|l| l.attr("val"))
            .unwrap()
            .ends_with("@lid")
    );
    assert!(
        users[1]
            .child("devices")
            .unwrap()
            .child("device-list")
            .unwrap()
            .children()
            .is_empty()
    );
}

async fn http(addr: std::net::SocketAddr, request: Vec<u8>) -> (String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&request).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&out[..split]).into_owned(),
        out[split + 4..].to_vec(),
    )
}

#[tokio::test]
async fn media_conn_host_accepts_uploads_and_serves_them() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281400000041").await.unwrap();
    let (_c, mut client) = paired(&sandbox, &phone).await;
    let iq = Node::new("iq")
        .with_attr("id", "mc")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "w:m")
        .with_children(vec![Node::new("media_conn")]);
    let answer = client.iq(iq).await;
    let conn = answer.child("media_conn").unwrap();
    let auth = conn.attr("auth").unwrap().to_owned();
    let host = conn
        .child("host")
        .unwrap()
        .attr("hostname")
        .unwrap()
        .to_owned();
    assert_eq!(host, sandbox.local_addr().to_string());
    let blob = b"encrypted media bytes".to_vec();
    let mut req = format!(
        "POST /mms/image/TOKEN?auth={auth}&token=TOKEN HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        blob.len()
    )
    .into_bytes();
    req.extend_from_slice(&blob);
    let (head, body) = http(sandbox.local_addr(), req).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let path = json["direct_path"].as_str().unwrap();
    let get = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let (head, body) = http(sandbox.local_addr(), get.into_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, blob);
    let bad = format!(
        "POST /mms/image/T?auth=wrong HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
    );
    let (head, _) = http(sandbox.local_addr(), bad.into_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
}

#[tokio::test]
async fn state_file_keeps_keys_accounts_devices_and_phone_sessions_across_restarts() {
    let path =
        std::env::temp_dir().join(format!("wasap-sandbox-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let config = SandboxConfig {
        state_file: Some(path.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config.clone()).await.unwrap();
    let root = sandbox.root_public_key();
    let phone = sandbox.create_phone("6281400000051").await.unwrap();
    let other = sandbox.create_phone("6281400000052").await.unwrap();
    let identity = phone.identity_public();
    let (companion, mut client) = paired(&sandbox, &phone).await;
    let store = signal_store(&companion, &mut client, 10).await;
    other
        .send_text(&phone.jid(), "before restart")
        .await
        .unwrap();
    let m = client
        .recv_until(|n| n.tag.as_str() == "message")
        .await
        .unwrap();
    assert_eq!(decrypt_text(&store, &m).await, "before restart");
    drop(client);
    sandbox.shutdown().await;

    let sandbox = Sandbox::start(config).await.unwrap();
    assert_eq!(sandbox.root_public_key(), root);
    let phone = sandbox.phone("6281400000051").expect("account restored");
    assert_eq!(phone.identity_public(), identity);
    assert_eq!(sandbox.devices(&phone.jid()).len(), 2);
    assert_eq!(sandbox.prekey_count(companion.jid.as_ref().unwrap()), 9);
    let (mut client, first) = companion.login(&sandbox).await;
    assert_eq!(first.tag.as_str(), "success");
    let other = sandbox.phone("6281400000052").unwrap();
    other
        .send_text(&phone.jid(), "after restart")
        .await
        .unwrap();
    let m = client
        .recv_until(|n| n.tag.as_str() == "message")
        .await
        .unwrap();
    assert_eq!(decrypt_text(&store, &m).await, "after restart");
    assert_eq!(
        sandbox.prekey_count(companion.jid.as_ref().unwrap()),
        9,
        "the restored phone reused its session instead of fetching a new bundle"
    );
    sandbox.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn phone_answers_a_retry_receipt_with_a_fresh_pkmsg() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone_a = sandbox.create_phone("6281400000061").await.unwrap();
    let phone_b = sandbox.create_phone("6281400000062").await.unwrap();
    let (companion, mut client) = paired(&sandbox, &phone_a).await;
    let store = signal_store(&companion, &mut client, 10).await;
    let id = phone_b
        .send_text(&phone_a.jid(), "try again")
        .await
        .unwrap();
    let first = client
        .recv_until(|n| n.tag.as_str() == "message")
        .await
        .unwrap();
    // Pretend the first copy could not be decrypted.
    let retry = Node::new("receipt")
        .with_attr("id", id.clone())
        .with_attr("to", first.attr("from").unwrap().to_owned())
        .with_attr("type", "retry")
        .with_children(vec![
            Node::new("retry")
                .with_attr("count", "1")
                .with_attr("id", id.clone())
                .with_attr("v", "1"),
            Node::new("registration")
                .with_bytes(companion.keys.registration_id.to_be_bytes().to_vec()),
        ]);
    client.send(&retry).await;
    let again = client
        .recv_until(|n| n.tag.as_str() == "message" && n.attr("id") == Some(id.as_str()))
        .await
        .unwrap();
    let enc = again.child("enc").unwrap();
    assert_eq!(enc.attr("type"), Some("pkmsg"));
    assert_eq!(enc.attr("count"), Some("1"));
    assert_eq!(decrypt_text(&store, &again).await, "try again");
}
