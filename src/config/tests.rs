use super::*;

const FULL: &str = r#"
[deployment]
service_name = "contoso"
region = "eu-west-1"
certificate_source = "alb"
policy = "policies/global.xml"

[[hostnames]]
name = "api.contoso.com"
request_client_certificate = true
require_client_certificate = false
tls_certificate = "tls/api.pem"
tls_key = "tls/api.key"

[[hostnames]]
name = "public.contoso.com"
request_client_certificate = false

[[apis]]
name = "orders"
path = "/orders/"
backend = "https://orders.internal"
policy = "policies/orders.xml"
forward_client_certificate = "rfc9440"

[[apis.operations]]
name = "get-order"
method = "GET"
url_template = "/{id}"
policy = "policies/orders-get.xml"
"#;

#[test]
fn the_design_example_parses_into_validated_settings() {
    let config = GatewayConfig::parse(FULL).unwrap();
    assert_eq!(config.deployment.service_name, "contoso");
    assert_eq!(config.deployment.region, "eu-west-1");
    assert_eq!(config.deployment.certificate_source, CertificateSource::Alb);
    assert_eq!(
        config.deployment.alb_header.chain(),
        "x-amzn-mtls-clientcert"
    );
    assert_eq!(
        config.deployment.alb_header.leaf(),
        "x-amzn-mtls-clientcert-leaf"
    );
    let api = &config.apis[0];
    assert_eq!(api.path, "/orders");
    assert_eq!(api.backend, "https://orders.internal/");
    assert_eq!(
        api.forward_client_certificate,
        Some(ForwardCertificate::Rfc9440)
    );
    let op = &api.operations[0];
    assert_eq!(op.method, http::Method::GET);
    assert_eq!(op.url_template.matches("/42"), Some(vec![("id", "42")]));
    assert_eq!(
        config.policy_files().collect::<Vec<_>>(),
        [
            "policies/global.xml",
            "policies/orders.xml",
            "policies/orders-get.xml"
        ]
    );
}

#[test]
fn an_empty_file_is_a_deployment_with_apim_defaults() {
    let config = GatewayConfig::parse("").unwrap();
    assert_eq!(
        config.deployment.certificate_source,
        CertificateSource::Apigateway
    );
    assert!(config.apis.is_empty());
    assert!(config.requests_client_certificate("anything.example"));
}

#[test]
fn hostnames_match_without_port_or_case_and_fall_back_to_star() {
    let mut text = FULL.to_owned();
    text.push_str("\n[[hostnames]]\nname = \"*\"\nrequest_client_certificate = false\n");
    let config = GatewayConfig::parse(&text).unwrap();
    assert!(config.requests_client_certificate("API.contoso.com:443"));
    assert!(!config.requests_client_certificate("public.contoso.com"));
    assert!(!config.requests_client_certificate("other.example"));
    assert_eq!(
        config.hostname("[::1]:8443").map(|h| h.name.as_str()),
        Some("*")
    );
}

#[test]
fn unknown_keys_are_errors_with_their_position() {
    let err = GatewayConfig::parse("[deployment]\nservice_nam = \"x\"\n").unwrap_err();
    let ConfigError::Syntax {
        line,
        column,
        message,
    } = err
    else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!((line, column), (2, 1));
    assert!(message.contains("unknown field `service_nam`"), "{message}");
}

#[test]
fn an_unknown_certificate_source_is_rejected() {
    let err = GatewayConfig::parse("[deployment]\ncertificate_source = \"header\"\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("gateway.toml:2:22: unknown variant `header`"),
        "{err}"
    );
}

#[test]
fn invalid_values_name_the_key_and_the_fix() {
    let cases = [
        (
            "[[apis]]\nname = \"a\"\npath = \"orders\"\nbackend = \"https://x\"\n",
            "gateway.toml: apis[0].path: `orders` is not a path prefix; write e.g. `/orders` (or `/` for the root)",
        ),
        (
            "[[apis]]\nname = \"a\"\npath = \"/a\"\nbackend = \"ftp://x\"\n",
            "gateway.toml: apis[0].backend: `ftp://x` is not an absolute http:// or https:// URL",
        ),
        (
            "[[apis]]\nname = \"a\"\npath = \"/a\"\nbackend = \"http://x\"\n[[apis]]\nname = \"a\"\npath = \"/b\"\nbackend = \"http://x\"\n",
            "gateway.toml: apis[1].name: API names must be unique and not empty; `a` is not",
        ),
        (
            "[[apis]]\nname = \"a\"\npath = \"/a/\"\nbackend = \"http://x\"\n[[apis]]\nname = \"b\"\npath = \"/a\"\nbackend = \"http://x\"\n",
            "gateway.toml: apis[1].path: another API already uses the path `/a`",
        ),
        (
            "[[apis]]\nname = \"a\"\npath = \"/a\"\nbackend = \"http://x\"\n[[apis.operations]]\nname = \"o\"\nmethod = \"get\"\nurl_template = \"/\"\n",
            "gateway.toml: apis[0].operations[0].method: `get` is not an HTTP method; write e.g. `GET`",
        ),
        (
            "[[apis]]\nname = \"a\"\npath = \"/a\"\nbackend = \"http://x\"\n[[apis.operations]]\nname = \"o\"\nmethod = \"GET\"\nurl_template = \"/{x\"\n",
            "gateway.toml: apis[0].operations[0].url_template: segment `{x` mixes text and a parameter; a parameter fills a whole segment",
        ),
        (
            "[[hostnames]]\nname = \"a\"\nrequest_client_certificate = false\nrequire_client_certificate = true\n",
            "gateway.toml: hostnames[0].require_client_certificate: a certificate cannot be required when request_client_certificate = false",
        ),
        (
            "[[hostnames]]\nname = \"a\"\ntls_key = \"k.pem\"\n",
            "gateway.toml: hostnames[0]: tls_certificate and tls_key go together: set both or neither",
        ),
        (
            "[[hostnames]]\nname = \"a\"\n[[hostnames]]\nname = \"A\"\n",
            "gateway.toml: hostnames[1].name: `A` is listed twice",
        ),
        (
            "[deployment]\nalb_header = \"bad header\"\n",
            "gateway.toml: deployment.alb_header: `bad header` is not a valid header name",
        ),
    ];
    for (text, expected) in cases {
        let err = GatewayConfig::parse(text).unwrap_err();
        assert_eq!(err.to_string(), expected, "for:\n{text}");
    }
}

#[test]
fn the_root_api_has_an_empty_prefix() {
    let config = GatewayConfig::parse(
        "[[apis]]\nname = \"root\"\npath = \"/\"\nbackend = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    assert_eq!(config.apis[0].path, "");
}
