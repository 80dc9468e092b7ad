//! Bad input from one client closes that client only: garbage before or during the
//! handshake, undecodable stanzas, tampered ciphertext, oversized frames, malformed
//! messages. A second, paired client keeps working throughout.

mod common;

use common::{Client, paired};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use wa_core::binary::{Node, encode_frame};
use wa_core::pair::{ClientConfig, login_payload};
use wa_sandbox::{Sandbox, SandboxConfig};

async fn ping(client: &mut Client, id: &str) -> bool {
    let iq = Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "get")
        .with_attr("xmlns", "w:p")
        .with_children(vec![Node::new("ping")]);
    client.send(&iq).await;
    client
        .recv_until(|n| n.attr("id") == Some(id) && n.attr("type") == Some("result"))
        .await
        .is_some()
}

async fn setup() -> (Sandbox, Client, Client) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281300000001").await.unwrap();
    let (_, mut good) = paired(&sandbox, &phone).await;
    let (_, mut bad) = paired(&sandbox, &phone).await;
    // Drain the login's offline marker so later reads see only what the test causes.
    for c in [&mut good, &mut bad] {
        c.recv_until(|n| n.tag.as_str() == "ib").await.unwrap();
    }
    (sandbox, good, bad)
}

/// The offending client gets `<stream:error code=400>`, then the server closes.
async fn expect_closed(bad: &mut Client) {
    let n = bad
        .recv_until(|n| n.tag.as_str() == "stream:error")
        .await
        .expect("a stream error before the close");
    assert_eq!(n.attr("code"), Some("400"));
    let start = std::time::Instant::now();
    assert!(bad.recv().await.is_none(), "nothing after the stream error");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "closed by the server, not a read timeout"
    );
}

#[tokio::test]
async fn undecodable_stanza_closes_only_its_connection() {
    let (sandbox, mut good, mut bad) = setup().await;
    bad.send_sealed(&[0x00, 0xf8, 0xff, 0x01]).await;
    expect_closed(&mut bad).await;
    assert!(ping(&mut good, "after-bad-node").await);
    assert!(sandbox.stats().protocol_errors >= 1);
}

#[tokio::test]
async fn zlib_bomb_flag_with_garbage_closes_only_its_connection() {
    let (_sandbox, mut good, mut bad) = setup().await;
    bad.send_sealed(&[0x02, 1, 2, 3, 4, 5]).await;
    expect_closed(&mut bad).await;
    assert!(ping(&mut good, "after-zlib").await);
}

#[tokio::test]
async fn tampered_ciphertext_closes_only_its_connection() {
    let (sandbox, mut good, mut bad) = setup().await;
    // A frame that does not authenticate under the transport key.
    let mut frame = vec![0, 0, 32];
    frame.extend_from_slice(&[0xAA; 32]);
    bad.send_raw(frame).await;
    assert!(bad.recv().await.is_none());
    let mut online = u64::MAX;
    for _ in 0..50 {
        online = sandbox.stats().connections_online;
        if online == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(online, 1, "the tampering client is gone, the other stays");
    assert!(ping(&mut good, "after-tamper").await);
}

#[tokio::test]
async fn oversized_frame_header_closes_only_its_connection() {
    let (_sandbox, mut good, mut bad) = setup().await;
    bad.send_raw(vec![0xff, 0xff, 0xff, 1, 2, 3]).await;
    expect_closed(&mut bad).await;
    assert!(ping(&mut good, "after-oversize").await);
}

#[tokio::test]
async fn malformed_message_stanza_closes_only_its_connection() {
    let (_sandbox, mut good, mut bad) = setup().await;
    let message = Node::new("message").with_attr("to", "not a jid at all");
    bad.send_sealed(&encode_frame(&message).unwrap()).await;
    expect_closed(&mut bad).await;
    assert!(ping(&mut good, "after-bad-message").await);
}

#[tokio::test]
async fn deeply_nested_stanza_closes_only_its_connection() {
    let (_sandbox, mut good, mut bad) = setup().await;
    let mut node = Node::new("x");
    for _ in 0..100 {
        node = Node::new("iq").with_children(vec![node]);
    }
    bad.send_sealed(&encode_frame(&node).unwrap()).await;
    expect_closed(&mut bad).await;
    assert!(ping(&mut good, "after-nesting").await);
}

#[tokio::test]
async fn garbage_instead_of_the_intro_is_dropped() {
    let (sandbox, mut good, _bad) = setup().await;
    let (mut ws, _) = connect_async(sandbox.ws_url()).await.unwrap();
    ws.send(Message::Binary(b"GET / HTTP/1.1\r\n\r\n".to_vec().into()))
        .await
        .unwrap();
    let next = tokio::time::timeout(common::TIMEOUT, ws.next())
        .await
        .unwrap();
    assert!(
        matches!(next, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
        "{next:?}"
    );
    assert!(ping(&mut good, "after-garbage-intro").await);
}

#[tokio::test]
async fn garbage_handshake_payload_is_dropped() {
    let (sandbox, mut good, _bad) = setup().await;
    let (mut ws, _) = connect_async(sandbox.ws_url()).await.unwrap();
    let mut wire = b"WA\x06\x03".to_vec();
    wire.extend_from_slice(&[0, 0, 5, 1, 2, 3, 4, 5]);
    ws.send(Message::Binary(wire.into())).await.unwrap();
    let next = tokio::time::timeout(common::TIMEOUT, ws.next())
        .await
        .unwrap();
    assert!(
        matches!(next, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
        "{next:?}"
    );
    assert!(ping(&mut good, "after-garbage-hello").await);
}

#[tokio::test]
async fn a_login_payload_for_someone_elses_device_fails() {
    let (sandbox, mut good, _bad) = setup().await;
    let stranger = common::Companion::new();
    let payload = login_payload(6281300000001, 1, &ClientConfig::default()).encode_to_vec();
    let mut client = Client::connect(&sandbox, &stranger.keys.noise, &payload).await;
    let first = client.recv().await.unwrap();
    assert_eq!(first.attr("reason"), Some("401"));
    assert!(ping(&mut good, "after-stranger").await);
}

#[tokio::test]
async fn faults_drop_and_stream_error_hit_only_the_named_device() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281300000002").await.unwrap();
    let (first, mut a) = paired(&sandbox, &phone).await;
    let (second, mut b) = paired(&sandbox, &phone).await;
    assert!(
        sandbox
            .fault()
            .stream_error(first.jid.as_ref().unwrap(), 503)
    );
    let err = a
        .recv_until(|n| n.tag.as_str() == "stream:error")
        .await
        .unwrap();
    assert_eq!(err.attr("code"), Some("503"));
    assert!(ping(&mut b, "after-503").await);
    assert!(
        sandbox
            .fault()
            .drop_connection(second.jid.as_ref().unwrap())
    );
    assert!(b.recv_until(|_| false).await.is_none());
    sandbox.fault().refuse_connections(true);
    assert!(connect_async(sandbox.ws_url()).await.is_err());
    sandbox.fault().refuse_connections(false);
    let (_c, first_node) = first.login(&sandbox).await;
    assert_eq!(first_node.tag.as_str(), "success");
}

/// Random stanzas built from the tags, namespaces and children the server knows, with
/// random attributes and contents: the server answers or closes, never falls over.
fn random_node(rng: &mut rand::rngs::StdRng, depth: u32) -> Node {
    use rand::Rng;
    use rand::seq::SliceRandom;
    const TAGS: &[&str] = &[
        "iq",
        "message",
        "receipt",
        "presence",
        "chatstate",
        "ack",
        "notification",
        "ib",
        "participants",
        "to",
        "enc",
        "key",
        "user",
        "list",
        "usync",
        "query",
        "devices",
        "skey",
        "id",
        "value",
        "signature",
        "registration",
        "identity",
        "count",
        "digest",
        "rotate",
        "create",
        "add",
        "remove",
        "promote",
        "demote",
        "leave",
        "participant",
        "subject",
        "media_conn",
        "link_code_companion_reg",
        "remove-companion-device",
        "pair-device-sign",
        "device-identity",
        "retry",
        "keys",
        "contact",
        "lid",
        "composing",
    ];
    const KEYS: &[&str] = &[
        "id",
        "to",
        "type",
        "xmlns",
        "jid",
        "participant",
        "from",
        "stage",
        "subject",
        "count",
        "recipient",
        "version",
        "value",
    ];
    const VALUES: &[&str] = &[
        "get",
        "set",
        "result",
        "encrypt",
        "usync",
        "w:g2",
        "w:m",
        "md",
        "w:p",
        "passive",
        "retry",
        "read",
        "available",
        "unavailable",
        "subscribe",
        "skmsg",
        "pkmsg",
        "msg",
        "companion_hello",
        "companion_finish",
        "@g.us",
        "s.whatsapp.net",
        "6281600000001@s.whatsapp.net",
        "6281600000001:1@s.whatsapp.net",
        "6281600000002:0@s.whatsapp.net",
        "120363000000000001@g.us",
        "1@lid",
        "",
        "x",
        "0",
        "99999999999999999999",
    ];
    let mut node = Node::new(*TAGS.choose(rng).unwrap());
    for _ in 0..rng.gen_range(0..5) {
        node = node.with_attr(*KEYS.choose(rng).unwrap(), *VALUES.choose(rng).unwrap());
    }
    match rng.gen_range(0..4) {
        0 if depth < 4 => {
            let children = (0..rng.gen_range(0..4))
                .map(|_| random_node(rng, depth + 1))
                .collect();
            node.with_children(children)
        }
        1 => {
            let len = rng.gen_range(0..70);
            node.with_bytes((0..len).map(|_| rng.r#gen::<u8>()).collect::<Vec<u8>>())
        }
        2 => node.with_text(*VALUES.choose(rng).unwrap()),
        _ => node,
    }
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[tokio::test]
async fn random_stanza_storms_never_panic_or_disturb_other_clients() {
    use rand::SeedableRng;
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        default_hook(info);
    }));
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let phone = sandbox.create_phone("6281600000001").await.unwrap();
    sandbox.create_phone("6281600000002").await.unwrap();
    let (_, mut good) = paired(&sandbox, &phone).await;
    let (noisy_companion, _) = paired(&sandbox, &phone).await;
    let noisy_jid = noisy_companion.jid.clone().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5a4d);
    let mut sent = 0;
    let mut reconnects = 0;
    while sent < 2000 {
        let (mut noisy, first) = noisy_companion.login(&sandbox).await;
        assert_eq!(first.tag.as_str(), "success");
        reconnects += 1;
        // Send until the server closes this connection (or a batch is done).
        for _ in 0..100 {
            let node = random_node(&mut rng, 0);
            noisy.send_sealed(&encode_frame(&node).unwrap()).await;
            sent += 1;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            if !sandbox.is_online(&noisy_jid) {
                break;
            }
        }
        assert!(
            ping(&mut good, &format!("storm-{sent}")).await,
            "after {sent} stanzas"
        );
    }
    assert_eq!(
        PANICS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no panics"
    );
    assert!(reconnects > 1, "some stanzas were rejected");
    assert!(sandbox.stats().protocol_errors > 0);
}

/// A companion that stops reading fills its socket and then its outgoing queue. The sandbox
/// must then close that connection (a queued "close" could not get through a full queue)
/// and keep every stanza not yet written for the next login, in the order it was routed.
#[tokio::test]
async fn a_companion_that_stops_reading_is_closed_and_gets_the_rest_in_order_at_login() {
    let sandbox = Sandbox::start(SandboxConfig {
        connection_queue: 8,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let owner = sandbox.create_phone("6281300000011").await.unwrap();
    let friend = sandbox.create_phone("6281300000012").await.unwrap();
    let (companion, mut stalled) = paired(&sandbox, &owner).await;
    stalled
        .recv_until(|n| n.tag.as_str() == "ib")
        .await
        .unwrap();
    let device = companion.jid.clone().unwrap();
    let mut sent = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    while sandbox.is_online(&device) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a companion that reads nothing was never taken offline ({} sent)",
            sent.len()
        );
        for _ in 0..100 {
            let text = format!("m{} {}", sent.len(), "x".repeat(400));
            sent.push(friend.send_text(&owner.jid(), &text).await.unwrap());
        }
    }
    // The server must close the socket: reading what it holds ends at once with the close,
    // not after the test client's 10-second idle timeout.
    let mut early = Vec::new();
    let mut last = tokio::time::Instant::now();
    while let Some(node) = stalled.recv().await {
        last = tokio::time::Instant::now();
        if node.tag.as_str() == "message" {
            early.push(node.attr("id").unwrap().to_owned());
        }
    }
    assert!(
        last.elapsed() < std::time::Duration::from_secs(5),
        "the stalled connection was left open"
    );
    assert_eq!(
        early,
        sent[..early.len()],
        "the first connection got a prefix"
    );

    let (mut client, first) = companion.login(&sandbox).await;
    assert_eq!(first.tag.as_str(), "success", "{first:?}");
    let mut got = Vec::new();
    while let Ok(Some(node)) = tokio::time::timeout(
        std::time::Duration::from_millis(1500),
        client.recv_until(|n| n.tag.as_str() == "message"),
    )
    .await
    {
        got.push(node.attr("id").unwrap().to_owned());
    }
    // The rest follows in the order the friend sent it, without gaps; the one stanza whose
    // write was cut off may come again.
    let start = sent
        .iter()
        .position(|id| Some(id) == got.first())
        .expect("the rest arrives after login");
    assert!(
        start == early.len() || start + 1 == early.len(),
        "resumed at {start}, the first connection had {}",
        early.len()
    );
    assert_eq!(got, sent[start..], "in order and complete");
}
