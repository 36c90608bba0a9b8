//! A deployment: one immutable snapshot of configuration, compiled policies, trust
//! store and backend clients, built once from the files of a deployment folder and
//! shared by every request until a newer one replaces it whole.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;

use time::OffsetDateTime;

use super::TrustVerifier;
use super::backend_entities::{self, EntityBackend};
use crate::cache::Caches;
use crate::cert::PresentedChains;
use crate::config::{ConfigError, GatewayConfig};
use crate::expr;
use crate::files::SourceFile;
use crate::policy::exec::ConcurrencyLimits;
use crate::policy::{
    CacheLookup, CacheLookupValue, CacheRemoveValue, CacheStoreValue, CachingType, EffectivePolicy,
    Item, Node, OpenIdKeys, Policy, PolicyDocument, PolicyError, PolicySources, Scope, SecretTexts,
    SectionKind,
};
use crate::policy::{MetricSink, StdoutMetrics};
use crate::proxy::{Backend, ClientIdentity};
use crate::source::s3::ClientOptions;
use crate::source::secrets::SecretValues;
use crate::trust::{Checks, Diagnostic, DiagnosticKind, Severity, TrustStore};

pub(crate) use crate::body::MAX_BUFFERED_BODY;

/// Why a deployment does not load. Each message says which file to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    #[error("gateway.toml: not found; every deployment folder needs one (see the README)")]
    NoConfig,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{path}: not found; gateway.toml names it as the policy of {owner}")]
    MissingPolicy { path: String, owner: String },
    /// A policy or fragment that does not load, with the text of the file the error is
    /// in (as written: named values not replaced) for a caret rendering.
    #[error("{error}")]
    Policy {
        error: Box<PolicyError>,
        text: Arc<str>,
    },
    #[error("certificates/{id}.key: {message}")]
    ClientKey { id: String, message: String },
    #[error("backend TLS client: {0}")]
    BackendTls(String),
    /// A secret named value the loader was given no value for.
    #[error(
        "named value `{name}` is kept in {arn} and was not read; certgate reads it when the deployment loads (or pass --named-value {name}=VALUE to check or invoke)"
    )]
    SecretNotRead { name: String, arn: String },
}

impl DeploymentError {
    /// The message as `check` prints it: with the source line and a caret for policy
    /// and expression errors.
    pub fn render(&self) -> String {
        match self {
            Self::Policy { error, text } => error.render(text),
            other => format!("error: {other}"),
        }
    }
}

/// How a refresher turns a deployment's files into a [`Deployment`].
pub type Build = fn(&[SourceFile], &str, SecretValues) -> Result<Deployment, DeploymentError>;

/// What one API needs per request, built at load: its composed policies (without an
/// operation, and per operation) and its `context.Api` / `context.Operation`.
#[derive(Debug)]
struct ApiPolicies {
    api: EffectivePolicy,
    context: Arc<expr::Api>,
    operations: Vec<(EffectivePolicy, Arc<expr::Operation>)>,
}

/// The policy and `context` objects of a routed request.
pub(crate) struct Routed<'d> {
    pub(crate) policy: &'d EffectivePolicy,
    pub(crate) api: &'d Arc<expr::Api>,
    pub(crate) operation: Option<&'d Arc<expr::Operation>>,
}

/// Decoded client chains kept per deployment: a Lambda instance serves a few clients at
/// a time; an entry is a few kilobytes.
const PRESENTED_CHAINS: usize = 256;

/// Issuing certificates kept from those chains: a deployment's clients come from a few
/// CAs.
const PRESENTED_ISSUERS: usize = 64;

/// One loaded deployment.
pub struct Deployment {
    /// Identifies the snapshot in responses and logs (bundle version or content hash).
    pub version: String,
    pub config: GatewayConfig,
    pub trust: Arc<TrustStore>,
    /// Load warnings (trust store diagnostics): reported, not fatal.
    pub diagnostics: Vec<Diagnostic>,
    /// `context.Deployment`, shared by every request.
    pub(crate) context: Arc<expr::Deployment>,
    /// `Verify()` with this deployment's trust store and its cache.
    pub(crate) verifier: Arc<TrustVerifier>,
    /// The chains API Gateway and ALBs forward, each decoded once.
    pub(crate) presented: PresentedChains,
    apis: Vec<ApiPolicies>,
    /// Backend clients: the default one, and one per `authentication-certificate`
    /// identity found under `certificates/<id>.key`.
    pub(crate) backends: Backends,
    pub(crate) policy_count: usize,
    /// The values of its secret named values, kept out of the `--explain` trace and
    /// out of `trace` and `emit-metric` output.
    pub(crate) secrets: Arc<SecretTexts>,
    /// Where `emit-metric` writes: standard output unless [`Deployment::set_metric_sink`].
    pub(crate) metrics: Arc<dyn MetricSink>,
    /// The `limit-concurrency` counts of its requests (per process).
    pub(crate) concurrency: Arc<ConcurrencyLimits>,
    /// The caches of the cache policies (`[cache]`).
    pub(crate) cache: Arc<Caches>,
    /// The files `[[hostnames]]` names as `tls_certificate` / `tls_key`, kept for the
    /// local listener's TLS settings.
    pub tls_files: Vec<SourceFile>,
    /// The `openid-config` URLs of `validate-jwt` policies, whose keys are fetched off the
    /// request path ([`Deployment::refresh_signing_keys`]), and the client they are
    /// fetched with (public web roots plus the deployment's roots).
    openid: Vec<Arc<OpenIdKeys>>,
    openid_client: Option<Backend>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("version", &self.version)
            .field("apis", &self.config.apis.len())
            .finish_non_exhaustive()
    }
}

/// The backend clients of a deployment.
#[derive(Debug, Clone)]
pub(crate) struct Backends {
    pub(crate) default: Backend,
    pub(crate) by_identity: HashMap<String, Backend>,
    /// `[[backends]]` entries by id.
    pub(crate) entities: HashMap<String, EntityBackend>,
}

impl Deployment {
    /// Builds a deployment from its files. `now` dates the trust store's diagnostics
    /// (expired CA, stale CRL).
    pub fn load(
        files: &[SourceFile],
        version: impl Into<String>,
        now: OffsetDateTime,
    ) -> Result<Self, DeploymentError> {
        Self::load_with_named_values(files, version, now, BTreeMap::new())
    }

    /// [`Deployment::load`] with `named_values` standing in for (or adding to) those of
    /// `[named_values]`: the values read from Secrets Manager and SSM, and `check` and
    /// `invoke --named-value`, to try a deployment offline. Every secret named value
    /// must be among them; their values never reach an error message.
    pub fn load_with_named_values(
        files: &[SourceFile],
        version: impl Into<String>,
        now: OffsetDateTime,
        named_values: BTreeMap<String, String>,
    ) -> Result<Self, DeploymentError> {
        Self::build(files, version, now, named_values, Checks::Now)
    }

    /// [`Deployment::load_with_named_values`] with the trust store's CRL signatures
    /// checked as `checks` says.
    fn build(
        files: &[SourceFile],
        version: impl Into<String>,
        now: OffsetDateTime,
        named_values: BTreeMap<String, String>,
        checks: Checks,
    ) -> Result<Self, DeploymentError> {
        let file = |path: &str| files.iter().find(|f| f.path == path);
        let config_text = file("gateway.toml").ok_or(DeploymentError::NoConfig)?;
        let config = GatewayConfig::parse(&String::from_utf8_lossy(&config_text.bytes))?;
        if let Some((name, secret)) = config
            .secret_values
            .iter()
            .find(|(name, _)| !named_values.contains_key(*name))
        {
            return Err(DeploymentError::SecretNotRead {
                name: name.clone(),
                arn: secret.arn().to_string(),
            });
        }
        let secrets = SecretTexts::new(
            named_values
                .iter()
                .filter(|(name, _)| config.secret_values.contains_key(*name)),
        );
        let policy_error = |error: PolicyError| {
            let text = file(&error.location().file)
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .unwrap_or_default();
            let message = error.message();
            let error = match secrets.redact(&message) {
                Cow::Borrowed(_) => error,
                Cow::Owned(message) => PolicyError::Structure {
                    at: error.location().clone(),
                    message,
                },
            };
            DeploymentError::Policy {
                error: Box::new(error),
                text: Arc::from(text),
            }
        };
        let mut values = config.named_values.clone();
        values.extend(named_values);
        let sources = PolicySources::load(files, values.clone()).map_err(policy_error)?;
        let known_backend = |id: &str| config.backends.iter().any(|b| b.id == id);

        let mut documents: HashMap<String, Arc<PolicyDocument>> = HashMap::new();
        let mut load = |path: &Option<String>,
                        scope: Scope,
                        owner: &str|
         -> Result<Option<Arc<PolicyDocument>>, DeploymentError> {
            let Some(path) = path else {
                return Ok(None);
            };
            if let Some(doc) = documents.get(path) {
                return Ok(Some(Arc::clone(doc)));
            }
            let source = file(path).ok_or_else(|| DeploymentError::MissingPolicy {
                path: path.clone(),
                owner: owner.to_owned(),
            })?;
            let doc =
                PolicyDocument::load(path, &source.bytes, scope, &sources).map_err(policy_error)?;
            doc.check_backend_ids(known_backend).map_err(policy_error)?;
            if config.cache.table.is_none()
                && let Some(node) = external_cache_use(&doc)
            {
                return Err(policy_error(PolicyError::Structure {
                    at: node.meta.at.clone(),
                    message: format!(
                        "<{}> caching-type=\"external\" needs the external cache: add `[cache]` with `table = \"<DynamoDB table>\"` to gateway.toml (the table template.yaml creates with EnableCacheTable), or use caching-type=\"internal\"",
                        node.meta.name
                    ),
                }));
            }
            let doc = Arc::new(doc);
            documents.insert(path.clone(), Arc::clone(&doc));
            Ok(Some(doc))
        };
        let global = load(&config.deployment.policy, Scope::Global, "[deployment]")?;
        let mut apis = Vec::with_capacity(config.apis.len());
        for api in &config.apis {
            let api_doc = load(&api.policy, Scope::Api, &format!("API `{}`", api.name))?;
            let mut operations = Vec::with_capacity(api.operations.len());
            for op in &api.operations {
                let owner = format!("operation `{}` of API `{}`", op.name, api.name);
                let op_doc = load(&op.policy, Scope::Operation, &owner)?;
                let policy = EffectivePolicy::for_request(
                    global.as_deref(),
                    api_doc.as_deref(),
                    op_doc.as_deref(),
                );
                let context = Arc::new(expr::Operation {
                    id: op.name.clone(),
                    method: op.method.as_str().to_owned(),
                    name: op.name.clone(),
                    url_template: op.url_template.as_str().to_owned(),
                });
                operations.push((policy, context));
            }
            apis.push(ApiPolicies {
                api: EffectivePolicy::for_request(global.as_deref(), api_doc.as_deref(), None),
                context: Arc::new(expr::Api {
                    id: api.name.clone(),
                    name: api.name.clone(),
                    path: api.path.clone(),
                    revision: "1".to_owned(),
                    version: String::new(),
                    is_current_revision: true,
                    service_url: expr::Url::from_uri(&api.backend).unwrap_or_default(),
                }),
                operations,
            });
        }
        let policy_count = documents.len();
        let openid = crate::policy::openid_keys_used_by(
            apis.iter()
                .flat_map(|a| std::iter::once(&a.api).chain(a.operations.iter().map(|(p, _)| p))),
        );
        let tls_files = files
            .iter()
            .filter(|f| {
                config.hostnames.iter().any(|h| {
                    h.tls_certificate.as_deref() == Some(f.path.as_str())
                        || h.tls_key.as_deref() == Some(f.path.as_str())
                })
            })
            // Copies: a slice of a bundle would keep the whole object in memory.
            .map(|f| SourceFile {
                bytes: bytes::Bytes::copy_from_slice(&f.bytes),
                ..f.clone()
            })
            .collect();

        let (trust, diagnostics) = TrustStore::from_files_with(files, now, checks);
        let trust = Arc::new(trust);
        crate::policy::resolve_certificate_keys(
            apis.iter()
                .flat_map(|a| std::iter::once(&a.api).chain(a.operations.iter().map(|(p, _)| p))),
            trust.uploaded(),
        )
        .map_err(policy_error)?;
        let backends = backends(files, &trust, &config, &values)?;
        let openid_client = if openid.is_empty() {
            None
        } else {
            Some(
                Backend::new(
                    &roots_der(&trust),
                    None,
                    crate::policy::MAX_OPENID_DOCUMENT_BYTES,
                )
                .map_err(|e| DeploymentError::BackendTls(e.to_string()))?,
            )
        };
        let context = Arc::new(expr::Deployment {
            region: config.deployment.region.clone(),
            service_name: config.deployment.service_name.clone(),
            certificates: Arc::clone(trust.uploaded()),
        });
        Ok(Self {
            version: version.into(),
            cache: Arc::new(Caches::new(&config.cache, ClientOptions::default())),
            verifier: Arc::new(TrustVerifier::new(Arc::clone(&trust))),
            presented: PresentedChains::new(PRESENTED_CHAINS, PRESENTED_ISSUERS).with_trusted(
                trust
                    .roots()
                    .iter()
                    .cloned()
                    .chain(trust.intermediates_checked()),
            ),
            config,
            trust,
            diagnostics,
            context,
            apis,
            backends,
            policy_count,
            secrets: Arc::new(secrets),
            metrics: Arc::new(StdoutMetrics),
            concurrency: Arc::default(),
            tls_files,
            openid,
            openid_client,
        })
    }

    /// Sends `emit-metric`'s EMF lines to `sink` instead of standard output.
    pub fn set_metric_sink(&mut self, sink: Arc<dyn MetricSink>) {
        self.metrics = sink;
    }

    /// Fetches the signing keys of the `openid-config`s of this deployment's policies:
    /// those due for a refresh, or all with `force`. Never on a request's path: at load
    /// ([`Deployment::from_files`]) and from the background refresh. A configuration that
    /// cannot be fetched keeps its last good keys (shared with the deployments before
    /// this one); one that never answered has none, and its tokens are refused. Returns
    /// the errors, already logged.
    pub async fn refresh_signing_keys(&self, force: bool) -> Vec<String> {
        self.fetch_signing_keys(force, crate::policy::OPENID_FETCH_TIMEOUT)
            .await
    }

    async fn fetch_signing_keys(&self, force: bool, within: std::time::Duration) -> Vec<String> {
        match &self.openid_client {
            Some(client) => {
                crate::policy::refresh_openid_keys(&self.openid, client, force, within).await
            }
            None => Vec::new(),
        }
    }

    /// [`Deployment::load_with_named_values`] now with the secrets read for it, the trust
    /// store's diagnostics logged: what a refresher builds from each new set of files,
    /// their content version and their secret named values.
    ///
    /// The `openid-config` keys its policies need are fetched before it returns (together,
    /// within 3 s, on a thread of its own so that this works on any thread): a failed fetch
    /// is logged, never a failed load, and keeps the last good keys.
    pub fn from_files(
        files: &[SourceFile],
        version: &str,
        secrets: SecretValues,
    ) -> Result<Self, DeploymentError> {
        // A function's cold start checks a CRL's signature when a request first needs
        // it; a bad one is logged then, and fails those requests closed.
        let deployment = Self::build(
            files,
            version,
            OffsetDateTime::now_utc(),
            secrets.into_map(),
            Checks::OnFirstUse,
        )?;
        if !deployment.openid.is_empty() {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => {
                            runtime.block_on(deployment.fetch_signing_keys(
                                false,
                                crate::policy::OPENID_LOAD_FETCH_BUDGET,
                            ));
                        }
                        Err(e) => tracing::warn!("cannot fetch openid-config keys at load: {e}"),
                    }
                });
            });
        }
        for line in log_lines(&deployment.diagnostics) {
            let (d, message) = match line {
                LogLine::One(d) => (d, Cow::Borrowed(d.message.as_str())),
                LogLine::More { first, count } => (
                    first,
                    Cow::Owned(format!(
                        "and {count} more {:?} diagnostics like the ones above, from this file on; \
                         `certgate check` on the deployment folder lists every one",
                        first.kind
                    )),
                ),
            };
            d.log(&message);
        }
        Ok(deployment)
    }

    /// The [`Tick`](crate::source::refresh::Tick) a refresher of deployments runs after
    /// each background refresh: the `openid-config` keys that are due.
    pub fn keys_tick() -> crate::source::refresh::Tick<Self> {
        Arc::new(|served| {
            Box::pin(async move {
                served.value.refresh_signing_keys(false).await;
            })
        })
    }

    /// This deployment with the external cache's DynamoDB client made with `options` on
    /// top of the AWS environment (an endpoint, region or credentials of its own), and
    /// empty caches.
    #[must_use]
    pub fn with_cache_client(mut self, options: ClientOptions) -> Self {
        self.cache = Arc::new(Caches::new(&self.config.cache, options));
        self
    }

    /// The composed policy for an API, and an operation of it if one matched.
    pub fn policy(&self, api: usize, operation: Option<usize>) -> Option<&EffectivePolicy> {
        self.routed(api, operation).map(|r| r.policy)
    }

    pub(crate) fn routed(&self, api: usize, operation: Option<usize>) -> Option<Routed<'_>> {
        let entry = self.apis.get(api)?;
        Some(match operation {
            Some(op) => {
                let (policy, context) = entry.operations.get(op)?;
                Routed {
                    policy,
                    api: &entry.context,
                    operation: Some(context),
                }
            }
            None => Routed {
                policy: &entry.api,
                api: &entry.context,
                operation: None,
            },
        })
    }

    /// Whether the trust store reported problems that `check` must fail on.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// One line for `check`: what loaded.
    pub fn summary(&self) -> String {
        format!(
            "{} API(s), {} operation(s), {} policy document(s), {} root CA(s), {} intermediate(s), {} uploaded certificate(s)",
            self.config.apis.len(),
            self.config
                .apis
                .iter()
                .map(|a| a.operations.len())
                .sum::<usize>(),
            self.policy_count,
            self.trust.roots().len(),
            self.trust.intermediates().len(),
            self.trust.uploaded().len(),
        )
    }
}

/// The first cache policy of `doc` with `caching-type="external"`.
fn external_cache_use(doc: &PolicyDocument) -> Option<&Node> {
    fn walk(node: &Node) -> Option<&Node> {
        match &node.policy {
            Policy::CacheLookupValue(CacheLookupValue {
                caching_type: CachingType::External,
                ..
            })
            | Policy::CacheStoreValue(CacheStoreValue {
                caching_type: CachingType::External,
                ..
            })
            | Policy::CacheRemoveValue(CacheRemoveValue {
                caching_type: CachingType::External,
                ..
            })
            | Policy::CacheLookup(CacheLookup {
                caching_type: CachingType::External,
                ..
            }) => Some(node),
            _ => node.children().into_iter().find_map(walk),
        }
    }
    SectionKind::ALL
        .iter()
        .flat_map(|kind| &doc.section(*kind).items)
        .find_map(|item| match item {
            Item::Policy(node) => walk(node),
            Item::Base(_) => None,
        })
}

/// How many diagnostics of one kind a load logs line by line. The rest of that kind
/// become one line: a deployment with hundreds of CAs and no CRLs would otherwise write
/// hundreds of lines on every cold start and refresh, and pay for them in CloudWatch.
const LOGGED_PER_KIND: usize = 3;

/// One log line about a load's diagnostics.
#[derive(Debug, PartialEq)]
enum LogLine<'d> {
    One(&'d Diagnostic),
    /// `count` more of `first`'s severity and kind, from `first` on.
    More {
        first: &'d Diagnostic,
        count: usize,
    },
}

/// The lines [`Deployment::from_files`] logs: each diagnostic up to
/// [`LOGGED_PER_KIND`] of its severity and kind, then one line per kind for the rest.
fn log_lines(diagnostics: &[Diagnostic]) -> Vec<LogLine<'_>> {
    let key = |d: &Diagnostic| (d.severity, d.kind);
    let mut totals: HashMap<(Severity, DiagnosticKind), usize> = HashMap::new();
    for d in diagnostics {
        *totals.entry(key(d)).or_default() += 1;
    }
    let mut seen: HashMap<(Severity, DiagnosticKind), usize> = HashMap::new();
    let mut lines = Vec::new();
    let mut summaries = Vec::new();
    for d in diagnostics {
        let n = seen.entry(key(d)).or_default();
        *n += 1;
        if *n <= LOGGED_PER_KIND {
            lines.push(LogLine::One(d));
        } else if *n == LOGGED_PER_KIND + 1 {
            let count = totals
                .get(&key(d))
                .map_or(0, |total| total - LOGGED_PER_KIND);
            summaries.push(LogLine::More { first: d, count });
        }
    }
    lines.extend(summaries);
    lines
}

/// The deployment's root CAs, for outgoing TLS (backends with a private CA).
fn roots_der(trust: &TrustStore) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    trust
        .roots()
        .iter()
        .map(|c| rustls_pki_types::CertificateDer::from(c.der().to_vec()))
        .collect()
}

/// Backend clients: public web roots plus the deployment's roots (backends with a
/// private CA), one client per uploaded certificate that has a key, and one per
/// `[[backends]]` entry, its credentials' named values replaced from `values`.
fn backends(
    files: &[SourceFile],
    trust: &TrustStore,
    config: &GatewayConfig,
    values: &BTreeMap<String, String>,
) -> Result<Backends, DeploymentError> {
    let extra_roots = roots_der(trust);
    let tls = |e: rustls::Error| DeploymentError::BackendTls(e.to_string());
    let default = Backend::new(&extra_roots, None, MAX_BUFFERED_BODY).map_err(tls)?;
    let mut by_identity = HashMap::new();
    for file in files {
        let Some(id) = file
            .path
            .strip_prefix("certificates/")
            .and_then(|name| name.strip_suffix(".key"))
        else {
            continue;
        };
        let key_error = |message: String| DeploymentError::ClientKey {
            id: id.to_owned(),
            message,
        };
        let identity = client_identity(trust, id, &file.bytes).map_err(key_error)?;
        let backend = Backend::new(&extra_roots, Some(identity), MAX_BUFFERED_BODY)
            .map_err(|e| key_error(format!("does not match the certificate ({e})")))?;
        by_identity.insert(id.to_owned(), backend);
    }
    let entities = backend_entities::build(
        &config.backends,
        values,
        &extra_roots,
        |id| {
            let key = files
                .iter()
                .find(|f| f.path == format!("certificates/{id}.key"))
                .ok_or_else(|| {
                    format!("no certificates/{id}.key: a client certificate needs its key")
                })?;
            client_identity(trust, id, &key.bytes)
        },
        MAX_BUFFERED_BODY,
    )?;
    Ok(Backends {
        default,
        by_identity,
        entities,
    })
}

/// The uploaded certificate `id` with its PEM key.
fn client_identity(trust: &TrustStore, id: &str, key_pem: &[u8]) -> Result<ClientIdentity, String> {
    let certificate = trust
        .uploaded()
        .get(id)
        .ok_or_else(|| format!("no certificates/{id}.pem to go with the key"))?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("certificates/{id}.key is not a PEM private key ({e})"))?;
    Ok(ClientIdentity {
        chain: vec![rustls_pki_types::CertificateDer::from(
            certificate.der().to_vec(),
        )],
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(path: &str, severity: Severity, kind: DiagnosticKind) -> Diagnostic {
        Diagnostic {
            path: path.to_owned(),
            severity,
            kind,
            message: format!("{path}: {kind:?}"),
        }
    }

    #[test]
    fn a_chain_through_a_trusted_ca_takes_the_trust_stores_certificate() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/alb");
        let files = crate::source::read_folder(&root).unwrap();
        let deployment = Deployment::load(&files, "test", OffsetDateTime::now_utc()).unwrap();
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/alb/valid.json")).unwrap();
        let header = event["headers"]["x-amzn-mtls-clientcert"].as_str().unwrap();

        let chain = deployment.presented.decode(header.as_bytes()).unwrap();
        let ca = &deployment.trust.intermediates()[0];
        assert_eq!(chain.intermediates[0].der(), ca.der());
        assert_eq!(chain.intermediates[0].subject(), ca.subject());
        // Not decoded and kept as an issuer of its own.
        assert_eq!(deployment.presented.issuers(), 0);
    }

    #[test]
    fn diagnostics_past_a_few_of_one_kind_are_logged_as_one_line() {
        let mut diagnostics: Vec<Diagnostic> = (0..90)
            .map(|i| {
                diagnostic(
                    &format!("ca/intermediate/{i}.pem"),
                    Severity::Warning,
                    DiagnosticKind::MissingCrl,
                )
            })
            .collect();
        diagnostics.insert(
            5,
            diagnostic("crl/a.crl", Severity::Warning, DiagnosticKind::CrlStale),
        );
        diagnostics.push(diagnostic(
            "ca/root/leaf.pem",
            Severity::Error,
            DiagnosticKind::NotACa,
        ));
        diagnostics.push(diagnostic(
            "ca/intermediate/leaf.pem",
            Severity::Warning,
            DiagnosticKind::NotACa,
        ));

        let lines = log_lines(&diagnostics);
        let paths: Vec<&str> = lines
            .iter()
            .map(|line| match line {
                LogLine::One(d) => d.path.as_str(),
                LogLine::More { first, .. } => first.path.as_str(),
            })
            .collect();
        assert_eq!(
            paths,
            [
                "ca/intermediate/0.pem",
                "ca/intermediate/1.pem",
                "ca/intermediate/2.pem",
                "crl/a.crl",
                "ca/root/leaf.pem",
                "ca/intermediate/leaf.pem",
                "ca/intermediate/3.pem",
            ]
        );
        // The 87 not logged one by one are counted in the summary line, which starts at
        // the first of them; each severity of a kind counts on its own.
        assert!(matches!(
            lines.last(),
            Some(LogLine::More { first, count: 87 }) if first.kind == DiagnosticKind::MissingCrl
        ));
        assert!(
            log_lines(&diagnostics[..3])
                .iter()
                .all(|l| matches!(l, LogLine::One(_)))
        );
    }
}
