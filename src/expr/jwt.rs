//! `Jwt`: what `AsJwt()` returns and `validate-jwt`'s `output-token-variable-name`
//! stores. A decoded view of a compact JWS (header and payload); `AsJwt()` checks no
//! signature, as in APIM.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

/// Largest token decoded, by `AsJwt()` and by validate-jwt, in bytes: far above real
/// access tokens (a few KB), small enough that a hostile header cannot make the gateway
/// decode megabytes.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A decoded JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwt {
    /// `alg` of the header.
    pub algorithm: String,
    /// `typ` of the header (`null` when absent).
    pub type_: Option<String>,
    /// Every claim, in token order, each as its string values: a string is one value, an
    /// array one per element, anything else its JSON text (IdentityModel's flattening).
    pub claims: Vec<(String, Vec<String>)>,
}

impl Jwt {
    /// Decodes `text` (with or without a leading `Bearer `); `None` when it is not a JWS
    /// with JSON-object header and payload.
    pub fn parse(text: &str) -> Option<Jwt> {
        let text = text.trim();
        if text.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let token = match text.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => text,
        };
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let object = |part: &str| -> Option<Map<String, Json>> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        let header = object(header)?;
        let payload = object(payload)?;
        Some(Jwt::from_parts(&header, &payload))
    }

    /// A `Jwt` from a decoded header and payload.
    pub fn from_parts(header: &Map<String, Json>, payload: &Map<String, Json>) -> Jwt {
        let text = |v: Option<&Json>| match v {
            Some(Json::String(s)) => Some(s.clone()),
            _ => None,
        };
        Jwt {
            algorithm: text(header.get("alg")).unwrap_or_default(),
            type_: text(header.get("typ")),
            claims: payload
                .iter()
                .map(|(name, value)| (name.clone(), values(value)))
                .collect(),
        }
    }

    /// The values of claim `name`.
    pub fn claim(&self, name: &str) -> Option<&[String]> {
        self.claims
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of claim `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.claim(name)?.first().map(String::as_str)
    }

    /// A NumericDate claim as a UTC date (`exp`, `nbf`, `iat`).
    pub fn date(&self, name: &str) -> Option<OffsetDateTime> {
        let seconds: f64 = self.first(name)?.parse().ok()?;
        OffsetDateTime::from_unix_timestamp(seconds as i64).ok()
    }
}

fn values(value: &Json) -> Vec<String> {
    let one = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Json::Array(items) => items.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_decodes_with_or_without_its_scheme_and_nothing_else_does() {
        let part = |j: &str| URL_SAFE_NO_PAD.encode(j);
        let token = format!(
            "{}.{}.sig",
            part(r#"{"alg":"RS256","typ":"JWT"}"#),
            part(r#"{"sub":"a","aud":["x","y"],"exp":1700000000,"obj":{"k":1}}"#)
        );
        let jwt = Jwt::parse(&format!("Bearer {token}")).unwrap();
        assert_eq!(jwt, Jwt::parse(&token).unwrap());
        assert_eq!(jwt.algorithm, "RS256");
        assert_eq!(jwt.claim("aud").unwrap(), ["x", "y"]);
        assert_eq!(jwt.claim("obj").unwrap(), [r#"{"k":1}"#]);
        assert_eq!(jwt.date("exp").unwrap().unix_timestamp(), 1_700_000_000);
        for bad in ["", "a.b", "a.b.c.d", &format!("{}.e30.x", part("[1]"))] {
            assert!(Jwt::parse(bad).is_none(), "{bad}");
        }
    }
}
