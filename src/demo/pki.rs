//! The demo's PKI, generated at run time with rcgen and dated around "now", so it never
//! expires on a laptop (the expired client excepted, on purpose).

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use ring::rand::{SecureRandom as _, SystemRandom};
use time::{Duration, OffsetDateTime};

/// Host names the demo's server certificate covers: `localhost` (and the loopback
/// addresses) is the request-mode default, the other two select the require and off
/// `[[hostnames]]` entries of the demo's `gateway.toml`.
pub(crate) const SERVER_NAMES: &[&str] = &[
    "localhost",
    "require.localhost",
    "off.localhost",
    "127.0.0.1",
    "::1",
];

/// A certificate with its private key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub pem: String,
    pub der: Vec<u8>,
    pub key_pem: String,
}

/// Everything `certgate demo` (and the tests and load run built on it) needs.
#[derive(Debug, Clone)]
pub struct DemoPki {
    /// `CN=Certgate Demo Root CA`: the root the deployment trusts, and curl's `--cacert`.
    pub root: Issued,
    /// `CN=Certgate Demo Issuing CA`, signed by the root: issues the clients and the server.
    pub intermediate: Issued,
    /// `CN=Fabrikam Demo Root CA`: a CA the deployment does not trust.
    pub foreign_root: Issued,
    /// Trusted, not revoked, uploaded under `certificates/`: the one client that passes.
    pub good: Issued,
    /// Trusted, but listed in the issuing CA's CRL.
    pub revoked: Issued,
    /// Trusted issuer, but its validity ended yesterday.
    pub expired: Issued,
    /// Issued by [`DemoPki::foreign_root`].
    pub untrusted: Issued,
    /// The listener's certificate for `SERVER_NAMES`; [`DemoPki::server_chain_pem`]
    /// adds the intermediate.
    pub server: Issued,
    /// CRLs (PEM) of the root (empty) and of the issuing CA (lists `revoked`).
    pub root_crl: String,
    pub intermediate_crl: String,
}

impl DemoPki {
    /// A fresh PKI valid from a day before `now` to a year after it.
    ///
    /// # Errors
    ///
    /// Only if rcgen cannot generate a key or sign (not expected).
    pub fn generate(now: OffsetDateTime) -> Result<Self, rcgen::Error> {
        let from = now - Duration::days(1);
        let until = now + Duration::days(365);
        let leaf_until = now + Duration::days(364);

        let (root, root_issuer) = ca("Certgate Demo Root CA", from, until, None, None)?;
        let (intermediate, issuing) = ca(
            "Certgate Demo Issuing CA",
            from,
            until,
            Some(0),
            Some(&root_issuer),
        )?;
        let (foreign_root, foreign) = ca("Fabrikam Demo Root CA", from, until, None, None)?;

        let client = ExtendedKeyUsagePurpose::ClientAuth;
        let (good, _) = leaf("client-good.demo", &[], from, leaf_until, &client, &issuing)?;
        let (revoked, revoked_serial) =
            leaf_with_serial("client-revoked.demo", from, leaf_until, &issuing)?;
        let (expired, _) = leaf(
            "client-expired.demo",
            &[],
            now - Duration::days(90),
            now - Duration::days(1),
            &client,
            &issuing,
        )?;
        let (untrusted, _) = leaf(
            "client.fabrikam.demo",
            &[],
            from,
            leaf_until,
            &client,
            &foreign,
        )?;
        let (server, _) = leaf(
            "localhost",
            SERVER_NAMES,
            from,
            leaf_until,
            &ExtendedKeyUsagePurpose::ServerAuth,
            &issuing,
        )?;
        let crl_until = now + Duration::days(30);
        let root_crl = crl(&root_issuer, &[], from, crl_until)?;
        let intermediate_crl = crl(&issuing, &[revoked_serial], from, crl_until)?;
        Ok(Self {
            root,
            intermediate,
            foreign_root,
            good,
            revoked,
            expired,
            untrusted,
            server,
            root_crl,
            intermediate_crl,
        })
    }

    /// The server certificate followed by the issuing CA, as the listener sends it.
    pub fn server_chain_pem(&self) -> String {
        format!("{}{}", self.server.pem, self.intermediate.pem)
    }

    /// The client certificates by the name the demo gives their files.
    pub fn clients(&self) -> [(&'static str, &Issued); 4] {
        [
            ("good", &self.good),
            ("revoked", &self.revoked),
            ("expired", &self.expired),
            ("untrusted", &self.untrusted),
        ]
    }
}

/// `CN=<cn>, O=Certgate Demo, C=US` (DER order C, O, CN).
fn name(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Ok(country) = PrintableString::try_from("US") {
        name.push(DnType::CountryName, DnValue::PrintableString(country));
    }
    let organisation = if cn.contains("fabrikam") || cn.starts_with("Fabrikam") {
        "Fabrikam Demo"
    } else {
        "Certgate Demo"
    };
    name.push(DnType::OrganizationName, organisation);
    name.push(DnType::CommonName, cn);
    name
}

/// A random positive 16-byte serial number.
fn serial() -> Vec<u8> {
    let mut bytes = [0u8; 16];
    // The OS generator failing is not a reason to stop a demo: fall back to the clock.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_be_bytes();
        bytes.copy_from_slice(&nanos);
    }
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    bytes.to_vec()
}

fn params(cn: &str, from: OffsetDateTime, until: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn);
    params.serial_number = Some(SerialNumber::from(serial()));
    params.not_before = from;
    params.not_after = until;
    params
}

/// Makes `params` a CA's that signs certificates and CRLs, its path length `path_len`
/// (unconstrained when `None`). Public so that the sample generator (examples/samples.rs)
/// makes its CAs as the demo does.
pub fn make_ca(params: &mut CertificateParams, path_len: Option<u8>) {
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
}

/// Makes `params` an end entity's for `eku`, named `names` (IP addresses or DNS names),
/// its issuer's key identified. Public for the sample generator, as [`make_ca`].
///
/// # Errors
///
/// A name that is neither an IP address nor a DNS name rcgen accepts.
pub fn make_end_entity(
    params: &mut CertificateParams,
    names: &[&str],
    eku: ExtendedKeyUsagePurpose,
) -> Result<(), rcgen::Error> {
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    for name in names {
        params.subject_alt_names.push(match name.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into()?),
        });
    }
    Ok(())
}

type DemoIssuer = Issuer<'static, KeyPair>;

fn ca(
    cn: &str,
    from: OffsetDateTime,
    until: OffsetDateTime,
    path_len: Option<u8>,
    parent: Option<&DemoIssuer>,
) -> Result<(Issued, DemoIssuer), rcgen::Error> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = params(cn, from, until);
    make_ca(&mut params, path_len);
    let cert = match parent {
        Some(parent) => {
            params.use_authority_key_identifier_extension = true;
            params.signed_by(&key, parent)?
        }
        None => params.self_signed(&key)?,
    };
    let issued = issued(&cert, &key);
    Ok((issued, Issuer::new(params, key)))
}

/// A trusted client whose serial the caller needs (to revoke it).
fn leaf_with_serial(
    cn: &str,
    from: OffsetDateTime,
    until: OffsetDateTime,
    issuer: &DemoIssuer,
) -> Result<(Issued, SerialNumber), rcgen::Error> {
    let (issued, params) = leaf(
        cn,
        &[],
        from,
        until,
        &ExtendedKeyUsagePurpose::ClientAuth,
        issuer,
    )?;
    let serial = params
        .serial_number
        .ok_or(rcgen::Error::CouldNotParseCertificate)?;
    Ok((issued, serial))
}

/// An end entity for `eku` signed by `issuer`, named `san` (`cn` when empty), with the
/// parameters it was made from.
fn leaf(
    cn: &str,
    san: &[&str],
    from: OffsetDateTime,
    until: OffsetDateTime,
    eku: &ExtendedKeyUsagePurpose,
    issuer: &DemoIssuer,
) -> Result<(Issued, CertificateParams), rcgen::Error> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = params(cn, from, until);
    let names = if san.is_empty() { &[cn][..] } else { san };
    make_end_entity(&mut params, names, eku.clone())?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((issued(&cert, &key), params))
}

fn issued(cert: &rcgen::Certificate, key: &KeyPair) -> Issued {
    Issued {
        pem: lf(&cert.pem()),
        der: cert.der().to_vec(),
        key_pem: lf(&key.serialize_pem()),
    }
}

/// rcgen writes CRLF on Windows; the demo's files are LF everywhere.
fn lf(pem: &str) -> String {
    pem.replace("\r\n", "\n")
}

fn crl(
    issuer: &DemoIssuer,
    revoked: &[SerialNumber],
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<String, rcgen::Error> {
    let pem = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(serial()),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: serial.clone(),
                revocation_time: this_update,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer)?
    .pem()?;
    Ok(lf(&pem))
}
