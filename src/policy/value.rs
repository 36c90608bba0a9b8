//! Attribute and text values, and THE SEAM where expressions get compiled.
//!
//! Every attribute value and every text value of a policy that may hold a policy
//! expression is kept as a [`PolicyValue`]: the entity-decoded text (what an expression
//! compiler must see: `&quot;` is already `"`), the raw source slice, and the exact
//! position of its first character. `{{named-value}}` references are *not* substituted:
//! they stay in the text literally (named values are a deployment-time substitution that
//! certgate does not model yet).
//!
//! ## The compile seam
//!
//! [`compile_expression`] is the one function through which every expression of a
//! loaded document passes, and [`Expression`] (holding `expr`'s compiled program) can
//! only be built by it: every expression is compiled once, at load, with positions
//! mapped back to the file.

use super::csharp::{self, ScanError};
use super::error::{Location, PolicyError};
use crate::expr;
use std::fmt;
use std::ops::Range;

/// Whether a value is a policy expression (`@(...)` or `@{...}`) or literal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Plain text (possibly with `{{named-value}}` references, left as they are).
    Literal,
    /// `@(expression)` or `@{ statements }`: the whole value.
    Expression,
}

/// A value as written in the policy file, with its position.
#[derive(Clone, PartialEq, Eq)]
pub struct PolicyValue {
    text: String,
    raw: String,
    origin: Location,
    span: Range<usize>,
    /// `(decoded offset, raw offset)` after each entity reference, both relative to the
    /// value's start; between two anchors decoded and raw text are identical.
    anchors: Vec<(usize, usize)>,
    kind: ValueKind,
}

impl fmt::Debug for PolicyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PolicyValue({:?}, {:?} at {})",
            self.kind, self.text, self.origin
        )
    }
}

impl PolicyValue {
    /// Builds a value. `raw` is the exact source slice at `span`, `origin` the position
    /// of its first character. Attribute values are expressions when they start with
    /// `@(` or `@{`.
    pub(crate) fn new(
        text: String,
        raw: String,
        origin: Location,
        span: Range<usize>,
        anchors: Vec<(usize, usize)>,
    ) -> Self {
        PolicyValue {
            kind: kind_of(&text),
            text,
            raw,
            origin,
            span,
            anchors,
        }
    }

    /// An empty literal at `at` (an element without text).
    pub(crate) fn empty(at: Location) -> Self {
        let offset = at.offset;
        PolicyValue::new(String::new(), String::new(), at, offset..offset, Vec::new())
    }

    /// The decoded text: what an expression compiler must parse, or the literal string.
    /// For an expression it includes the `@(`…`)` / `@{`…`}` delimiters.
    pub fn source(&self) -> &str {
        &self.text
    }

    /// The exact text in the file (entities not decoded).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Position of the first character (file, line, column, byte offset).
    pub fn origin(&self) -> &Location {
        &self.origin
    }

    /// Byte span of the raw value in the file.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// Literal or expression.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// True for `@(...)` / `@{...}`.
    pub fn is_expression(&self) -> bool {
        self.kind == ValueKind::Expression
    }

    /// The position in the file of byte `offset` of [`PolicyValue::source`] (decoded
    /// text), for errors inside an expression. Exact for values read from one run of
    /// text; offsets past the end map to the end.
    pub fn position_of(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let (dec, raw) = self
            .anchors
            .iter()
            .rev()
            .find(|(d, _)| *d <= offset)
            .copied()
            .unwrap_or((0, 0));
        let mut raw_offset = (raw + (offset - dec)).min(self.raw.len());
        while !self.raw.is_char_boundary(raw_offset) {
            raw_offset -= 1;
        }
        let mut at = self.origin.clone();
        for c in self.raw[..raw_offset].chars() {
            if c == '\n' {
                at.line = at.line.saturating_add(1);
                at.column = 1;
            } else {
                at.column = at.column.saturating_add(1);
            }
        }
        at.offset = self.span.start + raw_offset;
        at
    }

    /// The value with leading and trailing whitespace removed (positions kept exact).
    pub(crate) fn trimmed(&self) -> PolicyValue {
        let start = self.text.len() - self.text.trim_start().len();
        let end = self.text.trim_end().len().max(start);
        let raw_start = self.position_of(start).offset - self.span.start;
        let raw_end = (self.position_of(end).offset - self.span.start).max(raw_start);
        let anchors = self
            .anchors
            .iter()
            .filter(|(d, _)| *d >= start && *d <= end)
            .map(|(d, r)| (d - start, r.saturating_sub(raw_start)))
            .collect();
        PolicyValue::new(
            self.text[start..end].to_owned(),
            self.raw
                .get(raw_start..raw_end)
                .unwrap_or_default()
                .to_owned(),
            self.position_of(start),
            self.span.start + raw_start..self.span.start + raw_end,
            anchors,
        )
    }

    /// Appends `other` (the next piece of text of the same element).
    pub(crate) fn append(&mut self, other: &PolicyValue) {
        let (dec, raw) = (self.text.len(), self.raw.len());
        self.anchors.push((dec, raw));
        self.anchors
            .extend(other.anchors.iter().map(|(d, r)| (d + dec, r + raw)));
        self.text.push_str(&other.text);
        self.raw.push_str(&other.raw);
        self.span.end = other.span.end;
        self.kind = kind_of(&self.text);
    }

    /// Checks that an expression value is exactly one balanced expression.
    pub(crate) fn check_expression_whole(&self, what: &str) -> Result<(), PolicyError> {
        if !self.is_expression() {
            return Ok(());
        }
        match csharp::expression_len(&self.text) {
            Ok(Some(n)) if n == self.text.len() => Ok(()),
            Ok(Some(n)) => Err(PolicyError::Syntax {
                at: self.position_of(n),
                message: format!(
                    "unexpected text after the expression in {what}; an expression must be the whole value"
                ),
            }),
            Ok(None) => Err(PolicyError::Syntax {
                at: self.origin.clone(),
                message: unclosed_message(&self.text),
            }),
            Err(e) => Err(PolicyError::Syntax {
                at: self.origin.clone(),
                message: scan_error_message(&e),
            }),
        }
    }
}

/// A value is an expression when it starts with `@(` or `@{`.
fn kind_of(text: &str) -> ValueKind {
    if text.starts_with("@(") || text.starts_with("@{") {
        ValueKind::Expression
    } else {
        ValueKind::Literal
    }
}

pub(crate) fn unclosed_message(text: &str) -> String {
    let (open, close) = if text.starts_with("@{") {
        ("@{", '}')
    } else {
        ("@(", ')')
    };
    format!(
        "`{open}` is never closed: missing `{close}` (check the brackets, and that every string literal in the expression is closed)"
    )
}

pub(crate) fn scan_error_message(e: &ScanError) -> String {
    match e {
        ScanError::Mismatched { found, expected } => format!(
            "unbalanced expression: found `{found}` where `{expected}` closes the innermost bracket"
        ),
        ScanError::TooDeep => format!(
            "expression nests brackets deeper than {}",
            csharp::MAX_BRACKET_DEPTH
        ),
    }
}

/// An expression of a loaded policy: its source and its compiled program.
/// Only [`compile_expression`] builds one.
#[derive(Debug, Clone)]
pub struct Expression {
    source: PolicyValue,
    compiled: expr::Compiled,
}

/// Two expressions are the same when they are written the same at the same place.
impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Expression {}

impl Expression {
    /// The value as written (source text, position).
    pub fn source(&self) -> &PolicyValue {
        &self.source
    }

    /// The expression's value for this request.
    pub fn eval(&self, ctx: &expr::Context) -> Result<expr::Value, expr::EvalError> {
        self.compiled.eval(ctx)
    }

    /// The statically known result type (`bool`, `string`, ...).
    pub fn result_type(&self) -> String {
        self.compiled.result_type()
    }

    /// Which message bodies the expression reads.
    pub fn reads(&self) -> expr::BodyReads {
        self.compiled.reads()
    }

    /// Whether the value can be a `bool` (see [`expr::Compiled::may_be_bool`]).
    pub fn may_be_bool(&self) -> bool {
        self.compiled.may_be_bool()
    }
}

/// THE SEAM: compiles one expression value of a policy document with [`expr`], once,
/// when the document loads. An error points at the exact character in the file, entities
/// and line breaks accounted for.
pub fn compile_expression(value: &PolicyValue) -> Result<Expression, PolicyError> {
    debug_assert!(value.is_expression());
    value.check_expression_whole("the value")?;
    let origin = value.origin();
    let compiled = expr::compile(
        value.source(),
        expr::Origin::new(origin.file.clone(), origin.line, origin.column),
    )
    .map_err(|e| PolicyError::Expression {
        at: value.position_of(e.span.start as usize),
        message: e.kind.to_string(),
    })?;
    Ok(Expression {
        source: value.clone(),
        compiled,
    })
}

/// An attribute or text that is either a literal, already validated and converted to
/// `T` at load time, or an expression to evaluate per request (whose result the
/// executor converts and validates the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param<T> {
    /// A literal, converted at load time. The `PolicyValue` keeps text and position.
    Literal(T, PolicyValue),
    /// A policy expression.
    Expression(Expression),
}

impl<T> Param<T> {
    /// The value as written.
    pub fn source(&self) -> &PolicyValue {
        match self {
            Param::Literal(_, v) => v,
            Param::Expression(e) => e.source(),
        }
    }

    /// Which message bodies the value reads: none for a literal.
    pub fn reads(&self) -> expr::BodyReads {
        match self {
            Param::Literal(..) => expr::BodyReads::default(),
            Param::Expression(e) => e.reads(),
        }
    }

    /// The literal, if this is not an expression.
    pub fn literal(&self) -> Option<&T> {
        match self {
            Param::Literal(t, _) => Some(t),
            Param::Expression(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn location(file: &Arc<str>, line: u32, column: u32, offset: usize) -> Location {
        Location {
            file: Arc::clone(file),
            line,
            column,
            offset,
        }
    }

    fn value(text: &str, raw: &str, anchors: Vec<(usize, usize)>) -> PolicyValue {
        let file: Arc<str> = Arc::from("f.xml");
        PolicyValue::new(
            text.into(),
            raw.into(),
            location(&file, 3, 10, 100),
            100..100 + raw.len(),
            anchors,
        )
    }

    #[test]
    fn positions_map_through_entities_and_newlines() {
        // raw: @(a == &quot;x&quot;)   decoded: @(a == "x")
        let v = value(
            "@(a == \"x\")",
            "@(a == &quot;x&quot;)",
            vec![(8, 13), (10, 20)],
        );
        assert!(v.is_expression());
        assert_eq!(v.position_of(0).column, 10);
        assert_eq!(v.position_of(7).column, 17); // the first quote
        assert_eq!(v.position_of(8).column, 23); // x, after &quot;
        assert_eq!(v.position_of(10).column, 30); // ')'
        let v = value("a\nbc", "a\nbc", vec![]);
        let at = v.position_of(3);
        assert_eq!((at.line, at.column, at.offset), (4, 2, 103));
    }

    #[test]
    fn trimmed_keeps_exact_positions() {
        let v = value("\n  @(x)  ", "\n  @(x)  ", vec![]).trimmed();
        assert_eq!(v.source(), "@(x)");
        assert_eq!((v.origin().line, v.origin().column), (4, 3));
        assert!(v.is_expression());
    }

    #[test]
    fn text_after_an_expression_is_an_error() {
        let v = value("@(a) + b", "@(a) + b", vec![]);
        let e = v.check_expression_whole("condition").unwrap_err();
        assert_eq!(e.location().column, 14);
        assert!(e.message().contains("must be the whole value"), "{e}");
    }
}
