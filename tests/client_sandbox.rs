//! wa-client against wa-sandbox over real sockets: pairing, login from the store, messages
//! both ways, groups, media, receipts, reconnects and retries.

use std::time::Duration;

use futures_util::StreamExt;
use wa_client::message::{
    Contact, Context, Edit, LinkPreview, Location, MessageKey, Poll, Quote, Reaction, Revoke, Text,
};
use wa_client::{
    Client, Event, EventStream, MediaKind, MemoryStore, MessageContent, ReceiptType,
    ReconnectPolicy, SqliteStore, Store,
};
use wa_core::Jid;
use wa_core::signal::{ProtocolAddress, SessionRecord};
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

fn temp_db(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("wasap-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

#[tokio::test]
async fn logs_in_again_from_the_sqlite_store_without_pairing() {
    let sandbox = sandbox().await;
    let phone = sandbox.create_phone("6281100000021").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000022").await.unwrap();
    let path = temp_db("restart");
    let first = client_with(&sandbox, SqliteStore::open(&path).await.unwrap());
    let (jid, _) = pair(&phone, &first).await;
    first.disconnect().await;
    drop(first);

    let again = client_with(&sandbox, SqliteStore::open(&path).await.unwrap());
    let mut events = again.events();
    again.connect().await.unwrap();
    let relogged = next(&mut events, |e| match e {
        Event::Qr(_) => panic!("asked to pair again"),
        Event::Connected { jid } => Some(jid),
        _ => None,
    })
    .await;
    assert_eq!(relogged, jid);
    // Its Signal state survived too: a message from a phone decrypts.
    bob_phone
        .send_text(&phone.jid(), "after restart")
        .await
        .unwrap();
    let got = next_message(&mut events).await;
    assert_eq!(got.text(), Some("after restart"));
    again.disconnect().await;
}

#[tokio::test]
async fn our_other_device_sees_what_we_sent() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000031").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000032").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let alice2 = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    let (alice_jid, _a) = pair(&alice_phone, &alice).await;
    let (alice2_jid, mut alice2_events) = pair(&alice_phone, &alice2).await;
    assert_ne!(alice_jid, alice2_jid);
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;

    let sent = alice.send_text(&bob_phone.jid(), "to bob").await.unwrap();
    let mirrored = next_message(&mut alice2_events).await;
    assert_eq!(mirrored.text(), Some("to bob"));
    assert!(mirrored.info.from_me);
    assert_eq!(mirrored.info.chat, bob_phone.jid());
    assert_eq!(mirrored.info.id, sent.id);
    assert_eq!(next_message(&mut bob_events).await.text(), Some("to bob"));
}

#[tokio::test]
async fn group_messages_use_sender_keys_both_ways() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000041").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000042").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    let (_, mut alice_events) = pair(&alice_phone, &alice).await;
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;

    let group = alice
        .create_group("Team", &[bob_phone.jid()])
        .await
        .unwrap();
    assert!(group.jid.is_group());
    let info = bob.group_info(&group.jid).await.unwrap();
    assert_eq!(info.subject, "Team");
    assert!(
        info.participants
            .iter()
            .any(|p| p.jid.user == alice_phone.number())
    );

    alice.send_text(&group.jid, "hello group").await.unwrap();
    let got = next_message(&mut bob_events).await;
    assert_eq!(got.text(), Some("hello group"));
    assert!(got.info.is_group);
    assert_eq!(got.info.chat, group.jid);
    assert_eq!(got.info.sender.user, alice_phone.number());

    // A second message needs no new distribution and still decrypts.
    alice.send_text(&group.jid, "second").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.text(), Some("second"));

    bob.send_text(&group.jid, "hi all").await.unwrap();
    let reply = next(&mut alice_events, |e| match e {
        Event::Message(m) if !m.info.from_me => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(reply.text(), Some("hi all"));
    assert!(
        bob.groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.jid == group.jid)
    );
}

#[tokio::test]
async fn every_media_kind_uploads_and_downloads() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000051").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000052").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    pair(&alice_phone, &alice).await;
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;
    let to = bob_phone.jid();
    let blob = |n: usize| (0..n).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>();

    let image = blob(70_001);
    alice
        .send_image(&to, &image, "image/jpeg", Some("a picture"))
        .await
        .unwrap();
    let got = next_message(&mut bob_events).await;
    assert!(matches!(got.content, MessageContent::Image(_)));
    assert_eq!(got.text(), Some("a picture"));
    assert_eq!(bob.download_content(&got.content).await.unwrap(), image);

    let video = blob(300_000);
    alice
        .send_video(&to, &video, "video/mp4", None)
        .await
        .unwrap();
    let got = next_message(&mut bob_events).await;
    assert!(matches!(got.content, MessageContent::Video(_)));
    assert_eq!(bob.download_content(&got.content).await.unwrap(), video);

    for voice in [false, true] {
        let audio = blob(12_345);
        alice
            .send_audio(&to, &audio, "audio/ogg; codecs=opus", voice)
            .await
            .unwrap();
        let got = next_message(&mut bob_events).await;
        match &got.content {
            MessageContent::Audio(a) => assert_eq!(a.voice_note, voice),
            other => panic!("expected audio, got {other:?}"),
        }
        assert_eq!(bob.download_content(&got.content).await.unwrap(), audio);
    }

    let doc = blob(5_000);
    alice
        .send_document(&to, &doc, "application/pdf", "report.pdf")
        .await
        .unwrap();
    let got = next_message(&mut bob_events).await;
    match &got.content {
        MessageContent::Document(d) => assert_eq!(d.file_name.as_deref(), Some("report.pdf")),
        other => panic!("expected document, got {other:?}"),
    }
    assert_eq!(bob.download_content(&got.content).await.unwrap(), doc);

    let sticker = blob(2_000);
    alice.send_sticker(&to, &sticker).await.unwrap();
    let got = next_message(&mut bob_events).await;
    assert!(matches!(got.content, MessageContent::Sticker(_)));
    assert_eq!(bob.download_content(&got.content).await.unwrap(), sticker);

    // Streaming upload from a file, streaming download into a writer.
    let path = std::env::temp_dir().join(format!("wasap-media-{}", std::process::id()));
    let big = blob(1_500_000);
    std::fs::write(&path, &big).unwrap();
    let upload = alice.upload_file(&path, MediaKind::Document).await.unwrap();
    let _ = std::fs::remove_file(&path);
    let mut out = Vec::new();
    let n = bob
        .download_to(
            &upload.to_media("application/octet-stream"),
            MediaKind::Document,
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(n, big.len() as u64);
    assert_eq!(out, big);

    // A tampered key fails the MAC check.
    let mut bad = upload.to_media("application/octet-stream");
    bad.media_key = Some(vec![0; 32]);
    assert!(bob.download(&bad, MediaKind::Document).await.is_err());
}

#[tokio::test]
async fn every_other_message_kind_round_trips() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000061").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000062").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    pair(&alice_phone, &alice).await;
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;
    let to = bob_phone.jid();
    let first = alice.send_text(&to, "original").await.unwrap();
    next_message(&mut bob_events).await;
    let key = MessageKey {
        remote_jid: to.to_string(),
        from_me: true,
        id: first.id.clone(),
        participant: None,
    };
    let contents = vec![
        MessageContent::Text(Text {
            text: "see https://example.com".into(),
            preview: Some(LinkPreview {
                matched_text: Some("https://example.com".into()),
                title: Some("Example".into()),
                description: Some("An example".into()),
                jpeg_thumbnail: None,
            }),
            context: None,
        }),
        MessageContent::Text(Text {
            text: "a reply".into(),
            preview: None,
            context: Some(Context::reply(Quote {
                stanza_id: first.id.clone(),
                participant: Some(alice_phone.jid().to_string()),
                remote_jid: None,
                message: Some(Box::new(MessageContent::from("original").to_proto())),
            })),
        }),
        MessageContent::Text(Text {
            text: "hi @6281100000062".into(),
            preview: None,
            context: Some(Context::mentioning([to.to_string()])),
        }),
        MessageContent::Location(Location {
            latitude: -6.2,
            longitude: 106.8,
            name: Some("Jakarta".into()),
            ..Default::default()
        }),
        MessageContent::Contact(Contact {
            display_name: Some("Budi".into()),
            vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nEND:VCARD".into(),
            context: None,
        }),
        MessageContent::Reaction(Reaction {
            target: key.clone(),
            emoji: "👍".into(),
            sender_timestamp_ms: Some(1_700_000_000_000),
        }),
        MessageContent::Edit(Edit {
            target: key.clone(),
            content: Box::new(MessageContent::from("edited")),
            timestamp_ms: Some(1_700_000_000_000),
        }),
        MessageContent::Revoke(Revoke {
            target: key.clone(),
        }),
        MessageContent::Poll(Poll::new(
            &mut rand::rngs::OsRng,
            "Lunch?",
            vec!["Nasi".into(), "Mie".into()],
            1,
        )),
    ];
    for content in contents {
        alice.send(&to, content.clone()).await.unwrap();
        let got = next_message(&mut bob_events).await;
        assert_eq!(got.content, content);
    }
}

#[tokio::test]
async fn receipts_reach_the_sender() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000071").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000072").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    let (_, mut alice_events) = pair(&alice_phone, &alice).await;
    let (bob_jid, mut bob_events) = pair(&bob_phone, &bob).await;
    let sent = alice
        .send_text(&bob_phone.jid(), "did you get it?")
        .await
        .unwrap();
    let got = next_message(&mut bob_events).await;
    let delivered = next(&mut alice_events, |e| match e {
        Event::Receipt(r) if r.kind == ReceiptType::Delivered && r.sender == bob_jid => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(delivered.ids, vec![sent.id.clone()]);
    assert_eq!(delivered.chat, bob_phone.jid());
    bob.mark_read(got.chat(), None, std::slice::from_ref(&got.info.id))
        .await
        .unwrap();
    let read = next(&mut alice_events, |e| match e {
        Event::Receipt(r) if r.kind == ReceiptType::Read => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(read.ids, vec![sent.id]);
}

#[tokio::test]
async fn reconnects_after_a_drop_and_gets_what_was_sent_meanwhile() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000081").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000082").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    pair(&alice_phone, &alice).await;
    let (bob_jid, mut bob_events) = pair(&bob_phone, &bob).await;
    alice.send_text(&bob_phone.jid(), "before").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.text(), Some("before"));

    sandbox.fault().refuse_connections(true);
    assert!(sandbox.fault().drop_connection(&bob_jid));
    next(&mut bob_events, |e| match e {
        Event::Disconnected {
            reconnecting: true, ..
        } => Some(()),
        _ => None,
    })
    .await;
    alice
        .send_text(&bob_phone.jid(), "while away")
        .await
        .unwrap();
    sandbox.fault().refuse_connections(false);
    // Queued messages may arrive before `Connected` (they follow `<success>` at once).
    let got = next_message(&mut bob_events).await;
    assert_eq!(got.text(), Some("while away"));
}

#[tokio::test]
async fn an_undecryptable_message_is_retried_and_arrives() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000091").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000092").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    let (alice_jid, _) = pair(&alice_phone, &alice).await;
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;
    alice.send_text(&bob_phone.jid(), "first").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.text(), Some("first"));

    // Bob loses his session with Alice's device: her next `msg` cannot decrypt.
    let address = ProtocolAddress::new(alice_jid.user.clone(), alice_jid.device() as u32);
    bob.store()
        .store_session(&address, &SessionRecord::new())
        .await
        .unwrap();
    let sent = alice.send_text(&bob_phone.jid(), "second").await.unwrap();
    let failed = next(&mut bob_events, |e| match e {
        Event::UndecryptableMessage { info, .. } => Some(info),
        _ => None,
    })
    .await;
    assert_eq!(failed.id, sent.id);
    let got = next_message(&mut bob_events).await;
    assert_eq!(got.text(), Some("second"));
    assert_eq!(got.info.id, sent.id);
}

#[tokio::test]
async fn stream_errors_515_and_503_reconnect_and_401_logs_out() {
    let sandbox = sandbox().await;
    let phone = sandbox.create_phone("6281100000111").await.unwrap();
    let client = client_with(&sandbox, MemoryStore::new());
    let (jid, mut events) = pair(&phone, &client).await;

    assert!(sandbox.fault().stream_error(&jid, 515));
    next(&mut events, |e| match e {
        Event::Disconnected {
            reason: wa_client::DisconnectReason::RestartRequired,
            reconnecting: true,
        } => Some(()),
        _ => None,
    })
    .await;
    next(&mut events, |e| {
        matches!(e, Event::Connected { .. }).then_some(())
    })
    .await;

    assert!(sandbox.fault().stream_error(&jid, 401));
    next(&mut events, |e| {
        matches!(e, Event::LoggedOut { .. }).then_some(())
    })
    .await;
    let reconnecting = next(&mut events, |e| match e {
        Event::Disconnected { reconnecting, .. } => Some(reconnecting),
        _ => None,
    })
    .await;
    assert!(!reconnecting);
    assert!(client.store().load_device().await.unwrap().is_none());
}

#[tokio::test]
async fn logout_unlinks_the_device_and_clears_the_store() {
    let sandbox = sandbox().await;
    let phone = sandbox.create_phone("6281100000121").await.unwrap();
    let client = client_with(&sandbox, MemoryStore::new());
    let (jid, _events) = pair(&phone, &client).await;
    client.logout().await.unwrap();
    assert!(client.store().load_device().await.unwrap().is_none());
    assert!(!sandbox.devices(&phone.jid()).contains(&jid));
}

#[tokio::test]
async fn prekeys_are_refilled_when_the_server_runs_low() {
    let sandbox = sandbox().await;
    let phone = sandbox.create_phone("6281100000131").await.unwrap();
    let client = Client::builder(MemoryStore::new())
        .ws_url(sandbox.ws_url())
        .root_key(sandbox.root_public_key())
        .configure(|c| {
            c.initial_pre_keys = 6;
            c.refill_pre_keys = 40;
        })
        .build();
    let (jid, mut events) = pair(&phone, &client).await;
    assert_eq!(sandbox.prekey_count(&jid), 6);
    // Two new senders each take one prekey; 4 left is below the threshold.
    for n in ["6281100000132", "6281100000133"] {
        let other = sandbox.create_phone(n).await.unwrap();
        other.send_text(&phone.jid(), "hi").await.unwrap();
        next_message(&mut events).await;
    }
    for _ in 0..100 {
        if sandbox.prekey_count(&jid) >= 44 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no refill: {} prekeys", sandbox.prekey_count(&jid));
}

#[tokio::test]
async fn presence_and_typing_reach_the_other_side() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000141").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000142").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    pair(&alice_phone, &alice).await;
    let (_, mut bob_events) = pair(&bob_phone, &bob).await;
    bob.subscribe_presence(&alice_phone.jid()).await.unwrap();
    alice.send_presence(true).await.unwrap();
    next(&mut bob_events, |e| match e {
        Event::Presence {
            from,
            available: true,
            ..
        } if from.user == alice_phone.number() => Some(()),
        _ => None,
    })
    .await;
    for state in [
        wa_client::ChatState::Composing,
        wa_client::ChatState::Recording,
        wa_client::ChatState::Paused,
    ] {
        alice
            .send_chat_state(&bob_phone.jid(), state)
            .await
            .unwrap();
        let got = next(&mut bob_events, |e| match e {
            Event::ChatState { state, sender, .. } => Some((state, sender)),
            _ => None,
        })
        .await;
        assert_eq!(got.0, state);
        assert_eq!(got.1.user, alice_phone.number());
    }
}

#[tokio::test]
async fn qr_codes_rotate_through_the_refs_then_pairing_gives_up() {
    let sandbox = sandbox().await;
    let client = Client::builder(MemoryStore::new())
        .ws_url(sandbox.ws_url())
        .root_key(sandbox.root_public_key())
        .configure(|c| {
            c.qr_first_timeout = Duration::from_millis(300);
            c.qr_next_timeout = Duration::from_millis(100);
        })
        .build();
    let mut events = client.events();
    client.connect().await.unwrap();
    let mut codes = Vec::new();
    let reason = next(&mut events, |e| match e {
        Event::Qr(qr) => {
            codes.push(qr.code);
            None
        }
        Event::PairError { reason } => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.contains("expired"), "{reason}");
    assert!(codes.len() >= 2, "{codes:?}");
    let refs: std::collections::HashSet<_> = codes
        .iter()
        .map(|c| c.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(refs.len(), codes.len(), "every QR shows a new ref");
    let keys: std::collections::HashSet<_> = codes
        .iter()
        .map(|c| c.split_once(',').unwrap().1.to_owned())
        .collect();
    assert_eq!(keys.len(), 1, "the keys stay the same");
}

#[tokio::test]
async fn group_participants_can_be_added_and_removed() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000151").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000152").await.unwrap();
    let carol_phone = sandbox.create_phone("6281100000153").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let carol = client_with(&sandbox, MemoryStore::new());
    pair(&alice_phone, &alice).await;
    let (_, mut carol_events) = pair(&carol_phone, &carol).await;
    let group = alice.create_group("Ops", &[bob_phone.jid()]).await.unwrap();
    assert_eq!(group.participants.len(), 2);

    let added = alice
        .add_participants(&group.jid, &[carol_phone.jid()])
        .await
        .unwrap();
    assert!(added.iter().all(|c| c.error.is_none()), "{added:?}");
    let update = next(&mut carol_events, |e| match e {
        Event::GroupUpdate {
            group: g,
            action,
            participants,
            ..
        } if action == "add" => Some((g, participants)),
        _ => None,
    })
    .await;
    assert_eq!(update.0, group.jid);
    assert!(update.1.iter().any(|p| p.user == carol_phone.number()));
    // Carol now gets group messages (alice distributes her sender key to the new devices).
    alice.send_text(&group.jid, "welcome carol").await.unwrap();
    assert_eq!(
        next_message(&mut carol_events).await.text(),
        Some("welcome carol")
    );

    alice
        .remove_participants(&group.jid, &[carol_phone.jid()])
        .await
        .unwrap();
    let info = alice.group_info(&group.jid).await.unwrap();
    assert!(
        !info
            .participants
            .iter()
            .any(|p| p.jid.user == carol_phone.number())
    );
    assert!(
        !carol
            .groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.jid == group.jid)
    );
}

#[tokio::test]
async fn leaving_a_group_removes_us_and_tells_the_others() {
    let sandbox = sandbox().await;
    let alice_phone = sandbox.create_phone("6281100000161").await.unwrap();
    let bob_phone = sandbox.create_phone("6281100000162").await.unwrap();
    let alice = client_with(&sandbox, MemoryStore::new());
    let bob = client_with(&sandbox, MemoryStore::new());
    let (_, mut alice_events) = pair(&alice_phone, &alice).await;
    pair(&bob_phone, &bob).await;
    let group = alice
        .create_group("Leavers", &[bob_phone.jid()])
        .await
        .unwrap();

    bob.leave_group(&group.jid).await.unwrap();

    let update = next(&mut alice_events, |e| match e {
        Event::GroupUpdate {
            group: g,
            action,
            participants,
            ..
        } if action == "leave" => Some((g, participants)),
        _ => None,
    })
    .await;
    assert_eq!(update.0, group.jid);
    assert!(update.1.iter().any(|p| p.user == bob_phone.number()));
    let info = alice.group_info(&group.jid).await.unwrap();
    assert!(
        !info
            .participants
            .iter()
            .any(|p| p.jid.user == bob_phone.number())
    );
    assert!(
        !bob.groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.jid == group.jid)
    );
}
