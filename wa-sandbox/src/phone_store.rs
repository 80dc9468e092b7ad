//! The virtual phones' Signal store: every wa-core store trait over maps behind a mutex,
//! with a serializable snapshot so phones keep their sessions across sandbox restarts.
//!
//! A phone hands out a fresh one-time prekey with every bundle; the ones not yet used are
//! capped ([`MAX_PHONE_PREKEYS`], oldest dropped) so bundle fetches cannot grow it forever.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use wa_core::crypto::KeyPair;
use wa_core::signal::{
    IdentityChange, IdentityKeyPair, IdentityKeyStore, PreKeyBundle, PreKeyRecord, PreKeyStore,
    ProtocolAddress, PublicKey, SenderKeyName, SenderKeyRecord, SenderKeyStore, SessionRecord,
    SessionStore, SignedPreKeyRecord, SignedPreKeyStore, StoreError,
};

/// Most unused one-time prekeys a phone keeps.
pub(crate) const MAX_PHONE_PREKEYS: usize = 10_000;
const SIGNED_PRE_KEY_ID: u32 = 1;

#[derive(Default)]
struct Tables {
    identities: HashMap<ProtocolAddress, PublicKey>,
    sessions: HashMap<ProtocolAddress, SessionRecord>,
    pre_keys: BTreeMap<u32, PreKeyRecord>,
    signed_pre_keys: HashMap<u32, SignedPreKeyRecord>,
    sender_keys: HashMap<SenderKeyName, SenderKeyRecord>,
    next_pre_key: u32,
}

/// A phone's Signal state.
pub(crate) struct PhoneStore {
    identity: IdentityKeyPair,
    registration_id: u32,
    tables: Mutex<Tables>,
}

/// The serializable form of a [`PhoneStore`] (records as hex of their versioned bytes).
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct PhoneStoreSnapshot {
    identities: Vec<(String, String)>,
    sessions: Vec<(String, String)>,
    pre_keys: Vec<String>,
    signed_pre_keys: Vec<String>,
    /// (group, sender address, record)
    sender_keys: Vec<(String, String, String)>,
    next_pre_key: u32,
}

fn parse_address(text: &str) -> Option<ProtocolAddress> {
    let (name, device) = text.rsplit_once('.')?;
    Some(ProtocolAddress::new(name, device.parse().ok()?))
}

impl PhoneStore {
    pub fn new(identity: KeyPair, registration_id: u32) -> PhoneStore {
        let identity = IdentityKeyPair::from_key_pair(identity);
        let signed = SignedPreKeyRecord::generate(&identity, SIGNED_PRE_KEY_ID, 0, &mut OsRng);
        let mut tables = Tables {
            next_pre_key: 1,
            ..Tables::default()
        };
        tables.signed_pre_keys.insert(SIGNED_PRE_KEY_ID, signed);
        PhoneStore {
            identity,
            registration_id,
            tables: Mutex::new(tables),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A bundle of device 0 with a fresh one-time prekey.
    pub fn bundle(&self) -> PreKeyBundle {
        let mut t = self.tables();
        let id = t.next_pre_key;
        t.next_pre_key = if id >= 0x00FF_FFFF { 1 } else { id + 1 };
        let key_pair = KeyPair::generate(&mut OsRng);
        let public = PublicKey::from(&key_pair);
        t.pre_keys.insert(id, PreKeyRecord { id, key_pair });
        while t.pre_keys.len() > MAX_PHONE_PREKEYS {
            t.pre_keys.pop_first();
        }
        let signed = t
            .signed_pre_keys
            .get(&SIGNED_PRE_KEY_ID)
            .cloned()
            .expect("created with the store");
        PreKeyBundle {
            registration_id: self.registration_id,
            device_id: 0,
            pre_key: Some((id, public)),
            signed_pre_key_id: signed.id,
            signed_pre_key: PublicKey::from(&signed.key_pair),
            signed_pre_key_signature: signed.signature,
            identity_key: self.identity.public_key(),
        }
    }

    pub fn snapshot(&self) -> PhoneStoreSnapshot {
        let t = self.tables();
        PhoneStoreSnapshot {
            identities: t
                .identities
                .iter()
                .map(|(a, k)| (a.to_string(), hex::encode(k.as_bytes())))
                .collect(),
            sessions: t
                .sessions
                .iter()
                .map(|(a, r)| (a.to_string(), hex::encode(r.serialize())))
                .collect(),
            pre_keys: t
                .pre_keys
                .values()
                .map(|r| hex::encode(r.serialize()))
                .collect(),
            signed_pre_keys: t
                .signed_pre_keys
                .values()
                .map(|r| hex::encode(r.serialize()))
                .collect(),
            sender_keys: t
                .sender_keys
                .iter()
                .map(|(n, r)| {
                    (
                        n.group_id.clone(),
                        n.sender.to_string(),
                        hex::encode(r.serialize()),
                    )
                })
                .collect(),
            next_pre_key: t.next_pre_key,
        }
    }

    /// Loads a snapshot; entries that do not parse are skipped.
    pub fn restore(&self, s: PhoneStoreSnapshot) {
        let mut t = self.tables();
        let bytes = |h: &str| hex::decode(h).ok();
        for (a, k) in s.identities {
            if let (Some(a), Some(k)) = (
                parse_address(&a),
                bytes(&k).and_then(|b| <[u8; 32]>::try_from(b).ok()),
            ) {
                t.identities.insert(a, PublicKey::from_bytes(k));
            }
        }
        for (a, r) in s.sessions {
            if let (Some(a), Some(r)) = (
                parse_address(&a),
                bytes(&r).and_then(|b| SessionRecord::deserialize(&b).ok()),
            ) {
                t.sessions.insert(a, r);
            }
        }
        for r in s.pre_keys {
            if let Some(r) = bytes(&r).and_then(|b| PreKeyRecord::deserialize(&b).ok()) {
                t.pre_keys.insert(r.id, r);
            }
        }
        for r in s.signed_pre_keys {
            if let Some(r) = bytes(&r).and_then(|b| SignedPreKeyRecord::deserialize(&b).ok()) {
                t.signed_pre_keys.insert(r.id, r);
            }
        }
        for (g, a, r) in s.sender_keys {
            if let (Some(a), Some(r)) = (
                parse_address(&a),
                bytes(&r).and_then(|b| SenderKeyRecord::deserialize(&b).ok()),
            ) {
                t.sender_keys.insert(SenderKeyName::new(g, a), r);
            }
        }
        t.next_pre_key = s.next_pre_key.max(1);
    }
}

#[async_trait]
impl IdentityKeyStore for PhoneStore {
    async fn identity_key_pair(&self) -> Result<IdentityKeyPair, StoreError> {
        Ok(self.identity.clone())
    }

    async fn local_registration_id(&self) -> Result<u32, StoreError> {
        Ok(self.registration_id)
    }

    async fn save_identity(
        &self,
        address: &ProtocolAddress,
        identity: &PublicKey,
    ) -> Result<IdentityChange, StoreError> {
        Ok(
            match self.tables().identities.insert(address.clone(), *identity) {
                None => IdentityChange::New,
                Some(old) if old == *identity => IdentityChange::Unchanged,
                Some(_) => IdentityChange::Replaced,
            },
        )
    }

    async fn identity(&self, address: &ProtocolAddress) -> Result<Option<PublicKey>, StoreError> {
        Ok(self.tables().identities.get(address).copied())
    }

    /// A sandbox phone trusts whatever identity a device presents (companions re-pair
    /// with new keys all the time in tests), like whatsmeow's AutoTrustIdentity.
    async fn is_trusted_identity(
        &self,
        _address: &ProtocolAddress,
        _identity: &PublicKey,
        _direction: wa_core::signal::Direction,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for PhoneStore {
    async fn load_session(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.tables().sessions.get(address).cloned())
    }

    async fn store_session(
        &self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> Result<(), StoreError> {
        self.tables()
            .sessions
            .insert(address.clone(), record.clone());
        Ok(())
    }
}

#[async_trait]
impl PreKeyStore for PhoneStore {
    async fn load_pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        Ok(self.tables().pre_keys.get(&id).cloned())
    }

    async fn store_pre_key(&self, record: &PreKeyRecord) -> Result<(), StoreError> {
        self.tables().pre_keys.insert(record.id, record.clone());
        Ok(())
    }

    async fn remove_pre_key(&self, id: u32) -> Result<(), StoreError> {
        self.tables().pre_keys.remove(&id);
        Ok(())
    }
}

#[async_trait]
impl SignedPreKeyStore for PhoneStore {
    async fn load_signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        Ok(self.tables().signed_pre_keys.get(&id).cloned())
    }

    async fn store_signed_pre_key(&self, record: &SignedPreKeyRecord) -> Result<(), StoreError> {
        self.tables()
            .signed_pre_keys
            .insert(record.id, record.clone());
        Ok(())
    }
}

#[async_trait]
impl SenderKeyStore for PhoneStore {
    async fn load_sender_key(
        &self,
        name: &SenderKeyName,
    ) -> Result<Option<SenderKeyRecord>, StoreError> {
        Ok(self.tables().sender_keys.get(name).cloned())
    }

    async fn store_sender_key(
        &self,
        name: &SenderKeyName,
        record: &SenderKeyRecord,
    ) -> Result<(), StoreError> {
        self.tables()
            .sender_keys
            .insert(name.clone(), record.clone());
        Ok(())
    }
}
