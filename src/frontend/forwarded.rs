//! Client certificates that a front end forwards in HTTP headers.
//!
//! Every header any known front end uses to carry a certificate is removed from the
//! request before anything else looks at it, whether or not the deployment trusts that
//! front end: a client can set any header, and a header the deployment did not declare
//! is not evidence of a TLS handshake. Only the declared carrier is then decoded.

use base64::Engine as _;
use http::HeaderMap;

use crate::cert::{self, CertError, Certificate};

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

/// The certificate headers taken out of a request, in their original order.
#[derive(Debug, Default)]
pub struct CertificateHeaders {
    removed: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl CertificateHeaders {
    /// Removes every certificate header (the known ones plus `extra`, e.g. a renamed
    /// ALB header) from `headers`.
    pub fn take(headers: &mut HeaderMap, extra: &[&str]) -> Self {
        let mut removed = Vec::new();
        for name in CERTIFICATE_HEADERS.iter().chain(extra) {
            // Looking a name up allocates nothing; making a `HeaderName` of it would, and
            // most requests carry none of these.
            if !headers.contains_key(*name) {
                continue;
            }
            let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            if let http::header::Entry::Occupied(entry) = headers.entry(name) {
                let (name, values) = entry.remove_entry_mult();
                removed.extend(values.map(|v| (name.clone(), v)));
            }
        }
        Self { removed }
    }

    /// The first value of `name`, if it was present.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.removed
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }

    /// The known certificate headers that were present, for logs and metrics.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        CERTIFICATE_HEADERS
            .iter()
            .copied()
            .filter(|known| self.removed.iter().any(|(n, _)| n == known))
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
    }
}

/// Why a forwarded header did not yield a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardedError {
    #[error("{header}: {source}")]
    Certificate {
        header: &'static str,
        source: CertError,
    },
    #[error("{header}: {message}")]
    Syntax {
        header: &'static str,
        message: &'static str,
    },
}

/// ALB: URL-encoded PEM of the chain (passthrough) or of the leaf (verify).
pub fn alb(value: &[u8], header: &'static str) -> Result<Vec<Certificate>, ForwardedError> {
    cert::decode_chain(value).map_err(|source| ForwardedError::Certificate { header, source })
}

/// RFC 9440: `Client-Cert: :<base64 DER>:` and `Client-Cert-Chain: :<b64>:, :<b64>:`.
pub fn rfc9440(cert: &[u8], chain: Option<&[u8]>) -> Result<Vec<Certificate>, ForwardedError> {
    let mut out = vec![sf_binary_certificate(cert, "client-cert")?];
    if let Some(chain) = chain {
        for item in chain.split(|b| *b == b',') {
            out.push(sf_binary_certificate(item, "client-cert-chain")?);
        }
    }
    Ok(out)
}

fn sf_binary_certificate(item: &[u8], header: &'static str) -> Result<Certificate, ForwardedError> {
    let syntax = |message| ForwardedError::Syntax { header, message };
    let item = item.trim_ascii();
    let inner = item
        .strip_prefix(b":")
        .and_then(|i| i.strip_suffix(b":"))
        .ok_or(syntax(
            "expected a structured-field byte sequence `:base64:`",
        ))?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(inner)
        .map_err(|_| syntax("the byte sequence is not valid base64"))?;
    Certificate::from_der(&der).map_err(|source| ForwardedError::Certificate { header, source })
}

/// Envoy XFCC: the element added by the nearest proxy (the last one) gives `Cert`
/// and optionally `Chain`, both URL-encoded PEM.
pub fn xfcc(value: &[u8]) -> Result<Vec<Certificate>, ForwardedError> {
    const HEADER: &str = "x-forwarded-client-cert";
    let syntax = |message| ForwardedError::Syntax {
        header: HEADER,
        message,
    };
    let text = std::str::from_utf8(value).map_err(|_| syntax("the value is not UTF-8"))?;
    let element = split_unquoted(text, ',')
        .pop()
        .ok_or(syntax("the header is empty"))?;
    let mut cert = None;
    let mut chain = None;
    for pair in split_unquoted(element, ';') {
        let (key, raw) = pair
            .split_once('=')
            .ok_or(syntax("expected `Key=value` pairs separated by `;`"))?;
        let value = unquote(raw.trim()).ok_or(syntax("unterminated quoted value"))?;
        match key.trim().to_ascii_lowercase().as_str() {
            "cert" => cert = Some(value),
            "chain" => chain = Some(value),
            _ => {}
        }
    }
    // Chain, when present, already starts with the leaf.
    let pem = chain
        .or(cert)
        .ok_or(syntax("the nearest element has no `Cert` or `Chain`"))?;
    cert::decode_chain(pem.as_bytes()).map_err(|source| ForwardedError::Certificate {
        header: HEADER,
        source,
    })
}

/// Splits on `sep` outside double quotes (a backslash escapes inside quotes).
fn split_unquoted(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.retain(|p| !p.trim().is_empty());
    parts
}

fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return Some(raw.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_certificate_header_is_removed_and_remembered() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-client-cert", "Cert=x".parse().unwrap());
        headers.append("Client-Cert", ":AA==:".parse().unwrap());
        headers.append("client-cert", ":BB==:".parse().unwrap());
        headers.insert("x-renamed-cert", "y".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        let taken = CertificateHeaders::take(&mut headers, &["x-renamed-cert"]);
        assert_eq!(headers.len(), 1, "only accept stays: {headers:?}");
        assert_eq!(taken.get("client-cert"), Some(&b":AA==:"[..]));
        assert_eq!(taken.get("x-renamed-cert"), Some(&b"y"[..]));
        assert_eq!(
            taken.names().collect::<Vec<_>>(),
            ["x-forwarded-client-cert", "client-cert"]
        );
    }

    #[test]
    fn xfcc_elements_split_outside_quotes() {
        let text = r#"By=a;Cert="x,y;z",By=b;Cert="p\"q""#;
        let parts = split_unquoted(text, ',');
        assert_eq!(parts, [r#"By=a;Cert="x,y;z""#, r#"By=b;Cert="p\"q""#]);
        assert_eq!(unquote(r#""p\"q""#).as_deref(), Some(r#"p"q"#));
        assert_eq!(unquote(r#""open"#), None);
    }

    #[test]
    fn malformed_forwarded_values_are_errors_not_panics() {
        let syntax = |r: Result<Vec<Certificate>, ForwardedError>| match r {
            Err(ForwardedError::Syntax { message, .. }) => message,
            other => panic!("expected a syntax error, got {other:?}"),
        };
        assert_eq!(
            syntax(rfc9440(b"AAAA", None)),
            "expected a structured-field byte sequence `:base64:`"
        );
        assert_eq!(
            syntax(rfc9440(b":%%%:", None)),
            "the byte sequence is not valid base64"
        );
        assert_eq!(syntax(xfcc(b"")), "the header is empty");
        assert_eq!(
            syntax(xfcc(b"By=x")),
            "the nearest element has no `Cert` or `Chain`"
        );
        assert_eq!(syntax(xfcc(b"Cert=\"abc")), "unterminated quoted value");
        assert_eq!(
            syntax(xfcc(b"junk")),
            "expected `Key=value` pairs separated by `;`"
        );
        assert_eq!(syntax(xfcc(&[0xff, 0xfe])), "the value is not UTF-8");
    }
}
