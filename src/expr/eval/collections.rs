//! `List<T>` and `Dictionary<K, V>` at run time: creation, methods, indexers.
//! Messages are .NET's (KeyNotFoundException, ArgumentException, ...).

use super::super::builtins::ops::{as_i64, compare, eq_work, equals};
use super::super::collections::{Inserted, Key, Map, Seq};
use super::super::diagnostic::EvalErrorKind as E;
use super::super::ir::{Method, StaticFn};
use super::super::span::Span;
use super::super::types::EnumTy;
use super::super::value::Value;
use super::{BYTES_PER_STEP, Eval, R, built_len, pair};

impl Eval<'_> {
    /// `new List<T>(...)`, `new Dictionary<K, V>(...)`.
    pub(crate) fn new_collection(&mut self, f: StaticFn, args: &[Value], span: Span) -> R<Value> {
        match (f, args) {
            (StaticFn::NewMap, [Value::Enum(e)]) if e.ty == EnumTy::StringComparer => {
                // OrdinalIgnoreCase, InvariantCultureIgnoreCase, CurrentCultureIgnoreCase
                Ok(Value::Map(Map::new(e.value % 2 == 1)))
            }
            (StaticFn::NewMap, _) => Ok(Value::Map(Map::new(false))),
            (_, [Value::Int(n)]) if *n < 0 => {
                Err((E::Argument("capacity is negative".into()), span))
            }
            (_, [] | [Value::Int(_)]) => Ok(Value::Array(Seq::default())),
            (_, [Value::Null]) => Err((E::Argument("collection is null".into()), span)),
            (_, [items]) => {
                let items = items.clone();
                Ok(Value::Array(self.collect(&items, span)?.into()))
            }
            _ => Err((E::Internal("new List arguments".into()), span)),
        }
    }

    /// The methods of `List<T>` and `Dictionary<K, V>`; None for other methods.
    pub(crate) fn collection_method(
        &mut self,
        recv: &Value,
        m: Method,
        args: &[Value],
        span: Span,
    ) -> Option<R<Value>> {
        use Method as M;
        let r = match (m, recv) {
            (M::ListAdd, Value::Array(a)) => self.grow(a, 1, span).map(|()| {
                a.push(args[0].clone());
                Value::Null
            }),
            (M::ListAddRange, Value::Array(a)) => {
                let items = args[0].clone();
                match self.collect(&items, span) {
                    Ok(items) => self.grow(a, items.len(), span).map(|()| {
                        for v in items {
                            a.push(v);
                        }
                        Value::Null
                    }),
                    Err(e) => Err(e),
                }
            }
            (M::ListInsert, Value::Array(a)) => {
                let i = usize::try_from(as_i64(&args[0]).unwrap_or(-1)).unwrap_or(usize::MAX);
                self.grow(a, a.len(), span).and_then(|()| {
                    if a.insert(i, args[1].clone()) {
                        Ok(Value::Null)
                    } else {
                        Err(list_range(span))
                    }
                })
            }
            (M::ListRemoveAt, Value::Array(a)) => {
                let i = usize::try_from(as_i64(&args[0]).unwrap_or(-1)).unwrap_or(usize::MAX);
                self.charge(a.len(), span)
                    .and_then(|()| a.remove_at(i).map(|_| Value::Null).ok_or(list_range(span)))
            }
            (M::ListRemove | M::ListIndexOf, Value::Array(a)) => {
                let needle = &args[0];
                let mut found = None;
                let mut i = 0;
                let r = self.iterate(recv, span, &mut |ev, v| {
                    ev.charge_bytes(eq_work(&v, needle), span)?;
                    if equals(&v, needle) {
                        found = Some(i);
                        return Ok(false);
                    }
                    i += 1;
                    Ok(true)
                });
                r.map(|()| match (m, found) {
                    (M::ListIndexOf, f) => {
                        Value::Int(f.map_or(-1, |i| i32::try_from(i).unwrap_or(i32::MAX)))
                    }
                    (_, Some(i)) => Value::Bool(a.remove_at(i).is_some()),
                    (_, None) => Value::Bool(false),
                })
            }
            (M::ListSort | M::ListReverse, Value::Array(a)) => {
                let mut items = a.to_vec();
                let r = self.charge(items.len(), span).and_then(|()| {
                    if m == M::ListReverse {
                        items.reverse();
                        return Ok(());
                    }
                    // .NET's List.Sort is not stable; equal elements are alike here
                    let mut work = 0usize;
                    let mut incomparable = false;
                    items.sort_by(|x, y| {
                        work += 1 + eq_work(x, y) / BYTES_PER_STEP;
                        compare(x, y, false).unwrap_or_else(|| {
                            incomparable = true;
                            std::cmp::Ordering::Equal
                        })
                    });
                    self.charge(work, span)?;
                    if incomparable {
                        return Err((
                            E::InvalidOperation(
                                "Failed to compare two elements in the array.".into(),
                            ),
                            span,
                        ));
                    }
                    Ok(())
                });
                r.map(|()| {
                    a.replace(items);
                    Value::Null
                })
            }
            (M::Clear, Value::Array(a)) => {
                a.clear();
                Ok(Value::Null)
            }
            (M::Clear, Value::Map(d)) => {
                d.clear();
                Ok(Value::Null)
            }
            (M::MapAdd, Value::Map(d)) => self.map_key(d, &args[0], span).and_then(|k| {
                self.grow_map(d, span)?;
                match d.insert(k, args[0].clone(), args[1].clone(), true) {
                    Inserted::Duplicate => Err((
                        E::Argument(format!(
                            "An item with the same key has already been added. Key: {}",
                            args[0]
                        )),
                        span,
                    )),
                    _ => Ok(Value::Null),
                }
            }),
            (M::MapContainsKey, Value::Map(d)) => self
                .map_key(d, &args[0], span)
                .map(|k| Value::Bool(d.contains(&k))),
            (M::MapRemove, Value::Map(d)) => self
                .map_key(d, &args[0], span)
                .map(|k| Value::Bool(d.remove(&k))),
            (M::MapTryGetValue, Value::Map(d)) => {
                self.map_key(d, &args[0], span).map(|k| match d.get(&k) {
                    Some(v) => pair(Value::Bool(true), v),
                    None => pair(Value::Bool(false), Value::Null),
                })
            }
            (M::MapContainsValue, Value::Map(_)) => {
                let needle = &args[0];
                let mut found = false;
                self.iterate(recv, span, &mut |ev, kv| {
                    let Value::Pair(kv) = kv else { return Ok(true) };
                    ev.charge_bytes(eq_work(&kv.1, needle), span)?;
                    found = equals(&kv.1, needle);
                    Ok(!found)
                })
                .map(|()| Value::Bool(found))
            }
            _ => return None,
        };
        Some(r)
    }

    /// `d[key]`.
    pub(crate) fn map_index(&mut self, d: &Map, key: &Value, span: Span) -> R<Value> {
        let k = self.map_key(d, key, span)?;
        d.get(&k)
            .ok_or_else(|| (E::KeyNotFound(key.to_string()), span))
    }

    /// `x[i] = v` on an array, a list or a dictionary.
    pub(crate) fn collection_set(
        &mut self,
        recv: &Value,
        index: Value,
        value: Value,
        span: Span,
    ) -> R<()> {
        match recv {
            Value::Array(a) => {
                let i = usize::try_from(as_i64(&index).unwrap_or(-1)).unwrap_or(usize::MAX);
                if a.set(i, value) {
                    Ok(())
                } else {
                    Err((
                        E::IndexOutOfRange(format!("index {index} is outside 0..{}", a.len())),
                        span,
                    ))
                }
            }
            Value::Map(d) => {
                let k = self.map_key(d, &index, span)?;
                self.grow_map(d, span)?;
                d.insert(k, index, value, false);
                Ok(())
            }
            other => Err((
                E::Internal(format!("assigning an element of a {}", other.type_name())),
                span,
            )),
        }
    }

    /// A key: hashing it reads it whole. Null is .NET's ArgumentNullException.
    fn map_key(&mut self, d: &Map, key: &Value, span: Span) -> R<Key> {
        self.charge_bytes(built_len(key), span)?;
        d.key(key).ok_or_else(|| {
            let what = if key.is_null() {
                "Value cannot be null. (Parameter 'key')".to_owned()
            } else {
                format!("a dictionary key of type {}", key.type_name())
            };
            (E::Argument(what), span)
        })
    }

    /// Room for `n` more elements in a list: bounded as every collection, and a step
    /// for each element moved or added.
    fn grow(&mut self, a: &Seq, n: usize, span: Span) -> R<()> {
        self.check_count(a.len().saturating_add(n), span)?;
        self.charge(n, span)
    }

    fn grow_map(&mut self, d: &Map, span: Span) -> R<()> {
        self.check_count(d.len().saturating_add(1), span)
    }
}

/// List's ArgumentOutOfRangeException.
fn list_range(span: Span) -> (E, Span) {
    (
        E::IndexOutOfRange(
            "Must be non-negative and less than the size of the collection. (Parameter 'index')"
                .into(),
        ),
        span,
    )
}
