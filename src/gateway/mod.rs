//! The transport-free core: a [`GatewayRequest`] in, a [`GatewayResponse`] out.
//!
//! Front ends (Lambda events, the local TLS listener, tests) only translate to and from
//! these types, so every front end gets the same behaviour.

mod request;
mod route;

pub use request::{ClientCertificate, GatewayRequest, GatewayResponse};
pub use route::{Route, RouteError, route};
