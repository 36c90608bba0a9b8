//! The checker: resolves names and members against the context model, checks the types
//! that can be known, folds constants, and lowers the syntax tree to [`super::ir`].

mod cipher;
mod collections;
mod dotnet;
mod json;
mod linq;
mod members;
mod xml;

use std::sync::Arc;

use super::Context;
use super::ast::{
    Arg, BinOp, Catch, Expr, ExprKind, Init, InitItem, LocalFn, New, Part, Section, Stmt, TypeRef,
    UnOp,
};
use super::diagnostic::CompileErrorKind as K;
use super::eval;
use super::ir::{
    self, CertField, JsonFn, Lambda, Method, Node, ProgramBody, Prop, StaticFn, enum_const,
};
use super::parser::Body;
use super::span::Span;
use super::stack::deep;
use super::types::{Class, DictTy, JsonClass, JsonTy, Obj, Ty, XmlTy};
use super::value::{Handle, HandleKind, Value};
use members::{CONSTRUCTORS, METHODS, NAMESPACES, P, R, STATICS, StaticEntry};

type CResult<T> = Result<T, (K, Span)>;

/// A checked program: its body, how many local slots it needs, its result type.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub body: ProgramBody,
    pub n_slots: usize,
    pub ty: Ty,
    pub reads: super::BodyReads,
}

pub(crate) fn check(body: &Body, regex_size_limit: usize) -> CResult<Checked> {
    let mut c = Checker {
        scopes: vec![Vec::new()],
        n_slots: 0,
        returns: Vec::new(),
        fold_ctx: Context::new(time::OffsetDateTime::UNIX_EPOCH),
        regex_size_limit,
        reads: super::BodyReads::default(),
        consts: Vec::new(),
        breakables: Vec::new(),
        finally_floor: None,
        catch_slots: Vec::new(),
        fn_sigs: Vec::new(),
        functions: Vec::new(),
        wrapping: false,
        in_void_fn: false,
    };
    match body {
        Body::Expr(e) => {
            let (node, ty) = c.value(e)?;
            Ok(Checked {
                body: ProgramBody::Expr(node),
                n_slots: c.n_slots,
                ty,
                reads: c.reads,
            })
        }
        Body::Block(stmts, span) => {
            let (stmts, returns) = c.block(stmts)?;
            if !returns {
                return Err((
                    K::MissingReturn,
                    Span::new(span.end as usize - 1, span.end as usize),
                ));
            }
            let ty = unify(&c.returns);
            // every declared function was checked where its block declares it
            let functions = std::mem::take(&mut c.functions)
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .ok_or((
                    K::Misplaced("a local function was declared but not compiled".into()),
                    *span,
                ))?;
            Ok(Checked {
                body: ProgramBody::Block(stmts, functions),
                n_slots: c.n_slots,
                ty,
                reads: c.reads,
            })
        }
    }
}

fn unify(tys: &[Ty]) -> Ty {
    let mut it = tys.iter().filter(|t| **t != Ty::Null);
    let Some(first) = it.next() else {
        return Ty::Object;
    };
    let mut acc = first.clone();
    for t in it {
        if acc.accepts(t) {
            continue;
        } else if t.accepts(&acc) {
            acc = t.clone();
        } else {
            return Ty::Object;
        }
    }
    acc
}

struct Checker {
    scopes: Vec<Vec<(String, u16, Ty)>>,
    n_slots: usize,
    returns: Vec<Ty>,
    fold_ctx: Context,
    regex_size_limit: usize,
    /// Which bodies the program reads, so the gateway knows at load what to buffer.
    reads: super::BodyReads,
    // C# 7 statements (i15)
    /// Slots of `const` locals, which cannot be assigned.
    consts: Vec<u16>,
    /// The loops and switches around the statement being checked: (is a loop, has a
    /// `break`), for `break`/`continue` and for whether a loop ever ends.
    breakables: Vec<(bool, bool)>,
    /// Inside a `finally`: how many breakables were outside it (C# forbids leaving it).
    finally_floor: Option<usize>,
    /// The exception slots of the `catch` blocks around, for `throw;`.
    catch_slots: Vec<u16>,
    /// Local functions: parameter and result types, and the compiled function once its
    /// declaration is checked (calls may come before it, as C# allows).
    fn_sigs: Vec<(Vec<Ty>, Ty)>,
    functions: Vec<Option<ir::Function>>,
    /// Inside `unchecked(...)`: integer `+ - *`, negation and casts wrap.
    wrapping: bool,
    /// Inside a `void` local function: `return;` ends it, `return x;` is an error.
    in_void_fn: bool,
}

/// A static property or constant of `c` (`string.Empty`, `DateTime.UtcNow`, an enum's
/// member), or none.
fn static_property(c: Class, name: &str, span: Span) -> Option<(Node, Ty)> {
    use time::macros::datetime;
    let node = |f: StaticFn| Node::Static {
        f,
        args: Vec::new(),
        regex: None,
        span,
    };
    let k = |v: Value| Node::Const(v);
    Some(match (c, name) {
        (Class::String, "Empty") => (k(Value::string("")), Ty::String),
        (Class::Guid, "Empty") => (
            k(ir::default_value(&Ty::Obj(Obj::Guid))),
            Ty::Obj(Obj::Guid),
        ),
        (Class::DateTime, "UtcNow") => (node(StaticFn::DtUtcNow), Ty::DateTime),
        (Class::DateTime, "Now") => (node(StaticFn::DtNow), Ty::DateTime),
        (Class::DateTime, "Today") => (node(StaticFn::DtToday), Ty::DateTime),
        (Class::DateTime, "MinValue") => (
            k(Value::DateTime(datetime!(0001-01-01 0:00 UTC))),
            Ty::DateTime,
        ),
        (Class::DateTime, "MaxValue") => (
            k(Value::DateTime(datetime!(9999-12-31 23:59:59.9999999 UTC))),
            Ty::DateTime,
        ),
        (Class::DateTimeOffset, "UtcNow" | "Now") => {
            (node(StaticFn::DtoUtcNow), Ty::DateTimeOffset)
        }
        (Class::DateTimeOffset, "MinValue") => (
            k(Value::DateTimeOffset(datetime!(0001-01-01 0:00 UTC))),
            Ty::DateTimeOffset,
        ),
        (Class::DateTimeOffset, "MaxValue") => (
            k(Value::DateTimeOffset(
                datetime!(9999-12-31 23:59:59.9999999 UTC),
            )),
            Ty::DateTimeOffset,
        ),
        (Class::DateTimeOffset, "UnixEpoch") => (
            k(Value::DateTimeOffset(time::OffsetDateTime::UNIX_EPOCH)),
            Ty::DateTimeOffset,
        ),
        (Class::TimeSpan, "Zero") => (k(Value::TimeSpan(0)), Ty::TimeSpan),
        (Class::Encoding, "UTF8") => (
            k(Value::Object(Handle(HandleKind::Encoding))),
            Ty::Obj(Obj::Encoding),
        ),
        (Class::Int, "MaxValue") => (k(Value::Int(i32::MAX)), Ty::Int),
        (Class::Int, "MinValue") => (k(Value::Int(i32::MIN)), Ty::Int),
        (Class::Long, "MaxValue") => (k(Value::Long(i64::MAX)), Ty::Long),
        (Class::Long, "MinValue") => (k(Value::Long(i64::MIN)), Ty::Long),
        (Class::Math, "PI") => (k(Value::Double(std::f64::consts::PI)), Ty::Double),
        (Class::Math, "E") => (k(Value::Double(std::f64::consts::E)), Ty::Double),
        (Class::Xml(XmlTy::Namespace), "None") => (k(Value::string("")), Ty::Xml(XmlTy::Namespace)),
        (Class::Enum(e), _) => {
            let (_, v) = e.members().iter().find(|(n, _)| *n == name)?;
            (k(enum_const(e, *v)), Ty::Enum(e))
        }
        _ => return None,
    })
}

fn mismatch(expected: impl ToString, found: &Ty, span: Span) -> (K, Span) {
    (
        K::TypeMismatch {
            expected: expected.to_string(),
            found: found.to_string(),
        },
        span,
    )
}

/// `int`, `long` and `char`: the operands of `& | ^ << >>`.
fn integral(t: &Ty) -> bool {
    matches!(t, Ty::Int | Ty::Long | Ty::Char)
}

fn numeric_result(a: &Ty, b: &Ty) -> Ty {
    if *a == Ty::Double || *b == Ty::Double {
        Ty::Double
    } else if *a == Ty::Long || *b == Ty::Long {
        Ty::Long
    } else {
        Ty::Int
    }
}

impl Checker {
    fn lookup(&self, name: &str) -> Option<(u16, Ty)> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, ..)| n == name)
            .map(|(_, s, t)| (*s, t.clone()))
    }

    fn declare(&mut self, name: &str, ty: Ty, span: Span) -> CResult<u16> {
        if self.lookup(name).is_some() || name == "context" {
            return Err((K::DuplicateLocal(name.to_owned()), span));
        }
        let slot = u16::try_from(self.n_slots).map_err(|_| {
            (
                K::Unsupported("more than 65535 local variables".into()),
                span,
            )
        })?;
        self.n_slots += 1;
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_owned(), slot, ty));
        }
        Ok(slot)
    }

    /// A TimeSpan known at load: a constant, or `TimeSpan.From*` or `new TimeSpan` of
    /// constants (static calls are not folded: some read the clock).
    fn const_timespan(&self, n: &Node) -> Option<i64> {
        use StaticFn as F;
        let known = match n {
            Node::Const(_) => true,
            Node::Static { f, args, .. } => {
                matches!(
                    f,
                    F::TsFromDays
                        | F::TsFromHours
                        | F::TsFromMinutes
                        | F::TsFromSeconds
                        | F::TsFromMilliseconds
                        | F::TsFromTicks
                        | F::NewTimeSpan
                ) && args.iter().all(Node::is_const)
            }
            _ => false,
        };
        match known.then(|| eval::eval_const(n, &self.fold_ctx)) {
            Some(Ok(Value::TimeSpan(t))) => Some(t),
            _ => None,
        }
    }

    /// Evaluates a node made only of constants, at load.
    fn fold(&self, node: Node, span: Span) -> CResult<Node> {
        match eval::eval_const(&node, &self.fold_ctx) {
            Ok(v) => Ok(Node::Const(v)),
            Err(kind) => Err((K::Constant(kind), span)),
        }
    }

    // ---------------------------------------------------------------- statements

    fn block(&mut self, stmts: &[Stmt]) -> CResult<(Vec<ir::Stmt>, bool)> {
        self.scopes.push(Vec::new());
        // local functions are in scope in their whole block
        for s in stmts {
            if let Stmt::LocalFn(f) = s
                && let Err(e) = self.declare_fn(f)
            {
                self.scopes.pop();
                return Err(e);
            }
        }
        let mut out = Vec::with_capacity(stmts.len());
        let mut returns = false;
        for s in stmts {
            let (s, r) = match self.stmt(s) {
                Ok(x) => x,
                Err(e) => {
                    self.scopes.pop();
                    return Err(e);
                }
            };
            out.push(s);
            returns |= r;
        }
        self.scopes.pop();
        Ok((out, returns))
    }

    fn stmt(&mut self, s: &Stmt) -> CResult<(ir::Stmt, bool)> {
        deep(|| self.stmt_at(s))
    }

    fn stmt_at(&mut self, s: &Stmt) -> CResult<(ir::Stmt, bool)> {
        match s {
            Stmt::Block(b) => {
                let (b, r) = self.block(b)?;
                Ok((ir::Stmt::Block(b), r))
            }
            Stmt::Checked { wrapping, body } => {
                let outer = std::mem::replace(&mut self.wrapping, *wrapping);
                let r = self.block(body);
                self.wrapping = outer;
                let (b, r) = r?;
                Ok((ir::Stmt::Block(b), r))
            }
            Stmt::Var {
                ty,
                name,
                name_span,
                init,
                is_const,
            } => {
                let (node, ty) = match (init, ty) {
                    (Some(init), _) => {
                        let (node, ity) = self.value(init)?;
                        let ty = match ty {
                            Some(t) => {
                                let t = self.type_ref(t)?;
                                if !t.accepts(&ity) {
                                    return Err(mismatch(&t, &ity, init.span));
                                }
                                t
                            }
                            None if ity == Ty::Null => {
                                return Err((K::NullVar(name.clone()), *name_span));
                            }
                            None => ity.clone(),
                        };
                        (coerce(node, &ity, &ty), ty)
                    }
                    // `string[] parts;`: C# requires an assignment before a read; the
                    // default value stands in for it.
                    (None, Some(t)) => {
                        let t = self.type_ref(t)?;
                        (Node::Const(ir::default_value(&t)), t)
                    }
                    (None, None) => return Err((K::NullVar(name.clone()), *name_span)),
                };
                if *is_const && !node.is_const() {
                    return Err((
                        K::Misplaced(format!(
                            "the value of the const '{name}' must be a constant: drop 'const'"
                        )),
                        init.as_ref().map_or(*name_span, |e| e.span),
                    ));
                }
                let slot = self.declare(name, ty, *name_span)?;
                if *is_const {
                    self.consts.push(slot);
                }
                Ok((ir::Stmt::Set(slot, node), false))
            }
            Stmt::Assign {
                name,
                name_span,
                op,
                value,
            } => {
                let Some((slot, ty)) = self.lookup(name) else {
                    return Err(if name == "context" {
                        (K::NotAssignable(name.clone()), *name_span)
                    } else {
                        (K::UnknownName(name.clone()), *name_span)
                    });
                };
                if self.consts.contains(&slot) {
                    return Err((
                        K::Misplaced(format!(
                            "cannot assign to '{name}': it is a const; declare it without 'const'"
                        )),
                        *name_span,
                    ));
                }
                let (mut node, mut vty) = self.value(value)?;
                if let Some(op) = op {
                    (node, vty) = self.binary(
                        *op,
                        (Node::Local(slot), ty.clone()),
                        (node, vty),
                        name_span.to(value.span),
                    )?;
                }
                if !ty.accepts(&vty) {
                    return Err(mismatch(&ty, &vty, value.span));
                }
                Ok((ir::Stmt::Set(slot, coerce(node, &vty, &ty)), false))
            }
            Stmt::If(c, t, e) => {
                let (cn, cty) = self.value(c)?;
                if cty != Ty::Bool {
                    return Err(mismatch("bool", &cty, c.span));
                }
                let (tn, tr) = self.scoped_stmt(t)?;
                let (en, er) = match e {
                    Some(e) => {
                        let (n, r) = self.scoped_stmt(e)?;
                        (Some(Box::new(n)), r)
                    }
                    None => (None, false),
                };
                Ok((ir::Stmt::If(cn, Box::new(tn), en), tr && er))
            }
            Stmt::Return(e, span) => {
                if self.finally_floor.is_some() {
                    return Err((
                        K::Misplaced("control cannot leave the body of a finally clause".into()),
                        *span,
                    ));
                }
                let n = match (e, self.in_void_fn) {
                    (Some(e), false) => {
                        let (n, ty) = self.value(e)?;
                        self.returns.push(ty);
                        n
                    }
                    (None, true) => Node::Const(Value::Null),
                    (None, false) => {
                        return Err((
                            K::Expected {
                                expected: "a value after 'return'".into(),
                                found: "';'".into(),
                            },
                            *span,
                        ));
                    }
                    (Some(e), true) => {
                        return Err((
                            K::Misplaced(
                                "a void local function returns no value: write 'return;'".into(),
                            ),
                            e.span,
                        ));
                    }
                };
                Ok((ir::Stmt::Return(n), true))
            }
            Stmt::Foreach {
                ty,
                name,
                name_span,
                iter,
                body,
            } => {
                let (it, ity) = self.value(iter)?;
                let Some(elem) = ity.element() else {
                    return Err((
                        K::BadOperand {
                            op: "foreach",
                            ty: ity.to_string(),
                        },
                        iter.span,
                    ));
                };
                let vty = match ty {
                    Some(t) => {
                        let t = self.type_ref(t)?;
                        if !t.accepts(&elem) && elem != Ty::Object {
                            return Err(mismatch(&t, &elem, t_span(ty.as_ref(), *name_span)));
                        }
                        t
                    }
                    None => elem,
                };
                self.scopes.push(Vec::new());
                let slot = match self.declare(name, vty, *name_span) {
                    Ok(s) => s,
                    Err(e) => {
                        self.scopes.pop();
                        return Err(e);
                    }
                };
                self.breakables.push((true, false));
                let b = self.stmt(body);
                self.breakables.pop();
                self.scopes.pop();
                let (b, _) = b?;
                Ok((
                    ir::Stmt::Foreach {
                        slot,
                        iter: it,
                        body: Box::new(b),
                        span: iter.span,
                    },
                    false,
                ))
            }
            Stmt::Expr(e) => {
                let (n, _) = self.expr(e)?;
                Ok((ir::Stmt::Expr(n), false))
            }
            Stmt::IndexAssign { target, value } => Ok((self.index_assign(target, value)?, false)),
            Stmt::MemberAssign { target, value } => Ok((self.member_assign(target, value)?, false)),
            Stmt::Seq(v) => {
                let mut out = Vec::with_capacity(v.len());
                for s in v {
                    out.push(self.stmt(s)?.0);
                }
                Ok((ir::Stmt::Block(out), false))
            }
            Stmt::Loop {
                init,
                cond,
                step,
                body,
                span,
                test_after,
            } => {
                self.scopes.push(Vec::new());
                let parts = (cond.as_ref(), step.as_slice(), &**body);
                let r = self.loop_stmt(init, parts, *span, *test_after);
                self.scopes.pop();
                r
            }
            Stmt::Break(span) => {
                let at = self.breakables.len().checked_sub(1);
                self.jump(at, "break", *span)?;
                if let Some(b) = self.breakables.last_mut() {
                    b.1 = true;
                }
                Ok((ir::Stmt::Break, false))
            }
            Stmt::Continue(span) => {
                let at = self.breakables.iter().rposition(|b| b.0);
                self.jump(at, "continue", *span)?;
                Ok((ir::Stmt::Continue, false))
            }
            Stmt::Throw(e, span) => {
                let node = match e {
                    Some(e) => {
                        let (n, t) = self.value(e)?;
                        if t != Ty::Obj(Obj::Exception) {
                            return Err(mismatch("Exception", &t, e.span));
                        }
                        n
                    }
                    None => match self.catch_slots.last() {
                        Some(slot) => Node::Local(*slot),
                        None => {
                            return Err((
                                K::Misplaced(
                                    "'throw;' without an exception must be inside a catch block"
                                        .into(),
                                ),
                                *span,
                            ));
                        }
                    },
                };
                Ok((ir::Stmt::Throw(node, *span), true))
            }
            Stmt::Try {
                body,
                catch,
                finally,
            } => self.try_stmt(body, catch.as_ref(), finally.as_deref()),
            Stmt::LocalFn(f) => {
                self.local_fn(f)?;
                Ok((ir::Stmt::Block(Vec::new()), false))
            }
            Stmt::Switch {
                value,
                sections,
                span,
            } => {
                self.breakables.push((false, false));
                self.scopes.push(Vec::new());
                let r = self.switch_stmt(value, sections, *span);
                self.scopes.pop();
                let broke = self.breakables.pop().is_some_and(|b| b.1);
                r.map(|(s, returns)| (s, returns && !broke))
            }
        }
    }

    /// `target.Name = value;`: a SymmetricAlgorithm's properties and an XML element's or
    /// attribute's `Value` are settable (the `context` model is read-only, the library's
    /// other objects immutable here).
    fn member_assign(&mut self, target: &Expr, value: &Expr) -> CResult<ir::Stmt> {
        let ExprKind::Member {
            target: recv_e,
            name,
            name_span,
            null_cond,
        } = &target.kind
        else {
            return Err((
                K::Expected {
                    expected: "a property such as element.Value".into(),
                    found: "an expression".into(),
                },
                target.span,
            ));
        };
        if *null_cond {
            return Err((
                K::Unsupported(
                    "assigning through '?.' (C# 7 has no null-conditional assignment)".into(),
                ),
                *name_span,
            ));
        }
        let (rn, rt) = self.value(recv_e)?;
        let member = (name.as_str(), *name_span, target.span);
        match rt {
            Ty::Obj(Obj::Symmetric) => self.symmetric_assign(rn, member, value),
            Ty::Xml(XmlTy::Element | XmlTy::Attribute) => {
                self.xml_value_assign((rn, &rt), member, value)
            }
            _ => Err((K::NotAssignable(format!("{rt}.{name}")), target.span)),
        }
    }

    /// Puts a local function's name and signature in the current scope.
    fn declare_fn(&mut self, f: &LocalFn) -> CResult<()> {
        // A void function's calls are statements; as a value, one is null, as a void
        // method's (`R::Void`).
        let ret = if f.ret.name == "void" {
            Ty::Null
        } else {
            self.type_ref(&f.ret)?
        };
        let mut params = Vec::with_capacity(f.params.len());
        for (t, ..) in &f.params {
            params.push(self.type_ref(t)?);
        }
        if self.lookup(&f.name).is_some() || f.name == "context" {
            return Err((K::DuplicateLocal(f.name.clone()), f.name_span));
        }
        let id = u16::try_from(self.fn_sigs.len()).map_err(|_| {
            (
                K::Unsupported("more than 65535 local functions".into()),
                f.name_span,
            )
        })?;
        self.fn_sigs.push((params, ret));
        self.functions.push(None);
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((f.name.clone(), 0, Ty::Fn(id)));
        }
        Ok(())
    }

    /// Checks a local function's body in a frame of its own: no `break`, `continue` or
    /// `throw;` reaches out of it, and its `return`s are its own.
    fn local_fn(&mut self, f: &LocalFn) -> CResult<()> {
        let Some((_, Ty::Fn(id))) = self.lookup(&f.name) else {
            return Err((K::UnknownName(f.name.clone()), f.name_span));
        };
        let Some((param_tys, ret)) = self.fn_sigs.get(usize::from(id)).cloned() else {
            return Err((K::UnknownName(f.name.clone()), f.name_span));
        };
        let void = f.ret.name == "void";
        let saved = (
            std::mem::take(&mut self.returns),
            std::mem::take(&mut self.breakables),
            self.finally_floor.take(),
            std::mem::take(&mut self.catch_slots),
            std::mem::replace(&mut self.in_void_fn, void),
        );
        self.scopes.push(Vec::new());
        let start = self.n_slots;
        let r = (|| {
            let mut params = Vec::with_capacity(param_tys.len());
            for ((_, name, sp), t) in f.params.iter().zip(param_tys) {
                params.push(self.declare(name, t, *sp)?);
            }
            let body = match &f.body {
                Ok(e) => {
                    let (n, t) = self.value(e)?;
                    if void {
                        // `void F() => expr;`: the expression runs for its effect
                        return Ok((
                            params,
                            ir::FnBody::Block(vec![
                                ir::Stmt::Expr(n),
                                ir::Stmt::Return(Node::Const(Value::Null)),
                            ]),
                        ));
                    }
                    if !ret.accepts(&t) {
                        return Err(mismatch(&ret, &t, e.span));
                    }
                    ir::FnBody::Expr(coerce(n, &t, &ret))
                }
                Err(stmts) => {
                    let (mut b, returns) = self.block(stmts)?;
                    if void {
                        // the end of a void function's body returns
                        b.push(ir::Stmt::Return(Node::Const(Value::Null)));
                        return Ok((params, ir::FnBody::Block(b)));
                    }
                    if !returns {
                        return Err((
                            K::Misplaced(format!(
                                "not all code paths of '{}' return a value: end every path \
                                 with 'return'",
                                f.name
                            )),
                            f.name_span,
                        ));
                    }
                    if let Some(t) = self.returns.iter().find(|t| !ret.accepts(t)) {
                        return Err(mismatch(&ret, t, f.name_span));
                    }
                    ir::FnBody::Block(b)
                }
            };
            Ok((params, body))
        })();
        self.scopes.pop();
        (
            self.returns,
            self.breakables,
            self.finally_floor,
            self.catch_slots,
            self.in_void_fn,
        ) = saved;
        let (params, body) = r?;
        let function = ir::Function {
            params,
            slots: start..self.n_slots,
            body,
        };
        if let Some(cell) = self.functions.get_mut(usize::from(id)) {
            *cell = Some(function);
        }
        Ok(())
    }

    /// `break` or `continue` to breakable `at`: there must be one, not outside a finally.
    fn jump(&self, at: Option<usize>, what: &str, span: Span) -> CResult<()> {
        let Some(at) = at else {
            let target = if what == "break" {
                "a loop or a switch"
            } else {
                "a loop"
            };
            return Err((
                K::Misplaced(format!("'{what}' must be inside {target}")),
                span,
            ));
        };
        if self.finally_floor.is_some_and(|floor| at < floor) {
            return Err((
                K::Misplaced("control cannot leave the body of a finally clause".into()),
                span,
            ));
        }
        Ok(())
    }

    /// A loop: `(cond, step, body)`, in a block after `init`.
    fn loop_stmt(
        &mut self,
        init: &[Stmt],
        (cond, step, body): (Option<&Expr>, &[Stmt], &Stmt),
        span: Span,
        test_after: bool,
    ) -> CResult<(ir::Stmt, bool)> {
        let mut out = Vec::with_capacity(init.len() + 1);
        for s in init {
            out.push(self.stmt(s)?.0);
        }
        let cond = match cond {
            Some(c) => {
                let (n, t) = self.value(c)?;
                if t != Ty::Bool {
                    return Err(mismatch("bool", &t, c.span));
                }
                Some(n)
            }
            None => None,
        };
        self.breakables.push((true, false));
        let b = self.scoped_stmt(body);
        let broke = self.breakables.pop().is_some_and(|b| b.1);
        let (body, _) = b?;
        let mut steps = Vec::with_capacity(step.len());
        for s in step {
            steps.push(self.stmt(s)?.0);
        }
        // `while (true)` without `break` only ends by `return` or `throw`.
        let endless = matches!(cond, None | Some(Node::Const(Value::Bool(true))));
        out.push(ir::Stmt::Loop {
            cond,
            body: Box::new(body),
            step: steps,
            span,
            test_after,
        });
        Ok((ir::Stmt::Block(out), endless && !broke))
    }

    fn try_stmt(
        &mut self,
        body: &[Stmt],
        catch: Option<&Catch>,
        finally: Option<&[Stmt]>,
    ) -> CResult<(ir::Stmt, bool)> {
        let (body, mut returns) = self.block(body)?;
        let catch = match catch {
            Some(c) => {
                if let Some(t) = &c.ty
                    && !matches!(t.name.as_str(), "Exception" | "System.Exception")
                {
                    return Err((
                        K::NotImplemented(format!(
                            "catching '{}' (catch Exception and read its Message)",
                            t.name
                        )),
                        t.span,
                    ));
                }
                self.scopes.push(Vec::new());
                let r = (|| {
                    let slot = match &c.name {
                        Some((n, sp)) => self.declare(n, Ty::Obj(Obj::Exception), *sp)?,
                        None => {
                            let hidden = format!("<exception {}>", self.n_slots);
                            self.declare(&hidden, Ty::Obj(Obj::Exception), Span::default())?
                        }
                    };
                    self.catch_slots.push(slot);
                    let b = self.block(&c.body);
                    self.catch_slots.pop();
                    let (b, r) = b?;
                    Ok((slot, b, r))
                })();
                self.scopes.pop();
                let (slot, b, r) = r?;
                returns &= r;
                Some((slot, b))
            }
            None => None,
        };
        let finally = match finally {
            Some(f) => {
                let saved = self.finally_floor.replace(self.breakables.len());
                let r = self.block(f);
                self.finally_floor = saved;
                Some(r?.0)
            }
            None => None,
        };
        Ok((
            ir::Stmt::Try {
                body,
                catch,
                finally,
            },
            returns,
        ))
    }

    /// A switch over constants; each section must end in `break`, `continue`, `return` or
    /// `throw` (C# has no fall-through).
    fn switch_stmt(
        &mut self,
        value: &Expr,
        sections: &[Section],
        span: Span,
    ) -> CResult<(ir::Stmt, bool)> {
        let (vn, vt) = self.value(value)?;
        if !matches!(
            vt,
            Ty::String | Ty::Int | Ty::Long | Ty::Char | Ty::Bool | Ty::Enum(_)
        ) {
            return Err((
                K::BadOperand {
                    op: "switch",
                    ty: vt.to_string(),
                },
                value.span,
            ));
        }
        let mut out = Vec::with_capacity(sections.len());
        let mut default = None;
        let mut all_return = true;
        for (i, sec) in sections.iter().enumerate() {
            let mut labels = Vec::new();
            for (label, at) in &sec.labels {
                let Some(e) = label else {
                    default = Some(i);
                    continue;
                };
                let (n, t) = self.value(e)?;
                let ok = vt.accepts(&t) || (vt.is_numeric() && t.is_numeric());
                match coerce(n, &t, &vt) {
                    Node::Const(v) if ok => labels.push(v),
                    Node::Const(_) => return Err(mismatch(&vt, &t, e.span)),
                    _ => {
                        return Err((
                            K::Misplaced("a case label must be a constant value".into()),
                            e.span.to(*at),
                        ));
                    }
                }
            }
            let mut body = Vec::with_capacity(sec.body.len());
            let mut returns = false;
            for s in &sec.body {
                let (n, r) = self.stmt(s)?;
                body.push(n);
                returns |= r;
            }
            let jumps = matches!(sec.body.last(), Some(Stmt::Break(_) | Stmt::Continue(_)));
            if !returns && !jumps {
                let at = sec.labels.last().map_or(span, |l| l.1);
                return Err((
                    K::Misplaced(
                        "control cannot fall through from one case label to another: end the \
                         section with 'break;'"
                            .into(),
                    ),
                    at,
                ));
            }
            all_return &= returns;
            out.push((labels, body));
        }
        let returns = default.is_some() && all_return;
        Ok((
            ir::Stmt::Switch {
                value: vn,
                sections: out,
                default,
                span,
            },
            returns,
        ))
    }

    fn scoped_stmt(&mut self, s: &Stmt) -> CResult<(ir::Stmt, bool)> {
        self.scopes.push(Vec::new());
        let r = self.stmt(s);
        self.scopes.pop();
        r
    }

    fn type_ref(&self, t: &TypeRef) -> CResult<Ty> {
        if let Some(ty) = Ty::from_name(&t.name) {
            return Ok(ty);
        }
        if t.name == "Exception" || t.name == "System.Exception" {
            return Ok(Ty::Obj(Obj::Exception));
        }
        Err(unknown_type(&t.name, t.span))
    }

    // ---------------------------------------------------------------- expressions

    /// An expression that must be a value (not a type or namespace).
    fn value(&mut self, e: &Expr) -> CResult<(Node, Ty)> {
        let (n, t) = self.expr(e)?;
        if let Ty::Fn(_) = t {
            return Err((
                K::NotImplemented("local functions as values (call them)".into()),
                e.span,
            ));
        }
        if matches!(t, Ty::Static(_) | Ty::Namespace(_)) {
            return Err((
                K::Expected {
                    expected: "a value".into(),
                    found: format!("the type or namespace '{t}'"),
                },
                e.span,
            ));
        }
        Ok((n, t))
    }

    fn expr(&mut self, e: &Expr) -> CResult<(Node, Ty)> {
        deep(|| self.expr_at(e))
    }

    fn expr_at(&mut self, e: &Expr) -> CResult<(Node, Ty)> {
        let span = e.span;
        let c = |v: Value, t: Ty| Ok((Node::Const(v), t));
        match &e.kind {
            ExprKind::Checked { wrapping, expr } => {
                let outer = std::mem::replace(&mut self.wrapping, *wrapping);
                let r = self.value(expr);
                self.wrapping = outer;
                r
            }
            ExprKind::Null => c(Value::Null, Ty::Null),
            ExprKind::Bool(b) => c(Value::Bool(*b), Ty::Bool),
            ExprKind::Int(n) => c(Value::Int(*n), Ty::Int),
            ExprKind::Long(n) => c(Value::Long(*n), Ty::Long),
            ExprKind::Double(d) => c(Value::Double(*d), Ty::Double),
            ExprKind::Char(ch) => c(Value::Char(*ch), Ty::Char),
            ExprKind::Str(s) => c(Value::string(s), Ty::String),
            ExprKind::Interp(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    match p {
                        Part::Lit(s) => out.push((Node::Const(Value::string(s)), None)),
                        Part::Hole(e, fmt) => {
                            let (n, _) = self.value(e)?;
                            out.push((n, fmt.clone()));
                        }
                    }
                }
                let node = Node::Concat(out, span);
                self.maybe_fold(node, span).map(|n| (n, Ty::String))
            }
            ExprKind::Name(n) => self.name(n, span),
            ExprKind::Member {
                target,
                name,
                name_span,
                null_cond,
            } => {
                let (rn, rt) = self.expr(target)?;
                self.member(
                    rn,
                    rt,
                    name,
                    *name_span,
                    *null_cond || in_null_chain(target),
                )
            }
            ExprKind::Call {
                target,
                type_args,
                args,
            } => self.call(target, type_args, args, span),
            ExprKind::Index {
                target,
                index,
                null_cond,
            } => self.index(target, index, *null_cond, span),
            ExprKind::Unary(op, inner) => {
                let (n, t) = self.value(inner)?;
                let ty = match (op, &t) {
                    (UnOp::Not, Ty::Bool) => Ty::Bool,
                    (UnOp::Neg | UnOp::Plus | UnOp::BitNot, Ty::Int | Ty::Char) => Ty::Int,
                    (UnOp::BitNot, Ty::Long) => Ty::Long,
                    (UnOp::Neg | UnOp::Plus, Ty::Long | Ty::Double | Ty::TimeSpan) => t.clone(),
                    _ => {
                        let op = match op {
                            UnOp::Not => "!",
                            UnOp::Neg | UnOp::NegWrap => "-",
                            UnOp::Plus => "+",
                            UnOp::BitNot => "~",
                        };
                        return Err((
                            K::BadOperand {
                                op,
                                ty: t.to_string(),
                            },
                            span,
                        ));
                    }
                };
                let op = match op {
                    UnOp::Neg if self.wrapping && matches!(ty, Ty::Int | Ty::Long) => {
                        UnOp::NegWrap
                    }
                    other => *other,
                };
                let node = Node::Unary {
                    op,
                    expr: Box::new(n),
                    span,
                };
                self.maybe_fold(node, span).map(|n| (n, ty))
            }
            ExprKind::Binary(op, l, r) => {
                let l = self.value(l)?;
                let r = self.value(r)?;
                self.binary(*op, l, r, span)
            }
            ExprKind::Cond(cond, t, f) => {
                let (cn, ct) = self.value(cond)?;
                if ct != Ty::Bool {
                    return Err(mismatch("bool", &ct, cond.span));
                }
                let (tn, tt) = self.value(t)?;
                let (fnode, ft) = self.value(f)?;
                let ty = if tt.accepts(&ft) {
                    tt.clone()
                } else if ft.accepts(&tt) {
                    ft.clone()
                } else {
                    return Err((
                        K::BadOperands {
                            op: "?:",
                            left: tt.to_string(),
                            right: ft.to_string(),
                        },
                        span,
                    ));
                };
                let (tn, fnode) = (coerce(tn, &tt, &ty), coerce(fnode, &ft, &ty));
                if let Node::Const(Value::Bool(b)) = cn {
                    return Ok((if b { tn } else { fnode }, ty));
                }
                Ok((Node::Cond(Box::new(cn), Box::new(tn), Box::new(fnode)), ty))
            }
            ExprKind::Cast(t, inner) => {
                let to = self.type_ref(t)?;
                let (n, from) = self.value(inner)?;
                if matches!(from, Ty::Json(_)) || matches!(to, Ty::Json(_)) {
                    return self.json_cast(n, &from, &to, span);
                }
                if matches!(from, Ty::Xml(_)) || matches!(to, Ty::Xml(_)) {
                    return self.xml_cast(n, &from, &to, span);
                }
                let ok = from == to
                    || to == Ty::Object
                    || from == Ty::Object
                    || (from.is_numeric() && to.is_numeric())
                    || (matches!(from, Ty::Enum(_)) && matches!(to, Ty::Int | Ty::Long))
                    || (from == Ty::Null && !to.is_value_type());
                if !ok {
                    return Err((
                        K::BadCast {
                            from: from.to_string(),
                            to: to.to_string(),
                        },
                        span,
                    ));
                }
                if from == to {
                    return Ok((n, to));
                }
                if self.wrapping
                    && matches!(from, Ty::Int | Ty::Long | Ty::Char)
                    && matches!(to, Ty::Int | Ty::Long)
                {
                    // unchecked((int)x): the low bits, no overflow check
                    let f = if to == Ty::Int {
                        StaticFn::UncheckedInt
                    } else {
                        StaticFn::UncheckedLong
                    };
                    let node = Node::Static {
                        f,
                        args: vec![n],
                        regex: None,
                        span,
                    };
                    return Ok((node, to));
                }
                let node = Node::Cast {
                    to: to.clone(),
                    expr: Box::new(n),
                    unbox: from == Ty::Object,
                    span,
                };
                self.maybe_fold(node, span).map(|n| (n, to))
            }
            ExprKind::IsNull { expr, negated } => {
                let (n, _) = self.value(expr)?;
                let node = Node::IsNull {
                    expr: Box::new(n),
                    negated: *negated,
                };
                self.maybe_fold(node, span).map(|n| (n, Ty::Bool))
            }
            ExprKind::Lambda { .. } => Err((K::MisplacedLambda, span)),
            ExprKind::IsType { expr, ty, name } => {
                let (n, _) = self.value(expr)?;
                let t = self.type_ref(ty)?;
                let slot = match name {
                    Some((name, sp)) => Some(self.declare(name, t.clone(), *sp)?),
                    None => None,
                };
                let node = Node::IsType {
                    expr: Box::new(n),
                    ty: t,
                    slot,
                };
                Ok((node, Ty::Bool))
            }
            ExprKind::As(expr, ty) => {
                let (n, from) = self.value(expr)?;
                let t = self.type_ref(ty)?;
                if t.is_value_type() && !ty.name.ends_with('?') {
                    return Err((
                        K::Misplaced(format!(
                            "the 'as' operator needs a reference or nullable type, not {t}: \
                             use a cast or '{t}?'"
                        )),
                        ty.span,
                    ));
                }
                if from == t {
                    return Ok((n, t));
                }
                let node = Node::As {
                    expr: Box::new(n),
                    ty: t.clone(),
                };
                Ok((node, t))
            }
            ExprKind::New(New::Array { elem, size, elems }) => {
                self.new_array(elem.as_ref(), size.as_deref(), elems.as_deref(), span)
            }
            ExprKind::New(New::Object { ty, args, init }) => {
                self.new_object(ty, args, init.as_ref(), span)
            }
            ExprKind::Out { .. } => Err((
                K::Misplaced(
                    "an 'out' argument is only allowed in a call of TryGetValue, TryParse, TryParseJwt or TryParseBasic".into(),
                ),
                span,
            )),
        }
    }

    /// `new T[n]`, `new T[] { ... }`, `new[] { ... }`.
    fn new_array(
        &mut self,
        elem: Option<&TypeRef>,
        size: Option<&Expr>,
        elems: Option<&[Expr]>,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        let mut values = Vec::new();
        for e in elems.unwrap_or_default() {
            values.push((self.value(e)?, e.span));
        }
        let (elem_ty, array_ty) = match elem {
            Some(t) => {
                let elem_ty = self.type_ref(t)?;
                let array_ty = Ty::from_name(&format!("{}[]", t.name))
                    .unwrap_or_else(|| Ty::Array(Box::new(elem_ty.clone())));
                (elem_ty, array_ty)
            }
            None => {
                let tys: Vec<Ty> = values.iter().map(|((_, t), _)| t.clone()).collect();
                let t = unify(&tys);
                if tys.iter().all(|t| *t == Ty::Null) || !tys.iter().all(|x| t.accepts(x)) {
                    return Err((
                        K::Misplaced(
                            "no best type found for the implicitly-typed array: write \
                             'new T[] { ... }'"
                                .into(),
                        ),
                        span,
                    ));
                }
                (t.clone(), Ty::Array(Box::new(t)))
            }
        };
        let mut nodes = Vec::with_capacity(values.len());
        for ((n, t), at) in values {
            let numeric = elem_ty.is_numeric() && t.is_numeric();
            let fits = elem_ty.accepts(&t) || (numeric && array_ty == Ty::Bytes);
            if !fits {
                return Err(mismatch(&elem_ty, &t, at));
            }
            nodes.push(coerce(n, &t, &elem_ty));
        }
        let size = match (size, elems) {
            (Some(_), Some(_)) => {
                return Err((
                    K::NotImplemented(
                        "an array creation with both a size and elements (drop the size)".into(),
                    ),
                    span,
                ));
            }
            (Some(e), None) => {
                let (n, t) = self.value(e)?;
                if !matches!(t, Ty::Int | Ty::Long | Ty::Char) {
                    return Err(mismatch("int", &t, e.span));
                }
                Some(Box::new(n))
            }
            (None, _) => None,
        };
        let node = Node::NewArray {
            size,
            elems: nodes,
            fill: ir::default_value(&elem_ty),
            bytes: array_ty == Ty::Bytes,
            span,
        };
        Ok((node, array_ty))
    }

    /// `new T(args)`: the one place object creation dispatches on the type. A type gets a
    /// constructor by rows `(Class::T, "new", parameters, result, StaticFn::NewT)` in
    /// `members::CONSTRUCTORS`, checked and evaluated like a static call (`members::class`
    /// must know the name). Types that need more than a call (collection initializers:
    /// `new JObject { ... }`, `new List<T> { ... }`) add their case here, before the table.
    fn new_object(
        &mut self,
        ty: &TypeRef,
        args: &[Arg],
        init: Option<&Init>,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        if let Some(t @ (Ty::List(_) | Ty::Map(..))) = Ty::from_name(&ty.name) {
            return self.new_collection(t, args, init, span);
        }
        let short = members::short_type_name(&ty.name);
        let base = short.split('<').next().unwrap_or(short);
        if let Some(Class::Json(JsonClass::Token(t))) = members::class(short)
            && t != JsonTy::Token
        {
            let made = self.new_json(t, args, span)?;
            return match init {
                Some(init) => self.initialize(made.0, made.1, init),
                None => Ok(made),
            };
        }
        // `new HMACSHA256 { Key = key }` is `new HMACSHA256(key)`
        if let (Some(Class::Hmac(_)), [], Some(Init { items, .. })) =
            (members::class(short), args, init)
            && let [InitItem::Member(name, _, key)] = items.as_slice()
            && name == "Key"
        {
            let key = Arg {
                name: None,
                value: key.clone(),
            };
            return self.new_object(ty, &[key], None, span);
        }
        if let Some(init) = init {
            return Err((
                K::NotImplemented(format!("initializers of '{}' ('new T {{ ... }}')", ty.name)),
                init.span,
            ));
        }
        match members::class(short) {
            Some(Class::Hash(a)) if args.is_empty() => {
                let v = Value::Object(Handle(HandleKind::Hash(a)));
                return Ok((Node::Const(v), Ty::Obj(Obj::Hash(a))));
            }
            Some(Class::Hmac(a)) => {
                self.no_named(args)?;
                let [key] = args else {
                    return Err((
                        K::NotImplemented(format!(
                            "'new {}' without a key (.NET makes a random one)",
                            ty.name
                        )),
                        span,
                    ));
                };
                let (n, t) = self.value(&key.value)?;
                if !matches!(t, Ty::Bytes | Ty::Null) {
                    return Err(mismatch("byte[]", &t, key.value.span));
                }
                let node = Node::Static {
                    f: StaticFn::NewHmac(a),
                    args: vec![n],
                    regex: None,
                    span,
                };
                return Ok((node, Ty::Obj(Obj::Hmac(a))));
            }
            _ => {}
        }
        let class = members::class(short).filter(|c| CONSTRUCTORS.iter().any(|(cl, ..)| cl == c));
        let Some(c) = class else {
            // a type certgate knows (`object`, `string`) or APIM allows has no constructor
            // here yet; anything else APIM refuses
            let known = Ty::from_name(&ty.name).is_some() || members::class(base).is_some();
            return Err(if known || members::apim_allows(base) {
                (K::NotImplemented(format!("'new {}'", ty.name)), ty.span)
            } else {
                (K::TypeNotAllowed(ty.name.clone()), ty.span)
            });
        };
        if c == Class::Aes && base == "Aes" {
            return Err((
                K::Misplaced(
                    "cannot create an instance of the abstract type 'Aes': use Aes.Create()".into(),
                ),
                ty.span,
            ));
        }
        // at offset zero any DateTime is the same instant; at another, .NET reads it by its
        // Kind, which certgate does not keep (a computed offset is checked when it runs)
        if let (Class::DateTimeOffset, [first, offset]) = (c, args)
            && self.value(&first.value)?.1 == Ty::DateTime
            && let (offset, _) = self.value(&offset.value)?
            && let Some(t) = self.const_timespan(&offset)
            && t != 0
        {
            return Err((
                K::NotImplemented(
                    "'new DateTimeOffset(DateTime, TimeSpan)' at an offset other than zero \
                     (.NET reads it by the DateTime's Kind, which certgate does not keep; \
                     write new DateTimeOffset(y, M, d, h, m, s, offset))"
                        .into(),
                ),
                span,
            ));
        }
        self.no_named(args)?;
        self.static_call_in(CONSTRUCTORS, c, "new", ty.span, args, span)
    }

    /// `new JObject(...)` and the other tokens: Newtonsoft's `params object[] content`
    /// takes any number of arguments of any type, checked when the token is built.
    fn new_json(&mut self, t: JsonTy, args: &[Arg], span: Span) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let mut nodes = Vec::with_capacity(args.len());
        for a in args {
            nodes.push(self.value(&a.value)?.0);
        }
        let node = Node::Static {
            f: StaticFn::Json(JsonFn::New(t)),
            args: nodes,
            regex: None,
            span,
        };
        Ok((node, Ty::Json(t)))
    }

    fn maybe_fold(&self, node: Node, span: Span) -> CResult<Node> {
        let all_const = match &node {
            Node::Unary { expr, .. } | Node::Cast { expr, .. } | Node::IsNull { expr, .. } => {
                expr.is_const()
            }
            Node::Binary { l, r, .. } => l.is_const() && r.is_const(),
            Node::Concat(parts, _) => parts.iter().all(|(n, _)| n.is_const()),
            _ => false,
        };
        if all_const {
            self.fold(node, span)
        } else {
            Ok(node)
        }
    }

    fn name(&mut self, n: &str, span: Span) -> CResult<(Node, Ty)> {
        if let Some((slot, ty)) = self.lookup(n) {
            return Ok((Node::Local(slot), ty));
        }
        if n == "context" {
            return Ok((Node::Context, Ty::Obj(Obj::Context)));
        }
        if let Some(c) = members::class(n) {
            return Ok((Node::Const(Value::Null), Ty::Static(c)));
        }
        if let Some(ns) = NAMESPACES.iter().find(|ns| **ns == n) {
            return Ok((Node::Const(Value::Null), Ty::Namespace(ns)));
        }
        if members::apim_allows(n) || members::apim_refuses(n) {
            return Err(unknown_type(n, span));
        }
        if n == "Newtonsoft" {
            return Ok((Node::Const(Value::Null), Ty::Namespace("Newtonsoft")));
        }
        Err((K::UnknownName(n.to_owned()), span))
    }

    fn member(
        &mut self,
        recv: Node,
        rty: Ty,
        name: &str,
        name_span: Span,
        null_cond: bool,
    ) -> CResult<(Node, Ty)> {
        match &rty {
            Ty::Namespace(ns) => {
                let full = format!("{ns}.{name}");
                if let Some(ns) = NAMESPACES.iter().find(|n| **n == full) {
                    return Ok((Node::Const(Value::Null), Ty::Namespace(ns)));
                }
                if let Some(c) = members::class(name) {
                    return Ok((Node::Const(Value::Null), Ty::Static(c)));
                }
                return Err(unknown_type(&full, name_span));
            }
            Ty::Static(c) => return self.static_member(*c, name, name_span),
            Ty::Null => {
                return Err((
                    K::NotAMember {
                        member: name.to_owned(),
                        ty: "null".into(),
                        hint: String::new(),
                    },
                    name_span,
                ));
            }
            _ => {}
        }
        if let Some((prop, ty)) = members::property(&rty, name) {
            self.reads.request |= prop == Prop::ReqBody;
            self.reads.response |= prop == Prop::RespBody;
            // Objects of the context model that are always there are constants:
            // `context.Request.Headers` costs nothing per request.
            let fixed = matches!(
                prop,
                Prop::Request
                    | Prop::Response
                    | Prop::Variables
                    | Prop::Deployment
                    | Prop::ReqUrl
                    | Prop::ReqOriginalUrl
                    | Prop::ReqHeaders
                    | Prop::ReqMatchedParameters
                    | Prop::RespHeaders
                    | Prop::DepCertificates
                    | Prop::UrlQuery
            ) && (recv.is_const() || matches!(recv, Node::Context));
            let node = Node::Prop {
                recv: Box::new(recv),
                prop,
                null_cond,
                span: name_span,
            };
            if fixed {
                return self.fold(node, name_span).map(|n| (n, ty));
            }
            return Ok((node, ty));
        }
        if METHODS
            .iter()
            .any(|(r, n, ..)| *n == name && r.matches(&rty))
        {
            return Err((
                K::Expected {
                    expected: format!("'(' to call the method '{name}'"),
                    found: "no argument list".into(),
                },
                name_span,
            ));
        }
        Err(self.no_member(&rty, name, name_span))
    }

    fn no_member(&self, rty: &Ty, name: &str, span: Span) -> (K, Span) {
        let lack = dotnet::lack(rty, name);
        if members::not_yet(rty, name) || lack == Some(dotnet::Lack::NotYet) {
            (K::NotImplemented(format!("{rty}.{name}")), span)
        } else if members::known_unsupported(rty, name) || lack == Some(dotnet::Lack::NotAllowed) {
            (
                K::MemberNotSupported {
                    member: name.to_owned(),
                    ty: rty.to_string(),
                },
                span,
            )
        } else {
            (
                K::NotAMember {
                    member: name.to_owned(),
                    ty: rty.to_string(),
                    hint: members::suggest(rty, name),
                },
                span,
            )
        }
    }

    fn static_member(&mut self, c: Class, name: &str, span: Span) -> CResult<(Node, Ty)> {
        if let Some(found) = static_property(c, name, span) {
            return Ok(found);
        }
        if let Class::Enum(e) = c {
            return Err((
                K::NotAMember {
                    member: name.to_owned(),
                    ty: e.name().to_owned(),
                    hint: members::suggest(&Ty::Static(c), name),
                },
                span,
            ));
        }
        if STATICS.iter().any(|(cl, n, ..)| *cl == c && *n == name) {
            return Err((
                K::Expected {
                    expected: format!("'(' to call the method '{name}'"),
                    found: "no argument list".into(),
                },
                span,
            ));
        }
        Err(self.no_member(&Ty::Static(c), name, span))
    }

    fn index(
        &mut self,
        target: &Expr,
        index: &Expr,
        null_cond: bool,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        let (rn, rt) = self.value(target)?;
        let (inode, it) = self.value(index)?;
        let ty = match (&rt, &it) {
            (Ty::Dict(d), Ty::String | Ty::Null) => d.value(),
            (Ty::Array(t) | Ty::List(t), Ty::Int | Ty::Char) => (**t).clone(),
            (Ty::Map(k, v), _) if k.accepts(&it) => (**v).clone(),
            (Ty::Map(k, _), _) => return Err(mismatch(&**k, &it, index.span)),
            (Ty::String, Ty::Int | Ty::Char) => Ty::Char,
            (Ty::Bytes, Ty::Int | Ty::Char) => Ty::Int,
            (Ty::Obj(Obj::Groups), Ty::Int | Ty::String) => Ty::Obj(Obj::Group),
            (Ty::Json(JsonTy::Object | JsonTy::Token), Ty::String)
            | (Ty::Json(JsonTy::Array | JsonTy::Token), Ty::Int | Ty::Char) => {
                Ty::Json(JsonTy::Token)
            }
            (Ty::Dict(_), _)
            | (Ty::Array(_) | Ty::List(_) | Ty::String | Ty::Bytes | Ty::Obj(Obj::Groups), _) => {
                let expected = if matches!(rt, Ty::Dict(_)) {
                    "string"
                } else {
                    "int"
                };
                return Err(mismatch(expected, &it, index.span));
            }
            _ => {
                return Err((
                    K::BadOperand {
                        op: "[]",
                        ty: rt.to_string(),
                    },
                    span,
                ));
            }
        };
        Ok((
            Node::Index {
                recv: Box::new(rn),
                index: Box::new(inode),
                null_cond: null_cond || in_null_chain(target),
                span,
            },
            ty,
        ))
    }

    fn binary(
        &mut self,
        op: BinOp,
        (ln, lt): (Node, Ty),
        (rn, rt): (Node, Ty),
        span: Span,
    ) -> CResult<(Node, Ty)> {
        let bad = || {
            Err((
                K::BadOperands {
                    op: op.symbol(),
                    left: lt.to_string(),
                    right: rt.to_string(),
                },
                span,
            ))
        };
        match op {
            BinOp::And | BinOp::Or => {
                if lt != Ty::Bool || rt != Ty::Bool {
                    return bad();
                }
                let node = match (op, &ln) {
                    (BinOp::And, Node::Const(Value::Bool(false))) => ln,
                    (BinOp::And, Node::Const(Value::Bool(true))) => rn,
                    (BinOp::Or, Node::Const(Value::Bool(true))) => ln,
                    (BinOp::Or, Node::Const(Value::Bool(false))) => rn,
                    (BinOp::And, _) => Node::And(Box::new(ln), Box::new(rn)),
                    _ => Node::Or(Box::new(ln), Box::new(rn)),
                };
                Ok((node, Ty::Bool))
            }
            BinOp::Coalesce => {
                let ty = if lt == Ty::Null {
                    rt.clone()
                } else if lt.accepts(&rt) {
                    lt.clone()
                } else if rt.accepts(&lt) {
                    rt.clone()
                } else {
                    return bad();
                };
                if let Node::Const(v) = &ln {
                    return Ok((if v.is_null() { rn } else { ln }, ty));
                }
                Ok((Node::Coalesce(Box::new(ln), Box::new(rn)), ty))
            }
            // `ns + "local"`: an XName
            BinOp::Add if lt == Ty::Xml(XmlTy::Namespace) && matches!(rt, Ty::String) => {
                let node = Node::Static {
                    f: StaticFn::Xml(ir::XmlFn::Name),
                    args: vec![ln, rn],
                    regex: None,
                    span,
                };
                Ok((node, Ty::Xml(XmlTy::Name)))
            }
            BinOp::Add if lt == Ty::String || rt == Ty::String => {
                if matches!(lt, Ty::Static(_)) || matches!(rt, Ty::Static(_)) {
                    return bad();
                }
                let mut parts = match ln {
                    Node::Concat(p, _) => p,
                    other => vec![(other, None)],
                };
                parts.push((rn, None));
                let node = Node::Concat(parts, span);
                self.maybe_fold(node, span).map(|n| (n, Ty::String))
            }
            _ => {
                let ty = match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem
                        if lt.is_numeric() && rt.is_numeric() =>
                    {
                        numeric_result(&lt, &rt)
                    }
                    BinOp::BitAnd | BinOp::BitOr | BinOp::Xor => match (&lt, &rt) {
                        // on bool: both sides run (no short-circuit)
                        (Ty::Bool, Ty::Bool) => Ty::Bool,
                        _ if integral(&lt) && integral(&rt) => numeric_result(&lt, &rt),
                        _ => return bad(),
                    },
                    // the left operand's type; the count is an int
                    BinOp::Shl | BinOp::Shr
                        if integral(&lt) && matches!(rt, Ty::Int | Ty::Char) =>
                    {
                        numeric_result(&lt, &Ty::Int)
                    }
                    BinOp::Add => match (&lt, &rt) {
                        (Ty::DateTime | Ty::DateTimeOffset, Ty::TimeSpan) => lt.clone(),
                        (Ty::TimeSpan, Ty::TimeSpan) => Ty::TimeSpan,
                        _ => return bad(),
                    },
                    BinOp::Sub => match (&lt, &rt) {
                        (Ty::DateTime | Ty::DateTimeOffset, Ty::TimeSpan) => lt.clone(),
                        (Ty::DateTime, Ty::DateTime) | (Ty::TimeSpan, Ty::TimeSpan) => Ty::TimeSpan,
                        _ if dates_with_offset(&lt, &rt) => Ty::TimeSpan,
                        _ => return bad(),
                    },
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        let ok = (lt.is_numeric() && rt.is_numeric())
                            || (lt == rt && matches!(lt, Ty::DateTime | Ty::TimeSpan))
                            || dates_with_offset(&lt, &rt);
                        if !ok {
                            return bad();
                        }
                        Ty::Bool
                    }
                    BinOp::Eq | BinOp::Ne => {
                        // `e.Name == "a"`: the string converts to an XName
                        let name = |a: &Ty, b: &Ty| *a == Ty::Xml(XmlTy::Name) && *b == Ty::String;
                        let ok = lt == rt
                            || dates_with_offset(&lt, &rt)
                            || name(&lt, &rt)
                            || name(&rt, &lt)
                            || (lt.is_numeric() && rt.is_numeric())
                            || lt == Ty::Null
                            || rt == Ty::Null
                            || (lt == Ty::Object && !matches!(rt, Ty::Static(_)))
                            || (rt == Ty::Object && !matches!(lt, Ty::Static(_)));
                        if !ok {
                            return bad();
                        }
                        Ty::Bool
                    }
                    _ => return bad(),
                };
                let op = match op {
                    BinOp::Add if self.wrapping && integral(&ty) => BinOp::AddWrap,
                    BinOp::Sub if self.wrapping && integral(&ty) => BinOp::SubWrap,
                    BinOp::Mul if self.wrapping && integral(&ty) => BinOp::MulWrap,
                    other => other,
                };
                let node = Node::Binary {
                    op,
                    l: Box::new(ln),
                    r: Box::new(rn),
                    span,
                };
                self.maybe_fold(node, span).map(|n| (n, ty))
            }
        }
    }

    // ---------------------------------------------------------------- calls

    fn call(
        &mut self,
        target: &Expr,
        type_args: &[TypeRef],
        args: &[Arg],
        span: Span,
    ) -> CResult<(Node, Ty)> {
        if let ExprKind::Name(n) = &target.kind
            && let Some((_, Ty::Fn(id))) = self.lookup(n)
        {
            return self.call_fn(id, n, args, target.span, span);
        }
        let ExprKind::Member {
            target: recv_e,
            name,
            name_span,
            null_cond,
        } = &target.kind
        else {
            return Err(match &target.kind {
                ExprKind::Name(n) => (K::UnknownName(n.clone()), target.span),
                _ => (
                    K::Expected {
                        expected: "a method name before '('".into(),
                        found: "an expression".into(),
                    },
                    target.span,
                ),
            });
        };
        let (recv, rty) = self.expr(recv_e)?;
        if members::not_yet(&rty, name) {
            // Named before its arguments are looked at: they may be what it lacks.
            return Err(self.no_member(&rty, name, *name_span));
        }
        let call_span = name_span.to(span);
        let null_cond = *null_cond || in_null_chain(recv_e);
        match &rty {
            Ty::Static(Class::Json(_)) if !type_args.is_empty() => {
                return self
                    .json_generic_static(&rty, name, *name_span, type_args, args, call_span);
            }
            Ty::Static(c) => {
                if let Some(t) = type_args.first() {
                    return Err((
                        K::Unsupported(format!("type arguments on '{name}'")),
                        t.span,
                    ));
                }
                if name == "TryParse" {
                    return self.try_parse(*c, args, *name_span, call_span);
                }
                if *c == Class::Array {
                    return self.array_static(name, *name_span, args, call_span);
                }
                if let Class::Hash(a) = c
                    && name == "Create"
                    && args.is_empty()
                {
                    let v = Value::Object(Handle(HandleKind::Hash(*a)));
                    return Ok((Node::Const(v), Ty::Obj(Obj::Hash(*a))));
                }
                self.no_named(args)?;
                return self.static_call(*c, name, *name_span, args, call_span);
            }
            Ty::Namespace(ns) => {
                return Err((K::UnknownName(format!("{ns}.{name}")), *name_span));
            }
            Ty::Null => {
                return Err((
                    K::NotAMember {
                        member: name.clone(),
                        ty: "null".into(),
                        hint: String::new(),
                    },
                    *name_span,
                ));
            }
            _ => {}
        }
        if name == "GetValueOrDefault" && rty == Ty::Dict(DictTy::Variables) {
            return self.var_get(recv, type_args, args, null_cond, *name_span, call_span);
        }
        if let ("TryParseJwt" | "TryParseBasic", Ty::String) = (name.as_str(), &rty) {
            return self.try_parse_token(recv, name, args, null_cond, *name_span);
        }
        if name == "TryGetValue" && matches!(rty, Ty::Map(..)) {
            return self.try_get_value(recv, &rty, args, null_cond, *name_span);
        }
        // List<T>'s predicate methods are LINQ over the list; `FindAll` gives a List<T>
        if let (Ty::List(_), Some(linq)) = (&rty, collections::as_linq(name))
            && type_args.is_empty()
        {
            let call = collections::call_of(recv_e, linq, args.to_vec(), *name_span, call_span);
            return match name.as_str() {
                "FindAll" => self.expr(&collections::call_of(
                    &call,
                    "ToList",
                    Vec::new(),
                    *name_span,
                    call_span,
                )),
                _ => self.expr(&call),
            };
        }
        if linq::is_linq_op(name)
            && let Some(elem) = rty.element()
            && type_args.is_empty()
        {
            return self.linq_call((recv, &rty, elem), name, args, *name_span);
        }
        if name == "As" && rty == Ty::Obj(Obj::Body) {
            return self.body_as(recv, type_args, args, null_cond, *name_span, call_span);
        }
        if name == "AsFormUrlEncodedContent" && rty == Ty::Obj(Obj::Body) {
            if let Some(t) = type_args.first() {
                return Err((
                    K::Unsupported(format!("type arguments on '{name}'")),
                    t.span,
                ));
            }
            let form = Ty::Map(
                Box::new(Ty::String),
                Box::new(Ty::Array(Box::new(Ty::String))),
            );
            let read = (Method::BodyAsForm, form);
            return self.body_read(recv, read, args, null_cond, *name_span);
        }
        if name == "Value" && matches!(rty, Ty::Json(_)) {
            return self.json_value(recv, type_args, args, null_cond, *name_span);
        }
        if let Some(t) = type_args.first() {
            return Err((
                K::Unsupported(format!("type arguments on '{name}'")),
                t.span,
            ));
        }
        self.no_named(args)?;
        let candidates: Vec<_> = METHODS
            .iter()
            .filter(|(r, n, ..)| n == name && r.matches(&rty))
            .collect();
        if candidates.is_empty() {
            if members::property(&rty, name).is_some() {
                return Err((
                    K::Expected {
                        expected: format!("no '(' after the property '{name}'"),
                        found: "'('".into(),
                    },
                    *name_span,
                ));
            }
            return Err(self.no_member(&rty, name, *name_span));
        }
        let elem = rty.element();
        let (method, nodes, lambda, ret) = self.overload(
            &format!("{rty}.{name}"),
            candidates.iter().map(|(_, _, p, r, m)| (*p, *r, *m)),
            args,
            (elem.as_ref(), Some(&rty)),
            *name_span,
        )?;
        // Deployment.Certificates.Any(c => c.Value.Thumbprint == x): a hash lookup.
        if method == Method::AnyPred
            && rty == Ty::Dict(DictTy::Certificates)
            && let Some(l) = &lambda
            && let Some(node) = uploaded_lookup(l)
        {
            return Ok((node, Ty::Bool));
        }
        let Ret::Ty(ty) = ret;
        self.cipher_name(method, &nodes, *name_span)?;
        use Method as M;
        if matches!(method, M::Sum | M::SumSel) && !matches!(ty, Ty::Int | Ty::Long | Ty::Double) {
            return Err(mismatch(
                "a sequence of int, long or double",
                &ty,
                *name_span,
            ));
        }
        // the default value and the comparison of these depend on the element type
        let elem_ty = matches!(
            method,
            M::SingleOrDefault
                | M::SingleOrDefaultPred
                | M::FirstOrDefault
                | M::FirstOrDefaultPred
                | M::LastOrDefault
                | M::Sum
                | M::SumSel
                | M::Min
                | M::MinSel
                | M::Max
                | M::MaxSel
        )
        .then(|| ty.clone());
        Ok((
            Node::Method {
                recv: Box::new(recv),
                method,
                args: nodes,
                lambda: lambda.map(Box::new),
                ty: elem_ty,
                null_cond,
                span: *name_span,
            },
            ty,
        ))
    }

    /// `F(args)` of a local function: the arguments must fit its parameters.
    fn call_fn(
        &mut self,
        id: u16,
        name: &str,
        args: &[Arg],
        name_span: Span,
        span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let Some((params, ret)) = self.fn_sigs.get(usize::from(id)).cloned() else {
            return Err((K::UnknownName(name.to_owned()), name_span));
        };
        if params.len() != args.len() {
            let ps: Vec<String> = params.iter().map(Ty::to_string).collect();
            return Err((
                K::Arguments {
                    method: name.to_owned(),
                    expected: format!("({})", ps.join(", ")),
                },
                name_span,
            ));
        }
        let mut nodes = Vec::with_capacity(args.len());
        for (a, p) in args.iter().zip(&params) {
            let (n, t) = self.value(&a.value)?;
            if !p.accepts(&t) {
                return Err(mismatch(p, &t, a.value.span));
            }
            nodes.push(coerce(n, &t, p));
        }
        let node = Node::CallFn {
            id,
            args: nodes,
            span,
        };
        // a block body's `return 1;` in a long function: convert as C# does
        let node = if matches!(ret, Ty::Long | Ty::Double) {
            Node::Cast {
                to: ret.clone(),
                expr: Box::new(node),
                unbox: false,
                span,
            }
        } else {
            node
        };
        Ok((node, ret))
    }

    fn no_named(&self, args: &[Arg]) -> CResult<()> {
        match args.iter().find_map(|a| a.name.as_ref()) {
            Some((n, sp)) => Err((K::Unsupported(format!("the named argument '{n}'")), *sp)),
            None => Ok(()),
        }
    }

    /// Picks the overload whose parameters fit, compiles the arguments (and lambda).
    /// `elem` is the receiver's element type, `recv` the receiver's (for `R::Recv`).
    #[allow(clippy::type_complexity)]
    fn overload<I, T>(
        &mut self,
        what: &str,
        candidates: I,
        args: &[Arg],
        (elem, recv): (Option<&Ty>, Option<&Ty>),
        span: Span,
    ) -> CResult<(T, Vec<Node>, Option<Lambda>, Ret)>
    where
        I: Iterator<Item = (&'static [P], R, T)> + Clone,
        T: Copy,
    {
        let fits_arity = |ps: &[P]| {
            if matches!(ps.last(), Some(P::Rest | P::XmlContents)) {
                args.len() >= ps.len() - 1
            } else {
                args.len() == ps.len()
            }
        };
        let with_arity: Vec<_> = candidates.clone().filter(|(p, ..)| fits_arity(p)).collect();
        if with_arity.is_empty() {
            let sigs: Vec<String> = candidates
                .map(|(p, ..)| {
                    let ps: Vec<String> = p.iter().map(|p| p.describe_in(elem)).collect();
                    format!("({})", ps.join(", "))
                })
                .collect();
            return Err((
                K::Arguments {
                    method: what.to_owned(),
                    expected: sigs.join(" or "),
                },
                span,
            ));
        }
        // Compile plain arguments once.
        let mut plain: Vec<Option<(Node, Ty)>> = Vec::with_capacity(args.len());
        for a in args {
            if matches!(a.value.kind, ExprKind::Lambda { .. }) {
                plain.push(None);
            } else {
                plain.push(Some(self.value(&a.value)?));
            }
        }
        let mut first_err = None;
        'cand: for (params, ret, m) in with_arity {
            let mut nodes = Vec::with_capacity(args.len());
            let mut lambda = None;
            let mut lambda_ty = None;
            for (i, a) in args.iter().enumerate() {
                let p = params
                    .get(i)
                    .or_else(|| params.last().filter(|p| **p == P::XmlContents))
                    .copied()
                    .unwrap_or(P::Rest);
                match (&plain[i], p) {
                    (None, P::Pred | P::PredIdx | P::SelIdx | P::Sel) => {
                        let Some(elem) = elem else { continue 'cand };
                        let indexed = matches!(p, P::PredIdx | P::SelIdx);
                        let (l, t) = self.lambda(&a.value, elem, indexed)?;
                        if matches!(p, P::Pred | P::PredIdx) && t != Ty::Bool {
                            first_err.get_or_insert(mismatch(
                                "bool",
                                &t,
                                lambda_body_span(&a.value),
                            ));
                            continue 'cand;
                        }
                        lambda = Some(l);
                        lambda_ty = Some(t);
                    }
                    (None, _) => {
                        first_err.get_or_insert((K::MisplacedLambda, a.value.span));
                        continue 'cand;
                    }
                    (Some(_), P::Pred | P::PredIdx | P::SelIdx | P::Sel) => {
                        first_err.get_or_insert((
                            K::Expected {
                                expected: p.describe(),
                                found: "a value".into(),
                            },
                            a.value.span,
                        ));
                        continue 'cand;
                    }
                    (Some((n, t)), p) => {
                        if !param_accepts(p, t, elem) {
                            first_err.get_or_insert(mismatch(p.describe_in(elem), t, a.value.span));
                            continue 'cand;
                        }
                        // a name written as a string is an XName made once, at load
                        if p == P::XName
                            && let Node::Const(Value::String(s)) = n
                        {
                            nodes.push(xml::const_name(s, a.value.span)?);
                            continue;
                        }
                        nodes.push(n.clone());
                    }
                }
            }
            let arg_tys: Vec<&Ty> = plain.iter().flatten().map(|(_, t)| t).collect();
            let ty = match ret {
                R::Bool => Ty::Bool,
                R::Int => Ty::Int,
                R::Long => Ty::Long,
                R::Double => Ty::Double,
                R::Str => Ty::String,
                R::StrArr => Ty::Array(Box::new(Ty::String)),
                R::CharArr => Ty::Array(Box::new(Ty::Char)),
                R::Date => Ty::DateTime,
                R::DateOffset => Ty::DateTimeOffset,
                R::Recv => recv.cloned().unwrap_or(Ty::Object),
                R::Span => Ty::TimeSpan,
                R::Bytes => Ty::Bytes,
                R::Match => Ty::Obj(Obj::Match),
                R::Exception => Ty::Obj(Obj::Exception),
                R::Uri => Ty::Obj(Obj::Uri),
                R::Builder => Ty::Obj(Obj::StringBuilder),
                R::Random => Ty::Obj(Obj::Random),
                R::Guid => Ty::Obj(Obj::Guid),
                R::Jwt => Ty::Obj(Obj::Jwt),
                R::Basic => Ty::Obj(Obj::BasicAuth),
                R::Symmetric => Ty::Obj(Obj::Symmetric),
                R::Elem => elem.cloned().unwrap_or(Ty::Object),
                R::ArrElem => Ty::Array(Box::new(elem.cloned().unwrap_or(Ty::Object))),
                R::ListElem => Ty::List(Box::new(elem.cloned().unwrap_or(Ty::Object))),
                R::ArrSel => Ty::Array(Box::new(lambda_ty.clone().unwrap_or(Ty::Object))),
                R::Sel => lambda_ty.clone().unwrap_or(Ty::Object),
                R::NumArg => arg_tys
                    .iter()
                    .fold(Ty::Int, |acc, t| numeric_result(&acc, t)),
                R::Json(t) => Ty::Json(t),
                R::JsonProperties => Ty::Array(Box::new(Ty::Json(JsonTy::Property))),
                R::Xml(t) => Ty::Xml(t),
                R::XmlSeq(t) => Ty::Array(Box::new(Ty::Xml(t))),
                R::Void => Ty::Null,
            };
            return Ok((m, nodes, lambda, Ret::Ty(ty)));
        }
        Err(first_err.unwrap_or((
            K::Arguments {
                method: what.to_owned(),
                expected: "other arguments".into(),
            },
            span,
        )))
    }

    fn lambda(&mut self, e: &Expr, elem: &Ty, indexed: bool) -> CResult<(Lambda, Ty)> {
        let ExprKind::Lambda { params, body } = &e.kind else {
            return Err((K::MisplacedLambda, e.span));
        };
        let max = if indexed { 2 } else { 1 };
        if params.is_empty() || params.len() > max {
            let expected = if indexed {
                "a lambda with one parameter (x => ...) or two (x, i) => ..."
            } else {
                "a lambda with one parameter (x => ...)"
            };
            return Err((
                K::Expected {
                    expected: expected.into(),
                    found: format!("{} parameters", params.len()),
                },
                e.span,
            ));
        }
        self.lambda_in(params, body, &[elem.clone(), Ty::Int])
    }

    /// A lambda of exactly these parameter types (`Aggregate`'s `(acc, x) => ...`).
    fn lambda_exact(&mut self, e: &Expr, tys: &[Ty]) -> CResult<(Lambda, Ty)> {
        let ExprKind::Lambda { params, body } = &e.kind else {
            return Err((K::MisplacedLambda, e.span));
        };
        if params.len() != tys.len() {
            return Err((
                K::Expected {
                    expected: format!("a lambda with {} parameters", tys.len()),
                    found: format!("{} parameters", params.len()),
                },
                e.span,
            ));
        }
        self.lambda_in(params, body, tys)
    }

    /// The lambda's parameters, of types `tys`, in a scope of their own, and its body.
    fn lambda_in(
        &mut self,
        params: &[(String, Span)],
        body: &Expr,
        tys: &[Ty],
    ) -> CResult<(Lambda, Ty)> {
        self.scopes.push(Vec::new());
        let r = (|| {
            let mut slots = Vec::new();
            for ((name, sp), ty) in params.iter().zip(tys) {
                slots.push(self.declare(name, ty.clone(), *sp)?);
            }
            let (node, ty) = self.value(body)?;
            Ok((
                Lambda {
                    params: slots,
                    body: node,
                },
                ty,
            ))
        })();
        self.scopes.pop();
        r
    }

    fn static_call(
        &mut self,
        c: Class,
        name: &str,
        name_span: Span,
        args: &[Arg],
        span: Span,
    ) -> CResult<(Node, Ty)> {
        self.static_call_in(STATICS, c, name, name_span, args, span)
    }

    /// A call of `c.name` with the overloads of `table` (statics or constructors).
    fn static_call_in(
        &mut self,
        table: &[StaticEntry],
        c: Class,
        name: &str,
        name_span: Span,
        args: &[Arg],
        span: Span,
    ) -> CResult<(Node, Ty)> {
        let what = if name == "new" {
            format!("new {}", Ty::Static(c))
        } else {
            format!("{}.{name}", Ty::Static(c))
        };
        let candidates: Vec<_> = table
            .iter()
            .filter(|(cl, n, ..)| *cl == c && *n == name)
            .collect();
        if candidates.is_empty() {
            return Err(self.no_member(&Ty::Static(c), name, name_span));
        }
        let (f, nodes, _, Ret::Ty(ty)) = self.overload(
            &what,
            candidates.iter().map(|(_, _, p, r, f)| (*p, *r, *f)),
            args,
            (None, None),
            name_span,
        )?;
        let mut regex = None;
        if matches!(
            f,
            StaticFn::RegexIsMatch | StaticFn::RegexMatch | StaticFn::RegexReplace
        ) && let Some(Node::Const(Value::String(pattern))) = nodes.get(1)
        {
            let opts = match nodes.get(if f == StaticFn::RegexReplace { 3 } else { 2 }) {
                None => Some(0),
                Some(Node::Const(Value::Enum(e))) => Some(e.value),
                Some(_) => None,
            };
            if let Some(opts) = opts {
                let re = super::builtins::regex::build(pattern, opts, self.regex_size_limit)
                    .map_err(|m| (K::InvalidRegex(m), args[1].value.span))?;
                regex = Some(Arc::new(re));
            }
        }
        Ok((
            Node::Static {
                f,
                args: nodes,
                regex,
                span,
            },
            ty,
        ))
    }

    fn var_get(
        &mut self,
        recv: Node,
        type_args: &[TypeRef],
        args: &[Arg],
        null_cond: bool,
        name_span: Span,
        _span: Span,
    ) -> CResult<(Node, Ty)> {
        self.no_named(args)?;
        let mut ty = match type_args {
            [] => Ty::Object,
            [t] => self.type_ref(t)?,
            [_, t, ..] => {
                return Err((
                    K::Arguments {
                        method: "GetValueOrDefault".into(),
                        expected: "one type argument".into(),
                    },
                    t.span,
                ));
            }
        };
        if args.is_empty() || args.len() > 2 {
            return Err((
                K::Arguments {
                    method: "Variables.GetValueOrDefault<T>".into(),
                    expected: "(string name) or (string name, T defaultValue)".into(),
                },
                name_span,
            ));
        }
        let (name, nt) = self.value(&args[0].value)?;
        if !matches!(nt, Ty::String | Ty::Null) {
            return Err(mismatch("string", &nt, args[0].value.span));
        }
        let mut nodes = vec![name];
        if let Some(d) = args.get(1) {
            let (dn, dt) = self.value(&d.value)?;
            // C# infers T from the default value: GetValueOrDefault("n", "") is a string
            if type_args.is_empty() && dt != Ty::Null {
                ty = dt.clone();
            }
            if !ty.accepts(&dt) {
                return Err(mismatch(&ty, &dt, d.value.span));
            }
            nodes.push(coerce(dn, &dt, &ty));
        }
        Ok((
            Node::Method {
                recv: Box::new(recv),
                method: Method::VarGetValueOrDefault,
                args: nodes,
                lambda: None,
                ty: Some(ty.clone()),
                null_cond,
                span: name_span,
            },
            ty,
        ))
    }

    fn body_as(
        &mut self,
        recv: Node,
        type_args: &[TypeRef],
        args: &[Arg],
        null_cond: bool,
        name_span: Span,
        _span: Span,
    ) -> CResult<(Node, Ty)> {
        let [t] = type_args else {
            return Err((
                K::Arguments {
                    method: "Body.As<T>".into(),
                    expected:
                        "one type argument: As<string>, As<byte[]>, As<JObject> or As<XDocument>"
                            .into(),
                },
                name_span,
            ));
        };
        let (method, ty) = match t.name.as_str() {
            "string" | "String" => (Method::BodyAsString, Ty::String),
            "byte[]" => (Method::BodyAsBytes, Ty::Bytes),
            name if let Some(Ty::Json(k @ (JsonTy::Object | JsonTy::Array | JsonTy::Token))) =
                Ty::from_name(name) =>
            {
                (Method::Json(ir::JsonMethod::BodyAs(k)), Ty::Json(k))
            }
            name if let Some(Ty::Xml(k @ (XmlTy::Document | XmlTy::Element))) =
                Ty::from_name(name) =>
            {
                (Method::Xml(ir::XmlMethod::BodyAs(k)), Ty::Xml(k))
            }
            other @ ("XNode" | "System.Xml.Linq.XNode") => {
                return Err((
                    K::NotImplemented(format!(
                        "Body.As<{other}> (use As<XDocument> or As<XElement>)"
                    )),
                    t.span,
                ));
            }
            other => {
                return Err((
                    K::Unsupported(format!(
                        "Body.As<{other}> (use As<string>, As<byte[]>, As<JObject>, As<JArray>, As<JToken>, As<XDocument> or As<XElement>)"
                    )),
                    t.span,
                ));
            }
        };
        self.body_read(recv, (method, ty), args, null_cond, name_span)
    }

    /// A read of the body by `method` (`As<T>`, `AsFormUrlEncodedContent`), with its
    /// `preserveContent` argument.
    fn body_read(
        &mut self,
        recv: Node,
        (method, ty): (Method, Ty),
        args: &[Arg],
        null_cond: bool,
        name_span: Span,
    ) -> CResult<(Node, Ty)> {
        if args.len() > 1 {
            let what = match method {
                Method::BodyAsForm => "Body.AsFormUrlEncodedContent",
                _ => "Body.As<T>",
            };
            return Err((
                K::Arguments {
                    method: what.into(),
                    expected: "(preserveContent: bool) or no argument".into(),
                },
                name_span,
            ));
        }
        let mut nodes = Vec::new();
        if let Some(a) = args.first() {
            if let Some((n, sp)) = &a.name
                && n != "preserveContent"
            {
                return Err((K::Unsupported(format!("the named argument '{n}'")), *sp));
            }
            let (n, nt) = self.value(&a.value)?;
            if nt != Ty::Bool {
                return Err(mismatch("bool", &nt, a.value.span));
            }
            nodes.push(n);
        }
        Ok((
            Node::Method {
                recv: Box::new(recv),
                method,
                args: nodes,
                lambda: None,
                ty: None,
                null_cond,
                span: name_span,
            },
            ty,
        ))
    }
}

/// A DateTimeOffset with a DateTimeOffset or a DateTime, which C# converts to one: `-`
/// and the comparisons apply to the instants.
fn dates_with_offset(a: &Ty, b: &Ty) -> bool {
    matches!(
        (a, b),
        (Ty::DateTimeOffset, Ty::DateTimeOffset | Ty::DateTime)
            | (Ty::DateTime, Ty::DateTimeOffset)
    )
}

/// Whether `e` is an access chain with a `?.` or `?[` in it: C# skips the rest of the
/// chain when that receiver is null (`a?.B.C` is null when `a` is).
fn in_null_chain(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Member {
            target, null_cond, ..
        }
        | ExprKind::Index {
            target, null_cond, ..
        } => *null_cond || in_null_chain(target),
        ExprKind::Call { target, .. } => in_null_chain(target),
        _ => false,
    }
}

enum Ret {
    Ty(Ty),
}

/// A type name that is not known: a qualified one outside APIM's allowed types is refused
/// as such, an allowed one is not implemented yet, anything else is unknown.
fn unknown_type(name: &str, span: Span) -> (K, Span) {
    let short = members::short_type_name(name);
    let base = short.split(['<', '[', '?']).next().unwrap_or(short);
    // C#'s keywords for the allowed numeric types certgate has no type of yet
    let base = match base {
        "short" => "Int16",
        "ushort" => "UInt16",
        "sbyte" => "SByte",
        "uint" => "UInt32",
        "ulong" => "UInt64",
        "float" => "Single",
        "decimal" => "Decimal",
        other => other,
    };
    if members::apim_allows(base) {
        (K::NotImplemented(format!("the type '{name}'")), span)
    } else if name.contains('.') || members::apim_refuses(base) {
        (K::TypeNotAllowed(name.to_owned()), span)
    } else {
        (K::UnknownType(name.to_owned()), span)
    }
}

fn t_span(t: Option<&TypeRef>, fallback: Span) -> Span {
    t.map_or(fallback, |t| t.span)
}

fn lambda_body_span(e: &Expr) -> Span {
    match &e.kind {
        ExprKind::Lambda { body, .. } => body.span,
        _ => e.span,
    }
}

fn param_accepts(p: P, t: &Ty, elem: Option<&Ty>) -> bool {
    match p {
        P::Str => matches!(t, Ty::String | Ty::Null),
        P::Char => *t == Ty::Char,
        P::StrOrChar => matches!(t, Ty::String | Ty::Char | Ty::Null),
        P::Int => matches!(t, Ty::Int | Ty::Char),
        P::Long => matches!(t, Ty::Int | Ty::Long | Ty::Char),
        P::Num => t.is_numeric(),
        P::Bool => *t == Ty::Bool,
        P::Enum(e) => *t == Ty::Enum(e),
        P::Bytes => matches!(t, Ty::Bytes | Ty::Null),
        P::Obj | P::Rest => true,
        P::Elem => elem.is_some_and(|e| e.accepts(t) || (e.is_numeric() && t.is_numeric())),
        P::Items => t
            .element()
            .is_some_and(|x| elem.is_some_and(|e| e.accepts(&x))),
        P::Key | P::Val => match elem {
            Some(Ty::Pair(k, v)) => if p == P::Key { k } else { v }.accepts(t),
            _ => false,
        },
        P::Span => *t == Ty::TimeSpan,
        P::Date => *t == Ty::DateTime,
        P::DateOffset => matches!(t, Ty::DateTime | Ty::DateTimeOffset),
        P::Pred | P::PredIdx | P::SelIdx | P::Sel => false,
        P::JsonArg => json::converts_to_token(t),
        P::Symmetric => matches!(t, Ty::Obj(Obj::Symmetric) | Ty::Null),
        P::XmlContents => xml::is_content(t),
        P::XName => matches!(t, Ty::String | Ty::Null | Ty::Xml(XmlTy::Name)),
        P::Xml(k) => matches!(t, Ty::Null) || *t == Ty::Xml(k),
    }
}

/// Inserts the implicit numeric conversion C# does on assignment (int -> long/double).
fn coerce(node: Node, from: &Ty, to: &Ty) -> Node {
    if from != to && from.is_numeric() && matches!(to, Ty::Long | Ty::Double | Ty::Int) {
        if let Node::Const(v) = &node
            && let Ok(v) = eval::convert_numeric(v, to)
        {
            return Node::Const(v);
        }
        return Node::Cast {
            to: to.clone(),
            expr: Box::new(node),
            unbox: false,
            span: Span::default(),
        };
    }
    node
}

/// `c => c.Value.Thumbprint == X` (either order; Subject, SerialNumber too) with X not
/// depending on `c`.
fn uploaded_lookup(l: &Lambda) -> Option<Node> {
    let [slot] = l.params[..] else { return None };
    let Node::Binary {
        op: BinOp::Eq,
        l: a,
        r: b,
        ..
    } = &l.body
    else {
        return None;
    };
    let field_of = |n: &Node| -> Option<CertField> {
        let Node::Prop {
            recv,
            prop,
            null_cond: false,
            ..
        } = n
        else {
            return None;
        };
        let field = match prop {
            Prop::CertThumbprint => CertField::Thumbprint,
            Prop::CertSubject => CertField::Subject,
            Prop::CertSerialNumber => CertField::SerialNumber,
            _ => return None,
        };
        match &**recv {
            Node::Prop {
                recv,
                prop: Prop::PairValue,
                ..
            } if matches!(**recv, Node::Local(s) if s == slot) => Some(field),
            _ => None,
        }
    };
    let (field, other) = match (field_of(a), field_of(b)) {
        (Some(f), _) => (f, b),
        (None, Some(f)) => (f, a),
        _ => return None,
    };
    if other.uses_slot(slot) {
        return None;
    }
    Some(Node::UploadedContains {
        field,
        value: other.clone(),
    })
}
