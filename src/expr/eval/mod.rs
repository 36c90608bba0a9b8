//! The evaluator: walks the compiled tree over a [`Context`], counting steps.
//!
//! A step is one node visited, one loop iteration, one lambda call or one element
//! visited or built, and also [`BYTES_PER_STEP`] bytes copied, scanned or compared by an
//! operator or builtin. Every operation charges its work before doing it (or, when only
//! the result tells, right after: one such operation is bounded by the size limits), so
//! `Limits::max_steps` bounds the CPU time of one evaluation whatever the request: the
//! default million steps took at most 26 ms on the 2-core VM in the worst loops we could
//! write (Split and Join of tiny parts), and `s += c` over a large body stops after
//! copying about 16 MB in all. Regular expressions count what their DFAs read and build
//! (see `builtins::regex`). [`RequestSteps`](super::steps::RequestSteps) bounds the sum over one request.

mod collections;
mod json;
mod linq;
mod methods;
mod props;
mod tokens;
mod xml;

use std::sync::Arc;

use super::Limits;
use super::ast::BinOp;
use super::builtins::ops;
use super::context::Context;
use super::diagnostic::{EvalError, EvalErrorKind as E, Source};
use super::ir::ProgramBody;
use super::ir::{CertField, FnBody, Function, Lambda, Method, Node, Prop, Stmt};
use super::span::Span;
use super::stack::deep;
use super::value::{DictRef, Handle, HandleKind, Value};
use crate::cert::Certificate;
use crate::trust::Revocation;

pub(crate) type R<T> = Result<T, (E, Span)>;

/// A compiled expression or block with its source.
#[derive(Debug)]
pub struct Program {
    pub(crate) source: Arc<Source>,
    pub(crate) body: ProgramBody,
    pub(crate) n_slots: usize,
    pub(crate) ty: super::types::Ty,
    pub(crate) reads: super::BodyReads,
    pub(crate) limits: Limits,
}

impl Program {
    /// Evaluates against one request's context.
    pub fn eval(&self, ctx: &Context) -> Result<Value, EvalError> {
        let functions = match &self.body {
            ProgramBody::Block(_, f) => &f[..],
            ProgramBody::Expr(_) => &[],
        };
        let mut ev = Eval {
            ctx,
            src: &self.source.text,
            locals: vec![Value::Null; self.n_slots],
            steps: 0,
            max_steps: self.limits.max_steps.min(ctx.steps.remaining()),
            limits: &self.limits,
            functions,
            depth: 0,
        };
        let r = match &self.body {
            ProgramBody::Expr(n) => ev.node(n),
            ProgramBody::Block(stmts, _) => match ev.block(stmts) {
                Ok(Flow::Return(v)) => Ok(v),
                Ok(_) => Err((
                    E::Internal("block ended without return".into()),
                    Span::default(),
                )),
                Err(e) => Err(e),
            },
        };
        let r = r.and_then(|v| ev.materialize(v, Span::default()));
        ctx.steps.add(ev.steps);
        r.map_err(|(kind, span)| EvalError {
            kind,
            span,
            source: self.source.clone(),
        })
    }

    /// The source text and origin.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The .NET name of the static result type (`bool`, `string`, `object`, ...).
    pub fn result_type(&self) -> String {
        self.ty.to_string()
    }

    pub fn may_be_bool(&self) -> bool {
        matches!(self.ty, super::types::Ty::Bool | super::types::Ty::Object)
    }
}

/// Evaluates a constant node at load (folding). `ctx` is an empty context.
pub(crate) fn eval_const(node: &Node, ctx: &Context) -> Result<Value, E> {
    let limits = Limits::default();
    let mut ev = Eval {
        ctx,
        src: "",
        locals: Vec::new(),
        steps: 0,
        max_steps: limits.max_steps,
        limits: &limits,
        functions: &[],
        depth: 0,
    };
    ev.node(node).map_err(|(k, _)| k)
}

/// Implicit numeric conversion at load (int constant assigned to a long, ...).
pub(crate) fn convert_numeric(v: &Value, to: &super::types::Ty) -> Result<Value, E> {
    ops::convert_numeric(v, to)
}

/// How a statement ended.
enum Flow {
    Next,
    Return(Value),
    Break,
    Continue,
}

/// Whether a `catch` may handle the error: everything C# code could catch, except running
/// out of steps (a catch must not let an expression run past its budget), a body that was
/// streamed (a policy must not decide on a body it cannot see) and internal errors.
fn catchable(e: &E) -> bool {
    !matches!(e, E::StepLimit(_) | E::StreamedBody | E::Internal(_))
}

/// The message `e.Message` gives in a catch.
fn exception_message(e: &E) -> Arc<str> {
    match e {
        E::Thrown(m) => Arc::from(m.as_str()),
        other => Arc::from(other.to_string()),
    }
}

pub(crate) struct Eval<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) src: &'a str,
    pub(crate) locals: Vec<Value>,
    pub(crate) steps: u64,
    /// `limits.max_steps`, or less when the request's budget has less left.
    max_steps: u64,
    pub(crate) limits: &'a Limits,
    /// The program's local functions.
    pub(crate) functions: &'a [Function],
    /// How deep `node` and `stmt` recurse now: without local functions the parser's
    /// `max_depth` bounds it; a call is refused beyond half of that, so recursion
    /// uses at most about one and a half times the stack of the deepest program.
    pub(crate) depth: u32,
}

fn h(k: HandleKind) -> Value {
    Value::Object(Handle(k))
}

/// Bytes of copying, scanning or comparing that count as one step. Measured on the 2-core
/// VM, a node visit costs 10–20 ns and the byte work of the builtins 0.1–3 ns a byte
/// (`Replace`, with its allocation, is the slowest), so 16 bytes are worth about one visit
/// at worst: a million steps of either kind, or both, take 3–26 ms.
pub(crate) const BYTES_PER_STEP: usize = 16;

/// What case mapping (ToUpper, ToLower, ignore-case comparisons) costs a byte, relative
/// to a copy: it decodes and maps every character (8 ns a byte measured on non-ASCII
/// text, where a copy costs under 2).
pub(crate) const CASE_MAPPING_COST: usize = 4;

/// Steps for each element a builtin builds (Split's parts, ToCharArray's chars): an
/// allocation or a 32-byte value each, then dropping it (measured: 50–150 ns an element).
pub(crate) const ELEMENT_COST: usize = 2;

/// The bytes a value built from the context holds (strings, byte arrays, and the arrays
/// and pairs of them): what building it copied.
pub(crate) fn built_len(v: &Value) -> usize {
    built_len_at(v, 0)
}

/// The context builds pairs of arrays of strings at most; deeper values were built by
/// the expression (a list may even hold itself) and count nothing here.
fn built_len_at(v: &Value, depth: usize) -> usize {
    match v {
        _ if depth > 2 => 0,
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Array(a) => a
            .to_vec()
            .iter()
            .map(|v| built_len_at(v, depth + 1))
            .fold(a.len(), usize::saturating_add),
        Value::Pair(p) => {
            built_len_at(&p.0, depth + 1).saturating_add(built_len_at(&p.1, depth + 1))
        }
        _ => 0,
    }
}

impl<'a> Eval<'a> {
    /// Counts `steps` against the limit.
    pub(crate) fn charge(&mut self, steps: usize, span: Span) -> R<()> {
        self.steps = self
            .steps
            .saturating_add(u64::try_from(steps).unwrap_or(u64::MAX));
        if self.steps > self.max_steps {
            let error = if self.max_steps < self.limits.max_steps {
                E::RequestStepLimit(self.ctx.steps.limit())
            } else {
                E::StepLimit(self.limits.max_steps)
            };
            return Err((error, span));
        }
        Ok(())
    }

    pub(crate) fn step(&mut self, span: Span) -> R<()> {
        self.charge(1, span)
    }

    /// Counts `bytes` copied, scanned or compared.
    pub(crate) fn charge_bytes(&mut self, bytes: usize, span: Span) -> R<()> {
        self.charge(bytes / BYTES_PER_STEP, span)
    }

    /// Counts building `n` elements of a new collection from `bytes` of text.
    pub(crate) fn build_elements(&mut self, n: usize, bytes: usize, span: Span) -> R<()> {
        self.charge(n.saturating_mul(ELEMENT_COST), span)?;
        self.charge_bytes(bytes, span)
    }

    /// The receiver of `.x`, `.M()` or `[i]`: `None` when it is null and `?.` / `?[`
    /// short-circuits; null without them throws, naming what was read.
    fn receiver(
        &mut self,
        recv: &Node,
        null_cond: bool,
        span: Span,
        read: impl FnOnce(&Self) -> String,
    ) -> R<Option<Value>> {
        let v = self.node(recv)?;
        if !v.is_null() {
            Ok(Some(v))
        } else if null_cond {
            Ok(None)
        } else {
            Err((E::NullReference(read(self)), span))
        }
    }

    pub(crate) fn text(&self, span: Span) -> String {
        self.src
            .get(span.start as usize..span.end as usize)
            .unwrap_or("member")
            .to_owned()
    }

    pub(crate) fn check_len(&self, len: usize, what: &'static str, span: Span) -> R<()> {
        if len > self.limits.max_string_len {
            return Err((
                E::SizeLimit {
                    what,
                    limit: self.limits.max_string_len,
                },
                span,
            ));
        }
        Ok(())
    }

    pub(crate) fn check_count(&self, len: usize, span: Span) -> R<()> {
        if len > self.limits.max_collection_len {
            return Err((
                E::SizeLimit {
                    what: "the collection",
                    limit: self.limits.max_collection_len,
                },
                span,
            ));
        }
        Ok(())
    }

    fn block(&mut self, stmts: &[Stmt]) -> R<Flow> {
        for s in stmts {
            match self.stmt(s)? {
                Flow::Next => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Next)
    }

    fn stmt(&mut self, s: &Stmt) -> R<Flow> {
        deep(|| self.stmt_at(s))
    }

    fn stmt_at(&mut self, s: &Stmt) -> R<Flow> {
        self.depth += 1;
        let r = self.stmt_inner(s);
        self.depth -= 1;
        r
    }

    fn stmt_inner(&mut self, s: &Stmt) -> R<Flow> {
        match s {
            Stmt::Set(slot, n) => {
                let v = self.node(n)?;
                self.locals[*slot as usize] = v;
                Ok(Flow::Next)
            }
            Stmt::If(c, t, e) => {
                if self.truth(c)? {
                    self.stmt(t)
                } else if let Some(e) = e {
                    self.stmt(e)
                } else {
                    Ok(Flow::Next)
                }
            }
            Stmt::Return(n) => self.node(n).map(Flow::Return),
            Stmt::Foreach {
                slot,
                iter,
                body,
                span,
            } => {
                let seq = self.node(iter)?;
                if seq.is_null() {
                    return Err((E::NullReference(self.text(*span)), *span));
                }
                let mut result = Flow::Next;
                self.iterate(&seq, *span, &mut |ev, item| {
                    ev.locals[*slot as usize] = item;
                    match ev.stmt(body)? {
                        Flow::Next | Flow::Continue => Ok(true),
                        Flow::Break => Ok(false),
                        ret @ Flow::Return(_) => {
                            result = ret;
                            Ok(false)
                        }
                    }
                })?;
                Ok(result)
            }
            Stmt::Block(b) => {
                // a block has no node of its own: `{}` repeated must cost too
                self.step(Span::default())?;
                self.block(b)
            }
            Stmt::Expr(n) => {
                self.node(n)?;
                Ok(Flow::Next)
            }
            Stmt::Loop {
                cond,
                body,
                step,
                span,
                test_after,
            } => {
                let mut first = true;
                loop {
                    // an iteration costs a step even when its parts are empty: `for (;;) {}`
                    self.step(*span)?;
                    let skip_test = *test_after && first;
                    first = false;
                    if !skip_test
                        && let Some(c) = cond
                        && !self.truth(c)?
                    {
                        return Ok(Flow::Next);
                    }
                    match self.stmt(body)? {
                        Flow::Next | Flow::Continue => {}
                        Flow::Break => return Ok(Flow::Next),
                        ret @ Flow::Return(_) => return Ok(ret),
                    }
                    for s in step {
                        self.stmt(s)?;
                    }
                }
            }
            Stmt::Break => Ok(Flow::Break),
            Stmt::Continue => Ok(Flow::Continue),
            Stmt::Throw(n, span) => {
                let message = match self.node(n)? {
                    Value::Object(Handle(HandleKind::Exception(m))) => m.to_string(),
                    Value::Null => return Err((E::NullReference("throw".into()), *span)),
                    other => {
                        return Err((
                            E::Internal(format!("throwing a {}", other.type_name())),
                            *span,
                        ));
                    }
                };
                Err((E::Thrown(message), *span))
            }
            Stmt::Try {
                body,
                catch,
                finally,
            } => {
                let mut r = self.block(body);
                if let (Err((e, _)), Some((slot, handler))) = (&r, catch)
                    && catchable(e)
                {
                    self.locals[*slot as usize] = h(HandleKind::Exception(exception_message(e)));
                    r = self.block(handler);
                }
                if let Some(f) = finally {
                    // the checker keeps return, break and continue out of a finally
                    self.block(f)?;
                }
                r
            }
            Stmt::Switch {
                value,
                sections,
                default,
                span,
            } => {
                let v = self.node(value)?;
                let mut chosen = *default;
                'find: for (i, (labels, _)) in sections.iter().enumerate() {
                    for l in labels {
                        self.step(*span)?;
                        self.charge_bytes(ops::eq_work(&v, l), *span)?;
                        if ops::equals(&v, l) {
                            chosen = Some(i);
                            break 'find;
                        }
                    }
                }
                let Some((_, body)) = chosen.and_then(|i| sections.get(i)) else {
                    return Ok(Flow::Next);
                };
                match self.block(body)? {
                    Flow::Break => Ok(Flow::Next),
                    other => Ok(other),
                }
            }
            Stmt::SetProp {
                recv,
                prop,
                value,
                span,
            } => {
                let r = self.node(recv)?;
                let v = self.node(value)?;
                self.set_prop(r, *prop, v, *span)?;
                Ok(Flow::Next)
            }
            Stmt::SetIndex {
                recv,
                index,
                value,
                span,
            } => {
                let r = self.node(recv)?;
                let i = self.node(index)?;
                let v = self.node(value)?;
                match r {
                    Value::Array(_) | Value::Map(_) => self.collection_set(&r, i, v, *span)?,
                    _ => self.json_set_index(r, i, v, *span)?,
                }
                Ok(Flow::Next)
            }
        }
    }

    fn truth(&mut self, n: &Node) -> R<bool> {
        match self.node(n)? {
            Value::Bool(b) => Ok(b),
            Value::Null => Err((E::NullReference("condition".into()), span_of(n))),
            other => Err((
                E::Internal(format!("condition of type {}", other.type_name())),
                span_of(n),
            )),
        }
    }

    pub(crate) fn call_lambda(&mut self, l: &Lambda, arg: Value, span: Span) -> R<Value> {
        self.call_lambda_at(l, arg, 0, span)
    }

    /// Calls a lambda; a second parameter receives the element's index.
    pub(crate) fn call_lambda_at(
        &mut self,
        l: &Lambda,
        arg: Value,
        index: usize,
        span: Span,
    ) -> R<Value> {
        self.step(span)?;
        if let Some(slot) = l.params.first() {
            self.locals[*slot as usize] = arg;
        }
        if let Some(slot) = l.params.get(1) {
            self.locals[*slot as usize] = Value::Int(i32::try_from(index).unwrap_or(i32::MAX));
        }
        self.node(&l.body)
    }

    pub(crate) fn node(&mut self, n: &Node) -> R<Value> {
        self.depth += 1;
        let r = deep(|| self.node_inner(n));
        self.depth -= 1;
        r
    }

    fn node_inner(&mut self, n: &Node) -> R<Value> {
        // the span is only looked for when the limit is reached
        if let Err((kind, _)) = self.step(Span::default()) {
            return Err((kind, span_of(n)));
        }
        match n {
            Node::Const(v) => Ok(v.clone()),
            Node::Local(s) => Ok(self.locals[*s as usize].clone()),
            Node::Context => Ok(h(HandleKind::Context)),
            Node::Prop {
                recv,
                prop,
                null_cond,
                span,
            } => {
                let Some(v) = self.receiver(recv, *null_cond, *span, |ev| ev.text(*span))? else {
                    return Ok(Value::Null);
                };
                self.prop(v, *prop, *span)
            }
            Node::Method {
                recv,
                method,
                args,
                lambda,
                ty,
                null_cond,
                span,
            } => {
                // context.Request.Certificate.Verify(): read in place
                if matches!(method, Method::CertVerify | Method::CertVerifyNoRevocation)
                    && let Some(cert) = self.request_cert(recv)
                {
                    let Some(c) = cert else {
                        if *null_cond {
                            return Ok(Value::Null);
                        }
                        return Err((E::NullReference(self.text(*span)), *span));
                    };
                    return Ok(Value::Bool(self.verify(c, *method == Method::CertVerify)));
                }
                // APIM's string extensions are static methods: a null string is not
                // parsed (null, or false from TryParse*), it does not throw
                if let Method::StrAsJwt
                | Method::StrTryParseJwt
                | Method::StrAsBasic
                | Method::StrTryParseBasic = method
                {
                    return match self.node(recv)? {
                        Value::Null if matches!(method, Method::StrAsJwt | Method::StrAsBasic) => {
                            Ok(Value::Null)
                        }
                        Value::Null => Ok(pair(Value::Bool(false), Value::Null)),
                        v => self.method(v, *method, Vec::new(), None, None, *span),
                    };
                }
                let Some(v) = self.receiver(recv, *null_cond, *span, |ev| ev.text(*span))? else {
                    return Ok(Value::Null);
                };
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.node(a)?);
                }
                self.method(v, *method, vals, lambda.as_deref(), ty.as_ref(), *span)
            }
            Node::Static {
                f,
                args,
                regex,
                span,
            } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.node(a)?);
                }
                self.static_fn(*f, vals, regex.as_deref(), *span)
            }
            Node::Index {
                recv,
                index,
                null_cond,
                span,
            } => {
                let Some(v) = self.receiver(recv, *null_cond, *span, |_| "[]".into())? else {
                    return Ok(Value::Null);
                };
                let i = self.node(index)?;
                self.index(v, i, *span)
            }
            Node::Unary { op, expr, span } => {
                let v = self.node(expr)?;
                ops::unary(*op, v).map_err(|e| (e, *span))
            }
            Node::Binary { op, l, r, span } => {
                if matches!(op, BinOp::Eq | BinOp::Ne) {
                    // context.Request.Certificate == null
                    let cert = match (&**l, &**r) {
                        (Node::Const(Value::Null), n) | (n, Node::Const(Value::Null)) => {
                            self.request_cert(n)
                        }
                        _ => None,
                    };
                    if let Some(cert) = cert {
                        return Ok(Value::Bool(cert.is_none() == (*op == BinOp::Eq)));
                    }
                    if let Some(eq) = self.const_str_eq(l, r) {
                        return eq.map(|b| Value::Bool(b == (*op == BinOp::Eq)));
                    }
                }
                let a = self.node(l)?;
                let b = self.node(r)?;
                if matches!(op, BinOp::Eq | BinOp::Ne) {
                    self.charge_bytes(ops::eq_work(&a, &b), *span)?;
                }
                ops::binary(*op, a, b).map_err(|e| (e, *span))
            }
            Node::And(l, r) => Ok(Value::Bool(self.truth(l)? && self.truth(r)?)),
            Node::Or(l, r) => Ok(Value::Bool(self.truth(l)? || self.truth(r)?)),
            Node::Coalesce(l, r) => {
                let v = self.node(l)?;
                if v.is_null() { self.node(r) } else { Ok(v) }
            }
            Node::Cond(c, t, e) => {
                if self.truth(c)? {
                    self.node(t)
                } else {
                    self.node(e)
                }
            }
            Node::Cast {
                to,
                expr,
                unbox,
                span,
            } => {
                let v = self.node(expr)?;
                ops::cast(v, to, *unbox).map_err(|e| (e, *span))
            }
            Node::IsNull { expr, negated } => {
                let v = self.node(expr)?;
                Ok(Value::Bool(v.is_null() != *negated))
            }
            Node::Concat(parts, span) => {
                // `s + x` copies all of `s`: the pieces are measured and the whole length
                // charged before anything is copied, so `s += c` in a loop is quadratic in
                // steps too and stops early.
                let mut pieces = Vec::with_capacity(parts.len());
                let mut len = 0usize;
                for (p, fmt) in parts {
                    let v = self.node(p)?;
                    let v = self.materialize(v, *span)?;
                    let piece: Arc<str> = match (fmt, v) {
                        (Some(f), v) if !v.is_null() => {
                            Arc::from(ops::format_value(&v, f).map_err(|e| (e, *span))?)
                        }
                        (_, Value::String(x)) => x,
                        (_, other) => Arc::from(other.to_string()),
                    };
                    len = len.saturating_add(piece.len());
                    self.check_len(len, "the string", *span)?;
                    pieces.push(piece);
                }
                self.charge_bytes(len, *span)?;
                let mut s = String::with_capacity(len);
                for piece in &pieces {
                    s.push_str(piece);
                }
                Ok(Value::String(Arc::from(s)))
            }
            Node::IsType { expr, ty, slot } => {
                let v = self.node(expr)?;
                let is = !v.is_null() && ops::has_type(&v, ty);
                if is && let Some(slot) = slot {
                    self.locals[*slot as usize] = v;
                }
                Ok(Value::Bool(is))
            }
            Node::As { expr, ty } => {
                let v = self.node(expr)?;
                Ok(if ops::has_type(&v, ty) {
                    v
                } else {
                    Value::Null
                })
            }
            Node::NewArray {
                size,
                elems,
                fill,
                bytes,
                span,
            } => self.new_array(size.as_deref(), elems, fill, *bytes, *span),
            Node::Linq {
                recv,
                op,
                lambdas,
                args,
                span,
            } => {
                let Some(v) = self.receiver(recv, false, *span, |ev| ev.text(*span))? else {
                    return Ok(Value::Null);
                };
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.node(a)?);
                }
                self.linq(v, op, lambdas, vals, *span)
            }
            Node::Out {
                call,
                slot,
                default,
                tried: true,
            } => {
                let (found, v) = match self.node(call) {
                    Ok(v) => (true, v),
                    Err((E::Format(_) | E::Overflow | E::Argument(_), _)) => {
                        (false, default.clone())
                    }
                    Err(e) => return Err(e),
                };
                self.locals[*slot as usize] = v;
                Ok(Value::Bool(found))
            }
            Node::Out {
                call,
                slot,
                default,
                tried: false,
            } => match self.node(call)? {
                Value::Pair(p) => {
                    self.locals[*slot as usize] = match p.0 {
                        Value::Bool(false) => default.clone(),
                        _ => p.1.clone(),
                    };
                    Ok(p.0.clone())
                }
                other => Ok(other),
            },
            Node::Init { value, slot, stmts } => {
                let v = self.node(value)?;
                self.locals[*slot as usize] = v.clone();
                self.block(stmts)?;
                Ok(v)
            }
            Node::CallFn { id, args, span } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.node(a)?);
                }
                self.call_fn(*id, vals, *span)
            }
            Node::UploadedContains { field, value } => {
                let certs = &self.ctx.deployment.certificates;
                if certs.is_empty() {
                    return Ok(Value::Bool(false));
                }
                let lookup = |s: Option<&str>| match (s, field) {
                    (None, _) => false,
                    (Some(s), CertField::Thumbprint) => certs.contains_thumbprint(s),
                    (Some(s), CertField::Subject) => certs.contains_subject(s),
                    (Some(s), CertField::SerialNumber) => certs.contains_serial_number(s),
                };
                // The request's certificate against thumbprints: its SHA-1 looked up as
                // it is, not spelled out in hex and read back.
                if *field == CertField::Thumbprint
                    && let Node::Prop {
                        recv,
                        prop: Prop::CertThumbprint,
                        null_cond,
                        span,
                    } = &**value
                    && let Some(cert) = self.request_cert(recv)
                {
                    return match cert {
                        Some(c) => Ok(Value::Bool(certs.contains_sha1(c.sha1()))),
                        None if *null_cond => Ok(Value::Bool(false)),
                        None => Err((E::NullReference(self.text(*span)), *span)),
                    };
                }
                if let Some(found) = self.with_cert_str(value, lookup) {
                    return found.map(Value::Bool);
                }
                let v = self.node(value)?;
                // hashing the key reads all of it
                self.charge_bytes(v.as_str().map_or(0, str::len), span_of(value))?;
                Ok(Value::Bool(lookup(v.as_str())))
            }
        }
    }

    /// Calls local function `id`. Its slots are saved and restored around the call, so a
    /// recursive call has locals of its own; calls nest at most `max_depth` deep, which
    /// keeps recursion off the end of the stack.
    fn call_fn(&mut self, id: u16, args: Vec<Value>, span: Span) -> R<Value> {
        let functions = self.functions;
        let Some(f) = functions.get(usize::from(id)) else {
            return Err((E::Internal(format!("no local function {id}")), span));
        };
        if self.depth > self.limits.max_depth / 2 {
            return Err((
                E::SizeLimit {
                    what: "the nesting of local function calls and expressions",
                    limit: (self.limits.max_depth / 2) as usize,
                },
                span,
            ));
        }
        let Some(saved) = self.locals.get(f.slots.clone()).map(<[Value]>::to_vec) else {
            return Err((E::Internal("local function slots".into()), span));
        };
        self.charge(saved.len(), span)?;
        for (slot, v) in f.params.iter().zip(args) {
            self.locals[*slot as usize] = v;
        }
        let r = match &f.body {
            FnBody::Expr(n) => self.node(n),
            FnBody::Block(stmts) => match self.block(stmts) {
                Ok(Flow::Return(v)) => Ok(v),
                Ok(_) => Err((E::Internal("local function without return".into()), span)),
                Err(e) => Err(e),
            },
        };
        let start = f.slots.start;
        for (i, v) in saved.into_iter().enumerate() {
            self.locals[start + i] = v;
        }
        r
    }

    /// `new T[n]` or `new T[] { ... }`: the size is checked and charged before anything is
    /// built.
    fn new_array(
        &mut self,
        size: Option<&Node>,
        elems: &[Node],
        fill: &Value,
        bytes: bool,
        span: Span,
    ) -> R<Value> {
        if let Some(size) = size {
            let n = ops::as_i64(&self.node(size)?).unwrap_or(-1);
            let n = usize::try_from(n).map_err(|_| (E::Overflow, span))?;
            self.check_count(n, span)?;
            if bytes {
                self.charge_bytes(n, span)?;
                return Ok(Value::Bytes(vec![0u8; n].into()));
            }
            self.charge(n, span)?;
            return Ok(Value::Array(vec![fill.clone(); n].into()));
        }
        self.check_count(elems.len(), span)?;
        let mut out = Vec::with_capacity(elems.len());
        for e in elems {
            out.push(self.node(e)?);
        }
        if bytes {
            let b: Option<Vec<u8>> = out
                .iter()
                .map(|v| ops::as_i64(v).and_then(|n| u8::try_from(n).ok()))
                .collect();
            return b.map(|b| Value::Bytes(b.into())).ok_or((E::Overflow, span));
        }
        Ok(Value::Array(out.into()))
    }

    /// `cert.Prop == "constant"` without allocating the property's string.
    fn const_str_eq(&mut self, l: &Node, r: &Node) -> Option<R<bool>> {
        let (prop, k) = match (l, r) {
            (p, Node::Const(Value::String(k))) | (Node::Const(Value::String(k)), p) => (p, k),
            _ => return None,
        };
        self.with_cert_str(prop, |s| s == Some(&**k))
    }

    /// For a certificate string property (Subject, Issuer, Thumbprint, SerialNumber,
    /// SubjectName.Name, IssuerName.Name), calls `f` with the borrowed string (None when a
    /// `?.` met null); None when `n` is not such a property.
    pub(crate) fn with_cert_str<T>(
        &mut self,
        n: &Node,
        f: impl FnOnce(Option<&str>) -> T,
    ) -> Option<R<T>> {
        let Node::Prop {
            recv,
            prop,
            null_cond,
            span,
        } = n
        else {
            return None;
        };
        if !matches!(
            prop,
            Prop::CertSubject
                | Prop::CertIssuer
                | Prop::CertThumbprint
                | Prop::CertSerialNumber
                | Prop::X500Name
        ) {
            return None;
        }
        // On the request's certificate: read in place, no reference counting.
        let direct = match (prop, &**recv) {
            (
                Prop::X500Name,
                Node::Prop {
                    recv: inner,
                    prop: which @ (Prop::CertSubjectName | Prop::CertIssuerName),
                    null_cond: inner_nc,
                    span: inner_span,
                },
            ) => self
                .request_cert(inner)
                .map(|c| (c, *which == Prop::CertIssuerName, *inner_nc, *inner_span)),
            (_, n) => self
                .request_cert(n)
                .map(|c| (c, *prop == Prop::CertIssuer, *null_cond, *span)),
        };
        if let Some((cert, issuer, nc, at)) = direct {
            return Some(match cert {
                None if nc || *null_cond => Ok(f(None)),
                None => Err((E::NullReference(self.text(at)), at)),
                Some(c) => Ok(f(Some(match prop {
                    Prop::CertThumbprint => c.thumbprint(),
                    Prop::CertSerialNumber => c.serial_number(),
                    _ if issuer => c.issuer(),
                    _ => c.subject(),
                }))),
            });
        }
        let v = match self.node(recv) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        Some(match (&v, prop) {
            (Value::Null, _) if *null_cond => Ok(f(None)),
            (Value::Null, _) => Err((E::NullReference(self.text(*span)), *span)),
            (Value::Certificate(c), Prop::CertSubject) => Ok(f(Some(c.subject()))),
            (Value::Certificate(c), Prop::CertIssuer) => Ok(f(Some(c.issuer()))),
            (Value::Certificate(c), Prop::CertThumbprint) => Ok(f(Some(c.thumbprint()))),
            (Value::Certificate(c), Prop::CertSerialNumber) => Ok(f(Some(c.serial_number()))),
            (Value::Object(Handle(HandleKind::X500Name(c, issuer))), Prop::X500Name) => {
                Ok(f(Some(if *issuer { c.issuer() } else { c.subject() })))
            }
            _ => Err((
                E::Internal(format!("{prop:?} on a {}", v.type_name())),
                *span,
            )),
        })
    }

    /// `Some(certificate or None)` when `n` reads `context.Request.Certificate`.
    fn request_cert(&self, n: &Node) -> Option<Option<&'a Arc<Certificate>>> {
        match n {
            Node::Prop {
                recv,
                prop: Prop::ReqCertificate,
                ..
            } if matches!(**recv, Node::Const(_) | Node::Context) => {
                Some(self.ctx.request.certificate.as_ref())
            }
            _ => None,
        }
    }

    /// `Verify()` / `VerifyNoRevocation()`: the request's chain goes with the request's
    /// certificate; without a verifier the answer is false.
    pub(crate) fn verify(&self, c: &Arc<Certificate>, revocation: bool) -> bool {
        let ctx = self.ctx;
        let rev = if revocation {
            Revocation::Check
        } else {
            Revocation::NoCheck
        };
        let chain: &[Certificate] = match &ctx.request.certificate {
            Some(leaf) if Arc::ptr_eq(leaf, c) => &ctx.request.certificate_chain,
            _ => &[],
        };
        ctx.verifier
            .as_ref()
            .is_some_and(|v| v.verdict(c, chain, ctx.now, rev).is_valid())
    }

    /// Calls `f` for each element; `f` returns false to stop.
    pub(crate) fn iterate(
        &mut self,
        seq: &Value,
        span: Span,
        f: &mut dyn FnMut(&mut Eval<'a>, Value) -> R<bool>,
    ) -> R<()> {
        let ctx = self.ctx;
        // `copied`: the items are built from the request (headers, query, route
        // parameters), and building each costs its bytes.
        macro_rules! each {
            ($iter:expr) => {
                each!($iter, |_: &Value| 0)
            };
            ($iter:expr, copied) => {
                each!($iter, built_len)
            };
            ($iter:expr, $bytes:expr) => {
                for item in $iter {
                    self.step(span)?;
                    self.charge_bytes($bytes(&item), span)?;
                    if !f(self, item)? {
                        break;
                    }
                }
            };
        }
        match seq {
            Value::Array(a) => {
                // by index, without holding the lock while `f` runs: .NET's arrays show
                // a change made while iterating
                let a = a.clone();
                each!((0..).map_while(|i| a.get(i)))
            }
            Value::Object(Handle(HandleKind::Grouping(g))) => {
                let a = g.1.clone();
                each!((0..).map_while(|i| a.get(i)))
            }
            Value::Map(m) => {
                let m = m.clone();
                each!(
                    (0..)
                        .map_while(|i| m.entry_at(i))
                        .flatten()
                        .map(|(k, v)| pair(k, v))
                )
            }
            Value::String(s) => {
                let s = s.clone();
                each!(s.chars().map(Value::Char))
            }
            Value::Bytes(b) => {
                let b = b.clone();
                each!(b.iter().map(|x| Value::Int(i32::from(*x))))
            }
            Value::Object(Handle(HandleKind::Dict(d))) => match d {
                DictRef::Headers(w) => {
                    let hs = props::headers(ctx, w);
                    each!(
                        hs.iter().map(|(k, v)| pair(Value::string(k), strings(v))),
                        copied
                    )
                }
                DictRef::Query(u) => {
                    let url = props::url(ctx, *u);
                    each!(
                        url.into_iter()
                            .flat_map(|u| u.query.iter())
                            .map(|(k, v)| pair(Value::string(k), strings(v))),
                        copied
                    )
                }
                DictRef::MatchedParameters => each!(
                    ctx.request
                        .matched_parameters
                        .iter()
                        .map(|(k, v)| pair(Value::string(k), Value::string(v))),
                    copied
                ),
                DictRef::Variables => {
                    let mut keys: Vec<&String> = ctx.variables.keys().collect();
                    self.charge(keys.len(), span)?;
                    keys.sort();
                    each!(
                        keys.into_iter()
                            .map(|k| pair(Value::string(k), ctx.variables[k].clone()))
                    )
                }
                DictRef::Certificates => each!(
                    ctx.deployment
                        .certificates
                        .iter()
                        .map(|(k, c)| pair(Value::string(k), Value::Certificate(c.clone())))
                ),
            },
            Value::Object(Handle(HandleKind::Claims(j))) => {
                let j = j.clone();
                each!(
                    j.claims
                        .iter()
                        .map(|(k, v)| pair(Value::string(k), strings(v))),
                    copied
                )
            }
            Value::Object(Handle(HandleKind::Groups(m))) => {
                let m = m.clone();
                each!((0..m.groups.len()).map(|i| h(HandleKind::Group(m.clone(), i))))
            }
            Value::Json(t) => {
                let items = self.json_children(&t.0, span)?;
                each!(items.into_iter())
            }
            other => {
                return Err((
                    E::Internal(format!("iterating a {}", other.type_name())),
                    span,
                ));
            }
        }
        Ok(())
    }

    /// All elements, for LINQ operators that need them at once.
    pub(crate) fn collect(&mut self, seq: &Value, span: Span) -> R<Vec<Value>> {
        let mut out = Vec::new();
        self.iterate(seq, span, &mut |ev, v| {
            ev.push_bounded(&mut out, v, span)?;
            Ok(true)
        })?;
        Ok(out)
    }

    /// Adds an element to a collection being built, within the collection limit.
    pub(crate) fn push_bounded(&self, out: &mut Vec<Value>, v: Value, span: Span) -> R<()> {
        self.check_count(out.len() + 1, span)?;
        out.push(v);
        Ok(())
    }

    /// Turns handles into plain values: an IUrl into its string, a dictionary into an
    /// array of key/value pairs, other context objects into their type name.
    /// A dictionary too large to copy is an error, never `null`: a value that silently
    /// became `null` could turn a condition around.
    pub(crate) fn materialize(&mut self, v: Value, span: Span) -> R<Value> {
        let Value::Object(Handle(k)) = &v else {
            return Ok(v);
        };
        Ok(match k {
            HandleKind::Url(u) => props::url(self.ctx, *u)
                .map_or(Value::Null, |u| Value::String(Arc::from(u.to_url_string()))),
            HandleKind::Dict(_) => Value::Array(self.collect(&v, span)?.into()),
            HandleKind::Context
            | HandleKind::Request
            | HandleKind::Response
            | HandleKind::StoredResponse(_)
            | HandleKind::Deployment
            | HandleKind::Api
            | HandleKind::Operation
            | HandleKind::LastError
            | HandleKind::Body(_)
            | HandleKind::Encoding => Value::string(&v.to_string()),
            _ => v,
        })
    }
}

pub(crate) fn pair(k: Value, v: Value) -> Value {
    Value::Pair(Arc::new((k, v)))
}

pub(crate) fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| Value::string(s)).collect())
}

fn span_of(n: &Node) -> Span {
    match n {
        Node::Prop { span, .. }
        | Node::Method { span, .. }
        | Node::Static { span, .. }
        | Node::Index { span, .. }
        | Node::Unary { span, .. }
        | Node::Binary { span, .. }
        | Node::Cast { span, .. }
        | Node::Concat(_, span) => *span,
        Node::And(l, _) | Node::Or(l, _) | Node::Coalesce(l, _) | Node::Cond(l, ..) => span_of(l),
        Node::IsNull { expr, .. } | Node::IsType { expr, .. } | Node::As { expr, .. } => {
            span_of(expr)
        }
        Node::NewArray { span, .. } | Node::CallFn { span, .. } => *span,
        _ => Span::default(),
    }
}
