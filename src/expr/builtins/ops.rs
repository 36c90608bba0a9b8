//! Operators with C# semantics: checked integer arithmetic, numeric promotion, lifted
//! null, ordinal string equality, casts.

use std::cmp::Ordering;
use std::sync::Arc;

use super::super::ast::{BinOp, UnOp};
use super::super::diagnostic::EvalErrorKind as E;
use super::super::types::Ty;
use super::super::value::{Handle, HandleKind, Value};
use super::super::xlinq::XObj;
use super::datetime::{add_ticks, diff_ticks, format_datetime, format_offset};

enum Num {
    I(i32),
    L(i64),
    D(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Int(n) => Some(Num::I(*n)),
        Value::Char(c) => Some(Num::I(*c as i32)),
        Value::Long(n) => Some(Num::L(*n)),
        Value::Double(d) => Some(Num::D(*d)),
        _ => None,
    }
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    Some(match num(v)? {
        Num::I(n) => f64::from(n),
        Num::L(n) => n as f64,
        Num::D(d) => d,
    })
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match num(v)? {
        Num::I(n) => Some(i64::from(n)),
        Num::L(n) => Some(n),
        Num::D(_) => None,
    }
}

pub(crate) fn unary(op: UnOp, v: Value) -> Result<Value, E> {
    Ok(match (op, v) {
        (_, Value::Null) => Value::Null,
        (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
        (UnOp::Plus, Value::Char(c)) => Value::Int(c as i32),
        (UnOp::Plus, v) => v,
        (UnOp::Neg, Value::Int(n)) => Value::Int(n.checked_neg().ok_or(E::Overflow)?),
        (UnOp::Neg, Value::Char(c)) => Value::Int(-(c as i32)),
        (UnOp::Neg, Value::Long(n)) => Value::Long(n.checked_neg().ok_or(E::Overflow)?),
        (UnOp::Neg, Value::Double(d)) => Value::Double(-d),
        (UnOp::Neg, Value::TimeSpan(t)) => Value::TimeSpan(t.checked_neg().ok_or(E::Overflow)?),
        (UnOp::NegWrap, Value::Int(n)) => Value::Int(n.wrapping_neg()),
        (UnOp::NegWrap, Value::Long(n)) => Value::Long(n.wrapping_neg()),
        (UnOp::BitNot, Value::Int(n)) => Value::Int(!n),
        (UnOp::BitNot, Value::Char(c)) => Value::Int(!(c as i32)),
        (UnOp::BitNot, Value::Long(n)) => Value::Long(!n),
        (_, v) => return Err(E::Internal(format!("unary operator on {}", v.type_name()))),
    })
}

pub(crate) fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, E> {
    match op {
        BinOp::Eq => return Ok(Value::Bool(equals(&a, &b))),
        BinOp::Ne => return Ok(Value::Bool(!equals(&a, &b))),
        _ => {}
    }
    if a.is_null() || b.is_null() {
        // lifted operators: arithmetic with null is null, comparisons are false
        return Ok(match op {
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => Value::Bool(false),
            _ => Value::Null,
        });
    }
    if let (Some(x), Some(y)) = (num(&a), num(&b)) {
        return numeric(op, x, y);
    }
    let ord = |o: Ordering| {
        Value::Bool(match op {
            BinOp::Lt => o == Ordering::Less,
            BinOp::Le => o != Ordering::Greater,
            BinOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        })
    };
    Ok(match (op, &a, &b) {
        // `&`, `|`, `^` on bool: both sides were evaluated
        (BinOp::BitAnd, Value::Bool(x), Value::Bool(y)) => Value::Bool(*x & *y),
        (BinOp::BitOr, Value::Bool(x), Value::Bool(y)) => Value::Bool(*x | *y),
        (BinOp::Xor, Value::Bool(x), Value::Bool(y)) => Value::Bool(*x ^ *y),
        (BinOp::Add, Value::DateTimeOffset(d), Value::TimeSpan(t)) => {
            Value::DateTimeOffset(add_ticks(*d, *t)?)
        }
        (BinOp::Sub, Value::DateTimeOffset(d), Value::TimeSpan(t)) => {
            Value::DateTimeOffset(add_ticks(*d, t.checked_neg().ok_or(E::Overflow)?)?)
        }
        // DateTimes, or one with a DateTimeOffset (C# converts it): the instants count
        (
            BinOp::Sub,
            Value::DateTimeOffset(x) | Value::DateTime(x),
            Value::DateTimeOffset(y) | Value::DateTime(y),
        ) => Value::TimeSpan(diff_ticks(*x, *y)?),
        (
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge,
            Value::DateTimeOffset(x) | Value::DateTime(x),
            Value::DateTimeOffset(y) | Value::DateTime(y),
        ) => ord(x.cmp(y)),
        (BinOp::Add, Value::DateTime(d), Value::TimeSpan(t)) => Value::DateTime(add_ticks(*d, *t)?),
        (BinOp::Sub, Value::DateTime(d), Value::TimeSpan(t)) => {
            Value::DateTime(add_ticks(*d, t.checked_neg().ok_or(E::Overflow)?)?)
        }
        (BinOp::Add, Value::TimeSpan(x), Value::TimeSpan(y)) => {
            Value::TimeSpan(x.checked_add(*y).ok_or(E::Overflow)?)
        }
        (BinOp::Sub, Value::TimeSpan(x), Value::TimeSpan(y)) => {
            Value::TimeSpan(x.checked_sub(*y).ok_or(E::Overflow)?)
        }
        (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge, Value::TimeSpan(x), Value::TimeSpan(y)) => {
            ord(x.cmp(y))
        }
        _ => {
            return Err(E::Internal(format!(
                "operator {} on {} and {}",
                op.symbol(),
                a.type_name(),
                b.type_name()
            )));
        }
    })
}

fn numeric(op: BinOp, x: Num, y: Num) -> Result<Value, E> {
    use Num::*;
    let cmp = |o: Option<Ordering>| {
        Ok(Value::Bool(match (op, o) {
            (_, None) => false,
            (BinOp::Lt, Some(o)) => o == Ordering::Less,
            (BinOp::Le, Some(o)) => o != Ordering::Greater,
            (BinOp::Gt, Some(o)) => o == Ordering::Greater,
            (_, Some(o)) => o != Ordering::Less,
        }))
    };
    let is_cmp = matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge);
    // `int` and `long` alike: C#'s checked arithmetic, division by zero throws.
    macro_rules! checked {
        ($a:expr, $b:expr, $wrap:path) => {{
            let (a, b) = ($a, $b);
            if is_cmp {
                return cmp(Some(a.cmp(&b)));
            }
            let r = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div | BinOp::Rem if b == 0 => return Err(E::DivideByZero),
                BinOp::Div => a.checked_div(b),
                BinOp::Rem => a.checked_rem(b),
                BinOp::BitAnd => Some(a & b),
                BinOp::BitOr => Some(a | b),
                BinOp::Xor => Some(a ^ b),
                // C# takes the count modulo the width (its low 5 or 6 bits), as wrapping_sh*
                BinOp::Shl => Some(a.wrapping_shl(b as u32)),
                BinOp::Shr => Some(a.wrapping_shr(b as u32)),
                BinOp::AddWrap => Some(a.wrapping_add(b)),
                BinOp::SubWrap => Some(a.wrapping_sub(b)),
                BinOp::MulWrap => Some(a.wrapping_mul(b)),
                _ => return Err(E::Internal("integer operator".into())),
            };
            r.map($wrap).ok_or(E::Overflow)
        }};
    }
    match (x, y) {
        (I(a), I(b)) => checked!(a, b, Value::Int),
        (a @ (I(_) | L(_)), b @ (I(_) | L(_))) => checked!(to_l(a), to_l(b), Value::Long),
        (a, b) => {
            let (a, b) = (to_d(a), to_d(b));
            if is_cmp {
                return cmp(a.partial_cmp(&b));
            }
            Ok(Value::Double(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Rem => a % b,
                _ => return Err(E::Internal("double operator".into())),
            }))
        }
    }
}

fn to_l(n: Num) -> i64 {
    match n {
        Num::I(a) => i64::from(a),
        Num::L(a) => a,
        Num::D(a) => a as i64,
    }
}

fn to_d(n: Num) -> f64 {
    match n {
        Num::I(a) => f64::from(a),
        Num::L(a) => a as f64,
        Num::D(a) => a,
    }
}

/// C# `==`: ordinal strings, numeric across int/long/double, null only equals null.
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Char(x), Value::Char(y)) => x == y,
        (Value::DateTime(x), Value::DateTime(y)) => x == y,
        // the same instant, whatever the offsets (.NET compares UtcDateTime)
        (Value::DateTimeOffset(x), Value::DateTimeOffset(y) | Value::DateTime(y))
        | (Value::DateTime(x), Value::DateTimeOffset(y)) => x == y,
        (Value::TimeSpan(x), Value::TimeSpan(y)) => x == y,
        (Value::Enum(x), Value::Enum(y)) => x == y,
        (Value::Certificate(x), Value::Certificate(y)) => Arc::ptr_eq(x, y) || x.der() == y.der(),
        (Value::Bytes(x), Value::Bytes(y)) => Arc::ptr_eq(x, y),
        (Value::Array(x), Value::Array(y)) => x.same(y),
        (Value::Map(x), Value::Map(y)) => x.same(y),
        (Value::Pair(x), Value::Pair(y)) => equals(&x.0, &y.0) && equals(&x.1, &y.1),
        (
            Value::Object(Handle(HandleKind::Guid(x))),
            Value::Object(Handle(HandleKind::Guid(y))),
        ) => x == y,
        (Value::Object(Handle(HandleKind::Xml(x))), Value::Object(Handle(HandleKind::Xml(y)))) => {
            x.same(y)
        }
        // `e.Name == "a"`: the string converts to an XName
        (Value::Object(Handle(HandleKind::Xml(XObj::Name(n)))), Value::String(s))
        | (Value::String(s), Value::Object(Handle(HandleKind::Xml(XObj::Name(n))))) => {
            n.expanded() == **s
        }
        _ => match (num(a), num(b)) {
            (Some(Num::D(x)), Some(y)) | (Some(y), Some(Num::D(x))) => x == to_d(y),
            (Some(x), Some(y)) => to_l(x) == to_l(y),
            _ => false,
        },
    }
}

/// Bytes [`equals`] may compare: strings of equal length (others differ at once), pairs
/// element by element, certificates by DER. Everything else compares in constant time.
pub(crate) fn eq_work(a: &Value, b: &Value) -> usize {
    match (a, b) {
        (Value::String(x), Value::String(y)) if x.len() == y.len() => x.len(),
        (Value::Pair(x), Value::Pair(y)) => eq_work(&x.0, &y.0).saturating_add(eq_work(&x.1, &y.1)),
        (Value::Certificate(x), Value::Certificate(y)) => x.der().len().min(y.der().len()),
        _ => 0,
    }
}

fn cast_err(v: &Value, to: &Ty) -> E {
    E::InvalidCast {
        from: v.type_name().to_owned(),
        to: to.to_string(),
    }
}

/// Whether `v` already is a `T` (`object` takes anything): casts that need no
/// conversion, and `GetValueOrDefault<T>`'s type check.
pub(crate) fn has_type(v: &Value, t: &Ty) -> bool {
    matches!(
        (v, t),
        (_, Ty::Object)
            | (Value::String(_), Ty::String)
            | (Value::Bool(_), Ty::Bool)
            | (Value::Int(_), Ty::Int)
            | (Value::Long(_), Ty::Long)
            | (Value::Double(_), Ty::Double)
            | (Value::Char(_), Ty::Char)
            | (Value::DateTime(_), Ty::DateTime)
            | (Value::DateTimeOffset(_), Ty::DateTimeOffset)
            | (Value::TimeSpan(_), Ty::TimeSpan)
            | (Value::Bytes(_), Ty::Bytes)
            | (Value::Array(_), Ty::Array(_) | Ty::List(_))
            | (Value::Map(_), Ty::Map(..))
            | (Value::Certificate(_), Ty::Cert)
            | (Value::Pair(_), Ty::Pair(..))
            | (
                Value::Object(crate::expr::value::Handle(
                    crate::expr::value::HandleKind::Jwt(_)
                )),
                Ty::Obj(crate::expr::types::Obj::Jwt)
            )
            | (
                Value::Object(crate::expr::value::Handle(
                    crate::expr::value::HandleKind::BasicAuth(_)
                )),
                Ty::Obj(crate::expr::types::Obj::BasicAuth)
            )
            | (
                Value::Object(crate::expr::value::Handle(
                    crate::expr::value::HandleKind::StoredResponse(_)
                )),
                Ty::Obj(crate::expr::types::Obj::Response)
            )
    ) || matches!((v, t), (Value::Object(Handle(HandleKind::Xml(x))), Ty::Xml(k)) if x.kind() == *k)
}

/// An explicit cast `(T)v`. With `unbox`, the value came from `object` and must already
/// have type `T` (C# unboxing).
pub(crate) fn cast(v: Value, to: &Ty, unbox: bool) -> Result<Value, E> {
    if matches!(to, Ty::Object) {
        return Ok(v);
    }
    if v.is_null() {
        return if to.is_value_type() {
            Err(cast_err(&v, to))
        } else {
            Ok(Value::Null)
        };
    }
    if has_type(&v, to) {
        return Ok(v);
    }
    // `(int)DayOfWeek.Monday`: an enum's number
    if let (Value::Enum(e), false) = (&v, unbox) {
        return convert_numeric(&Value::Int(e.value), to);
    }
    if unbox || num(&v).is_none() {
        return Err(cast_err(&v, to));
    }
    convert_numeric(&v, to)
}

/// Numeric conversion (explicit or implicit), checked: overflow is an error.
pub(crate) fn convert_numeric(v: &Value, to: &Ty) -> Result<Value, E> {
    let Some(n) = num(v) else {
        return Err(cast_err(v, to));
    };
    let float_to_int = |d: f64, min: f64, max: f64| {
        let t = d.trunc();
        if t.is_nan() || t < min || t > max {
            Err(E::Overflow)
        } else {
            Ok(t)
        }
    };
    Ok(match to {
        Ty::Int => Value::Int(match n {
            Num::I(a) => a,
            Num::L(a) => i32::try_from(a).map_err(|_| E::Overflow)?,
            Num::D(d) => float_to_int(d, f64::from(i32::MIN), f64::from(i32::MAX))? as i32,
        }),
        Ty::Long => Value::Long(match n {
            Num::D(d) => {
                float_to_int(d, -9.223_372_036_854_775e18, 9.223_372_036_854_775e18)? as i64
            }
            other => to_l(other),
        }),
        Ty::Double => Value::Double(to_d(n)),
        Ty::Char => {
            let code = match n {
                Num::D(d) => float_to_int(d, 0.0, 65535.0)? as i64,
                other => to_l(other),
            };
            let c = u32::try_from(code)
                .ok()
                .filter(|c| *c <= 0xFFFF)
                .ok_or(E::Overflow)?;
            Value::Char(char::from_u32(c).unwrap_or('\u{FFFD}'))
        }
        _ => return Err(cast_err(v, to)),
    })
}

/// The precision specifier of a number format (`D8`, `F2`): at most 99, the limit of .NET
/// Framework (later .NET allows more), which keeps one formatted number short.
fn precision(fmt: &str, digits: &str, default: usize) -> Result<usize, E> {
    if digits.is_empty() {
        return Ok(default);
    }
    match digits.parse::<usize>() {
        Ok(n) if n <= 99 => Ok(n),
        Ok(_) => Err(E::Format(format!(
            "'{fmt}': the precision specifier must be between 0 and 99"
        ))),
        Err(_) => Err(E::Format(format!("'{fmt}' is not a number format"))),
    }
}

/// `ToString(format)` for interpolation holes and `x.ToString("...")`.
pub(crate) fn format_value(v: &Value, fmt: &str) -> Result<String, E> {
    match v {
        Value::Object(Handle(HandleKind::Guid(g))) => super::web::format_guid(g, fmt)
            .ok_or_else(|| E::Format(format!("'{fmt}' is not a Guid format (N, D, B or P)"))),
        Value::DateTime(d) => format_datetime(*d, fmt),
        Value::DateTimeOffset(d) => format_offset(*d, fmt),
        Value::Int(_) | Value::Long(_) => {
            let n = as_i64(v).unwrap_or(0);
            let (kind, digits) = fmt.split_at(fmt.chars().next().map_or(0, char::len_utf8));
            let width = precision(fmt, digits, 0)?;
            match kind {
                "D" | "d" => Ok(if n < 0 {
                    format!("-{:0width$}", n.unsigned_abs())
                } else {
                    format!("{n:0width$}")
                }),
                "X" => Ok(format!("{n:0width$X}")),
                "x" => Ok(format!("{n:0width$x}")),
                "N" | "n" | "F" | "f" => format_value(&Value::Double(n as f64), fmt),
                _ => Err(E::Format(format!(
                    "'{fmt}' is not a supported number format"
                ))),
            }
        }
        Value::Double(d) => {
            let (kind, digits) = fmt.split_at(fmt.chars().next().map_or(0, char::len_utf8));
            let prec = precision(fmt, digits, 2)?;
            match kind {
                "F" | "f" => Ok(format!("{d:.prec$}")),
                "N" | "n" => {
                    let s = format!("{:.prec$}", d.abs());
                    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
                    let mut grouped = String::new();
                    for (i, c) in int.chars().enumerate() {
                        if i > 0 && (int.len() - i) % 3 == 0 {
                            grouped.push(',');
                        }
                        grouped.push(c);
                    }
                    let sign = if *d < 0.0 { "-" } else { "" };
                    Ok(if frac.is_empty() {
                        format!("{sign}{grouped}")
                    } else {
                        format!("{sign}{grouped}.{frac}")
                    })
                }
                _ => Err(E::Format(format!(
                    "'{fmt}' is not a supported number format"
                ))),
            }
        }
        _ => Err(E::Format(format!(
            "a {} cannot be formatted with '{fmt}'",
            v.type_name()
        ))),
    }
}

/// `Comparer<T>.Default.Compare`: null first, numbers by value (NaN first), strings by
/// the culture order of `string::culture_compare` (or ordinally), dates, spans, bools
/// and enums by value. None for values .NET cannot compare ("at least one object must
/// implement IComparable").
pub(crate) fn compare(a: &Value, b: &Value, ordinal: bool) -> Option<Ordering> {
    Some(match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::String(x), Value::String(y)) if ordinal => x.cmp(y),
        (Value::String(x), Value::String(y)) => super::string::culture_compare(x, y),
        (Value::DateTime(x), Value::DateTime(y))
        | (Value::DateTimeOffset(x), Value::DateTimeOffset(y)) => x.cmp(y),
        (Value::TimeSpan(x), Value::TimeSpan(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Enum(x), Value::Enum(y)) => x.value.cmp(&y.value),
        _ => match (as_i64(a), as_i64(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (as_f64(a)?, as_f64(b)?);
                // .NET: NaN is smaller than every number, and equal to itself
                x.partial_cmp(&y)
                    .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()).reverse())
            }
        },
    })
}
