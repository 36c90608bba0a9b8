//! The request target every later step shares: one parsed authority and one normalized
//! path.
//!
//! Routing, `context.Request.Url`, the SNI check of the local listener and the backend
//! URL all derive from the values made here, so none of them can read a host or path the
//! others did not. A path is normalized only where every reader agrees on the result
//! (percent-encoded unreserved characters are decoded, escapes are upper-cased, RFC 3986
//! §6.2.2); whatever a backend could read differently from the router is refused with
//! 400 instead of guessed at: dot segments, empty segments, `;` path parameters, encoded
//! or literal `\` and encoded `/`. Envoy's `normalize_path`, `merge_slashes` and
//! `path_with_escaped_slashes_action: REJECT_REQUEST` draw the same line.

use http::uri::Authority;

/// Why a request's host or path was refused before routing (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    #[error("The request path must start with '/'.")]
    NotAbsolute,
    #[error("The request path has a '.' or '..' segment; send the path without them.")]
    DotSegment,
    #[error("The request path has an empty segment ('//'); send it with single slashes.")]
    EmptySegment,
    #[error(
        "The request path has an encoded '/' or '\\' ('%2F', '%5C') or a '\\'; backends differ on whether it separates segments, so it is not routed."
    )]
    EncodedSeparator,
    #[error(
        "The request path has a ';' path parameter; backends differ on whether they drop it, so it is not routed."
    )]
    PathParameter,
    #[error(
        "The request path has a '%' not followed by two hex digits, or an encoded NUL ('%00')."
    )]
    BadEscape,
    #[error("The request has no Host.")]
    MissingHost,
    #[error(
        "The request's Host is not a host name or IP address with an optional port (no user name, one port)."
    )]
    BadHost,
    #[error("The request's Host header and its request target name different hosts.")]
    ConflictingHost,
    #[error("The request target is not a URI.")]
    Malformed,
}

/// The path as every later step sees it: unreserved characters decoded, the remaining
/// escapes upper-cased, characters a URI path cannot hold (from a Lambda event's path,
/// which API Gateway may hand on decoded) percent-encoded.
///
/// # Errors
/// A path a backend could read differently from the router (see the module docs).
pub fn normalize_path(raw: &str) -> Result<String, TargetError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(TargetError::NotAbsolute);
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let value = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?))
                    .ok_or(TargetError::BadEscape)?;
                match value {
                    0 => return Err(TargetError::BadEscape),
                    b'/' | b'\\' => return Err(TargetError::EncodedSeparator),
                    b';' => return Err(TargetError::PathParameter),
                    v if is_unreserved(v) => out.push(char::from(v)),
                    v => push_escaped(&mut out, v),
                }
                i += 3;
            }
            b'\\' => return Err(TargetError::EncodedSeparator),
            b';' => return Err(TargetError::PathParameter),
            b if is_path_char(b) => {
                out.push(char::from(b));
                i += 1;
            }
            b => {
                push_escaped(&mut out, b);
                i += 1;
            }
        }
    }
    check_segments(&out)?;
    Ok(out)
}

/// Every segment but the last (`/orders/` lists) must be non-empty, and none a dot
/// segment: after decoding, `%2e` is a `.` like any other.
fn check_segments(path: &str) -> Result<(), TargetError> {
    let mut segments = path[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        if segment == "." || segment == ".." {
            return Err(TargetError::DotSegment);
        }
        if segment.is_empty() && segments.peek().is_some() {
            return Err(TargetError::EmptySegment);
        }
    }
    Ok(())
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 §2.3.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// What RFC 3986 lets a path segment hold unescaped (`pchar` and `/`), less `;`.
fn is_path_char(byte: u8) -> bool {
    is_unreserved(byte)
        || matches!(
            byte,
            b'/' | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        )
}

fn push_escaped(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

/// The authority a request is for: the request target's (HTTP/2 `:authority`, an
/// absolute-form target) or else the `Host` header's; both, when present, must agree.
///
/// # Errors
/// No host, a host that is not one ([`parse_authority`]), or two that disagree.
pub(crate) fn request_authority(parts: &http::request::Parts) -> Result<Authority, TargetError> {
    let header = match parts.headers.get(http::header::HOST) {
        Some(value) => Some(value.to_str().map_err(|_| TargetError::BadHost)?),
        None => None,
    };
    if let Some(authority) = parts.uri.authority()
        && header.is_none_or(|header| header == authority.as_str())
    {
        // HTTP/2's `:authority` alone, or the listener's checked one written into both:
        // checked, and kept as it is when it is already in normal form (parsing its
        // text again gave the same authority, at an allocation and a second scan).
        return match normalized(authority.as_str())? {
            None => Ok(authority.clone()),
            Some(text) => text.parse().map_err(|_| TargetError::BadHost),
        };
    }
    let target = parts.uri.authority().map(Authority::as_str);
    let header = header.map(parse_authority).transpose()?;
    let target = target.map(parse_authority).transpose()?;
    match (target, header) {
        (Some(target), Some(header)) if target != header => Err(TargetError::ConflictingHost),
        (Some(authority), _) | (None, Some(authority)) => Ok(authority),
        (None, None) => Err(TargetError::MissingHost),
    }
}

/// A `host[:port]` with nothing else: no user name (`x@host`), one port of digits
/// (`host:1:2` is none), a DNS name, IPv4 address or bracketed IPv6 address. The host is
/// lower-cased, as .NET's `Uri.Host` shows it.
///
/// # Errors
/// [`TargetError::BadHost`].
pub(crate) fn parse_authority(text: &str) -> Result<Authority, TargetError> {
    let normal = normalized(text)?;
    normal
        .as_deref()
        .unwrap_or(text)
        .parse()
        .map_err(|_| TargetError::BadHost)
}

/// `text` checked as [`parse_authority`] checks it: `None` when it is in normal form
/// already, else the normal form.
///
/// Byte by byte, in one pass over the name: every request's `Host` is checked here twice
/// (the listener's SNI check, the pipeline's), and `str` searches cost more than the check
/// (as `memchr`'s vector set-up does on a name this short).
fn normalized(text: &str) -> Result<Option<String>, TargetError> {
    let bytes = text.as_bytes();
    let (upper, port) = if bytes.first() == Some(&b'[') {
        let close = bytes
            .iter()
            .position(|&b| b == b']')
            .ok_or(TargetError::BadHost)?;
        let (host, after) = bytes.split_at(close + 1);
        std::str::from_utf8(&host[1..close])
            .ok()
            .and_then(|ip| ip.parse::<std::net::Ipv6Addr>().ok())
            .ok_or(TargetError::BadHost)?;
        let port = match after {
            [] => None,
            [b':', port @ ..] => Some(port),
            _ => return Err(TargetError::BadHost),
        };
        (host.iter().any(u8::is_ascii_uppercase), port)
    } else {
        let (host, port) = match bytes.iter().position(|&b| b == b':') {
            Some(colon) => (&bytes[..colon], Some(&bytes[colon + 1..])),
            None => (bytes, None),
        };
        (dns_name(host).ok_or(TargetError::BadHost)?, port)
    };
    if port.is_some_and(|port| !is_port(port)) {
        return Err(TargetError::BadHost);
    }
    // A port's digits have no case: lower-casing the whole lower-cases the host.
    Ok(upper.then(|| text.to_ascii_lowercase()))
}

/// Decimal digits of a number up to 65535 (`u16`'s parse, without its sign).
fn is_port(port: &[u8]) -> bool {
    !port.is_empty()
        && port
            .iter()
            .try_fold(0u32, |n, &digit| {
                let n = n * 10 + u32::from(digit.wrapping_sub(b'0'));
                (digit.is_ascii_digit() && n <= u32::from(u16::MAX)).then_some(n)
            })
            .is_some()
}

/// What a byte may be in a host name: [`LABEL`] (a letter, digit, `-` or `_`), [`UPPER`]
/// also for an upper-case letter, else 0. A table: the name is read a byte at a time.
const HOST_BYTES: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            table[b] = LABEL | if byte.is_ascii_uppercase() { UPPER } else { 0 };
        }
        b += 1;
    }
    table
};
const LABEL: u8 = 1;
const UPPER: u8 = 2;

/// Labels of letters, digits, `-` and `_` (seen in internal names), 1 to 63 bytes, at
/// most 253 bytes in all, one trailing dot allowed. IPv4 addresses are such names too.
/// `Some(true)` when a letter is upper case, `None` when it is no such name.
fn dns_name(host: &[u8]) -> Option<bool> {
    let name = host.strip_suffix(b".").unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let (mut label, mut seen) = (0, 0);
    for &b in name {
        if b == b'.' {
            if label == 0 {
                return None;
            }
            label = 0;
        } else {
            let class = HOST_BYTES[usize::from(b)];
            if class == 0 || label == 63 {
                return None;
            }
            seen |= class;
            label += 1;
        }
    }
    (label > 0).then_some(seen & UPPER != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_escapes_are_decoded_and_others_upper_cased() {
        let ok = |p| normalize_path(p).unwrap();
        assert_eq!(ok("/orders/%61dmin/users"), "/orders/admin/users");
        assert_eq!(ok("/a%7e%2D%2e%5F"), "/a~-._");
        assert_eq!(ok("/a%20b%3fc"), "/a%20b%3Fc");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("/orders/"), "/orders/");
        assert_eq!(ok("/a:b@c!$&'()*+,="), "/a:b@c!$&'()*+,=");
    }

    #[test]
    fn characters_a_path_cannot_hold_are_encoded() {
        assert_eq!(
            normalize_path("/a b/ü/\"x\"/#?").unwrap(),
            "/a%20b/%C3%BC/%22x%22/%23%3F"
        );
    }

    #[test]
    fn what_backends_read_differently_is_refused() {
        use TargetError::*;
        for (path, error) in [
            ("/orders//admin/users", EmptySegment),
            ("//orders", EmptySegment),
            ("/orders/admin%2fusers", EncodedSeparator),
            ("/orders/admin%2Fusers", EncodedSeparator),
            ("/orders/admin%5cusers", EncodedSeparator),
            ("/orders\\admin", EncodedSeparator),
            ("/orders/admin;x/users", PathParameter),
            ("/orders/admin%3bx/users", PathParameter),
            ("/public/..;/admin/x", PathParameter),
            ("/public/../admin", DotSegment),
            ("/public/%2e%2E/admin", DotSegment),
            ("/public/./admin", DotSegment),
            ("/public/.", DotSegment),
            ("/a%zz", BadEscape),
            ("/a%2", BadEscape),
            ("/a%", BadEscape),
            ("/a%00b", BadEscape),
            ("orders", NotAbsolute),
            ("", NotAbsolute),
            ("*", NotAbsolute),
        ] {
            assert_eq!(normalize_path(path), Err(error), "{path}");
        }
    }

    #[test]
    fn every_short_path_that_passes_leaves_a_decoding_backend_nothing_to_reinterpret() {
        const PIECES: &[&str] = &[
            "/", "a", ".", "%2e", "%2E", "%2f", "%5c", "\\", ";", "%3b", "%61", "%", "%25", " ",
            "%C3%BC",
        ];
        let mut paths = vec![String::from("/")];
        for _ in 0..4 {
            paths = paths
                .iter()
                .flat_map(|p| PIECES.iter().map(move |piece| format!("{p}{piece}")))
                .collect();
            for path in &paths {
                let Ok(normalized) = normalize_path(path) else {
                    continue;
                };
                assert_eq!(
                    normalize_path(&normalized).as_ref(),
                    Ok(&normalized),
                    "{path}"
                );
                let segments: Vec<_> = normalized[1..].split('/').collect();
                for (i, segment) in segments.iter().enumerate() {
                    let decoded =
                        percent_encoding::percent_decode_str(segment).collect::<Vec<u8>>();
                    assert!(
                        !decoded.iter().any(|b| matches!(b, b'/' | b'\\' | b';' | 0)),
                        "{path} -> {normalized}"
                    );
                    assert!(
                        decoded != b"." && decoded != b"..",
                        "{path} -> {normalized}"
                    );
                    assert!(!decoded.is_empty() || i + 1 == segments.len(), "{path}");
                }
            }
        }
    }

    #[test]
    fn dotted_names_that_are_not_dot_segments_pass() {
        assert_eq!(
            normalize_path("/a/.well-known/..x").unwrap(),
            "/a/.well-known/..x"
        );
    }

    #[test]
    fn authorities_are_one_host_and_one_port() {
        let ok = |a: &str| parse_authority(a).unwrap().to_string();
        assert_eq!(ok("API.Contoso.com"), "api.contoso.com");
        assert_eq!(ok("localhost:8443"), "localhost:8443");
        assert_eq!(ok("127.0.0.1:1"), "127.0.0.1:1");
        assert_eq!(ok("[::1]:8443"), "[::1]:8443");
        assert_eq!(ok("[::1]"), "[::1]");
        assert_eq!(ok("example.com."), "example.com.");
        // Labels of 1 to 63 bytes, 253 in all (a trailing dot not counted).
        let label63 = "a".repeat(63);
        let name253 = [label63.as_str(); 4].join(".")[..253].to_owned();
        assert_eq!(ok(&format!("{label63}.b")), format!("{label63}.b"));
        assert_eq!(ok(&format!("{name253}.")), format!("{name253}."));
        for bad in [
            format!("a{label63}.b"),
            format!("{name253}a"),
            ".a".to_owned(),
        ] {
            assert_eq!(parse_authority(&bad), Err(TargetError::BadHost), "{bad:?}");
        }
        let bad = [
            "localhost:1:2",
            "a.localhost:1 x",
            "x@require.localhost",
            "localhost:",
            "localhost:65536",
            "localhost:+1",
            "",
            ":443",
            "a..b",
            "[::1",
            "[::1]x",
            "[zz]",
            "a%2eb",
            "a/b",
        ];
        for bad in bad {
            assert_eq!(parse_authority(bad), Err(TargetError::BadHost), "{bad:?}");
        }
        // A request target's authority alone (HTTP/2's `:authority`), checked in place,
        // gives what its text parsed anew gives, for each one a URI can carry.
        let good = [
            "API.Contoso.com",
            "localhost:8443",
            "127.0.0.1:1",
            "[::1]:8443",
        ];
        let long = [
            format!("{label63}.b"),
            format!("{name253}."),
            format!("{name253}a"),
        ];
        let texts = good
            .iter()
            .chain(&bad)
            .copied()
            .chain(long.iter().map(String::as_str));
        let mut compared = Vec::new();
        for text in texts {
            let Ok(uri) = http::Uri::try_from(format!("https://{text}/x")) else {
                continue;
            };
            if uri.authority().map(http::uri::Authority::as_str) != Some(text) {
                continue; // `a/b` is the authority `a` and a path
            }
            let parts = http::Request::get(uri).body(()).unwrap().into_parts().0;
            assert_eq!(request_authority(&parts), parse_authority(text), "{text:?}");
            compared.push(text);
        }
        // The four good ones and eleven bad ones reach the check.
        assert_eq!(compared.len(), 15, "{compared:?}");
    }

    #[test]
    fn the_target_and_the_host_header_must_agree() {
        let parts = |uri: &str, host: Option<&str>| {
            let mut builder = http::Request::builder().uri(uri);
            if let Some(host) = host {
                builder = builder.header("host", host);
            }
            builder.body(()).unwrap().into_parts().0
        };
        let of = |uri, host| request_authority(&parts(uri, host)).map(|a| a.to_string());
        assert_eq!(of("https://a.test/x", None).as_deref(), Ok("a.test"));
        // The target's alone (HTTP/2's `:authority`) is checked as a header's is.
        assert_eq!(
            of("https://A.Test:8443/x", None).as_deref(),
            Ok("a.test:8443")
        );
        assert_eq!(of("https://x@a.test/x", None), Err(TargetError::BadHost));
        assert_eq!(
            of("https://a.test:99999/x", None),
            Err(TargetError::BadHost)
        );
        assert_eq!(of("/x", Some("A.test:8443")).as_deref(), Ok("a.test:8443"));
        assert_eq!(
            of("https://a.test/x", Some("a.test")).as_deref(),
            Ok("a.test")
        );
        assert_eq!(
            of("https://a.test/x", Some("b.test")),
            Err(TargetError::ConflictingHost)
        );
        assert_eq!(of("/x", None), Err(TargetError::MissingHost));
        assert_eq!(of("/x", Some("localhost:1:2")), Err(TargetError::BadHost));
        // The same text in both (as the listener writes them) is checked all the same.
        assert_eq!(
            of("https://A.Test:8443/x", Some("A.Test:8443")).as_deref(),
            Ok("a.test:8443")
        );
        assert_eq!(
            of("https://x@a.test/x", Some("x@a.test")),
            Err(TargetError::BadHost)
        );
        assert_eq!(
            of("https://a.test:99999/x", Some("a.test:99999")),
            Err(TargetError::BadHost)
        );
    }
}
