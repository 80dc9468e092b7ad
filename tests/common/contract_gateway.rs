//! The real `wasap serve --demo` binary for contract tests: one gateway per test, on a fresh
//! SQLite file or a fresh PostgreSQL database, with a known admin key and HTTP helpers.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

/// The admin key every test gateway runs with.
pub const ADMIN: &str = "compat-tests-admin-key-0123456789";
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database the gateway uses.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An HTTP answer: status, headers, JSON body (Null when empty or not JSON) and raw text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// `wasap serve --demo` in a child process.
pub struct ContractGateway {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pg_database: Option<String>,
    http: reqwest::Client,
}

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{t}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn create_pg_database() -> Option<String> {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let admin = match sqlx::AnyPool::connect(PG_ADMIN_URL).await {
        Ok(p) => p,
        Err(e) => {
            if std::env::var_os("WASAP_REQUIRE_POSTGRES").is_some() {
                panic!("PostgreSQL required (WASAP_REQUIRE_POSTGRES) but unreachable: {e}");
            }
            eprintln!("SKIPPED: no PostgreSQL at {PG_ADMIN_URL} ({e})");
            return None;
        }
    };
    let name = format!("wasap_compat_{}", unique());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    admin.close().await;
    Some(name)
}

impl ContractGateway {
    /// Starts a gateway with `extra` arguments; None when PostgreSQL is wanted but absent
    /// (and not required).
    pub async fn start(backend: Backend, extra: &[&str]) -> Option<ContractGateway> {
        let pg_database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(create_pg_database().await?),
        };
        let data_dir = std::env::temp_dir().join(format!("wasap-compat-{}", unique()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasap"));
        cmd.args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--pacing-ms",
            "0",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(extra)
        .env("WASAP_ADMIN_KEY", ADMIN)
        .env_remove("WASAP_DATABASE_URL")
        .env_remove("WASAP_AI_URL")
        .env_remove("WASAP_AI_MODEL")
        .env_remove("WASAP_AI_KEY")
        .env_remove("WASAP_PRICE_PER_MESSAGE")
        .env("WASAP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if let Some(db) = &pg_database {
            cmd.arg("--database-url")
                .arg(format!("postgres://postgres@127.0.0.1:5432/{db}"));
        }
        let mut child = cmd.spawn().expect("wasap runs");
        let stdout = child.stdout.take().unwrap();
        let base = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let base = loop {
                let line = lines
                    .next()
                    .expect("wasap printed its URL")
                    .expect("stdout is text");
                if let Some(rest) = line.strip_prefix("Wasap gateway listening on ") {
                    break rest.trim().to_string();
                }
            };
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            base
        })
        .await
        .unwrap();
        Some(ContractGateway {
            child,
            base,
            data_dir,
            pg_database,
            http: reqwest::Client::new(),
        })
    }

    /// The URL of the gateway's database (to reach under the API, e.g. to inject a fault).
    pub fn database_url(&self) -> String {
        match &self.pg_database {
            Some(db) => format!("postgres://postgres@127.0.0.1:5432/{db}"),
            None => format!("sqlite://{}", self.data_dir.join("wasap.db").display()),
        }
    }

    /// Stops the gateway and drops its database.
    pub async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = self.pg_database.take()
            && let Ok(admin) = sqlx::AnyPool::connect(PG_ADMIN_URL).await
        {
            use sqlx::Executor;
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
            admin.close().await;
        }
    }

    /// Sends a request with optional Bearer key, JSON body and extra headers.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = bearer {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        Self::answer(rb.send().await.unwrap()).await
    }

    /// POSTs `body` as it is (any bytes) with `Content-Type: application/json`.
    pub async fn post_raw(&self, path: &str, body: &str) -> Answer {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        Self::answer(rb.send().await.unwrap()).await
    }

    async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// An admin call to the native API.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.request(method, path, Some(ADMIN), body.as_ref(), &[])
            .await
    }

    /// Creates a device (not connected) named `name`; returns its id.
    pub async fn device(&self, name: &str) -> String {
        let a = self
            .admin(Method::POST, "/v1/devices", Some(json!({ "name": name })))
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
        a.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a device, connects it and waits until the demo phone linked it.
    pub async fn linked_device(&self, name: &str) -> String {
        let id = self.device(name).await;
        let a = self
            .admin(Method::POST, &format!("/v1/devices/{id}/connect"), None)
            .await;
        assert_eq!(a.status, 202, "{}", a.text);
        self.poll("device online", async || {
            let d = self
                .admin(Method::GET, &format!("/v1/devices/{id}"), None)
                .await;
            (d.body["status"] == "online").then_some(())
        })
        .await;
        id
    }

    /// Creates an API key; returns (id, key).
    pub async fn key(&self, body: Value) -> (String, String) {
        let a = self.admin(Method::POST, "/v1/keys", Some(body)).await;
        assert_eq!(a.status, 201, "{}", a.text);
        (
            a.body["id"].as_str().unwrap().to_string(),
            a.body["key"].as_str().unwrap().to_string(),
        )
    }

    /// The native log's messages of `device`, newest first.
    pub async fn messages_of(&self, device: &str) -> Vec<Value> {
        let a = self
            .admin(
                Method::GET,
                &format!("/v1/messages?device_id={device}"),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body["data"].as_array().unwrap().clone()
    }

    /// Retries `check` for up to 30 s.
    pub async fn poll<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ContractGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SQLite and one PostgreSQL test per `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::contract_gateway::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::contract_gateway::Backend::Postgres).await;
                }
            }
        )*
    };
}
