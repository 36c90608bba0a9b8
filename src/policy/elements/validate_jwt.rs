//! `<validate-jwt>`: attributes and children read and checked at load.

use std::sync::{Arc, OnceLock};

use super::{
    Attrs, PolicyError, XmlElement, any_text, child_elements, invalid_value, no_children,
    non_empty, parse_bool, parse_status, structure, value_children,
};
use crate::policy::jwt::{self, OpenIdKeys, SigningKey};
use crate::policy::value::Param;

/// Where the token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `header-name`: with `Authorization` and `require-scheme`, the scheme is checked and
    /// removed; otherwise a leading `Bearer ` is removed, as APIM does.
    Header(Param<String>),
    /// `query-parameter-name`.
    Query(Param<String>),
    /// `token-value`: the token itself.
    Value(Param<String>),
}

/// A key of `<issuer-signing-keys>`.
#[derive(Debug, Clone)]
pub enum IssuerKey {
    /// Base64 text (HMAC secret) or `n`/`e`, decoded at load.
    Inline(SigningKeyHandle),
    /// `certificate-id`: the public key of `certificates/<id>.pem`, resolved when the
    /// deployment loads (`resolve_certificate_keys`; a missing or unusable
    /// certificate is a load error). Unresolved (a document parsed on its own), it is no key.
    Certificate {
        kid: Option<String>,
        id: String,
        at: crate::policy::Location,
        key: Arc<OnceLock<jwt::VerifyKey>>,
    },
}

/// A decoded key, compared by the text it was written as.
#[derive(Debug, Clone)]
pub struct SigningKeyHandle {
    pub(crate) key: SigningKey,
    source: String,
}

impl PartialEq for IssuerKey {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Inline(a), Self::Inline(b)) => a.source == b.source && a.key.kid == b.key.kid,
            (Self::Certificate { kid: a, id: x, .. }, Self::Certificate { kid: b, id: y, .. }) => {
                a == b && x == y
            }
            _ => false,
        }
    }
}

impl Eq for IssuerKey {}

/// `<claim name match separator>` with its `<value>`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredClaim {
    pub name: String,
    /// `match="all"` (the default) or `any`.
    pub match_all: bool,
    pub separator: Option<String>,
    pub values: Vec<Param<String>>,
}

/// `<validate-jwt>` (APIM's validate-jwt policy reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateJwt {
    pub token: TokenSource,
    /// Default 401.
    pub failed_validation_httpcode: Param<u16>,
    /// Default: the message of the failure.
    pub failed_validation_error_message: Option<Param<String>>,
    /// Default true.
    pub require_expiration_time: Param<bool>,
    pub require_scheme: Option<Param<String>>,
    /// Seconds; default 0.
    pub clock_skew: Param<u32>,
    pub output_token_variable_name: Option<String>,
    pub(crate) openid_configs: Vec<Arc<OpenIdKeys>>,
    pub issuer_signing_keys: Vec<IssuerKey>,
    pub audiences: Vec<Param<String>>,
    pub issuers: Vec<Param<String>>,
    pub required_claims: Vec<RequiredClaim>,
}

pub(super) const ATTRIBUTES: &[&str] = &[
    "id",
    "header-name",
    "query-parameter-name",
    "token-value",
    "failed-validation-httpcode",
    "failed-validation-error-message",
    "require-expiration-time",
    "require-scheme",
    "require-signed-tokens",
    "clock-skew",
    "output-token-variable-name",
];

/// Child elements in the documented order: `openid-config` one or more times, the
/// others at most once.
const CHILDREN: [&str; 6] = [
    "openid-config",
    "issuer-signing-keys",
    "decryption-keys",
    "audiences",
    "issuers",
    "required-claims",
];

/// `clock-skew`: whole seconds, or a .NET TimeSpan `hh:mm:ss`.
fn parse_skew(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let parts: Vec<&str> = s.split(':').collect();
    let seconds = match parts.as_slice() {
        [secs] => secs.parse::<u32>().ok(),
        [h, m, sec] => match (h.parse::<u32>(), m.parse::<u32>(), sec.parse::<u32>()) {
            (Ok(h), Ok(m), Ok(sec)) if m < 60 && sec < 60 => h
                .checked_mul(3600)
                .and_then(|h| h.checked_add(m * 60 + sec)),
            _ => None,
        },
        _ => None,
    };
    seconds.ok_or_else(|| {
        format!("`{s}` is not a clock skew; write whole seconds (e.g. 300) or hh:mm:ss")
    })
}

pub(super) fn validate_jwt(el: &XmlElement, a: &Attrs<'_>) -> Result<ValidateJwt, PolicyError> {
    let sources = [
        a.param("header-name", non_empty)?.map(TokenSource::Header),
        a.param("query-parameter-name", non_empty)?
            .map(TokenSource::Query),
        a.param("token-value", any_text)?.map(TokenSource::Value),
    ];
    let mut given = sources.into_iter().flatten();
    let (Some(token), None) = (given.next(), given.next()) else {
        return Err(structure(
            el,
            "<validate-jwt> needs exactly one of header-name, query-parameter-name or token-value",
        ));
    };
    if let Some(v) = a.get("require-signed-tokens")
        && a.literal("require-signed-tokens", parse_bool)? != Some(true)
    {
        return Err(a.invalid(
            "require-signed-tokens",
            v,
            "certgate always requires signed tokens: unsigned JWTs (alg none) are refused; remove the attribute or set it to true",
        ));
    }
    let mut jwt = ValidateJwt {
        token,
        failed_validation_httpcode: a
            .param("failed-validation-httpcode", parse_status)?
            .unwrap_or_else(|| Param::Literal(401, a.empty())),
        failed_validation_error_message: a.param("failed-validation-error-message", any_text)?,
        require_expiration_time: a
            .param("require-expiration-time", parse_bool)?
            .unwrap_or_else(|| Param::Literal(true, a.empty())),
        require_scheme: a.param("require-scheme", non_empty)?,
        clock_skew: a
            .param("clock-skew", parse_skew)?
            .unwrap_or_else(|| Param::Literal(0, a.empty())),
        output_token_variable_name: a.literal("output-token-variable-name", non_empty)?,
        openid_configs: Vec::new(),
        issuer_signing_keys: Vec::new(),
        audiences: Vec::new(),
        issuers: Vec::new(),
        required_claims: Vec::new(),
    };
    let mut last: Option<usize> = None;
    for child in child_elements(el)? {
        let Some(index) = CHILDREN.iter().position(|n| *n == child.name) else {
            return Err(PolicyError::UnknownElement {
                at: child.at.clone(),
                name: child.name.clone(),
                hint: " in <validate-jwt>: only <openid-config>, <issuer-signing-keys>, <audiences>, <issuers> and <required-claims> are allowed".into(),
            });
        };
        // openid-config may repeat; the others appear once, in the documented order.
        if last.is_some_and(|l| l > index || (l == index && index != 0)) {
            return Err(structure(
                child,
                "<validate-jwt> takes <openid-config> (one or more), <issuer-signing-keys>, <audiences>, <issuers> and <required-claims> once each, in that order",
            ));
        }
        last = Some(index);
        match child.name.as_str() {
            "openid-config" => {
                let o = Attrs::new(child, &["url"])?;
                no_children(child)?;
                let url = o.required(o.literal("url", super::absolute_url)?, "url")?;
                jwt.openid_configs.push(OpenIdKeys::for_url(url.trim()));
            }
            "issuer-signing-keys" => {
                Attrs::new(child, &[])?;
                for key in child_elements(child)? {
                    jwt.issuer_signing_keys.push(issuer_key(child, key)?);
                }
            }
            "decryption-keys" => {
                return Err(structure(
                    child,
                    "certgate does not decrypt tokens (JWE): <decryption-keys> is not supported; remove it and send signed (JWS) tokens",
                ));
            }
            "audiences" => {
                Attrs::new(child, &[])?;
                jwt.audiences = value_children(child, "audience", non_empty)?;
                if jwt.audiences.is_empty() {
                    return Err(structure(
                        child,
                        "<audiences> needs at least one <audience>",
                    ));
                }
            }
            "issuers" => {
                Attrs::new(child, &[])?;
                jwt.issuers = value_children(child, "issuer", non_empty)?;
                if jwt.issuers.is_empty() {
                    return Err(structure(child, "<issuers> needs at least one <issuer>"));
                }
            }
            _ => {
                Attrs::new(child, &[])?;
                for claim in child_elements(child)? {
                    jwt.required_claims.push(required_claim(child, claim)?);
                }
            }
        }
    }
    if jwt.openid_configs.is_empty() && jwt.issuer_signing_keys.is_empty() {
        return Err(structure(
            el,
            "<validate-jwt> needs signing keys to check tokens with: add <openid-config url=\"...\"/> or <issuer-signing-keys>",
        ));
    }
    Ok(jwt)
}

fn issuer_key(parent: &XmlElement, el: &XmlElement) -> Result<IssuerKey, PolicyError> {
    if el.name != "key" {
        return Err(PolicyError::UnknownElement {
            at: el.at.clone(),
            name: el.name.clone(),
            hint: format!(" in <{}>: only <key> is allowed", parent.name),
        });
    }
    let k = Attrs::new(el, &["id", "certificate-id", "n", "e"])?;
    let kid = k.literal("id", non_empty)?;
    let certificate = k.literal("certificate-id", non_empty)?;
    let n = k.literal("n", non_empty)?;
    let e = k.literal("e", non_empty)?;
    let (text, text_at) = match super::text_param(el, any_text)? {
        Param::Expression(expression) => {
            return Err(invalid_value(
                "key",
                "text",
                expression.source(),
                "policy expressions are not allowed in <key>; write the base64 key",
            ));
        }
        Param::Literal(s, at) => (s.trim().to_owned(), at),
    };
    let inline = |key: Result<jwt::VerifyKey, String>, attribute: &str| {
        let source = format!(
            "{text}|{}|{}",
            n.as_deref().unwrap_or(""),
            e.as_deref().unwrap_or("")
        );
        match key {
            Ok(key) => Ok(IssuerKey::Inline(SigningKeyHandle {
                key: SigningKey {
                    kid: kid.clone(),
                    key,
                },
                source,
            })),
            Err(message) => Err(match k.get(attribute) {
                Some(v) => k.invalid(attribute, v, &message),
                None => invalid_value("key", "text", &text_at, &message),
            }),
        }
    };
    match (certificate, n.as_deref(), e.as_deref(), text.is_empty()) {
        (Some(id), None, None, true) => Ok(IssuerKey::Certificate {
            kid,
            id,
            at: el.at.clone(),
            key: Arc::default(),
        }),
        (None, Some(n), Some(e), true) => inline(jwt::rsa_key(n, e), "n"),
        (None, None, None, false) => inline(jwt::symmetric_key(&text), "text"),
        (None, Some(_), None, _) | (None, None, Some(_), _) => Err(structure(
            el,
            "<key> needs both n (modulus) and e (exponent) for an RSA key",
        )),
        _ => Err(structure(
            el,
            "<key> holds exactly one of: a base64 symmetric key as its text, certificate-id=\"...\", or n=\"...\" e=\"...\"",
        )),
    }
}

fn required_claim(parent: &XmlElement, el: &XmlElement) -> Result<RequiredClaim, PolicyError> {
    if el.name != "claim" {
        return Err(PolicyError::UnknownElement {
            at: el.at.clone(),
            name: el.name.clone(),
            hint: format!(" in <{}>: only <claim> is allowed", parent.name),
        });
    }
    let c = Attrs::new(el, &["name", "match", "separator"])?;
    let name = c.required(c.literal("name", non_empty)?, "name")?;
    let match_all = c
        .literal("match", |s| match s.trim() {
            "all" => Ok(true),
            "any" => Ok(false),
            other => Err(format!("`{other}` is not allowed; use all or any")),
        })?
        .unwrap_or(true);
    let separator = c.literal("separator", any_text)?.filter(|s| !s.is_empty());
    Ok(RequiredClaim {
        name: name.trim().to_owned(),
        match_all,
        separator,
        values: value_children(el, "value", any_text)?,
    })
}
