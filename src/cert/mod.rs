//! X.509 certificates as an APIM policy sees them.
//!
//! Decodes what front ends forward (PEM, DER, base64 DER, URL-encoded PEM) and exposes
//! the properties of .NET's `X509Certificate2` in .NET's exact string formats, so a
//! policy migrated from APIM compares the same strings. This module never decides trust:
//! that is [`crate::trust`].
//!
//! * [`decode_chain`] turns one front-end value into certificates, leaf first, with the
//!   input size and chain length capped ([`MAX_INPUT_BYTES`], [`MAX_CHAIN_LENGTH`]).
//! * [`Certificate`] holds the DER and every property, computed once: at decode, or
//!   when first read.
//! * Times are UTC. APIM shows `NotBefore`/`NotAfter` in the gateway's local time;
//!   certgate runs with UTC as its local time, so the two agree on a UTC gateway.

mod decode;
pub(crate) mod der;
mod ext;
mod name;
mod on_demand;
mod presented;
mod tbs;
mod uploaded;

pub(crate) use decode::PemBlocks;
pub use decode::{MAX_CHAIN_LENGTH, MAX_INPUT_BYTES};
pub use presented::{PresentedChain, PresentedChains};
pub use uploaded::{Upload, UploadedCertificates};

use std::sync::OnceLock;

use time::OffsetDateTime;

use ext::AltName;
use name::Name;
use on_demand::{LazyName, OnDemand};
use tbs::{OID_EXTENDED_KEY_USAGE, OID_ISSUER_ALT_NAME, OID_SUBJECT_ALT_NAME, Tbs, Unique};

/// Why input could not be decoded as a certificate. Each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("the certificate input is empty; expected PEM, DER, base64 DER or URL-encoded PEM")]
    Empty,
    #[error(
        "the certificate input is {len} bytes; at most {max} are accepted (a client certificate \
         chain is a few KiB)"
    )]
    InputTooLarge { len: usize, max: usize },
    #[error("chain has {count} certificates; at most {max} are accepted")]
    ChainTooLong { count: usize, max: usize },
    #[error("not a certificate: PEM block is `{label}`; expected `CERTIFICATE`")]
    NotACertificate { label: String },
    #[error("PEM block {index} is malformed: {reason}")]
    MalformedPem { index: usize, reason: String },
    #[error("not a certificate: {reason}")]
    UnrecognizedFormat { reason: String },
    #[error(
        "truncated DER at byte {offset} (certificate {index}): the data ends before the \
         certificate does; was the value cut off?"
    )]
    TruncatedDer { index: usize, offset: usize },
    #[error(
        "{extra} bytes of trailing data after the DER certificate; pass exactly one \
         certificate, or use decode_chain for several"
    )]
    TrailingData { extra: usize },
    #[error("certificate {index} is not a valid X.509 certificate: {reason}")]
    InvalidCertificate { index: usize, reason: String },
    #[error(
        "holds {count} certificates where the deployment bundle states the thumbprint of one \
         (corrupted bundle); push the deployment again with `certgate trust push`"
    )]
    NotTheStatedOne { count: usize },
    #[error(
        "its thumbprint is {actual}, not the {stated} the deployment bundle states (corrupted \
         bundle); push the deployment again with `certgate trust push`"
    )]
    StatedThumbprintMismatch { stated: String, actual: String },
}

/// A decoded X.509 certificate with its .NET-visible properties.
///
/// Every property is computed once. What path building and the verification cache need
/// (dates, CA constraints, SHA-256, alternative names) comes from the one parse of
/// [`Certificate::from_der`]; the rest (names, thumbprint, serial number, key,
/// signature algorithm, extended key usages) is decoded from its part of the DER when
/// first read (`cert/on_demand.rs`): a chain's intermediates are seldom read, and a policy
/// reads few of these. The type stays `Send + Sync` and cheap to clone behind `Arc`.
/// `name_info` assembles its answer from the decoded names on each call.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    subject: LazyName,
    issuer: LazyName,
    subject_alt: Vec<AltName>,
    issuer_alt: Vec<AltName>,
    sans: OnceLock<SubjectAltNames>,
    /// The SHA-1 and its hex, the `Thumbprint`: one hashing for both.
    thumbprint: OnceLock<([u8; 20], String)>,
    /// SHA-256 of the DER: the verification cache's key, hex only when shown. Computed
    /// when first asked: a trust store's hundred CAs are never a cache key, and hashing
    /// each at load was more than half of decoding it.
    sha256: OnceLock<[u8; 32]>,
    serial_number: OnDemand<String>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    version: u32,
    /// The algorithm's OID.
    signature_algorithm: OnDemand<Oid>,
    /// The last extendedKeyUsage extension's value, if any.
    extended_key_usages: Option<OnDemand<Option<Vec<String>>>>,
    /// The SubjectPublicKeyInfo.
    public_key: OnDemand<PublicKeyInfo>,
    constraints: CaConstraints,
}

/// What decides whether a certificate may act as a CA, read in the one parse of
/// [`Certificate::from_der`]: a trust store loading a hundred CAs parsed each again for
/// these, a sixth of what loading them cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaConstraints {
    /// basicConstraints as `(cA, pathLenConstraint)`, `None` when absent; `Err` when it
    /// is malformed or repeated, which no chain may rest on.
    pub basic: Result<Option<(bool, Option<u32>)>, String>,
    /// keyUsage absent, or present with cRLSign.
    pub crl_signer: bool,
    /// Subject and issuer are the same name, byte for byte.
    pub self_issued: bool,
}

impl CaConstraints {
    /// Read as x509-parser's `basic_constraints()` and `key_usage()` read them ([`parse`]
    /// checks only the extensions' envelopes): repeated is an error; a basicConstraints
    /// that does not parse counts as absent, a keyUsage that does not parse as one
    /// without cRLSign.
    fn of(cert: &Tbs<'_>) -> Self {
        use x509_parser::extensions::{BasicConstraints, KeyUsage};
        use x509_parser::prelude::FromDer as _;
        let basic = match cert.basic_constraints {
            Unique::Absent => Ok(None),
            Unique::Once(value) => Ok(BasicConstraints::from_der(value)
                .ok()
                .map(|(_, bc)| (bc.ca, bc.path_len_constraint))),
            Unique::Repeated => Err("duplicate extensions".to_owned()),
        };
        let crl_signer = match cert.key_usage {
            Unique::Absent => true,
            Unique::Once(value) => KeyUsage::from_der(value).is_ok_and(|(_, ku)| ku.crl_sign()),
            Unique::Repeated => false,
        };
        Self {
            basic,
            crl_signer,
            self_issued: cert.subject == cert.issuer,
        }
    }
}

/// An object identifier as .NET's `Oid`: dotted `Value` and `FriendlyName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oid {
    pub value: String,
    pub friendly_name: Option<String>,
}

/// .NET's `X509NameType`, the first argument of `GetNameInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameType {
    Simple,
    Email,
    Upn,
    Dns,
    Url,
}

impl NameType {
    /// Every name type, in .NET's enum order.
    pub const ALL: [Self; 5] = [Self::Simple, Self::Email, Self::Upn, Self::Dns, Self::Url];

    /// The .NET member name (`SimpleName`, `EmailName`, ...).
    pub fn dotnet_name(self) -> &'static str {
        match self {
            Self::Simple => "SimpleName",
            Self::Email => "EmailName",
            Self::Upn => "UpnName",
            Self::Dns => "DnsName",
            Self::Url => "UrlName",
        }
    }
}

/// Subject alternative names, by type, in certificate order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    pub dns: Vec<String>,
    pub email: Vec<String>,
    pub uri: Vec<String>,
    pub ip: Vec<String>,
}

/// The subject public key: algorithm name ("RSA", "ECDSA P-256", "Ed25519") and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub algorithm: String,
    pub bits: u32,
}

impl Certificate {
    /// Decodes exactly one DER certificate (no trailing bytes).
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        Self::decode(der.to_vec(), 1)
    }

    /// [`Certificate::from_der`] of the `index`-th certificate of a file or chain, which
    /// its errors name.
    pub(crate) fn decode(der: Vec<u8>, index: usize) -> Result<Self, CertError> {
        let tbs = parse(&der, index)?;
        let parts = Parts::of(&tbs);
        let subject = LazyName::at(&der, tbs.subject);
        let issuer = LazyName::at(&der, tbs.issuer);
        Ok(Self {
            subject,
            issuer,
            subject_alt: parts.subject_alt,
            issuer_alt: parts.issuer_alt,
            sans: OnceLock::new(),
            thumbprint: OnceLock::new(),
            sha256: OnceLock::new(),
            serial_number: OnDemand::at(&der, tbs.serial),
            not_before: tbs.not_before,
            not_after: tbs.not_after,
            version: tbs.version.saturating_add(1),
            signature_algorithm: OnDemand::at(&der, tbs.signature_algorithm),
            extended_key_usages: parts
                .extended_key_usages
                .map(|value| OnDemand::at(&der, value)),
            public_key: OnDemand::at(&der, tbs.spki),
            constraints: CaConstraints::of(&tbs),
            der,
        })
    }

    /// The DER encoding, as `RawData`.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// `Subject` (== `SubjectName.Name`): e.g. `CN=client1, O=Contoso, C=US`.
    ///
    /// RDNs last to first, joined by `", "`; a multi-valued RDN joined by `" + "` in
    /// encoding order; Windows key names (`S`, `E`, `OID.x.y` when unnamed); a value
    /// quoted when empty, when it starts or ends with whitespace, or when it contains
    /// one of `,+="<>#;` or a newline. A value that is not a string shows as `#` and
    /// the hex of its DER; a name that is not valid DER shows as `""`.
    pub fn subject(&self) -> &str {
        self.subject.text(&self.der)
    }

    /// `Issuer` (== `IssuerName.Name`), in the format of [`Certificate::subject`].
    pub fn issuer(&self) -> &str {
        self.issuer.text(&self.der)
    }

    /// `Thumbprint`: SHA-1 of the DER, uppercase hex without separators.
    pub fn thumbprint(&self) -> &str {
        &self.sha1_and_thumbprint().1
    }

    /// The SHA-1 of the DER, the bytes [`Certificate::thumbprint`] spells: compared
    /// with uploaded certificates' without spelling it out and reading it back.
    pub(crate) fn sha1(&self) -> &[u8; 20] {
        &self.sha1_and_thumbprint().0
    }

    fn sha1_and_thumbprint(&self) -> &([u8; 20], String) {
        self.thumbprint.get_or_init(|| {
            let sha1 = sha1(&self.der);
            (sha1, crate::text::hex_upper(&sha1))
        })
    }

    /// SHA-256 of the DER, uppercase hex without separators (beyond APIM).
    pub fn sha256_fingerprint(&self) -> String {
        crate::text::hex_upper(self.sha256())
    }

    /// SHA-256 of the DER.
    pub(crate) fn sha256(&self) -> &[u8; 32] {
        self.sha256.get_or_init(|| {
            let mut sha256 = [0; 32];
            sha256.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &self.der).as_ref());
            sha256
        })
    }

    /// `SerialNumber`: the DER INTEGER content bytes as uppercase hex, big-endian, with
    /// the `00` pad byte of a serial whose high bit is set kept (`00A1B2C3`).
    pub fn serial_number(&self) -> &str {
        self.serial_number.get(&self.der, crate::text::hex_upper)
    }

    /// `NotBefore`, in UTC (APIM shows the gateway's local time; certgate runs in UTC).
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// `NotAfter`, in UTC (APIM shows the gateway's local time; certgate runs in UTC).
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// `Version`: 3 for a v3 certificate.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// `SignatureAlgorithm`: `Value` and Windows `FriendlyName` (`sha256RSA`).
    pub fn signature_algorithm(&self) -> &Oid {
        self.signature_algorithm.get(&self.der, |oid| {
            let value = oid_text(oid);
            Oid {
                friendly_name: signature_friendly_name(&value).map(str::to_owned),
                value,
            }
        })
    }

    /// `GetNameInfo(kind, forIssuer)`, following .NET's managed implementation:
    ///
    /// * `Simple`: the first CN scanning RDNs last to first; else the OU, O or E that
    ///   comes first in DER order; else the first other attribute; else the first
    ///   alternative-name email.
    /// * `Email`: the first alternative-name email; else the first `E`.
    /// * `Upn`: the first alternative-name UPN otherName.
    /// * `Dns`: the first alternative-name DNS name; else the first CN.
    /// * `Url`: the first alternative-name URI.
    ///
    /// `for_issuer` reads the issuer name and the Issuer Alternative Name extension.
    /// Nothing found gives `""`.
    pub fn name_info(&self, kind: NameType, for_issuer: bool) -> String {
        let (name, alt) = if for_issuer {
            (self.issuer.decoded(&self.der), &self.issuer_alt)
        } else {
            (self.subject.decoded(&self.der), &self.subject_alt)
        };
        if kind == NameType::Simple
            && let Some(simple) = simple_name(name)
        {
            return simple.to_owned();
        }
        let from_alt = alt.iter().find_map(|entry| match (kind, entry) {
            (NameType::Simple | NameType::Email, AltName::Email(v))
            | (NameType::Dns, AltName::Dns(v))
            | (NameType::Url, AltName::Uri(v))
            | (NameType::Upn, AltName::Upn(v)) => Some(v),
            _ => None,
        });
        if let Some(value) = from_alt {
            return value.clone();
        }
        let fallback_oid = match kind {
            NameType::Email => "1.2.840.113549.1.9.1",
            NameType::Dns => "2.5.4.3",
            _ => return String::new(),
        };
        name.reversed()
            .find(|a| a.oid == fallback_oid)
            .map(|a| a.value.clone())
            .unwrap_or_default()
    }

    /// Subject alternative names by type, in certificate order.
    pub fn subject_alt_names(&self) -> &SubjectAltNames {
        self.sans.get_or_init(|| sans_by_type(&self.subject_alt))
    }

    /// Extended key usage OIDs in certificate order; `None` when the certificate has
    /// no EKU extension (which means "any usage"), `Some(&[])` for an empty one.
    pub fn extended_key_usages(&self) -> Option<&[String]> {
        self.extended_key_usages
            .as_ref()?
            .get(&self.der, ext::extended_key_usages)
            .as_deref()
    }

    /// The subject public key's algorithm and size.
    pub fn public_key(&self) -> &PublicKeyInfo {
        self.public_key.get(&self.der, public_key_info)
    }

    /// Whether basicConstraints says `cA: TRUE`.
    pub fn is_ca(&self) -> bool {
        matches!(self.constraints.basic, Ok(Some((true, _))))
    }

    /// basicConstraints, keyUsage and whether it names itself as issuer.
    pub fn ca_constraints(&self) -> &CaConstraints {
        &self.constraints
    }
}

/// Every check [`Certificate::from_der`] makes, and the parsed certificate: what can
/// fail in decoding fails here, and nothing after it can.
fn parse(der: &[u8], index: usize) -> Result<Tbs<'_>, CertError> {
    if der.is_empty() {
        return Err(CertError::Empty);
    }
    let invalid = |reason: String| CertError::InvalidCertificate { index, reason };
    if der[0] != 0x30 {
        return Err(invalid(format!(
            "DER must start with a SEQUENCE (0x30), found 0x{:02X}",
            der[0]
        )));
    }
    let (header, length) = der::read_header(der).map_err(|e| match e {
        der::DerError::Truncated { at } => CertError::TruncatedDer { index, offset: at },
        der::DerError::Invalid { at } => invalid(format!("invalid DER header at byte {at}")),
    })?;
    let total = header.saturating_add(length);
    if total > der.len() {
        return Err(CertError::TruncatedDer {
            index,
            offset: der.len(),
        });
    }
    if total < der.len() {
        return Err(CertError::TrailingData {
            extra: der.len() - total,
        });
    }
    if der.get(header) == Some(&0x02) {
        // A certificate starts with its TBS SEQUENCE; PKCS#1 and PKCS#8 keys start
        // with an INTEGER version.
        return Err(invalid(
            "this DER looks like a private key (it starts with an INTEGER), not a \
                 certificate"
                .to_owned(),
        ));
    }
    tbs::read(der).map_err(invalid)
}

/// `Thumbprint`: SHA-1 of the DER, uppercase hex.
fn thumbprint(der: &[u8]) -> String {
    crate::text::hex_upper(&sha1(der))
}

/// The SHA-1 of a DER, the bytes a `Thumbprint` spells. RustCrypto's `sha1` rather than
/// ring's: it uses the CPU's SHA instructions on x86-64 where ring's SHA-1 is portable
/// code, and hashing every uploaded certificate was the largest single cost of loading
/// 1,000.
pub fn sha1(der: &[u8]) -> [u8; 20] {
    use sha1::Digest as _;
    sha1::Sha1::digest(der).into()
}

/// The SHA-1 of the one certificate a file holds, in any form [`decode_chain`] reads,
/// without parsing it; `None` when the file holds none, several, or is not of a
/// certificate's form. What `certgate trust push` states in a bundle for each uploaded
/// certificate, so that a cold start indexes it without decoding it.
pub fn sha1_of_single(input: &[u8]) -> Option<[u8; 20]> {
    match chain_blobs(input).ok()?.as_slice() {
        [der] => Some(sha1(der)),
        _ => None,
    }
}

/// Decodes a certificate or a chain, leaf first.
///
/// Accepts PEM (one or more `CERTIFICATE` blocks, any whitespace, CRLF or JSON `\n`
/// escapes, text between blocks ignored), DER (one or several concatenated), base64 DER, URL-encoded PEM as
/// ALB sends it (`+` stays `+`), and RFC 9440 `:base64:` byte sequences (one, or a
/// comma-separated chain). Any other PEM block (a private key, a CSR) is an
/// error rather than skipped, so a key pasted by mistake is noticed. Input above
/// [`MAX_INPUT_BYTES`] or with more than [`MAX_CHAIN_LENGTH`] certificates is refused
/// before any certificate is parsed.
pub fn decode_chain(input: &[u8]) -> Result<Vec<Certificate>, CertError> {
    chain_blobs(input)?
        .into_iter()
        .enumerate()
        .map(|(i, der)| Certificate::decode(der, i + 1))
        .collect()
}

/// [`decode_chain`]'s checks without its decoding: the same input is accepted and the
/// same [`CertError`] returned, for a fraction of the cost (no names, strings or
/// hashes). For certificates that must be valid now and may be read later, or never.
pub fn check_chain(input: &[u8]) -> Result<Vec<CheckedDer>, CertError> {
    chain_blobs(input)?
        .into_iter()
        .enumerate()
        .map(|(i, der)| {
            parse(&der, i + 1)?;
            Ok(CheckedDer(der))
        })
        .collect()
}

/// The DER of each certificate of `input`, as [`decode_chain`] finds them, none of them
/// parsed yet: for certificates checked when first read. The errors are those of the
/// input's form (PEM, base64, too many); a DER that is no certificate is found when it
/// is decoded.
pub fn split_chain(input: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    chain_blobs(input)
}

fn chain_blobs(input: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let blobs = decode::der_blobs(input)?;
    if blobs.is_empty() {
        return Err(CertError::UnrecognizedFormat {
            reason: "no `-----BEGIN CERTIFICATE-----` block found".to_owned(),
        });
    }
    Ok(blobs)
}

/// The DER of one certificate that passed every check of [`Certificate::from_der`]
/// ([`check_chain`] makes them): decoding it is deterministic work that cannot meet
/// anything those checks did not already accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedDer(Vec<u8>);

impl CheckedDer {
    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// `Thumbprint` of the certificate, without decoding it.
    pub fn thumbprint(&self) -> String {
        thumbprint(&self.0)
    }

    /// The certificate with all its properties.
    ///
    /// # Errors
    /// None in practice: the checks that made this value are the ones decoding makes.
    pub fn decode(&self) -> Result<Certificate, CertError> {
        Certificate::decode(self.0.clone(), 1)
    }
}

/// The extension values certgate reads by hand.
struct Parts<'a> {
    subject_alt: Vec<AltName>,
    issuer_alt: Vec<AltName>,
    /// The last extendedKeyUsage extension's value.
    extended_key_usages: Option<&'a [u8]>,
}

impl<'a> Parts<'a> {
    fn of(cert: &Tbs<'a>) -> Self {
        let mut parts = Self {
            subject_alt: Vec::new(),
            issuer_alt: Vec::new(),
            extended_key_usages: None,
        };
        // Compared as DER: formatting each extension's OID as text cost more than
        // reading the extensions themselves.
        for extension in cert.extensions() {
            let oid = extension.oid;
            if oid == OID_SUBJECT_ALT_NAME {
                parts
                    .subject_alt
                    .extend(ext::general_names(extension.value));
            } else if oid == OID_ISSUER_ALT_NAME {
                parts.issuer_alt.extend(ext::general_names(extension.value));
            } else if oid == OID_EXTENDED_KEY_USAGE {
                parts.extended_key_usages = Some(extension.value);
            }
        }
        parts
    }
}

fn sans_by_type(names: &[AltName]) -> SubjectAltNames {
    let mut sans = SubjectAltNames::default();
    for name in names {
        match name {
            AltName::Dns(v) => sans.dns.push(v.clone()),
            AltName::Email(v) => sans.email.push(v.clone()),
            AltName::Uri(v) => sans.uri.push(v.clone()),
            AltName::Ip(v) => sans.ip.push(v.clone()),
            AltName::Upn(_) => {}
        }
    }
    sans
}

/// `GetNameInfo(SimpleName)` over the name alone: CN wins at once; otherwise the OU,
/// O or E that comes first in DER order (the scan is reversed and keeps overwriting),
/// otherwise the first other attribute in reversed order.
fn simple_name(name: &Name) -> Option<&str> {
    let (mut ou, mut o, mut e, mut first) = (None, None, None, None);
    for attribute in name.reversed() {
        let value = Some(attribute.value.as_str());
        match attribute.oid.as_str() {
            "2.5.4.3" => return value,
            "2.5.4.11" => ou = value,
            "2.5.4.10" => o = value,
            "1.2.840.113549.1.9.1" => e = value,
            _ => first = first.or(value),
        }
    }
    ou.or(o).or(e).or(first)
}

/// Windows' `FriendlyName` for signature algorithm OIDs (.NET's OID table). Ed25519
/// and Ed448 are not in that table; certgate names them anyway, since no APIM policy
/// can depend on their absence.
fn signature_friendly_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.2" => "md2RSA",
        "1.2.840.113549.1.1.3" => "md4RSA",
        "1.2.840.113549.1.1.4" => "md5RSA",
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "sha1RSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256RSA",
        "1.2.840.113549.1.1.12" => "sha384RSA",
        "1.2.840.113549.1.1.13" => "sha512RSA",
        "1.2.840.10045.4.1" => "sha1ECDSA",
        "1.2.840.10045.4.3" => "specifiedECDSA",
        "1.2.840.10045.4.3.2" => "sha256ECDSA",
        "1.2.840.10045.4.3.3" => "sha384ECDSA",
        "1.2.840.10045.4.3.4" => "sha512ECDSA",
        "1.2.840.10040.4.3" => "sha1DSA",
        "1.3.14.3.2.27" => "dsaSHA1",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => return None,
    })
}

/// An OID in dotted form, as x509-parser writes it (`to_id_string`), without its cost.
fn oid_text(oid: &[u8]) -> String {
    der::oid_to_string(oid).unwrap_or_else(|| {
        x509_parser::oid_registry::Oid::new(std::borrow::Cow::Borrowed(oid)).to_id_string()
    })
}

/// The key of a SubjectPublicKeyInfo's DER, which decoding the certificate parsed once
/// already (so the empty answer for one that does not parse is never given).
fn public_key_info(spki: &[u8]) -> PublicKeyInfo {
    use x509_parser::prelude::FromDer as _;
    match x509_parser::x509::SubjectPublicKeyInfo::from_der(spki) {
        Ok((_, spki)) => spki_info(&spki),
        Err(_) => PublicKeyInfo {
            algorithm: String::new(),
            bits: 0,
        },
    }
}

fn spki_info(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> PublicKeyInfo {
    let oid = oid_text(spki.algorithm.algorithm.as_bytes());
    let key = spki.subject_public_key.data.as_ref();
    let param_oid = || {
        spki.algorithm
            .parameters
            .as_ref()
            .filter(|p| p.tag().0 == der::tag::OBJECT_IDENTIFIER)
            .and_then(|p| der::oid_to_string(p.data))
    };
    let (algorithm, bits) = match oid.as_str() {
        "1.2.840.113549.1.1.1" => ("RSA".to_owned(), rsa_modulus_bits(key)),
        "1.2.840.113549.1.1.10" => ("RSASSA-PSS".to_owned(), rsa_modulus_bits(key)),
        "1.2.840.10045.2.1" => match param_oid().as_deref() {
            Some("1.2.840.10045.3.1.7") => ("ECDSA P-256".to_owned(), 256),
            Some("1.3.132.0.34") => ("ECDSA P-384".to_owned(), 384),
            Some("1.3.132.0.35") => ("ECDSA P-521".to_owned(), 521),
            Some("1.3.132.0.10") => ("ECDSA secp256k1".to_owned(), 256),
            Some(curve) => (format!("ECDSA {curve}"), ec_point_bits(key)),
            None => ("ECDSA".to_owned(), ec_point_bits(key)),
        },
        "1.3.101.112" => ("Ed25519".to_owned(), 256),
        "1.3.101.113" => ("Ed448".to_owned(), 448),
        "1.2.840.10040.4.1" => ("DSA".to_owned(), dsa_bits(spki)),
        _ => (format!("OID.{oid}"), bit_len(key)),
    };
    PublicKeyInfo { algorithm, bits }
}

/// Bits of the modulus of an `RSAPublicKey ::= SEQUENCE { modulus INTEGER, ... }`.
fn rsa_modulus_bits(key: &[u8]) -> u32 {
    let mut outer = der::Reader::new(key);
    let Ok(sequence) = outer.read_universal(der::tag::SEQUENCE) else {
        return 0;
    };
    match der::Reader::new(sequence.content).read() {
        Ok(modulus) if modulus.is_universal(2) => bit_len(modulus.content),
        _ => 0,
    }
}

/// Field size of an uncompressed (`04 || X || Y`) or compressed EC point.
fn ec_point_bits(point: &[u8]) -> u32 {
    let coordinate = match point.first() {
        Some(0x04) => (point.len() - 1) / 2,
        Some(0x02 | 0x03) => point.len() - 1,
        _ => 0,
    };
    u32::try_from(coordinate * 8).unwrap_or(0)
}

/// Bits of `p` in DSA's `Dss-Parms ::= SEQUENCE { p, q, g }`.
fn dsa_bits(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> u32 {
    let Some(params) = spki.algorithm.parameters.as_ref() else {
        return 0;
    };
    match der::Reader::new(params.data).read() {
        Ok(p) if p.is_universal(2) => bit_len(p.content),
        _ => 0,
    }
}

/// Significant bits of a big-endian unsigned number.
fn bit_len(bytes: &[u8]) -> u32 {
    let Some(start) = bytes.iter().position(|&b| b != 0) else {
        return 0;
    };
    let significant = &bytes[start..];
    let bits = (significant.len() - 1) * 8 + (8 - significant[0].leading_zeros() as usize);
    u32::try_from(bits).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_algorithms_have_the_windows_friendly_names_of_spec_section_5_2() {
        let cases = [
            ("1.2.840.113549.1.1.11", "sha256RSA"),
            ("1.2.840.113549.1.1.12", "sha384RSA"),
            ("1.2.840.113549.1.1.13", "sha512RSA"),
            ("1.2.840.113549.1.1.5", "sha1RSA"),
            ("1.2.840.10045.4.3.2", "sha256ECDSA"),
            ("1.2.840.10045.4.3.3", "sha384ECDSA"),
            ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
            ("1.3.101.112", "Ed25519"),
        ];
        for (oid, name) in cases {
            assert_eq!(signature_friendly_name(oid), Some(name), "{oid}");
        }
        assert_eq!(signature_friendly_name("1.2.3.4"), None);
    }

    #[test]
    fn rsa_key_size_counts_the_significant_bits_of_the_modulus() {
        // SEQUENCE { INTEGER 00 80 00 .. (2048-bit modulus), INTEGER 65537 }
        let mut modulus = vec![0x02, 0x82, 0x01, 0x01, 0x00, 0x80];
        modulus.extend([0u8; 255]);
        let exponent = [0x02, 0x03, 0x01, 0x00, 0x01];
        let content = [modulus, exponent.to_vec()].concat();
        let len = u16::try_from(content.len()).expect("short");
        let key = [vec![0x30, 0x82], len.to_be_bytes().to_vec(), content].concat();
        assert_eq!(rsa_modulus_bits(&key), 2048);
        assert_eq!(rsa_modulus_bits(&[0x30]), 0);
    }

    #[test]
    fn ec_key_size_comes_from_the_point_length() {
        assert_eq!(ec_point_bits(&[0x04; 65]), 256);
        assert_eq!(ec_point_bits(&[0x03; 33]), 256);
        assert_eq!(ec_point_bits(&[]), 0);
    }
}
