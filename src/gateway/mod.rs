//! The transport-free core: a [`GatewayRequest`] in, a [`GatewayResponse`] out.
//!
//! Front ends (Lambda events, the local TLS listener, tests) only translate to and from
//! these types, so every front end gets the same behaviour.

mod deployment;
mod pipeline;
mod request;
mod route;
mod target;
mod verifier;

pub use deployment::{Build, Deployment, DeploymentError};
pub use pipeline::{Decision, Outcome, handle};
pub use request::{ClientCertificate, GatewayRequest, GatewayResponse, PresentedChain};
pub use route::{Route, RouteError, route};
pub use target::{TargetError, normalize_path, parse_authority, request_authority};
