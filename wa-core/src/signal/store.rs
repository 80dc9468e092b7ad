//! The async store traits the ciphers run over. Implementations keep typed records; a
//! persistent store saves their `serialize()` bytes and reads them back with
//! `deserialize()`. All methods take `&self` (use interior mutability) so one store can be
//! shared between tasks; every trait is `Send + Sync`.
//!
//! [`InMemorySignalStore`](super::InMemorySignalStore) implements all of them.

use async_trait::async_trait;

use super::{
    IdentityKeyPair, PreKeyRecord, ProtocolAddress, PublicKey, SenderKeyName, SenderKeyRecord,
    SessionRecord, SignedPreKeyRecord, StoreError,
};

/// Whether an identity is being checked for sending to or receiving from the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We are about to encrypt to the peer.
    Sending,
    /// We received a message from the peer.
    Receiving,
}

/// What [`IdentityKeyStore::save_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityChange {
    /// No identity was stored for the address before.
    New,
    /// The same identity was already stored.
    Unchanged,
    /// A different identity was stored and has been replaced.
    Replaced,
}

/// Our own identity, and the identities we trust for peers.
#[async_trait]
pub trait IdentityKeyStore: Send + Sync {
    /// Our identity key pair.
    async fn identity_key_pair(&self) -> Result<IdentityKeyPair, StoreError>;

    /// Our registration id.
    async fn local_registration_id(&self) -> Result<u32, StoreError>;

    /// Stores `identity` as the trusted identity of `address`.
    async fn save_identity(
        &self,
        address: &ProtocolAddress,
        identity: &PublicKey,
    ) -> Result<IdentityChange, StoreError>;

    /// The identity stored for `address`.
    async fn identity(&self, address: &ProtocolAddress) -> Result<Option<PublicKey>, StoreError>;

    /// Whether `identity` may be used with `address`. The default is trust on first use:
    /// an address with no stored identity is trusted, otherwise only the stored identity is.
    async fn is_trusted_identity(
        &self,
        address: &ProtocolAddress,
        identity: &PublicKey,
        _direction: Direction,
    ) -> Result<bool, StoreError> {
        Ok(self
            .identity(address)
            .await?
            .is_none_or(|known| known == *identity))
    }
}

/// Session records by peer device.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The record for `address`, if any.
    async fn load_session(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Replaces the record for `address`.
    async fn store_session(
        &self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> Result<(), StoreError>;
}

/// Our one-time prekeys.
#[async_trait]
pub trait PreKeyStore: Send + Sync {
    /// The prekey with this id, if we still have it.
    async fn load_pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError>;
    /// Stores a prekey under its id.
    async fn store_pre_key(&self, record: &PreKeyRecord) -> Result<(), StoreError>;
    /// Deletes a prekey (after a session used it).
    async fn remove_pre_key(&self, id: u32) -> Result<(), StoreError>;
}

/// Our signed prekeys.
#[async_trait]
pub trait SignedPreKeyStore: Send + Sync {
    /// The signed prekey with this id, if we have it.
    async fn load_signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError>;
    /// Stores a signed prekey under its id.
    async fn store_signed_pre_key(&self, record: &SignedPreKeyRecord) -> Result<(), StoreError>;
}

/// Sender keys by (group, sender device).
#[async_trait]
pub trait SenderKeyStore: Send + Sync {
    /// The record for `name`, if any.
    async fn load_sender_key(
        &self,
        name: &SenderKeyName,
    ) -> Result<Option<SenderKeyRecord>, StoreError>;
    /// Replaces the record for `name`.
    async fn store_sender_key(
        &self,
        name: &SenderKeyName,
        record: &SenderKeyRecord,
    ) -> Result<(), StoreError>;
}

/// All Signal stores in one; implemented for every type that implements the five traits.
pub trait SignalStore:
    IdentityKeyStore + SessionStore + PreKeyStore + SignedPreKeyStore + SenderKeyStore
{
}

impl<T> SignalStore for T where
    T: IdentityKeyStore + SessionStore + PreKeyStore + SignedPreKeyStore + SenderKeyStore
{
}
