//! A test PKI for the trust store, generated at run time with rcgen and fixed dates:
//! CAs, leaves and CRLs valid from 2025 to 2030/2035; tests verify at [`now`].

#![allow(dead_code)]

use certgate::files::SourceFile;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SerialNumber, SignatureAlgorithm, date_time_ymd,
};
use time::OffsetDateTime;

/// The pinned clock of the tests: 2026-06-01T00:00:00Z.
pub(crate) fn now() -> OffsetDateTime {
    date_time_ymd(2026, 6, 1)
}

pub(crate) fn at(y: i32, m: u8, d: u8) -> OffsetDateTime {
    date_time_ymd(y, m, d)
}

/// A CA: its parameters and key (to issue) and its certificate.
pub(crate) struct Ca {
    pub(crate) params: CertificateParams,
    pub(crate) key: KeyPair,
    pub(crate) cert: rcgen::Certificate,
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Contoso Test");
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(cn: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn);
    params.not_before = at(2025, 1, 1);
    params.not_after = at(2035, 1, 1);
    params.serial_number = Some(SerialNumber::from(serial));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

pub(crate) fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("key")
}

impl Ca {
    /// A self-signed root CA (P-256).
    pub(crate) fn root(cn: &str) -> Self {
        Self::root_with(cn, key(&rcgen::PKCS_ECDSA_P256_SHA256), |_| {})
    }

    pub(crate) fn root_with(
        cn: &str,
        key: KeyPair,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Self {
        let mut params = ca_params(cn, 1);
        edit(&mut params);
        let cert = params.self_signed(&key).expect("root");
        Self { params, key, cert }
    }

    pub(crate) fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// An intermediate CA issued by `self` (P-256).
    pub(crate) fn intermediate(&self, cn: &str) -> Self {
        self.intermediate_with(cn, key(&rcgen::PKCS_ECDSA_P256_SHA256), |_| {})
    }

    pub(crate) fn intermediate_with(
        &self,
        cn: &str,
        key: KeyPair,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Self {
        let mut params = ca_params(cn, 2);
        edit(&mut params);
        let cert = params
            .signed_by(&key, &self.issuer())
            .expect("intermediate");
        Self { params, key, cert }
    }

    /// A client certificate issued by `self`: P-256, clientAuth EKU, valid 2025-2030.
    pub(crate) fn leaf(&self, cn: &str, serial: u64) -> Vec<u8> {
        self.leaf_with(cn, serial, |_| {})
    }

    pub(crate) fn leaf_with(
        &self,
        cn: &str,
        serial: u64,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Vec<u8> {
        self.leaf_key(cn, serial, &key(&rcgen::PKCS_ECDSA_P256_SHA256), edit)
    }

    pub(crate) fn leaf_key(
        &self,
        cn: &str,
        serial: u64,
        key: &KeyPair,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Vec<u8> {
        let mut params = leaf_params(cn, serial);
        edit(&mut params);
        params
            .signed_by(key, &self.issuer())
            .expect("leaf")
            .der()
            .to_vec()
    }

    /// A CRL of `self` listing `revoked` serials, current from 2026-05-01 to 2026-07-01.
    pub(crate) fn crl(&self, revoked: &[u64]) -> Vec<u8> {
        self.crl_dated(revoked, at(2026, 5, 1), at(2026, 7, 1))
    }

    /// A CRL of `self` with parameters edited by `edit`.
    pub(crate) fn crl_with(
        &self,
        edit: impl FnOnce(&mut CertificateRevocationListParams),
    ) -> Vec<u8> {
        let mut params = CertificateRevocationListParams {
            this_update: at(2026, 5, 1),
            next_update: at(2026, 7, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        edit(&mut params);
        params
            .signed_by(&self.issuer())
            .expect("crl")
            .der()
            .to_vec()
    }

    pub(crate) fn crl_dated(
        &self,
        revoked: &[u64],
        this: OffsetDateTime,
        next: OffsetDateTime,
    ) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update: this,
            next_update: next,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|&serial| RevokedCertParams {
                    serial_number: SerialNumber::from(serial),
                    revocation_time: at(2026, 4, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer())
            .expect("crl")
            .der()
            .to_vec()
    }

    pub(crate) fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    pub(crate) fn pem(&self) -> String {
        self.cert.pem()
    }
}

pub(crate) fn leaf_params(cn: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn);
    params.not_before = at(2025, 1, 1);
    params.not_after = at(2030, 1, 1);
    params.serial_number = Some(SerialNumber::from(serial));
    params.is_ca = IsCa::NoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// A self-signed client certificate (not a CA).
pub(crate) fn self_signed_client(cn: &str) -> Vec<u8> {
    let key = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    leaf_params(cn, 77)
        .self_signed(&key)
        .expect("self-signed")
        .der()
        .to_vec()
}

pub(crate) fn file(path: &str, bytes: impl Into<Vec<u8>>) -> SourceFile {
    SourceFile::new(path, bytes)
}

pub(crate) fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A P-521 key, a self-signed certificate of it (PEM) and the key as openssl wrote it
/// (PEM), all made by openssl (neither ring nor rcgen's ring backend has P-521).
pub(crate) fn p521_key_and_certificate() -> (p521::ecdsa::SigningKey, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "ecparam",
        "-name",
        "secp521r1",
        "-genkey",
        "-noout",
        "-out",
        "key.pem",
    ]);
    openssl(&["ec", "-in", "key.pem", "-outform", "DER", "-out", "key.der"]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "key.pem",
        "-subj",
        "/CN=jwt-signer",
        "-days",
        "5",
        "-out",
        "cert.pem",
    ]);
    // SEC1 ECPrivateKey: SEQUENCE (30 81 len) { INTEGER 1 (02 01 01), OCTET STRING (04 42) <66 bytes> ... }
    let der = std::fs::read(dir.path().join("key.der")).unwrap();
    assert_eq!(&der[3..8], &[0x02, 0x01, 0x01, 0x04, 0x42], "SEC1 layout");
    let key = p521::ecdsa::SigningKey::from_slice(&der[8..74]).unwrap();
    let pem = std::fs::read_to_string(dir.path().join("cert.pem")).unwrap();
    let key_pem = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    (key, pem, key_pem)
}

/// A new 2048-bit RSA key made by openssl (DER, PKCS#1: ring cannot generate RSA keys).
pub(crate) fn new_rsa_der() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.der");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success());
    std::fs::read(path).unwrap()
}
