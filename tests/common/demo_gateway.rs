//! The real `wasap serve --demo` binary for HTTP tests: started on a free port with a fixed
//! admin key, on SQLite (a temporary data directory) or on a fresh PostgreSQL database, with
//! pacing off; helpers to link devices, create keys, wait for echoes and compare response
//! bodies with documented examples.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// The admin key every test gateway is started with.
pub const ADMIN: &str = "compat-tests-admin-key-0123456789";

/// Which database the gateway runs on.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    /// A SQLite file in the data directory.
    Sqlite,
    /// A fresh database on the local PostgreSQL (postgres@127.0.0.1:5432).
    Postgres,
}

fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-qc",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A running `wasap serve --demo`.
pub struct DemoGateway {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The data directory (removed on drop).
    pub dir: PathBuf,
    pg_database: Option<String>,
    http: reqwest::Client,
}

impl DemoGateway {
    /// Starts the gateway with `extra` arguments; `None` when PostgreSQL is wanted but absent
    /// and `WASAP_REQUIRE_POSTGRES` is not set (the test is then skipped, with a note).
    pub fn start(db: Db, extra: &[&str]) -> Option<DemoGateway> {
        let dir = std::env::temp_dir().join(unique("wasap-compat"));
        std::fs::create_dir_all(&dir).unwrap();
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
        .arg(&dir)
        .args(extra)
        .env("WASAP_ADMIN_KEY", ADMIN)
        .env_remove("WASAP_DATABASE_URL")
        .env_remove("WASAP_PUBLIC_URL")
        .env_remove("WASAP_PRICE_PER_MESSAGE")
        .env_remove("WASAP_AI_URL")
        .env_remove("WASAP_AI_MODEL")
        .env_remove("WASAP_AI_KEY")
        .env("WASAP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut pg_database = None;
        if let Db::Postgres = db {
            let name = unique("wasap_compat");
            if let Err(e) = psql(&format!("CREATE DATABASE {name}")) {
                if std::env::var_os("WASAP_REQUIRE_POSTGRES").is_some() {
                    panic!("PostgreSQL required (WASAP_REQUIRE_POSTGRES) but unusable: {e}");
                }
                eprintln!("SKIPPED: no PostgreSQL at 127.0.0.1:5432 ({e})");
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
            cmd.arg("--database-url")
                .arg(format!("postgres://postgres@127.0.0.1:5432/{name}"));
            pg_database = Some(name);
        }
        let mut child = cmd.spawn().expect("wasap runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
        Some(DemoGateway {
            child,
            base,
            dir,
            pg_database,
            http: reqwest::Client::new(),
        })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request builder for `path`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// A native API call with the admin key: (status, JSON body or null).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self.request(method, path).bearer_auth(ADMIN);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        send(rb).await
    }

    /// Creates a device (not connected); returns its JSON.
    pub async fn create_device(&self, name: &str) -> Value {
        let (s, d) = self
            .admin(
                reqwest::Method::POST,
                "/v1/devices",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        d
    }

    /// Creates and connects a device and waits until the demo phone linked it; returns the
    /// online device's JSON (`id`, `number`, `phone`, …).
    pub async fn link_device(&self, name: &str) -> Value {
        let d = self.create_device(name).await;
        let id = d["id"].as_str().unwrap().to_string();
        let (s, v) = self
            .admin(
                reqwest::Method::POST,
                &format!("/v1/devices/{id}/connect"),
                None,
            )
            .await;
        assert_eq!(s, 202, "{v}");
        self.wait_status(&id, "online").await
    }

    /// Waits until the device has `status`.
    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        poll(&format!("device {id} {status}"), async || {
            let (_, d) = self
                .admin(reqwest::Method::GET, &format!("/v1/devices/{id}"), None)
                .await;
            (d["status"] == status).then_some(d)
        })
        .await
    }

    /// Creates an API key; returns (id, key).
    pub async fn create_key(&self, scopes: &[&str], device_id: Option<&str>) -> (String, String) {
        let mut body = json!({ "name": "compat test", "scopes": scopes });
        if let Some(d) = device_id {
            body["device_id"] = d.into();
        }
        let (s, k) = self
            .admin(reqwest::Method::POST, "/v1/keys", Some(body))
            .await;
        assert_eq!(s, 201, "{k}");
        (
            k["id"].as_str().unwrap().to_string(),
            k["key"].as_str().unwrap().to_string(),
        )
    }

    /// Waits until the demo contact `from` (digits) echoed `text` to `device`: proof that it
    /// received the text. Returns the echoed message.
    pub async fn wait_echo(&self, device: &str, from: &str, text: &str) -> Value {
        poll(&format!("echo of {text:?} from {from}"), async || {
            let (_, v) = self
                .admin(
                    reqwest::Method::GET,
                    &format!("/v1/messages?device_id={device}&direction=in&limit=200"),
                    None,
                )
                .await;
            v["data"]
                .as_array()?
                .iter()
                .find(|m| {
                    m["content"]["text"] == text
                        && m["from"] == format!("{from}@s.whatsapp.net").as_str()
                })
                .cloned()
        })
        .await
    }

    /// Runs `sql` on this gateway's PostgreSQL database; false when it failed or the
    /// gateway runs on SQLite.
    pub fn psql(&self, sql: &str) -> bool {
        let Some(name) = &self.pg_database else {
            return false;
        };
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", name, "-qc", sql])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// The outbound messages of `device`, newest first.
    pub async fn outbound(&self, device: &str) -> Vec<Value> {
        let (s, v) = self
            .admin(
                reqwest::Method::GET,
                &format!("/v1/messages?device_id={device}&direction=out&limit=200"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }
}

impl Drop for DemoGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = &self.pg_database {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Sends a request: (status, JSON body or null).
pub async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let (s, _, v) = send_full(rb).await;
    (s, v)
}

/// Sends a request: (status, headers, JSON body or null).
pub async fn send_full(rb: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = rb.send().await.expect("the gateway answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, body)
}

/// Polls `check` every 100 ms for up to 30 s.
pub async fn poll<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Unix milliseconds of an RFC 3339 UTC timestamp as the gateway writes them
/// (`2026-11-21T08:51:34.905Z`).
pub fn unix_ms(t: &str) -> i64 {
    let num = |r: std::ops::Range<usize>| t[r].parse::<i64>().expect("RFC 3339 digits");
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (h, min, s, ms) = (num(11..13), num(14..16), num(17..19), num(20..23));
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + h) * 60 + min) * 60_000 + s * 1000 + ms
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts that `actual` has every field of the documented `example`, with the example's
/// JSON type, recursively (arrays: every element against the example's first element).
/// Fields named in `nullable` may also be null (e.g. a phone's profile name the demo phones
/// do not set); a null in the example accepts any type.
pub fn assert_like(actual: &Value, example: &Value, nullable: &[&str]) {
    fn walk(path: &str, actual: &Value, example: &Value, nullable: &[&str]) {
        let field = path.rsplit('.').next().unwrap_or(path);
        if example.is_null() || (actual.is_null() && nullable.contains(&field)) {
            return;
        }
        assert_eq!(
            type_name(actual),
            type_name(example),
            "{path}: documented as {example}, got {actual}"
        );
        match (actual, example) {
            (Value::Object(a), Value::Object(e)) => {
                for (k, ev) in e {
                    let av = a
                        .get(k)
                        .unwrap_or_else(|| panic!("{path}.{k} missing in {actual}"));
                    walk(&format!("{path}.{k}"), av, ev, nullable);
                }
            }
            (Value::Array(a), Value::Array(e)) => {
                if let Some(first) = e.first() {
                    for (i, av) in a.iter().enumerate() {
                        walk(&format!("{path}[{i}]"), av, first, nullable);
                    }
                }
            }
            _ => {}
        }
    }
    walk("$", actual, example, nullable);
}

/// Runs a shell script from `examples/` against the gateway, with `WASAP_URL` and
/// `WASAP_ADMIN_KEY` set; returns its standard output, failing the test on a non-zero exit.
pub fn run_example(gw: &DemoGateway, program: &str, script: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new(program)
        .arg(&path)
        .env("WASAP_URL", &gw.base)
        .env("WASAP_ADMIN_KEY", ADMIN)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Defines `mod $name { sqlite, postgres }`: the async test function `$body(Db)` on both
/// databases.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::demo_gateway::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::demo_gateway::Db::Postgres).await
                }
            }
        )*
    };
}
