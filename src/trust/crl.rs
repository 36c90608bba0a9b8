//! CRLs: parsed and signature-checked once at load, then indexed per issuing CA so that
//! a revocation lookup is one hash probe whether the CRL lists 10 or 1,000,000 serials.

use std::collections::{HashMap, HashSet};

use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::der;

/// Identity of an issuing CA for revocation: SHA-256 over its subject name and its
/// SubjectPublicKeyInfo. Two CAs with the same name and different keys never share
/// revocations; a CA re-issued with the same name and key keeps its CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CaKey([u8; 32]);

impl CaKey {
    /// `subject` is the Name's contents (without the outer SEQUENCE, as webpki gives
    /// it); `spki` is the whole SubjectPublicKeyInfo encoding.
    pub(crate) fn new(subject: &[u8], spki: &[u8]) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&(subject.len() as u64).to_be_bytes());
        ctx.update(subject);
        ctx.update(spki);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }
}

/// A serial number as a hash key: the INTEGER contents without leading zero bytes, so
/// that `00 A1` in a certificate and `A1` in a CRL (or the other way) agree.
fn normalize(serial: &[u8]) -> &[u8] {
    let start = serial.iter().position(|&b| b != 0).unwrap_or(serial.len());
    &serial[start..]
}

const INLINE: usize = 20;

/// Revoked serials: up to 20 bytes (RFC 5280's bound) stored inline, longer ones boxed.
#[derive(Debug, Default)]
pub(crate) struct SerialSet {
    inline: HashSet<[u8; INLINE + 1]>,
    long: HashSet<Box<[u8]>>,
}

impl SerialSet {
    fn key(serial: &[u8]) -> Option<[u8; INLINE + 1]> {
        if serial.len() > INLINE {
            return None;
        }
        let mut key = [0u8; INLINE + 1];
        key[0] = serial.len() as u8;
        key[1..=serial.len()].copy_from_slice(serial);
        Some(key)
    }

    fn insert(&mut self, serial: &[u8]) {
        let serial = normalize(serial);
        match Self::key(serial) {
            Some(key) => {
                self.inline.insert(key);
            }
            None => {
                self.long.insert(serial.into());
            }
        }
    }

    pub(crate) fn contains(&self, serial: &[u8]) -> bool {
        let serial = normalize(serial);
        match Self::key(serial) {
            Some(key) => self.inline.contains(&key),
            None => self.long.contains(serial),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inline.len() + self.long.len()
    }
}

/// What the store knows about one CA's revocations (the union of its CRLs).
#[derive(Debug, Default)]
pub(crate) struct CaRevocations {
    pub(crate) serials: SerialSet,
    /// Latest nextUpdate over the CA's CRLs (unix seconds); `None`: a CRL without
    /// nextUpdate, never stale.
    pub(crate) next_update: Option<i64>,
    pub(crate) sources: Vec<String>,
}

/// A CRL whose structure has been read; its signature is checked by the store against
/// the CAs of its issuer's name.
pub(crate) struct ParsedCrl<'a> {
    /// Issuer Name contents (without the outer SEQUENCE).
    pub(crate) issuer: &'a [u8],
    pub(crate) issuer_display: String,
    pub(crate) next_update: Option<i64>,
    pub(crate) signed: der::SignedData<'a>,
    crl: CertificateRevocationList<'a>,
}

impl ParsedCrl<'_> {
    /// Revoked serial numbers (INTEGER contents).
    pub(crate) fn serials(&self) -> impl Iterator<Item = &[u8]> {
        self.crl.iter_revoked_certificates().map(|r| r.raw_serial())
    }
}

/// Why a CRL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    #[error("not a CRL ({0}); expected a DER or PEM (BEGIN X509 CRL) certificate revocation list")]
    Unparsable(String),
    #[error("delta CRLs are not supported; deploy the issuer's full CRL")]
    Delta,
    #[error(
        "partitioned CRLs (issuingDistributionPoint extension) are not supported; deploy the issuer's full CRL"
    )]
    Partitioned,
    #[error("indirect CRLs (certificateIssuer entries) are not supported")]
    Indirect,
    #[error("unsupported critical extension {0}; RFC 5280 forbids using this CRL")]
    CriticalExtension(String),
}

const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1d, 0x14];
const OID_REASON: &[u8] = &[0x55, 0x1d, 0x15];
const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1d, 0x18];
const OID_DELTA: &[u8] = &[0x55, 0x1d, 0x1b];
const OID_IDP: &[u8] = &[0x55, 0x1d, 0x1c];
const OID_CERTIFICATE_ISSUER: &[u8] = &[0x55, 0x1d, 0x1d];
const OID_AKI: &[u8] = &[0x55, 0x1d, 0x23];

pub(crate) fn parse(der_bytes: &[u8]) -> Result<ParsedCrl<'_>, CrlError> {
    let (rest, crl) = CertificateRevocationList::from_der(der_bytes)
        .map_err(|e| CrlError::Unparsable(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CrlError::Unparsable(format!(
            "{} bytes of trailing data",
            rest.len()
        )));
    }
    let signed = der::signed_data(der_bytes)
        .ok_or_else(|| CrlError::Unparsable("bad signed structure".into()))?;
    let tbs = &crl.tbs_cert_list;
    for ext in tbs.extensions() {
        match ext.oid.as_bytes() {
            OID_DELTA => return Err(CrlError::Delta),
            OID_IDP => return Err(CrlError::Partitioned),
            OID_CRL_NUMBER | OID_AKI => {}
            _ if ext.critical => return Err(CrlError::CriticalExtension(ext.oid.to_id_string())),
            _ => {}
        }
    }
    for revoked in crl.iter_revoked_certificates() {
        for ext in revoked.extensions() {
            match ext.oid.as_bytes() {
                OID_CERTIFICATE_ISSUER => return Err(CrlError::Indirect),
                OID_REASON | OID_INVALIDITY_DATE => {}
                _ if ext.critical => {
                    return Err(CrlError::CriticalExtension(ext.oid.to_id_string()));
                }
                _ => {}
            }
        }
    }
    let issuer = der::sequence_contents(tbs.issuer.as_raw())
        .ok_or_else(|| CrlError::Unparsable("bad issuer name".into()))?;
    Ok(ParsedCrl {
        issuer,
        issuer_display: tbs.issuer.to_string(),
        next_update: tbs.next_update.map(|t| t.timestamp()),
        signed,
        crl,
    })
}

/// Checks `signed` against the key in `spki` (a whole SubjectPublicKeyInfo) with the
/// algorithms webpki accepts for certificates.
pub(crate) fn verify_signature(spki: &[u8], signed: &der::SignedData<'_>) -> bool {
    let Some((key_algorithm, key)) = der::spki_parts(spki) else {
        return false;
    };
    webpki::ALL_VERIFICATION_ALGS.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == signed.algorithm
            && alg.public_key_alg_id().as_ref() == key_algorithm
            && alg
                .verify_signature(key, signed.tbs, signed.signature)
                .is_ok()
    })
}

/// Revocations by issuing CA.
#[derive(Debug, Default)]
pub(crate) struct RevocationIndex {
    by_ca: HashMap<CaKey, CaRevocations>,
}

impl RevocationIndex {
    pub(crate) fn add(&mut self, ca: CaKey, crl: &ParsedCrl<'_>, path: &str) {
        let entry = self.by_ca.entry(ca).or_default();
        for serial in crl.serials() {
            entry.serials.insert(serial);
        }
        entry.next_update = match (entry.sources.is_empty(), entry.next_update, crl.next_update) {
            (true, _, next) => next,
            (false, None, _) | (false, _, None) => None,
            (false, Some(a), Some(b)) => Some(a.max(b)),
        };
        entry.sources.push(path.to_owned());
    }

    pub(crate) fn get(&self, ca: &CaKey) -> Option<&CaRevocations> {
        self.by_ca.get(ca)
    }

    pub(crate) fn next_updates(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_ca.values().filter_map(|r| r.next_update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_lookup_ignores_leading_zero_bytes() {
        let mut set = SerialSet::default();
        set.insert(&[0x00, 0xA1]);
        set.insert(&[0x7f; 30]);
        assert!(set.contains(&[0xA1]));
        assert!(set.contains(&[0x00, 0x00, 0xA1]));
        assert!(!set.contains(&[0xA2]));
        assert!(set.contains(&[0x7f; 30]));
        assert!(!set.contains(&[0x7f; 29]));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn garbage_is_not_a_crl() {
        assert!(matches!(parse(b"garbage"), Err(CrlError::Unparsable(_))));
        assert!(matches!(parse(&[]), Err(CrlError::Unparsable(_))));
    }
}
