//! Run-time values: what an expression produces and what `context.Variables` holds.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use super::builtins::datetime::{format_datetime_default, format_offset_default, format_timespan};
use super::collections::{Map, Seq};
use super::json::JToken;
use super::types::EnumTy;
use crate::cert::Certificate;

/// A value of the C# subset. Strings, arrays and certificates are shared (`Arc`), so
/// cloning a value is cheap.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Value {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Char(char),
    String(Arc<str>),
    /// `DateTime`, always UTC here.
    DateTime(OffsetDateTime),
    /// `DateTimeOffset`: the instant, in the offset it was made with.
    DateTimeOffset(OffsetDateTime),
    /// `TimeSpan` in ticks of 100 ns, as .NET.
    TimeSpan(i64),
    Bytes(Arc<[u8]>),
    /// `T[]`, `List<T>` and LINQ results: shared and mutable, as .NET's.
    Array(Seq),
    /// `Dictionary<TKey, TValue>`: shared and mutable.
    Map(Map),
    /// `KeyValuePair<K, V>`.
    Pair(Arc<(Value, Value)>),
    Certificate(Arc<Certificate>),
    Enum(EnumValue),
    /// An object of the library (`Match`, `Group`, `Oid`, ...).
    Object(Handle),
    /// A Newtonsoft.Json.Linq token (`JObject`, `JArray`, ...): shared and mutable.
    Json(JToken),
}

/// A value of a .NET enum such as `X509NameType.SimpleName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumValue {
    pub(crate) ty: EnumTy,
    pub(crate) value: i32,
}

impl EnumValue {
    pub fn type_name(&self) -> &'static str {
        self.ty.name()
    }
    pub fn name(&self) -> String {
        self.ty
            .member_name(self.value)
            .map_or_else(|| self.value.to_string(), str::to_owned)
    }
}

/// An opaque library object.
#[derive(Clone, Debug)]
pub struct Handle(pub(crate) HandleKind);

/// Which message a body or headers belong to.
#[derive(Clone, Debug)]
pub(crate) enum Which {
    Request,
    Response,
    /// A response held in a variable (`send-request`'s `response-variable-name`).
    Stored(Arc<super::context::Response>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlRef {
    Request,
    Original,
    ApiService,
}

#[derive(Clone, Debug)]
pub(crate) enum DictRef {
    Headers(Which),
    Query(UrlRef),
    MatchedParameters,
    Variables,
    Certificates,
}

#[derive(Clone, Debug)]
pub(crate) struct MatchData {
    /// The string matched: groups point into it, so a match copies nothing.
    pub input: Arc<str>,
    /// Byte ranges in `input`. Group 0 is the whole match; `None` for a group that did not
    /// participate.
    pub groups: Vec<Option<std::ops::Range<usize>>>,
    pub names: Arc<[Option<String>]>,
}

impl MatchData {
    /// Group `i`'s text; `None` when it did not participate or does not exist.
    pub(crate) fn group(&self, i: usize) -> Option<&str> {
        let range = self.groups.get(i)?.clone()?;
        self.input.get(range)
    }
}

#[derive(Clone, Debug)]
pub(crate) enum HandleKind {
    Context,
    Request,
    Response,
    /// An `IResponse` held in a variable, made by `send-request`.
    StoredResponse(Arc<super::context::Response>),
    Url(UrlRef),
    Deployment,
    Api,
    Operation,
    LastError,
    Body(Which),
    Dict(DictRef),
    Encoding,
    /// `SubjectName` / `IssuerName` of a certificate.
    X500Name(Arc<Certificate>, bool),
    /// `SignatureAlgorithm` of a certificate.
    SignatureAlgorithm(Arc<Certificate>),
    Match(Arc<MatchData>),
    Groups(Arc<MatchData>),
    Group(Arc<MatchData>, usize),
    // i15
    /// A `System.Exception` with its message.
    Exception(Arc<str>),
    /// A `System.Uri`: an absolute URI with a scheme and a host.
    Uri(Arc<UriValue>),
    /// A `System.Text.StringBuilder`: shared, as .NET objects are references.
    StringBuilder(Arc<std::sync::Mutex<String>>),
    /// A `System.Random`: without a seed it draws from the system's generator, with one
    /// it is .NET's seeded sequence.
    Random(Option<Arc<std::sync::Mutex<super::builtins::random::Seeded>>>),
    Guid([u8; 16]),
    /// A decoded token (`Jwt`), and its `Claims` dictionary.
    Jwt(Arc<super::jwt::Jwt>),
    Claims(Arc<super::jwt::Jwt>),
    /// APIM's `BasicAuthCredentials`: the user id and the password.
    BasicAuth(Arc<(String, String)>),
    /// A hash algorithm object (`SHA256.Create()`).
    Hash(super::types::HashAlg),
    /// An HMAC object with its key.
    Hmac(super::types::HashAlg, Arc<[u8]>),
    /// A `SymmetricAlgorithm` object: shared, as its `Key` and `IV` are set in place.
    Symmetric(Arc<std::sync::Mutex<super::builtins::cipher::Symmetric>>),
    /// An `IGrouping<K, T>` of `GroupBy`: the key and the elements.
    Grouping(Arc<(Value, Seq)>),
    /// A System.Xml.Linq object: shared and mutable, as .NET's.
    Xml(super::xlinq::XObj),
}

/// The text of a StringBuilder (a lock never poisoned: nothing panics while holding it).
pub(crate) fn builder_text(b: &std::sync::Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    b.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Value {
    pub fn string(s: &str) -> Value {
        Value::String(Arc::from(s))
    }

    /// An `IResponse` object (what `send-request` stores in `context.Variables`).
    pub fn response(response: super::context::Response) -> Value {
        Value::Object(Handle(HandleKind::StoredResponse(Arc::new(response))))
    }

    /// The `IResponse` this value holds, if it is one.
    pub fn as_response(&self) -> Option<&super::context::Response> {
        match self {
            Value::Object(Handle(HandleKind::StoredResponse(r))) => Some(r),
            _ => None,
        }
    }

    /// A `Jwt` object.
    pub fn jwt(jwt: super::jwt::Jwt) -> Value {
        Value::Object(Handle(HandleKind::Jwt(Arc::new(jwt))))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The .NET type name (`String`, `Int32`, `Boolean`, ...), for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Int32",
            Value::Long(_) => "Int64",
            Value::Double(_) => "Double",
            Value::Char(_) => "Char",
            Value::String(_) => "String",
            Value::DateTime(_) => "DateTime",
            Value::DateTimeOffset(_) => "DateTimeOffset",
            Value::TimeSpan(_) => "TimeSpan",
            Value::Bytes(_) => "Byte[]",
            Value::Array(_) => "Array",
            Value::Map(_) => "Dictionary",
            Value::Pair(_) => "KeyValuePair",
            Value::Certificate(_) => "X509Certificate2",
            Value::Enum(e) => e.type_name(),
            Value::Json(t) => t.0.kind().name(),
            Value::Object(h) => match &h.0 {
                HandleKind::Match(_) => "Match",
                HandleKind::Groups(_) => "GroupCollection",
                HandleKind::Group(..) => "Group",
                HandleKind::X500Name(..) => "X500DistinguishedName",
                HandleKind::SignatureAlgorithm(_) => "Oid",
                HandleKind::Exception(_) => "Exception",
                HandleKind::Uri(_) => "Uri",
                HandleKind::StringBuilder(_) => "StringBuilder",
                HandleKind::Random(_) => "Random",
                HandleKind::Guid(_) => "Guid",
                HandleKind::Jwt(_) => "Jwt",
                HandleKind::BasicAuth(_) => "BasicAuthCredentials",
                HandleKind::StoredResponse(_) => "IResponse",
                HandleKind::Grouping(_) => "Grouping",
                HandleKind::Hash(_) | HandleKind::Hmac(..) => "HashAlgorithm",
                HandleKind::Symmetric(_) => "SymmetricAlgorithm",
                HandleKind::Xml(x) => x.kind().name(),
                _ => "Object",
            },
        }
    }

    /// C#'s `ToString()` as used by string concatenation and interpolation (null gives "").
    /// Objects of the `context` model give their type name; [`crate::expr::Compiled::eval`]
    /// never returns one.
    pub fn to_display_string(&self) -> String {
        self.to_string()
    }

    /// The value as JSON (`certgate eval`): DateTime as RFC 3339, TimeSpan as
    /// `[d.]hh:mm:ss[.fffffff]`, byte[] as base64, a certificate as its main properties.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_at(0)
    }

    /// [`Value::to_json`] at `depth`: a list may hold itself, so nesting is cut at 64.
    fn to_json_at(&self, depth: usize) -> serde_json::Value {
        use serde_json::{Value as J, json};
        if depth > 64 {
            return J::String("...".into());
        }
        let inner = |v: &Value| v.to_json_at(depth + 1);
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => json!(n),
            Value::Long(n) => json!(n),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map_or_else(|| J::String(self.to_string()), J::Number),
            Value::DateTime(d) | Value::DateTimeOffset(d) => J::String(
                d.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            Value::Bytes(b) => {
                use base64::Engine;
                J::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Array(a) => J::Array(a.to_vec().iter().map(inner).collect()),
            Value::Map(m) => J::Array(
                (0..)
                    .map_while(|i| m.entry_at(i))
                    .flatten()
                    .map(|(k, v)| json!({"Key": inner(&k), "Value": inner(&v)}))
                    .collect(),
            ),
            Value::Pair(p) => json!({"Key": inner(&p.0), "Value": inner(&p.1)}),
            Value::Certificate(c) => json!({
                "Subject": c.subject(),
                "Issuer": c.issuer(),
                "Thumbprint": c.thumbprint(),
                "SerialNumber": c.serial_number(),
                "NotBefore": Value::DateTime(c.not_before()).to_json(),
                "NotAfter": Value::DateTime(c.not_after()).to_json(),
            }),
            _ => J::String(self.to_string()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Long(n) => write!(f, "{n}"),
            Value::Double(d) => f.write_str(&super::number::format_double(*d)),
            Value::Char(c) => write!(f, "{c}"),
            Value::String(s) => f.write_str(s),
            Value::DateTime(d) => f.write_str(&format_datetime_default(*d)),
            Value::DateTimeOffset(d) => f.write_str(&format_offset_default(*d)),
            Value::TimeSpan(t) => f.write_str(&format_timespan(*t)),
            Value::Bytes(_) => f.write_str("System.Byte[]"),
            Value::Array(_) => f.write_str("System.Object[]"),
            Value::Map(_) => f.write_str("System.Collections.Generic.Dictionary`2"),
            Value::Pair(p) => write!(f, "[{}, {}]", p.0, p.1),
            Value::Certificate(c) => write!(
                f,
                "[Subject]\n  {}\n\n[Issuer]\n  {}\n\n[Serial Number]\n  {}\n\n[Thumbprint]\n  {}\n",
                c.subject(),
                c.issuer(),
                c.serial_number(),
                c.thumbprint()
            ),
            Value::Enum(e) => f.write_str(&e.name()),
            // JValue.ToString() is the value's text, JContainer.ToString() indented JSON
            Value::Json(t) => match t.0.value_text() {
                Some(text) => f.write_str(&text),
                None => {
                    let mut out = String::new();
                    let mut work = 0;
                    // too deep to write: nothing, rather than half a document
                    match super::json::write(&t.0, true, &mut out, &mut work) {
                        Ok(()) => f.write_str(&out),
                        Err(_) => Ok(()),
                    }
                }
            },
            Value::Object(h) => match &h.0 {
                HandleKind::Match(m) | HandleKind::Group(m, _) => {
                    let i = match &h.0 {
                        HandleKind::Group(_, i) => *i,
                        _ => 0,
                    };
                    f.write_str(m.group(i).unwrap_or(""))
                }
                HandleKind::X500Name(..) => f.write_str(
                    "System.Security.Cryptography.X509Certificates.X500DistinguishedName",
                ),
                HandleKind::SignatureAlgorithm(_) => {
                    f.write_str("System.Security.Cryptography.Oid")
                }
                HandleKind::Groups(_) => {
                    f.write_str("System.Text.RegularExpressions.GroupCollection")
                }
                HandleKind::Exception(m) => write!(f, "System.Exception: {m}"),
                HandleKind::Uri(u) => f.write_str(&u.text()),
                HandleKind::StringBuilder(b) => f.write_str(&builder_text(b)),
                HandleKind::Random(_) => f.write_str("System.Random"),
                HandleKind::Grouping(_) => f.write_str("System.Linq.Grouping`2"),
                // too deep to write: nothing, rather than half a document
                HandleKind::Xml(x) => f.write_str(&x.text(true).unwrap_or_default()),
                HandleKind::Guid(g) => {
                    let hex: String = g.iter().map(|b| format!("{b:02x}")).collect();
                    let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default();
                    write!(
                        f,
                        "{}-{}-{}-{}-{}",
                        part(0..8),
                        part(8..12),
                        part(12..16),
                        part(16..20),
                        part(20..32)
                    )
                }
                _ => f.write_str("System.Object"),
            },
        }
    }
}

/// `Uri.ToString()`: scheme and host in lower case, the port only when not the scheme's.
/// A `System.Uri`: the URI without its fragment (which `http::Uri` does not keep), the
/// fragment, and the text it was made from.
#[derive(Debug)]
pub(crate) struct UriValue {
    pub(crate) uri: http::Uri,
    /// `#...`, or empty.
    pub(crate) fragment: String,
    pub(crate) original: String,
}

impl UriValue {
    /// `Port`: the written port, else the scheme's default (-1 for an unknown scheme).
    pub(crate) fn port(&self) -> i32 {
        match (self.uri.port_u16(), self.default_port()) {
            (Some(p), _) => i32::from(p),
            (None, Some(p)) => i32::from(p),
            (None, None) => -1,
        }
    }

    fn default_port(&self) -> Option<u16> {
        match self.scheme().as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        }
    }

    /// `IsDefaultPort`: no port written, or the scheme's own.
    pub(crate) fn is_default_port(&self) -> bool {
        self.uri
            .port_u16()
            .is_none_or(|p| Some(p) == self.default_port())
    }

    pub(crate) fn scheme(&self) -> String {
        self.uri
            .scheme_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    pub(crate) fn host(&self) -> String {
        self.uri.host().unwrap_or_default().to_ascii_lowercase()
    }

    /// `Authority`: the host, and the port unless it is the scheme's default.
    pub(crate) fn authority(&self) -> String {
        match self.uri.port_u16() {
            Some(p) if !self.is_default_port() => format!("{}:{p}", self.host()),
            _ => self.host(),
        }
    }

    /// `Query`: `?...`, or empty.
    pub(crate) fn query(&self) -> String {
        self.uri.query().map_or(String::new(), |q| format!("?{q}"))
    }

    /// `AbsoluteUri` and `ToString()`: scheme and host in lower case, no default port.
    pub(crate) fn text(&self) -> String {
        format!(
            "{}://{}{}{}{}",
            self.scheme(),
            self.authority(),
            self.uri.path(),
            self.query(),
            self.fragment
        )
    }
}
