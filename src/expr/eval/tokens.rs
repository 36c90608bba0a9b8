//! Values of expressions to and from Newtonsoft tokens: what `JToken`'s implicit and
//! explicit conversions, `Type` and the `new JObject(...)` constructors do. Here, above
//! both `value` and `json`, so that the token model does not depend on the values that
//! hold it.

use std::sync::Arc;

use super::super::builtins::datetime::parse_datetime;
use super::super::json::{DateKind, Items, J, JToken, JsonError, Props, Target};
use super::super::types::{EnumTy, JsonTy};
use super::super::value::{EnumValue, Value};

/// `Type`: the `JTokenType` value.
pub(crate) fn token_type(j: &J) -> Value {
    let value = match j {
        J::Object(_) => 1,
        J::Array(_) => 2,
        J::Property(_) => 4,
        J::Int(_) | J::BigInt(_) => 6,
        J::Float(_) => 7,
        J::Str(_) => 8,
        J::Bool(_) => 9,
        J::Null => 10,
        J::Date(..) => 12,
    };
    Value::Enum(EnumValue {
        ty: EnumTy::JTokenType,
        value,
    })
}

/// The token a value of the expression becomes when stored in a container (the
/// implicit conversions of `JToken`): primitives become `JValue`s, tokens are copied.
pub(crate) fn from_value(v: &Value, work: &mut usize) -> Result<J, JsonError> {
    from_value_at(v, 0, work)
}

/// [`from_value`] at `depth`: a list may hold itself, so the depth is bounded as a JSON
/// document's.
fn from_value_at(v: &Value, depth: usize, work: &mut usize) -> Result<J, JsonError> {
    if depth > crate::expr::json::MAX_WRITE_DEPTH {
        return Err(JsonError::TooDeep(crate::expr::json::MAX_WRITE_DEPTH));
    }
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::Int(i64::from(*n)),
        Value::Long(n) => J::Int(*n),
        Value::Double(d) => J::Float(*d),
        Value::Char(c) => J::Str(Arc::from(c.to_string())),
        Value::String(s) => J::Str(s.clone()),
        Value::DateTime(d) => J::Date(*d, DateKind::Utc),
        Value::Json(t) => t.0.deep_clone(0, work)?,
        Value::Array(a) => {
            let items = a.to_vec();
            let mut out = Vec::with_capacity(items.len());
            for x in &items {
                *work += 1;
                out.push(from_value_at(x, depth + 1, work)?);
            }
            J::Array(Items::new(out))
        }
        other => J::Str(Arc::from(other.to_string())),
    })
}

/// `obj["k"] = v` (adds the property at the end when it is new) or `arr[i] = v`.
pub(crate) fn set(j: &J, key: &Value, v: J, scanned: &mut usize) -> Result<(), String> {
    match (j, key) {
        (J::Object(o), Value::String(k)) => {
            let mut props = o.get();
            let pos = props.iter().position(|(n, _)| n == k);
            *scanned += pos.map_or(props.len(), |p| p + 1);
            match pos.and_then(|p| props.get_mut(p)) {
                Some(slot) => slot.1 = v,
                None => props.push((k.clone(), v)),
            }
            Ok(())
        }
        (J::Array(a), Value::Int(_) | Value::Long(_)) => {
            let mut items = a.get();
            let len = items.len();
            let i = match key {
                Value::Int(n) => i64::from(*n),
                Value::Long(n) => *n,
                _ => -1,
            };
            match usize::try_from(i).ok().and_then(|i| items.get_mut(i)) {
                Some(slot) => {
                    *slot = v;
                    Ok(())
                }
                None => Err(format!("index {i} is outside 0..{len}")),
            }
        }
        _ => Err(format!(
            "a {} can not be indexed by {}",
            j.type_name(),
            key.type_name()
        )),
    }
}

/// Newtonsoft's explicit conversions (`(string)t`, `(int)t`, `Value<T>()`) to a type
/// of the expression; `to` is the .NET name of the target for messages.
pub(crate) fn convert(j: &J, to: Target) -> Result<Value, JsonError> {
    let err = || JsonError::Convert {
        from: j.type_name(),
        to: to.name().to_owned(),
    };
    let parse_num = |s: &str| -> Result<Value, JsonError> {
        let t = s.trim();
        match to {
            Target::Double => t.parse::<f64>().map(Value::Double).map_err(|_| err()),
            Target::Int => t.parse::<i32>().map(Value::Int).map_err(|_| err()),
            _ => t.parse::<i64>().map(Value::Long).map_err(|_| err()),
        }
    };
    // Convert.ToInt32(double) rounds to even and throws on overflow
    let from_f = |d: f64| -> Result<Value, JsonError> {
        let r = d.round_ties_even();
        match to {
            Target::Int if r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX) => {
                Ok(Value::Int(r as i32))
            }
            Target::Long if (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&r) => {
                Ok(Value::Long(r as i64))
            }
            _ => Err(err()),
        }
    };
    match (to, j) {
        (Target::Token(k), j) => {
            if k == JsonTy::Token || k == j.kind() {
                Ok(Value::Json(JToken(j.clone())))
            } else {
                Err(err())
            }
        }
        (_, J::Null) if to == Target::String => Ok(Value::Null),
        (_, J::Null) => Err(err()),
        (Target::String, j) => j
            .value_text()
            .map(|s| Value::String(Arc::from(s)))
            .ok_or_else(err),
        (Target::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (Target::Bool, J::Int(n)) => Ok(Value::Bool(*n != 0)),
        (Target::Bool, J::Float(d)) => Ok(Value::Bool(*d != 0.0)),
        (Target::Bool, J::Str(s)) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(err()),
        },
        (Target::Double, J::Int(n)) => Ok(Value::Double(*n as f64)),
        (Target::Double, J::Float(d)) => Ok(Value::Double(*d)),
        (Target::Double | Target::Int | Target::Long, J::Bool(b)) => match to {
            Target::Double => Ok(Value::Double(f64::from(u8::from(*b)))),
            Target::Int => Ok(Value::Int(i32::from(*b))),
            _ => Ok(Value::Long(i64::from(*b))),
        },
        (Target::Double | Target::Int | Target::Long, J::Str(s) | J::BigInt(s)) => parse_num(s),
        (Target::Int, J::Int(n)) => i32::try_from(*n).map(Value::Int).map_err(|_| err()),
        (Target::Long, J::Int(n)) => Ok(Value::Long(*n)),
        (Target::Int | Target::Long, J::Float(d)) => from_f(*d),
        (Target::DateTime, J::Date(d, _)) => Ok(Value::DateTime(*d)),
        (Target::DateTime, J::Str(s)) => parse_datetime(s).map(Value::DateTime).map_err(|_| err()),
        _ => Err(err()),
    }
}

/// Runs a Newtonsoft constructor on checked arguments, for the `new` expression (`class`
/// is the type after `new`; `JToken` is abstract and refused):
///
/// * `JObject()`, `JObject(content...)`: each argument a `JProperty`, or a `JObject`
///   whose properties are copied (Newtonsoft's `params object[] content`); a repeated name
///   is an error, as Newtonsoft's `Add`;
/// * `JArray()`, `JArray(content...)`: each argument an element (a token is copied, a
///   string or number becomes a `JValue`; one `Value::Array` argument gives its elements);
/// * `JProperty(string name, object value)`;
/// * `JValue(value)` of a string, number, bool, DateTime or null.
///
/// `work` counts the tokens built or copied, for the caller to charge as steps.
pub(crate) fn construct(
    class: JsonTy,
    args: &[Value],
    work: &mut usize,
) -> Result<Value, JsonError> {
    let token = |j: J| Value::Json(JToken(j));
    match class {
        JsonTy::Token => Err(JsonError::Kind {
            expected: "JObject, JArray, JProperty or JValue after new",
            found: "JToken, which is abstract",
        }),
        JsonTy::Object => {
            let mut props: Vec<(Arc<str>, J)> = Vec::new();
            for a in args {
                let add: Vec<(Arc<str>, J)> = match from_value(a, work)? {
                    J::Property(p) => vec![(p.0.clone(), p.1.clone())],
                    J::Object(o) => o.get().clone(),
                    J::Null => Vec::new(),
                    other => return Err(JsonError::Add(other.type_name(), "Object")),
                };
                for (k, v) in add {
                    if props.iter().any(|(n, _)| *n == k) {
                        return Err(JsonError::Duplicate(k.to_string()));
                    }
                    props.push((k, v));
                }
            }
            Ok(token(J::Object(Props::new(props))))
        }
        JsonTy::Array => {
            let items = match args {
                [Value::Array(a)] => {
                    *work += a.len();
                    a.to_vec().iter().map(|v| from_value(v, work)).collect()
                }
                _ => args
                    .iter()
                    .map(|v| from_value(v, work))
                    .collect::<Result<Vec<_>, _>>(),
            }?;
            if let Some(p) = items.iter().find(|j| matches!(j, J::Property(_))) {
                return Err(JsonError::Add(p.type_name(), "Array"));
            }
            Ok(token(J::Array(Items::new(items))))
        }
        JsonTy::Property => match args {
            [Value::String(name), v] => Ok(token(J::Property(Arc::new((
                name.clone(),
                from_value(v, work)?,
                None,
            ))))),
            _ => Err(JsonError::Kind {
                expected: "property (string name, object value)",
                found: "other arguments",
            }),
        },
        JsonTy::Value => match args {
            [
                v @ (Value::Null
                | Value::Bool(_)
                | Value::Int(_)
                | Value::Long(_)
                | Value::Double(_)
                | Value::Char(_)
                | Value::String(_)
                | Value::DateTime(_)),
            ] => Ok(token(from_value(v, work)?)),
            _ => Err(JsonError::Kind {
                expected: "value (string, number, bool, DateTime or null)",
                found: "other arguments",
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::json::write;
    use super::*;

    fn text(v: &Value) -> String {
        let Value::Json(t) = v else {
            panic!("not a token: {v:?}")
        };
        let mut out = String::new();
        let mut work = 0;
        write(&t.0, false, &mut out, &mut work).expect("writes");
        out
    }

    #[test]
    fn construct_builds_objects_arrays_properties_and_values() {
        let mut work = 0;
        let p = construct(
            JsonTy::Property,
            &[Value::string("a"), Value::Int(1)],
            &mut work,
        )
        .expect("property");
        let arr = construct(
            JsonTy::Array,
            &[Value::string("x"), Value::Double(1.0), Value::Null],
            &mut work,
        )
        .expect("array");
        let q =
            construct(JsonTy::Property, &[Value::string("b"), arr], &mut work).expect("property");
        let obj = construct(JsonTy::Object, &[p.clone(), q], &mut work).expect("object");
        assert_eq!(text(&obj), r#"{"a":1,"b":["x",1.0,null]}"#);
        let v = construct(JsonTy::Value, &[Value::Bool(true)], &mut work).expect("value");
        assert_eq!(text(&v), "true");
        assert!(work > 0);
        // a repeated name, a value in an object, a property in an array: refused
        assert_eq!(
            construct(JsonTy::Object, &[p.clone(), p.clone()], &mut work).unwrap_err(),
            JsonError::Duplicate("a".into())
        );
        assert!(construct(JsonTy::Object, &[Value::Int(1)], &mut work).is_err());
        assert!(construct(JsonTy::Array, &[p], &mut work).is_err());
        assert!(construct(JsonTy::Property, &[Value::Int(1)], &mut work).is_err());
        assert!(construct(JsonTy::Token, &[], &mut work).is_err());
    }

    #[test]
    fn construct_copies_tokens_so_containers_never_share() {
        let mut work = 0;
        let inner = construct(JsonTy::Array, &[Value::Int(1)], &mut work).expect("array");
        let outer =
            construct(JsonTy::Array, &[inner.clone(), inner.clone()], &mut work).expect("array");
        if let Value::Json(JToken(J::Array(a))) = &inner {
            a.get().push(J::Int(2));
        }
        assert_eq!(text(&outer), "[[1],[1]]");
        assert_eq!(text(&inner), "[1,2]");
    }
}
