//! The client's error type.

use wa_core::signal::{SignalError, StoreError};

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Not connected (or the connection dropped while waiting for an answer).
    #[error("not connected")]
    NotConnected,
    /// The store holds no paired device: pair first.
    #[error("not logged in")]
    NotLoggedIn,
    /// The account logged this device out.
    #[error("logged out")]
    LoggedOut,
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The server answered an IQ with an error.
    #[error("server error {code}: {text}")]
    Server {
        /// The error code (e.g. 404, 429).
        code: u16,
        /// The error text.
        text: String,
    },
    /// The transport (websocket, proxy, TLS) failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The Noise handshake failed.
    #[error("handshake: {0}")]
    Handshake(String),
    /// Signal encryption or decryption failed.
    #[error("signal: {0}")]
    Signal(#[from] SignalError),
    /// The server sent something we could not understand.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Media upload, download or decryption failed.
    #[error("media: {0}")]
    Media(String),
    /// The caller passed something unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client was shut down.
    #[error("client shut down")]
    Shutdown,
}

impl Error {
    /// Whether trying again later may succeed (transport trouble, timeouts, 5xx answers).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::NotConnected | Error::Timeout | Error::Transport(_) => true,
            Error::Server { code, .. } => *code >= 500 || *code == 429,
            _ => false,
        }
    }

    pub(crate) fn protocol(what: impl Into<String>) -> Error {
        Error::Protocol(what.into())
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
