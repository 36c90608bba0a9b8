//! The signature algorithms that certificates and CRLs are checked with.
//!
//! webpki's set as it offers it with ring (ECDSA P-256 and P-384 with SHA-256 and
//! SHA-384, Ed25519, RSA PKCS#1 of 2048 to 8192 bits, RSA-PSS), computed by aws-lc-rs:
//! its P-384 verifies in a quarter of ring's time (about 200 µs against 725 µs on the
//! project's 2-core machine, where ring's P-256 takes 52 µs). A chain under a P-384
//! root costs two of them the first time it is seen, the intermediate's signature and
//! the root's CRL, which was an eighth of a Lambda cold start. TLS keeps ring
//! (`src/crypto.rs` says why).

use rustls_pki_types::SignatureVerificationAlgorithm;
use webpki::aws_lc_rs as alg;

/// The algorithms a certificate's or CRL's signature may use; any other is refused.
pub(crate) static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    alg::ECDSA_P256_SHA256,
    alg::ECDSA_P256_SHA384,
    alg::ECDSA_P384_SHA256,
    alg::ECDSA_P384_SHA384,
    alg::ED25519,
    alg::RSA_PKCS1_2048_8192_SHA256,
    alg::RSA_PKCS1_2048_8192_SHA384,
    alg::RSA_PKCS1_2048_8192_SHA512,
    alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    alg::RSA_PKCS1_3072_8192_SHA384,
    alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// What was accepted with ring is accepted now, and nothing else: the same key and
    /// signature algorithm identifiers, in the same order.
    #[test]
    fn the_algorithms_are_webpkis_ring_set() {
        use webpki::ring;
        let ring_set: &[&dyn SignatureVerificationAlgorithm] = &[
            ring::ECDSA_P256_SHA256,
            ring::ECDSA_P256_SHA384,
            ring::ECDSA_P384_SHA256,
            ring::ECDSA_P384_SHA384,
            ring::ED25519,
            ring::RSA_PKCS1_2048_8192_SHA256,
            ring::RSA_PKCS1_2048_8192_SHA384,
            ring::RSA_PKCS1_2048_8192_SHA512,
            ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
            ring::RSA_PKCS1_3072_8192_SHA384,
            ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        ];
        let ids = |set: &[&dyn SignatureVerificationAlgorithm]| {
            set.iter()
                .map(|alg| (alg.public_key_alg_id(), alg.signature_alg_id()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(ALGORITHMS), ids(ring_set));
    }
}
