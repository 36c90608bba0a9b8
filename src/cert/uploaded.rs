//! `context.Deployment.Certificates`: uploaded certificates by id, indexed so that the
//! APIM idiom `Certificates.Any(c => c.Value.Thumbprint == x)` is a hash lookup whether
//! 10 or 100,000 certificates are uploaded.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::Certificate;

/// Uploaded certificates keyed by id (the file stem under `certificates/`).
#[derive(Debug, Clone, Default)]
pub struct UploadedCertificates {
    by_id: BTreeMap<String, Arc<Certificate>>,
    thumbprints: HashSet<String>,
    subjects: HashSet<String>,
    serial_numbers: HashSet<String>,
}

impl UploadedCertificates {
    /// Adds or replaces the certificate stored under `id`.
    pub fn insert(&mut self, id: impl Into<String>, certificate: Arc<Certificate>) {
        self.thumbprints.insert(certificate.thumbprint().to_owned());
        self.subjects.insert(certificate.subject().to_owned());
        self.serial_numbers
            .insert(certificate.serial_number().to_owned());
        if let Some(old) = self.by_id.insert(id.into(), certificate) {
            self.reindex_after_replacing(&old);
        }
    }

    fn reindex_after_replacing(&mut self, old: &Certificate) {
        let still = |f: fn(&Certificate) -> &str, v: &str| self.by_id.values().any(|c| f(c) == v);
        let (t, s, n) = (
            still(Certificate::thumbprint, old.thumbprint()),
            still(Certificate::subject, old.subject()),
            still(Certificate::serial_number, old.serial_number()),
        );
        if !t {
            self.thumbprints.remove(old.thumbprint());
        }
        if !s {
            self.subjects.remove(old.subject());
        }
        if !n {
            self.serial_numbers.remove(old.serial_number());
        }
    }

    /// `Certificates["id"]`: the certificate uploaded under `id` (ordinal key match).
    pub fn get(&self, id: &str) -> Option<&Arc<Certificate>> {
        self.by_id.get(id)
    }

    /// All entries in id order, as `KeyValuePair<string, X509Certificate2>`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Arc<Certificate>)> {
        self.by_id.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether any uploaded certificate has exactly this `Thumbprint` (ordinal).
    pub fn contains_thumbprint(&self, thumbprint: &str) -> bool {
        self.thumbprints.contains(thumbprint)
    }

    /// Whether any uploaded certificate has exactly this `Subject` (ordinal).
    pub fn contains_subject(&self, subject: &str) -> bool {
        self.subjects.contains(subject)
    }

    /// Whether any uploaded certificate has exactly this `SerialNumber` (ordinal).
    pub fn contains_serial_number(&self, serial_number: &str) -> bool {
        self.serial_numbers.contains(serial_number)
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
}
