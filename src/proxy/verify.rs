//! How a backend's TLS certificate is checked: a `[[backends]]` entry may turn off the
//! chain check (`validate_certificate_chain = false`) or the name check
//! (`validate_certificate_name = false`), as APIM's backend entities can. The handshake
//! signature is always verified: the peer still proves it holds the certificate's key.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Which checks of the backend's certificate are made (both by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsValidation {
    pub chain: bool,
    pub name: bool,
}

impl Default for TlsValidation {
    fn default() -> Self {
        Self {
            chain: true,
            name: true,
        }
    }
}

/// The standard verifier with the checks `validation` turns off left out.
#[derive(Debug)]
pub(super) struct BackendVerifier {
    inner: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    validation: TlsValidation,
}

impl BackendVerifier {
    pub(super) fn new(
        roots: rustls::RootCertStore,
        validation: TlsValidation,
    ) -> Result<Self, Error> {
        let provider = crate::crypto::tls_provider();
        let algorithms = provider.signature_verification_algorithms;
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| Error::General(e.to_string()))?;
        Ok(Self {
            inner,
            algorithms,
            validation,
        })
    }
}

impl ServerCertVerifier for BackendVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.validation.chain {
            // webpki checks the chain before the name: a name error means the chain is good.
            return match self.inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) if !self.validation.name => Ok(ServerCertVerified::assertion()),
                other => other,
            };
        }
        if self.validation.name {
            let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|e| {
                Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(e))))
            })?;
            cert.verify_is_valid_for_subject_name(server_name)
                .map_err(|_| Error::InvalidCertificate(CertificateError::NotValidForName))?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
