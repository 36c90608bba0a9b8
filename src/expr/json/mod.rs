//! Newtonsoft.Json's LINQ to JSON (`JToken`, `JObject`, `JArray`, `JProperty`, `JValue`)
//! as APIM policies use it: parse a body, read and change it, write it back byte for byte
//! as Newtonsoft would.
//!
//! Containers are shared and mutable, as in .NET: `var b = body["a"]; b["x"] = 1;` changes
//! `body`. A token put into a container is always a deep copy (Newtonsoft copies a token
//! that already has a parent), so no container can hold itself and every lock is taken
//! with no other lock of the same container held. Work is bounded: reading, writing and
//! copying charge their steps to the caller, and nesting is bounded ([`MAX_DEPTH`] when
//! parsing, [`MAX_WRITE_DEPTH`] when writing or copying what expressions built).

mod path;
mod read;
mod write;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use time::OffsetDateTime;

use super::builtins::datetime::format_datetime_default;
use super::number::format_double;
use super::types::JsonTy;

pub(crate) use path::select;
pub(crate) use read::{parse, parse_with};
pub(crate) use write::write;

/// Nesting a parsed document may have: Json.NET 13's default `JsonReader.MaxDepth` (64).
pub(crate) const MAX_DEPTH: usize = 64;

/// The most values one document may hold: memory is bounded while it is read, before
/// the caller charges its steps (a 16 MiB `[0,0,...]` would be 8 million values).
pub(crate) const MAX_VALUES: usize = 1_000_000;

/// Nesting the writer and the copier accept for documents expressions built, so neither
/// can overflow the stack.
pub(crate) const MAX_WRITE_DEPTH: usize = 256;

/// Why a JSON operation failed, in words that say what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    #[error("invalid JSON at byte {at}: {what}")]
    Syntax { at: usize, what: &'static str },
    #[error("the JSON is nested more than {0} levels deep")]
    TooDeep(usize),
    #[error("the JSON holds more than {0} values")]
    TooMany(usize),
    #[error("expected a JSON {expected}, found {found}")]
    Kind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("can not convert {from} to {to}")]
    Convert { from: &'static str, to: String },
    #[error(
        "the JSONPath '{0}' is not supported: use $, .name, ['name'] and [n] (no wildcards, filters or recursion)"
    )]
    Path(String),
    #[error("can not add a {0} to a JSON {1}")]
    Add(&'static str, &'static str),
    #[error("a property named '{0}' already exists in the object")]
    Duplicate(String),
    /// `JProperty.Remove()` of a property that is in no object (Newtonsoft's words).
    #[error("the parent is missing: property '{0}' is in no object")]
    NoParent(String),
}

/// A `JToken`: what a JSON body, `JObject.Parse` or an indexer gives.
#[derive(Clone, Debug)]
pub struct JToken(pub(crate) J);

impl JToken {
    /// The token as compact JSON, and back: how a cache keeps it between requests.
    pub(crate) fn to_text(&self) -> Result<String, JsonError> {
        let mut out = String::new();
        write(&self.0, false, &mut out, &mut 0)?;
        Ok(out)
    }

    pub(crate) fn from_text(text: &str) -> Result<Self, JsonError> {
        parse(text, &mut 0).map(JToken)
    }
}

/// How a parsed date remembers its zone, as .NET's `DateTimeKind` (it decides the suffix
/// Newtonsoft writes: none, `Z`, or the local offset, here always `+00:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateKind {
    Unspecified,
    Utc,
    Local,
}

#[derive(Clone, Debug)]
pub(crate) enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond `long`, kept as written (Newtonsoft: `BigInteger`).
    BigInt(Arc<str>),
    Float(f64),
    Str(Arc<str>),
    Date(OffsetDateTime, DateKind),
    Array(Arc<Items>),
    Object(Arc<Props>),
    /// A `JProperty`: its name, its value, and the object it was read from
    /// (`Properties()`, `Property(name)`), which `Remove()` takes it out of.
    Property(Arc<(Arc<str>, J, Parent)>),
}

/// The object a `JProperty` belongs to; a new or copied property has none.
pub(crate) type Parent = Option<Weak<Props>>;

/// The elements of a `JArray`.
#[derive(Debug, Default)]
pub(crate) struct Items(Mutex<Vec<J>>);

/// The properties of a `JObject`, in document order.
#[derive(Debug, Default)]
pub(crate) struct Props(Mutex<Vec<(Arc<str>, J)>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // nothing panics while a lock is held; a poisoned lock still holds consistent data
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Items {
    pub(crate) fn new(v: Vec<J>) -> Arc<Self> {
        Arc::new(Items(Mutex::new(v)))
    }
    pub(crate) fn get(&self) -> MutexGuard<'_, Vec<J>> {
        lock(&self.0)
    }
}

impl Props {
    pub(crate) fn new(v: Vec<(Arc<str>, J)>) -> Arc<Self> {
        Arc::new(Props(Mutex::new(v)))
    }
    pub(crate) fn get(&self) -> MutexGuard<'_, Vec<(Arc<str>, J)>> {
        lock(&self.0)
    }
}

/// Moves the children of `j` into `out` when `j` is their last owner.
fn take_children(j: &mut J, out: &mut Vec<J>) {
    match j {
        J::Array(a) => {
            if let Some(a) = Arc::get_mut(a) {
                out.append(a.0.get_mut().unwrap_or_else(PoisonError::into_inner));
            }
        }
        J::Object(o) => {
            if let Some(o) = Arc::get_mut(o) {
                let props = o.0.get_mut().unwrap_or_else(PoisonError::into_inner);
                out.extend(props.drain(..).map(|(_, v)| v));
            }
        }
        J::Property(p) => {
            if let Some(p) = Arc::get_mut(p) {
                out.push(std::mem::replace(&mut p.1, J::Null));
            }
        }
        _ => {}
    }
}

/// Dropping a deep document one level at a time, not by recursion.
fn drop_all(mut stack: Vec<J>) {
    while let Some(mut j) = stack.pop() {
        take_children(&mut j, &mut stack);
    }
}

impl Drop for Items {
    fn drop(&mut self) {
        drop_all(std::mem::take(
            self.0.get_mut().unwrap_or_else(PoisonError::into_inner),
        ));
    }
}

impl Drop for Props {
    fn drop(&mut self) {
        let props = std::mem::take(self.0.get_mut().unwrap_or_else(PoisonError::into_inner));
        drop_all(props.into_iter().map(|(_, v)| v).collect());
    }
}

impl J {
    pub(crate) fn kind(&self) -> JsonTy {
        match self {
            J::Array(_) => JsonTy::Array,
            J::Object(_) => JsonTy::Object,
            J::Property(_) => JsonTy::Property,
            _ => JsonTy::Value,
        }
    }

    /// Newtonsoft's `JTokenType` name, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            J::Null => "Null",
            J::Bool(_) => "Boolean",
            J::Int(_) | J::BigInt(_) => "Integer",
            J::Float(_) => "Float",
            J::Str(_) => "String",
            J::Date(..) => "Date",
            J::Array(_) => "Array",
            J::Object(_) => "Object",
            J::Property(_) => "Property",
        }
    }

    /// `HasValues`: whether a container has children.
    pub(crate) fn has_values(&self) -> bool {
        match self {
            J::Array(a) => !a.get().is_empty(),
            J::Object(o) => !o.get().is_empty(),
            J::Property(_) => true,
            _ => false,
        }
    }

    /// `Count` of a JObject or JArray.
    pub(crate) fn count(&self) -> Option<usize> {
        match self {
            J::Array(a) => Some(a.get().len()),
            J::Object(o) => Some(o.get().len()),
            _ => None,
        }
    }

    /// A copy sharing nothing mutable with `self`; `work` counts the tokens copied.
    pub(crate) fn deep_clone(&self, depth: usize, work: &mut usize) -> Result<J, JsonError> {
        *work += 1;
        if depth > MAX_WRITE_DEPTH {
            return Err(JsonError::TooDeep(MAX_WRITE_DEPTH));
        }
        Ok(match self {
            J::Array(a) => {
                let items = a.get().clone();
                let mut out = Vec::with_capacity(items.len());
                for j in &items {
                    out.push(j.deep_clone(depth + 1, work)?);
                }
                J::Array(Items::new(out))
            }
            J::Object(o) => {
                let props = o.get().clone();
                let mut out = Vec::with_capacity(props.len());
                for (k, v) in &props {
                    out.push((k.clone(), v.deep_clone(depth + 1, work)?));
                }
                J::Object(Props::new(out))
            }
            J::Property(p) => J::Property(Arc::new((
                p.0.clone(),
                p.1.deep_clone(depth + 1, work)?,
                None,
            ))),
            other => other.clone(),
        })
    }

    /// The value of a property, or `None`; `scanned` counts the properties compared.
    pub(crate) fn get_key(&self, key: &str, scanned: &mut usize) -> Option<J> {
        match self {
            J::Object(o) => {
                let props = o.get();
                let pos = props.iter().position(|(k, _)| &**k == key);
                *scanned += pos.map_or(props.len(), |p| p + 1);
                pos.and_then(|p| props.get(p)).map(|(_, v)| v.clone())
            }
            _ => None,
        }
    }

    /// Element `i` of an array.
    pub(crate) fn get_index(&self, i: i64) -> Option<J> {
        match self {
            J::Array(a) => usize::try_from(i)
                .ok()
                .and_then(|i| a.get().get(i).cloned()),
            _ => None,
        }
    }

    /// `JValue.ToString()`: the value's own text (a string unquoted, `True`, dates as
    /// `DateTime.ToString()`); `None` for containers, which write JSON.
    pub(crate) fn value_text(&self) -> Option<String> {
        Some(match self {
            J::Null => String::new(),
            J::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            J::Int(n) => n.to_string(),
            J::BigInt(s) | J::Str(s) => s.to_string(),
            J::Float(d) => format_double(*d),
            J::Date(d, _) => format_datetime_default(*d),
            J::Array(_) | J::Object(_) | J::Property(_) => return None,
        })
    }
}

/// What a token converts to: `(string)t`, `Value<int>()`, `(JObject)t`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    String,
    Bool,
    Int,
    Long,
    Double,
    DateTime,
    Token(JsonTy),
}

impl Target {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::String => "String",
            Target::Bool => "Boolean",
            Target::Int => "Int32",
            Target::Long => "Int64",
            Target::Double => "Double",
            Target::DateTime => "DateTime",
            Target::Token(k) => k.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_very_deep_document_does_not_overflow_the_stack() {
        let mut j = J::Null;
        for _ in 0..1_000_000 {
            j = J::Array(Items::new(vec![j]));
        }
        drop(j);
    }
}
