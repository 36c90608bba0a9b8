//! certgate: Azure API Management client-certificate policies on AWS serverless.
//!
//! The layout follows the request path (see the README): `cert` decodes what the front
//! end forwarded, `trust` decides `Verify()`, `expr` and `policy` run the APIM policy,
//! `source` reads the deployment folder. Modules stand in layers, each using only the
//! ones below (`tests/layers.rs` enforces the table).
//!
//! # Public surface
//!
//! What is `pub` is what the crate's users outside `src/` need: the two binaries
//! (`certgate`, `certgate-lambda`), the benches, the fuzz targets, the examples and the
//! integration tests, and every type that appears in those items' signatures. Everything
//! else is `pub(crate)`, so the `unreachable_pub` lint (on, and an error in CI) flags a
//! `pub` that nothing outside can reach. The entry points:
//!
//! * [`gateway`]: [`gateway::Deployment::load`] and [`gateway::handle`], the core;
//! * [`frontend`]: the Lambda function ([`frontend::lambda`]) and the local listener;
//! * [`source`]: reading a deployment from a folder, S3 or a bundle, and pushing one;
//! * [`cert`], [`trust`], [`expr`], [`policy`]: certificates, `Verify()`, expressions
//!   and policy documents, for the CLI's `cert`, `eval` and `check` commands.

// No unsafe code in the library, whatever a binary allows itself (Cargo.toml's lints).
#![forbid(unsafe_code)]

pub mod body;
pub mod cache;
pub mod cert;
pub mod config;
pub(crate) mod crypto;
#[cfg(feature = "demo")]
pub mod demo;
pub mod expr;
pub mod files;
pub mod frontend;
pub mod gateway;
pub mod policy;
pub mod proxy;
pub mod source;
pub mod text;
pub mod trust;
pub mod xml;
