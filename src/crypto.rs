//! The crypto provider of every TLS connection certgate takes or makes: the listener's,
//! the backend clients', the S3 client's. One place, so that the engine is one choice.
//!
//! ring, not aws-lc-rs (which checks certificate and CRL signatures, `trust::signature`):
//! aws-lc seeds its random generator from CPU jitter entropy the first time a process
//! draws a random number, 29 ms of CPU on the project's 2-core machine (a
//! release build drawing 32 bytes, three runs: 28.7-29.0 ms; the second draw 1 µs).
//! Every TLS handshake draws them (its random, its key share), and a Lambda function's
//! first comes at its cold start (the deployment's GET from S3), when the whole cold
//! start of `benches/coldstart_cpu.sh` takes about 7 ms of CPU. Signature verification
//! draws none, so aws-lc-rs is safe where it is.
//!
//! rustls 0.23.48 deprecates ring's `default_provider` for its lack of post-quantum key
//! exchange (X25519MLKEM768): allowed here, the crate's one call (the tests' clients and
//! `examples/load.rs` allow it where they call it), so that a `cargo update` does not fail
//! the `-D warnings` build. Offering post-quantum key
//! exchange needs aws-lc-rs's random generator seeded some cheaper way first.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The provider of every rustls configuration certgate builds.
#[allow(deprecated)] // since rustls 0.23.48; see the module's documentation
pub(crate) fn tls_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    /// Handshakes draw their random numbers and make their keys with ring: were either
    /// aws-lc's, a cold start's first handshake would pay its 29 ms entropy seeding.
    #[test]
    fn handshakes_draw_randomness_from_ring() {
        let provider = super::tls_provider();
        assert_eq!(format!("{:?}", provider.secure_random), "Ring");
        assert_eq!(format!("{:?}", provider.key_provider), "Ring");
    }
}
