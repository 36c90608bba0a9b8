//! X.509 certificates as an APIM policy sees them.
//!
//! Decodes what front ends forward (PEM, DER, base64 DER, URL-encoded PEM) and exposes
//! the properties of .NET's `X509Certificate2` in .NET's exact string formats, so a
//! policy migrated from APIM compares the same strings. This module never decides trust:
//! that is [`crate::trust`].
//!
//! CONTRACT (filled in by the cert work; other modules code against these signatures):
//!
//! ```ignore
//! pub struct Certificate;                       // immutable, cheap to share behind Arc
//! impl Certificate {
//!     pub fn from_der(der: &[u8]) -> Result<Self, CertError>;
//!     pub fn der(&self) -> &[u8];
//!     pub fn subject(&self) -> &str;            // .NET Subject == SubjectName.Name
//!     pub fn issuer(&self) -> &str;             // .NET Issuer == IssuerName.Name
//!     pub fn thumbprint(&self) -> &str;         // SHA-1, uppercase hex
//!     pub fn sha256_fingerprint(&self) -> &str; // SHA-256, uppercase hex (beyond APIM)
//!     pub fn serial_number(&self) -> &str;      // big-endian uppercase hex, pad byte kept
//!     pub fn not_before(&self) -> time::OffsetDateTime;   // UTC
//!     pub fn not_after(&self) -> time::OffsetDateTime;    // UTC
//!     pub fn version(&self) -> u32;             // 3 for v3
//!     pub fn signature_algorithm(&self) -> &Oid;          // .Value / .FriendlyName
//!     pub fn name_info(&self, kind: NameType, for_issuer: bool) -> String; // GetNameInfo
//!     pub fn subject_alt_names(&self) -> &SubjectAltNames; // dns, email, uri, ip
//!     pub fn extended_key_usages(&self) -> Option<&[String]>; // EKU OIDs; None = no extension
//!     pub fn public_key(&self) -> &PublicKeyInfo;          // algorithm name, size in bits
//!     pub fn is_ca(&self) -> bool;              // basicConstraints cA
//! }
//! pub struct Oid { pub value: String, pub friendly_name: Option<String> }
//! pub enum NameType { Simple, Email, Upn, Dns, Url }  // X509NameType
//! pub struct SubjectAltNames { pub dns: Vec<String>, pub email: Vec<String>,
//!                              pub uri: Vec<String>, pub ip: Vec<String> }
//! pub struct PublicKeyInfo { pub algorithm: String, pub bits: u32 }
//! /// Leaf first. Accepts PEM (one or more blocks), DER, base64 DER, URL-encoded PEM.
//! pub fn decode_chain(input: &[u8]) -> Result<Vec<Certificate>, CertError>;
//! pub enum CertError { ... }                  // thiserror, messages say what to fix
//! ```

mod uploaded;

pub use uploaded::UploadedCertificates;

use time::OffsetDateTime;

/// Why input could not be decoded as a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Placeholder until the cert work lands.
    #[error("certificate decoding is not implemented yet")]
    Unimplemented,
}

/// A decoded X.509 certificate with its .NET-visible properties.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
}

/// An object identifier as .NET's `Oid`: dotted `Value` and `FriendlyName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oid {
    pub value: String,
    pub friendly_name: Option<String>,
}

/// .NET's `X509NameType`, the first argument of `GetNameInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameType {
    Simple,
    Email,
    Upn,
    Dns,
    Url,
}

/// Subject alternative names, by type, in certificate order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    pub dns: Vec<String>,
    pub email: Vec<String>,
    pub uri: Vec<String>,
    pub ip: Vec<String>,
}

/// The subject public key: algorithm name ("RSA", "ECDSA P-256", "Ed25519") and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub algorithm: String,
    pub bits: u32,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let _ = der;
        Err(CertError::Unimplemented)
    }
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    pub fn subject(&self) -> &str {
        todo!()
    }
    pub fn issuer(&self) -> &str {
        todo!()
    }
    pub fn thumbprint(&self) -> &str {
        todo!()
    }
    pub fn sha256_fingerprint(&self) -> &str {
        todo!()
    }
    pub fn serial_number(&self) -> &str {
        todo!()
    }
    pub fn not_before(&self) -> OffsetDateTime {
        todo!()
    }
    pub fn not_after(&self) -> OffsetDateTime {
        todo!()
    }
    pub fn version(&self) -> u32 {
        todo!()
    }
    pub fn signature_algorithm(&self) -> &Oid {
        todo!()
    }
    pub fn name_info(&self, kind: NameType, for_issuer: bool) -> String {
        let _ = (kind, for_issuer);
        todo!()
    }
    pub fn subject_alt_names(&self) -> &SubjectAltNames {
        todo!()
    }
    pub fn extended_key_usages(&self) -> Option<&[String]> {
        todo!()
    }
    pub fn public_key(&self) -> &PublicKeyInfo {
        todo!()
    }
    pub fn is_ca(&self) -> bool {
        todo!()
    }
}

/// Decodes a certificate or a chain, leaf first.
pub fn decode_chain(input: &[u8]) -> Result<Vec<Certificate>, CertError> {
    let _ = input;
    Err(CertError::Unimplemented)
}
