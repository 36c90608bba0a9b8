//! Tokens to syntax tree: recursive descent with C#'s precedence, and a depth cap so that
//! `((((...` can never overflow the stack.

use super::ast::{
    Arg, BinOp, Catch, Expr, ExprKind, Init, InitItem, LocalFn, New, Part, Section, Stmt, TypeRef,
    UnOp,
};
use super::diagnostic::CompileErrorKind as K;
use super::lexer::{RawPart, Tok, Token, lex};
use super::span::Span;
use super::stack::deep;

type PResult<T> = Result<T, (K, Span)>;

/// What an expression's source is: a single C# expression or a statement block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Expr(Expr),
    Block(Vec<Stmt>, Span),
}

const PREDEFINED: &[&str] = &[
    "string", "int", "bool", "long", "double", "char", "object", "byte", "float", "decimal",
    "short", "uint", "ulong", "sbyte", "ushort", "var",
];

/// C# keywords that start an expression certgate does not run yet.
/// An assignment operator: `=` (None) or a compound one (its binary operator).
fn assignment(t: &Tok) -> Option<Option<BinOp>> {
    let Tok::P(p) = t else { return None };
    Some(Some(match *p {
        "=" => return Some(None),
        "+=" => BinOp::Add,
        "-=" => BinOp::Sub,
        "*=" => BinOp::Mul,
        "/=" => BinOp::Div,
        "%=" => BinOp::Rem,
        "&=" => BinOp::BitAnd,
        "|=" => BinOp::BitOr,
        "^=" => BinOp::Xor,
        "<<=" => BinOp::Shl,
        ">>=" => BinOp::Shr,
        _ => return None,
    }))
}

/// Precedence levels of [`Parser::binop`] that `is`, `as` and `>>` need by name.
const RELATIONAL_LEVEL: usize = 6;
const SHIFT_LEVEL: usize = 7;

const UNIMPLEMENTED_KEYWORDS: &[&str] = &[
    "typeof",
    "nameof",
    "default",
    "await",
    "sizeof",
    "this",
    "base",
    "stackalloc",
    "switch",
    "throw",
    "ref",
    "out",
    "delegate",
];

pub(crate) struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    depth: u32,
    max_depth: u32,
}

/// A `while` (`test_after` false) or `do ... while` loop: a `Loop` with no init or step.
fn cond_loop(cond: Expr, body: Stmt, span: Span, test_after: bool) -> Stmt {
    Stmt::Loop {
        init: Vec::new(),
        cond: Some(cond),
        step: Vec::new(),
        body: Box::new(body),
        span,
        test_after,
    }
}

/// `name++` or `name--` (`op` Add or Sub) as the assignment `name op= 1`.
fn step_by_one(name: String, name_span: Span, op: BinOp) -> Stmt {
    Stmt::Assign {
        name,
        name_span,
        op: Some(op),
        value: Expr {
            kind: ExprKind::Int(1),
            span: name_span,
        },
    }
}

impl<'s> Parser<'s> {
    pub(crate) fn new(src: &'s str, start: usize, end: usize, max_depth: u32) -> PResult<Self> {
        Ok(Parser {
            src,
            toks: lex(src, start, end)?,
            pos: 0,
            depth: 0,
            max_depth,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }
    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].span
    }
    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].span
    }
    fn advance(&mut self) -> Token {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::P(q) if *q == p)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.advance();
            true
        } else {
            false
        }
    }
    fn expected(&self, what: &str) -> (K, Span) {
        (
            K::Expected {
                expected: what.to_owned(),
                found: self.peek().describe(),
            },
            self.span(),
        )
    }
    fn expect(&mut self, p: &str) -> PResult<Span> {
        if self.is(p) {
            Ok(self.advance().span)
        } else {
            Err(self.expected(&format!("'{p}'")))
        }
    }
    fn ident(&mut self, what: &str) -> PResult<(String, Span)> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let sp = self.advance().span;
                Ok((s, sp))
            }
            _ => Err(self.expected(what)),
        }
    }
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err((
                K::TooDeep {
                    limit: self.max_depth,
                },
                self.span(),
            ));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }
    pub(crate) fn at_end(&self) -> PResult<()> {
        if matches!(self.peek(), Tok::Eof) {
            Ok(())
        } else {
            Err((K::TrailingText(self.peek().describe()), self.span()))
        }
    }

    /// `@( expr )`, `@{ stmts }` (the tokens start at '(' or '{'), or a bare expression.
    pub(crate) fn body(&mut self, wrapped: bool) -> PResult<Body> {
        if !wrapped {
            if matches!(self.peek(), Tok::Eof) {
                return Err((K::Empty, self.span()));
            }
            let e = self.expr()?;
            self.at_end()?;
            return Ok(Body::Expr(e));
        }
        if self.is("{") {
            let open = self.advance().span;
            let stmts = self.stmts_until_close()?;
            let close = self.expect("}")?;
            self.at_end()?;
            return Ok(Body::Block(stmts, open.to(close)));
        }
        self.expect("(")?;
        if self.is(")") {
            return Err((K::Empty, self.span()));
        }
        let e = self.expr()?;
        if !self.is(")") {
            return Err(self.expected("')' to close '@('"));
        }
        self.advance();
        self.at_end()?;
        Ok(Body::Expr(e))
    }

    fn stmts_until_close(&mut self) -> PResult<Vec<Stmt>> {
        let mut out = Vec::new();
        while !self.is("}") {
            if matches!(self.peek(), Tok::Eof) {
                return Err(self.expected("'}'"));
            }
            out.push(self.stmt()?);
        }
        Ok(out)
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        self.enter()?;
        let r = deep(|| self.stmt_inner());
        self.leave();
        r
    }

    fn stmt_inner(&mut self) -> PResult<Stmt> {
        if self.is("{") {
            return Ok(Stmt::Block(self.braced_stmts()?));
        }
        if self.eat(";") {
            return Ok(Stmt::Block(Vec::new()));
        }
        if let Tok::Ident(kw) = self.peek().clone() {
            match kw.as_str() {
                "checked" | "unchecked" if matches!(self.peek_at(1), Tok::P("{")) => {
                    self.advance();
                    return Ok(Stmt::Checked {
                        wrapping: kw == "unchecked",
                        body: self.braced_stmts()?,
                    });
                }
                "return" => {
                    let sp = self.advance().span;
                    // `return;` ends a void local function; the checker refuses it elsewhere
                    if self.eat(";") {
                        return Ok(Stmt::Return(None, sp));
                    }
                    let e = self.expr()?;
                    self.expect(";")?;
                    return Ok(Stmt::Return(Some(e), sp));
                }
                "if" => {
                    self.advance();
                    let c = self.paren_expr()?;
                    let t = self.stmt()?;
                    let e = if self.is_kw("else") {
                        self.advance();
                        Some(Box::new(self.stmt()?))
                    } else {
                        None
                    };
                    return Ok(Stmt::If(c, Box::new(t), e));
                }
                "foreach" => {
                    self.advance();
                    self.expect("(")?;
                    let ty = self.parse_type()?;
                    let ty = (ty.name != "var").then_some(ty);
                    let (name, name_span) = self.ident("a loop variable name")?;
                    if !self.is_kw("in") {
                        return Err(self.expected("'in'"));
                    }
                    self.advance();
                    let iter = self.expr()?;
                    self.expect(")")?;
                    let body = self.stmt()?;
                    return Ok(Stmt::Foreach {
                        ty,
                        name,
                        name_span,
                        iter,
                        body: Box::new(body),
                    });
                }
                "for" => return self.for_stmt(),
                "while" => {
                    let span = self.advance().span;
                    let cond = self.paren_expr()?;
                    let body = self.stmt()?;
                    return Ok(cond_loop(cond, body, span, false));
                }
                "break" | "continue" => {
                    let span = self.advance().span;
                    self.expect(";")?;
                    return Ok(if kw == "break" {
                        Stmt::Break(span)
                    } else {
                        Stmt::Continue(span)
                    });
                }
                "throw" => {
                    let span = self.advance().span;
                    let e = self.opt_expr_then_semi()?;
                    return Ok(Stmt::Throw(e, span));
                }
                "try" => return self.try_stmt(),
                "switch" => return self.switch_stmt(),
                "const" => {
                    let span = self.advance().span;
                    return match self.try_declaration(true)? {
                        Some(d) => Ok(d),
                        None => Err((
                            K::Expected {
                                expected: "a type, a name and a value after 'const'".into(),
                                found: self.peek().describe(),
                            },
                            span,
                        )),
                    };
                }
                "do" => {
                    let span = self.advance().span;
                    let body = self.stmt()?;
                    if !self.is_kw("while") {
                        return Err(self.expected("'while' after the body of 'do'"));
                    }
                    self.advance();
                    let cond = self.paren_expr()?;
                    self.expect(";")?;
                    return Ok(cond_loop(cond, body, span, true));
                }
                "using" if matches!(self.peek_at(1), Tok::P("(")) => {
                    // `using (T x = e) body`: the objects certgate has hold nothing to
                    // dispose, so this is `{ T x = e; body }`
                    self.advance();
                    self.expect("(")?;
                    let ty = self.parse_type()?;
                    let (name, name_span) = self.ident("a variable name")?;
                    self.expect("=")?;
                    let init = self.expr()?;
                    self.expect(")")?;
                    let body = self.stmt()?;
                    let decl = Stmt::Var {
                        ty: (ty.name != "var").then_some(ty),
                        name,
                        name_span,
                        init: Some(init),
                        is_const: false,
                    };
                    return Ok(Stmt::Block(vec![decl, body]));
                }
                "goto" | "using" | "lock" | "yield" | "fixed" | "unsafe" => {
                    return Err((
                        K::NotImplemented(format!("the '{kw}' statement")),
                        self.span(),
                    ));
                }
                _ => {}
            }
            if let Some(decl) = self.try_declaration(false)? {
                return Ok(decl);
            }
        }
        let s = self.simple_stmt()?;
        self.expect(";")?;
        Ok(s)
    }

    /// An assignment, `x++`/`x--` or a call, without its `;` (a `for`'s steps have none).
    fn simple_stmt(&mut self) -> PResult<Stmt> {
        // `++i;` and `--i;` as statements are `i++;` and `i--;`
        if let (Tok::P(op @ ("++" | "--")), Tok::Ident(_)) = (self.peek(), self.peek_at(1)) {
            let op = if *op == "++" { BinOp::Add } else { BinOp::Sub };
            self.advance();
            let (name, name_span) = self.ident("a name")?;
            return Ok(step_by_one(name, name_span, op));
        }
        if let Tok::Ident(_) = self.peek() {
            if let Some(op) = assignment(self.peek_at(1)) {
                let (name, name_span) = self.ident("a name")?;
                self.advance();
                let value = self.expr()?;
                return Ok(Stmt::Assign {
                    name,
                    name_span,
                    op,
                    value,
                });
            }
            if matches!(self.peek_at(1), Tok::P("++" | "--")) {
                let (name, name_span) = self.ident("a name")?;
                let op = if matches!(self.advance().tok, Tok::P("++")) {
                    BinOp::Add
                } else {
                    BinOp::Sub
                };
                return Ok(step_by_one(name, name_span, op));
            }
        }
        // `token["name"] = value;`: indexer assignment (JObject, JArray); `x.Value = v;`
        let save = self.pos;
        if let Ok(target) = self.unary()
            && matches!(
                target.kind,
                ExprKind::Index { .. } | ExprKind::Member { .. }
            )
            && let Some(op) = assignment(self.peek())
        {
            // `x[i] op= v` is `x[i] = x[i] op v` (x and i have no side effects in this
            // subset: calls of local functions aside, which run twice)
            self.advance();
            let value = self.expr()?;
            let value = match op {
                Some(op) => {
                    let span = target.span.to(value.span);
                    Expr {
                        kind: ExprKind::Binary(op, Box::new(target.clone()), Box::new(value)),
                        span,
                    }
                }
                None => value,
            };
            if let ExprKind::Member { .. } = target.kind {
                return Ok(Stmt::MemberAssign { target, value });
            }
            return Ok(Stmt::IndexAssign { target, value });
        }
        self.pos = save;
        let e = self.expr()?;
        if !matches!(e.kind, ExprKind::Call { .. }) {
            if self.is("=") {
                return Err((
                    K::NotAssignable(self.src[e.span.start as usize..e.span.end as usize].into()),
                    e.span,
                ));
            }
            return Err((
                K::Expected {
                    expected: "a statement (declaration, assignment, call, if, foreach, for, \
                               while, switch, try, throw or return)"
                        .to_owned(),
                    found: "an expression".to_owned(),
                },
                e.span,
            ));
        }
        Ok(Stmt::Expr(e))
    }

    /// `var x = e;`, `Type x;`, `Type a = 1, b = 2;` (`const` ones must have a value).
    fn try_declaration(&mut self, is_const: bool) -> PResult<Option<Stmt>> {
        let save = self.pos;
        // `new T(...).M();` starts like a declaration of `T` with the type `new`
        let Ok(ty) = self.parse_type().and_then(|ty| match ty.name.as_str() {
            "new" => Err(self.expected("a type")),
            _ => Ok(ty),
        }) else {
            self.pos = save;
            return Ok(None);
        };
        let Tok::Ident(_) = self.peek() else {
            self.pos = save;
            return Ok(None);
        };
        if matches!(self.peek_at(1), Tok::P("(")) && !is_const {
            return self.local_fn(ty).map(Some);
        }
        if !matches!(self.peek_at(1), Tok::P("=" | ";" | ",")) {
            self.pos = save;
            return Ok(None);
        }
        let ty = (ty.name != "var").then_some(ty);
        let mut decls = Vec::new();
        loop {
            let (name, name_span) = self.ident("a variable name")?;
            let init = if self.eat("=") {
                Some(self.expr()?)
            } else if is_const || ty.is_none() {
                return Err(self.expected("'=' and an initial value"));
            } else {
                None
            };
            decls.push(Stmt::Var {
                ty: ty.clone(),
                name,
                name_span,
                init,
                is_const,
            });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(";")?;
        Ok(Some(if decls.len() == 1 {
            decls.remove(0)
        } else {
            Stmt::Seq(decls)
        }))
    }

    /// A local function after its return type: `F(T a, U b) => e;` or `F(T a) { ... }`.
    fn local_fn(&mut self, ret: TypeRef) -> PResult<Stmt> {
        let (name, name_span) = self.ident("a function name")?;
        self.expect("(")?;
        let mut params = Vec::new();
        if !self.is(")") {
            loop {
                let ty = self.parse_type()?;
                let (p, sp) = self.ident("a parameter name")?;
                params.push((ty, p, sp));
                if !self.eat(",") {
                    break;
                }
            }
        }
        self.expect(")")?;
        let body = if self.eat("=>") {
            let e = self.expr()?;
            self.expect(";")?;
            Ok(e)
        } else {
            Err(self.braced_stmts()?)
        };
        Ok(Stmt::LocalFn(Box::new(LocalFn {
            ret,
            name,
            name_span,
            params,
            body,
        })))
    }

    /// `for (init; cond; step, ...) body`; init is a declaration or statements.
    fn for_stmt(&mut self) -> PResult<Stmt> {
        let span = self.advance().span;
        self.expect("(")?;
        let mut init = Vec::new();
        if !self.eat(";") {
            if let Some(d) = self.try_declaration(false)? {
                init.push(d);
            } else {
                init = self.simple_stmts()?;
                self.expect(";")?;
            }
        }
        let cond = self.opt_expr_then_semi()?;
        let step = if self.is(")") {
            Vec::new()
        } else {
            self.simple_stmts()?
        };
        self.expect(")")?;
        let body = self.stmt()?;
        Ok(Stmt::Loop {
            init,
            cond,
            step,
            body: Box::new(body),
            span,
            test_after: false,
        })
    }

    fn simple_stmts(&mut self) -> PResult<Vec<Stmt>> {
        let mut out = vec![self.simple_stmt()?];
        while self.eat(",") {
            out.push(self.simple_stmt()?);
        }
        Ok(out)
    }

    fn braced_stmts(&mut self) -> PResult<Vec<Stmt>> {
        self.expect("{")?;
        let s = self.stmts_until_close()?;
        self.expect("}")?;
        Ok(s)
    }

    /// `(e)`: the condition of `if`, `while` and `do`, the value of `switch`.
    fn paren_expr(&mut self) -> PResult<Expr> {
        self.expect("(")?;
        let e = self.expr()?;
        self.expect(")")?;
        Ok(e)
    }

    /// An optional expression ended by `;`: a `for`'s condition, `throw`'s operand.
    fn opt_expr_then_semi(&mut self) -> PResult<Option<Expr>> {
        let e = if self.is(";") {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(";")?;
        Ok(e)
    }

    /// `try { } catch (Exception e) { } finally { }`, one catch clause at most.
    fn try_stmt(&mut self) -> PResult<Stmt> {
        let span = self.advance().span;
        let body = self.braced_stmts()?;
        let mut catch = None;
        if self.is_kw("catch") {
            self.advance();
            let (mut ty, mut name) = (None, None);
            if self.eat("(") {
                ty = Some(self.parse_type()?);
                if let Tok::Ident(_) = self.peek() {
                    name = Some(self.ident("a name")?);
                }
                self.expect(")")?;
            }
            if self.is_kw("when") {
                return Err((
                    K::NotImplemented("exception filters ('when')".into()),
                    self.span(),
                ));
            }
            let body = self.braced_stmts()?;
            catch = Some(Catch { ty, name, body });
            if self.is_kw("catch") {
                return Err((
                    K::NotImplemented("several catch clauses".into()),
                    self.span(),
                ));
            }
        }
        let finally = if self.is_kw("finally") {
            self.advance();
            Some(self.braced_stmts()?)
        } else {
            None
        };
        if catch.is_none() && finally.is_none() {
            return Err((
                K::Expected {
                    expected: "'catch' or 'finally' after the 'try' block".into(),
                    found: self.peek().describe(),
                },
                span,
            ));
        }
        Ok(Stmt::Try {
            body,
            catch,
            finally,
        })
    }

    /// `switch (x) { case "a": case "b": ... break; default: ... break; }`
    fn switch_stmt(&mut self) -> PResult<Stmt> {
        let span = self.advance().span;
        let value = self.paren_expr()?;
        self.expect("{")?;
        let mut sections = Vec::new();
        while !self.eat("}") {
            let mut labels = Vec::new();
            loop {
                if self.is_kw("case") {
                    let at = self.advance().span;
                    let e = self.expr()?;
                    if self.is_kw("when") || matches!(self.peek(), Tok::Ident(_)) {
                        return Err((
                            K::NotImplemented("patterns in 'case' labels".into()),
                            self.span(),
                        ));
                    }
                    self.expect(":")?;
                    labels.push((Some(e), at));
                } else if self.is_kw("default") {
                    let at = self.advance().span;
                    self.expect(":")?;
                    labels.push((None, at));
                } else {
                    break;
                }
            }
            if labels.is_empty() {
                return Err(self.expected("'case', 'default' or '}'"));
            }
            let mut body = Vec::new();
            while !(self.is("}") || self.is_kw("case") || self.is_kw("default")) {
                if matches!(self.peek(), Tok::Eof) {
                    return Err(self.expected("'}'"));
                }
                body.push(self.stmt()?);
            }
            sections.push(Section { labels, body });
        }
        Ok(Stmt::Switch {
            value,
            sections,
            span,
        })
    }

    /// `Name(.Name)*(<T,...>)?(?)?([])*`
    fn parse_type(&mut self) -> PResult<TypeRef> {
        let (mut name, start) = self.ident("a type")?;
        let mut end = start;
        while self.is(".") && matches!(self.peek_at(1), Tok::Ident(_)) {
            self.advance();
            let (n, sp) = self.ident("a type")?;
            name.push('.');
            name.push_str(&n);
            end = sp;
        }
        if self.is("<") {
            self.advance();
            name.push('<');
            loop {
                let t = self.parse_type()?;
                name.push_str(&t.name);
                if self.eat(",") {
                    name.push(',');
                    continue;
                }
                break;
            }
            end = self.expect(">")?;
            name.push('>');
        }
        if self.is("?") && !matches!(self.peek_at(1), Tok::Ident(_) | Tok::P("(")) {
            end = self.advance().span;
            name.push('?');
        }
        while self.is("[") && matches!(self.peek_at(1), Tok::P("]")) {
            self.advance();
            end = self.advance().span;
            name.push_str("[]");
        }
        Ok(TypeRef {
            name,
            span: start.to(end),
        })
    }

    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = deep(|| self.expr_inner());
        self.leave();
        r
    }

    fn expr_inner(&mut self) -> PResult<Expr> {
        if let Some(l) = self.try_lambda()? {
            return Ok(l);
        }
        let c = self.coalesce()?;
        if self.is("?") {
            self.advance();
            let t = self.expr()?;
            self.expect(":")?;
            let e = self.expr()?;
            let span = c.span.to(e.span);
            return Ok(Expr {
                kind: ExprKind::Cond(Box::new(c), Box::new(t), Box::new(e)),
                span,
            });
        }
        if matches!(
            self.peek(),
            Tok::P("=" | "+=" | "-=" | "*=" | "/=" | "%=" | "??=")
        ) && matches!(c.kind, ExprKind::Index { .. })
        {
            return Err((
                K::NotImplemented("assigning to an array element or an indexer".into()),
                c.span,
            ));
        }
        if matches!(self.peek(), Tok::P("=" | "+=" | "-=" | "??=")) {
            return Err((
                K::Unsupported("assignment inside an expression".to_owned()),
                self.span(),
            ));
        }
        Ok(c)
    }

    fn try_lambda(&mut self) -> PResult<Option<Expr>> {
        let start = self.span();
        let mut params = Vec::new();
        if let (Tok::Ident(name), Tok::P("=>")) = (self.peek().clone(), self.peek_at(1)) {
            params.push((name, start));
            self.pos += 2;
        } else if self.is("(") {
            let mut n = 1;
            let mut names = Vec::new();
            loop {
                match self.peek_at(n) {
                    Tok::Ident(s) => {
                        names.push((s.clone(), self.toks[self.pos + n].span));
                        n += 1;
                        match self.peek_at(n) {
                            Tok::P(",") => n += 1,
                            Tok::P(")") => break,
                            _ => return Ok(None),
                        }
                    }
                    Tok::P(")") if names.is_empty() => break,
                    _ => return Ok(None),
                }
            }
            if !matches!(self.peek_at(n + 1), Tok::P("=>")) {
                return Ok(None);
            }
            self.pos += n + 2;
            params = names;
        } else {
            return Ok(None);
        }
        if self.is("{") {
            return Err((
                K::NotImplemented("lambdas with a block body (use an expression body)".to_owned()),
                self.span(),
            ));
        }
        let body = self.expr()?;
        let span = start.to(body.span);
        Ok(Some(Expr {
            kind: ExprKind::Lambda {
                params,
                body: Box::new(body),
            },
            span,
        }))
    }

    fn coalesce(&mut self) -> PResult<Expr> {
        let l = self.binary(0)?;
        if self.is("??") {
            self.advance();
            self.enter()?;
            let r = deep(|| self.coalesce());
            self.leave();
            let r = r?;
            let span = l.span.to(r.span);
            return Ok(Expr {
                kind: ExprKind::Binary(BinOp::Coalesce, Box::new(l), Box::new(r)),
                span,
            });
        }
        Ok(l)
    }

    /// The binary operator at the cursor and its precedence level, C#'s order: 0 `||`,
    /// 1 `&&`, 2 `|`, 3 `^`, 4 `&`, 5 equality, 6 relational, 7 shift, 8 `+`, 9 `*`.
    fn binop(&self) -> Option<(BinOp, usize)> {
        let Tok::P(p) = self.peek() else { return None };
        Some(match *p {
            "||" => (BinOp::Or, 0),
            "&&" => (BinOp::And, 1),
            "|" => (BinOp::BitOr, 2),
            "^" => (BinOp::Xor, 3),
            "&" => (BinOp::BitAnd, 4),
            "==" => (BinOp::Eq, 5),
            "!=" => (BinOp::Ne, 5),
            // `>>` is two `>` tokens (they close type arguments too), next to each other
            ">" if self.shift_right() => (BinOp::Shr, SHIFT_LEVEL),
            "<" => (BinOp::Lt, RELATIONAL_LEVEL),
            "<=" => (BinOp::Le, RELATIONAL_LEVEL),
            ">" => (BinOp::Gt, RELATIONAL_LEVEL),
            ">=" => (BinOp::Ge, RELATIONAL_LEVEL),
            "<<" => (BinOp::Shl, SHIFT_LEVEL),
            "+" => (BinOp::Add, 8),
            "-" => (BinOp::Sub, 8),
            "*" => (BinOp::Mul, 9),
            "/" => (BinOp::Div, 9),
            "%" => (BinOp::Rem, 9),
            _ => return None,
        })
    }

    /// Whether the `>` at the cursor and the next one are written `>>`.
    fn shift_right(&self) -> bool {
        let (Some(a), Some(b)) = (self.toks.get(self.pos), self.toks.get(self.pos + 1)) else {
            return false;
        };
        b.tok == Tok::P(">") && a.span.end == b.span.start
    }

    /// Precedence climbing over the operators of level `min_level` and above; operators
    /// are left-associative. One stack frame per nesting, not per precedence level.
    fn binary(&mut self, min_level: usize) -> PResult<Expr> {
        let mut l = self.unary()?;
        let depth = self.depth;
        let result = loop {
            if min_level <= RELATIONAL_LEVEL && self.is_kw("is") {
                let is_span = self.advance().span;
                let negated = if self.is_kw("not") {
                    self.advance();
                    true
                } else {
                    false
                };
                if !self.is_kw("null") {
                    let pattern = if negated {
                        Err(())
                    } else {
                        self.type_pattern()
                    };
                    match pattern {
                        Ok((ty, name)) => {
                            let end = name.as_ref().map_or(ty.span, |n| n.1);
                            let span = l.span.to(end);
                            l = Expr {
                                kind: ExprKind::IsType {
                                    expr: Box::new(l),
                                    ty,
                                    name,
                                },
                                span,
                            };
                            continue;
                        }
                        Err(()) => {
                            break Err((
                                K::NotImplemented(
                                    "patterns other than 'is T', 'is T name', 'is null' and \
                                     'is not null'"
                                        .into(),
                                ),
                                is_span.to(self.span()),
                            ));
                        }
                    }
                }
                let end = self.advance().span;
                let span = l.span.to(end);
                l = Expr {
                    kind: ExprKind::IsNull {
                        expr: Box::new(l),
                        negated,
                    },
                    span,
                };
                continue;
            }
            if min_level <= RELATIONAL_LEVEL && self.is_kw("as") {
                self.advance();
                match self.parse_type() {
                    Ok(ty) => {
                        let span = l.span.to(ty.span);
                        l = Expr {
                            kind: ExprKind::As(Box::new(l), ty),
                            span,
                        };
                        continue;
                    }
                    Err(e) => break Err(e),
                }
            }
            let Some((op, level)) = self.binop() else {
                break Ok(l);
            };
            if level < min_level {
                break Ok(l);
            }
            if op == BinOp::Shr {
                self.advance();
            }
            self.advance();
            if let Err(e) = self.enter() {
                break Err(e);
            }
            let r = match self.binary(level + 1) {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            let span = l.span.to(r.span);
            l = Expr {
                kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
                span,
            };
        };
        self.depth = depth;
        result
    }

    /// `T` or `T name` after `is`; `Err` for any other pattern.
    fn type_pattern(&mut self) -> Result<(TypeRef, Option<(String, Span)>), ()> {
        if !matches!(self.peek(), Tok::Ident(_)) {
            return Err(());
        }
        let save = self.pos;
        let Ok(ty) = self.parse_type() else {
            self.pos = save;
            return Err(());
        };
        let name = match self.peek() {
            Tok::Ident(n) if !matches!(n.as_str(), "is" | "as" | "and" | "or") => {
                Some(self.ident("a name").map_err(|_| ())?)
            }
            _ => None,
        };
        Ok((ty, name))
    }

    fn unary(&mut self) -> PResult<Expr> {
        let start = self.span();
        let op = match self.peek() {
            Tok::P("!") => Some(UnOp::Not),
            Tok::P("-") => Some(UnOp::Neg),
            Tok::P("+") => Some(UnOp::Plus),
            Tok::P("~") => Some(UnOp::BitNot),
            Tok::P("++" | "--" | "&" | "*") => {
                return Err((
                    K::NotImplemented(format!("the prefix {} operator", self.peek().describe())),
                    start,
                ));
            }
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            return self.prefixed(start, |e| ExprKind::Unary(op, e));
        }
        if let Some(ty) = self.try_cast()? {
            return self.prefixed(start, |e| ExprKind::Cast(ty, e));
        }
        self.postfix()
    }

    /// The operand of a prefix operator or cast starting at `start`, one level deeper.
    fn prefixed(&mut self, start: Span, kind: impl FnOnce(Box<Expr>) -> ExprKind) -> PResult<Expr> {
        self.enter()?;
        let e = deep(|| self.unary());
        self.leave();
        let e = e?;
        let span = start.to(e.span);
        Ok(Expr {
            kind: kind(Box::new(e)),
            span,
        })
    }

    fn try_cast(&mut self) -> PResult<Option<TypeRef>> {
        if !self.is("(") || !matches!(self.peek_at(1), Tok::Ident(_)) {
            return Ok(None);
        }
        let save = self.pos;
        self.advance();
        let ty = match self.parse_type() {
            Ok(t) if self.is(")") => t,
            _ => {
                self.pos = save;
                return Ok(None);
            }
        };
        self.advance();
        let predefined = PREDEFINED.contains(&ty.name.trim_end_matches(['?', '[', ']']))
            || ty.name.ends_with("[]");
        let next_starts_operand = match self.peek() {
            Tok::Ident(s) => s != "is" && s != "as",
            Tok::P(p) => matches!(*p, "(" | "!" | "~"),
            Tok::Eof => false,
            _ => true,
        };
        let operand_possible = next_starts_operand || matches!(self.peek(), Tok::P("-" | "+"));
        if (predefined && operand_possible) || next_starts_operand {
            Ok(Some(ty))
        } else {
            self.pos = save;
            Ok(None)
        }
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        let depth = self.depth;
        let result = loop {
            if let Err(err) = self.enter() {
                break Err(err);
            }
            let step = self.postfix_step(e);
            match step {
                Ok(Ok(next)) => e = next,
                Ok(Err(done)) => break Ok(done),
                Err(err) => break Err(err),
            }
        };
        self.depth = depth;
        result
    }

    /// One `.x`, `?.x`, `(args)`, `[i]`; `Err(e)` in the inner result means no more.
    fn postfix_step(&mut self, e: Expr) -> PResult<Result<Expr, Expr>> {
        match self.peek() {
            Tok::P(p @ ("." | "?.")) => {
                let null_cond = *p == "?.";
                self.advance();
                let (name, name_span) = self.ident("a member name")?;
                let span = e.span.to(name_span);
                let member = Expr {
                    kind: ExprKind::Member {
                        target: Box::new(e),
                        name,
                        name_span,
                        null_cond,
                    },
                    span,
                };
                if self.is("<")
                    && let Some(type_args) = self.try_type_args()
                {
                    if !self.is("(") {
                        return Err(self.expected("'(' after the type arguments"));
                    }
                    return self.call(member, type_args).map(Ok);
                }
                Ok(Ok(member))
            }
            Tok::P("(") => self.call(e, Vec::new()).map(Ok),
            Tok::P(p @ ("[" | "?[")) => {
                let null_cond = *p == "?[";
                self.advance();
                let index = self.expr()?;
                if self.is(",") {
                    return Err((
                        K::NotImplemented("indexers with several arguments".into()),
                        self.span(),
                    ));
                }
                let end = self.expect("]")?;
                let span = e.span.to(end);
                Ok(Ok(Expr {
                    kind: ExprKind::Index {
                        target: Box::new(e),
                        index: Box::new(index),
                        null_cond,
                    },
                    span,
                }))
            }
            Tok::P("++" | "--") => Err((
                K::NotImplemented("'++' and '--' inside an expression".into()),
                self.span(),
            )),
            _ => Ok(Err(e)),
        }
    }

    fn try_type_args(&mut self) -> Option<Vec<TypeRef>> {
        let save = self.pos;
        self.advance();
        let mut args = Vec::new();
        loop {
            match self.parse_type() {
                Ok(t) => args.push(t),
                Err(_) => {
                    self.pos = save;
                    return None;
                }
            }
            if self.eat(",") {
                continue;
            }
            break;
        }
        if self.eat(">") && self.is("(") {
            Some(args)
        } else {
            self.pos = save;
            None
        }
    }

    fn call(&mut self, target: Expr, type_args: Vec<TypeRef>) -> PResult<Expr> {
        self.expect("(")?;
        let mut args = Vec::new();
        if !self.is(")") {
            loop {
                let name = match (self.peek().clone(), self.peek_at(1)) {
                    (Tok::Ident(n), Tok::P(":")) => {
                        let sp = self.advance().span;
                        self.advance();
                        Some((n, sp))
                    }
                    _ => None,
                };
                if self.is_kw("ref") {
                    return Err((K::NotImplemented("'ref' arguments".into()), self.span()));
                }
                let value = if self.is_kw("out") {
                    self.out_arg()?
                } else {
                    self.expr()?
                };
                args.push(Arg { name, value });
                if self.eat(",") {
                    continue;
                }
                break;
            }
        }
        let end = self.expect(")")?;
        let span = target.span.to(end);
        Ok(Expr {
            kind: ExprKind::Call {
                target: Box::new(target),
                type_args,
                args,
            },
            span,
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        if self.is("{") && matches!(self.peek_at(1), Tok::P("{")) {
            let start = self.span();
            let rest = self.src.get(start.start as usize + 2..).unwrap_or_default();
            // a named value's name: letters, digits, `-`, `_` and `.`, up to `}}`
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .take(256)
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with("}}") {
                let at = start.start as usize;
                let span = Span::new(at, at + name.len() + 4);
                return Err((K::NamedValue(name), span));
            }
        }
        let t = self.advance();
        let span = t.span;
        let kind = match t.tok {
            Tok::Int(n) => ExprKind::Int(n as i32),
            Tok::Long(n) => ExprKind::Long(n),
            Tok::Double(d) => ExprKind::Double(d),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Char(c) => ExprKind::Char(c),
            Tok::Interp(parts) => ExprKind::Interp(self.holes(parts)?),
            Tok::Ident(id) => match id.as_str() {
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                "null" => ExprKind::Null,
                "new" => return self.new_expr(span),
                "checked" | "unchecked" => {
                    self.expect("(")?;
                    let e = self.expr()?;
                    let end = self.expect(")")?;
                    return Ok(Expr {
                        kind: ExprKind::Checked {
                            wrapping: id == "unchecked",
                            expr: Box::new(e),
                        },
                        span: span.to(end),
                    });
                }
                kw if UNIMPLEMENTED_KEYWORDS.contains(&kw) => {
                    let what = match kw {
                        "throw" => "'throw' expressions (use a 'throw' statement)".to_owned(),
                        "switch" => "'switch' expressions (use a 'switch' statement)".to_owned(),
                        _ => format!("'{kw}'"),
                    };
                    return Err((K::NotImplemented(what), span));
                }
                _ => ExprKind::Name(id),
            },
            Tok::P("(") => {
                let e = self.expr()?;
                let end = self.expect(")")?;
                return Ok(Expr {
                    kind: e.kind,
                    span: span.to(end),
                });
            }
            Tok::Eof => {
                self.pos = self.pos.min(self.toks.len() - 1);
                return Err((
                    K::Expected {
                        expected: "an expression".into(),
                        found: Tok::Eof.describe(),
                    },
                    span,
                ));
            }
            other => {
                return Err((
                    K::Expected {
                        expected: "an expression".into(),
                        found: other.describe(),
                    },
                    span,
                ));
            }
        };
        let _ = self.prev_span();
        Ok(Expr { kind, span })
    }

    /// After `new` (at `start`): an array or an object creation.
    fn new_expr(&mut self, start: Span) -> PResult<Expr> {
        let mk = |kind: New, end: Span| Expr {
            kind: ExprKind::New(kind),
            span: start.to(end),
        };
        if self.is("[") {
            self.advance();
            self.expect("]")?;
            let (elems, end) = self.array_elems()?;
            return Ok(mk(
                New::Array {
                    elem: None,
                    size: None,
                    elems: Some(elems),
                },
                end,
            ));
        }
        if self.is("{") {
            return Err((
                K::NotImplemented("anonymous types".into()),
                start.to(self.span()),
            ));
        }
        if !matches!(self.peek(), Tok::Ident(_)) {
            return Err(self.expected("a type after 'new'"));
        }
        let mut ty = self.parse_type()?;
        if let Some(elem) = ty.name.strip_suffix("[]") {
            ty.name = elem.to_owned();
            let (elems, end) = self.array_elems()?;
            return Ok(mk(
                New::Array {
                    elem: Some(ty),
                    size: None,
                    elems: Some(elems),
                },
                end,
            ));
        }
        if self.eat("[") {
            let size = self.expr()?;
            let mut end = self.expect("]")?;
            if self.is("[") {
                return Err((K::NotImplemented("arrays of arrays".into()), self.span()));
            }
            let elems = if self.is("{") {
                let (e, at) = self.array_elems()?;
                end = at;
                Some(e)
            } else {
                None
            };
            return Ok(mk(
                New::Array {
                    elem: Some(ty),
                    size: Some(Box::new(size)),
                    elems,
                },
                end,
            ));
        }
        let mut args = Vec::new();
        let mut end = ty.span;
        if self.is("(") {
            let target = Expr {
                kind: ExprKind::Null,
                span: start,
            };
            let call = self.call(target, Vec::new())?;
            end = call.span;
            if let ExprKind::Call { args: a, .. } = call.kind {
                args = a;
            }
        } else if !self.is("{") {
            return Err(self.expected("'(' or '{' after the type"));
        }
        let init = if self.is("{") {
            let init = self.initializer()?;
            end = init.span;
            Some(init)
        } else {
            None
        };
        Ok(mk(New::Object { ty, args, init }, end))
    }

    /// `{ item, ... }` after `new T(...)` (a trailing comma allowed).
    fn initializer(&mut self) -> PResult<Init> {
        let open = self.expect("{")?;
        let mut items = Vec::new();
        while !self.is("}") {
            let item = if self.is("{") {
                let (elems, end) = self.array_elems()?;
                let start = elems.first().map_or(end, |e| e.span);
                InitItem::Add(elems, start.to(end))
            } else if self.eat("[") {
                let key = self.expr()?;
                self.expect("]")?;
                self.expect("=")?;
                InitItem::Index(key, self.expr()?)
            } else if matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::P("="))
            {
                let (name, sp) = self.ident("a member name")?;
                self.advance();
                InitItem::Member(name, sp, self.expr()?)
            } else {
                let e = self.expr()?;
                let sp = e.span;
                InitItem::Add(vec![e], sp)
            };
            items.push(item);
            if !self.eat(",") {
                break;
            }
        }
        let close = self.expect("}")?;
        Ok(Init {
            items,
            span: open.to(close),
        })
    }

    /// After `out`: `var x`, `T x` or `x`.
    fn out_arg(&mut self) -> PResult<Expr> {
        let start = self.advance().span;
        let ty = if matches!(self.peek_at(1), Tok::Ident(_) | Tok::P("<" | "[" | ".")) {
            Some(self.parse_type()?)
        } else {
            None
        };
        let (name, name_span) = self.ident("a variable name")?;
        Ok(Expr {
            kind: ExprKind::Out {
                ty,
                name,
                name_span,
            },
            span: start.to(name_span),
        })
    }

    /// `{ e, e, ... }` (a trailing comma allowed), and the span of the `}`.
    fn array_elems(&mut self) -> PResult<(Vec<Expr>, Span)> {
        self.expect("{")?;
        let mut elems = Vec::new();
        while !self.is("}") {
            elems.push(self.expr()?);
            if !self.eat(",") {
                break;
            }
        }
        let end = self.expect("}")?;
        Ok((elems, end))
    }

    fn holes(&mut self, parts: Vec<RawPart>) -> PResult<Vec<Part>> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                RawPart::Lit(s) => out.push(Part::Lit(s)),
                RawPart::Hole(span, fmt) => {
                    let mut sub = Parser::new(
                        self.src,
                        span.start as usize,
                        span.end as usize,
                        self.max_depth.saturating_sub(self.depth),
                    )?;
                    if matches!(sub.peek(), Tok::Eof) {
                        return Err((K::Empty, span));
                    }
                    let e = sub.expr()?;
                    sub.at_end()?;
                    out.push(Part::Hole(Box::new(e), fmt));
                }
            }
        }
        Ok(out)
    }
}
