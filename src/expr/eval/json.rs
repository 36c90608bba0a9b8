//! Evaluating Newtonsoft.Json members: every operation charges the tokens it reads,
//! builds or writes ([`TOKEN_COST`] each) and the bytes it parses or writes.

use std::sync::{Arc, Weak};

use super::super::diagnostic::EvalErrorKind as E;
use super::super::ir::default_value;
use super::super::ir::{JsonFn, JsonMethod, JsonProp};
use super::super::json::{self, J, JToken, JsonError, Target};
use super::super::span::Span;
use super::super::types::{JsonTy, Ty};
use super::super::value::{Handle, HandleKind, Value};
use super::tokens;
use super::{ELEMENT_COST, Eval, R, pair};

fn token(j: J) -> Value {
    Value::Json(JToken(j))
}

/// Steps for each token parsed, built, copied or written: an allocation or a lock and a
/// clone each. Measured on the 2-core VM, rewriting a 4 KB body (parse, set, write
/// indented) took 106 µs; at 3 steps a token it is charged 3,910 steps (27 ns a step),
/// near the 26 ns a step the limit is calibrated for (at [`ELEMENT_COST`]: 2,881 steps).
const TOKEN_COST: usize = ELEMENT_COST + 1;

/// Properties compared per step when looking a name up in an object.
const PROPS_PER_STEP: usize = 4;

fn kind_error(expected: JsonTy, j: &J) -> E {
    json_error(JsonError::Kind {
        expected: expected.name(),
        found: j.type_name(),
    })
}

/// A JSON error as an evaluation error.
fn json_error(e: JsonError) -> E {
    E::Json(e.to_string())
}

impl Eval<'_> {
    fn charge_tokens(&mut self, n: usize, span: Span) -> R<()> {
        self.charge(n.saturating_mul(TOKEN_COST), span)
    }

    /// Parses `text` as a token of kind `k` (`JToken`: any).
    fn json_parse(&mut self, text: &str, k: JsonTy, span: Span) -> R<Value> {
        self.charge_bytes(text.len(), span)?;
        let mut work = 0;
        let r = json::parse(text, &mut work);
        self.charge_tokens(work, span)?;
        let j = r.map_err(|e| (json_error(e), span))?;
        if k != JsonTy::Token && j.kind() != k {
            return Err((kind_error(k, &j), span));
        }
        Ok(token(j))
    }

    /// `j` as JSON text, charged and size-checked.
    fn json_text(&mut self, j: &J, indented: bool, span: Span) -> R<Value> {
        let mut out = String::new();
        let mut work = 0;
        let r = json::write(j, indented, &mut out, &mut work);
        self.charge_tokens(work, span)?;
        r.map_err(|e| (json_error(e), span))?;
        self.check_len(out.len(), "the JSON text", span)?;
        self.charge_bytes(out.len(), span)?;
        Ok(Value::String(Arc::from(out)))
    }

    /// A value of the expression as a token to store (copied when it is one).
    fn json_of(&mut self, v: &Value, span: Span) -> R<J> {
        let mut work = 0;
        let r = tokens::from_value(v, &mut work);
        self.charge_tokens(work, span)?;
        r.map_err(|e| (json_error(e), span))
    }

    fn json_key(&mut self, j: &J, key: &str, span: Span) -> R<Option<J>> {
        let mut scanned = 0;
        let found = j.get_key(key, &mut scanned);
        self.charge(scanned / PROPS_PER_STEP, span)?;
        Ok(found)
    }

    pub(crate) fn json_prop(&mut self, v: Value, p: JsonProp, span: Span) -> R<Value> {
        let Value::Json(JToken(j)) = &v else {
            return Err((E::Internal(format!("{p:?} on a {}", v.type_name())), span));
        };
        Ok(match (p, j) {
            (JsonProp::Count, j) => {
                Value::Int(i32::try_from(j.count().unwrap_or(0)).unwrap_or(i32::MAX))
            }
            (JsonProp::Type, j) => tokens::token_type(j),
            (JsonProp::HasValues, j) => Value::Bool(j.has_values()),
            (JsonProp::Name, J::Property(p)) => Value::String(p.0.clone()),
            (JsonProp::Value, J::Property(p)) => token(p.1.clone()),
            (_, j) => return Err((kind_error(JsonTy::Property, j), span)),
        })
    }

    /// `token["name"]` (null when missing) and `token[i]`.
    pub(crate) fn json_index(&mut self, j: &J, i: &Value, span: Span) -> R<Value> {
        match (j, i) {
            (J::Object(_), Value::String(k)) => {
                Ok(self.json_key(j, k, span)?.map_or(Value::Null, token))
            }
            (J::Array(a), Value::Int(_) | Value::Char(_)) => {
                let n = super::super::builtins::ops::as_i64(i).unwrap_or(-1);
                j.get_index(n).map(token).ok_or_else(|| {
                    let len = a.get().len();
                    (
                        E::IndexOutOfRange(format!("index {n} is outside 0..{len}")),
                        span,
                    )
                })
            }
            (J::Object(_), _) => Err((kind_error(JsonTy::Array, j), span)),
            (J::Array(_), _) => Err((kind_error(JsonTy::Object, j), span)),
            _ => Err((
                json_error(JsonError::Kind {
                    expected: "object or array to index",
                    found: j.type_name(),
                }),
                span,
            )),
        }
    }

    /// `token[index] = value;`
    pub(crate) fn json_set_index(
        &mut self,
        recv: Value,
        index: Value,
        value: Value,
        span: Span,
    ) -> R<()> {
        let Value::Json(JToken(j)) = &recv else {
            return Err((E::NullReference(self.text(span)), span));
        };
        let v = self.json_of(&value, span)?;
        let mut scanned = 0;
        let r = tokens::set(j, &index, v, &mut scanned);
        self.charge(scanned / PROPS_PER_STEP, span)?;
        r.map_err(|m| (E::Argument(m), span))
    }

    /// The elements `foreach` and LINQ see: an array's tokens, an object's
    /// `KeyValuePair<string, JToken>`s, a property's value.
    pub(crate) fn json_children(&mut self, j: &J, span: Span) -> R<Vec<Value>> {
        let out: Vec<Value> = match j {
            J::Array(a) => a.get().iter().cloned().map(token).collect(),
            J::Object(o) => o
                .get()
                .iter()
                .map(|(k, v)| pair(Value::String(k.clone()), token(v.clone())))
                .collect(),
            J::Property(p) => vec![token(p.1.clone())],
            other => {
                return Err((
                    json_error(JsonError::Kind {
                        expected: "object or array to enumerate",
                        found: other.type_name(),
                    }),
                    span,
                ));
            }
        };
        self.charge_tokens(out.len(), span)?;
        Ok(out)
    }

    pub(crate) fn json_method(
        &mut self,
        recv: Value,
        m: JsonMethod,
        args: Vec<Value>,
        ty: Option<&Ty>,
        span: Span,
    ) -> R<Value> {
        let fail = |e: JsonError| (json_error(e), span);
        if let JsonMethod::BodyAs(k) = m {
            let Value::Object(Handle(HandleKind::Body(w))) = recv else {
                return Err((E::Internal(format!("As on a {}", recv.type_name())), span));
            };
            let preserve = args.first().and_then(Value::as_bool).unwrap_or(false);
            let bytes = self.body_bytes(&w, preserve, span)?;
            return self.json_parse(&String::from_utf8_lossy(&bytes), k, span);
        }
        let to_target = |t: Target| -> R<Value> {
            Err((
                E::InvalidCast {
                    from: recv.type_name().to_owned(),
                    to: t.name().to_owned(),
                },
                span,
            ))
        };
        let Value::Json(JToken(j)) = &recv else {
            return match m {
                JsonMethod::To(t) | JsonMethod::ValueOf(t) => to_target(t),
                _ => Err((
                    E::Internal(format!("{m:?} on a {}", recv.type_name())),
                    span,
                )),
            };
        };
        let str_arg = |i: usize, name: &str| -> R<Arc<str>> {
            match args.get(i) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err((E::Argument(format!("'{name}' is null")), span)),
            }
        };
        match m {
            JsonMethod::BodyAs(_) => Err((E::Internal("As on a token".into()), span)),
            JsonMethod::ToString => match j.value_text() {
                Some(text) => {
                    self.charge_bytes(text.len(), span)?;
                    Ok(Value::String(Arc::from(text)))
                }
                None => self.json_text(j, true, span),
            },
            JsonMethod::ToStringFormatting => {
                let indented = matches!(args.first(), Some(Value::Enum(e)) if e.value == 1);
                self.json_text(j, indented, span)
            }
            JsonMethod::To(t) => tokens::convert(j, t).map_err(fail),
            JsonMethod::ValueOf(t) => {
                let found = match args.first() {
                    Some(Value::String(k)) if matches!(j, J::Object(_)) => {
                        self.json_key(j, k, span)?
                    }
                    Some(i @ (Value::Int(_) | Value::Char(_))) if matches!(j, J::Array(_)) => {
                        Some(j.get_index(super::super::builtins::ops::as_i64(i).unwrap_or(-1)))
                            .flatten()
                    }
                    Some(key) => {
                        let key = key.clone();
                        return self.json_index(j, &key, span);
                    }
                    None => Some(j.clone()),
                };
                match found {
                    // a missing key gives default(T)
                    None => Ok(ty.map_or(Value::Null, default_value)),
                    Some(found) => tokens::convert(&found, t).map_err(fail),
                }
            }
            JsonMethod::SelectToken => {
                let path = str_arg(0, "path")?;
                self.charge_bytes(path.len(), span)?;
                let mut work = 0;
                let r = json::select(j, &path, &mut work);
                self.charge(work / PROPS_PER_STEP + 1, span)?;
                Ok(r.map_err(fail)?.map_or(Value::Null, token))
            }
            JsonMethod::Properties => {
                let J::Object(o) = j else {
                    return Err((kind_error(JsonTy::Object, j), span));
                };
                let props: Vec<Value> = o
                    .get()
                    .iter()
                    .map(|(k, v)| {
                        let parent = Some(Arc::downgrade(o));
                        token(J::Property(Arc::new((k.clone(), v.clone(), parent))))
                    })
                    .collect();
                self.charge_tokens(props.len(), span)?;
                Ok(Value::Array(props.into()))
            }
            JsonMethod::Property => {
                let name = str_arg(0, "name")?;
                let J::Object(o) = j else {
                    return Err((kind_error(JsonTy::Object, j), span));
                };
                let props = o.get();
                self.charge(props.len() / PROPS_PER_STEP + 1, span)?;
                Ok(props
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map_or(Value::Null, |(k, v)| {
                        let parent = Some(Arc::downgrade(o));
                        token(J::Property(Arc::new((k.clone(), v.clone(), parent))))
                    }))
            }
            JsonMethod::AddNamed => {
                let name = str_arg(0, "propertyName")?;
                let v = self.json_of(args.get(1).unwrap_or(&Value::Null), span)?;
                let J::Object(o) = j else {
                    return Err((kind_error(JsonTy::Object, j), span));
                };
                let mut props = o.get();
                self.charge(props.len() / PROPS_PER_STEP, span)?;
                if props.iter().any(|(k, _)| *k == name) {
                    return Err(fail(JsonError::Duplicate(name.to_string())));
                }
                self.check_count(props.len() + 1, span)?;
                props.push((name, v));
                Ok(Value::Null)
            }
            JsonMethod::Add => {
                let v = self.json_of(args.first().unwrap_or(&Value::Null), span)?;
                match (j, v) {
                    (J::Array(_), J::Property(_)) => Err(fail(JsonError::Add("Property", "Array"))),
                    (J::Array(a), v) => {
                        let mut items = a.get();
                        self.check_count(items.len() + 1, span)?;
                        items.push(v);
                        Ok(Value::Null)
                    }
                    (J::Object(o), J::Property(p)) => {
                        let mut props = o.get();
                        self.charge(props.len() / PROPS_PER_STEP, span)?;
                        if props.iter().any(|(k, _)| *k == p.0) {
                            return Err(fail(JsonError::Duplicate(p.0.to_string())));
                        }
                        self.check_count(props.len() + 1, span)?;
                        props.push((p.0.clone(), p.1.clone()));
                        Ok(Value::Null)
                    }
                    (J::Object(_), v) => Err(fail(JsonError::Add(v.type_name(), "Object"))),
                    (other, _) => Err((kind_error(JsonTy::Array, other), span)),
                }
            }
            JsonMethod::GetValue => match args.first() {
                Some(name @ Value::String(_)) => self.json_index(j, name, span),
                _ => Ok(Value::Null),
            },
            JsonMethod::Remove | JsonMethod::ContainsKey => {
                let name = str_arg(0, "propertyName")?;
                let J::Object(o) = j else {
                    return Err((kind_error(JsonTy::Object, j), span));
                };
                let mut props = o.get();
                self.charge(props.len() / PROPS_PER_STEP, span)?;
                let pos = props.iter().position(|(k, _)| *k == name);
                if m == JsonMethod::Remove
                    && let Some(p) = pos
                {
                    props.remove(p);
                }
                Ok(Value::Bool(pos.is_some()))
            }
            JsonMethod::RemoveSelf => {
                let J::Property(p) = j else {
                    return Err((kind_error(JsonTy::Property, j), span));
                };
                let missing = || fail(JsonError::NoParent(p.0.to_string()));
                let parent = p.2.as_ref().and_then(Weak::upgrade).ok_or_else(missing)?;
                let mut props = parent.get();
                self.charge(props.len() / PROPS_PER_STEP, span)?;
                let at = props
                    .iter()
                    .position(|(k, _)| *k == p.0)
                    .ok_or_else(missing)?;
                props.remove(at);
                Ok(Value::Null)
            }
        }
    }

    pub(crate) fn json_static(&mut self, f: JsonFn, args: Vec<Value>, span: Span) -> R<Value> {
        match f {
            JsonFn::Parse(k) | JsonFn::Deserialize(k) => match args.first() {
                Some(Value::String(text)) => {
                    let text = text.clone();
                    self.json_parse(&text, k, span)
                }
                _ => Err((E::Argument("'json' is null".into()), span)),
            },
            JsonFn::New(k) => {
                let mut work = 0;
                let r = tokens::construct(k, &args, &mut work);
                self.charge_tokens(work, span)?;
                r.map_err(|e| (json_error(e), span))
            }
            JsonFn::Serialize | JsonFn::SerializeFormatting => {
                let indented = matches!(args.get(1), Some(Value::Enum(e)) if e.value == 1);
                let v = args.first().cloned().unwrap_or(Value::Null);
                let j = match &v {
                    // written in place, not copied first
                    Value::Json(JToken(j)) => j.clone(),
                    other => self.json_of(other, span)?,
                };
                self.json_text(&j, indented, span)
            }
        }
    }
}
