//! APIM policy documents: reading, validating and composing them.
//!
//! Loading goes in two steps, both at load time (never per request):
//!
//! 1. `xml.rs` reads the text with a tolerant reader (APIM's policies are not strictly
//!    well-formed XML: see its docs for the raw-quote rule) into an element tree where
//!    every value keeps its position.
//! 2. `elements.rs` turns that tree into typed, validated [`Node`]s; expression values
//!    pass through the one compile seam, [`compile_expression`] in `value.rs`.
//!
//! [`PolicyDocument`] is one scope's document; [`EffectivePolicy`] composes the scopes
//! of a request through `<base/>` into the [`Step`]s that run, per section. Compose once
//! per (API, operation) when the deployment loads, not per request.
//!
//! Errors are [`PolicyError`]s with a [`Location`]; [`PolicyError::render`] (or
//! [`diagnostic`] for any text) prints `file:line:col: error: message`, the source line
//! and a caret.
//!
//! ```
//! use certgate::policy::{EffectivePolicy, PolicyDocument, Scope, SectionKind};
//!
//! let api = PolicyDocument::parse(
//!     "orders.xml",
//!     r#"<policies><inbound><base/><set-header name="x" exists-action="delete"/></inbound></policies>"#,
//!     Scope::Api,
//! )?;
//! let effective = EffectivePolicy::for_request(None, Some(&api), None);
//! assert_eq!(effective.section(SectionKind::Inbound).len(), 1);
//! assert_eq!(effective.section(SectionKind::Backend)[0].node.meta.name, "forward-request");
//! # Ok::<(), certgate::policy::PolicyError>(())
//! ```

mod csharp;
mod document;
mod elements;
mod error;
pub(crate) mod exec;
mod fragments;
mod jwt;
mod named_values;
mod section;
mod value;
mod xml;

pub use document::{EffectivePolicy, Item, PolicyDocument, Scope, Section, Step};
pub use elements::{
    AddressRange, AuthenticationBasic, AuthenticationCertificate, CacheLookup, CacheLookupValue,
    CacheRemoveValue, CacheStore, CacheStoreValue, CachingType, CheckHeader, Choose, Cors,
    Dimension, DimensionValue, DownstreamCaching, EmitMetric, ExistsAction, FindAndReplace,
    ForwardRequest, HttpVersion, Identity, IpFilter, IpFilterAction, IssuerKey, JsonApply,
    JsonToXml, LimitConcurrency, Meta, MockResponse, Node, Otherwise, Policy, RequiredClaim,
    ReturnResponse, RewriteUri, SetBackendService, SetBody, SetMethod, SetParameter, SetStatus,
    SetVariable, SigningKeyHandle, TokenSource, Trace, TraceMetadata, TraceSeverity,
    ValidateClientCertificate, ValidateJwt, When, XmlApply, XmlToJson, XmlToJsonKind, XsiNil,
};
pub use elements::{RequestMode, Retry, SendRequest, Wait, WaitFor};
pub use error::{Location, PolicyError, diagnostic};
pub use exec::{MetricSink, StdoutMetrics};
pub(crate) use fragments::PolicySources;
pub(crate) use jwt::oidc::{
    FETCH_TIMEOUT as OPENID_FETCH_TIMEOUT, LOAD_FETCH_BUDGET as OPENID_LOAD_FETCH_BUDGET,
    MAX_DOCUMENT_BYTES as MAX_OPENID_DOCUMENT_BYTES, refresh as refresh_openid_keys,
    used_by as openid_keys_used_by,
};
pub(crate) use jwt::{OpenIdKeys, resolve_certificate_keys};
pub use named_values::SecretTexts;
pub(crate) use named_values::substitute as substitute_named_values;
pub use section::SectionKind;
pub use value::{Expression, Param, PolicyValue, ValueKind, compile_expression};
pub use xml::{MAX_DEPTH, MAX_DOCUMENT_BYTES};
