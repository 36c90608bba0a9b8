//! The structure of an X.509 certificate (RFC 5280 4.1), read in one pass over its DER
//! with the crate's DER reader: the spans and values [`Certificate`](super::Certificate)
//! keeps, every field checked for its form.
//!
//! x509-parser built the whole certificate (every name's attributes, every extension's
//! envelope) into vectors that certgate then read only as byte spans: its parse was a
//! fifth of the Lambda adapter's work for a client's first request. Here names and
//! extensions are walked in place. The parts whose exact rules certgate keeps as
//! x509-parser has them (the times, the algorithm identifiers, the public key) are still
//! read by it, each from its own small span.

use time::OffsetDateTime;
use x509_parser::prelude::FromDer as _;
use x509_parser::time::ASN1Time;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::der::{Class, Reader, Tlv, tag};

const INTEGER: u32 = 2;
const BIT_STRING: u32 = 3;
const OCTET_STRING: u32 = 4;
const BOOLEAN: u32 = 1;

/// The fields of a certificate, borrowed from its DER.
#[derive(Debug)]
pub(super) struct Tbs<'a> {
    /// The version field's value (0 for v1, 2 for v3).
    pub(super) version: u32,
    /// The serial number INTEGER's content octets.
    pub(super) serial: &'a [u8],
    /// The issuer Name, its whole encoding.
    pub(super) issuer: &'a [u8],
    pub(super) not_before: OffsetDateTime,
    pub(super) not_after: OffsetDateTime,
    /// The subject Name, its whole encoding.
    pub(super) subject: &'a [u8],
    /// The SubjectPublicKeyInfo, its whole encoding.
    pub(super) spki: &'a [u8],
    /// The content of the extensions' SEQUENCE (empty without extensions), each checked.
    extensions: &'a [u8],
    /// basicConstraints' value, found in the pass that checks the extensions.
    pub(super) basic_constraints: Unique<'a>,
    /// keyUsage's value, found in the same pass.
    pub(super) key_usage: Unique<'a>,
    /// The content octets of the outer signatureAlgorithm's OID.
    pub(super) signature_algorithm: &'a [u8],
}

/// One extension's envelope.
#[derive(Debug, Clone, Copy)]
pub(super) struct Extension<'a> {
    /// The OID's content octets.
    pub(super) oid: &'a [u8],
    /// The extnValue OCTET STRING's content.
    pub(super) value: &'a [u8],
}

impl<'a> Tbs<'a> {
    /// The extensions in encoding order.
    pub(super) fn extensions(&self) -> impl Iterator<Item = Extension<'a>> + use<'a> {
        let mut reader = Reader::new(self.extensions);
        std::iter::from_fn(move || {
            let extension = reader.read().ok()?;
            extension_envelope(extension.content).ok()
        })
    }
}

/// The value of an extension that may appear once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Unique<'a> {
    #[default]
    Absent,
    Once(&'a [u8]),
    /// Repeated, which RFC 5280 forbids: which one would count is anybody's guess.
    Repeated,
}

impl<'a> Unique<'a> {
    fn add(&mut self, value: &'a [u8]) {
        *self = match self {
            Self::Absent => Self::Once(value),
            _ => Self::Repeated,
        };
    }
}

/// The content octets of the OIDs of the extensions certgate reads (2.5.29.x).
pub(super) const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
pub(super) const OID_ISSUER_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x12];
pub(super) const OID_EXTENDED_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];

/// Reads the certificate `der` (exactly one outer SEQUENCE: the caller checked its
/// length). The error says which field is malformed and where it starts.
pub(super) fn read(der: &[u8]) -> Result<Tbs<'_>, String> {
    let fail = |what: &str, part: &[u8]| {
        let at = (part.as_ptr() as usize).wrapping_sub(der.as_ptr() as usize);
        format!("{what} (at byte {at})")
    };
    let certificate = Reader::new(der)
        .read_universal(tag::SEQUENCE)
        .map_err(|_| fail("the certificate is not a DER SEQUENCE", der))?;
    let mut fields = Fields(Reader::new(certificate.content));
    let tbs = fields.next("the tbsCertificate is missing", &fail)?;
    if !tbs.is_universal(tag::SEQUENCE) {
        return Err(fail("the tbsCertificate is not a SEQUENCE", tbs.raw));
    }
    let algorithm = fields.next("the signatureAlgorithm is missing", &fail)?;
    let algorithm = algorithm_identifier(&algorithm)
        .ok_or_else(|| fail("the signatureAlgorithm is malformed", algorithm.raw))?;
    let value = fields.next("the signatureValue is missing", &fail)?;
    if !value.is_universal(BIT_STRING) || !bit_string(value.content) {
        return Err(fail("the signatureValue is not a BIT STRING", value.raw));
    }
    if !fields.0.is_empty() {
        return Err(fail(
            "bytes follow the signatureValue inside the certificate",
            fields.0.rest(),
        ));
    }

    let mut fields = Fields(Reader::new(tbs.content));
    let mut field = fields.next("the tbsCertificate ends before its serialNumber", &fail)?;
    let version = if field.is_context(0) && field.constructed {
        let version = explicit_u32(field.content)
            .ok_or_else(|| fail("the version is not a [0] EXPLICIT INTEGER", field.raw))?;
        field = fields.next("the tbsCertificate ends before its serialNumber", &fail)?;
        version
    } else {
        0
    };
    if !field.is_universal(INTEGER) || field.content.is_empty() {
        return Err(fail("the serialNumber is not an INTEGER", field.raw));
    }
    let serial = field.content;
    let signature = fields.next("the tbsCertificate ends before its signature", &fail)?;
    if algorithm_identifier(&signature).is_none() {
        return Err(fail(
            "the signature AlgorithmIdentifier is malformed",
            signature.raw,
        ));
    }
    let issuer = fields.next("the tbsCertificate ends before its issuer", &fail)?;
    if !is_name(&issuer) {
        return Err(fail("the issuer is not a valid Name", issuer.raw));
    }
    let validity = fields.next("the tbsCertificate ends before its validity", &fail)?;
    let (not_before, not_after) = times(&validity)
        .ok_or_else(|| fail("the validity is not two valid times", validity.raw))?;
    let subject = fields.next("the tbsCertificate ends before its subject", &fail)?;
    if !is_name(&subject) {
        return Err(fail("the subject is not a valid Name", subject.raw));
    }
    let spki = fields.next(
        "the tbsCertificate ends before its subjectPublicKeyInfo",
        &fail,
    )?;
    if !spki.is_universal(tag::SEQUENCE) || SubjectPublicKeyInfo::from_der(spki.raw).is_err() {
        return Err(fail("the subjectPublicKeyInfo is malformed", spki.raw));
    }
    let mut extensions = Extensions::default();
    let mut last = 0;
    while !fields.0.is_empty() {
        let field = fields.next("a field after the subjectPublicKeyInfo is malformed", &fail)?;
        let number = if field.class == Class::ContextSpecific {
            field.number
        } else {
            u32::MAX
        };
        match number {
            // issuerUniqueID, subjectUniqueID: [1] and [2] IMPLICIT BIT STRING, in order.
            1 | 2 if number > last && !field.constructed && bit_string(field.content) => {}
            3 if number > last && field.constructed => {
                extensions = extension_list(field.content)
                    .ok_or_else(|| fail("the extensions are malformed", field.raw))?;
            }
            _ => {
                return Err(fail(
                    "unexpected field after the subjectPublicKeyInfo (expected [1], [2] or \
                     [3] extensions, in that order)",
                    field.raw,
                ));
            }
        }
        last = number;
    }
    Ok(Tbs {
        version,
        serial,
        issuer: issuer.raw,
        not_before,
        not_after,
        subject: subject.raw,
        spki: spki.raw,
        extensions: extensions.all,
        basic_constraints: extensions.basic_constraints,
        key_usage: extensions.key_usage,
        signature_algorithm: algorithm,
    })
}

/// The fields of a SEQUENCE, read one by one; a field that does not read is reported
/// where it starts.
struct Fields<'a>(Reader<'a>);

impl<'a> Fields<'a> {
    fn next(
        &mut self,
        what: &str,
        fail: &impl Fn(&str, &[u8]) -> String,
    ) -> Result<Tlv<'a>, String> {
        let start = self.0.rest();
        self.0.read().map_err(|_| fail(what, start))
    }
}

/// An AlgorithmIdentifier as x509-parser reads it: its OID's content octets.
fn algorithm_identifier<'a>(tlv: &Tlv<'a>) -> Option<&'a [u8]> {
    if !tlv.is_universal(tag::SEQUENCE) {
        return None;
    }
    AlgorithmIdentifier::from_der(tlv.raw).ok()?;
    let oid = Reader::new(tlv.content)
        .read_universal(tag::OBJECT_IDENTIFIER)
        .ok()?;
    Some(oid.content)
}

/// `[0] EXPLICIT INTEGER` content: one INTEGER, non-negative, fitting a u32.
fn explicit_u32(content: &[u8]) -> Option<u32> {
    let mut reader = Reader::new(content);
    let integer = reader.read_universal(INTEGER).ok()?;
    if !reader.is_empty() {
        return None;
    }
    let (&first, _) = integer.content.split_first()?;
    if first & 0x80 != 0
        || (first == 0 && integer.content.len() > 1 && integer.content[1] & 0x80 == 0)
    {
        return None;
    }
    let digits = if first == 0 && integer.content.len() > 1 {
        &integer.content[1..]
    } else {
        integer.content
    };
    if digits.len() > 4 {
        return None;
    }
    Some(digits.iter().fold(0, |acc, &b| acc << 8 | u32::from(b)))
}

/// A BIT STRING's content in DER: the count of unused bits first (0 to 7, 0 when no
/// bits follow), and those bits of the last octet zero.
fn bit_string(content: &[u8]) -> bool {
    match content {
        [unused] => *unused == 0,
        [unused, .., last] => *unused <= 7 && last & ((1u8 << *unused) - 1) == 0,
        [] => false,
    }
}

/// `Name ::= SEQUENCE OF SET SIZE (1..MAX) OF SEQUENCE { type OID, value ANY }`.
fn is_name(name: &Tlv<'_>) -> bool {
    if !name.is_universal(tag::SEQUENCE) {
        return false;
    }
    let mut rdns = Reader::new(name.content);
    while !rdns.is_empty() {
        let Ok(rdn) = rdns.read_universal(tag::SET) else {
            return false;
        };
        let mut attributes = Reader::new(rdn.content);
        if attributes.is_empty() {
            return false;
        }
        while !attributes.is_empty() {
            let Ok(attribute) = attributes.read_universal(tag::SEQUENCE) else {
                return false;
            };
            let mut parts = Reader::new(attribute.content);
            let oid_ok = parts
                .read_universal(tag::OBJECT_IDENTIFIER)
                .is_ok_and(|oid| is_oid(oid.content));
            if !oid_ok || parts.read().is_err() || !parts.is_empty() {
                return false;
            }
        }
    }
    true
}

/// OID content octets: at least one arc, each minimally encoded and terminated.
fn is_oid(content: &[u8]) -> bool {
    let mut arc_start = true;
    for &b in content {
        if arc_start && b == 0x80 {
            return false;
        }
        arc_start = b & 0x80 == 0;
    }
    !content.is_empty() && arc_start
}

/// `Validity ::= SEQUENCE { notBefore Time, notAfter Time }`, read as x509-parser reads
/// each time (UTCTime or GeneralizedTime, DER).
fn times(validity: &Tlv<'_>) -> Option<(OffsetDateTime, OffsetDateTime)> {
    if !validity.is_universal(tag::SEQUENCE) {
        return None;
    }
    let (rest, not_before) = ASN1Time::from_der(validity.content).ok()?;
    let (rest, not_after) = ASN1Time::from_der(rest).ok()?;
    rest.is_empty()
        .then(|| (not_before.to_datetime(), not_after.to_datetime()))
}

/// The extensions of a certificate as one pass over them finds them.
#[derive(Debug, Default)]
struct Extensions<'a> {
    /// The SEQUENCE's content.
    all: &'a [u8],
    basic_constraints: Unique<'a>,
    key_usage: Unique<'a>,
}

/// `[3] EXPLICIT SEQUENCE SIZE (1..MAX) OF Extension`, every extension's envelope
/// checked.
fn extension_list(explicit: &[u8]) -> Option<Extensions<'_>> {
    let mut outer = Reader::new(explicit);
    let list = outer.read_universal(tag::SEQUENCE).ok()?;
    if !outer.is_empty() {
        return None;
    }
    let mut found = Extensions {
        all: list.content,
        ..Extensions::default()
    };
    let mut extensions = Reader::new(list.content);
    while !extensions.is_empty() {
        let extension = extensions.read_universal(tag::SEQUENCE).ok()?;
        let extension = extension_envelope(extension.content).ok()?;
        match extension.oid {
            OID_BASIC_CONSTRAINTS => found.basic_constraints.add(extension.value),
            OID_KEY_USAGE => found.key_usage.add(extension.value),
            _ => {}
        }
    }
    Some(found)
}

/// `Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET
/// STRING }`'s content. A critical flag of one octet other than `FF` is taken as BER
/// has it (some issuers write `01`), as x509-parser takes it.
fn extension_envelope(content: &[u8]) -> Result<Extension<'_>, ()> {
    let mut parts = Reader::new(content);
    let oid = parts.read_universal(tag::OBJECT_IDENTIFIER).map_err(drop)?;
    if !is_oid(oid.content) {
        return Err(());
    }
    let mut value = parts.read().map_err(drop)?;
    if value.is_universal(BOOLEAN) {
        if value.content.len() != 1 {
            return Err(());
        }
        value = parts.read().map_err(drop)?;
    }
    if !value.is_universal(OCTET_STRING) || !parts.is_empty() {
        return Err(());
    }
    Ok(Extension {
        oid: oid.content,
        value: value.content,
    })
}

#[cfg(test)]
mod tests {
    use x509_parser::certificate::X509CertificateParser;
    use x509_parser::nom::Parser as _;

    use super::*;

    /// A CA certificate with a name of two attributes and three extensions, and a leaf
    /// with subject alternative names and an extended key usage.
    fn certificates() -> [Vec<u8>; 2] {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Contoso CA");
        ca.distinguished_name
            .push(rcgen::DnType::OrganizationName, "Contoso");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(2));
        ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let mut leaf =
            rcgen::CertificateParams::new(vec!["client.contoso.com".to_owned()]).unwrap();
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0xA1, 0xB2]));
        [
            ca.self_signed(&key).unwrap().der().to_vec(),
            leaf.self_signed(&key).unwrap().der().to_vec(),
        ]
    }

    fn x509_parser_reads(der: &[u8]) -> bool {
        matches!(
            X509CertificateParser::new().with_deep_parse_extensions(false).parse(der),
            Ok((rest, _)) if rest.is_empty()
        )
    }

    #[test]
    fn every_field_is_the_span_x509_parser_finds() {
        for der in certificates() {
            let ours = read(&der).unwrap();
            let (_, theirs) = X509CertificateParser::new().parse(&der).unwrap();
            let tbs = &theirs.tbs_certificate;
            let unique = |oid: &[u8]| {
                let mut found = Unique::Absent;
                for extension in theirs
                    .extensions()
                    .iter()
                    .filter(|e| e.oid.as_bytes() == oid)
                {
                    found.add(extension.value);
                }
                found
            };
            assert_eq!(ours.basic_constraints, unique(OID_BASIC_CONSTRAINTS));
            assert_eq!(ours.key_usage, unique(OID_KEY_USAGE));
            assert_eq!(ours.version, tbs.version.0);
            assert_eq!(ours.serial, tbs.raw_serial());
            assert_eq!(ours.issuer, tbs.issuer.as_raw());
            assert_eq!(ours.subject, tbs.subject.as_raw());
            assert_eq!(ours.not_before, tbs.validity.not_before.to_datetime());
            assert_eq!(ours.not_after, tbs.validity.not_after.to_datetime());
            assert_eq!(ours.spki, tbs.subject_pki.raw);
            assert_eq!(
                ours.signature_algorithm,
                theirs.signature_algorithm.algorithm.as_bytes()
            );
            let extensions: Vec<(&[u8], &[u8])> =
                ours.extensions().map(|e| (e.oid, e.value)).collect();
            let expected: Vec<(&[u8], &[u8])> = theirs
                .extensions()
                .iter()
                .map(|e| (e.oid.as_bytes(), e.value))
                .collect();
            assert_eq!(extensions, expected);
            assert!(!extensions.is_empty());
        }
    }

    /// Every single-octet change of the two certificates (four changes per octet) is
    /// read only if x509-parser reads it too: the reader is never more lenient. It is
    /// stricter where x509-parser skips what it cannot read (octets left over inside a
    /// name, an extension or the certificate; a universal tag 3 taken for `[3]`).
    #[test]
    fn no_changed_certificate_is_read_that_x509_parser_refuses() {
        let (mut both, mut neither, mut stricter) = (0, 0, 0);
        for der in certificates() {
            for at in 0..der.len() {
                for delta in [0x01, 0x7f, 0x80, 0xff] {
                    let mut changed = der.clone();
                    changed[at] = changed[at].wrapping_add(delta);
                    // What `cert::parse` checks before the structure.
                    let whole = crate::cert::der::read_header(&changed)
                        .is_ok_and(|(header, length)| header + length == changed.len());
                    if !whole {
                        continue;
                    }
                    match (read(&changed).is_ok(), x509_parser_reads(&changed)) {
                        (true, true) => both += 1,
                        (false, false) => neither += 1,
                        (false, true) => stricter += 1,
                        (true, false) => panic!(
                            "octet {at} + {delta:#x} is read, x509-parser refuses it: {:02x?} {:?}",
                            &changed[at.saturating_sub(12)..(at + 12).min(changed.len())],
                            X509CertificateParser::new()
                                .with_deep_parse_extensions(false)
                                .parse(&changed)
                                .err()
                        ),
                    }
                }
            }
        }
        // Most changes land in values (a name's text, the key, the signature).
        assert!(
            both > 2 * (neither + stricter),
            "{both} {neither} {stricter}"
        );
        assert!(neither > 0 && stricter > 0, "{neither} {stricter}");
    }

    #[test]
    fn a_truncated_or_extended_certificate_is_refused() {
        let [der, _] = certificates();
        for len in 0..der.len() {
            assert!(read(&der[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn the_error_names_the_field_and_where_it_starts() {
        let [der, _] = certificates();
        let (_, theirs) = X509CertificateParser::new().parse(&der).unwrap();
        let subject = theirs.tbs_certificate.subject.as_raw();
        let at = subject.as_ptr() as usize - der.as_ptr() as usize;
        let mut changed = der.clone();
        changed[at] = 0x31; // a SET where the Name's SEQUENCE should be
        assert_eq!(
            read(&changed).unwrap_err(),
            format!("the subject is not a valid Name (at byte {at})")
        );
        let mut changed = der;
        let end = changed.len();
        changed[end - 1 - 70] = 0x00; // inside the signature: the structure still reads
        assert!(read(&changed).is_ok());
    }

    #[test]
    fn the_pass_over_the_extensions_finds_basic_constraints_and_a_repeated_key_usage() {
        let [der, _] = certificates();
        let tbs = read(&der).unwrap();
        assert!(matches!(tbs.basic_constraints, Unique::Once(_)));
        assert!(matches!(tbs.key_usage, Unique::Once(_)));
        // [3] { SEQUENCE { keyUsage, keyUsage (critical), an unknown OID } }
        let key_usage = [0x30, 0x08, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x04, 0x01, 0x00];
        let critical = [
            0x30, 0x0b, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x01, 0x01,
        ];
        let unknown = [0x30, 0x06, 0x06, 0x01, 0x01, 0x04, 0x01, 0x02];
        let mut explicit = vec![0x30, 0x1f];
        explicit.extend(key_usage.iter().chain(&critical).chain(&unknown));
        let found = extension_list(&explicit).unwrap();
        assert_eq!(found.key_usage, Unique::Repeated);
        assert_eq!(found.basic_constraints, Unique::Absent);
        assert_eq!(found.all, &explicit[2..]);
        // Without the unknown extension's last octet the list no longer reads.
        explicit[1] -= 1;
        explicit.pop();
        assert!(extension_list(&explicit).is_none());
    }

    #[test]
    fn versions_and_bit_strings_are_read_by_their_rules() {
        assert_eq!(explicit_u32(&[0x02, 0x01, 0x02]), Some(2));
        assert_eq!(explicit_u32(&[0x02, 0x02, 0x00, 0x80]), Some(128));
        for bad in [
            &[0x02, 0x01, 0x80][..],         // negative
            &[0x02, 0x02, 0x00, 0x01],       // not minimal
            &[0x02, 0x00],                   // empty
            &[0x02, 0x01, 0x02, 0x05, 0x00], // followed by more
            &[0x04, 0x01, 0x02],             // not an INTEGER
        ] {
            assert_eq!(explicit_u32(bad), None, "{bad:?}");
        }
        assert!(bit_string(&[0x00]) && bit_string(&[0x07, 0x80]) && bit_string(&[0x00, 0xff]));
        assert!(!bit_string(&[]) && !bit_string(&[0x08, 0x00]) && !bit_string(&[0x01]));
        assert!(!bit_string(&[0x01, 0x81]) && !bit_string(&[0x07, 0x40]));
        assert!(is_oid(&[0x55, 0x04, 0x03]));
        assert!(!is_oid(&[]) && !is_oid(&[0x55, 0x84]) && !is_oid(&[0x80, 0x01]));
    }
}
