//! Persistent state of one linked device: its credentials, the Signal stores, and the caches
//! the client keeps (device lists, who has our group sender keys, recently sent messages).
//!
//! Every trait is async, object-safe and `Send + Sync`; methods take `&self`. [`Store`] is
//! all of them together and is implemented for every type that implements each part.
//! Implementations: [`MemoryStore`] and, with the `sqlite` feature, [`SqliteStore`]; both pass
//! the same test suite (`wa-client/tests/store_suite.rs`).

mod device;
mod kv;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

use async_trait::async_trait;
pub use device::Device;
pub use kv::{KvBackend, KvStore};
pub use memory::{MemoryBackend, MemoryStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteBackend, SqliteStore};
pub use wa_core::signal::StoreError;
use wa_core::signal::{PreKeyRecord, SignalStore};

/// The device's own credentials.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// The stored device, if any.
    async fn load_device(&self) -> Result<Option<Device>, StoreError>;
    /// Replaces the stored device.
    async fn save_device(&self, device: &Device) -> Result<(), StoreError>;
    /// Deletes everything this store holds (logout).
    async fn clear(&self) -> Result<(), StoreError>;
}

/// Batch operations on our one-time prekeys (the single-key ones come from
/// [`wa_core::signal::PreKeyStore`]).
#[async_trait]
pub trait PreKeyBatchStore: Send + Sync {
    /// Stores many prekeys at once (one transaction where the backend has them).
    async fn store_pre_keys(&self, records: &[PreKeyRecord]) -> Result<(), StoreError>;
}

/// Cached device lists per user (`user@server` without device).
#[async_trait]
pub trait DeviceListStore: Send + Sync {
    /// The cached device ids of `user`.
    async fn device_list(&self, user: &str) -> Result<Option<Vec<u16>>, StoreError>;
    /// Caches the device ids of `user`.
    async fn put_device_list(&self, user: &str, devices: &[u16]) -> Result<(), StoreError>;
    /// Forgets the cached list of `user`.
    async fn delete_device_list(&self, user: &str) -> Result<(), StoreError>;
}

/// Which devices already have our sender key for a group.
#[async_trait]
pub trait SenderKeyMemory: Send + Sync {
    /// The devices (JID strings) of `group` that have our current sender key.
    async fn sender_key_devices(&self, group: &str) -> Result<Vec<String>, StoreError>;
    /// Records that `devices` received our sender key for `group`.
    async fn mark_sender_key_devices(
        &self,
        group: &str,
        devices: &[String],
    ) -> Result<(), StoreError>;
    /// Forgets every device of `group` (after rotating our key).
    async fn forget_sender_key_devices(&self, group: &str) -> Result<(), StoreError>;
}

/// A message we sent, kept to answer retry receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The chat it went to.
    pub chat: String,
    /// The serialized `Message` protobuf (unpadded, not wrapped).
    pub message: Vec<u8>,
    /// When it was sent (unix seconds).
    pub timestamp: u64,
}

/// Recently sent messages and retry counters.
#[async_trait]
pub trait MessageRetryStore: Send + Sync {
    /// Keeps a sent message under its id.
    async fn put_sent_message(&self, id: &str, message: &SentMessage) -> Result<(), StoreError>;
    /// The sent message with this id.
    async fn sent_message(&self, id: &str) -> Result<Option<SentMessage>, StoreError>;
    /// Increments and returns the retry counter of `key` (a message id, optionally with a
    /// device); starts at 1.
    async fn bump_retry_count(&self, key: &str) -> Result<u32, StoreError>;
}

/// Everything the client needs from a store.
pub trait Store:
    DeviceStore
    + SignalStore
    + PreKeyBatchStore
    + DeviceListStore
    + SenderKeyMemory
    + MessageRetryStore
    + 'static
{
}

impl<T> Store for T where
    T: DeviceStore
        + SignalStore
        + PreKeyBatchStore
        + DeviceListStore
        + SenderKeyMemory
        + MessageRetryStore
        + 'static
{
}
