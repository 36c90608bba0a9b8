//! A client-certificate verifier that proves possession of the key and nothing more.
//!
//! # Why accepting any issuer is safe here
//!
//! In APIM, the TLS front end does not decide whether a client certificate is trusted:
//! the policy does (`context.Request.Certificate.Verify()`, thumbprint and issuer
//! checks, `validate-client-certificate`), and a certificate from an unknown CA must
//! still reach the policy so it can answer with its own status and message. So this
//! verifier accepts any chain whose leaf is a well-formed X.509 certificate, without
//! building a path to a root, checking dates or revocation: those are trust decisions,
//! made later by [`crate::trust`] on the policy's request.
//!
//! What it does **not** relax is proof of possession: the client's `CertificateVerify`
//! signature over the handshake is checked against the leaf's public key with the TLS
//! provider's algorithms (ring's, `src/crypto.rs`; `verify_tls12_signature` /
//! `verify_tls13_signature`). A client that copied somebody's certificate but lacks the
//! private key fails the handshake, so the certificate the policy sees was presented by
//! its holder, exactly what a managed front end in passthrough mode guarantees.
//!
//! The trust store's root and intermediate subjects are sent as `certificate_authorities`
//! hints, so clients with several certificates (browsers, OS stores) pick a relevant one.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use x509_parser::prelude::FromDer as _;

use crate::trust::TrustStore;

/// Most bytes of CA names sent as hints; TLS caps the whole list at 64 KiB and a large
/// `CertificateRequest` slows every handshake, so a big store is advertised in part.
const MAX_HINT_BYTES: usize = 16 * 1024;

/// Accepts any well-formed client certificate whose key the client holds; see the
/// module documentation for why that is the right check for this listener.
#[derive(Debug)]
pub(crate) struct AnyClientCert {
    hints: Arc<[DistinguishedName]>,
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    /// `mandatory`: whether a handshake without a certificate fails.
    pub(crate) fn new(hints: Arc<[DistinguishedName]>, mandatory: bool) -> Self {
        Self {
            hints,
            mandatory,
            algorithms: crate::crypto::tls_provider().signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Parsing is all: the signatures below need the leaf's public key. Issuer,
        // dates and revocation are the policy's business (module docs).
        webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The subjects of the store's roots, then intermediates, without duplicates, up to
/// [`MAX_HINT_BYTES`].
pub(crate) fn hints_from(store: &TrustStore) -> Vec<DistinguishedName> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut total = 0;
    let mut skipped = 0;
    for cert in store.roots().iter().chain(&store.intermediates()) {
        let Ok((_, parsed)) = x509_parser::certificate::X509Certificate::from_der(cert.der())
        else {
            continue;
        };
        let subject = parsed.subject().as_raw();
        if subject.is_empty() || seen.iter().any(|s| s == subject) {
            continue;
        }
        if total + subject.len() > MAX_HINT_BYTES {
            skipped += 1;
            continue;
        }
        total += subject.len();
        seen.push(subject.to_vec());
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            sent = seen.len(),
            "the trust store has more CA names than fit in a TLS CertificateRequest; \
             some are not sent as hints (clients still may present any certificate)"
        );
    }
    seen.into_iter().map(DistinguishedName::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_schemes_are_the_ring_providers() {
        let verifier = AnyClientCert::new(Arc::from(Vec::new()), false);
        let schemes = verifier.supported_verify_schemes();
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
        assert!(schemes.contains(&SignatureScheme::ED25519));
        assert!(schemes.contains(&SignatureScheme::RSA_PSS_SHA256));
        assert!(verifier.offer_client_auth());
        assert!(!verifier.client_auth_mandatory());
        assert!(AnyClientCert::new(Arc::from(Vec::new()), true).client_auth_mandatory());
    }

    #[test]
    fn garbage_is_not_a_client_certificate() {
        let verifier = AnyClientCert::new(Arc::from(Vec::new()), true);
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        assert!(matches!(
            verifier.verify_client_cert(&garbage, &[], UnixTime::now()),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding
            ))
        ));
    }

    #[test]
    fn an_empty_store_gives_no_hints() {
        assert!(hints_from(&TrustStore::empty()).is_empty());
    }
}
