//! `context`: the plain data a policy expression reads. The gateway fills one per request;
//! building it is cheap (certificates and deployment data are shared behind `Arc`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use time::OffsetDateTime;

use super::value::Value;
use crate::body::Payload;
use crate::cert::{Certificate, UploadedCertificates};
use crate::trust::Verifier;

/// Request or response headers: names compare case-insensitively (ASCII), values keep
/// their order; `GetValueOrDefault` joins several values with ','.
///
/// Headers read from an `http::HeaderMap` keep it while no policy changes them: most
/// requests pass through policies that never touch a header, and converting every name
/// and value to text and back, for the request and for the response, was a tenth of
/// what a proxied request cost. The text form is made on the first read.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// The map these headers came from, while they are unchanged.
    source: Option<http::HeaderMap>,
    /// The headers as text: decoded from `source` when first read, or built by
    /// [`Headers::append`] and [`Headers::set`].
    text: OnceLock<Vec<(String, Vec<String>)>>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for Headers {}

impl Headers {
    pub fn new() -> Self {
        Headers::default()
    }

    /// Appends a value (a repeated name gets one more value).
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        let position = self.position(name);
        let entries = self.entries_mut();
        match position {
            Some(i) => entries[i].1.push(value.into()),
            None => entries.push((name.to_owned(), vec![value.into()])),
        }
    }

    /// Replaces every value of `name`.
    pub fn set(&mut self, name: &str, values: Vec<String>) {
        let position = self.position(name);
        let entries = self.entries_mut();
        match position {
            Some(i) => entries[i].1 = values,
            None => entries.push((name.to_owned(), values)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        // Removing what is not there (`X-Powered-By` from a backend that sends none)
        // leaves the source map in use.
        if self.position(name).is_none() {
            return;
        }
        self.entries_mut()
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.position(name).map(|i| self.entries()[i].1.as_slice())
    }

    /// The values joined with ',' (APIM's `GetValueOrDefault`).
    pub fn joined(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.join(","))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[String])> {
        self.entries()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        match &self.source {
            Some(map) => map.keys_len(),
            None => self.entries().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries()
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    fn entries(&self) -> &Vec<(String, Vec<String>)> {
        self.text
            .get_or_init(|| self.source.as_ref().map(decode).unwrap_or_default())
    }

    /// The text form to change; the source map no longer says what the headers are.
    fn entries_mut(&mut self) -> &mut Vec<(String, Vec<String>)> {
        self.entries();
        self.source = None;
        self.text.get_mut().expect("initialized by entries()")
    }

    /// From an `http::HeaderMap`, kept as it is until a policy changes a header.
    pub fn from_http(map: http::HeaderMap) -> Self {
        Headers {
            source: Some(map),
            text: OnceLock::new(),
        }
    }

    /// As an `http::HeaderMap`: the map they came from when no policy changed them, else
    /// built from the text form, leaving out a name or value HTTP cannot carry. With room
    /// for `more` names: a copy of a map is as full as the map, and each name a proxy
    /// then adds (`X-Forwarded-*`) would grow it again.
    pub fn to_http_with_room(&self, more: usize) -> http::HeaderMap {
        let mut map = match &self.source {
            Some(map) => map.clone(),
            None => self.built(),
        };
        map.reserve(more);
        map
    }

    /// [`Self::to_http_with_room`] without copying the map, for headers that are done with (the
    /// response's, when it goes to the client).
    pub fn into_http(mut self) -> http::HeaderMap {
        self.source.take().unwrap_or_else(|| self.built())
    }

    /// An `http::HeaderMap` built from the text form.
    fn built(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, values) in self.iter() {
            let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            for value in values {
                if let Ok(value) = http::HeaderValue::from_str(value) {
                    headers.append(name.clone(), value);
                }
            }
        }
        headers
    }
}

/// The text form of `map`; values that are not UTF-8 are read lossily.
fn decode(map: &http::HeaderMap) -> Vec<(String, Vec<String>)> {
    let mut entries: Vec<(String, Vec<String>)> = Vec::with_capacity(map.keys_len());
    // A `HeaderMap` yields a name's values one after the other, and each name once.
    for (name, value) in map {
        let value = match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        match entries.last_mut() {
            Some((last, values)) if last == name.as_str() => values.push(value),
            _ => entries.push((name.as_str().to_owned(), vec![value])),
        }
    }
    entries
}

/// `IUrl`: the parts of a URL as APIM exposes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    /// Lower case; `https` and `http`, nearly every request's, without an allocation.
    pub scheme: Cow<'static, str>,
    pub host: String,
    pub port: i32,
    /// The path, starting with '/'.
    pub path: String,
    /// Query parameters in order, decoded; a repeated name has several values.
    pub query: Vec<(String, Vec<String>)>,
}

impl Url {
    /// Parses an absolute URL (`https://host:port/path?query`). The port defaults to the
    /// scheme's (80, 443).
    pub fn parse(input: &str) -> Option<Url> {
        Self::from_uri(&input.parse().ok()?)
    }

    /// The parts of an absolute URI (scheme and host required).
    pub fn from_uri(uri: &http::Uri) -> Option<Url> {
        let scheme = crate::text::scheme(uri.scheme_str()?);
        let (host, port) = crate::text::host_and_port(uri.authority()?.as_str());
        let host = host.to_owned();
        let port = match port {
            Some(p) => i32::from(p),
            None if scheme == "http" => 80,
            None => 443,
        };
        let mut url = Url {
            scheme,
            host,
            port,
            path: uri.path().to_owned(),
            query: Vec::new(),
        };
        if let Some(q) = uri.query() {
            url.set_query_string(q);
        }
        Some(url)
    }

    /// Replaces the query with the parameters of `q` (without the leading '?').
    pub fn set_query_string(&mut self, q: &str) {
        self.query.clear();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let (k, v) = (dec(k), dec(v));
            match self.query.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vals)) => vals.push(v),
                None => self.query.push((k, vec![v])),
            }
        }
    }

    /// `QueryString`: `?a=1&b=2`, or "" without parameters.
    pub fn query_string(&self) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let mut s = String::new();
        for (k, vals) in &self.query {
            for v in vals {
                s.push(if s.is_empty() { '?' } else { '&' });
                s.extend(utf8_percent_encode(k, NON_ALPHANUMERIC));
                s.push('=');
                s.extend(utf8_percent_encode(v, NON_ALPHANUMERIC));
            }
        }
        s
    }

    /// The whole URL, as `Url.ToString()`.
    pub fn to_url_string(&self) -> String {
        let default = (self.scheme == "https" && self.port == 443)
            || (self.scheme == "http" && self.port == 80);
        let port = if default {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        format!(
            "{}://{}{}{}{}",
            self.scheme,
            self.host,
            port,
            self.path,
            self.query_string()
        )
    }
}

/// A request or response body. Reading it without `preserveContent: true` consumes it, as in
/// APIM. A body the policies never read (known at load) stays a stream that the gateway
/// passes on untouched; [`Body::take_payload`] hands it over once.
#[derive(Debug, Default)]
pub struct Body {
    content: Content,
    consumed: AtomicBool,
}

#[derive(Debug, Clone)]
enum Content {
    Whole(bytes::Bytes),
    /// Shared by clones of the message (`response-variable-name`): whoever forwards it
    /// first takes it.
    Streamed(Arc<Mutex<Option<Payload>>>),
}

impl Default for Content {
    fn default() -> Self {
        Self::Whole(bytes::Bytes::new())
    }
}

impl Body {
    pub fn new(bytes: impl Into<bytes::Bytes>) -> Self {
        Body {
            content: Content::Whole(bytes.into()),
            consumed: AtomicBool::new(false),
        }
    }

    /// A body that stays as it is (whole, or a stream no expression may read).
    pub fn payload(payload: Payload) -> Self {
        match payload {
            Payload::Whole(bytes) => Self::new(bytes),
            streamed @ Payload::Streamed(_) => Body {
                content: Content::Streamed(Arc::new(Mutex::new(Some(streamed)))),
                consumed: AtomicBool::new(false),
            },
        }
    }

    pub fn is_consumed(&self) -> bool {
        self.consumed.load(Ordering::Relaxed)
    }

    /// What to send on: the bytes, or the stream (once; empty after that, or after a
    /// policy consumed the body).
    pub fn take_payload(&self) -> Payload {
        if self.is_consumed() {
            return Payload::empty();
        }
        match &self.content {
            Content::Whole(bytes) => Payload::Whole(bytes.clone()),
            Content::Streamed(slot) => slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .unwrap_or_default(),
        }
    }

    /// `Body.As<T>(preserveContent)`; `None` for a stream, which no compiled policy reads.
    pub(crate) fn read(&self, preserve: bool) -> Option<bytes::Bytes> {
        let Content::Whole(bytes) = &self.content else {
            return None;
        };
        if self.consumed.load(Ordering::Relaxed) {
            return Some(bytes::Bytes::new());
        }
        if !preserve {
            self.consumed.store(true, Ordering::Relaxed);
        }
        Some(bytes.clone())
    }
}

impl Clone for Body {
    fn clone(&self) -> Self {
        Body {
            content: self.content.clone(),
            consumed: AtomicBool::new(self.is_consumed()),
        }
    }
}

/// `context.Request`.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Shared with `original_url` until a policy changes it (`Arc::make_mut`): most
    /// requests never do, and a copy of each cost six allocations.
    pub url: Arc<Url>,
    pub original_url: Arc<Url>,
    pub headers: Headers,
    pub ip_address: String,
    pub body: Option<Body>,
    pub matched_parameters: Vec<(String, String)>,
    /// The client certificate, or `None` (then `context.Request.Certificate == null`).
    pub certificate: Option<Arc<Certificate>>,
    /// The rest of the chain the client presented, for `Verify()`.
    pub certificate_chain: Arc<[Certificate]>,
}

/// `context.Response`.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status_code: i32,
    pub status_reason: String,
    pub headers: Headers,
    pub body: Option<Body>,
}

/// `context.Deployment`: fixed per loaded deployment.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub region: String,
    pub service_name: String,
    pub certificates: Arc<UploadedCertificates>,
}

/// `context.Api`.
#[derive(Debug, Clone, Default)]
pub struct Api {
    pub id: String,
    pub name: String,
    pub path: String,
    pub revision: String,
    pub version: String,
    pub is_current_revision: bool,
    pub service_url: Url,
}

/// `context.Operation`.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub name: String,
    pub url_template: String,
}

/// `context.LastError` (a ProxyError); `None` fields read as null.
#[derive(Debug, Clone, Default)]
pub struct LastError {
    pub source: String,
    pub reason: Option<String>,
    pub message: String,
    pub scope: Option<String>,
    pub section: Option<String>,
    pub path: Option<String>,
    pub policy_id: Option<String>,
}

/// `context.Variables`: written by set-variable, read by expressions (ordinal names).
pub type Variables = HashMap<String, Value>;

/// Everything `context` exposes for one request.
#[derive(Clone)]
pub struct Context {
    pub request: Request,
    pub response: Response,
    pub variables: Variables,
    pub deployment: Arc<Deployment>,
    pub api: Option<Arc<Api>>,
    pub operation: Option<Arc<Operation>>,
    pub last_error: Option<LastError>,
    pub request_id: Arc<str>,
    /// When the request was received (`context.Timestamp`).
    pub timestamp: OffsetDateTime,
    /// The clock: `DateTime.UtcNow`, `DateTime.Now`, `context.Elapsed` and `Verify()` use it.
    pub now: OffsetDateTime,
    /// Answers `Verify()`; without one, `Verify()` is false (fail closed).
    pub verifier: Option<Arc<dyn Verifier>>,
    /// The steps this request's expressions may take in all, and have taken.
    pub(crate) steps: super::steps::RequestSteps,
}

/// The empty `context.Deployment`, shared: the gateway replaces it in every request's
/// context at once, and building one per request cost two allocations.
static EMPTY_DEPLOYMENT: LazyLock<Arc<Deployment>> = LazyLock::new(Arc::default);
/// A fresh context's `RequestId`, until the front end's is set.
static NIL_REQUEST_ID: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("00000000-0000-0000-0000-000000000000"));

impl Context {
    /// An empty request at `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        Self::of(Request::default(), now)
    }

    /// `request` at `now`: a front end's, built in place rather than over an empty one.
    pub fn of(request: Request, now: OffsetDateTime) -> Self {
        Context {
            request,
            response: Response {
                status_code: 200,
                status_reason: "OK".to_owned(),
                ..Response::default()
            },
            variables: Variables::new(),
            deployment: Arc::clone(&EMPTY_DEPLOYMENT),
            api: None,
            operation: None,
            last_error: None,
            request_id: Arc::clone(&NIL_REQUEST_ID),
            timestamp: now,
            now,
            verifier: None,
            steps: super::steps::RequestSteps::default(),
        }
    }
}

impl Context {
    /// `context.RequestId`, a Guid in APIM: the front end's id when it is one (API
    /// Gateway REST's, the local listener's 32 hex digits). Any other (an HTTP API's, an
    /// ALB's trace id) maps to the UUIDv8 of its SHA-256: the same id, the same Guid.
    pub(crate) fn request_guid(&self) -> [u8; 16] {
        if let Some(guid) = super::builtins::web::parse_guid(&self.request_id) {
            return guid;
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, self.request_id.as_bytes());
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&digest.as_ref()[..16]);
        guid[6] = (guid[6] & 0x0f) | 0x80; // version 8
        guid[8] = (guid[8] & 0x3f) | 0x80; // the RFC 9562 variant
        guid
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("request", &self.request)
            .field("response", &self.response)
            .field("variables", &self.variables)
            .field("request_id", &self.request_id)
            .field("timestamp", &self.timestamp)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}
