//! A local WhatsApp-protocol server with virtual phones, for tests and demos.
//!
//! [`Sandbox::start`] binds one port that serves the websocket (`/ws/chat`, Noise XX with a
//! certificate chain signed by the sandbox's own root key), the JSON control API and a
//! media host. Every account has a virtual [`Phone`] (device 0) with its own Signal
//! identity: it pairs companions by QR or phone code, sends and decrypts messages, and can
//! echo. See `docs/sandbox.md` for the wire behaviour and the control API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wa_sandbox::SandboxError> {
//! use wa_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("{}", sandbox.discovery_json());
//! let phone = sandbox.create_phone("6281100000001").await?;
//! phone.set_echo(true);
//! // A client shows a QR code for `sandbox.ws_url()`; the phone scans it:
//! // let device = phone.scan_qr(&qr).await?;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod groups;
mod http;
mod pairing;
mod phone;
mod phone_store;
mod presence;
mod route;
mod send;
mod server;
mod stanza;
mod state;
mod world;

use std::time::Duration;

pub use phone::{Phone, ReceivedMessage};
pub use server::{Sandbox, SandboxConfig};
pub use wa_core::binary::Jid;
pub use world::Stats;

use world::Outbound;

/// Errors of the sandbox API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// Binding or file I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Not a phone number (digits only).
    #[error("not a phone number: {0}")]
    BadNumber(String),
    /// Not a JID.
    #[error("not a JID: {0}")]
    BadJid(String),
    /// No account with this number.
    #[error("no such account: {0}")]
    NoSuchAccount(String),
    /// No such device.
    #[error("no such device: {0}")]
    NoSuchDevice(String),
    /// No such group.
    #[error("no such group: {0}")]
    NoSuchGroup(String),
    /// Pairing failed (bad QR, companion gone, signature mismatch, timeout…).
    #[error("pairing failed: {0}")]
    Pairing(String),
    /// No companion asked for phone-code pairing with this number.
    #[error("no companion asked for a pairing code for this number")]
    NoPendingCode,
    /// A phone's Signal operation failed.
    #[error("signal: {0}")]
    Signal(#[from] wa_core::signal::SignalError),
    /// Signal store failure.
    #[error("signal store: {0}")]
    Store(#[from] wa_core::signal::StoreError),
    /// The state file could not be read or written.
    #[error("state file: {0}")]
    State(String),
    /// The server refused a stanza.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The sandbox was shut down.
    #[error("the sandbox is shut down")]
    ShutDown,
}

/// Fault injection on a running sandbox.
#[derive(Clone)]
pub struct Fault {
    pub(crate) shared: std::sync::Arc<server::Shared>,
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fault").finish_non_exhaustive()
    }
}

impl Fault {
    fn tell(&self, device: &Jid, what: Outbound) -> bool {
        let w = self.shared.world();
        let Some(number) = w.resolve_user(device) else {
            return false;
        };
        match w.conns.get(&(number, device.device())) {
            Some(c) => c.tx.try_send(what).is_ok(),
            None => false,
        }
    }

    /// Closes the device's connection without a stream error. False when it is offline.
    pub fn drop_connection(&self, device: &Jid) -> bool {
        let w = self.shared.world();
        let Some(number) = w.resolve_user(device) else {
            return false;
        };
        match w.conns.get(&(number, device.device())) {
            // Not through the queue: a full queue must not keep the connection open.
            Some(c) => {
                c.kill.notify_one();
                true
            }
            None => false,
        }
    }

    /// Sends `<stream:error code=…/>` to the device and closes. False when it is offline.
    pub fn stream_error(&self, device: &Jid, code: u16) -> bool {
        self.tell(device, Outbound::StreamError(code))
    }

    /// Delays every frame sent to the device by `delay` (zero removes the delay), on its
    /// current connection and on later ones.
    pub fn delay_frames(&self, device: &Jid, delay: Duration) {
        let mut w = self.shared.world();
        let Some(number) = w.resolve_user(device) else {
            return;
        };
        let key = (number, device.device());
        if delay.is_zero() {
            w.delays.remove(&key);
        } else {
            w.delays.insert(key.clone(), delay);
        }
        if let Some(c) = w.conns.get(&key) {
            let _ = c.tx.try_send(Outbound::Delay(delay));
        }
    }

    /// Refuses (HTTP 503) or accepts new websocket connections.
    pub fn refuse_connections(&self, refuse: bool) {
        self.shared.world().refuse_connections = refuse;
    }
}
