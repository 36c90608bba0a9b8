//! Per-request values of policy attributes: a literal converted at load, or an
//! expression evaluated now and converted with the same rules.

use std::net::IpAddr;

use super::Failure;
use crate::expr::{Context, Value};
use crate::policy::elements::{
    DownstreamCaching, ExistsAction, IpFilterAction, RequestMode, WaitFor,
};
use crate::policy::value::Param;

/// Why an expression's value does not fit its attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {expected}, but the expression gave {found}")]
pub(crate) struct ParamError {
    pub what: &'static str,
    pub expected: &'static str,
    pub found: String,
}

/// Converts an expression's value into an attribute's type.
pub(crate) trait FromValue: Sized + Clone {
    const EXPECTED: &'static str;
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for bool {
    const EXPECTED: &'static str = "a Boolean";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => parse_bool(s),
            _ => None,
        }
    }
}

/// .NET's `bool.Parse`: case-insensitive `true`/`false`, surrounding spaces allowed.
fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(i64::from(*n)),
        Value::Long(n) => Some(*n),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl FromValue for u16 {
    const EXPECTED: &'static str = "an integer from 0 to 65535";
    fn from_value(value: &Value) -> Option<Self> {
        integer(value).and_then(|n| u16::try_from(n).ok())
    }
}

impl FromValue for u32 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_value(value: &Value) -> Option<Self> {
        integer(value).and_then(|n| u32::try_from(n).ok())
    }
}

impl FromValue for String {
    const EXPECTED: &'static str = "a string";
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.to_string())
    }
}

impl FromValue for ExistsAction {
    const EXPECTED: &'static str = "override, skip, append or delete";
    fn from_value(value: &Value) -> Option<Self> {
        ExistsAction::parse(value.as_str()?).ok()
    }
}

impl FromValue for DownstreamCaching {
    const EXPECTED: &'static str = "none, private or public";
    fn from_value(value: &Value) -> Option<Self> {
        Self::parse(value.as_str()?).ok()
    }
}

impl FromValue for IpFilterAction {
    const EXPECTED: &'static str = "allow or forbid";
    fn from_value(value: &Value) -> Option<Self> {
        match value.as_str()? {
            "allow" => Some(Self::Allow),
            "forbid" => Some(Self::Forbid),
            _ => None,
        }
    }
}

impl FromValue for RequestMode {
    const EXPECTED: &'static str = "new or copy";
    fn from_value(value: &Value) -> Option<Self> {
        Self::parse(value.as_str()?).ok()
    }
}

impl FromValue for WaitFor {
    const EXPECTED: &'static str = "all or any";
    fn from_value(value: &Value) -> Option<Self> {
        Self::parse(value.as_str()?).ok()
    }
}

impl FromValue for IpAddr {
    const EXPECTED: &'static str = "an IP address";
    fn from_value(value: &Value) -> Option<Self> {
        value.as_str()?.trim().parse().ok()
    }
}

/// The value of `param` for this request; `policy` names the element for LastError.
pub(crate) fn eval<T: FromValue>(
    param: &Param<T>,
    ctx: &Context,
    policy: &'static str,
) -> Result<T, Failure> {
    match param {
        Param::Literal(value, _) => Ok(value.clone()),
        Param::Expression(expression) => {
            let value = expression
                .eval(ctx)
                .map_err(|e| Failure::expression(policy, e.to_string()))?;
            T::from_value(&value).ok_or_else(|| {
                let error = ParamError {
                    what: "the value",
                    expected: T::EXPECTED,
                    found: describe(&value),
                };
                Failure::expression(policy, error.to_string())
            })
        }
    }
}

/// The raw value of `param` (for `set-variable`, which stores what the expression
/// returned, and a literal as a string).
pub(crate) fn eval_value(
    param: &Param<String>,
    ctx: &Context,
    policy: &'static str,
) -> Result<Value, Failure> {
    match param {
        Param::Literal(text, _) => Ok(Value::string(text)),
        Param::Expression(expression) => expression
            .eval(ctx)
            .map_err(|e| Failure::expression(policy, e.to_string())),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("\"{s}\""),
        other => format!("{other} ({})", other.type_name()),
    }
}
