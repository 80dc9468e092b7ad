//! `wasap serve`: the REST gateway over wa-client, until Ctrl-C or SIGTERM. With `--demo` an
//! in-process sandbox plays WhatsApp: demo phones link new devices by themselves and three
//! echo contacts answer every text.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use wasap::server::{
    AiConfig, ClientTransport, ClientTransportConfig, Config, Demo, DemoLinker, Server,
};

/// Arguments of `wasap serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the SQLite database (`wasap.db`) and the device stores (`devices/`).
    #[arg(long, default_value = "./wasap-data", env = "WASAP_DATA_DIR")]
    data_dir: PathBuf,
    /// PostgreSQL URL (`postgres://…`) instead of the SQLite file; device stores stay in the
    /// data directory.
    #[arg(long, env = "WASAP_DATABASE_URL")]
    database_url: Option<String>,
    /// Websocket URL every device connects to (default WhatsApp's).
    #[arg(long, env = "WASAP_WA_URL")]
    wa_url: Option<String>,
    /// The Noise root public key of that server, 64 hex digits (default WhatsApp's).
    #[arg(long, env = "WASAP_WA_ROOT_KEY")]
    wa_root_key: Option<String>,
    /// Run an in-process sandbox instead of WhatsApp: devices link by themselves and the
    /// contacts 6281100000001..3 echo every text. Overrides `--wa-url` and `--wa-root-key`.
    #[arg(long)]
    demo: bool,
    /// With `--demo`: how long a demo phone waits before it scans a device's QR code, in
    /// milliseconds, so that the code can be watched in the dashboard (default 0).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    demo_scan_delay_ms: u64,
    /// Networks media URLs may point at although they are private or loopback (repeatable,
    /// e.g. `127.0.0.0/8`); `--demo` allows loopback.
    #[arg(long = "media-allow", value_name = "CIDR")]
    media_allow: Vec<String>,
    /// Let webhook URLs point at private and loopback addresses (on with `--demo`).
    #[arg(long)]
    webhooks_allow_private: bool,
    /// Pause between two sends of one device, in milliseconds: `N` or `MIN-MAX` (uniform).
    /// The default (1000-3000) looks human to WhatsApp; `0` sends as fast as possible (tests,
    /// benchmarks, the sandbox).
    #[arg(long, env = "WASAP_QUEUE_PACING_MS", value_name = "MS")]
    pacing_ms: Option<String>,
    /// First webhook retry delay in milliseconds; doubled per attempt, with jitter.
    #[arg(long, value_name = "MS")]
    webhook_retry_base_ms: Option<u64>,
    /// Cap on the webhook retry delay in milliseconds.
    #[arg(long, value_name = "MS")]
    webhook_retry_max_ms: Option<u64>,
    /// How long a failing webhook delivery is retried before it becomes a dead letter, in
    /// seconds (default three days).
    #[arg(long, value_name = "SECS")]
    webhook_retry_window_secs: Option<u64>,
    /// How long a webhook receiver may take to answer, in milliseconds (default 2000).
    #[arg(long, value_name = "MS")]
    webhook_timeout_ms: Option<u64>,
    /// Credits debited per accepted outbound message (0, the default, makes sends free). Add
    /// credit with `POST /v1/credits/grants`; a send the balance does not cover is refused.
    #[arg(long, env = "WASAP_PRICE_PER_MESSAGE", value_name = "CREDITS")]
    price_per_message: Option<i64>,
    /// The gateway's public base URL (e.g. behind a proxy or tunnel), reported as `publicUrl`
    /// by the waapi-compatible `/api/status`; default the listen address URL.
    #[arg(long, env = "WASAP_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// SatuApps-compatible API: requests per minute per device on `/api/wa/…` (default 60).
    #[arg(long, value_name = "N")]
    satuapps_device_rate: Option<u32>,
    /// SatuApps-compatible API: requests per minute per API key on `/api/profile` (default 20).
    #[arg(long, value_name = "N")]
    satuapps_user_rate: Option<u32>,
    /// OpenAI-compatible endpoint that composes WhatsHub `use_ai` messages, e.g.
    /// `https://api.openai.com/v1` (requests go to `{url}/chat/completions`). Without it,
    /// `raw_data` is rendered as readable lines instead.
    #[arg(long, env = "WASAP_AI_URL", value_name = "URL")]
    ai_url: Option<String>,
    /// Model name for `--ai-url` (required with it).
    #[arg(long, env = "WASAP_AI_MODEL", value_name = "MODEL")]
    ai_model: Option<String>,
    /// Bearer key for `--ai-url` (prefer the environment variable: arguments are visible to
    /// other local users).
    #[arg(long, env = "WASAP_AI_KEY", value_name = "KEY", hide_env_values = true)]
    ai_key: Option<String>,
    /// How long one AI completion may take, in milliseconds (default 30000).
    #[arg(long, env = "WASAP_AI_TIMEOUT_MS", value_name = "MS")]
    ai_timeout_ms: Option<u64>,
}

/// `N` or `MIN-MAX` milliseconds.
fn pacing(spec: &str) -> Result<(std::time::Duration, std::time::Duration), String> {
    let ms = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| format!("--pacing-ms: not a number of milliseconds: {s}"))
    };
    let (min, max) = match spec.split_once('-') {
        Some((a, b)) => (ms(a)?, ms(b)?),
        None => (ms(spec)?, ms(spec)?),
    };
    if min > max {
        return Err("--pacing-ms: MIN is above MAX".into());
    }
    Ok((min, max))
}

/// Starts the gateway and serves until interrupted.
pub fn run(args: Args) -> ExitCode {
    let runtime = match super::client_opts::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wasap serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasap serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An http(s) URL without a trailing slash, or None.
fn url_ok(u: &str) -> Option<String> {
    let u = u.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))?;
    (!rest.is_empty() && !rest.contains(char::is_whitespace)).then(|| u.to_string())
}

fn root_key(hex_key: &str) -> Result<[u8; 32], String> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "--wa-root-key must be 64 hex digits".to_string())
}

/// Logs go to stderr (stdout carries the key and URL); `WASAP_LOG` or `RUST_LOG` set the
/// filter as `target=level` pairs, e.g. `info,wa_client=debug`.
fn init_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    const DEFAULT: &str = "info,sqlx=warn";
    let spec = std::env::var("WASAP_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT.to_string());
    let filter: Targets = spec
        .parse()
        .unwrap_or_else(|_| DEFAULT.parse().expect("the default filter parses"));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .try_init();
}

async fn serve(args: Args) -> Result<(), String> {
    init_logging();
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let mut tc =
        ClientTransportConfig::new(wasap::server::client_transport::devices_dir(&args.data_dir));
    let demo = if args.demo {
        let demo = Arc::new(
            Demo::start_in(Some(&args.data_dir))
                .await
                .map_err(|e| format!("demo sandbox: {e}"))?,
        );
        demo.set_scan_delay(std::time::Duration::from_millis(args.demo_scan_delay_ms));
        tc.ws_url = Some(demo.ws_url());
        tc.root_key = Some(demo.root_key());
        tc.auto_linker = Some(Arc::new(DemoLinker(demo.clone())));
        Some(demo)
    } else {
        tc.ws_url = args.wa_url.clone();
        tc.root_key = args.wa_root_key.as_deref().map(root_key).transpose()?;
        None
    };
    let transport = Arc::new(ClientTransport::new(tc));
    let mut config = Config::default();
    for cidr in &args.media_allow {
        config
            .media
            .allow
            .push(cidr.parse().map_err(|e| format!("--media-allow: {e}"))?);
    }
    config.webhooks.allow_private_targets = args.webhooks_allow_private;
    if let Some(spec) = &args.pacing_ms {
        (config.queue.min_delay, config.queue.max_delay) = pacing(spec)?;
    }
    let ms = std::time::Duration::from_millis;
    if let Some(v) = args.webhook_retry_base_ms {
        config.webhooks.retry_base = ms(v);
    }
    if let Some(v) = args.webhook_retry_max_ms {
        config.webhooks.retry_max = ms(v);
    }
    if let Some(v) = args.webhook_retry_window_secs {
        config.webhooks.retry_window = std::time::Duration::from_secs(v);
    }
    if let Some(v) = args.price_per_message {
        if v < 0 {
            return Err("--price-per-message must not be negative".into());
        }
        config.price_per_message = v;
    }
    if let Some(u) = &args.public_url {
        let parsed = url_ok(u).ok_or("--public-url must be an http(s) URL")?;
        config.compat.public_url = Some(parsed);
    }
    for (flag, v, slot) in [
        (
            "--satuapps-device-rate",
            args.satuapps_device_rate,
            &mut config.compat.satuapps_device_per_minute,
        ),
        (
            "--satuapps-user-rate",
            args.satuapps_user_rate,
            &mut config.compat.satuapps_user_per_minute,
        ),
    ] {
        if let Some(v) = v {
            if v == 0 {
                return Err(format!("{flag} must be at least 1"));
            }
            *slot = v;
        }
    }
    if let Some(v) = args.webhook_timeout_ms {
        config.webhooks.timeout = ms(v);
    }
    config.compat.ai = match (&args.ai_url, &args.ai_model) {
        (None, _) => None,
        (Some(_), None) => return Err("--ai-url needs --ai-model".into()),
        (Some(url), Some(model)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err("--ai-url must be an http(s) URL".into());
            }
            Some(AiConfig {
                url: url.clone(),
                model: model.clone(),
                key: args.ai_key.clone(),
                timeout: ms(args.ai_timeout_ms.unwrap_or(30_000)),
            })
        }
    };
    if args.demo {
        // Everything runs on this machine in the demo: local receivers and media servers.
        config
            .media
            .allow
            .push("127.0.0.0/8".parse().map_err(|e: String| e)?);
        config.webhooks.allow_private_targets = true;
    }
    let mut builder = Server::builder()
        .config(config)
        .data_dir(&args.data_dir)
        .listen(args.listen)
        .admin_key_from_env()
        .transport(transport.clone());
    if let Some(url) = &args.database_url {
        builder = builder.database_url(url.clone());
    }
    let server = builder.build().await.map_err(|e| e.to_string())?;
    let key = server.initial_admin_key().map(str::to_owned);
    let running = server.spawn().await.map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        if let Some(key) = key {
            let _ = writeln!(
                out,
                "Admin key (shown only now; keep it, or set WASAP_ADMIN_KEY): {key}"
            );
        }
        let _ = writeln!(out, "Wasap gateway listening on {}", running.url());
        if demo.is_some() {
            let _ = writeln!(
                out,
                "Demo mode: devices link by themselves; echo contacts {}",
                wasap::server::demo::DEMO_CONTACTS.join(", ")
            );
        }
        let _ = out.flush();
    }
    wait_for_signal().await;
    running.shutdown().await;
    transport.shutdown().await;
    // Last: the sandbox saves its state once the devices are gone.
    if let Some(demo) = demo {
        demo.shutdown().await;
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
