//! The WhatsApp Web multi-device protocol, sans-IO.
//!
//! `wa-core` takes bytes and state and returns bytes, state and typed errors. It never
//! opens a socket, reads a clock or draws randomness on its own: those enter through
//! parameters, so every exchange can be replayed deterministically in tests.
//!
//! | module | owns |
//! |---|---|
//! | [`binary`] | WABinary nodes ([`binary::Node`], [`binary::NodeRef`]), JIDs, the token dictionaries |
//! | [`noise`] | the Noise XX handshake (both sides), transport cipher, frame codec, certificate chain |
//! | [`proto`] | protobuf types generated at build time from `wa-core/proto/*.proto` |
//! | [`signal`] | the Signal protocol as WhatsApp uses it |
//! | [`crypto`] | small shared primitives: HKDF, HMAC, AES modes, XEdDSA |
//! | [`pair`] | linking a companion: keys, QR, phone code, ADV signatures, ClientPayload (both sides) |
//! | [`message`] | message ids and the typed message content model |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binary;
pub mod crypto;
pub mod message;
pub mod noise;
pub mod pair;
pub mod proto;
pub mod signal;

pub use binary::Jid;
