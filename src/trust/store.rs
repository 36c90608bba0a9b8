//! Building a [`TrustStore`] from a deployment folder's files.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use time::OffsetDateTime;

use super::crl::{self, CaKey, Candidate, Checks, RevocationIndex};
use super::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use super::intermediates::{Checked, Held, Intermediates, Usable};
use crate::cert::{
    CertError, Certificate, PemBlocks, Upload, UploadedCertificates, check_chain, split_chain,
};
use crate::files::SourceFile;

/// A trusted root, as path building sees it (its DER is that of the root at the same
/// position in [`TrustStore::roots`]).
#[derive(Debug)]
pub(crate) struct AnchorInfo {
    pub(crate) key: CaKey,
    pub(crate) is_ca: bool,
    pub(crate) path_len: Option<u32>,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) subject: String,
}

/// The trust store of one deployment: roots (`ca/root/`, APIM store "Root"),
/// intermediates (`ca/intermediate/`, "CertificateAuthority"), CRLs (`crl/`) with their
/// signatures already checked, and the uploaded certificates (`certificates/`).
/// Built once per deployment and shared; what is checked on first use
/// ([`Checks::OnFirstUse`]) is checked once for every holder.
pub struct TrustStore {
    pub(crate) generation: u64,
    roots: Vec<Arc<Certificate>>,
    pub(crate) intermediates: Intermediates,
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    pub(crate) anchor_info: Vec<AnchorInfo>,
    pub(crate) revocations: RevocationIndex,
    /// Instants (unix seconds) at which a verdict computed against this store may change:
    /// each root's notBefore and notAfter + 1, each CRL's nextUpdate. Sorted, unique. An
    /// intermediate's dates count for the chains that reach it (see `window`).
    pub(crate) boundaries: Vec<i64>,
    /// When the store loaded (unix seconds): dates the diagnostics of checks made later.
    loaded_at: i64,
    uploaded: Arc<UploadedCertificates>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("generation", &self.generation)
            .field("roots", &self.roots.len())
            .field("intermediates", &self.intermediates.len())
            .field("uploaded", &self.uploaded.len())
            .finish_non_exhaustive()
    }
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A root CA of the store, as CRL matching sees it.
struct CaRecord {
    path: String,
    /// Subject Name contents (webpki's form).
    subject: Vec<u8>,
    candidate: Candidate,
}

#[derive(Default)]
struct Loader {
    diagnostics: Vec<Diagnostic>,
}

impl Loader {
    fn push(&mut self, path: &str, severity: Severity, kind: DiagnosticKind, message: String) {
        self.diagnostics.push(Diagnostic {
            path: path.to_owned(),
            severity,
            kind,
            message,
        });
    }
}

/// What the loader needs to know of one CA certificate, from its one decoding.
struct CertFacts {
    is_ca: bool,
    path_len: Option<u32>,
    self_signed: bool,
    not_before: i64,
    not_after: i64,
    subject: String,
    /// keyUsage absent, or present with cRLSign.
    crl_signer: bool,
}

fn facts(certificate: &Certificate) -> Result<CertFacts, String> {
    let constraints = certificate.ca_constraints();
    let (is_ca, path_len) = constraints.basic.clone()?.unwrap_or((false, None));
    Ok(CertFacts {
        crl_signer: constraints.crl_signer,
        is_ca,
        path_len,
        self_signed: constraints.self_issued,
        not_before: certificate.not_before().unix_timestamp(),
        not_after: certificate.not_after().unix_timestamp(),
        // .NET's Subject format, as `certgate cert inspect` and policies show it.
        subject: certificate.subject().to_owned(),
    })
}

impl TrustStore {
    /// A store that trusts nothing and holds no uploaded certificates.
    pub fn empty() -> Self {
        Self::from_files(&[], OffsetDateTime::UNIX_EPOCH).0
    }

    /// Builds the store from a deployment folder's files: roots from `ca/root/`,
    /// intermediates from `ca/intermediate/`, CRLs from `crl/`, uploaded certificates
    /// from `certificates/<id>.*`; other paths are ignored. Files may be PEM (several
    /// certificates per file) or DER, with any extension.
    ///
    /// One bad file never takes the rest down: it becomes a [`Diagnostic`]. `now` only
    /// dates the diagnostics (an expired CA, a stale CRL); verification takes its own
    /// time.
    pub fn from_files(files: &[SourceFile], now: OffsetDateTime) -> (Self, Vec<Diagnostic>) {
        Self::from_files_with(files, now, Checks::Now)
    }

    /// [`TrustStore::from_files`] with some checks made as `checks` says. With
    /// [`Checks::OnFirstUse`], a CRL's signature is checked (and a bad one logged, with
    /// the diagnostic `from_files` would return) when a verification first looks up its
    /// issuer, and until then a CA that some CRL names counts as having one; an
    /// intermediate is read for its names only and checked (its diagnostics logged alike)
    /// when a verification first reaches its name or, at load, when a CRL names it; an
    /// uploaded certificate when it is first read.
    pub fn from_files_with(
        files: &[SourceFile],
        now: OffsetDateTime,
        checks: Checks,
    ) -> (Self, Vec<Diagnostic>) {
        let uploaded_files: Vec<&SourceFile> = under(files, "certificates/").collect();
        let sharing = Sharing::of(&uploaded_files, files);
        let (mut store, mut diagnostics, (uploaded, uploaded_diagnostics)) =
            std::thread::scope(|scope| {
                // Uploaded certificates depend on nothing else here: a second core may
                // check them while the CAs and CRLs load (or this thread does, after
                // them, when no thread can be started).
                let task = on_second_thread(&uploaded_files, checks)
                    .then(|| {
                        std::thread::Builder::new()
                            .name("certgate-uploaded".to_owned())
                            .spawn_scoped(scope, || load_uploaded(&uploaded_files, checks, sharing))
                            .ok()
                    })
                    .flatten();
                let (store, diagnostics) = Self::from_ca_files(files, now.unix_timestamp(), checks);
                let uploaded = match task {
                    Some(task) => task
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    None => load_uploaded(&uploaded_files, checks, sharing),
                };
                (store, diagnostics, uploaded)
            });
        store.uploaded = Arc::new(uploaded);
        diagnostics.extend(uploaded_diagnostics);
        (store, diagnostics)
    }

    /// The store from `ca/` and `crl/`, without uploaded certificates.
    fn from_ca_files(files: &[SourceFile], now: i64, checks: Checks) -> (Self, Vec<Diagnostic>) {
        let mut loader = Loader::default();
        // A file holds one CA, mostly: grown from nothing, the vectors of a hundred CAs
        // were copied to larger ones several times, fresh pages each at a cold start.
        let root_files = under(files, "ca/root/").count();
        let intermediate_files = under(files, "ca/intermediate/").count();
        let mut roots = Vec::with_capacity(root_files);
        let mut anchors = Vec::with_capacity(root_files);
        let mut anchor_info = Vec::with_capacity(root_files);
        let mut intermediates = Intermediates::with_capacity(intermediate_files);
        let mut cas: Vec<CaRecord> = Vec::with_capacity(root_files);
        let mut boundaries = Vec::with_capacity(2 * root_files);
        let mut revocations = RevocationIndex::new(checks);
        let mut seen = SeenDer::default();

        for file in under(files, "ca/") {
            if !file.path.starts_with("ca/root/") && !file.path.starts_with("ca/intermediate/") {
                loader.push(
                    &file.path,
                    Severity::Warning,
                    DiagnosticKind::Ignored,
                    "ignored: CA certificates go under ca/root/ (trusted roots) or ca/intermediate/"
                        .into(),
                );
            }
        }

        for file in under(files, "ca/root/") {
            for (number, label, der) in loader.ca_ders(file) {
                if seen.is_repeat(roots.iter().map(|root: &Arc<Certificate>| root.der()), &der) {
                    continue; // the same root twice
                }
                let Some((cert, f)) = loader.decoded(&file.path, number, &label, &der) else {
                    continue;
                };
                // Borrowed: the anchor copies what it keeps, the certificate holds the DER.
                let der = CertificateDer::from(cert.der());
                let anchor = match webpki::anchor_from_trusted_cert(&der) {
                    Ok(anchor) => anchor.to_owned(),
                    Err(e) => {
                        loader.unusable(&file.path, &label, e);
                        continue;
                    }
                };
                // webpki reads only a trust anchor's name, key and nameConstraints (RFC
                // 5280 §6.2 allows it), so it would anchor a root whose critical extension
                // it does not know; .NET refuses such a chain, and webpki refuses such an
                // intermediate. A root is held to the intermediates' rule.
                if let Err(e @ webpki::Error::UnsupportedCriticalExtension) =
                    webpki::EndEntityCert::try_from(&der)
                {
                    loader.unusable(&file.path, &label, e);
                    continue;
                }
                if !f.is_ca {
                    if !f.self_signed {
                        loader.push(
                            &file.path,
                            Severity::Error,
                            DiagnosticKind::NotACa,
                            format!(
                                "{label}{} is a leaf (not a CA) and not self-signed: it cannot be a root; ignored. \
                                 Upload its issuing CA here, or put it under certificates/ to match it by thumbprint",
                                f.subject
                            ),
                        );
                        continue;
                    }
                    loader.push(
                        &file.path,
                        Severity::Warning,
                        DiagnosticKind::NotACa,
                        format!(
                            "{label}{} is a leaf (not a CA): it is trusted only as itself (a self-signed client \
                             certificate), never as the issuer of other certificates",
                            f.subject
                        ),
                    );
                }
                loader.validity_warnings(&file.path, &label, &f, now);
                let spki = webpki::spki_for_anchor(&anchor);
                let key = CaKey::new(anchor.subject.as_ref(), spki.as_ref());
                if f.is_ca {
                    revocations.add_ca(key, &file.path, &f.subject);
                    cas.push(CaRecord {
                        path: file.path.clone(),
                        subject: anchor.subject.as_ref().to_vec(),
                        candidate: Candidate {
                            key,
                            spki: spki.as_ref().to_vec(),
                            display: f.subject.clone(),
                            crl_signer: f.crl_signer,
                        },
                    });
                }
                boundaries.extend([f.not_before, f.not_after.saturating_add(1)]);
                anchor_info.push(AnchorInfo {
                    key,
                    is_ca: f.is_ca,
                    path_len: f.path_len,
                    not_before: f.not_before,
                    not_after: f.not_after,
                    subject: f.subject,
                });
                anchors.push(anchor);
                roots.push(Arc::new(cert));
            }
        }

        for file in under(files, "ca/intermediate/") {
            for (number, label, der) in loader.ca_ders(file) {
                if seen.is_repeat(intermediates.iter().map(|held| held.der.as_slice()), &der) {
                    continue;
                }
                // Read by webpki for its names only; checked now or when a chain first
                // reaches its name. One webpki cannot read is checked now, for the
                // diagnostic that says why.
                let names = webpki::EndEntityCert::try_from(&CertificateDer::from(der.as_slice()))
                    .map(|parsed| {
                        (
                            Box::<[u8]>::from(parsed.subject()),
                            Box::<[u8]>::from(parsed.issuer()),
                        )
                    });
                let Ok((subject, issuer)) = names else {
                    loader
                        .diagnostics
                        .extend(Loader::examine(&file.path, number, &label, &der, now).diagnostics);
                    continue;
                };
                let index = intermediates.hold(&file.path, number, label, der, &subject, &issuer);
                if checks == Checks::Now {
                    loader.check_at_load(&intermediates, index, now, &mut revocations);
                }
            }
        }

        for file in under(files, "crl/") {
            for blob in loader.crl_blobs(file) {
                loader.load_crl(
                    &file.path,
                    &blob,
                    (&cas, &intermediates),
                    &mut revocations,
                    now,
                );
            }
        }
        // Checked on first use, a CA that a CRL names has one until that CRL turns out
        // bad; then the warning is logged (see RevocationIndex::get).
        let has_crl = |ca: &CaKey| match checks {
            Checks::Now => revocations.has_valid_crl(ca),
            Checks::OnFirstUse => revocations.is_named(ca),
        };
        // The roots, then the intermediates checked so far (all of them with Checks::Now;
        // those a CRL names otherwise), in load order.
        let roots_checked = cas
            .iter()
            .map(|ca| (&ca.path, &ca.candidate.key, ca.candidate.display.as_str()));
        let intermediates_checked = intermediates.iter().filter_map(|held| {
            let usable = held.usable_yet()?;
            Some((&held.path, &usable.key, usable.cert.subject()))
        });
        for (path, _, display) in roots_checked
            .chain(intermediates_checked)
            .filter(|(_, key, _)| !has_crl(key))
        {
            loader.diagnostics.push(crl::missing_crl(path, display));
        }

        boundaries.extend(revocations.next_updates());
        boundaries.sort_unstable();
        boundaries.dedup();

        let store = Self {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            roots,
            intermediates,
            anchors,
            anchor_info,
            revocations,
            boundaries,
            loaded_at: now,
            uploaded: Arc::default(),
        };
        (store, loader.diagnostics)
    }

    /// The diagnostics of the checks made on first use so far ([`Checks::OnFirstUse`]):
    /// of intermediates, then of CRLs, then of uploaded certificates, each as
    /// [`TrustStore::from_files`] would have returned it, and logged when made.
    pub fn checked_on_first_use(&self) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self
            .intermediates
            .iter()
            .filter_map(Held::checked_yet)
            .filter(|checked| checked.on_first_use)
            .flat_map(|checked| checked.diagnostics.iter().cloned())
            .collect();
        diagnostics.extend(self.revocations.checked_on_first_use());
        diagnostics.extend(self.uploaded.failed_on_first_read().into_iter().map(
            |(path, error)| Diagnostic {
                path: path.to_owned(),
                severity: Severity::Error,
                kind: DiagnosticKind::NotACertificate,
                message: format!("{error}; ignored"),
            },
        ));
        diagnostics
    }

    /// Unique per built store in this process: a cache keyed by it never serves a
    /// verdict computed against another store.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `context.Deployment.Certificates`, shared: a certificate decoded on first use is
    /// decoded once for every holder of the store.
    pub fn uploaded(&self) -> &Arc<UploadedCertificates> {
        &self.uploaded
    }

    /// The trusted roots (`ca/root/`), in load order.
    pub fn roots(&self) -> &[Arc<Certificate>] {
        &self.roots
    }

    /// The intermediates of the store (`ca/intermediate/`) that may issue certificates,
    /// in load order. Those not checked yet ([`Checks::OnFirstUse`]) are checked now.
    pub fn intermediates(&self) -> Vec<Arc<Certificate>> {
        (0..self.intermediates.len())
            .filter_map(|i| self.intermediate(i))
            .map(|usable| Arc::clone(&usable.cert))
            .collect()
    }

    /// [`TrustStore::intermediates`] checked so far: all of them with [`Checks::Now`].
    pub fn intermediates_checked(&self) -> Vec<Arc<Certificate>> {
        self.intermediates
            .iter()
            .filter_map(Held::usable_yet)
            .map(|usable| Arc::clone(&usable.cert))
            .collect()
    }

    /// The intermediates named as `cert`'s issuer (by the Name's bytes, as path building
    /// matches them) that may issue certificates; whether one signed it is for the
    /// caller to check. `None` when webpki cannot read `cert`'s names.
    pub fn intermediates_named_as_issuer_of(
        &self,
        cert: &Certificate,
    ) -> Option<Vec<Arc<Certificate>>> {
        let der = CertificateDer::from(cert.der());
        let parsed = webpki::EndEntityCert::try_from(&der).ok()?;
        let named = self.intermediates.named(parsed.issuer());
        let usable = named.iter().filter_map(|&i| self.intermediate(i));
        Some(usable.map(|usable| Arc::clone(&usable.cert)).collect())
    }

    /// The `index`-th intermediate if it may issue certificates, checked now if it was
    /// not yet: its diagnostics, its missing CRL included, are logged then and kept for
    /// [`TrustStore::checked_on_first_use`].
    pub(crate) fn intermediate(&self, index: usize) -> Option<&Usable> {
        let held = self.intermediates.get(index)?;
        let checked = held.checked(|held| {
            let mut checked = Loader::examine(
                &held.path,
                held.number,
                &held.label,
                &held.der,
                self.loaded_at,
            );
            if let Some(usable) = &checked.usable
                && !self.revocations.is_named(&usable.key)
            {
                checked
                    .diagnostics
                    .push(crl::missing_crl(&held.path, usable.cert.subject()));
            }
            for diagnostic in &checked.diagnostics {
                diagnostic.log(&diagnostic.message);
            }
            checked.on_first_use = true;
            checked
        });
        checked.usable.as_ref()
    }
}

/// The files under `prefix`, without hidden ones (a path segment starting with `.`).
fn under<'a>(
    files: &'a [SourceFile],
    prefix: &'static str,
) -> impl Iterator<Item = &'a SourceFile> {
    files
        .iter()
        .filter(move |f| f.path.starts_with(prefix) && !hidden(&f.path))
}

/// Whether a segment of `path` starts with `.`: a dot at its start or after a `/`.
/// Found from the dots (usually one, the extension's) rather than by splitting
/// it into segments: 230,000 instructions of a cold start of 1,120 files.
fn hidden(path: &str) -> bool {
    let bytes = path.as_bytes();
    memchr::memchr_iter(b'.', bytes).any(|at| at == 0 || bytes[at - 1] == b'/')
}

/// How uploaded certificates kept for their first read keep their files. The files of a
/// bundle are slices of the one object read, and a slice keeps the whole object alive:
/// worth it (no copy, no fresh pages at a cold start) while the certificates are at
/// least half of the deployment, not when a large CRL would stay in memory for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sharing {
    Slices,
    Copies,
}

impl Sharing {
    fn of(uploaded: &[&SourceFile], all: &[SourceFile]) -> Self {
        let uploaded: usize = uploaded.iter().map(|file| file.bytes.len()).sum();
        let all: usize = all.iter().map(|file| file.bytes.len()).sum();
        if uploaded.saturating_mul(2) >= all {
            Self::Slices
        } else {
            Self::Copies
        }
    }
}

/// Uploaded certificates to decode at or above this many are checked on a second
/// thread.
const PARALLEL_UPLOADED: usize = 64;

/// Whether loading `uploaded` is worth a thread of its own: only for enough certificates
/// to decode. Those whose SHA-1 the bundle states are only indexed (with
/// [`Checks::OnFirstUse`]), which costs less than starting a thread; that is a Lambda
/// cold start's case, where a fraction of a core has no second one to give.
fn on_second_thread(uploaded: &[&SourceFile], checks: Checks) -> bool {
    let to_decode = uploaded
        .iter()
        .filter(|file| checks == Checks::Now || file.stated_sha1.is_none())
        .count();
    to_decode >= PARALLEL_UPLOADED
}

/// `certificates/<id>.*`: each checked now and decoded on first use (see
/// [`UploadedCertificates`]), or with [`Checks::OnFirstUse`] both on first use but for
/// the form of the file (PEM, base64) and files of several certificates, and not even
/// that for a file whose SHA-1 its bundle states; with the diagnostics of the files
/// that were ignored.
fn load_uploaded(
    files: &[&SourceFile],
    checks: Checks,
    sharing: Sharing,
) -> (UploadedCertificates, Vec<Diagnostic>) {
    let mut loader = Loader::default();
    let mut uploads = Vec::with_capacity(files.len());
    for file in files {
        let name = &file.path["certificates/".len()..];
        // certificates/<id>.key is the private key of an uploaded certificate, for
        // authentication-certificate to a backend; the gateway reads it.
        if name.ends_with(".key") && !name.contains('/') {
            continue;
        }
        if name.contains('/') {
            loader.push(
                &file.path,
                Severity::Warning,
                DiagnosticKind::Ignored,
                "ignored: uploaded certificates must be directly under certificates/ (certificates/<id>.pem)"
                    .into(),
            );
            continue;
        }
        // memrchr: `rfind('.')` compares each candidate with a call to memcmp, half a
        // percent of a cold start's CPU for a thousand certificates.
        let id = match memchr::memrchr(b'.', name.as_bytes()) {
            Some(dot) if dot > 0 => &name[..dot],
            _ => name,
        };
        if checks == Checks::OnFirstUse
            && let Some(sha1) = file.stated_sha1
        {
            let bytes = match sharing {
                Sharing::Slices => file.bytes.clone(),
                Sharing::Copies => Bytes::copy_from_slice(&file.bytes),
            };
            uploads.push(Upload::stated(id, &file.path, bytes, sha1));
            continue;
        }
        if checks == Checks::OnFirstUse {
            let mut ders = loader.found(file, split_chain(&file.bytes));
            if ders.is_empty() {
                uploads.push(Upload::refused(id, &file.path));
                continue;
            }
            // A file of several certificates is checked now: all of them, as
            // Certificates[id] reads only the first.
            if ders.len() == 1 {
                if let Some(der) = ders.pop() {
                    uploads.push(Upload::unchecked(id, &file.path, der));
                }
                continue;
            }
        }
        // Checked now, decoded on first use (see UploadedCertificates).
        let certs = loader.found(file, check_chain(&file.bytes));
        if certs.is_empty() {
            uploads.push(Upload::refused(id, &file.path));
            continue;
        }
        if certs.len() > 1 {
            loader.push(
                &file.path,
                Severity::Warning,
                DiagnosticKind::Ignored,
                format!(
                    "holds {} certificates; only the first is Certificates[\"{id}\"]",
                    certs.len()
                ),
            );
        }
        if let Some(first) = certs.into_iter().next() {
            uploads.push(Upload::checked(id, &file.path, first));
        }
    }
    let uploaded = UploadedCertificates::from_uploads_replacing(uploads, |id, path, previous| {
        loader.replaced(id, path, previous);
    });
    // The sort reports replacements in id order, after the rest: in path order, as the
    // files come (sorted, from a folder or a bundle), each file's diagnostics are together.
    loader.diagnostics.sort_by(|a, b| a.path.cmp(&b.path));
    (uploaded, loader.diagnostics)
}

impl Loader {
    /// `path` holds the uploaded certificate `id` that `previous` held too.
    fn replaced(&mut self, id: &str, path: &str, previous: &str) {
        self.push(
            path,
            Severity::Warning,
            DiagnosticKind::Ignored,
            format!("id \"{id}\" is also used by {previous}; this file replaces it"),
        );
    }

    /// The certificates of a `ca/` file, none decoded yet: each with its number among
    /// the file's certificates and a label naming it in messages when the file holds
    /// several. One that does not decode is found when it is decoded, and only it is
    /// ignored then.
    fn ca_ders(&mut self, file: &SourceFile) -> Vec<(usize, String, Vec<u8>)> {
        // A CA bundle may hold more certificates than a client chain: its PEM blocks are
        // then read one by one, and its certificates always carry their numbers, as the
        // messages about its broken blocks do.
        let (found, bundle) = match split_chain(&file.bytes) {
            Err(CertError::ChainTooLong { .. } | CertError::InputTooLarge { .. }) => {
                (Ok(self.pem_bundle(file)), true)
            }
            found => (found.map(|ders| (1..).zip(ders).collect()), false),
        };
        let ders = self.found(file, found);
        let many = bundle || ders.len() > 1;
        ders.into_iter()
            .map(|(n, der)| {
                let label = if many {
                    format!("certificate #{n}: ")
                } else {
                    String::new()
                };
                (n, label, der)
            })
            .collect()
    }

    /// The `number`-th certificate of the `ca/` file at `path` decoded, with its facts;
    /// `None`, and a diagnostic, when it does not decode or its CA constraints are
    /// malformed.
    fn decoded(
        &mut self,
        path: &str,
        number: usize,
        label: &str,
        der: &[u8],
    ) -> Option<(Certificate, CertFacts)> {
        let cert = match Certificate::decode(der.to_vec(), number) {
            Ok(cert) => cert,
            Err(e) => {
                // The error names the certificate by its number already.
                let message = format!("{e}; ignored");
                self.push(
                    path,
                    Severity::Error,
                    DiagnosticKind::NotACertificate,
                    message,
                );
                return None;
            }
        };
        match facts(&cert) {
            Ok(f) => Some((cert, f)),
            Err(e) => {
                self.push(
                    path,
                    Severity::Error,
                    DiagnosticKind::NotACertificate,
                    format!("{label}unparsable certificate ({e}); ignored"),
                );
                None
            }
        }
    }

    /// A CA certificate that decoded but that webpki refuses.
    fn unusable(&mut self, path: &str, label: &str, error: webpki::Error) {
        self.push(
            path,
            Severity::Error,
            DiagnosticKind::NotACertificate,
            format!("{label}the verifier cannot use this certificate ({error:?}); ignored"),
        );
    }

    /// What a decoder found in `file`; none, with a diagnostic saying why, when it
    /// found nothing or failed.
    fn found<T>(&mut self, file: &SourceFile, found: Result<Vec<T>, CertError>) -> Vec<T> {
        let why = match found {
            Ok(certs) if !certs.is_empty() => return certs,
            Ok(_) => "no certificate in this file; ignored".to_owned(),
            Err(e) => format!("{e}; ignored"),
        };
        self.push(
            &file.path,
            Severity::Error,
            DiagnosticKind::NotACertificate,
            why,
        );
        Vec::new()
    }

    /// The DER of each certificate of a PEM bundle too large for [`split_chain`], with
    /// its number among the file's certificate blocks (a broken block counted too, as it
    /// may be one): every message about the file then names a block by one count.
    fn pem_bundle(&mut self, file: &SourceFile) -> Vec<(usize, Vec<u8>)> {
        let mut certs = Vec::new();
        let blocks = PemBlocks(&file.bytes)
            .filter(|block| block.as_ref().map_or(true, |block| block.is_certificate()));
        for (n, block) in (1..).zip(blocks) {
            let decoded = block.and_then(|block| block.decode());
            match decoded {
                Ok(cert) => certs.push((n, cert)),
                Err(e) => self.push(
                    &file.path,
                    Severity::Error,
                    DiagnosticKind::NotACertificate,
                    format!("certificate #{n}: {e}; ignored"),
                ),
            }
        }
        certs
    }

    fn validity_warnings(&mut self, path: &str, label: &str, f: &CertFacts, now: i64) {
        if now > f.not_after {
            self.push(
                path,
                Severity::Warning,
                DiagnosticKind::ExpiredCa,
                format!(
                    "{label}{} expired at {}: every chain through it is invalid (Expired); deploy its renewed certificate",
                    f.subject,
                    crate::text::rfc3339(f.not_after)
                ),
            );
        } else if now < f.not_before {
            self.push(
                path,
                Severity::Warning,
                DiagnosticKind::NotYetValidCa,
                format!(
                    "{label}{} is not valid before {}: chains through it are invalid (NotYetValid) until then",
                    f.subject,
                    crate::text::rfc3339(f.not_before)
                ),
            );
        }
    }

    /// The DER CRLs in a `crl/` file ([`crl::crls_in_file`]); none, and a diagnostic,
    /// when its PEM is broken or holds no CRL.
    fn crl_blobs(&mut self, file: &SourceFile) -> Vec<Bytes> {
        crl::crls_in_file(&file.bytes).unwrap_or_else(|e| {
            self.push(
                &file.path,
                Severity::Error,
                DiagnosticKind::CrlUnusable,
                format!("{e}; ignored"),
            );
            Vec::new()
        })
    }

    /// Checks an intermediate now: at load, it joins the CAs CRLs are matched with;
    /// nothing when it was checked already.
    fn check_at_load(
        &mut self,
        intermediates: &Intermediates,
        index: usize,
        now: i64,
        revocations: &mut RevocationIndex,
    ) {
        let Some(held) = intermediates.get(index) else {
            return;
        };
        let mut made = false;
        let checked = held.checked(|held| {
            made = true;
            Self::examine(&held.path, held.number, &held.label, &held.der, now)
        });
        if made {
            self.diagnostics.extend_from_slice(&checked.diagnostics);
            if let Some(usable) = &checked.usable {
                revocations.add_ca(usable.key, &held.path, usable.cert.subject());
            }
        }
    }

    /// Every check of an intermediate (the `number`-th certificate of the file at
    /// `path`), made once: at load, or when a chain first reaches its name.
    fn examine(path: &str, number: usize, label: &str, der: &[u8], now: i64) -> Checked {
        let mut loader = Self::default();
        let usable = loader.intermediate(path, number, label, der, now);
        Checked {
            usable,
            diagnostics: loader.diagnostics,
            on_first_use: false,
        }
    }

    fn intermediate(
        &mut self,
        path: &str,
        number: usize,
        label: &str,
        der: &[u8],
        now: i64,
    ) -> Option<Usable> {
        let (cert, f) = self.decoded(path, number, label, der)?;
        if !f.is_ca {
            self.push(
                path,
                Severity::Error,
                DiagnosticKind::NotACa,
                format!(
                    "{label}{} is a leaf (not a CA): it cannot issue certificates; ignored. \
                     Put client certificates under certificates/",
                    f.subject
                ),
            );
            return None;
        }
        let (subject, spki) = match webpki::EndEntityCert::try_from(&CertificateDer::from(der)) {
            Ok(parsed) => (
                parsed.subject().to_vec(),
                parsed.subject_public_key_info().as_ref().to_vec(),
            ),
            Err(e) => {
                self.unusable(path, label, e);
                return None;
            }
        };
        if f.self_signed {
            self.push(
                path,
                Severity::Warning,
                DiagnosticKind::SelfSignedIntermediate,
                format!(
                    "{label}{} is self-signed: under ca/intermediate it is never trusted as a root; \
                     move it to ca/root to trust it",
                    f.subject
                ),
            );
        }
        self.validity_warnings(path, label, &f, now);
        Some(Usable {
            key: CaKey::new(&subject, &spki),
            spki,
            crl_signer: f.crl_signer,
            not_before: f.not_before,
            not_after: f.not_after,
            cert: Arc::new(cert),
        })
    }

    /// Adds a CRL to `index`, matched by its issuer's name with the roots (`cas`) and
    /// the intermediates, those of that name checked now if they were not yet.
    fn load_crl(
        &mut self,
        path: &str,
        blob: &[u8],
        (cas, intermediates): (&[CaRecord], &Intermediates),
        index: &mut RevocationIndex,
        now: i64,
    ) {
        let parsed = match crl::parse(blob) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.push(
                    path,
                    Severity::Error,
                    DiagnosticKind::CrlUnusable,
                    format!("{e}; ignored"),
                );
                return;
            }
        };
        let mut candidates: Vec<Candidate> = cas
            .iter()
            .filter(|ca| ca.subject == parsed.issuer)
            .map(|ca| ca.candidate.clone())
            .collect();
        for &i in intermediates.named(parsed.issuer) {
            self.check_at_load(intermediates, i, now, index);
            if let Some(usable) = intermediates.get(i).and_then(Held::usable_yet) {
                candidates.push(Candidate {
                    key: usable.key,
                    spki: usable.spki.clone(),
                    display: usable.cert.subject().to_owned(),
                    crl_signer: usable.crl_signer,
                });
            }
        }
        if candidates.is_empty() {
            self.push(
                path,
                Severity::Error,
                DiagnosticKind::CrlIssuerUnknown,
                format!(
                    "issued by {}, which is not a CA in ca/root or ca/intermediate; ignored. Upload the issuing CA",
                    parsed.issuer_display
                ),
            );
            return;
        }
        let checked = index.add(&parsed, blob, path, candidates, now);
        self.diagnostics.extend(checked);
    }
}

/// The DERs of a load's CAs, hashed: a CA that comes twice is held once, and a thousand
/// intermediates are not compared with each other pairwise to find out.
#[derive(Default)]
struct SeenDer(std::collections::HashSet<u64, foldhash::fast::RandomState>);

impl SeenDer {
    /// Whether `der` is one of `held`'s, remembering it if not. Only a hash seen before
    /// compares DERs: two that share a hash are not taken for one.
    fn is_repeat<'a>(&mut self, mut held: impl Iterator<Item = &'a [u8]>, der: &[u8]) -> bool {
        use std::hash::BuildHasher as _;
        let hash = self.0.hasher().hash_one(der);
        !self.0.insert(hash) && held.any(|held| held == der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::decode_chain;

    #[test]
    fn a_path_is_hidden_when_a_segment_starts_with_a_dot() {
        for path in [
            ".git",
            "ca/.root/a.pem",
            "ca/root/.a.pem",
            "certificates/./x",
            "x/..",
            "a//.b",
            "é/.x",
        ] {
            assert!(hidden(path), "{path}");
        }
        for path in [
            "ca/root/a.pem",
            "certificates/a.b.pem",
            "a./b",
            "",
            "ca/root/a.",
            "a/",
            "é.x/y",
        ] {
            assert!(!hidden(path), "{path}");
        }
    }

    /// A bundle's files as slices of one object: `files` laid end to end.
    fn bundle_slices(files: &[(&str, Vec<u8>)]) -> (Bytes, Vec<SourceFile>) {
        let object = Bytes::from(
            files
                .iter()
                .flat_map(|(_, bytes)| bytes.clone())
                .collect::<Vec<u8>>(),
        );
        let mut at = 0;
        let sliced = files
            .iter()
            .map(|(path, bytes)| {
                let file = SourceFile {
                    bytes: object.slice(at..at + bytes.len()),
                    stated_sha1: crate::cert::sha1_of_single(bytes),
                    ..SourceFile::new(*path, Vec::new())
                };
                at += bytes.len();
                file
            })
            .collect();
        (object, sliced)
    }

    /// A second thread decodes many uploaded certificates; those a bundle states the
    /// SHA-1 of are indexed inline unless they are to be checked now.
    #[test]
    fn only_certificates_to_decode_take_a_second_thread() {
        let files = |count: usize, stated: usize| -> Vec<SourceFile> {
            (0..count)
                .map(|i| SourceFile {
                    stated_sha1: (i < stated).then_some([7; 20]),
                    ..SourceFile::new(format!("certificates/c{i}.pem"), Vec::new())
                })
                .collect()
        };
        let decide = |files: &[SourceFile], checks| {
            on_second_thread(&files.iter().collect::<Vec<_>>(), checks)
        };
        let stated = files(1000, 1000);
        assert!(!decide(&stated, Checks::OnFirstUse));
        assert!(decide(&stated, Checks::Now));
        let from_a_folder = files(PARALLEL_UPLOADED, 0);
        assert!(decide(&from_a_folder, Checks::OnFirstUse));
        assert!(!decide(&from_a_folder[1..], Checks::OnFirstUse));
        let mixed = files(1000, 1000 - PARALLEL_UPLOADED);
        assert!(decide(&mixed, Checks::OnFirstUse));
        assert!(!decide(&mixed[..999], Checks::OnFirstUse));
    }

    fn certificate_pem() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(vec!["partner.example".to_owned()]).expect("params");
        params
            .self_signed(&key)
            .expect("certificate")
            .pem()
            .into_bytes()
    }

    /// A CA in two files is held once, as a root or as an intermediate; distinct ones
    /// are all held.
    #[test]
    fn a_ca_that_comes_twice_is_held_once() {
        let ca = |name: &str| {
            let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            (params, rcgen::KeyPair::generate().expect("key"))
        };
        let (params, key) = ca("root");
        let root_cert = params.self_signed(&key).expect("certificate");
        let root = rcgen::Issuer::new(params, key);
        let intermediate = |name: &str| {
            let (params, key) = ca(name);
            params.signed_by(&key, &root).expect("signed").pem()
        };
        let (one, two) = (intermediate("one"), intermediate("two"));
        let files: Vec<SourceFile> = [
            ("ca/root/a.pem", root_cert.pem()),
            ("ca/root/b.pem", root_cert.pem()),
            ("ca/intermediate/one.pem", one.clone()),
            ("ca/intermediate/one-again.pem", one),
            ("ca/intermediate/two.pem", two),
        ]
        .into_iter()
        .map(|(path, pem)| SourceFile::new(path, pem.into_bytes()))
        .collect();
        let (store, _) =
            TrustStore::from_files_with(&files, OffsetDateTime::now_utc(), Checks::Now);
        assert_eq!(store.roots.len(), 1);
        assert_eq!(store.intermediates.len(), 2);
    }

    /// How uploaded certificates are checked: at load, on first read, and on first read
    /// under the SHA-1s a bundle states (`true`).
    const CHECK_MODES: [(Checks, bool); 3] = [
        (Checks::Now, false),
        (Checks::OnFirstUse, false),
        (Checks::OnFirstUse, true),
    ];

    /// `named` as files; with `stated`, each that holds one certificate states its SHA-1,
    /// as `trust push` writes it.
    fn uploaded_files(named: &[(&str, &Vec<u8>)], stated: bool) -> Vec<SourceFile> {
        named
            .iter()
            .map(|(path, content)| SourceFile {
                stated_sha1: stated
                    .then(|| crate::cert::sha1_of_single(content))
                    .flatten(),
                ..SourceFile::new(*path, content.to_vec())
            })
            .collect()
    }

    fn thumbprint(pem: &[u8]) -> String {
        decode_chain(pem).expect("pem")[0].thumbprint().to_owned()
    }

    /// A later file for an id replaces the earlier one, with a warning on the later
    /// file naming the earlier, whether the certificates are checked now, on first
    /// read, or only indexed by the SHA-1 their bundle states; the warnings in path order.
    #[test]
    fn a_later_file_for_an_id_replaces_the_earlier_and_says_so() {
        let pems: Vec<Vec<u8>> = (0..4).map(|_| certificate_pem()).collect();
        // b.pem holds two certificates: checked at load in every mode, never stated.
        let two = [pems[2].clone(), pems[0].clone()].concat();
        let named = [
            ("certificates/a.cer", &pems[0]),
            ("certificates/a.pem", &pems[1]),
            ("certificates/b.pem", &two),
            ("certificates/a.txt", &pems[3]),
        ];
        for (checks, stated) in CHECK_MODES {
            let files = uploaded_files(&named, stated);
            let (store, diagnostics) =
                TrustStore::from_files_with(&files, OffsetDateTime::now_utc(), checks);
            let replaced: Vec<(&str, &str)> = diagnostics
                .iter()
                .filter(|d| d.kind == DiagnosticKind::Ignored)
                .map(|d| (d.path.as_str(), d.message.as_str()))
                .collect();
            assert_eq!(
                replaced,
                [
                    (
                        "certificates/a.pem",
                        "id \"a\" is also used by certificates/a.cer; this file replaces it"
                    ),
                    (
                        "certificates/a.txt",
                        "id \"a\" is also used by certificates/a.pem; this file replaces it"
                    ),
                    (
                        "certificates/b.pem",
                        "holds 2 certificates; only the first is Certificates[\"b\"]"
                    ),
                ],
                "{checks:?}, stated {stated}"
            );
            let uploaded = store.uploaded();
            assert_eq!(uploaded.len(), 2);
            let held = |id| uploaded.get(id).expect(id).thumbprint().to_owned();
            assert_eq!(
                held("a"),
                thumbprint(&pems[3]),
                "{checks:?}, stated {stated}"
            );
            assert_eq!(held("b"), thumbprint(&pems[2]));
        }
    }

    /// A later file for an id that holds no certificate replaces the earlier one all the
    /// same, so the id reads as not uploaded, whether the files are checked at load or
    /// on first read (from a bundle, with or without stated SHA-1s): which file is
    /// `Certificates[id]` does not depend on when it is checked.
    #[test]
    fn a_later_file_for_an_id_that_holds_no_certificate_leaves_the_id_not_uploaded() {
        let (good_c, good_d) = (certificate_pem(), certificate_pem());
        // Not PEM: refused at load in every mode. A SEQUENCE that is no certificate:
        // refused at load when checked then, else on first read.
        let garbage = b"not a certificate".to_vec();
        let not_a_certificate =
            b"-----BEGIN CERTIFICATE-----\nMAMBAgM=\n-----END CERTIFICATE-----\n".to_vec();
        let named = [
            ("certificates/c.cer", &good_c),
            ("certificates/c.pem", &garbage),
            ("certificates/d.cer", &good_d),
            ("certificates/d.pem", &not_a_certificate),
        ];
        for (checks, stated) in CHECK_MODES {
            let files = uploaded_files(&named, stated);
            let (store, mut diagnostics) =
                TrustStore::from_files_with(&files, OffsetDateTime::now_utc(), checks);
            let uploaded = store.uploaded();
            let mode = format!("{checks:?}, stated {stated}");
            assert!(uploaded.get("c").is_none(), "{mode}");
            assert!(uploaded.get("d").is_none(), "{mode}");
            assert!(
                !uploaded.contains_thumbprint(&thumbprint(&good_c)),
                "{mode}"
            );
            assert!(
                !uploaded.contains_thumbprint(&thumbprint(&good_d)),
                "{mode}"
            );
            assert_eq!(uploaded.len(), 0, "{mode}");
            diagnostics.extend(store.checked_on_first_use());
            let said: Vec<(&str, DiagnosticKind)> = diagnostics
                .iter()
                .map(|d| (d.path.as_str(), d.kind))
                .collect();
            // At load, each file's diagnostics together; a check on first read reports
            // after the load's.
            let (c, d) = ("certificates/c.pem", "certificates/d.pem");
            let (refused, replaced) = (DiagnosticKind::NotACertificate, DiagnosticKind::Ignored);
            let expected = if checks == Checks::Now {
                [(c, refused), (c, replaced), (d, refused), (d, replaced)]
            } else {
                [(c, refused), (c, replaced), (d, replaced), (d, refused)]
            };
            assert_eq!(said, expected, "{mode}: {diagnostics:#?}");
        }
    }

    /// An uploaded certificate kept for its first read shares the bundle object when the
    /// certificates are most of it, and is copied out when a large file (a CRL) would
    /// otherwise stay in memory for it.
    #[test]
    fn uploaded_certificates_share_the_bundle_only_when_they_are_most_of_it() {
        let pem = certificate_pem();
        for (crl_bytes, shares) in [(100, true), (100_000, false)] {
            let (object, files) = bundle_slices(&[
                ("certificates/partner.pem", pem.clone()),
                ("crl/big.crl", vec![0; crl_bytes]),
            ]);
            let (store, _) =
                TrustStore::from_files_with(&files, OffsetDateTime::UNIX_EPOCH, Checks::OnFirstUse);
            let kept = store
                .uploaded()
                .stated_file("partner")
                .expect("kept for its first read");
            assert_eq!(&kept[..], &pem[..]);
            assert_eq!(
                object.as_ptr_range().contains(&kept.as_ptr()),
                shares,
                "{crl_bytes}"
            );
            assert!(store.uploaded().get("partner").is_some());
        }
    }
}
