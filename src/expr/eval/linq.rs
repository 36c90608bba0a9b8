//! LINQ operators beyond the one-lambda ones of `methods`: sorting, `ToDictionary`,
//! `GroupBy`, `Aggregate`, and the element operators `Single`, `Sum`, `Min`, `Max`.
//! Messages are .NET's (InvalidOperationException, OverflowException, ...).

use std::cmp::Ordering;
use std::sync::Arc;

use super::super::builtins::ops::{self, compare, eq_work, equals};
use super::super::collections::{Inserted, Map};
use super::super::diagnostic::EvalErrorKind as E;
use super::super::ir::{Lambda, LinqOp, Method, default_value};
use super::super::span::Span;
use super::super::types::Ty;
use super::super::value::{Handle, HandleKind, Value};
use super::{BYTES_PER_STEP, Eval, R};

impl Eval<'_> {
    pub(crate) fn linq(
        &mut self,
        recv: Value,
        op: &LinqOp,
        lambdas: &[Lambda],
        args: Vec<Value>,
        span: Span,
    ) -> R<Value> {
        let items = self.collect(&recv, span)?;
        match op {
            LinqOp::Sort(keys) => {
                // every key of every element first (a lambda may fail), then a stable
                // sort of the indexes, as .NET's OrderBy
                let mut table: Vec<Vec<Value>> = Vec::with_capacity(items.len());
                for v in &items {
                    let mut row = Vec::with_capacity(lambdas.len());
                    for l in lambdas {
                        row.push(self.call_lambda(l, v.clone(), span)?);
                    }
                    table.push(row);
                }
                let mut order: Vec<usize> = (0..items.len()).collect();
                let mut work = 0usize;
                let mut incomparable = false;
                order.sort_by(|&i, &j| {
                    for (k, key) in keys.iter().enumerate() {
                        let (a, b) = (&table[i][k], &table[j][k]);
                        work += 1 + eq_work(a, b) / BYTES_PER_STEP;
                        let o = compare(a, b, key.ordinal).unwrap_or_else(|| {
                            incomparable = true;
                            Ordering::Equal
                        });
                        let o = if key.descending { o.reverse() } else { o };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
                // bounded by the collection limit: charged once done
                self.charge(work, span)?;
                if incomparable {
                    return Err(not_comparable(span));
                }
                Ok(Value::Array(
                    order.into_iter().map(|i| items[i].clone()).collect(),
                ))
            }
            LinqOp::ToDictionary => {
                let map = Map::new(false);
                for v in items {
                    let k = self.call_lambda(&lambdas[0], v.clone(), span)?;
                    let value = match lambdas.get(1) {
                        Some(l) => self.call_lambda(l, v, span)?,
                        None => v,
                    };
                    let key = map.key(&k).ok_or_else(|| {
                        (
                            E::Argument("Value cannot be null. (Parameter 'key')".into()),
                            span,
                        )
                    })?;
                    self.charge_bytes(super::built_len(&k), span)?;
                    if map.insert(key, k.clone(), value, true) == Inserted::Duplicate {
                        return Err((
                            E::Argument(format!(
                                "An item with the same key has already been added. Key: {k}"
                            )),
                            span,
                        ));
                    }
                }
                Ok(Value::Map(map))
            }
            LinqOp::GroupBy => {
                // groups in the order their keys first appear, elements in their order
                let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
                for v in items {
                    let k = self.call_lambda(&lambdas[0], v.clone(), span)?;
                    let e = match lambdas.get(1) {
                        Some(l) => self.call_lambda(l, v, span)?,
                        None => v,
                    };
                    self.charge(groups.len(), span)?;
                    let mut at = None;
                    for (i, (gk, _)) in groups.iter().enumerate() {
                        self.charge_bytes(eq_work(gk, &k), span)?;
                        if equals(gk, &k) {
                            at = Some(i);
                            break;
                        }
                    }
                    match at {
                        Some(i) => groups[i].1.push(e),
                        None => groups.push((k, vec![e])),
                    }
                }
                Ok(Value::Array(
                    groups
                        .into_iter()
                        .map(|(k, es)| {
                            Value::Object(Handle(HandleKind::Grouping(Arc::new((k, es.into())))))
                        })
                        .collect(),
                ))
            }
            LinqOp::Aggregate => {
                let mut items = items.into_iter();
                let mut acc = match args.into_iter().next() {
                    Some(seed) => seed,
                    None => items.next().ok_or((E::NoElements, span))?,
                };
                let l = &lambdas[0];
                let [a, x] = l.params[..] else {
                    return Err((E::Internal("Aggregate lambda".into()), span));
                };
                for v in items {
                    self.step(span)?;
                    self.locals[a as usize] = acc;
                    self.locals[x as usize] = v;
                    acc = self.node(&l.body)?;
                }
                Ok(acc)
            }
        }
    }

    /// `Single`, `SingleOrDefault`, `Sum`, `Min`, `Max` (`elem`: the element type, or
    /// the selector's); None for other methods.
    pub(crate) fn element_op(
        &mut self,
        recv: &Value,
        m: Method,
        lambda: Option<&Lambda>,
        elem: Option<&Ty>,
        span: Span,
    ) -> Option<R<Value>> {
        use Method as M;
        let r = match m {
            M::Single | M::SinglePred | M::SingleOrDefault | M::SingleOrDefaultPred => {
                self.single(recv, m, lambda, elem, span)
            }
            M::Sum | M::SumSel | M::Min | M::MinSel | M::Max | M::MaxSel => {
                self.fold_values(recv, m, lambda, elem, span)
            }
            _ => return None,
        };
        Some(r)
    }

    fn single(
        &mut self,
        recv: &Value,
        m: Method,
        lambda: Option<&Lambda>,
        elem: Option<&Ty>,
        span: Span,
    ) -> R<Value> {
        use Method as M;
        let pred = matches!(m, M::SinglePred | M::SingleOrDefaultPred);
        let mut found = None;
        let mut many = false;
        self.iterate(recv, span, &mut |ev, v| {
            let hit = match lambda.filter(|_| pred) {
                Some(l) => match ev.call_lambda(l, v.clone(), span)? {
                    Value::Bool(b) => b,
                    _ => return Err((E::NullReference("predicate".into()), span)),
                },
                None => true,
            };
            if hit {
                if found.is_some() {
                    many = true;
                    return Ok(false);
                }
                found = Some(v);
            }
            Ok(true)
        })?;
        if many {
            let what = if pred {
                "sequence contains more than one matching element"
            } else {
                "sequence contains more than one element"
            };
            return Err((E::InvalidOperation(what.into()), span));
        }
        match (found, m) {
            (Some(v), _) => Ok(v),
            (None, M::Single) => Err((E::NoElements, span)),
            (None, M::SinglePred) => Err((E::NoMatch, span)),
            (None, _) => Ok(elem.map_or(Value::Null, default_value)),
        }
    }

    /// Sum (checked: .NET throws OverflowException), Min and Max (nulls skipped; an
    /// empty sequence of a value type throws, of a reference type gives null).
    fn fold_values(
        &mut self,
        recv: &Value,
        m: Method,
        lambda: Option<&Lambda>,
        elem: Option<&Ty>,
        span: Span,
    ) -> R<Value> {
        use Method as M;
        let sum = matches!(m, M::Sum | M::SumSel);
        let max = matches!(m, M::Max | M::MaxSel);
        let mut acc: Option<Value> = if sum {
            Some(elem.map_or(Value::Int(0), default_value))
        } else {
            None
        };
        let mut incomparable = false;
        self.iterate(recv, span, &mut |ev, v| {
            let v = match lambda {
                Some(l) => ev.call_lambda(l, v, span)?,
                None => v,
            };
            if v.is_null() {
                return Ok(true);
            }
            acc = Some(match acc.take() {
                None => v,
                Some(a) if sum => {
                    ops::binary(super::super::ast::BinOp::Add, a, v).map_err(|e| (e, span))?
                }
                Some(a) => {
                    ev.charge_bytes(eq_work(&a, &v), span)?;
                    let o = compare(&v, &a, false).unwrap_or_else(|| {
                        incomparable = true;
                        Ordering::Equal
                    });
                    if (max && o == Ordering::Greater) || (!max && o == Ordering::Less) {
                        v
                    } else {
                        a
                    }
                }
            });
            Ok(!incomparable)
        })?;
        if incomparable {
            return Err(not_comparable(span));
        }
        match acc {
            Some(v) => Ok(v),
            None if elem.is_some_and(Ty::is_value_type) => Err((E::NoElements, span)),
            None => Ok(Value::Null),
        }
    }
}

fn not_comparable(span: Span) -> (E, Span) {
    (
        E::InvalidOperation("at least one object must implement IComparable".into()),
        span,
    )
}
