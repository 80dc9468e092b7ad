//! Protobuf types, generated at build time by prost from `wa-core/proto/*.proto`.
//!
//! Field numbers equal WhatsApp's; the message subset is ours. Every `.proto` file in
//! `wa-core/proto/` declaring `package wa;` lands in this module.

#![allow(missing_docs, clippy::all)]
include!(concat!(env!("OUT_DIR"), "/wa.rs"));
