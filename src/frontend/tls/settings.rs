//! [`TlsSettings`]: rustls server configurations built once from `gateway.toml`, the
//! deployment folder's files and the trust store.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DistinguishedName, ServerConfig};

use super::Limits;
use super::any_client_cert::{self, AnyClientCert};
use crate::config::{GatewayConfig, Hostname};
use crate::files::SourceFile;
use crate::trust::TrustStore;

/// Whether a host name's handshake asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `request_client_certificate = false`: never asked; the core sees `Absent`.
    Off,
    /// Asked at the handshake; a client may decline and the core sees `Absent`.
    Request,
    /// `require_client_certificate = true`: the handshake fails without one.
    Require,
}

impl ClientAuth {
    /// The mode of a `[[hostnames]]` entry; without one, APIM's default of requesting.
    pub fn of(hostname: Option<&Hostname>) -> Self {
        match hostname {
            None => Self::Request,
            Some(h) if !h.request_client_certificate => Self::Off,
            Some(h) if h.require_client_certificate => Self::Require,
            Some(_) => Self::Request,
        }
    }
}

/// Why the listener's TLS settings could not be built. Each message names the
/// `gateway.toml` entry and the file to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error(
        "no server certificate: set tls_certificate and tls_key (PEM files in the deployment \
         folder) on a [[hostnames]] entry, e.g. name = \"*\""
    )]
    NoServerCertificate,
    #[error("hostname `{hostname}`: {key} = \"{path}\" is not a file of the deployment folder")]
    MissingFile {
        hostname: String,
        key: &'static str,
        path: String,
    },
    #[error("hostname `{hostname}`: {path}: {reason}")]
    Certificate {
        hostname: String,
        path: String,
        reason: String,
    },
    #[error("hostname `{hostname}`: {path}: {reason}")]
    Key {
        hostname: String,
        path: String,
        reason: String,
    },
    #[error(
        "hostname `{hostname}`: the private key {key} does not belong to the certificate \
         {certificate} (their public keys differ); pair each certificate with its own key"
    )]
    KeyMismatch {
        hostname: String,
        certificate: String,
        key: String,
    },
    #[error("cannot build the TLS configuration: {0}")]
    Rustls(String),
}

/// Everything the listener needs to terminate TLS, built once: one rustls
/// `ServerConfig` per [`ClientAuth`] mode, sharing the SNI certificate resolver, plus
/// the hostname table that picks the mode, and the [`Limits`]. Cheap to clone.
#[derive(Clone)]
pub struct TlsSettings {
    inner: Arc<Inner>,
}

struct Inner {
    /// Only `hostnames` is used; kept whole so lookups are `GatewayConfig::hostname`'s.
    config: GatewayConfig,
    off: Arc<ServerConfig>,
    request: Arc<ServerConfig>,
    require: Arc<ServerConfig>,
    limits: Limits,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("hostnames", &self.inner.config.hostnames)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// Starts building from `gateway.toml`'s `[[hostnames]]`.
    pub fn builder(config: &GatewayConfig) -> TlsSettingsBuilder<'_> {
        TlsSettingsBuilder {
            config,
            files: &[],
            trust: None,
            limits: Limits::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The client-certificate mode for a handshake with this SNI (`None`: no SNI, as
    /// when connecting by IP address, which gets the `*` entry).
    pub fn client_auth(&self, server_name: Option<&str>) -> ClientAuth {
        ClientAuth::of(self.hostname(server_name))
    }

    /// The `[[hostnames]]` entry for a name (SNI or `Host`), as an index, so that two
    /// names can be compared for "same entry".
    pub(crate) fn entry(&self, name: Option<&str>) -> Option<usize> {
        let found = self.hostname(name)?;
        self.inner
            .config
            .hostnames
            .iter()
            .position(|h| std::ptr::eq(h, found))
    }

    /// Certificate headers beyond `forwarded::CERTIFICATE_HEADERS` to remove:
    /// `deployment.alb_header` and its `-leaf`, as a renamed carrier is still a
    /// certificate header a client could forge.
    pub(crate) fn renamed_certificate_headers(&self) -> &[String] {
        self.inner.config.deployment.alb_header.names()
    }

    pub(crate) fn server_config(&self, mode: ClientAuth) -> Arc<ServerConfig> {
        match mode {
            ClientAuth::Off => self.inner.off.clone(),
            ClientAuth::Request => self.inner.request.clone(),
            ClientAuth::Require => self.inner.require.clone(),
        }
    }

    fn hostname(&self, name: Option<&str>) -> Option<&Hostname> {
        // An empty name matches no entry, so it falls back to `*`.
        self.inner.config.hostname(name.unwrap_or(""))
    }
}

/// Builds [`TlsSettings`]; see [`TlsSettings::builder`].
#[derive(Debug)]
pub struct TlsSettingsBuilder<'a> {
    config: &'a GatewayConfig,
    files: &'a [SourceFile],
    trust: Option<&'a TrustStore>,
    limits: Limits,
}

impl<'a> TlsSettingsBuilder<'a> {
    /// The deployment folder's files, where `tls_certificate` and `tls_key` are looked
    /// up by path (relative to the folder, `/`-separated, as [`crate::source`] reads).
    pub fn files(mut self, files: &'a [SourceFile]) -> Self {
        self.files = files;
        self
    }

    /// The trust store whose root and intermediate subjects are sent to clients as CA
    /// hints. It is not used to judge certificates. Without it, no hints are sent.
    pub fn trust_store(mut self, store: &'a TrustStore) -> Self {
        self.trust = Some(store);
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Loads every hostname's certificate and key and builds the rustls configurations.
    ///
    /// # Errors
    ///
    /// A named file missing from the folder, a PEM file without a certificate or key, a
    /// key rustls cannot use, a key that does not match its certificate, or no
    /// certificate at all ([`TlsError`]).
    pub fn build(self) -> Result<TlsSettings, TlsError> {
        let provider = crate::crypto::tls_provider();
        let resolver = Arc::new(self.resolver(&provider)?);
        let hints: Arc<[DistinguishedName]> = self
            .trust
            .map(any_client_cert::hints_from)
            .unwrap_or_default()
            .into();

        let base = || {
            ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsError::Rustls(e.to_string()))
        };
        let finish = |mut config: ServerConfig| {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Arc::new(config)
        };
        let off = base()?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        let request = base()?
            .with_client_cert_verifier(Arc::new(AnyClientCert::new(hints.clone(), false)))
            .with_cert_resolver(resolver.clone());
        let require = base()?
            .with_client_cert_verifier(Arc::new(AnyClientCert::new(hints, true)))
            .with_cert_resolver(resolver);

        Ok(TlsSettings {
            inner: Arc::new(Inner {
                config: self.config.clone(),
                off: finish(off),
                request: finish(request),
                require: finish(require),
                limits: self.limits,
            }),
        })
    }

    fn resolver(&self, provider: &CryptoProvider) -> Result<SniResolver, TlsError> {
        let mut by_name = HashMap::new();
        let mut first = None;
        let mut star = None;
        for hostname in &self.config.hostnames {
            let (Some(cert), Some(key)) = (&hostname.tls_certificate, &hostname.tls_key) else {
                continue;
            };
            let certified = Arc::new(self.load(hostname, cert, key, provider)?);
            if hostname.name == "*" {
                star = Some(certified.clone());
            } else {
                by_name.insert(hostname.name.to_ascii_lowercase(), certified.clone());
            }
            first.get_or_insert(certified);
        }
        let default = star.or(first).ok_or(TlsError::NoServerCertificate)?;
        Ok(SniResolver { by_name, default })
    }

    fn load(
        &self,
        hostname: &Hostname,
        cert_path: &str,
        key_path: &str,
        provider: &CryptoProvider,
    ) -> Result<CertifiedKey, TlsError> {
        let name = || hostname.name.clone();
        let cert_pem = self.file(hostname, "tls_certificate", cert_path)?;
        let key_pem = self.file(hostname, "tls_key", key_path)?;
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate {
                hostname: name(),
                path: cert_path.to_owned(),
                reason: format!("malformed PEM: {e}"),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Certificate {
                hostname: name(),
                path: cert_path.to_owned(),
                reason: "no `-----BEGIN CERTIFICATE-----` block; expected the server \
                         certificate (then its intermediates) in PEM"
                    .to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key {
            hostname: name(),
            path: key_path.to_owned(),
            reason: format!(
                "no usable private key ({e}); expected a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` \
                 or `EC PRIVATE KEY` block"
            ),
        })?;
        let signing_key =
            provider
                .key_provider
                .load_private_key(key)
                .map_err(|e| TlsError::Key {
                    hostname: name(),
                    path: key_path.to_owned(),
                    reason: format!("unsupported private key: {e}"),
                })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => Ok(certified),
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                Err(TlsError::KeyMismatch {
                    hostname: name(),
                    certificate: cert_path.to_owned(),
                    key: key_path.to_owned(),
                })
            }
            // The key type cannot tell its public key: nothing to compare.
            Err(rustls::Error::InconsistentKeys(_)) => Ok(certified),
            Err(e) => Err(TlsError::Certificate {
                hostname: name(),
                path: cert_path.to_owned(),
                reason: format!("the first certificate is not a valid X.509 certificate: {e}"),
            }),
        }
    }

    fn file(
        &self,
        hostname: &Hostname,
        key: &'static str,
        path: &str,
    ) -> Result<&'a [u8], TlsError> {
        let wanted = path.trim_start_matches("./");
        self.files
            .iter()
            .find(|f| f.path == wanted)
            .map(|f| &f.bytes[..])
            .ok_or_else(|| TlsError::MissingFile {
                hostname: hostname.name.clone(),
                key,
                path: path.to_owned(),
            })
    }
}

/// Picks the server certificate by SNI: the entry of that exact name, else the default.
#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certified = client_hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()))
            .unwrap_or(&self.default);
        Some(certified.clone())
    }
}
