//! `cert`: decoding and .NET-exact `X509Certificate2` properties, against certificates
//! generated at run time (fixed validity dates), and the `certgate cert inspect` CLI.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use certgate::cert::{
    CertError, Certificate, MAX_CHAIN_LENGTH, MAX_INPUT_BYTES, NameType, PresentedChains,
    check_chain, decode_chain,
};
use common::pki;
use std::sync::Arc;
use time::macros::datetime;

fn decode_one(input: &[u8]) -> Certificate {
    let mut chain = decode_chain(input).expect("decodes");
    assert_eq!(chain.len(), 1);
    chain.remove(0)
}

fn sha1_upper_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data)
        .digest()
        .to_string()
        .to_uppercase()
}

/// Percent-encodes as ALB does for `X-Amzn-Mtls-Clientcert`: `+`, `=` and `/` are safe.
fn alb_url_encode(text: &str) -> String {
    const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'+')
        .remove(b'=')
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(text, ESCAPED).to_string()
}

#[test]
fn a_client_certificate_exposes_every_property_as_dotnet_does() {
    let (client, _) = pki::client_and_ca();
    let cert = Certificate::from_der(&client.der).expect("decodes");

    assert_eq!(
        cert.subject(),
        "E=a@contoso.com, CN=client1, O=\"Contoso, Inc.\", S=Illinois, C=US"
    );
    assert_eq!(cert.issuer(), "CN=Contoso Test Root, O=Contoso, C=US");
    assert_eq!(cert.thumbprint(), sha1_upper_hex(&client.der));
    // Computed on first read since it is no longer computed at decode: the digest of the
    // DER as it came, in uppercase hex.
    let expected: String = ring::digest::digest(&ring::digest::SHA256, &client.der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(cert.sha256_fingerprint(), expected);
    assert_eq!(cert.serial_number(), "00A1B2C3");
    assert_eq!(cert.not_before(), datetime!(2025-01-02 00:00:00 UTC));
    assert_eq!(cert.not_after(), datetime!(2035-03-04 00:00:00 UTC));
    assert_eq!(cert.version(), 3);
    assert_eq!(cert.signature_algorithm().value, "1.2.840.10045.4.3.3");
    assert_eq!(
        cert.signature_algorithm().friendly_name.as_deref(),
        Some("sha384ECDSA")
    );
    let sans = cert.subject_alt_names();
    assert_eq!(sans.dns, ["client1.contoso.com", "alt.contoso.com"]);
    assert_eq!(sans.email, ["client1@contoso.com"]);
    assert_eq!(sans.uri, ["spiffe://contoso/client1"]);
    assert_eq!(sans.ip, ["192.0.2.7", "2001:db8::1"]);
    assert_eq!(
        cert.extended_key_usages(),
        Some(
            &[
                "1.3.6.1.5.5.7.3.2".to_owned(),
                "1.3.6.1.5.5.7.3.1".to_owned()
            ][..]
        )
    );
    assert_eq!(cert.public_key().algorithm, "ECDSA P-256");
    assert_eq!(cert.public_key().bits, 256);
    assert!(!cert.is_ca());
    assert_eq!(cert.der(), client.der.as_slice());
}

#[test]
fn a_ca_certificate_reports_its_key_and_basic_constraints() {
    let (_, ca) = pki::client_and_ca();
    let cert = Certificate::from_der(&ca.der).expect("decodes");
    assert!(cert.is_ca());
    assert_eq!(cert.subject(), cert.issuer());
    assert_eq!(cert.serial_number(), "01");
    assert_eq!(cert.public_key().algorithm, "ECDSA P-384");
    assert_eq!(cert.public_key().bits, 384);
    assert_eq!(cert.extended_key_usages(), None);
}

#[test]
fn get_name_info_reads_the_subject_and_its_alternative_names() {
    let (client, _) = pki::client_and_ca();
    let cert = Certificate::from_der(&client.der).expect("decodes");
    let subject = |kind| cert.name_info(kind, false);
    assert_eq!(subject(NameType::Simple), "client1");
    assert_eq!(subject(NameType::Dns), "client1.contoso.com");
    assert_eq!(subject(NameType::Email), "client1@contoso.com");
    assert_eq!(subject(NameType::Upn), "client1@contoso.onmicrosoft.com");
    assert_eq!(subject(NameType::Url), "spiffe://contoso/client1");
}

#[test]
fn get_name_info_for_the_issuer_reads_the_issuer_name_and_falls_back_to_its_cn() {
    let (client, _) = pki::client_and_ca();
    let cert = Certificate::from_der(&client.der).expect("decodes");
    let issuer = |kind| cert.name_info(kind, true);
    assert_eq!(issuer(NameType::Simple), "Contoso Test Root");
    assert_eq!(issuer(NameType::Dns), "Contoso Test Root");
    assert_eq!(issuer(NameType::Email), "");
    assert_eq!(issuer(NameType::Upn), "");
    assert_eq!(issuer(NameType::Url), "");
}

#[test]
fn get_name_info_without_alternative_names_falls_back_to_the_subject() {
    let cert = Certificate::from_der(&pki::subject_only(&[("CN", "web"), ("E", "e@x.test")]).der)
        .expect("decodes");
    assert_eq!(cert.name_info(NameType::Dns, false), "web");
    assert_eq!(cert.name_info(NameType::Email, false), "e@x.test");
    assert_eq!(cert.name_info(NameType::Url, false), "");
}

#[test]
fn simple_name_without_cn_prefers_the_ou_that_comes_first_in_der_order() {
    let der = pki::subject_only(&[("O", "Org"), ("OU", "First"), ("OU2", "Second")]).der;
    let cert = Certificate::from_der(&der).expect("decodes");
    assert_eq!(cert.subject(), "OU=Second, OU=First, O=Org");
    assert_eq!(cert.name_info(NameType::Simple, false), "First");
}

#[test]
fn simple_name_falls_back_to_o_then_e_then_any_attribute() {
    let simple = |rdns: &[(&str, &str)]| {
        Certificate::from_der(&pki::subject_only(rdns).der)
            .expect("decodes")
            .name_info(NameType::Simple, false)
    };
    assert_eq!(
        simple(&[("C", "US"), ("O", "Org"), ("E", "e@x.test")]),
        "Org"
    );
    assert_eq!(simple(&[("C", "US"), ("E", "e@x.test")]), "e@x.test");
    assert_eq!(simple(&[("C", "US"), ("L", "Chicago")]), "Chicago");
}

/// A DER `SEQUENCE` of already-encoded values (all short).
fn sequence(items: &[&[u8]]) -> Vec<u8> {
    let content = items.concat();
    let len = u8::try_from(content.len()).expect("short");
    [vec![0x30, len], content].concat()
}

/// A context-specific primitive value `[tag] content` (short).
fn tagged(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = u8::try_from(content.len()).expect("short");
    [vec![0x80 | tag, len], content.to_vec()].concat()
}

/// The OIDs of the subject and issuer alternative name extensions.
const SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
const ISSUER_ALT_NAME: &[u64] = &[2, 5, 29, 18];

/// A certificate named `common_name` (none when empty) whose extension `oid` holds
/// `content` as given, so that encodings rcgen would not write can be read back.
fn with_extension(common_name: &str, oid: &[u64], content: Vec<u8>) -> Certificate {
    let extension = rcgen::CustomExtension::from_oid_content(oid, content);
    let der = pki::with_raw_extensions(common_name, vec![extension]).der;
    Certificate::from_der(&der).expect("decodes")
}

#[test]
fn basic_constraints_and_key_usage_are_read_from_their_extension_values() {
    const BASIC: &[u64] = &[2, 5, 29, 19];
    const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
    let read = |oid, content: &[u8]| {
        let cert = with_extension("ca", oid, content.to_vec());
        let c = cert.ca_constraints();
        (c.basic.clone(), c.crl_signer)
    };
    // cA TRUE, pathLen 2; keyUsage absent counts as allowing cRLSign.
    assert_eq!(
        read(BASIC, &[0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x02]),
        (Ok(Some((true, Some(2)))), true)
    );
    // An empty SEQUENCE: cA defaults to FALSE.
    assert_eq!(read(BASIC, &[0x30, 0x00]), (Ok(Some((false, None))), true));
    // Not a SEQUENCE: read as absent, as x509-parser's own accessor reads it.
    assert_eq!(read(BASIC, &[0x04, 0x00]), (Ok(None), true));
    // keyUsage keyCertSign + cRLSign (bits 5 and 6), then keyCertSign alone.
    assert_eq!(read(KEY_USAGE, &[0x03, 0x02, 0x01, 0x06]), (Ok(None), true));
    assert_eq!(
        read(KEY_USAGE, &[0x03, 0x02, 0x02, 0x04]),
        (Ok(None), false)
    );
    // A keyUsage that does not parse allows nothing.
    assert_eq!(read(KEY_USAGE, &[0x30, 0x00]), (Ok(None), false));
}

#[test]
fn alternative_names_stop_at_the_first_invalid_entry_as_in_dotnet() {
    let sans = sequence(&[
        &tagged(2, b"first.test"),
        &tagged(2, b"bad\xff"),
        &tagged(2, b"after.test"),
    ]);
    let cert = with_extension("ext", SUBJECT_ALT_NAME, sans);
    assert_eq!(cert.subject_alt_names().dns, ["first.test"]);
    assert_eq!(cert.name_info(NameType::Dns, false), "first.test");
}

#[test]
fn get_name_info_for_the_issuer_reads_the_issuer_alternative_name() {
    let ian = sequence(&[
        &tagged(6, b"https://ca.test/"),
        &tagged(1, b"ca@ca.test"),
        &tagged(2, b"ca.test"),
    ]);
    let cert = with_extension("ext", ISSUER_ALT_NAME, ian);
    assert_eq!(cert.name_info(NameType::Email, true), "ca@ca.test");
    assert_eq!(cert.name_info(NameType::Dns, true), "ca.test");
    assert_eq!(cert.name_info(NameType::Url, true), "https://ca.test/");
    assert_eq!(cert.name_info(NameType::Simple, true), "ext");
    assert_eq!(cert.name_info(NameType::Email, false), "");
    assert!(cert.subject_alt_names().dns.is_empty());
}

#[test]
fn an_empty_subject_takes_its_simple_name_from_the_alternative_email() {
    let cert = Certificate::from_der(&pki::subject_only(&[]).der).expect("decodes");
    assert_eq!(cert.subject(), "");
    assert_eq!(cert.name_info(NameType::Simple, false), "");

    let sans = sequence(&[&tagged(2, b"dns.test"), &tagged(1, b"only@mail.test")]);
    let cert = with_extension("", SUBJECT_ALT_NAME, sans);
    assert_eq!(cert.name_info(NameType::Simple, false), "only@mail.test");
}

/// The UPN otherName OID 1.3.6.1.4.1.311.20.2.3, DER-encoded.
const UPN_OID: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03,
];

/// `otherName` (`[0]`, constructed) holding a UPN whose value is `value` (a whole TLV).
fn upn_other_name(value: &[u8]) -> Vec<u8> {
    let explicit = [
        vec![0xa0, u8::try_from(value.len()).expect("short")],
        value.to_vec(),
    ]
    .concat();
    let content = [UPN_OID, &explicit].concat();
    [
        vec![0xa0, u8::try_from(content.len()).expect("short")],
        content,
    ]
    .concat()
}

#[test]
fn a_upn_encoded_as_ia5string_is_read_as_windows_reads_it() {
    let ia5 = [&[0x16, 16][..], b"ia5@contoso.test"].concat();
    let sans = sequence(&[&upn_other_name(&ia5), &tagged(2, b"after.test")]);
    let cert = with_extension("upn", SUBJECT_ALT_NAME, sans);
    assert_eq!(cert.name_info(NameType::Upn, false), "ia5@contoso.test");
    // The UPN is a valid entry: the names after it stay visible.
    assert_eq!(cert.subject_alt_names().dns, ["after.test"]);
}

#[test]
fn a_upn_that_is_not_a_string_stops_the_alternative_names() {
    let octets = [0x04, 0x02, 0x01, 0x02];
    let sans = sequence(&[
        &tagged(2, b"first.test"),
        &upn_other_name(&octets),
        &tagged(2, b"after.test"),
    ]);
    let cert = with_extension("upn", SUBJECT_ALT_NAME, sans);
    assert_eq!(cert.name_info(NameType::Upn, false), "");
    assert_eq!(cert.subject_alt_names().dns, ["first.test"]);
}

/// A self-signed Ed25519 certificate from rcgen whose subject (and so issuer) holds,
/// besides `CN=octets`, the attribute `1.2.3.4` with an OCTET STRING value (01 02 FF).
/// rcgen writes only string values, so the UTF8String it wrote is re-tagged in place and
/// the certificate signed again over the changed TBS (same length, so only the
/// signature's 64 bytes at the end change).
fn subject_with_octet_string_value() -> Vec<u8> {
    use rcgen::SigningKey as _;
    use x509_parser::prelude::FromDer as _;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CustomDnType(vec![1, 2, 3, 4]),
        "\u{1}\u{2}\u{7f}",
    );
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "octets");
    let mut der = params
        .self_signed(&key)
        .expect("certificate")
        .der()
        .to_vec();
    let utf8 = [0x0c, 0x03, 0x01, 0x02, 0x7f];
    let mut patched = 0;
    while let Some(at) = der.windows(utf8.len()).position(|w| w == utf8) {
        der[at..at + utf8.len()].copy_from_slice(&[0x04, 0x03, 0x01, 0x02, 0xff]);
        patched += 1;
    }
    assert_eq!(patched, 2, "the value in the issuer and in the subject");
    let (_, parsed) =
        x509_parser::certificate::X509Certificate::from_der(&der).expect("still a certificate");
    let tbs = parsed.tbs_certificate.as_ref().to_vec();
    let signature = key.sign(&tbs).expect("signs");
    let end = der.len() - signature.len();
    der[end..].copy_from_slice(&signature);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key.public_key_raw())
        .verify(&tbs, &signature)
        .expect("the re-signed certificate's signature verifies");
    der
}

#[test]
fn an_octet_string_attribute_prints_its_content_in_hex_as_windows_does() {
    let cert = Certificate::from_der(&subject_with_octet_string_value()).expect("decodes");
    assert_eq!(cert.subject(), "CN=octets, OID.1.2.3.4=#0102FF");
    assert_eq!(cert.issuer(), "CN=octets, OID.1.2.3.4=#0102FF");
}

#[test]
fn a_serial_without_the_high_bit_has_no_pad_byte() {
    let cert = Certificate::from_der(&pki::ed25519_self_signed().der).expect("decodes");
    assert_eq!(cert.serial_number(), "42");
}

#[test]
fn an_ed25519_certificate_names_its_algorithm() {
    let cert = Certificate::from_der(&pki::ed25519_self_signed().der).expect("decodes");
    assert_eq!(cert.signature_algorithm().value, "1.3.101.112");
    assert_eq!(cert.public_key().algorithm, "Ed25519");
    assert_eq!(cert.public_key().bits, 256);
}

#[test]
fn pem_der_base64_and_url_encoded_forms_decode_to_the_same_certificate() {
    // Keys are random; retry until the base64 has a `+`, which form decoding would break.
    let client = (0..64)
        .map(|_| pki::client_and_ca().0)
        .find(|c| c.pem.contains('+'))
        .expect("a PEM with a `+` within 64 tries");
    let base64 = STANDARD.encode(&client.der);
    let forms: Vec<(&str, Vec<u8>)> = vec![
        ("PEM", client.pem.clone().into_bytes()),
        (
            "PEM with CRLF",
            client.pem.replace('\n', "\r\n").into_bytes(),
        ),
        (
            "PEM on one line",
            client.pem.replace('\n', " ").into_bytes(),
        ),
        (
            "PEM with text around",
            format!("subject=CN=client1\n{}\n# end\n", client.pem).into_bytes(),
        ),
        ("DER", client.der.clone()),
        ("base64 DER", base64.clone().into_bytes()),
        (
            "base64 DER with line breaks",
            base64
                .as_bytes()
                .chunks(64)
                .collect::<Vec<_>>()
                .join(&b"\n"[..]),
        ),
        ("URL-encoded PEM", alb_url_encode(&client.pem).into_bytes()),
        ("RFC 9440 byte sequence", format!(":{base64}:").into_bytes()),
        (
            "URL-encoded PEM with = escaped",
            alb_url_encode(&client.pem).replace('=', "%3D").into_bytes(),
        ),
    ];
    for (form, input) in forms {
        let cert = decode_one(&input);
        assert_eq!(cert.der(), client.der.as_slice(), "{form}");
        assert_eq!(cert.thumbprint(), sha1_upper_hex(&client.der), "{form}");
    }
}

#[test]
fn a_chain_decodes_leaf_first_from_pem_der_and_url_encoded_pem() {
    let (client, ca) = pki::client_and_ca();
    let pem = format!("{}{}", client.pem, ca.pem);
    let forms: Vec<(&str, Vec<u8>)> = vec![
        ("PEM", pem.clone().into_bytes()),
        ("DER", [client.der.clone(), ca.der.clone()].concat()),
        ("URL-encoded PEM", alb_url_encode(&pem).into_bytes()),
        (
            "RFC 9440 Client-Cert-Chain",
            format!(
                ":{}:, :{}:",
                STANDARD.encode(&client.der),
                STANDARD.encode(&ca.der)
            )
            .into_bytes(),
        ),
    ];
    for (form, input) in forms {
        let chain = decode_chain(&input).expect(form);
        let ders: Vec<&[u8]> = chain.iter().map(Certificate::der).collect();
        assert_eq!(ders, [&client.der[..], &ca.der[..]], "{form}");
    }
}

#[test]
fn a_chain_sent_again_is_the_chain_decoded_the_first_time() {
    let (client, ca) = pki::client_and_ca();
    let chains = PresentedChains::new(4, 4);
    let input = alb_url_encode(&format!("{}{}", client.pem, ca.pem));
    let first = chains.decode(input.as_bytes()).unwrap();
    let again = chains.decode(input.as_bytes()).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first.leaf, &again.leaf),
        "decoded again"
    );
    assert_eq!(again.leaf.der(), client.der);
    assert_eq!(again.intermediates.len(), 1);
    assert_eq!(again.intermediates[0].der(), ca.der);
    assert_eq!(chains.len(), 1);

    // Other bytes holding the same leaf (its PEM alone) are another entry: a hit needs
    // the very bytes.
    let pem = client.pem.clone();
    let other = chains.decode(pem.as_bytes()).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first.leaf, &other.leaf));
    assert_eq!(other.leaf.der(), client.der);
    assert_eq!(other.len(), 1);
    assert_eq!(chains.len(), 2);
}

#[test]
fn presented_chains_keep_the_most_recently_used_up_to_their_capacity() {
    let (client, ca) = pki::client_and_ca();
    let chains = PresentedChains::new(2, 0);
    let a = client.pem.clone();
    let b = ca.pem.clone();
    let c = format!("{}{}", client.pem, ca.pem);
    let a_first = chains.decode(a.as_bytes()).unwrap();
    let b_first = chains.decode(b.as_bytes()).unwrap();
    chains.decode(a.as_bytes()).unwrap(); // a is now the more recent
    chains.decode(c.as_bytes()).unwrap(); // full: b, the least recent, goes
    assert_eq!(chains.len(), 2);
    let a_again = chains.decode(a.as_bytes()).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&a_first.leaf, &a_again.leaf),
        "a was evicted"
    );
    let b_again = chains.decode(b.as_bytes()).unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&b_first.leaf, &b_again.leaf),
        "b was kept"
    );
    assert_eq!(chains.len(), 2);
}

#[test]
fn presented_chains_keep_no_chain_larger_than_their_byte_bound() {
    let (client, _) = pki::client_and_ca();
    let chains = PresentedChains::new(1, 0);
    // 40 KB of input, beyond one entry's share of 32 KiB (text between PEM blocks is
    // ignored by the decoder).
    let long = format!("{}{}{}", client.pem, "\n".repeat(40_000), client.pem);
    let first = chains.decode(long.as_bytes()).unwrap();
    assert_eq!(first.len(), 2);
    assert!(chains.is_empty());
    let again = chains.decode(long.as_bytes()).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first.leaf, &again.leaf));
    chains.decode(client.pem.as_bytes()).unwrap();
    assert_eq!(chains.len(), 1);
}

#[test]
fn presented_chains_refuse_what_decode_chain_refuses_each_time_and_keep_none_of_it() {
    let chains = PresentedChains::new(4, 4);
    for _ in 0..2 {
        let error = chains.decode(b"not a certificate").unwrap_err();
        assert_eq!(
            error.to_string(),
            decode_chain(b"not a certificate").unwrap_err().to_string()
        );
    }
    assert!(chains.is_empty());

    // Capacity 0 keeps nothing: every input is decoded.
    let (client, _) = pki::client_and_ca();
    let none = PresentedChains::new(0, 0);
    let first = none.decode(client.pem.as_bytes()).unwrap();
    let again = none.decode(client.pem.as_bytes()).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first.leaf, &again.leaf));
    assert_eq!(first.leaf.der(), again.leaf.der());
    assert!(none.is_empty());
}

#[test]
fn a_new_client_of_a_known_ca_gets_the_ca_decoded_before() {
    let (client, ca) = pki::client_and_ca();
    let other = pki::ed25519_self_signed();
    // No chain kept, so every input below takes the decoding path; issuers are kept.
    let chains = PresentedChains::new(0, 4);
    let first = chains
        .decode(alb_url_encode(&format!("{}{}", client.pem, ca.pem)).as_bytes())
        .unwrap();
    assert_eq!(chains.issuers(), 1);
    let second = chains
        .decode(format!("{}{}", other.pem, ca.pem).as_bytes())
        .unwrap();
    assert!(chains.is_empty());
    assert_eq!(chains.issuers(), 1, "the CA was kept twice");
    assert_eq!(second.leaf.der(), other.der);
    let (kept, fresh) = (
        &second.intermediates[0],
        &decode_chain(ca.pem.as_bytes()).unwrap()[0],
    );
    assert_eq!(kept.der(), ca.der);
    assert_eq!(kept.subject(), "CN=Contoso Test Root, O=Contoso, C=US");
    assert_eq!(
        (kept.thumbprint(), kept.serial_number(), kept.not_after()),
        (fresh.thumbprint(), fresh.serial_number(), fresh.not_after())
    );
    assert_eq!(first.intermediates[0].der(), kept.der());

    // Full: no more than the capacity is kept (which one goes follows the chains' LRU
    // order, the same code, checked above).
    let one = PresentedChains::new(0, 1);
    one.decode(format!("{}{}", client.pem, ca.pem).as_bytes())
        .unwrap();
    one.decode(format!("{}{}", client.pem, other.pem).as_bytes())
        .unwrap();
    assert_eq!(one.issuers(), 1);
}

#[test]
fn a_trusted_ca_in_a_chain_is_a_copy_of_the_trusted_certificate() {
    let (client, ca) = pki::client_and_ca();
    let other = pki::ed25519_self_signed();
    let trusted = Arc::new(Certificate::from_der(&ca.der).unwrap());
    let chains = PresentedChains::new(0, 4).with_trusted([Arc::clone(&trusted)]);

    let chain = chains
        .decode(alb_url_encode(&format!("{}{}", client.pem, ca.pem)).as_bytes())
        .unwrap();
    assert_eq!(chain.leaf.der(), client.der);
    assert_eq!(chain.intermediates[0].der(), trusted.der());
    assert_eq!(chain.intermediates[0].thumbprint(), trusted.thumbprint());
    assert_eq!(chains.issuers(), 0, "the trusted CA was decoded and kept");

    // Another CA is decoded and kept as before.
    let chain = chains
        .decode(format!("{}{}", client.pem, other.pem).as_bytes())
        .unwrap();
    assert_eq!(chain.intermediates[0].der(), other.der);
    assert_eq!(chains.issuers(), 1);
}

#[test]
fn an_issuer_that_does_not_decode_fails_the_chain_as_decode_chain_does_and_is_not_kept() {
    let (client, ca) = pki::client_and_ca();
    let chains = PresentedChains::new(4, 4);
    let mut broken = ca.der.clone();
    broken[0] = 0x31;
    let input = format!(
        "{}-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        client.pem,
        STANDARD.encode(&broken)
    );
    for _ in 0..2 {
        assert_eq!(
            chains.decode(input.as_bytes()).unwrap_err(),
            decode_chain(input.as_bytes()).unwrap_err()
        );
    }
    assert_eq!((chains.len(), chains.issuers()), (0, 0));
}

#[test]
fn certificates_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Certificate>();
}

#[test]
fn garbage_is_not_a_certificate() {
    let error = decode_chain(b"hello, world").unwrap_err();
    assert!(
        matches!(error, CertError::UnrecognizedFormat { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("not a certificate: "),
        "{error}"
    );
}

#[test]
fn empty_input_says_what_was_expected() {
    assert_eq!(decode_chain(b" \r\n ").unwrap_err(), CertError::Empty);
}

#[test]
fn truncated_der_reports_where_it_ends() {
    let (client, _) = pki::client_and_ca();
    let cut = &client.der[..client.der.len() - 10];
    let error = decode_chain(cut).unwrap_err();
    assert_eq!(
        error,
        CertError::TruncatedDer {
            index: 1,
            offset: cut.len()
        }
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("truncated DER at byte {}", cut.len())),
        "{error}"
    );
    assert_eq!(Certificate::from_der(cut).unwrap_err(), error);
}

#[test]
fn der_with_trailing_bytes_is_refused_by_from_der() {
    let (client, _) = pki::client_and_ca();
    let padded = [client.der.clone(), vec![0, 0, 0]].concat();
    assert_eq!(
        Certificate::from_der(&padded).unwrap_err(),
        CertError::TrailingData { extra: 3 }
    );
}

#[test]
fn a_one_megabyte_header_is_refused_before_decoding() {
    let header = vec![b'A'; 1024 * 1024];
    assert_eq!(
        decode_chain(&header).unwrap_err(),
        CertError::InputTooLarge {
            len: 1024 * 1024,
            max: MAX_INPUT_BYTES
        }
    );
}

#[test]
fn a_hundred_certificate_chain_is_refused_with_its_length() {
    let ed = pki::ed25519_self_signed();
    let expected = CertError::ChainTooLong {
        count: 100,
        max: MAX_CHAIN_LENGTH,
    };
    let pem = ed.pem.repeat(100);
    assert_eq!(decode_chain(pem.as_bytes()).unwrap_err(), expected);
    assert_eq!(decode_chain(&ed.der.repeat(100)).unwrap_err(), expected);
    assert_eq!(
        expected.to_string(),
        "chain has 100 certificates; at most 16 are accepted"
    );
}

#[test]
fn a_chain_at_the_limit_is_accepted() {
    let ed = pki::ed25519_self_signed();
    let chain = decode_chain(ed.pem.repeat(MAX_CHAIN_LENGTH).as_bytes()).expect("decodes");
    assert_eq!(chain.len(), MAX_CHAIN_LENGTH);
}

#[test]
fn a_pem_private_key_is_named_in_the_error() {
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let error = decode_chain(key.as_bytes()).unwrap_err();
    assert_eq!(
        error,
        CertError::NotACertificate {
            label: "PRIVATE KEY".to_owned()
        }
    );
    assert_eq!(
        error.to_string(),
        "not a certificate: PEM block is `PRIVATE KEY`; expected `CERTIFICATE`"
    );
}

#[test]
fn a_der_private_key_is_recognised_as_one() {
    let key = rcgen::KeyPair::generate().expect("key").serialize_der();
    let error = decode_chain(&key).unwrap_err();
    assert!(
        error.to_string().contains("looks like a private key"),
        "{error}"
    );
}

#[test]
fn a_pem_block_without_its_end_line_is_malformed() {
    let (client, _) = pki::client_and_ca();
    let cut = &client.pem[..client.pem.len() / 2];
    let error = decode_chain(cut.as_bytes()).unwrap_err();
    assert!(
        matches!(error, CertError::MalformedPem { index: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn a_pem_block_with_broken_base64_is_malformed() {
    let pem = "-----BEGIN CERTIFICATE-----\nMII*BROKEN\n-----END CERTIFICATE-----\n";
    let error = decode_chain(pem.as_bytes()).unwrap_err();
    assert!(
        matches!(error, CertError::MalformedPem { index: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn every_truncation_and_byte_flip_of_a_certificate_gives_a_result_not_a_panic() {
    let (client, _) = pki::client_and_ca();
    for len in 0..client.der.len() {
        assert!(
            decode_chain(&client.der[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let pem = client.pem.as_bytes();
    for len in (0..pem.len()).step_by(7) {
        let _ = decode_chain(&pem[..len]);
    }
    for i in 0..client.der.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut mutated = client.der.clone();
            mutated[i] ^= flip;
            if let Ok(chain) = decode_chain(&mutated) {
                for cert in &chain {
                    for kind in NameType::ALL {
                        let _ = cert.name_info(kind, false);
                        let _ = cert.name_info(kind, true);
                    }
                }
            }
        }
    }
}

#[test]
fn checking_accepts_and_refuses_exactly_what_decoding_does() {
    // Uploaded certificates are checked at load and decoded later: a certificate that
    // passes the check must decode, and one that does not must fail with the same error.
    let (client, ca) = pki::client_and_ca();
    let mut inputs = vec![
        client.pem.clone().into_bytes(),
        [client.pem.as_str(), ca.pem.as_str()].concat().into_bytes(),
        b"hello, world".to_vec(),
        rcgen::KeyPair::generate().expect("key").serialize_der(),
    ];
    for i in 0..client.der.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut mutated = client.der.clone();
            mutated[i] ^= flip;
            inputs.push(mutated);
        }
    }
    let pem = client.pem.as_bytes();
    inputs.extend((0..pem.len()).step_by(5).map(|len| pem[..len].to_vec()));
    for input in &inputs {
        match (decode_chain(input), check_chain(input)) {
            (Ok(decoded), Ok(checked)) => {
                assert_eq!(decoded.len(), checked.len());
                for (decoded, checked) in decoded.iter().zip(&checked) {
                    assert_eq!(checked.der(), decoded.der());
                    assert_eq!(checked.thumbprint(), decoded.thumbprint());
                    let later = checked.decode().expect("a checked certificate decodes");
                    assert_eq!(later.subject(), decoded.subject());
                }
            }
            (Err(decoding), Err(checking)) => assert_eq!(decoding, checking),
            (decoded, checked) => panic!(
                "decode_chain: {:?}, check_chain: {:?}",
                decoded.map(|c| c.len()),
                checked.map(|c| c.len())
            ),
        }
    }
}

mod cli {
    use std::process::Command;

    use super::*;

    fn inspect(args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["cert", "inspect"])
            .args(args)
            .output()
            .expect("certgate runs")
    }

    #[test]
    fn json_output_has_the_dotnet_property_names_and_values() {
        let (client, ca) = pki::client_and_ca();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("chain.pem");
        std::fs::write(&path, format!("{}{}", client.pem, ca.pem)).expect("write");

        let output = inspect(&[path.to_str().expect("UTF-8 path"), "--json"]);
        assert!(output.status.success(), "{output:?}");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");

        let cert = Certificate::from_der(&client.der).expect("decodes");
        let ca_cert = Certificate::from_der(&ca.der).expect("decodes");
        let expected = serde_json::json!({
            "Subject": "E=a@contoso.com, CN=client1, O=\"Contoso, Inc.\", S=Illinois, C=US",
            "Issuer": "CN=Contoso Test Root, O=Contoso, C=US",
            "SubjectName": { "Name": "E=a@contoso.com, CN=client1, O=\"Contoso, Inc.\", S=Illinois, C=US" },
            "IssuerName": { "Name": "CN=Contoso Test Root, O=Contoso, C=US" },
            "Thumbprint": sha1_upper_hex(&client.der),
            "SerialNumber": "00A1B2C3",
            "NotBefore": "2025-01-02T00:00:00Z",
            "NotAfter": "2035-03-04T00:00:00Z",
            "Version": 3,
            "SignatureAlgorithm": { "Value": "1.2.840.10045.4.3.3", "FriendlyName": "sha384ECDSA" },
            "GetNameInfo": {
                "Subject": {
                    "SimpleName": "client1",
                    "EmailName": "client1@contoso.com",
                    "UpnName": "client1@contoso.onmicrosoft.com",
                    "DnsName": "client1.contoso.com",
                    "UrlName": "spiffe://contoso/client1",
                },
                "Issuer": {
                    "SimpleName": "Contoso Test Root",
                    "EmailName": "",
                    "UpnName": "",
                    "DnsName": "Contoso Test Root",
                    "UrlName": "",
                },
            },
            "SubjectAlternativeNames": {
                "Dns": ["client1.contoso.com", "alt.contoso.com"],
                "Email": ["client1@contoso.com"],
                "Uri": ["spiffe://contoso/client1"],
                "IpAddress": ["192.0.2.7", "2001:db8::1"],
            },
            "Sha256Fingerprint": cert.sha256_fingerprint(),
            "ExtendedKeyUsage": ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.1"],
            "PublicKey": { "Algorithm": "ECDSA P-256", "Bits": 256 },
            "CertificateAuthority": false,
            "Chain": [{
                "Subject": "CN=Contoso Test Root, O=Contoso, C=US",
                "Issuer": "CN=Contoso Test Root, O=Contoso, C=US",
                "Thumbprint": ca_cert.thumbprint(),
            }],
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn human_output_shows_each_property_as_a_policy_sees_it() {
        let (client, _) = pki::client_and_ca();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("client.der");
        std::fs::write(&path, &client.der).expect("write");

        let output = inspect(&[path.to_str().expect("UTF-8 path")]);
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        for line in [
            "Subject: E=a@contoso.com, CN=client1, O=\"Contoso, Inc.\", S=Illinois, C=US",
            "Issuer: CN=Contoso Test Root, O=Contoso, C=US",
            "IssuerName.Name: CN=Contoso Test Root, O=Contoso, C=US",
            &format!("Thumbprint: {}", sha1_upper_hex(&client.der)),
            "SerialNumber: 00A1B2C3",
            "NotBefore: 2025-01-02T00:00:00Z (UTC)",
            "SignatureAlgorithm.FriendlyName: sha384ECDSA",
            "GetNameInfo(X509NameType.UpnName, false): client1@contoso.onmicrosoft.com",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
    }

    #[test]
    fn a_bad_file_exits_2_with_the_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key.pem");
        let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
        std::fs::write(&path, key).expect("write");

        let output = inspect(&[path.to_str().expect("UTF-8 path"), "--json"]);
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).expect("UTF-8");
        assert!(
            stderr.contains("not a certificate: PEM block is `PRIVATE KEY`"),
            "{stderr}"
        );
    }

    #[test]
    fn a_missing_file_exits_2() {
        let output = inspect(&["/nonexistent/certgate/cert.pem"]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).expect("UTF-8");
        assert!(stderr.contains("cannot read"), "{stderr}");
    }
}
