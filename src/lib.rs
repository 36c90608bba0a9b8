//! certgate: Azure API Management client-certificate policies on AWS serverless.
//!
//! The layout follows the request path (see the README): `cert` decodes what the front
//! end forwarded, `trust` decides `Verify()`, `expr` and `policy` run the APIM policy,
//! `source` reads the deployment folder.

pub mod body;
pub mod cert;
pub mod config;
pub mod demo;
pub mod expr;
pub mod frontend;
pub mod gateway;
pub mod policy;
pub mod proxy;
pub mod source;
pub mod trust;
