//! Policies that admit or refuse the caller: `check-header`, `ip-filter`,
//! `validate-client-certificate`.

use std::net::IpAddr;

use http::StatusCode;

use super::{Failure, param};
use crate::cert::{Certificate, NameType};
use crate::expr::Context;
use crate::policy::elements::{
    CheckHeader, Identity, IpFilter, IpFilterAction, ValidateClientCertificate,
};
use crate::trust::{Reason, Revocation, Verifier};

pub(super) fn check_header(check: &CheckHeader, ctx: &Context) -> Result<(), Failure> {
    const POLICY: &str = "check-header";
    let name = param::eval(&check.name, ctx, POLICY)?;
    let code = param::eval(&check.failed_check_httpcode, ctx, POLICY)?;
    let public = param::eval(&check.failed_check_error_message, ctx, POLICY)?;
    let ignore_case = param::eval(&check.ignore_case, ctx, POLICY)?;
    let allowed = check
        .values
        .iter()
        .map(|v| param::eval(v, ctx, POLICY))
        .collect::<Result<Vec<_>, _>>()?;
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::UNAUTHORIZED);
    let refuse = |reason: &'static str, message: String| {
        let mut failure = Failure::new(POLICY, reason, message, status);
        failure.public_message = Some(public.clone());
        failure
    };
    let Some(values) = ctx.request.headers.get(&name) else {
        return Err(refuse(
            "HeaderNotFound",
            format!("Header {name} was not found in the request. Access denied."),
        ));
    };
    if allowed.is_empty() {
        return Ok(());
    }
    let matches = |value: &str| {
        allowed.iter().any(|a| {
            if ignore_case {
                a.eq_ignore_ascii_case(value)
            } else {
                a == value
            }
        })
    };
    let joined = values.join(",");
    if values.iter().any(|v| matches(v)) || matches(&joined) {
        Ok(())
    } else {
        Err(refuse(
            "HeaderValueNotAllowed",
            format!("Header {name} value of {joined} is not allowed. Access denied."),
        ))
    }
}

pub(super) fn ip_filter(filter: &IpFilter, ctx: &Context) -> Result<(), Failure> {
    const POLICY: &str = "ip-filter";
    let action = param::eval(&filter.action, ctx, POLICY)?;
    let Ok(ip) = ctx.request.ip_address.parse::<IpAddr>() else {
        return Err(Failure::new(
            POLICY,
            "FailedToParseCallerIP",
            "Failed to establish IP address for the caller. Access denied.",
            StatusCode::FORBIDDEN,
        ));
    };
    let mut listed = false;
    for address in &filter.addresses {
        listed |= param::eval(address, ctx, POLICY)? == ip;
    }
    for range in &filter.ranges {
        let from = param::eval(&range.from, ctx, POLICY)?;
        let to = param::eval(&range.to, ctx, POLICY)?;
        listed |= in_range(ip, from, to);
    }
    match (action, listed) {
        (IpFilterAction::Allow, false) => Err(Failure::new(
            POLICY,
            "CallerIpNotAllowed",
            format!("Caller IP address {ip} is not allowed. Access denied."),
            StatusCode::FORBIDDEN,
        )),
        (IpFilterAction::Forbid, true) => Err(Failure::new(
            POLICY,
            "CallerIpBlocked",
            "Caller IP address is blocked. Access denied.",
            StatusCode::FORBIDDEN,
        )),
        _ => Ok(()),
    }
}

fn in_range(ip: IpAddr, from: IpAddr, to: IpAddr) -> bool {
    match (ip, from, to) {
        (IpAddr::V4(ip), IpAddr::V4(from), IpAddr::V4(to)) => from <= ip && ip <= to,
        (IpAddr::V6(ip), IpAddr::V6(from), IpAddr::V6(to)) => from <= ip && ip <= to,
        _ => false,
    }
}

/// `validate-client-certificate`, in the order real APIM was observed to check
/// (spec §3.3): presence, validity dates, trust (revocation with it), identities.
pub(super) fn validate_client_certificate(
    vcc: &ValidateClientCertificate,
    ctx: &Context,
    trust: &dyn Verifier,
) -> Result<(), Failure> {
    let refuse = |reason: &'static str, message: &str| {
        let mut failure = Failure::new(
            "validate-client-certificate",
            reason,
            message,
            StatusCode::UNAUTHORIZED,
        );
        failure.public_message = Some(if reason == "ClientCertificateNotFound" {
            "Client certificate missing".to_owned()
        } else {
            "Invalid client certificate".to_owned()
        });
        failure
    };
    let Some(leaf) = ctx.request.certificate.as_deref() else {
        return Err(refuse(
            "ClientCertificateNotFound",
            "The request has no client certificate.",
        ));
    };
    let now = ctx.now;
    if vcc.validate_not_before && now < leaf.not_before() {
        return Err(refuse(
            "ClientCertificateNotYetValid",
            "The client certificate is not valid yet.",
        ));
    }
    if vcc.validate_not_after && now > leaf.not_after() {
        return Err(refuse(
            "ClientCertificateExpired",
            "The client certificate has expired.",
        ));
    }
    if vcc.validate_trust || vcc.validate_revocation {
        let revocation = if vcc.validate_revocation {
            Revocation::Check
        } else {
            Revocation::NoCheck
        };
        // Dates the policy told us not to check must not fail the trust check: judge
        // the chain at a moment inside the leaf's validity instead.
        let at = now.clamp(leaf.not_before(), leaf.not_after());
        let verdict = trust.verdict(leaf, &ctx.request.certificate_chain, at, revocation);
        match verdict.reason() {
            None => {}
            Some(Reason::Revoked) if vcc.validate_revocation => {
                return Err(refuse(
                    "ClientCertificateRevoked",
                    "The client certificate has been revoked.",
                ));
            }
            Some(Reason::RevocationUnknown) if vcc.validate_revocation && !vcc.validate_trust => {
                return Err(refuse(
                    "ClientCertificateRevocationUnknown",
                    "The revocation status of the client certificate is unknown.",
                ));
            }
            Some(reason) if vcc.validate_trust => {
                return Err(refuse(
                    "ClientCertificateNotTrusted",
                    &format!(
                        "The client certificate is not trusted: {}.",
                        reason.as_str()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let matches = |id: &Identity| identity_matches(id, leaf, ctx, trust);
    if vcc.identities.is_empty() || vcc.identities.iter().any(matches) {
        Ok(())
    } else {
        Err(refuse(
            "ClientCertificateIdentityNotMatched",
            "The client certificate matches none of the identities.",
        ))
    }
}

/// All claims of the identity hold. Hex claims ignore case and leading zeros; DNs
/// compare as sets of attributes, so the forward order of APIM's documentation example
/// and .NET's reversed `Subject` both match.
fn identity_matches(
    id: &Identity,
    leaf: &Certificate,
    ctx: &Context,
    trust: &dyn Verifier,
) -> bool {
    let hex_eq = |a: &str, b: &str| {
        let norm = |s: &str| {
            s.chars()
                .filter(|c| !matches!(c, ':' | ' '))
                .collect::<String>()
                .trim_start_matches('0')
                .to_ascii_uppercase()
        };
        norm(a) == norm(b)
    };
    let issuers = || trust.issuers(leaf, &ctx.request.certificate_chain);
    id.thumbprint
        .as_deref()
        .is_none_or(|t| hex_eq(t, leaf.thumbprint()))
        && id
            .serial_number
            .as_deref()
            .is_none_or(|s| hex_eq(s, leaf.serial_number()))
        && id
            .common_name
            .as_deref()
            .is_none_or(|cn| leaf.name_info(NameType::Simple, false) == cn)
        && id
            .subject
            .as_deref()
            .is_none_or(|dn| same_dn(dn, leaf.subject()))
        && id.dns_name.as_deref().is_none_or(|dns| {
            leaf.subject_alt_names()
                .dns
                .iter()
                .any(|d| d.eq_ignore_ascii_case(dns))
        })
        && id
            .issuer_subject
            .as_deref()
            .is_none_or(|dn| same_dn(dn, leaf.issuer()))
        && id
            .issuer_thumbprint
            .as_deref()
            .is_none_or(|t| issuers().iter().any(|i| hex_eq(t, i.thumbprint())))
        && id.issuer_certificate_id.as_deref().is_none_or(|cid| {
            ctx.deployment
                .certificates
                .get(cid)
                .is_some_and(|issuer| crate::trust::issued_by(leaf, issuer))
        })
}

/// Compares two distinguished names as multisets of `KEY=value` attributes, with
/// `ST` read as `S` and keys compared without case.
fn same_dn(a: &str, b: &str) -> bool {
    let (Some(mut a), Some(mut b)) = (dn_attributes(a), dn_attributes(b)) else {
        return false;
    };
    a.sort();
    b.sort();
    a == b
}

/// Splits a .NET-style DN (`CN=x, O="a, b"`) into attributes; `None` when unbalanced.
fn dn_attributes(dn: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = dn.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = match key.trim().to_ascii_uppercase().as_str() {
            "ST" => "S".to_owned(),
            "EMAIL" | "EMAILADDRESS" => "E".to_owned(),
            other => other.to_owned(),
        };
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if quoted[i + 1..].starts_with('"') {
                        value.push('"');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            (value, &quoted[end?..])
        } else {
            let cut = after.find([',', '+', ';']).unwrap_or(after.len());
            (after[..cut].trim_end().to_owned(), &after[cut..])
        };
        out.push((key, value));
        rest = tail
            .trim_start()
            .trim_start_matches([',', '+', ';'])
            .trim_start();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_compare_as_attribute_sets() {
        assert!(same_dn(
            "C=US, ST=Illinois, L=Chicago, O=\"Contoso, Inc.\", CN=*.contoso.com",
            "CN=*.contoso.com, O=\"Contoso, Inc.\", L=Chicago, S=Illinois, C=US",
        ));
        assert!(same_dn("cn=a + o=b", "O=b, CN=a"));
        assert!(!same_dn("CN=a, O=b", "CN=a, O=c"));
        assert!(!same_dn("CN=a", "CN=a, CN=a"));
        assert!(!same_dn("CN=\"open", "CN=open"));
        assert_eq!(
            dn_attributes("CN=\"a\"\"b\", O=x").unwrap(),
            [
                ("CN".to_owned(), "a\"b".to_owned()),
                ("O".to_owned(), "x".to_owned())
            ]
        );
    }

    #[test]
    fn address_ranges_are_inclusive_and_family_specific() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_range(ip("10.0.0.5"), ip("10.0.0.1"), ip("10.0.0.5")));
        assert!(!in_range(ip("10.0.0.6"), ip("10.0.0.1"), ip("10.0.0.5")));
        assert!(!in_range(ip("::1"), ip("10.0.0.1"), ip("10.0.0.5")));
    }
}
