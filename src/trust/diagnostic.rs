//! What a trust store's load, and its checks made on first use, report: one
//! [`Diagnostic`] per problem, naming the file.

use std::fmt;

/// How bad a load-time problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The file (or a certificate in it) was not loaded.
    Error,
    /// Loaded, but something will make verifications fail or surprise.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// What kind of problem a [`Diagnostic`] reports, for code that reacts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// Not a certificate, or unparsable.
    NotACertificate,
    /// A leaf (non-CA) certificate under `ca/`.
    NotACa,
    /// A CA past its notAfter (at load time).
    ExpiredCa,
    /// A CA before its notBefore (at load time).
    NotYetValidCa,
    /// A self-signed certificate under `ca/intermediate/`: never a root there.
    SelfSignedIntermediate,
    /// A CRL that cannot be parsed or uses unsupported features.
    CrlUnusable,
    /// A CRL whose issuer is no CA of the store.
    CrlIssuerUnknown,
    /// A CRL whose signature verifies against no CA of its issuer's name.
    CrlBadSignature,
    /// A CRL signed by a CA whose keyUsage lacks cRLSign.
    CrlIssuerNotCrlSigner,
    /// A CRL past its nextUpdate (at load time).
    CrlStale,
    /// A CRL without nextUpdate.
    CrlNoNextUpdate,
    /// An issuing CA without a CRL: `Verify()` is false for its certificates.
    MissingCrl,
    /// A file in a place the store does not read, or a duplicate.
    Ignored,
}

/// A load-time problem, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub severity: Severity,
    pub kind: DiagnosticKind,
    pub message: String,
}

impl Diagnostic {
    /// Logs it (`error` or `warn`, with its path and kind) saying `message`: a load's
    /// diagnostics and those of checks made on first use are logged alike.
    pub(crate) fn log(&self, message: &str) {
        match self.severity {
            Severity::Error => tracing::error!(path = %self.path, kind = ?self.kind, "{message}"),
            Severity::Warning => tracing::warn!(path = %self.path, kind = ?self.kind, "{message}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
