//! Gateway throughput, in process: `POST /v1/devices/{id}/messages` on SQLite with pacing off,
//! from several concurrent HTTP connections (accepted per second), and end to end until the
//! demo sandbox phone has received every message (delivered per second). One linked device,
//! one recipient, texts only. Not a criterion bench: one fixed workload, measured once.
//!
//! `cargo bench --features server --bench gateway` (env: `WASAP_BENCH_MESSAGES`, default
//! 5000; `WASAP_BENCH_CONNECTIONS`, default 32; `WASAP_BENCH_ACCEPT_ONLY=1` leaves the device
//! unlinked, so the queue holds every message and only accepting is measured;
//! `WASAP_BENCH_DATABASE_URL=postgres://…` uses that (empty) PostgreSQL database instead of
//! SQLite).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use wasap::server::{ClientTransport, ClientTransportConfig, Config, Demo, DemoLinker, Server};

const ADMIN: &str = "bench-admin-key-0123456789";
const FRIEND: &str = "6281100000099";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let messages = env_usize("WASAP_BENCH_MESSAGES", 5000);
    let connections = env_usize("WASAP_BENCH_CONNECTIONS", 32).max(1);
    let dir = std::env::temp_dir().join(format!("wasap-bench-gw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let demo = Arc::new(Demo::start().await.unwrap());
    let friend = demo.phone(FRIEND).await.unwrap();
    let mut tc = ClientTransportConfig::new(dir.join("devices"));
    tc.ws_url = Some(demo.ws_url());
    tc.root_key = Some(demo.root_key());
    tc.auto_linker = Some(Arc::new(DemoLinker(demo.clone())));
    let transport = Arc::new(ClientTransport::new(tc));
    let mut config = Config::default();
    config.queue.min_delay = Duration::ZERO;
    config.queue.max_delay = Duration::ZERO;
    config.default_rate_limit_per_minute = None;
    let database = std::env::var("WASAP_BENCH_DATABASE_URL").ok();
    let mut builder = Server::builder().data_dir(&dir);
    if let Some(url) = &database {
        builder = builder.database_url(url);
    }
    let backend = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let server = builder
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
    let base = server.url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();

    let dev: serde_json::Value = http
        .post(format!("{base}/v1/devices"))
        .bearer_auth(ADMIN)
        .json(&json!({ "name": "bench" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dev = dev["id"].as_str().unwrap().to_string();
    let accept_only = std::env::var_os("WASAP_BENCH_ACCEPT_ONLY").is_some();
    if !accept_only {
        http.post(format!("{base}/v1/devices/{dev}/connect"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        wait_online(&http, &base, &dev).await;
    }

    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, base, dev, next) = (http.clone(), base.clone(), dev.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= messages {
                    return;
                }
                let resp = http
                    .post(format!("{base}/v1/devices/{dev}/messages"))
                    .bearer_auth(ADMIN)
                    .json(&json!({ "to": FRIEND, "text": format!("bench {i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 202);
                let _ = resp.bytes().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let accepted_in = start.elapsed();
    if accept_only {
        println!(
            "gateway on {backend} (accept only, device unlinked): {messages} texts over {connections} connections in {:.2} s = {:.0}/s",
            accepted_in.as_secs_f64(),
            messages as f64 / accepted_in.as_secs_f64(),
        );
        server.shutdown().await;
        demo.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while friend.received().len() < messages {
        assert!(Instant::now() < deadline, "not every message was delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered_in = start.elapsed();
    println!(
        "gateway on {backend}: {messages} texts over {connections} connections: accepted in {:.2} s = {:.0}/s; all received by the sandbox phone after {:.2} s = {:.0}/s end to end",
        accepted_in.as_secs_f64(),
        messages as f64 / accepted_in.as_secs_f64(),
        delivered_in.as_secs_f64(),
        messages as f64 / delivered_in.as_secs_f64(),
    );
    server.shutdown().await;
    transport.shutdown().await;
    demo.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls the device until it is online (the demo phone links it by itself).
async fn wait_online(http: &reqwest::Client, base: &str, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d: serde_json::Value = http
            .get(format!("{base}/v1/devices/{dev}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if d["status"] == "online" {
            break;
        }
        assert!(Instant::now() < deadline, "device never came online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
