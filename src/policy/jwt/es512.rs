//! ES512 (ECDSA on P-521 with SHA-512, RFC 7518 §3.4), which neither ring nor
//! `jsonwebtoken` has: RustCrypto's `p521` does the arithmetic, this file only the JWS
//! framing around it (the signing input, the fixed-size `r || s` signature, the payload).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p521::ecdsa::signature::Verifier as _;
use p521::ecdsa::{Signature, VerifyingKey};
use serde_json::{Map, Value};

use super::Refused;

/// A JWS ES512 signature: `r` and `s`, 66 bytes each.
const SIGNATURE_BYTES: usize = 132;
/// One coordinate of a P-521 point.
const COORDINATE_BYTES: usize = 66;

/// A key from an uncompressed SEC1 point (`04 || x || y`), as in a certificate.
pub(crate) fn key_from_point(point: &[u8]) -> Result<VerifyingKey, String> {
    VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| "its P-521 key is not a point on the curve".to_owned())
}

/// A key from a JWK's `x` and `y` (base64url).
pub(crate) fn key_from_coordinates(x: &str, y: &str) -> Result<VerifyingKey, String> {
    let mut point = vec![0x04];
    for (name, text) in [("x", x), ("y", y)] {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("`{name}` is not base64url"))?;
        if bytes.len() != COORDINATE_BYTES {
            return Err(format!(
                "`{name}` is {} bytes; a P-521 coordinate is {COORDINATE_BYTES}",
                bytes.len()
            ));
        }
        point.extend_from_slice(&bytes);
    }
    key_from_point(&point)
}

/// The token's claims when `key` verifies its signature.
pub(crate) fn verify(token: &str, key: &VerifyingKey) -> Result<Map<String, Value>, Refused> {
    let malformed = |why: &str| Refused::Malformed(why.to_owned());
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| malformed("a JWS has three parts"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| malformed("its signature is not base64url"))?;
    if signature.len() != SIGNATURE_BYTES {
        return Err(Refused::Signature);
    }
    let signature = Signature::from_slice(&signature).map_err(|_| Refused::Signature)?;
    key.verify(signing_input.as_bytes(), &signature)
        .map_err(|_| Refused::Signature)?;
    let payload = signing_input
        .split_once('.')
        .map(|(_, payload)| payload)
        .ok_or_else(|| malformed("a JWS has three parts"))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| malformed("its payload is not base64url"))?;
    serde_json::from_slice(&payload).map_err(|_| malformed("its payload is not a JSON object"))
}
