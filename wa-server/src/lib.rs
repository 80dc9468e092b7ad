//! The self-hosted REST gateway: HTTP API (axum), database (SQLite or PostgreSQL through one
//! `sqlx::AnyPool`), the outbound queue, the event log with webhooks and SSE. WhatsApp itself
//! is reached through the [`DeviceTransport`] seam.
//!
//! ```no_run
//! # async fn run() -> Result<(), wa_server::ServerError> {
//! let server = wa_server::Server::builder()
//!     .data_dir("./data")
//!     .listen("127.0.0.1:8080".parse().unwrap())
//!     .build()
//!     .await?;
//! if let Some(key) = server.initial_admin_key() {
//!     println!("admin key (shown once): {key}");
//! }
//! server.serve().await
//! # }
//! ```
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

mod api;
mod auth;
pub mod client_transport;
mod compat;
pub mod config;
mod conversations;
pub mod credits;
mod dashboard;
mod db;
pub mod demo;
mod error;
mod events;
mod group_commit;
pub mod media;
mod openapi;
mod qr_image;
mod queue;
mod sending;
mod state;
pub mod transport;
mod util;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use client_transport::{AutoLinker, ClientTransport, ClientTransportConfig};
pub use compat::composer::{ComposeError, ComposeRequest, Composer, OpenAiComposer, PlainComposer};
pub use config::{AiConfig, CompatConfig, Config, QueueConfig, WebhookConfig};
pub use db::Backend;
pub use demo::{Demo, DemoLinker};
pub use transport::{
    DeviceStatus, DeviceTransport, EventSink, GroupMember, GroupMetadata, InboundMedia,
    InboundMessage, MediaPayload, MemoryTransport, NullTransport, OutboundContent, OutboundMessage,
    ParticipantAction, ParticipantOutcome, ReceiptKind, RecordedSend, SendError, TransportError,
    TransportEvent,
};

use state::{AppState, Inner, Metrics};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Neither a database URL nor a data directory was given, or a setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// Database failure.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Socket failure.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Configures a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin_key: Option<String>,
    config: Config,
    transport: Option<Arc<dyn DeviceTransport>>,
    composer: Option<Arc<dyn Composer>>,
}

impl ServerBuilder {
    /// `sqlite://path?mode=rwc` or `postgres://…`; overrides the data directory's database.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }
    /// Directory for the SQLite file (`wasap.db`), created if missing.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }
    /// The admin key (e.g. from `WASAP_ADMIN_KEY`). Without it, one is generated at first start.
    pub fn admin_key(mut self, key: impl Into<String>) -> Self {
        self.admin_key = Some(key.into());
        self
    }
    /// Uses `WASAP_ADMIN_KEY` from the environment when it is set and non-empty.
    pub fn admin_key_from_env(self) -> Self {
        match std::env::var("WASAP_ADMIN_KEY") {
            Ok(k) if !k.trim().is_empty() => self.admin_key(k.trim()),
            _ => self,
        }
    }
    /// Tunables.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    /// The WhatsApp connection provider (default: [`NullTransport`]).
    pub fn transport(mut self, transport: Arc<dyn DeviceTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The composer of WhatsHub `use_ai` messages (default: an [`OpenAiComposer`] when
    /// [`CompatConfig::ai`] is set, else the deterministic [`PlainComposer`]).
    pub fn composer(mut self, composer: Arc<dyn Composer>) -> Self {
        self.composer = Some(composer);
        self
    }

    /// Connects to the database, applies migrations and provisions the admin key.
    pub async fn build(self) -> Result<Server, ServerError> {
        let url = match (self.database_url, &self.data_dir) {
            (Some(u), _) => u,
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)?;
                db::sqlite_url_in(dir)
            }
            (None, None) => {
                return Err(ServerError::Config(
                    "give a database URL or a data directory".into(),
                ));
            }
        };
        if self.config.queue.min_delay > self.config.queue.max_delay {
            return Err(ServerError::Config(
                "queue min_delay exceeds max_delay".into(),
            ));
        }
        let composer: Arc<dyn Composer> = match (self.composer, &self.config.compat.ai) {
            (Some(c), _) => c,
            (None, Some(ai)) => {
                Arc::new(OpenAiComposer::new(ai).map_err(|e| ServerError::Config(e.to_string()))?)
            }
            (None, None) => Arc::new(PlainComposer),
        };
        let db = db::Db::connect(&url).await?;
        let initial_admin_key = provision_admin_key(&db, self.admin_key.as_deref()).await?;
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let media = media::MediaFetcher::new(self.config.media.clone());
        let inner = Inner {
            db,
            config: self.config,
            transport: self.transport.unwrap_or_else(|| Arc::new(NullTransport)),
            limiter: auth::RateLimiter::default(),
            key_cache: Default::default(),
            group_commit: Default::default(),
            metrics: Metrics::default(),
            media,
            workers: Default::default(),
            qr: Default::default(),
            background: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            events,
            webhook_wake: Default::default(),
            stop: Default::default(),
            listen_url: Default::default(),
            compat_limits: Default::default(),
            composer,
        };
        Ok(Server {
            state: AppState(Arc::new(inner)),
            listen: self
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            initial_admin_key,
        })
    }
}

const ADMIN_KEY_ID: &str = "key_admin";

async fn provision_admin_key(
    db: &db::Db,
    given: Option<&str>,
) -> Result<Option<String>, ServerError> {
    let now = util::now_ms();
    let scopes = r#"["admin:*"]"#;
    if let Some(k) = given {
        if k.len() < 16 {
            return Err(ServerError::Config(
                "the admin key must be at least 16 characters".into(),
            ));
        }
        let mut tx = db.begin_write().await?;
        sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(ADMIN_KEY_ID)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at) VALUES ($1, 'admin', $2, $3, $4, $5)")
            .bind(ADMIN_KEY_ID)
            .bind(auth::key_prefix(k))
            .bind(util::sha256_hex(k.as_bytes()))
            .bind(scopes)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(None);
    }
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM api_keys WHERE id = $1")
        .bind(ADMIN_KEY_ID)
        .fetch_optional(&db.pool)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let k = auth::generate_key();
    sqlx::query("INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at) VALUES ($1, 'admin', $2, $3, $4, $5)")
        .bind(ADMIN_KEY_ID)
        .bind(auth::key_prefix(&k))
        .bind(util::sha256_hex(k.as_bytes()))
        .bind(scopes)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(Some(k))
}

/// A configured gateway.
pub struct Server {
    state: AppState,
    listen: SocketAddr,
    initial_admin_key: Option<String>,
}

/// A gateway running in the background (see [`Server::spawn`]).
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stops accepting requests and stops background workers.
    pub async fn shutdown(mut self) {
        self.state.shut_down();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

#[derive(Clone)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = util::new_id("req");
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

async fn count_responses(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    st.metrics.http_latency.observe(started.elapsed());
    let class = (resp.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    Metrics::inc(&st.metrics.http_responses[class]);
    resp
}

/// Deletes what has outlived its retention: idempotency keys, finished webhook deliveries with
/// their attempt logs, and events no pending delivery still needs.
async fn janitor(state: AppState) {
    loop {
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "retention sweep failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(state.config.janitor_interval) => {}
            _ = state.stopped() => break,
        }
    }
}

async fn sweep(state: &AppState) -> Result<(), sqlx::Error> {
    let now = util::now_ms();
    let idem_cutoff = now - state.config.idempotency_ttl.as_millis() as i64;
    let event_cutoff = now - state.config.event_retention.as_millis() as i64;
    let pool = &state.db.pool;
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(idem_cutoff)
        .execute(pool)
        .await?;
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1)",
    )
    .bind(event_cutoff)
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1")
        .bind(event_cutoff)
        .execute(pool)
        .await?;
    sqlx::query(
        "DELETE FROM events WHERE created_at < $1 AND pos NOT IN (SELECT event_pos FROM webhook_deliveries)",
    )
    .bind(event_cutoff)
    .execute(pool)
    .await?;
    Ok(())
}

impl Server {
    /// Starts configuring.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The admin key generated at first start, to show the operator once; `None` when a key
    /// was given or one already existed.
    pub fn initial_admin_key(&self) -> Option<&str> {
        self.initial_admin_key.as_deref()
    }

    /// Which database engine is in use.
    pub fn backend(&self) -> Backend {
        self.state.db.backend
    }

    /// The complete HTTP application (routes and middleware), without background workers.
    pub fn router(&self) -> Router {
        let limit = self.state.config.body_limit;
        let x_request_id = HeaderName::from_static("x-request-id");
        api::routes(&self.state)
            .merge(compat::routes())
            .merge(dashboard::routes(&self.state))
            .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
            .layer(DefaultBodyLimit::max(limit))
            .layer(RequestBodyLimitLayer::new(limit))
            .layer(TraceLayer::new_for_http())
            .layer(middleware::from_fn(error::error_shape))
            .layer(middleware::from_fn_with_state(
                self.state.clone(),
                count_responses,
            ))
            .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
            .layer(SetRequestIdLayer::new(x_request_id, RandomRequestId))
            .with_state(self.state.clone())
    }

    async fn start_background(&self) -> Result<(), ServerError> {
        if self.state.background.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // Before any transport event or request can change a device's status.
        let linked = queue::reset_after_start(&self.state).await?;
        let (sink, rx) = EventSink::channel();
        self.state.transport.attach(sink);
        tokio::spawn(events::run_transport_events(self.state.clone(), rx));
        tokio::spawn(webhooks::run(self.state.clone()));
        tokio::spawn(janitor(self.state.clone()));
        let st = self.state.clone();
        tokio::spawn(async move {
            if let Err(e) = queue::start_all(&st, linked).await {
                tracing::error!(error = %e, "starting queue workers failed");
            }
        });
        Ok(())
    }

    /// Binds, starts background work and serves in a background task.
    pub async fn spawn(self) -> Result<RunningServer, ServerError> {
        let listener = TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        let _ = self.state.listen_url.set(format!("http://{addr}"));
        self.start_background().await?;
        let app = self.router();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningServer {
            addr,
            state: self.state,
            shutdown: Some(tx),
            task,
        })
    }

    /// Binds and serves until Ctrl-C.
    pub async fn serve(self) -> Result<(), ServerError> {
        let listener = TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "wasap gateway listening");
        let _ = self.state.listen_url.set(format!("http://{addr}"));
        self.start_background().await?;
        let app = self.router();
        let state = self.state.clone();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = tokio::signal::ctrl_c().await;
                state.shut_down();
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_documents_exactly_the_routes_served() {
        let mut served = crate::api::route_list();
        served.extend(crate::compat::route_list());
        let mut documented = crate::openapi::documented_routes();
        let doc = crate::openapi::document();
        for (method, path, scope) in &served {
            let op = &doc["paths"][path][method.to_ascii_lowercase()];
            assert_eq!(op["x-required-scope"].as_str(), *scope, "{method} {path}");
        }
        let mut served: Vec<_> = served.drain(..).map(|(m, p, _)| (m, p)).collect();
        served.sort();
        documented.sort();
        assert_eq!(served, documented);
        for (method, path) in served {
            assert!(
                doc["paths"][path][method.to_ascii_lowercase()].is_object(),
                "{method} {path}"
            );
        }
    }
}
