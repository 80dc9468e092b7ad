//! [`MemoryStore`]: everything in process memory; gone when the process exits.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use wa_core::signal::StoreError;

use super::{KvBackend, KvStore};

/// A [`KvBackend`] on a sorted map.
#[derive(Default)]
pub struct MemoryBackend {
    map: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

/// The in-memory store.
///
/// ```
/// let store = wa_client::MemoryStore::new();
/// # let _ = store;
/// ```
pub type MemoryStore = KvStore<MemoryBackend>;

impl KvStore<MemoryBackend> {
    /// An empty in-memory store.
    pub fn new() -> Self {
        KvStore::with_backend(MemoryBackend::default())
    }
}

impl Default for KvStore<MemoryBackend> {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBackend {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<u8>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl KvBackend for MemoryBackend {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(&(ns.to_owned(), key.to_owned())).cloned())
    }

    async fn put_many(&self, ns: &str, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut map = self.lock();
        for (k, v) in entries {
            map.insert((ns.to_owned(), k.clone()), v.clone());
        }
        Ok(())
    }

    async fn delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        self.lock().remove(&(ns.to_owned(), key.to_owned()));
        Ok(())
    }

    async fn keys_with_prefix(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .range((ns.to_owned(), prefix.to_owned())..)
            .take_while(|((n, k), _)| n == ns && k.starts_with(prefix))
            .map(|((_, k), _)| k.clone())
            .collect())
    }

    async fn delete_prefix(&self, ns: &str, prefix: &str) -> Result<(), StoreError> {
        let keys = self.keys_with_prefix(ns, prefix).await?;
        let mut map = self.lock();
        for k in keys {
            map.remove(&(ns.to_owned(), k));
        }
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.lock().clear();
        Ok(())
    }
}
