//! `validate-jwt`: the keys a token may be signed with, and the checks of APIM's policy
//! in the order its validator (.NET IdentityModel) makes them: form, signature, lifetime,
//! audience, issuer, then the required claims.
//!
//! JOSE is `jsonwebtoken`'s (header and JWK parsing, the algorithm and key-family match)
//! with ring doing the signature arithmetic ([`ring_provider`]). Lifetime, audience and
//! issuer are checked here rather than by the crate: against the request's clock
//! (`context` time, which tests set) and with APIM's failure reasons.

mod es512;
pub(crate) mod oidc;
mod ring_provider;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

pub(crate) use oidc::OpenIdKeys;

use crate::expr::MAX_TOKEN_BYTES;

/// One verification key and the `kid` it answers to (`<key id="...">`, a JWK's `kid`).
#[derive(Clone, Debug)]
pub(crate) struct SigningKey {
    pub kid: Option<String>,
    pub key: VerifyKey,
}

/// A key `jsonwebtoken` verifies with, or a P-521 key (ES512), which it lacks.
#[derive(Clone)]
pub enum VerifyKey {
    Jose(DecodingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyKey::Jose(key) => key.fmt(f),
            // p521's key has no Debug of its own
            VerifyKey::P521(_) => f.write_str("P521"),
        }
    }
}

/// A signature algorithm certgate verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Jose(Algorithm),
    Es512,
}

impl Alg {
    /// Whether `key` is of this algorithm's family: an HMAC token is never checked with a
    /// public key, nor an RSA token with an EC key.
    fn fits(self, key: &VerifyKey) -> bool {
        match (self, key) {
            (Alg::Jose(alg), VerifyKey::Jose(key)) => key.family() == alg.family(),
            (Alg::Es512, VerifyKey::P521(_)) => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Alg::Jose(alg) => write!(f, "{alg:?}"),
            Alg::Es512 => f.write_str("ES512"),
        }
    }
}

/// Why one key did not verify a token.
enum Refused {
    /// Not this key's signature: the next key may verify it.
    Signature,
    /// The token itself is broken, whatever the key.
    Malformed(String),
}

/// Why a token is refused: `context.LastError.Reason` and `.Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub reason: &'static str,
    pub message: String,
}

fn reject(reason: &'static str, message: impl std::fmt::Display) -> Rejection {
    Rejection {
        reason,
        message: format!("JWT Validation Failed: {message}."),
    }
}

/// One `<claim>` of `<required-claims>`, its values evaluated for this request.
#[derive(Debug, Clone)]
pub(crate) struct ClaimCheck {
    pub name: String,
    pub match_all: bool,
    pub separator: Option<String>,
    pub values: Vec<String>,
}

/// The checks of one `validate-jwt`, evaluated for this request.
#[derive(Debug, Clone)]
pub(crate) struct Checks {
    pub audiences: Vec<String>,
    pub issuers: Vec<String>,
    pub require_expiration_time: bool,
    pub clock_skew_secs: i64,
    /// Unix seconds.
    pub now: i64,
    pub claims: Vec<ClaimCheck>,
}

/// The header of a token, read before any key is chosen.
struct Header {
    alg: String,
    kid: Option<String>,
}

fn header(token: &str) -> Result<Header, Rejection> {
    let malformed = |why: &str| reject("JwtInvalid", format!("the token is not a JWT ({why})"));
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "a JWS has three base64url parts separated by dots; encrypted tokens (JWE) are not supported",
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| malformed("its header is not base64url"))?;
    let json: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| malformed("its header is not a JSON object"))?;
    let alg = match json.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(malformed("its header has no alg")),
    };
    let kid = match json.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        _ => None,
    };
    Ok(Header { alg, kid })
}

/// Checks `token` against `keys` and `checks`.
pub(crate) fn validate(token: &str, keys: &[SigningKey], checks: &Checks) -> Result<(), Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(reject(
            "JwtInvalid",
            format!("the token is longer than {MAX_TOKEN_BYTES} bytes"),
        ));
    }
    let header = header(token)?;
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(reject(
            "TokenSignatureInvalid",
            "the token is not signed (alg none) and unsigned tokens are never accepted",
        ));
    }
    let algorithm = match header.alg.parse() {
        Ok(a @ (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        | Ok(a @ (Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512))
        | Ok(a @ (Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512))
        | Ok(a @ (Algorithm::ES256 | Algorithm::ES384)) => Alg::Jose(a),
        _ if header.alg == "ES512" => Alg::Es512,
        _ => {
            return Err(reject(
                "TokenSignatureInvalid",
                format!(
                    "the signature algorithm {} is not supported (certgate verifies HS256/384/512, RS256/384/512, PS256/384/512 and ES256/384/512)",
                    header.alg
                ),
            ));
        }
    };
    let claims = verify_signature(token, &header, algorithm, keys)?;
    check_claims(&claims, checks)
}

/// The keys to try: those of the algorithm's family (an HMAC token is never checked with a
/// public key), narrowed to the token's `kid` when a key has it.
fn verify_signature(
    token: &str,
    header: &Header,
    algorithm: Alg,
    keys: &[SigningKey],
) -> Result<Map<String, Value>, Rejection> {
    ring_provider::install();
    let family: Vec<&SigningKey> = keys.iter().filter(|k| algorithm.fits(&k.key)).collect();
    let by_kid: Vec<&SigningKey> = match &header.kid {
        Some(kid) => family
            .iter()
            .copied()
            .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
            .collect(),
        None => Vec::new(),
    };
    let kid_matched = !by_kid.is_empty();
    let candidates = if kid_matched { by_kid } else { family };
    if candidates.is_empty() {
        let kind = match algorithm {
            Alg::Jose(alg) if alg.family() == AlgorithmFamily::Hmac => "symmetric",
            _ => "public",
        };
        return Err(reject(
            "TokenSignatureKeyNotFound",
            format!(
                "no {kind} key to check a {} signature{}",
                algorithm,
                header
                    .kid
                    .as_deref()
                    .map(|kid| format!(" (kid {kid})"))
                    .unwrap_or_default()
            ),
        ));
    }
    for candidate in &candidates {
        let verified = match (algorithm, &candidate.key) {
            (Alg::Jose(algorithm), VerifyKey::Jose(key)) => jose_verify(token, algorithm, key),
            (Alg::Es512, VerifyKey::P521(key)) => es512::verify(token, key),
            _ => Err(Refused::Signature),
        };
        match verified {
            Ok(claims) => return Ok(claims),
            Err(Refused::Signature) => {}
            Err(Refused::Malformed(why)) => {
                return Err(reject(
                    "JwtInvalid",
                    format!("the token is not a valid JWT ({why})"),
                ));
            }
        }
    }
    match &header.kid {
        Some(kid) if !kid_matched => Err(reject(
            "TokenSignatureKeyNotFound",
            format!(
                "no signing key has the token's kid {kid}, and no other key verifies its signature"
            ),
        )),
        _ => Err(reject(
            "TokenSignatureInvalid",
            format!(
                "the signature is invalid (keys tried: {})",
                candidates.len()
            ),
        )),
    }
}

/// The token's claims when `key` verifies its signature, by `jsonwebtoken` and ring;
/// lifetime and audience are left to [`check_claims`].
fn jose_verify(
    token: &str,
    algorithm: Algorithm,
    key: &DecodingKey,
) -> Result<Map<String, Value>, Refused> {
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey => Err(Refused::Signature),
            _ => Err(Refused::Malformed(e.to_string())),
        },
    }
}

/// A NumericDate claim (RFC 7519: seconds, possibly fractional).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)) {
            Some(n) => Ok(Some(n)),
            None => Err(reject(
                "JwtInvalid",
                format!("the {name} claim is not a date"),
            )),
        },
        Some(_) => Err(reject(
            "JwtInvalid",
            format!("the {name} claim is not a NumericDate"),
        )),
    }
}

/// The string values of a claim: a string (split by `separator` when given), the strings
/// of an array, or the JSON text of anything else.
fn claim_values(value: &Value, separator: Option<&str>) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let items: Vec<String> = match value {
        Value::Array(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    };
    match separator {
        Some(sep) if !sep.is_empty() => items
            .iter()
            .flat_map(|s| s.split(sep).map(str::to_owned))
            .collect(),
        _ => items,
    }
}

fn check_claims(claims: &Map<String, Value>, checks: &Checks) -> Result<(), Rejection> {
    let skew = checks.clock_skew_secs;
    match numeric_date(claims, "exp")? {
        None if checks.require_expiration_time => {
            return Err(reject(
                "TokenExpired",
                "the token has no expiration time (exp); set require-expiration-time=\"false\" to accept such tokens",
            ));
        }
        // Expired once the skew past exp is over, as IdentityModel judges it.
        Some(exp) if exp.saturating_add(skew) < checks.now => {
            return Err(reject(
                "TokenExpired",
                format!(
                    "Lifetime validation failed. The token is expired. ValidTo (exp): {exp}, current time: {}",
                    checks.now
                ),
            ));
        }
        _ => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && nbf.saturating_sub(skew) > checks.now
    {
        return Err(reject(
            "TokenNotYetValid",
            format!(
                "Lifetime validation failed. The token is not yet valid. ValidFrom (nbf): {nbf}, current time: {}",
                checks.now
            ),
        ));
    }
    if !checks.audiences.is_empty() {
        let audiences = claims
            .get("aud")
            .map(|aud| claim_values(aud, None))
            .unwrap_or_default();
        if !audiences.iter().any(|a| checks.audiences.contains(a)) {
            return Err(reject(
                "TokenAudienceNotAllowed",
                format!(
                    "Audience validation failed. Audiences: '{}'. Did not match any of the allowed audiences",
                    audiences.join(", ")
                ),
            ));
        }
    }
    if !checks.issuers.is_empty() {
        let issuer = match claims.get("iss") {
            Some(Value::String(iss)) => Some(iss.as_str()),
            _ => None,
        };
        if !issuer.is_some_and(|iss| checks.issuers.iter().any(|i| i == iss)) {
            return Err(reject(
                "TokenIssuerNotAllowed",
                format!(
                    "Issuer validation failed. Issuer: '{}'. Did not match any of the allowed issuers",
                    issuer.unwrap_or("")
                ),
            ));
        }
    }
    for check in &checks.claims {
        let Some(value) = claims.get(&check.name) else {
            return Err(reject(
                "TokenClaimNotFound",
                format!("Claim not found: {}", check.name),
            ));
        };
        if check.values.is_empty() {
            continue;
        }
        let present = claim_values(value, check.separator.as_deref());
        let found = |v: &String| present.contains(v);
        let ok = if check.match_all {
            check.values.iter().all(found)
        } else {
            check.values.iter().any(found)
        };
        if !ok {
            return Err(reject(
                "TokenClaimValueNotAllowed",
                format!("Claim value mismatch: {}={}", check.name, present.join(",")),
            ));
        }
    }
    Ok(())
}

/// A key from the base64 text of `<key>`: an HMAC secret.
pub(crate) fn symmetric_key(base64_text: &str) -> Result<VerifyKey, String> {
    let text = base64_text.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| {
            format!("`{text}` is not base64; <key> holds a base64-encoded symmetric signing key")
        })?;
    // .NET IdentityModel refuses shorter HMAC keys too (IDX10720); a short secret can be
    // guessed offline from any one token.
    if bytes.len() < 32 {
        return Err(format!(
            "the key is {} bits; an HMAC signing key needs at least 256 bits",
            bytes.len() * 8
        ));
    }
    DecodingKey::from_secret(&bytes)
        .map(VerifyKey::Jose)
        .map_err(|_| "the key is empty".to_owned())
}

/// A key from `n` and `e` (base64url, as in a JWK).
pub(crate) fn rsa_key(n: &str, e: &str) -> Result<VerifyKey, String> {
    let decode = |name: &str, v: &str| {
        URL_SAFE_NO_PAD
            .decode(v.trim().trim_end_matches('='))
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let (n, e) = (decode("n", n)?, decode("e", e)?);
    if n.len() < 256 || e.is_empty() {
        return Err("the modulus must be at least 2048 bits and the exponent not empty".to_owned());
    }
    Ok(VerifyKey::Jose(DecodingKey::from_rsa_raw_components(
        &n, &e,
    )))
}

/// The public key of an uploaded certificate (RSA, or EC on P-256, P-384 or P-521).
pub(crate) fn certificate_key(der: &[u8]) -> Result<VerifyKey, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the certificate does not parse ({e})"))?;
    let spki = &cert.tbs_certificate.subject_pki;
    let bits = spki.subject_public_key.data.as_ref();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => Ok(VerifyKey::Jose(DecodingKey::from_rsa_der(bits))),
        "1.2.840.10045.2.1" => match bits.len() {
            65 | 97 => Ok(VerifyKey::Jose(DecodingKey::from_ec_der(bits))),
            133 => es512::key_from_point(bits).map(VerifyKey::P521),
            _ => Err("its EC key is not an uncompressed point on P-256, P-384 or P-521".to_owned()),
        },
        other => Err(format!(
            "its key algorithm {other} cannot verify JWTs (use RSA or EC P-256/P-384/P-521)"
        )),
    }
}

/// Calls `f` with every `validate-jwt` of `policies` (inbound, within `choose` too).
pub(crate) fn each_validate_jwt<'p>(
    policies: impl IntoIterator<Item = &'p crate::policy::EffectivePolicy>,
    f: &mut dyn FnMut(&crate::policy::ValidateJwt),
) {
    use crate::policy::{Node, Policy, SectionKind};
    fn walk(node: &Node, f: &mut dyn FnMut(&crate::policy::ValidateJwt)) {
        match &node.policy {
            Policy::ValidateJwt(j) => f(j),
            _ => node.children().into_iter().for_each(|n| walk(n, f)),
        }
    }
    for policy in policies {
        for step in policy.section(SectionKind::Inbound) {
            walk(&step.node, f);
        }
    }
}

/// Resolves the `certificate-id` keys of `policies` against the deployment's uploaded
/// certificates, once, at load; the first that names no certificate, or one whose key
/// cannot verify JWTs, is the error.
pub(crate) fn resolve_certificate_keys<'p>(
    policies: impl IntoIterator<Item = &'p crate::policy::EffectivePolicy>,
    uploaded: &crate::cert::UploadedCertificates,
) -> Result<(), crate::policy::PolicyError> {
    use crate::policy::IssuerKey;
    let mut error = None;
    each_validate_jwt(policies, &mut |j| {
        for key in &j.issuer_signing_keys {
            let IssuerKey::Certificate { id, at, key, .. } = key else {
                continue;
            };
            if error.is_some() || key.get().is_some() {
                continue;
            }
            let resolved = match uploaded.get(id) {
                Some(cert) => certificate_key(cert.der()).map_err(|why| {
                    format!(
                        "certificate-id `{id}`: certificates/{id}.pem cannot verify JWTs: {why}"
                    )
                }),
                None => Err(format!(
                    "certificate-id `{id}`: the deployment has no certificates/{id}.pem; upload the signing certificate there"
                )),
            };
            match resolved {
                Ok(decoded) => {
                    let _ = key.set(decoded);
                }
                Err(message) => {
                    error = Some(crate::policy::PolicyError::Structure {
                        at: at.clone(),
                        message,
                    });
                }
            }
        }
    });
    error.map_or(Ok(()), Err)
}
