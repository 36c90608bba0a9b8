//! CRLs: parsed and signature-checked once at load, then indexed per issuing CA so that
//! a revocation lookup is one hash probe whether the CRL lists 10 or 1,000,000 serials.

use std::collections::{HashMap, HashSet};

use x509_parser::prelude::FromDer;

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

/// A CRL whose structure has been read (without copying: a CRL of a million entries
/// is walked in place); its signature is checked by the store against the CAs of its
/// issuer's name.
pub(crate) struct ParsedCrl<'a> {
    /// Issuer Name contents (without the outer SEQUENCE).
    pub(crate) issuer: &'a [u8],
    pub(crate) issuer_display: String,
    pub(crate) next_update: Option<i64>,
    pub(crate) signed: der::SignedData<'a>,
    /// The contents of revokedCertificates, already validated by [`parse`].
    revoked: &'a [u8],
}

impl<'a> ParsedCrl<'a> {
    /// Revoked serial numbers (INTEGER contents).
    pub(crate) fn serials(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut rest = self.revoked;
        std::iter::from_fn(move || {
            let (entry, after) = der::read_tlv(rest)?;
            rest = after;
            let (serial, _) = der::read_tlv(entry.contents)?;
            Some(serial.contents)
        })
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

const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const EXTENSIONS: u8 = 0xa0;

fn unparsable(what: &str) -> CrlError {
    CrlError::Unparsable(what.to_owned())
}

/// Reads a CertificateList (RFC 5280 §5.1): the issuer, nextUpdate and the revoked
/// serials, refusing what RFC 5280 says must not be used (unknown critical extensions)
/// and what certgate does not support (delta, partitioned and indirect CRLs).
pub(crate) fn parse(der_bytes: &[u8]) -> Result<ParsedCrl<'_>, CrlError> {
    let (outer, trailing) = der::read_tlv(der_bytes).ok_or_else(|| unparsable("bad DER"))?;
    if outer.tag != der::SEQUENCE {
        return Err(unparsable("does not start with a SEQUENCE"));
    }
    if !trailing.is_empty() {
        return Err(CrlError::Unparsable(format!(
            "{} bytes of trailing data",
            trailing.len()
        )));
    }
    let signed = der::signed_data(der_bytes).ok_or_else(|| unparsable("bad signed structure"))?;
    let (tbs, _) = der::read_tlv(signed.tbs).ok_or_else(|| unparsable("bad tbsCertList"))?;
    let mut fields = Fields(tbs.contents);
    if let Some(version) = fields.optional(INTEGER)?
        && version.contents != [1]
        && version.contents != [0]
    {
        return Err(unparsable("unknown CRL version"));
    }
    let algorithm = fields.required(der::SEQUENCE, "signature algorithm")?;
    if algorithm.contents != signed.algorithm {
        return Err(unparsable(
            "the signature algorithms inside and outside differ",
        ));
    }
    let issuer = fields.required(der::SEQUENCE, "issuer")?;
    fields
        .time("thisUpdate")?
        .ok_or_else(|| unparsable("missing thisUpdate"))?;
    let next_update = fields.time("nextUpdate")?;
    let revoked = fields
        .optional(der::SEQUENCE)?
        .map_or(&[][..], |r| r.contents);
    if let Some(extensions) = fields.optional(EXTENSIONS)? {
        let (list, _) = der::read_tlv(extensions.contents)
            .filter(|(l, rest)| l.tag == der::SEQUENCE && rest.is_empty())
            .ok_or_else(|| unparsable("bad crlExtensions"))?;
        for_each_extension(list.contents, |oid, critical| match oid {
            OID_DELTA => Err(CrlError::Delta),
            OID_IDP => Err(CrlError::Partitioned),
            OID_CRL_NUMBER | OID_AKI => Ok(()),
            _ if critical => Err(CrlError::CriticalExtension(dotted(oid))),
            _ => Ok(()),
        })?;
    }
    if !fields.0.is_empty() {
        return Err(unparsable("unexpected data after the CRL fields"));
    }
    let mut entries = revoked;
    while !entries.is_empty() {
        let (entry, rest) = der::read_tlv(entries)
            .filter(|(e, _)| e.tag == der::SEQUENCE)
            .ok_or_else(|| unparsable("bad revoked certificate entry"))?;
        entries = rest;
        let mut entry = Fields(entry.contents);
        let serial = entry.required(INTEGER, "serial number")?;
        if serial.contents.is_empty() {
            return Err(unparsable("empty serial number"));
        }
        entry
            .time("revocationDate")?
            .ok_or_else(|| unparsable("missing revocationDate"))?;
        if let Some(list) = entry.optional(der::SEQUENCE)? {
            for_each_extension(list.contents, |oid, critical| match oid {
                OID_CERTIFICATE_ISSUER => Err(CrlError::Indirect),
                OID_REASON | OID_INVALIDITY_DATE => Ok(()),
                _ if critical => Err(CrlError::CriticalExtension(dotted(oid))),
                _ => Ok(()),
            })?;
        }
        if !entry.0.is_empty() {
            return Err(unparsable("unexpected data in a revoked certificate entry"));
        }
    }
    let issuer_display = x509_parser::x509::X509Name::from_der(issuer.full)
        .map(|(_, name)| name.to_string())
        .unwrap_or_else(|_| "an unparsable name".to_owned());
    Ok(ParsedCrl {
        issuer: issuer.contents,
        issuer_display,
        next_update,
        signed,
        revoked,
    })
}

/// A cursor over the fields of a SEQUENCE.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn optional(&mut self, tag: u8) -> Result<Option<der::Tlv<'a>>, CrlError> {
        match self.0.first() {
            Some(&t) if t == tag => {
                let (tlv, rest) = der::read_tlv(self.0).ok_or_else(|| unparsable("bad DER"))?;
                self.0 = rest;
                Ok(Some(tlv))
            }
            _ => Ok(None),
        }
    }

    fn required(&mut self, tag: u8, what: &str) -> Result<der::Tlv<'a>, CrlError> {
        self.optional(tag)?
            .ok_or_else(|| CrlError::Unparsable(format!("missing or bad {what}")))
    }

    /// An optional UTCTime or GeneralizedTime, as unix seconds.
    fn time(&mut self, what: &str) -> Result<Option<i64>, CrlError> {
        let tlv = match self.0.first() {
            Some(&UTC_TIME) => self.optional(UTC_TIME)?,
            Some(&GENERALIZED_TIME) => self.optional(GENERALIZED_TIME)?,
            _ => None,
        };
        tlv.map(|t| {
            parse_time(t.tag, t.contents).ok_or_else(|| CrlError::Unparsable(format!("bad {what}")))
        })
        .transpose()
    }
}

/// `YYMMDDHHMMSSZ` (UTCTime, 1950-2049) or `YYYYMMDDHHMMSSZ` (GeneralizedTime).
fn parse_time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if rest.last() != Some(&b'Z') {
        return None;
    }
    let field = |i: usize| digits(&rest[i..i + 2]).and_then(|v| u8::try_from(v).ok());
    let month = time::Month::try_from(field(0)?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, field(2)?).ok()?;
    let time = time::Time::from_hms(field(4)?, field(6)?, field(8)?).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Calls `check(oid, critical)` for each Extension of an Extensions SEQUENCE's contents.
fn for_each_extension(
    mut list: &[u8],
    mut check: impl FnMut(&[u8], bool) -> Result<(), CrlError>,
) -> Result<(), CrlError> {
    while !list.is_empty() {
        let (ext, rest) = der::read_tlv(list)
            .filter(|(e, _)| e.tag == der::SEQUENCE)
            .ok_or_else(|| unparsable("bad extension"))?;
        list = rest;
        let mut fields = Fields(ext.contents);
        let oid = fields.required(OID, "extension id")?;
        let critical = match fields.optional(BOOLEAN)? {
            Some(b) => b.contents != [0],
            None => false,
        };
        fields.required(OCTET_STRING, "extension value")?;
        if !fields.0.is_empty() {
            return Err(unparsable("bad extension"));
        }
        check(oid.contents, critical)?;
    }
    Ok(())
}

/// An OID's dotted form, for messages.
fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = value.saturating_mul(128) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = value.min(80) / 40;
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        }
    }
    parts.join(".")
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
        entry.serials.inline.reserve(crl.serials().count());
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
    fn times_and_oids() {
        assert_eq!(parse_time(UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(parse_time(UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(
            parse_time(GENERALIZED_TIME, b"20260601000000Z"),
            Some(1_780_272_000)
        );
        assert_eq!(parse_time(UTC_TIME, b"260601000000+0100"), None);
        assert_eq!(parse_time(UTC_TIME, b"261301000000Z"), None);
        assert_eq!(parse_time(GENERALIZED_TIME, b"2026060100000xZ"), None);
        assert_eq!(dotted(&[0x55, 0x1d, 0x1c]), "2.5.29.28");
        assert_eq!(
            dotted(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f]),
            "1.3.6.1.4.1.99999"
        );
    }

    #[test]
    fn garbage_is_not_a_crl() {
        assert!(matches!(parse(b"garbage"), Err(CrlError::Unparsable(_))));
        assert!(matches!(parse(&[]), Err(CrlError::Unparsable(_))));
    }
}
