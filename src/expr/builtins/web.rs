//! URL and HTML encodings of `System.Net.WebUtility` and `System.Uri`, and the text forms
//! of `System.Guid`, as .NET writes and reads them.

use std::fmt::Write;

/// `WebUtility.UrlEncode`: letters, digits and `-_.!*()` stay, a space becomes `+`,
/// every other UTF-8 byte `%XX` in upper case
/// (<https://learn.microsoft.com/dotnet/api/system.net.webutility.urlencode>).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `Uri.EscapeDataString`: RFC 3986's unreserved characters (letters, digits, `-._~`)
/// stay, every other UTF-8 byte becomes `%XX` in upper case.
pub(crate) fn escape_data_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `WebUtility.UrlDecode` (`plus`: `+` is a space) and `Uri.UnescapeDataString`: `%XX`
/// sequences become bytes, read as UTF-8 (an invalid sequence becomes U+FFFD, as .NET's
/// decoder does); a `%` without two hex digits stays as it is.
pub(crate) fn url_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
        match b[i] {
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                let (h, l) = (hex(i + 1).unwrap_or(0), hex(i + 2).unwrap_or(0));
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `WebUtility.HtmlEncode`: `< > & " '` as entities, the characters U+00A0 to U+00FF
/// and those outside the BMP as decimal references
/// (.NET's `WebUtility.HtmlEncode` source, "HtmlEncode" in
/// <https://github.com/dotnet/runtime/blob/main/src/libraries/System.Private.CoreLib/src/System/Net/WebUtility.cs>).
pub(crate) fn html_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '\u{a0}'..='\u{ff}' | '\u{10000}'.. => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// `WebUtility.HtmlDecode`: decimal and hex references and the entities of XML and
/// `&nbsp;`; other named entities of HTML 4 are left as written (certgate does not
/// carry .NET's table of 253 names), as is anything that is no entity.
pub(crate) fn html_decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let n = match num.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None if num.bytes().all(|b| b.is_ascii_digit()) => num.parse().ok(),
                        None => None,
                    };
                    n.and_then(char::from_u32)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Guid.Parse`: the forms `N` (32 digits), `D` (hyphens), `B` (`{D}`) and `P` (`(D)`),
/// surrounding white space allowed. The bytes are in text order.
pub(crate) fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    let inner = match (s.chars().next(), s.chars().last()) {
        (Some('{'), Some('}')) | (Some('('), Some(')')) => s.get(1..s.len() - 1)?,
        _ => s,
    };
    let hex: String = if inner.len() == 36 {
        let parts: Vec<&str> = inner.split('-').collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        if lens != [8, 4, 4, 4, 12] {
            return None;
        }
        parts.concat()
    } else if inner.len() == 32 && inner.len() == s.len() {
        inner.to_owned()
    } else {
        return None;
    };
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    // from_str_radix takes a sign: only digits are digits here
    hex.bytes().all(|b| b.is_ascii_hexdigit()).then_some(out)
}

/// `Guid.ToString(format)`: `N`, `D` (the default), `B`, `P`, lower-case digits.
pub(crate) fn format_guid(g: &[u8; 16], format: &str) -> Option<String> {
    let hex: String = g.iter().map(|b| format!("{b:02x}")).collect();
    let d = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    Some(match format {
        "N" | "n" => hex,
        "" | "D" | "d" => d,
        "B" | "b" => format!("{{{d}}}"),
        "P" | "p" => format!("({d})"),
        _ => return None,
    })
}

/// An `application/x-www-form-urlencoded` body as (name, value) in order: fields split
/// at `&` (empty ones skipped), the name at the first `=` (none: an empty value), `+` and
/// `%XX` decoded as UTF-8. The policy toolkit's test of `AsFormUrlEncodedContent` reads
/// `a=1&a=2&b=x+y&c=%26%3D&d` so (Azure/azure-api-management-policy-toolkit, MockBody).
pub(crate) fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            (url_decode(name, true), url_decode(value, true))
        })
        .collect()
}

/// APIM's `AsBasic()`: the user id and password of an `Authorization` header value
/// `Basic <base64 of user:password>`, or None when it is not one. As Microsoft's policy
/// toolkit reads it (its `BasicAuthCredentialsParser`): the scheme `Basic` exactly, the
/// credentials in ISO-8859-1, split at the last `:`, and an empty user id refused.
pub(crate) fn parse_basic(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, param) = header.trim().split_once([' ', '\t'])?;
    let param: String = param.chars().filter(|c| !c.is_whitespace()).collect();
    if scheme != "Basic" || param.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(param)
        .ok()?;
    // ISO-8859-1: each byte is the code point of the same number
    let text: String = bytes.iter().map(|b| char::from(*b)).collect();
    let colon = text.rfind(':').filter(|i| *i > 0)?;
    Some((text[..colon].to_owned(), text[colon + 1..].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_forms_round_trip() {
        let g = parse_guid("{0F8FAD5B-D9CB-469F-A165-70867728950E}").expect("B form");
        assert_eq!(
            format_guid(&g, "N").as_deref(),
            Some("0f8fad5bd9cb469fa16570867728950e")
        );
        assert_eq!(parse_guid("0f8fad5bd9cb469fa16570867728950e"), Some(g));
        assert_eq!(
            parse_guid("(0f8fad5b-d9cb-469f-a165-70867728950e)"),
            Some(g)
        );
        assert_eq!(parse_guid("0f8fad5b-d9cb-469f-a165-70867728950"), None);
        assert_eq!(parse_guid("+f8fad5b-d9cb-469f-a165-70867728950e"), None);
        assert_eq!(parse_guid("{0f8fad5bd9cb469fa16570867728950e}"), None);
    }
}
