//! The transport-free core: a [`GatewayRequest`] in, a [`GatewayResponse`] out.
//!
//! Front ends (Lambda events, the local TLS listener, tests) only translate to and from
//! these types, so every front end gets the same behaviour.

mod backend_entities;
mod check;
mod deployment;
mod pipeline;
mod request;
mod route;
mod target;
mod verifier;

pub use check::{CheckFailed, CheckedDeployment, check_deployment};
pub use deployment::{Build, Deployment, DeploymentError};
pub use pipeline::{Decision, Outcome, handle};
pub use request::{ClientCertificate, GatewayRequest, GatewayResponse};
pub use route::{Route, RouteError, route};
#[cfg(feature = "local")]
pub(crate) use target::request_authority;
pub use target::{TargetError, normalize_path};
pub use verifier::TrustVerifier;
