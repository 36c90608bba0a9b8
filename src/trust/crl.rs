//! CRLs: parsed and indexed at load, so that a revocation lookup is one hash probe
//! whether the CRL lists 10 or 1,000,000 serials; each signature-checked once against the
//! CAs of its issuer's name, at load or when a lookup first needs it ([`Checks`]).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use bytes::Bytes;
use x509_parser::prelude::FromDer;

use super::der;
use super::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::cert::PemBlocks;

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

/// Whether a `crl/` file is DER: one SEQUENCE to its last byte, as no PEM file of a CRL is.
/// Anything else is read as PEM, its blocks wherever they start (`openssl crl -text`
/// writes a CRL's entries as text before its block).
fn is_der_file(bytes: &[u8]) -> bool {
    matches!(der::read_tlv(bytes), Some((tlv, rest)) if tlv.tag == der::SEQUENCE && rest.is_empty())
}

/// Why a `crl/` file yields no CRL at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlFileError {
    #[error("bad PEM ({0})")]
    BadPem(String),
    #[error("no BEGIN X509 CRL block in this PEM file")]
    NoCrlBlock,
}

/// The DER CRLs of a `crl/` file, as the store and `certgate trust ls` both read them:
/// the whole file when it is DER (`is_der_file`; shared rather than copied: a CRL of a
/// million entries is about 40 MB), else each of its `X509 CRL` PEM blocks (other
/// blocks skipped). A file that is neither comes whole, for the CRL parser to say what
/// is wrong with it.
///
/// # Errors
///
/// A PEM file with a malformed block, or without a CRL block.
pub fn crls_in_file(bytes: &Bytes) -> Result<Vec<Bytes>, CrlFileError> {
    let is_pem = !is_der_file(bytes) && memchr::memmem::find(bytes, b"-----BEGIN ").is_some();
    if !is_pem {
        return Ok(vec![bytes.clone()]);
    }
    let mut blobs = Vec::new();
    for block in PemBlocks(bytes) {
        let block = block.map_err(CrlFileError::BadPem)?;
        if block.label == b"X509 CRL" {
            blobs.push(Bytes::from(block.decode().map_err(CrlFileError::BadPem)?));
        }
    }
    if blobs.is_empty() {
        return Err(CrlFileError::NoCrlBlock);
    }
    Ok(blobs)
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
    super::signature::ALGORITHMS.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == signed.algorithm
            && alg.public_key_alg_id().as_ref() == key_algorithm
            && alg
                .verify_signature(key, signed.tbs, signed.signature)
                .is_ok()
    })
}

/// A CA of the store whose name a CRL gives as its issuer: what checking the CRL's
/// signature against it needs.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) key: CaKey,
    /// The whole SubjectPublicKeyInfo.
    pub(crate) spki: Vec<u8>,
    /// Its Subject, for messages.
    pub(crate) display: String,
    /// keyUsage absent, or present with cRLSign.
    pub(crate) crl_signer: bool,
}

/// When a CRL's signature is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// At load, with the diagnostics returned by the load (`certgate check`, tests).
    Now,
    /// When a revocation lookup first needs the CRL (its issuer's certificates are
    /// first verified); its diagnostics are logged then. A cold start then pays only
    /// for the CRLs of the CAs its first requests meet.
    OnFirstUse,
}

/// CRLs larger than this are checked at load even with [`Checks::OnFirstUse`]: a
/// deferred check keeps the CRL's DER until it is made, which for a CRL of a million
/// entries would double what it takes in memory; hashing it is most of its check anyway.
const MAX_DEFERRED_CRL_BYTES: usize = 256 * 1024;

/// One usable CRL of the store: its revoked serials (indexed at load), and its
/// signature, checked against the CAs of its issuer's name at load or on first use.
#[derive(Debug)]
struct CrlEntry {
    path: String,
    serials: SerialSet,
    next_update: Option<i64>,
    /// The CAs of its issuer's name, tried in load order.
    candidates: Vec<Candidate>,
    /// The DER, kept until the signature is checked.
    der: Option<Vec<u8>>,
    /// Whether the check is left for first use.
    deferred: bool,
    /// Load time (unix seconds): dates the stale-CRL diagnostic.
    loaded_at: i64,
    checked: OnceLock<Checked>,
}

/// What checking a CRL's signature found.
#[derive(Debug)]
struct Checked {
    /// The CAs it is a valid CRL of: its signature verifies with their key and their
    /// keyUsage allows cRLSign.
    signers: Vec<CaKey>,
    /// Why it is unused, or a warning about it (stale, no nextUpdate).
    diagnostics: Vec<Diagnostic>,
}

impl CrlEntry {
    /// The signature check, made once (at load or on first use).
    fn checked(&self) -> &Checked {
        self.checked.get_or_init(|| {
            let checked = self.check();
            for d in &checked.diagnostics {
                d.log(&d.message);
            }
            checked
        })
    }

    fn check(&self) -> Checked {
        let mut diagnostics = Vec::new();
        let mut diagnostic = |severity, kind, message| {
            diagnostics.push(Diagnostic {
                path: self.path.clone(),
                severity,
                kind,
                message,
            });
        };
        let parsed = self.der.as_deref().map(parse);
        let Some(Ok(parsed)) = parsed else {
            // Parsed at load before the DER was kept: cannot happen. Unusable if it did.
            diagnostic(
                Severity::Error,
                DiagnosticKind::CrlUnusable,
                "the CRL could not be read again to check its signature; ignored".to_owned(),
            );
            return Checked {
                signers: Vec::new(),
                diagnostics,
            };
        };
        let mut signers: Vec<CaKey> = Vec::new();
        let mut verified = None;
        let mut not_signer = None;
        for ca in &self.candidates {
            if !verify_signature(&ca.spki, &parsed.signed) {
                continue;
            }
            if !ca.crl_signer {
                not_signer.get_or_insert_with(|| ca.display.clone());
                continue;
            }
            if !signers.contains(&ca.key) {
                signers.push(ca.key);
            }
            verified.get_or_insert_with(|| ca.display.clone());
        }
        let Some(issuer) = verified else {
            if let Some(ca) = not_signer {
                diagnostic(
                    Severity::Error,
                    DiagnosticKind::CrlIssuerNotCrlSigner,
                    format!(
                        "signed by {ca}, whose keyUsage does not allow cRLSign; ignored. \
                         Re-issue the CA with cRLSign, or have the CRL signed by a CA that has it"
                    ),
                );
            } else {
                diagnostic(
                    Severity::Error,
                    DiagnosticKind::CrlBadSignature,
                    format!(
                        "signature does not verify against any CA named {} ({} loaded); ignored: \
                         Verify() gives RevocationUnknown for its certificates unless another CRL covers them",
                        parsed.issuer_display,
                        self.candidates.len()
                    ),
                );
            }
            return Checked {
                signers,
                diagnostics,
            };
        };
        match self.next_update {
            Some(next) if self.loaded_at >= next => diagnostic(
                Severity::Warning,
                DiagnosticKind::CrlStale,
                format!(
                    "CRL of {issuer} is past its nextUpdate ({}): Verify() is false (RevocationUnknown) for \
                     certificates it issued until a fresh CRL is deployed",
                    crate::text::rfc3339(next)
                ),
            ),
            Some(_) => {}
            None => diagnostic(
                Severity::Warning,
                DiagnosticKind::CrlNoNextUpdate,
                format!("CRL of {issuer} has no nextUpdate: it is treated as never stale"),
            ),
        }
        Checked {
            signers,
            diagnostics,
        }
    }
}

/// The CRLs that name one CA of the store as their issuer.
#[derive(Debug)]
struct CaCrls {
    /// Indexes into [`RevocationIndex::crls`].
    crls: Vec<usize>,
    /// Where the CA was loaded from and its Subject, for the missing-CRL diagnostic.
    path: String,
    display: String,
    /// The missing-CRL warning, once a lookup found none of them valid (and logged it;
    /// [`Checks::OnFirstUse`]).
    none_valid: OnceLock<Diagnostic>,
}

/// What the store knows about one CA's revocations: its valid CRLs (at least one).
#[derive(Debug)]
pub(crate) struct CaRevocations<'a> {
    crls: Vec<&'a CrlEntry>,
}

impl CaRevocations<'_> {
    /// Whether any of the CA's CRLs lists `serial`.
    pub(crate) fn contains(&self, serial: &[u8]) -> bool {
        self.crls.iter().any(|crl| crl.serials.contains(serial))
    }

    /// Latest nextUpdate over the CA's CRLs (unix seconds); `None`: a CRL without
    /// nextUpdate, never stale.
    pub(crate) fn next_update(&self) -> Option<i64> {
        self.crls
            .iter()
            .map(|crl| crl.next_update)
            .try_fold(i64::MIN, |latest, next| Some(latest.max(next?)))
    }

    /// The CRL files, for messages.
    pub(crate) fn sources(&self) -> String {
        let paths: Vec<&str> = self.crls.iter().map(|crl| crl.path.as_str()).collect();
        paths.join(", ")
    }
}

/// Revocations by issuing CA.
#[derive(Debug)]
pub(crate) struct RevocationIndex {
    checks: Checks,
    crls: Vec<CrlEntry>,
    by_ca: HashMap<CaKey, CaCrls>,
}

impl RevocationIndex {
    pub(crate) fn new(checks: Checks) -> Self {
        Self {
            checks,
            crls: Vec::new(),
            by_ca: HashMap::new(),
        }
    }

    /// Registers a CA of the store, before the CRLs are added.
    pub(crate) fn add_ca(&mut self, ca: CaKey, path: &str, display: &str) {
        self.by_ca.entry(ca).or_insert_with(|| CaCrls {
            crls: Vec::new(),
            path: path.to_owned(),
            display: display.to_owned(),
            none_valid: OnceLock::new(),
        });
    }

    /// Adds a parsed CRL whose issuer's name is that of `candidates` (not empty), and
    /// returns the diagnostics of its signature check when it is made now.
    pub(crate) fn add(
        &mut self,
        crl: &ParsedCrl<'_>,
        der: &[u8],
        path: &str,
        candidates: Vec<Candidate>,
        now: i64,
    ) -> Vec<Diagnostic> {
        let mut serials = SerialSet::default();
        serials.inline.reserve(crl.serials().count());
        for serial in crl.serials() {
            serials.insert(serial);
        }
        let index = self.crls.len();
        for candidate in &candidates {
            if let Some(ca) = self.by_ca.get_mut(&candidate.key)
                && !ca.crls.contains(&index)
            {
                ca.crls.push(index);
            }
        }
        let mut entry = CrlEntry {
            path: path.to_owned(),
            serials,
            next_update: crl.next_update,
            candidates,
            der: Some(der.to_vec()),
            deferred: true,
            loaded_at: now,
            checked: OnceLock::new(),
        };
        let mut diagnostics = Vec::new();
        if self.checks == Checks::Now || der.len() > MAX_DEFERRED_CRL_BYTES {
            let checked = entry.check();
            diagnostics.clone_from(&checked.diagnostics);
            entry.checked = OnceLock::from(checked);
            entry.der = None;
            entry.deferred = false;
        }
        self.crls.push(entry);
        diagnostics
    }

    /// Whether the CA has a valid CRL: its CRLs' signatures are checked now if they were
    /// not yet (so only with [`Checks::Now`] is this free of checks).
    pub(crate) fn has_valid_crl(&self, ca: &CaKey) -> bool {
        self.get(ca).is_some()
    }

    /// Whether some CRL names the CA as its issuer, valid or not.
    pub(crate) fn is_named(&self, ca: &CaKey) -> bool {
        self.by_ca.get(ca).is_some_and(|c| !c.crls.is_empty())
    }

    /// The CA's valid CRLs; `None` when it has none. Checks the signatures of its CRLs
    /// not checked yet, and logs once when none of them is valid.
    pub(crate) fn get(&self, ca: &CaKey) -> Option<CaRevocations<'_>> {
        let entry = self.by_ca.get(ca)?;
        let crls: Vec<&CrlEntry> = entry
            .crls
            .iter()
            .filter_map(|&i| self.crls.get(i))
            .filter(|crl| crl.checked().signers.contains(ca))
            .collect();
        if crls.is_empty() {
            if self.checks == Checks::OnFirstUse && !entry.crls.is_empty() {
                entry.none_valid.get_or_init(|| {
                    let d = missing_crl(&entry.path, &entry.display);
                    d.log(&d.message);
                    d
                });
            }
            return None;
        }
        Some(CaRevocations { crls })
    }

    /// The diagnostics of the checks made on first use so far: those of the CRLs, in
    /// load order, then the missing-CRL warnings, by path.
    pub(crate) fn checked_on_first_use(&self) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self
            .crls
            .iter()
            .filter(|crl| crl.deferred)
            .filter_map(|crl| crl.checked.get())
            .flat_map(|checked| checked.diagnostics.iter().cloned())
            .collect();
        let mut missing: Vec<Diagnostic> = self
            .by_ca
            .values()
            .filter_map(|ca| ca.none_valid.get().cloned())
            .collect();
        missing.sort_by(|a, b| a.path.cmp(&b.path));
        diagnostics.extend(missing);
        diagnostics
    }

    /// The nextUpdate of every CRL that names a CA of the store (valid or not: a
    /// superfluous boundary only shortens how long a cached verdict is kept).
    pub(crate) fn next_updates(&self) -> impl Iterator<Item = i64> + '_ {
        self.crls.iter().filter_map(|crl| crl.next_update)
    }
}

/// The warning for a CA without a valid CRL.
pub(crate) fn missing_crl(path: &str, display: &str) -> Diagnostic {
    Diagnostic {
        path: path.to_owned(),
        severity: Severity::Warning,
        kind: DiagnosticKind::MissingCrl,
        message: format!(
            "no CRL in crl/ for {display}: Verify() will always be false (RevocationUnknown) for the \
             certificates it issues; VerifyNoRevocation() is unaffected"
        ),
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
