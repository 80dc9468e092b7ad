//! A gateway with the real `ClientTransport` (wa-client) behind it and a real wa-sandbox as
//! WhatsApp, on a fresh database: the harness of every end-to-end test. Devices are linked the
//! way a user links them (QR over HTTP scanned by a sandbox phone), or, in demo mode, by the
//! demo's own phones.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wa_sandbox::{Phone, Sandbox, SandboxConfig};
use wa_server::{
    ClientTransport, ClientTransportConfig, Config, Demo, DemoLinker, RunningServer, Server,
};

use super::{ADMIN, Db, fast_config, fresh_database};

/// The scopes of an everyday application key.
pub const APP_SCOPES: &[&str] = &[
    "devices:read",
    "devices:write",
    "messages:send",
    "messages:read",
    "webhooks:write",
];

/// How long a device or message may take to reach a state.
const WAIT: Duration = Duration::from_secs(20);

/// A directory removed at the end of the test.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory under the system temporary directory.
pub fn temp_dir() -> TempDir {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wasap-e2e-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// What plays WhatsApp.
pub enum World {
    /// A sandbox whose phones the test drives.
    Sandbox(Sandbox),
    /// The demo: its phones link devices by themselves and its contacts echo.
    Demo(Arc<Demo>),
}

/// A running gateway wired to a sandbox.
pub struct SandboxGateway {
    /// Base URL of the gateway.
    pub base: String,
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The transport behind the gateway.
    pub transport: Arc<ClientTransport>,
    /// WhatsApp.
    pub world: World,
    /// The database the gateway uses.
    pub database_url: String,
    server: Option<RunningServer>,
    dir: TempDir,
}

impl SandboxGateway {
    /// A gateway on a fresh database with a new sandbox; None when the database is
    /// PostgreSQL and it is absent (and not required).
    pub async fn start(db: Db, config: Config) -> Option<SandboxGateway> {
        let database_url = fresh_database(db).await?;
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        Some(Self::start_on(database_url, World::Sandbox(sandbox), temp_dir(), config).await)
    }

    /// A gateway on a fresh database with the demo sandbox and its auto-linking phones.
    pub async fn start_demo(db: Db) -> Option<SandboxGateway> {
        let database_url = fresh_database(db).await?;
        let demo = Arc::new(Demo::start().await.unwrap());
        Some(Self::start_on(database_url, World::Demo(demo), temp_dir(), fast_config()).await)
    }

    /// Stops the gateway and its clients and starts a new one on the same database, device
    /// stores and sandbox.
    pub async fn restart(mut self, config: Config) -> SandboxGateway {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.transport.shutdown().await;
        let SandboxGateway {
            world,
            database_url,
            dir,
            ..
        } = self;
        Self::start_on(database_url, world, dir, config).await
    }

    async fn start_on(
        database_url: String,
        world: World,
        dir: TempDir,
        config: Config,
    ) -> SandboxGateway {
        let mut tc = ClientTransportConfig::new(dir.0.join("devices"));
        match &world {
            World::Sandbox(s) => {
                tc.ws_url = Some(s.ws_url());
                tc.root_key = Some(s.root_public_key());
            }
            World::Demo(d) => {
                tc.ws_url = Some(d.ws_url());
                tc.root_key = Some(d.root_key());
                tc.auto_linker = Some(Arc::new(DemoLinker(d.clone())));
            }
        }
        let transport = Arc::new(ClientTransport::new(tc));
        let server = Server::builder()
            .database_url(database_url.clone())
            .listen("127.0.0.1:0".parse().unwrap())
            .admin_key(ADMIN)
            .config(config)
            .transport(transport.clone())
            .build()
            .await
            .unwrap()
            .spawn()
            .await
            .unwrap();
        SandboxGateway {
            base: server.url(),
            http: reqwest::Client::new(),
            server: Some(server),
            transport,
            world,
            database_url,
            dir,
        }
    }

    /// The sandbox (not in demo mode).
    pub fn sandbox(&self) -> &Sandbox {
        match &self.world {
            World::Sandbox(s) => s,
            World::Demo(_) => panic!("a demo gateway has no test-driven sandbox"),
        }
    }

    /// The demo (in demo mode).
    pub fn demo(&self) -> &Arc<Demo> {
        match &self.world {
            World::Demo(d) => d,
            World::Sandbox(_) => panic!("not a demo gateway"),
        }
    }

    /// Stops everything and drops the PostgreSQL database, if any.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.transport.shutdown().await;
        if let Some(name) = self
            .database_url
            .strip_prefix("postgres://postgres@127.0.0.1:5432/")
            && let Ok(admin) = sqlx::AnyPool::connect(super::PG_ADMIN_URL).await
        {
            use sqlx::Executor;
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
            admin.close().await;
        }
        match self.world {
            World::Sandbox(s) => s.shutdown().await,
            World::Demo(d) => d.shutdown().await,
        }
    }

    /// A request with `key` as bearer token and an optional JSON body.
    pub fn request(&self, key: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
    }

    /// Sends a request; returns the status and the JSON body (Null when empty or not JSON).
    pub async fn call(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self.request(key, method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A new key with `scopes`.
    pub async fn key(&self, scopes: &[&str]) -> String {
        self.key_with(json!({ "name": "app", "scopes": scopes }))
            .await
            .1
    }

    /// A new key from a full `POST /v1/keys` body; returns (id, key).
    pub async fn key_with(&self, body: Value) -> (String, String) {
        let (s, v) = self.call(ADMIN, Method::POST, "/v1/keys", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        (
            v["id"].as_str().unwrap().to_string(),
            v["key"].as_str().unwrap().to_string(),
        )
    }

    /// A new device; returns its id.
    pub async fn create_device(&self, key: &str) -> String {
        let (s, v) = self
            .call(
                key,
                Method::POST,
                "/v1/devices",
                Some(json!({ "name": "shop" })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// `GET /v1/devices/{id}`.
    pub async fn device(&self, key: &str, id: &str) -> Value {
        self.call(key, Method::GET, &format!("/v1/devices/{id}"), None)
            .await
            .1
    }

    /// Polls until the device has `status`.
    pub async fn wait_device(&self, key: &str, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let d = self.device(key, id).await;
            if d["status"] == status {
                return d;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "device never became {status}: {d}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the message has `status`.
    pub async fn wait_message(&self, key: &str, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, m) = self
                .call(key, Method::GET, &format!("/v1/messages/{id}"), None)
                .await;
            if m["status"] == status {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message never became {status}: {m}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `GET {path}` until `pick` finds something in the body.
    pub async fn wait_for<T>(
        &self,
        key: &str,
        path: &str,
        what: &str,
        pick: impl Fn(&Value) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, v) = self.call(key, Method::GET, path, None).await;
            if let Some(t) = pick(&v) {
                return t;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connects the device and waits for its QR code over HTTP.
    pub async fn connect_for_qr(&self, key: &str, id: &str) -> String {
        let (s, v) = self
            .call(
                key,
                Method::POST,
                &format!("/v1/devices/{id}/connect"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (s, v) = self
                .call(key, Method::GET, &format!("/v1/devices/{id}/qr"), None)
                .await;
            if s == StatusCode::OK {
                assert_eq!(v["status"], "qr_waiting", "{v}");
                let qr = v["qr"].as_str().unwrap().to_string();
                assert!(qr.contains("2@"), "{qr}");
                return qr;
            }
            assert!(tokio::time::Instant::now() < deadline, "no QR: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connects the device, reads its QR over HTTP and lets `phone` scan it.
    pub async fn link_by_qr(&self, key: &str, id: &str, phone: &Phone) {
        let qr = self.connect_for_qr(key, id).await;
        phone.scan_qr(&qr).await.unwrap();
        let d = self.wait_device(key, id, "online").await;
        assert_eq!(d["phone"], phone.number());
    }

    /// In demo mode: a device the demo phone linked by itself; returns (id, its number).
    pub async fn demo_device(&self) -> (String, String) {
        let id = self.create_device(ADMIN).await;
        let (s, v) = self
            .call(
                ADMIN,
                Method::POST,
                &format!("/v1/devices/{id}/connect"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let d = self.wait_device(ADMIN, &id, "online").await;
        (id, d["phone"].as_str().unwrap().to_string())
    }

    /// Sends through the native API; asserts the 202 and returns the body.
    pub async fn send_body(&self, key: &str, device: &str, body: Value) -> Value {
        let (s, v) = self
            .call(
                key,
                Method::POST,
                &format!("/v1/devices/{device}/messages"),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        v
    }

    /// Sends through the native API; returns the message id.
    pub async fn send(&self, key: &str, device: &str, body: Value) -> String {
        self.send_body(key, device, body).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}
