//! One test suite, run against every store implementation.

use wa_client::store::{Device, DeviceListStore, DeviceStore, SentMessage};
use wa_client::{MemoryStore, SqliteStore, Store};
use wa_core::Jid;
use wa_core::pair::CompanionKeys;
use wa_core::signal::{
    IdentityChange, ProtocolAddress, PublicKey, SenderKeyName, SenderKeyRecord, SessionRecord,
    generate_pre_keys,
};

fn device() -> Device {
    Device::new(CompanionKeys::generate(&mut rand::rngs::OsRng))
}

async fn device_round_trips_with_pairing_fields<S: Store>(store: S) {
    assert!(store.load_device().await.unwrap().is_none());
    let mut d = device();
    d.jid = Some("6281:3@s.whatsapp.net".parse::<Jid>().unwrap());
    d.lid = Some("99887766:3@lid".parse::<Jid>().unwrap());
    d.account = Some(vec![1, 2, 3]);
    d.push_name = Some("bot".into());
    d.next_pre_key_id = 813;
    store.save_device(&d).await.unwrap();
    assert_eq!(store.load_device().await.unwrap(), Some(d));
}

async fn identity_comes_from_the_device<S: Store>(store: S) {
    assert!(store.identity_key_pair().await.is_err());
    let d = device();
    store.save_device(&d).await.unwrap();
    assert_eq!(
        store.identity_key_pair().await.unwrap().public_key(),
        PublicKey::from_bytes(d.keys.identity.public)
    );
    assert_eq!(
        store.local_registration_id().await.unwrap(),
        d.keys.registration_id
    );
    let spk = store
        .load_signed_pre_key(d.keys.signed_pre_key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(spk.key_pair, d.keys.signed_pre_key.key_pair);
}

async fn identities_report_new_unchanged_replaced<S: Store>(store: S) {
    let addr = ProtocolAddress::new("6281", 1);
    let a = PublicKey::from_bytes([1; 32]);
    let b = PublicKey::from_bytes([2; 32]);
    assert_eq!(store.identity(&addr).await.unwrap(), None);
    assert_eq!(
        store.save_identity(&addr, &a).await.unwrap(),
        IdentityChange::New
    );
    assert_eq!(
        store.save_identity(&addr, &a).await.unwrap(),
        IdentityChange::Unchanged
    );
    assert_eq!(
        store.save_identity(&addr, &b).await.unwrap(),
        IdentityChange::Replaced
    );
    assert_eq!(store.identity(&addr).await.unwrap(), Some(b));
}

async fn sessions_and_sender_keys_round_trip<S: Store>(store: S) {
    let addr = ProtocolAddress::new("6281", 2);
    assert!(store.load_session(&addr).await.unwrap().is_none());
    let record = SessionRecord::new();
    store.store_session(&addr, &record).await.unwrap();
    assert_eq!(
        store
            .load_session(&addr)
            .await
            .unwrap()
            .unwrap()
            .serialize(),
        record.serialize()
    );
    let name = SenderKeyName::new("1203@g.us", addr);
    let mut sk = SenderKeyRecord::new();
    sk.rotate(&mut rand::rngs::OsRng);
    store.store_sender_key(&name, &sk).await.unwrap();
    assert_eq!(
        store
            .load_sender_key(&name)
            .await
            .unwrap()
            .unwrap()
            .serialize(),
        sk.serialize()
    );
}

async fn pre_keys_store_in_batches_and_remove<S: Store>(store: S) {
    let keys = generate_pre_keys(1, 30, &mut rand::rngs::OsRng);
    store.store_pre_keys(&keys).await.unwrap();
    assert_eq!(
        store.load_pre_key(30).await.unwrap(),
        Some(keys[29].clone())
    );
    store.remove_pre_key(30).await.unwrap();
    assert_eq!(store.load_pre_key(30).await.unwrap(), None);
    assert!(store.load_pre_key(1).await.unwrap().is_some());
}

async fn device_lists_cache_and_forget<S: Store>(store: S) {
    let user = "6281@s.whatsapp.net";
    assert_eq!(store.device_list(user).await.unwrap(), None);
    store.put_device_list(user, &[0, 3, 700]).await.unwrap();
    assert_eq!(
        store.device_list(user).await.unwrap(),
        Some(vec![0, 3, 700])
    );
    store.delete_device_list(user).await.unwrap();
    assert_eq!(store.device_list(user).await.unwrap(), None);
}

async fn sender_key_memory_is_per_group<S: Store>(store: S) {
    let devices = vec![
        "6281:1@s.whatsapp.net".to_owned(),
        "6282@s.whatsapp.net".to_owned(),
    ];
    store
        .mark_sender_key_devices("g1@g.us", &devices)
        .await
        .unwrap();
    store
        .mark_sender_key_devices("g10@g.us", &["x@s.whatsapp.net".to_owned()])
        .await
        .unwrap();
    let mut got = store.sender_key_devices("g1@g.us").await.unwrap();
    got.sort();
    assert_eq!(got, devices);
    store.forget_sender_key_devices("g1@g.us").await.unwrap();
    assert!(
        store
            .sender_key_devices("g1@g.us")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.sender_key_devices("g10@g.us").await.unwrap().len(), 1);
}

async fn sent_messages_and_retry_counts<S: Store>(store: S) {
    let sent = SentMessage {
        chat: "6281@s.whatsapp.net".into(),
        message: vec![10, 2, 104, 105],
        timestamp: 1_700_000_000,
    };
    store.put_sent_message("3EB0AA", &sent).await.unwrap();
    assert_eq!(store.sent_message("3EB0AA").await.unwrap(), Some(sent));
    assert_eq!(store.sent_message("3EB0BB").await.unwrap(), None);
    assert_eq!(store.bump_retry_count("3EB0AA").await.unwrap(), 1);
    assert_eq!(store.bump_retry_count("3EB0AA").await.unwrap(), 2);
    assert_eq!(store.bump_retry_count("other").await.unwrap(), 1);
}

async fn clear_forgets_everything<S: Store>(store: S) {
    store.save_device(&device()).await.unwrap();
    store
        .put_device_list("u@s.whatsapp.net", &[0])
        .await
        .unwrap();
    store.clear().await.unwrap();
    assert!(store.load_device().await.unwrap().is_none());
    assert_eq!(store.device_list("u@s.whatsapp.net").await.unwrap(), None);
}

macro_rules! suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            suite!(@tests $make;
                device_round_trips_with_pairing_fields,
                identity_comes_from_the_device,
                identities_report_new_unchanged_replaced,
                sessions_and_sender_keys_round_trip,
                pre_keys_store_in_batches_and_remove,
                device_lists_cache_and_forget,
                sender_key_memory_is_per_group,
                sent_messages_and_retry_counts,
                clear_forgets_everything
            );
        }
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::$name($make).await;
            }
        )*
    };
}

suite!(memory, MemoryStore::new());
suite!(sqlite, SqliteStore::open(":memory:").await.unwrap());

#[tokio::test]
async fn sqlite_store_survives_reopening_the_file() {
    let path = std::env::temp_dir().join(format!("wasap-store-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let d = device();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.save_device(&d).await.unwrap();
        store
            .put_device_list("u@s.whatsapp.net", &[0, 2])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.load_device().await.unwrap(), Some(d));
    assert_eq!(
        store.device_list("u@s.whatsapp.net").await.unwrap(),
        Some(vec![0, 2])
    );
    drop(store);
    let _ = std::fs::remove_file(&path);
}
