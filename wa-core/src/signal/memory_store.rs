//! A complete in-memory Signal store, for tests, examples and short-lived clients.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rand_core::{CryptoRng, RngCore};

use super::store::{
    IdentityChange, IdentityKeyStore, PreKeyStore, SenderKeyStore, SessionStore, SignedPreKeyStore,
};
use super::{
    IdentityKeyPair, PreKeyBundle, PreKeyRecord, ProtocolAddress, PublicKey, SenderKeyName,
    SenderKeyRecord, SessionRecord, SignedPreKeyRecord, StoreError, generate_registration_id,
};
use crate::crypto::KeyPair;

#[derive(Default)]
struct Tables {
    identities: HashMap<ProtocolAddress, PublicKey>,
    sessions: HashMap<ProtocolAddress, SessionRecord>,
    pre_keys: HashMap<u32, PreKeyRecord>,
    signed_pre_keys: HashMap<u32, SignedPreKeyRecord>,
    sender_keys: HashMap<SenderKeyName, SenderKeyRecord>,
}

/// Every Signal store trait over hash maps behind a mutex. Identities are trusted on first
/// use (the trait default).
pub struct InMemorySignalStore {
    identity: IdentityKeyPair,
    registration_id: u32,
    tables: Mutex<Tables>,
}

impl InMemorySignalStore {
    /// A store for the given identity and registration id.
    pub fn new(identity: IdentityKeyPair, registration_id: u32) -> Self {
        InMemorySignalStore {
            identity,
            registration_id,
            tables: Mutex::new(Tables::default()),
        }
    }

    /// A store with a fresh identity and registration id.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let identity = IdentityKeyPair::generate(rng);
        Self::new(identity, generate_registration_id(rng))
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the maps half-updated (every
        // operation is a single insert or remove), so a poisoned lock is still usable.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes, stores and returns a bundle for this device: a fresh signed prekey and a
    /// fresh one-time prekey, both with id `id` (the bundle's `device_id` is 1: the store
    /// does not know its device). Handy for tests and examples; a real client uploads its
    /// keys to the server instead.
    pub fn new_prekey_bundle<R: RngCore + CryptoRng>(&self, id: u32, rng: &mut R) -> PreKeyBundle {
        let signed = SignedPreKeyRecord::generate(&self.identity, id, 0, rng);
        let one_time = PreKeyRecord {
            id,
            key_pair: KeyPair::generate(rng),
        };
        let bundle = PreKeyBundle {
            registration_id: self.registration_id,
            device_id: 1,
            pre_key: Some((id, PublicKey::from(&one_time.key_pair))),
            signed_pre_key_id: id,
            signed_pre_key: PublicKey::from(&signed.key_pair),
            signed_pre_key_signature: signed.signature,
            identity_key: self.identity.public_key(),
        };
        let mut tables = self.tables();
        tables.signed_pre_keys.insert(id, signed);
        tables.pre_keys.insert(id, one_time);
        bundle
    }
}

#[async_trait]
impl IdentityKeyStore for InMemorySignalStore {
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
}

#[async_trait]
impl SessionStore for InMemorySignalStore {
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
impl PreKeyStore for InMemorySignalStore {
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
impl SignedPreKeyStore for InMemorySignalStore {
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
impl SenderKeyStore for InMemorySignalStore {
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
