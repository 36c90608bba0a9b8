//! `context.Deployment.Certificates`: uploaded certificates by id, indexed so that the
//! APIM idiom `Certificates.Any(c => c.Value.Thumbprint == x)` is a hash lookup whether
//! 10 or 100,000 certificates are uploaded.
//!
//! A deployment may upload thousands of certificates and a request reads one of them,
//! or none. So loading checks each one ([`check_chain`](super::check_chain): a broken
//! file still fails the load, naming the file) and hashes it for the thumbprint index,
//! but decodes none: a certificate is decoded when it is first read, and the subject and
//! serial-number indexes (which need every certificate decoded) are built when first
//! asked. Decoding costs several times checking, and most of a cold start went to it.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::{Certificate, CheckedDer};

/// Uploaded certificates keyed by id (the file stem under `certificates/`).
#[derive(Debug, Clone, Default)]
pub struct UploadedCertificates {
    by_id: BTreeMap<String, Entry>,
    /// Thumbprint -> how many ids hold a certificate with it.
    thumbprints: HashMap<String, usize>,
    /// Built on first use; `insert` drops it.
    names: OnceLock<NameIndex>,
}

#[derive(Debug, Clone, Default)]
struct NameIndex {
    subjects: HashSet<String>,
    serial_numbers: HashSet<String>,
}

#[derive(Debug, Clone)]
enum Entry {
    Decoded(Arc<Certificate>),
    /// Checked at load, decoded on first read.
    Checked {
        der: CheckedDer,
        thumbprint: String,
        decoded: OnceLock<Option<Arc<Certificate>>>,
    },
}

impl Entry {
    fn thumbprint(&self) -> &str {
        match self {
            Self::Decoded(certificate) => certificate.thumbprint(),
            Self::Checked { thumbprint, .. } => thumbprint,
        }
    }

    /// The certificate, decoded now if this is its first read. `None` only if decoding
    /// failed after the checks passed, which they rule out: the entry then reads as
    /// absent (fail closed) rather than panicking.
    fn certificate(&self, id: &str) -> Option<&Arc<Certificate>> {
        match self {
            Self::Decoded(certificate) => Some(certificate),
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
        }
    }
}

impl UploadedCertificates {
    /// Adds or replaces the certificate stored under `id`.
    pub fn insert(&mut self, id: impl Into<String>, certificate: Arc<Certificate>) {
        self.put(id.into(), Entry::Decoded(certificate));
    }

    /// Adds or replaces the certificate stored under `id`, to be decoded when first read.
    pub fn insert_checked(&mut self, id: impl Into<String>, der: CheckedDer) {
        let thumbprint = der.thumbprint();
        self.put(
            id.into(),
            Entry::Checked {
                der,
                thumbprint,
                decoded: OnceLock::new(),
            },
        );
    }

    fn put(&mut self, id: String, entry: Entry) {
        *self
            .thumbprints
            .entry(entry.thumbprint().to_owned())
            .or_default() += 1;
        if let Some(old) = self.by_id.insert(id, entry)
            && let Slot::Occupied(mut count) = self.thumbprints.entry(old.thumbprint().to_owned())
        {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
        self.names.take();
    }

    /// `Certificates["id"]`: the certificate uploaded under `id` (ordinal key match).
    pub fn get(&self, id: &str) -> Option<&Arc<Certificate>> {
        self.by_id
            .get_key_value(id)
            .and_then(|(id, entry)| entry.certificate(id))
    }

    /// All entries in id order, as `KeyValuePair<string, X509Certificate2>`. Decodes
    /// the certificates not read yet.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<Certificate>)> {
        self.by_id
            .iter()
            .filter_map(|(id, entry)| Some((id.as_str(), entry.certificate(id)?)))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether any uploaded certificate has exactly this `Thumbprint` (ordinal).
    pub fn contains_thumbprint(&self, thumbprint: &str) -> bool {
        self.thumbprints.contains_key(thumbprint)
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

    fn decoded(uploaded: &UploadedCertificates, id: &str) -> bool {
        match &uploaded.by_id[id] {
            Entry::Decoded(_) => true,
            Entry::Checked { decoded, .. } => decoded.get().is_some(),
        }
    }

    #[test]
    fn lookups_find_inserted_certificates_by_exact_strings() {
        let mut uploaded = UploadedCertificates::default();
        let cert = certificate("partner", 0x11);
        uploaded.insert("partner", Arc::clone(&cert));
        assert_eq!(uploaded.len(), 1);
        assert!(uploaded.contains_thumbprint(cert.thumbprint()));
        assert!(!uploaded.contains_thumbprint(&cert.thumbprint().to_lowercase()));
        assert!(uploaded.contains_subject("CN=partner"));
        assert!(uploaded.contains_serial_number("11"));
        assert_eq!(
            uploaded.get("partner").map(|c| c.thumbprint()),
            Some(cert.thumbprint())
        );
    }

    #[test]
    fn replacing_a_certificate_forgets_the_old_one_unless_another_id_holds_it() {
        let mut uploaded = UploadedCertificates::default();
        let old = certificate("old", 0x01);
        uploaded.insert("a", Arc::clone(&old));
        uploaded.insert("b", Arc::clone(&old));
        uploaded.insert("a", certificate("new", 0x02));
        assert!(
            uploaded.contains_thumbprint(old.thumbprint()),
            "still under b"
        );
        uploaded.insert("b", certificate("newer", 0x03));
        assert!(!uploaded.contains_thumbprint(old.thumbprint()));
        assert!(!uploaded.contains_subject("CN=old"));
        assert!(!uploaded.contains_serial_number("01"));
        assert!(uploaded.contains_subject("CN=new"));
        let ids: Vec<&str> = uploaded.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn checked_certificates_are_found_by_thumbprint_without_being_decoded() {
        let mut uploaded = UploadedCertificates::default();
        let der = checked("partner", 0x21);
        let thumbprint = der.thumbprint();
        uploaded.insert_checked("partner", der);
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
        let mut uploaded = UploadedCertificates::default();
        uploaded.insert_checked("a", checked("alpha", 0x31));
        uploaded.insert_checked("b", checked("beta", 0x32));
        assert!(!decoded(&uploaded, "a") && !decoded(&uploaded, "b"));
        assert!(uploaded.contains_subject("CN=beta"));
        assert!(decoded(&uploaded, "a") && decoded(&uploaded, "b"));
        assert!(uploaded.contains_serial_number("31"));
        assert!(!uploaded.contains_subject("CN=gamma"));
        assert!(!uploaded.contains_serial_number("33"));
        let ids: Vec<&str> = uploaded.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn replacing_an_id_after_a_lookup_rebuilds_the_subject_and_serial_indexes() {
        let mut uploaded = UploadedCertificates::default();
        let old = checked("old", 0x41);
        let old_thumbprint = old.thumbprint();
        uploaded.insert_checked("a", old);
        assert!(uploaded.contains_subject("CN=old"));
        uploaded.insert_checked("a", checked("new", 0x42));
        assert!(!uploaded.contains_subject("CN=old"));
        assert!(!uploaded.contains_serial_number("41"));
        assert!(!uploaded.contains_thumbprint(&old_thumbprint));
        assert!(uploaded.contains_subject("CN=new"));
        assert!(uploaded.contains_serial_number("42"));
        assert_eq!(uploaded.len(), 1);
    }

    #[test]
    fn lookups_agree_from_every_thread_that_asks_first() {
        let mut uploaded = UploadedCertificates::default();
        for i in 0..20u8 {
            uploaded.insert_checked(format!("c{i}"), checked(&format!("client{i}"), 0x50 + i));
        }
        let uploaded = Arc::new(uploaded);
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
