//! A deployment: one immutable snapshot of configuration, compiled policies, trust
//! store and backend clients, built once from the files of a deployment folder and
//! shared by every request until a newer one replaces it whole.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;

use time::OffsetDateTime;

use super::TrustVerifier;
use crate::cache::Caches;
use crate::config::{ConfigError, GatewayConfig};
use crate::expr;
use crate::files::SourceFile;
use crate::policy::{
    CacheLookup, CacheLookupValue, CacheRemoveValue, CacheStoreValue, CachingType, EffectivePolicy,
    Item, Node, Policy, PolicyDocument, PolicyError, PolicySources, Scope, SectionKind,
};
use crate::proxy::{Backend, ClientIdentity};
use crate::source::s3::ClientOptions;
use crate::trust::{Diagnostic, DiagnosticKind, Severity, TrustStore};

/// The most certgate reads of a body a policy uses, or of a response Lambda returns;
/// bodies no policy reads stream through without limit.
pub(crate) const MAX_BUFFERED_BODY: usize = 16 * 1024 * 1024;

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
pub type Build = fn(&[SourceFile], &str) -> Result<Deployment, DeploymentError>;

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
    apis: Vec<ApiPolicies>,
    /// Backend clients: the default one, and one per `authentication-certificate`
    /// identity found under `certificates/<id>.key`.
    pub(crate) backends: Backends,
    pub(crate) policy_count: usize,
    /// The caches of the cache policies (`[cache]`).
    pub(crate) cache: Arc<Caches>,
    /// The files `[[hostnames]]` names as `tls_certificate` / `tls_key`, kept for the
    /// local listener's TLS settings.
    pub tls_files: Vec<SourceFile>,
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
    /// `[named_values]`: `check` and `invoke --named-value`, to try a deployment offline.
    pub fn load_with_named_values(
        files: &[SourceFile],
        version: impl Into<String>,
        now: OffsetDateTime,
        named_values: BTreeMap<String, String>,
    ) -> Result<Self, DeploymentError> {
        let file = |path: &str| files.iter().find(|f| f.path == path);
        let config_text = file("gateway.toml").ok_or(DeploymentError::NoConfig)?;
        let config = GatewayConfig::parse(&String::from_utf8_lossy(&config_text.bytes))?;
        let policy_error = |error: PolicyError| {
            let text = file(&error.location().file)
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .unwrap_or_default();
            DeploymentError::Policy {
                error: Box::new(error),
                text: Arc::from(text),
            }
        };
        let mut values = config.named_values.clone();
        values.extend(named_values);
        let sources = PolicySources::load(files, values).map_err(policy_error)?;

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
        let tls_files = files
            .iter()
            .filter(|f| {
                config.hostnames.iter().any(|h| {
                    h.tls_certificate.as_deref() == Some(f.path.as_str())
                        || h.tls_key.as_deref() == Some(f.path.as_str())
                })
            })
            .cloned()
            .collect();

        let (trust, diagnostics) = TrustStore::from_files(files, now);
        let trust = Arc::new(trust);
        let backends = backends(files, &trust)?;
        let context = Arc::new(expr::Deployment {
            region: config.deployment.region.clone(),
            service_name: config.deployment.service_name.clone(),
            certificates: Arc::clone(trust.uploaded()),
        });
        Ok(Self {
            version: version.into(),
            cache: Arc::new(Caches::new(&config.cache, ClientOptions::default())),
            verifier: Arc::new(TrustVerifier::new(Arc::clone(&trust))),
            config,
            trust,
            diagnostics,
            context,
            apis,
            backends,
            policy_count,
            tls_files,
        })
    }

    /// [`Deployment::load`] now, with the trust store's diagnostics logged: what a
    /// refresher builds from each new set of files and their content version.
    pub fn from_files(files: &[SourceFile], version: &str) -> Result<Self, DeploymentError> {
        let deployment = Self::load(files, version, OffsetDateTime::now_utc())?;
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
            match d.severity {
                Severity::Error => tracing::error!(path = %d.path, kind = ?d.kind, "{message}"),
                Severity::Warning => tracing::warn!(path = %d.path, kind = ?d.kind, "{message}"),
            }
        }
        Ok(deployment)
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
            Policy::Choose(choose) => choose
                .whens
                .iter()
                .flat_map(|when| &when.steps)
                .chain(choose.otherwise.iter().flat_map(|o| &o.steps))
                .find_map(walk),
            _ => None,
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

/// Backend clients: public web roots plus the deployment's roots (backends with a
/// private CA), and one client per uploaded certificate that has a key.
fn backends(files: &[SourceFile], trust: &TrustStore) -> Result<Backends, DeploymentError> {
    let extra_roots: Vec<_> = trust
        .roots()
        .iter()
        .map(|c| rustls_pki_types::CertificateDer::from(c.der().to_vec()))
        .collect();
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
        let certificate = trust
            .uploaded()
            .get(id)
            .ok_or_else(|| key_error(format!("no certificates/{id}.pem to go with this key")))?;
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(&file.bytes)
            .map_err(|e| key_error(format!("not a PEM private key ({e})")))?;
        let identity = ClientIdentity {
            chain: vec![rustls_pki_types::CertificateDer::from(
                certificate.der().to_vec(),
            )],
            key,
        };
        let backend = Backend::new(&extra_roots, Some(identity), MAX_BUFFERED_BODY)
            .map_err(|e| key_error(format!("does not match the certificate ({e})")))?;
        by_identity.insert(id.to_owned(), backend);
    }
    Ok(Backends {
        default,
        by_identity,
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
