//! `Verify()` cost: cold (path building and signatures, no cache) and warm (cache hit),
//! for RSA-2048, P-256 and P-384 chains of 2 and 3 certificates, the revocation lookup
//! against a 100,000-entry CRL, a client presenting intermediates that all share its
//! issuer's name (issue 13), and a store of a hundred intermediates the chain does not
//! reach. The clock is pinned so the generated PKI never expires.
//!
//! RSA keys: rcgen on ring cannot generate RSA keys, so setup asks `openssl genpkey`
//! for three; without openssl the RSA cases are skipped.

#[path = "../tests/common/trust_pki.rs"]
mod trust_pki;

use std::hint::black_box;
use std::process::Command;

use certgate::cert::Certificate;
use certgate::files::SourceFile;
use certgate::trust::{Revocation, TrustStore, Verdict, VerifyCache};
use criterion::{Criterion, criterion_group, criterion_main};
use rcgen::KeyPair;
use trust_pki::{Ca, file, key, now};

type KeyGen = fn() -> Option<KeyPair>;

struct Case {
    store: TrustStore,
    leaf: Certificate,
    presented: Vec<Certificate>,
}

fn rsa_key() -> Option<KeyPair> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    KeyPair::from_pem(std::str::from_utf8(&out.stdout).ok()?).ok()
}

fn p256() -> Option<KeyPair> {
    Some(key(&rcgen::PKCS_ECDSA_P256_SHA256))
}

fn p384() -> Option<KeyPair> {
    Some(key(&rcgen::PKCS_ECDSA_P384_SHA384))
}

/// root → leaf (length 2) or root → intermediate → leaf (length 3), with current CRLs
/// for every CA; the client presents the intermediate.
fn case(length: usize, mut keys: impl FnMut() -> Option<KeyPair>) -> Option<Case> {
    let root = Ca::root_with("Bench Root", keys()?, |_| {});
    let mut files: Vec<SourceFile> = vec![
        file("ca/root/root.pem", root.pem()),
        file("crl/root.crl", root.crl(&[7])),
    ];
    let (leaf, presented) = if length == 2 {
        (root.leaf_key("client", 10, &keys()?, |_| {}), vec![])
    } else {
        let issuing = root.intermediate_with("Bench Issuing", keys()?, |_| {});
        files.push(file("ca/intermediate/issuing.pem", issuing.pem()));
        files.push(file("crl/issuing.crl", issuing.crl(&[7])));
        let leaf = issuing.leaf_key("client", 10, &keys()?, |_| {});
        (leaf, vec![Certificate::from_der(&issuing.der()).ok()?])
    };
    let (store, diagnostics) = TrustStore::from_files(&files, now());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let leaf = Certificate::from_der(&leaf).ok()?;
    assert_eq!(
        store.verify(&leaf, &presented, now(), Revocation::Check),
        Verdict::Valid
    );
    Some(Case {
        store,
        leaf,
        presented,
    })
}

fn chains(c: &mut Criterion) {
    let algorithms: [(&str, KeyGen); 3] = [("p256", p256), ("p384", p384), ("rsa2048", rsa_key)];
    for (name, keys) in algorithms {
        for length in [2, 3] {
            let Some(case) = case(length, keys) else {
                eprintln!("skipping {name}: no key generator (openssl) available");
                continue;
            };
            c.bench_function(&format!("cold/{name}/len{length}"), |b| {
                b.iter(|| {
                    case.store.verify(
                        black_box(&case.leaf),
                        black_box(&case.presented),
                        now(),
                        Revocation::Check,
                    )
                })
            });
            let cache = VerifyCache::new(10_000);
            cache.verify(
                &case.store,
                &case.leaf,
                &case.presented,
                now(),
                Revocation::Check,
            );
            c.bench_function(&format!("warm/{name}/len{length}"), |b| {
                b.iter(|| {
                    cache.verify(
                        &case.store,
                        black_box(&case.leaf),
                        black_box(&case.presented),
                        now(),
                        Revocation::Check,
                    )
                })
            });
        }
    }
}

/// The same P-256 chain of 3 against an issuing CA whose CRL lists 10 or 100,000
/// serials: the per-request cost must not depend on the CRL's size.
fn revocation(c: &mut Criterion) {
    let root = Ca::root("Bench Root");
    let issuing = root.intermediate("Bench Issuing");
    let leaf = Certificate::from_der(&issuing.leaf("client", 1_000_000_007)).unwrap();
    let revoked_leaf = Certificate::from_der(&issuing.leaf("revoked", 1_000_000)).unwrap();
    let presented = vec![Certificate::from_der(&issuing.der()).unwrap()];
    for entries in [10u64, 100_000] {
        let serials: Vec<u64> = (1..=entries).map(|i| i * 10).collect();
        let files = vec![
            file("ca/root/root.pem", root.pem()),
            file("ca/intermediate/issuing.pem", issuing.pem()),
            file("crl/root.crl", root.crl(&[])),
            file("crl/issuing.crl", issuing.crl(&serials)),
        ];
        if entries == 100_000 {
            let mut group = c.benchmark_group("load");
            group.sample_size(10);
            group.bench_function("store_with_crl_100000", |b| {
                b.iter(|| TrustStore::from_files(black_box(&files), now()))
            });
            group.finish();
        }
        let (store, diagnostics) = TrustStore::from_files(&files, now());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(
            store.verify(&leaf, &presented, now(), Revocation::Check),
            Verdict::Valid
        );
        if entries == 100_000 {
            assert_eq!(
                store.verify(&revoked_leaf, &presented, now(), Revocation::Check),
                Verdict::Invalid(certgate::trust::Reason::Revoked)
            );
        }
        let issuer = &presented[0];
        c.bench_function(&format!("revocation/crl{entries}/lookup"), |b| {
            b.iter(|| store.revocation_status(black_box(&leaf), issuer, now()))
        });
        c.bench_function(&format!("revocation/crl{entries}/cold_check"), |b| {
            b.iter(|| store.verify(black_box(&leaf), &presented, now(), Revocation::Check))
        });
        c.bench_function(&format!("revocation/crl{entries}/cold_no_check"), |b| {
            b.iter(|| store.verify(black_box(&leaf), &presented, now(), Revocation::NoCheck))
        });
    }
}

/// A client certificate presented with `junk` self-issued CAs that all carry its
/// issuer's name (each with its own key): every one is a candidate issuer at every step
/// of path building. `anchored`: the leaf is valid, issued by the store's intermediate
/// of that name, so candidate paths reach the root and cost signature checks;
/// `unanchored`: the leaf and the junk share a name no CA of the store has, so no path
/// ever reaches a root. `cold` verifies without the cache; `cached_shuffled` goes
/// through the cache with the intermediates in a new order on every request.
fn same_name_intermediates(c: &mut Criterion) {
    let root = Ca::root("Bench Root");
    let issuing = root.intermediate("Bench Issuing");
    let files = vec![
        file("ca/root/root.pem", root.pem()),
        file("ca/intermediate/issuing.pem", issuing.pem()),
        file("crl/root.crl", root.crl(&[])),
        file("crl/issuing.crl", issuing.crl(&[])),
    ];
    let (store, diagnostics) = TrustStore::from_files(&files, now());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let elsewhere = Ca::root("Bench Elsewhere");
    let cases = [
        ("anchored", &issuing, "Bench Issuing"),
        ("unanchored", &elsewhere, "Bench Elsewhere"),
    ];
    let mut group = c.benchmark_group("same_name");
    group.sample_size(10);
    for (name, issuer, junk_name) in cases {
        let leaf = Certificate::from_der(&issuer.leaf("client", 10)).unwrap();
        for junk in [4usize, 15] {
            let mut presented: Vec<Certificate> = (0..junk)
                .map(|_| Certificate::from_der(&Ca::root(junk_name).der()).unwrap())
                .collect();
            group.bench_function(format!("{name}/cold/{junk}"), |b| {
                b.iter(|| store.verify(black_box(&leaf), &presented, now(), Revocation::Check))
            });
            let cache = VerifyCache::new(10_000);
            let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
            group.bench_function(format!("{name}/cached_shuffled/{junk}"), |b| {
                b.iter(|| {
                    for i in (1..presented.len()).rev() {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        presented.swap(i, (seed % (i as u64 + 1)) as usize);
                    }
                    cache.verify(&store, &leaf, &presented, now(), Revocation::Check)
                })
            });
            let explained = store.verify_explained(&leaf, &presented, now(), Revocation::Check);
            eprintln!(
                "same_name/{name}/{junk}: {} ({}); cache {:?}",
                explained.verdict,
                explained.detail.unwrap_or_default(),
                cache.stats()
            );
        }
    }
    group.finish();
}

/// The P-256 chain of 3 (the client presents its certificate alone) against a store
/// that holds `others` more intermediates of the same root, each with another name:
/// path building is handed only the intermediates the chain's names reach, so the cost
/// must not grow with the store.
fn store_intermediates(c: &mut Criterion) {
    let root = Ca::root("Bench Root");
    let issuing = root.intermediate("Bench Issuing");
    let leaf = Certificate::from_der(&issuing.leaf("client", 10)).unwrap();
    let mut group = c.benchmark_group("store_intermediates");
    for others in [0usize, 100] {
        let mut files = vec![
            file("ca/root/root.pem", root.pem()),
            file("ca/intermediate/issuing.pem", issuing.pem()),
            file("crl/root.crl", root.crl(&[])),
            file("crl/issuing.crl", issuing.crl(&[])),
        ];
        for i in 0..others {
            let other = root.intermediate(&format!("Bench Other {i}"));
            files.push(file(&format!("ca/intermediate/other-{i}.pem"), other.pem()));
        }
        let (store, _) = TrustStore::from_files(&files, now());
        assert_eq!(
            store.verify(&leaf, &[], now(), Revocation::Check),
            Verdict::Valid
        );
        group.bench_function(format!("cold/{others}"), |b| {
            b.iter(|| store.verify(black_box(&leaf), &[], now(), Revocation::Check))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    chains,
    revocation,
    same_name_intermediates,
    store_intermediates
);
criterion_main!(benches);
