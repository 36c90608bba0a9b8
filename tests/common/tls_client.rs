//! Fixtures for the TLS listener tests: a generated PKI (server CA and per-host server
//! certificates, a client CA and client), a deployment folder in memory, an echoing
//! handler, a rustls + hyper client, and a curl runner.
#![allow(dead_code, unreachable_pub)]

use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use certgate::cert::Certificate;
use certgate::config::GatewayConfig;
use certgate::files::SourceFile;
use certgate::frontend::forwarded::CERTIFICATE_HEADERS;
use certgate::frontend::tls::{self, Handler, Limits, TlsSettings};
use certgate::gateway::{ClientCertificate, GatewayRequest, GatewayResponse};
use certgate::proxy::{Backend, ForwardOptions};
use certgate::trust::TrustStore;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SanType,
    date_time_ymd,
};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A certificate with its key, as PEM and DER.
pub struct Issued {
    pub der: Vec<u8>,
    pub pem: String,
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

fn issued(cert: &rcgen::Certificate, key: &KeyPair) -> Issued {
    Issued {
        der: cert.der().to_vec(),
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    }
}

fn params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2025, 1, 2);
    params.not_after = date_time_ymd(2035, 3, 4);
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Certgate Tests");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
}

/// Host names served by the test deployment, each with its own server certificate.
pub const HOSTS: &[&str] = &["default.test", "off.test", "request.test", "require.test"];

pub struct Pki {
    pub server_ca: Issued,
    /// Per host in [`HOSTS`], `CN=<host>`; `default.test` also covers 127.0.0.1.
    pub servers: Vec<(String, Issued)>,
    pub client_ca: Issued,
    pub client: Issued,
    /// A key that does not belong to [`Pki::client`].
    pub other_key_der: Vec<u8>,
}

impl Pki {
    pub fn server(&self, host: &str) -> &Issued {
        &self.servers.iter().find(|(h, _)| h == host).unwrap().1
    }

    /// The client certificate's thumbprint as the core computes it.
    pub fn client_thumbprint(&self) -> String {
        Certificate::from_der(&self.client.der)
            .unwrap()
            .thumbprint()
            .to_owned()
    }
}

/// Generated once per test binary.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = params("Certgate Test Server CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let server_ca = issued(&ca_cert, &ca_key);
        let ca_issuer = Issuer::new(ca_params, ca_key);
        let servers = HOSTS
            .iter()
            .map(|host| {
                let key = KeyPair::generate().unwrap();
                let mut p = params(host);
                p.subject_alt_names = vec![SanType::DnsName((*host).try_into().unwrap())];
                if *host == "default.test" {
                    p.subject_alt_names
                        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
                }
                let cert = p.signed_by(&key, &ca_issuer).unwrap();
                ((*host).to_owned(), issued(&cert, &key))
            })
            .collect();

        let client_ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut client_ca_params = params("Contoso Test Client Root");
        client_ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let client_ca_cert = client_ca_params.self_signed(&client_ca_key).unwrap();
        let client_ca = issued(&client_ca_cert, &client_ca_key);
        let client_issuer = Issuer::new(client_ca_params, client_ca_key);
        let client_key = KeyPair::generate().unwrap();
        let mut p = params("client1");
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = p.signed_by(&client_key, &client_issuer).unwrap();
        let client = issued(&client_cert, &client_key);
        let other_key_der = KeyPair::generate().unwrap().serialize_der();
        Pki {
            server_ca,
            servers,
            client_ca,
            client,
            other_key_der,
        }
    })
}

/// `gateway.toml` of the test deployment: `*` (default.test's certificate), `off.test`,
/// `request.test`, `require.test`, and `nocert.test` (request mode, default certificate).
pub const GATEWAY_TOML: &str = r#"
[deployment]
alb_header = "x-client-chain"

[[hostnames]]
name = "*"
tls_certificate = "tls/default.test.pem"
tls_key = "tls/default.test.key"

[[hostnames]]
name = "off.test"
request_client_certificate = false
tls_certificate = "tls/off.test.pem"
tls_key = "./tls/off.test.key"

[[hostnames]]
name = "request.test"
tls_certificate = "tls/request.test.pem"
tls_key = "tls/request.test.key"

[[hostnames]]
name = "require.test"
require_client_certificate = true
tls_certificate = "tls/require.test.pem"
tls_key = "tls/require.test.key"

[[hostnames]]
name = "nocert.test"
"#;

/// The deployment folder: server certificates and keys, and the client CA as a root.
pub fn deployment_files() -> Vec<SourceFile> {
    let pki = pki();
    let mut files = vec![SourceFile::new(
        "ca/root/client-root.pem",
        pki.client_ca.pem.clone(),
    )];
    for (host, issued) in &pki.servers {
        files.push(SourceFile::new(
            format!("tls/{host}.pem"),
            issued.pem.clone(),
        ));
        files.push(SourceFile::new(
            format!("tls/{host}.key"),
            issued.key_pem.clone(),
        ));
    }
    files
}

pub fn settings(limits: Limits) -> TlsSettings {
    let config = GatewayConfig::parse(GATEWAY_TOML).unwrap();
    let files = deployment_files();
    let (store, _) = TrustStore::from_files(&files, time::OffsetDateTime::now_utc());
    TlsSettings::builder(&config)
        .files(&files)
        .trust_store(&store)
        .limits(limits)
        .build()
        .unwrap()
}

/// The echo handler's answer: the request body back, and what it saw in headers.
///
/// * `x-echo-certificate`: the leaf's thumbprint, `none`, or `undecodable`;
/// * `x-echo-chain-length`, `x-echo-method`, `x-echo-uri`, `x-echo-client-ip`,
///   `x-echo-request-id`, `x-echo-ignored` (comma list or `none`);
/// * `x-echo-certificate-headers`: certificate headers still in the request (`none`),
///   including the deployment's renamed ALB header `x-client-chain`;
/// * the body comes back once it has all arrived;
/// * `/reason...` answers `403 Invalid client certificate`; `/slow` waits 700 ms;
///   `/panic` panics.
pub async fn echo(request: GatewayRequest) -> GatewayResponse {
    let mut headers = http::HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, value.parse().unwrap());
    };
    let (certificate, chain) = match &request.certificate {
        ClientCertificate::Absent => ("none".to_owned(), 0),
        ClientCertificate::Presented(chain) => (chain.leaf.thumbprint().to_owned(), chain.len()),
        ClientCertificate::Undecodable(_) => ("undecodable".to_owned(), 0),
        ClientCertificate::Conflicting(_) => ("conflicting".to_owned(), 0),
    };
    set("x-echo-certificate", certificate);
    set("x-echo-chain-length", chain.to_string());
    set("x-echo-method", request.parts.method.to_string());
    set("x-echo-uri", request.parts.uri.to_string());
    set(
        "x-echo-client-ip",
        request
            .client_ip
            .map_or("none".to_owned(), |ip| ip.to_string()),
    );
    set("x-echo-request-id", request.request_id.to_string());
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(",")
        }
    };
    set(
        "x-echo-ignored",
        list(request.ignored_certificate_sources.clone()),
    );
    let still: Vec<&str> = CERTIFICATE_HEADERS
        .iter()
        .copied()
        .chain(["x-client-chain", "x-client-chain-leaf"])
        .filter(|h| request.parts.headers.contains_key(*h))
        .collect();
    set("x-echo-certificate-headers", list(still));
    set(
        "x-echo-host",
        request
            .parts
            .headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned(),
    );
    let path = request.parts.uri.path().to_owned();
    assert!(path != "/panic", "the test handler panics on /panic");
    if path == "/slow" {
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let (status, reason) = if path.starts_with("/reason") {
        (
            http::StatusCode::FORBIDDEN,
            Some("Invalid client certificate".to_owned()),
        )
    } else {
        (http::StatusCode::OK, None)
    };
    // Read whole first, as a policy that reads the body does: a body that a listener
    // limit cuts off ends here, and the listener answers 413 or 408 instead.
    let Ok(body) = request.body.collect(usize::MAX).await else {
        return GatewayResponse {
            status: http::StatusCode::BAD_REQUEST,
            reason: None,
            headers,
            body: "the body broke off".into(),
        };
    };
    GatewayResponse {
        status,
        reason,
        headers,
        body: body.into(),
    }
}

/// A running listener on loopback.
pub struct Gateway {
    pub addr: SocketAddr,
    pub calls: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Gateway {
    pub async fn start() -> Self {
        Self::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> Self {
        Self::serving(limits, echo).await
    }

    /// With `handler` instead of [`echo`]; [`Gateway::calls`] counts its calls.
    pub async fn serving(limits: Limits, handler: impl Handler) -> Self {
        let settings = settings(limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let handler = Counting {
            calls: calls.clone(),
            inner: handler,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tls::serve(listener, settings, handler, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            calls,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// [`send`]s `call` to this listener, which must answer.
    pub async fn answer(&self, call: Call<'_>) -> Answer {
        let what = format!(
            "{} {}{} http2={}",
            call.method, call.host, call.path, call.http2
        );
        send(self.addr, call)
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"))
    }

    /// Asks for shutdown; returns the serve task to await.
    pub fn shutdown(&mut self) -> JoinHandle<std::io::Result<()>> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap()
    }
}

/// Counts the calls of the handler it wraps.
struct Counting<H> {
    calls: Arc<AtomicUsize>,
    inner: H,
}

impl<H: Handler> Handler for Counting<H> {
    fn handle(&self, request: GatewayRequest) -> impl Future<Output = GatewayResponse> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.handle(request)
    }
}

/// A handler that sends every request on to `backend_url` with certgate's proxy, as a
/// route without policy does (method, path and query, body), and answers with the
/// backend's response, its body streaming.
pub fn forwarding(backend_url: String) -> impl Handler {
    let backend = Backend::new(&[], None, usize::MAX).unwrap();
    move |request: GatewayRequest| {
        let (backend, base) = (backend.clone(), backend_url.clone());
        async move {
            let path = request
                .parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str());
            let mut outgoing = http::Request::new(request.body);
            *outgoing.method_mut() = request.parts.method.clone();
            *outgoing.uri_mut() = format!("{base}{path}").parse().unwrap();
            match backend.forward(outgoing, ForwardOptions::default()).await {
                Ok(answer) => GatewayResponse {
                    status: answer.status,
                    reason: None,
                    headers: answer.headers,
                    body: answer.body,
                },
                Err(error) => GatewayResponse {
                    status: error.status(),
                    reason: None,
                    headers: http::HeaderMap::new(),
                    body: error.to_string().into_bytes().into(),
                },
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Which certificate the rustls client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Nothing,
    Client,
    /// The client certificate, signed for with a key that is not its own.
    WrongKey,
    /// The client certificate followed by bytes that are not a certificate.
    GarbageIntermediate,
}

/// Answers a certificate request with the [`Offer`], and records the CA hints.
#[derive(Debug)]
pub struct ClientResolver {
    certified: Option<Arc<CertifiedKey>>,
    pub hints: Mutex<Vec<Vec<u8>>>,
}

impl ResolvesClientCert for ClientResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        *self.hints.lock().unwrap() = root_hint_subjects.iter().map(|h| h.to_vec()).collect();
        self.certified.clone()
    }

    fn has_certs(&self) -> bool {
        self.certified.is_some()
    }
}

/// ring's provider, as the listener's (src/crypto.rs says why); rustls 0.23.48 deprecates
/// it for its lack of post-quantum key exchange.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

pub fn resolver(offer: Offer) -> Arc<ClientResolver> {
    let pki = pki();
    let provider = ring_provider();
    let key = |der: &[u8]| {
        provider
            .key_provider
            .load_private_key(PrivateKeyDer::try_from(der.to_vec()).unwrap())
            .unwrap()
    };
    let leaf = CertificateDer::from(pki.client.der.clone());
    let certified = match offer {
        Offer::Nothing => None,
        Offer::Client => Some(CertifiedKey::new(vec![leaf], key(&pki.client.key_der))),
        Offer::WrongKey => Some(CertifiedKey::new(vec![leaf], key(&pki.other_key_der))),
        Offer::GarbageIntermediate => Some(CertifiedKey::new(
            vec![
                leaf,
                CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x07]),
            ],
            key(&pki.client.key_der),
        )),
    };
    Arc::new(ClientResolver {
        certified: certified.map(Arc::new),
        hints: Mutex::new(Vec::new()),
    })
}

/// TLS version the rustls client allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

pub fn client_config(
    resolver: Arc<ClientResolver>,
    version: Version,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut config =
        client_builder(&pki().server_ca.der, version).with_client_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A rustls client (ring) that trusts the CA `root_der` and speaks `version`, still to be
/// told which client certificate to present.
pub fn client_builder(
    root_der: &[u8],
    version: Version,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(root_der.to_vec())).unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = match version {
        Version::Tls12 => &[&rustls::version::TLS12],
        Version::Tls13 => &[&rustls::version::TLS13],
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(ring_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
}

/// What the rustls client of a [`Call`] presents: it makes the client's configuration.
pub trait Presents: Copy {
    fn client_config(self, version: Version, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig>;
}

impl Presents for Offer {
    fn client_config(self, version: Version, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        client_config(resolver(self), version, alpn)
    }
}

/// Accepts any server certificate (signatures still checked), so a test can look at
/// which certificate was served for a name it does not cover.
#[derive(Debug)]
struct AnyServerCert(rustls::crypto::WebPkiSupportedAlgorithms);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A client that offers no certificate and accepts any server certificate.
pub fn inspecting_client_config() -> Arc<rustls::ClientConfig> {
    let provider = ring_provider();
    let algorithms = provider.signature_verification_algorithms;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(algorithms)))
        .with_no_client_auth();
    Arc::new(config)
}

/// Opens a TLS 1.3 connection to `host` offering `offer` and the one ALPN protocol `alpn`.
pub async fn open(
    addr: SocketAddr,
    host: &str,
    offer: Offer,
    alpn: &[u8],
) -> Result<TlsStream<TcpStream>, BoxError> {
    connect(
        addr,
        host,
        client_config(resolver(offer), Version::Tls13, &[alpn]),
    )
    .await
}

/// Opens a TLS connection; `server_name` is the SNI (an IP address sends none).
pub async fn connect(
    addr: SocketAddr,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<TlsStream<TcpStream>, BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(server_name.to_owned())?;
    Ok(TlsConnector::from(config).connect(name, tcp).await?)
}

/// The subject of the certificate the server presented.
pub fn served_subject(stream: &TlsStream<TcpStream>) -> String {
    let (_, conn) = stream.get_ref();
    let der = &conn.peer_certificates().unwrap()[0];
    Certificate::from_der(der).unwrap().subject().to_owned()
}

/// One response as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

/// Client options for [`send`]; `offer` is an [`Offer`] of the test PKI unless a test
/// brings its own [`Presents`].
#[derive(Debug, Clone)]
pub struct Call<'a, O = Offer> {
    pub host: &'a str,
    pub offer: O,
    pub version: Version,
    pub http2: bool,
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Vec<u8>,
}

impl<'a, O> Call<'a, O> {
    pub fn get(host: &'a str, offer: O) -> Self {
        Self {
            host,
            offer,
            version: Version::Tls13,
            http2: false,
            method: "GET",
            path: "/hello",
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Over HTTP/2 when `http2`, else HTTP/1.1.
    pub fn http2(self, http2: bool) -> Self {
        Self { http2, ..self }
    }

    pub fn version(self, version: Version) -> Self {
        Self { version, ..self }
    }

    pub fn path(self, path: &'a str) -> Self {
        Self { path, ..self }
    }

    /// `method` (POST, PUT) with `body`.
    pub fn upload(self, method: &'a str, body: Vec<u8>) -> Self {
        Self {
            method,
            body,
            ..self
        }
    }

    pub fn headers(self, headers: Vec<(&'a str, String)>) -> Self {
        Self { headers, ..self }
    }
}

/// Sends one request over a fresh connection with the rustls client and hyper.
pub async fn send<O: Presents>(addr: SocketAddr, call: Call<'_, O>) -> Result<Answer, BoxError> {
    let alpn: &[&[u8]] = if call.http2 { &[b"h2"] } else { &[b"http/1.1"] };
    let config = call.offer.client_config(call.version, alpn);
    let stream = connect(addr, call.host, config).await?;
    let authority = format!("{}:{}", call.host, addr.port());
    let response = exchange(
        stream,
        &authority,
        call.http2,
        call.method,
        call.path,
        &call.headers,
        call.body,
    )
    .await?;
    let (parts, body) = response.into_parts();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        version: parts.version,
    })
}

/// One request over an established (TLS) stream, by HTTP/2 or HTTP/1.1, with the
/// whole response body.
pub async fn exchange<S>(
    stream: S,
    authority: &str,
    http2: bool,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<http::Response<Bytes>, BoxError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http::Request::builder().method(method);
    builder = if http2 {
        builder.uri(format!("https://{authority}{path}"))
    } else {
        builder.uri(path).header("host", authority)
    };
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let request = builder.body(Full::new(Bytes::from(body)))?;
    let response = send_request(stream, http2, request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

/// Sends `request` over an established (TLS) stream by HTTP/2 or HTTP/1.1, a task driving
/// the connection; the response with its body still to read.
pub async fn send_request<S, B>(
    stream: S,
    http2: bool,
    request: http::Request<B>,
) -> Result<http::Response<hyper::body::Incoming>, BoxError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let io = TokioIo::new(stream);
    Ok(if http2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        sender.send_request(request).await?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        sender.send_request(request).await?
    })
}

/// Writes raw bytes over TLS (HTTP/1.1) while reading until the server closes. A
/// server may answer before the request is fully written (413) and close: write
/// errors are ignored and whatever was read before a read error is returned.
pub async fn raw(
    addr: SocketAddr,
    host: &str,
    offer: Offer,
    request: &[u8],
) -> Result<Vec<u8>, BoxError> {
    let stream = open(addr, host, offer, b"http/1.1").await?;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let request = request.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    });
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    drop(writing.await);
    Ok(out)
}

/// Bytes that are not valid UTF-8 anywhere, so text handling would corrupt them.
pub fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 0x80 + i / 251) as u8).collect()
}

/// Files for curl in one folder: `ca.pem`, the server's CA, and `<name>.pem` with
/// `<name>.key` for each client certificate; curl writes what it got there too.
pub struct CurlFiles {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl CurlFiles {
    /// The test PKI's, in a new temporary folder; the client certificate is `client`.
    pub fn new() -> Self {
        let pki = pki();
        let files = Self::empty();
        std::fs::write(files.path("ca.pem"), &pki.server_ca.pem).unwrap();
        std::fs::write(files.path("client.pem"), &pki.client.pem).unwrap();
        std::fs::write(files.path("client.key"), &pki.client.key_pem).unwrap();
        files
    }

    /// A new temporary folder for the caller to fill.
    pub fn empty() -> Self {
        let temp = tempfile::tempdir().unwrap();
        Self {
            dir: temp.path().to_owned(),
            _temp: Some(temp),
        }
    }

    /// The files already in `dir`, which outlives the value.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            _temp: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `bytes` to the file `name` and returns curl's `--data-binary` argument for it.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        format!("@{}", path_str(&path))
    }
}

/// What curl printed: exit status, response headers (`-D`), body, and stderr (`-v`).
#[derive(Debug)]
pub struct CurlOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub head: String,
    pub body: Vec<u8>,
    pub stderr: String,
}

impl CurlOutput {
    /// A response header's value (the last response, case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The last response's status line, without trailing white space.
    pub fn status_line(&self) -> &str {
        self.head
            .lines()
            .rfind(|l| l.starts_with("HTTP/"))
            .unwrap_or("")
            .trim_end()
    }

    /// The last response's status code; panics with curl's stderr when there was none.
    pub fn status(&self) -> u16 {
        self.status_line()
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {:?}: {}", self.status_line(), self.stderr))
    }
}

/// Runs curl against `https://host:port/path` resolved to loopback. `with_cert` adds
/// the client certificate; `extra` are more arguments (`--http2`, `-X`, `-H`, ...).
pub async fn curl(
    files: &CurlFiles,
    addr: SocketAddr,
    host: &str,
    path: &str,
    with_cert: bool,
    extra: &[&str],
) -> CurlOutput {
    curl_as(
        files,
        addr,
        host,
        path,
        with_cert.then_some("client"),
        extra,
    )
    .await
}

/// [`curl`] presenting the client certificate `cert` of `files` (`<cert>.pem`,
/// `<cert>.key`), or none.
pub async fn curl_as(
    files: &CurlFiles,
    addr: SocketAddr,
    host: &str,
    path: &str,
    cert: Option<&str>,
    extra: &[&str],
) -> CurlOutput {
    let url = format!("https://{host}:{}{path}", addr.port());
    let head = files.path(&format!("head-{}", rand_suffix()));
    let body = files.path(&format!("body-{}", rand_suffix()));
    let mut args: Vec<String> = vec![
        "-sS".into(),
        "-v".into(),
        "--max-time".into(),
        "60".into(),
        "--cacert".into(),
        path_str(&files.path("ca.pem")),
        "--resolve".into(),
        format!("{host}:{}:127.0.0.1", addr.port()),
        "-D".into(),
        path_str(&head),
        "-o".into(),
        path_str(&body),
    ];
    if let Some(cert) = cert {
        args.extend([
            "--cert".into(),
            path_str(&files.path(&format!("{cert}.pem"))),
            "--key".into(),
            path_str(&files.path(&format!("{cert}.key"))),
        ]);
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push(url);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl").args(&args).output()
    })
    .await
    .unwrap()
    .expect("curl is on PATH");
    CurlOutput {
        success: output.status.success(),
        code: output.status.code(),
        head: std::fs::read_to_string(&head).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn path_str(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn rand_suffix() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}
