//! The trust store and `Verify()`.
//!
//! CONTRACT (other modules code against these signatures; the items below implement it):
//!
//! ```ignore
//! /// One file of a deployment folder: path relative to the folder root, with `/`.
//! pub struct SourceFile { pub path: String, pub bytes: Vec<u8> }   // in crate::files
//! pub struct TrustStore;                    // built once per deployment, shared
//! impl TrustStore {
//!     /// Roots from ca/root/, intermediates from ca/intermediate/, CRLs from crl/,
//!     /// uploaded certificates from certificates/<id>.*; other paths are ignored.
//!     /// One bad file never takes the rest down: it becomes a Diagnostic.
//!     pub fn from_files(files: &[SourceFile], now: OffsetDateTime) -> (TrustStore, Vec<Diagnostic>);
//!     pub fn generation(&self) -> u64;     // unique per built store (process-wide counter)
//!     pub fn uploaded(&self) -> &Arc<UploadedCertificates>; // context.Deployment.Certificates
//!     pub fn roots(&self) -> &[Arc<Certificate>];
//!     pub fn intermediates(&self) -> Vec<Arc<Certificate>>; // checks those not checked yet
//!     pub fn verify(&self, leaf: &Certificate, presented: &[Certificate],
//!                   now: OffsetDateTime, revocation: Revocation) -> Verdict;
//! }
//! pub enum Revocation { Check, NoCheck }   // Verify() / VerifyNoRevocation()
//! pub enum Verdict { Valid, Invalid(Reason) }  // Verdict::is_valid()
//! pub enum Reason { NotTrusted, Expired, NotYetValid, Revoked, RevocationUnknown, Malformed, .. }
//! pub struct Diagnostic { pub path: String, pub severity: Severity, pub message: String }
//! pub struct VerifyCache;                  // bounded; keyed by chain hash + generation
//! impl VerifyCache {
//!     pub fn new(capacity: usize) -> Self;
//!     pub fn verify(&self, store: &TrustStore, leaf: &Certificate, presented: &[Certificate],
//!                   now: OffsetDateTime, revocation: Revocation) -> Verdict;
//! }
//! ```
//!
//! Beyond the contract: [`TrustStore::verify_explained`] adds a one-line detail to a
//! verdict (CLI, logs), [`TrustStore::revocation_status`] answers what the CRLs say
//! about one certificate, [`Diagnostic::kind`] classifies load problems, and
//! [`VerifyCache::stats`] counts hits and misses.
//!
//! # Limits worth knowing
//!
//! * A CRL is used only if it is signed by a CA of the store (`ca/root/` or
//!   `ca/intermediate/`) whose keyUsage allows cRLSign: upload the intermediates whose
//!   CRLs you deploy, even when clients present them.
//! * A root with a critical extension the verifier does not process (it processes
//!   basicConstraints, keyUsage, extKeyUsage, subjectAltName, nameConstraints, CRL
//!   distribution points and SCTs) is refused with a diagnostic, as such an
//!   intermediate fails every path and as .NET refuses such a chain.
//! * Delta, partitioned (issuingDistributionPoint) and indirect CRLs are refused with a
//!   diagnostic; so is a CRL with an unknown critical extension (RFC 5280).
//! * A client may present at most [`MAX_PRESENTED_INTERMEDIATES`] distinct intermediates
//!   (copies count once); paths are at most 6 intermediates long, and path building
//!   stops after 100 signature checks or 200,000 steps (webpki's budget): all are
//!   `ChainTooLong`.
//!
//! # What is done when
//!
//! At load ([`TrustStore::from_files`]): certificates decoded, CAs checked, CRLs parsed
//! and their signatures verified once against the CAs of their issuer's name, revoked
//! serials indexed per CRL in hash sets, the CRLs per issuing CA (keyed by name *and*
//! public key). Per request: webpki builds and checks the path with revocation off, and
//! the revocation of each certificate of the path but the root is a hash lookup in the
//! CRLs of its issuer, so a CRL of a million entries costs what one of ten does.
//!
//! A function's cold start ([`TrustStore::from_files_with`] and [`Checks::OnFirstUse`])
//! leaves the CRL signatures (but those of CRLs over 256 KiB) to the first lookup of
//! their issuer: a bad one then fails that verification and every later one closed
//! (`RevocationUnknown`), as a bad CRL found at load does, and its diagnostic is logged
//! and kept ([`TrustStore::checked_on_first_use`]). It reads an intermediate only for
//! its names (webpki's parse) and checks the rest (a CA? its dates, a CRL for it) when a
//! chain first reaches its name, or at load when a CRL names it: one found unusable then
//! issues nothing, as at load, and its diagnostics are logged and kept alike.
//!
//! Either way a verification hands webpki only the store's intermediates that the
//! chain's names reach (`intermediates.rs`): the verdict is the one all of them give
//! (webpki passes over a candidate of another name), for less work per verification.

mod cache;
mod crl;
mod der;
mod diagnostic;
mod intermediates;
mod issued;
mod signature;
mod store;
mod verdict;
mod verify;

pub use cache::{CacheStats, VerifyCache};
pub use crl::{Checks, CrlError, CrlFileError, crls_in_file};
pub use diagnostic::{Diagnostic, DiagnosticKind, Severity};
pub(crate) use issued::issued_by;
pub use store::TrustStore;
pub use verdict::{Reason, Revocation, RevocationStatus, Verdict, Verification, Verifier};
pub use verify::{MAX_PRESENTED_INTERMEDIATES, Purpose};
