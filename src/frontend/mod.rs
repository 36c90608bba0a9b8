//! Front ends: adapters between a transport and the core's `GatewayRequest` /
//! `GatewayResponse`. They never evaluate policy.

pub mod forwarded;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "local")]
pub mod request_log;
#[cfg(feature = "lambda")]
mod task;
#[cfg(feature = "local")]
pub mod tls;
