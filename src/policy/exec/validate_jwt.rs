//! `validate-jwt`: finds the token, gathers the keys (inline, uploaded certificates, the
//! last good keys of each `openid-config`) and the checks for this request, and refuses
//! the request with APIM's reason when the token does not pass. Nothing here does I/O:
//! OpenID keys were fetched off the request path (`policy::jwt::oidc`).

use http::StatusCode;

use super::{Failure, param};
use crate::expr::Context;
use crate::policy::elements::{IssuerKey, TokenSource, ValidateJwt};
use crate::policy::jwt::{self, Checks, ClaimCheck, Rejection, SigningKey};

const POLICY: &str = "validate-jwt";

/// Checks the request's token; the token when it passes.
pub(super) fn validate_jwt(j: &ValidateJwt, ctx: &Context) -> Result<String, Failure> {
    let code = param::eval(&j.failed_validation_httpcode, ctx, POLICY)?;
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::UNAUTHORIZED);
    let public = match &j.failed_validation_error_message {
        Some(message) => Some(param::eval(message, ctx, POLICY)?),
        None => None,
    };
    let refuse = |rejection: Rejection| {
        let mut failure = Failure::new(POLICY, rejection.reason, rejection.message, status);
        failure.public_message = Some(public.clone().unwrap_or_else(|| failure.message.clone()));
        failure
    };
    let Some(token) = token(j, ctx)? else {
        return Err(refuse(Rejection {
            reason: "TokenNotPresent",
            message: "JWT not present.".to_owned(),
        }));
    };
    let mut keys: Vec<SigningKey> = Vec::new();
    let mut issuers = Vec::new();
    for key in &j.issuer_signing_keys {
        match key {
            IssuerKey::Inline(handle) => keys.push(handle.key.clone()),
            IssuerKey::Certificate { kid, key, .. } => {
                // Resolved at load; unresolved is a key less, never a pass.
                if let Some(key) = key.get() {
                    keys.push(SigningKey {
                        kid: kid.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
    }
    for config in &j.openid_configs {
        if let Some(fetched) = config.current() {
            keys.extend(fetched.keys.iter().cloned());
            issuers.extend(fetched.issuer.clone());
        }
    }
    for issuer in &j.issuers {
        issuers.push(param::eval(issuer, ctx, POLICY)?);
    }
    let checks = Checks {
        audiences: j
            .audiences
            .iter()
            .map(|a| param::eval(a, ctx, POLICY))
            .collect::<Result<_, _>>()?,
        issuers,
        require_expiration_time: param::eval(&j.require_expiration_time, ctx, POLICY)?,
        clock_skew_secs: i64::from(param::eval(&j.clock_skew, ctx, POLICY)?),
        now: ctx.now.unix_timestamp(),
        claims: j
            .required_claims
            .iter()
            .map(|c| {
                Ok(ClaimCheck {
                    name: c.name.clone(),
                    match_all: c.match_all,
                    separator: c.separator.clone(),
                    values: c
                        .values
                        .iter()
                        .map(|v| param::eval(v, ctx, POLICY))
                        .collect::<Result<_, Failure>>()?,
                })
            })
            .collect::<Result<_, Failure>>()?,
    };
    jwt::validate(&token, &keys, &checks).map_err(refuse)?;
    Ok(token)
}

/// The token of the request, `None` when there is none.
fn token(j: &ValidateJwt, ctx: &Context) -> Result<Option<String>, Failure> {
    let text = match &j.token {
        TokenSource::Header(name) => {
            let name = param::eval(name, ctx, POLICY)?;
            let Some(value) = ctx
                .request
                .headers
                .get(&name)
                .and_then(|values| values.first())
            else {
                return Ok(None);
            };
            let value = value.trim();
            // APIM checks require-scheme only on Authorization (its reference, usage notes).
            match &j.require_scheme {
                Some(scheme) if name.eq_ignore_ascii_case("authorization") => {
                    let scheme = param::eval(scheme, ctx, POLICY)?;
                    match strip_scheme(value, &scheme) {
                        Some(token) => token.to_owned(),
                        None => return Ok(None),
                    }
                }
                _ => strip_scheme(value, "Bearer").unwrap_or(value).to_owned(),
            }
        }
        TokenSource::Query(name) => {
            let name = param::eval(name, ctx, POLICY)?;
            match ctx
                .request
                .url
                .query
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, values)| values.first())
            {
                Some(value) => value.trim().to_owned(),
                None => return Ok(None),
            }
        }
        TokenSource::Value(value) => param::eval(value, ctx, POLICY)?.trim().to_owned(),
    };
    Ok((!text.is_empty()).then_some(text))
}

/// `value` without its leading `scheme ` (any case); `None` when it has another scheme.
fn strip_scheme<'v>(value: &'v str, scheme: &str) -> Option<&'v str> {
    let (first, rest) = value.split_once(' ')?;
    first
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::strip_scheme;

    #[test]
    fn the_scheme_is_matched_without_case_and_removed() {
        assert_eq!(strip_scheme("Bearer abc", "Bearer"), Some("abc"));
        assert_eq!(strip_scheme("bearer  abc", "Bearer"), Some("abc"));
        assert_eq!(strip_scheme("Basic abc", "Bearer"), None);
        assert_eq!(strip_scheme("abc", "Bearer"), None);
    }
}
