//! The committed samples (`examples/apigateway`, `examples/alb`, `examples/pki`,
//! `events/`) do what `examples/samples.rs` says they do, and are what it writes.

mod common;
#[allow(dead_code)]
#[path = "../examples/samples.rs"]
mod generator;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use certgate::cert::{Certificate, PresentedChains, decode_chain};
use certgate::config::{CertificateSource, GatewayConfig};
use certgate::frontend::lambda::{EventKind, parse_event, to_gateway_request};
use certgate::gateway::{ClientCertificate, GatewayRequest};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use serde_json::Value;
use time::macros::datetime;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one certificate of a committed PEM file.
fn certificate(relative: &str) -> Certificate {
    let mut chain =
        decode_chain(read(relative).as_bytes()).unwrap_or_else(|e| panic!("{relative}: {e}"));
    assert_eq!(chain.len(), 1, "{relative} holds one certificate");
    chain.remove(0)
}

fn der(relative: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(read(relative).as_bytes())
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn crl_der(relative: &str) -> CertificateRevocationListDer<'static> {
    CertificateRevocationListDer::from_pem_slice(read(relative).as_bytes())
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every file under the sample folders, relative to `root`, with `/`.
fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let parts: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(parts.join("/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    for folder in [
        "examples/apigateway",
        "examples/alb",
        "examples/migration",
        "examples/pki",
        "events",
    ] {
        walk(&root.join(folder), root, &mut out);
    }
    out
}

fn committed_files() -> BTreeSet<String> {
    files_under(repo())
}

// ---------------------------------------------------------------------------------------
// Certificates and CRLs

#[test]
fn committed_certificates_outlive_2090_except_the_expired_one() {
    let expired = certificate("examples/pki/expired.pem");
    let mut checked = 0;
    for file in committed_files().iter().filter(|f| f.ends_with(".pem")) {
        let chain = decode_chain(read(file).as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!chain.is_empty(), "{file}");
        for cert in chain {
            checked += 1;
            if cert.thumbprint() == expired.thumbprint() {
                assert!(
                    cert.not_after() < datetime!(2021-01-01 0:00 UTC),
                    "{file}: the expired sample must have expired before 2021"
                );
            } else {
                assert!(
                    cert.not_after() >= datetime!(2090-01-01 0:00 UTC),
                    "{file}: {} expires {}, before 2090",
                    cert.subject(),
                    cert.not_after()
                );
                assert!(
                    cert.not_before() <= datetime!(2025-01-01 0:00 UTC),
                    "{file}"
                );
            }
        }
    }
    // 4 clients + 2 roots + truststore (2) + per deployment (apigateway, alb, migration):
    // 2 CAs, client1, server chain (2).
    assert_eq!(checked, 4 + 2 + 2 + 3 * (2 + 1 + 2));
}

#[test]
fn sample_certificates_have_the_documented_names() {
    let names = [
        (
            "examples/pki/contoso-root.pem",
            "CN=Contoso Sample Root CA, O=Contoso, C=US",
            "CN=Contoso Sample Root CA, O=Contoso, C=US",
        ),
        (
            "examples/apigateway/ca/intermediate/contoso-issuing.pem",
            "CN=Contoso Sample Issuing CA, O=Contoso, C=US",
            "CN=Contoso Sample Root CA, O=Contoso, C=US",
        ),
        (
            "examples/pki/good.pem",
            "CN=client1.contoso.com, O=Contoso, C=US",
            "CN=Contoso Sample Issuing CA, O=Contoso, C=US",
        ),
        (
            "examples/pki/revoked.pem",
            "CN=client2-revoked.contoso.com, O=Contoso, C=US",
            "CN=Contoso Sample Issuing CA, O=Contoso, C=US",
        ),
        (
            "examples/pki/expired.pem",
            "CN=client3-expired.contoso.com, O=Contoso, C=US",
            "CN=Contoso Sample Issuing CA, O=Contoso, C=US",
        ),
        (
            "examples/pki/fabrikam-root.pem",
            "CN=Fabrikam Root CA, O=Fabrikam, C=US",
            "CN=Fabrikam Root CA, O=Fabrikam, C=US",
        ),
        (
            "examples/pki/untrusted.pem",
            "CN=client1.fabrikam.com, O=Fabrikam, C=US",
            "CN=Fabrikam Root CA, O=Fabrikam, C=US",
        ),
    ];
    for (file, subject, issuer) in names {
        let cert = certificate(file);
        assert_eq!(cert.subject(), subject, "{file}");
        assert_eq!(cert.issuer(), issuer, "{file}");
    }
    assert_eq!(
        certificate("examples/pki/contoso-root.pem").not_before(),
        datetime!(2025-01-01 0:00 UTC)
    );
    assert_eq!(
        certificate("examples/pki/contoso-root.pem").not_after(),
        datetime!(2099-12-31 0:00 UTC)
    );
    for client in ["good", "revoked", "expired", "untrusted"] {
        let cert = certificate(&format!("examples/pki/{client}.pem"));
        assert_eq!(
            cert.extended_key_usages(),
            Some(&["1.3.6.1.5.5.7.3.2".to_owned()][..]),
            "{client}: clientAuth EKU"
        );
        assert!(!cert.is_ca(), "{client}");
        let key = read(&format!("examples/pki/{client}.key"));
        assert!(
            key.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{client}.key"
        );
    }
    for ca in [
        "examples/pki/contoso-root.pem",
        "examples/apigateway/ca/intermediate/contoso-issuing.pem",
        "examples/pki/fabrikam-root.pem",
    ] {
        assert!(certificate(ca).is_ca(), "{ca}");
    }
}

#[test]
fn the_deployments_share_the_same_pki_files() {
    let shared = [
        "ca/root/contoso-root.pem",
        "ca/intermediate/contoso-issuing.pem",
        "crl/contoso-root.crl",
        "crl/contoso-issuing.crl",
        "certificates/client1.pem",
        "tls/api.pem",
        "tls/api.key",
        "policies/global.xml",
        "policies/orders.xml",
    ];
    for file in shared {
        assert_eq!(
            read(&format!("examples/apigateway/{file}")),
            read(&format!("examples/alb/{file}")),
            "{file} differs between the deployments"
        );
        if file.starts_with("policies/") {
            continue;
        }
        assert_eq!(
            read(&format!("examples/apigateway/{file}")),
            read(&format!("examples/migration/{file}")),
            "{file} differs between the deployments"
        );
    }
    assert_eq!(
        read("examples/apigateway/certificates/client1.pem"),
        read("examples/pki/good.pem")
    );
    assert_eq!(
        read("examples/apigateway/ca/root/contoso-root.pem"),
        read("examples/pki/contoso-root.pem")
    );
    assert_eq!(
        read("examples/pki/truststore.pem"),
        read("examples/apigateway/ca/intermediate/contoso-issuing.pem")
            + &read("examples/apigateway/ca/root/contoso-root.pem")
    );
}

#[test]
fn crls_parse_and_the_issuing_cas_lists_the_revoked_client() {
    use x509_parser::prelude::FromDer as _;
    use x509_parser::revocation_list::CertificateRevocationList;

    let cases = [
        ("crl/contoso-root.crl", "ca/root/contoso-root.pem", vec![]),
        (
            "crl/contoso-issuing.crl",
            "ca/intermediate/contoso-issuing.pem",
            vec![
                certificate("examples/pki/revoked.pem")
                    .serial_number()
                    .to_owned(),
            ],
        ),
    ];
    for (crl_file, ca_file, revoked) in cases {
        let crl_file = format!("examples/apigateway/{crl_file}");
        let ca = certificate(&format!("examples/apigateway/{ca_file}"));
        let crl_bytes = crl_der(&crl_file);
        let (rest, crl) = CertificateRevocationList::from_der(&crl_bytes).unwrap();
        assert!(rest.is_empty(), "{crl_file}");
        let ca_der = der(&format!("examples/apigateway/{ca_file}"));
        let (_, ca_x509) = x509_parser::certificate::X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(
            crl.issuer().as_raw(),
            ca_x509.subject().as_raw(),
            "{crl_file}: issuer"
        );
        assert_eq!(
            ca.subject(),
            certificate(&format!("examples/apigateway/{ca_file}")).subject()
        );
        let next_update = crl.next_update().expect("nextUpdate").to_datetime();
        assert_eq!(next_update.year(), 2099, "{crl_file}: nextUpdate");
        let serials: Vec<String> = crl
            .iter_revoked_certificates()
            .map(|r| {
                r.raw_serial()
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<String>()
            })
            .collect();
        assert_eq!(serials, revoked, "{crl_file}: revoked serials");
    }
}

/// Chain building and revocation with webpki (what the trust store builds on): the good
/// certificate verifies, each bad one fails for its own reason. This also checks that
/// both CRLs are signed by their CA (webpki refuses a CRL whose signature is wrong, and
/// without a usable CRL for the issuing CA the revocation status is unknown: an error).
#[test]
fn samples_verify_as_documented_against_the_deployment_pki() {
    let root = der("examples/apigateway/ca/root/contoso-root.pem");
    let anchors = [webpki::anchor_from_trusted_cert(&root).unwrap().to_owned()];
    let intermediates = [der(
        "examples/apigateway/ca/intermediate/contoso-issuing.pem",
    )];
    let crls: Vec<webpki::CertRevocationList<'static>> =
        ["crl/contoso-root.crl", "crl/contoso-issuing.crl"]
            .iter()
            .map(|f| {
                webpki::OwnedCertRevocationList::from_der(&crl_der(&format!(
                    "examples/apigateway/{f}"
                )))
                .unwrap()
                .into()
            })
            .collect();
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crls.iter().collect();

    let verify = |file: &str, at: time::OffsetDateTime, usage: webpki::KeyUsage| {
        let leaf = der(file);
        let ee = webpki::EndEntityCert::try_from(&leaf).unwrap();
        let revocation = webpki::RevocationOptionsBuilder::new(&crl_refs)
            .unwrap()
            .build();
        let now = UnixTime::since_unix_epoch(Duration::from_secs(at.unix_timestamp() as u64));
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            now,
            usage,
            Some(revocation),
            None,
        )
        .map(|_| ())
    };
    let client = webpki::KeyUsage::client_auth;
    for at in [
        datetime!(2026-11-28 17:00 UTC),
        datetime!(2089-12-31 0:00 UTC),
    ] {
        assert_eq!(
            verify("examples/pki/good.pem", at, client()),
            Ok(()),
            "good at {at}"
        );
        assert_eq!(
            verify("examples/pki/revoked.pem", at, client()),
            Err(webpki::Error::CertRevoked)
        );
        assert!(matches!(
            verify("examples/pki/expired.pem", at, client()),
            Err(webpki::Error::CertExpired { .. })
        ));
        assert_eq!(
            verify("examples/pki/untrusted.pem", at, client()),
            Err(webpki::Error::UnknownIssuer)
        );
        let server = webpki::KeyUsage::server_auth();
        assert_eq!(
            verify("examples/apigateway/tls/api.pem", at, server),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------------------------------
// Events

/// What the trusted source of an event must deliver.
#[derive(Debug)]
enum Expect {
    Leaf(&'static str),
    Absent { ignored: &'static [&'static str] },
}

fn expectation(front_end: &str, event: &str) -> Expect {
    match event {
        "valid" | "post-64k" => Expect::Leaf("good"),
        "untrusted" => Expect::Leaf("untrusted"),
        "expired" => Expect::Leaf("expired"),
        "revoked" => Expect::Leaf("revoked"),
        "no-certificate" => Expect::Absent { ignored: &[] },
        "spoofed-header" => Expect::Absent {
            ignored: if front_end == "rest" {
                &["x-amzn-mtls-clientcert"]
            } else {
                &["client-cert"]
            },
        },
        other => panic!("no expectation for {other}"),
    }
}

const FRONT_ENDS: [(&str, &str, EventKind); 3] = [
    ("rest", "examples/apigateway", EventKind::RestV1),
    ("http-api", "examples/apigateway", EventKind::HttpV2),
    ("alb", "examples/alb", EventKind::Alb),
];

fn gateway_config(deployment: &str) -> GatewayConfig {
    GatewayConfig::parse(&read(&format!("{deployment}/gateway.toml")))
        .unwrap_or_else(|e| panic!("{deployment}: {e}"))
}

fn event_request(front_end: &str, deployment: &str, event: &str) -> (EventKind, GatewayRequest) {
    let file = format!("events/{front_end}/{event}.json");
    let request = parse_event(&read(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    to_gateway_request(
        request,
        &gateway_config(deployment),
        &PresentedChains::new(16, 16),
    )
}

#[test]
fn every_event_yields_the_expected_certificate_from_its_deployment() {
    let issuing = certificate("examples/apigateway/ca/intermediate/contoso-issuing.pem");
    for (front_end, deployment, kind) in FRONT_ENDS {
        for event in generator::EVENTS {
            let file = format!("events/{front_end}/{event}.json");
            let (got_kind, request) = event_request(front_end, deployment, event);
            assert_eq!(got_kind, kind, "{file}");
            assert_eq!(
                request
                    .parts
                    .headers
                    .get("host")
                    .map(|h| h.to_str().unwrap()),
                Some(generator::HOST),
                "{file}"
            );
            assert!(request.parts.uri.path().contains("/orders"), "{file}");
            match expectation(front_end, event) {
                Expect::Leaf(name) => {
                    let expected = certificate(&format!("examples/pki/{name}.pem"));
                    let ClientCertificate::Presented(chain) = &request.certificate else {
                        panic!("{file}: expected {name}, got {:?}", request.certificate);
                    };
                    assert_eq!(chain.leaf.thumbprint(), expected.thumbprint(), "{file}");
                    assert!(request.ignored_certificate_sources.is_empty(), "{file}");
                    if front_end == "alb" {
                        // Passthrough: the client's whole chain, leaf first.
                        let chain: Vec<_> = chain.iter().map(|c| c.thumbprint()).collect();
                        let expected_chain = if name == "untrusted" {
                            vec![expected.thumbprint()]
                        } else {
                            vec![expected.thumbprint(), issuing.thumbprint()]
                        };
                        assert_eq!(chain, expected_chain, "{file}: chain");
                    }
                }
                Expect::Absent { ignored } => {
                    assert!(
                        matches!(request.certificate, ClientCertificate::Absent),
                        "{file}: {:?}",
                        request.certificate
                    );
                    assert_eq!(request.ignored_certificate_sources, ignored, "{file}");
                }
            }
        }
    }
}

#[test]
fn spoofed_headers_carry_the_good_certificate() {
    // The spoofing attempts are real: the header decodes to the good certificate, so a
    // deployment that trusted it would let the request in.
    let good = certificate("examples/pki/good.pem");
    for (front_end, header, source) in [
        ("http-api", "client-cert", "rfc9440"),
        ("alb", "client-cert", "rfc9440"),
    ] {
        let file = format!("events/{front_end}/spoofed-header.json");
        let event: Value = serde_json::from_str(&read(&file)).unwrap();
        assert!(event["headers"][header].is_string(), "{file}: no {header}");
        let (_, request) = to_gateway_request(
            parse_event(&read(&file)).unwrap(),
            &source_config(source),
            &PresentedChains::new(16, 16),
        );
        assert_eq!(
            request.certificate.leaf().map(Certificate::thumbprint),
            Some(good.thumbprint()),
            "{file}: {header} decoded as {source}"
        );
    }
    // The ALB's header in a REST event is the good certificate too, and no deployment
    // believes it: only an ALB event carries the ALB's headers.
    let file = "events/rest/spoofed-header.json";
    let event: Value = serde_json::from_str(&read(file)).unwrap();
    let value = event["headers"]["X-Amzn-Mtls-Clientcert"].as_str().unwrap();
    let pem = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap();
    assert_eq!(
        decode_chain(pem.as_bytes()).unwrap()[0].thumbprint(),
        good.thumbprint()
    );
    let (_, request) = to_gateway_request(
        parse_event(&read(file)).unwrap(),
        &source_config("alb"),
        &PresentedChains::new(16, 16),
    );
    assert!(request.certificate.leaf().is_none(), "{file}");
    assert_eq!(
        request.ignored_certificate_sources,
        ["x-amzn-mtls-clientcert"]
    );
}

fn source_config(source: &str) -> GatewayConfig {
    GatewayConfig::parse(&format!(
        "[deployment]\ncertificate_source = \"{source}\"\n"
    ))
    .unwrap()
}

#[test]
fn alb_headers_are_url_encoded_as_the_alb_does() {
    let issuing = read("examples/apigateway/ca/intermediate/contoso-issuing.pem");
    for event in ["valid", "expired", "revoked", "untrusted", "post-64k"] {
        let file = format!("events/alb/{event}.json");
        let json: Value = serde_json::from_str(&read(&file)).unwrap();
        let header = json["headers"]["x-amzn-mtls-clientcert"].as_str().unwrap();
        assert!(
            header.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
            "{file}"
        );
        assert!(
            !header.contains([' ', '\n']),
            "{file}: raw space or newline"
        );
        for kept in ["%2B", "%3D", "%2F"] {
            assert!(
                !header.contains(kept),
                "{file}: `+=/` stay as they are, found {kept}"
            );
        }
        let decoded = percent_encoding::percent_decode_str(header)
            .decode_utf8()
            .unwrap();
        let leaf = match event {
            "valid" | "post-64k" => "good",
            other => other,
        };
        let mut expected = read(&format!("examples/pki/{leaf}.pem"));
        if leaf != "untrusted" {
            expected.push_str(&issuing);
        }
        assert_eq!(decoded, expected, "{file}");
        assert_eq!(
            certgate::frontend::forwarded::alb_encode(&expected),
            header,
            "{file}"
        );
    }
}

#[test]
fn api_gateway_events_describe_the_certificate_as_api_gateway_does() {
    for (front_end, pointer) in [
        ("rest", "/requestContext/identity/clientCert"),
        ("http-api", "/requestContext/authentication/clientCert"),
    ] {
        let file = format!("events/{front_end}/valid.json");
        let json: Value = serde_json::from_str(&read(&file)).unwrap();
        let cert = json
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{file}: {pointer}"));
        assert_eq!(
            cert["clientCertPem"],
            read("examples/pki/good.pem"),
            "{file}"
        );
        assert_eq!(cert["subjectDN"], "C=US,O=Contoso,CN=client1.contoso.com");
        assert_eq!(
            cert["issuerDN"],
            "C=US,O=Contoso,CN=Contoso Sample Issuing CA"
        );
        assert_eq!(cert["serialNumber"], "20:25:10:01");
        assert_eq!(cert["validity"]["notBefore"], "Jan  1 00:00:00 2025 GMT");
        assert_eq!(cert["validity"]["notAfter"], "Dec 31 00:00:00 2095 GMT");
    }
}

#[test]
fn post_64k_events_carry_exactly_65536_body_bytes() {
    let mut base64_seen = false;
    for (front_end, deployment, _) in FRONT_ENDS {
        let file = format!("events/{front_end}/post-64k.json");
        let json: Value = serde_json::from_str(&read(&file)).unwrap();
        let body = json["body"].as_str().unwrap();
        let raw = if json["isBase64Encoded"] == true {
            base64_seen = true;
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        } else {
            body.as_bytes().to_vec()
        };
        assert_eq!(raw.len(), 65_536, "{file}: body bytes");
        assert_eq!(raw.len(), generator::POST_BODY_BYTES);

        let (_, request) = event_request(front_end, deployment, "post-64k");
        let body = request.body.as_whole().expect("Lambda bodies are whole");
        assert_eq!(body.len(), 65_536, "{file}: body after the front end");
        assert_eq!(&body[..], &raw[..], "{file}");
        assert_eq!(request.parts.method, "POST", "{file}");
        assert_eq!(
            request.parts.headers.get("content-length").unwrap(),
            "65536",
            "{file}"
        );
    }
    assert!(
        base64_seen,
        "at least one front end sends the body base64-encoded"
    );
}

#[test]
fn events_are_pretty_printed_json_objects() {
    for (front_end, _, _) in FRONT_ENDS {
        for event in generator::EVENTS {
            let file = format!("events/{front_end}/{event}.json");
            let text = read(&file);
            assert!(text.starts_with("{\n  \""), "{file}: pretty-printed");
            assert!(text.ends_with("}\n"), "{file}");
            assert!(serde_json::from_str::<Value>(&text).unwrap().is_object());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Deployment folders and policies

#[test]
fn gateway_tomls_parse_and_name_existing_policies() {
    for (deployment, source) in [
        ("examples/apigateway", CertificateSource::Apigateway),
        ("examples/alb", CertificateSource::Alb),
    ] {
        let config = gateway_config(deployment);
        assert_eq!(config.deployment.certificate_source, source, "{deployment}");
        assert_eq!(config.deployment.service_name, "contoso");
        assert_eq!(config.deployment.region, "eu-west-1");
        assert_eq!(
            config.deployment.policy.as_deref(),
            Some("policies/global.xml")
        );
        assert_eq!(config.apis.len(), 1);
        let api = &config.apis[0];
        assert_eq!(
            (api.name.as_str(), api.path.as_str()),
            ("orders", "/orders")
        );
        assert_eq!(api.backend.authority().unwrap(), "127.0.0.1:8080");
        assert_eq!(api.policy.as_deref(), Some("policies/orders.xml"));
        assert!(config.requests_client_certificate(generator::HOST));
        for file in config.policy_files() {
            assert!(
                repo().join(deployment).join(file).is_file(),
                "{deployment}/{file}"
            );
        }
        let host = config.hostname(generator::HOST).unwrap();
        for file in [&host.tls_certificate, &host.tls_key] {
            let file = file.as_deref().unwrap();
            assert!(
                repo().join(deployment).join(file).is_file(),
                "{deployment}/{file}"
            );
        }
    }
}

/// The third policy of "Secure APIs using client certificate authentication in API
/// Management" (spec/apim-client-certificate-article.txt), as printed there.
const ARTICLE_THIRD_POLICY: &str = include_str!("data/policies/article-uploaded-certificates.xml");

/// The lines of `text` without their indentation.
fn unindented(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join("\n")
}

#[test]
fn global_policies_hold_the_articles_third_policy_verbatim() {
    for deployment in ["examples/apigateway", "examples/alb"] {
        let policy = read(&format!("{deployment}/policies/global.xml"));
        let inbound = unindented(
            policy
                .split_once("<inbound>")
                .and_then(|(_, rest)| rest.split_once("</inbound>"))
                .map(|(inbound, _)| inbound)
                .expect("an inbound section"),
        );
        assert_eq!(
            inbound.trim(),
            ARTICLE_THIRD_POLICY.trim_end(),
            "{deployment}: inbound"
        );
        assert!(policy.contains("<forward-request />"), "{deployment}");
        assert_eq!(policy, generator::GLOBAL_POLICY);
    }
}

#[test]
fn orders_policies_answer_without_a_backend() {
    for deployment in ["examples/apigateway", "examples/alb"] {
        let policy = unindented(&read(&format!("{deployment}/policies/orders.xml")));
        for expected in [
            "<inbound>\n<base />\n</inbound>",
            "<backend>\n<return-response>\n<set-status code=\"200\" reason=\"OK\" />",
            "<set-header name=\"Content-Type\" exists-action=\"override\">\n<value>application/json</value>\n</set-header>",
            "<set-body>@{",
            r#"return "{\"subject\": \"" + context.Request.Certificate.Subject + "\", \"thumbprint\": \"" + context.Request.Certificate.Thumbprint + "\"}";"#,
            "}</set-body>\n</return-response>\n</backend>",
        ] {
            assert!(
                policy.contains(expected),
                "{deployment}: missing {expected}"
            );
        }
        assert!(!policy.contains("forward-request"), "{deployment}");
    }
}

// ---------------------------------------------------------------------------------------
// The generator

/// The JSON paths and value kinds of a document: its structure without its values.
fn shape(value: &Value, at: String, out: &mut BTreeSet<String>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.insert(format!("{at}: {kind}"));
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                shape(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                shape(item, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_generator_writes_exactly_the_committed_files() {
    let dir = tempfile::tempdir().unwrap();
    let written = generator::generate(dir.path()).unwrap();
    let generated = files_under(dir.path());
    let written: BTreeSet<String> = written
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    assert_eq!(written, generated, "generate() reports what it wrote");
    assert_eq!(
        generated,
        committed_files(),
        "committed samples differ from the generator's file set: run `cargo run --example samples -- .`"
    );

    for file in &generated {
        let fresh = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let committed = read(file);
        let ext = Path::new(file).extension().and_then(|e| e.to_str());
        match ext {
            // Keys, certificates and CRLs are new at each run.
            Some("pem" | "key" | "crl") => {
                assert_eq!(
                    fresh.matches("-----BEGIN ").count(),
                    committed.matches("-----BEGIN ").count(),
                    "{file}"
                );
            }
            // Events hold certificates: same structure, and the same values elsewhere.
            Some("json") => {
                let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
                shape(
                    &serde_json::from_str(&fresh).unwrap(),
                    String::new(),
                    &mut a,
                );
                shape(
                    &serde_json::from_str(&committed).unwrap(),
                    String::new(),
                    &mut b,
                );
                assert_eq!(a, b, "{file}: structure");
            }
            _ => assert_eq!(
                fresh, committed,
                "{file}: edit examples/samples.rs, not the output"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The deployments as the gateway loads them

#[test]
fn deployments_load_without_diagnostics_and_verify_as_documented() {
    use certgate::trust::{Reason, Revocation, TrustStore, Verdict};

    let now = datetime!(2026-11-28 17:00 UTC);
    for (deployment, _) in generator::DEPLOYMENTS {
        let files = certgate::source::read_folder(&repo().join(deployment)).unwrap();
        let (store, diagnostics) = TrustStore::from_files(&files, now);
        assert!(diagnostics.is_empty(), "{deployment}: {diagnostics:?}");
        assert_eq!(store.roots().len(), 1, "{deployment}");
        assert_eq!(store.intermediates().len(), 1, "{deployment}");
        let uploaded = store.uploaded();
        assert_eq!(uploaded.len(), 1, "{deployment}");
        let good = certificate("examples/pki/good.pem");
        assert_eq!(
            uploaded.get("client1").map(|c| c.thumbprint()),
            Some(good.thumbprint()),
            "{deployment}: context.Deployment.Certificates[\"client1\"]"
        );
        for (client, check, no_check) in [
            ("good", Verdict::Valid, Verdict::Valid),
            ("revoked", Verdict::Invalid(Reason::Revoked), Verdict::Valid),
            (
                "expired",
                Verdict::Invalid(Reason::Expired),
                Verdict::Invalid(Reason::Expired),
            ),
            (
                "untrusted",
                Verdict::Invalid(Reason::NotTrusted),
                Verdict::Invalid(Reason::NotTrusted),
            ),
        ] {
            let leaf = certificate(&format!("examples/pki/{client}.pem"));
            for at in [now, datetime!(2089-12-31 0:00 UTC)] {
                assert_eq!(
                    store.verify(&leaf, &[], at, Revocation::Check),
                    check,
                    "{deployment}: Verify() of {client} at {at}"
                );
                assert_eq!(
                    store.verify(&leaf, &[], at, Revocation::NoCheck),
                    no_check,
                    "{deployment}: VerifyNoRevocation() of {client} at {at}"
                );
            }
        }
    }
}

#[test]
fn policies_load_and_compose_into_check_then_answer() {
    use certgate::policy::{EffectivePolicy, PolicyDocument, Scope, SectionKind};

    for (deployment, _) in generator::DEPLOYMENTS {
        let load = |file: &str, scope| {
            let path = format!("{deployment}/policies/{file}");
            PolicyDocument::parse(&path, &read(&path), scope).unwrap_or_else(|e| panic!("{e}"))
        };
        let global = load("global.xml", Scope::Global);
        let orders = load("orders.xml", Scope::Api);
        let effective = EffectivePolicy::for_request(Some(&global), Some(&orders), None);
        let names = |kind| -> Vec<String> {
            effective
                .section(kind)
                .iter()
                .map(|step| step.node.meta.name.to_string())
                .collect()
        };
        assert_eq!(names(SectionKind::Inbound), ["choose"], "{deployment}");
        assert_eq!(
            names(SectionKind::Backend),
            ["return-response"],
            "{deployment}"
        );
        assert!(names(SectionKind::Outbound).is_empty(), "{deployment}");
        assert!(names(SectionKind::OnError).is_empty(), "{deployment}");
    }
}

/// Every event reaches the `orders` API of its deployment.
fn assert_events_route_to_orders(front_ends: &[&str]) {
    for (front_end, deployment, _) in FRONT_ENDS {
        if !front_ends.contains(&front_end) {
            continue;
        }
        let config = gateway_config(deployment);
        for event in generator::EVENTS {
            let (_, request) = event_request(front_end, deployment, event);
            let route =
                certgate::gateway::route(&config, &request.parts.method, request.parts.uri.path());
            assert_eq!(
                route.map(|r| r.api.name.as_str()),
                Ok("orders"),
                "events/{front_end}/{event}.json: {}",
                request.parts.uri
            );
        }
    }
}

#[test]
fn http_api_and_alb_events_route_to_the_orders_api() {
    assert_events_route_to_orders(&["http-api", "alb"]);
}

#[test]
fn rest_events_route_to_the_orders_api() {
    assert_events_route_to_orders(&["rest"]);
}

/// `examples/migration` loads with stand-ins for its two secrets, and each of its events
/// gets the answer events/README.md states: the token must be bound to the certificate
/// presented, the certificate check comes first, a preflight is answered by CORS alone.
#[test]
fn migration_events_get_the_documented_answers() {
    use generator::migration::{ACCOUNTS_KEY, EVENTS, JWT_SIGNING_KEY};
    for (name, status) in EVENTS {
        let (response, stderr) = invoke_migration(name, &[]);
        let event = format!("events/migration/{name}.json");
        assert_eq!(response["statusCode"], status, "{event}: {response}");
        let header = |h: &str| {
            response["multiValueHeaders"][h][0]
                .as_str()
                .map(str::to_owned)
        };
        match name {
            "bound-token" => {
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                let good = certificate("examples/pki/good.pem");
                assert_eq!(body["account"], "client1", "{body}");
                // No accounts directory listens: send-request's ignore-error leaves the plan.
                assert_eq!(body["plan"], "unknown", "{body}");
                assert_eq!(body["thumbprint"], good.thumbprint(), "{body}");
            }
            "preflight" => {
                assert_eq!(
                    header("access-control-allow-origin").as_deref(),
                    Some("https://app.contoso.com")
                );
                assert_eq!(header("vary").as_deref(), Some("Origin"));
            }
            "no-token" => {
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                assert_eq!(body["message"], "JWT not present.", "{body}");
            }
            _ => assert_eq!(header("access-control-allow-origin"), None),
        }
        // The secrets never reach the output.
        assert!(!stderr.contains(JWT_SIGNING_KEY) && !stderr.contains(ACCOUNTS_KEY));
    }
}

/// `certgate invoke` of `events/migration/<name>.json` with stand-ins for the secrets and
/// `more` arguments: the response and stderr.
fn invoke_migration(name: &str, more: &[&str]) -> (Value, String) {
    use generator::migration::{ACCOUNTS_KEY, FOLDER, JWT_SIGNING_KEY};
    let jwt_key = format!("jwt-signing-key={JWT_SIGNING_KEY}");
    let accounts_key = format!("accounts-key={ACCOUNTS_KEY}");
    let event = format!("events/migration/{name}.json");
    let mut args = vec![
        "invoke",
        "--config",
        FOLDER,
        "--named-value",
        &jwt_key,
        "--named-value",
        &accounts_key,
        "--now",
        "2030-06-01T00:00:00Z",
    ];
    args.extend_from_slice(more);
    args.push(&event);
    let out = common::cli::certgate(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{event}: {stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

/// With an accounts directory listening, the migration sample's `send-request` asks it for
/// the caller's plan with the directory key (the SSM named value) and answers with it.
#[test]
fn the_migration_sample_asks_the_accounts_directory_with_its_key() {
    use generator::migration::ACCOUNTS_KEY;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = runtime.block_on(common::backend::RecordingBackend::start());
    directory.answer("/accounts/client1", r#"{"plan":"gold"}"#);
    let url = format!("directory-url={}", directory.url());
    let (response, _) = invoke_migration("bound-token", &["--named-value", &url]);
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["plan"], "gold", "{body}");
    let asked = directory.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "GET");
    assert_eq!(asked[0].uri, "/accounts/client1");
    assert_eq!(asked[0].headers["x-functions-key"], ACCOUNTS_KEY);
}
