//! How bytes and instants are written in messages, headers and logs: one hex encoder
//! and one RFC 3339 formatter for the whole crate.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Lower-case hex without separators (content versions, bundle hashes, request ids).
pub fn hex_lower(bytes: &[u8]) -> String {
    hex(bytes, b"0123456789abcdef")
}

/// Upper-case hex without separators, as .NET's `Hex.EncodeHexString` (thumbprints,
/// serial numbers).
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    hex(bytes, b"0123456789ABCDEF")
}

/// By table, not `write!("{:02x}")`: bundle hashes are checked at every cold start, and
/// formatting 32 bytes through `fmt` per file cost more than hashing the file.
fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(digits[usize::from(byte >> 4)]));
        out.push(char::from(digits[usize::from(byte & 0x0f)]));
    }
    out
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
    fn hex_in_both_cases_and_times_in_and_out_of_range() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex_upper(&[0x00, 0x0f, 0xa5, 0xff]), "000FA5FF");
        assert_eq!(hex_lower(&[]), "");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
