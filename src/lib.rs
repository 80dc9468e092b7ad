//! Wasap: a Rust SDK for the WhatsApp Web multi-device protocol, and a self-hosted REST gateway.
//!
//! This facade re-exports the workspace crates:
//! - [`core`]: the protocol itself, sans-IO (`wa-core`);
//! - [`client`]: the async client (`wa-client`);
//! - [`sandbox`]: a local WhatsApp-protocol server with virtual phones (`wa-sandbox`);
//! - `server`: the REST gateway (`wa-server`), behind the cargo feature `server`.
#![warn(missing_docs)]

pub use wa_client as client;
pub use wa_core as core;
pub use wa_sandbox as sandbox;
#[cfg(feature = "server")]
pub use wa_server as server;

/// The README's examples compile as doctests, so the quick start cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
