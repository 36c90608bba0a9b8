//! From what a front end forwarded to DER blobs: PEM (one or more blocks), DER (one
//! or more concatenated), base64 DER, and URL-encoded PEM (ALB's
//! `X-Amzn-Mtls-Clientcert`), and RFC 9440 byte sequences (`:base64:`, a comma-separated
//! list for `Client-Cert-Chain`). Bounded: the input size and the number of certificates
//! are capped before any certificate is parsed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;

use super::CertError;
use super::der::{self, DerError};

/// Largest input accepted: a 16-certificate chain of 4096-bit RSA certificates in PEM
/// is about 40 KiB; anything far beyond that is not a client certificate.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// Most certificates accepted in one chain. Real client chains have 1 to 4.
pub const MAX_CHAIN_LENGTH: usize = 16;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// Splits `input` into the DER of each certificate, leaf first.
pub(crate) fn der_blobs(input: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(CertError::InputTooLarge {
            len: input.len(),
            max: MAX_INPUT_BYTES,
        });
    }
    if input.first() == Some(&0x30) {
        // DER is binary: its last bytes may look like whitespace, so it is never trimmed.
        return Ok(owned(split_der(input)?));
    }
    let trimmed = input.trim_ascii();
    if trimmed.is_empty() {
        return Err(CertError::Empty);
    }
    if trimmed.contains(&b'%') {
        // PEM and base64 never contain `%`: this is URL-encoded. Plain percent-decoding
        // keeps `+` as `+` (form decoding would turn it into a space and corrupt base64).
        let decoded = percent_decoded(trimmed);
        if find(&decoded, BEGIN).is_none() {
            return Err(CertError::UnrecognizedFormat {
                reason: "it is URL-encoded, but the decoded text has no `-----BEGIN` line"
                    .to_owned(),
            });
        }
        return pem_blocks(&decoded);
    }
    if find(trimmed, BEGIN).is_some() {
        return pem_blocks(trimmed);
    }
    if trimmed.starts_with(b":") {
        return byte_sequences(trimmed);
    }
    let compact: Vec<u8> = trimmed
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match STANDARD_PAD_INDIFFERENT.decode(&compact) {
        Ok(decoded) if decoded.first() == Some(&0x30) => Ok(owned(split_der(&decoded)?)),
        Ok(_) => Err(CertError::UnrecognizedFormat {
            reason: "it is base64, but the decoded bytes are not DER (no leading SEQUENCE)"
                .to_owned(),
        }),
        Err(_) => Err(CertError::UnrecognizedFormat {
            reason: "expected PEM (`-----BEGIN CERTIFICATE-----`), DER, base64 DER, \
                     URL-encoded PEM or an RFC 9440 `:base64:` byte sequence"
                .to_owned(),
        }),
    }
}

/// `input` percent-decoded as `percent_encoding::percent_decode` does it (a `%` not
/// followed by two hex digits stays as it is), copying the runs between escapes whole
/// (found with memchr): decoding byte by byte was a tenth of an ALB event's cost.
fn percent_decoded(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = memchr::memchr(b'%', rest) {
        out.extend_from_slice(&rest[..at]);
        match (
            rest.get(at + 1).and_then(|&b| hex(b)),
            rest.get(at + 2).and_then(|&b| hex(b)),
        ) {
            (Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                rest = &rest[at + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// RFC 9440 `Client-Cert` / `Client-Cert-Chain`: structured-field byte sequences,
/// `:base64-DER:`, separated by commas.
fn byte_sequences(text: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let items: Vec<&[u8]> = text.split(|&b| b == b',').map(<[u8]>::trim_ascii).collect();
    if items.len() > MAX_CHAIN_LENGTH {
        return Err(CertError::ChainTooLong {
            count: items.len(),
            max: MAX_CHAIN_LENGTH,
        });
    }
    let mut blobs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let index = i + 1;
        let inner = item
            .strip_prefix(b":")
            .and_then(|rest| rest.strip_suffix(b":"))
            .ok_or_else(|| CertError::UnrecognizedFormat {
                reason: format!(
                    "item {index} of the RFC 9440 list is not a `:base64:` byte sequence"
                ),
            })?;
        let der =
            STANDARD_PAD_INDIFFERENT
                .decode(inner)
                .map_err(|e| CertError::UnrecognizedFormat {
                    reason: format!("item {index} of the RFC 9440 list is not valid base64 ({e})"),
                })?;
        blobs.push(der);
    }
    Ok(blobs)
}

fn owned(blobs: Vec<&[u8]>) -> Vec<Vec<u8>> {
    blobs.into_iter().map(<[u8]>::to_vec).collect()
}

/// Splits concatenated DER certificates by their outer lengths, checking the count
/// before anything is parsed.
fn split_der(input: &[u8]) -> Result<Vec<&[u8]>, CertError> {
    let mut blobs = Vec::new();
    let mut rest = input;
    let mut offset = 0;
    while !rest.is_empty() {
        if rest[0] != 0x30 {
            return Err(CertError::InvalidCertificate {
                index: blobs.len() + 1,
                reason: format!(
                    "byte {offset} should start a DER SEQUENCE (0x30) but is 0x{:02X}",
                    rest[0]
                ),
            });
        }
        let (header, length) = der::read_header(rest).map_err(|e| match e {
            DerError::Truncated { at } => CertError::TruncatedDer {
                index: blobs.len() + 1,
                offset: offset + at,
            },
            DerError::Invalid { at } => CertError::InvalidCertificate {
                index: blobs.len() + 1,
                reason: format!("invalid DER length at byte {}", offset + at),
            },
        })?;
        let total = header.saturating_add(length);
        if total > rest.len() {
            return Err(CertError::TruncatedDer {
                index: blobs.len() + 1,
                offset: offset + rest.len(),
            });
        }
        blobs.push(&rest[..total]);
        if blobs.len() > MAX_CHAIN_LENGTH {
            return Err(CertError::ChainTooLong {
                count: count_der(rest, blobs.len() - 1),
                max: MAX_CHAIN_LENGTH,
            });
        }
        rest = &rest[total..];
        offset += total;
    }
    Ok(blobs)
}

/// Counts the certificates of an over-long DER chain for the error message; stops
/// counting at the first value that does not parse.
fn count_der(mut rest: &[u8], mut count: usize) -> usize {
    while let Ok((header, length)) = der::read_header(rest) {
        let total = header.saturating_add(length);
        if total > rest.len() {
            break;
        }
        count += 1;
        rest = &rest[total..];
    }
    count
}

/// Decodes every PEM block; all must be certificates. Text around blocks (comments,
/// OpenSSL's "Bag Attributes") is ignored; whitespace and CRLF inside a block are.
fn pem_blocks(text: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let count = count_occurrences(text, BEGIN);
    if count > MAX_CHAIN_LENGTH {
        return Err(CertError::ChainTooLong {
            count,
            max: MAX_CHAIN_LENGTH,
        });
    }
    let mut blobs = Vec::with_capacity(count);
    for (i, block) in PemBlocks(text).enumerate() {
        let index = i + 1;
        let block = block.map_err(|reason| CertError::MalformedPem { index, reason })?;
        if !block.is_certificate() {
            return Err(CertError::NotACertificate {
                label: String::from_utf8_lossy(block.label).into_owned(),
            });
        }
        let der = block
            .decode()
            .map_err(|reason| CertError::MalformedPem { index, reason })?;
        blobs.push(der);
    }
    Ok(blobs)
}

/// One block of a PEM text.
pub(crate) struct PemBlock<'a> {
    /// What its BEGIN line names: `CERTIFICATE`, `X509 CRL`, ...
    pub(crate) label: &'a [u8],
    /// Between its BEGIN and END lines.
    body: &'a [u8],
}

impl PemBlock<'_> {
    /// Whether it is labelled as a certificate (`X509 CERTIFICATE` is the older label).
    pub(crate) fn is_certificate(&self) -> bool {
        self.label == b"CERTIFICATE" || self.label == b"X509 CERTIFICATE"
    }

    /// The bytes its body encodes, or why it encodes none.
    pub(crate) fn decode(&self) -> Result<Vec<u8>, String> {
        pem_body(self.body).map_err(|e| format!("the body is not valid base64 ({e})"))
    }
}

/// The blocks of a PEM text in order, each with its label, or why the next one is
/// malformed (a BEGIN line without a readable label, no END line for it); after an error
/// it goes on from that BEGIN line, so a reader that skips broken blocks sees the rest.
pub(crate) struct PemBlocks<'a>(pub(crate) &'a [u8]);

impl<'a> Iterator for PemBlocks<'a> {
    type Item = Result<PemBlock<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = find(self.0, BEGIN)?;
        let block = next_block(&self.0[start + BEGIN.len()..]);
        self.0 = match &block {
            Ok((_, after)) => after,
            Err(_) => &self.0[start + BEGIN.len()..],
        };
        Some(block.map(|(block, _)| block))
    }
}

/// The block whose BEGIN line goes on with `after_begin`, and the text after its END line.
fn next_block(after_begin: &[u8]) -> Result<(PemBlock<'_>, &[u8]), String> {
    let label_end =
        find(after_begin, DASHES).ok_or("the `-----BEGIN` line does not end with `-----`")?;
    let label = &after_begin[..label_end];
    if label.len() > 64 || !label.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err("the `-----BEGIN` line has no readable label".to_owned());
    }
    let body_and_rest = &after_begin[label_end + DASHES.len()..];
    let mut end_marker = END.to_vec();
    end_marker.extend_from_slice(label);
    end_marker.extend_from_slice(DASHES);
    let body_end = find(body_and_rest, &end_marker).ok_or_else(|| {
        format!(
            "no `-----END {}-----` line; was the input cut off?",
            String::from_utf8_lossy(label)
        )
    })?;
    let block = PemBlock {
        label,
        body: &body_and_rest[..body_end],
    };
    Ok((block, &body_and_rest[body_end + end_marker.len()..]))
}

/// The bytes a PEM body (between its BEGIN and END lines) encodes.
fn pem_body(body: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    if let Some(text) = standard_lines(body)
        && let Ok(der) = STANDARD_PAD_INDIFFERENT.decode(&text)
    {
        return Ok(der);
    }
    STANDARD_PAD_INDIFFERENT.decode(base64_body(body))
}

/// The base64 of a PEM body laid out as OpenSSL and nearly every tool write it: a line
/// break after the BEGIN line, then lines of 64 characters, each ending in `\n` or
/// `\r\n` (the last 64 characters or fewer may be split into shorter lines anywhere).
/// The lines are found by position, one byte compared each, where [`base64_body`]
/// searches every line for whitespace and escapes (a fifth of reading a CA at a cold
/// start). `None` for any other layout.
///
/// What it returns decodes to what `base64_body`'s text does, or not at all: a text that
/// decodes holds only base64 characters, so the line breaks skipped here are the only
/// whitespace of the body, which is all `base64_body` removes from it.
fn standard_lines(body: &[u8]) -> Option<Vec<u8>> {
    const LINE: usize = 64;
    let mut rest = after_break(body)?;
    let mut text = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let end = match rest.get(LINE) {
            Some(b'\n' | b'\r') => LINE,
            Some(_) => return None,
            // The last line: it ends at its break.
            None => memchr::memchr2(b'\n', b'\r', rest)?,
        };
        let (line, after) = rest.split_at(end);
        text.extend_from_slice(line);
        rest = after_break(after)?;
    }
    Some(text)
}

/// What follows the `\n` or `\r\n` that `text` starts with.
fn after_break(text: &[u8]) -> Option<&[u8]> {
    match text {
        [b'\n', rest @ ..] | [b'\r', b'\n', rest @ ..] => Some(rest),
        _ => None,
    }
}

/// The base64 characters of a PEM body: whitespace dropped, and the two-character
/// escapes `\n`, `\r` and `\t` too, so PEM pasted from a JSON event
/// (`"clientCertPem": "-----BEGIN CERTIFICATE-----\nMII..."`) decodes as well.
/// Backslash is not a base64 character, so this cannot change a valid body.
///
/// Copies the runs between those characters whole: pushing byte by byte made this the
/// costliest step of reading a PEM certificate.
fn base64_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = next_break(rest) {
        let (run, from) = rest.split_at(at);
        out.extend_from_slice(run);
        rest = match from {
            [b'\\', b'n' | b'r' | b't', after @ ..] => after,
            [b'\\', after @ ..] => {
                out.push(b'\\');
                after
            }
            [_whitespace, after @ ..] => after,
            [] => &[],
        };
    }
    out.extend_from_slice(rest);
    out
}

/// The first whitespace byte or backslash of `text`. Looked for with memchr, the line
/// breaks and backslashes first: a byte-by-byte scan was most of decoding PEM.
fn next_break(text: &[u8]) -> Option<usize> {
    let common = memchr::memchr3(b'\n', b'\r', b'\\', text);
    let within = common.map_or(text, |at| &text[..at]);
    memchr::memchr3(b' ', b'\t', 0x0c, within).or(common)
}

/// The first position of `needle` (never empty) in `haystack`. Scans for the needle's
/// first byte and compares only there: every needle here starts with `-`, which a
/// base64 body never holds, so a PEM text is scanned once instead of being compared
/// window by window (which made PEM splitting the bulk of loading uploaded certificates).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while let Some(offset) = memchr::memchr(first, haystack.get(from..)?) {
        let at = from + offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = haystack;
    while let Some(at) = find(rest, needle) {
        count += 1;
        rest = &rest[at + needle.len()..];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_skips_partial_matches_and_counts_every_block() {
        assert_eq!(find(b"--x----BEGIN -----BEGIN ", BEGIN), Some(13));
        assert_eq!(find(b"-----BEGI", BEGIN), None);
        assert_eq!(find(b"", BEGIN), None);
        assert_eq!(
            count_occurrences(b"-----BEGIN a -----BEGIN b ----BEGIN ", BEGIN),
            2
        );
    }

    #[test]
    fn percent_decoding_agrees_with_percent_encoding() {
        for input in [
            &b"-----BEGIN%20CERTIFICATE-----%0AMII%2Bab%2fc%3D%0A"[..],
            b"%",
            b"%4",
            b"%%41",
            b"%zz%41",
            b"a%4g",
            b"%C3%A9%ff",
            b"no escapes",
            b"",
        ] {
            let expected: Vec<u8> = percent_encoding::percent_decode(input).collect();
            assert_eq!(percent_decoded(input), expected, "{input:?}");
        }
    }

    #[test]
    fn a_pem_body_loses_whitespace_and_json_escapes_and_keeps_anything_else() {
        assert_eq!(base64_body(b"MA A=\r\n\\nMA\\tA\\\\x\\"), b"MAA=MAA\\\\x\\");
        assert_eq!(base64_body(b" \t\n"), b"");
        assert_eq!(base64_body(b"MAA="), b"MAA=");
    }

    /// The body of a real certificate's PEM, as rcgen (like OpenSSL) writes it.
    fn real_body() -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["pem.test".into()])
            .expect("params")
            .self_signed(&key)
            .expect("signed");
        let pem = cert.pem();
        let body = pem
            .strip_prefix("-----BEGIN CERTIFICATE-----")
            .and_then(|rest| rest.split("-----END").next())
            .expect("one block")
            .to_owned();
        (body, cert.der().to_vec())
    }

    #[test]
    fn lines_of_64_are_read_by_position_with_either_line_break() {
        let (body, der) = real_body();
        assert!(standard_lines(body.as_bytes()).is_some(), "{body}");
        assert_eq!(pem_body(body.as_bytes()), Ok(der.clone()));
        let crlf = body.replace('\n', "\r\n");
        assert!(standard_lines(crlf.as_bytes()).is_some());
        assert_eq!(pem_body(crlf.as_bytes()), Ok(der));
        // Other layouts are left to the search.
        for other in ["MAA=\n", "\nMAA=", "\rMAA=\n"] {
            assert_eq!(standard_lines(other.as_bytes()), None, "{other:?}");
        }
        // Other layouts, and lines of that layout holding a space or an escape (which
        // then do not decode as read), are read by the search.
        for other in ["MAA=\n", "\nMAA=", "\rMAA=\n", "\nMA A=\n", "\n\\nMAA=\n"] {
            assert_eq!(
                pem_body(other.as_bytes()),
                Ok(vec![0x30, 0x00]),
                "{other:?}"
            );
        }
    }

    /// Every body one edit away from a real one (a byte inserted, replaced or removed)
    /// decodes to what the search-and-strip path makes of it, error or not.
    #[test]
    fn the_positional_read_agrees_with_the_search_on_every_edited_body() {
        let (body, _) = real_body();
        let slow = |text: &[u8]| STANDARD_PAD_INDIFFERENT.decode(base64_body(text));
        let mut fast_reads = 0;
        let mut check = |text: Vec<u8>| {
            if standard_lines(&text).is_some_and(|t| STANDARD_PAD_INDIFFERENT.decode(t).is_ok()) {
                fast_reads += 1;
            }
            assert_eq!(
                pem_body(&text),
                slow(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        };
        let bytes = b" \t\n\r\\n=A+/-%\x0b\x0c\xff";
        for body in [body.clone(), body.replace('\n', "\r\n")] {
            let body = body.as_bytes();
            for at in 0..=body.len() {
                for &b in bytes {
                    let mut inserted = body.to_vec();
                    inserted.insert(at, b);
                    check(inserted);
                    if at < body.len() {
                        let mut replaced = body.to_vec();
                        replaced[at] = b;
                        check(replaced);
                    }
                }
                if at < body.len() {
                    let mut removed = body.to_vec();
                    removed.remove(at);
                    check(removed);
                }
            }
        }
        // Not vacuous: replacing a base64 character by another keeps the layout.
        assert!(fast_reads > 200, "{fast_reads}");
    }

    #[test]
    fn the_next_break_is_the_first_whitespace_or_backslash() {
        let scan = |text: &[u8]| {
            text.iter()
                .position(|&b| b.is_ascii_whitespace() || b == b'\\')
        };
        for text in [
            &b"MIIB\nAB"[..],
            b"MIIB AB\ncd",
            b"MI\tIB\rAB",
            b"MIIB\x0cAB\\n",
            b"ab\\ncd ef",
            b"MIIB",
            b"",
        ] {
            assert_eq!(next_break(text), scan(text), "{text:?}");
        }
    }

    #[test]
    fn der_ending_in_a_whitespace_byte_is_not_trimmed() {
        let der = [0x30, 0x02, 0x05, 0x20];
        assert_eq!(der_blobs(&der), Ok(vec![der.to_vec()]));
    }

    #[test]
    fn text_between_pem_blocks_is_ignored() {
        let text =
            b"Bag Attributes\n-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n\
                     comment\r\n-----BEGIN CERTIFICATE-----\r\nMAA\r\n-----END CERTIFICATE-----";
        assert_eq!(
            der_blobs(text),
            Ok(vec![vec![0x30, 0x00], vec![0x30, 0x00]])
        );
    }

    #[test]
    fn json_escaped_newlines_in_a_pem_body_are_ignored() {
        let text = br"-----BEGIN CERTIFICATE-----\nMAA=\r\n-----END CERTIFICATE-----\n";
        assert_eq!(der_blobs(text), Ok(vec![vec![0x30, 0x00]]));
    }

    #[test]
    fn url_encoding_keeps_plus_signs() {
        // `+` in base64 must not become a space: "+/8=" is 0xFB 0xFF.
        let text = b"-----BEGIN%20CERTIFICATE-----%0A+/8=%0A-----END%20CERTIFICATE-----%0A";
        assert_eq!(der_blobs(text), Ok(vec![vec![0xfb, 0xff]]));
    }

    #[test]
    fn a_pem_block_whose_end_label_differs_is_malformed() {
        let text = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            der_blobs(text),
            Err(CertError::MalformedPem { index: 1, .. })
        ));
    }
}
