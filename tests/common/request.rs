//! A `GatewayRequest` as a front end hands it to the core, for tests that call
//! `gateway::handle` directly.

use certgate::body::Payload;
use certgate::gateway::{ClientCertificate, GatewayRequest, Outcome};

/// `method url` with `headers` (and `Host` from the URL), an empty body, the client at
/// 198.51.100.7, and `certificate` as the front end delivered it.
pub fn gateway_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    certificate: ClientCertificate,
) -> GatewayRequest {
    let uri: http::Uri = url.parse().expect("a test URL");
    let host = uri.authority().expect("an absolute test URL").to_string();
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    GatewayRequest {
        parts,
        body: Payload::from(Vec::new()),
        stream_response: false,
        client_ip: Some("198.51.100.7".parse().unwrap()),
        certificate,
        ignored_certificate_sources: vec![],
        request_id: "req-1".into(),
    }
}

/// The response header `name` of `outcome`; panics, listing the headers, without it.
pub fn header<'o>(outcome: &'o Outcome, name: &str) -> &'o str {
    outcome
        .response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {:?}", outcome.response.headers))
}
