//! Test PKI generated at run time with rcgen and fixed validity dates, so nothing
//! expires and no PEM is copied by hand.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType, SerialNumber, date_time_ymd,
};

/// A generated certificate: its DER and PEM.
pub(crate) struct Generated {
    pub(crate) der: Vec<u8>,
    pub(crate) pem: String,
}

fn generated(cert: &rcgen::Certificate) -> Generated {
    Generated {
        der: cert.der().to_vec(),
        pem: cert.pem(),
    }
}

/// Parameters shared by every test certificate: fixed dates, fixed serial.
fn base_params(serial: Vec<u8>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2025, 1, 2);
    params.not_after = date_time_ymd(2035, 3, 4);
    params.serial_number = Some(SerialNumber::from(serial));
    params.distinguished_name = DistinguishedName::new();
    params
}

/// The CA: `CN=Contoso Test Root, O=Contoso, C=US`, P-384, `cA: TRUE`.
pub(crate) fn ca() -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("CA key");
    let mut params = base_params(vec![0x01]);
    params.distinguished_name.push(DnType::CountryName, "US");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Contoso");
    params
        .distinguished_name
        .push(DnType::CommonName, "Contoso Test Root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    (params, key)
}

/// A client certificate issued by [`ca`]: P-256, serial `A1B2C3` (high bit set), SANs of
/// every type, clientAuth EKU. Returns the client and the CA.
pub(crate) fn client_and_ca() -> (Generated, Generated) {
    let (ca_params, ca_key) = ca();
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().expect("client key");
    let mut params = base_params(vec![0xA1, 0xB2, 0xC3]);
    params.distinguished_name.push(DnType::CountryName, "US");
    params
        .distinguished_name
        .push(DnType::StateOrProvinceName, "Illinois");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Contoso, Inc.");
    params
        .distinguished_name
        .push(DnType::CommonName, "client1");
    params.distinguished_name.push(
        DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
        DnValue::Ia5String("a@contoso.com".try_into().expect("ASCII")),
    );
    params.subject_alt_names = vec![
        SanType::DnsName("client1.contoso.com".try_into().expect("ASCII")),
        SanType::DnsName("alt.contoso.com".try_into().expect("ASCII")),
        SanType::Rfc822Name("client1@contoso.com".try_into().expect("ASCII")),
        SanType::URI("spiffe://contoso/client1".try_into().expect("ASCII")),
        SanType::IpAddress("192.0.2.7".parse().expect("IP")),
        SanType::IpAddress("2001:db8::1".parse().expect("IP")),
        SanType::OtherName((
            vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
            rcgen::OtherNameValue::Utf8String("client1@contoso.onmicrosoft.com".to_owned()),
        )),
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.signed_by(&key, &issuer).expect("client certificate");
    (generated(&cert), generated(&ca_cert))
}

/// A self-signed Ed25519 certificate with only a CN and a low serial.
pub(crate) fn ed25519_self_signed() -> Generated {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
    let mut params = base_params(vec![0x42]);
    params.distinguished_name.push(DnType::CommonName, "ed");
    generated(&params.self_signed(&key).expect("certificate"))
}

/// A self-signed Ed25519 certificate whose subject has exactly these attributes, in
/// DER order, each its own RDN; keys are `CN O OU OU2 C L E`.
pub(crate) fn subject_only(rdns: &[(&str, &str)]) -> Generated {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
    let mut params = base_params(vec![0x07]);
    for &(key, value) in rdns {
        let ty = match key {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            // rcgen keeps one value per DnType; the raw OID adds a second OU.
            "OU2" => DnType::CustomDnType(vec![2, 5, 4, 11]),
            "C" => DnType::CountryName,
            "L" => DnType::LocalityName,
            "E" => DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            other => panic!("unknown test key {other}"),
        };
        params.distinguished_name.push(ty, value);
    }
    generated(&params.self_signed(&key).expect("certificate"))
}

/// A self-signed Ed25519 certificate carrying these raw extensions, for extension
/// contents rcgen would refuse to build. Its subject is `CN=<common_name>`, or empty
/// when `common_name` is empty.
pub(crate) fn with_raw_extensions(
    common_name: &str,
    extensions: Vec<rcgen::CustomExtension>,
) -> Generated {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
    let mut params = base_params(vec![0x08]);
    if !common_name.is_empty() {
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
    }
    params.custom_extensions = extensions;
    generated(&params.self_signed(&key).expect("certificate"))
}
