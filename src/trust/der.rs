//! The few DER steps the trust store needs beyond webpki and x509-parser: splitting a
//! signed structure into its to-be-signed bytes, algorithm and signature, and a
//! SubjectPublicKeyInfo into algorithm and key. Bounded and panic-free on any input;
//! TLVs are read by `cert`'s DER reader.

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const BIT_STRING: u8 = 0x03;

/// One tag-length-value: its contents, and the whole encoding (tag and length included).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) contents: &'a [u8],
    pub(crate) full: &'a [u8],
}

/// Reads one TLV (single-byte tag) with the crate's one DER reader
/// ([`crate::cert::der::Reader`]: definite, minimal lengths) and returns it with the
/// rest of the input.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tlv = crate::cert::der::Reader::new(input).read().ok()?;
    let tag = *tlv.raw.first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags are not used in the structures we read
    }
    let rest = input.get(tlv.raw.len()..)?;
    Some((
        Tlv {
            tag,
            contents: tlv.content,
            full: tlv.raw,
        },
        rest,
    ))
}

fn expect(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    read_tlv(input).filter(|(tlv, _)| tlv.tag == tag)
}

/// `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }`: the signed data of a
/// certificate or CRL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedData<'a> {
    /// The whole to-be-signed encoding: what the signature covers.
    pub(crate) tbs: &'a [u8],
    /// AlgorithmIdentifier contents (without the outer SEQUENCE), as webpki compares them.
    pub(crate) algorithm: &'a [u8],
    pub(crate) signature: &'a [u8],
}

pub(crate) fn signed_data(der: &[u8]) -> Option<SignedData<'_>> {
    let (outer, _) = expect(der, SEQUENCE)?;
    let (tbs, rest) = expect(outer.contents, SEQUENCE)?;
    let (algorithm, rest) = expect(rest, SEQUENCE)?;
    let (signature, rest) = expect(rest, BIT_STRING)?;
    if !rest.is_empty() {
        return None;
    }
    Some(SignedData {
        tbs: tbs.full,
        algorithm: algorithm.contents,
        signature: bit_string_bytes(signature.contents)?,
    })
}

/// `SEQUENCE { AlgorithmIdentifier, BIT STRING }`: algorithm contents and key bytes.
pub(crate) fn spki_parts(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (outer, _) = expect(spki, SEQUENCE)?;
    let (algorithm, rest) = expect(outer.contents, SEQUENCE)?;
    let (key, _) = expect(rest, BIT_STRING)?;
    Some((algorithm.contents, bit_string_bytes(key.contents)?))
}

fn bit_string_bytes(contents: &[u8]) -> Option<&[u8]> {
    match contents.split_first() {
        Some((0, bytes)) => Some(bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths_and_refuses_garbage() {
        let (tlv, rest) = read_tlv(&[0x30, 0x02, 1, 2, 9]).unwrap();
        assert_eq!(
            (tlv.tag, tlv.contents, rest),
            (0x30, &[1u8, 2][..], &[9u8][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        let (tlv, _) = read_tlv(&long).unwrap();
        assert_eq!(tlv.contents.len(), 0x80);
        assert_eq!(tlv.full.len(), 0x83);
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 1],
            &[0x30, 0x80],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x1f, 0x01, 0],
        ] {
            assert!(read_tlv(bad).is_none(), "{bad:?}");
        }
        assert!(signed_data(&[0x30, 0x00]).is_none());
        assert!(spki_parts(&[0xff; 40]).is_none());
    }
}
