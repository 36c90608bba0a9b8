//! A minimal DER reader: for the certificate's structure (`tbs.rs`) and for the parts
//! whose exact bytes matter to .NET's string formats (names, general names, EKU), read
//! here so that every rule (encoding order inside a SET, which string types decode,
//! what counts as invalid) is ours and matches .NET's `AsnReader` in DER mode.

use std::fmt::Write as _;

/// Universal tag numbers this module cares about.
pub(crate) mod tag {
    pub(crate) const OBJECT_IDENTIFIER: u32 = 6;
    pub(crate) const UTF8_STRING: u32 = 12;
    pub(crate) const SEQUENCE: u32 = 16;
    pub(crate) const SET: u32 = 17;
    pub(crate) const NUMERIC_STRING: u32 = 18;
    pub(crate) const PRINTABLE_STRING: u32 = 19;
    pub(crate) const T61_STRING: u32 = 20;
    pub(crate) const IA5_STRING: u32 = 22;
    pub(crate) const VISIBLE_STRING: u32 = 26;
    pub(crate) const UNIVERSAL_STRING: u32 = 28;
    pub(crate) const BMP_STRING: u32 = 30;
}

/// Tag class bits as they appear in the identifier octet (`0b00`, `0b01`, `0b10`, `0b11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Universal,
    Application,
    ContextSpecific,
    Private,
}

/// Why a DER value could not be read. `at` is the byte offset in the reader's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DerError {
    /// The input ends before the value it announces.
    Truncated { at: usize },
    /// Not DER: indefinite or non-minimal length, oversized tag, wrong type.
    Invalid { at: usize },
}

/// One tag-length-value: `raw` is the whole encoding, `content` the value bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) class: Class,
    pub(crate) constructed: bool,
    pub(crate) number: u32,
    pub(crate) content: &'a [u8],
    pub(crate) raw: &'a [u8],
}

impl Tlv<'_> {
    pub(crate) fn is_universal(&self, number: u32) -> bool {
        self.class == Class::Universal && self.number == number
    }

    pub(crate) fn is_context(&self, number: u32) -> bool {
        self.class == Class::ContextSpecific && self.number == number
    }
}

/// Reads consecutive TLVs from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The input not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// Reads the next TLV.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let rest = &self.data[start..];
        // Nearly every TLV has a low tag number and a short-form length: those are read
        // here without the general path's two passes over the identifier.
        let short = match *rest {
            [first, length @ 0..0x80, ..] if first & 0x1f != 0x1f => Some((first & 0x1f, length)),
            _ => None,
        };
        let (header, length) = match short {
            Some((_, length)) => (2, usize::from(length)),
            None => read_header(rest).map_err(|e| shift(e, start))?,
        };
        let end = start
            .checked_add(header)
            .and_then(|h| h.checked_add(length))
            .ok_or(DerError::Invalid { at: start })?;
        if end > self.data.len() {
            return Err(DerError::Truncated {
                at: self.data.len(),
            });
        }
        let first = self.data[start];
        let class = match first >> 6 {
            0 => Class::Universal,
            1 => Class::Application,
            2 => Class::ContextSpecific,
            _ => Class::Private,
        };
        let number = match short {
            Some((number, _)) => u32::from(number),
            None => tag_number(rest).map_err(|e| shift(e, start))?,
        };
        self.pos = end;
        Ok(Tlv {
            class,
            constructed: first & 0x20 != 0,
            number,
            content: &self.data[start + header..end],
            raw: &self.data[start..end],
        })
    }

    /// Reads the next TLV and requires it to be the universal type `number`.
    pub(crate) fn read_universal(&mut self, number: u32) -> Result<Tlv<'a>, DerError> {
        let at = self.pos;
        let tlv = self.read()?;
        if tlv.is_universal(number) {
            Ok(tlv)
        } else {
            Err(DerError::Invalid { at })
        }
    }
}

fn shift(error: DerError, by: usize) -> DerError {
    match error {
        DerError::Truncated { at } => DerError::Truncated { at: at + by },
        DerError::Invalid { at } => DerError::Invalid { at: at + by },
    }
}

/// The tag number of the identifier octets at the start of `data` (low or high form).
fn tag_number(data: &[u8]) -> Result<u32, DerError> {
    let first = *data.first().ok_or(DerError::Truncated { at: 0 })?;
    if first & 0x1f != 0x1f {
        return Ok(u32::from(first & 0x1f));
    }
    let mut number: u32 = 0;
    for (i, &b) in data.iter().enumerate().skip(1) {
        if i == 1 && b == 0x80 {
            return Err(DerError::Invalid { at: i });
        }
        number = number.checked_mul(128).ok_or(DerError::Invalid { at: i })? | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok(number);
        }
    }
    Err(DerError::Truncated { at: data.len() })
}

/// Returns (header length, content length) of the TLV at the start of `data`.
///
/// Only definite, minimally encoded lengths are DER; anything else is `Invalid`.
pub(crate) fn read_header(data: &[u8]) -> Result<(usize, usize), DerError> {
    let first = *data.first().ok_or(DerError::Truncated { at: 0 })?;
    let mut pos = 1;
    if first & 0x1f == 0x1f {
        loop {
            let b = *data
                .get(pos)
                .ok_or(DerError::Truncated { at: data.len() })?;
            pos += 1;
            if pos > 6 {
                return Err(DerError::Invalid { at: pos - 1 });
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let len_at = pos;
    let len0 = *data
        .get(pos)
        .ok_or(DerError::Truncated { at: data.len() })?;
    pos += 1;
    if len0 < 0x80 {
        return Ok((pos, usize::from(len0)));
    }
    let count = usize::from(len0 & 0x7f);
    if count == 0 || count > std::mem::size_of::<usize>() {
        // 0x80 is BER's indefinite length; more octets than a usize cannot be real.
        return Err(DerError::Invalid { at: len_at });
    }
    let bytes = data
        .get(pos..pos + count)
        .ok_or(DerError::Truncated { at: data.len() })?;
    pos += count;
    if bytes[0] == 0 {
        return Err(DerError::Invalid { at: len_at });
    }
    let length = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if length < 0x80 {
        return Err(DerError::Invalid { at: len_at });
    }
    Ok((pos, length))
}

/// Decodes OBJECT IDENTIFIER content octets to dotted form (`2.5.4.3`).
///
/// Arcs are limited to 128 bits; a larger arc is treated as invalid rather than
/// printed wrongly.
pub(crate) fn oid_to_string(content: &[u8]) -> Option<String> {
    if content.is_empty() || content[content.len() - 1] & 0x80 != 0 {
        return None;
    }
    let mut out = String::with_capacity(content.len() * 3);
    let mut arc: u128 = 0;
    let mut first = true;
    let mut arc_start = true;
    for &b in content {
        if arc_start && b == 0x80 {
            return None; // non-minimal arc encoding
        }
        if arc >> 121 != 0 {
            return None; // beyond 128 bits
        }
        arc = arc << 7 | u128::from(b & 0x7f);
        arc_start = b & 0x80 == 0;
        if arc_start {
            if first {
                let (a, b) = match arc {
                    0..40 => (0, arc),
                    40..80 => (1, arc - 40),
                    _ => (2, arc - 80),
                };
                push_arc(&mut out, a);
                out.push('.');
                push_arc(&mut out, b);
                first = false;
            } else {
                out.push('.');
                push_arc(&mut out, arc);
            }
            arc = 0;
        }
    }
    Some(out)
}

/// Appends `arc` in decimal. Arcs are small: they are written digit by digit rather
/// than through `fmt` and 128-bit division, which made naming OIDs a tenth of decoding
/// a certificate.
fn push_arc(out: &mut String, arc: u128) {
    let mut arc = match u64::try_from(arc) {
        // Most arcs of the OIDs certificates use (`2.5.4.3`, `1.3.6.1.5.5.7.3.2`).
        Ok(digit @ 0..10) => return out.push(char::from(b'0' + digit as u8)),
        Ok(arc) => arc,
        Err(_) => {
            let _ = write!(out, "{arc}");
            return;
        }
    };
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (arc % 10) as u8;
        arc /= 10;
        if arc == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_decode_to_dotted_form() {
        assert_eq!(
            oid_to_string(&[0x55, 0x04, 0x03]).as_deref(),
            Some("2.5.4.3")
        );
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).as_deref(),
            Some("1.2.840.113549.1.9.1")
        );
        assert_eq!(
            oid_to_string(&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19]).as_deref(),
            Some("0.9.2342.19200300.100.1.25")
        );
        assert_eq!(
            oid_to_string(&[0x00, 0x09, 0x8f, 0x7f, 0x00]).as_deref(),
            Some("0.0.9.2047.0")
        );
        // An arc past 64 bits (up to 128 are written).
        assert_eq!(
            oid_to_string(&[
                0x2a, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00
            ])
            .as_deref(),
            Some("1.2.18446744073709551616")
        );
    }

    #[test]
    fn malformed_oids_are_rejected() {
        assert_eq!(oid_to_string(&[]), None);
        assert_eq!(oid_to_string(&[0x55, 0x84]), None);
        assert_eq!(oid_to_string(&[0x55, 0x80, 0x01]), None);
    }

    #[test]
    fn lengths_must_be_definite_and_minimal() {
        assert_eq!(read_header(&[0x30, 0x03]), Ok((2, 3)));
        assert_eq!(read_header(&[0x30, 0x81, 0x80]), Ok((3, 0x80)));
        assert_eq!(read_header(&[0x30, 0x80]), Err(DerError::Invalid { at: 1 }));
        assert_eq!(
            read_header(&[0x30, 0x81, 0x05]),
            Err(DerError::Invalid { at: 1 })
        );
        assert_eq!(
            read_header(&[0x30, 0x82, 0x00, 0x90]),
            Err(DerError::Invalid { at: 1 })
        );
        assert_eq!(
            read_header(&[0x30, 0x82, 0x01]),
            Err(DerError::Truncated { at: 3 })
        );
    }

    #[test]
    fn a_value_longer_than_its_input_is_truncated() {
        let mut r = Reader::new(&[0x04, 0x05, 0x01, 0x02]);
        assert_eq!(r.read().unwrap_err(), DerError::Truncated { at: 4 });
    }
}
