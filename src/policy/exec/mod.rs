//! Running composed policy sections against one request.
//!
//! The executor walks the [`Step`]s of a section in order over an [`Exchange`], the
//! request's mutable state: `context` as expressions see it (request being built,
//! response, variables, last error) plus where the backend call will go. A step either
//! lets the pipeline continue, ends it with the response now in `context.Response`
//! (`return-response`, `mock-response`), or fails; a failure carries what
//! `context.LastError` will say and the status the caller gets when no `on-error`
//! answers instead. Calls to backends (`forward-request`, `send-request`) go through
//! [`Forwarder`].

mod authentication_basic;
mod backend;
mod cache;
mod checks;
mod cors;
mod emit_metric;
mod find_and_replace;
mod json_to_xml;
mod limit_concurrency;
mod message;
mod param;
mod response_cache;
mod retry;
mod send_request;
mod set_method;
mod trace;
mod transform;
mod validate_jwt;
mod wait;
mod xml_to_json;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;

use super::SectionKind;
use super::document::{Scope, Step};
use super::elements::{Node, Policy};
use super::named_values::SecretTexts;
use crate::cache::Caches;
use crate::expr::{self, LastError};
use crate::proxy::{BackendResponse, ForwardOptions, ProxyError};
use crate::trust::Verifier;

pub(crate) use backend::BackendTarget;
pub(crate) use cors::add_granted_headers;
pub use emit_metric::{MetricSink, StdoutMetrics};
pub(crate) use limit_concurrency::ConcurrencyLimits;

/// What happened to the pipeline after a section ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Go on with the next section.
    Continue,
    /// Stop: `context.Response` is the answer (`return-response`, `mock-response`).
    Respond,
    /// `cache-lookup` found the response: skip the rest of inbound and the backend, and
    /// run outbound from after `cache-store`.
    FromCache,
}

/// A policy that failed: becomes `context.LastError`, then `on-error` runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// `LastError.Source`: the policy name, or a built-in step.
    pub source: &'static str,
    /// `LastError.Reason`.
    pub reason: &'static str,
    /// `LastError.Message`.
    pub message: String,
    /// Status the caller gets when `on-error` does not set one.
    pub status: StatusCode,
    /// What the caller is told in that case (`check-header`'s
    /// `failed-check-error-message`); `None` for the generic message of the status.
    pub public_message: Option<String>,
    /// Where: filled in by the executor from the failing step.
    pub at: Option<Box<FailedAt>>,
}

/// The step that failed: `LastError.Scope`, `.Section`, `.Path`, `.PolicyId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailedAt {
    pub scope: Scope,
    pub section: SectionKind,
    pub path: String,
    pub policy_id: Option<String>,
}

impl Failure {
    pub(crate) fn new(
        source: &'static str,
        reason: &'static str,
        message: impl Into<String>,
        status: StatusCode,
    ) -> Self {
        Self {
            source,
            reason,
            message: message.into(),
            status,
            public_message: None,
            at: None,
        }
    }

    /// An expression threw, or its value did not fit the attribute: APIM's
    /// `ExpressionValueEvaluationFailure`, 500.
    pub(crate) fn expression(source: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            source,
            "ExpressionValueEvaluationFailure",
            message,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    }

    /// The backend call failed.
    pub(crate) fn backend(error: &ProxyError) -> Self {
        Self::new(
            "forward-request",
            error.reason(),
            error.to_string(),
            error.status(),
        )
    }

    fn located(mut self, step: &Step, node: &Node) -> Self {
        self.at.get_or_insert_with(|| {
            Box::new(FailedAt {
                scope: step.scope,
                section: step.section,
                path: node.meta.path.clone(),
                policy_id: node.meta.id.clone(),
            })
        });
        self
    }

    /// `context.LastError` for this failure.
    pub(crate) fn last_error(&self) -> LastError {
        let at = self.at.as_deref();
        LastError {
            source: self.source.to_owned(),
            reason: Some(self.reason.to_owned()),
            message: self.message.clone(),
            scope: at.map(|a| a.scope.as_str().to_owned()),
            section: at.map(|a| a.section.as_str().to_owned()),
            path: at.map(|a| a.path.clone()),
            policy_id: at.and_then(|a| a.policy_id.clone()),
        }
    }
}

/// Sends the request that `forward-request` built to the backend.
pub(crate) trait Forwarder: Send + Sync {
    /// Sends `request` with the identity of the uploaded `client_certificate`, or
    /// through the `[[backends]]` entry `backend_id` (its client and credentials).
    fn forward<'a>(
        &'a self,
        request: http::Request<crate::body::Payload>,
        options: ForwardOptions,
        client_certificate: Option<&'a str>,
        backend_id: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Result<BackendResponse, ProxyError>> + Send + 'a>>;

    /// The URL of the `[[backends]]` entry `id` (checked at load).
    fn backend_url(&self, id: &str) -> Option<http::Uri>;

    /// Sends `request` (`send-one-way-request`) on a task of its own, within
    /// `options.timeout`, without waiting for it; false when it was dropped because too
    /// many are in flight already.
    fn send_detached(
        &self,
        request: http::Request<crate::body::Payload>,
        options: ForwardOptions,
        client_certificate: Option<&str>,
    ) -> bool;
}

/// One line of the decision trace (`certgate invoke --explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    pub section: SectionKind,
    pub path: String,
    pub detail: String,
}

/// The request's mutable state while its policies run.
pub(crate) struct Exchange {
    /// `context` as expressions see it; policies change the request, the response and
    /// the variables in place.
    pub ctx: expr::Context,
    /// Where `forward-request` sends the request.
    pub backend: BackendTarget,
    /// The deployment's trust store, for `validate-client-certificate`.
    pub trust: Arc<dyn Verifier>,
    /// The decision trace, when asked for.
    pub trace: Option<Vec<TraceEvent>>,
    /// Whether `forward-request` reached the backend.
    pub forwarded: bool,
    /// Whether the backend's response body must be read whole: a policy reads it, or
    /// the front end cannot stream it.
    pub collect_response: bool,
    /// Headers a matching `cors` adds to the final response.
    pub cors: Vec<(&'static str, String)>,
    /// The deployment's caches, for the cache policies.
    pub cache: Arc<Caches>,
    /// What `cache-lookup` decided, for `cache-store` and outbound.
    pub response_cache: Option<response_cache::ResponseCaching>,
    /// Values of secret named values, kept out of `trace` and `emit-metric` output.
    pub secrets: Arc<SecretTexts>,
    /// Where `emit-metric` writes.
    pub metrics: Arc<dyn MetricSink>,
    /// The deployment's `limit-concurrency` counts.
    pub concurrency: Arc<ConcurrencyLimits>,
    /// In a child of `wait` (which runs on a copy of the exchange): the variables it set,
    /// to copy back. `None` otherwise.
    pub branch_writes: Option<Vec<String>>,
}

impl Exchange {
    /// Sets `context.Variables[name]`.
    pub(crate) fn set_variable(&mut self, name: String, value: expr::Value) {
        if let Some(writes) = &mut self.branch_writes {
            writes.push(name.clone());
        }
        self.ctx.variables.insert(name, value);
    }

    /// A copy for one child of `wait`: the same context and backend, its own trace.
    fn branch(&self) -> Exchange {
        Exchange {
            ctx: self.ctx.clone(),
            backend: self.backend.clone(),
            trust: Arc::clone(&self.trust),
            trace: self.trace.as_ref().map(|_| Vec::new()),
            forwarded: false,
            collect_response: self.collect_response,
            cors: Vec::new(),
            cache: Arc::clone(&self.cache),
            response_cache: None,
            secrets: Arc::clone(&self.secrets),
            metrics: Arc::clone(&self.metrics),
            concurrency: Arc::clone(&self.concurrency),
            branch_writes: Some(Vec::new()),
        }
    }

    pub(crate) fn note(
        &mut self,
        section: SectionKind,
        path: &str,
        detail: impl FnOnce() -> String,
    ) {
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent {
                section,
                path: path.to_owned(),
                detail: detail(),
            });
        }
    }
}

/// The steps all expressions of one request may take together (ten expressions at the
/// per-expression limit, `expr::Limits::max_steps`): a policy runs many expressions, and
/// without a sum a request's CPU time would grow with the policy's length. Past it, the
/// expression fails like one that ran out of its own steps (500 through on-error).
pub(crate) const MAX_REQUEST_STEPS: u64 = 10_000_000;

/// Steps after which the executor lets the runtime's other tasks run (TLS handshakes,
/// other requests): a million steps take 3–26 ms, so between two yields a request holds
/// its worker thread for a few milliseconds at most, plus one expression.
///
/// `tokio::task::yield_now` works on both runtimes that run policies: the listener's
/// multi-thread one and the Lambda's current-thread one. `block_in_place` would move
/// evaluation off the worker instead, but panics on a current-thread runtime.
const YIELD_EVERY_STEPS: u64 = 100_000;

/// Runs one section's steps in order.
pub(crate) async fn run_section(
    steps: &[Step],
    exchange: &mut Exchange,
    forwarder: &dyn Forwarder,
) -> Result<Flow, Failure> {
    exchange.ctx.steps.limit_to(MAX_REQUEST_STEPS);
    if let Some(flow) = cors::preflight(steps, exchange)? {
        return Ok(flow);
    }
    let mut yielded_at = exchange.ctx.steps.spent();
    let start = response_cache::outbound_start(steps, exchange);
    for step in steps.get(start..).unwrap_or_default() {
        let flow = run_node(step, &step.node, exchange, forwarder)
            .await
            .map_err(|f| f.located(step, &step.node))?;
        if flow != Flow::Continue {
            return Ok(flow);
        }
        pace(exchange.ctx.steps.spent(), &mut yielded_at).await;
    }
    Ok(Flow::Continue)
}

/// Yields to the runtime once the request's expressions have `spent`
/// [`YIELD_EVERY_STEPS`] more than at `yielded_at` (when it last yielded).
async fn pace(spent: u64, yielded_at: &mut u64) {
    if spent.saturating_sub(*yielded_at) >= YIELD_EVERY_STEPS {
        *yielded_at = spent;
        tokio::task::yield_now().await;
    }
}

type NodeFuture<'a> = Pin<Box<dyn Future<Output = Result<Flow, Failure>> + Send + 'a>>;

/// Runs one policy. Boxed because `choose` recurses; depth is bounded by the reader.
/// The policies whose futures are large (the AWS SDK's in the caches, the calls of
/// send-request, retry and wait) are boxed apart, so that every policy's future is not
/// as large as theirs: each node's future is allocated and moved per request.
fn run_node<'a>(
    step: &'a Step,
    node: &'a Node,
    x: &'a mut Exchange,
    forwarder: &'a dyn Forwarder,
) -> NodeFuture<'a> {
    Box::pin(async move {
        let section = step.section;
        let name = node.meta.name;
        match &node.policy {
            Policy::Choose(choose) => {
                let mut yielded_at = x.ctx.steps.spent();
                for when in &choose.whens {
                    let hit = param::eval(&when.condition, &x.ctx, "choose")?;
                    x.note(section, &when.meta.path, || format!("condition is {hit}"));
                    if hit {
                        return run_nodes(step, &when.steps, x, forwarder).await;
                    }
                    pace(x.ctx.steps.spent(), &mut yielded_at).await;
                }
                match &choose.otherwise {
                    Some(otherwise) => {
                        x.note(section, &otherwise.meta.path, || "taken".to_owned());
                        run_nodes(step, &otherwise.steps, x, forwarder).await
                    }
                    None => Ok(Flow::Continue),
                }
            }
            Policy::ReturnResponse(rr) => {
                message::return_response(rr, x, section)?;
                let status = x.ctx.response.status_code;
                x.note(section, &node.meta.path, || format!("respond {status}"));
                Ok(Flow::Respond)
            }
            Policy::MockResponse(mock) => {
                message::mock_response(mock, x);
                x.note(section, &node.meta.path, || {
                    format!("mock {}", mock.status_code)
                });
                Ok(Flow::Respond)
            }
            Policy::SetStatus(status) => {
                message::set_status(status, &mut x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::SetHeader(p) => {
                message::set_header(p, &mut x.ctx, message::Target::of(section))?;
                Ok(Flow::Continue)
            }
            Policy::SetQueryParameter(p) => {
                message::set_query_parameter(p, &mut x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::SetBody(body) => {
                message::set_body(body, &mut x.ctx, message::Target::of(section))?;
                Ok(Flow::Continue)
            }
            Policy::SetVariable(var) => {
                let value = param::eval_value(&var.value, &x.ctx, name)?;
                x.note(section, &node.meta.path, || {
                    format!("{} = {value}", var.name)
                });
                x.set_variable(var.name.clone(), value);
                Ok(Flow::Continue)
            }
            Policy::SetBackendService(sbs) => {
                backend::set_backend_service(sbs, x, forwarder)?;
                Ok(Flow::Continue)
            }
            Policy::RewriteUri(rw) => {
                backend::rewrite_uri(rw, x)?;
                Ok(Flow::Continue)
            }
            Policy::AuthenticationCertificate(auth) => {
                backend::authentication_certificate(auth, x)?;
                Ok(Flow::Continue)
            }
            Policy::ForwardRequest(fwd) => {
                backend::forward_request(fwd, x, forwarder, section, &node.meta.path).await?;
                Ok(Flow::Continue)
            }
            Policy::CheckHeader(check) => {
                checks::check_header(check, &x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::Cors(c) => cors::cors(c, x, section, &node.meta.path),
            Policy::ValidateJwt(j) => {
                let outcome = validate_jwt::validate_jwt(j, &x.ctx);
                x.note(section, &node.meta.path, || match &outcome {
                    Ok(_) => "token valid".to_owned(),
                    Err(f) => f.reason.to_owned(),
                });
                let token = outcome?;
                if let Some(name) = &j.output_token_variable_name {
                    let jwt = expr::Jwt::parse(&token).map_or(expr::Value::Null, expr::Value::jwt);
                    x.set_variable(name.clone(), jwt);
                }
                Ok(Flow::Continue)
            }
            Policy::CacheLookupValue(c) => {
                Box::pin(cache::lookup_value(c, x, section, &node.meta.path)).await
            }
            Policy::CacheStoreValue(c) => {
                Box::pin(cache::store_value(c, x, section, &node.meta.path)).await
            }
            Policy::CacheRemoveValue(c) => {
                Box::pin(cache::remove_value(c, x, section, &node.meta.path)).await
            }
            Policy::CacheLookup(c) => {
                Box::pin(response_cache::lookup(c, x, section, &node.meta.path)).await
            }
            Policy::CacheStore(c) => {
                Box::pin(response_cache::store(c, x, section, &node.meta.path)).await
            }
            Policy::SetMethod(m) => {
                set_method::set_method(m, &mut x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::FindAndReplace(f) => {
                find_and_replace::find_and_replace(f, &mut x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::AuthenticationBasic(b) => {
                authentication_basic::authentication_basic(b, &mut x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::Trace(t) => {
                trace::trace(t, x, section, &node.meta.path)?;
                Ok(Flow::Continue)
            }
            Policy::EmitMetric(m) => {
                emit_metric::emit_metric(m, x, section, &node.meta.path)?;
                Ok(Flow::Continue)
            }
            Policy::LimitConcurrency(l) => {
                Box::pin(limit_concurrency::limit_concurrency(
                    l,
                    step,
                    x,
                    forwarder,
                    &node.meta.path,
                ))
                .await
            }
            Policy::SendRequest(r) if name == "send-one-way-request" => {
                send_request::send_one_way_request(r, x, forwarder, section, &node.meta.path)?;
                Ok(Flow::Continue)
            }
            Policy::SendRequest(r) => {
                Box::pin(send_request::send_request(
                    r,
                    x,
                    forwarder,
                    section,
                    &node.meta.path,
                ))
                .await?;
                Ok(Flow::Continue)
            }
            Policy::Retry(r) => Box::pin(retry::retry(r, step, node, x, forwarder)).await,
            Policy::Wait(w) => Box::pin(wait::wait(w, step, x, forwarder)).await,
            Policy::JsonToXml(t) => json_to_xml::json_to_xml(t, x, section, &node.meta.path),
            Policy::XmlToJson(t) => xml_to_json::xml_to_json(t, x, section, &node.meta.path),
            Policy::IpFilter(filter) => {
                checks::ip_filter(filter, &x.ctx)?;
                Ok(Flow::Continue)
            }
            Policy::ValidateClientCertificate(vcc) => {
                let outcome = checks::validate_client_certificate(vcc, &x.ctx, x.trust.as_ref());
                x.note(section, &node.meta.path, || match &outcome {
                    Ok(()) => "certificate valid".to_owned(),
                    Err(f) => f.reason.to_owned(),
                });
                match outcome {
                    Err(failure) if !vcc.ignore_error => Err(failure),
                    _ => Ok(Flow::Continue),
                }
            }
        }
    })
}

async fn run_nodes(
    step: &Step,
    nodes: &[Node],
    x: &mut Exchange,
    forwarder: &dyn Forwarder,
) -> Result<Flow, Failure> {
    let mut yielded_at = x.ctx.steps.spent();
    for node in nodes {
        let flow = run_node(step, node, x, forwarder)
            .await
            .map_err(|f| f.located(step, node))?;
        if flow != Flow::Continue {
            return Ok(flow);
        }
        pace(x.ctx.steps.spent(), &mut yielded_at).await;
    }
    Ok(Flow::Continue)
}
