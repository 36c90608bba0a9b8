//! `List<T>` and `Dictionary<K, V>`: creation, collection initializers, element
//! assignment and `out` arguments.

use super::super::ast::{Arg, Expr, ExprKind, Init, InitItem, TypeRef};
use super::super::diagnostic::CompileErrorKind as K;
use super::super::ir::{self, Method, Node, StaticFn};
use super::super::span::Span;
use super::super::types::{Class, EnumTy, JsonTy, Obj, Ty};
use super::super::value::Value;
use super::{CResult, Checker, coerce, mismatch};

impl Checker {
    /// `new List<T>(...)` or `new Dictionary<K, V>(...)`, and its initializer.
    pub(super) fn new_collection(
        &mut self,
        ty: Ty,
        args: &[Arg],
        init: Option<&Init>,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let mut nodes = Vec::with_capacity(args.len());
        for a in args {
            let (n, t) = self.value(&a.value)?;
            let fits = match (&ty, &t) {
                // capacity: a hint .NET does not show
                (Ty::List(_), Ty::Int | Ty::Char) => true,
                (Ty::List(e), t) => t.element().is_some_and(|x| e.accepts(&x)),
                // StringComparer.Ordinal / OrdinalIgnoreCase / ...
                (Ty::Map(k, _), Ty::Enum(EnumTy::StringComparer)) => **k == Ty::String,
                _ => false,
            };
            if !fits || args.len() > 1 {
                let expected = match ty {
                    Ty::List(_) => "no argument, a capacity or a collection of the elements",
                    _ => "no argument or a StringComparer (for string keys)",
                };
                return Err((
                    K::Arguments {
                        method: format!("new {ty}"),
                        expected: expected.into(),
                    },
                    a.value.span,
                ));
            }
            nodes.push(n);
        }
        let f = match ty {
            Ty::List(_) => StaticFn::NewList,
            _ => StaticFn::NewMap,
        };
        let node = Node::Static {
            f,
            args: nodes,
            regex: None,
            span,
        };
        match init {
            None => Ok((node, ty)),
            Some(init) => self.initialize(node, ty, init),
        }
    }

    /// `new T { items }`: each item is an `Add` call or an index assignment on a hidden
    /// local that holds the new object. Types without `Add` (and object initializers,
    /// which set properties) are refused.
    pub(super) fn initialize(&mut self, value: Node, ty: Ty, init: &Init) -> CResult<(Node, Ty)> {
        // the hidden local's name: no C# name has a space, and nested initializers
        // each have their own
        let local = format!(" initializer {}", self.n_slots);
        self.scopes.push(Vec::new());
        let r = (|| {
            let slot = self.declare(&local, ty.clone(), init.span)?;
            let mut stmts = Vec::with_capacity(init.items.len());
            for item in &init.items {
                stmts.push(self.init_item(&local, &ty, item)?);
            }
            Ok(Node::Init {
                value: Box::new(value),
                slot,
                stmts,
            })
        })();
        self.scopes.pop();
        Ok((r?, ty))
    }

    fn init_item(&mut self, local: &str, ty: &Ty, item: &InitItem) -> CResult<ir::Stmt> {
        let recv = Expr {
            kind: ExprKind::Name(local.into()),
            span: Span::default(),
        };
        match item {
            InitItem::Add(args, span) => {
                if !matches!(
                    ty,
                    Ty::List(_) | Ty::Map(..) | Ty::Json(JsonTy::Object | JsonTy::Array)
                ) {
                    return Err((
                        K::NotImplemented(format!("a collection initializer for {ty}")),
                        *span,
                    ));
                }
                let call = Expr {
                    kind: ExprKind::Call {
                        target: Box::new(Expr {
                            kind: ExprKind::Member {
                                target: Box::new(recv),
                                name: "Add".into(),
                                name_span: *span,
                                null_cond: false,
                            },
                            span: *span,
                        }),
                        type_args: Vec::new(),
                        args: args
                            .iter()
                            .map(|e| Arg {
                                name: None,
                                value: e.clone(),
                            })
                            .collect(),
                    },
                    span: *span,
                };
                let (n, _) = self.expr(&call)?;
                Ok(ir::Stmt::Expr(n))
            }
            InitItem::Index(key, value) => {
                let target = Expr {
                    kind: ExprKind::Index {
                        target: Box::new(recv),
                        index: Box::new(key.clone()),
                        null_cond: false,
                    },
                    span: key.span,
                };
                self.index_assign(&target, value)
            }
            InitItem::Member(name, span, _) => Err((
                K::NotImplemented(format!("object initializers ('{name} = ...' on {ty})")),
                *span,
            )),
        }
    }

    /// `x[i] = v` on an array, a list or a dictionary (JSON tokens: `check::json`).
    pub(super) fn collection_assign(
        &mut self,
        (rn, rt): (Node, Ty),
        (inode, it): (Node, Ty),
        value: &Expr,
        target_span: Span,
        index_span: Span,
    ) -> CResult<ir::Stmt> {
        let elem = match (&rt, &it) {
            (Ty::Array(e) | Ty::List(e), Ty::Int | Ty::Char) => (**e).clone(),
            (Ty::Array(_) | Ty::List(_), _) => return Err(mismatch("int", &it, index_span)),
            (Ty::Map(k, v), _) => {
                if !k.accepts(&it) {
                    return Err(mismatch(&**k, &it, index_span));
                }
                (**v).clone()
            }
            (Ty::Bytes, _) => {
                return Err((
                    K::NotImplemented("assigning to a byte[] element".into()),
                    target_span,
                ));
            }
            _ => {
                return Err((
                    K::Misplaced(format!("{rt} has no indexer that can be assigned")),
                    target_span,
                ));
            }
        };
        let (vn, vt) = self.value(value)?;
        if !elem.accepts(&vt) {
            return Err(mismatch(&elem, &vt, value.span));
        }
        Ok(ir::Stmt::SetIndex {
            recv: rn,
            index: inode,
            value: coerce(vn, &vt, &elem),
            span: target_span,
        })
    }

    /// `token.TryParseJwt(out var jwt)` and `header.TryParseBasic(out var credentials)`,
    /// APIM's extensions: like [`Checker::try_get_value`], the method gives (parsed, the
    /// object) and `Node::Out` stores the object or null.
    pub(super) fn try_parse_token(
        &mut self,
        recv: Node,
        name: &str,
        args: &[Arg],
        null_cond: bool,
        name_span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let (method, ty) = if name == "TryParseBasic" {
            (Method::StrTryParseBasic, Ty::Obj(Obj::BasicAuth))
        } else {
            (Method::StrTryParseJwt, Ty::Obj(Obj::Jwt))
        };
        let [out] = args else {
            return Err((
                K::Arguments {
                    method: format!("string.{name}"),
                    expected: format!("(out {ty} result)"),
                },
                name_span,
            ));
        };
        let slot = self.out_slot(&out.value, &ty)?;
        let call = (recv, method, Vec::new(), null_cond, name_span);
        Ok((out_method(call, slot, Value::Null), Ty::Bool))
    }

    /// `d.TryGetValue(key, out var v)`: the method gives (found, value); `Node::Out`
    /// stores the value in the out variable.
    pub(super) fn try_get_value(
        &mut self,
        recv: Node,
        rty: &Ty,
        args: &[Arg],
        null_cond: bool,
        name_span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let Ty::Map(k, v) = rty else {
            return Err(self.no_member(rty, "TryGetValue", name_span));
        };
        let [key, out] = args else {
            return Err((
                K::Arguments {
                    method: format!("{rty}.TryGetValue"),
                    expected: format!("({k} key, out {v} value)"),
                },
                name_span,
            ));
        };
        let (kn, kt) = self.value(&key.value)?;
        if !k.accepts(&kt) {
            return Err(mismatch(&**k, &kt, key.value.span));
        }
        let slot = self.out_slot(&out.value, v)?;
        let call = (recv, Method::MapTryGetValue, vec![kn], null_cond, name_span);
        Ok((out_method(call, slot, ir::default_value(v)), Ty::Bool))
    }

    /// `int.TryParse(s, out var n)` and the other `TryParse`: the `Parse` of the type,
    /// whose format error gives false.
    pub(super) fn try_parse(
        &mut self,
        c: Class,
        args: &[Arg],
        name_span: Span,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let (f, ty) = match c {
            Class::Int => (StaticFn::IntParse, Ty::Int),
            Class::Long => (StaticFn::LongParse, Ty::Long),
            Class::Double => (StaticFn::DoubleParse, Ty::Double),
            Class::Bool => (StaticFn::BoolParse, Ty::Bool),
            Class::DateTime => (StaticFn::DtParse, Ty::DateTime),
            Class::DateTimeOffset => (StaticFn::DtoParse, Ty::DateTimeOffset),
            Class::Guid => (StaticFn::GuidParse, Ty::Obj(Obj::Guid)),
            _ => return Err(self.no_member(&Ty::Static(c), "TryParse", name_span)),
        };
        let [s, out] = args else {
            return Err((
                K::Arguments {
                    method: format!("{}.TryParse", Ty::Static(c)),
                    expected: format!("(string s, out {ty} result)"),
                },
                name_span,
            ));
        };
        let (sn, st) = self.value(&s.value)?;
        if !matches!(st, Ty::String | Ty::Null) {
            return Err(mismatch("string", &st, s.value.span));
        }
        let slot = self.out_slot(&out.value, &ty)?;
        let default = ir::default_value(&ty);
        let call = Node::Static {
            f,
            args: vec![sn],
            regex: None,
            span,
        };
        Ok((
            Node::Out {
                call: Box::new(call),
                slot,
                default,
                tried: true,
            },
            Ty::Bool,
        ))
    }

    /// The slot an `out` argument writes: a new local (`out var x`, `out T x`) or an
    /// existing one of exactly the type (`out x`).
    pub(super) fn out_slot(&mut self, e: &Expr, ty: &Ty) -> CResult<u16> {
        let ExprKind::Out {
            ty: written,
            name,
            name_span,
        } = &e.kind
        else {
            return Err((
                K::Expected {
                    expected: "an 'out' argument ('out var name')".into(),
                    found: "a value".into(),
                },
                e.span,
            ));
        };
        match written {
            Some(TypeRef { name: n, .. }) if n == "var" => {
                self.declare(name, ty.clone(), *name_span)
            }
            Some(t) => {
                let declared = self.type_ref(t)?;
                if declared != *ty {
                    return Err(mismatch(ty, &declared, t.span));
                }
                self.declare(name, declared, *name_span)
            }
            None => match self.lookup(name) {
                Some((slot, t)) if t == *ty => Ok(slot),
                Some((_, t)) => Err(mismatch(ty, &t, *name_span)),
                None => Err((K::UnknownName(name.clone()), *name_span)),
            },
        }
    }

    /// `Array.Exists(a, p)`, `TrueForAll`, `Find`, `FindAll` and `IndexOf(a, v)`: the
    /// helpers of `System.Array` that are a LINQ or list method of the array, checked as
    /// that call (`a.Any(p)`, ...).
    pub(super) fn array_static(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Arg],
        span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let linq = match (name, as_linq(name)) {
            (_, Some(linq)) => linq,
            ("IndexOf", None) => "IndexOf",
            _ => return Err((K::NotImplemented(format!("Array.{name}")), name_span)),
        };
        let [array, arg] = args else {
            return Err((
                K::Arguments {
                    method: format!("Array.{name}"),
                    expected: "(T[] array, ...) with two arguments".into(),
                },
                name_span,
            ));
        };
        if linq != "IndexOf" {
            return self.expr(&call_of(
                &array.value,
                linq,
                vec![arg.clone()],
                name_span,
                span,
            ));
        }
        let (an, at) = self.value(&array.value)?;
        let elem = match &at {
            Ty::Array(e) | Ty::List(e) => (**e).clone(),
            _ => return Err(mismatch("an array", &at, array.value.span)),
        };
        let (vn, vt) = self.value(&arg.value)?;
        if !elem.accepts(&vt) {
            return Err(mismatch(&elem, &vt, arg.value.span));
        }
        let node = Node::Method {
            recv: Box::new(an),
            method: Method::ListIndexOf,
            args: vec![coerce(vn, &vt, &elem)],
            lambda: None,
            ty: None,
            null_cond: false,
            span: name_span,
        };
        Ok((node, Ty::Int))
    }
}

/// `target.name(args)`, written as code: how a method that is another one is checked.
pub(super) fn call_of(
    target: &Expr,
    name: &str,
    args: Vec<Arg>,
    name_span: Span,
    span: Span,
) -> Expr {
    Expr {
        kind: ExprKind::Call {
            target: Box::new(Expr {
                kind: ExprKind::Member {
                    target: Box::new(target.clone()),
                    name: name.to_owned(),
                    name_span,
                    null_cond: false,
                },
                span,
            }),
            type_args: Vec::new(),
            args,
        },
        span,
    }
}

/// The predicate methods of `List<T>` and `Array` that are a LINQ operator over it.
pub(super) fn as_linq(name: &str) -> Option<&'static str> {
    Some(match name {
        "Exists" => "Any",
        "TrueForAll" => "All",
        "Find" => "FirstOrDefault",
        "FindAll" => "Where",
        _ => return None,
    })
}

/// `recv.method(args, out x)` of a method that gives (found, value): `Node::Out` stores the
/// value, or `default` when not found, in `slot`.
fn out_method(
    (recv, method, args, null_cond, span): (Node, Method, Vec<Node>, bool, Span),
    slot: u16,
    default: Value,
) -> Node {
    let call = Node::Method {
        recv: Box::new(recv),
        method,
        args,
        lambda: None,
        ty: None,
        null_cond,
        span,
    };
    Node::Out {
        call: Box::new(call),
        slot,
        default,
        tried: false,
    }
}
