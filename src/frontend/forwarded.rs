//! Client certificates that a front end forwards in HTTP headers.
//!
//! Every header any known front end uses to carry a certificate is removed from the
//! request before anything else looks at it, whether or not the deployment trusts that
//! front end: a client can set any header, and a header the deployment did not declare
//! is not evidence of a TLS handshake. Only the declared carrier is then decoded.

use base64::Engine as _;
use http::HeaderMap;

use crate::cert::{self, CertError, Certificate, PresentedChain, PresentedChains};

pub use crate::proxy::CERTIFICATE_HEADERS;

/// The certificate headers taken out of a request, in their original order.
#[derive(Debug, Default)]
pub struct CertificateHeaders {
    removed: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Known names that came spelled with `_` for `-` (`x_forwarded_client_cert`): never
    /// a front end's, and a CGI or WSGI backend would read them as the real header.
    respelled: Vec<&'static str>,
}

impl CertificateHeaders {
    /// Removes every certificate header (the known ones plus `extra`, e.g. a renamed
    /// ALB header) from `headers`, also spelled with `_` for `-` (as Envoy's header
    /// sanitizing does) or `-` for `_`.
    pub fn take(headers: &mut HeaderMap, extra: &[impl AsRef<str>]) -> Self {
        // The request's own names, once: looking each known name up instead parsed and
        // hashed it every time (a tenth of an ALB event's adapter cost).
        let carriers: Vec<http::HeaderName> = headers
            .keys()
            .filter(|name| is_carrier(name.as_str(), extra))
            .cloned()
            .collect();
        let mut taken = Self::default();
        for name in carriers {
            let spelled_as_known =
                known(extra).any(|known| known.eq_ignore_ascii_case(name.as_str()));
            if !spelled_as_known {
                headers.remove(&name);
                let dashed = name.as_str().replace('_', "-");
                let known = CERTIFICATE_HEADERS.iter().find(|known| **known == dashed);
                taken.respelled.extend(known.copied());
            } else if let http::header::Entry::Occupied(entry) = headers.entry(name) {
                let (name, values) = entry.remove_entry_mult();
                taken.removed.extend(values.map(|v| (name.clone(), v)));
            }
        }
        taken
    }

    /// The values of `name`, in the order they came.
    fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.removed
            .iter()
            .filter(move |(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }

    /// The one value of `name`, if present.
    ///
    /// # Errors
    /// [`Repeated`] when `name` came more than once: a front end sets a carrier once,
    /// so the other value is a client's, and which is which cannot be told.
    pub fn single(&self, name: &str) -> Result<Option<&[u8]>, Repeated> {
        let mut values = self.values(name);
        let first = values.next();
        match values.next() {
            Some(_) => Err(Repeated(2 + values.count())),
            None => Ok(first),
        }
    }

    /// The last value of `name`: where headers that proxies append to (XFCC) came
    /// more than once, the nearest proxy's is the last.
    pub fn last(&self, name: &str) -> Option<&[u8]> {
        self.values(name).last()
    }

    /// The known certificate headers that were present, for logs and metrics.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        CERTIFICATE_HEADERS.iter().copied().filter(|known| {
            self.removed.iter().any(|(n, _)| n == known) || self.respelled.contains(known)
        })
    }
}

/// A carrier header that came this many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated(pub usize);

/// Bit `n` is set when a known certificate header's name is `n` bytes long.
const KNOWN_LENGTHS: u64 = {
    let mut bits = 0;
    let mut i = 0;
    while i < CERTIFICATE_HEADERS.len() {
        assert!(CERTIFICATE_HEADERS[i].len() < 64);
        bits |= 1 << CERTIFICATE_HEADERS[i].len();
        i += 1;
    }
    bits
};

/// Whether `name` is a certificate header's, with `_` and `-` read as one (a renamed
/// carrier may have either).
///
/// Most of a request's headers are ruled out by their length alone: every request's
/// names are checked against some twenty known ones.
fn is_carrier(name: &str, extra: &[impl AsRef<str>]) -> bool {
    let length = name.len();
    if (length >= 64 || KNOWN_LENGTHS >> length & 1 == 0)
        && extra.iter().all(|extra| extra.as_ref().len() != length)
    {
        return false;
    }
    let dashed = |b: u8| if b == b'_' { b'-' } else { b };
    known(extra).any(|known| {
        known.len() == name.len()
            && known
                .bytes()
                .zip(name.bytes())
                .all(|(k, n)| dashed(k).eq_ignore_ascii_case(&dashed(n)))
    })
}

/// The known certificate headers' names, then `extra`.
fn known(extra: &[impl AsRef<str>]) -> impl Iterator<Item = &str> {
    CERTIFICATE_HEADERS
        .iter()
        .copied()
        .chain(extra.iter().map(AsRef::as_ref))
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
    /// The carrier came more than once, or in two forms a front end never sets
    /// together: one of the values is a client's, and which cannot be told.
    #[error("{what}: the front end sets one, so the other came from the client")]
    Conflicting { what: String },
}

impl ForwardedError {
    /// `name` came `count` times.
    pub fn repeated(name: &str, Repeated(count): Repeated) -> Self {
        Self::Conflicting {
            what: format!("{count} {name} headers"),
        }
    }
}

/// ALB: URL-encoded PEM of the chain (passthrough) or of the leaf (verify), decoded
/// through `chains`.
pub fn alb(
    value: &[u8],
    header: &'static str,
    chains: &PresentedChains,
) -> Result<PresentedChain, ForwardedError> {
    chains
        .decode(value)
        .map_err(|source| ForwardedError::Certificate { header, source })
}

/// What an ALB in mTLS passthrough writes for a PEM chain: percent-encoded, with `+`,
/// `=` and `/` left as they are. The inverse of [`alb`], for the demo, sample events and
/// tests.
pub fn alb_encode(pem: &str) -> String {
    let mut out = String::with_capacity(pem.len() * 11 / 10);
    for b in pem.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+=/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&crate::text::hex_upper(&[b]));
        }
    }
    out
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
    fn alb_encoding_keeps_base64_characters() {
        assert_eq!(
            alb_encode("-----BEGIN A-----\nab+/=\n"),
            "-----BEGIN%20A-----%0Aab+/=%0A"
        );
    }

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
        assert_eq!(taken.single("client-cert"), Err(Repeated(2)));
        assert_eq!(taken.last("client-cert"), Some(&b":BB==:"[..]));
        assert_eq!(taken.single("x-renamed-cert"), Ok(Some(&b"y"[..])));
        assert_eq!(
            taken.names().collect::<Vec<_>>(),
            ["x-forwarded-client-cert", "client-cert"]
        );
    }

    #[test]
    fn spellings_with_underscores_are_removed_too() {
        let mut headers = HeaderMap::new();
        headers.insert("x_amzn_mtls_clientcert", "forged".parse().unwrap());
        headers.insert("Client_Cert", ":AA==:".parse().unwrap());
        headers.insert("x_renamed_cert", "y".parse().unwrap());
        headers.insert("x_other", "kept".parse().unwrap());
        let taken = CertificateHeaders::take(&mut headers, &["x-renamed-cert"]);
        assert_eq!(
            headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["x_other"]
        );
        assert_eq!(
            taken.names().collect::<Vec<_>>(),
            ["x-amzn-mtls-clientcert", "client-cert"]
        );
        assert_eq!(
            taken.single("x-amzn-mtls-clientcert"),
            Ok(None),
            "never a value"
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
