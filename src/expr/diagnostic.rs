//! Errors as data (kind + span), and their rendering: `file:line:col: error: message`, the
//! source line and a caret under the offending span.

use std::fmt;
use std::sync::Arc;

use super::span::{Location, Origin, Span, floor_char_boundary, locate};

/// The text of one expression and where it came from; shared by a compiled expression and
/// every error it reports.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub origin: Origin,
    pub text: String,
}

impl Source {
    pub fn new(text: &str, origin: Origin) -> Arc<Self> {
        Arc::new(Source {
            origin,
            text: text.to_owned(),
        })
    }

    pub fn locate(&self, span: Span) -> Location {
        locate(&self.origin, &self.text, span.start)
    }

    /// The source line holding `span.start`, and a caret line under the span.
    pub fn snippet(&self, span: Span) -> (String, String) {
        let text = &self.text;
        let start = floor_char_boundary(text, span.start as usize);
        let end = floor_char_boundary(text, (span.end as usize).max(start));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[line_start..line_end].trim_end_matches('\r');
        let pad: String = text[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = text[start..end.min(line_end)].chars().count().max(1);
        (line.to_owned(), format!("{pad}{}", "^".repeat(width)))
    }

    fn render(&self, span: Span, severity: &str, message: &dyn fmt::Display) -> String {
        let loc = self.locate(span);
        let (line, caret) = self.snippet(span);
        format!(
            "{}:{}:{}: {severity}: {message}\n  {line}\n  {caret}",
            loc.file, loc.line, loc.column
        )
    }
}

/// What is wrong with an expression, found when the policy is loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileErrorKind {
    #[error("the expression is {len} bytes long; the limit is {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("the expression is nested too deeply (more than {limit} levels)")]
    TooDeep { limit: u32 },
    #[error("unexpected character '{0}'")]
    UnexpectedChar(char),
    #[error("unterminated string literal: add the closing '\"'")]
    UnterminatedString,
    #[error("unterminated character literal: add the closing '''")]
    UnterminatedChar,
    #[error("unterminated comment: add the closing '*/'")]
    UnterminatedComment,
    #[error("invalid escape sequence '{0}'")]
    InvalidEscape(String),
    #[error("invalid number '{0}'")]
    InvalidNumber(String),
    #[error("the number {0} is too large for int or long")]
    NumberTooLarge(String),
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("unexpected {0} after the end of the expression")]
    TrailingText(String),
    #[error("the expression is empty")]
    Empty,
    #[error("{0} is not supported in policy expressions")]
    Unsupported(String),
    #[error("the name '{0}' does not exist in the current context")]
    UnknownName(String),
    /// `hint` is empty or `; did you mean 'Thumbprint'?`.
    #[error("'{member}' is not a member of {ty}{hint}")]
    NotAMember {
        member: String,
        ty: String,
        hint: String,
    },
    #[error("'{ty}.{member}' is not supported in policy expressions")]
    MemberNotSupported { member: String, ty: String },
    #[error("the type '{0}' is not supported in policy expressions")]
    UnknownType(String),
    #[error("'{method}' expects {expected}")]
    Arguments { method: String, expected: String },
    #[error("cannot convert {found} to {expected}")]
    TypeMismatch { expected: String, found: String },
    #[error("operator '{op}' cannot be applied to operands of type {left} and {right}")]
    BadOperands {
        op: &'static str,
        left: String,
        right: String,
    },
    #[error("operator '{op}' cannot be applied to an operand of type {ty}")]
    BadOperand { op: &'static str, ty: String },
    #[error("cannot convert type {from} to {to}")]
    BadCast { from: String, to: String },
    #[error("not all code paths return a value: end every path of the @{{ }} block with 'return'")]
    MissingReturn,
    #[error("a local variable named '{0}' is already defined in this scope")]
    DuplicateLocal(String),
    #[error("cannot assign to '{0}': only local variables can be assigned")]
    NotAssignable(String),
    #[error("cannot use a lambda expression here: lambdas are arguments of LINQ methods")]
    MisplacedLambda,
    #[error("a null value cannot infer the type of 'var {0}': give the variable a type")]
    NullVar(String),
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    #[error("this constant expression fails: {0}")]
    Constant(EvalErrorKind),
    // C# 7 statements and object creation (i15)
    /// C# that APIM compiles but certgate does not run yet: refused at load, never
    /// mistaken for a typo.
    #[error("certgate does not implement {0} yet")]
    NotImplemented(String),
    #[error("the type '{0}' is not available: APIM does not allow this type in policy expressions")]
    TypeNotAllowed(String),
    /// A statement where C# forbids it (`break` outside a loop, `return` in `finally`).
    #[error("{0}")]
    Misplaced(String),
    /// `{{name}}` left in expression code: the policy reader replaces named values
    /// before expressions are compiled, so this one was not defined.
    #[error(
        "'{{{{{0}}}}}' is a named value: certgate replaces it with its text before compiling the expression, and no named value '{0}' is defined here; add `\"{0}\" = \"...\"` to [named_values] in gateway.toml"
    )]
    NamedValue(String),
}

/// A load-time error: what is wrong, where, and the text it is in.
#[derive(Debug, Clone)]
pub struct ExprError {
    pub kind: CompileErrorKind,
    pub span: Span,
    pub source: Arc<Source>,
}

impl PartialEq for ExprError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.span == other.span
    }
}

impl ExprError {
    pub fn location(&self) -> Location {
        self.source.locate(self.span)
    }

    /// `file:line:col: error: message`, the source line and a caret under the span.
    pub fn render(&self) -> String {
        self.source.render(self.span, "error", &self.kind)
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.location();
        write!(
            f,
            "{}:{}:{}: error: {}",
            loc.file, loc.line, loc.column, self.kind
        )
    }
}

impl std::error::Error for ExprError {}

/// Why evaluating an expression failed for one request. APIM maps every one of these to
/// on-error with `LastError.Reason = "ExpressionValueEvaluationFailure"`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalErrorKind {
    #[error("object reference not set to an instance of an object ('{0}' was read on null)")]
    NullReference(String),
    #[error("attempted to divide by zero")]
    DivideByZero,
    #[error("arithmetic operation resulted in an overflow")]
    Overflow,
    #[error("unable to cast a value of type {from} to type {to}")]
    InvalidCast { from: String, to: String },
    #[error("the given key '{0}' was not present in the dictionary")]
    KeyNotFound(String),
    #[error("variable '{name}' holds a value of type {found}, not {expected}")]
    VariableType {
        name: String,
        expected: String,
        found: String,
    },
    #[error("index was out of range: {0}")]
    IndexOutOfRange(String),
    #[error("invalid argument: {0}")]
    Argument(String),
    /// Build the text with `quoted`: it ends up in `context.LastError.Message` and logs.
    #[error("input string was not in a correct format: {0}")]
    Format(String),
    #[error("the body was streamed through without buffering, so no policy can read it")]
    StreamedBody,
    #[error("sequence contains no elements")]
    NoElements,
    #[error("sequence contains no matching element")]
    NoMatch,
    /// .NET's InvalidOperationException with its message.
    #[error("{0}")]
    InvalidOperation(String),
    #[error(
        "the expression ran more than {0} steps (a step is a loop iteration, a call, or 16 bytes of text copied, searched or compared): it does too much work for one request"
    )]
    StepLimit(u64),
    #[error(
        "the request's expressions ran more than {0} steps in all: the policy does too much work for one request (evaluate fewer or cheaper expressions, e.g. read a large body once into a variable)"
    )]
    RequestStepLimit(u64),
    #[error("{what} would be longer than the limit of {limit}")]
    SizeLimit { what: &'static str, limit: usize },
    #[error("internal error: {0} (please report this as a bug)")]
    Internal(String),
    /// JSON that does not parse, a token of the wrong kind, an unsupported JSONPath.
    #[error("{0}")]
    /// (`json::JsonError` as text: this module stays below the ones that raise errors.)
    Json(String),
    /// .NET's CryptographicException: a key or IV of the wrong size, bad padding.
    #[error("cryptographic error: {0}")]
    Cryptographic(String),
    /// XML that does not parse, a name that is not one, content .NET refuses.
    #[error("{0}")]
    /// (`xlinq::XmlError` as text, as `Json`.)
    Xml(String),
    /// `throw new Exception(message)` that no `catch` handled.
    #[error("the expression threw an exception: {0}")]
    Thrown(String),
}

/// A runtime error with the span of the operation that failed.
#[derive(Debug, Clone)]
pub struct EvalError {
    pub kind: EvalErrorKind,
    pub span: Span,
    pub source: Arc<Source>,
}

impl PartialEq for EvalError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.span == other.span
    }
}

impl EvalError {
    /// APIM's `context.LastError.Reason` for a failed expression.
    pub const REASON: &'static str = "ExpressionValueEvaluationFailure";

    pub fn location(&self) -> Location {
        self.source.locate(self.span)
    }

    /// The message without position, for `context.LastError.Message`.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    /// `file:line:col: error: message`, the source line and a caret under the span.
    pub fn render(&self) -> String {
        self.source.render(self.span, "error", &self.kind)
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.location();
        write!(
            f,
            "{}:{}:{}: error: {}",
            loc.file, loc.line, loc.column, self.kind
        )
    }
}

impl std::error::Error for EvalError {}

/// Input quoted in an error message, at most [`QUOTED_CHARS`] characters of it: the input
/// may be a client's body of megabytes, and the message goes to logs and to
/// `context.LastError.Message`.
pub(crate) fn quoted(input: &str) -> String {
    match input.char_indices().nth(QUOTED_CHARS) {
        None => format!("'{input}'"),
        Some((end, _)) => format!("'{}...' ({} bytes)", &input[..end], input.len()),
    }
}

const QUOTED_CHARS: usize = 64;
