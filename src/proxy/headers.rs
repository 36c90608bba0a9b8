//! Header hygiene between the client, certgate and the backend.

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// Headers that describe one connection, never the message (RFC 9110 §7.6.1);
/// [`is_hop_by_hop`] adds `Keep-Alive` (RFC 2616) and old clients' `Proxy-Connection`.
/// Compared as `HeaderName`s, where a standard header's name compares as one byte: as
/// text, every header of every message compared with each cost more.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that carry a client certificate (or facts about one) in some front end.
pub const CERTIFICATE_HEADERS: &[&str] = &[
    // ALB mTLS, passthrough and verify modes.
    "x-amzn-mtls-clientcert",
    "x-amzn-mtls-clientcert-leaf",
    "x-amzn-mtls-clientcert-serial-number",
    "x-amzn-mtls-clientcert-issuer",
    "x-amzn-mtls-clientcert-subject",
    "x-amzn-mtls-clientcert-validity",
    // Envoy.
    "x-forwarded-client-cert",
    // RFC 9440 (also CloudFront).
    "client-cert",
    "client-cert-chain",
    // CloudFront viewer mTLS.
    "cloudfront-viewer-cert-pem",
    "cloudfront-viewer-cert-present",
    "cloudfront-viewer-cert-serial-number",
    "cloudfront-viewer-cert-issuer",
    "cloudfront-viewer-cert-subject",
    "cloudfront-viewer-cert-sha256",
    "cloudfront-viewer-cert-validity",
    // Application Gateway and IIS conventions seen in APIM deployments.
    "x-arr-clientcert",
    "x-client-certificate",
    "x-ssl-client-cert",
];

/// Headers with the client's credentials: not sent on to an origin the client did not
/// address, nor downgraded to cleartext, when `follow-redirects` follows a redirect.
const CREDENTIALS: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
];

/// Removes the client's credentials and certificate headers (as `forward_client_certificate`
/// sets them) before a redirect to `next` leaves the origin of `from` or its TLS.
pub(super) fn strip_credentials_for(headers: &mut HeaderMap, from: &http::Uri, next: &http::Uri) {
    let same_origin = from.scheme() == next.scheme() && from.authority() == next.authority();
    let downgrade = from.scheme() == Some(&http::uri::Scheme::HTTPS)
        && next.scheme() != Some(&http::uri::Scheme::HTTPS);
    if same_origin && !downgrade {
        return;
    }
    for name in CREDENTIALS {
        headers.remove(name);
    }
    for name in CERTIFICATE_HEADERS {
        headers.remove(*name);
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none, and this runs on each one several times: one pass over
    // their names costs less than removing each of the nine.
    let mut found = headers.keys().filter(|name| is_hop_by_hop(name));
    let Some(first) = found.next() else {
        return;
    };
    // `Connection: keep-alive` alone, a client's usual header (certgate's own HTTP/1.1
    // backend client leaves a response's out as it reads it): the one header it names is
    // hop-by-hop itself and absent, so `Connection` is all there is to remove.
    if *first == header::CONNECTION
        && found.next().is_none()
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .all(|token| token.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
    {
        headers.remove(header::CONNECTION);
        return;
    }
    // One pass over the names finds those hop-by-hop by themselves and those
    // `Connection` lists (a backend's `Connection: keep-alive`, typically); looking
    // each listed name up, then scanning again after each removal, cost ten times more.
    let listed: Vec<&str> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            is_hop_by_hop(name)
                || listed
                    .iter()
                    .any(|listed| listed.eq_ignore_ascii_case(name.as_str()))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Whether `name` is hop-by-hop whatever `Connection` says (the names it lists count
/// only with a `Connection` header, itself one of these).
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || matches!(name.as_str(), "keep-alive" | "proxy-connection")
}

/// A header name as an HTTP/1.1 head spells it. The names most messages carry, in the
/// spellings clients and servers send (`Content-Length`, `content-length`), are matched
/// whole; any other goes through `HeaderName::from_bytes`, which lower-cases byte by
/// byte through a table and then looks the result up (about 150 instructions a name,
/// and a head has several).
///
/// # Errors
/// Not a valid header name.
pub(crate) fn wire_name(raw: &[u8]) -> Result<HeaderName, http::header::InvalidHeaderName> {
    Ok(match raw {
        b"Host" | b"host" => header::HOST,
        b"Date" | b"date" => header::DATE,
        b"Accept" | b"accept" => header::ACCEPT,
        b"Server" | b"server" => header::SERVER,
        b"Connection" | b"connection" => header::CONNECTION,
        b"User-Agent" | b"user-agent" => header::USER_AGENT,
        b"Keep-Alive" | b"keep-alive" => WIRE_KEEP_ALIVE,
        b"Content-Type" | b"content-type" => header::CONTENT_TYPE,
        b"Content-Length" | b"content-length" => header::CONTENT_LENGTH,
        b"Authorization" | b"authorization" => header::AUTHORIZATION,
        b"Cache-Control" | b"cache-control" => header::CACHE_CONTROL,
        b"Accept-Encoding" | b"accept-encoding" => header::ACCEPT_ENCODING,
        b"Transfer-Encoding" | b"transfer-encoding" => header::TRANSFER_ENCODING,
        _ => return HeaderName::from_bytes(raw),
    })
}

/// The length `headers` declare: every `Content-Length` element (values may be
/// comma-separated lists) the same number, else none (RFC 9112 §6.3: a recipient may
/// take a list of one repeated number, and must refuse anything else). Read by the
/// backend client to frame a response and by the listener for a HEAD's answer.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut lengths = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(|element| length_digits(element.trim_ascii()));
    let first = lengths.next().flatten()?;
    lengths.all(|other| other == Some(first)).then_some(first)
}

/// A `Content-Length` value's number: decimal digits only (no sign, no spaces), at most
/// 19 of them, so that it fits a `u64`.
fn length_digits(digits: &[u8]) -> Option<u64> {
    (!digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit)).then(|| {
        digits
            .iter()
            .fold(0, |n: u64, &d| n * 10 + u64::from(d - b'0'))
    })
}

/// `Keep-Alive`: not among `http`'s constants.
const WIRE_KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// What the backend learns about the original request through `X-Forwarded-*`.
#[derive(Debug, Clone)]
pub struct ForwardedFor<'a> {
    /// The client's address, as written (`context.Request.IpAddress`).
    pub client_ip: Option<&'a str>,
    /// Scheme the client used towards the front end.
    pub proto: &'a str,
    /// Host the client asked for.
    pub host: Option<&'a HeaderValue>,
}

/// Makes client request headers fit to send to the backend whose authority is
/// `backend_host`: hop-by-hop headers removed, `Host` set to the backend (as APIM
/// does), `X-Forwarded-For` extended with the client address, `X-Forwarded-Proto` and
/// `-Host` set.
pub(crate) fn prepare_request_headers(
    headers: &mut HeaderMap,
    forwarded: &ForwardedFor<'_>,
    backend_host: Option<HeaderValue>,
) {
    strip_hop_by_hop(headers);
    if let Some(host) = backend_host {
        headers.insert(header::HOST, host);
    }
    if let Some(ip) = forwarded.client_ip {
        // One lookup to read what the client sent and to set the list.
        let entry = headers.entry(X_FORWARDED_FOR);
        let mut value = Vec::with_capacity(ip.len());
        if let header::Entry::Occupied(previous) = &entry {
            for previous in previous
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
            {
                value.extend_from_slice(previous.as_bytes());
                value.extend_from_slice(b", ");
            }
        }
        value.extend_from_slice(ip.as_bytes());
        // The bytes become the value's own, not a copy of them.
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(value)) {
            match entry {
                header::Entry::Occupied(mut previous) => {
                    previous.insert(value);
                }
                header::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        }
    }
    let proto = match forwarded.proto {
        "https" => Ok(HeaderValue::from_static("https")),
        proto => HeaderValue::from_str(proto),
    };
    if let Ok(proto) = proto {
        headers.insert(X_FORWARDED_PROTO, proto);
    }
    if let Some(host) = forwarded.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_off_the_wire_is_the_name_http_parses() {
        // Each spelling `wire_name` matches whole, others of the same names, and names
        // it leaves to `http`, valid and not.
        let names = [
            "Host",
            "host",
            "HOST",
            "Date",
            "date",
            "Accept",
            "accept",
            "Server",
            "server",
            "Connection",
            "connection",
            "User-Agent",
            "user-agent",
            "USER-agent",
            "Keep-Alive",
            "keep-alive",
            "KEEP-ALIVE",
            "Content-Type",
            "content-type",
            "Content-Length",
            "content-length",
            "Content-length",
            "Authorization",
            "authorization",
            "Cache-Control",
            "cache-control",
            "Accept-Encoding",
            "accept-encoding",
            "Transfer-Encoding",
            "transfer-encoding",
            "X-Request-Id",
            "x-forwarded-for",
            "Hostname",
            "Hos",
            "",
            "Host ",
            "Con\rtent-Length",
            "a b",
        ];
        for name in names {
            let wire = wire_name(name.as_bytes()).ok();
            assert_eq!(
                wire,
                HeaderName::from_bytes(name.as_bytes()).ok(),
                "{name:?}"
            );
            if let Some(wire) = wire {
                assert_eq!(wire.as_str(), name.to_ascii_lowercase(), "{name:?}");
            }
        }
        assert_eq!(wire_name(b"Keep-Alive").unwrap(), "keep-alive");
        assert!(wire_name(b"Con\rtent-Length").is_err());
    }

    #[test]
    fn credentials_stay_with_the_origin_and_its_tls() {
        let stripped_towards = |from: &str, next: &str| {
            let mut h = HeaderMap::new();
            h.insert("authorization", "Bearer t".parse().unwrap());
            h.insert("cookie", "s=1".parse().unwrap());
            h.insert("client-cert", ":AA==:".parse().unwrap());
            h.insert("x-forwarded-client-cert", "Hash=1".parse().unwrap());
            h.insert("accept", "*/*".parse().unwrap());
            strip_credentials_for(&mut h, &from.parse().unwrap(), &next.parse().unwrap());
            h.len() == 1
        };
        assert!(!stripped_towards("https://a.test/x", "https://a.test/y"));
        assert!(!stripped_towards("http://a.test/x", "http://a.test/y"));
        assert!(stripped_towards("https://a.test/x", "https://b.test/y"));
        assert!(stripped_towards(
            "https://a.test/x",
            "https://a.test:8443/y"
        ));
        assert!(stripped_towards("https://a.test/x", "http://a.test/y"));
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("upgrade", "h2c".parse().unwrap());
        for name in ["te", "trailer", "proxy-authenticate", "proxy-authorization"] {
            h.insert(name, "x".parse().unwrap());
        }
        h.insert("x-kept", "yes".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
        // Several `Connection` values, names in any case, a token that is no name.
        let mut h = HeaderMap::new();
        h.append("connection", "X-One".parse().unwrap());
        h.append("connection", " x-two ,, not a name".parse().unwrap());
        h.insert("x-one", "1".parse().unwrap());
        h.insert("x-two", "2".parse().unwrap());
        h.insert("proxy-connection", "keep-alive".parse().unwrap());
        h.insert("x-kept", "yes".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }

    #[test]
    fn a_connection_header_naming_only_keep_alive_goes_alone() {
        let stripped = |headers: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in headers {
                h.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            strip_hop_by_hop(&mut h);
            h.keys().map(|k| k.as_str().to_owned()).collect::<Vec<_>>()
        };
        let kept = ("x-kept", "yes");
        assert_eq!(stripped(&[("connection", "keep-alive"), kept]), ["x-kept"]);
        assert_eq!(
            stripped(&[
                ("connection", "Keep-Alive ,keep-alive"),
                ("connection", " KEEP-ALIVE"),
                kept
            ]),
            ["x-kept"]
        );
        // `Keep-Alive` itself present, or a header that `close` names: not the fast case.
        assert_eq!(
            stripped(&[
                ("connection", "keep-alive"),
                ("keep-alive", "timeout=5"),
                kept
            ]),
            ["x-kept"]
        );
        assert_eq!(
            stripped(&[("connection", "close"), ("close", "1"), kept]),
            ["x-kept"]
        );
        assert_eq!(
            stripped(&[
                ("connection", "keep-alive, x-secret"),
                ("x-secret", "1"),
                kept
            ]),
            ["x-kept"]
        );
    }

    #[test]
    fn forwarding_headers_extend_the_chain_and_retarget_host() {
        let mut h = HeaderMap::new();
        h.insert("host", "api.contoso.com".parse().unwrap());
        h.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let host = HeaderValue::from_static("api.contoso.com");
        let fwd = ForwardedFor {
            client_ip: Some("198.51.100.7"),
            proto: "https",
            host: Some(&host),
        };
        prepare_request_headers(
            &mut h,
            &fwd,
            Some(HeaderValue::from_static("orders.internal:8443")),
        );
        assert_eq!(h["host"], "orders.internal:8443");
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 198.51.100.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "api.contoso.com");

        // Several earlier values (an empty one counts for none) become one list; none,
        // the client's address alone.
        let chain = |previous: &[&str]| {
            let mut h = HeaderMap::new();
            for value in previous {
                h.append("x-forwarded-for", value.parse().unwrap());
            }
            prepare_request_headers(&mut h, &fwd, None);
            let values: Vec<_> = h.get_all("x-forwarded-for").iter().cloned().collect();
            values
        };
        assert_eq!(
            chain(&["192.0.2.1", " ", "10.0.0.1, 10.0.0.2"]),
            ["192.0.2.1, 10.0.0.1, 10.0.0.2, 198.51.100.7"]
        );
        assert_eq!(chain(&[]), ["198.51.100.7"]);
    }
}
