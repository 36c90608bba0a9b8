//! Front ends: adapters between a transport and the core's `GatewayRequest` /
//! `GatewayResponse`. They never evaluate policy.

pub mod forwarded;
pub mod lambda;
pub mod local;
mod task;
pub mod tls;
