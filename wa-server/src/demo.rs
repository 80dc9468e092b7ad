//! The `--demo` mode: an in-process wa-sandbox that every device connects to, a virtual phone
//! per device that scans its QR code by itself, and three echo contacts to talk to.
//!
//! [`Demo::start_in`] keeps the sandbox state (accounts, linked devices, the phones' Signal
//! sessions, the root key) in `<dir>/sandbox.json` and the device -> demo phone numbers in
//! `<dir>/demo-phones.json`, so linked devices log in again after a restart. The state is
//! written at pairing and at [`Demo::shutdown`]; after a crash, or without a directory, a
//! device the sandbox no longer knows fails to log in, is reported `logged_out`, and the
//! transport links it again at once (new QR, scanned by the device's demo phone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use wa_sandbox::{Phone, Sandbox, SandboxConfig, SandboxError};

use crate::client_transport::AutoLinker;

/// The demo contacts: sandbox phones that answer every text with the same text.
pub const DEMO_CONTACTS: [&str; 3] = ["6281100000001", "6281100000002", "6281100000003"];

/// Demo phones that link devices get numbers from this one up (+1, +2, …).
pub const DEMO_PHONE_BASE: u64 = 6_281_200_000_000;

/// A running demo sandbox. Wrap it in a [`DemoLinker`] to make it the transport's auto-linker.
pub struct Demo {
    /// `None` once shut down.
    sandbox: tokio::sync::Mutex<Option<Sandbox>>,
    ws_url: String,
    root_key: [u8; 32],
    next_phone: AtomicU64,
    phones: Mutex<HashMap<String, String>>,
    phones_file: Option<PathBuf>,
    scan_delay_ms: AtomicU64,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("ws_url", &self.ws_url)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Starts the sandbox on a free loopback port, in memory, and creates the echo contacts.
    pub async fn start() -> Result<Demo, SandboxError> {
        Demo::start_in(None).await
    }

    /// Like [`Demo::start`], keeping the sandbox state and the demo phone numbers in `dir`
    /// (`sandbox.json`, `demo-phones.json`) across restarts.
    pub async fn start_in(dir: Option<&Path>) -> Result<Demo, SandboxError> {
        let config = SandboxConfig {
            state_file: dir.map(|d| d.join("sandbox.json")),
            ..SandboxConfig::default()
        };
        let phones_file = dir.map(|d| d.join("demo-phones.json"));
        let sandbox = Sandbox::start(config).await?;
        for number in DEMO_CONTACTS {
            sandbox.create_phone(number).await?.set_echo(true);
        }
        let phones: HashMap<String, String> = phones_file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let next = phones
            .values()
            .filter_map(|n| n.parse::<u64>().ok())
            .filter_map(|n| n.checked_sub(DEMO_PHONE_BASE))
            .max()
            .unwrap_or(0)
            + 1;
        Ok(Demo {
            ws_url: sandbox.ws_url(),
            root_key: sandbox.root_public_key(),
            sandbox: tokio::sync::Mutex::new(Some(sandbox)),
            next_phone: AtomicU64::new(next),
            phones: Mutex::new(phones),
            phones_file,
            scan_delay_ms: AtomicU64::new(0),
        })
    }

    /// Where devices connect.
    pub fn ws_url(&self) -> String {
        self.ws_url.clone()
    }

    /// The root key devices must trust.
    pub fn root_key(&self) -> [u8; 32] {
        self.root_key
    }

    /// The phone of `number`, created if needed (`None` after shutdown or for a bad number).
    pub async fn phone(&self, number: &str) -> Option<Phone> {
        let sandbox = self.sandbox.lock().await;
        match sandbox.as_ref()?.create_phone(number).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "demo phone could not be created");
                None
            }
        }
    }

    /// How long a demo phone waits before it scans a new QR code (default: not at all), so
    /// that a person watching the dashboard sees the code before the phone takes it.
    pub fn set_scan_delay(&self, delay: Duration) {
        self.scan_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// The demo phone number that linked (or will link) `device_id`.
    pub fn phone_of(&self, device_id: &str) -> String {
        let mut phones = self.phones.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(number) = phones.get(device_id) {
            return number.clone();
        }
        let n = self.next_phone.fetch_add(1, Ordering::SeqCst);
        let number = (DEMO_PHONE_BASE + n).to_string();
        phones.insert(device_id.to_string(), number.clone());
        if let Some(file) = &self.phones_file {
            let tmp = file.with_extension("tmp");
            let written = serde_json::to_vec_pretty(&*phones)
                .map_err(std::io::Error::other)
                .and_then(|b| std::fs::write(&tmp, b))
                .and_then(|()| std::fs::rename(&tmp, file));
            if let Err(e) = written {
                tracing::warn!(error = %e, "saving the demo phone numbers failed");
            }
        }
        number
    }

    /// Saves the state (when kept in a directory) and stops the sandbox. Disconnect the
    /// devices first, so that their sessions and the phones' agree.
    pub async fn shutdown(&self) {
        let sandbox = self.sandbox.lock().await.take();
        if let Some(sandbox) = sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// [`AutoLinker`] over a shared [`Demo`].
#[derive(Debug, Clone)]
pub struct DemoLinker(pub std::sync::Arc<Demo>);

#[async_trait]
impl AutoLinker for DemoLinker {
    async fn scan(&self, device_id: &str, qr: &str) {
        let delay = self.0.scan_delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let number = self.0.phone_of(device_id);
        let Some(phone) = self.0.phone(&number).await else {
            return;
        };
        // The QR is shown as soon as the server asked for pairing; retry briefly in case the
        // connection is still settling.
        for attempt in 0..3 {
            match phone.scan_qr(qr).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::debug!(device_id, attempt, error = %e, "demo QR scan failed");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }

    async fn prepare_code(&self, phone: &str) {
        let _ = self.0.phone(phone).await;
    }

    async fn enter_code(&self, phone: &str, code: &str) {
        let Some(p) = self.0.phone(phone).await else {
            return;
        };
        for attempt in 0..3 {
            match p.enter_pair_code(code).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "demo pair code entry failed");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }
}
