//! The three conditions of the APIM client-certificate article, compiled once and
//! evaluated per request: issuer/subject, thumbprint, and the uploaded-certificates
//! lookup with 10 and 100,000 entries. `Verify()` goes through `gateway::TrustVerifier`,
//! i.e. `trust::VerifyCache` answering a cached verdict (the first call warms it); the
//! `*_constant_verifier` cases answer `Verify()` with a constant, which isolates the
//! expression's own cost. `compile/uploaded` is the load-time cost of one condition.
//! The clock is pinned so the generated PKI never expires. `json/rewrite_4kb` is APIM's
//! set-body JSON rewriting of a 4 KB body: parse, set a property, serialize;
//! `xml/rewrite_4kb` the same with an XML body (`As<XDocument>`, `Element`, `Value = `,
//! `ToString()`).

#[path = "../tests/common/trust_pki.rs"]
mod trust_pki;

use std::hint::black_box;
use std::sync::Arc;

use certgate::cert::{Certificate, Upload, UploadedCertificates, check_chain};
use certgate::expr::{self, Compiled, Context, Origin};
use certgate::gateway::TrustVerifier;
use certgate::trust::{Revocation, TrustStore, Verdict, Verifier};
use criterion::{Criterion, criterion_group, criterion_main};
use time::OffsetDateTime;
use trust_pki::{Ca, file, key, now};

const ISSUER_SUBJECT: &str = r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || context.Request.Certificate.Issuer != "trusted-issuer" || context.Request.Certificate.SubjectName.Name != "expected-subject-name")"#;
const THUMBPRINT: &str = r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || context.Request.Certificate.Thumbprint != "DESIRED-THUMBPRINT-IN-UPPER-CASE")"#;
const UPLOADED: &str = r#"@(context.Request.Certificate == null || !context.Request.Certificate.Verify() || !context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))"#;

fn compile(src: &str) -> Compiled {
    expr::compile(src, Origin::new("bench.xml", 1, 1)).expect("compiles")
}

/// `n` uploaded certificates issued by `root`, the client's among them.
fn uploaded(root: &Ca, client: &Arc<Certificate>, n: usize) -> UploadedCertificates {
    let shared = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let checked = |der: &[u8]| {
        let mut checked = check_chain(der).expect("checks");
        checked.pop().expect("one certificate")
    };
    let others = (1..n).map(|i| {
        let der = root.leaf_key(&format!("uploaded-{i}"), 10_000 + i as u64, &shared, |_| {});
        Upload::checked(
            &format!("c{i}"),
            &format!("certificates/c{i}.pem"),
            checked(&der),
        )
    });
    UploadedCertificates::from_uploads(
        std::iter::once(Upload::checked(
            "client",
            "certificates/client.pem",
            checked(client.der()),
        ))
        .chain(others)
        .collect(),
    )
}

fn context(
    store: &Arc<TrustStore>,
    client: &Arc<Certificate>,
    up: UploadedCertificates,
) -> Context {
    let mut c = Context::new(now());
    c.request.method = "GET".into();
    c.request.certificate = Some(client.clone());
    c.deployment = Arc::new(expr::Deployment {
        region: "eu-west-1".into(),
        service_name: "contoso".into(),
        certificates: Arc::new(up),
    });
    c.verifier = Some(Arc::new(TrustVerifier::new(store.clone())));
    c
}

/// `Verify()` answered without any work: isolates the expression's own cost.
struct AlwaysValid;

impl Verifier for AlwaysValid {
    fn verdict(
        &self,
        _: &Certificate,
        _: &[Certificate],
        _: OffsetDateTime,
        _: Revocation,
    ) -> Verdict {
        Verdict::Valid
    }

    fn issuers(&self, _: &Certificate, _: &[Certificate]) -> Vec<Arc<Certificate>> {
        Vec::new()
    }
}

fn bench(c: &mut Criterion) {
    let root = Ca::root("Contoso Root");
    let client_der = root.leaf("client.contoso.com", 4242);
    let files = vec![
        file("ca/root/root.pem", root.pem()),
        file("crl/root.crl", root.crl(&[])),
    ];
    let (store, _) = TrustStore::from_files(&files, now());
    let store = Arc::new(store);
    let client = Arc::new(Certificate::from_der(&client_der).expect("decodes"));

    let issuer_subject = compile(
        &ISSUER_SUBJECT
            .replace("trusted-issuer", client.issuer())
            .replace("expected-subject-name", client.subject()),
    );
    let thumbprint =
        compile(&THUMBPRINT.replace("DESIRED-THUMBPRINT-IN-UPPER-CASE", client.thumbprint()));
    let uploaded_cond = compile(UPLOADED);

    let ctx = context(&store, &client, uploaded(&root, &client, 10));
    for cond in [&issuer_subject, &thumbprint, &uploaded_cond] {
        // warms the verification cache; every condition accepts this client
        assert_eq!(cond.eval(&ctx).expect("evaluates").as_bool(), Some(false));
    }
    let mut g = c.benchmark_group("article");
    g.bench_function("issuer_subject", |b| {
        b.iter(|| black_box(issuer_subject.eval(black_box(&ctx))))
    });
    g.bench_function("thumbprint", |b| {
        b.iter(|| black_box(thumbprint.eval(black_box(&ctx))))
    });
    g.bench_function("uploaded_10", |b| {
        b.iter(|| black_box(uploaded_cond.eval(black_box(&ctx))))
    });
    // The same with Verify() answered by a constant: the expression's own cost.
    let mut constant = context(&store, &client, uploaded(&root, &client, 10));
    constant.verifier = Some(Arc::new(AlwaysValid));
    g.bench_function("issuer_subject_constant_verifier", |b| {
        b.iter(|| black_box(issuer_subject.eval(black_box(&constant))))
    });
    g.bench_function("thumbprint_constant_verifier", |b| {
        b.iter(|| black_box(thumbprint.eval(black_box(&constant))))
    });
    g.bench_function("uploaded_10_constant_verifier", |b| {
        b.iter(|| black_box(uploaded_cond.eval(black_box(&constant))))
    });
    let big = context(&store, &client, uploaded(&root, &client, 100_000));
    assert_eq!(
        uploaded_cond.eval(&big).expect("evaluates").as_bool(),
        Some(false)
    );
    g.bench_function("uploaded_100000", |b| {
        b.iter(|| black_box(uploaded_cond.eval(black_box(&big))))
    });
    g.finish();

    c.bench_function("compile/uploaded", |b| {
        b.iter(|| black_box(compile(black_box(UPLOADED))))
    });
}

/// A JSON body of about 4 KB, as an order API receives.
fn order_body() -> String {
    let items: Vec<String> = (0..60)
        .map(|i| {
            format!(
                r#"{{"id":{i},"sku":"SKU-{i:05}","qty":{},"price":{}.5,"tags":["a","b"]}}"#,
                i % 7,
                i * 3
            )
        })
        .collect();
    format!(
        r#"{{"order":"A-1","customer":{{"name":"Ada","email":"ada@example.com"}},"items":[{}]}}"#,
        items.join(",")
    )
}

/// APIM's set-body rewriting: parse the request's JSON body, set a property, write it
/// back (Newtonsoft's indented form).
fn json(c: &mut Criterion) {
    let body = order_body();
    assert!((3_900..4_300).contains(&body.len()), "{}", body.len());
    let mut ctx = Context::new(now());
    ctx.request.method = "POST".into();
    ctx.request.body = Some(expr::Body::new(body.into_bytes()));
    let rewrite = compile(
        r#"@{ var b = context.Request.Body.As<JObject>(preserveContent: true); b["added"] = "x"; return b.ToString(); }"#,
    );
    let out = rewrite.eval(&ctx).expect("evaluates").to_string();
    assert!(out.ends_with("\"added\": \"x\"\n}"), "{out}");
    c.bench_function("json/rewrite_4kb", |b| {
        b.iter(|| black_box(rewrite.eval(black_box(&ctx))))
    });
}

/// An XML body of about 4 KB: the order of [`order_body`] as XML.
fn order_xml() -> String {
    let items: String = (0..55)
        .map(|i| {
            format!(
                r#"<item id="{i}"><sku>SKU-{i:05}</sku><qty>{}</qty><price>{}.5</price></item>"#,
                i % 7,
                i * 3
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><order id="A-1"><customer><name>Ada</name><email>ada@example.com</email></customer><items>{items}</items></order>"#
    )
}

/// The set-body rewriting of an XML body: parse, read an element, set a value, write
/// it back (.NET's indented form).
fn xml(c: &mut Criterion) {
    let body = order_xml();
    assert!((3_900..4_300).contains(&body.len()), "{}", body.len());
    let mut ctx = Context::new(now());
    ctx.request.method = "POST".into();
    ctx.request.body = Some(expr::Body::new(body.into_bytes()));
    let rewrite = compile(
        r#"@{ var d = context.Request.Body.As<XDocument>(preserveContent: true); var n = d.Root.Element("customer").Element("name"); n.Value = n.Value + " L."; return d.ToString(); }"#,
    );
    let out = rewrite.eval(&ctx).expect("evaluates").to_string();
    assert!(out.contains("\n    <name>Ada L.</name>\n"), "{out}");
    c.bench_function("xml/rewrite_4kb", |b| {
        b.iter(|| black_box(rewrite.eval(black_box(&ctx))))
    });
}

/// A request-signing policy's canonical headers: filter, sort (the default string order)
/// and join 20 headers, then hash them.
fn linq(c: &mut Criterion) {
    let mut ctx = Context::new(now());
    for i in (0..20).rev() {
        ctx.request
            .headers
            .append(&format!("X-Sig-{i:02}"), format!("value-{i}"));
    }
    ctx.request.headers.append("Accept", "*/*");
    let canonical = compile(
        r#"@(Convert.ToBase64String(SHA256.Create().ComputeHash(Encoding.UTF8.GetBytes(string.Join("\n", context.Request.Headers.Where(h => h.Key.StartsWith("X-Sig-")).OrderBy(h => h.Key).ThenByDescending(h => h.Value.Length).Select(h => h.Key.ToLowerInvariant() + ":" + h.Value[0]))))))"#,
    );
    let out = canonical.eval(&ctx).expect("evaluates").to_string();
    assert_eq!(out.len(), 44, "{out}");
    c.bench_function("linq/sign_20_headers", |b| {
        b.iter(|| black_box(canonical.eval(black_box(&ctx))))
    });
}

criterion_group!(benches, bench, json, xml, linq);
criterion_main!(benches);
