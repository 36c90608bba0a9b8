//! Instance methods (string, certificate, DateTime, dictionaries, LINQ) and static
//! functions (string, DateTime, TimeSpan, Convert, Math, Regex, Parse).

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;

use super::super::builtins::datetime::{self as dt};
use super::super::builtins::ops::{self, as_f64, as_i64, equals};
use super::super::builtins::random::Seeded;
use super::super::builtins::regex as rx;
use super::super::builtins::string as st;
use super::super::builtins::{cipher, crypto, web};
use super::super::diagnostic::{EvalErrorKind as E, quoted};
use super::super::ir::{Lambda, Method, StaticFn, default_value};
use super::super::span::Span;
use super::super::types::Ty;
use super::super::value::{Handle, HandleKind, UriValue, Value, Which, builder_text};
use super::{CASE_MAPPING_COST, Eval, R, h};
use crate::cert::NameType;

fn s(x: impl AsRef<str>) -> Value {
    Value::String(Arc::from(x.as_ref()))
}

fn arg_str(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(Value::as_str)
}

fn enum_arg(args: &[Value], i: usize) -> i32 {
    match args.get(i) {
        Some(Value::Enum(e)) => e.value,
        _ => 0,
    }
}

impl Eval<'_> {
    pub(crate) fn method(
        &mut self,
        recv: Value,
        m: Method,
        args: Vec<Value>,
        lambda: Option<&Lambda>,
        ty: Option<&Ty>,
        span: Span,
    ) -> R<Value> {
        let fail = |e: E| (e, span);
        let internal = |v: &Value| (E::Internal(format!("{m:?} on a {}", v.type_name())), span);
        use Method as M;
        if let Some(r) = self.collection_method(&recv, m, &args, span) {
            return r;
        }
        // Newtonsoft.Json: first, as a cast from object may meet any receiver
        if let M::Json(jm) = m {
            return self.json_method(recv, jm, args, ty, span);
        }
        if let M::Xml(xm) = m {
            return self.xml_method(recv, xm, args, span);
        }
        // string receivers: each charges the bytes it reads or writes before it runs
        if let Value::String(rs) = &recv {
            let rs: &str = rs;
            let text = |i: usize, name: &str| st::text_arg(&args[i], name).map_err(fail);
            let r = match m {
                M::StrContains => {
                    let needle = text(0, "value")?;
                    self.charge_bytes(rs.len() + needle.len(), span)?;
                    Value::Bool(rs.contains(&*needle))
                }
                M::StrStartsWith | M::StrEndsWith => {
                    let needle = text(0, "value")?;
                    self.charge_bytes(needle.len(), span)?;
                    Value::Bool(if m == M::StrStartsWith {
                        rs.starts_with(&*needle)
                    } else {
                        rs.ends_with(&*needle)
                    })
                }
                M::StrContainsCmp
                | M::StrStartsWithCmp
                | M::StrEndsWithCmp
                | M::StrEqualsCmp
                | M::StrIndexOfCmp => {
                    let other = text(0, "value")?;
                    let ignore_case = st::ignores_case(enum_arg(&args, 1));
                    let read = rs.len() + other.len();
                    self.charge_bytes(
                        if ignore_case {
                            read * CASE_MAPPING_COST
                        } else {
                            read
                        },
                        span,
                    )?;
                    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if ignore_case {
                        (Cow::Owned(st::fold(rs)), Cow::Owned(st::fold(&other)))
                    } else {
                        (Cow::Borrowed(rs), other)
                    };
                    match m {
                        M::StrContainsCmp => Value::Bool(a.contains(&*b)),
                        M::StrStartsWithCmp => Value::Bool(a.starts_with(&*b)),
                        M::StrEndsWithCmp => Value::Bool(a.ends_with(&*b)),
                        M::StrEqualsCmp => Value::Bool(a == b),
                        _ => Value::Int(st::index_of(&a, &b, 0).map_err(fail)?),
                    }
                }
                M::StrIndexOf | M::StrIndexOfFrom | M::StrLastIndexOf => {
                    let needle = text(0, "value")?;
                    // the search, and the UTF-16 index of what it found
                    self.charge_bytes(2 * rs.len() + needle.len(), span)?;
                    Value::Int(match m {
                        M::StrIndexOf => st::index_of(rs, &needle, 0).map_err(fail)?,
                        M::StrIndexOfFrom => {
                            st::index_of(rs, &needle, st::index_arg(&args[1])).map_err(fail)?
                        }
                        _ => st::last_index_of(rs, &needle),
                    })
                }
                M::StrSubstring | M::StrSubstringLen => {
                    // UTF-16 offsets are found by reading from the start
                    self.charge_bytes(rs.len(), span)?;
                    let len = (m == M::StrSubstringLen).then(|| st::index_arg(&args[1]));
                    s(st::substring(rs, st::index_arg(&args[0]), len).map_err(fail)?)
                }
                M::StrReplace => {
                    let old = text(0, "oldValue")?;
                    if old.is_empty() {
                        return Err(fail(E::Argument("oldValue is an empty string".into())));
                    }
                    let new = match &args[1] {
                        Value::Null => Cow::Borrowed(""),
                        v => st::text_arg(v, "newValue").map_err(fail)?,
                    };
                    self.charge_bytes(rs.len(), span)?;
                    let count = rs.matches(&*old).count();
                    let len = (rs.len() + count.saturating_mul(new.len()))
                        .saturating_sub(count * old.len());
                    self.check_len(len, "the string", span)?;
                    self.charge_bytes(rs.len() + len, span)?;
                    s(rs.replace(&*old, &new))
                }
                M::StrSplit | M::StrSplitOptions => {
                    let sep = text(0, "separator")?;
                    self.charge_bytes(rs.len(), span)?;
                    let max = self.limits.max_collection_len;
                    let parts: Vec<&str> = st::split(rs, &sep, enum_arg(&args, 1))
                        .take(max.saturating_add(1))
                        .collect();
                    self.check_count(parts.len(), span)?;
                    self.build_elements(parts.len(), rs.len(), span)?;
                    Value::Array(parts.into_iter().map(Value::string).collect())
                }
                M::StrTrim | M::StrTrimChars | M::StrTrimStart | M::StrTrimEnd => {
                    self.charge_bytes(rs.len(), span)?;
                    let c = match args.first() {
                        Some(Value::Char(c)) => Some(*c),
                        _ => None,
                    };
                    let (start, end) = match m {
                        M::StrTrimStart => (true, false),
                        M::StrTrimEnd => (false, true),
                        _ => (true, true),
                    };
                    s(st::trim_char(rs, c, start, end))
                }
                M::StrToUpper | M::StrToLower => {
                    self.charge_bytes(rs.len() * CASE_MAPPING_COST, span)?;
                    s(if m == M::StrToUpper {
                        rs.to_uppercase()
                    } else {
                        rs.to_lowercase()
                    })
                }
                M::StrRemove | M::StrRemoveCount => {
                    self.charge_bytes(rs.len(), span)?;
                    let count = (m == M::StrRemoveCount).then(|| st::index_arg(&args[1]));
                    s(st::remove(rs, st::index_arg(&args[0]), count).map_err(fail)?)
                }
                M::StrInsert => {
                    let value = text(1, "value")?;
                    self.check_len(rs.len() + value.len(), "the string", span)?;
                    self.charge_bytes(rs.len() + value.len(), span)?;
                    s(st::insert(rs, st::index_arg(&args[0]), &value).map_err(fail)?)
                }
                M::StrPadLeft | M::StrPadRight => {
                    let c = match args.get(1) {
                        Some(Value::Char(c)) => *c,
                        _ => ' ',
                    };
                    let w = as_i64(&args[0]).unwrap_or(0);
                    let max = self.limits.max_string_len;
                    let fill = usize::try_from(w).unwrap_or(0).min(max);
                    self.charge_bytes(rs.len() + fill * c.len_utf8(), span)?;
                    s(st::pad(rs, w, c, m == M::StrPadLeft, max).map_err(fail)?)
                }
                M::StrToCharArray => {
                    self.charge_bytes(rs.len(), span)?;
                    let n = rs.chars().count();
                    self.check_count(n, span)?;
                    self.build_elements(n, 0, span)?;
                    Value::Array(rs.chars().map(Value::Char).collect())
                }
                M::StrAsJwt => {
                    self.charge_bytes(rs.len(), span)?;
                    crate::expr::Jwt::parse(rs).map_or(Value::Null, Value::jwt)
                }
                M::StrTryParseJwt => {
                    self.charge_bytes(rs.len(), span)?;
                    match crate::expr::Jwt::parse(rs) {
                        Some(jwt) => super::pair(Value::Bool(true), Value::jwt(jwt)),
                        None => super::pair(Value::Bool(false), Value::Null),
                    }
                }
                M::StrAsBasic | M::StrTryParseBasic => {
                    self.charge_bytes(rs.len(), span)?;
                    let parsed = web::parse_basic(rs)
                        .map(|c| Value::Object(Handle(HandleKind::BasicAuth(Arc::new(c)))));
                    match (m, parsed) {
                        (M::StrAsBasic, parsed) => parsed.unwrap_or(Value::Null),
                        (_, Some(c)) => super::pair(Value::Bool(true), c),
                        (_, None) => super::pair(Value::Bool(false), Value::Null),
                    }
                }
                M::StrCompareTo => Value::Int(match &args[0] {
                    Value::String(o) => {
                        self.charge_bytes(rs.len().min(o.len()), span)?;
                        st::compare(rs, o)
                    }
                    _ => 1,
                }),
                _ => return self.generic_method(recv.clone(), m, args, lambda, ty, span),
            };
            return Ok(r);
        }
        match (m, &recv) {
            (M::CertVerify | M::CertVerifyNoRevocation, Value::Certificate(c)) => {
                Ok(Value::Bool(self.verify(c, m == M::CertVerify)))
            }
            (M::CertGetNameInfo, Value::Certificate(c)) => {
                let kind = match enum_arg(&args, 0) {
                    0 => NameType::Simple,
                    1 => NameType::Email,
                    2 => NameType::Upn,
                    3 | 4 => NameType::Dns,
                    _ => NameType::Url,
                };
                let issuer = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                let name = c.name_info(kind, issuer);
                self.charge_bytes(name.len(), span)?;
                Ok(s(name))
            }
            (M::CertGetSerialNumberString, Value::Certificate(c)) => {
                self.charge_bytes(c.serial_number().len(), span)?;
                Ok(s(c.serial_number()))
            }
            (M::CertGetCertHashString, Value::Certificate(c)) => Ok(s(c.thumbprint())),
            (_, Value::DateTime(d) | Value::DateTimeOffset(d))
                if !matches!(m, M::ToString | M::ToStringFormat | M::Equals) =>
            {
                let d = *d;
                // a DateTimeOffset's arithmetic keeps its offset
                let wrap = match recv {
                    Value::DateTimeOffset(_) => Value::DateTimeOffset,
                    _ => Value::DateTime,
                };
                let add = |ticks: i64| dt::add_ticks(d, ticks).map(wrap).map_err(fail);
                let num = || as_f64(&args[0]).unwrap_or(0.0);
                match m {
                    M::DtAddDays => add(dt::scaled_ticks(num(), dt::TICKS_PER_DAY).map_err(fail)?),
                    M::DtAddHours => {
                        add(dt::scaled_ticks(num(), dt::TICKS_PER_HOUR).map_err(fail)?)
                    }
                    M::DtAddMinutes => {
                        add(dt::scaled_ticks(num(), dt::TICKS_PER_MINUTE).map_err(fail)?)
                    }
                    M::DtAddSeconds => {
                        add(dt::scaled_ticks(num(), dt::TICKS_PER_SECOND).map_err(fail)?)
                    }
                    M::DtAddMilliseconds => {
                        add(dt::scaled_ticks(num(), dt::TICKS_PER_MS).map_err(fail)?)
                    }
                    M::DtAddTicks => add(as_i64(&args[0]).unwrap_or(0)),
                    M::DtAddMonths | M::DtAddYears => {
                        let n = as_i64(&args[0]).unwrap_or(0);
                        let months = if m == M::DtAddYears { n * 12 } else { n };
                        dt::add_months(d, months).map(wrap).map_err(fail)
                    }
                    M::DtAdd => match &args[0] {
                        Value::TimeSpan(t) => add(*t),
                        v => Err(internal(v)),
                    },
                    M::DtSubtractSpan => match &args[0] {
                        Value::TimeSpan(t) => add(t.checked_neg().ok_or(fail(E::Overflow))?),
                        v => Err(internal(v)),
                    },
                    M::DtSubtractDate => match &args[0] {
                        Value::DateTime(o) | Value::DateTimeOffset(o) => {
                            dt::diff_ticks(d, *o).map(Value::TimeSpan).map_err(fail)
                        }
                        v => Err(internal(v)),
                    },
                    // the local time zone is UTC
                    M::DtToUniversalTime | M::DtToLocalTime => {
                        Ok(wrap(d.to_offset(time::UtcOffset::UTC)))
                    }
                    M::DtCompareTo => match &args[0] {
                        Value::DateTime(o) | Value::DateTimeOffset(o) => {
                            Ok(Value::Int(d.cmp(o) as i32))
                        }
                        v => Err(internal(v)),
                    },
                    M::DtoToOffset => match &args[0] {
                        Value::TimeSpan(t) => {
                            let o = dt::offset_of(*t).map_err(fail)?;
                            Ok(Value::DateTimeOffset(d.to_offset(o)))
                        }
                        v => Err(internal(v)),
                    },
                    M::DtoToUnixTimeSeconds => Ok(Value::Long(dt::to_unix(d, 1))),
                    M::DtoToUnixTimeMilliseconds => Ok(Value::Long(dt::to_unix(d, 1000))),
                    _ => self.generic_method(recv.clone(), m, args, lambda, ty, span),
                }
            }
            (M::TsAdd | M::TsSubtract | M::TsNegate | M::TsDuration, Value::TimeSpan(t)) => {
                let other = match args.first() {
                    Some(Value::TimeSpan(o)) => *o,
                    _ => 0,
                };
                let r = match m {
                    M::TsAdd => t.checked_add(other),
                    M::TsSubtract => t.checked_sub(other),
                    M::TsNegate => t.checked_neg(),
                    _ => t.checked_abs(),
                };
                r.map(Value::TimeSpan).ok_or(fail(E::Overflow))
            }
            (M::BodyAsString | M::BodyAsBytes, Value::Object(Handle(HandleKind::Body(w)))) => {
                let preserve = args.first().and_then(Value::as_bool).unwrap_or(false);
                let bytes = self.body_bytes(w, preserve, span)?;
                // copied (and for a string, checked as UTF-8)
                self.charge_bytes(bytes.len(), span)?;
                if m == M::BodyAsBytes {
                    Ok(Value::Bytes(Arc::from(&bytes[..])))
                } else {
                    Ok(s(String::from_utf8_lossy(&bytes)))
                }
            }
            (M::BodyAsForm, Value::Object(Handle(HandleKind::Body(w)))) => {
                let preserve = args.first().and_then(Value::as_bool).unwrap_or(false);
                let bytes = self.body_bytes(w, preserve, span)?;
                self.charge_bytes(bytes.len(), span)?;
                let fields = web::parse_form(&String::from_utf8_lossy(&bytes));
                self.check_count(fields.len(), span)?;
                self.build_elements(fields.len(), bytes.len(), span)?;
                let form = crate::expr::collections::Map::new(false);
                for (name, value) in fields {
                    let key = crate::expr::collections::Key::Str(Arc::from(name.as_str()));
                    match form.get(&key) {
                        Some(Value::Array(values)) => values.push(s(value)),
                        _ => {
                            let values = Value::Array(vec![s(value)].into());
                            form.insert(key, s(name), values, true);
                        }
                    }
                }
                Ok(Value::Map(form))
            }
            (M::FormToQueryString, Value::Map(form)) => {
                let mut out = String::new();
                for (name, values) in (0..).map_while(|i| form.entry_at(i)).flatten() {
                    let name = web::escape_data_string(&name.to_string());
                    let values = match values {
                        Value::Array(v) => v.to_vec(),
                        _ => Vec::new(),
                    };
                    for v in values {
                        let piece = web::escape_data_string(&v.to_string());
                        let len = out.len() + name.len() + piece.len() + 2;
                        self.check_len(len, "the string", span)?;
                        self.charge_bytes(name.len() + piece.len(), span)?;
                        if !out.is_empty() {
                            out.push('&');
                        }
                        out.push_str(&name);
                        out.push('=');
                        out.push_str(&piece);
                    }
                }
                // the toolkit's encoder gives null for an empty form
                Ok(if out.is_empty() { Value::Null } else { s(out) })
            }
            (
                M::SbAppend | M::SbAppendLine,
                Value::Object(Handle(HandleKind::StringBuilder(b))),
            ) => {
                let piece = match args
                    .first()
                    .map(|v| self.materialize(v.clone(), span))
                    .transpose()?
                {
                    Some(Value::String(x)) => x,
                    Some(Value::Null) | None => Arc::from(""),
                    Some(other) => Arc::from(other.to_string()),
                };
                let newline = if m == M::SbAppendLine { "\r\n" } else { "" };
                let mut text = builder_text(b);
                let len = text.len() + piece.len() + newline.len();
                self.check_len(len, "the StringBuilder", span)?;
                self.charge_bytes(piece.len(), span)?;
                text.push_str(&piece);
                text.push_str(newline);
                drop(text);
                Ok(recv.clone())
            }
            (
                M::RandomNext | M::RandomNextDouble,
                Value::Object(Handle(HandleKind::Random(Some(seeded)))),
            ) => {
                let mut g = seeded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Ok(match (m, &args[..]) {
                    (M::RandomNextDouble, _) => Value::Double(g.next_double()),
                    (_, []) => Value::Int(g.next(None)),
                    (_, [max]) => {
                        let max = as_i64(max).unwrap_or(0);
                        if max < 0 {
                            return Err(fail(E::Argument(
                                "'maxValue' must be non-negative".into(),
                            )));
                        }
                        Value::Int(g.next(Some((0, max))))
                    }
                    (_, [min, max, ..]) => {
                        let (min, max) = (as_i64(min).unwrap_or(0), as_i64(max).unwrap_or(0));
                        if min > max {
                            return Err(fail(E::Argument(
                                "'minValue' cannot be greater than maxValue".into(),
                            )));
                        }
                        Value::Int(g.next(Some((min, max))))
                    }
                })
            }
            (M::RandomNext, _) => {
                let (lo, hi) = match args[..] {
                    [] => (0, i64::from(i32::MAX)),
                    [ref max] => (0, as_i64(max).unwrap_or(0)),
                    [ref min, ref max, ..] => (as_i64(min).unwrap_or(0), as_i64(max).unwrap_or(0)),
                };
                if hi < lo || (args.len() == 1 && hi < 0) {
                    return Err(fail(E::Argument(
                        "'minValue' cannot be greater than maxValue, nor maxValue negative".into(),
                    )));
                }
                let span_len = (hi - lo).max(1) as u64;
                let r = random_u64().map_err(fail)? % span_len;
                let n = if hi == lo { lo } else { lo + r as i64 };
                Ok(Value::Int(i32::try_from(n).unwrap_or(i32::MAX)))
            }
            (M::GuidToByteArray, Value::Object(Handle(HandleKind::Guid(g)))) => {
                let mut bytes = *g;
                bytes[0..4].reverse();
                bytes[4..6].reverse();
                bytes[6..8].reverse();
                Ok(Value::Bytes(Arc::from(bytes)))
            }
            (M::RandomNextDouble, _) => {
                // 53 random bits: uniform in [0, 1)
                let r = random_u64().map_err(fail)? >> 11;
                Ok(Value::Double(r as f64 / (1u64 << 53) as f64))
            }
            (
                M::ComputeHash,
                Value::Object(Handle(k @ (HandleKind::Hash(_) | HandleKind::Hmac(..)))),
            ) => {
                let Value::Bytes(data) = &args[0] else {
                    return Err(fail(E::Argument("buffer is null".into())));
                };
                self.charge_bytes(data.len(), span)?;
                Ok(Value::Bytes(Arc::from(match k {
                    HandleKind::Hmac(a, key) => crypto::hmac(*a, key, data),
                    HandleKind::Hash(a) => crypto::hash(*a, data),
                    _ => Vec::new(),
                })))
            }
            (M::Encrypt | M::Decrypt, Value::Bytes(data)) => {
                // (name, key, iv), (algorithm) or (algorithm, key, iv)
                let mut sym = match &args[0] {
                    Value::String(name) if cipher::is_aes_name(name) => {
                        cipher::Symmetric::new_aes().map_err(fail)?
                    }
                    Value::String(name) => {
                        return Err(fail(E::Cryptographic(format!(
                            "certgate does not implement the cipher {}",
                            quoted(name)
                        ))));
                    }
                    Value::Object(Handle(HandleKind::Symmetric(s))) => {
                        super::props::cipher_state(s).clone()
                    }
                    _ => return Err(fail(E::Argument("alg is null".into()))),
                };
                if let [_, key, iv] = &args[..] {
                    let (Value::Bytes(key), Value::Bytes(iv)) = (key, iv) else {
                        return Err(fail(E::Argument("key or iv is null".into())));
                    };
                    sym.set_key(key).map_err(fail)?;
                    sym.set_iv(iv).map_err(fail)?;
                }
                self.check_len(data.len() + 16, "the byte array", span)?;
                self.charge_bytes(data.len(), span)?;
                cipher::cbc(m == M::Encrypt, data, &sym)
                    .map(|b| Value::Bytes(Arc::from(b)))
                    .map_err(fail)
            }
            (
                M::SymGenerateKey | M::SymGenerateIv,
                Value::Object(Handle(HandleKind::Symmetric(s))),
            ) => {
                let fresh = cipher::Symmetric::new_aes().map_err(fail)?;
                let mut s = super::props::cipher_state(s);
                if m == M::SymGenerateIv {
                    s.iv = fresh.iv;
                } else {
                    let bits = s.key.len() as i64 * 8;
                    s.set_key_size(bits).map_err(fail)?;
                }
                Ok(Value::Null)
            }
            (M::Dispose, _) => Ok(Value::Null),
            (M::EncGetString, _) => match &args[0] {
                Value::Bytes(b) => {
                    self.charge_bytes(b.len(), span)?;
                    Ok(s(String::from_utf8_lossy(b)))
                }
                _ => Err(fail(E::Argument("bytes is null".into()))),
            },
            (M::EncGetBytes, _) => match &args[0] {
                Value::String(x) => {
                    self.charge_bytes(x.len(), span)?;
                    Ok(Value::Bytes(Arc::from(x.as_bytes())))
                }
                _ => Err(fail(E::Argument("s is null".into()))),
            },
            (M::DictContainsKey, Value::Object(Handle(HandleKind::Claims(j)))) => match &args[0] {
                Value::String(k) => Ok(Value::Bool(j.claim(k).is_some())),
                _ => Err(fail(E::Argument("key is null".into()))),
            },
            (M::DictGetValueOrDefault, Value::Object(Handle(HandleKind::Claims(j)))) => {
                let Value::String(k) = &args[0] else {
                    return Err(fail(E::Argument("key is null".into())));
                };
                Ok(match j.claim(k) {
                    Some(values) => {
                        let joined = values.join(",");
                        self.charge_bytes(joined.len(), span)?;
                        s(joined)
                    }
                    None => args.get(1).cloned().unwrap_or(Value::Null),
                })
            }
            (M::DictContainsKey, Value::Object(Handle(HandleKind::Dict(d)))) => match &args[0] {
                Value::String(k) => Ok(Value::Bool(self.dict_get(d, k, span)?.is_some())),
                _ => Err(fail(E::Argument("key is null".into()))),
            },
            (M::DictGetValueOrDefault, Value::Object(Handle(HandleKind::Dict(d)))) => {
                let found = match &args[0] {
                    Value::String(k) => self.dict_get(d, k, span)?,
                    _ => return Err(fail(E::Argument("key is null".into()))),
                };
                Ok(match found {
                    Some(Value::Array(vals)) => {
                        let joined = vals
                            .to_vec()
                            .iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(",");
                        self.charge_bytes(joined.len(), span)?;
                        s(joined)
                    }
                    Some(v) => v,
                    None => args.get(1).cloned().unwrap_or(Value::Null),
                })
            }
            (M::VarGetValueOrDefault, Value::Object(Handle(HandleKind::Dict(d)))) => {
                let t = ty.cloned().unwrap_or(Ty::Object);
                let Value::String(name) = &args[0] else {
                    return Err(fail(E::Argument("variableName is null".into())));
                };
                match self.dict_get(d, name, span)? {
                    None => Ok(args.get(1).cloned().unwrap_or_else(|| default_value(&t))),
                    Some(Value::Null) => Ok(Value::Null),
                    Some(v) if ops::has_type(&v, &t) => Ok(v),
                    Some(v) => Err(fail(E::VariableType {
                        name: name.to_string(),
                        expected: t.to_string(),
                        found: v.type_name().to_owned(),
                    })),
                }
            }
            _ => self.generic_method(recv, m, args, lambda, ty, span),
        }
    }

    /// ToString, Equals and LINQ: methods of every receiver.
    fn generic_method(
        &mut self,
        recv: Value,
        m: Method,
        args: Vec<Value>,
        lambda: Option<&Lambda>,
        ty: Option<&Ty>,
        span: Span,
    ) -> R<Value> {
        use Method as M;
        if let Some(r) = self.element_op(&recv, m, lambda, ty, span) {
            return r;
        }
        let fail = |e: E| (e, span);
        match m {
            M::ToString if matches!(recv, Value::String(_)) => return Ok(recv),
            M::ToString | M::ToStringFormat => {
                let out = match arg_str(&args, 0) {
                    Some(f) if m == M::ToStringFormat && !f.is_empty() => {
                        // a custom DateTime format is as long as its output
                        self.charge_bytes(f.len(), span)?;
                        ops::format_value(&recv, f).map_err(fail)?
                    }
                    _ if m == M::ToStringFormat => recv.to_string(),
                    _ => self.materialize(recv, span)?.to_string(),
                };
                self.charge_bytes(out.len(), span)?;
                return Ok(s(out));
            }
            M::Equals => {
                self.charge_bytes(ops::eq_work(&recv, &args[0]), span)?;
                return Ok(Value::Bool(equals(&recv, &args[0])));
            }
            _ => {}
        }
        let pred = |ev: &mut Eval<'_>, v: Value| -> R<bool> {
            let l = lambda.ok_or((E::Internal("missing lambda".into()), span))?;
            match ev.call_lambda(l, v, span)? {
                Value::Bool(b) => Ok(b),
                _ => Err((E::NullReference("predicate".into()), span)),
            }
        };
        match m {
            M::Any => {
                let mut any = false;
                self.iterate(&recv, span, &mut |_, _| {
                    any = true;
                    Ok(false)
                })?;
                Ok(Value::Bool(any))
            }
            M::AnyPred | M::All => {
                let want = m == M::AnyPred;
                let mut found = false;
                self.iterate(&recv, span, &mut |ev, v| {
                    if pred(ev, v)? == want {
                        found = true;
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                Ok(Value::Bool(if want { found } else { !found }))
            }
            M::Count | M::CountPred => {
                if m == M::Count
                    && let Some(n) = self.dict_len(&recv)
                {
                    return Ok(Value::Int(i32::try_from(n).unwrap_or(i32::MAX)));
                }
                let mut n: i32 = 0;
                self.iterate(&recv, span, &mut |ev, v| {
                    if m == M::Count || pred(ev, v)? {
                        n = n.checked_add(1).ok_or((E::Overflow, span))?;
                    }
                    Ok(true)
                })?;
                Ok(Value::Int(n))
            }
            M::Where | M::Select => {
                let mut out = Vec::new();
                let l = lambda.ok_or((E::Internal("missing lambda".into()), span))?;
                let mut index = 0usize;
                self.iterate(&recv, span, &mut |ev, v| {
                    let i = index;
                    index += 1;
                    let item = if m == M::Where {
                        match ev.call_lambda_at(l, v.clone(), i, span)? {
                            Value::Bool(true) => v,
                            Value::Bool(false) => return Ok(true),
                            _ => return Err((E::NullReference("predicate".into()), span)),
                        }
                    } else {
                        ev.call_lambda_at(l, v, i, span)?
                    };
                    ev.push_bounded(&mut out, item, span)?;
                    Ok(true)
                })?;
                Ok(Value::Array(out.into()))
            }
            M::First | M::FirstPred | M::FirstOrDefault | M::FirstOrDefaultPred => {
                let with_pred = matches!(m, M::FirstPred | M::FirstOrDefaultPred);
                let mut found = None;
                self.iterate(&recv, span, &mut |ev, v| {
                    if !with_pred || pred(ev, v.clone())? {
                        found = Some(v);
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                match (found, m) {
                    (Some(v), _) => Ok(v),
                    (None, M::First) => Err(fail(E::NoElements)),
                    (None, M::FirstPred) => Err(fail(E::NoMatch)),
                    (None, _) => Ok(ty.map_or(Value::Null, default_value)),
                }
            }
            M::Last | M::LastOrDefault => {
                let mut last = None;
                self.iterate(&recv, span, &mut |_, v| {
                    last = Some(v);
                    Ok(true)
                })?;
                match last {
                    Some(v) => Ok(v),
                    None if m == M::Last => Err(fail(E::NoElements)),
                    None => Ok(ty.map_or(Value::Null, default_value)),
                }
            }
            M::Contains => {
                let mut found = false;
                let needle = &args[0];
                self.iterate(&recv, span, &mut |ev, v| {
                    ev.charge_bytes(ops::eq_work(&v, needle), span)?;
                    if equals(&v, needle) {
                        found = true;
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                Ok(Value::Bool(found))
            }
            M::ContainsCmp => {
                let ignore_case = st::ignores_case(enum_arg(&args, 1));
                let needle = match &args[0] {
                    Value::String(x) if ignore_case => Value::string(&st::fold(x)),
                    other => other.clone(),
                };
                let mut found = false;
                self.iterate(&recv, span, &mut |ev, v| {
                    let v = match &v {
                        Value::String(x) if ignore_case => {
                            ev.charge_bytes(x.len() * CASE_MAPPING_COST, span)?;
                            Value::string(&st::fold(x))
                        }
                        _ => v,
                    };
                    ev.charge_bytes(ops::eq_work(&v, &needle), span)?;
                    found = equals(&v, &needle);
                    Ok(!found)
                })?;
                Ok(Value::Bool(found))
            }
            M::ToArray => Ok(Value::Array(self.collect(&recv, span)?.into())),
            M::Distinct => {
                let items = self.collect(&recv, span)?;
                let mut out: Vec<Value> = Vec::new();
                for v in items {
                    // a quadratic scan: every comparison is a step, and its bytes
                    self.charge(out.len(), span)?;
                    let mut seen = false;
                    for o in &out {
                        self.charge_bytes(ops::eq_work(o, &v), span)?;
                        if equals(o, &v) {
                            seen = true;
                            break;
                        }
                    }
                    if !seen {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out.into()))
            }
            M::Skip | M::Take => {
                let n = usize::try_from(as_i64(&args[0]).unwrap_or(0).max(0)).unwrap_or(0);
                let items = self.collect(&recv, span)?;
                let out: Vec<Value> = if m == M::Skip {
                    items.into_iter().skip(n).collect()
                } else {
                    items.into_iter().take(n).collect()
                };
                Ok(Value::Array(out.into()))
            }
            _ => Err(fail(E::Internal(format!(
                "{m:?} on a {}",
                recv.type_name()
            )))),
        }
    }

    /// The message body for `Body.As<T>`; `preserve` keeps it for later readers.
    pub(crate) fn body_bytes(&mut self, w: &Which, preserve: bool, span: Span) -> R<bytes::Bytes> {
        let body = super::props::body(self.ctx, w);
        match body.map(|b| b.read(preserve)) {
            None => Ok(bytes::Bytes::new()),
            Some(Some(bytes)) => Ok(bytes),
            // Unreachable when the route's policies were analysed at load; fail
            // closed rather than let a policy decide on a body it cannot see.
            Some(None) => Err((E::StreamedBody, span)),
        }
    }

    pub(crate) fn static_fn(
        &mut self,
        f: StaticFn,
        args: Vec<Value>,
        regex: Option<&rx::Pattern>,
        span: Span,
    ) -> R<Value> {
        use StaticFn as F;
        let fail = |e: E| (e, span);
        let num = |i: usize| as_f64(&args[i]).unwrap_or(0.0);
        let text = |i: usize, name: &str| -> R<&str> {
            match args.get(i) {
                Some(Value::String(x)) => Ok(x),
                _ => Err(fail(E::Argument(format!("'{name}' is null")))),
            }
        };
        // these read their string arguments whole: trim, parse, decode, escape
        if matches!(
            f,
            F::StrIsNullOrWhiteSpace
                | F::DtParse
                | F::DtoParse
                | F::FromBase64String
                | F::ConvertToInt32
                | F::ConvertToInt64
                | F::ConvertToDouble
                | F::ConvertToBoolean
                | F::RegexEscape
                | F::IntParse
                | F::LongParse
                | F::DoubleParse
                | F::BoolParse
                | F::NewUri
                | F::GuidParse
                | F::UrlEncode
                | F::UrlDecode
                | F::HtmlEncode
                | F::HtmlDecode
                | F::EscapeDataString
                | F::UnescapeDataString
        ) {
            let read = args
                .iter()
                .map(|a| a.as_str().map_or(0, str::len))
                .fold(0, usize::saturating_add);
            self.charge_bytes(read, span)?;
        }
        let span_of = |unit: i64| {
            dt::scaled_ticks(num(0), unit)
                .map(Value::TimeSpan)
                .map_err(fail)
        };
        let now = self.ctx.now;
        match f {
            F::NewList | F::NewMap => self.new_collection(f, &args, span),
            F::StrIsNullOrEmpty => Ok(Value::Bool(arg_str(&args, 0).is_none_or(str::is_empty))),
            F::StrIsNullOrWhiteSpace => Ok(Value::Bool(
                arg_str(&args, 0).is_none_or(|x| x.trim().is_empty()),
            )),
            F::StrJoin | F::StrConcat => {
                let (sep, items) = if f == F::StrJoin {
                    let sep = st::text_arg(&args[0], "separator").unwrap_or_default();
                    let items: Vec<Value> = match &args[1..] {
                        [one @ (Value::Array(_) | Value::Object(_))] => {
                            let one = one.clone();
                            self.collect(&one, span)?
                        }
                        rest => rest.to_vec(),
                    };
                    (sep, items)
                } else {
                    (Cow::Borrowed(""), args.clone())
                };
                let mut out = String::new();
                for (i, v) in items.iter().enumerate() {
                    let piece = match v {
                        Value::String(x) => Cow::Borrowed(&**x),
                        other => Cow::Owned(other.to_string()),
                    };
                    let sep = if i > 0 { &*sep } else { "" };
                    self.check_len(out.len() + sep.len() + piece.len(), "the string", span)?;
                    self.charge_bytes(sep.len() + piece.len(), span)?;
                    out.push_str(sep);
                    out.push_str(&piece);
                }
                Ok(s(out))
            }
            F::StrFormat => {
                let fmt = text(0, "format")?;
                let rest: Vec<Value> = match &args[1..] {
                    [Value::Array(a)] => {
                        self.charge(a.len(), span)?;
                        a.to_vec()
                    }
                    r => r.to_vec(),
                };
                self.charge_bytes(fmt.len(), span)?;
                let out = st::format(fmt, &rest, self.limits.max_string_len).map_err(fail)?;
                self.charge_bytes(out.len(), span)?;
                Ok(s(out))
            }
            F::StrEquals => {
                self.charge_bytes(ops::eq_work(&args[0], &args[1]), span)?;
                Ok(Value::Bool(equals(&args[0], &args[1])))
            }
            F::StrEqualsCmp => Ok(Value::Bool(match (arg_str(&args, 0), arg_str(&args, 1)) {
                (Some(a), Some(b)) if st::ignores_case(enum_arg(&args, 2)) => {
                    self.charge_bytes((a.len() + b.len()) * CASE_MAPPING_COST, span)?;
                    st::fold(a) == st::fold(b)
                }
                (a, b) => {
                    self.charge_bytes(ops::eq_work(&args[0], &args[1]), span)?;
                    a == b
                }
            })),
            F::DtUtcNow | F::DtNow => Ok(Value::DateTime(now)),
            F::DtToday => Ok(Value::DateTime(now.replace_time(time::Time::MIDNIGHT))),
            F::DtSpecifyKind => Ok(args[0].clone()),
            F::DtDaysInMonth | F::DtIsLeapYear => {
                // .NET's range: years 1 to 9999, months 1 to 12
                let year = as_i64(&args[0]).filter(|y| (1..=9999).contains(y));
                let year = year.ok_or_else(|| fail(E::Argument("Year must be between 1 and 9999.".into())))?;
                let year = year as i32;
                if f == F::DtIsLeapYear {
                    return Ok(Value::Bool(time::util::is_leap_year(year)));
                }
                let month = as_i64(&args[1])
                    .and_then(|m| u8::try_from(m).ok())
                    .and_then(|m| time::Month::try_from(m).ok())
                    .ok_or_else(|| fail(E::Argument("Month must be between one and twelve.".into())))?;
                Ok(Value::Int(month.length(year).into()))
            }
            F::DtParse => dt::parse_datetime(text(0, "s")?)
                .map(Value::DateTime)
                .map_err(fail),
            F::DtoParse => dt::parse_datetime_offset(text(0, "input")?)
                .map(Value::DateTimeOffset)
                .map_err(fail),
            F::DtoUtcNow => Ok(Value::DateTimeOffset(now.to_offset(time::UtcOffset::UTC))),
            F::DtoFromUnixTimeSeconds | F::DtoFromUnixTimeMilliseconds => {
                let per_second = if f == F::DtoFromUnixTimeSeconds { 1 } else { 1000 };
                dt::from_unix(as_i64(&args[0]).unwrap_or(0), per_second)
                    .map(Value::DateTimeOffset)
                    .map_err(fail)
            }
            F::NewDateTimeOffset => match args.split_last() {
                // new DateTimeOffset(dateTime): certgate's DateTime is UTC
                Some((Value::DateTime(d), [])) => Ok(Value::DateTimeOffset(*d)),
                // at offset zero every DateTimeKind gives the same instant (APIM's local
                // time is UTC); at another, .NET throws for Utc and Local kinds and reads an
                // Unspecified one as clock time there: certgate keeps no kinds
                Some((Value::TimeSpan(0), [Value::DateTime(d)])) => Ok(Value::DateTimeOffset(*d)),
                Some((Value::TimeSpan(_), [Value::DateTime(_)])) => Err(fail(E::Argument(
                    "certgate keeps no DateTimeKind, so new DateTimeOffset(DateTime, offset) \
                     takes only TimeSpan.Zero; write new DateTimeOffset(year, month, day, hour, \
                     minute, second, offset)"
                        .into(),
                ))),
                Some((Value::TimeSpan(offset), parts)) => {
                    let parts: Vec<i64> = parts.iter().filter_map(as_i64).collect();
                    dt::new_datetime_offset(&parts, *offset)
                        .map(Value::DateTimeOffset)
                        .map_err(fail)
                }
                _ => Err(fail(E::Internal("DateTimeOffset constructor".into()))),
            },
            F::TsFromDays => span_of(dt::TICKS_PER_DAY),
            F::TsFromHours => span_of(dt::TICKS_PER_HOUR),
            F::TsFromMinutes => span_of(dt::TICKS_PER_MINUTE),
            F::TsFromSeconds => span_of(dt::TICKS_PER_SECOND),
            F::TsFromMilliseconds => span_of(dt::TICKS_PER_MS),
            F::TsFromTicks => Ok(Value::TimeSpan(as_i64(&args[0]).unwrap_or(0))),
            F::ToBase64String => match &args[0] {
                Value::Bytes(b) => {
                    let len = b.len() / 3 * 4 + 4;
                    self.check_len(len, "the base64 string", span)?;
                    self.charge_bytes(b.len() + len, span)?;
                    Ok(s(base64::engine::general_purpose::STANDARD.encode(b)))
                }
                _ => Err(fail(E::Argument("inArray is null".into()))),
            },
            F::FromBase64String => {
                let t = text(0, "s")?;
                let clean: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .map(|b| Value::Bytes(Arc::from(b)))
                    .map_err(|_| fail(E::Format("the input is not a valid Base-64 string".into())))
            }
            F::ConvertToInt32 | F::ConvertToInt64 | F::ConvertToDouble => {
                let to = match f {
                    F::ConvertToInt32 => Ty::Int,
                    F::ConvertToInt64 => Ty::Long,
                    _ => Ty::Double,
                };
                match &args[0] {
                    Value::Null => ops::convert_numeric(&Value::Int(0), &to).map_err(fail),
                    Value::String(x) => parse_number(x, &to).map_err(fail),
                    Value::Bool(b) => {
                        ops::convert_numeric(&Value::Int(i32::from(*b)), &to).map_err(fail)
                    }
                    Value::Double(d) if to != Ty::Double => {
                        // Convert rounds to even, unlike a cast
                        ops::convert_numeric(&Value::Double(d.round_ties_even()), &to).map_err(fail)
                    }
                    v => ops::convert_numeric(v, &to).map_err(fail),
                }
            }
            F::ConvertToBoolean => match &args[0] {
                Value::Bool(b) => Ok(Value::Bool(*b)),
                Value::String(x) => parse_bool(x).map_err(fail),
                Value::Null => Ok(Value::Bool(false)),
                v => Ok(Value::Bool(as_f64(v).is_some_and(|d| d != 0.0))),
            },
            F::ConvertToString => {
                let out = args[0].to_string();
                self.charge_bytes(out.len(), span)?;
                Ok(s(out))
            }
            F::MathAbs => match &args[0] {
                Value::Int(n) => n.checked_abs().map(Value::Int).ok_or(fail(E::Overflow)),
                Value::Long(n) => n.checked_abs().map(Value::Long).ok_or(fail(E::Overflow)),
                Value::Char(c) => Ok(Value::Int(*c as i32)),
                v => Ok(Value::Double(as_f64(v).unwrap_or(0.0).abs())),
            },
            F::MathMax | F::MathMin => {
                let greater = ops::binary(
                    super::super::ast::BinOp::Gt,
                    args[0].clone(),
                    args[1].clone(),
                )
                .map_err(fail)?;
                let first = (greater.as_bool() == Some(true)) == (f == F::MathMax);
                let pick = if first { &args[0] } else { &args[1] };
                let both_int = matches!(
                    (&args[0], &args[1]),
                    (
                        Value::Int(_) | Value::Char(_),
                        Value::Int(_) | Value::Char(_)
                    )
                );
                let any_double =
                    matches!(args[0], Value::Double(_)) || matches!(args[1], Value::Double(_));
                let to = if any_double {
                    Ty::Double
                } else if both_int {
                    Ty::Int
                } else {
                    Ty::Long
                };
                ops::convert_numeric(pick, &to).map_err(fail)
            }
            F::MathFloor => Ok(Value::Double(num(0).floor())),
            F::MathCeiling => Ok(Value::Double(num(0).ceil())),
            F::MathRound => Ok(Value::Double(num(0).round_ties_even())),
            F::MathRoundDigits => {
                let digits = as_i64(&args[1]).unwrap_or(0);
                if !(0..=15).contains(&digits) {
                    return Err(fail(E::Argument("digits must be between 0 and 15".into())));
                }
                let p = 10f64.powi(digits as i32);
                Ok(Value::Double((num(0) * p).round_ties_even() / p))
            }
            F::MathPow => Ok(Value::Double(num(0).powf(num(1)))),
            F::MathSqrt => Ok(Value::Double(num(0).sqrt())),
            F::RegexIsMatch | F::RegexMatch | F::RegexReplace => {
                let Some(Value::String(input)) = args.first() else {
                    return Err(fail(E::Argument("'input' is null".into())));
                };
                let built;
                let pattern = match regex {
                    Some(p) => p,
                    None => {
                        let pattern = text(1, "pattern")?;
                        let opts = enum_arg(&args, if f == F::RegexReplace { 3 } else { 2 });
                        built = rx::build(pattern, opts, self.limits.max_regex_size)
                            .map_err(|m| fail(E::Argument(format!("invalid pattern: {m}"))))?;
                        // compiling reads the pattern and builds up to twice its size
                        self.charge_bytes(pattern.len() + 2 * built.size, span)?;
                        &built
                    }
                };
                let max = self.limits.max_string_len;
                let charge = |work: usize| self.charge_bytes(work, span);
                match f {
                    F::RegexIsMatch => rx::is_match(pattern, input, charge).map(Value::Bool),
                    F::RegexMatch => rx::match_data(pattern, input.clone(), charge)
                        .map(|m| h(HandleKind::Match(m))),
                    _ => {
                        let rep = text(2, "replacement")?;
                        let out = rx::replace(pattern, input, rep, max, charge)?;
                        out.map(s).ok_or_else(|| {
                            fail(E::SizeLimit {
                                what: "the string",
                                limit: max,
                            })
                        })
                    }
                }
            }
            F::RegexEscape => {
                let out = regex::escape(text(0, "str")?);
                self.charge_bytes(out.len(), span)?;
                Ok(s(out))
            }
            F::IntParse => parse_number(text(0, "s")?, &Ty::Int).map_err(fail),
            F::LongParse => parse_number(text(0, "s")?, &Ty::Long).map_err(fail),
            F::DoubleParse => parse_number(text(0, "s")?, &Ty::Double).map_err(fail),
            F::BoolParse => parse_bool(text(0, "value")?).map_err(fail),
            F::Json(jf) => self.json_static(jf, args, span),
            F::Xml(xf) => self.xml_static(xf, args, span),
            F::NewTimeSpan | F::NewDateTime => {
                // the DateTimeKind argument is an enum, not a number: it is left out
                let parts: Vec<i64> = args.iter().filter_map(as_i64).collect();
                if f == F::NewTimeSpan {
                    dt::new_timespan(&parts).map(Value::TimeSpan).map_err(fail)
                } else {
                    dt::new_datetime(&parts).map(Value::DateTime).map_err(fail)
                }
            }
            F::NewUri => {
                // .NET's UriFormatException for a relative or malformed URI
                let bad = || {
                    fail(E::Format(
                        "invalid URI: the format of the URI could not be determined".into(),
                    ))
                };
                let original = text(0, "uriString")?;
                let (rest, fragment) = match original.trim().split_once('#') {
                    Some((rest, fragment)) => (rest, format!("#{fragment}")),
                    None => (original.trim(), String::new()),
                };
                let uri: http::Uri = rest.parse().map_err(|_| bad())?;
                if uri.scheme().is_none() || uri.host().is_none_or(str::is_empty) {
                    return Err(bad());
                }
                let uri = UriValue {
                    uri,
                    fragment,
                    original: original.to_owned(),
                };
                Ok(h(HandleKind::Uri(Arc::new(uri))))
            }
            F::NewStringBuilder => {
                let text = match args.first() {
                    Some(Value::String(x)) => {
                        self.charge_bytes(x.len(), span)?;
                        x.to_string()
                    }
                    _ => String::new(),
                };
                Ok(h(HandleKind::StringBuilder(Arc::new(
                    std::sync::Mutex::new(text),
                ))))
            }
            F::NewRandom => Ok(h(HandleKind::Random(args.first().map(|seed| {
                let seed = as_i64(seed).unwrap_or(0) as i32;
                Arc::new(std::sync::Mutex::new(Seeded::new(seed)))
            })))),
            F::UncheckedInt => Ok(Value::Int(as_i64(&args[0]).unwrap_or(0) as i32)),
            F::UncheckedLong => Ok(Value::Long(as_i64(&args[0]).unwrap_or(0))),
            F::AesCreate => Ok(h(HandleKind::Symmetric(Arc::new(std::sync::Mutex::new(
                cipher::Symmetric::new_aes().map_err(fail)?,
            ))))),
            F::NewHmac(a) => match &args[0] {
                Value::Bytes(k) => Ok(h(HandleKind::Hmac(a, k.clone()))),
                _ => Err(fail(E::Argument("key is null".into()))),
            },
            F::BitConverterToString => match &args[0] {
                Value::Bytes(b) => {
                    self.charge_bytes(b.len() * 3, span)?;
                    let hex: Vec<String> = b.iter().map(|x| format!("{x:02X}")).collect();
                    Ok(s(hex.join("-")))
                }
                _ => Err(fail(E::Argument("value is null".into()))),
            },
            F::GuidParse => web::parse_guid(text(0, "input")?)
                .map(|g| h(HandleKind::Guid(g)))
                .ok_or_else(|| {
                    fail(E::Format(
                        "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
                            .into(),
                    ))
                }),
            F::UrlEncode | F::UrlDecode | F::HtmlEncode | F::HtmlDecode => {
                // null in, null out
                let Some(x) = arg_str(&args, 0) else {
                    return Ok(Value::Null);
                };
                let out = match f {
                    F::UrlEncode => web::url_encode(x),
                    F::UrlDecode => web::url_decode(x, true),
                    F::HtmlEncode => web::html_encode(x),
                    _ => web::html_decode(x),
                };
                self.check_len(out.len(), "the string", span)?;
                self.charge_bytes(out.len(), span)?;
                Ok(s(out))
            }
            F::EscapeDataString | F::UnescapeDataString => {
                let x = text(0, "stringToEscape")?;
                let out = if f == F::EscapeDataString {
                    web::escape_data_string(x)
                } else {
                    web::url_decode(x, false)
                };
                self.check_len(out.len(), "the string", span)?;
                self.charge_bytes(out.len(), span)?;
                Ok(s(out))
            }
            F::StrCompare => {
                let (a, b) = match (arg_str(&args, 0), arg_str(&args, 1)) {
                    (None, None) => return Ok(Value::Int(0)),
                    (None, _) => return Ok(Value::Int(-1)),
                    (_, None) => return Ok(Value::Int(1)),
                    (Some(a), Some(b)) => (a, b),
                };
                self.charge_bytes((a.len() + b.len()) * CASE_MAPPING_COST, span)?;
                // (a, b, ignoreCase) or (a, b, StringComparison)
                let (ignore_case, ordinal) = match args.get(2) {
                    Some(Value::Bool(i)) => (*i, false),
                    Some(Value::Enum(e)) => (st::ignores_case(e.value), e.value >= 4),
                    _ => (false, false),
                };
                let (a, b) = if ignore_case {
                    (Cow::Owned(st::fold(a)), Cow::Owned(st::fold(b)))
                } else {
                    (Cow::Borrowed(a), Cow::Borrowed(b))
                };
                Ok(Value::Int(if ordinal {
                    st::compare_ordinal(&a, &b)
                } else {
                    st::compare(&a, &b)
                }))
            }
            F::GuidNewGuid => {
                let mut g = [0u8; 16];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut g).map_err(
                    |_| fail(E::Internal("the system's random generator failed".into())),
                )?;
                // version 4, RFC 4122 variant, as Guid.NewGuid()
                g[6] = (g[6] & 0x0f) | 0x40;
                g[8] = (g[8] & 0x3f) | 0x80;
                Ok(h(HandleKind::Guid(g)))
            }
            F::NewException => {
                let message = match args.first() {
                    Some(Value::String(m)) => m.clone(),
                    // .NET's message for an Exception made without one
                    _ => Arc::from("Exception of type 'System.Exception' was thrown."),
                };
                Ok(h(HandleKind::Exception(message)))
            }
        }
    }
}

/// 64 bits from the system's generator (Random.Next, NextDouble).
fn random_u64() -> Result<u64, E> {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| E::Internal("the system's random generator failed".into()))?;
    Ok(u64::from_le_bytes(b))
}

fn parse_number(x: &str, to: &Ty) -> Result<Value, E> {
    let t = x.trim();
    let bad = || E::Format(format!("{} is not a valid {to}", quoted(x)));
    match to {
        Ty::Double => t.parse::<f64>().map(Value::Double).map_err(|_| bad()),
        _ => {
            let n: i64 = t.parse().map_err(|_| bad())?;
            ops::convert_numeric(&Value::Long(n), to)
        }
    }
}

fn parse_bool(x: &str) -> Result<Value, E> {
    match x.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        t if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        _ => Err(E::Format(format!("{} is not a valid Boolean", quoted(x)))),
    }
}
