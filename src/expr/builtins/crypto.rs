//! The hash and HMAC types of APIM's allowed list (`SHA256.Create().ComputeHash(b)`,
//! `new HMACSHA256(key).ComputeHash(b)`): ring for the SHA family, `md-5` for MD5.

use md5::Digest;
use ring::{digest, hmac};

use super::super::types::HashAlg;

/// `ComputeHash` of a hash algorithm.
pub(crate) fn hash(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    let ring_alg = match alg {
        HashAlg::Md5 => return md5::Md5::digest(data).to_vec(),
        HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    };
    digest::digest(ring_alg, data).as_ref().to_vec()
}

/// `ComputeHash` of an HMAC with `key` (RFC 2104; for MD5 built on the hash, as ring
/// has no HMAC-MD5).
pub(crate) fn hmac(alg: HashAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    let ring_alg = match alg {
        HashAlg::Md5 => return hmac_md5(key, data),
        HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    };
    hmac::sign(&hmac::Key::new(ring_alg, key), data)
        .as_ref()
        .to_vec()
}

fn hmac_md5(key: &[u8], data: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        let h = md5::Md5::digest(key);
        k[..h.len()].copy_from_slice(&h);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |x: u8| k.iter().map(move |b| b ^ x).collect::<Vec<u8>>();
    let mut inner = md5::Md5::new();
    inner.update(pad(0x36));
    inner.update(data);
    let mut outer = md5::Md5::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_md5_matches_rfc_2202() {
        // RFC 2202 test cases 1 and 2
        assert_eq!(
            hex(&hmac(HashAlg::Md5, &[0x0b; 16], b"Hi There")),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex(&hmac(
                HashAlg::Md5,
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        // a key longer than a block is hashed first (test case 6)
        assert_eq!(
            hex(&hmac(
                HashAlg::Md5,
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
    }
}
