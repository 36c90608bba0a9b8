#![no_main]
//! Fuzzed CA, CRL and uploaded-certificate files next to a valid `gateway.toml` and its
//! policies, through `Deployment::load`: one bad file is a diagnostic, never a panic.
//! Then every root, intermediate and uploaded certificate loaded is read as a policy
//! would read it, and the uploaded certificate is verified against the store (`Verify()`).
//! The same files are then loaded as a function's cold start reads them, from a bundle
//! that states the uploaded certificate's SHA-1 (checked on its first read), and once
//! more with that statement wrong, which must hide the certificate.
//!
//! Input: sections separated by `--8<--`: `ca/root/x.pem`, `ca/intermediate/y.pem`,
//! `crl/z.crl`, `certificates/c.pem`, then any more as extra CRLs (`crl/w<i>.crl`).
//! Seeds (`make_seeds.py`) hold the sample deployment's CAs, CRLs and client
//! certificate in PEM and DER: mutating real CRLs and certificates reaches the parsers.

use std::sync::Arc;

use certgate::cert::{Certificate, NameType};
use certgate::files::SourceFile;
use certgate::gateway::Deployment;
use certgate::source::Limits;
use certgate::source::bundle::Bundle;
use certgate::trust::{Checks, Revocation, TrustStore};
use time::OffsetDateTime;

const SPLIT: &[u8] = b"--8<--";
const GATEWAY_TOML: &str = include_str!("../../examples/apigateway/gateway.toml");
const GLOBAL_XML: &str = include_str!("../../examples/apigateway/policies/global.xml");
const ORDERS_XML: &str = include_str!("../../examples/apigateway/policies/orders.xml");
const FIXED: [&str; 4] = [
    "ca/root/x.pem",
    "ca/intermediate/y.pem",
    "crl/z.crl",
    "certificates/c.pem",
];

fn sections(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(at) = data.windows(SPLIT.len()).position(|w| w == SPLIT) {
        out.push(&data[..at]);
        data = &data[at + SPLIT.len()..];
    }
    out.push(data);
    out
}

fn read(cert: &Certificate) {
    let _ = (cert.subject(), cert.issuer(), cert.thumbprint());
    let _ = (
        cert.sha256_fingerprint(),
        cert.serial_number(),
        cert.version(),
    );
    let _ = (cert.not_before(), cert.not_after(), cert.is_ca());
    let _ = (cert.signature_algorithm(), cert.public_key());
    let _ = (cert.subject_alt_names(), cert.extended_key_usages());
    for kind in NameType::ALL {
        let _ = cert.name_info(kind, false);
        let _ = cert.name_info(kind, true);
    }
}

/// `files` through a bundle, as `trust push` writes it and a cold start reads it.
fn from_bundle(files: &[SourceFile], now: OffsetDateTime) {
    let Ok(bundle) = Bundle::new(files.to_vec(), now) else {
        return;
    };
    let object = bytes::Bytes::from(bundle.encode());
    let decoded = Bundle::decode(&[object], &Limits::default()).expect("a bundle reads back");
    let (store, _) = TrustStore::from_files_with(&decoded.files, now, Checks::OnFirstUse);
    // What is checked on first use decides as what is checked at load.
    let (eager, _) = TrustStore::from_files(&decoded.files, now);
    for (_, cert) in store.uploaded().iter() {
        read(cert);
        assert_eq!(
            store.verify_explained(cert, &[], now, Revocation::Check),
            eager.verify_explained(cert, &[], now, Revocation::Check),
            "checked on first use, the store decides otherwise than checked at load"
        );
    }
    assert_eq!(store.intermediates().len(), eager.intermediates().len());
    let _ = store.checked_on_first_use();
    let mut wrong = decoded.files;
    let mut stated = false;
    for sha1 in wrong.iter_mut().filter_map(|f| f.stated_sha1.as_mut()) {
        sha1[0] ^= 1;
        stated = true;
    }
    if stated {
        let (store, _) = TrustStore::from_files_with(&wrong, now, Checks::OnFirstUse);
        assert!(
            store.uploaded().get("c").is_none(),
            "a certificate under a wrong SHA-1 statement reads as uploaded"
        );
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut files = vec![
        SourceFile::new("gateway.toml", GATEWAY_TOML),
        SourceFile::new("policies/global.xml", GLOBAL_XML),
        SourceFile::new("policies/orders.xml", ORDERS_XML),
    ];
    for (i, section) in sections(data).into_iter().enumerate().take(16) {
        let path = match FIXED.get(i) {
            Some(path) => (*path).to_owned(),
            None => format!("crl/w{i}.crl"),
        };
        files.push(SourceFile::new(path, section));
    }
    // 2026-06-01T00:00:00Z: inside the validity of the sample CAs and CRLs.
    let now = OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("time");
    from_bundle(&files, now);
    let deployment = match Deployment::load(&files, "fuzz", now) {
        Ok(deployment) => deployment,
        // Only a bad certificates/<id>.key or backend TLS setup fails the whole load;
        // still build the store alone so the fuzzed files are always read.
        Err(_) => return drop(TrustStore::from_files(&files, now)),
    };
    for d in &deployment.diagnostics {
        let _ = d.to_string();
    }
    let _ = deployment.summary();
    let trust: &Arc<TrustStore> = &deployment.trust;
    let intermediates = trust.intermediates();
    for cert in trust.roots().iter().chain(&intermediates) {
        read(cert);
    }
    let uploaded = trust.uploaded();
    let listed = uploaded.iter().count();
    assert_eq!(
        listed,
        uploaded.len(),
        "an uploaded certificate passed the load-time checks but does not decode"
    );
    let _ = uploaded.contains_subject("CN=client1.contoso.com");
    let _ = uploaded.contains_serial_number("20251001");
    for (_, cert) in uploaded.iter() {
        read(cert);
        // One verification (signatures cost): path building, then the revocation index.
        let presented: Vec<Certificate> = intermediates.iter().map(|c| (**c).clone()).collect();
        let _ = trust.verify_explained(cert, &presented, now, Revocation::Check);
        for issuer in trust.roots().iter().chain(&intermediates) {
            let _ = trust.revocation_status(cert, issuer, now);
        }
    }
});
