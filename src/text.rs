//! How bytes, addresses and instants are written in messages, headers and logs: one hex
//! encoder, one address writer and one RFC 3339 formatter for the whole crate.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An IP address as `Display` writes it; IPv4 (every request's `IpAddress`) without
/// `fmt`, whose padding support made it a per-request cost.
pub(crate) fn ip(address: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = address else {
        return address.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        text.push_str(itoa::Buffer::new().format(octet));
    }
    text
}

/// Lower-case hex without separators (content versions, bundle hashes, request ids).
pub fn hex_lower(bytes: &[u8]) -> String {
    hex(bytes, b"0123456789abcdef")
}

/// Upper-case hex without separators, as .NET's `Hex.EncodeHexString` (thumbprints,
/// serial numbers).
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    hex(bytes, b"0123456789ABCDEF")
}

/// The bytes that [`hex_upper`] spells as `text`: exactly `2 * N` uppercase hex digits,
/// anything else (lowercase too, as .NET compares thumbprints ordinally) is `None`.
///
/// By table, with one check at the end: a policy comparing a thumbprint runs this on
/// every request, and a branch per digit was most of the lookup.
pub(crate) fn unhex_upper<const N: usize>(text: &str) -> Option<[u8; N]> {
    /// Each byte's value as an uppercase hex digit, `0xFF` for any other byte.
    const DIGITS: [u8; 256] = {
        let mut table = [0xFF; 256];
        let mut i = 0;
        while i < 16 {
            table[b"0123456789ABCDEF"[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    let mut seen = 0;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (high, low) = (DIGITS[usize::from(pair[0])], DIGITS[usize::from(pair[1])]);
        seen |= high | low;
        *byte = high << 4 | low;
    }
    // A digit is below 16; one byte that is not sets the high bits.
    (seen < 16).then_some(out)
}

/// An authority's host and port, as `http::Uri::host` and `port_u16` read them (a user
/// name before `@` skipped, an IPv6 host with its brackets), by plain byte scans: every
/// request's `context.Request.Url` and its hostname settings are looked up from one;
/// `http`'s `str` searches were most of that, and on authorities this short `memchr`'s
/// vector set-up cost more than the scans (about 650 instructions a request).
pub(crate) fn host_and_port(authority: &str) -> (&str, Option<u16>) {
    let bytes = authority.as_bytes();
    // The port's digits: after the last `:`, digits only (`u16`'s parse takes a `+`).
    let digits = bytes
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let port = (digits > 0 && bytes[digits - 1] == b':')
        .then(|| authority[digits..].parse().ok())
        .flatten();
    (host(authority), port)
}

/// An authority's host, as [`host_and_port`] reads it, without the port's parse: the
/// hostname settings are looked up by it twice a request.
pub(crate) fn host(authority: &str) -> &str {
    // After a user name's `@`: the last, as a port's digits have none.
    let start = authority
        .bytes()
        .rposition(|b| b == b'@')
        .map_or(0, |at| at + 1);
    let host_port = &authority[start..];
    let (stop, inclusive) = if host_port.starts_with('[') {
        (b']', 1)
    } else {
        (b':', 0)
    };
    host_port
        .bytes()
        .position(|b| b == stop)
        .map_or(host_port, |end| &host_port[..end + inclusive])
}

/// A URI scheme as `context.Request.Url.Scheme` and `X-Forwarded-Proto` show it: lower
/// case (RFC 3986 §3.1), and without an allocation for the two every request has.
pub(crate) fn scheme(scheme: &str) -> std::borrow::Cow<'static, str> {
    match scheme {
        "https" => "https".into(),
        "http" => "http".into(),
        other => other.to_ascii_lowercase().into(),
    }
}

/// By table, not `write!("{:02x}")`: bundle hashes are checked at every cold start, and
/// formatting 32 bytes through `fmt` per file cost more than hashing the file.
/// Fills bytes and checks them as UTF-8 once, rather than pushing `char`s (a capacity
/// and encoding check per digit: a request id's 32 digits cost 1,100 instructions).
fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    for (pair, &byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = digits[usize::from(byte >> 4)];
        pair[1] = digits[usize::from(byte & 0x0f)];
    }
    // Always ASCII: `digits` are.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `2026-12-04T03:00:00Z` for a Unix time; the number itself if it is out of range.
pub fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_lower_case_and_the_usual_two_borrowed() {
        use std::borrow::Cow;
        assert!(matches!(scheme("https"), Cow::Borrowed("https")));
        assert!(matches!(scheme("http"), Cow::Borrowed("http")));
        assert_eq!(scheme("WSS"), "wss");
        assert_eq!(scheme("Ftp"), "ftp");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "192.0.2.1",
            "255.255.255.255",
            "10.20.3.0",
            "::1",
            "2001:db8::7",
        ] {
            let address: std::net::IpAddr = text.parse().unwrap();
            assert_eq!(ip(address), address.to_string());
            assert_eq!(ip(address), text);
        }
    }

    #[test]
    fn hex_in_both_cases_and_times_in_and_out_of_range() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex_upper(&[0x00, 0x0f, 0xa5, 0xff]), "000FA5FF");
        assert_eq!(hex_lower(&[]), "");
        assert_eq!(unhex_upper::<4>("000FA5FF"), Some([0x00, 0x0f, 0xa5, 0xff]));
        for not_upper_hex in [
            "000fa5ff",
            "000FA5F",
            "000FA5FFF",
            "000FA5FG",
            "000FA5\u{e9}",
        ] {
            assert_eq!(unhex_upper::<4>(not_upper_hex), None, "{not_upper_hex}");
        }
        // Every pair of ASCII bytes: a value exactly when both are uppercase hex digits.
        let upper_hex = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
        for a in 0..128u8 {
            for b in 0..128u8 {
                let text = String::from_utf8(vec![a, b]).unwrap();
                let expected = (upper_hex(a) && upper_hex(b))
                    .then(|| [u8::from_str_radix(&text, 16).unwrap()]);
                assert_eq!(unhex_upper::<1>(&text), expected, "{text:?}");
            }
        }
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn hosts_and_ports_read_as_http_reads_them() {
        for authority in [
            "a.test",
            "a.test:8443",
            "A.Test:1",
            "127.0.0.1:65535",
            "user@a.test:80",
            "u:p@a.test",
            "[::1]",
            "[::1]:443",
            "x@[fe80::1]:8",
            "a.test:",
            "a.test:99999",
            "a.test:0080",
            "h:1@a.test:2",
        ] {
            let uri: http::Uri = format!("https://{authority}/p").parse().unwrap();
            assert_eq!(
                host_and_port(authority),
                (uri.host().unwrap(), uri.port_u16()),
                "{authority}"
            );
            assert_eq!(host(authority), uri.host().unwrap(), "{authority}");
        }
        // A port is digits only, where `u16`'s parse would take a sign.
        assert_eq!(host_and_port("a.test:+80"), ("a.test", None));
    }
}
