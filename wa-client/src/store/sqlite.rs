//! [`SqliteStore`]: one SQLite file in WAL mode (sqlx), one table of namespaced keys.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use wa_core::signal::StoreError;

use super::{KvBackend, KvStore};

/// A [`KvBackend`] on an SQLite file.
pub struct SqliteBackend {
    pool: SqlitePool,
}

/// The SQLite store (feature `sqlite`).
///
/// ```no_run
/// # async fn f() -> Result<(), wa_client::store::StoreError> {
/// let store = wa_client::SqliteStore::open("bot.db").await?;
/// # Ok(()) }
/// ```
pub type SqliteStore = KvStore<SqliteBackend>;

impl KvStore<SqliteBackend> {
    /// Opens (creating if needed) the store at `path`; `:memory:` gives a private in-memory
    /// database.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_string_lossy().into_owned();
        let memory = path == ":memory:";
        let options = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:").map_err(StoreError::new)?
        } else {
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
        };
        // One connection: an in-memory database exists per connection, and a single writer
        // keeps SQLite free of busy errors.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(StoreError::new)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, \
             PRIMARY KEY (ns, k)) WITHOUT ROWID",
        )
        .execute(&pool)
        .await
        .map_err(StoreError::new)?;
        KvStore::with_backend(SqliteBackend { pool }).load().await
    }
}

#[async_trait]
impl KvBackend for SqliteBackend {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT v FROM kv WHERE ns = ? AND k = ?")
            .bind(ns)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::new)
    }

    async fn put_many(&self, ns: &str, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::new)?;
        for (k, v) in entries {
            sqlx::query("INSERT OR REPLACE INTO kv (ns, k, v) VALUES (?, ?, ?)")
                .bind(ns)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::new)?;
        }
        tx.commit().await.map_err(StoreError::new)
    }

    async fn delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM kv WHERE ns = ? AND k = ?")
            .bind(ns)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    async fn keys_with_prefix(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT k FROM kv WHERE ns = ?1 AND substr(k, 1, length(?2)) = ?2 ORDER BY k",
        )
        .bind(ns)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::new)
    }

    async fn delete_prefix(&self, ns: &str, prefix: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM kv WHERE ns = ?1 AND substr(k, 1, length(?2)) = ?2")
            .bind(ns)
            .bind(prefix)
            .execute(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM kv")
            .execute(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }
}
