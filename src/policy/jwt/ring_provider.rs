//! A verify-only `jsonwebtoken` crypto provider on `ring`, the crypto of the rest of
//! certgate (rustls, webpki, hashes): the crate has dropped its own ring backend, and its
//! two backends would bring a second RSA/ECDSA implementation (RustCrypto) or a C build
//! (aws-lc-rs) into the Lambda. Only the algorithm choice lives here; the signature
//! arithmetic is ring's. Signing is refused: the gateway only verifies.
//!
//! Each verifier checks that the key's family matches the algorithm's, so an HMAC token
//! can never be checked with an RSA or EC public key as its secret (key confusion).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature as sig;

/// One algorithm and one key, checked to belong together.
struct RingVerifier {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let refused = |_| signature::Error::new();
        let key = self.key.kind();
        match self.algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let algorithm = match self.algorithm {
                    Algorithm::HS256 => ring::hmac::HMAC_SHA256,
                    Algorithm::HS384 => ring::hmac::HMAC_SHA384,
                    _ => ring::hmac::HMAC_SHA512,
                };
                let DecodingKeyKind::SecretOrDer(secret) = key else {
                    return Err(signature::Error::new());
                };
                let key = ring::hmac::Key::new(algorithm, secret);
                ring::hmac::verify(&key, message, signature).map_err(refused)
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let algorithm = if self.algorithm == Algorithm::ES256 {
                    &sig::ECDSA_P256_SHA256_FIXED
                } else {
                    &sig::ECDSA_P384_SHA384_FIXED
                };
                let DecodingKeyKind::SecretOrDer(point) = key else {
                    return Err(signature::Error::new());
                };
                sig::UnparsedPublicKey::new(algorithm, point)
                    .verify(message, signature)
                    .map_err(refused)
            }
            _ => {
                let algorithm: &sig::RsaParameters = match self.algorithm {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => return Err(signature::Error::new()),
                };
                match key {
                    DecodingKeyKind::SecretOrDer(der) => {
                        sig::UnparsedPublicKey::new(algorithm, der)
                            .verify(message, signature)
                            .map_err(refused)
                    }
                    DecodingKeyKind::RsaModulusExponent { n, e } => {
                        sig::RsaPublicKeyComponents { n, e }
                            .verify(algorithm, message, signature)
                            .map_err(refused)
                    }
                }
            }
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let supported = matches!(
        algorithm.family(),
        AlgorithmFamily::Hmac | AlgorithmFamily::Rsa | AlgorithmFamily::Ec
    );
    if !supported {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    if key.family() != algorithm.family() {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        key: key.clone(),
    }))
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    Err(ErrorKind::UnsupportedAlgorithm.into())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

fn unsupported_components(_: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    Err(ErrorKind::UnsupportedAlgorithm.into())
}

/// The provider, installed once per process by [`install`].
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: unsupported_components,
        rsa_pub_components_from_public_key: unsupported_components,
        ec_pub_components_from_private_key: |_,
                                             _: Algorithm|
         -> Result<
            (EllipticCurve, Vec<u8>, Vec<u8>),
            Error,
        > {
            Err(ErrorKind::UnsupportedAlgorithm.into())
        },
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        compute_digest,
    },
};

/// Makes ring the process's `jsonwebtoken` provider; called before every verification
/// (a no-op after the first). Another provider installed first by the embedding program
/// stays: the family check above is then that provider's job.
pub(crate) fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}
