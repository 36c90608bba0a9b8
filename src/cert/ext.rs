//! Extensions read by hand for exact .NET behaviour: subject/issuer alternative names
//! (in certificate order, as `GetNameInfo` scans them) and extended key usage (OIDs in
//! certificate order, which x509-parser's flag struct does not keep).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::der::{self, Reader, tag};
use super::name;

/// The UPN otherName OID (`szOID_NT_PRINCIPAL_NAME`).
const UPN_OID: &str = "1.3.6.1.4.1.311.20.2.3";

/// One `GeneralName` that certgate exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AltName {
    Email(String),
    Dns(String),
    Uri(String),
    Ip(String),
    Upn(String),
}

/// Decodes a `GeneralNames` extension value.
///
/// Like .NET's `FindAltNameMatch`, decoding stops at the first entry that is not valid
/// (names before it stay visible); entry kinds certgate does not expose (directoryName,
/// x400Address, registeredID, other otherNames) are skipped.
pub(crate) fn general_names(value: &[u8]) -> Vec<AltName> {
    let mut names = Vec::new();
    let mut outer = Reader::new(value);
    let Ok(sequence) = outer.read_universal(tag::SEQUENCE) else {
        return names;
    };
    if !outer.is_empty() {
        return names;
    }
    let mut entries = Reader::new(sequence.content);
    while !entries.is_empty() {
        let Ok(entry) = entries.read() else {
            break;
        };
        let ia5 = || {
            (!entry.constructed && entry.content.is_ascii())
                .then(|| entry.content.iter().map(|&b| char::from(b)).collect())
        };
        let name = if entry.is_context(1) {
            ia5().map(AltName::Email)
        } else if entry.is_context(2) {
            ia5().map(AltName::Dns)
        } else if entry.is_context(6) {
            ia5().map(AltName::Uri)
        } else if entry.is_context(7) {
            match ip_address(entry.content) {
                Some(ip) => Some(AltName::Ip(ip)),
                None => continue,
            }
        } else if entry.is_context(0) {
            match other_name(entry.content) {
                Ok(Some(upn)) => Some(AltName::Upn(upn)),
                Ok(None) => continue,
                Err(()) => None,
            }
        } else {
            continue;
        };
        match name {
            Some(name) => names.push(name),
            None => break,
        }
    }
    names
}

/// `OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }` (implicitly
/// tagged \[0\], so `content` is the inside of the SEQUENCE). `Ok(None)`: not a UPN.
///
/// The UPN is meant to be a UTF8String, but Windows (`CertGetNameString`) decodes it as
/// any string type, and some issuers write an IA5String: APIM's `GetNameInfo(UpnName)`
/// returns its value, so certgate reads every string type a name attribute may have.
fn other_name(content: &[u8]) -> Result<Option<String>, ()> {
    let mut fields = Reader::new(content);
    let oid = fields
        .read_universal(tag::OBJECT_IDENTIFIER)
        .map_err(|_| ())?;
    let explicit = fields.read().map_err(|_| ())?;
    if !explicit.is_context(0) || !explicit.constructed || !fields.is_empty() {
        return Err(());
    }
    if der::oid_to_string(oid.content).as_deref() != Some(UPN_OID) {
        return Ok(None);
    }
    let mut inner = Reader::new(explicit.content);
    let value = inner.read().map_err(|_| ())?;
    if !inner.is_empty() {
        return Err(());
    }
    match name::decode_value(&value) {
        Some(Some(text)) => Ok(Some(text)),
        _ => Err(()),
    }
}

/// IPv4 dotted or IPv6 compressed text, as .NET's `IPAddress.ToString()`. Other
/// lengths (address/mask pairs belong to name constraints) are skipped.
fn ip_address(content: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(content) {
        Some(Ipv4Addr::from(v4).to_string())
    } else if let Ok(v6) = <[u8; 16]>::try_from(content) {
        Some(Ipv6Addr::from(v6).to_string())
    } else {
        None
    }
}

/// Decodes an `ExtKeyUsageSyntax` (SEQUENCE OF OID) to dotted OIDs in order; `None`
/// when the extension value is malformed.
pub(crate) fn extended_key_usages(value: &[u8]) -> Option<Vec<String>> {
    let mut outer = Reader::new(value);
    let sequence = outer.read_universal(tag::SEQUENCE).ok()?;
    if !outer.is_empty() {
        return None;
    }
    let mut oids = Vec::new();
    let mut items = Reader::new(sequence.content);
    while !items.is_empty() {
        let oid = items.read_universal(tag::OBJECT_IDENTIFIER).ok()?;
        oids.push(der::oid_to_string(oid.content)?);
    }
    Some(oids)
}
