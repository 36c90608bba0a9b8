//! LINQ operators that the method table cannot describe: sorting (`OrderBy` ...
//! `ThenBy`, one node for the chain), `ToDictionary` and `GroupBy` (one or two lambdas),
//! `Aggregate` (a lambda of the accumulator and the element).

use super::super::ast::Arg;
use super::super::diagnostic::CompileErrorKind as K;
use super::super::ir::{LinqOp, Node, SortKey};
use super::super::span::Span;
use super::super::types::{EnumTy, Ty};
use super::{CResult, Checker, coerce, mismatch};

/// Whether `name` is one of the operators of [`Checker::linq_call`].
pub(super) fn is_linq_op(name: &str) -> bool {
    matches!(
        name,
        "OrderBy"
            | "OrderByDescending"
            | "ThenBy"
            | "ThenByDescending"
            | "ToDictionary"
            | "GroupBy"
            | "Aggregate"
    )
}

impl Checker {
    /// `recv.name(args)` of an operator [`is_linq_op`] names, on a sequence of `elem`.
    pub(super) fn linq_call(
        &mut self,
        (recv, rty, elem): (Node, &Ty, Ty),
        name: &str,
        args: &[Arg],
        name_span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let what = format!("{rty}.{name}");
        let arity = |ok: bool, expected: &str| -> CResult<()> {
            if ok {
                Ok(())
            } else {
                Err((
                    K::Arguments {
                        method: what.clone(),
                        expected: expected.into(),
                    },
                    name_span,
                ))
            }
        };
        let linq = |recv: Node, op, lambdas, args| Node::Linq {
            recv: Box::new(recv),
            op,
            lambdas,
            args,
            span: name_span,
        };
        let r = match name {
            "OrderBy" | "OrderByDescending" | "ThenBy" | "ThenByDescending" => {
                arity(
                    matches!(args.len(), 1 | 2),
                    "(x => key) or (x => key, StringComparer)",
                )?;
                let (l, kt) = self.lambda(&args[0].value, &elem, false)?;
                let ordinal = match args.get(1) {
                    None => false,
                    Some(a) => {
                        let (n, t) = self.value(&a.value)?;
                        match (n, &t) {
                            (
                                Node::Const(super::Value::Enum(e)),
                                Ty::Enum(EnumTy::StringComparer),
                            ) if kt == Ty::String => {
                                // Ordinal (4) and OrdinalIgnoreCase (5) compare ordinally;
                                // the culture comparers as the default one
                                if e.value == 5 {
                                    return Err((
                                        K::NotImplemented(
                                            "sorting with StringComparer.OrdinalIgnoreCase".into(),
                                        ),
                                        a.value.span,
                                    ));
                                }
                                e.value == 4
                            }
                            _ => return Err(mismatch("StringComparer", &t, a.value.span)),
                        }
                    }
                };
                let key = SortKey {
                    descending: name.ends_with("Descending"),
                    ordinal,
                };
                if name.starts_with("Then") {
                    let Node::Linq {
                        recv,
                        op: LinqOp::Sort(mut keys),
                        mut lambdas,
                        args,
                        span,
                    } = recv
                    else {
                        return Err((
                            K::Misplaced(format!(
                                "'{name}' follows 'OrderBy' or 'OrderByDescending'"
                            )),
                            name_span,
                        ));
                    };
                    keys.push(key);
                    lambdas.push(l);
                    let node = Node::Linq {
                        recv,
                        op: LinqOp::Sort(keys),
                        lambdas,
                        args,
                        span,
                    };
                    return Ok((node, rty.clone()));
                }
                (
                    linq(recv, LinqOp::Sort(vec![key]), vec![l], Vec::new()),
                    Ty::Array(Box::new(elem)),
                )
            }
            "ToDictionary" | "GroupBy" => {
                arity(
                    matches!(args.len(), 1 | 2),
                    "(x => key) or (x => key, x => value)",
                )?;
                let (kl, kt) = self.lambda(&args[0].value, &elem, false)?;
                let mut lambdas = vec![kl];
                let vt = match args.get(1) {
                    Some(a) => {
                        let (vl, vt) = self.lambda(&a.value, &elem, false)?;
                        lambdas.push(vl);
                        vt
                    }
                    None => elem,
                };
                if name == "GroupBy" {
                    let t = Ty::Grouping(Box::new(kt), Box::new(vt));
                    let node = linq(recv, LinqOp::GroupBy, lambdas, Vec::new());
                    (node, Ty::Array(Box::new(t)))
                } else {
                    if !kt.is_key() {
                        return Err((
                            K::NotImplemented(format!("dictionary keys of type {kt}")),
                            args[0].value.span,
                        ));
                    }
                    let node = linq(recv, LinqOp::ToDictionary, lambdas, Vec::new());
                    (node, Ty::Map(Box::new(kt), Box::new(vt)))
                }
            }
            _ => {
                // Aggregate
                arity(
                    matches!(args.len(), 1 | 2),
                    "((acc, x) => value) or (seed, (acc, x) => value)",
                )?;
                let (seed, acc) = match args {
                    [seed, _] => {
                        let (n, t) = self.value(&seed.value)?;
                        (vec![n], t)
                    }
                    _ => (Vec::new(), elem.clone()),
                };
                let f = &args[args.len() - 1].value;
                let (l, t) = self.lambda_exact(f, &[acc.clone(), elem])?;
                if !acc.accepts(&t) {
                    return Err(mismatch(&acc, &t, f.span));
                }
                let l = super::super::ir::Lambda {
                    body: coerce(l.body, &t, &acc),
                    params: l.params,
                };
                (linq(recv, LinqOp::Aggregate, vec![l], seed), acc)
            }
        };
        Ok(r)
    }
}
