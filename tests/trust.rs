//! The trust store and `Verify()` against a PKI generated at run time (rcgen), with a
//! pinned clock.

#[path = "common/trust_pki.rs"]
mod trust_pki;

use std::process::Command;

use certgate::cert::Certificate;
use certgate::files::SourceFile;
use certgate::trust::{
    Checks, CrlFileError, Diagnostic, DiagnosticKind, MAX_PRESENTED_INTERMEDIATES, Reason,
    Revocation, Severity, TrustStore, Verdict, VerifyCache, crls_in_file,
};
use rcgen::{BasicConstraints, CustomExtension, ExtendedKeyUsagePurpose, IsCa};
use trust_pki::*;

fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("test certificate decodes")
}

fn crl_pem(der: &[u8]) -> String {
    pem_of(der).replace("CERTIFICATE", "X509 CRL")
}

/// Root → issuing CA, both with current CRLs; the issuing CA's CRL revokes serial 66.
struct Pki {
    root: Ca,
    issuing: Ca,
    files: Vec<SourceFile>,
}

fn pki() -> Pki {
    let root = Ca::root("Contoso Root CA");
    let issuing = root.intermediate("Contoso Issuing CA");
    let files = vec![
        file("ca/root/root.pem", root.pem()),
        file("ca/intermediate/issuing.cer", issuing.der()),
        file("crl/root.crl", root.crl(&[])),
        file("crl/issuing.pem", crl_pem(&issuing.crl(&[66]))),
    ];
    Pki {
        root,
        issuing,
        files,
    }
}

/// `store`, loaded with `diagnostics`, answers as `pki`'s own load does: the same
/// diagnostics, serial 66 of the issuing CA revoked by its CRL, serial 10 valid.
fn answers_as_the_sample_pki(pki: &Pki, store: &TrustStore, diagnostics: &[Diagnostic]) {
    assert_eq!(diagnostics, load(&pki.files).1);
    assert_eq!(
        check(store, &pki.issuing.leaf("revoked", 66)),
        invalid(Reason::Revoked)
    );
    assert_eq!(
        check(store, &pki.issuing.leaf("client", 10)),
        Verdict::Valid
    );
}

fn load(files: &[SourceFile]) -> (TrustStore, Vec<Diagnostic>) {
    TrustStore::from_files(files, now())
}

fn verify(store: &TrustStore, leaf: &[u8], presented: &[&[u8]], mode: Revocation) -> Verdict {
    let presented: Vec<Certificate> = presented.iter().map(|d| cert(d)).collect();
    store.verify(&cert(leaf), &presented, now(), mode)
}

fn check(store: &TrustStore, leaf: &[u8]) -> Verdict {
    verify(store, leaf, &[], Revocation::Check)
}

fn no_check(store: &TrustStore, leaf: &[u8]) -> Verdict {
    verify(store, leaf, &[], Revocation::NoCheck)
}

fn invalid(reason: Reason) -> Verdict {
    Verdict::Invalid(reason)
}

fn find(diagnostics: &[Diagnostic], kind: DiagnosticKind) -> &Diagnostic {
    diagnostics
        .iter()
        .find(|d| d.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} diagnostic in {diagnostics:#?}"))
}

#[test]
fn good_leaf_verifies_with_and_without_revocation() {
    let pki = pki();
    let (store, diagnostics) = load(&pki.files);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let leaf = pki.issuing.leaf("client1", 10);
    assert_eq!(check(&store, &leaf), Verdict::Valid);
    assert_eq!(no_check(&store, &leaf), Verdict::Valid);
    // The client may also present the intermediate the store already has.
    let issuing = pki.issuing.der();
    assert_eq!(
        verify(&store, &leaf, &[&issuing], Revocation::Check),
        Verdict::Valid
    );
    assert_eq!(store.roots().len(), 1);
    assert_eq!(store.intermediates().len(), 1);
}

#[test]
fn presented_intermediate_builds_the_path_but_its_crl_needs_the_ca_in_the_store() {
    let pki = pki();
    let files = vec![
        file("ca/root/root.pem", pki.root.pem()),
        file("crl/root.crl", pki.root.crl(&[])),
        file("crl/issuing.crl", pki.issuing.crl(&[])),
    ];
    let (store, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::CrlIssuerUnknown);
    assert_eq!(d.path, "crl/issuing.crl");
    assert!(
        d.message.contains("not a CA in ca/root or ca/intermediate"),
        "{d}"
    );
    let leaf = pki.issuing.leaf("client1", 10);
    let issuing = pki.issuing.der();
    assert_eq!(
        verify(&store, &leaf, &[&issuing], Revocation::NoCheck),
        Verdict::Valid
    );
    assert_eq!(
        verify(&store, &leaf, &[&issuing], Revocation::Check),
        invalid(Reason::RevocationUnknown)
    );
    // Without the intermediate there is no path.
    assert_eq!(no_check(&store, &leaf), invalid(Reason::NotTrusted));
}

#[test]
fn expired_and_not_yet_valid_leaves() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let expired = pki.issuing.leaf_with("old", 11, |p| {
        p.not_after = at(2026, 1, 1);
    });
    let future = pki.issuing.leaf_with("future", 12, |p| {
        p.not_before = at(2027, 1, 1);
    });
    for mode in [Revocation::Check, Revocation::NoCheck] {
        assert_eq!(
            verify(&store, &expired, &[], mode),
            invalid(Reason::Expired)
        );
        assert_eq!(
            verify(&store, &future, &[], mode),
            invalid(Reason::NotYetValid)
        );
    }
    let explained = store.verify_explained(&cert(&expired), &[], now(), Revocation::Check);
    let detail = explained.detail.unwrap();
    assert!(
        detail.contains("the client certificate expired at 2026-01-01"),
        "{detail}"
    );
}

#[test]
fn expired_root_invalidates_the_chain_and_is_diagnosed() {
    let root = Ca::root_with("Old Root", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
        p.not_after = at(2026, 2, 1);
    });
    let files = vec![
        file("ca/root/old.pem", root.pem()),
        file("crl/old.crl", root.crl(&[])),
    ];
    let (store, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::ExpiredCa);
    assert_eq!(
        (d.path.as_str(), d.severity),
        ("ca/root/old.pem", Severity::Warning)
    );
    assert!(d.message.contains("expired at 2026-02-01"), "{d}");
    let leaf = root.leaf("client", 5);
    assert_eq!(check(&store, &leaf), invalid(Reason::Expired));
    assert_eq!(no_check(&store, &leaf), invalid(Reason::Expired));
    let detail = store
        .verify_explained(&cert(&leaf), &[], now(), Revocation::NoCheck)
        .detail
        .unwrap();
    assert!(
        detail.contains("root") && detail.contains("expired"),
        "{detail}"
    );
}

#[test]
fn revoked_leaf_fails_verify_but_not_verify_no_revocation() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let leaf = pki.issuing.leaf("revoked", 66);
    assert_eq!(check(&store, &leaf), invalid(Reason::Revoked));
    assert_eq!(no_check(&store, &leaf), Verdict::Valid);
    let detail = store
        .verify_explained(&cert(&leaf), &[], now(), Revocation::Check)
        .detail
        .unwrap();
    assert!(
        detail.contains("serial 42") && detail.contains("crl/issuing.pem"),
        "{detail}"
    );
}

#[test]
fn revoked_intermediate_revokes_its_leaves() {
    let root = Ca::root("Root");
    let issuing = root.intermediate("Issuing"); // serial 2
    let files = vec![
        file("ca/root/root.pem", root.pem()),
        file("ca/intermediate/issuing.pem", issuing.pem()),
        file("crl/root.crl", root.crl(&[2])),
        file("crl/issuing.crl", issuing.crl(&[])),
    ];
    let (store, _) = load(&files);
    let leaf = issuing.leaf("client", 10);
    assert_eq!(check(&store, &leaf), invalid(Reason::Revoked));
    assert_eq!(no_check(&store, &leaf), Verdict::Valid);
}

#[test]
fn leaf_of_an_unknown_ca_is_not_trusted() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let stranger = Ca::root("Stranger Root");
    let leaf = stranger.leaf("client", 10);
    assert_eq!(check(&store, &leaf), invalid(Reason::NotTrusted));
    assert_eq!(no_check(&store, &leaf), invalid(Reason::NotTrusted));
    // Presenting the stranger's root as an intermediate does not make it trusted.
    let stranger_root = stranger.der();
    assert_eq!(
        verify(&store, &leaf, &[&stranger_root], Revocation::NoCheck),
        invalid(Reason::NotTrusted)
    );
}

#[test]
fn self_signed_client_certificate_verifies_only_when_uploaded_as_root() {
    let client = self_signed_client("device-7");
    let (store, diagnostics) = load(&[file("ca/root/device-7.pem", pem_of(&client))]);
    let d = find(&diagnostics, DiagnosticKind::NotACa);
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("trusted only as itself"), "{d}");
    // No CRL is needed: the root of a chain is never checked for revocation.
    assert_eq!(check(&store, &client), Verdict::Valid);
    assert_eq!(no_check(&store, &client), Verdict::Valid);

    let pki = pki();
    let (store, _) = load(&pki.files);
    assert_eq!(check(&store, &client), invalid(Reason::NotTrusted));
}

#[test]
fn a_non_ca_root_does_not_issue() {
    // A leaf key that "signs" another certificate: the non-CA root anchors only itself.
    let key = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut params = leaf_params("Not A CA", 3);
    params.is_ca = IsCa::NoCa;
    let fake = Ca {
        cert: params.self_signed(&key).unwrap(),
        params,
        key,
    };
    let (store, _) = load(&[file("ca/root/fake.pem", fake.pem())]);
    let leaf = fake.leaf("client", 10);
    assert_eq!(no_check(&store, &leaf), invalid(Reason::IssuerNotCa));
}

#[test]
fn two_cas_with_the_same_name_do_not_share_trust_or_revocations() {
    let a = Ca::root("Twin CA");
    let b = Ca::root("Twin CA");
    // Only A trusted: B's leaves are not trusted even though the names match.
    let (store, _) = load(&[
        file("ca/root/a.pem", a.pem()),
        file("crl/a.crl", a.crl(&[5])),
    ]);
    let leaf_b = b.leaf("client-b", 5);
    assert_eq!(check(&store, &leaf_b), invalid(Reason::NotTrusted));
    assert_eq!(no_check(&store, &leaf_b), invalid(Reason::NotTrusted));

    // Both trusted: A's CRL revokes A's serial 5, never B's serial 5.
    let (store, diagnostics) = load(&[
        file("ca/root/a.pem", a.pem()),
        file("ca/root/b.pem", b.pem()),
        file("crl/a.crl", a.crl(&[5])),
        file("crl/b.crl", b.crl(&[6])),
    ]);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(
        check(&store, &a.leaf("client-a", 5)),
        invalid(Reason::Revoked)
    );
    assert_eq!(check(&store, &leaf_b), Verdict::Valid);
    assert_eq!(
        check(&store, &b.leaf("client-b6", 6)),
        invalid(Reason::Revoked)
    );
    assert_eq!(check(&store, &a.leaf("client-a6", 6)), Verdict::Valid);
}

#[test]
fn ca_certificate_presented_as_leaf_is_rejected() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    assert_eq!(
        no_check(&store, &pki.issuing.der()),
        invalid(Reason::CaUsedAsLeaf)
    );
    assert_eq!(
        no_check(&store, &pki.root.der()),
        invalid(Reason::CaUsedAsLeaf)
    );
}

#[test]
fn path_length_constraints_of_intermediates_and_roots_are_enforced() {
    let root = Ca::root("Root");
    let constrained =
        root.intermediate_with("Constrained", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        });
    let sub = constrained.intermediate("Sub");
    let files = vec![
        file("ca/root/root.pem", root.pem()),
        file("ca/intermediate/c.pem", constrained.pem()),
        file("ca/intermediate/s.pem", sub.pem()),
        file("crl/root.crl", root.crl(&[])),
        file("crl/c.crl", constrained.crl(&[])),
        file("crl/s.crl", sub.crl(&[])),
    ];
    let (store, _) = load(&files);
    assert_eq!(check(&store, &constrained.leaf("ok", 9)), Verdict::Valid);
    assert_eq!(
        no_check(&store, &sub.leaf("too-deep", 9)),
        invalid(Reason::PathLenExceeded)
    );

    // webpki does not read a root's pathLenConstraint; the store does.
    let root0 = Ca::root_with("Root0", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    });
    let issuing = root0.intermediate("Below Root0");
    let (store, _) = load(&[
        file("ca/root/root0.pem", root0.pem()),
        file("ca/intermediate/i.pem", issuing.pem()),
    ]);
    assert_eq!(no_check(&store, &root0.leaf("direct", 1)), Verdict::Valid);
    assert_eq!(
        no_check(&store, &issuing.leaf("deep", 1)),
        invalid(Reason::PathLenExceeded)
    );
}

#[test]
fn overlong_chain_is_rejected() {
    let root = Ca::root("Root");
    let mut chain: Vec<Ca> = Vec::new();
    for i in 0..7 {
        let next = match chain.last() {
            Some(parent) => parent.intermediate(&format!("Level {i}")),
            None => root.intermediate(&format!("Level {i}")),
        };
        chain.push(next);
    }
    // From the store: a client may present only MAX_PRESENTED_INTERMEDIATES.
    let mut files = vec![file("ca/root/root.pem", root.pem())];
    for (i, ca) in chain.iter().enumerate() {
        files.push(file(&format!("ca/intermediate/{i}.pem"), ca.pem()));
    }
    let (store, _) = load(&files);
    let leaf = chain.last().unwrap().leaf("deep", 1);
    assert_eq!(no_check(&store, &leaf), invalid(Reason::ChainTooLong));
    // Six intermediates are still fine.
    let leaf6 = chain[5].leaf("six", 1);
    assert_eq!(no_check(&store, &leaf6), Verdict::Valid);
}

/// Root → A → B → leaf: a real chain with two intermediates.
struct TwoLevels {
    root: Ca,
    a: Ca,
    b: Ca,
    leaf: Vec<u8>,
}

fn two_levels() -> TwoLevels {
    let root = Ca::root("Two Level Root");
    let a = root.intermediate("Two Level Policy CA");
    let b = a.intermediate("Two Level Issuing CA");
    let leaf = b.leaf("client", 10);
    TwoLevels { root, a, b, leaf }
}

#[test]
fn a_chain_with_two_intermediates_verifies_in_either_order() {
    let pki = two_levels();
    let (a, b) = (pki.a.der(), pki.b.der());
    // Presented only: the path is built from the client's intermediates.
    let (store, _) = load(&[file("ca/root/root.pem", pki.root.pem())]);
    for presented in [[&b[..], &a[..]], [&a[..], &b[..]]] {
        assert_eq!(
            verify(&store, &pki.leaf, &presented, Revocation::NoCheck),
            Verdict::Valid
        );
    }
    // Also in the store, with CRLs: Verify() checks revocation all the way up.
    let (store, diagnostics) = load(&[
        file("ca/root/root.pem", pki.root.pem()),
        file("ca/intermediate/a.pem", pki.a.pem()),
        file("ca/intermediate/b.pem", pki.b.pem()),
        file("crl/root.crl", pki.root.crl(&[])),
        file("crl/a.crl", pki.a.crl(&[])),
        file("crl/b.crl", pki.b.crl(&[])),
    ]);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(
        verify(&store, &pki.leaf, &[&b, &a], Revocation::Check),
        Verdict::Valid
    );
}

#[test]
fn copies_of_a_presented_intermediate_count_once() {
    let pki = pki();
    let (store, _) = load(&[file("ca/root/root.pem", pki.root.pem())]);
    let leaf = pki.issuing.leaf("client", 10);
    let issuing = pki.issuing.der();
    // 3 copies; 15 (the most a decoded chain holds besides the leaf) is over the cap
    // unless copies count once.
    for copies in [3, 15] {
        let presented: Vec<&[u8]> = (0..copies).map(|_| issuing.as_slice()).collect();
        assert_eq!(
            verify(&store, &leaf, &presented, Revocation::NoCheck),
            Verdict::Valid,
            "{copies} copies"
        );
    }
}

/// Self-issued CAs, each with its own key, all named like the leaf's issuer: each is a
/// candidate issuer at every step of path building.
fn same_name_cas(name: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|_| Ca::root(name).der()).collect()
}

#[test]
fn fifteen_intermediates_sharing_the_issuer_name_are_refused_before_path_building() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let leaf = cert(&pki.issuing.leaf("client", 10));
    let junk: Vec<Certificate> = same_name_cas("Contoso Issuing CA", 15)
        .iter()
        .map(|d| cert(d))
        .collect();
    let explained = store.verify_explained(&leaf, &junk, now(), Revocation::Check);
    assert_eq!(explained.verdict, invalid(Reason::ChainTooLong));
    // Refused for the count, not after running path building to webpki's budget
    // ("path building gave up").
    let detail = explained.detail.unwrap_or_default();
    assert!(
        detail.contains("presented 15 distinct intermediate certificates")
            && detail.contains(&format!("at most {MAX_PRESENTED_INTERMEDIATES}")),
        "{detail}"
    );
    // One over the cap, even when the real issuing CA is among them.
    let mut five = junk[..MAX_PRESENTED_INTERMEDIATES].to_vec();
    five.push(cert(&pki.issuing.der()));
    let explained = store.verify_explained(&leaf, &five, now(), Revocation::Check);
    assert_eq!(explained.verdict, invalid(Reason::ChainTooLong));
    assert!(
        explained
            .detail
            .is_some_and(|d| d.contains("presented 5 distinct")),
    );
}

#[test]
fn missing_crl_makes_verify_false_but_not_verify_no_revocation() {
    let pki = pki();
    let files = vec![
        file("ca/root/root.pem", pki.root.pem()),
        file("ca/intermediate/issuing.pem", pki.issuing.pem()),
        file("crl/root.crl", pki.root.crl(&[])),
    ];
    let (store, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::MissingCrl);
    assert_eq!(d.path, "ca/intermediate/issuing.pem");
    assert!(
        d.message.contains("Verify() will always be false")
            && d.message.contains("VerifyNoRevocation() is unaffected"),
        "{d}"
    );
    let leaf = pki.issuing.leaf("client", 10);
    assert_eq!(check(&store, &leaf), invalid(Reason::RevocationUnknown));
    assert_eq!(no_check(&store, &leaf), Verdict::Valid);
}

#[test]
fn stale_crl_makes_revocation_unknown() {
    let pki = pki();
    let mut files = pki.files.clone();
    files[3] = file(
        "crl/issuing.pem",
        crl_pem(&pki.issuing.crl_dated(&[], at(2026, 4, 1), at(2026, 5, 15))),
    );
    let (store, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::CrlStale);
    assert_eq!(d.path, "crl/issuing.pem");
    assert!(d.message.contains("past its nextUpdate (2026-05-15"), "{d}");
    let leaf = pki.issuing.leaf("client", 10);
    assert_eq!(check(&store, &leaf), invalid(Reason::RevocationUnknown));
    assert_eq!(no_check(&store, &leaf), Verdict::Valid);
    let detail = store
        .verify_explained(&cert(&leaf), &[], now(), Revocation::Check)
        .detail
        .unwrap();
    assert!(detail.contains("stale"), "{detail}");
}

#[test]
fn crl_with_a_bad_signature_is_diagnosed_and_ignored() {
    let pki = pki();
    // Same issuer name, another key: the signature cannot verify against the real CA.
    let impostor = Ca::root("Contoso Issuing CA");
    let mut files = pki.files.clone();
    files[3] = file("crl/issuing.pem", crl_pem(&impostor.crl(&[])));
    let (store, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::CrlBadSignature);
    assert_eq!(
        (d.path.as_str(), d.severity),
        ("crl/issuing.pem", Severity::Error)
    );
    assert!(d.message.contains("signature does not verify"), "{d}");
    find(&diagnostics, DiagnosticKind::MissingCrl);
    let leaf = pki.issuing.leaf("client", 10);
    assert_eq!(check(&store, &leaf), invalid(Reason::RevocationUnknown));
}

/// The diagnostics of `kinds` in `diagnostics`, in order.
fn of_kinds(diagnostics: &[Diagnostic], kinds: &[DiagnosticKind]) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| kinds.contains(&d.kind))
        .cloned()
        .collect()
}

/// Checked on first use (a function's cold start), a CRL with a bad signature (same
/// issuer name, another key), a stale one and one of a CA without cRLSign are no load
/// diagnostics; the first verification that looks their issuer up checks them, fails
/// closed as when they are checked at load, and reports the diagnostics the load would
/// have reported.
#[test]
fn crls_checked_on_first_use_fail_closed_with_the_diagnostics_of_the_load() {
    let pki = pki();
    let impostor = Ca::root("Contoso Issuing CA");
    let stale = pki.issuing.crl_dated(&[], at(2026, 4, 1), at(2026, 5, 15));
    let cases = [
        (
            crl_pem(&impostor.crl(&[])),
            vec![DiagnosticKind::CrlBadSignature, DiagnosticKind::MissingCrl],
        ),
        (crl_pem(&stale), vec![DiagnosticKind::CrlStale]),
    ];
    for (crl, kinds) in cases {
        let mut files = pki.files.clone();
        files[3] = file("crl/issuing.pem", crl);
        let (_, at_load) = load(&files);
        let expected = of_kinds(&at_load, &kinds);
        assert_eq!(expected.len(), kinds.len(), "{at_load:#?}");

        let (store, diagnostics) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
        assert_eq!(of_kinds(&diagnostics, &kinds), [], "{kinds:?}");
        let leaf = pki.issuing.leaf("client", 10);
        // VerifyNoRevocation() looks no CRL up.
        assert_eq!(no_check(&store, &leaf), Verdict::Valid);
        assert_eq!(store.checked_on_first_use(), []);
        assert_eq!(check(&store, &leaf), invalid(Reason::RevocationUnknown));
        assert_eq!(store.checked_on_first_use(), expected, "{kinds:?}");
        // Checked once: a second verification fails alike and reports nothing new.
        assert_eq!(check(&store, &leaf), invalid(Reason::RevocationUnknown));
        assert_eq!(store.checked_on_first_use(), expected);
    }
}

/// Checked on first read (a function's cold start), an uploaded certificate that is no
/// certificate (a PEM block of a truncated DER) loads; the first read finds it broken,
/// it reads as not uploaded, as when it is checked and left out at load, and the load's
/// diagnostic is reported then.
#[test]
fn an_uploaded_certificate_checked_on_first_read_that_does_not_decode_is_absent() {
    let pki = pki();
    let good = pki.issuing.leaf("partner", 20);
    let truncated = pem_of(&good[..good.len() - 16]);
    let files = [
        pki.files.clone(),
        vec![
            file("certificates/partner.pem", pem_of(&good)),
            file("certificates/broken.pem", truncated),
        ],
    ]
    .concat();
    let (eager, at_load) = load(&files);
    let expected = of_kinds(&at_load, &[DiagnosticKind::NotACertificate]);
    assert_eq!(expected.len(), 1, "{at_load:#?}");
    assert_eq!(expected[0].path, "certificates/broken.pem");
    assert!(eager.uploaded().get("broken").is_none());

    let (store, diagnostics) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
    assert_eq!(
        of_kinds(&diagnostics, &[DiagnosticKind::NotACertificate]),
        []
    );
    let uploaded = store.uploaded();
    assert!(uploaded.get("partner").is_some());
    assert_eq!(store.checked_on_first_use(), []);
    assert!(uploaded.get("broken").is_none());
    assert_eq!(store.checked_on_first_use(), expected);
    assert_eq!(uploaded.len(), eager.uploaded().len());
    assert!(uploaded.contains_thumbprint(cert(&good).thumbprint()));
}

/// Read from a bundle (`trust push` states each uploaded certificate's SHA-1), an
/// uploaded certificate is indexed under the stated SHA-1 without being decoded, and
/// its first read compares the statement with the certificate: a file whose statement
/// is wrong (or that holds two certificates) reads as not uploaded under either
/// thumbprint, with its diagnostic then. A store checked at load ignores statements.
#[test]
fn uploaded_certificates_are_indexed_by_the_sha1_their_bundle_states_and_checked_on_first_read() {
    let pki = pki();
    let partner = pki.issuing.leaf("partner", 20);
    let other = pki.issuing.leaf("other", 21);
    let third = pki.issuing.leaf("third", 22);
    let stated = |path: &str, bytes: String, sha1: [u8; 20]| SourceFile {
        stated_sha1: Some(sha1),
        ..file(path, bytes)
    };
    let files = [
        pki.files.clone(),
        vec![
            stated(
                "certificates/partner.pem",
                pem_of(&partner),
                certgate::cert::sha1(&partner),
            ),
            // States the SHA-1 of another certificate.
            stated(
                "certificates/liar.pem",
                pem_of(&third),
                certgate::cert::sha1(&other),
            ),
            // Two certificates where one is stated.
            stated(
                "certificates/two.pem",
                pem_of(&other) + &pem_of(&third),
                certgate::cert::sha1(&other),
            ),
        ],
    ]
    .concat();
    // What trust push states is what the certificate hashes to.
    assert_eq!(
        certgate::cert::sha1_of_single(pem_of(&partner).as_bytes()),
        Some(certgate::cert::sha1(&partner))
    );
    assert_eq!(
        certgate::cert::sha1_of_single((pem_of(&other) + &pem_of(&third)).as_bytes()),
        None
    );

    let (store, diagnostics) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
    assert_eq!(
        of_kinds(&diagnostics, &[DiagnosticKind::NotACertificate]),
        []
    );
    let uploaded = store.uploaded();
    assert!(uploaded.contains_thumbprint(cert(&partner).thumbprint()));
    assert_eq!(
        uploaded.get("partner").map(|c| c.subject().to_owned()),
        Some(cert(&partner).subject().to_owned())
    );
    assert_eq!(store.checked_on_first_use(), []);
    // Neither the stated nor the real thumbprint of the wrong statements is uploaded.
    assert!(!uploaded.contains_thumbprint(cert(&other).thumbprint()));
    assert!(!uploaded.contains_thumbprint(cert(&third).thumbprint()));
    assert!(uploaded.get("liar").is_none() && uploaded.get("two").is_none());
    assert_eq!(uploaded.len(), 1);
    let mut failed: Vec<(String, String)> = store
        .checked_on_first_use()
        .into_iter()
        .map(|d| (d.path, d.message))
        .collect();
    failed.sort();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!(failed[0].0, "certificates/liar.pem");
    assert!(
        failed[0].1.starts_with(&format!(
            "its thumbprint is {}, not the {} the deployment bundle states",
            cert(&third).thumbprint(),
            cert(&other).thumbprint()
        )),
        "{}",
        failed[0].1
    );
    assert_eq!(failed[1].0, "certificates/two.pem");
    assert!(
        failed[1]
            .1
            .starts_with("holds 2 certificates where the deployment bundle states"),
        "{}",
        failed[1].1
    );

    // Checked at load (`certgate check`, the local listener), statements are ignored.
    let (eager, _) = load(&files);
    assert!(
        eager
            .uploaded()
            .contains_thumbprint(cert(&third).thumbprint())
    );
    assert!(eager.uploaded().get("liar").is_some());
}

/// Checked on first use (a function's cold start), an intermediate is checked when a
/// chain first reaches its name: until then its diagnostics are not made, those of the
/// load are then reported and logged, and every verdict is the one of a store checked at
/// load. Intermediates no chain reached stay unchecked; checking them all reports the
/// rest of the load's diagnostics.
#[test]
fn intermediates_checked_on_first_use_are_checked_when_a_chain_reaches_their_name() {
    let pki = pki();
    let other = pki.root.intermediate("Contoso Other CA");
    let expired = pki.root.intermediate_with(
        "Contoso Expired CA",
        key(&rcgen::PKCS_ECDSA_P256_SHA256),
        |p| p.not_after = at(2026, 2, 1),
    );
    let not_a_ca = pki.root.intermediate_with(
        "Contoso Not A CA",
        key(&rcgen::PKCS_ECDSA_P256_SHA256),
        |p| p.is_ca = IsCa::ExplicitNoCa,
    );
    let files = [
        pki.files.clone(),
        vec![
            file("ca/intermediate/other.pem", other.pem()),
            file("ca/intermediate/expired.pem", expired.pem()),
            file("ca/intermediate/not-a-ca.pem", not_a_ca.pem()),
        ],
    ]
    .concat();
    let (eager, at_load) = load(&files);
    let of_path = |diagnostics: &[Diagnostic], path: &str| -> Vec<Diagnostic> {
        diagnostics
            .iter()
            .filter(|d| d.path == path)
            .cloned()
            .collect()
    };
    let paths =
        ["other.pem", "expired.pem", "not-a-ca.pem"].map(|p| format!("ca/intermediate/{p}"));
    for path in &paths {
        assert!(!of_path(&at_load, path).is_empty(), "{path}: {at_load:#?}");
    }
    assert_eq!(of_kinds(&at_load, &[DiagnosticKind::NotACa]).len(), 1);
    assert_eq!(of_kinds(&at_load, &[DiagnosticKind::ExpiredCa]).len(), 1);

    let (store, diagnostics) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
    for path in &paths {
        assert_eq!(of_path(&diagnostics, path), [], "{path}");
    }
    // The sample CAs load as they always did; the issuing CA's chain reaches no other.
    answers_as_the_sample_pki(&pki, &store, &without(&diagnostics, &paths));
    assert_eq!(store.checked_on_first_use(), []);

    // A chain through the CA without a CRL: its check, its missing CRL, reported then.
    let client = other.leaf("client", 11);
    for mode in [Revocation::Check, Revocation::NoCheck] {
        assert_eq!(
            verify(&store, &client, &[], mode),
            verify(&eager, &client, &[], mode)
        );
    }
    assert_eq!(
        verify(&store, &client, &[], Revocation::Check),
        invalid(Reason::RevocationUnknown)
    );
    assert_eq!(store.checked_on_first_use(), of_path(&at_load, &paths[0]));

    // An expired CA and a leaf under ca/intermediate fail their chains as at load.
    let under_expired = expired.leaf("client", 12);
    let under_leaf = not_a_ca.leaf("client", 13);
    for leaf in [&under_expired, &under_leaf] {
        let lazy = store.verify_explained(&cert(leaf), &[], now(), Revocation::NoCheck);
        let checked = eager.verify_explained(&cert(leaf), &[], now(), Revocation::NoCheck);
        assert_eq!(lazy, checked);
        assert!(!lazy.verdict.is_valid());
    }
    let mut reported = store.checked_on_first_use();
    let mut expected: Vec<Diagnostic> = paths.iter().flat_map(|p| of_path(&at_load, p)).collect();
    reported.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    expected.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    assert_eq!(reported, expected);
    // Nothing is checked twice.
    assert_eq!(store.intermediates().len(), eager.intermediates().len());
    assert_eq!(store.checked_on_first_use().len(), expected.len());
}

/// A chain reaches only the intermediates its names lead to: one of another name is
/// never checked, so its diagnostics are not made, and the store's others all are when
/// asked for them.
#[test]
fn a_chain_reaches_only_the_intermediates_its_names_lead_to() {
    let pki = pki();
    let unrelated = Ca::root("Fabrikam Root CA").intermediate_with(
        "Fabrikam Issuing CA",
        key(&rcgen::PKCS_ECDSA_P256_SHA256),
        |p| p.not_after = at(2026, 2, 1),
    );
    let files = [
        pki.files.clone(),
        vec![file("ca/intermediate/fabrikam.pem", unrelated.pem())],
    ]
    .concat();
    let (store, _) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
    // The issuing CA, presented or not, and a leaf naming an issuer the store lacks.
    let client = pki.issuing.leaf("client", 10);
    assert_eq!(check(&store, &client), Verdict::Valid);
    assert_eq!(
        verify(&store, &client, &[&pki.issuing.der()], Revocation::Check),
        Verdict::Valid
    );
    let stranger = Ca::root("Stranger Root CA").leaf("client", 1);
    assert_eq!(no_check(&store, &stranger), invalid(Reason::NotTrusted));
    assert_eq!(store.checked_on_first_use(), []);
    assert_eq!(store.intermediates_checked().len(), 1);
    // Asked for them all, the store checks the one left.
    assert_eq!(store.intermediates().len(), 2);
    let reported = store.checked_on_first_use();
    assert!(
        reported
            .iter()
            .all(|d| d.path == "ca/intermediate/fabrikam.pem"),
        "{reported:#?}"
    );
    assert!(
        reported.iter().any(|d| d.kind == DiagnosticKind::ExpiredCa),
        "{reported:#?}"
    );
}

/// A CA file of several certificates, one of which does not decode: that one is named
/// by its number and ignored, the others load, under ca/root and ca/intermediate, checked
/// at load or on first use.
#[test]
fn a_ca_file_with_a_broken_certificate_keeps_the_others() {
    let pki = pki();
    let other_root = Ca::root("Fabrikam Root CA");
    let other = pki.root.intermediate("Contoso Other CA");
    let broken = |ca: &Ca| pem_of(&ca.der()[..ca.der().len() - 16]);
    let files = [
        pki.files.clone(),
        vec![
            file("ca/root/two.pem", other_root.pem() + &broken(&other_root)),
            file("ca/intermediate/two.pem", other.pem() + &broken(&other)),
        ],
    ]
    .concat();
    for checks in [Checks::Now, Checks::OnFirstUse] {
        let (store, diagnostics) = TrustStore::from_files_with(&files, now(), checks);
        for path in ["ca/root/two.pem", "ca/intermediate/two.pem"] {
            let errors: Vec<&Diagnostic> = diagnostics
                .iter()
                .filter(|d| d.path == path && d.severity == Severity::Error)
                .collect();
            assert_eq!(errors.len(), 1, "{checks:?} {path}: {diagnostics:#?}");
            assert!(
                errors[0].message.contains("(certificate 2)"),
                "{}",
                errors[0].message
            );
        }
        assert_eq!(store.roots().len(), 2, "{checks:?}");
        assert_eq!(
            no_check(&store, &other.leaf("client", 11)),
            Verdict::Valid,
            "{checks:?}"
        );
        assert_eq!(
            no_check(&store, &other_root.leaf("client", 12)),
            Verdict::Valid,
            "{checks:?}"
        );
    }
}

/// Threads verifying against a store not checked yet check each intermediate once, and
/// report its diagnostics once.
#[test]
fn an_intermediate_checked_on_first_use_is_checked_once_whatever_the_threads() {
    let pki = pki();
    let other = pki.root.intermediate("Contoso Other CA");
    let files = [
        pki.files.clone(),
        vec![file("ca/intermediate/other.pem", other.pem())],
    ]
    .concat();
    let (store, _) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
    let leaf = other.leaf("client", 11);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                assert_eq!(check(&store, &leaf), invalid(Reason::RevocationUnknown));
            });
        }
    });
    let reported = store.checked_on_first_use();
    assert_eq!(reported.len(), 1, "{reported:#?}");
    assert_eq!(reported[0].kind, DiagnosticKind::MissingCrl);
    assert_eq!(reported[0].path, "ca/intermediate/other.pem");
}

/// `diagnostics` but those about `paths`.
fn without(diagnostics: &[Diagnostic], paths: &[String]) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| !paths.contains(&d.path))
        .cloned()
        .collect()
}

/// Good CRLs checked on first use revoke what they list, as when checked at load.
#[test]
fn crls_checked_on_first_use_revoke_as_at_load() {
    let pki = pki();
    let (store, diagnostics) = TrustStore::from_files_with(&pki.files, now(), Checks::OnFirstUse);
    answers_as_the_sample_pki(&pki, &store, &diagnostics);
    assert_eq!(store.checked_on_first_use(), []);
}

/// CRL files and CA bundles of more than a client chain's 16 certificates read their
/// PEM blocks by label: other blocks are passed over, a broken one is named.
#[test]
fn pem_blocks_of_crl_files_and_large_ca_bundles_are_read_by_label() {
    let pki = pki();
    let key_block = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
    let broken = "-----BEGIN CERTIFICATE-----\nM!A=\n-----END CERTIFICATE-----\n";
    let unreadable = "-----BEGIN CERT\tIFICATE-----\nMAA=\n-----END CERT\tIFICATE-----\n";
    let mut bundle = String::from(key_block);
    let mut bundled = Vec::new();
    for i in 0..20 {
        let name = format!("Bundled CA {i}");
        let ca = if i == 9 {
            // Named in a warning by its place among the certificate blocks, the broken
            // one before it counted: the 11th.
            pki.root
                .intermediate_with(&name, key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
                    p.not_after = at(2026, 2, 1);
                })
        } else {
            pki.root.intermediate(&name)
        };
        bundle.push_str(&pem_of(&ca.der()));
        if i == 4 {
            bundle.push_str(broken);
        }
        if i == 14 {
            bundle.push_str(unreadable);
        }
        bundled.push(ca);
    }
    // A bundle whose one good certificate is followed by broken blocks.
    let lone = pki
        .root
        .intermediate_with("Lone CA", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
            p.not_after = at(2026, 2, 1);
        });
    let mut files = pki.files.clone();
    files.retain(|f| f.path != "crl/issuing.pem");
    files.extend([
        file(
            "ca/intermediate/lone.pem",
            format!("{}{}", pem_of(&lone.der()), broken.repeat(17)),
        ),
        file("ca/intermediate/bundle.pem", bundle),
        file(
            "crl/issuing.pem",
            format!("{key_block}{}", crl_pem(&pki.issuing.crl(&[66]))),
        ),
        file("crl/keys-only.pem", key_block.to_owned()),
        file(
            "crl/broken.pem",
            "-----BEGIN X509 CRL-----\nM!A=\n-----END X509 CRL-----\n".to_owned(),
        ),
    ]);
    let (store, diagnostics) = load(&files);
    let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    // The sixth certificate block of the bundle (after five good ones) is the broken one,
    // the 17th the one without a readable label; the blocks after each are read, and a
    // certificate after a broken block is named by its place among the blocks.
    for said in [
        "ca/intermediate/bundle.pem: certificate #17: the `-----BEGIN` line has no readable label",
        "ca/intermediate/bundle.pem: certificate #6: the body is not valid base64",
        "ca/intermediate/bundle.pem: certificate #11: CN=Bundled CA 9, O=Contoso Test expired at 2026-02-01",
        "ca/intermediate/lone.pem: certificate #1: CN=Lone CA, O=Contoso Test expired at 2026-02-01",
        "ca/intermediate/lone.pem: certificate #18: the body is not valid base64",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(said)),
            "{said}: {messages:#?}"
        );
    }
    assert!(
        messages.contains(
            &"crl/keys-only.pem: no BEGIN X509 CRL block in this PEM file; ignored".to_owned()
        ),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("crl/broken.pem: bad PEM (the body is not valid base64")),
        "{messages:#?}"
    );
    assert!(
        !messages.iter().any(|m| m.starts_with("crl/issuing.pem")),
        "{messages:#?}"
    );
    // The CRL after a key block revokes; every bundled CA issues (the expired one's
    // chains are expired).
    assert_eq!(
        check(&store, &pki.issuing.leaf("client", 66)),
        invalid(Reason::Revoked)
    );
    for (i, ca) in bundled.iter().enumerate() {
        let expected = if i == 9 {
            invalid(Reason::Expired)
        } else {
            Verdict::Valid
        };
        assert_eq!(
            no_check(&store, &ca.leaf("client", 10)),
            expected,
            "Bundled CA {i}"
        );
    }
}

/// A CRL file as `openssl crl -text` writes it: the CRL's entries as text, then its PEM
/// block. A long list puts the block kilobytes into the file; it is found there.
#[test]
fn a_crl_file_with_its_text_before_the_pem_block_is_read() {
    let pki = pki();
    let mut text = String::from("Certificate Revocation List (CRL):\n        Version 2 (0x1)\n");
    for serial in 0..200 {
        text.push_str(&format!(
            "    Serial Number: {serial:04X}\n        Revocation Date: Jan  1 00:00:00 2026 GMT\n"
        ));
    }
    assert!(text.len() > 8192);
    let mut files = pki.files.clone();
    files.retain(|f| f.path != "crl/issuing.pem");
    files.push(file(
        "crl/issuing.pem",
        format!("{text}{}", crl_pem(&pki.issuing.crl(&[66]))),
    ));
    let (store, diagnostics) = load(&files);
    answers_as_the_sample_pki(&pki, &store, &diagnostics);
}

/// What the store and `certgate trust ls` read from a `crl/` file: a DER file whole, else
/// each CRL block of its PEM wherever it starts (other blocks skipped), or why none.
#[test]
fn a_crl_file_yields_its_der_or_each_crl_block_of_its_pem() {
    let pki = pki();
    let (root_crl, issuing_crl) = (pki.root.crl(&[]), pki.issuing.crl(&[66]));
    let read = |bytes: Vec<u8>| crls_in_file(&bytes::Bytes::from(bytes));
    assert_eq!(
        read(issuing_crl.clone()),
        Ok(vec![issuing_crl.clone().into()])
    );
    let pem = format!(
        "openssl crl -text\n{}{}{}",
        crl_pem(&root_crl),
        pem_of(&pki.issuing.der()),
        crl_pem(&issuing_crl)
    );
    assert_eq!(
        read(pem.into_bytes()),
        Ok(vec![root_crl.into(), issuing_crl.into()])
    );
    assert_eq!(
        read(pem_of(&pki.issuing.der()).into_bytes()),
        Err(CrlFileError::NoCrlBlock)
    );
    let broken = "-----BEGIN X509 CRL-----\n@@@@\n-----END X509 CRL-----\n";
    assert!(matches!(
        read(broken.into()),
        Err(CrlFileError::BadPem(reason)) if reason.contains("base64")
    ));
    // Neither DER nor PEM: whole, for the CRL parser to refuse.
    assert_eq!(
        read(b"not a CRL".to_vec()),
        Ok(vec![b"not a CRL".to_vec().into()])
    );
}

#[test]
fn partitioned_crl_is_refused() {
    let pki = pki();
    let mut files = pki.files.clone();
    files[3] = file(
        "crl/issuing.pem",
        crl_pem(&pki.issuing.crl_with(|p| {
            p.issuing_distribution_point = Some(rcgen::CrlIssuingDistributionPoint {
                distribution_point: rcgen::CrlDistributionPoint {
                    uris: vec!["http://crl.contoso.test/issuing.crl".into()],
                },
                scope: Some(rcgen::CrlScope::UserCertsOnly),
            });
        })),
    );
    let (store, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::CrlUnusable);
    assert_eq!(d.path, "crl/issuing.pem");
    assert!(d.message.contains("partitioned CRLs"), "{d}");
    assert_eq!(
        check(&store, &pki.issuing.leaf("client", 10)),
        invalid(Reason::RevocationUnknown)
    );
}

#[test]
fn crl_entries_with_reasons_and_big_serials_are_read() {
    let pki = pki();
    let big = rcgen::SerialNumber::from(vec![
        0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
    ]);
    let mut files = pki.files.clone();
    files[3] = file(
        "crl/issuing.crl",
        pki.issuing.crl_with(|p| {
            p.revoked_certs = vec![
                rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(66u64),
                    revocation_time: at(2026, 4, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: Some(at(2026, 3, 1)),
                },
                rcgen::RevokedCertParams {
                    serial_number: big.clone(),
                    revocation_time: at(2051, 4, 1),
                    reason_code: None,
                    invalidity_date: None,
                },
            ];
        }),
    );
    let (store, diagnostics) = load(&files);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(
        check(&store, &pki.issuing.leaf("r", 66)),
        invalid(Reason::Revoked)
    );
    let big_leaf = pki
        .issuing
        .leaf_with("big", 1, |p| p.serial_number = Some(big));
    assert_eq!(check(&store, &big_leaf), invalid(Reason::Revoked));
    assert_eq!(check(&store, &pki.issuing.leaf("g", 67)), Verdict::Valid);
}

#[test]
fn eku_without_client_auth_is_rejected_and_no_eku_is_fine() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let server = pki.issuing.leaf_with("server", 20, |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    assert_eq!(
        check(&store, &server),
        invalid(Reason::WrongExtendedKeyUsage)
    );
    assert_eq!(
        no_check(&store, &server),
        invalid(Reason::WrongExtendedKeyUsage)
    );
    let no_eku = pki
        .issuing
        .leaf_with("plain", 21, |p| p.extended_key_usages.clear());
    assert_eq!(check(&store, &no_eku), Verdict::Valid);
    let both = pki.issuing.leaf_with("both", 22, |p| {
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
    });
    assert_eq!(check(&store, &both), Verdict::Valid);
}

#[test]
fn intermediate_whose_eku_excludes_client_auth_is_rejected() {
    let root = Ca::root("Root");
    let servers = root.intermediate_with("Server CA", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    let (store, _) = load(&[
        file("ca/root/root.pem", root.pem()),
        file("ca/intermediate/servers.pem", servers.pem()),
    ]);
    assert_eq!(
        no_check(&store, &servers.leaf("client", 1)),
        invalid(Reason::WrongExtendedKeyUsage)
    );
}

#[test]
fn unknown_critical_extension_is_malformed() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let leaf = pki.issuing.leaf_with("odd", 23, |p| {
        let mut ext =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    });
    assert_eq!(check(&store, &leaf), invalid(Reason::Malformed));
}

#[test]
fn bad_files_become_diagnostics_and_the_rest_loads() {
    let pki = pki();
    let mut files = pki.files.clone();
    let root_der = pki.root.der();
    let crl = pki.issuing.crl(&[]);
    files.extend([
        file("ca/root/garbage.pem", b"this is not a certificate".to_vec()),
        file(
            "ca/root/truncated.der",
            root_der[..root_der.len() / 2].to_vec(),
        ),
        file("ca/root/huge.bin", vec![0x30u8; 1024 * 1024]),
        file(
            "ca/intermediate/leaf.pem",
            pem_of(&pki.issuing.leaf("leaf", 1)),
        ),
        file("crl/truncated.crl", crl[..crl.len() - 7].to_vec()),
        file(
            "crl/garbage.pem",
            b"-----BEGIN X509 CRL-----\n!!!\n-----END X509 CRL-----\n".to_vec(),
        ),
        file("crl/random.crl", vec![0xffu8; 4096]),
        file("crl/huge.crl", vec![0x30u8; 1024 * 1024]),
        file("ca/root/.gitkeep", Vec::new()),
        file("ca/root/.old/junk.pem", b"junk".to_vec()),
        file("policies/global.xml", b"<policies/>".to_vec()),
    ]);
    let (store, diagnostics) = load(&files);
    let paths: Vec<&str> = diagnostics.iter().map(|d| d.path.as_str()).collect();
    for path in [
        "ca/root/garbage.pem",
        "ca/root/truncated.der",
        "ca/root/huge.bin",
        "ca/intermediate/leaf.pem",
        "crl/truncated.crl",
        "crl/garbage.pem",
        "crl/random.crl",
        "crl/huge.crl",
    ] {
        assert!(
            paths.contains(&path),
            "no diagnostic for {path}: {diagnostics:#?}"
        );
    }
    assert!(!paths.contains(&"ca/root/.gitkeep"));
    assert!(!paths.contains(&"ca/root/.old/junk.pem"));
    assert!(!paths.contains(&"policies/global.xml"));
    let d = diagnostics
        .iter()
        .find(|d| d.path == "ca/root/garbage.pem")
        .unwrap();
    assert_eq!(
        (d.kind, d.severity),
        (DiagnosticKind::NotACertificate, Severity::Error)
    );
    assert!(d.message.contains("not a certificate"), "{d}");
    let d = diagnostics
        .iter()
        .find(|d| d.path == "ca/intermediate/leaf.pem")
        .unwrap();
    assert_eq!(d.kind, DiagnosticKind::NotACa);
    assert!(d.message.contains("cannot issue certificates"), "{d}");
    let d = diagnostics
        .iter()
        .find(|d| d.path == "crl/truncated.crl")
        .unwrap();
    assert_eq!(d.kind, DiagnosticKind::CrlUnusable);
    // The good files still work.
    assert_eq!(
        check(&store, &pki.issuing.leaf("client", 10)),
        Verdict::Valid
    );
}

#[test]
fn pem_files_with_several_certificates_and_der_files_load() {
    let a = Ca::root("Root A");
    let b = Ca::root("Root B");
    let bundle = format!("{}{}", a.pem(), b.pem());
    let (store, _) = load(&[
        file("ca/root/bundle.pem", bundle),
        file(
            "crl/both.pem",
            format!("{}{}", crl_pem(&a.crl(&[])), crl_pem(&b.crl(&[]))),
        ),
    ]);
    assert_eq!(store.roots().len(), 2);
    assert_eq!(check(&store, &a.leaf("a", 1)), Verdict::Valid);
    assert_eq!(check(&store, &b.leaf("b", 1)), Verdict::Valid);
}

#[test]
fn a_bundle_of_forty_roots_loads() {
    let roots: Vec<Ca> = (0..40)
        .map(|i| Ca::root(&format!("Bundle Root {i}")))
        .collect();
    let bundle: String = roots.iter().map(Ca::pem).collect();
    let (store, diagnostics) = load(&[file("ca/root/bundle.pem", bundle)]);
    assert_eq!(store.roots().len(), 40);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.kind == DiagnosticKind::MissingCrl),
        "{diagnostics:#?}"
    );
    assert_eq!(no_check(&store, &roots[39].leaf("c", 1)), Verdict::Valid);
}

#[test]
fn uploaded_certificates_are_keyed_by_file_stem() {
    let pki = pki();
    let client = pki.issuing.leaf("client1", 10);
    let mut files = pki.files.clone();
    files.push(file("certificates/client1.pem", pem_of(&client)));
    files.push(file(
        "certificates/partner.cer",
        pki.issuing.leaf("partner", 11),
    ));
    files.push(file("certificates/nested/x.pem", pem_of(&client)));
    files.push(file("certificates/bad.pem", b"nope".to_vec()));
    let (store, diagnostics) = load(&files);
    let uploaded = store.uploaded();
    assert_eq!(uploaded.len(), 2);
    assert_eq!(uploaded.get("client1").unwrap().der(), client.as_slice());
    assert!(uploaded.get("partner").is_some());
    assert!(
        diagnostics
            .iter()
            .any(|d| d.path == "certificates/nested/x.pem")
    );
    assert!(diagnostics.iter().any(|d| d.path == "certificates/bad.pem"));
}

/// Past 64 uploaded certificates they are checked on a second thread: the store and its
/// diagnostics are the same as when they are few, in the same order (CAs first).
#[test]
fn many_uploaded_certificates_load_like_few() {
    let pki = pki();
    let mut files = pki.files.clone();
    files.push(file("ca/elsewhere.pem", pki.root.pem()));
    for i in 0..100u8 {
        let leaf = pki.issuing.leaf(&format!("client{i}"), 100 + u64::from(i));
        files.push(file(
            &format!("certificates/client{i:03}.pem"),
            pem_of(&leaf),
        ));
    }
    files.push(file("certificates/bad.pem", b"nope".to_vec()));
    files.push(file(
        "certificates/client007.cer",
        pki.issuing.leaf("again", 99),
    ));
    let (store, diagnostics) = load(&files);
    assert_eq!(store.uploaded().len(), 100);
    let replaced = store.uploaded().get("client007").unwrap();
    assert!(
        replaced.subject().starts_with("CN=again"),
        "{}",
        replaced.subject()
    );

    let few: Vec<SourceFile> = files
        .iter()
        .filter(|f| !f.path.starts_with("certificates/client0") || f.path.contains("client007"))
        .cloned()
        .collect();
    let (_, few_diagnostics) = load(&few);
    let paths = |d: &[Diagnostic]| d.iter().map(|d| d.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&diagnostics), paths(&few_diagnostics));
    assert_eq!(
        paths(&diagnostics),
        [
            "ca/elsewhere.pem",
            "certificates/bad.pem",
            "certificates/client007.cer",
        ]
    );
}

#[test]
fn a_corrupt_uploaded_certificate_fails_at_load_naming_the_file() {
    // Uploaded certificates are decoded on first use, not at load; their checks are not.
    let pki = pki();
    let mut der = pki.issuing.leaf("client1", 10);
    assert_eq!(
        der[..2],
        [0x30, 0x82],
        "outer SEQUENCE with a two-byte length"
    );
    der[4] = 0x31; // the TBS SEQUENCE made a SET: the framing holds, X.509 does not
    let pem = pem_of(&der);
    let mut files = pki.files.clone();
    files.push(file("certificates/corrupt.pem", pem.clone()));
    files.push(file(
        "certificates/truncated.cer",
        der[..der.len() - 1].to_vec(),
    ));
    let (store, diagnostics) = load(&files);
    assert!(store.uploaded().is_empty());
    for (path, bytes) in [
        ("certificates/corrupt.pem", pem.as_bytes()),
        ("certificates/truncated.cer", &der[..der.len() - 1]),
    ] {
        let error = certgate::cert::decode_chain(bytes).expect_err("corrupt");
        assert_eq!(
            diagnostics.iter().find(|d| d.path == path),
            Some(&Diagnostic {
                path: path.to_owned(),
                severity: Severity::Error,
                kind: DiagnosticKind::NotACertificate,
                message: format!("{error}; ignored"),
            }),
            "{diagnostics:#?}"
        );
    }
}

#[test]
fn generations_are_unique() {
    let a = TrustStore::empty();
    let b = TrustStore::empty();
    assert_ne!(a.generation(), b.generation());
}

// ---- cache ----

#[test]
fn cache_hit_returns_the_same_verdict() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let cache = VerifyCache::new(100);
    let good = cert(&pki.issuing.leaf("client", 10));
    let revoked = cert(&pki.issuing.leaf("revoked", 66));
    for _ in 0..3 {
        assert_eq!(
            cache.verify(&store, &good, &[], now(), Revocation::Check),
            Verdict::Valid
        );
        assert_eq!(
            cache.verify(&store, &revoked, &[], now(), Revocation::Check),
            invalid(Reason::Revoked)
        );
    }
    // The revocation mode is part of the key.
    assert_eq!(
        cache.verify(&store, &revoked, &[], now(), Revocation::NoCheck),
        Verdict::Valid
    );
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (4, 3, 3));
}

#[test]
fn reordered_or_repeated_intermediates_hit_the_cache() {
    let pki = two_levels();
    let (store, _) = load(&[file("ca/root/root.pem", pki.root.pem())]);
    let cache = VerifyCache::new(100);
    let leaf = cert(&pki.leaf);
    let (a, b) = (cert(&pki.a.der()), cert(&pki.b.der()));
    let orders = [
        vec![b.clone(), a.clone()],
        vec![a.clone(), b.clone()],
        vec![a.clone(), b.clone(), a.clone(), b.clone()],
    ];
    for presented in &orders {
        assert_eq!(
            cache.verify(&store, &leaf, presented, now(), Revocation::NoCheck),
            Verdict::Valid
        );
    }
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (2, 1, 1));
    // Another set is another entry: without A there is no path.
    assert_eq!(
        cache.verify(&store, &leaf, &[b], now(), Revocation::NoCheck),
        invalid(Reason::NotTrusted)
    );
    assert_eq!(cache.stats().misses, 2);
}

#[test]
fn cache_misses_for_a_new_store_generation() {
    let pki = pki();
    let (store1, _) = load(&pki.files);
    let cache = VerifyCache::new(100);
    let leaf = cert(&pki.issuing.leaf("client", 66));
    assert_eq!(
        cache.verify(&store1, &leaf, &[], now(), Revocation::Check),
        invalid(Reason::Revoked)
    );
    // The new deployment's CRL no longer lists serial 66.
    let mut files = pki.files.clone();
    files[3] = file("crl/issuing.crl", pki.issuing.crl(&[]));
    let (store2, _) = load(&files);
    assert_eq!(
        cache.verify(&store2, &leaf, &[], now(), Revocation::Check),
        Verdict::Valid
    );
    assert_eq!(cache.stats().misses, 2);
}

#[test]
fn cache_entry_is_not_served_after_the_leaf_expires_or_the_crl_goes_stale() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let cache = VerifyCache::new(100);
    let leaf = cert(&pki.issuing.leaf("client", 10));
    // Valid until the CRL's nextUpdate (2026-07-01)...
    assert_eq!(
        cache.verify(&store, &leaf, &[], now(), Revocation::Check),
        Verdict::Valid
    );
    assert_eq!(
        cache.verify(&store, &leaf, &[], at(2026, 6, 30), Revocation::Check),
        Verdict::Valid
    );
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(
        cache.verify(&store, &leaf, &[], at(2026, 7, 2), Revocation::Check),
        invalid(Reason::RevocationUnknown)
    );
    // ...and without revocation, until the leaf's notAfter (2030-01-01).
    assert_eq!(
        cache.verify(&store, &leaf, &[], at(2029, 12, 31), Revocation::NoCheck),
        Verdict::Valid
    );
    assert_eq!(
        cache.verify(&store, &leaf, &[], at(2030, 1, 2), Revocation::NoCheck),
        invalid(Reason::Expired)
    );
    // Going back in time does not serve the Expired verdict either.
    assert_eq!(
        cache.verify(&store, &leaf, &[], at(2029, 12, 31), Revocation::NoCheck),
        Verdict::Valid
    );
}

/// A cached verdict is not served past the notAfter of an intermediate of the store
/// that its chain reaches, whether the store checked it at load or on first use.
#[test]
fn cache_entry_is_not_served_after_an_intermediate_of_the_store_expires() {
    let pki = pki();
    let short = pki.root.intermediate_with(
        "Contoso Short CA",
        key(&rcgen::PKCS_ECDSA_P256_SHA256),
        |p| p.not_after = at(2026, 6, 20),
    );
    let files = [
        pki.files.clone(),
        vec![file("ca/intermediate/short.pem", short.pem())],
    ]
    .concat();
    let leaf = cert(&short.leaf("client", 10));
    for checks in [Checks::Now, Checks::OnFirstUse] {
        let (store, _) = TrustStore::from_files_with(&files, now(), checks);
        let cache = VerifyCache::new(100);
        assert_eq!(
            cache.verify(&store, &leaf, &[], now(), Revocation::NoCheck),
            Verdict::Valid
        );
        assert_eq!(
            cache.verify(&store, &leaf, &[], at(2026, 6, 19), Revocation::NoCheck),
            Verdict::Valid
        );
        assert_eq!(cache.stats().hits, 1, "{checks:?}");
        assert_eq!(
            cache.verify(&store, &leaf, &[], at(2026, 6, 21), Revocation::NoCheck),
            invalid(Reason::Expired),
            "{checks:?}"
        );
    }
}

#[test]
fn cache_does_not_serve_not_yet_valid_once_the_certificate_is_valid() {
    let pki = pki();
    let (store, _) = load(&pki.files);
    let cache = VerifyCache::new(100);
    let leaf = cert(&pki.issuing.leaf_with("future", 12, |p| {
        p.not_before = at(2026, 6, 10);
    }));
    assert_eq!(
        cache.verify(&store, &leaf, &[], now(), Revocation::Check),
        invalid(Reason::NotYetValid)
    );
    assert_eq!(
        cache.verify(&store, &leaf, &[], at(2026, 6, 11), Revocation::Check),
        Verdict::Valid
    );
}

#[test]
fn cache_is_bounded_and_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VerifyCache>();
    assert_send_sync::<TrustStore>();
    let pki = pki();
    let (store, _) = load(&pki.files);
    let cache = VerifyCache::new(4);
    let leaves: Vec<Certificate> = (0..12)
        .map(|i| cert(&pki.issuing.leaf("c", 100 + i)))
        .collect();
    std::thread::scope(|s| {
        for chunk in leaves.chunks(4) {
            let (cache, store) = (&cache, &store);
            s.spawn(move || {
                for leaf in chunk {
                    assert_eq!(
                        cache.verify(store, leaf, &[], now(), Revocation::Check),
                        Verdict::Valid
                    );
                }
            });
        }
    });
    assert!(cache.stats().entries <= 4 + 15, "{:?}", cache.stats());
    let cache = VerifyCache::new(0);
    assert_eq!(
        cache.verify(&store, &leaves[0], &[], now(), Revocation::Check),
        Verdict::Valid
    );
    assert_eq!(cache.stats().entries, 0);
}

// ---- CLI ----

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new(files: &[SourceFile]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let path = dir.path().join("config").join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &f.bytes).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        Self { dir }
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let config = self.dir.path().join("config");
        let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["cert", "verify"])
            .args(args)
            .arg("--config")
            .arg(config)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const NOW: &str = "2026-06-01T00:00:00Z";

#[test]
fn cli_prints_valid_and_exits_0() {
    let pki = pki();
    let cli = Cli::new(&pki.files);
    let leaf = cli.write("leaf.pem", pem_of(&pki.issuing.leaf("client", 10)));
    let (code, out, err) = cli.run(&[&leaf, "--now", NOW]);
    assert_eq!((code, out.as_str()), (0, "valid\n"), "{err}");
}

#[test]
fn cli_prints_the_reason_and_exits_1() {
    let pki = pki();
    let cli = Cli::new(&pki.files);
    let leaf = cli.write("revoked.der", pki.issuing.leaf("client", 66));
    let (code, out, _) = cli.run(&[&leaf, "--now", NOW]);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: Revoked: "), "{out}");
    let (code, out, _) = cli.run(&[&leaf, "--now", NOW, "--no-revocation"]);
    assert_eq!((code, out.as_str()), (0, "valid\n"));
    let (code, out, _) = cli.run(&[&leaf, "--now", "2031-01-01T00:00:00Z", "--no-revocation"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: Expired: "), "{out}");
}

#[test]
fn cli_takes_intermediates_from_the_file_and_from_chain() {
    let pki = pki();
    let files = vec![
        file("ca/root/root.pem", pki.root.pem()),
        file("crl/root.crl", pki.root.crl(&[])),
    ];
    let cli = Cli::new(&files);
    let leaf_der = pki.issuing.leaf("client", 10);
    let alone = cli.write("alone.pem", pem_of(&leaf_der));
    let bundle = cli.write(
        "bundle.pem",
        format!("{}{}", pem_of(&leaf_der), pki.issuing.pem()),
    );
    let chain = cli.write("chain.pem", pki.issuing.pem());
    let (code, out, _) = cli.run(&[&alone, "--now", NOW, "--no-revocation"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: NotTrusted"), "{out}");
    let (code, out, _) = cli.run(&[&bundle, "--now", NOW, "--no-revocation"]);
    assert_eq!((code, out.as_str()), (0, "valid\n"));
    let (code, out, _) = cli.run(&[&alone, "--chain", &chain, "--now", NOW, "--no-revocation"]);
    assert_eq!((code, out.as_str()), (0, "valid\n"));
}

#[test]
fn cli_prints_diagnostics_as_warnings() {
    let pki = pki();
    let mut files = pki.files.clone();
    files.push(file("ca/root/junk.pem", b"junk".to_vec()));
    let cli = Cli::new(&files);
    let leaf = cli.write("leaf.pem", pem_of(&pki.issuing.leaf("client", 10)));
    let (code, out, err) = cli.run(&[&leaf, "--now", NOW]);
    assert_eq!((code, out.as_str()), (0, "valid\n"));
    assert!(
        err.contains("warning: ca/root/junk.pem: not a certificate"),
        "{err}"
    );
}

#[test]
fn cli_exits_2_on_errors() {
    let pki = pki();
    let cli = Cli::new(&pki.files);
    let leaf = cli.write("leaf.pem", pem_of(&pki.issuing.leaf("client", 10)));
    let garbage = cli.write("garbage.pem", "garbage");
    let (code, _, err) = cli.run(&["/nonexistent/leaf.pem", "--now", NOW]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: cannot read /nonexistent/leaf.pem"),
        "{err}"
    );
    let (code, _, err) = cli.run(&[&garbage, "--now", NOW]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a certificate"), "{err}");
    let (code, _, _) = cli.run(&[&leaf, "--now", "yesterday"]);
    assert_eq!(code, 2);
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["cert", "verify", &leaf, "--config", "/nonexistent/config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deployment folder"));
}

#[test]
fn crl_of_a_ca_without_crl_sign_is_refused() {
    let root = Ca::root_with("No CRL Sign", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    });
    // rcgen refuses to sign with such an issuer: sign with the same name and key, but
    // parameters that allow it.
    let mut params = root.params.clone();
    params.key_usages.push(rcgen::KeyUsagePurpose::CrlSign);
    let signer = Ca {
        cert: root.cert.clone(),
        params,
        key: rcgen::KeyPair::try_from(root.key.serialize_der()).unwrap(),
    };
    let (store, diagnostics) = load(&[
        file("ca/root/root.pem", root.pem()),
        file("crl/root.crl", signer.crl(&[])),
    ]);
    let d = find(&diagnostics, DiagnosticKind::CrlIssuerNotCrlSigner);
    assert!(d.message.contains("does not allow cRLSign"), "{d}");
    assert_eq!(
        check(&store, &root.leaf("c", 1)),
        invalid(Reason::RevocationUnknown)
    );
    // Checked on first use: the same verdict, and then the same diagnostic.
    let files = [
        file("ca/root/root.pem", root.pem()),
        file("crl/root.crl", signer.crl(&[])),
    ];
    let (store, at_load) = TrustStore::from_files_with(&files, now(), Checks::OnFirstUse);
    assert_eq!(
        of_kinds(&at_load, &[DiagnosticKind::CrlIssuerNotCrlSigner]),
        []
    );
    assert_eq!(
        check(&store, &root.leaf("c", 1)),
        invalid(Reason::RevocationUnknown)
    );
    assert_eq!(
        of_kinds(
            &store.checked_on_first_use(),
            &[DiagnosticKind::CrlIssuerNotCrlSigner]
        ),
        std::slice::from_ref(d)
    );
}

#[test]
fn revocation_status_is_a_lookup_by_issuer_and_serial() {
    use certgate::trust::RevocationStatus;
    let pki = pki();
    let (store, _) = load(&pki.files);
    let issuing = cert(&pki.issuing.der());
    let root = cert(&pki.root.der());
    let revoked = cert(&pki.issuing.leaf("r", 66));
    let good = cert(&pki.issuing.leaf("g", 67));
    assert_eq!(
        store.revocation_status(&revoked, &issuing, now()),
        RevocationStatus::Revoked
    );
    assert_eq!(
        store.revocation_status(&good, &issuing, now()),
        RevocationStatus::NotRevoked
    );
    assert_eq!(
        store.revocation_status(&issuing, &root, now()),
        RevocationStatus::NotRevoked
    );
    assert_eq!(
        store.revocation_status(&good, &issuing, at(2026, 8, 1)),
        RevocationStatus::Stale
    );
    assert_eq!(
        store.revocation_status(&revoked, &issuing, at(2026, 8, 1)),
        RevocationStatus::Revoked
    );
    let other = Ca::root("Contoso Issuing CA");
    assert_eq!(
        store.revocation_status(&revoked, &cert(&other.der()), now()),
        RevocationStatus::NoCrl
    );
}

#[test]
fn files_in_unknown_ca_folders_are_reported() {
    let pki = pki();
    let mut files = pki.files.clone();
    files.push(file("ca/roots/typo.pem", pki.root.pem()));
    let (_, diagnostics) = load(&files);
    let d = find(&diagnostics, DiagnosticKind::Ignored);
    assert_eq!(d.path, "ca/roots/typo.pem");
    assert!(d.message.contains("ca/root/"), "{d}");
}

/// A CRL of a million entries loads once and is then one hash lookup per certificate.
/// Slow in debug builds: `cargo test --release --test trust -- --ignored million`.
#[test]
#[ignore = "slow: generates a CRL of 1,000,000 entries"]
fn million_entry_crl_loads_and_revokes() {
    let pki = pki();
    let serials: Vec<u64> = (1..=1_000_000u64).map(|i| i * 3).collect();
    let mut files = pki.files.clone();
    files[3] = file("crl/issuing.crl", pki.issuing.crl(&serials));
    let started = std::time::Instant::now();
    let (store, diagnostics) = load(&files);
    eprintln!(
        "loaded a {} byte CRL in {:?}",
        files[3].bytes.len(),
        started.elapsed()
    );
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(
        check(&store, &pki.issuing.leaf("r", 3 * 777_777)),
        invalid(Reason::Revoked)
    );
    assert_eq!(
        check(&store, &pki.issuing.leaf("g", 3 * 777_777 + 1)),
        Verdict::Valid
    );
}

#[test]
fn mutated_crls_and_certificates_never_panic() {
    let pki = pki();
    let leaf = pki.issuing.leaf("client", 10);
    let crl = pki.issuing.crl(&[66, 67, 68]);
    let root = pki.root.der();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..400 {
        let mut bad_crl = crl.clone();
        let mut bad_root = root.clone();
        for _ in 0..=(i % 3) {
            let at = (next() as usize) % bad_crl.len();
            bad_crl[at] ^= 1 << (next() % 8);
            let at = (next() as usize) % bad_root.len();
            bad_root[at] ^= 1 << (next() % 8);
        }
        bad_crl.truncate(bad_crl.len() - (i % 5) * (i % 11));
        let mut files = pki.files.clone();
        files[3] = file("crl/issuing.crl", bad_crl);
        files.push(file("ca/root/mutated.der", bad_root.clone()));
        files.push(file("ca/intermediate/mutated.der", bad_root.clone()));
        let (store, _) = load(&files);
        // A damaged CRL never verifies, so it can never revoke; the mutated root may
        // legitimately fail the chain in other ways (a changed date, say).
        let verdict = check(&store, &leaf);
        assert_ne!(verdict, invalid(Reason::Revoked));
        assert_ne!(
            verdict,
            Verdict::Valid,
            "a damaged CRL cannot vouch for a certificate"
        );
        if let Ok(mutated) = Certificate::from_der(&bad_root) {
            let _ = store.verify(&mutated, &[], now(), Revocation::Check);
            let _ = store.verify(&cert(&leaf), &[mutated], now(), Revocation::Check);
        }
    }
}

/// A CA whose basicConstraints is there twice is refused with its file named; the
/// chains through it do not verify, and the same certificate still decodes as a leaf
/// (as .NET reads it), only not as a CA.
#[test]
fn a_ca_with_basic_constraints_twice_is_refused_and_named() {
    let pki = pki();
    let twice = pki
        .root
        .intermediate_with("Twice CA", key(&rcgen::PKCS_ECDSA_P256_SHA256), |p| {
            // SEQUENCE { BOOLEAN TRUE }: cA, a second time.
            let mut ext = CustomExtension::from_oid_content(
                &[2, 5, 29, 19],
                vec![0x30, 0x03, 0x01, 0x01, 0xff],
            );
            ext.set_criticality(true);
            p.custom_extensions.push(ext);
        });
    let mut files = pki.files.clone();
    files.push(file("ca/intermediate/twice.pem", twice.pem()));
    let (store, diagnostics) = load(&files);
    let refused: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.path == "ca/intermediate/twice.pem")
        .collect();
    assert_eq!(refused.len(), 1, "{diagnostics:#?}");
    assert!(
        refused[0].message.contains("unparsable certificate"),
        "{}",
        refused[0].message
    );
    let leaf = twice.leaf("client", 7);
    assert!(no_check(&store, &leaf).reason().is_some());
    let decoded = cert(&twice.der());
    assert!(!decoded.is_ca());
    assert!(decoded.ca_constraints().basic.is_err());
}
