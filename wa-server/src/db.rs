//! The database handle: one `sqlx::AnyPool` over SQLite or PostgreSQL, and the embedded
//! migration runner. Every query in the crate uses `$N` placeholders and portable SQL, which
//! both drivers accept, so there is exactly one query text per operation.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

/// Which engine sits behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Embedded migrations, applied in order; each runs inside one transaction.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "credits", include_str!("../migrations/0002_credits.sql")),
    (
        3,
        "device_numbers",
        include_str!("../migrations/0003_device_numbers.sql"),
    ),
    (
        4,
        "compat_whatshub_wabot",
        include_str!("../migrations/0004_compat_whatshub_wabot.sql"),
    ),
    (
        5,
        "dashboard",
        include_str!("../migrations/0005_dashboard.sql"),
    ),
    (
        6,
        "queue_indexes",
        include_str!("../migrations/0006_queue_indexes.sql"),
    ),
];

/// The pool plus the backend it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// The engine kind.
    pub backend: Backend,
}

/// The SQLite URL for the default database file inside `data_dir`.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("wasap.db").display())
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres://".into(),
            ));
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute("PRAGMA busy_timeout=10000").await?;
                            conn.execute("PRAGMA synchronous=NORMAL").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => options.max_connections(10).connect(url).await?,
        };
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        for (version, name, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done: Option<(i64,)> =
                sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            // The migration files contain no semicolons inside literals, so splitting is exact.
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                let statement: String = statement
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n");
                if statement.trim().is_empty() {
                    continue;
                }
                tx.execute(statement.as_str()).await?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(crate::util::now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), waiting up to the busy timeout for it: a deferred transaction that
    /// reads first and writes later fails with "database is locked" at once, without waiting,
    /// when another writer committed in between.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader-then-writer transaction that starts while another writer holds the lock
    /// waits for it (busy timeout) instead of failing with "database is locked".
    #[tokio::test]
    async fn write_transactions_on_sqlite_wait_for_the_lock_instead_of_failing() {
        let dir = std::env::temp_dir().join(format!(
            "wasap-db-lock-{}-{}",
            std::process::id(),
            crate::util::new_id("t")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&sqlite_url_in(&dir)).await.unwrap();
        let mut first = db.begin_write().await.unwrap();
        sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'events'")
            .execute(&mut *first)
            .await
            .unwrap();
        let second = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin_write().await?;
                let (v,): (i64,) =
                    sqlx::query_as("SELECT value FROM counters WHERE name = 'events'")
                        .fetch_one(&mut *tx)
                        .await?;
                sqlx::query("UPDATE counters SET value = $1 WHERE name = 'events'")
                    .bind(v + 1)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<i64, sqlx::Error>(v)
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.commit().await.unwrap();
        let seen = second.await.unwrap().expect("the second writer waited");
        assert_eq!(seen, 1, "the second writer read after the first committed");
        let (v,): (i64,) = sqlx::query_as("SELECT value FROM counters WHERE name = 'events'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(v, 2);
        db.pool.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
