//! `context.Deployment.Certificates`: uploaded certificates by id, indexed so that the
//! APIM idiom `Certificates.Any(c => c.Value.Thumbprint == x)` is a hash lookup whether
//! 10 or 100,000 certificates are uploaded.
//!
//! A deployment may upload thousands of certificates and a request reads one of them,
//! or none. So loading checks each one ([`check_chain`](super::check_chain): a broken
//! file holds no certificate, with a diagnostic naming the file, and still replaces an
//! earlier file of its id) and hashes it for the thumbprint
//! index, but decodes none: a certificate is decoded when it is first read, and the
//! subject and serial-number indexes (which need every certificate decoded) are built
//! when first asked. Decoding costs several times checking, and most
//! of a cold start went to it. A function's cold start checks none either
//! ([`Upload::unchecked`]): one that does not
//! decode when first read is logged and reads as not uploaded, also to the thumbprint
//! index, as one refused at load does. Read from a deployment bundle that states
//! each certificate's SHA-1, it is not even split out of its PEM or hashed
//! ([`Upload::stated`]): the first read compares
//! the statement with the certificate, and one that differs reads as not uploaded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::{CertError, Certificate, CheckedDer, sha1};

/// A certificate's SHA-1, the bytes its `Thumbprint` spells: the index's key, so that
/// neither loading nor a lookup formats or allocates one.
type Sha1 = [u8; 20];

/// Uploaded certificates keyed by id (the file stem under `certificates/`).
///
/// One vector sorted by id rather than a map, and the thumbprint index as positions in
/// it: a thousand certificates indexed at a cold start cost one allocation each fewer
/// and no second copy of the entries (a `BTreeMap` is built from a sorted copy), and a
/// thumbprint lookup reaches its entry without searching for its id.
#[derive(Debug, Clone, Default)]
pub struct UploadedCertificates {
    /// Sorted by id, one entry per id.
    by_id: Vec<Upload>,
    /// SHA-1 -> the position in `by_id` of the first entry with it. foldhash rather than
    /// SipHash: looked up on every request that compares a thumbprint.
    thumbprints: HashMap<Sha1, u32, foldhash::fast::RandomState>,
    /// For each position in `by_id`, the next one with the same SHA-1 ([`NONE`] for
    /// none): the same certificate uploaded under several ids.
    same_thumbprint: Vec<u32>,
    /// Built on first use.
    names: OnceLock<NameIndex>,
}

#[derive(Debug, Clone, Default)]
struct NameIndex {
    subjects: HashSet<String>,
    serial_numbers: HashSet<String>,
}

#[derive(Debug, Clone)]
enum Entry {
    /// Checked at load, decoded on first read.
    Checked {
        der: CheckedDer,
        thumbprint: Sha1,
        decoded: OnceLock<Option<Arc<Certificate>>>,
    },
    /// Checked and decoded on first read: one that does not decode then reads as not
    /// uploaded, as one refused at load does ([`Entry::Refused`]).
    Unchecked {
        content: Unchecked,
        thumbprint: Sha1,
        /// The error boxed: a thousand entries that decode need no room for one.
        decoded: OnceLock<Result<Arc<Certificate>, Box<CertError>>>,
    },
    /// A file that failed the load's checks (its diagnostic says why). Kept so that it
    /// replaces an earlier file of its id, as one that fails on first read does: which
    /// file is `Certificates[id]` does not depend on when files are checked.
    Refused,
}

/// The end of a [`UploadedCertificates::same_thumbprint`] chain.
const NONE: u32 = u32::MAX;

/// What an unchecked entry holds until its first read.
#[derive(Debug, Clone)]
enum Unchecked {
    /// The DER, split out of its file at load to hash it.
    Der(Vec<u8>),
    /// The file as it is, indexed under the SHA-1 its deployment bundle states: split,
    /// decoded and hashed on first read, where a file that does not hold exactly one
    /// certificate with that SHA-1 reads as not uploaded.
    Stated(Bytes),
}

impl Unchecked {
    fn decode(&self, stated: &Sha1) -> Result<Certificate, CertError> {
        match self {
            Self::Der(der) => Certificate::from_der(der),
            Self::Stated(file) => {
                let [der] = <[Vec<u8>; 1]>::try_from(super::split_chain(file)?)
                    .map_err(|ders| CertError::NotTheStatedOne { count: ders.len() })?;
                let actual = sha1(&der);
                if actual != *stated {
                    return Err(CertError::StatedThumbprintMismatch {
                        stated: crate::text::hex_upper(stated),
                        actual: crate::text::hex_upper(&actual),
                    });
                }
                Certificate::decode(der, 1)
            }
        }
    }
}

impl Entry {
    /// What it is indexed under: nothing for a refused file.
    fn thumbprint(&self) -> Option<Sha1> {
        match self {
            Self::Checked { thumbprint, .. } | Self::Unchecked { thumbprint, .. } => {
                Some(*thumbprint)
            }
            Self::Refused => None,
        }
    }

    /// The certificate, decoded now if this is its first read. `None` only if decoding
    /// failed after the checks passed, which they rule out: the entry then reads as
    /// absent (fail closed) rather than panicking. `path` is the file of an unchecked
    /// entry, for the message when it does not decode.
    fn certificate(&self, id: &str, path: &str) -> Option<&Arc<Certificate>> {
        match self {
            Self::Checked { der, decoded, .. } => decoded
                .get_or_init(|| match der.decode() {
                    Ok(certificate) => Some(Arc::new(certificate)),
                    Err(error) => {
                        tracing::error!(
                            "certificates/{id}: passed the load-time checks but does not decode ({error}); treated as not uploaded"
                        );
                        None
                    }
                })
                .as_ref(),
            Self::Unchecked {
                content,
                thumbprint,
                decoded,
            } => decoded
                .get_or_init(|| {
                    content
                        .decode(thumbprint)
                        .map(Arc::new)
                        .map_err(Box::new)
                        .inspect_err(|error| {
                            tracing::error!(path = %path, kind = "NotACertificate", "{error}; ignored");
                        })
                })
                .as_ref()
                .ok(),
            Self::Refused => None,
        }
    }

    /// The error of an entry whose check on first read failed.
    fn failure(&self) -> Option<&CertError> {
        match self {
            Self::Unchecked { decoded, .. } => decoded.get()?.as_ref().err().map(|e| &**e),
            Self::Checked { .. } | Self::Refused => None,
        }
    }
}

/// One uploaded certificate as a load reads it: what
/// [`UploadedCertificates::from_uploads`] takes and keeps.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file the entry was read from, then the id unless the path holds it
    /// (`certificates/<id>.pem`, the usual case). One allocation rather than two: a cold
    /// start makes a thousand entries, and glibc's malloc took more of it than any other
    /// part of indexing them.
    text: Box<str>,
    /// Where the path ends in `text`.
    path_end: u32,
    /// Where the id is in `text`.
    id: (u32, u32),
    entry: Entry,
}

impl Upload {
    fn id(&self) -> &str {
        let (start, end) = self.id;
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    fn path(&self) -> &str {
        self.text.get(..self.path_end as usize).unwrap_or_default()
    }

    fn certificate(&self) -> Option<&Arc<Certificate>> {
        self.entry.certificate(self.id(), self.path())
    }

    /// Whether it holds a certificate: checked now if it was not yet.
    fn is_valid(&self) -> bool {
        match self.entry {
            Entry::Checked { .. } => true,
            Entry::Unchecked { .. } => self.certificate().is_some(),
            Entry::Refused => false,
        }
    }

    /// The certificate stored under `id`, read from `path` and checked, to be decoded
    /// when first read.
    pub fn checked(id: &str, path: &str, der: CheckedDer) -> Self {
        let thumbprint = sha1(der.der());
        let entry = Entry::Checked {
            der,
            thumbprint,
            decoded: OnceLock::new(),
        };
        Self::located(id, path, entry)
    }

    /// The certificate stored under `id`, read from `path` as `der`, to be checked and
    /// decoded when first read.
    pub fn unchecked(id: &str, path: &str, der: Vec<u8>) -> Self {
        let thumbprint = sha1(&der);
        Self::unread(id, path, Unchecked::Der(der), thumbprint)
    }

    /// The certificate stored under `id`, the one certificate that `file` (read from
    /// `path`) holds, indexed under the SHA-1 its deployment bundle `stated`: read,
    /// checked and compared with that SHA-1 when first read.
    pub fn stated(id: &str, path: &str, file: Bytes, stated: Sha1) -> Self {
        Self::unread(id, path, Unchecked::Stated(file), stated)
    }

    /// A file for `id` at `path` that failed the load's checks: `id` then reads as not
    /// uploaded, whatever an earlier file for it held.
    pub fn refused(id: &str, path: &str) -> Self {
        Self::located(id, path, Entry::Refused)
    }

    fn unread(id: &str, path: &str, content: Unchecked, thumbprint: Sha1) -> Self {
        let entry = Entry::Unchecked {
            content,
            thumbprint,
            decoded: OnceLock::new(),
        };
        Self::located(id, path, entry)
    }

    /// `entry`, stored under `id` and read from `path`.
    fn located(id: &str, path: &str, entry: Entry) -> Self {
        let within = match path.get(PREFIX.len()..PREFIX.len() + id.len()) {
            Some(at) if at == id => Some(PREFIX.len()),
            _ => path.find(id),
        };
        let (text, start) = match within {
            Some(start) => (path.into(), start),
            None => ([path, id].concat().into_boxed_str(), path.len()),
        };
        Self {
            text,
            path_end: offset(path.len()),
            id: (offset(start), offset(start + id.len())),
            entry,
        }
    }
}

/// Where a bundle's uploaded certificates are: their ids follow it.
const PREFIX: &str = "certificates/";

/// A position in an upload's text: its bytes are a path and an id, far below 4 GiB (a
/// bundle's paths are at most 1,024 bytes).
fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

impl UploadedCertificates {
    /// `uploads` as if added one by one in their order (a later upload for an id
    /// replaces an earlier one), built in one pass: inserting a thousand certificates
    /// one by one into the id map was about half of what indexing them cost at a cold
    /// start. Built once per load, never changed after.
    ///
    /// More than `u32::MAX - 1` uploads are not indexed past that many: a deployment of
    /// that size is refused long before, by the bundle's bounds.
    pub fn from_uploads(uploads: Vec<Upload>) -> Self {
        Self::from_uploads_replacing(uploads, |_, _, _| {})
    }

    /// [`UploadedCertificates::from_uploads`], calling `replaced(id, path, previous)`,
    /// in id order, for each upload that replaces an earlier one of its id (`previous`
    /// being the replaced upload's path): the sort finds them, and a map of ids to paths
    /// beside it cost a tenth of indexing a thousand certificates.
    pub(crate) fn from_uploads_replacing(
        mut uploads: Vec<Upload>,
        mut replaced: impl FnMut(&str, &str, &str),
    ) -> Self {
        // A stable sort keeps equal ids in upload order; of each run the last is kept.
        // Bundles list their files sorted, so this mostly finds one run.
        uploads.sort_by(|a, b| a.id().cmp(b.id()));
        uploads.dedup_by(|later, kept| {
            let same = later.id() == kept.id();
            if same {
                replaced(later.id(), later.path(), kept.path());
                std::mem::swap(later, kept);
            }
            same
        });
        uploads.truncate(NONE as usize);
        let mut thumbprints: HashMap<Sha1, u32, _> =
            HashMap::with_capacity_and_hasher(uploads.len(), Default::default());
        let mut same_thumbprint = vec![NONE; uploads.len()];
        // From the last, so that each chain runs in id order.
        for (at, upload) in (0..NONE).zip(&uploads).rev() {
            let Some(thumbprint) = upload.entry.thumbprint() else {
                continue;
            };
            if let Some(next) = thumbprints.insert(thumbprint, at) {
                same_thumbprint[at as usize] = next;
            }
        }
        Self {
            by_id: uploads,
            thumbprints,
            same_thumbprint,
            names: OnceLock::new(),
        }
    }

    /// The entry stored under `id`.
    fn entry(&self, id: &str) -> Option<&Upload> {
        let at = self.by_id.binary_search_by(|u| u.id().cmp(id)).ok()?;
        self.by_id.get(at)
    }

    /// The file kept for the first read of the certificate stored under `id`, if it was
    /// added as [`Upload::stated`].
    #[cfg(test)]
    pub(crate) fn stated_file(&self, id: &str) -> Option<&Bytes> {
        match &self.entry(id)?.entry {
            Entry::Unchecked {
                content: Unchecked::Stated(file),
                ..
            } => Some(file),
            _ => None,
        }
    }

    /// The files whose certificate was checked on first read and does not decode, with
    /// why: what the load reports when it checks them.
    pub fn failed_on_first_read(&self) -> Vec<(&str, &CertError)> {
        self.by_id
            .iter()
            .filter_map(|u| Some((u.path(), u.entry.failure()?)))
            .collect()
    }

    /// `Certificates["id"]`: the certificate uploaded under `id` (ordinal key match).
    pub fn get(&self, id: &str) -> Option<&Arc<Certificate>> {
        self.entry(id).and_then(Upload::certificate)
    }

    /// All entries in id order, as `KeyValuePair<string, X509Certificate2>`. Decodes
    /// the certificates not read yet.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<Certificate>)> {
        self.by_id
            .iter()
            .filter_map(|u| Some((u.id(), u.certificate()?)))
    }

    /// How many certificates are uploaded. Checks those not checked yet (one that does
    /// not decode is not counted).
    pub fn len(&self) -> usize {
        self.by_id.iter().filter(|u| u.is_valid()).count()
    }

    /// Whether no certificate is uploaded: checks entries not checked yet until one
    /// holds a certificate (the first, but for broken ones).
    pub fn is_empty(&self) -> bool {
        !self.by_id.iter().any(Upload::is_valid)
    }

    /// Whether any uploaded certificate has exactly this `Thumbprint` (ordinal). The
    /// certificates that have it are decoded (checked) if they were not yet.
    pub fn contains_thumbprint(&self, thumbprint: &str) -> bool {
        crate::text::unhex_upper(thumbprint).is_some_and(|sha1: Sha1| self.contains_sha1(&sha1))
    }

    /// [`Self::contains_thumbprint`] of the thumbprint that spells `sha1`.
    pub(crate) fn contains_sha1(&self, sha1: &Sha1) -> bool {
        let Some(&first) = self.thumbprints.get(sha1) else {
            return false;
        };
        std::iter::successors(Some(first), |&at| {
            self.same_thumbprint
                .get(at as usize)
                .copied()
                .filter(|&next| next != NONE)
        })
        .any(|at| self.by_id.get(at as usize).is_some_and(Upload::is_valid))
    }

    /// Whether any uploaded certificate has exactly this `Subject` (ordinal). The first
    /// call decodes every certificate.
    pub fn contains_subject(&self, subject: &str) -> bool {
        self.names().subjects.contains(subject)
    }

    /// Whether any uploaded certificate has exactly this `SerialNumber` (ordinal). The
    /// first call decodes every certificate.
    pub fn contains_serial_number(&self, serial_number: &str) -> bool {
        self.names().serial_numbers.contains(serial_number)
    }

    fn names(&self) -> &NameIndex {
        self.names.get_or_init(|| {
            let mut index = NameIndex::default();
            for (_, certificate) in self.iter() {
                index.subjects.insert(certificate.subject().to_owned());
                index
                    .serial_numbers
                    .insert(certificate.serial_number().to_owned());
            }
            index
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(common_name: &str, serial: u8) -> Arc<Certificate> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        params.serial_number = Some(vec![serial].into());
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key).expect("certificate");
        Arc::new(Certificate::from_der(cert.der()).expect("decodes"))
    }

    fn checked(common_name: &str, serial: u8) -> CheckedDer {
        let der = certificate(common_name, serial).der().to_vec();
        let mut checked = crate::cert::check_chain(&der).expect("checks");
        checked.pop().expect("one certificate")
    }

    /// `certificates/<id>.pem` of each (id, DER), unchecked.
    fn unchecked<const N: usize>(ders: [(&str, Vec<u8>); N]) -> UploadedCertificates {
        UploadedCertificates::from_uploads(
            ders.into_iter()
                .map(|(id, der)| Upload::unchecked(id, &format!("certificates/{id}.pem"), der))
                .collect(),
        )
    }

    /// Each (id, certificate) checked, in order.
    fn checked_uploads<const N: usize>(
        certificates: [(&str, &CheckedDer); N],
    ) -> UploadedCertificates {
        UploadedCertificates::from_uploads(
            certificates
                .into_iter()
                .map(|(id, der)| {
                    Upload::checked(id, &format!("certificates/{id}.pem"), der.clone())
                })
                .collect(),
        )
    }

    fn decoded(uploaded: &UploadedCertificates, id: &str) -> bool {
        match &uploaded.entry(id).expect("uploaded").entry {
            Entry::Checked { decoded, .. } => decoded.get().is_some(),
            Entry::Unchecked { decoded, .. } => decoded.get().is_some(),
            Entry::Refused => false,
        }
    }

    /// An entry keeps its id and its file in one allocation, the id found in the path
    /// where it is (`certificates/<id>.pem`) and kept after it where it is not: both read
    /// back whole either way.
    #[test]
    fn ids_and_paths_read_back_whether_or_not_the_path_holds_the_id() {
        let good = certificate("partner", 0x42);
        let broken = good.der()[..20].to_vec();
        let uploaded = UploadedCertificates::from_uploads(vec![
            Upload::unchecked("b", "certificates/b.cer", broken.clone()),
            Upload::unchecked("a", "elsewhere/x.pem", broken),
            Upload::unchecked("certificates", "certificates/c.pem", good.der().to_vec()),
        ]);
        let ids: Vec<&str> = uploaded.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["certificates"]);
        let mut failed: Vec<&str> = uploaded
            .failed_on_first_read()
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        failed.sort_unstable();
        assert_eq!(failed, ["certificates/b.cer", "elsewhere/x.pem"]);
        assert!(uploaded.get("a").is_none() && uploaded.get("b").is_none());
        assert_eq!(
            uploaded.get("certificates").map(|c| c.thumbprint()),
            Some(good.thumbprint())
        );
    }

    /// Unchecked at load, a certificate is checked when first read; one that does not
    /// decode (a truncated DER) reads as not uploaded: not by id, not by thumbprint, not
    /// in the count, and its failure is kept for the report.
    #[test]
    fn unchecked_certificates_are_checked_on_first_read_and_a_broken_one_is_absent() {
        let good = certificate("partner", 0x41);
        let broken = good.der()[..good.der().len() - 10].to_vec();
        let broken_thumbprint = crate::cert::thumbprint(&broken);
        let uploaded = unchecked([("partner", good.der().to_vec()), ("broken", broken)]);
        assert!(!decoded(&uploaded, "partner") && !decoded(&uploaded, "broken"));
        assert!(uploaded.failed_on_first_read().is_empty());

        assert!(uploaded.contains_thumbprint(good.thumbprint()));
        assert!(decoded(&uploaded, "partner") && !decoded(&uploaded, "broken"));
        assert!(!uploaded.contains_thumbprint(&broken_thumbprint));
        assert!(uploaded.get("broken").is_none());
        let failed = uploaded.failed_on_first_read();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "certificates/broken.pem");
        assert!(
            matches!(failed[0].1, CertError::TruncatedDer { .. }),
            "{:?}",
            failed[0].1
        );
        assert_eq!(uploaded.len(), 1);
        let ids: Vec<&str> = uploaded.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["partner"]);

        // Empty is "no certificate", not "no entry", and asking checks only until one
        // is found.
        assert!(unchecked([("broken", vec![0x30, 0x03])]).is_empty());
        let fresh = unchecked([("a", good.der().to_vec()), ("b", good.der().to_vec())]);
        assert!(!fresh.is_empty());
        assert!(decoded(&fresh, "a") && !decoded(&fresh, "b"));
    }

    #[test]
    fn lookups_find_uploaded_certificates_by_exact_strings() {
        let der = checked("partner", 0x11);
        let thumbprint = der.thumbprint();
        let uploaded = checked_uploads([("partner", &der)]);
        assert_eq!(uploaded.len(), 1);
        assert!(uploaded.contains_thumbprint(&thumbprint));
        assert!(!uploaded.contains_thumbprint(&thumbprint.to_lowercase()));
        assert!(uploaded.contains_subject("CN=partner"));
        assert!(uploaded.contains_serial_number("11"));
        assert_eq!(
            uploaded.get("partner").map(|c| c.thumbprint()),
            Some(thumbprint.as_str())
        );
    }

    #[test]
    fn replacing_a_certificate_forgets_the_old_one_unless_another_id_holds_it() {
        let (old, new, newer) = (
            checked("old", 0x01),
            checked("new", 0x02),
            checked("newer", 0x03),
        );
        let uploaded = checked_uploads([("a", &old), ("b", &old), ("a", &new)]);
        assert!(
            uploaded.contains_thumbprint(&old.thumbprint()),
            "still under b"
        );
        let uploaded = checked_uploads([("a", &old), ("b", &old), ("a", &new), ("b", &newer)]);
        assert!(!uploaded.contains_thumbprint(&old.thumbprint()));
        assert!(!uploaded.contains_subject("CN=old"));
        assert!(!uploaded.contains_serial_number("01"));
        assert!(uploaded.contains_subject("CN=new"));
        let ids: Vec<&str> = uploaded.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn checked_certificates_are_found_by_thumbprint_without_being_decoded() {
        let der = checked("partner", 0x21);
        let thumbprint = der.thumbprint();
        let uploaded = checked_uploads([("partner", &der)]);
        assert!(uploaded.contains_thumbprint(&thumbprint));
        assert!(!uploaded.contains_thumbprint(&thumbprint.to_lowercase()));
        assert_eq!(uploaded.len(), 1);
        assert!(!decoded(&uploaded, "partner"));

        let certificate = uploaded.get("partner").expect("uploaded");
        assert_eq!(certificate.thumbprint(), thumbprint);
        assert_eq!(certificate.subject(), "CN=partner");
        assert!(decoded(&uploaded, "partner"));
    }

    #[test]
    fn the_first_subject_or_serial_lookup_decodes_every_certificate() {
        let uploaded = checked_uploads([
            ("a", &checked("alpha", 0x31)),
            ("b", &checked("beta", 0x32)),
        ]);
        assert!(!decoded(&uploaded, "a") && !decoded(&uploaded, "b"));
        assert!(uploaded.contains_subject("CN=beta"));
        assert!(decoded(&uploaded, "a") && decoded(&uploaded, "b"));
        assert!(uploaded.contains_serial_number("31"));
        assert!(!uploaded.contains_subject("CN=gamma"));
        assert!(!uploaded.contains_serial_number("33"));
        let ids: Vec<&str> = uploaded.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    /// Built in one pass, uploads read as added one by one: a later upload for an id
    /// replaces the earlier, whose thumbprint is then not found unless another id holds
    /// the same certificate.
    #[test]
    fn uploads_built_at_once_read_as_added_in_order() {
        let (old, new, shared) = (
            checked("old", 0x61),
            checked("new", 0x62),
            checked("shared", 0x63),
        );
        let thumbprints = [&old, &new, &shared].map(CheckedDer::thumbprint);
        let uploaded = UploadedCertificates::from_uploads(vec![
            Upload::checked("b", "certificates/b.pem", old),
            Upload::checked("a", "certificates/a.pem", shared.clone()),
            Upload::unchecked("c", "certificates/c.pem", shared.der().to_vec()),
            Upload::checked("b", "certificates/b.cer", new),
        ]);
        let ids: Vec<(&str, &str)> = uploaded
            .iter()
            .map(|(id, certificate)| (id, certificate.subject()))
            .collect();
        assert_eq!(
            ids,
            [("a", "CN=shared"), ("b", "CN=new"), ("c", "CN=shared")]
        );
        let found = thumbprints
            .each_ref()
            .map(|t| uploaded.contains_thumbprint(t));
        assert_eq!(found, [false, true, true]);
        assert_eq!(uploaded.thumbprints.len(), 2);
        // `a` and `c` hold the same certificate: one chain, in id order.
        assert_eq!(uploaded.thumbprints[&sha1(shared.der())], 0);
        assert_eq!(uploaded.same_thumbprint, [2, NONE, NONE]);
    }

    #[test]
    fn lookups_agree_from_every_thread_that_asks_first() {
        let uploaded = Arc::new(UploadedCertificates::from_uploads(
            (0..20u8)
                .map(|i| {
                    Upload::checked(
                        &format!("c{i}"),
                        &format!("certificates/c{i}.pem"),
                        checked(&format!("client{i}"), 0x50 + i),
                    )
                })
                .collect(),
        ));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let uploaded = Arc::clone(&uploaded);
                std::thread::spawn(move || {
                    uploaded.contains_subject("CN=client7")
                        && uploaded.contains_serial_number("63")
                        && uploaded.get("c19").map(|c| c.subject().to_owned())
                            == Some("CN=client19".to_owned())
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().expect("no panic"));
        }
    }
}
