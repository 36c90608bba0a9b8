//! Distinguished names in .NET's `X500DistinguishedName.Name` format (spec §5.1):
//! RDNs in reverse DER order joined by `", "`, the attributes of a multi-valued RDN
//! joined by `" + "` in encoding order, Windows key names (`S`, `E`, `OID.x.y`),
//! Windows quoting, and `""` for a name that is not valid DER.

use super::der::{self, Class, Reader, Tlv, tag};

/// One `type=value` pair of a name, value already decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) oid: String,
    pub(crate) value: String,
    /// False when `value` is the `#HEX` rendering of a value that is not a string.
    pub(crate) is_text: bool,
}

/// A decoded name: RDNs in DER order, each a list of attributes in encoding order.
/// A name that is not valid DER decodes to no RDNs, which formats as `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Name {
    rdns: Vec<Vec<Attribute>>,
}

impl Name {
    /// Decodes the DER of a `Name` (the whole SEQUENCE). Invalid DER gives an empty
    /// name, as .NET does for Windows compatibility.
    pub(crate) fn from_der(der: &[u8]) -> Self {
        parse(der).map(|rdns| Self { rdns }).unwrap_or_default()
    }

    /// `X500DistinguishedName.Name` (== `Subject` / `Issuer`).
    pub(crate) fn to_dotnet_string(&self) -> String {
        let mut out = String::with_capacity(128);
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            for (j, attribute) in rdn.iter().enumerate() {
                if j > 0 {
                    out.push_str(" + ");
                }
                match key_name(&attribute.oid) {
                    Some(key) => out.push_str(key),
                    None => {
                        out.push_str("OID.");
                        out.push_str(&attribute.oid);
                    }
                }
                out.push('=');
                if attribute.is_text {
                    push_text(&mut out, &attribute.value);
                } else {
                    out.push_str(&attribute.value);
                }
            }
        }
        out
    }

    /// Attributes in the order `GetNameInfo` scans them: RDNs last to first, and
    /// inside a multi-valued RDN in encoding order.
    pub(crate) fn reversed(&self) -> impl Iterator<Item = &Attribute> {
        self.rdns.iter().rev().flatten()
    }
}

/// Formats DER name bytes as .NET does; `""` when they are not a valid name.
#[cfg(test)]
pub(crate) fn format_dotnet(der: &[u8]) -> String {
    Name::from_der(der).to_dotnet_string()
}

fn parse(der: &[u8]) -> Option<Vec<Vec<Attribute>>> {
    let mut outer = Reader::new(der);
    let sequence = outer.read_universal(tag::SEQUENCE).ok()?;
    if !outer.is_empty() || !sequence.constructed {
        return None;
    }
    let mut rdns = Vec::new();
    let mut sets = Reader::new(sequence.content);
    while !sets.is_empty() {
        let set = sets.read_universal(tag::SET).ok()?;
        let mut attributes = Vec::new();
        let mut pairs = Reader::new(set.content);
        while !pairs.is_empty() {
            let pair = pairs.read_universal(tag::SEQUENCE).ok()?;
            let mut fields = Reader::new(pair.content);
            let oid = fields.read_universal(tag::OBJECT_IDENTIFIER).ok()?;
            let value = fields.read().ok()?;
            if !fields.is_empty() {
                return None;
            }
            let (value, is_text) = match decode_value(&value)? {
                Some(text) => (text, true),
                None => (hex_value(&value), false),
            };
            attributes.push(Attribute {
                oid: der::oid_to_string(oid.content)?,
                value,
                is_text,
            });
        }
        rdns.push(attributes);
    }
    Some(rdns)
}

/// The text of a string value: an attribute value of a name, or the value of a UPN
/// otherName (which Windows decodes as any string type, not only UTF8String).
///
/// String types decode as .NET does, with trailing NULs trimmed. UniversalString
/// and VisibleString, which .NET's managed decoder refuses but Windows prints, are
/// decoded too.
///
/// Returns `Some(None)` for a non-string value, and `None` when string bytes are not
/// valid for their type, which makes the whole name invalid.
pub(crate) fn decode_value(value: &Tlv<'_>) -> Option<Option<String>> {
    if value.class != Class::Universal || value.constructed {
        return Some(None);
    }
    let text = match value.number {
        tag::UTF8_STRING => std::str::from_utf8(value.content).ok()?.to_owned(),
        tag::PRINTABLE_STRING | tag::NUMERIC_STRING | tag::IA5_STRING | tag::VISIBLE_STRING => {
            if !value.content.is_ascii() {
                return None;
            }
            value.content.iter().map(|&b| char::from(b)).collect()
        }
        // .NET reads T61String as UTF-8 and falls back to Latin-1.
        tag::T61_STRING => match std::str::from_utf8(value.content) {
            Ok(text) => text.to_owned(),
            Err(_) => value.content.iter().map(|&b| char::from(b)).collect(),
        },
        tag::BMP_STRING => {
            if !value.content.len().is_multiple_of(2) {
                return None;
            }
            let units = value
                .content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()?
        }
        tag::UNIVERSAL_STRING => {
            if !value.content.len().is_multiple_of(4) {
                return None;
            }
            value
                .content
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect::<Option<String>>()?
        }
        _ => return Some(None),
    };
    Some(Some(text.trim_end_matches('\0').to_owned()))
}

/// Universal tag of OCTET STRING, the one non-string value Windows unwraps.
const OCTET_STRING: u32 = 4;

/// A value that is not a string, as Windows CryptoAPI prints it: `#` and uppercase hex,
/// the form RFC 4514 uses too. An OCTET STRING (`CERT_RDN_OCTET_STRING`) shows its
/// content, unwrapped once (`#0102FF` for `04 03 01 02 FF`); any other value (INTEGER,
/// OID, a constructed or tagged value: `CERT_RDN_ENCODED_BLOB`) shows its whole DER
/// encoding (an OID value prints as `OID.2.5.4.106=#06032A0304`). It is printed without
/// quotes: a string containing `#` is always quoted, so `#…` unquoted can only be such a
/// value. (.NET's managed decoder instead gives `""` for the whole name; no APIM policy
/// can rely on that.)
fn hex_value(value: &Tlv<'_>) -> String {
    let shown = if value.is_universal(OCTET_STRING) && !value.constructed {
        value.content
    } else {
        value.raw
    };
    let mut out = String::with_capacity(1 + shown.len() * 2);
    out.push('#');
    out.push_str(&crate::text::hex_upper(shown));
    out
}

/// Appends a string value, quoted when .NET would quote it (`"` doubled inside).
fn push_text(out: &mut String, value: &str) {
    if needs_quoting(value) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn needs_quoting(value: &str) -> bool {
    let quotable_space = |c: char| c == ' ' || ('\t'..='\r').contains(&c);
    value.is_empty()
        || value.starts_with(quotable_space)
        || value.ends_with(quotable_space)
        || value.contains([',', '+', '=', '"', '\n', '<', '>', '#', ';'])
}

/// The Windows key name for an attribute OID (spec §5.1 table).
fn key_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.7" => "L",
        "2.5.4.8" => "S",
        "2.5.4.6" => "C",
        "1.2.840.113549.1.9.1" => "E",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.42" => "G",
        "2.5.4.4" => "SN",
        "2.5.4.12" => "T",
        "2.5.4.43" => "I",
        "2.5.4.17" => "PostalCode",
        "2.5.4.13" => "Description",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.20" => "Phone",
        "2.5.4.18" => "POBox",
        "2.5.4.24" => "X21Address",
        "2.23.133.2.1" => "TPMManufacturer",
        "2.23.133.2.2" => "TPMModel",
        "2.23.133.2.3" => "TPMVersion",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny DER writer: enough to build names that rcgen cannot (multi-valued RDNs,
    /// unknown OIDs, NumericString, non-string values).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
        let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut groups = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                groups.push((rest & 0x7f) as u8 | 0x80);
                rest >>= 7;
            }
            content.extend(groups.iter().rev());
        }
        tlv(0x06, &content)
    }

    /// One attribute with an explicit value encoding.
    fn attr(dotted: &str, value: Vec<u8>) -> Vec<u8> {
        tlv(0x30, &[oid(dotted), value].concat())
    }

    fn utf8(dotted: &str, text: &str) -> Vec<u8> {
        attr(dotted, tlv(0x0c, text.as_bytes()))
    }

    fn printable(dotted: &str, text: &str) -> Vec<u8> {
        attr(dotted, tlv(0x13, text.as_bytes()))
    }

    /// A name from RDNs in DER order; each RDN is a list of attributes.
    fn name(rdns: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let sets: Vec<u8> = rdns
            .iter()
            .flat_map(|rdn| tlv(0x31, &rdn.concat()))
            .collect();
        tlv(0x30, &sets)
    }

    fn single(attributes: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
        attributes.into_iter().map(|a| vec![a]).collect()
    }

    const CN: &str = "2.5.4.3";
    const O: &str = "2.5.4.10";
    const OU: &str = "2.5.4.11";
    const L: &str = "2.5.4.7";
    const ST: &str = "2.5.4.8";
    const C: &str = "2.5.4.6";
    const E: &str = "1.2.840.113549.1.9.1";

    #[test]
    fn every_worked_example_of_spec_section_5_1_formats_exactly() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "1: the long microsoft name, with EV attributes Windows does not name",
                name(&single(vec![
                    printable("1.3.6.1.4.1.311.60.2.1.3", "US"),
                    printable("1.3.6.1.4.1.311.60.2.1.2", "Washington"),
                    printable("2.5.4.15", "Private Organization"),
                    printable("2.5.4.5", "600413485"),
                    printable(C, "US"),
                    printable("2.5.4.17", "98052"),
                    printable(ST, "Washington"),
                    printable(L, "Redmond"),
                    printable("2.5.4.9", "1 Microsoft Way"),
                    printable(O, "Microsoft Corporation"),
                    printable(OU, "MSCOM"),
                    printable(CN, "www.microsoft.com"),
                ])),
                "CN=www.microsoft.com, OU=MSCOM, O=Microsoft Corporation, STREET=1 Microsoft Way, \
                 L=Redmond, S=Washington, PostalCode=98052, C=US, SERIALNUMBER=600413485, \
                 OID.2.5.4.15=Private Organization, OID.1.3.6.1.4.1.311.60.2.1.2=Washington, \
                 OID.1.3.6.1.4.1.311.60.2.1.3=US",
            ),
            (
                "2: stateOrProvince prints as S",
                name(&single(vec![printable(C, "US"), printable(ST, "VA")])),
                "S=VA, C=US",
            ),
            (
                "3: a multi-valued RDN keeps its encoding order",
                name(&[vec![utf8(CN, "James"), utf8(O, "Microsoft")]]),
                "CN=James + O=Microsoft",
            ),
            (
                "4: an unknown OID prints as OID.x.y",
                name(&single(vec![printable("1.1.1.2.2.3", "Invalid Oid")])),
                "OID.1.1.1.2.2.3=Invalid Oid",
            ),
            (
                "5a: a comma is quoted",
                name(&single(vec![utf8(CN, "Common,Name")])),
                "CN=\"Common,Name\"",
            ),
            (
                "5b: a quote is doubled inside quotes",
                name(&single(vec![utf8(CN, "Common\"Name")])),
                "CN=\"Common\"\"Name\"",
            ),
            (
                "5c: an empty value is quoted",
                name(&single(vec![utf8(CN, "")])),
                "CN=\"\"",
            ),
            (
                "5d: a leading space is quoted",
                name(&single(vec![utf8(CN, " Common Name")])),
                "CN=\" Common Name\"",
            ),
            (
                "6: a NumericString decodes as text",
                name(&single(vec![
                    attr("1.1.1.2.2.3", tlv(0x12, b"123 654 7890")),
                    utf8(CN, "Test"),
                ])),
                "CN=Test, OID.1.1.1.2.2.3=123 654 7890",
            ),
            (
                "7: Contoso, Inc.",
                name(&single(vec![
                    printable(C, "US"),
                    utf8(ST, "Illinois"),
                    utf8(L, "Chicago"),
                    utf8(O, "Contoso, Inc."),
                    utf8(CN, "*.contoso.com"),
                ])),
                "CN=*.contoso.com, O=\"Contoso, Inc.\", L=Chicago, S=Illinois, C=US",
            ),
            (
                "8: email address prints as E",
                name(&single(vec![
                    printable(C, "US"),
                    utf8(O, "Contoso"),
                    utf8(CN, "client1"),
                    attr(E, tlv(0x16, b"a@contoso.com")),
                ])),
                "E=a@contoso.com, CN=client1, O=Contoso, C=US",
            ),
        ];
        for (case, der, expected) in cases {
            assert_eq!(format_dotnet(&der), expected, "case {case}");
        }
    }

    #[test]
    fn quoting_follows_the_windows_character_list() {
        let cases = [
            ("a+b", "\"a+b\""),
            ("a=b", "\"a=b\""),
            ("a<b", "\"a<b\""),
            ("a>b", "\"a>b\""),
            ("a#b", "\"a#b\""),
            ("a;b", "\"a;b\""),
            ("a\nb", "\"a\nb\""),
            ("trailing\t", "\"trailing\t\""),
            ("\u{b}vt", "\"\u{b}vt\""),
            ("ff\u{c}", "\"ff\u{c}\""),
            ("\rcr", "\"\rcr\""),
            ("mid\rcr", "mid\rcr"),
            ("\u{2002}en space", "\u{2002}en space"),
            ("back\\slash", "back\\slash"),
            ("plain", "plain"),
        ];
        for (value, rendered) in cases {
            let der = name(&single(vec![utf8(CN, value)]));
            assert_eq!(format_dotnet(&der), format!("CN={rendered}"), "{value:?}");
        }
    }

    #[test]
    fn string_types_decode_and_trailing_nuls_are_trimmed() {
        let bmp: Vec<u8> = "Zoë".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let universal: Vec<u8> = "Zoë"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        let cases = [
            (tlv(0x1e, &bmp), "Zoë"),
            (tlv(0x1c, &universal), "Zoë"),
            (tlv(0x14, b"caf\xe9"), "café"),
            (tlv(0x14, "café".as_bytes()), "café"),
            (tlv(0x1a, b"visible"), "visible"),
            (tlv(0x16, b"nul\0\0"), "nul"),
        ];
        for (value, expected) in cases {
            let der = name(&single(vec![attr(CN, value)]));
            assert_eq!(format_dotnet(&der), format!("CN={expected}"));
        }
    }

    #[test]
    fn non_string_values_render_as_unquoted_hex_of_their_encoding() {
        let der = name(&single(vec![
            attr("1.2.3.4", tlv(0x02, &[0x01, 0xab])),
            attr("1.2.3.5", tlv(0x06, &[0x2a, 0x03, 0x04])),
            attr("1.2.3.6", tlv(0x30, &tlv(0x04, &[0x01]))),
            utf8(CN, "x"),
        ]));
        assert_eq!(
            format_dotnet(&der),
            "CN=x, OID.1.2.3.6=#3003040101, OID.1.2.3.5=#06032A0304, OID.1.2.3.4=#020201AB"
        );
    }

    #[test]
    fn an_octet_string_value_renders_as_the_hex_of_its_content_as_windows_does() {
        let cases = [
            (tlv(0x04, &[0x01, 0x02, 0xff]), "#0102FF"),
            (tlv(0x04, &[]), "#"),
            // Unwrapped once only: an OCTET STRING inside shows as its encoding.
            (tlv(0x04, &tlv(0x04, &[0xab])), "#0401AB"),
        ];
        for (value, rendered) in cases {
            let der = name(&single(vec![attr("1.2.3.4", value), utf8(CN, "x")]));
            assert_eq!(format_dotnet(&der), format!("CN=x, OID.1.2.3.4={rendered}"));
        }
    }

    #[test]
    fn invalid_names_format_as_empty() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("not a sequence", tlv(0x31, &[])),
            (
                "truncated",
                name(&single(vec![utf8(CN, "x")]))[..5].to_vec(),
            ),
            (
                "trailing bytes",
                [name(&single(vec![utf8(CN, "x")])), vec![0]].concat(),
            ),
            ("RDN not a SET", tlv(0x30, &tlv(0x30, &utf8(CN, "x")))),
            (
                "bad UTF-8",
                name(&single(vec![attr(CN, tlv(0x0c, b"\xff"))])),
            ),
            (
                "non-ASCII PrintableString",
                name(&single(vec![attr(CN, tlv(0x13, b"\xe9"))])),
            ),
            (
                "odd BMPString",
                name(&single(vec![attr(CN, tlv(0x1e, b"\x00a\x00"))])),
            ),
            (
                "extra field",
                name(&[vec![tlv(
                    0x30,
                    &[oid(CN), tlv(0x0c, b"a"), tlv(0x0c, b"b")].concat(),
                )]]),
            ),
            ("empty input", vec![]),
        ];
        for (case, der) in cases {
            assert_eq!(format_dotnet(&der), "", "{case}");
        }
    }

    #[test]
    fn an_empty_name_formats_as_empty() {
        assert_eq!(format_dotnet(&tlv(0x30, &[])), "");
    }

    #[test]
    fn reversed_scans_rdns_last_first_and_attributes_in_encoding_order() {
        let der = name(&[
            vec![utf8(C, "US")],
            vec![utf8(CN, "a"), utf8(O, "b")],
            vec![utf8(OU, "c")],
        ]);
        let decoded = Name::from_der(&der);
        let values: Vec<_> = decoded.reversed().map(|a| a.value.as_str()).collect();
        assert_eq!(values, ["c", "a", "b", "US"]);
    }
}
