//! One request through the APIM article's third policy (`Verify()` and the uploaded
//! certificate thumbprint lookup) with a leaf + intermediate chain and 10,000 uploaded
//! certificates, answered by `return-response` (no backend), `Verify()` from a warm
//! cache. The clock is pinned so the generated PKI never expires.
//!
//! A request whose policy finds a value in the internal cache (`cache-lookup-value`
//! hit) and answers with it.
//!
//! A request with a bearer token through `validate-jwt` (HS256 and RS256 keys inline,
//! ES256 and ES512 keys of uploaded certificates: the signature is checked on every request),
//! answered by `return-response`.
//!
//! And what the Lambda front end adds around it per request: the sample REST event
//! parsed into a request (certificate decoded), the answer shaped and serialized for
//! API Gateway, and the request's EMF line.

#[path = "support/lambda_adapter.rs"]
mod lambda_adapter;
#[path = "../tests/common/trust_pki.rs"]
mod trust_pki;

use std::hint::black_box;

use certgate::body::Payload;
use certgate::cert::Certificate;
use certgate::gateway::{self, ClientCertificate, Deployment, GatewayRequest};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lambda_adapter::{EVENTS, KNOWN, Samples};
use trust_pki::{Ca, file, now, pem_of};

const UPLOADED: usize = 10_000;

/// The article's third policy as printed, in inbound; the backend answers by itself.
fn policy() -> String {
    format!(
        "<policies><inbound>{}</inbound><backend><return-response><set-status code=\"200\" reason=\"OK\"/></return-response></backend></policies>",
        include_str!("../tests/data/policies/article-uploaded-certificates.xml")
    )
}

fn deployment(root: &Ca, intermediate: &Ca, client: &[u8]) -> Deployment {
    let mut files = vec![
        file(
            "gateway.toml",
            "[deployment]\npolicy = \"policies/global.xml\"\n[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"http://127.0.0.1:9\"\n",
        ),
        file("policies/global.xml", policy()),
        file("ca/root/root.pem", root.pem()),
        file("ca/intermediate/issuing.pem", intermediate.pem()),
        file("crl/root.crl", root.crl(&[])),
        file("crl/issuing.crl", intermediate.crl(&[])),
        file("certificates/client.pem", pem_of(client)),
    ];
    // The other uploaded certificates: self-signed, cheap to make, never matching.
    for i in 0..UPLOADED - 1 {
        files.push(file(
            &format!("certificates/other-{i}.pem"),
            pem_of(&trust_pki::self_signed_client(&format!("other {i}"))),
        ));
    }
    Deployment::load(&files, "bench", now()).expect("deployment loads")
}

fn request(chain: &[Certificate]) -> GatewayRequest {
    let (parts, ()) = http::Request::builder()
        .uri("https://api.contoso.com/orders/42")
        .header("host", "api.contoso.com")
        .body(())
        .expect("request")
        .into_parts();
    GatewayRequest {
        parts,
        body: Payload::empty(),
        stream_response: false,
        client_ip: Some([198, 51, 100, 7].into()),
        certificate: ClientCertificate::from_chain(chain.to_vec()),
        ignored_certificate_sources: Vec::new(),
        request_id: "bench".into(),
    }
}

fn bench(c: &mut Criterion) {
    let root = Ca::root("Contoso Root");
    let intermediate = root.intermediate("Contoso Issuing");
    let client = intermediate.leaf("client1", 11);
    let deployment = deployment(&root, &intermediate, &client);
    let chain = vec![
        Certificate::from_der(&client).expect("leaf"),
        Certificate::from_der(&intermediate.der()).expect("intermediate"),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // Warm the verification cache, and check the request passes the policy.
    let warm = runtime.block_on(gateway::handle(&deployment, request(&chain), now(), false));
    assert_eq!(warm.response.status, 200);

    c.bench_function("pipeline/article-policy-3/10k-uploaded/warm", |b| {
        b.iter_batched(
            || request(&chain),
            |r| {
                let outcome = runtime.block_on(gateway::handle(&deployment, r, now(), false));
                black_box(outcome.response.status)
            },
            BatchSize::SmallInput,
        );
    });
}

/// One API, `/orders`, with `policy` and `more` files; its backend is never called.
fn orders_deployment(policy: &str, more: Vec<certgate::files::SourceFile>) -> Deployment {
    let mut files = vec![
        file(
            "gateway.toml",
            "[[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"http://127.0.0.1:9\"\npolicy = \"policies/orders.xml\"\n",
        ),
        file("policies/orders.xml", policy),
    ];
    files.extend(more);
    Deployment::load(&files, "bench", now()).expect("deployment loads")
}

/// Looks `token` up; stores it on a miss; answers with it.
const VALUE_CACHE_POLICY: &str = r#"<policies><inbound>
  <cache-lookup-value key="token" variable-name="token" caching-type="internal" />
  <choose><when condition="@(context.Variables["token"] == null)">
    <cache-store-value key="token" value="eyJhbGciOiJSUzI1NiJ9.cached" duration="3600" caching-type="internal" />
  </when></choose>
  <return-response>
    <set-status code="200" reason="OK" />
    <set-header name="x-token" exists-action="override"><value>@((string)context.Variables["token"])</value></set-header>
  </return-response>
</inbound></policies>"#;

fn value_cache(c: &mut Criterion) {
    let deployment = orders_deployment(VALUE_CACHE_POLICY, vec![]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // The first request stores the value; from the second on, every lookup is a hit.
    for _ in 0..2 {
        runtime.block_on(gateway::handle(&deployment, request(&[]), now(), false));
    }
    let hit = runtime.block_on(gateway::handle(&deployment, request(&[]), now(), false));
    assert_eq!(
        hit.response.headers["x-token"],
        "eyJhbGciOiJSUzI1NiJ9.cached"
    );

    c.bench_function("pipeline/cache-lookup-value/internal-hit", |b| {
        b.iter_batched(
            || request(&[]),
            |r| {
                let outcome = runtime.block_on(gateway::handle(&deployment, r, now(), false));
                black_box(outcome.response.status)
            },
            BatchSize::SmallInput,
        );
    });
}

/// validate-jwt with `keys`, audience and issuer, then an answer that reads a claim of the
/// validated token.
fn jwt_policy(keys: &str) -> String {
    format!(
        r#"<policies><inbound>
  <validate-jwt header-name="Authorization" require-scheme="Bearer" output-token-variable-name="jwt">
    <issuer-signing-keys>{keys}</issuer-signing-keys>
    <audiences><audience>api://orders</audience></audiences>
    <issuers><issuer>https://login.contoso.com/</issuer></issuers>
  </validate-jwt>
  <return-response>
    <set-status code="200" reason="OK" />
    <set-header name="x-sub" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Subject)</value></set-header>
  </return-response>
</inbound></policies>"#
    )
}

const HS256_KEY: &str = "c2FtcGxlLWtleS1uZXZlci11c2UtaW4tcHJvZHVjdGlvbg==";

/// A token of `alg` for [`jwt_policy`], valid around [`now`], signed by `sign`.
fn token(alg: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let iat = now().unix_timestamp();
    let claims = format!(
        r#"{{"iss":"https://login.contoso.com/","aud":"api://orders","sub":"client1","iat":{iat},"exp":{}}}"#,
        iat + 3600
    );
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The kinds of key a token is checked with: an inline HMAC secret (HS256), an RSA
/// modulus and exponent (RS256), an uploaded certificate's P-256 key (ES256, ring) and an
/// uploaded P-521 key (ES512, RustCrypto's p521); the signature is checked on every
/// request.
fn validate_jwt(c: &mut Criterion) {
    use base64::Engine as _;
    let hmac = base64::engine::general_purpose::STANDARD
        .decode(HS256_KEY)
        .expect("base64 key");
    let hs256 = token("HS256", |m| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hmac);
        ring::hmac::sign(&key, m).as_ref().to_vec()
    });
    let p256 = trust_pki::key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let es256 = token("ES256", |m| {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(alg, &p256.serialize_der(), &rng)
            .expect("P-256 key");
        key.sign(&rng, m).expect("signs").as_ref().to_vec()
    });
    let p256_certificate = pem_of(
        trust_pki::leaf_params("jwt-signer", 5)
            .self_signed(&p256)
            .expect("certificate")
            .der(),
    );
    let rsa = ring::signature::RsaKeyPair::from_der(&trust_pki::new_rsa_der()).expect("RSA key");
    let rs256 = token("RS256", |m| {
        let rng = ring::rand::SystemRandom::new();
        let mut out = vec![0; rsa.public().modulus_len()];
        rsa.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, m, &mut out)
            .expect("signs");
        out
    });
    let rsa_n_e = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = rsa.public().into();
        (
            URL_SAFE_NO_PAD.encode(&public.n),
            URL_SAFE_NO_PAD.encode(&public.e),
        )
    };
    let (p521, p521_certificate, _) = trust_pki::p521_key_and_certificate();
    let es512 = token("ES512", |m| {
        let signature: p521::ecdsa::Signature = p521::ecdsa::signature::Signer::sign(&p521, m);
        signature.to_bytes().to_vec()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let cases = [
        (
            "hs256",
            orders_deployment(&jwt_policy(&format!("<key>{HS256_KEY}</key>")), vec![]),
            hs256,
        ),
        (
            "rs256-n-e",
            orders_deployment(
                &jwt_policy(&format!(r#"<key n="{}" e="{}"/>"#, rsa_n_e.0, rsa_n_e.1)),
                vec![],
            ),
            rs256,
        ),
        (
            "es256-certificate",
            orders_deployment(
                &jwt_policy(r#"<key certificate-id="signer"/>"#),
                vec![file("certificates/signer.pem", p256_certificate)],
            ),
            es256,
        ),
        (
            "es512-certificate",
            orders_deployment(
                &jwt_policy(r#"<key certificate-id="signer"/>"#),
                vec![file("certificates/signer.pem", p521_certificate)],
            ),
            es512,
        ),
    ];
    for (name, deployment, token) in cases {
        let bearer = format!("Bearer {token}");
        let with_token = || {
            let mut r = request(&[]);
            r.parts
                .headers
                .insert("authorization", bearer.parse().expect("a header value"));
            r
        };
        let answer = runtime.block_on(gateway::handle(&deployment, with_token(), now(), false));
        assert_eq!(
            answer.response.headers["x-sub"], "client1",
            "the {name} token validates"
        );
        c.bench_function(&format!("pipeline/validate-jwt/{name}"), |b| {
            b.iter_batched(
                with_token,
                |r| {
                    let outcome = runtime.block_on(gateway::handle(&deployment, r, now(), false));
                    black_box(outcome.response.status)
                },
                BatchSize::SmallInput,
            );
        });
    }
}

fn lambda_adapter(c: &mut Criterion) {
    // A CA's first client decodes its whole chain, a new client of a known CA (or the
    // first of a CA the deployment trusts) its leaf; a client's next requests find its
    // chain decoded.
    for (suffix, known) in KNOWN {
        let samples = Samples::new(known);
        for (name, event) in EVENTS {
            c.bench_function(&format!("lambda/adapter/{name}-valid-{suffix}"), |b| {
                b.iter(|| samples.run(name, event));
            });
        }
    }
}

criterion_group!(benches, bench, value_cache, validate_jwt, lambda_adapter);
criterion_main!(benches);
