//! Properties and indexers: the context model, certificates, the library types.

use std::sync::Arc;

use super::super::builtins::cipher;
use super::super::builtins::datetime::{self as dt, ticks_of};
use super::super::builtins::string::{byte_to_16, len16};
use super::super::context::{Body, Context, Headers, Url};
use super::super::diagnostic::EvalErrorKind as E;
use super::super::ir::Prop;
use super::super::span::Span;
use super::super::types::EnumTy;
use super::super::value::{DictRef, Handle, HandleKind, UrlRef, Value, Which, builder_text};
use super::{Eval, R, built_len, h, strings};

/// The headers of message `w`.
pub(crate) fn headers<'a>(ctx: &'a Context, w: &'a Which) -> &'a Headers {
    match w {
        Which::Request => &ctx.request.headers,
        Which::Response => &ctx.response.headers,
        Which::Stored(r) => &r.headers,
    }
}

/// The body of message `w`, if it has one.
pub(crate) fn body<'a>(ctx: &'a Context, w: &'a Which) -> Option<&'a Body> {
    match w {
        Which::Request => ctx.request.body.as_ref(),
        Which::Response => ctx.response.body.as_ref(),
        Which::Stored(r) => r.body.as_ref(),
    }
}

pub(crate) fn url(ctx: &Context, u: UrlRef) -> Option<&Url> {
    match u {
        UrlRef::Request => Some(&*ctx.request.url),
        UrlRef::Original => Some(&*ctx.request.original_url),
        UrlRef::ApiService => ctx.api.as_deref().map(|a| &a.service_url),
    }
}

fn s(x: &str) -> Value {
    Value::String(Arc::from(x))
}

fn opt(x: &Option<String>) -> Value {
    x.as_deref().map_or(Value::Null, s)
}

/// A member of a `Jwt` other than `Claims`: what IdentityModel's `JwtSecurityToken`
/// gives (null strings and dates for absent claims).
fn jwt_member(j: &crate::expr::Jwt, p: Prop) -> Value {
    use Prop as P;
    let date = |name| j.date(name).map_or(Value::Null, Value::DateTime);
    let claim = |name| j.first(name).map_or(Value::Null, s);
    match p {
        P::JwtSubject => claim("sub"),
        P::JwtIssuer => claim("iss"),
        P::JwtId => claim("jti"),
        P::JwtAudiences => super::strings(j.claim("aud").unwrap_or_default()),
        P::JwtExpirationTime => date("exp"),
        P::JwtNotBefore => date("nbf"),
        P::JwtIssuedAt => date("iat"),
        P::JwtAlgorithm => s(&j.algorithm),
        _ => opt(&j.type_),
    }
}

impl Eval<'_> {
    pub(crate) fn prop(&mut self, v: Value, p: Prop, span: Span) -> R<Value> {
        let ctx = self.ctx;
        let internal = |v: &Value| (E::Internal(format!("{p:?} on a {}", v.type_name())), span);
        use Prop as P;
        let r = match p {
            P::Json(jp) => return self.json_prop(v, jp, span),
            P::Xml(xp) => return self.xml_prop(v, xp, span),
            P::Request => h(HandleKind::Request),
            P::Response => h(HandleKind::Response),
            P::Variables => h(HandleKind::Dict(DictRef::Variables)),
            P::Deployment => h(HandleKind::Deployment),
            P::Api => ctx.api.as_ref().map_or(Value::Null, |_| h(HandleKind::Api)),
            P::Operation => ctx
                .operation
                .as_ref()
                .map_or(Value::Null, |_| h(HandleKind::Operation)),
            P::LastError => ctx
                .last_error
                .as_ref()
                .map_or(Value::Null, |_| h(HandleKind::LastError)),
            P::RequestId => h(HandleKind::Guid(ctx.request_guid())),
            P::Timestamp => Value::DateTime(ctx.timestamp),
            P::Elapsed => {
                Value::TimeSpan(dt::diff_ticks(ctx.now, ctx.timestamp).map_err(|e| (e, span))?)
            }
            P::User | P::Subscription | P::Product | P::Absent => Value::Null,
            P::Tracing => Value::Bool(false),
            P::ReqMethod => s(&ctx.request.method),
            P::ReqUrl => h(HandleKind::Url(UrlRef::Request)),
            P::ReqOriginalUrl => h(HandleKind::Url(UrlRef::Original)),
            P::ReqHeaders => h(HandleKind::Dict(DictRef::Headers(Which::Request))),
            P::ReqIpAddress => s(&ctx.request.ip_address),
            P::ReqBody => ctx
                .request
                .body
                .as_ref()
                .map_or(Value::Null, |_| h(HandleKind::Body(Which::Request))),
            P::ReqMatchedParameters => h(HandleKind::Dict(DictRef::MatchedParameters)),
            P::ReqCertificate => ctx
                .request
                .certificate
                .as_ref()
                .map_or(Value::Null, |c| Value::Certificate(c.clone())),
            P::RespStatusCode | P::RespStatusReason | P::RespHeaders | P::RespBody => {
                // `context.Response`, or an `IResponse` a variable holds.
                let which = match &v {
                    Value::Object(Handle(HandleKind::StoredResponse(r))) => {
                        Which::Stored(r.clone())
                    }
                    _ => Which::Response,
                };
                let r = match &which {
                    Which::Stored(r) => &**r,
                    _ => &ctx.response,
                };
                match p {
                    P::RespStatusCode => Value::Int(r.status_code),
                    P::RespStatusReason => s(&r.status_reason),
                    P::RespHeaders => h(HandleKind::Dict(DictRef::Headers(which.clone()))),
                    _ if r.body.is_some() => h(HandleKind::Body(which.clone())),
                    _ => Value::Null,
                }
            }
            P::UrlHost
            | P::UrlPath
            | P::UrlPort
            | P::UrlQuery
            | P::UrlQueryString
            | P::UrlScheme => {
                let Value::Object(Handle(HandleKind::Url(r))) = v else {
                    return Err(internal(&v));
                };
                let Some(u) = url(ctx, r) else {
                    return Ok(Value::Null);
                };
                match p {
                    P::UrlHost => s(&u.host),
                    P::UrlPath => s(&u.path),
                    P::UrlPort => Value::Int(u.port),
                    P::UrlQuery => h(HandleKind::Dict(DictRef::Query(r))),
                    P::UrlQueryString => s(&u.query_string()),
                    _ => s(&u.scheme),
                }
            }
            P::DepRegion => s(&ctx.deployment.region),
            P::DepServiceName => s(&ctx.deployment.service_name),
            P::DepCertificates => h(HandleKind::Dict(DictRef::Certificates)),
            P::ApiId
            | P::ApiName
            | P::ApiPath
            | P::ApiRevision
            | P::ApiVersion
            | P::ApiIsCurrentRevision
            | P::ApiServiceUrl => {
                let Some(a) = ctx.api.as_deref() else {
                    return Ok(Value::Null);
                };
                match p {
                    P::ApiId => s(&a.id),
                    P::ApiName => s(&a.name),
                    P::ApiPath => s(&a.path),
                    P::ApiRevision => s(&a.revision),
                    P::ApiVersion => s(&a.version),
                    P::ApiIsCurrentRevision => Value::Bool(a.is_current_revision),
                    _ => h(HandleKind::Url(UrlRef::ApiService)),
                }
            }
            P::OpId | P::OpMethod | P::OpName | P::OpUrlTemplate => {
                let Some(o) = ctx.operation.as_deref() else {
                    return Ok(Value::Null);
                };
                match p {
                    P::OpId => s(&o.id),
                    P::OpMethod => s(&o.method),
                    P::OpName => s(&o.name),
                    _ => s(&o.url_template),
                }
            }
            P::ErrSource
            | P::ErrReason
            | P::ErrMessage
            | P::ErrScope
            | P::ErrSection
            | P::ErrPath
            | P::ErrPolicyId => {
                let Some(e) = ctx.last_error.as_ref() else {
                    return Ok(Value::Null);
                };
                match p {
                    P::ErrSource => s(&e.source),
                    P::ErrReason => opt(&e.reason),
                    P::ErrMessage => s(&e.message),
                    P::ErrScope => opt(&e.scope),
                    P::ErrSection => opt(&e.section),
                    P::ErrPath => opt(&e.path),
                    _ => opt(&e.policy_id),
                }
            }
            P::CertSubject
            | P::CertIssuer
            | P::CertSubjectName
            | P::CertIssuerName
            | P::CertThumbprint
            | P::CertSerialNumber
            | P::CertNotBefore
            | P::CertNotAfter
            | P::CertVersion
            | P::CertSignatureAlgorithm
            | P::CertRawData
            | P::CertFriendlyName
            | P::CertHasPrivateKey => {
                let Value::Certificate(c) = v else {
                    return Err(internal(&v));
                };
                match p {
                    P::CertSubject => s(c.subject()),
                    P::CertIssuer => s(c.issuer()),
                    P::CertSubjectName => h(HandleKind::X500Name(c, false)),
                    P::CertIssuerName => h(HandleKind::X500Name(c, true)),
                    P::CertThumbprint => s(c.thumbprint()),
                    P::CertSerialNumber => s(c.serial_number()),
                    P::CertNotBefore => Value::DateTime(c.not_before()),
                    P::CertNotAfter => Value::DateTime(c.not_after()),
                    P::CertVersion => Value::Int(i32::try_from(c.version()).unwrap_or(i32::MAX)),
                    P::CertSignatureAlgorithm => h(HandleKind::SignatureAlgorithm(c)),
                    P::CertRawData => Value::Bytes(Arc::from(c.der())),
                    P::CertFriendlyName => s(""),
                    _ => Value::Bool(false),
                }
            }
            P::X500Name => match &v {
                Value::Object(Handle(HandleKind::X500Name(c, issuer))) => {
                    s(if *issuer { c.issuer() } else { c.subject() })
                }
                _ => return Err(internal(&v)),
            },
            P::OidValue | P::OidFriendlyName => match &v {
                Value::Object(Handle(HandleKind::SignatureAlgorithm(c))) => {
                    let oid = c.signature_algorithm();
                    if p == P::OidValue {
                        s(&oid.value)
                    } else {
                        opt(&oid.friendly_name)
                    }
                }
                _ => return Err(internal(&v)),
            },
            P::JwtClaims => match &v {
                Value::Object(Handle(HandleKind::Jwt(j))) => h(HandleKind::Claims(j.clone())),
                _ => return Err(internal(&v)),
            },
            P::JwtSubject
            | P::JwtIssuer
            | P::JwtId
            | P::JwtAudiences
            | P::JwtExpirationTime
            | P::JwtNotBefore
            | P::JwtIssuedAt
            | P::JwtAlgorithm
            | P::JwtType => match &v {
                Value::Object(Handle(HandleKind::Jwt(j))) => jwt_member(j, p),
                _ => return Err(internal(&v)),
            },
            P::SymKey | P::SymIv | P::SymKeySize | P::SymBlockSize | P::SymMode | P::SymPadding => {
                let Value::Object(Handle(HandleKind::Symmetric(sym))) = &v else {
                    return Err(internal(&v));
                };
                let sym = cipher_state(sym);
                match p {
                    P::SymKey => Value::Bytes(Arc::from(&sym.key[..])),
                    P::SymIv => Value::Bytes(Arc::from(&sym.iv[..])),
                    P::SymKeySize => Value::Int(sym.key.len() as i32 * 8),
                    P::SymBlockSize => Value::Int(128),
                    P::SymMode => super::super::ir::enum_const(EnumTy::CipherMode, sym.mode),
                    _ => super::super::ir::enum_const(EnumTy::PaddingMode, sym.padding),
                }
            }
            P::BasicUserId | P::BasicPassword => match &v {
                Value::Object(Handle(HandleKind::BasicAuth(c))) => {
                    s(if p == P::BasicUserId { &c.0 } else { &c.1 })
                }
                _ => return Err(internal(&v)),
            },
            P::StrLength => match &v {
                // counted in UTF-16 units: read whole
                Value::String(x) => {
                    self.charge_bytes(x.len(), span)?;
                    Value::Int(len16(x) as i32)
                }
                _ => return Err(internal(&v)),
            },
            P::ArrLength => match &v {
                Value::Array(a) => Value::Int(a.len() as i32),
                _ => return Err(internal(&v)),
            },
            P::BytesLength => match &v {
                Value::Bytes(a) => Value::Int(a.len() as i32),
                _ => return Err(internal(&v)),
            },
            P::PairKey | P::PairValue => match &v {
                Value::Pair(kv) => {
                    if p == P::PairKey {
                        kv.0.clone()
                    } else {
                        kv.1.clone()
                    }
                }
                Value::Object(Handle(HandleKind::Grouping(g))) => g.0.clone(),
                _ => return Err(internal(&v)),
            },
            P::MapCount => match &v {
                Value::Map(d) => Value::Int(i32::try_from(d.len()).unwrap_or(i32::MAX)),
                _ => return Err(internal(&v)),
            },
            P::MapKeys | P::MapValues => {
                let items = self.collect(&v, span)?;
                let pick = |kv: &Value| match kv {
                    Value::Pair(p2) if p == P::MapKeys => p2.0.clone(),
                    Value::Pair(p2) => p2.1.clone(),
                    _ => Value::Null,
                };
                Value::Array(items.iter().map(pick).collect())
            }
            P::DictCount => {
                let n = self.dict_len(&v).ok_or_else(|| internal(&v))?;
                Value::Int(i32::try_from(n).unwrap_or(i32::MAX))
            }
            P::DictKeys | P::DictValues => {
                let items = self.collect(&v, span)?;
                let pick = |kv: &Value| match kv {
                    Value::Pair(p2) if p == P::DictKeys => p2.0.clone(),
                    Value::Pair(p2) => p2.1.clone(),
                    _ => Value::Null,
                };
                Value::Array(items.iter().map(pick).collect())
            }
            P::DtYear
            | P::DtMonth
            | P::DtDay
            | P::DtHour
            | P::DtMinute
            | P::DtSecond
            | P::DtMillisecond
            | P::DtDayOfYear
            | P::DtDayOfWeek
            | P::DtDate
            | P::DtTicks
            | P::DtTimeOfDay
            | P::DtKind => {
                // a DateTimeOffset's parts are its clock time's
                let d = match v {
                    Value::DateTime(d) => d,
                    Value::DateTimeOffset(d) => dt::clock(d),
                    _ => return Err(internal(&v)),
                };
                match p {
                    P::DtYear => Value::Int(d.year()),
                    P::DtMonth => Value::Int(d.month() as i32),
                    P::DtDay => Value::Int(d.day().into()),
                    P::DtHour => Value::Int(d.hour().into()),
                    P::DtMinute => Value::Int(d.minute().into()),
                    P::DtSecond => Value::Int(d.second().into()),
                    P::DtMillisecond => Value::Int(d.millisecond().into()),
                    P::DtDayOfYear => Value::Int(d.ordinal().into()),
                    P::DtDayOfWeek => super::super::ir::enum_const(
                        EnumTy::DayOfWeek,
                        d.weekday().number_days_from_sunday().into(),
                    ),
                    P::DtDate => Value::DateTime(d.replace_time(time::Time::MIDNIGHT)),
                    P::DtTicks => Value::Long(ticks_of(d)),
                    P::DtKind => super::super::ir::enum_const(EnumTy::DateTimeKind, 1),
                    _ => Value::TimeSpan(ticks_of(d).rem_euclid(dt::TICKS_PER_DAY)),
                }
            }
            P::DtoClock | P::DtoUtcDateTime | P::DtoOffset | P::DtoUtcTicks => {
                let Value::DateTimeOffset(d) = v else {
                    return Err(internal(&v));
                };
                let utc = d.to_offset(time::UtcOffset::UTC);
                match p {
                    P::DtoClock => Value::DateTime(dt::clock(d)),
                    P::DtoUtcDateTime => Value::DateTime(utc),
                    P::DtoUtcTicks => Value::Long(ticks_of(utc)),
                    _ => Value::TimeSpan(
                        i64::from(d.offset().whole_seconds()) * dt::TICKS_PER_SECOND,
                    ),
                }
            }
            P::TsDays
            | P::TsHours
            | P::TsMinutes
            | P::TsSeconds
            | P::TsMilliseconds
            | P::TsTicks
            | P::TsTotalDays
            | P::TsTotalHours
            | P::TsTotalMinutes
            | P::TsTotalSeconds
            | P::TsTotalMilliseconds => {
                let Value::TimeSpan(t) = v else {
                    return Err(internal(&v));
                };
                let part = |unit: i64, modulo: i64| Value::Int(((t / unit) % modulo) as i32);
                let total = |unit: i64| Value::Double(t as f64 / unit as f64);
                match p {
                    P::TsDays => Value::Int((t / dt::TICKS_PER_DAY) as i32),
                    P::TsHours => part(dt::TICKS_PER_HOUR, 24),
                    P::TsMinutes => part(dt::TICKS_PER_MINUTE, 60),
                    P::TsSeconds => part(dt::TICKS_PER_SECOND, 60),
                    P::TsMilliseconds => part(dt::TICKS_PER_MS, 1000),
                    P::TsTicks => Value::Long(t),
                    P::TsTotalDays => total(dt::TICKS_PER_DAY),
                    P::TsTotalHours => total(dt::TICKS_PER_HOUR),
                    P::TsTotalMinutes => total(dt::TICKS_PER_MINUTE),
                    P::TsTotalSeconds => total(dt::TICKS_PER_SECOND),
                    _ => total(dt::TICKS_PER_MS),
                }
            }
            P::GroupSuccess | P::GroupValue | P::GroupIndex | P::GroupLength | P::MatchGroups => {
                let (m, i) = match &v {
                    Value::Object(Handle(HandleKind::Match(m))) => (m.clone(), 0),
                    Value::Object(Handle(HandleKind::Group(m, i))) => (m.clone(), *i),
                    _ => return Err(internal(&v)),
                };
                if p == P::MatchGroups {
                    return Ok(h(HandleKind::Groups(m)));
                }
                let g = m.groups.get(i).cloned().flatten();
                let text = m.group(i).unwrap_or("");
                match p {
                    P::GroupSuccess => Value::Bool(g.is_some()),
                    P::GroupValue => s(text),
                    P::GroupIndex => {
                        // the UTF-16 index of the start: the input read up to it
                        let start = g.map_or(0, |g| g.start);
                        self.charge_bytes(m.input.len(), span)?;
                        Value::Int(byte_to_16(&m.input, start))
                    }
                    _ => {
                        self.charge_bytes(text.len(), span)?;
                        Value::Int(len16(text) as i32)
                    }
                }
            }
            P::GroupsCount => match &v {
                Value::Object(Handle(HandleKind::Groups(m))) => Value::Int(m.groups.len() as i32),
                _ => return Err(internal(&v)),
            },
            P::ExMessage => match &v {
                Value::Object(Handle(HandleKind::Exception(m))) => Value::String(m.clone()),
                _ => return Err(internal(&v)),
            },
            P::SbLength => match &v {
                // .NET counts UTF-16 code units
                Value::Object(Handle(HandleKind::StringBuilder(b))) => {
                    let text = builder_text(b);
                    self.charge_bytes(text.len(), span)?;
                    Value::Int(i32::try_from(len16(&text)).unwrap_or(i32::MAX))
                }
                _ => return Err(internal(&v)),
            },
            P::UriHost
            | P::UriAbsolutePath
            | P::UriQuery
            | P::UriScheme
            | P::UriPort
            | P::UriPathAndQuery
            | P::UriFragment
            | P::UriAbsoluteUri
            | P::UriAuthority
            | P::UriOriginalString
            | P::UriIsDefaultPort => {
                let Value::Object(Handle(HandleKind::Uri(u))) = &v else {
                    return Err(internal(&v));
                };
                match p {
                    P::UriHost => s(&u.host()),
                    P::UriAbsolutePath => s(u.uri.path()),
                    P::UriQuery => s(&u.query()),
                    P::UriScheme => s(&u.scheme()),
                    P::UriPort => Value::Int(u.port()),
                    P::UriFragment => s(&u.fragment),
                    P::UriAbsoluteUri => s(&u.text()),
                    P::UriAuthority => s(&u.authority()),
                    P::UriOriginalString => s(&u.original),
                    P::UriIsDefaultPort => Value::Bool(u.is_default_port()),
                    _ => s(&format!("{}{}", u.uri.path(), u.query())),
                }
            }
        };
        // A string or byte[] a property returns is a copy (of the request, a certificate,
        // a match), except a pair's own Key and Value, and Keys/Values (counted as read).
        if !matches!(p, P::PairKey | P::PairValue | P::DictKeys | P::DictValues) {
            self.charge_bytes(built_len(&r), span)?;
        }
        Ok(r)
    }

    pub(crate) fn dict_len(&self, v: &Value) -> Option<usize> {
        let ctx = self.ctx;
        if let Value::Object(Handle(HandleKind::Claims(j))) = v {
            return Some(j.claims.len());
        }
        let Value::Object(Handle(HandleKind::Dict(d))) = v else {
            return None;
        };
        Some(match d {
            DictRef::Headers(w) => headers(ctx, w).len(),
            DictRef::Query(u) => url(ctx, *u).map_or(0, |u| u.query.len()),
            DictRef::MatchedParameters => ctx.request.matched_parameters.len(),
            DictRef::Variables => ctx.variables.len(),
            DictRef::Certificates => ctx.deployment.certificates.len(),
        })
    }

    /// `dict[key]` lookup without throwing: None when absent. Headers, query and route
    /// parameters are copied out of the request: that is charged.
    pub(crate) fn dict_get(&mut self, d: &DictRef, key: &str, span: Span) -> R<Option<Value>> {
        let ctx = self.ctx;
        let found = match d {
            DictRef::Headers(w) => headers(ctx, w).get(key).map(strings),
            DictRef::Query(u) => url(ctx, *u).and_then(|url| {
                url.query
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| strings(v))
            }),
            DictRef::MatchedParameters => ctx
                .request
                .matched_parameters
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| s(v)),
            DictRef::Variables => ctx.variables.get(key).cloned(),
            DictRef::Certificates => ctx
                .deployment
                .certificates
                .get(key)
                .map(|c| Value::Certificate(c.clone())),
        };
        if !matches!(d, DictRef::Variables | DictRef::Certificates) {
            self.charge_bytes(found.as_ref().map_or(0, built_len), span)?;
        }
        Ok(found)
    }

    pub(crate) fn index(&mut self, v: Value, i: Value, span: Span) -> R<Value> {
        let oor = |n: i64, len: usize| {
            (
                E::IndexOutOfRange(format!("index {n} is outside 0..{len}")),
                span,
            )
        };
        let int = |i: &Value| super::super::builtins::ops::as_i64(i).unwrap_or(-1);
        match (&v, &i) {
            (Value::Object(Handle(HandleKind::Claims(j))), key) => {
                let Value::String(key) = key else {
                    return Err((E::Argument("the key is null".into()), span));
                };
                let values = j
                    .claim(key)
                    .ok_or_else(|| (E::KeyNotFound(key.to_string()), span))?;
                self.charge_bytes(values.iter().map(String::len).sum(), span)?;
                Ok(super::strings(values))
            }
            (Value::Object(Handle(HandleKind::Dict(d))), key) => {
                let Value::String(key) = key else {
                    return Err((E::Argument("the key is null".into()), span));
                };
                self.dict_get(d, key, span)?
                    .ok_or_else(|| (E::KeyNotFound(key.to_string()), span))
            }
            (Value::Map(d), key) => self.map_index(d, key, span),
            (Value::Array(a), _) => {
                let n = int(&i);
                usize::try_from(n)
                    .ok()
                    .and_then(|k| a.get(k))
                    .ok_or_else(|| oor(n, a.len()))
            }
            (Value::Bytes(a), _) => {
                let n = int(&i);
                usize::try_from(n)
                    .ok()
                    .and_then(|k| a.get(k).map(|b| Value::Int(i32::from(*b))))
                    .ok_or_else(|| oor(n, a.len()))
            }
            (Value::String(st), _) => {
                // UTF-16 units are found by reading from the start
                self.charge_bytes(st.len(), span)?;
                let n = int(&i);
                usize::try_from(n)
                    .ok()
                    .and_then(|k| st.encode_utf16().nth(k))
                    .map(|u| Value::Char(char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}')))
                    .ok_or_else(|| oor(n, len16(st)))
            }
            (Value::Object(Handle(HandleKind::Groups(m))), key) => {
                let idx = match key {
                    Value::String(name) => {
                        self.charge(m.names.len(), span)?;
                        m.names
                            .iter()
                            .position(|n| n.as_deref() == Some(&**name))
                            .or_else(|| name.parse::<usize>().ok())
                    }
                    other => usize::try_from(int(other)).ok(),
                };
                // .NET returns an unsuccessful group for an unknown name or number.
                let idx = idx.filter(|i| *i < m.groups.len()).unwrap_or(usize::MAX);
                if idx == usize::MAX {
                    let empty = Arc::new(super::super::value::MatchData {
                        input: Arc::from(""),
                        groups: vec![None],
                        names: Arc::new([None]),
                    });
                    return Ok(h(HandleKind::Group(empty, 0)));
                }
                Ok(h(HandleKind::Group(m.clone(), idx)))
            }
            (Value::Json(t), _) => self.json_index(&t.0, &i, span),
            _ => Err((E::Internal(format!("indexing a {}", v.type_name())), span)),
        }
    }
}

/// The state of a SymmetricAlgorithm object (a lock never poisoned: nothing panics while
/// holding it).
pub(crate) fn cipher_state(
    s: &std::sync::Mutex<cipher::Symmetric>,
) -> std::sync::MutexGuard<'_, cipher::Symmetric> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Eval<'_> {
    /// `x.Prop = v`: the settable properties of a SymmetricAlgorithm, with .NET's checks.
    pub(crate) fn set_prop(&mut self, recv: Value, p: Prop, v: Value, span: Span) -> R<()> {
        let fail = |e: E| (e, span);
        let sym = match &recv {
            Value::Object(Handle(HandleKind::Symmetric(sym))) => sym,
            Value::Null => return Err(fail(E::NullReference(self.text(span)))),
            other => {
                return Err(fail(E::Internal(format!(
                    "setting {p:?} on a {}",
                    other.type_name()
                ))));
            }
        };
        let mut sym = cipher_state(sym);
        match (p, &v) {
            (Prop::SymKey, Value::Bytes(b)) => sym.set_key(b).map_err(fail),
            (Prop::SymIv, Value::Bytes(b)) => sym.set_iv(b).map_err(fail),
            (Prop::SymKey | Prop::SymIv, Value::Null) => {
                Err(fail(E::Argument("value is null".into())))
            }
            (Prop::SymKeySize, Value::Int(n)) => sym.set_key_size(i64::from(*n)).map_err(fail),
            (Prop::SymMode, Value::Enum(e)) => {
                sym.mode = e.value;
                Ok(())
            }
            (Prop::SymPadding, Value::Enum(e)) => {
                sym.padding = e.value;
                Ok(())
            }
            _ => Err(fail(E::Internal(format!(
                "setting {p:?} to a {}",
                v.type_name()
            )))),
        }
    }
}
