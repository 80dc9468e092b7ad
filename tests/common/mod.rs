//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod demo_gateway;
pub mod interop;
pub mod serve;
