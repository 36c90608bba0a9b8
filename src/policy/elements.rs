//! Policy elements: typed, validated, not yet executed.
//!
//! Every element is checked when the document loads: attributes (required, optional,
//! allowed values, numeric ranges; unknown attributes are errors), children, and the
//! sections it may appear in. An element certgate does not run is a load error that
//! names the element and says why; nothing is skipped silently.
//!
//! Values that allow policy expressions are [`Param`]s: a literal already converted and
//! range-checked, or an [`Expression`](super::Expression) compiled through the seam in
//! `value.rs`. Values that do not allow expressions reject `@(...)` at load time.
//!
//! Parsing recurses into `choose` branches; depth is bounded by the reader's
//! [`MAX_DEPTH`](super::MAX_DEPTH), so it cannot overflow the stack.

use std::net::IpAddr;

use super::error::{Location, PolicyError};
use super::section::SectionKind;
use super::value::{Param, PolicyValue, compile_expression};
use super::xml::{XmlElement, XmlNode};
use crate::expr::BodyReads;

mod authentication_basic;
mod emit_metric;
mod find_and_replace;
mod json_to_xml;
mod limit_concurrency;
mod retry;
mod send_request;
mod set_method;
mod trace;
mod validate_jwt;
mod wait;
mod xml_to_json;

pub use authentication_basic::AuthenticationBasic;
pub(crate) use emit_metric::metric_name;
pub use emit_metric::{Dimension, DimensionValue, EmitMetric};
pub use find_and_replace::FindAndReplace;
pub(crate) use json_to_xml::parse_separator;
pub use json_to_xml::{JsonApply, JsonToXml};
pub use limit_concurrency::LimitConcurrency;
pub use retry::Retry;
pub use send_request::{RequestMode, SendRequest};
pub use set_method::SetMethod;
pub use trace::{Trace, TraceMetadata, TraceSeverity};
pub use validate_jwt::{IssuerKey, RequiredClaim, SigningKeyHandle, TokenSource, ValidateJwt};
pub use wait::{Wait, WaitFor};
pub use xml_to_json::{XmlApply, XmlToJson, XmlToJsonKind};

/// Where an element sits in its document: for `context.LastError` and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The element name, e.g. `set-header` (`LastError.Source` for most policies).
    pub name: &'static str,
    /// The optional `id` attribute (`LastError.PolicyId`).
    pub id: Option<String>,
    /// Position of the element's `<`.
    pub at: Location,
    /// Path from the section, e.g. `choose[1]/when[2]/set-header[1]` (`LastError.Path`).
    /// Each step is the element name and its 1-based index among the same-named
    /// siblings (XPath style). APIM's exact numbering is not documented.
    pub path: String,
}

/// One policy statement with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub meta: Meta,
    pub policy: Policy,
}

impl Node {
    /// The policies this one holds (`choose` branches, `retry` and `wait` children),
    /// for checks that look at every policy of a document.
    pub fn children(&self) -> Vec<&Node> {
        match &self.policy {
            Policy::Choose(choose) => choose
                .whens
                .iter()
                .flat_map(|when| &when.steps)
                .chain(choose.otherwise.iter().flat_map(|o| &o.steps))
                .collect(),
            Policy::Retry(retry) => retry.steps.iter().collect(),
            Policy::Wait(wait) => wait.steps.iter().collect(),
            Policy::LimitConcurrency(limit) => limit.steps.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Which message bodies the expressions of this policy and its children read: the
    /// gateway streams the others through without buffering them.
    pub fn reads(&self) -> BodyReads {
        let mut reads = BodyReads::default();
        let mut params = |values: &[&dyn ReadsBody]| {
            for value in values {
                reads |= value.reads();
            }
        };
        match &self.policy {
            Policy::Choose(choose) => {
                for when in &choose.whens {
                    params(&[&when.condition, &when.steps]);
                }
                if let Some(otherwise) = &choose.otherwise {
                    params(&[&otherwise.steps]);
                }
            }
            Policy::ReturnResponse(rr) => params(&[&rr.steps]),
            Policy::SetStatus(s) => params(&[&s.code, &s.reason]),
            Policy::SetHeader(p) | Policy::SetQueryParameter(p) => {
                params(&[&p.name, &p.exists_action, &p.values]);
            }
            Policy::SetBody(b) => params(&[&b.body]),
            Policy::SetVariable(v) => params(&[&v.value]),
            Policy::SetBackendService(SetBackendService::BaseUrl(url)) => params(&[url]),
            Policy::SetBackendService(SetBackendService::BackendId { .. }) => {}
            Policy::ForwardRequest(f) => params(&[
                &f.timeout,
                &f.timeout_ms,
                &f.continue_timeout,
                &f.follow_redirects,
            ]),
            Policy::RewriteUri(r) => params(&[&r.template]),
            Policy::CheckHeader(c) => params(&[
                &c.name,
                &c.failed_check_httpcode,
                &c.failed_check_error_message,
                &c.ignore_case,
                &c.values,
            ]),
            Policy::IpFilter(f) => {
                params(&[&f.action, &f.addresses]);
                for range in &f.ranges {
                    params(&[&range.from, &range.to]);
                }
            }
            Policy::AuthenticationCertificate(
                AuthenticationCertificate::Thumbprint(p)
                | AuthenticationCertificate::CertificateId(p),
            ) => params(&[p]),
            Policy::Cors(c) => params(&[&c.allow_credentials, &c.terminate_unmatched_request]),
            Policy::ValidateJwt(j) => {
                let (TokenSource::Header(p) | TokenSource::Query(p) | TokenSource::Value(p)) =
                    &j.token;
                params(&[
                    p,
                    &j.failed_validation_httpcode,
                    &j.failed_validation_error_message,
                    &j.require_expiration_time,
                    &j.require_scheme,
                    &j.clock_skew,
                    &j.audiences,
                    &j.issuers,
                ]);
                for claim in &j.required_claims {
                    params(&[&claim.values]);
                }
            }
            Policy::CacheLookupValue(c) => params(&[&c.key, &c.default_value]),
            Policy::CacheStoreValue(c) => params(&[&c.key, &c.value, &c.duration]),
            Policy::CacheRemoveValue(c) => params(&[&c.key]),
            Policy::CacheLookup(c) => params(&[
                &c.downstream_caching_type,
                &c.must_revalidate,
                &c.allow_private_response_caching,
            ]),
            Policy::CacheStore(c) => {
                params(&[&c.duration, &c.cache_response]);
                // The stored response is the whole body.
                reads.response = true;
            }
            Policy::JsonToXml(t) => {
                params(&[
                    &t.apply,
                    &t.consider_accept_header,
                    &t.namespace_separator,
                    &t.namespace_prefix,
                    &t.attribute_block_name,
                ]);
                // The converted body is read whole.
                reads.request |= !t.on_response;
                reads.response |= t.on_response;
            }
            Policy::XmlToJson(t) => {
                params(&[
                    &t.kind,
                    &t.apply,
                    &t.consider_accept_header,
                    &t.always_array_child_elements,
                ]);
                reads.request |= !t.on_response;
                reads.response |= t.on_response;
            }
            Policy::MockResponse(_) | Policy::ValidateClientCertificate(_) => {}
            Policy::SetMethod(m) => params(&[&m.method]),
            Policy::FindAndReplace(f) => {
                params(&[&f.from, &f.to]);
                // It rewrites the whole body.
                if f.response {
                    reads.response = true;
                } else {
                    reads.request = true;
                }
            }
            Policy::AuthenticationBasic(b) => params(&[&b.username, &b.password]),
            Policy::Trace(t) => {
                params(&[&t.message]);
                for m in &t.metadata {
                    params(&[&m.name, &m.value]);
                }
            }
            Policy::EmitMetric(m) => {
                params(&[&m.value]);
                for d in &m.dimensions {
                    params(&[&d.name]);
                    if let DimensionValue::Given(value) = &d.value {
                        params(&[value]);
                    }
                }
            }
            Policy::LimitConcurrency(l) => params(&[&l.key, &l.steps]),
            Policy::SendRequest(r) => {
                params(&[&r.mode, &r.response_variable_name, &r.timeout, &r.url]);
                for h in &r.headers {
                    params(&[&h.name, &h.exists_action, &h.values]);
                }
                if let Some(body) = &r.body {
                    params(&[&body.body]);
                }
                if let Some(
                    AuthenticationCertificate::Thumbprint(p)
                    | AuthenticationCertificate::CertificateId(p),
                ) = &r.certificate
                {
                    params(&[p]);
                }
                // A copy takes the request's body: it must be whole to be sent twice.
                reads.request |= !matches!(r.mode, Param::Literal(RequestMode::New, _));
            }
            Policy::Retry(r) => {
                params(&[
                    &r.condition,
                    &r.count,
                    &r.interval,
                    &r.max_interval,
                    &r.delta,
                    &r.first_fast_retry,
                    &r.steps,
                ]);
                // Each try sends the request's body again, byte for byte.
                reads.request = true;
            }
            Policy::Wait(w) => params(&[&w.for_, &w.steps]),
        }
        reads
    }
}

/// Whatever holds expressions, for [`Node::reads`].
trait ReadsBody {
    fn reads(&self) -> BodyReads;
}

impl<T> ReadsBody for Param<T> {
    fn reads(&self) -> BodyReads {
        Param::reads(self)
    }
}

impl<T: ReadsBody> ReadsBody for Option<T> {
    fn reads(&self) -> BodyReads {
        self.as_ref().map(T::reads).unwrap_or_default()
    }
}

impl<T: ReadsBody> ReadsBody for Vec<T> {
    fn reads(&self) -> BodyReads {
        let mut reads = BodyReads::default();
        for item in self {
            reads |= item.reads();
        }
        reads
    }
}

impl ReadsBody for Node {
    fn reads(&self) -> BodyReads {
        Node::reads(self)
    }
}

/// The policies certgate understands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Policy {
    Choose(Choose),
    ReturnResponse(ReturnResponse),
    SetStatus(SetStatus),
    SetHeader(SetParameter),
    SetQueryParameter(SetParameter),
    SetBody(SetBody),
    SetVariable(SetVariable),
    SetBackendService(SetBackendService),
    ForwardRequest(ForwardRequest),
    RewriteUri(RewriteUri),
    MockResponse(MockResponse),
    CheckHeader(CheckHeader),
    IpFilter(IpFilter),
    ValidateClientCertificate(ValidateClientCertificate),
    AuthenticationCertificate(AuthenticationCertificate),
    Cors(Cors),
    /// Boxed: far larger than the other policies.
    ValidateJwt(Box<ValidateJwt>),
    CacheLookupValue(CacheLookupValue),
    CacheStoreValue(CacheStoreValue),
    CacheRemoveValue(CacheRemoveValue),
    CacheLookup(CacheLookup),
    CacheStore(CacheStore),
    SetMethod(SetMethod),
    FindAndReplace(FindAndReplace),
    AuthenticationBasic(AuthenticationBasic),
    Trace(Trace),
    EmitMetric(EmitMetric),
    LimitConcurrency(LimitConcurrency),
    /// `send-request`, and `send-one-way-request` (no response variable).
    SendRequest(Box<SendRequest>),
    Retry(Box<Retry>),
    Wait(Wait),
    JsonToXml(JsonToXml),
    XmlToJson(XmlToJson),
}

/// `<choose>`: the first `when` whose condition holds runs, else `otherwise`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choose {
    /// At least one.
    pub whens: Vec<When>,
    pub otherwise: Option<Otherwise>,
}

/// `<when condition="...">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub meta: Meta,
    /// A Boolean expression, or the constant `true` / `false`.
    pub condition: Param<bool>,
    pub steps: Vec<Node>,
}

/// `<otherwise>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otherwise {
    pub meta: Meta,
    pub steps: Vec<Node>,
}

/// `<return-response response-variable-name="...">` with `set-status`, `set-header`
/// and `set-body` children, run in document order against the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnResponse {
    /// Names a context variable holding a `Response` (no expressions).
    pub response_variable_name: Option<String>,
    /// Only `SetStatus` (at most one), `SetHeader` and `SetBody` (at most one).
    pub steps: Vec<Node>,
}

/// `<set-status code="..." reason="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStatus {
    /// 100..=599.
    pub code: Param<u16>,
    /// Documented as required; real deployments omit it (spec §2.3), so optional here.
    pub reason: Option<Param<String>>,
}

/// `exists-action` of `set-header` / `set-query-parameter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistsAction {
    Override,
    Skip,
    Append,
    Delete,
}

impl ExistsAction {
    /// Parses `override`, `skip`, `append`, `delete` (lower case, as documented).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "override" => Ok(ExistsAction::Override),
            "skip" => Ok(ExistsAction::Skip),
            "append" => Ok(ExistsAction::Append),
            "delete" => Ok(ExistsAction::Delete),
            _ => Err(format!(
                "`{s}` is not an exists-action; use override, skip, append or delete"
            )),
        }
    }
}

/// `<set-header>` and `<set-query-parameter>`: `name`, `exists-action` (default
/// `override`) and zero or more `<value>`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetParameter {
    pub name: Param<String>,
    pub exists_action: Param<ExistsAction>,
    /// With `delete`, values are accepted and ignored.
    pub values: Vec<Param<String>>,
}

/// `xsi-nil` of `set-body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XsiNil {
    Blank,
    Null,
}

/// `<set-body>`: the body is the element's text (literal or expression).
/// `template="liquid"` is rejected at load (certgate has no Liquid engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetBody {
    pub body: Param<String>,
    /// Default `blank`.
    pub xsi_nil: XsiNil,
}

/// `<set-variable name="..." value="..."/>`. A literal value is a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVariable {
    /// No expressions.
    pub name: String,
    pub value: Param<String>,
}

/// `<set-backend-service base-url="..."/>` or `backend-id="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetBackendService {
    /// A literal must be an absolute `http://` or `https://` URL.
    BaseUrl(Param<String>),
    /// A `[[backends]]` entry of gateway.toml, checked when the deployment loads.
    BackendId { id: String, at: PolicyValue },
}

/// `http-version` of `forward-request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// `1` (the default).
    Http1,
    /// `2`.
    Http2,
    /// `2or1`.
    Http2Or1,
}

/// `<forward-request>`. When neither `timeout` nor `timeout-ms` is given the timeout is
/// [`ForwardRequest::DEFAULT_TIMEOUT_SECS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRequest {
    /// Seconds (expr). Exclusive with `timeout_ms`.
    pub timeout: Option<Param<u32>>,
    /// Milliseconds (expr). Exclusive with `timeout`.
    pub timeout_ms: Option<Param<u32>>,
    /// Seconds to wait for `100 Continue` (expr).
    pub continue_timeout: Option<Param<u32>>,
    pub http_version: HttpVersion,
    /// Default false (expr).
    pub follow_redirects: Param<bool>,
    /// Default false.
    pub buffer_request_body: bool,
    /// Default true.
    pub buffer_response: bool,
    /// Default false: true sends 400–599 responses to on-error.
    pub fail_on_error_status_code: bool,
}

impl ForwardRequest {
    /// APIM's default backend timeout.
    pub const DEFAULT_TIMEOUT_SECS: u32 = 300;

    /// `<forward-request/>` with every attribute at its default.
    pub(crate) fn defaults(at: &Location) -> Self {
        ForwardRequest {
            timeout: None,
            timeout_ms: None,
            continue_timeout: None,
            http_version: HttpVersion::Http1,
            follow_redirects: Param::Literal(false, PolicyValue::empty(at.clone())),
            buffer_request_body: false,
            buffer_response: true,
            fail_on_error_status_code: false,
        }
    }
}

/// `<rewrite-uri template="..." copy-unmatched-params="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteUri {
    pub template: Param<String>,
    /// Default true.
    pub copy_unmatched_params: bool,
}

/// `<mock-response status-code="..." content-type="..."/>` (no expressions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockResponse {
    /// Default 200.
    pub status_code: u16,
    pub content_type: Option<String>,
}

/// `<check-header>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckHeader {
    pub name: Param<String>,
    pub failed_check_httpcode: Param<u16>,
    pub failed_check_error_message: Param<String>,
    pub ignore_case: Param<bool>,
    /// The check passes if any value matches; none means "header present".
    pub values: Vec<Param<String>>,
}

/// `action` of `ip-filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFilterAction {
    Allow,
    Forbid,
}

/// `<address-range from="..." to="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRange {
    pub from: Param<IpAddr>,
    pub to: Param<IpAddr>,
}

/// `<ip-filter action="allow|forbid">` with `<address>` and `<address-range>` children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpFilter {
    pub action: Param<IpFilterAction>,
    pub addresses: Vec<Param<IpAddr>>,
    pub ranges: Vec<AddressRange>,
}

/// `<validate-client-certificate>` (spec §3). No attribute allows expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateClientCertificate {
    /// Default true.
    pub validate_revocation: bool,
    /// Default true.
    pub validate_trust: bool,
    /// Default true.
    pub validate_not_before: bool,
    /// Default true.
    pub validate_not_after: bool,
    /// Default false.
    pub ignore_error: bool,
    /// Up to 10. Empty when `<identities>` is omitted or empty.
    pub identities: Vec<Identity>,
}

/// One `<identity>`: every given claim must match (claims are ANDed, identities ORed).
/// At least one claim is required. Values are kept as written (`{{named-value}}` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub at: Location,
    pub thumbprint: Option<String>,
    pub serial_number: Option<String>,
    pub common_name: Option<String>,
    pub subject: Option<String>,
    pub dns_name: Option<String>,
    pub issuer_subject: Option<String>,
    pub issuer_thumbprint: Option<String>,
    /// Exclusive with `issuer_subject` and `issuer_thumbprint`.
    pub issuer_certificate_id: Option<String>,
}

/// Most identities in one `validate-client-certificate` (spec §3.1).
pub(crate) const MAX_IDENTITIES: usize = 10;

/// `<authentication-certificate>`: the client certificate for mTLS to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticationCertificate {
    Thumbprint(Param<String>),
    CertificateId(Param<String>),
}

/// `<cors>`: answers browser preflights in the gateway and marks allowed cross-origin
/// responses. Lists hold literals only (APIM allows expressions in the two attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Default false.
    pub allow_credentials: Param<bool>,
    /// Default true: an unmatched cross-origin request gets an empty 200.
    pub terminate_unmatched_request: Param<bool>,
    /// `*` or origins (`scheme://host[:port]`); at least one.
    pub allowed_origins: Vec<String>,
    /// `*` or methods; empty when `<allowed-methods>` is absent (then GET and POST).
    pub allowed_methods: Vec<String>,
    /// `Access-Control-Max-Age` of a preflight answer; 0 (the default) sends none.
    pub preflight_result_max_age: u32,
    /// `*` or header names, compared ignoring case.
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
}

/// `caching-type` of the cache policies (no expressions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachingType {
    /// The instance's own cache.
    Internal,
    /// The `[cache] table` of `gateway.toml`; a deployment without one does not load.
    External,
    /// The default: external when `[cache] table` is set, else internal.
    PreferExternal,
}

/// `<cache-lookup-value key="..." variable-name="..." default-value="..."/>`: sets the
/// variable to the cached value, or on a miss to `default-value` (null without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLookupValue {
    pub key: Param<String>,
    pub default_value: Option<Param<String>>,
    /// No expressions.
    pub variable_name: String,
    pub caching_type: CachingType,
}

/// `<cache-store-value key="..." value="..." duration="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStoreValue {
    pub key: Param<String>,
    /// A literal is a string; an expression keeps its type.
    pub value: Param<String>,
    /// Seconds.
    pub duration: Param<u32>,
    pub caching_type: CachingType,
}

/// `<cache-remove-value key="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRemoveValue {
    pub key: Param<String>,
    pub caching_type: CachingType,
}

/// `downstream-caching-type` of `cache-lookup`: what `Cache-Control` tells the caches
/// between the gateway and the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownstreamCaching {
    /// The default: the response's own `Cache-Control` is left as it is.
    None,
    Private,
    Public,
}

impl DownstreamCaching {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "private" => Ok(Self::Private),
            "public" => Ok(Self::Public),
            _ => Err(format!(
                "`{s}` is not a downstream-caching-type; use none, private or public"
            )),
        }
    }
}

/// `<cache-lookup>` (inbound): answers a GET from the response cache, else lets
/// `cache-store` (outbound) keep the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLookup {
    pub caching_type: CachingType,
    pub downstream_caching_type: Param<DownstreamCaching>,
    /// Default true.
    pub must_revalidate: Param<bool>,
    /// Default false: a request with `Authorization` is neither looked up nor stored.
    pub allow_private_response_caching: Param<bool>,
    /// `<vary-by-header>`s, as written.
    pub vary_by_headers: Vec<String>,
    /// `<vary-by-query-parameter>`s, each split at `;`.
    pub vary_by_query_parameters: Vec<String>,
}

/// `<cache-store duration="..." cache-response="..."/>` (outbound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStore {
    /// Seconds.
    pub duration: Param<u32>,
    /// True keeps any response; false or absent keeps only `200 OK`.
    pub cache_response: Option<Param<bool>>,
}

// ---------------------------------------------------------------------------------
// Building elements from the XML tree.

/// Where policies are being parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub(crate) section: SectionKind,
}

/// Parses the policy children of a `when` or `otherwise`; `<base/>` here is an error
/// (sections handle their own `<base/>` in `document.rs`).
pub(crate) fn parse_steps(
    parent: &XmlElement,
    ctx: Ctx,
    prefix: &str,
) -> Result<Vec<Node>, PolicyError> {
    let mut steps = Vec::new();
    let mut counter = SiblingCounter::default();
    for child in child_elements(parent)? {
        let path = counter.path(prefix, &child.name);
        if child.name == "base" {
            return Err(PolicyError::Structure {
                at: child.at.clone(),
                message: format!(
                    "<base/> is only allowed directly inside a section (<inbound>, <backend>, <outbound>, <on-error>), not inside <{}>",
                    parent.name
                ),
            });
        }
        steps.push(parse_node(child, ctx, path)?);
    }
    Ok(steps)
}

/// Numbers same-named siblings for [`Meta::path`].
#[derive(Default)]
pub(crate) struct SiblingCounter {
    seen: Vec<(String, usize)>,
}

impl SiblingCounter {
    pub(crate) fn path(&mut self, prefix: &str, name: &str) -> String {
        let index = match self.seen.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                self.seen.push((name.to_owned(), 1));
                1
            }
        };
        if prefix.is_empty() {
            format!("{name}[{index}]")
        } else {
            format!("{prefix}/{name}[{index}]")
        }
    }
}

/// The policies certgate implements, with the sections each may appear in (spec §2;
/// on-error allows only the policies listed in spec §1.4).
const ALL: &[SectionKind] = &[
    SectionKind::Inbound,
    SectionKind::Backend,
    SectionKind::Outbound,
    SectionKind::OnError,
];
const INBOUND: &[SectionKind] = &[SectionKind::Inbound];

fn allowed_sections(name: &str) -> Option<&'static [SectionKind]> {
    use SectionKind::*;
    Some(match name {
        "choose" | "return-response" | "set-status" | "set-header" | "set-variable" => ALL,
        "set-body" => &[Inbound, Backend, Outbound],
        "set-backend-service" => &[Inbound, Backend],
        // Not in the spec: APIM's reference lists inbound and backend.
        "set-query-parameter" => &[Inbound, Backend],
        "forward-request" => &[Backend],
        "mock-response" => &[Inbound, Outbound, OnError],
        "rewrite-uri"
        | "check-header"
        | "ip-filter"
        | "validate-client-certificate"
        | "authentication-certificate"
        | "cors"
        | "validate-jwt" => INBOUND,
        "cache-lookup-value" | "cache-store-value" | "cache-remove-value" => ALL,
        "cache-lookup" => INBOUND,
        "cache-store" => &[Outbound],
        "set-method" => &[Inbound, OnError],
        "find-and-replace" | "trace" | "emit-metric" | "limit-concurrency" => ALL,
        "authentication-basic" => INBOUND,
        "send-request" | "send-one-way-request" | "retry" => ALL,
        "wait" => &[Inbound, Backend, Outbound],
        "json-to-xml" | "xml-to-json" => &[Inbound, Outbound, OnError],
        _ => return None,
    })
}

/// Other APIM policies certgate does not run (so their names get a clear error rather
/// than "unknown element").
const NOT_IMPLEMENTED: &[&str] = &[
    "xsl-transform",
    "cross-domain",
    "jsonp",
    "proxy",
    "validate-content",
    "validate-parameters",
    "validate-headers",
    "validate-status-code",
    "validate-graphql-request",
    "set-graphql-resolver",
];

/// APIM policies certgate does not run, with the reason given in the load error.
fn unsupported_reason(name: &str) -> Option<String> {
    let reason = match name {
        "rate-limit-by-key" | "quota-by-key" => format!(
            "<{name}> is not available in the Consumption tier (APIM policy index: Consumption: No), and certgate does not implement it; remove it or enforce limits in API Gateway usage plans"
        ),
        "rate-limit" | "quota" => format!(
            "certgate does not implement <{name}> (it needs APIM subscriptions); remove it or enforce limits in API Gateway usage plans"
        ),
        _ if let Some(reason) = azure_bound(name) => reason,
        _ if NOT_IMPLEMENTED.contains(&name) => {
            format!("certgate does not implement the APIM policy <{name}>; remove it")
        }
        _ => return None,
    };
    Some(reason)
}

/// The load error's reason for a policy bound to an Azure service: the AWS way instead.
pub(super) fn azure_bound(name: &str) -> Option<String> {
    aws_way(name)
        .map(|aws| format!("<{name}> needs Azure; certgate does not run it. On AWS: {aws}"))
}

/// The AWS way to do what an Azure-bound policy does, for its load error.
fn aws_way(name: &str) -> Option<&'static str> {
    Some(match name {
        "authentication-managed-identity" => {
            "give the backend its credentials in a [[backends]] entry of gateway.toml (set-backend-service backend-id), or put it behind API Gateway with IAM (SigV4) authorization"
        }
        "get-authorization-context" => {
            "keep the backend's OAuth tokens in Secrets Manager and read them as named values"
        }
        "validate-azure-ad-token" => {
            "use <validate-jwt> with <openid-config url=\"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration\"/>"
        }
        "log-to-eventhub" => {
            "use <trace> (CloudWatch Logs; subscribe Kinesis or Firehose to the log group)"
        }
        "publish-to-dapr" | "invoke-dapr-binding" => {
            "certgate has no Dapr sidecar; call the service from the backend"
        }
        _ if name.starts_with("azure-openai-") || name.starts_with("llm-") => {
            "use Amazon Bedrock guardrails for content and API Gateway usage plans for token or request limits"
        }
        _ => return None,
    })
}

fn section_names(sections: &[SectionKind]) -> String {
    sections
        .iter()
        .map(|s| format!("<{}>", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn parse_node(el: &XmlElement, ctx: Ctx, path: String) -> Result<Node, PolicyError> {
    let Some(sections) = allowed_sections(&el.name) else {
        if let Some(reason) = unsupported_reason(&el.name) {
            return Err(PolicyError::UnsupportedElement {
                at: el.at.clone(),
                name: el.name.clone(),
                reason,
            });
        }
        let hint = match closest_policy_name(&el.name) {
            Some(known) => format!(" in <{}>: did you mean <{known}>?", ctx.section.as_str()),
            None => format!(
                " in <{}>: expected a policy such as choose, set-header, set-variable, return-response, validate-client-certificate",
                ctx.section.as_str()
            ),
        };
        return Err(PolicyError::UnknownElement {
            at: el.at.clone(),
            name: el.name.clone(),
            hint,
        });
    };
    if !sections.contains(&ctx.section) {
        return Err(PolicyError::Structure {
            at: el.at.clone(),
            message: format!(
                "<{}> is not allowed in <{}>; it may appear in {}",
                el.name,
                ctx.section.as_str(),
                section_names(sections)
            ),
        });
    }
    build_node(el, ctx, path)
}

/// The implemented policy name within edit distance 2 of `name`, for typos.
fn closest_policy_name(name: &str) -> Option<&'static str> {
    if name.len() > 64 {
        return None;
    }
    POLICY_NAMES
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance (short strings only).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Builds a known policy element (placement already checked by the caller).
fn build_node(el: &XmlElement, ctx: Ctx, path: String) -> Result<Node, PolicyError> {
    let name = static_name(&el.name);
    let (policy, id) = match name {
        "choose" => {
            let a = Attrs::new(el, &["id"])?;
            (Policy::Choose(choose(el, ctx, &path)?), a.id()?)
        }
        "return-response" => {
            let a = Attrs::new(el, &["id", "response-variable-name"])?;
            let rr = ReturnResponse {
                response_variable_name: a.literal("response-variable-name", any_text)?,
                steps: return_response_steps(el, ctx, &path)?,
            };
            (Policy::ReturnResponse(rr), a.id()?)
        }
        "set-status" => {
            let a = Attrs::new(el, &["id", "code", "reason"])?;
            no_children(el)?;
            (Policy::SetStatus(set_status(&a)?), a.id()?)
        }
        "set-header" | "set-query-parameter" => {
            let a = Attrs::new(el, &["id", "name", "exists-action"])?;
            let p = SetParameter {
                name: a.required(a.param("name", any_text)?, "name")?,
                exists_action: a
                    .param("exists-action", ExistsAction::parse)?
                    .unwrap_or_else(|| Param::Literal(ExistsAction::Override, a.empty())),
                values: value_children(el, "value", any_text)?,
            };
            let policy = if name == "set-header" {
                Policy::SetHeader(p)
            } else {
                Policy::SetQueryParameter(p)
            };
            (policy, a.id()?)
        }
        "set-body" => {
            let a = Attrs::new(el, &["id", "template", "xsi-nil", "parse-date"])?;
            (Policy::SetBody(set_body(el, &a)?), a.id()?)
        }
        "set-variable" => {
            let a = Attrs::new(el, &["id", "name", "value"])?;
            no_children(el)?;
            let v = SetVariable {
                name: a.required(a.literal("name", non_empty)?, "name")?,
                value: a.required(a.param("value", any_text)?, "value")?,
            };
            (Policy::SetVariable(v), a.id()?)
        }
        "set-backend-service" => {
            let a = Attrs::new(
                el,
                &[
                    "id",
                    "base-url",
                    "backend-id",
                    "sf-resolve-condition",
                    "sf-service-instance-name",
                    "sf-partition-key",
                    "sf-listener-name",
                ],
            )?;
            no_children(el)?;
            for unsupported in [
                "sf-resolve-condition",
                "sf-service-instance-name",
                "sf-partition-key",
                "sf-listener-name",
            ] {
                if let Some(v) = a.get(unsupported) {
                    return Err(a.invalid(
                        unsupported,
                        v,
                        "certgate has no Service Fabric backends; use base-url or a [[backends]] entry of gateway.toml with backend-id",
                    ));
                }
            }
            let s = match (a.get("base-url"), a.get("backend-id")) {
                (Some(_), Some(id)) => {
                    return Err(a.invalid(
                        "backend-id",
                        id,
                        "give base-url or backend-id, not both",
                    ));
                }
                (None, Some(value)) if value.is_expression() => {
                    return Err(a.invalid(
                        "backend-id",
                        value,
                        "certgate does not implement an expression in backend-id yet; name the [[backends]] entry",
                    ));
                }
                (None, Some(value)) => SetBackendService::BackendId {
                    id: a.required(a.literal("backend-id", non_empty)?, "backend-id")?,
                    at: value.clone(),
                },
                _ => SetBackendService::BaseUrl(
                    a.required(a.param("base-url", absolute_url)?, "base-url")?,
                ),
            };
            (Policy::SetBackendService(s), a.id()?)
        }
        "forward-request" => {
            let a = Attrs::new(
                el,
                &[
                    "id",
                    "timeout",
                    "timeout-ms",
                    "continue-timeout",
                    "http-version",
                    "follow-redirects",
                    "buffer-request-body",
                    "buffer-response",
                    "fail-on-error-status-code",
                ],
            )?;
            no_children(el)?;
            (Policy::ForwardRequest(forward_request(&a)?), a.id()?)
        }
        "rewrite-uri" => {
            let a = Attrs::new(el, &["id", "template", "copy-unmatched-params"])?;
            no_children(el)?;
            let r = RewriteUri {
                template: a.required(a.param("template", any_text)?, "template")?,
                copy_unmatched_params: a
                    .literal("copy-unmatched-params", parse_bool)?
                    .unwrap_or(true),
            };
            (Policy::RewriteUri(r), a.id()?)
        }
        "mock-response" => {
            let a = Attrs::new(el, &["id", "status-code", "content-type"])?;
            no_children(el)?;
            let m = MockResponse {
                status_code: a.literal("status-code", parse_status)?.unwrap_or(200),
                content_type: a.literal("content-type", non_empty)?,
            };
            (Policy::MockResponse(m), a.id()?)
        }
        "check-header" => {
            let a = Attrs::new(
                el,
                &[
                    "id",
                    "name",
                    "failed-check-httpcode",
                    "failed-check-error-message",
                    "ignore-case",
                ],
            )?;
            let c = CheckHeader {
                name: a.required(a.param("name", non_empty)?, "name")?,
                failed_check_httpcode: a.required(
                    a.param("failed-check-httpcode", parse_status)?,
                    "failed-check-httpcode",
                )?,
                failed_check_error_message: a.required(
                    a.param("failed-check-error-message", any_text)?,
                    "failed-check-error-message",
                )?,
                ignore_case: a.required(a.param("ignore-case", parse_bool)?, "ignore-case")?,
                values: value_children(el, "value", any_text)?,
            };
            (Policy::CheckHeader(c), a.id()?)
        }
        "ip-filter" => {
            let a = Attrs::new(el, &["id", "action"])?;
            (Policy::IpFilter(ip_filter(el, &a)?), a.id()?)
        }
        "validate-client-certificate" => {
            let a = Attrs::new(
                el,
                &[
                    "id",
                    "validate-revocation",
                    "validate-trust",
                    "validate-not-before",
                    "validate-not-after",
                    "ignore-error",
                ],
            )?;
            (
                Policy::ValidateClientCertificate(validate_client_certificate(el, &a)?),
                a.id()?,
            )
        }
        "authentication-certificate" => {
            let a = Attrs::new(
                el,
                &["id", "thumbprint", "certificate-id", "body", "password"],
            )?;
            no_children(el)?;
            (
                Policy::AuthenticationCertificate(authentication_certificate(el, &a)?),
                a.id()?,
            )
        }
        "cors" => {
            let a = Attrs::new(
                el,
                &["id", "allow-credentials", "terminate-unmatched-request"],
            )?;
            (Policy::Cors(cors(el, &a)?), a.id()?)
        }
        "validate-jwt" => {
            let a = Attrs::new(el, validate_jwt::ATTRIBUTES)?;
            (
                Policy::ValidateJwt(Box::new(validate_jwt::validate_jwt(el, &a)?)),
                a.id()?,
            )
        }
        "cache-lookup-value" => {
            let a = Attrs::new(
                el,
                &[
                    "id",
                    "key",
                    "default-value",
                    "variable-name",
                    "caching-type",
                ],
            )?;
            no_children(el)?;
            let c = CacheLookupValue {
                key: a.required(a.param("key", non_empty)?, "key")?,
                default_value: a.param("default-value", any_text)?,
                variable_name: a
                    .required(a.literal("variable-name", non_empty)?, "variable-name")?,
                caching_type: caching_type(&a)?,
            };
            (Policy::CacheLookupValue(c), a.id()?)
        }
        "cache-store-value" => {
            let a = Attrs::new(el, &["id", "key", "value", "duration", "caching-type"])?;
            no_children(el)?;
            let c = CacheStoreValue {
                key: a.required(a.param("key", non_empty)?, "key")?,
                value: a.required(a.param("value", any_text)?, "value")?,
                duration: a.required(a.param("duration", parse_u32)?, "duration")?,
                caching_type: caching_type(&a)?,
            };
            (Policy::CacheStoreValue(c), a.id()?)
        }
        "cache-remove-value" => {
            let a = Attrs::new(el, &["id", "key", "caching-type"])?;
            no_children(el)?;
            let c = CacheRemoveValue {
                key: a.required(a.param("key", non_empty)?, "key")?,
                caching_type: caching_type(&a)?,
            };
            (Policy::CacheRemoveValue(c), a.id()?)
        }
        "cache-lookup" => {
            let a = Attrs::new(
                el,
                &[
                    "id",
                    "vary-by-developer",
                    "vary-by-developer-groups",
                    "caching-type",
                    "downstream-caching-type",
                    "must-revalidate",
                    "allow-private-response-caching",
                ],
            )?;
            (Policy::CacheLookup(cache_lookup(el, &a)?), a.id()?)
        }
        "cache-store" => {
            let a = Attrs::new(el, &["id", "duration", "cache-response"])?;
            no_children(el)?;
            let c = CacheStore {
                duration: a.required(a.param("duration", parse_u32)?, "duration")?,
                cache_response: a.param("cache-response", parse_bool)?,
            };
            (Policy::CacheStore(c), a.id()?)
        }
        "set-method" => {
            let a = Attrs::new(el, &["id"])?;
            (Policy::SetMethod(set_method::set_method(el)?), a.id()?)
        }
        "find-and-replace" => {
            let a = Attrs::new(el, &["id", "from", "to"])?;
            no_children(el)?;
            let f = find_and_replace::find_and_replace(&a, ctx.section)?;
            (Policy::FindAndReplace(f), a.id()?)
        }
        "authentication-basic" => {
            let a = Attrs::new(el, &["id", "username", "password"])?;
            no_children(el)?;
            let b = authentication_basic::authentication_basic(&a)?;
            (Policy::AuthenticationBasic(b), a.id()?)
        }
        "trace" => {
            let a = Attrs::new(el, &["id", "source", "severity"])?;
            (Policy::Trace(trace::trace(el, &a)?), a.id()?)
        }
        "emit-metric" => {
            let a = Attrs::new(el, &["id", "name", "namespace", "value"])?;
            (
                Policy::EmitMetric(emit_metric::emit_metric(el, &a)?),
                a.id()?,
            )
        }
        "limit-concurrency" => {
            let a = Attrs::new(el, &["id", "key", "max-count"])?;
            let l = limit_concurrency::limit_concurrency(el, &a, ctx, &path)?;
            (Policy::LimitConcurrency(l), a.id()?)
        }
        "send-request" | "send-one-way-request" => {
            let one_way = name == "send-one-way-request";
            let allowed = if one_way {
                send_request::ONE_WAY_ATTRIBUTES
            } else {
                send_request::ATTRIBUTES
            };
            let a = Attrs::new(el, allowed)?;
            let r = send_request::send_request(el, &a, ctx, &path, one_way)?;
            (Policy::SendRequest(Box::new(r)), a.id()?)
        }
        "retry" => {
            let a = Attrs::new(el, retry::ATTRIBUTES)?;
            (
                Policy::Retry(Box::new(retry::retry(el, &a, ctx, &path)?)),
                a.id()?,
            )
        }
        "wait" => {
            let a = Attrs::new(el, wait::ATTRIBUTES)?;
            (Policy::Wait(wait::wait(el, &a, ctx, &path)?), a.id()?)
        }
        "json-to-xml" => {
            let a = Attrs::new(el, json_to_xml::ATTRIBUTES)?;
            (
                Policy::JsonToXml(json_to_xml::json_to_xml(el, &a, ctx.section)?),
                a.id()?,
            )
        }
        "xml-to-json" => {
            let a = Attrs::new(el, xml_to_json::ATTRIBUTES)?;
            (
                Policy::XmlToJson(xml_to_json::xml_to_json(el, &a, ctx.section)?),
                a.id()?,
            )
        }
        _ => unknown_element(el)?,
    };
    Ok(Node {
        meta: Meta {
            name,
            id,
            at: el.at.clone(),
            path,
        },
        policy,
    })
}

/// The policies of [`allowed_sections`].
const POLICY_NAMES: &[&str] = &[
    "choose",
    "return-response",
    "set-status",
    "set-header",
    "set-query-parameter",
    "set-body",
    "set-variable",
    "set-backend-service",
    "forward-request",
    "rewrite-uri",
    "mock-response",
    "check-header",
    "ip-filter",
    "validate-client-certificate",
    "authentication-certificate",
    "cors",
    "validate-jwt",
    "cache-lookup-value",
    "cache-store-value",
    "cache-remove-value",
    "cache-lookup",
    "cache-store",
    "set-method",
    "find-and-replace",
    "authentication-basic",
    "trace",
    "emit-metric",
    "limit-concurrency",
    "send-request",
    "send-one-way-request",
    "retry",
    "wait",
    "json-to-xml",
    "xml-to-json",
];

/// Interns a known element name (those of [`allowed_sections`], `when`, `otherwise`).
fn static_name(name: &str) -> &'static str {
    POLICY_NAMES
        .iter()
        .chain(&["when", "otherwise"])
        .copied()
        .find(|n| *n == name)
        .unwrap_or("")
}

fn unknown_element(el: &XmlElement) -> Result<(Policy, Option<String>), PolicyError> {
    Err(PolicyError::UnknownElement {
        at: el.at.clone(),
        name: el.name.clone(),
        hint: String::new(),
    })
}

fn choose(el: &XmlElement, ctx: Ctx, path: &str) -> Result<Choose, PolicyError> {
    let mut whens = Vec::new();
    let mut otherwise: Option<Otherwise> = None;
    let mut counter = SiblingCounter::default();
    for child in child_elements(el)? {
        let child_path = counter.path(path, &child.name);
        let meta = |name| Meta {
            name,
            id: None,
            at: child.at.clone(),
            path: child_path.clone(),
        };
        match child.name.as_str() {
            "when" => {
                if otherwise.is_some() {
                    return Err(structure(
                        child,
                        "<when> after <otherwise>: <otherwise> must be the last branch of <choose>",
                    ));
                }
                let a = Attrs::new(child, &["condition"])?;
                let condition = a.condition()?;
                whens.push(When {
                    meta: meta("when"),
                    condition,
                    steps: parse_steps(child, ctx, &child_path)?,
                });
            }
            "otherwise" => {
                if otherwise.is_some() {
                    return Err(structure(child, "<choose> has more than one <otherwise>"));
                }
                Attrs::new(child, &[])?;
                otherwise = Some(Otherwise {
                    meta: meta("otherwise"),
                    steps: parse_steps(child, ctx, &child_path)?,
                });
            }
            other => {
                return Err(PolicyError::UnknownElement {
                    at: child.at.clone(),
                    name: other.to_owned(),
                    hint: " in <choose>: only <when> and <otherwise> are allowed".into(),
                });
            }
        }
    }
    if whens.is_empty() {
        return Err(structure(
            el,
            "<choose> needs at least one <when condition=\"...\">",
        ));
    }
    Ok(Choose { whens, otherwise })
}

fn return_response_steps(el: &XmlElement, ctx: Ctx, path: &str) -> Result<Vec<Node>, PolicyError> {
    let mut steps = Vec::new();
    let mut counter = SiblingCounter::default();
    for child in child_elements(el)? {
        let child_path = counter.path(path, &child.name);
        let once = match child.name.as_str() {
            "set-status" | "set-body" => true,
            "set-header" => false,
            other => {
                return Err(PolicyError::Structure {
                    at: child.at.clone(),
                    message: format!(
                        "<{other}> is not allowed inside <return-response>: only <set-status>, <set-header> and <set-body>"
                    ),
                });
            }
        };
        if once && steps.iter().any(|n: &Node| n.meta.name == child.name) {
            return Err(PolicyError::Structure {
                at: child.at.clone(),
                message: format!("<return-response> has more than one <{}>", child.name),
            });
        }
        // The children modify the response, whatever the section: no placement check.
        steps.push(build_node(child, ctx, child_path)?);
    }
    Ok(steps)
}

fn set_status(a: &Attrs<'_>) -> Result<SetStatus, PolicyError> {
    Ok(SetStatus {
        code: a.required(a.param("code", parse_status)?, "code")?,
        reason: a.param("reason", any_text)?,
    })
}

fn set_body(el: &XmlElement, a: &Attrs<'_>) -> Result<SetBody, PolicyError> {
    if let Some(v) = a.get("template") {
        let message = if v.source() == "liquid" {
            "certgate has no Liquid engine; build the body with a policy expression @{ ... } instead"
        } else {
            "the only template APIM knows is `liquid`, and certgate does not support it"
        };
        return Err(a.invalid("template", v, message));
    }
    if let Some(v) = a.get("parse-date") {
        return Err(a.invalid(
            "parse-date",
            v,
            "parse-date only applies to template=\"liquid\", and certgate has no Liquid engine; remove it",
        ));
    }
    let xsi_nil = a
        .literal("xsi-nil", |s| match s {
            "blank" => Ok(XsiNil::Blank),
            "null" => Ok(XsiNil::Null),
            _ => Err(format!("`{s}` is not allowed; use blank or null")),
        })?
        .unwrap_or(XsiNil::Blank);
    Ok(SetBody {
        body: text_param(el, any_text)?,
        xsi_nil,
    })
}

fn forward_request(a: &Attrs<'_>) -> Result<ForwardRequest, PolicyError> {
    let timeout = a.param("timeout", parse_u32)?;
    let timeout_ms = a.param("timeout-ms", parse_u32)?;
    if let (Some(_), Some(ms)) = (&timeout, &timeout_ms) {
        return Err(a.invalid(
            "timeout-ms",
            ms.source(),
            "use either timeout or timeout-ms, not both",
        ));
    }
    Ok(ForwardRequest {
        timeout,
        timeout_ms,
        continue_timeout: a.param("continue-timeout", parse_u32)?,
        http_version: a
            .literal("http-version", |s| match s {
                "1" => Ok(HttpVersion::Http1),
                "2" => Ok(HttpVersion::Http2),
                "2or1" => Ok(HttpVersion::Http2Or1),
                _ => Err(format!("`{s}` is not allowed; use 1, 2 or 2or1")),
            })?
            .unwrap_or(HttpVersion::Http1),
        follow_redirects: a
            .param("follow-redirects", parse_bool)?
            .unwrap_or_else(|| Param::Literal(false, a.empty())),
        buffer_request_body: a
            .literal("buffer-request-body", parse_bool)?
            .unwrap_or(false),
        buffer_response: a.literal("buffer-response", parse_bool)?.unwrap_or(true),
        fail_on_error_status_code: a
            .literal("fail-on-error-status-code", parse_bool)?
            .unwrap_or(false),
    })
}

fn ip_filter(el: &XmlElement, a: &Attrs<'_>) -> Result<IpFilter, PolicyError> {
    let action = a.required(
        a.param("action", |s| match s {
            "allow" => Ok(IpFilterAction::Allow),
            "forbid" => Ok(IpFilterAction::Forbid),
            _ => Err(format!("`{s}` is not allowed; use allow or forbid")),
        })?,
        "action",
    )?;
    let mut addresses = Vec::new();
    let mut ranges = Vec::new();
    for child in child_elements(el)? {
        match child.name.as_str() {
            "address" => {
                Attrs::new(child, &[])?;
                addresses.push(text_param(child, parse_ip)?);
            }
            "address-range" => {
                let r = Attrs::new(child, &["from", "to"])?;
                no_children(child)?;
                let range = AddressRange {
                    from: r.required(r.param("from", parse_ip)?, "from")?,
                    to: r.required(r.param("to", parse_ip)?, "to")?,
                };
                if let (Some(from), Some(to)) = (range.from.literal(), range.to.literal())
                    && (from.is_ipv4() != to.is_ipv4() || from > to)
                {
                    return Err(r.invalid(
                        "to",
                        range.to.source(),
                        &format!("the range {from} to {to} is empty or mixes IPv4 and IPv6"),
                    ));
                }
                ranges.push(range);
            }
            other => {
                return Err(PolicyError::UnknownElement {
                    at: child.at.clone(),
                    name: other.to_owned(),
                    hint: " in <ip-filter>: only <address> and <address-range> are allowed".into(),
                });
            }
        }
    }
    if addresses.is_empty() && ranges.is_empty() {
        return Err(structure(
            el,
            "<ip-filter> needs at least one <address> or <address-range from=\"...\" to=\"...\"/>",
        ));
    }
    Ok(IpFilter {
        action,
        addresses,
        ranges,
    })
}

fn validate_client_certificate(
    el: &XmlElement,
    a: &Attrs<'_>,
) -> Result<ValidateClientCertificate, PolicyError> {
    let flag = |name, default| -> Result<bool, PolicyError> {
        Ok(a.literal(name, parse_bool)?.unwrap_or(default))
    };
    let mut identities = Vec::new();
    let mut seen_identities = false;
    for child in child_elements(el)? {
        if child.name != "identities" {
            return Err(PolicyError::UnknownElement {
                at: child.at.clone(),
                name: child.name.clone(),
                hint: " in <validate-client-certificate>: only <identities> is allowed".into(),
            });
        }
        if std::mem::replace(&mut seen_identities, true) {
            return Err(structure(
                child,
                "<validate-client-certificate> has more than one <identities>",
            ));
        }
        Attrs::new(child, &[])?;
        for id in child_elements(child)? {
            if id.name != "identity" {
                return Err(PolicyError::UnknownElement {
                    at: id.at.clone(),
                    name: id.name.clone(),
                    hint: " in <identities>: only <identity> is allowed".into(),
                });
            }
            if identities.len() == MAX_IDENTITIES {
                return Err(structure(
                    id,
                    &format!("<identities> allows at most {MAX_IDENTITIES} <identity> elements"),
                ));
            }
            identities.push(identity(id)?);
        }
    }
    Ok(ValidateClientCertificate {
        validate_revocation: flag("validate-revocation", true)?,
        validate_trust: flag("validate-trust", true)?,
        validate_not_before: flag("validate-not-before", true)?,
        validate_not_after: flag("validate-not-after", true)?,
        ignore_error: flag("ignore-error", false)?,
        identities,
    })
}

fn identity(el: &XmlElement) -> Result<Identity, PolicyError> {
    let a = Attrs::new(
        el,
        &[
            "thumbprint",
            "serial-number",
            "common-name",
            "subject",
            "dns-name",
            "issuer-subject",
            "issuer-thumbprint",
            "issuer-certificate-id",
        ],
    )?;
    no_children(el)?;
    let s = |name| a.literal(name, non_empty);
    let identity = Identity {
        at: el.at.clone(),
        thumbprint: s("thumbprint")?,
        serial_number: s("serial-number")?,
        common_name: s("common-name")?,
        subject: s("subject")?,
        dns_name: s("dns-name")?,
        issuer_subject: s("issuer-subject")?,
        issuer_thumbprint: s("issuer-thumbprint")?,
        issuer_certificate_id: s("issuer-certificate-id")?,
    };
    if let Some(id) = a.get("issuer-certificate-id")
        && (identity.issuer_subject.is_some() || identity.issuer_thumbprint.is_some())
    {
        return Err(a.invalid(
            "issuer-certificate-id",
            id,
            "cannot be combined with issuer-subject or issuer-thumbprint",
        ));
    }
    if el.attributes.is_empty() {
        return Err(structure(
            el,
            "<identity> needs at least one claim (thumbprint, serial-number, common-name, subject, dns-name, issuer-subject, issuer-thumbprint or issuer-certificate-id); an empty identity would match any certificate",
        ));
    }
    Ok(identity)
}

fn authentication_certificate(
    el: &XmlElement,
    a: &Attrs<'_>,
) -> Result<AuthenticationCertificate, PolicyError> {
    let thumbprint = a.param("thumbprint", non_empty)?;
    let certificate_id = a.param("certificate-id", non_empty)?;
    // An inline certificate (and its password) would be read per request from an
    // expression: refused here rather than failing every request.
    for attribute in ["body", "password"] {
        if let Some(value) = a.param(attribute, any_text)? {
            return Err(a.invalid(
                attribute,
                value.source(),
                "certgate does not take inline certificates; upload it as certificates/<id>.pem with its key and use certificate-id",
            ));
        }
    }
    match (thumbprint, certificate_id) {
        (Some(t), None) => Ok(AuthenticationCertificate::Thumbprint(t)),
        (None, Some(c)) => Ok(AuthenticationCertificate::CertificateId(c)),
        _ => Err(structure(
            el,
            "<authentication-certificate> needs exactly one of thumbprint or certificate-id",
        )),
    }
}

/// `<cors>`: children in the documented order, each at most once.
fn cors(el: &XmlElement, a: &Attrs<'_>) -> Result<Cors, PolicyError> {
    const ORDER: [&str; 4] = [
        "allowed-origins",
        "allowed-methods",
        "allowed-headers",
        "expose-headers",
    ];
    let mut cors = Cors {
        allow_credentials: a
            .param("allow-credentials", parse_bool)?
            .unwrap_or_else(|| Param::Literal(false, a.empty())),
        terminate_unmatched_request: a
            .param("terminate-unmatched-request", parse_bool)?
            .unwrap_or_else(|| Param::Literal(true, a.empty())),
        allowed_origins: Vec::new(),
        allowed_methods: Vec::new(),
        preflight_result_max_age: 0,
        allowed_headers: Vec::new(),
        expose_headers: Vec::new(),
    };
    let mut last = None;
    let mut wildcard_origin = None;
    for child in child_elements(el)? {
        let Some(index) = ORDER.iter().position(|n| *n == child.name) else {
            return Err(PolicyError::UnknownElement {
                at: child.at.clone(),
                name: child.name.clone(),
                hint: " in <cors>: only <allowed-origins>, <allowed-methods>, <allowed-headers> and <expose-headers> are allowed".into(),
            });
        };
        if last.is_some_and(|l| l >= index) {
            return Err(structure(
                child,
                "<cors> takes <allowed-origins>, <allowed-methods>, <allowed-headers>, <expose-headers> once each, in that order",
            ));
        }
        last = Some(index);
        match child.name.as_str() {
            "allowed-origins" => {
                Attrs::new(child, &[])?;
                for origin in literal_children(child, "origin", parse_origin)? {
                    if origin.0 == "*" {
                        wildcard_origin = Some(origin.1);
                    }
                    cors.allowed_origins.push(origin.0);
                }
            }
            "allowed-methods" => {
                let m = Attrs::new(child, &["preflight-result-max-age"])?;
                cors.preflight_result_max_age = m
                    .literal("preflight-result-max-age", parse_u32)?
                    .unwrap_or(0);
                cors.allowed_methods = names(literal_children(child, "method", parse_token)?);
            }
            "allowed-headers" => {
                Attrs::new(child, &[])?;
                cors.allowed_headers = names(literal_children(child, "header", parse_token)?);
            }
            _ => {
                Attrs::new(child, &[])?;
                cors.expose_headers = names(literal_children(child, "header", parse_token)?);
            }
        }
    }
    if cors.allowed_origins.is_empty() {
        return Err(structure(
            el,
            "<cors> needs <allowed-origins> with at least one <origin> (`*` or scheme://host[:port])",
        ));
    }
    // Browsers refuse `Access-Control-Allow-Origin: *` on a credentialed request; refuse
    // the combination here rather than send answers no browser accepts.
    if let (Some(origin), Some(true)) = (wildcard_origin, cors.allow_credentials.literal().copied())
    {
        return Err(invalid_value(
            "origin",
            "text",
            &origin,
            "`*` cannot be combined with allow-credentials=\"true\"; list the allowed origins",
        ));
    }
    Ok(cors)
}

fn cache_lookup(el: &XmlElement, a: &Attrs<'_>) -> Result<CacheLookup, PolicyError> {
    // APIM requires both; certgate has no subscriptions to vary by, so only `false`.
    for name in ["vary-by-developer", "vary-by-developer-groups"] {
        let Some(value) = a.get(name) else { continue };
        if parse_bool(value.source()) != Ok(false) {
            return Err(a.invalid(
                name,
                value,
                "certgate has no APIM developer accounts, groups or subscriptions; write false (vary by a header such as Authorization instead)",
            ));
        }
    }
    let mut c = CacheLookup {
        caching_type: caching_type(a)?,
        downstream_caching_type: a
            .param("downstream-caching-type", DownstreamCaching::parse)?
            .unwrap_or_else(|| Param::Literal(DownstreamCaching::None, a.empty())),
        must_revalidate: a
            .param("must-revalidate", parse_bool)?
            .unwrap_or_else(|| Param::Literal(true, a.empty())),
        allow_private_response_caching: a
            .param("allow-private-response-caching", parse_bool)?
            .unwrap_or_else(|| Param::Literal(false, a.empty())),
        vary_by_headers: Vec::new(),
        vary_by_query_parameters: Vec::new(),
    };
    for child in child_elements(el)? {
        let header = match child.name.as_str() {
            "vary-by-header" => true,
            "vary-by-query-parameter" => false,
            other => {
                return Err(PolicyError::UnknownElement {
                    at: child.at.clone(),
                    name: other.to_owned(),
                    hint: " in <cache-lookup>: only <vary-by-header> and <vary-by-query-parameter> are allowed".into(),
                });
            }
        };
        Attrs::new(child, &[])?;
        let (text, at) = match text_param(child, non_empty)? {
            Param::Literal(text, at) => (text, at),
            Param::Expression(e) => {
                return Err(invalid_value(
                    &child.name,
                    "text",
                    e.source(),
                    "policy expressions are not allowed here; write a literal value",
                ));
            }
        };
        if header {
            let name =
                parse_token(&text).map_err(|m| invalid_value(&child.name, "text", &at, &m))?;
            c.vary_by_headers.push(name);
            continue;
        }
        for name in text.split(';').map(str::trim).filter(|n| !n.is_empty()) {
            if name.contains(['&', '=', '#', '?']) {
                return Err(invalid_value(
                    &child.name,
                    "text",
                    &at,
                    &format!("`{name}` is not a query parameter name"),
                ));
            }
            c.vary_by_query_parameters.push(name.to_owned());
        }
    }
    Ok(c)
}

fn caching_type(a: &Attrs<'_>) -> Result<CachingType, PolicyError> {
    Ok(a.literal("caching-type", |s| match s {
        "internal" => Ok(CachingType::Internal),
        "external" => Ok(CachingType::External),
        "prefer-external" => Ok(CachingType::PreferExternal),
        _ => Err(format!(
            "`{s}` is not a caching-type; use internal, external or prefer-external"
        )),
    })?
    .unwrap_or(CachingType::PreferExternal))
}

fn names(values: Vec<(String, PolicyValue)>) -> Vec<String> {
    values.into_iter().map(|(v, _)| v).collect()
}

/// `<name>` children of `el` whose text is a literal (no expressions), with where each
/// was written.
fn literal_children(
    el: &XmlElement,
    name: &str,
    parse: impl Fn(&str) -> Result<String, String> + Copy,
) -> Result<Vec<(String, PolicyValue)>, PolicyError> {
    value_children(el, name, parse)?
        .into_iter()
        .map(|param| match param {
            Param::Literal(value, at) => Ok((value, at)),
            Param::Expression(_) => Err(invalid_value(
                name,
                "text",
                param.source(),
                "policy expressions are not allowed here; write a literal value",
            )),
        })
        .collect()
}

/// `*` or `scheme://host[:port]`, as browsers send it in `Origin`.
fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "*" {
        return Ok(s.to_owned());
    }
    match s.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', ' ']) =>
        {
            Ok(s.to_owned())
        }
        _ => Err(format!(
            "`{s}` is not an origin; write `*` or scheme://host[:port] without a path, e.g. https://app.example.com"
        )),
    }
}

/// An HTTP token (RFC 9110): what a method or header name is made of.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// A method or header name (an HTTP token) or `*`.
fn parse_token(s: &str) -> Result<String, String> {
    let s = s.trim();
    if is_token(s) {
        Ok(s.to_owned())
    } else {
        Err(format!("`{s}` is not a method or header name (or `*`)"))
    }
}

// ---------------------------------------------------------------------------------
// Helpers.

fn structure(el: &XmlElement, message: &str) -> PolicyError {
    PolicyError::Structure {
        at: el.at.clone(),
        message: message.to_owned(),
    }
}

/// The element children; non-blank text is an error.
pub(crate) fn child_elements(el: &XmlElement) -> Result<Vec<&XmlElement>, PolicyError> {
    let mut out = Vec::new();
    for child in &el.children {
        match child {
            XmlNode::Element(e) => out.push(e),
            XmlNode::Text(t) if t.source().trim().is_empty() => {}
            XmlNode::Text(t) => {
                let t = t.trimmed();
                return Err(PolicyError::Structure {
                    at: t.origin().clone(),
                    message: format!(
                        "unexpected text inside <{}>: it takes only elements",
                        el.name
                    ),
                });
            }
        }
    }
    Ok(out)
}

fn no_children(el: &XmlElement) -> Result<(), PolicyError> {
    match child_elements(el)?.first() {
        None => Ok(()),
        Some(child) => Err(PolicyError::Structure {
            at: child.at.clone(),
            message: format!(
                "<{}> takes no child elements; found <{}>",
                el.name, child.name
            ),
        }),
    }
}

/// The text content of `el` as one value: an expression when its first non-blank
/// characters are `@(` / `@{` (then nothing else may follow), else the literal text
/// (whitespace kept).
fn text_param<T>(
    el: &XmlElement,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Param<T>, PolicyError> {
    let mut chunks = Vec::new();
    for child in &el.children {
        match child {
            XmlNode::Element(e) => {
                return Err(PolicyError::Structure {
                    at: e.at.clone(),
                    message: format!(
                        "<{}> takes text, not elements; found <{}> (wrap markup in <![CDATA[ ... ]]>)",
                        el.name, e.name
                    ),
                });
            }
            XmlNode::Text(t) => chunks.push(t),
        }
    }
    // An expression is always one chunk (text run or CDATA): take it alone, so its
    // position is exact.
    let mut non_blank = chunks.iter().filter(|c| !c.source().trim().is_empty());
    if let (Some(only), None) = (non_blank.next(), non_blank.next()) {
        let trimmed = only.trimmed();
        if trimmed.is_expression() {
            trimmed.check_expression_whole(&format!("<{}>", el.name))?;
            return Ok(Param::Expression(compile_expression(&trimmed)?));
        }
    }
    let mut value = match chunks.split_first() {
        Some((first, _)) => (*first).clone(),
        None => PolicyValue::empty(el.at.clone()),
    };
    for chunk in chunks.iter().skip(1) {
        value.append(chunk);
    }
    let trimmed = value.trimmed();
    if trimmed.is_expression() {
        // Several chunks starting with an expression: report what follows it.
        trimmed.check_expression_whole(&format!("<{}>", el.name))?;
    }
    match parse(value.source()) {
        Ok(t) => Ok(Param::Literal(t, value)),
        Err(message) => Err(invalid_value(&el.name, "text", &value, &message)),
    }
}

/// `<name>` children of `el` (e.g. `<value>`), each a text value.
fn value_children<T>(
    el: &XmlElement,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String> + Copy,
) -> Result<Vec<Param<T>>, PolicyError> {
    let mut out = Vec::new();
    for child in child_elements(el)? {
        if child.name != name {
            return Err(PolicyError::UnknownElement {
                at: child.at.clone(),
                name: child.name.clone(),
                hint: format!(" in <{}>: only <{name}> is allowed", el.name),
            });
        }
        Attrs::new(child, &[])?;
        out.push(text_param(child, parse)?);
    }
    Ok(out)
}

/// An invalid literal. A value holding `{{` gets a hint: a deployment replaces named
/// values before its documents are read (an undefined one is its own error), so this one
/// was not a reference, or the document was read on its own.
fn invalid_value(
    element: &str,
    attribute: &str,
    value: &PolicyValue,
    message: &str,
) -> PolicyError {
    let mut message = message.to_owned();
    if value.source().contains("{{") {
        message.push_str(
            " (this `{{...}}` was not replaced: named values are replaced when a deployment loads, and their names are letters, digits, `.`, `-` and `_`)",
        );
    }
    PolicyError::InvalidValue {
        at: value.origin().clone(),
        element: element.to_owned(),
        attribute: attribute.to_owned(),
        message,
    }
}

/// The attributes of one element, checked against its allowed list.
struct Attrs<'a> {
    el: &'a XmlElement,
}

impl<'a> Attrs<'a> {
    fn new(el: &'a XmlElement, allowed: &[&str]) -> Result<Self, PolicyError> {
        for attribute in &el.attributes {
            if !allowed.contains(&attribute.name.as_str()) {
                return Err(PolicyError::UnknownAttribute {
                    at: attribute.at.clone(),
                    element: el.name.clone(),
                    attribute: attribute.name.clone(),
                    allowed: if allowed.is_empty() {
                        "none".into()
                    } else {
                        allowed.join(", ")
                    },
                });
            }
        }
        Ok(Attrs { el })
    }

    fn get(&self, name: &str) -> Option<&'a PolicyValue> {
        self.el
            .attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }

    /// An empty value at the element, for defaults.
    fn empty(&self) -> PolicyValue {
        PolicyValue::empty(self.el.at.clone())
    }

    fn invalid(&self, attribute: &str, value: &PolicyValue, message: &str) -> PolicyError {
        invalid_value(&self.el.name, attribute, value, message)
    }

    fn required<T>(&self, value: Option<T>, name: &str) -> Result<T, PolicyError> {
        value.ok_or_else(|| PolicyError::MissingAttribute {
            at: self.el.at.clone(),
            element: self.el.name.clone(),
            attribute: name.to_owned(),
        })
    }

    /// The required `condition`: `true`, `false` or a C# expression of type `bool`, as APIM
    /// compiles it (`condition="@(5)"` or `@("true")` do not compile there).
    fn condition(&self) -> Result<Param<bool>, PolicyError> {
        let condition = self.required(self.param("condition", parse_bool)?, "condition")?;
        if let Param::Expression(e) = &condition
            && !e.may_be_bool()
        {
            return Err(self.invalid(
                "condition",
                e.source(),
                &format!(
                    "a condition is a bool expression, and this one is of type `{}` (C# cannot convert it to bool: compare it, e.g. `== ...`)",
                    e.result_type()
                ),
            ));
        }
        Ok(condition)
    }

    fn id(&self) -> Result<Option<String>, PolicyError> {
        self.literal("id", any_text)
    }

    /// An attribute that allows expressions.
    fn param<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<Param<T>>, PolicyError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        if value.is_expression() {
            return Ok(Some(Param::Expression(compile_expression(value)?)));
        }
        let trimmed = value.source().trim_start();
        if trimmed.starts_with("@(") || trimmed.starts_with("@{") {
            return Err(self.invalid(
                name,
                value,
                "an expression must start right after the opening quote; remove the leading whitespace",
            ));
        }
        match parse(value.source()) {
            Ok(t) => Ok(Some(Param::Literal(t, value.clone()))),
            Err(message) => Err(self.invalid(name, value, &message)),
        }
    }

    /// An attribute that does not allow expressions.
    fn literal<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, PolicyError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        if value.is_expression() {
            return Err(self.invalid(
                name,
                value,
                "policy expressions are not allowed here; write a literal value",
            ));
        }
        match parse(value.source()) {
            Ok(t) => Ok(Some(t)),
            Err(message) => Err(self.invalid(name, value, &message)),
        }
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    // .NET's Boolean.Parse ignores case and surrounding whitespace.
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") => Ok(false),
        t => Err(format!(
            "`{t}` is not a Boolean; use true, false or an expression @(...)"
        )),
    }
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let s = s.trim();
    s.parse::<u32>()
        .map_err(|_| format!("`{s}` is not a whole number between 0 and {}", u32::MAX))
}

fn parse_status(s: &str) -> Result<u16, String> {
    let s = s.trim();
    match s.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok(code),
        _ => Err(format!(
            "`{s}` is not an HTTP status code; use a number from 100 to 599"
        )),
    }
}

fn any_text(s: &str) -> Result<String, String> {
    Ok(s.to_owned())
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse::<IpAddr>()
        .map_err(|_| format!("`{}` is not an IPv4 or IPv6 address", s.trim()))
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_owned())
    }
}

fn absolute_url(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(s.to_owned()),
        _ => Err(format!(
            "`{s}` is not an absolute URL; write http://host/... or https://host/..."
        )),
    }
}
