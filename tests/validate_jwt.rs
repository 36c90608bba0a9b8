//! The `validate-jwt` policy: real tokens signed at test time (HMAC secrets and EC keys
//! from ring, RSA keys from `openssl genpkey`), checked in process against a deployment with
//! a loopback echo backend, and OpenID keys served by a loopback discovery + JWKS server
//! that rotates keys and goes down.

mod common;
#[path = "common/trust_pki.rs"]
mod trust_pki;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use certgate::body::Payload;
use certgate::gateway::{self, ClientCertificate, Deployment, GatewayRequest};
use certgate::policy::{PolicyDocument, Scope};
use common::backend::EchoBackend;
use common::request::gateway_request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair as _};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use trust_pki::{file, now, pem_of};

// ---------------------------------------------------------------------------------
// Keys and tokens.

/// A key that signs tokens: an HMAC secret, an RSA key (PKCS#8 from openssl), an EC key,
/// or a P-521 key (ES512; ring has none, RustCrypto's p521 signs).
enum Signer {
    Hmac(Vec<u8>),
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair, &'static str),
    P521(p521::ecdsa::SigningKey),
}

/// A P-521 signer and a self-signed certificate of its key (PEM).
fn p521_key_and_certificate() -> (Signer, String) {
    let (key, pem, _) = trust_pki::p521_key_and_certificate();
    (Signer::P521(key), pem)
}

/// An ES512 JWS of `claims` signed by openssl with the key in `key_pem`: a second,
/// independent implementation of the signature (DER `ECDSA-Sig-Value` turned into JWS's
/// fixed `r || s`, 66 bytes each).
fn openssl_es512_token(key_pem: &str, claims: &Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.pem"), key_pem).unwrap();
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES512"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    std::fs::write(dir.path().join("message"), &message).unwrap();
    let status = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "dgst", "-sha512", "-sign", "key.pem", "-out", "sig.der", "message",
        ])
        .status()
        .expect("openssl is installed");
    assert!(status.success());
    let der = std::fs::read(dir.path().join("sig.der")).unwrap();
    // SEQUENCE (30, length in one byte or 81 xx) { INTEGER r, INTEGER s }
    let mut at = if der[1] == 0x81 { 3 } else { 2 };
    let mut raw = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[at], 0x02, "INTEGER");
        let len = usize::from(der[at + 1]);
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.iter().take_while(|b| **b == 0).count()..];
        raw.extend(std::iter::repeat_n(0u8, 66 - int.len()));
        raw.extend_from_slice(int);
        at += 2 + len;
    }
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(raw))
}

/// One 2048-bit RSA key per test process, made by openssl (DER, PKCS#1: ring cannot generate RSA keys).
fn rsa_der() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(trust_pki::new_rsa_der)
}

impl Signer {
    fn hmac(secret: &[u8]) -> Self {
        Signer::Hmac(secret.to_vec())
    }

    fn rsa() -> Self {
        Signer::Rsa(sig::RsaKeyPair::from_der(rsa_der()).unwrap())
    }

    fn rsa_from(der: &[u8]) -> Self {
        Signer::Rsa(sig::RsaKeyPair::from_der(der).unwrap())
    }

    fn ec_from(pkcs8: &[u8], p384: bool) -> Self {
        let (alg, name) = if p384 {
            (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384")
        } else {
            (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256")
        };
        Signer::Ec(
            sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &SystemRandom::new()).unwrap(),
            name,
        )
    }

    fn ec(p384: bool) -> Self {
        let alg = if p384 {
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING
        } else {
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING
        };
        let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        Self::ec_from(pkcs8.as_ref(), p384)
    }

    /// `n` and `e` of an RSA key, base64url.
    fn n_e(&self) -> (String, String) {
        let Signer::Rsa(key) = self else {
            panic!("not RSA")
        };
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = key.public().into();
        (
            URL_SAFE_NO_PAD.encode(&public.n),
            URL_SAFE_NO_PAD.encode(&public.e),
        )
    }

    /// The public JWK, with `kid`.
    fn jwk(&self, kid: &str) -> Value {
        match self {
            Signer::Rsa(_) => {
                let (n, e) = self.n_e();
                json!({"kty": "RSA", "use": "sig", "kid": kid, "n": n, "e": e})
            }
            Signer::Ec(key, crv) => {
                let point = key.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                json!({"kty": "EC", "use": "sig", "kid": kid, "crv": crv,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..=half]),
                    "y": URL_SAFE_NO_PAD.encode(&point[half + 1..])})
            }
            Signer::P521(key) => {
                let point = p521::ecdsa::VerifyingKey::from(key).to_encoded_point(false);
                json!({"kty": "EC", "use": "sig", "kid": kid, "crv": "P-521",
                    "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
                    "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())})
            }
            Signer::Hmac(_) => panic!("no public JWK for a secret"),
        }
    }

    fn sign(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Hmac(secret) => {
                let algorithm = match alg {
                    "HS256" => ring::hmac::HMAC_SHA256,
                    "HS384" => ring::hmac::HMAC_SHA384,
                    _ => ring::hmac::HMAC_SHA512,
                };
                ring::hmac::sign(&ring::hmac::Key::new(algorithm, secret), message)
                    .as_ref()
                    .to_vec()
            }
            Signer::Rsa(key) => {
                let padding: &dyn sig::RsaEncoding = match alg {
                    "RS256" => &sig::RSA_PKCS1_SHA256,
                    "RS384" => &sig::RSA_PKCS1_SHA384,
                    "RS512" => &sig::RSA_PKCS1_SHA512,
                    "PS256" => &sig::RSA_PSS_SHA256,
                    "PS384" => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(padding, &rng, message, &mut out).unwrap();
                out
            }
            Signer::Ec(key, _) => key.sign(&rng, message).unwrap().as_ref().to_vec(),
            Signer::P521(key) => {
                let signature: p521::ecdsa::Signature =
                    p521::ecdsa::signature::Signer::sign(key, message);
                signature.to_bytes().to_vec()
            }
        }
    }

    /// A compact JWS of `claims` with `header` (alg added).
    fn token(&self, alg: &str, mut header: Value, claims: &Value) -> String {
        header["alg"] = json!(alg);
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.sign(alg, message.as_bytes());
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// `token` with one byte of its payload changed: its signature no longer holds.
fn tampered(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
    payload[10] ^= 1;
    parts[1] = URL_SAFE_NO_PAD.encode(payload);
    parts.join(".")
}

const SECRET: &[u8] = b"a symmetric secret of at least thirty-two bytes!";

fn t(offset: i64) -> i64 {
    now().unix_timestamp() + offset
}

/// Claims valid at [`now`] for the audience and issuer of [`HMAC_POLICY`].
fn claims() -> Value {
    json!({"sub": "alice", "aud": "api://orders", "iss": "https://issuer.contoso.com/",
        "exp": t(600), "nbf": t(-60), "iat": t(-60), "group": ["finance", "ops"],
        "scp": "orders.read orders.write"})
}

fn hs256(claims: &Value) -> String {
    Signer::hmac(SECRET).token("HS256", json!({"typ": "JWT"}), claims)
}

// ---------------------------------------------------------------------------------
// Deployments and requests.

const ON_ERROR: &str = r#"<on-error><set-header name="x-error-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header><set-header name="x-error-source" exists-action="override"><value>@(context.LastError.Source)</value></set-header><set-header name="x-error-message" exists-action="override"><value>@(context.LastError.Message)</value></set-header></on-error>"#;

fn deploy_with(
    backend: &str,
    inbound: &str,
    extra: Vec<certgate::files::SourceFile>,
) -> Vec<certgate::files::SourceFile> {
    let toml = format!(
        "[deployment]\nservice_name = \"contoso\"\nregion = \"eu-west-1\"\npolicy = \"policies/global.xml\"\n[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"{backend}\"\n"
    );
    let mut files = vec![
        file("gateway.toml", toml),
        file(
            "policies/global.xml",
            format!(
                "<policies><inbound>{inbound}</inbound><backend><forward-request/></backend><outbound/>{ON_ERROR}</policies>"
            ),
        ),
    ];
    files.extend(extra);
    files
}

fn load(files: &[certgate::files::SourceFile]) -> Deployment {
    match Deployment::load(files, "test", now()) {
        Ok(d) => d,
        Err(e) => panic!("deployment did not load:\n{}", e.render()),
    }
}

/// [`Deployment::from_files`] (which fetches OpenID keys) on a blocking thread, as the
/// refresher runs it.
async fn load_fetching(files: Vec<certgate::files::SourceFile>) -> Deployment {
    tokio::task::spawn_blocking(move || {
        match Deployment::from_files(&files, "test", Default::default()) {
            Ok(d) => d,
            Err(e) => panic!("deployment did not load:\n{}", e.render()),
        }
    })
    .await
    .unwrap()
}

fn request(uri: &str, headers: &[(&str, &str)]) -> GatewayRequest {
    let url = format!("https://api.contoso.com{uri}");
    gateway_request("GET", &url, headers, ClientCertificate::Absent)
}

/// What a request with `authorization` got: status, LastError.Reason (empty when it
/// passed) and the body.
struct Answer {
    status: u16,
    reason: String,
    body: String,
    reached_backend: bool,
    headers: http::HeaderMap,
}

async fn send(d: &Deployment, r: GatewayRequest) -> Answer {
    let o = gateway::handle(d, r, now(), true).await;
    let header = |name: &str| {
        o.response
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: o.response.status.as_u16(),
        reason: header("x-error-reason").unwrap_or_default(),
        body: o
            .response
            .body
            .as_whole()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
        reached_backend: header("x-echo-uri").is_some(),
        headers: o.response.headers.clone(),
    }
}

async fn bearer(d: &Deployment, token: &str) -> Answer {
    send(
        d,
        request(
            "/orders/1",
            &[("authorization", &format!("Bearer {token}"))],
        ),
    )
    .await
}

fn assert_passes(a: &Answer, what: &str) {
    assert!(
        a.status == 200 && a.reached_backend,
        "{what}: {} {} {} {:?}",
        a.status,
        a.reason,
        a.body,
        a.headers.get("x-error-message")
    );
}

fn assert_refused(a: &Answer, reason: &str, what: &str) {
    assert_eq!(
        (a.status, a.reason.as_str()),
        (401, reason),
        "{what}: {}",
        a.body
    );
    assert!(!a.reached_backend, "{what} reached the backend");
    assert_eq!(
        a.headers.get("x-error-source").unwrap(),
        "validate-jwt",
        "{what}"
    );
}

fn hmac_policy(extra_attributes: &str, extra_children: &str) -> String {
    format!(
        r#"<validate-jwt header-name="Authorization" require-scheme="Bearer" {extra_attributes}>
    <issuer-signing-keys><key>{}</key></issuer-signing-keys>
    <audiences><audience>api://orders</audience><audience>api://other</audience></audiences>
    <issuers><issuer>https://issuer.contoso.com/</issuer></issuers>
    {extra_children}
</validate-jwt>"#,
        STANDARD.encode(SECRET)
    )
}

async fn hmac_deployment(
    extra_attributes: &str,
    extra_children: &str,
) -> (EchoBackend, Deployment) {
    let echo = EchoBackend::start().await;
    let d = load(&deploy_with(
        &echo.url(),
        &hmac_policy(extra_attributes, extra_children),
        vec![],
    ));
    (echo, d)
}

// ---------------------------------------------------------------------------------
// Tokens that pass.

#[tokio::test]
async fn hmac_tokens_pass_from_the_header_the_query_or_an_expression() {
    let (_echo, d) = hmac_deployment("", "").await;
    for alg in ["HS256", "HS384", "HS512"] {
        let token = Signer::hmac(SECRET).token(alg, json!({"typ": "JWT"}), &claims());
        assert_passes(&bearer(&d, &token).await, alg);
    }

    let echo = EchoBackend::start().await;
    let key = STANDARD.encode(SECRET);
    let by_query = format!(
        r#"<validate-jwt query-parameter-name="access_token"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#
    );
    let d = load(&deploy_with(&echo.url(), &by_query, vec![]));
    let token = hs256(&claims());
    assert_passes(
        &send(&d, request(&format!("/orders/1?access_token={token}"), &[])).await,
        "query",
    );
    assert_refused(
        &send(&d, request("/orders/1", &[])).await,
        "TokenNotPresent",
        "no query parameter",
    );

    let by_value = format!(
        r#"<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault(&quot;x-token&quot;, &quot;&quot;))"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#
    );
    let d = load(&deploy_with(&echo.url(), &by_value, vec![]));
    assert_passes(
        &send(&d, request("/orders/1", &[("x-token", &token)])).await,
        "token-value",
    );
    assert_refused(
        &send(&d, request("/orders/1", &[])).await,
        "TokenNotPresent",
        "empty token-value",
    );
}

#[tokio::test]
async fn rsa_pss_and_ecdsa_tokens_pass_with_n_e_and_uploaded_certificates() {
    let echo = EchoBackend::start().await;
    let rsa = Signer::rsa();
    let (n, e) = rsa.n_e();
    // ES256 and ES384 keys in uploaded certificates, made with rcgen.
    let p256 = trust_pki::key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let p384 = trust_pki::key(&rcgen::PKCS_ECDSA_P384_SHA384);
    let cert = |key: &rcgen::KeyPair| {
        pem_of(
            trust_pki::leaf_params("jwt-signer", 5)
                .self_signed(key)
                .unwrap()
                .der(),
        )
    };
    let policy = format!(
        r#"<validate-jwt header-name="Authorization">
    <issuer-signing-keys>
        <key id="rsa-1" n="{n}" e="{e}"/>
        <key certificate-id="signer256"/>
        <key certificate-id="signer384"/>
    </issuer-signing-keys>
</validate-jwt>"#
    );
    let d = load(&deploy_with(
        &echo.url(),
        &policy,
        vec![
            file("certificates/signer256.pem", cert(&p256)),
            file("certificates/signer384.pem", cert(&p384)),
        ],
    ));
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let token = rsa.token(alg, json!({"kid": "rsa-1"}), &claims());
        assert_passes(&bearer(&d, &token).await, alg);
        // One byte of the payload changed: the signature no longer holds.
        assert_refused(
            &bearer(&d, &tampered(&token)).await,
            "TokenSignatureInvalid",
            alg,
        );
    }
    let es256 = Signer::ec_from(&p256.serialize_der(), false);
    assert_passes(
        &bearer(&d, &es256.token("ES256", json!({}), &claims())).await,
        "ES256",
    );
    let es384 = Signer::ec_from(&p384.serialize_der(), true);
    assert_passes(
        &bearer(&d, &es384.token("ES384", json!({}), &claims())).await,
        "ES384",
    );
    // A key nobody uploaded signs nothing that passes.
    let stranger = Signer::ec(false);
    assert_refused(
        &bearer(&d, &stranger.token("ES256", json!({}), &claims())).await,
        "TokenSignatureInvalid",
        "unknown EC key",
    );
    // EdDSA is refused with the reason, never passed.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    let a = bearer(&d, &format!("{header}.{body}.AAAA")).await;
    assert_refused(&a, "TokenSignatureInvalid", "EdDSA");
    assert!(a.body.contains("EdDSA is not supported"), "{}", a.body);
}

#[tokio::test]
async fn es512_tokens_pass_with_an_uploaded_p521_certificate_and_only_with_it() {
    let echo = EchoBackend::start().await;
    let (key, pem, key_pem) = trust_pki::p521_key_and_certificate();
    let signer = Signer::P521(key);
    let policy = r#"<validate-jwt header-name="Authorization">
    <issuer-signing-keys><key certificate-id="signer521"/></issuer-signing-keys>
</validate-jwt>"#;
    let d = load(&deploy_with(
        &echo.url(),
        policy,
        vec![file("certificates/signer521.pem", pem)],
    ));
    let token = signer.token("ES512", json!({}), &claims());
    assert_passes(&bearer(&d, &token).await, "ES512");
    // A token openssl signed: the verification agrees with another implementation.
    assert_passes(
        &bearer(&d, &openssl_es512_token(&key_pem, &claims())).await,
        "ES512 signed by openssl",
    );
    assert_refused(
        &bearer(&d, &tampered(&token)).await,
        "TokenSignatureInvalid",
        "ES512, payload changed",
    );
    // A signature of the wrong length (an ES384 one) is no signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = URL_SAFE_NO_PAD.encode([7u8; 96]);
    assert_refused(
        &bearer(&d, &parts.join(".")).await,
        "TokenSignatureInvalid",
        "ES512, short signature",
    );
    // Another P-521 key signs nothing that passes.
    let (stranger, _) = p521_key_and_certificate();
    assert_refused(
        &bearer(&d, &stranger.token("ES512", json!({}), &claims())).await,
        "TokenSignatureInvalid",
        "unknown P-521 key",
    );
    // The P-521 key is never tried for another algorithm, nor an ES512 token with another key.
    let es384 = Signer::ec(true);
    assert_refused(
        &bearer(&d, &es384.token("ES384", json!({}), &claims())).await,
        "TokenSignatureKeyNotFound",
        "ES384 against a P-521 key",
    );
}

// ---------------------------------------------------------------------------------
// Each failure reason.

#[tokio::test]
async fn each_failure_has_apims_reason_and_401_with_the_message() {
    let (_echo, d) = hmac_deployment(
        "",
        r#"<required-claims>
            <claim name="group" match="any"><value>finance</value><value>logistics</value></claim>
            <claim name="scp" match="all" separator=" "><value>orders.read</value></claim>
        </required-claims>"#,
    )
    .await;
    assert_passes(&bearer(&d, &hs256(&claims())).await, "valid");

    let a = send(&d, request("/orders/1", &[])).await;
    assert_refused(&a, "TokenNotPresent", "no header");
    assert!(a.body.contains("JWT not present."), "{}", a.body);
    // require-scheme="Bearer": another scheme is no token.
    let a = send(
        &d,
        request(
            "/orders/1",
            &[("authorization", &format!("Basic {}", hs256(&claims())))],
        ),
    )
    .await;
    assert_refused(&a, "TokenNotPresent", "Basic scheme");

    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims();
        edit(&mut c);
        hs256(&c)
    };
    let cases: Vec<(&str, String)> = vec![
        ("TokenExpired", with(&|c| c["exp"] = json!(t(-1)))),
        (
            "TokenExpired",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("TokenNotYetValid", with(&|c| c["nbf"] = json!(t(120)))),
        (
            "TokenAudienceNotAllowed",
            with(&|c| c["aud"] = json!(["api://elsewhere"])),
        ),
        (
            "TokenAudienceNotAllowed",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "TokenIssuerNotAllowed",
            with(&|c| c["iss"] = json!("https://evil.example/")),
        ),
        (
            "TokenClaimNotFound",
            with(&|c| {
                c.as_object_mut().unwrap().remove("group");
            }),
        ),
        (
            "TokenClaimValueNotAllowed",
            with(&|c| c["group"] = json!(["sales"])),
        ),
        (
            "TokenClaimValueNotAllowed",
            with(&|c| c["scp"] = json!("orders.write")),
        ),
        (
            "TokenSignatureInvalid",
            Signer::hmac(b"another secret, also long enough to be used").token(
                "HS256",
                json!({}),
                &claims(),
            ),
        ),
        ("JwtInvalid", "not-a-token".to_owned()),
        (
            "JwtInvalid",
            format!("{}.e30.", URL_SAFE_NO_PAD.encode("{not json")),
        ),
    ];
    for (reason, token) in cases {
        let a = bearer(&d, &token).await;
        assert_refused(&a, reason, &token);
        let body: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(body["statusCode"], 401);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("JWT Validation Failed: "),
            "{}",
            a.body
        );
    }
    // An audience in an array of several, and a value among several in a claim, pass.
    assert_passes(
        &bearer(&d, &with(&|c| c["aud"] = json!(["x", "api://other"]))).await,
        "aud array",
    );
    assert_passes(
        &bearer(&d, &with(&|c| c["group"] = json!(["logistics"]))).await,
        "any value",
    );
}

#[tokio::test]
async fn clock_skew_expiration_and_the_failure_answer_are_configurable() {
    let expired = {
        let mut c = claims();
        c["exp"] = json!(t(-30));
        hs256(&c)
    };
    let (_echo, d) = hmac_deployment(r#"clock-skew="60""#, "").await;
    assert_passes(&bearer(&d, &expired).await, "within the skew");
    let (_echo, d) = hmac_deployment(r#"clock-skew="00:00:10""#, "").await;
    assert_refused(&bearer(&d, &expired).await, "TokenExpired", "past the skew");

    let no_exp = {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("exp");
        hs256(&c)
    };
    let (_echo, d) = hmac_deployment(r#"require-expiration-time="false""#, "").await;
    assert_passes(&bearer(&d, &no_exp).await, "no exp, not required");

    let (_echo, d) = hmac_deployment(
        r#"failed-validation-httpcode="403" failed-validation-error-message="Unauthorized. Access token is missing or invalid.""#,
        "",
    )
    .await;
    let a = send(&d, request("/orders/1", &[])).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "TokenNotPresent"));
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        body["message"],
        "Unauthorized. Access token is missing or invalid."
    );
}

// ---------------------------------------------------------------------------------
// What is never accepted.

#[tokio::test]
async fn unsigned_tokens_and_key_confusion_are_refused() {
    let echo = EchoBackend::start().await;
    let rsa = Signer::rsa();
    let (n, e) = rsa.n_e();
    let policy = format!(
        r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key n="{n}" e="{e}"/></issuer-signing-keys></validate-jwt>"#
    );
    let d = load(&deploy_with(&echo.url(), &policy, vec![]));
    assert_passes(
        &bearer(&d, &rsa.token("RS256", json!({}), &claims())).await,
        "RS256",
    );

    // alg none, with and without a signature part.
    for alg in ["none", "None"] {
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string()),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert_refused(&bearer(&d, &unsigned).await, "TokenSignatureInvalid", alg);
    }
    // Key confusion: an HS256 token whose secret is the RSA public key (as n, as the
    // modulus bytes, as the JWK text) is never checked with that public key.
    let modulus = URL_SAFE_NO_PAD.decode(&n).unwrap();
    for secret in [
        n.as_bytes().to_vec(),
        modulus,
        rsa.jwk("k").to_string().into_bytes(),
    ] {
        let forged = Signer::hmac(&secret).token("HS256", json!({}), &claims());
        assert_refused(
            &bearer(&d, &forged).await,
            "TokenSignatureKeyNotFound",
            "HS256 with the RSA key",
        );
    }
    // A kid that no key has, signed by a stranger.
    let stranger = Signer::rsa_from(&trust_pki::new_rsa_der());
    assert_refused(
        &bearer(
            &d,
            &stranger.token("RS256", json!({"kid": "nobody"}), &claims()),
        )
        .await,
        "TokenSignatureKeyNotFound",
        "unknown kid",
    );
}

#[test]
fn what_certgate_cannot_honour_is_refused_at_load() {
    let key = STANDARD.encode(SECRET);
    let error = |inbound: &str| {
        let text = format!("<policies>\n<inbound>\n{inbound}\n</inbound>\n</policies>");
        match PolicyDocument::parse("global.xml", &text, Scope::Global) {
            Ok(_) => panic!("loaded: {inbound}"),
            Err(e) => e.render(&text),
        }
    };
    let cases = [
        (
            format!(r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key>{key}</key></issuer-signing-keys><decryption-keys><key>{key}</key></decryption-keys></validate-jwt>"#),
            "<decryption-keys> is not supported",
        ),
        (
            format!(r#"<validate-jwt header-name="Authorization" require-signed-tokens="false"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#),
            "always requires signed tokens",
        ),
        (
            r#"<validate-jwt header-name="Authorization"><audiences><audience>a</audience></audiences></validate-jwt>"#.to_owned(),
            "needs signing keys",
        ),
        (
            format!(r#"<validate-jwt header-name="Authorization" query-parameter-name="t"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#),
            "exactly one of header-name, query-parameter-name or token-value",
        ),
        (
            r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key>not base64!</key></issuer-signing-keys></validate-jwt>"#.to_owned(),
            "is not base64",
        ),
        (
            format!(
                r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key>{}</key></issuer-signing-keys></validate-jwt>"#,
                STANDARD.encode(b"sixteen byte key")
            ),
            "the key is 128 bits; an HMAC signing key needs at least 256 bits",
        ),
        (
            r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key n="AQAB"/></issuer-signing-keys></validate-jwt>"#.to_owned(),
            "needs both n (modulus) and e (exponent)",
        ),
        (
            r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key n="AQAB" e="AQAB"/></issuer-signing-keys></validate-jwt>"#.to_owned(),
            "at least 2048 bits",
        ),
        (
            format!(r#"<validate-jwt header-name="Authorization"><issuer-signing-keys><key>{key}</key></issuer-signing-keys><required-claims><claim name="x" match="some"/></required-claims></validate-jwt>"#),
            "use all or any",
        ),
        (
            format!(r#"<validate-jwt header-name="Authorization" clock-skew="soon"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#),
            "is not a clock skew",
        ),
        (
            format!(r#"<validate-jwt header-name="Authorization"><audiences><audience>a</audience></audiences><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#),
            "in that order",
        ),
        (
            r#"<validate-jwt header-name="Authorization"><openid-config url="login.example.com/.well-known/openid-configuration"/></validate-jwt>"#.to_owned(),
            "is not an absolute URL",
        ),
    ];
    for (policy, expected) in cases {
        let rendered = error(&policy);
        assert!(rendered.contains(expected), "{policy}\n{rendered}");
        assert!(rendered.contains("global.xml:"), "{rendered}");
    }
    // validate-jwt runs in inbound only.
    let text = format!(
        "<policies><outbound><validate-jwt header-name=\"a\"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt></outbound></policies>"
    );
    assert!(PolicyDocument::parse("global.xml", &text, Scope::Global).is_err());
}

// ---------------------------------------------------------------------------------
// OpenID configuration: discovery, JWKS, rotation, outage.

/// A loopback identity provider: discovery document and JWKS, swappable keys, and an
/// outage switch (503 for everything while down). Counts the JWKS requests.
#[derive(Clone)]
struct IdentityProvider {
    url: String,
    /// The JWKS keys, whether it answers (503 when not), whether it hangs (never answers).
    state: Arc<Mutex<(Value, bool, bool)>>,
    jwks_requests: Arc<AtomicUsize>,
}

impl IdentityProvider {
    async fn start(keys: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let idp = IdentityProvider {
            url: url.clone(),
            state: Arc::new(Mutex::new((keys, true, false))),
            jwks_requests: Arc::new(AtomicUsize::new(0)),
        };
        let served = idp.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let idp = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |r: hyper::Request<Incoming>| {
                        let idp = idp.clone();
                        async move {
                            if idp.state.lock().unwrap().2 {
                                std::future::pending::<()>().await;
                            }
                            Ok::<_, Infallible>(idp.answer(r.uri().path()))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        idp
    }

    fn answer(&self, path: &str) -> hyper::Response<Payload> {
        let (keys, up, _) = self.state.lock().unwrap().clone();
        let (status, body) = match (up, path) {
            (false, _) => (503, "down".to_owned()),
            (true, "/.well-known/openid-configuration") => (
                200,
                json!({"issuer": "https://login.contoso.test/", "jwks_uri": format!("{}/keys", self.url)}).to_string(),
            ),
            (true, "/keys") => {
                self.jwks_requests.fetch_add(1, Ordering::SeqCst);
                (200, json!({"keys": keys}).to_string())
            }
            _ => (404, String::new()),
        };
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Payload::from(body.into_bytes()))
            .unwrap()
    }

    fn set_keys(&self, keys: Value) {
        self.state.lock().unwrap().0 = keys;
    }

    fn set_up(&self, up: bool) {
        self.state.lock().unwrap().1 = up;
    }

    fn set_hanging(&self, hanging: bool) {
        self.state.lock().unwrap().2 = hanging;
    }

    fn policy(&self) -> String {
        format!(
            r#"<validate-jwt header-name="Authorization" require-scheme="Bearer"><openid-config url="{}/.well-known/openid-configuration"/><audiences><audience>api://orders</audience></audiences></validate-jwt>"#,
            self.url
        )
    }
}

fn idp_claims() -> Value {
    let mut c = claims();
    c["iss"] = json!("https://login.contoso.test/");
    c
}

#[tokio::test]
async fn openid_keys_are_fetched_at_load_rotated_by_refresh_and_kept_through_an_outage() {
    let echo = EchoBackend::start().await;
    let first = Signer::ec(false);
    let second = Signer::rsa();
    let idp = IdentityProvider::start(json!([first.jwk("k1")])).await;
    let d = load_fetching(deploy_with(&echo.url(), &idp.policy(), vec![])).await;
    let fetched_at_load = idp.jwks_requests.load(Ordering::SeqCst);
    assert_eq!(fetched_at_load, 1);

    let by_first = first.token("ES256", json!({"kid": "k1"}), &idp_claims());
    assert_passes(&bearer(&d, &by_first).await, "key of the JWKS");
    // The discovery document's issuer is the allowed issuer.
    let mut elsewhere = idp_claims();
    elsewhere["iss"] = json!("https://elsewhere.test/");
    assert_refused(
        &bearer(&d, &first.token("ES256", json!({"kid": "k1"}), &elsewhere)).await,
        "TokenIssuerNotAllowed",
        "issuer not the provider's",
    );
    // Requests never fetch.
    assert_eq!(idp.jwks_requests.load(Ordering::SeqCst), fetched_at_load);

    // Rotation: the provider now signs with k2 only. Until a refresh, k2 tokens fail.
    idp.set_keys(json!([second.jwk("k2")]));
    let by_second = second.token("RS256", json!({"kid": "k2"}), &idp_claims());
    assert_refused(
        &bearer(&d, &by_second).await,
        "TokenSignatureKeyNotFound",
        "k2 before the refresh",
    );
    assert!(d.refresh_signing_keys(true).await.is_empty());
    assert_passes(&bearer(&d, &by_second).await, "k2 after the refresh");
    assert_refused(
        &bearer(&d, &by_first).await,
        "TokenSignatureKeyNotFound",
        "k1 after rotation",
    );

    // Outage: the refresh fails and says why; the last good keys stay in use.
    idp.set_up(false);
    let errors = d.refresh_signing_keys(true).await;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("status 503"), "{errors:?}");
    assert_passes(&bearer(&d, &by_second).await, "k2 during the outage");

    // A new deployment loaded during the outage starts with the same last good keys.
    let d2 = load_fetching(deploy_with(&echo.url(), &idp.policy(), vec![])).await;
    assert_passes(
        &bearer(&d2, &by_second).await,
        "new deployment during the outage",
    );
    drop(d);
}

#[tokio::test]
async fn p521_keys_of_a_jwks_verify_es512_tokens() {
    let echo = EchoBackend::start().await;
    let (signer, _) = p521_key_and_certificate();
    let idp = IdentityProvider::start(json!([signer.jwk("p521")])).await;
    let d = load_fetching(deploy_with(&echo.url(), &idp.policy(), vec![])).await;
    let token = signer.token("ES512", json!({"kid": "p521"}), &idp_claims());
    assert_passes(&bearer(&d, &token).await, "ES512 from the JWKS");
    // The header says ES512 but an ES256 key signed: no ES512 key verifies it.
    let es256 = Signer::ec(false);
    let forged = es256.token("ES512", json!({"kid": "p521"}), &idp_claims());
    assert_refused(
        &bearer(&d, &forged).await,
        "TokenSignatureInvalid",
        "forged ES512",
    );
}

#[tokio::test]
async fn without_ever_fetched_keys_every_token_is_refused_until_the_provider_answers() {
    let echo = EchoBackend::start().await;
    let signer = Signer::ec(true);
    let idp = IdentityProvider::start(json!([signer.jwk("p384")])).await;
    idp.set_up(false);
    // The outage does not fail the load.
    let d = load_fetching(deploy_with(&echo.url(), &idp.policy(), vec![])).await;
    let token = signer.token("ES384", json!({"kid": "p384"}), &idp_claims());
    assert_refused(
        &bearer(&d, &token).await,
        "TokenSignatureKeyNotFound",
        "no keys yet",
    );

    idp.set_up(true);
    // Not due yet for a background tick (it retried moments ago); a forced refresh fetches.
    assert!(d.refresh_signing_keys(true).await.is_empty());
    assert_passes(&bearer(&d, &token).await, "after the provider came back");
}

// ---------------------------------------------------------------------------------
// The Jwt type in expressions.

#[tokio::test]
async fn the_validated_token_and_as_jwt_are_readable_from_expressions() {
    let echo = EchoBackend::start().await;
    let key = STANDARD.encode(SECRET);
    let header = |name: &str, expression: &str| {
        format!(
            r#"<set-header name="{name}" exists-action="override"><value>@({expression})</value></set-header>"#
        )
    };
    let jwt = r#"((Jwt)context.Variables["jwt"])"#;
    let inbound = [
        format!(
            r#"<validate-jwt header-name="Authorization" output-token-variable-name="jwt"><issuer-signing-keys><key>{key}</key></issuer-signing-keys></validate-jwt>"#
        ),
        header("x-sub", &format!("{jwt}.Subject")),
        header("x-iss", &format!("{jwt}.Issuer")),
        header("x-alg", &format!("{jwt}.Algorithm + \"/\" + {jwt}.Type")),
        header("x-aud", &format!("string.Join(\"|\", {jwt}.Audiences)")),
        header("x-groups", &format!("{jwt}.Claims.GetValueOrDefault(\"group\", \"none\")")),
        header("x-missing", &format!("{jwt}.Claims.GetValueOrDefault(\"role\", \"none\")")),
        header("x-finance", &format!("{jwt}.Claims[\"group\"].Contains(\"finance\").ToString()")),
        header("x-has-scp", &format!("{jwt}.Claims.ContainsKey(\"scp\").ToString()")),
        header("x-exp", &format!("{jwt}.ExpirationTime.ToString(\"yyyy-MM-ddTHH:mm:ss\")")),
        header("x-id", &format!("{jwt}.Id ?? \"no jti\"")),
        header(
            "x-as-jwt",
            r#"context.Request.Headers.GetValueOrDefault("Authorization", "").AsJwt().Claims["scp"][0]"#,
        ),
        header("x-not-jwt", r#"("Bearer nonsense".AsJwt() == null).ToString()"#),
        // APIM's TryParseJwt(out Jwt): true and the token, or false and null.
        r#"<set-header name="x-try-jwt" exists-action="override"><value>@{
            var ok = context.Request.Headers.GetValueOrDefault("Authorization", "").TryParseJwt(out var j);
            return ok + "/" + j.Subject;
        }</value></set-header>"#
            .to_owned(),
        r#"<set-header name="x-try-not-jwt" exists-action="override"><value>@{
            Jwt j;
            var ok = "nonsense".TryParseJwt(out j);
            return ok + "/" + (j == null);
        }</value></set-header>"#
            .to_owned(),
    ]
    .concat();
    let d = load(&deploy_with(&echo.url(), &inbound, vec![]));
    let a = bearer(&d, &hs256(&claims())).await;
    assert_passes(&a, "valid token");
    let echoed = |name: &str| {
        a.headers
            .get(format!("x-echo-header-{name}"))
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{name} not forwarded: {:?}", a.headers))
    };
    let exp = time::OffsetDateTime::from_unix_timestamp(t(600)).unwrap();
    let expected_exp = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        exp.year(),
        u8::from(exp.month()),
        exp.day(),
        exp.hour(),
        exp.minute(),
        exp.second()
    );
    for (name, want) in [
        ("x-sub", "alice"),
        ("x-iss", "https://issuer.contoso.com/"),
        ("x-alg", "HS256/JWT"),
        ("x-aud", "api://orders"),
        ("x-groups", "finance,ops"),
        ("x-missing", "none"),
        ("x-finance", "True"),
        ("x-has-scp", "True"),
        ("x-exp", expected_exp.as_str()),
        ("x-id", "no jti"),
        ("x-try-jwt", "True/alice"),
        ("x-try-not-jwt", "False/True"),
        ("x-as-jwt", "orders.read orders.write"),
        ("x-not-jwt", "True"),
    ] {
        assert_eq!(echoed(name), want, "{name}");
    }
}

#[test]
fn a_certificate_id_without_a_usable_uploaded_certificate_does_not_load() {
    let policy = r#"<validate-jwt header-name="Authorization">
    <issuer-signing-keys><key certificate-id="signer"/></issuer-signing-keys>
</validate-jwt>"#;
    let error = |extra| match Deployment::load(
        &deploy_with("http://127.0.0.1:9", policy, extra),
        "t",
        now(),
    ) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.render(),
    };
    let missing = error(vec![]);
    assert!(missing.contains("policies/global.xml:2:26:"), "{missing}");
    assert!(missing.contains("no certificates/signer.pem"), "{missing}");
    // Ed25519 cannot verify any algorithm certgate accepts.
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = pem_of(
        trust_pki::leaf_params("ed", 9)
            .self_signed(&ed)
            .unwrap()
            .der(),
    );
    let unusable = error(vec![file("certificates/signer.pem", cert)]);
    assert!(unusable.contains("cannot verify JWTs"), "{unusable}");
}

#[tokio::test]
async fn a_provider_that_never_answers_does_not_hold_up_the_load() {
    let echo = EchoBackend::start().await;
    let signer = Signer::ec(false);
    let idp = IdentityProvider::start(json!([signer.jwk("k")])).await;
    idp.set_hanging(true);
    // The load gives up on the provider after its budget and loads without its keys.
    let d = load_fetching(deploy_with(&echo.url(), &idp.policy(), vec![])).await;
    let token = signer.token("ES256", json!({"kid": "k"}), &idp_claims());
    assert_refused(
        &bearer(&d, &token).await,
        "TokenSignatureKeyNotFound",
        "no answer at load",
    );
    idp.set_hanging(false);
    assert!(d.refresh_signing_keys(true).await.is_empty());
    assert_passes(&bearer(&d, &token).await, "after the provider answered");
}
