//! Shared test fixtures. Each test binary uses some of them.
#![allow(dead_code, unreachable_pub)]

pub mod backend;
pub mod cli;
pub mod lambda_json;
pub mod lambda_watch;
pub mod moto;
pub mod pki;
pub mod request;
