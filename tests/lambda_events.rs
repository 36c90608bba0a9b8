//! Lambda events to `GatewayRequest`: each certificate source, spoofing attempts,
//! header hygiene, bodies.

mod common;

use base64::Engine as _;
use certgate::cert::PresentedChains;
use certgate::config::GatewayConfig;
use certgate::frontend::lambda::{EventError, EventKind, parse_event, to_gateway_request};
use certgate::gateway::{ClientCertificate, GatewayRequest};
use serde_json::{Value, json};

fn config(source: &str, extra: &str) -> GatewayConfig {
    GatewayConfig::parse(&format!(
        "[deployment]\ncertificate_source = \"{source}\"\n{extra}"
    ))
    .unwrap()
}

/// The AWS documentation's REST (payload 1.0) example with `clientCert`.
fn rest_v1(pem: Option<&str>, headers: Value) -> Value {
    let mut identity = json!({"sourceIp": "198.51.100.7", "userAgent": "curl/8"});
    if let Some(pem) = pem {
        identity["clientCert"] = json!({
            "clientCertPem": pem, "subjectDN": "CN=ignored", "issuerDN": "CN=ignored",
            "serialNumber": "1",
            "validity": {"notBefore": "May 28 12:30:02 2019 GMT", "notAfter": "Aug  5 09:36:04 2091 GMT"}
        });
    }
    json!({
        "resource": "/{proxy+}", "path": "/orders/42", "httpMethod": "POST",
        "headers": headers.clone(), "multiValueHeaders": multi(&headers),
        "queryStringParameters": {"a": "1"}, "multiValueQueryStringParameters": {"a": ["1", "2"]},
        "requestContext": {
            "accountId": "123456789012", "apiId": "id", "domainName": "api.contoso.com",
            "httpMethod": "POST", "identity": identity, "path": "/prod/orders/42",
            "protocol": "HTTP/1.1", "requestId": "rest-request-id", "resourcePath": "/{proxy+}",
            "stage": "prod", "requestTimeEpoch": 1583349317135u64
        },
        "pathParameters": null, "stageVariables": null,
        "body": "aGVsbG8=", "isBase64Encoded": true
    })
}

/// The aws_lambda_events HTTP API (payload 2.0) fixture shape with `clientCert`.
fn http_v2(pem: Option<&str>, headers: Value) -> Value {
    let mut context = json!({
        "accountId": "123456789012", "apiId": "api", "domainName": "api.contoso.com",
        "domainPrefix": "api",
        "http": {"method": "GET", "path": "/orders", "protocol": "HTTP/1.1",
                 "sourceIp": "203.0.113.9", "userAgent": "curl/8"},
        "requestId": "v2-request-id", "routeKey": "$default", "stage": "$default",
        "time": "21/Apr/2020:15:08:21 +0000", "timeEpoch": 1587481701067u64
    });
    if let Some(pem) = pem {
        context["authentication"] = json!({"clientCert": {
            "clientCertPem": pem, "issuerDN": "x", "subjectDN": "y", "serialNumber": "1",
            "validity": {"notAfter": "Aug  5 00:28:21 2120 GMT", "notBefore": "Aug 29 00:28:21 2020 GMT"}
        }});
    }
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/orders", "rawQueryString": "",
        "headers": headers, "requestContext": context, "isBase64Encoded": false
    })
}

fn alb(headers: Value) -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/certgate/0123456789abcdef"}},
        "httpMethod": "GET", "path": "/orders", "queryStringParameters": {},
        "headers": headers, "body": "", "isBase64Encoded": false
    })
}

fn multi(headers: &Value) -> Value {
    let map = headers.as_object().unwrap();
    Value::Object(map.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
}

fn run(event: &Value, config: &GatewayConfig) -> (EventKind, GatewayRequest) {
    let event = parse_event(&event.to_string()).unwrap();
    to_gateway_request(event, config, &PresentedChains::new(16, 16))
}

fn thumbprint(request: &GatewayRequest) -> Option<String> {
    request
        .certificate
        .leaf()
        .map(|c| c.thumbprint().to_owned())
}

/// ALB's encoding: percent-encoded PEM with `+`, `=` and `/` left as they are.
fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

#[test]
fn rest_v1_reads_identity_client_cert_and_decodes_the_body() {
    let (client, _) = common::pki::client_and_ca();
    let expected = certgate::cert::Certificate::from_der(&client.der).unwrap();
    let event = rest_v1(Some(&client.pem), json!({"host": "api.contoso.com"}));
    let (kind, request) = run(&event, &config("apigateway", ""));
    assert_eq!(kind, EventKind::RestV1);
    assert_eq!(thumbprint(&request).as_deref(), Some(expected.thumbprint()));
    assert_eq!(request.body.as_whole().map(|b| &b[..]), Some(&b"hello"[..]));
    assert_eq!(request.client_ip, Some("198.51.100.7".parse().unwrap()));
    assert_eq!(&*request.request_id, "rest-request-id");
    assert_eq!(request.parts.method, "POST");
    // The stage (`/prod`) that lambda_http puts in front is not part of the path.
    assert_eq!(request.parts.uri.path(), "/orders/42");
    assert_eq!(request.parts.uri.query(), Some("a=1&a=2"));
    assert!(request.ignored_certificate_sources.is_empty());
}

#[test]
fn a_context_pem_is_found_again_by_its_json_literal_and_unescaped_when_new() {
    let (client, _) = common::pki::client_and_ca();
    let config = config("apigateway", "");
    let chains = PresentedChains::new(16, 16);
    let plain = rest_v1(Some(&client.pem), json!({"host": "api.contoso.com"})).to_string();
    // The same event with every `/` and `+` written as a JSON `\u` escape, those of the
    // PEM's base64 among them.
    let escaped = plain.replace('/', r"\u002F").replace('+', r"\u002b");
    assert_ne!(plain, escaped);
    let mut thumbprints = Vec::new();
    for json in [&plain, &escaped, &plain, &escaped] {
        let event = parse_event(json).unwrap();
        let (_, request) = to_gateway_request(event, &config, &chains);
        thumbprints.push(thumbprint(&request).expect("a certificate"));
    }
    let expected = certgate::cert::Certificate::from_der(&client.der).unwrap();
    assert!(thumbprints.iter().all(|t| t == expected.thumbprint()));
    // One chain per spelling: the second request of each was found by its literal.
    assert_eq!(chains.len(), 2);

    // A `clientCertPem` that is no string is no event this function serves.
    let mut odd = rest_v1(Some(&client.pem), json!({"host": "api.contoso.com"}));
    for value in [json!(5), json!({"pem": "x"}), json!(["x"]), json!(true)] {
        odd["requestContext"]["identity"]["clientCert"]["clientCertPem"] = value;
        let error = parse_event(&odd.to_string()).unwrap_err();
        assert!(
            matches!(&error, EventError::Unrecognised(why) if why.contains("expected a string")),
            "{error}"
        );
    }
    // `null` reads as absent.
    odd["requestContext"]["identity"]["clientCert"]["clientCertPem"] = Value::Null;
    let (_, request) = run(&odd, &config);
    assert!(thumbprint(&request).is_none());
}

#[test]
fn http_v2_reads_authentication_client_cert() {
    let (client, _) = common::pki::client_and_ca();
    let event = http_v2(Some(&client.pem), json!({"host": "api.contoso.com"}));
    let (kind, request) = run(&event, &config("apigateway", ""));
    assert_eq!(kind, EventKind::HttpV2);
    assert!(thumbprint(&request).is_some());
    assert_eq!(request.client_ip, Some("203.0.113.9".parse().unwrap()));
    assert_eq!(&*request.request_id, "v2-request-id");
}

#[test]
fn api_gateway_source_ignores_and_strips_certificate_headers_a_client_sent() {
    let (client, _) = common::pki::client_and_ca();
    let spoof = json!({
        "host": "api.contoso.com",
        "x-amzn-mtls-clientcert": certgate::frontend::forwarded::alb_encode(&client.pem),
        "client-cert": format!(":{}:", b64(&client.der)),
        "x-forwarded-client-cert": "Hash=abc;Cert=\"x\"",
    });
    let (_, request) = run(&http_v2(None, spoof), &config("apigateway", ""));
    assert!(matches!(request.certificate, ClientCertificate::Absent));
    assert_eq!(
        request.ignored_certificate_sources,
        [
            "x-amzn-mtls-clientcert",
            "x-forwarded-client-cert",
            "client-cert"
        ]
    );
    for name in [
        "x-amzn-mtls-clientcert",
        "client-cert",
        "x-forwarded-client-cert",
    ] {
        assert!(
            !request.parts.headers.contains_key(name),
            "{name} reached the core"
        );
    }
    assert_eq!(request.parts.headers["host"], "api.contoso.com");
}

#[test]
fn alb_passthrough_chain_is_decoded_leaf_first_with_plus_kept() {
    let (client, ca) = common::pki::client_and_ca();
    let chain = format!("{}{}", client.pem, ca.pem);
    assert!(
        chain.contains('+') || chain.contains('/'),
        "the test wants base64 specials"
    );
    let headers = json!({
        "host": "api.contoso.com",
        "x-amzn-mtls-clientcert": certgate::frontend::forwarded::alb_encode(&chain),
        "x-forwarded-for": "10.9.9.9, 192.0.2.44"
    });
    let (kind, request) = run(&alb(headers), &config("alb", ""));
    assert_eq!(kind, EventKind::Alb);
    let ClientCertificate::Presented(chain) = &request.certificate else {
        panic!("expected a certificate, got {:?}", request.certificate);
    };
    assert_eq!(chain.len(), 2);
    assert_eq!(
        chain.intermediates[0].subject(),
        "CN=Contoso Test Root, O=Contoso, C=US"
    );
    assert_eq!(request.client_ip, Some("192.0.2.44".parse().unwrap()));
    assert!(!request.parts.headers.contains_key("x-amzn-mtls-clientcert"));
}

#[test]
fn alb_verify_mode_leaf_header_and_a_renamed_header_work() {
    let (client, _) = common::pki::client_and_ca();
    let leaf = json!({"x-amzn-mtls-clientcert-leaf": certgate::frontend::forwarded::alb_encode(&client.pem)});
    let (_, request) = run(&alb(leaf), &config("alb", ""));
    assert!(thumbprint(&request).is_some());

    let renamed = json!({"x-client-chain": certgate::frontend::forwarded::alb_encode(&client.pem)});
    let cfg = config("alb", "alb_header = \"X-Client-Chain\"\n");
    let (_, request) = run(&alb(renamed), &cfg);
    assert!(thumbprint(&request).is_some());
    assert!(!request.parts.headers.contains_key("x-client-chain"));
}

#[test]
fn a_renamed_alb_header_with_underscores_is_read_and_its_dashed_spelling_removed() {
    let (client, _) = common::pki::client_and_ca();
    let expected = certgate::cert::Certificate::from_der(&client.der).unwrap();
    let headers = json!({
        "x_client_chain": certgate::frontend::forwarded::alb_encode(&client.pem),
        "x-client-chain": "forged",
    });
    let cfg = config("alb", "alb_header = \"x_client_chain\"\n");
    let (_, request) = run(&alb(headers), &cfg);
    // The one the deployment named is read; the other spelling, which a CGI backend
    // reads as the same header, is a client's and is removed.
    assert_eq!(thumbprint(&request).as_deref(), Some(expected.thumbprint()));
    assert!(!request.parts.headers.contains_key("x_client_chain"));
    assert!(!request.parts.headers.contains_key("x-client-chain"));
}

#[test]
fn alb_source_does_not_believe_an_api_gateway_context_certificate() {
    let (client, _) = common::pki::client_and_ca();
    let (_, request) = run(&http_v2(Some(&client.pem), json!({})), &config("alb", ""));
    assert!(matches!(request.certificate, ClientCertificate::Absent));
    assert_eq!(
        request.ignored_certificate_sources,
        ["requestContext.clientCert"]
    );
}

#[test]
fn alb_source_does_not_believe_alb_headers_in_an_api_gateway_event() {
    // A client of an API Gateway (or of a function URL) can set the ALB's header itself.
    let (client, _) = common::pki::client_and_ca();
    let spoof = json!({
        "host": "api.contoso.com",
        "x-amzn-mtls-clientcert": certgate::frontend::forwarded::alb_encode(&client.pem),
        "x-amzn-mtls-clientcert-leaf": certgate::frontend::forwarded::alb_encode(&client.pem),
    });
    for event in [rest_v1(None, spoof.clone()), http_v2(None, spoof.clone())] {
        let (kind, request) = run(&event, &config("alb", ""));
        assert!(
            matches!(request.certificate, ClientCertificate::Absent),
            "{kind:?}: {:?}",
            request.certificate
        );
        assert_eq!(
            request.ignored_certificate_sources,
            ["x-amzn-mtls-clientcert", "x-amzn-mtls-clientcert-leaf"],
            "{kind:?}"
        );
        assert!(!request.parts.headers.contains_key("x-amzn-mtls-clientcert"));
    }
    // The same header in an ALB event is the deployment's source.
    let one = json!({
        "host": "api.contoso.com",
        "x-amzn-mtls-clientcert-leaf": certgate::frontend::forwarded::alb_encode(&client.pem),
    });
    let (_, request) = run(&alb(one), &config("alb", ""));
    assert!(thumbprint(&request).is_some());
    assert!(request.ignored_certificate_sources.is_empty());
}

/// An ALB event with multi-value headers (the target group's setting).
fn alb_multi(headers: Value) -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/certgate/0123456789abcdef"}},
        "httpMethod": "GET", "path": "/orders", "multiValueQueryStringParameters": {},
        "multiValueHeaders": headers, "body": "", "isBase64Encoded": false
    })
}

fn conflicting(request: &GatewayRequest) -> &str {
    match &request.certificate {
        ClientCertificate::Conflicting(why) => why,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn a_carrier_the_front_end_sets_once_that_comes_twice_is_a_conflict() {
    // The ALB sets one of its two headers; the other came from the client, who then
    // passes with any accepted certificate as whichever one a policy reads.
    let (client, _) = common::pki::client_and_ca();
    let (other, _) = common::pki::client_and_ca();
    let (good, forged) = (
        certgate::frontend::forwarded::alb_encode(&client.pem),
        certgate::frontend::forwarded::alb_encode(&other.pem),
    );
    let both = json!({
        "host": "api.contoso.com",
        "x-amzn-mtls-clientcert": good,
        "x-amzn-mtls-clientcert-leaf": forged,
    });
    let (_, request) = run(&alb(both), &config("alb", ""));
    assert!(
        conflicting(&request)
            .contains("both x-amzn-mtls-clientcert and x-amzn-mtls-clientcert-leaf")
    );

    let repeated = json!({"host": ["api.contoso.com"], "x-amzn-mtls-clientcert": [forged, good]});
    let (_, request) = run(&alb_multi(repeated), &config("alb", ""));
    assert!(conflicting(&request).contains("2 x-amzn-mtls-clientcert headers"));

    let cert = format!(":{}:", b64(&client.der));
    let twice = json!({"host": "api.contoso.com"});
    let mut event = rest_v1(None, twice);
    // as API Gateway writes a repeated header: its last value in `headers` too
    event["headers"]["client-cert"] = json!(cert);
    event["multiValueHeaders"]["client-cert"] = json!([cert, cert]);
    let (_, request) = run(&event, &config("rfc9440", ""));
    assert!(conflicting(&request).contains("2 client-cert headers"));
}

#[test]
fn repeated_xff_and_xfcc_headers_give_the_nearest_proxys_value() {
    // A client's own header line comes first; the ALB (or Envoy) appends to the last.
    let (client, _) = common::pki::client_and_ca();
    let (forged, _) = common::pki::client_and_ca();
    let xfcc = |pem: &str| {
        format!(
            "Cert=\"{}\"",
            certgate::frontend::forwarded::alb_encode(pem)
        )
    };
    let headers = json!({
        "host": ["api.contoso.com"],
        "x-forwarded-for": ["192.0.2.66", "203.0.113.5, 198.51.100.1"],
        "x-forwarded-client-cert": [xfcc(&forged.pem), format!("By=spiffe://a;{}", xfcc(&client.pem))],
    });
    let (_, request) = run(&alb_multi(headers), &config("xfcc", ""));
    assert_eq!(request.client_ip, Some("198.51.100.1".parse().unwrap()));
    let expected = certgate::cert::Certificate::from_der(&client.der).unwrap();
    assert_eq!(thumbprint(&request).as_deref(), Some(expected.thumbprint()));
}

#[test]
fn certificate_headers_spelled_with_underscores_are_removed() {
    // CGI and WSGI backends read `x_amzn_mtls_clientcert` as `X-Amzn-Mtls-Clientcert`.
    let (client, _) = common::pki::client_and_ca();
    let headers = json!({
        "host": "api.contoso.com",
        "x_amzn_mtls_clientcert": certgate::frontend::forwarded::alb_encode(&client.pem),
        "client_cert": ":AAAA:",
    });
    let (_, request) = run(&alb(headers), &config("apigateway", ""));
    assert!(matches!(request.certificate, ClientCertificate::Absent));
    assert!(!request.parts.headers.contains_key("x_amzn_mtls_clientcert"));
    assert!(!request.parts.headers.contains_key("client_cert"));
    assert_eq!(
        request.ignored_certificate_sources,
        ["x-amzn-mtls-clientcert", "client-cert"]
    );
}

#[test]
fn every_event_shape_carries_the_path_the_client_sent() {
    // lambda_http puts a named stage in front (`/Prod/orders/1`) and resolves dot
    // segments; the gateway must see what the client sent, and normalize it itself.
    let mut v2 = http_v2(None, json!({"host": "api.contoso.com"}));
    v2["rawPath"] = json!("/orders/1");
    v2["requestContext"]["stage"] = json!("Prod");
    let (_, request) = run(&v2, &config("apigateway", ""));
    assert_eq!(request.parts.uri.path(), "/orders/1");
    // HTTP APIs hand the path on decoded: a space must still make a URI.
    v2["rawPath"] = json!("/orders/a b");
    let (_, request) = run(&v2, &config("apigateway", ""));
    assert_eq!(request.parts.uri.path(), "/orders/a%20b");
    assert_eq!(request.parts.uri.scheme_str(), Some("https"));

    let mut event = alb(json!({"host": "api.contoso.com", "x-forwarded-proto": "http"}));
    event["path"] = json!("/public/%2e%2e/admin");
    let (_, request) = run(&event, &config("alb", ""));
    assert_eq!(request.parts.uri.path(), "/public/%2e%2e/admin");
    assert_eq!(
        request.parts.uri.scheme_str(),
        Some("https"),
        "from the connection"
    );
}

#[test]
fn rfc9440_and_xfcc_sources_decode_their_headers() {
    let (client, ca) = common::pki::client_and_ca();
    let headers = json!({
        "client-cert": format!(":{}:", b64(&client.der)),
        "client-cert-chain": format!(":{}:", b64(&ca.der)),
    });
    let (_, request) = run(&alb(headers), &config("rfc9440", ""));
    let ClientCertificate::Presented(chain) = &request.certificate else {
        panic!("expected a certificate, got {:?}", request.certificate);
    };
    assert_eq!(chain.len(), 2);

    let encoded = certgate::frontend::forwarded::alb_encode(&client.pem)
        .replace('+', "%2B")
        .replace('=', "%3D");
    let xfcc = format!("By=spiffe://x;Hash=aa;Cert=\"junk\",By=spiffe://y;Cert=\"{encoded}\"");
    let (_, request) = run(
        &alb(json!({"x-forwarded-client-cert": xfcc})),
        &config("xfcc", ""),
    );
    assert!(thumbprint(&request).is_some(), "{:?}", request.certificate);
}

#[test]
fn garbage_from_the_trusted_source_is_undecodable_not_a_certificate() {
    let headers = json!({"x-amzn-mtls-clientcert": "-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----"});
    let (_, request) = run(&alb(headers), &config("alb", ""));
    let ClientCertificate::Undecodable(why) = &request.certificate else {
        panic!("expected undecodable, got {:?}", request.certificate);
    };
    assert!(why.starts_with("x-amzn-mtls-clientcert: "), "{why}");
    let (_, request) = run(
        &alb(json!({"client-cert": "nonsense"})),
        &config("rfc9440", ""),
    );
    assert!(matches!(
        request.certificate,
        ClientCertificate::Undecodable(_)
    ));
}

#[test]
fn a_hostname_that_does_not_request_certificates_sees_none() {
    let (client, _) = common::pki::client_and_ca();
    let cfg = config(
        "apigateway",
        "[[hostnames]]\nname = \"api.contoso.com\"\nrequest_client_certificate = false\n",
    );
    let event = http_v2(Some(&client.pem), json!({"host": "api.contoso.com"}));
    let (_, request) = run(&event, &cfg);
    assert!(matches!(request.certificate, ClientCertificate::Absent));
    let event = http_v2(Some(&client.pem), json!({"host": "other.contoso.com"}));
    let (_, request) = run(&event, &cfg);
    assert!(thumbprint(&request).is_some());
}

#[test]
fn a_one_megabyte_certificate_header_is_refused_quickly() {
    let huge = "A".repeat(1024 * 1024);
    let (_, request) = run(
        &alb(json!({"x-amzn-mtls-clientcert": huge})),
        &config("alb", ""),
    );
    assert!(matches!(
        request.certificate,
        ClientCertificate::Undecodable(_)
    ));
}

#[test]
fn a_malformed_host_is_an_error_not_a_panic() {
    for host in ["bad host with spaces", "api.contoso.com:99999"] {
        let event = alb(json!({ "host": host }));
        let err = parse_event(&event.to_string()).unwrap_err();
        // Still an ALB event, so the answer can be a 400 in its shape.
        assert_eq!(err, EventError::BadUrl(EventKind::Alb), "{host}");
    }
}

/// The three shapes with `headers[name] = value` (and `multiValueHeaders` where the
/// shape has them).
fn with_header(name: &str, value: &str) -> [(EventKind, Value); 3] {
    let headers = json!({"host": "api.contoso.com", name: value});
    [
        (EventKind::RestV1, rest_v1(None, headers.clone())),
        (EventKind::HttpV2, http_v2(None, headers.clone())),
        (EventKind::Alb, alb(headers)),
    ]
}

/// API Gateway passes a control character in a header value on; lambda_http then reads
/// no event at all. It is still a request of its shape, with a bad header.
#[test]
fn a_header_that_is_not_http_is_a_bad_header_in_its_shape() {
    for (name, value) in [
        ("x-note", "a\u{1}b"),
        ("x-note", "line\nbreak"),
        ("bad name", "v"),
    ] {
        for (kind, event) in with_header(name, value) {
            let err = parse_event(&event.to_string()).unwrap_err();
            assert_eq!(err, EventError::BadHeader(kind), "{name:?}: {value:?}");
        }
    }
    // Only in `multiValueHeaders` (REST, ALB with multi-value headers on).
    let mut event = rest_v1(None, json!({"host": "api.contoso.com"}));
    event["multiValueHeaders"]["x-note"] = json!(["ok", "a\u{7f}b"]);
    let err = parse_event(&event.to_string()).unwrap_err();
    assert_eq!(err, EventError::BadHeader(EventKind::RestV1));
    // Tabs and non-ASCII text are HTTP.
    for (kind, event) in with_header("x-note", "tab\there, caf\u{e9}") {
        assert_eq!(run(&event, &config("apigateway", "")).0, kind);
    }
}

/// Events with a request's fields that are no request, from AWS's own fixtures (the
/// `aws_lambda_events` crate, changed to carry the sample deployment's host, path and
/// certificate: see `tests/data/lambda/README.md`).
#[test]
fn authorizers_and_websocket_events_are_not_requests() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lambda/");
    for file in [
        "rest-request-authorizer.json",
        "http-api-request-authorizer-v1.json",
        "http-api-request-authorizer-v2.json",
    ] {
        let event = std::fs::read_to_string(format!("{data}{file}")).unwrap();
        assert_eq!(
            parse_event(&event).unwrap_err(),
            EventError::Authorizer,
            "{file}"
        );
        // Also with a header that would make a request a 400.
        let mut edited: Value = serde_json::from_str(&event).unwrap();
        edited["headers"]["x-note"] = "a\u{1}b".into();
        let err = parse_event(&edited.to_string()).unwrap_err();
        assert_eq!(err, EventError::Authorizer, "{file}");
    }
    let event = std::fs::read_to_string(format!("{data}websocket-connect.json")).unwrap();
    let err = parse_event(&event).unwrap_err();
    assert_eq!(err, EventError::WebSocket("$connect".to_owned()));
    assert!(
        err.to_string().contains("WebSocket event (route $connect)"),
        "{err}"
    );
    // A WebSocket event whose Host is no host is still no request (not a 400).
    let mut edited: Value = serde_json::from_str(&event).unwrap();
    edited["headers"]["Host"] = "api.contoso.com:99999".into();
    edited["multiValueHeaders"]["Host"] = json!(["api.contoso.com:99999"]);
    let err = parse_event(&edited.to_string()).unwrap_err();
    assert!(matches!(err, EventError::WebSocket(_)), "{err}");
}

#[test]
fn events_of_other_services_are_rejected_with_a_hint() {
    let err = parse_event(r#"{"Records": []}"#).unwrap_err();
    assert!(err.to_string().contains("see events/ for samples"), "{err}");
}

/// certgate reads events with its own types; lambda_http, which still runs the function,
/// must make the same request of every event certgate serves: method, headers, host,
/// query and body (the path is the event's own, see above).
fn assert_reads_as_lambda_http(json: &str) {
    let theirs = lambda_http::request::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let (_, ours) = to_gateway_request(
        parse_event(json).unwrap(),
        &config("apigateway", ""),
        &PresentedChains::new(16, 16),
    );
    let (mut parts, body) = theirs.into_parts();
    certgate::frontend::forwarded::CertificateHeaders::take(
        &mut parts.headers,
        &["x-amzn-mtls-clientcert", "x-amzn-mtls-clientcert-leaf"],
    );
    assert_eq!(ours.parts.method, parts.method, "{json}");
    assert_eq!(ours.parts.headers, parts.headers, "{json}");
    assert_eq!(ours.parts.uri.authority(), parts.uri.authority(), "{json}");
    assert_eq!(ours.parts.uri.query(), parts.uri.query(), "{json}");
    assert_eq!(
        ours.body.as_whole().map(|b| &b[..]),
        Some(body.as_ref()),
        "{json}"
    );
}

#[test]
fn every_sample_event_reads_as_lambda_http_reads_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files = Vec::new();
    for dir in [
        "events/rest",
        "events/http-api",
        "events/alb",
        "events/migration",
    ] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.push(format!("{root}/tests/data/lambda/alb-health-check.json").into());
    assert!(files.len() > 25, "{files:?}");
    for file in files {
        assert_reads_as_lambda_http(&std::fs::read_to_string(&file).unwrap());
    }
}

#[test]
fn events_with_queries_cookies_encoded_bodies_and_escapes_read_as_lambda_http_reads_them() {
    let host =
        json!({"Host": "API.Contoso.com:443", "X-Note": "a, b", "x-forwarded-proto": "https"});
    // One parameter per event: lambda_http orders several by a hash map.
    let mut rest = rest_v1(None, host.clone());
    rest["multiValueQueryStringParameters"] = json!({"q": ["a b", "c&d=é+/"]});
    assert_reads_as_lambda_http(&rest.to_string());
    rest["multiValueQueryStringParameters"] = Value::Null;
    rest["queryStringParameters"] = json!({"only": "x y"});
    rest["isBase64Encoded"] = json!(false);
    rest["body"] = json!("plain \u{e9}");
    assert_reads_as_lambda_http(&rest.to_string());
    // A repeated header: API Gateway puts its last value in `headers` and all of them in
    // `multiValueHeaders`; certgate keeps them all (lambda_http kept only `headers`').
    rest["headers"]["X-Note"] = json!("second");
    rest["multiValueHeaders"]["X-Note"] = json!(["first", "second"]);
    rest["multiValueHeaders"]["x-only-multi"] = json!(["1", "2"]);
    let (_, request) = run(&rest, &config("apigateway", ""));
    let values = |name: &str| -> Vec<&str> {
        let all = request.parts.headers.get_all(name);
        all.iter().map(|v| v.to_str().unwrap()).collect()
    };
    assert_eq!(values("x-note"), ["first", "second"]);
    assert_eq!(values("x-only-multi"), ["1", "2"]);

    let mut v2 = http_v2(None, host.clone());
    v2["rawQueryString"] = json!("a=1&b=%20&a=2");
    v2["cookies"] = json!(["s=1", "t=2"]);
    v2["body"] = json!("aGVsbG8=");
    v2["isBase64Encoded"] = json!(true);
    assert_reads_as_lambda_http(&v2.to_string());

    let mut alb_event = alb(json!({"host": "api.contoso.com", "x-forwarded-for": "192.0.2.1"}));
    alb_event["queryStringParameters"] = json!({"q": "a%20b+c%2Bd%26e"});
    assert_reads_as_lambda_http(&alb_event.to_string());
    alb_event["queryStringParameters"] = json!({"%71": "%FF"});
    assert_reads_as_lambda_http(&alb_event.to_string());

    // JSON escapes (`\u002F` for `/`) anywhere certgate reads a string.
    let escaped = r#"{"requestContext": {"elb": {}}, "httpMethod": "G\u0045T",
        "path": "\u002Forders", "headers": {"ho\u0073t": "api.contoso.com", "x-a": "1\u002F2"},
        "queryStringParameters": {"k\u0065y": "v\u0061l"}, "body": "\u0062ody"}"#;
    assert_reads_as_lambda_http(escaped);
    let (_, request) = run(&serde_json::from_str(escaped).unwrap(), &config("alb", ""));
    assert_eq!(request.parts.method, "GET");
    assert_eq!(request.parts.uri.path(), "/orders");
    assert_eq!(request.parts.headers["x-a"], "1/2");
}

/// An ALB with multi-value headers on sends `multiValueHeaders` only: the host is read
/// from there (lambda_http read it from `headers` alone, so such a request had no host
/// and the gateway answered 400).
#[test]
fn an_alb_event_with_multi_value_headers_has_its_host_and_all_its_values() {
    let headers = json!({"host": ["API.contoso.com"], "x-note": ["a", "b"], "x-forwarded-for": ["192.0.2.9"]});
    let mut event = alb_multi(headers);
    event["multiValueQueryStringParameters"] = json!({"q": ["1", "2"]});
    let (kind, request) = run(&event, &config("alb", ""));
    assert_eq!(kind, EventKind::Alb);
    assert_eq!(
        request.parts.uri.authority().map(|a| a.as_str()),
        Some("api.contoso.com")
    );
    assert_eq!(request.parts.uri.query(), Some("q=1&q=2"));
    let notes: Vec<_> = request.parts.headers.get_all("x-note").iter().collect();
    assert_eq!(notes, ["a", "b"]);
    assert_eq!(request.client_ip, Some("192.0.2.9".parse().unwrap()));
    let theirs = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(theirs.uri().authority(), None, "lambda_http found no host");
}

#[test]
fn malformed_events_are_refused_in_their_shape_or_unrecognised() {
    // A body marked base64 that is not.
    let mut event = rest_v1(None, json!({"host": "api.contoso.com"}));
    event["body"] = json!("not base64!");
    let err = parse_event(&event.to_string()).unwrap_err();
    assert_eq!(err, EventError::BadBody(EventKind::RestV1));
    // A path that is not absolute would end up in the host.
    let mut event = alb(json!({"host": "api.contoso.com"}));
    event["path"] = json!("@evil.example/orders");
    let err = parse_event(&event.to_string()).unwrap_err();
    assert_eq!(err, EventError::BadUrl(EventKind::Alb));
    // A query an HTTP API passes on that is no URI query.
    let mut event = http_v2(None, json!({"host": "api.contoso.com"}));
    event["rawQueryString"] = json!("a=\u{1}");
    let err = parse_event(&event.to_string()).unwrap_err();
    assert_eq!(err, EventError::BadUrl(EventKind::HttpV2));
    // A field certgate reads, with another JSON type; a method that is no method; no JSON.
    for bad in [
        json!({"httpMethod": "GET", "requestContext": {"elb": {}}, "headers": {"a": 1}}),
        json!({"httpMethod": "GET", "requestContext": {"elb": {}}, "headers": {"a": null}}),
        json!({"httpMethod": "GET", "requestContext": {"elb": {}}, "path": 7}),
        json!({"httpMethod": "G T", "requestContext": {"elb": {}}}),
        json!({"requestContext": {"http": {"method": "G(T"}}}),
        json!({"httpMethod": "GET", "requestContext": null}),
        json!([1, 2]),
    ] {
        let err = parse_event(&bad.to_string()).unwrap_err();
        assert!(matches!(err, EventError::Unrecognised(_)), "{bad}: {err:?}");
    }
    for text in ["", "{", "{\"httpMethod\": \"GET\"", "\u{0}"] {
        let err = parse_event(text).unwrap_err();
        assert!(
            matches!(err, EventError::Unrecognised(_)),
            "{text:?}: {err:?}"
        );
    }
    // Headers and parameters read as absent when null, as lambda_http reads them.
    let event = json!({"httpMethod": "", "requestContext": {"elb": {}}, "headers": null,
        "multiValueHeaders": null, "queryStringParameters": null, "body": null});
    let (_, request) = run(&event, &config("alb", ""));
    assert_eq!(request.parts.method, "GET");
    assert!(request.parts.headers.is_empty());
    assert_eq!(request.parts.uri.query(), None);
}
