//! The `--demo` mode: an in-process wa-sandbox that every device connects to, a virtual phone
//! per device that scans its QR code by itself, and three echo contacts to talk to.
//!
//! The sandbox lives in memory only. After a restart the devices' stored credentials are
//! unknown to the fresh sandbox: their login fails, they are reported `logged_out`, and the
//! transport links them again at once (new QR, scanned by the device's demo phone, whose
//! number is kept in a small JSON file when one is given).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use wa_sandbox::{Sandbox, SandboxConfig, SandboxError};

use crate::client_transport::AutoLinker;

/// The demo contacts: sandbox phones that answer every text with the same text.
pub const DEMO_CONTACTS: [&str; 3] = ["6281100000001", "6281100000002", "6281100000003"];

/// Demo phones that link devices get numbers from this one up (+1, +2, …).
pub const DEMO_PHONE_BASE: u64 = 6_281_200_000_000;

/// A running demo sandbox. Wrap it in a [`DemoLinker`] to make it the transport's auto-linker.
pub struct Demo {
    sandbox: Sandbox,
    next_phone: AtomicU64,
    phones: Mutex<HashMap<String, String>>,
    phones_file: Option<PathBuf>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("ws_url", &self.sandbox.ws_url())
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Starts the sandbox on a free loopback port and creates the echo contacts.
    pub async fn start() -> Result<Demo, SandboxError> {
        Demo::start_with(None).await
    }

    /// Like [`Demo::start`]; `phones_file` (JSON, device id -> number) keeps each device's
    /// demo phone number across restarts.
    pub async fn start_with(phones_file: Option<PathBuf>) -> Result<Demo, SandboxError> {
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
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
            sandbox,
            next_phone: AtomicU64::new(next),
            phones: Mutex::new(phones),
            phones_file,
        })
    }

    /// The sandbox (to inspect what demo phones received, inject faults, …).
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Where devices connect.
    pub fn ws_url(&self) -> String {
        self.sandbox.ws_url()
    }

    /// The root key devices must trust.
    pub fn root_key(&self) -> [u8; 32] {
        self.sandbox.root_public_key()
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

    /// Stops the sandbox.
    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
    }
}

/// [`AutoLinker`] over a shared [`Demo`].
#[derive(Debug, Clone)]
pub struct DemoLinker(pub std::sync::Arc<Demo>);

#[async_trait]
impl AutoLinker for DemoLinker {
    async fn scan(&self, device_id: &str, qr: &str) {
        let number = self.0.phone_of(device_id);
        let phone = match self.0.sandbox.create_phone(&number).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(device_id, error = %e, "demo phone could not be created");
                return;
            }
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
        if let Err(e) = self.0.sandbox.create_phone(phone).await {
            tracing::warn!(error = %e, "demo phone could not be created");
        }
    }

    async fn enter_code(&self, phone: &str, code: &str) {
        let Some(p) = self.0.sandbox.phone(phone) else {
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
