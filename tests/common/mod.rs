//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod contract_gateway;
pub mod demo_gateway;
pub mod interop;
pub mod serve;
