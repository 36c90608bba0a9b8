//! The result of `Verify()`: [`Verdict`] and its [`Reason`], and the [`Verifier`] that
//! answers it.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::cert::Certificate;

/// What expressions (`Verify()`) and `validate-client-certificate` ask of a deployment's
/// trust. A trait, so `expr` and `policy` depend on the question and not on how the
/// gateway stores and caches the answer.
pub trait Verifier: Send + Sync {
    /// The verdict for `leaf` at `now`; `chain` holds the certificates the client
    /// presented after the leaf (empty for an uploaded certificate).
    fn verdict(
        &self,
        leaf: &Certificate,
        chain: &[Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
    ) -> Verdict;

    /// The certificates (presented or trusted) that issued `leaf`, signature checked.
    fn issuers(&self, leaf: &Certificate, chain: &[Certificate]) -> Vec<Arc<Certificate>>;
}

/// Which of the two APIM methods runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Revocation {
    /// `Verify()`: every certificate of the chain but the root must be shown not revoked
    /// by a current CRL of its issuer. No CRL, or a stale one, is a failure
    /// ([`Reason::RevocationUnknown`]), as in .NET's default chain policy.
    Check,
    /// `VerifyNoRevocation()`: the same checks without revocation.
    NoCheck,
}

/// What the deployed CRLs say about one certificate ([`super::TrustStore::revocation_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationStatus {
    /// The issuer's CRL is current and does not list the certificate.
    NotRevoked,
    /// The issuer's CRL lists the certificate (even if that CRL is stale).
    Revoked,
    /// No CRL of this issuer was loaded.
    NoCrl,
    /// The issuer's CRL is past its nextUpdate.
    Stale,
}

/// The outcome of `Verify()` / `VerifyNoRevocation()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Valid,
    Invalid(Reason),
}

impl Verdict {
    /// What `Verify()` returns to the policy.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Valid)
    }

    pub fn reason(self) -> Option<Reason> {
        match self {
            Self::Valid => None,
            Self::Invalid(reason) => Some(reason),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Valid => f.write_str("valid"),
            Self::Invalid(reason) => write!(f, "invalid: {reason}"),
        }
    }
}

/// Why a certificate did not verify: the most specific failure over every candidate
/// path, ranked as webpki ranks its errors ([`Reason::rank`]).
///
/// # Extended key usage
///
/// .NET's `Verify()` asks for no extended key usage: any certificate that chains to a
/// trusted root passes. certgate keeps that for certificates without an EKU extension,
/// but a certificate of the chain whose EKU extension exists and does not list
/// `clientAuth` (1.3.6.1.5.5.7.3.2) fails with [`Reason::WrongExtendedKeyUsage`]. Its
/// issuer restricted it to other purposes (a TLS server certificate, code signing), and
/// accepting it as a client identity would let a certificate issued for a web server
/// log in as a client. rustls, nginx (OpenSSL's `ssl_client` purpose) and Envoy reject
/// such certificates for client authentication too, so a deployment that works behind
/// them works with certgate. `anyExtendedKeyUsage` alone does not grant `clientAuth`,
/// as in rustls and OpenSSL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// No path to a root in `ca/root/`: unknown issuer, or a signature that does not
    /// verify with the key of a CA of that name.
    NotTrusted,
    /// A certificate of the chain (root included) is past its notAfter.
    Expired,
    /// A certificate of the chain (root included) is before its notBefore.
    NotYetValid,
    /// A certificate of the chain is listed in its issuer's CRL.
    Revoked,
    /// No usable CRL for an issuer of the chain: none was deployed, it is past its
    /// nextUpdate, or its signature did not verify when the store was loaded.
    RevocationUnknown,
    /// The client certificate is a CA certificate (basicConstraints cA=true). .NET
    /// would accept a trusted CA certificate as the end entity; certgate, like rustls,
    /// does not: a CA's key is for signing certificates, not for logging in.
    CaUsedAsLeaf,
    /// A certificate that is not a CA issued another one.
    IssuerNotCa,
    /// A CA's pathLenConstraint allows fewer intermediates below it than the path has.
    PathLenExceeded,
    /// The chain is longer than the verifier follows (6 intermediates), the client
    /// presented more than [`super::MAX_PRESENTED_INTERMEDIATES`] distinct
    /// intermediates, or path building ran out of its budget.
    ChainTooLong,
    /// A certificate's EKU extension excludes clientAuth (see the type's docs).
    WrongExtendedKeyUsage,
    /// A name in the chain violates a CA's nameConstraints.
    NameConstraintViolation,
    /// A signature or key algorithm the verifier does not accept (SHA-1, RSA < 2048,
    /// DSA, ...).
    UnsupportedAlgorithm,
    /// A certificate of the chain cannot be parsed, or uses an unsupported critical
    /// extension or version.
    Malformed,
}

impl Reason {
    /// Stable name, used in logs and the CLI (`invalid: Revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotTrusted => "NotTrusted",
            Self::Expired => "Expired",
            Self::NotYetValid => "NotYetValid",
            Self::Revoked => "Revoked",
            Self::RevocationUnknown => "RevocationUnknown",
            Self::CaUsedAsLeaf => "CaUsedAsLeaf",
            Self::IssuerNotCa => "IssuerNotCa",
            Self::PathLenExceeded => "PathLenExceeded",
            Self::ChainTooLong => "ChainTooLong",
            Self::WrongExtendedKeyUsage => "WrongExtendedKeyUsage",
            Self::NameConstraintViolation => "NameConstraintViolation",
            Self::UnsupportedAlgorithm => "UnsupportedAlgorithm",
            Self::Malformed => "Malformed",
        }
    }

    /// How specific the reason is: when several candidate paths fail, the failure with
    /// the highest rank is reported (webpki's `Error::rank`). Validity dates first, then
    /// revocation, then usage and constraints, then malformed input; "no path to a root"
    /// is the catch-all.
    pub fn rank(self) -> u32 {
        match self {
            Self::Expired | Self::NotYetValid => 290,
            Self::Revoked | Self::RevocationUnknown => 270,
            Self::WrongExtendedKeyUsage => 240,
            Self::NameConstraintViolation => 230,
            Self::PathLenExceeded => 220,
            Self::CaUsedAsLeaf | Self::IssuerNotCa => 210,
            Self::UnsupportedAlgorithm => 140,
            Self::ChainTooLong => 61,
            Self::Malformed => 10,
            Self::NotTrusted => 0,
        }
    }

    /// The more specific of two reasons (ties keep `self`).
    pub fn most_specific(self, other: Self) -> Self {
        if self.rank() >= other.rank() {
            self
        } else {
            other
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict with a one-line explanation for people (CLI, logs); policies see only the
/// verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verdict: Verdict,
    pub detail: Option<String>,
}
