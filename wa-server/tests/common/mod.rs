//! Test harness: a gateway on 127.0.0.1 with an ephemeral port, a memory transport and a
//! fresh database (a temporary SQLite file, or a new PostgreSQL database per test).

#![allow(dead_code)]

pub mod sandbox;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Executor;
use wa_server::{Config, MemoryTransport, RunningServer, Server};

pub const ADMIN: &str = "test-admin-key-0123456789";
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

fn unique() -> String {
    format!("{}_{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{t}_{}", N.fetch_add(1, Ordering::SeqCst))
}

/// A database URL for a fresh database, or None when PostgreSQL is absent and not required.
pub async fn fresh_database(db: Db) -> Option<String> {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("wasap-test-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            Some(format!("sqlite://{}?mode=rwc", dir.join("t.db").display()))
        }
        Db::Postgres => {
            sqlx::any::install_default_drivers();
            let admin = match sqlx::AnyPool::connect(PG_ADMIN_URL).await {
                Ok(p) => p,
                Err(e) => {
                    if std::env::var_os("WASAP_REQUIRE_POSTGRES").is_some() {
                        panic!("PostgreSQL required (WASAP_REQUIRE_POSTGRES) but unreachable: {e}");
                    }
                    eprintln!(
                        "SKIPPED: no PostgreSQL at {PG_ADMIN_URL} ({e}); set WASAP_REQUIRE_POSTGRES=1 to fail instead"
                    );
                    return None;
                }
            };
            let name = format!("wasap_t_{}", unique());
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            admin.close().await;
            Some(format!("postgres://postgres@127.0.0.1:5432/{name}"))
        }
    }
}

/// Settings that make tests fast: no pacing, quick polling and retries.
pub fn fast_config() -> Config {
    let mut c = Config::default();
    c.queue.min_delay = Duration::ZERO;
    c.queue.max_delay = Duration::ZERO;
    c.queue.poll_interval = Duration::from_millis(20);
    c.queue.retry_base = Duration::from_millis(50);
    c.queue.retry_max = Duration::from_millis(200);
    c.queue.max_attempts = 3;
    c.webhooks.retry_base = Duration::from_millis(50);
    c.webhooks.retry_max = Duration::from_millis(100);
    c.webhooks.poll_interval = Duration::from_millis(20);
    c.webhooks.allow_private_targets = true;
    c.body_limit = 64 * 1024;
    c.default_rate_limit_per_minute = None;
    c
}

pub struct Harness {
    pub base: String,
    pub http: reqwest::Client,
    pub transport: MemoryTransport,
    pub database_url: String,
    server: Option<RunningServer>,
}

impl Harness {
    pub async fn start(db: Db, config: Config) -> Option<Harness> {
        let url = fresh_database(db).await?;
        Some(Harness::start_on(url, config).await)
    }

    /// Starts a gateway on an existing database (e.g. to test a restart).
    pub async fn start_on(url: String, config: Config) -> Harness {
        let transport = MemoryTransport::new();
        let server = Server::builder()
            .database_url(url.clone())
            .listen("127.0.0.1:0".parse().unwrap())
            .admin_key(ADMIN)
            .config(config)
            .transport(std::sync::Arc::new(transport.clone()))
            .build()
            .await
            .unwrap()
            .spawn()
            .await
            .unwrap();
        Harness {
            base: server.url(),
            http: reqwest::Client::new(),
            transport,
            database_url: url,
            server: Some(server),
        }
    }

    /// Stops the gateway but keeps the database.
    pub async fn stop_keep_db(mut self) -> String {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.database_url.clone()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some(name) = self
            .database_url
            .strip_prefix("postgres://postgres@127.0.0.1:5432/")
            && let Ok(admin) = sqlx::AnyPool::connect(PG_ADMIN_URL).await
        {
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
            admin.close().await;
        }
    }

    /// Sends a request; returns status, headers and the JSON body (Null when empty/not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, _, v) = self.call(method, path, Some(ADMIN), body).await;
        (s, v)
    }

    pub async fn create_device(&self, name: &str) -> String {
        let (s, v) = self
            .admin(
                Method::POST,
                "/v1/devices",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Creates a device and reports it online through the transport.
    pub async fn online_device(&self, name: &str) -> String {
        let id = self.create_device(name).await;
        assert!(self.transport.set_online(&id, "628111"));
        self.wait_for(|| async {
            self.admin(Method::GET, &format!("/v1/devices/{id}"), None)
                .await
                .1["status"]
                == "online"
        })
        .await;
        id
    }

    pub async fn send(&self, device: &str, body: Value) -> Value {
        let (s, v) = self
            .admin(
                Method::POST,
                &format!("/v1/devices/{device}/messages"),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        v
    }

    pub async fn message(&self, id: &str) -> Value {
        self.admin(Method::GET, &format!("/v1/messages/{id}"), None)
            .await
            .1
    }

    pub async fn wait_for<F, Fut>(&self, mut cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !cond().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.message(id).await;
            if m["status"] == status {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message {id} never reached {status}: {m}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Generates one SQLite and one PostgreSQL test from `async fn(Db)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Db::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Db::Postgres).await;
                }
            }
        )*
    };
}
