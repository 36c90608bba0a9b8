//! The crypto provider of every TLS connection certgate takes or makes: the listener's,
//! the backend clients', the S3 client's.
//!
//! aws-lc-rs, the engine that already checks certificate and CRL signatures
//! (`trust::signature`): one engine in the process, and rustls deprecates its ring
//! provider. What a peer may negotiate stays what it was with ring: the same cipher
//! suites (aws-lc-rs's defaults are ring's), the same key exchange groups (aws-lc-rs
//! would add the post-quantum X25519MLKEM768, which a rustls 0.23 server picks whenever
//! the client lists it first, and which costs every such handshake an ML-KEM
//! encapsulation: a choice of its own, not a side effect of the engine), and the same
//! handshake signature algorithms (aws-lc-rs would add P-521 and ML-DSA), so a handshake
//! that passed before passes now and one that failed still fails.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use webpki::aws_lc_rs as alg;

/// The provider of every rustls configuration certgate builds.
pub(crate) fn tls_provider() -> Arc<CryptoProvider> {
    use rustls::crypto::aws_lc_rs::{default_provider, kx_group};
    Arc::new(CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: HANDSHAKE_ALGORITHMS,
        ..default_provider()
    })
}

/// The algorithms a peer's chain (backends) and handshake signature (`CertificateVerify`,
/// both ways) may use: rustls's ring set, computed by aws-lc-rs.
pub(crate) static HANDSHAKE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        alg::ECDSA_P256_SHA256,
        alg::ECDSA_P256_SHA384,
        alg::ECDSA_P384_SHA256,
        alg::ECDSA_P384_SHA384,
        alg::ED25519,
        alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        alg::RSA_PKCS1_2048_8192_SHA256,
        alg::RSA_PKCS1_2048_8192_SHA384,
        alg::RSA_PKCS1_2048_8192_SHA512,
        alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    // For TLS 1.2 the scheme does not fix the curve; for TLS 1.3 it does.
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        ),
        (SignatureScheme::ED25519, &[alg::ED25519]),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA512,
            &[alg::RSA_PKCS1_2048_8192_SHA512],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[alg::RSA_PKCS1_2048_8192_SHA384],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA256,
            &[alg::RSA_PKCS1_2048_8192_SHA256],
        ),
    ],
};

#[cfg(test)]
mod tests {
    use rustls_pki_types::SignatureVerificationAlgorithm;
    use webpki::ring;

    use super::*;

    fn ids(set: &[&dyn SignatureVerificationAlgorithm]) -> Vec<(Vec<u8>, Vec<u8>)> {
        set.iter()
            .map(|a| {
                let (key, signature) = (a.public_key_alg_id(), a.signature_alg_id());
                (key.as_ref().to_vec(), signature.as_ref().to_vec())
            })
            .collect()
    }

    /// rustls 0.23's ring provider, as it stood when certgate left it: the same schemes
    /// offered in the same order, each checked with the same key and signature algorithms.
    #[test]
    fn the_handshake_accepts_what_rings_provider_accepted() {
        let ring_all: &[&dyn SignatureVerificationAlgorithm] = &[
            ring::ECDSA_P256_SHA256,
            ring::ECDSA_P256_SHA384,
            ring::ECDSA_P384_SHA256,
            ring::ECDSA_P384_SHA384,
            ring::ED25519,
            ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            ring::RSA_PKCS1_2048_8192_SHA256,
            ring::RSA_PKCS1_2048_8192_SHA384,
            ring::RSA_PKCS1_2048_8192_SHA512,
            ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ];
        assert_eq!(ids(HANDSHAKE_ALGORITHMS.all), ids(ring_all));
        let ring_mapping: &[(SignatureScheme, &[&dyn SignatureVerificationAlgorithm])] = &[
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[ring::ECDSA_P384_SHA384, ring::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[ring::ECDSA_P256_SHA256, ring::ECDSA_P384_SHA256],
            ),
            (SignatureScheme::ED25519, &[ring::ED25519]),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[ring::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[ring::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[ring::RSA_PKCS1_2048_8192_SHA256],
            ),
        ];
        let mapped = |m: &[(SignatureScheme, &[&dyn SignatureVerificationAlgorithm])]| {
            m.iter()
                .map(|(s, algs)| (*s, ids(algs)))
                .collect::<Vec<_>>()
        };
        assert_eq!(mapped(HANDSHAKE_ALGORITHMS.mapping), mapped(ring_mapping));
        assert_eq!(
            HANDSHAKE_ALGORITHMS.supported_schemes(),
            ring_mapping.iter().map(|(s, _)| *s).collect::<Vec<_>>()
        );
    }

    /// ring's groups in ring's order, and ring's cipher suites.
    #[test]
    fn key_exchange_and_cipher_suites_are_rings() {
        let provider = tls_provider();
        let groups: Vec<_> = provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            [
                rustls::NamedGroup::X25519,
                rustls::NamedGroup::secp256r1,
                rustls::NamedGroup::secp384r1
            ]
        );
        let suites: Vec<_> = provider.cipher_suites.iter().map(|s| s.suite()).collect();
        use rustls::CipherSuite as C;
        assert_eq!(
            suites,
            [
                C::TLS13_AES_256_GCM_SHA384,
                C::TLS13_AES_128_GCM_SHA256,
                C::TLS13_CHACHA20_POLY1305_SHA256,
                C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
    }
}
