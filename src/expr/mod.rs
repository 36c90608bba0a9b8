//! The C# subset of APIM policy expressions: lexer, parser, checker, evaluator.
//!
//! An attribute value or element text is compiled once, when the policy loads:
//!
//! * text that (after trimming whitespace) starts with `@(` is one C# expression,
//! * text that starts with `@{` is a statement block where every path ends in `return`,
//! * anything else is a literal and stays as written.
//!
//! Compiling parses, resolves every name and member against the `context` model, checks
//! the types that can be known, folds constants and turns
//! `context.Deployment.Certificates.Any(c => c.Value.Thumbprint == x)` into a hash lookup.
//! A member that does not exist or is not supported is a load-time error with the file,
//! line and column, rendered with a caret by [`ExprError::render`].
//!
//! Evaluation ([`Compiled::eval`]) reads a [`Context`] and never panics, never hangs: steps,
//! string and collection sizes are limited ([`Limits`]), integer overflow and division by
//! zero are errors ([`EvalError`]), which the pipeline maps to on-error with
//! `LastError.Reason = "ExpressionValueEvaluationFailure"`. Steps count the work done, bytes
//! copied or searched included, so a loop that copies a large body over and over stops
//! early with [`EvalErrorKind::StepLimit`].
//!
//! # Using it
//!
//! ```ignore
//! // at load: origin = file, line, column of the value's first character
//! let cond = expr::compile(value_text, Origin::new("policies/orders.xml", 12, 34))?;
//! // per request: the gateway fills a Context (certificates and deployment data by Arc)
//! let mut ctx = Context::new(now);
//! ctx.request.certificate = Some(client_cert);
//! ctx.deployment = deployment.clone();                 // Arc<expr::Deployment>
//! ctx.verifier = Some(verifier);                      // Arc<dyn trust::Verifier>
//! if cond.eval(&ctx)?.as_bool() == Some(true) { /* ... */ }
//! ctx.variables.insert("name".into(), value);          // set-variable
//! ```
//!
//! An error's `span` is a byte range in the text given to `compile`; a loader that decoded
//! XML entities can map it back to the file itself, or use [`ExprError::location`] /
//! [`ExprError::render`], which count from the [`Origin`] one byte for one column.
//!
//! # What expressions may use
//!
//! * literals: strings with C# escapes, `@"verbatim"`, `$"interpolated {x:format}"`,
//!   chars, int, long (`L`), double, `true`, `false`, `null`;
//! * operators with C# precedence: `! - + * / % < <= > >= == != && || ?: ?? ?. ?[]`,
//!   bitwise `& | ^ ~ << >>` (on bool `& | ^` evaluate both sides), `checked(e)` and
//!   `unchecked(e)` and `unchecked { }` (integer `+ - *`, negation and casts wrap), casts
//!   `(string)`, `(int)`, `(long)`, `(double)`, `(bool)`, `(char)`, `is null`,
//!   `is not null`, indexers, generic calls (`GetValueOrDefault<bool>`, `As<string>`),
//!   lambdas `x => ...` and `(x, i) => ...` as LINQ arguments;
//! * statements in `@{ }`: `var`/typed declarations (with or without a value, `const`),
//!   assignment (`=`, `+=`, ..., `++`), `if`/`else`, `foreach`, `for`, `while`, `do`,
//!   `break`/`continue`, `switch`, `try`/`catch (Exception e)`/`finally`/`throw`, local
//!   functions, blocks, `return` (every path must return); `is T x` and `as T`;
//! * `new`: arrays (`new[] { }`, `new T[n]`), `TimeSpan`, `DateTime`, `DateTimeOffset`,
//!   `Uri`, `StringBuilder`, `Random` (a seed gives .NET's sequence), `Exception`,
//!   `JObject`, `JArray`, `JProperty`, `JValue`, `AesManaged`;
//!   namespace-qualified names (`System.Text.Encoding.UTF8`);
//! * `context` as in APIM: Request, Response, Variables, Deployment, Api, Operation,
//!   LastError, RequestId, Timestamp, Elapsed (User, Subscription, Product are null);
//! * `X509Certificate2`: Subject, Issuer, SubjectName.Name, IssuerName.Name, Thumbprint,
//!   SerialNumber, NotBefore, NotAfter, Version, SignatureAlgorithm.Value/FriendlyName,
//!   RawData, GetNameInfo, GetSerialNumberString, GetCertHashString, Verify(),
//!   VerifyNoRevocation();
//! * string members and `string.IsNullOrEmpty/IsNullOrWhiteSpace/Join/Format/Concat/Equals`,
//!   LINQ (Any All Count Where Select First FirstOrDefault Last LastOrDefault Contains
//!   ToArray ToList Distinct Skip Take) over arrays, strings and the context's dictionaries,
//!   DateTime, DateTimeOffset (offsets kept; Unix time) and TimeSpan, Array.Exists /
//!   IndexOf / Find / FindAll / TrueForAll, Convert (base64, ToInt32, ...), Encoding.UTF8,
//!   Math, Regex
//!   (IsMatch, Match(..).Groups, Replace, Escape; linear-time engine: no look-around or
//!   back-references), int/long/double/bool.Parse, and the enums X509NameType,
//!   StringComparison, StringSplitOptions, DateTimeKind, RegexOptions;
//! * Newtonsoft.Json: `Body.As<JObject>()` / `As<JArray>()` / `As<JToken>()`,
//!   `JObject.Parse`, `JArray.Parse`, `JToken.Parse`, `JsonConvert.SerializeObject` and
//!   `DeserializeObject` (untyped or `<JObject>`, `<JArray>`, `<JToken>`), indexers and
//!   `token[index] = value;`, `Value<T>()`, `Value<T>(key)`, casts `(string)t`, `(int)t`,
//!   `(JObject)t`, ..., `SelectToken` (`$`, `.name`, `['name']`, `[n]`), `Properties()`,
//!   `Add`, `Remove`, `ContainsKey`, `Count`, `Type`, `HasValues`, `JProperty.Name/Value`,
//!   `ToString()` (indented) and `ToString(Formatting.None)`, written byte for byte as
//!   Json.NET 13 writes them (see `json`);
//! * APIM's extensions: `AsJwt`/`TryParseJwt`, `AsBasic`/`TryParseBasic`
//!   (BasicAuthCredentials), `Body.AsFormUrlEncodedContent()` with `ToQueryString()` /
//!   `ToFormUrlEncodedContent()`, `byte[].Encrypt`/`Decrypt` (AES-CBC, by name or with an
//!   `Aes.Create()` object whose Key, IV, KeySize, Mode and Padding may be set).
//!
//! Differences from APIM, on purpose or for lack of a source: `DateTime.Now` is UTC (the
//! gateway's zone is UTC); culture-sensitive comparisons are ordinal; `object == object`
//! compares values, not references; a `?.` skips the rest of its chain even where C#
//! would throw on a later null.

mod ast;
mod builtins;
mod check;
mod collections;
mod context;
mod diagnostic;
mod eval;
mod ir;
pub(crate) mod json;
mod jwt;
mod lexer;
mod number;
mod parser;
mod span;
mod stack;
mod steps;
mod types;
mod value;
mod xlinq;

use std::sync::Arc;

pub use collections::{Map, Seq};
pub use context::{
    Api, Body, Context, Deployment, Headers, LastError, Operation, Request, Response, Url,
    Variables,
};
pub use diagnostic::{CompileErrorKind, EvalError, EvalErrorKind, ExprError, Source};
pub use eval::Program;
pub use json::{JToken, JsonError};
pub use jwt::{Jwt, MAX_TOKEN_BYTES};
pub use span::{Location, Origin, Span};
pub use value::{EnumValue, Value};
pub use xlinq::{XAttribute, XDocument, XElement, XName, XmlError};

/// Resource limits, enforced at load (source, depth, regex size) and while running
/// (steps, string and collection sizes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of expression source.
    pub max_source_len: usize,
    /// Nesting of parentheses, operators, calls and statements.
    pub max_depth: u32,
    /// Work in one evaluation: a step is a node evaluated, a loop iteration, a lambda
    /// call, an element visited or built, or 16 bytes copied, searched or compared by an
    /// operator or builtin (a regular expression counts the bytes its DFAs read and the
    /// states they build). The default million steps took at most 26 ms of CPU on a
    /// 2-core VM, whatever the request. The gateway also bounds the sum over one
    /// request's expressions (ten times this).
    pub max_steps: u64,
    /// Bytes of a string the expression builds.
    pub max_string_len: usize,
    /// Elements of a collection the expression builds.
    pub max_collection_len: usize,
    /// Bytes of a compiled regular expression.
    pub max_regex_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_len: 64 * 1024,
            max_depth: 100,
            max_steps: 1_000_000,
            max_string_len: 4 * 1024 * 1024,
            max_collection_len: 1_000_000,
            max_regex_size: 1024 * 1024,
        }
    }
}

/// Which message bodies an expression reads (`context.Request.Body`,
/// `context.Response.Body`): those the gateway must buffer instead of streaming.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyReads {
    pub request: bool,
    pub response: bool,
}

impl std::ops::BitOrAssign for BodyReads {
    fn bitor_assign(&mut self, other: Self) {
        self.request |= other.request;
        self.response |= other.response;
    }
}

/// An attribute value or element text after loading.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// Plain text, used as written.
    Literal(Arc<str>),
    /// A compiled `@(...)` or `@{...}`.
    Expression(Arc<Program>),
}

impl Compiled {
    /// The value for this request: the literal as a string, or the expression's result.
    pub fn eval(&self, ctx: &Context) -> Result<Value, EvalError> {
        match self {
            Compiled::Literal(s) => Ok(Value::String(s.clone())),
            Compiled::Expression(p) => p.eval(ctx),
        }
    }

    /// The value as text (C# `ToString()`; null gives "").
    pub fn eval_string(&self, ctx: &Context) -> Result<String, EvalError> {
        match self {
            Compiled::Literal(s) => Ok(s.to_string()),
            Compiled::Expression(p) => p.eval(ctx).map(|v| v.to_string()),
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Compiled::Literal(_))
    }

    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Compiled::Literal(s) => Some(s),
            Compiled::Expression(_) => None,
        }
    }

    /// Which message bodies the value reads.
    pub fn reads(&self) -> BodyReads {
        match self {
            Compiled::Literal(_) => BodyReads::default(),
            Compiled::Expression(p) => p.reads,
        }
    }

    /// Whether the value converts to `bool` implicitly, as a `condition` needs: a `bool`
    /// expression, or an `object` one (`context.Variables[...]`), whose value is checked per
    /// request. A literal is text, and its parse is the caller's.
    pub fn may_be_bool(&self) -> bool {
        match self {
            Compiled::Literal(_) => true,
            Compiled::Expression(p) => p.may_be_bool(),
        }
    }

    /// The static result type's .NET name (`bool` for a condition), or `string` for a literal.
    pub fn result_type(&self) -> String {
        match self {
            Compiled::Literal(_) => "string".to_owned(),
            Compiled::Expression(p) => p.result_type(),
        }
    }
}

/// Compiles an attribute value or element text with the default [`Limits`]. `origin` is
/// where the first character of `source` sits in the policy file.
pub fn compile(source: &str, origin: Origin) -> Result<Compiled, ExprError> {
    compile_with(source, origin, &Limits::default())
}

/// As [`compile`], with explicit limits.
pub fn compile_with(source: &str, origin: Origin, limits: &Limits) -> Result<Compiled, ExprError> {
    let trimmed = source.trim_start();
    if !(trimmed.starts_with("@(") || trimmed.starts_with("@{")) {
        return Ok(Compiled::Literal(Arc::from(source)));
    }
    let at = source.len() - trimmed.len();
    build(source, origin, limits, Some(at + 1))
}

/// Compiles a bare C# expression (no `@(`), as `certgate eval` does for input without `@`.
pub fn compile_expression(
    source: &str,
    origin: Origin,
    limits: &Limits,
) -> Result<Compiled, ExprError> {
    build(source, origin, limits, None)
}

fn build(
    source: &str,
    origin: Origin,
    limits: &Limits,
    wrapped_at: Option<usize>,
) -> Result<Compiled, ExprError> {
    let src = Source::new(source, origin);
    let err = |(kind, span): (CompileErrorKind, Span)| ExprError {
        kind,
        span,
        source: src.clone(),
    };
    if source.len() > limits.max_source_len {
        return Err(err((
            CompileErrorKind::TooLong {
                len: source.len(),
                limit: limits.max_source_len,
            },
            Span::new(0, 1),
        )));
    }
    let start = wrapped_at.unwrap_or(0);
    let body = parser::Parser::new(source, start, source.len(), limits.max_depth)
        .and_then(|mut p| p.body(wrapped_at.is_some()))
        .map_err(err)?;
    let checked = check::check(&body, limits.max_regex_size).map_err(err)?;
    Ok(Compiled::Expression(Arc::new(Program {
        source: src.clone(),
        body: checked.body,
        n_slots: checked.n_slots,
        ty: checked.ty,
        reads: checked.reads,
        limits: limits.clone(),
    })))
}
