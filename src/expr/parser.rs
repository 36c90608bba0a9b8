//! Tokens to syntax tree: recursive descent with C#'s precedence, and a depth cap so that
//! `((((...` can never overflow the stack.

use super::ast::{Arg, BinOp, Expr, ExprKind, Part, Stmt, TypeRef, UnOp};
use super::diagnostic::CompileErrorKind as K;
use super::lexer::{RawPart, Tok, Token, lex};
use super::span::Span;

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

const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "new",
    "typeof",
    "nameof",
    "default",
    "checked",
    "unchecked",
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
        let r = self.stmt_inner();
        self.leave();
        r
    }

    fn stmt_inner(&mut self) -> PResult<Stmt> {
        if self.is("{") {
            self.advance();
            let s = self.stmts_until_close()?;
            self.expect("}")?;
            return Ok(Stmt::Block(s));
        }
        if self.eat(";") {
            return Ok(Stmt::Block(Vec::new()));
        }
        if let Tok::Ident(kw) = self.peek().clone() {
            match kw.as_str() {
                "return" => {
                    let sp = self.advance().span;
                    if self.is(";") {
                        return Err(self.expected("a value after 'return'"));
                    }
                    let e = self.expr()?;
                    self.expect(";")?;
                    return Ok(Stmt::Return(e, sp));
                }
                "if" => {
                    self.advance();
                    self.expect("(")?;
                    let c = self.expr()?;
                    self.expect(")")?;
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
                "for" | "while" | "do" | "switch" | "try" | "throw" | "goto" | "break"
                | "continue" | "using" | "lock" | "yield" | "const" => {
                    return Err((K::Unsupported(format!("the '{kw}' statement")), self.span()));
                }
                _ => {}
            }
            if let Some(decl) = self.try_declaration()? {
                return Ok(decl);
            }
            if matches!(
                self.peek_at(1),
                Tok::P("=" | "+=" | "-=" | "*=" | "/=" | "%=")
            ) {
                let (name, name_span) = self.ident("a name")?;
                let op = match self.advance().tok {
                    Tok::P("+=") => Some(BinOp::Add),
                    Tok::P("-=") => Some(BinOp::Sub),
                    Tok::P("*=") => Some(BinOp::Mul),
                    Tok::P("/=") => Some(BinOp::Div),
                    Tok::P("%=") => Some(BinOp::Rem),
                    _ => None,
                };
                let value = self.expr()?;
                self.expect(";")?;
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
                self.expect(";")?;
                return Ok(Stmt::Assign {
                    name,
                    name_span,
                    op: Some(op),
                    value: Expr {
                        kind: ExprKind::Int(1),
                        span: name_span,
                    },
                });
            }
        }
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
                    expected: "a statement (declaration, assignment, call, if, foreach or return)"
                        .to_owned(),
                    found: "an expression".to_owned(),
                },
                e.span,
            ));
        }
        self.expect(";")?;
        Ok(Stmt::Expr(e))
    }

    /// `var x = e;` or `Type x = e;`
    fn try_declaration(&mut self) -> PResult<Option<Stmt>> {
        let save = self.pos;
        let Ok(ty) = self.parse_type() else {
            self.pos = save;
            return Ok(None);
        };
        let Tok::Ident(_) = self.peek() else {
            self.pos = save;
            return Ok(None);
        };
        if !matches!(self.peek_at(1), Tok::P("=" | ";" | ",")) {
            self.pos = save;
            return Ok(None);
        }
        let (name, name_span) = self.ident("a variable name")?;
        if !self.is("=") {
            return Err(self.expected("'=' and an initial value"));
        }
        self.advance();
        let init = self.expr()?;
        self.expect(";")?;
        Ok(Some(Stmt::Var {
            ty: (ty.name != "var").then_some(ty),
            name,
            name_span,
            init,
        }))
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
        let r = self.expr_inner();
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
                K::Unsupported("a lambda with a block body; use an expression body".to_owned()),
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
            let r = self.coalesce();
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

    /// The binary operator at the cursor and its precedence level (0 `||` .. 5 `*`).
    fn binop(&self) -> Option<(BinOp, usize)> {
        let Tok::P(p) = self.peek() else { return None };
        Some(match *p {
            "||" => (BinOp::Or, 0),
            "&&" => (BinOp::And, 1),
            "==" => (BinOp::Eq, 2),
            "!=" => (BinOp::Ne, 2),
            "<" => (BinOp::Lt, 3),
            "<=" => (BinOp::Le, 3),
            ">" => (BinOp::Gt, 3),
            ">=" => (BinOp::Ge, 3),
            "+" => (BinOp::Add, 4),
            "-" => (BinOp::Sub, 4),
            "*" => (BinOp::Mul, 5),
            "/" => (BinOp::Div, 5),
            "%" => (BinOp::Rem, 5),
            _ => return None,
        })
    }

    /// Precedence climbing over the operators of level `min_level` and above; operators
    /// are left-associative. One stack frame per nesting, not per precedence level.
    fn binary(&mut self, min_level: usize) -> PResult<Expr> {
        let mut l = self.unary()?;
        let depth = self.depth;
        let result = loop {
            if min_level <= 3 && self.is_kw("is") {
                let is_span = self.advance().span;
                let negated = if self.is_kw("not") {
                    self.advance();
                    true
                } else {
                    false
                };
                if !self.is_kw("null") {
                    break Err((
                        K::Unsupported("a pattern other than 'is null' or 'is not null'".into()),
                        is_span.to(self.span()),
                    ));
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
            if self.is_kw("as") {
                break Err((K::Unsupported("the 'as' operator".into()), self.span()));
            }
            if matches!(self.peek(), Tok::P("&" | "|" | "^" | "<<")) {
                break Err((
                    K::Unsupported(format!("the {} operator", self.peek().describe())),
                    self.span(),
                ));
            }
            let Some((op, level)) = self.binop() else {
                break Ok(l);
            };
            if level < min_level {
                break Ok(l);
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

    fn unary(&mut self) -> PResult<Expr> {
        let start = self.span();
        let op = match self.peek() {
            Tok::P("!") => Some(UnOp::Not),
            Tok::P("-") => Some(UnOp::Neg),
            Tok::P("+") => Some(UnOp::Plus),
            Tok::P("++" | "--" | "~" | "&" | "*") => {
                return Err((
                    K::Unsupported(format!("the prefix {} operator", self.peek().describe())),
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
        let e = self.unary();
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
                        K::Unsupported("an indexer with several arguments".into()),
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
                K::Unsupported("'++' and '--' inside an expression".into()),
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
                if self.is_kw("out") || self.is_kw("ref") {
                    return Err((
                        K::Unsupported("an 'out' or 'ref' argument (TryGetValue, TryParse)".into()),
                        self.span(),
                    ));
                }
                let value = self.expr()?;
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
                kw if UNSUPPORTED_KEYWORDS.contains(&kw) => {
                    let what = match kw {
                        "new" => "object creation ('new')".to_owned(),
                        "throw" => "'throw'".to_owned(),
                        _ => format!("'{kw}'"),
                    };
                    return Err((K::Unsupported(what), span));
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
