//! Sample deployments, sample PKI and sample Lambda events.
//!
//! ```text
//! cargo run --example samples -- .        # from the repository root: rewrites everything below
//! ```
//!
//! Writes, under the given root:
//!
//! * `examples/apigateway/`: a deployment folder for API Gateway events (REST and HTTP API;
//!   `certificate_source = "apigateway"`).
//! * `examples/alb/`: the same deployment for ALB mTLS passthrough events
//!   (`certificate_source = "alb"`).
//!
//!   Both hold `gateway.toml`, `policies/global.xml` (the third policy of Microsoft's
//!   "Secure APIs using client certificate authentication in API Management", verbatim),
//!   `policies/orders.xml` (answers 200 with the caller's certificate, no backend needed),
//!   the Contoso root and issuing CA under `ca/`, their CRLs under `crl/`, the good client
//!   certificate uploaded as `certificates/client1.pem`, and a server certificate for the
//!   local listener under `tls/`.
//! * `examples/pki/`: the client certificates with their private keys (`good`, `revoked`,
//!   `expired`, `untrusted`), the Contoso root (for `curl --cacert`), the Fabrikam root that
//!   issued `untrusted`, and `truststore.pem` (issuing CA + root: the bundle to upload to an
//!   API Gateway or ALB trust store).
//! * `events/rest/`, `events/http-api/`, `events/alb/`: one Lambda event per case (`valid`,
//!   `no-certificate`, `untrusted`, `expired`, `revoked`, `spoofed-header`, `post-64k`).
//!
//! THE PRIVATE KEYS WRITTEN HERE ARE SAMPLES. They are committed to a public repository:
//! anyone has them. Never trust these CAs, certificates or keys outside a test setup, and
//! never use them in production.
//!
//! Every file name is fixed; certificate and key bytes change at each run (fresh keys,
//! randomised ECDSA signatures), everything else is byte-for-byte the same. Dates are
//! fixed and reach into the 2090s, so the committed samples do not expire (`expired`
//! excepted: it expired in 2020 on purpose). `tests/samples.rs` checks the committed
//! files against what this generator writes.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use rcgen::string::PrintableString;
use rcgen::{
    CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, Issuer, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams,
    SerialNumber, date_time_ymd,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use time::OffsetDateTime;

#[path = "samples/migration.rs"]
pub(crate) mod migration;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(root), None) = (args.next(), args.next()) else {
        eprintln!("usage: cargo run --example samples -- OUT_ROOT   (the repository root: `.`)");
        return ExitCode::from(2);
    };
    match generate(Path::new(&root)) {
        Ok(files) => {
            println!("wrote {} files under {}", files.len(), root.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("samples: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The two deployment folders, by certificate source.
pub(crate) const DEPLOYMENTS: [(&str, &str); 2] = [
    ("examples/apigateway", "apigateway"),
    ("examples/alb", "alb"),
];

/// The events written for each front end, in order.
pub(crate) const EVENTS: [&str; 7] = [
    "valid",
    "no-certificate",
    "untrusted",
    "expired",
    "revoked",
    "spoofed-header",
    "post-64k",
];

/// The size of the `post-64k` bodies, in bytes after base64 decoding.
pub(crate) const POST_BODY_BYTES: usize = 64 * 1024;

/// Host of every sample request.
pub(crate) const HOST: &str = "api.contoso.com";

/// Writes every sample under `root`; returns the files written, relative to `root`.
pub(crate) fn generate(root: &Path) -> Result<Vec<PathBuf>> {
    let pki = Pki::generate()?;
    let mut out = Output {
        root: root.to_owned(),
        written: Vec::new(),
    };
    write_pki(&mut out, &pki)?;
    for (folder, source) in DEPLOYMENTS {
        write_deployment(&mut out, folder, source, &pki)?;
    }
    write_events(&mut out, &pki)?;
    migration::write_deployment(&mut out, &pki)?;
    migration::write_events(&mut out, &pki)?;
    Ok(out.written)
}

struct Output {
    root: PathBuf,
    written: Vec<PathBuf>,
}

impl Output {
    fn write(&mut self, relative: &str, contents: &str) -> Result<()> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
        self.written.push(PathBuf::from(relative));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// PKI

/// A certificate with what the events need to describe it.
struct Issued {
    pem: String,
    der: Vec<u8>,
    key_pem: String,
    subject: Vec<(DnType, String)>,
    issuer: Vec<(DnType, String)>,
    serial: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

struct Pki {
    root: Issued,
    issuing: Issued,
    fabrikam: Issued,
    good: Issued,
    revoked: Issued,
    expired: Issued,
    untrusted: Issued,
    server: Issued,
    root_crl: String,
    issuing_crl: String,
}

/// Name attributes in DER order (C, O, CN): .NET shows them reversed, `CN=…, O=…, C=…`.
fn contoso(cn: &str) -> Vec<(DnType, String)> {
    organisation(cn, "Contoso")
}

fn organisation(cn: &str, o: &str) -> Vec<(DnType, String)> {
    vec![
        (DnType::CountryName, "US".to_owned()),
        (DnType::OrganizationName, o.to_owned()),
        (DnType::CommonName, cn.to_owned()),
    ]
}

fn dn(attributes: &[(DnType, String)]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for (ty, value) in attributes {
        match (ty, PrintableString::try_from(value.as_str())) {
            // X.520: countryName is a PrintableString.
            (DnType::CountryName, Ok(country)) => {
                name.push(ty.clone(), DnValue::PrintableString(country))
            }
            _ => name.push(ty.clone(), value.as_str()),
        }
    }
    name
}

struct Template {
    subject: Vec<(DnType, String)>,
    serial: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Template {
    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&self.subject);
        params.serial_number = Some(SerialNumber::from(self.serial.clone()));
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params
    }

    /// A CA's parameters, made as the demo makes its CAs.
    fn ca(&self, path_len: Option<u8>) -> CertificateParams {
        let mut params = self.params();
        certgate::demo::make_ca(&mut params, path_len);
        params
    }

    /// An end entity's parameters, made as the demo makes its clients and server.
    fn end_entity(&self, san: &[&str], eku: ExtendedKeyUsagePurpose) -> Result<CertificateParams> {
        let mut params = self.params();
        certgate::demo::make_end_entity(&mut params, san, eku)?;
        Ok(params)
    }

    fn issued(
        &self,
        cert: &rcgen::Certificate,
        key: &KeyPair,
        issuer: &[(DnType, String)],
    ) -> Issued {
        Issued {
            pem: lf(&cert.pem()),
            der: cert.der().to_vec(),
            key_pem: lf(&key.serialize_pem()),
            subject: self.subject.clone(),
            issuer: issuer.to_vec(),
            serial: self.serial.clone(),
            not_before: self.not_before,
            not_after: self.not_after,
        }
    }
}

/// rcgen writes CRLF on Windows; the committed files are LF everywhere.
fn lf(pem: &str) -> String {
    pem.replace("\r\n", "\n")
}

/// A self-signed CA.
fn root_ca(t: &Template) -> Result<(Issued, Issuer<'static, KeyPair>)> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?;
    let params = t.ca(None);
    let cert = params.self_signed(&key)?;
    let issued = t.issued(&cert, &key, &t.subject);
    Ok((issued, Issuer::new(params, key)))
}

fn crl(
    issuer: &Issuer<'_, KeyPair>,
    revoked: &[&Issued],
    number: u64,
) -> Result<String, rcgen::Error> {
    CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2099, 12, 31),
        crl_number: SerialNumber::from(number.to_be_bytes().to_vec()),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|cert| RevokedCertParams {
                serial_number: SerialNumber::from(cert.serial.clone()),
                revocation_time: date_time_ymd(2025, 6, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer)?
    .pem()
    .map(|pem| lf(&pem))
}

impl Pki {
    fn generate() -> Result<Self> {
        let ca_from = date_time_ymd(2025, 1, 1);
        let ca_until = date_time_ymd(2099, 12, 31);
        let leaf_until = date_time_ymd(2095, 12, 31);

        let (root, root_issuer) = root_ca(&Template {
            subject: contoso("Contoso Sample Root CA"),
            serial: vec![0x20, 0x25, 0x00, 0x01],
            not_before: ca_from,
            not_after: ca_until,
        })?;

        let issuing_t = Template {
            subject: contoso("Contoso Sample Issuing CA"),
            serial: vec![0x20, 0x25, 0x00, 0x02],
            not_before: ca_from,
            not_after: ca_until,
        };
        let issuing_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut issuing_params = issuing_t.ca(Some(0));
        issuing_params.use_authority_key_identifier_extension = true;
        let issuing_cert = issuing_params.signed_by(&issuing_key, &root_issuer)?;
        let issuing = issuing_t.issued(&issuing_cert, &issuing_key, &root.subject);
        let issuing_issuer = Issuer::new(issuing_params, issuing_key);

        let (fabrikam, fabrikam_issuer) = root_ca(&Template {
            subject: organisation("Fabrikam Root CA", "Fabrikam"),
            serial: vec![0x0F, 0xAB, 0x00, 0x01],
            not_before: ca_from,
            not_after: ca_until,
        })?;

        let leaf = |t: Template,
                    san: &[&str],
                    eku: ExtendedKeyUsagePurpose,
                    issuer: &Issuer<'_, KeyPair>,
                    issuer_name: &[(DnType, String)]|
         -> Result<Issued> {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let cert = t.end_entity(san, eku)?.signed_by(&key, issuer)?;
            Ok(t.issued(&cert, &key, issuer_name))
        };
        let client = |cn: &'static str, serial: u8, from, until| Template {
            subject: contoso(cn),
            serial: vec![0x20, 0x25, 0x10, serial],
            not_before: from,
            not_after: until,
        };
        let client_auth = ExtendedKeyUsagePurpose::ClientAuth;

        let good = leaf(
            client("client1.contoso.com", 0x01, ca_from, leaf_until),
            &["client1.contoso.com"],
            client_auth.clone(),
            &issuing_issuer,
            &issuing.subject,
        )?;
        let revoked = leaf(
            client("client2-revoked.contoso.com", 0x02, ca_from, leaf_until),
            &["client2-revoked.contoso.com"],
            client_auth.clone(),
            &issuing_issuer,
            &issuing.subject,
        )?;
        let expired = leaf(
            client(
                "client3-expired.contoso.com",
                0x03,
                date_time_ymd(2019, 1, 1),
                date_time_ymd(2020, 12, 31),
            ),
            &["client3-expired.contoso.com"],
            client_auth.clone(),
            &issuing_issuer,
            &issuing.subject,
        )?;
        let untrusted = leaf(
            Template {
                subject: organisation("client1.fabrikam.com", "Fabrikam"),
                serial: vec![0x0F, 0xAB, 0x10, 0x01],
                not_before: ca_from,
                not_after: leaf_until,
            },
            &["client1.fabrikam.com"],
            client_auth,
            &fabrikam_issuer,
            &fabrikam.subject,
        )?;
        let server = leaf(
            Template {
                subject: contoso(HOST),
                serial: vec![0x20, 0x25, 0x20, 0x01],
                not_before: ca_from,
                not_after: leaf_until,
            },
            &[HOST, "localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuing_issuer,
            &issuing.subject,
        )?;

        let root_crl = crl(&root_issuer, &[], 1)?;
        let issuing_crl = crl(&issuing_issuer, &[&revoked], 1)?;
        Ok(Self {
            root,
            issuing,
            fabrikam,
            good,
            revoked,
            expired,
            untrusted,
            server,
            root_crl,
            issuing_crl,
        })
    }

    /// The client certificates by file stem, as in `examples/pki/`.
    fn clients(&self) -> [(&'static str, &Issued); 4] {
        [
            ("good", &self.good),
            ("revoked", &self.revoked),
            ("expired", &self.expired),
            ("untrusted", &self.untrusted),
        ]
    }
}

fn write_pki(out: &mut Output, pki: &Pki) -> Result<()> {
    out.write("examples/pki/README.md", PKI_README)?;
    for (name, cert) in pki.clients() {
        out.write(&format!("examples/pki/{name}.pem"), &cert.pem)?;
        out.write(&format!("examples/pki/{name}.key"), &cert.key_pem)?;
    }
    out.write("examples/pki/contoso-root.pem", &pki.root.pem)?;
    out.write("examples/pki/fabrikam-root.pem", &pki.fabrikam.pem)?;
    out.write(
        "examples/pki/truststore.pem",
        &format!("{}{}", pki.issuing.pem, pki.root.pem),
    )
}

const PKI_README: &str = "\
# Sample PKI

Generated by `cargo run --example samples -- .` (see `examples/samples.rs`).

**These private keys are samples, published with the source: never use them, or trust
these CAs, outside a test setup.**

| file | what |
| --- | --- |
| `good.pem` / `.key` | `CN=client1.contoso.com`, issued by the Contoso Sample Issuing CA; uploaded as `certificates/client1.pem` |
| `revoked.pem` / `.key` | `CN=client2-revoked.contoso.com`, listed in `crl/contoso-issuing.crl` |
| `expired.pem` / `.key` | `CN=client3-expired.contoso.com`, expired on 2020-12-31 |
| `untrusted.pem` / `.key` | `CN=client1.fabrikam.com`, issued by `fabrikam-root.pem`, a root no deployment trusts |
| `contoso-root.pem` | the Contoso Sample Root CA (also the issuer of the local listener's `tls/api.pem` chain) |
| `truststore.pem` | Contoso issuing CA + root: the bundle for an API Gateway or ALB trust store |

With the local listener serving `examples/apigateway` on port 8443:

```sh
curl --cacert examples/pki/contoso-root.pem --resolve api.contoso.com:8443:127.0.0.1 \\
     --cert examples/pki/good.pem --key examples/pki/good.key \\
     https://api.contoso.com:8443/orders/42
```
";

// ---------------------------------------------------------------------------------------
// Deployment folders

fn write_deployment(out: &mut Output, folder: &str, source: &str, pki: &Pki) -> Result<()> {
    out.write(
        &format!("{folder}/gateway.toml"),
        &gateway_toml(folder, source),
    )?;
    out.write(&format!("{folder}/policies/global.xml"), GLOBAL_POLICY)?;
    out.write(&format!("{folder}/policies/orders.xml"), &orders_policy()?)?;
    write_trust(out, folder, pki)
}

/// The CAs, CRLs, uploaded certificate and listener chain every sample deployment has.
fn write_trust(out: &mut Output, folder: &str, pki: &Pki) -> Result<()> {
    out.write(&format!("{folder}/ca/root/contoso-root.pem"), &pki.root.pem)?;
    out.write(
        &format!("{folder}/ca/intermediate/contoso-issuing.pem"),
        &pki.issuing.pem,
    )?;
    out.write(&format!("{folder}/crl/contoso-root.crl"), &pki.root_crl)?;
    out.write(
        &format!("{folder}/crl/contoso-issuing.crl"),
        &pki.issuing_crl,
    )?;
    out.write(&format!("{folder}/certificates/client1.pem"), &pki.good.pem)?;
    out.write(
        &format!("{folder}/tls/api.pem"),
        &format!("{}{}", pki.server.pem, pki.issuing.pem),
    )?;
    out.write(&format!("{folder}/tls/api.key"), &pki.server.key_pem)
}

fn gateway_toml(folder: &str, source: &str) -> String {
    let (front_end, events) = match source {
        "alb" => (
            "an Application Load Balancer with mTLS in passthrough\n\
             # mode (the chain arrives URL-encoded in X-Amzn-Mtls-Clientcert)",
            "events/alb/",
        ),
        _ => (
            "API Gateway with mutual TLS on a custom domain (the\n\
             # certificate arrives in requestContext.identity.clientCert or\n\
             # requestContext.authentication.clientCert)",
            "events/rest/ and events/http-api/",
        ),
    };
    format!(
        r#"# Sample deployment behind {front_end}.
# Generated by `cargo run --example samples -- .` (examples/samples.rs); sample events
# for it are in {events}. Its CAs and keys are samples: never use them in production.
#
# Every request needs a client certificate that chains to ca/, is not revoked by crl/ and
# is uploaded under certificates/ (policies/global.xml); /orders then answers by itself
# (policies/orders.xml), so no backend has to run.

[deployment]
service_name = "contoso"
region = "eu-west-1"
certificate_source = "{source}"
policy = "policies/global.xml"

[[hostnames]]
name = "{HOST}"
request_client_certificate = true
# The local listener (`{folder}` served on your machine) presents this chain.
tls_certificate = "tls/api.pem"
tls_key = "tls/api.key"

[[apis]]
name = "orders"
path = "/orders"
backend = "http://127.0.0.1:8080"
policy = "policies/orders.xml"
"#
    )
}

/// The article's third policy, verbatim, in the global inbound section: the demo's.
pub(crate) const GLOBAL_POLICY: &str = certgate::demo::GLOBAL_POLICY;

/// The `orders` API: the demo's echo policy (the global check first, `<base />` in every
/// section) under its own comment, with a backend section that answers by itself.
fn orders_policy() -> Result<String> {
    const COMMENT: &str = "<!--
    API scope: orders. Inbound runs the global certificate check (<base />). The backend
    section answers by itself, so the sample needs no backend running: 200 with the
    caller's certificate subject and thumbprint. Replace the backend section's content
    with <base /> to forward to the backend named in gateway.toml instead.
-->
";
    const FORWARD: &str = "    <backend>\n        <base />\n    </backend>\n";
    const ANSWER: &str = r#"    <backend>
        <return-response>
            <set-status code="200" reason="OK" />
            <set-header name="Content-Type" exists-action="override">
                <value>application/json</value>
            </set-header>
            <set-body>@{
                return "{\"subject\": \"" + context.Request.Certificate.Subject + "\", \"thumbprint\": \"" + context.Request.Certificate.Thumbprint + "\"}";
            }</set-body>
        </return-response>
    </backend>
"#;
    let echo = certgate::demo::API_POLICY;
    match echo.find("<policies>").and_then(|at| echo.get(at..)) {
        Some(sections) if sections.contains(FORWARD) => Ok(format!(
            "{COMMENT}{}",
            sections.replacen(FORWARD, ANSWER, 1)
        )),
        _ => Err(
            "certgate::demo::API_POLICY no longer forwards with <base /> in its backend: \
                  write the orders policy out in full here"
                .into(),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Events

/// JSON that keeps its keys in the order written, so events read like AWS's examples.
#[derive(Clone)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_unit(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Int(n) => s.serialize_i64(*n),
            J::Str(text) => s.serialize_str(text),
            J::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            J::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl From<&str> for J {
    fn from(s: &str) -> Self {
        J::Str(s.to_owned())
    }
}

impl From<String> for J {
    fn from(s: String) -> Self {
        J::Str(s)
    }
}

impl From<bool> for J {
    fn from(b: bool) -> Self {
        J::Bool(b)
    }
}

impl From<i64> for J {
    fn from(n: i64) -> Self {
        J::Int(n)
    }
}

impl<T: Into<J>> From<Option<T>> for J {
    fn from(value: Option<T>) -> Self {
        value.map_or(J::Null, Into::into)
    }
}

macro_rules! obj {
    ($($key:literal : $value:expr),* $(,)?) => {
        J::Obj(vec![$(($key.to_owned(), J::from($value))),*])
    };
}

impl J {
    fn headers(pairs: &[(String, String)]) -> J {
        J::Obj(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), J::from(v.as_str())))
                .collect(),
        )
    }

    fn multi_value_headers(pairs: &[(String, String)]) -> J {
        J::Obj(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), J::Arr(vec![J::from(v.as_str())])))
                .collect(),
        )
    }

    fn pretty(&self) -> Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}

/// The body of a request.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// 64 KiB of JSON, sent as text.
    JsonText,
    /// 64 KiB of bytes, sent base64-encoded.
    Binary,
}

impl Body {
    fn content_type(self) -> Option<&'static str> {
        match self {
            Body::None => None,
            Body::JsonText => Some("application/json"),
            Body::Binary => Some("application/octet-stream"),
        }
    }

    fn content_length(self) -> usize {
        match self {
            Body::None => 0,
            _ => POST_BODY_BYTES,
        }
    }

    /// The event's `body` and `isBase64Encoded`.
    fn encoded(self) -> (Option<String>, bool) {
        match self {
            Body::None => (None, false),
            Body::JsonText => (Some(json_body()), false),
            Body::Binary => (
                Some(base64::engine::general_purpose::STANDARD.encode(binary_body())),
                true,
            ),
        }
    }
}

/// Exactly [`POST_BODY_BYTES`] of JSON.
fn json_body() -> String {
    let head = r#"{"customer":"client1.contoso.com","lines":[{"sku":"CONTOSO-001","quantity":1}],"comment":""#;
    let tail = r#""}"#;
    let fill = POST_BODY_BYTES - head.len() - tail.len();
    let mut body = String::with_capacity(POST_BODY_BYTES);
    body.push_str(head);
    body.extend("0123456789abcdef".chars().cycle().take(fill));
    body.push_str(tail);
    body
}

/// Exactly [`POST_BODY_BYTES`] of bytes, not valid UTF-8.
fn binary_body() -> Vec<u8> {
    (0..POST_BODY_BYTES).map(|i| (i % 251) as u8).collect()
}

/// One sample request.
struct Case<'a> {
    index: u32,
    name: &'static str,
    method: &'static str,
    path: &'static str,
    /// The certificate the trusted source carries (the TLS handshake's).
    certificate: Option<&'a Issued>,
    /// Chain the ALB forwards after the leaf.
    intermediates: Vec<&'a Issued>,
    /// A certificate the client put in a header of another source.
    spoofed: Option<&'a Issued>,
    /// Whether it carries a [`POST_BODY_BYTES`] body; each front end encodes it its way.
    post_body: bool,
    /// Headers of its own (a token, CORS), after the common ones.
    headers: Vec<(String, String)>,
}

impl Case<'_> {
    /// When API Gateway or the ALB received it: fixed, one second apart.
    fn time(&self) -> OffsetDateTime {
        date_time_ymd(2026, 11, 28)
            + time::Duration::hours(17)
            + time::Duration::seconds(self.index.into())
    }

    fn epoch_millis(&self) -> i64 {
        (self.time().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// `28/Nov/2026:17:00:03 +0000`.
    fn request_time(&self) -> String {
        let t = self.time();
        format!(
            "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
            t.day(),
            month(t),
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    fn trace_id(&self) -> String {
        format!(
            "Root=1-{:08x}-5a17c0de{:016x}",
            self.time().unix_timestamp(),
            0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(u64::from(self.index) + 1)
        )
    }

    /// A REST API request id (a UUID).
    fn uuid(&self) -> String {
        format!(
            "c0a7e5d2-1f3b-4e8a-9b6c-{:012x}",
            0x5a3f_0000_0000_u64 + u64::from(self.index)
        )
    }

    /// An HTTP API request id (`LV7fzho-PHcEJPw=`).
    fn short_id(&self, salt: u8) -> String {
        let bytes: Vec<u8> = (0u8..11)
            .map(|i| i.wrapping_mul(37) ^ salt ^ (self.index as u8).wrapping_mul(101))
            .collect();
        let mut id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        id.push('=');
        id
    }

    /// The body in this front end's encoding: REST APIs deployed with binaryMediaTypes
    /// `*/*` (template.yaml) always send base64; HTTP APIs send JSON as text; the ALB
    /// base64-encodes binary content types.
    fn body(&self, encoding: Body) -> Body {
        if self.post_body { encoding } else { Body::None }
    }
}

const SOURCE_IP: &str = "198.51.100.23";
const USER_AGENT: &str = "curl/8.5.0";
const ACCOUNT: &str = "123456789012";

fn month(t: OffsetDateTime) -> &'static str {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS[usize::from(u8::from(t.month())) - 1]
}

/// OpenSSL's date, as API Gateway writes it: `Aug  5 09:36:04 2021 GMT`.
fn openssl_date(t: OffsetDateTime) -> String {
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        month(t),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// API Gateway's DN: certificate order, comma-separated (`C=US,O=Contoso,CN=…`).
fn apigateway_dn(name: &[(DnType, String)]) -> String {
    name.iter()
        .map(|(ty, value)| {
            let key = match ty {
                DnType::CountryName => "C",
                DnType::OrganizationName => "O",
                _ => "CN",
            };
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `requestContext…clientCert` as API Gateway fills it.
fn client_cert(cert: &Issued) -> J {
    let serial = cert
        .serial
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    obj! {
        "clientCertPem": cert.pem.as_str(),
        "subjectDN": apigateway_dn(&cert.subject),
        "issuerDN": apigateway_dn(&cert.issuer),
        "serialNumber": serial,
        "validity": obj! {
            "notBefore": openssl_date(cert.not_before),
            "notAfter": openssl_date(cert.not_after),
        },
    }
}

/// RFC 9440 `Client-Cert`: `:<base64 DER>:`.
fn rfc9440(cert: &Issued) -> String {
    format!(
        ":{}:",
        base64::engine::general_purpose::STANDARD.encode(&cert.der)
    )
}

fn cases(pki: &Pki) -> Vec<Case<'_>> {
    let chain = || vec![&pki.issuing];
    let scenarios: [(&'static str, Option<&Issued>, Vec<&Issued>); 7] = [
        ("valid", Some(&pki.good), chain()),
        ("no-certificate", None, vec![]),
        // A client of a foreign PKI presents its leaf only.
        ("untrusted", Some(&pki.untrusted), vec![]),
        ("expired", Some(&pki.expired), chain()),
        ("revoked", Some(&pki.revoked), chain()),
        ("spoofed-header", None, vec![]),
        ("post-64k", Some(&pki.good), chain()),
    ];
    debug_assert!(scenarios.iter().map(|s| s.0).eq(EVENTS));
    scenarios
        .into_iter()
        .enumerate()
        .map(|(i, (name, certificate, intermediates))| Case {
            index: i as u32,
            name,
            method: if name == "post-64k" { "POST" } else { "GET" },
            path: if name == "post-64k" {
                "/orders"
            } else {
                "/orders/42"
            },
            certificate,
            intermediates,
            spoofed: (name == "spoofed-header").then_some(&pki.good),
            post_body: name == "post-64k",
            headers: Vec::new(),
        })
        .collect()
}

fn write_events(out: &mut Output, pki: &Pki) -> Result<()> {
    out.write("events/README.md", EVENTS_README)?;
    for case in cases(pki) {
        let name = case.name;
        let events = [
            ("rest", rest_event(&case, pki)),
            ("http-api", http_api_event(&case)),
            ("alb", alb_event(&case)),
        ];
        for (front_end, event) in events {
            out.write(&format!("events/{front_end}/{name}.json"), &event.pretty()?)?;
        }
    }
    Ok(())
}

/// The chain a client presents, leaf first, as PEM.
fn chain_pem(leaf: &Issued, intermediates: &[&Issued]) -> String {
    let mut pem = leaf.pem.clone();
    for cert in intermediates {
        pem.push_str(&cert.pem);
    }
    pem
}

/// API Gateway REST API, Lambda proxy integration (payload 1.0), on a custom domain with
/// mutual TLS: the shape of the AWS documentation's example.
fn rest_event(case: &Case<'_>, pki: &Pki) -> J {
    let body = case.body(Body::Binary);
    let mut headers = vec![
        ("Accept".to_owned(), "*/*".to_owned()),
        ("Host".to_owned(), HOST.to_owned()),
        ("User-Agent".to_owned(), USER_AGENT.to_owned()),
    ];
    headers.extend(case.headers.iter().cloned());
    if let Some(ty) = body.content_type() {
        headers.push((
            "Content-Length".to_owned(),
            body.content_length().to_string(),
        ));
        headers.push(("Content-Type".to_owned(), ty.to_owned()));
    }
    if let Some(spoofed) = case.spoofed {
        // The client's own header, claiming to be the ALB's.
        headers.push((
            "X-Amzn-Mtls-Clientcert".to_owned(),
            certgate::frontend::forwarded::alb_encode(&chain_pem(spoofed, &[&pki.issuing])),
        ));
    }
    headers.extend([
        ("X-Amzn-Trace-Id".to_owned(), case.trace_id()),
        ("X-Forwarded-For".to_owned(), SOURCE_IP.to_owned()),
        ("X-Forwarded-Port".to_owned(), "443".to_owned()),
        ("X-Forwarded-Proto".to_owned(), "https".to_owned()),
    ]);
    let proxy = case.path.trim_start_matches('/');
    let (body, base64) = body.encoded();
    obj! {
        "resource": "/{proxy+}",
        "path": case.path,
        "httpMethod": case.method,
        "headers": J::headers(&headers),
        "multiValueHeaders": J::multi_value_headers(&headers),
        "queryStringParameters": J::Null,
        "multiValueQueryStringParameters": J::Null,
        "requestContext": obj! {
            "accountId": ACCOUNT,
            "apiId": "a1b2c3d4e5",
            "authorizer": obj! { "claims": J::Null, "scopes": J::Null },
            "domainName": HOST,
            "domainPrefix": "api",
            "extendedRequestId": case.short_id(0x5e),
            "httpMethod": case.method,
            "identity": obj! {
                "accessKey": J::Null,
                "accountId": J::Null,
                "caller": J::Null,
                "cognitoAuthenticationProvider": J::Null,
                "cognitoAuthenticationType": J::Null,
                "cognitoIdentityId": J::Null,
                "cognitoIdentityPoolId": J::Null,
                "principalOrgId": J::Null,
                "sourceIp": SOURCE_IP,
                "user": J::Null,
                "userAgent": USER_AGENT,
                "userArn": J::Null,
                "clientCert": case.certificate.map(client_cert),
            },
            "path": case.path,
            "protocol": "HTTP/1.1",
            "requestId": case.uuid(),
            "requestTime": case.request_time(),
            "requestTimeEpoch": case.epoch_millis(),
            "resourceId": "x1y2z3",
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "pathParameters": obj! { "proxy": proxy },
        "stageVariables": J::Null,
        "body": body,
        "isBase64Encoded": base64,
    }
}

/// API Gateway HTTP API, payload 2.0, on a custom domain with mutual TLS: the shape of
/// aws_lambda_events' `example-apigw-v2-request-no-authorizer.json`.
fn http_api_event(case: &Case<'_>) -> J {
    let body = case.body(Body::JsonText);
    let mut headers = vec![
        ("accept".to_owned(), "*/*".to_owned()),
        (
            "content-length".to_owned(),
            body.content_length().to_string(),
        ),
    ];
    if let Some(ty) = body.content_type() {
        headers.push(("content-type".to_owned(), ty.to_owned()));
    }
    if let Some(spoofed) = case.spoofed {
        // The client's own RFC 9440 header, claiming to be a proxy's.
        headers.push(("client-cert".to_owned(), rfc9440(spoofed)));
    }
    headers.extend([
        ("host".to_owned(), HOST.to_owned()),
        ("user-agent".to_owned(), USER_AGENT.to_owned()),
        ("x-amzn-trace-id".to_owned(), case.trace_id()),
        ("x-forwarded-for".to_owned(), SOURCE_IP.to_owned()),
        ("x-forwarded-port".to_owned(), "443".to_owned()),
        ("x-forwarded-proto".to_owned(), "https".to_owned()),
    ]);
    let mut context = vec![
        ("accountId".to_owned(), J::from(ACCOUNT)),
        ("apiId".to_owned(), J::from("f6g7h8i9j0")),
    ];
    if let Some(cert) = case.certificate {
        context.push((
            "authentication".to_owned(),
            obj! { "clientCert": client_cert(cert) },
        ));
    }
    context.extend([
        ("domainName".to_owned(), J::from(HOST)),
        ("domainPrefix".to_owned(), J::from("api")),
        (
            "http".to_owned(),
            obj! {
                "method": case.method,
                "path": case.path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
        ),
        ("requestId".to_owned(), J::from(case.short_id(0x2b))),
        ("routeKey".to_owned(), J::from("$default")),
        ("stage".to_owned(), J::from("$default")),
        ("time".to_owned(), J::from(case.request_time())),
        ("timeEpoch".to_owned(), J::from(case.epoch_millis())),
    ]);
    let mut event = vec![
        ("version".to_owned(), J::from("2.0")),
        ("routeKey".to_owned(), J::from("$default")),
        ("rawPath".to_owned(), J::from(case.path)),
        ("rawQueryString".to_owned(), J::from("")),
        ("headers".to_owned(), J::headers(&headers)),
        ("requestContext".to_owned(), J::Obj(context)),
    ];
    let (body, base64) = body.encoded();
    if let Some(body) = body {
        event.push(("body".to_owned(), J::from(body)));
    }
    event.push(("isBase64Encoded".to_owned(), J::from(base64)));
    J::Obj(event)
}

/// ALB target event (single-value headers) from a listener with mTLS passthrough: the
/// shape of aws_lambda_events' `example-alb-lambda-target-request-headers-only.json`.
fn alb_event(case: &Case<'_>) -> J {
    let body = case.body(Body::Binary);
    let mut headers = vec![("accept".to_owned(), "*/*".to_owned())];
    if let Some(spoofed) = case.spoofed {
        // The client's own RFC 9440 header: not where this deployment's ALB puts the
        // certificate.
        headers.push(("client-cert".to_owned(), rfc9440(spoofed)));
    }
    if let Some(ty) = body.content_type() {
        headers.push((
            "content-length".to_owned(),
            body.content_length().to_string(),
        ));
        headers.push(("content-type".to_owned(), ty.to_owned()));
    }
    headers.extend([
        ("host".to_owned(), HOST.to_owned()),
        ("user-agent".to_owned(), USER_AGENT.to_owned()),
    ]);
    if let Some(cert) = case.certificate {
        headers.push((
            "x-amzn-mtls-clientcert".to_owned(),
            certgate::frontend::forwarded::alb_encode(&chain_pem(cert, &case.intermediates)),
        ));
    }
    headers.extend([
        ("x-amzn-trace-id".to_owned(), case.trace_id()),
        ("x-forwarded-for".to_owned(), SOURCE_IP.to_owned()),
        ("x-forwarded-port".to_owned(), "443".to_owned()),
        ("x-forwarded-proto".to_owned(), "https".to_owned()),
    ]);
    let (body, base64) = body.encoded();
    obj! {
        "requestContext": obj! {
            "elb": obj! {
                "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/certgate/0123456789abcdef",
            },
        },
        "httpMethod": case.method,
        "path": case.path,
        "queryStringParameters": J::Obj(Vec::new()),
        "headers": J::headers(&headers),
        "body": body.unwrap_or_default(),
        "isBase64Encoded": base64,
    }
}

const EVENTS_README: &str = "\
# Sample Lambda events

Generated by `cargo run --example samples -- .` (see `examples/samples.rs`), for the
deployments `examples/apigateway` (`rest/`, `http-api/`) and `examples/alb` (`alb/`).
Certificates are from `examples/pki`; host `api.contoso.com`.

| event | client certificate | expected answer |
| --- | --- | --- |
| `valid.json` | `good` (uploaded as `client1`), from the trusted source | 200, JSON with its subject and thumbprint |
| `no-certificate.json` | none | 403 Invalid client certificate |
| `untrusted.json` | `untrusted`: issued by the Fabrikam root, not in `ca/` | 403 |
| `expired.json` | `expired`: notAfter 2020-12-31 | 403 |
| `revoked.json` | `revoked`: listed in `crl/contoso-issuing.crl` | 403 |
| `spoofed-header.json` | none from the trusted source; `good` in a header the client set (`x-amzn-mtls-clientcert` for REST, `client-cert` for HTTP API and ALB), which is ignored | 403 |
| `post-64k.json` | `good`; a 65,536-byte POST body (base64 for REST and ALB, JSON text for HTTP API) | 200 |

API Gateway itself refuses expired and untrusted certificates during the TLS handshake,
and ALB passthrough forwards whatever the client sent: the gateway's own check is what
these events exercise.

`migration/`: REST API events for `examples/migration` (CORS, the client-certificate
check in a fragment, certificate-bound access tokens, named values with secrets, a
backend entity, a send-request lookup, cached). Run them with the stand-ins for its two secrets:
`certgate invoke --config examples/migration --named-value jwt-signing-key=... --named-value
accounts-key=... events/migration/bound-token.json` (values in `examples/migration/gateway.toml`).

| event | client certificate | `Authorization` | expected answer |
| --- | --- | --- | --- |
| `bound-token.json` | `good` | a token bound to `good` (`cnf`/`x5t#S256`) | 200, JSON with the account (`client1`), its plan (`unknown`: no accounts directory listens offline) and the thumbprint |
| `stolen-token.json` | `good` | a token bound to `revoked`'s certificate | 401 Token not bound to this certificate |
| `no-token.json` | `good` | none | 401 (validate-jwt: `TokenNotPresent`) |
| `no-certificate.json` | none | a token bound to `good` | 403 Invalid client certificate |
| `preflight.json` | none (`OPTIONS` from `https://app.contoso.com`) | none | 200 with `Access-Control-Allow-Origin`, answered by the gateway |
";
