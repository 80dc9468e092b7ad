//! [`KvStore`]: every store trait implemented once over a small key-value backend
//! ([`KvBackend`]), so the in-memory and SQLite stores share all their logic and differ only in
//! where the bytes live.

use async_trait::async_trait;
use std::sync::RwLock;
use wa_core::signal::{
    IdentityChange, IdentityKeyPair, IdentityKeyStore, PreKeyRecord, PreKeyStore, ProtocolAddress,
    PublicKey, SenderKeyName, SenderKeyRecord, SenderKeyStore, SessionRecord, SessionStore,
    SignedPreKeyRecord, SignedPreKeyStore, StoreError,
};

use super::{
    Device, DeviceListStore, DeviceStore, MessageRetryStore, PreKeyBatchStore, SenderKeyMemory,
    SentMessage,
};

/// Where a [`KvStore`] keeps its bytes: named namespaces of string keys and byte values.
#[async_trait]
pub trait KvBackend: Send + Sync + 'static {
    /// The value of `key` in `ns`.
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes all `entries` into `ns` (atomically where the backend can).
    async fn put_many(&self, ns: &str, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Deletes `key` from `ns`.
    async fn delete(&self, ns: &str, key: &str) -> Result<(), StoreError>;
    /// The keys of `ns` that start with `prefix`.
    async fn keys_with_prefix(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Deletes the keys of `ns` that start with `prefix`.
    async fn delete_prefix(&self, ns: &str, prefix: &str) -> Result<(), StoreError>;
    /// Deletes everything.
    async fn clear(&self) -> Result<(), StoreError>;
}

const DEVICE: &str = "device";
const IDENTITY: &str = "identity";
const SESSION: &str = "session";
const PRE_KEY: &str = "prekey";
const SIGNED_PRE_KEY: &str = "signed_prekey";
const SENDER_KEY: &str = "sender_key";
const DEVICE_LIST: &str = "device_list";
const SENDER_KEY_MEMORY: &str = "sender_key_memory";
const SENT: &str = "sent";
const RETRY: &str = "retry";

/// A complete [`Store`](super::Store) over a [`KvBackend`]. The device is cached in memory.
pub struct KvStore<B> {
    backend: B,
    device: RwLock<Option<Device>>,
}

impl<B: KvBackend> KvStore<B> {
    /// A store over `backend`; call [`KvStore::load`] to read a stored device into the cache.
    pub fn with_backend(backend: B) -> Self {
        KvStore {
            backend,
            device: RwLock::new(None),
        }
    }

    /// Reads the stored device into the cache.
    pub async fn load(self) -> Result<Self, StoreError> {
        if let Some(bytes) = self.backend.get(DEVICE, "").await? {
            *self.device.write().expect("device lock") = Some(Device::from_bytes(&bytes)?);
        }
        Ok(self)
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn cached_device(&self) -> Result<Device, StoreError> {
        self.device
            .read()
            .expect("device lock")
            .clone()
            .ok_or_else(|| StoreError::new("the store holds no device"))
    }

    async fn put(&self, ns: &str, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        self.backend.put_many(ns, &[(key, value)]).await
    }
}

fn decode<T>(
    bytes: Option<Vec<u8>>,
    f: impl FnOnce(&[u8]) -> Result<T, wa_core::signal::SignalError>,
) -> Result<Option<T>, StoreError> {
    bytes.map(|b| f(&b).map_err(StoreError::new)).transpose()
}

#[async_trait]
impl<B: KvBackend> DeviceStore for KvStore<B> {
    async fn load_device(&self) -> Result<Option<Device>, StoreError> {
        Ok(self.device.read().expect("device lock").clone())
    }

    async fn save_device(&self, device: &Device) -> Result<(), StoreError> {
        self.put(DEVICE, String::new(), device.to_bytes()).await?;
        *self.device.write().expect("device lock") = Some(device.clone());
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.backend.clear().await?;
        *self.device.write().expect("device lock") = None;
        Ok(())
    }
}

#[async_trait]
impl<B: KvBackend> IdentityKeyStore for KvStore<B> {
    async fn identity_key_pair(&self) -> Result<IdentityKeyPair, StoreError> {
        Ok(IdentityKeyPair::from_key_pair(
            self.cached_device()?.keys.identity,
        ))
    }

    async fn local_registration_id(&self) -> Result<u32, StoreError> {
        Ok(self.cached_device()?.keys.registration_id)
    }

    async fn save_identity(
        &self,
        address: &ProtocolAddress,
        identity: &PublicKey,
    ) -> Result<IdentityChange, StoreError> {
        let key = address.to_string();
        let old = self.backend.get(IDENTITY, &key).await?;
        let new = identity.as_bytes().to_vec();
        let change = match old {
            None => IdentityChange::New,
            Some(old) if old == new => return Ok(IdentityChange::Unchanged),
            Some(_) => IdentityChange::Replaced,
        };
        self.put(IDENTITY, key, new).await?;
        Ok(change)
    }

    async fn identity(&self, address: &ProtocolAddress) -> Result<Option<PublicKey>, StoreError> {
        decode(
            self.backend.get(IDENTITY, &address.to_string()).await?,
            PublicKey::decode,
        )
    }
}

#[async_trait]
impl<B: KvBackend> SessionStore for KvStore<B> {
    async fn load_session(
        &self,
        address: &ProtocolAddress,
    ) -> Result<Option<SessionRecord>, StoreError> {
        decode(
            self.backend.get(SESSION, &address.to_string()).await?,
            SessionRecord::deserialize,
        )
    }

    async fn store_session(
        &self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> Result<(), StoreError> {
        self.put(SESSION, address.to_string(), record.serialize())
            .await
    }
}

#[async_trait]
impl<B: KvBackend> PreKeyStore for KvStore<B> {
    async fn load_pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        decode(
            self.backend.get(PRE_KEY, &id.to_string()).await?,
            PreKeyRecord::deserialize,
        )
    }

    async fn store_pre_key(&self, record: &PreKeyRecord) -> Result<(), StoreError> {
        self.put(PRE_KEY, record.id.to_string(), record.serialize())
            .await
    }

    async fn remove_pre_key(&self, id: u32) -> Result<(), StoreError> {
        self.backend.delete(PRE_KEY, &id.to_string()).await
    }
}

#[async_trait]
impl<B: KvBackend> PreKeyBatchStore for KvStore<B> {
    async fn store_pre_keys(&self, records: &[PreKeyRecord]) -> Result<(), StoreError> {
        let entries: Vec<_> = records
            .iter()
            .map(|r| (r.id.to_string(), r.serialize()))
            .collect();
        self.backend.put_many(PRE_KEY, &entries).await
    }
}

#[async_trait]
impl<B: KvBackend> SignedPreKeyStore for KvStore<B> {
    async fn load_signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        if let Some(record) = decode(
            self.backend.get(SIGNED_PRE_KEY, &id.to_string()).await?,
            SignedPreKeyRecord::deserialize,
        )? {
            return Ok(Some(record));
        }
        // The device's own signed prekey needs no separate row.
        let device = self.device.read().expect("device lock").clone();
        Ok(device
            .filter(|d| d.keys.signed_pre_key.id == id)
            .map(|d| d.signed_pre_key_record()))
    }

    async fn store_signed_pre_key(&self, record: &SignedPreKeyRecord) -> Result<(), StoreError> {
        self.put(SIGNED_PRE_KEY, record.id.to_string(), record.serialize())
            .await
    }
}

#[async_trait]
impl<B: KvBackend> SenderKeyStore for KvStore<B> {
    async fn load_sender_key(
        &self,
        name: &SenderKeyName,
    ) -> Result<Option<SenderKeyRecord>, StoreError> {
        decode(
            self.backend.get(SENDER_KEY, &name.to_string()).await?,
            SenderKeyRecord::deserialize,
        )
    }

    async fn store_sender_key(
        &self,
        name: &SenderKeyName,
        record: &SenderKeyRecord,
    ) -> Result<(), StoreError> {
        self.put(SENDER_KEY, name.to_string(), record.serialize())
            .await
    }
}

#[async_trait]
impl<B: KvBackend> DeviceListStore for KvStore<B> {
    async fn device_list(&self, user: &str) -> Result<Option<Vec<u16>>, StoreError> {
        let Some(bytes) = self.backend.get(DEVICE_LIST, user).await? else {
            return Ok(None);
        };
        if bytes.len() % 2 != 0 {
            return Err(StoreError::new("device list of odd length"));
        }
        Ok(Some(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ))
    }

    async fn put_device_list(&self, user: &str, devices: &[u16]) -> Result<(), StoreError> {
        let bytes = devices.iter().flat_map(|d| d.to_be_bytes()).collect();
        self.put(DEVICE_LIST, user.to_owned(), bytes).await
    }

    async fn delete_device_list(&self, user: &str) -> Result<(), StoreError> {
        self.backend.delete(DEVICE_LIST, user).await
    }
}

fn memory_prefix(group: &str) -> String {
    format!("{group}\n")
}

#[async_trait]
impl<B: KvBackend> SenderKeyMemory for KvStore<B> {
    async fn sender_key_devices(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let prefix = memory_prefix(group);
        Ok(self
            .backend
            .keys_with_prefix(SENDER_KEY_MEMORY, &prefix)
            .await?
            .into_iter()
            .map(|k| k[prefix.len()..].to_owned())
            .collect())
    }

    async fn mark_sender_key_devices(
        &self,
        group: &str,
        devices: &[String],
    ) -> Result<(), StoreError> {
        let prefix = memory_prefix(group);
        let entries: Vec<_> = devices
            .iter()
            .map(|d| (format!("{prefix}{d}"), Vec::new()))
            .collect();
        self.backend.put_many(SENDER_KEY_MEMORY, &entries).await
    }

    async fn forget_sender_key_devices(&self, group: &str) -> Result<(), StoreError> {
        self.backend
            .delete_prefix(SENDER_KEY_MEMORY, &memory_prefix(group))
            .await
    }
}

#[async_trait]
impl<B: KvBackend> MessageRetryStore for KvStore<B> {
    async fn put_sent_message(&self, id: &str, message: &SentMessage) -> Result<(), StoreError> {
        // chat length (2 bytes BE), chat, timestamp (8 bytes BE), message.
        let chat = message.chat.as_bytes();
        let len = u16::try_from(chat.len()).map_err(|_| StoreError::new("chat too long"))?;
        let mut bytes = Vec::with_capacity(10 + chat.len() + message.message.len());
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(chat);
        bytes.extend_from_slice(&message.timestamp.to_be_bytes());
        bytes.extend_from_slice(&message.message);
        self.put(SENT, id.to_owned(), bytes).await
    }

    async fn sent_message(&self, id: &str) -> Result<Option<SentMessage>, StoreError> {
        let Some(bytes) = self.backend.get(SENT, id).await? else {
            return Ok(None);
        };
        let bad = || StoreError::new("sent message record is truncated");
        let len = u16::from_be_bytes(bytes.get(..2).ok_or_else(bad)?.try_into().expect("2"));
        let chat_end = 2 + len as usize;
        let chat = bytes.get(2..chat_end).ok_or_else(bad)?;
        let ts = bytes.get(chat_end..chat_end + 8).ok_or_else(bad)?;
        Ok(Some(SentMessage {
            chat: String::from_utf8(chat.to_vec()).map_err(StoreError::new)?,
            timestamp: u64::from_be_bytes(ts.try_into().expect("8")),
            message: bytes[chat_end + 8..].to_vec(),
        }))
    }

    async fn bump_retry_count(&self, key: &str) -> Result<u32, StoreError> {
        let count = match self.backend.get(RETRY, key).await? {
            Some(b) if b.len() == 4 => u32::from_be_bytes(b.try_into().expect("4")),
            _ => 0,
        } + 1;
        self.put(RETRY, key.to_owned(), count.to_be_bytes().to_vec())
            .await?;
        Ok(count)
    }
}
