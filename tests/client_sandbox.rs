//! wa-client against wa-sandbox over real sockets: pairing, login from the store, messages
//! both ways, groups, media, receipts, reconnects and retries.

use std::time::Duration;

use futures_util::StreamExt;
use wa_client::{
    Client, Event, EventStream, MediaKind, MemoryStore, MessageContent, ReceiptType,
    ReconnectPolicy, SqliteStore, Store,
};
use wa_core::Jid;
use wa_sandbox::{Sandbox, SandboxConfig};

const WAIT: Duration = Duration::from_secs(20);

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

fn client_with(sandbox: &Sandbox, store: impl Store) -> Client {
    Client::builder(store)
        .ws_url(sandbox.ws_url())
        .root_key(sandbox.root_public_key())
        .push_name("tester")
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            ..Default::default()
        })
        .configure(|c| c.initial_pre_keys = 20)
        .build()
}

/// The next event matching `pick`, skipping others.
async fn next<T>(events: &mut EventStream, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.next().await.expect("event stream ended");
            if let Some(t) = pick(event) {
                return t;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

/// Pairs `client` with `phone` by QR and waits until it is logged in.
async fn pair(phone: &wa_sandbox::Phone, client: &Client) -> (Jid, EventStream) {
    let mut events = client.events();
    client.connect().await.unwrap();
    let qr = next(&mut events, |e| match e {
        Event::Qr(qr) => Some(qr),
        _ => None,
    })
    .await;
    phone.scan_qr(&qr.code).await.expect("phone scans");
    let jid = next(&mut events, |e| match e {
        Event::Connected { jid } => Some(jid),
        _ => None,
    })
    .await;
    (jid, events)
}

async fn next_message(events: &mut EventStream) -> Box<wa_client::MessageEvent> {
    next(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn pairs_by_qr_and_logs_in() {
    let sandbox = sandbox().await;
    let phone = sandbox.create_phone("6281100000001").await.unwrap();
    let client = client_with(&sandbox, MemoryStore::new());
    let (jid, _events) = pair(&phone, &client).await;
    assert_eq!(jid.user, "6281100000001");
    assert_ne!(jid.device(), 0);
    assert!(sandbox.devices(&phone.jid()).contains(&jid));
    client.disconnect().await;
}

#[tokio::test]
async fn pairs_by_phone_code() {
    let sandbox = sandbox().await;
    let phone = sandbox.create_phone("6281100000002").await.unwrap();
    let client = Client::builder(MemoryStore::new())
        .ws_url(sandbox.ws_url())
        .root_key(sandbox.root_public_key())
        .pair_with_phone("6281100000002")
        .configure(|c| c.initial_pre_keys = 20)
        .build();
    let mut events = client.events();
    client.connect().await.unwrap();
    let code = next(&mut events, |e| match e {
        Event::PairCode { code } => Some(code),
        _ => None,
    })
    .await;
    assert_eq!(code.len(), 8);
    phone
        .enter_pair_code(&code)
        .await
        .expect("phone accepts the code");
    let jid = next(&mut events, |e| match e {
        Event::Connected { jid } => Some(jid),
        _ => None,
    })
    .await;
    assert_eq!(jid.user, "6281100000002");
    client.disconnect().await;
}

#[tokio::test]
async fn texts_travel_both_ways_between_two_clients() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000011").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000012").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    let (_, mut alice_events) = pair(&alice_phone, &alice).await;
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;

    let sent = alice
        .send_text(&bob_phone.jid(), "hello bob")
        .await
        .unwrap();
    assert!(sent.id.starts_with("3EB0"));
    assert!(sent.timestamp > 0);
    let got = next_message(&mut bob_events).await;
    assert_eq!(got.text(), Some("hello bob"));
    assert_eq!(got.info.id, sent.id);
    assert_eq!(got.info.chat, alice_phone.jid());
    assert!(!got.info.from_me);

    bob.send_text(got.chat(), "hi alice").await.unwrap();
    let reply = next_message(&mut alice_events).await;
    assert_eq!(reply.text(), Some("hi alice"));
    assert_eq!(reply.info.chat, bob_phone.jid());

    // The phones (device 0 of each account) see what their companions sent.
    alice_phone
        .wait_for_text(|t| t == "hello bob", WAIT)
        .await
        .expect("alice's phone sees her own message");
    alice.disconnect().await;
    bob.disconnect().await;
}
