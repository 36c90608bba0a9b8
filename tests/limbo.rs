//! x509-limbo conformance: every case of the suite that applies to `Verify()` runs
//! through the real [`TrustStore::verify_for_purpose`], and the verdict is compared with
//! the expected result. The cases certgate knowingly decides otherwise are listed in
//! [`EXPECTED_DISAGREEMENTS`], each with its reason: the test fails when a new
//! disagreement appears and when a listed one disappears, so the list stays reviewed.
//!
//! The suite and webpki's own results on it live in `shared/conformance/` beside the
//! checkout (see its README); `CERTGATE_CONFORMANCE=dir` points elsewhere. The summary
//! (cases run, agreement of certgate and of webpki) is written to stderr directly, so it
//! shows in the output of a passing test too.
//!
//! How a case maps to `Verify()`:
//!
//! * `trusted_certs` go to `ca/root/`, `crls` to `crl/`; the peer certificate and
//!   `untrusted_intermediates` are the chain the client presents, decoded as one PEM
//!   chain as the gateway decodes a forwarded chain.
//! * With CRLs the case runs `Verify()` ([`Revocation::Check`]), without them
//!   `VerifyNoRevocation()` (certgate's `Verify()` fails every chain without CRLs).
//! * CLIENT cases check the clientAuth extended key usage, as `Verify()` does. SERVER
//!   cases judge the same chain for serverAuth ([`Purpose::ServerAuth`]) and leave the
//!   peer-name check out, which is no part of `Verify()`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use certgate::cert::decode_chain;
use certgate::files::SourceFile;
use certgate::trust::{
    Checks, Diagnostic, MAX_PRESENTED_INTERMEDIATES, Purpose, Revocation, Severity, TrustStore,
    Verification,
};
use rustls_pki_types::{CertificateDer, ServerName};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The suite's schema, as far as `Verify()` needs it (upstream `limbo/models.py`).
#[derive(Deserialize)]
struct Suite {
    testcases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    features: Vec<String>,
    validation_kind: Kind,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    key_usage: Vec<String>,
    expected_result: Outcome,
    expected_peer_name: Option<PeerName>,
    max_chain_depth: Option<u32>,
    crls: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
enum Kind {
    Client,
    Server,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "UPPERCASE")]
enum Outcome {
    Success,
    Failure,
    Skipped,
}

#[derive(Deserialize)]
struct PeerName {
    value: String,
}

/// upstream's `LimboResult`: what another verifier's harness decided per case.
#[derive(Deserialize)]
struct Results {
    results: Vec<CaseResult>,
}

#[derive(Deserialize)]
struct CaseResult {
    id: String,
    actual_result: Outcome,
}

/// The longest path `Verify()` follows: 6 intermediates (webpki's limit).
const VERIFY_MAX_DEPTH: u32 = 6;

/// Why a case is outside what `Verify()` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NotApplicable {
    /// A SERVER case expected to fail whose leaf does not match the expected peer name
    /// (by webpki's matching), or that tests a peer-name rule webpki's matching lacks
    /// (wildcards over a public suffix): the failure may be the name alone, which
    /// `Verify()` does not check.
    PeerName,
    /// The case sets a chain depth below `Verify()`'s own limit; `Verify()` has no such
    /// setting.
    ChainDepthSetting,
    /// The case asks for a keyUsage of the leaf; `Verify()` asks for none.
    KeyUsageSetting,
}

impl NotApplicable {
    fn why(self) -> &'static str {
        match self {
            Self::PeerName => {
                "expected failure may rest on the peer name, which Verify() does not check"
            }
            Self::ChainDepthSetting => "sets a chain depth below 6; Verify() has no depth setting",
            Self::KeyUsageSetting => "requires a leaf keyUsage; Verify() requires none",
        }
    }
}

fn classify(case: &Case) -> Result<(), NotApplicable> {
    if case
        .max_chain_depth
        .is_some_and(|depth| depth < VERIFY_MAX_DEPTH)
    {
        return Err(NotApplicable::ChainDepthSetting);
    }
    if !case.key_usage.is_empty() {
        return Err(NotApplicable::KeyUsageSetting);
    }
    let name_rule = case
        .features
        .iter()
        .any(|f| f == "pedantic-public-suffix-wildcard");
    if case.validation_kind == Kind::Server
        && case.expected_result == Outcome::Failure
        && (name_rule || !leaf_matches_peer_name(case))
    {
        return Err(NotApplicable::PeerName);
    }
    Ok(())
}

/// Whether the leaf is valid for the expected peer name, by webpki's name matching. A
/// leaf webpki cannot read, or a case without a peer name, matches: the case is then
/// judged on its chain.
fn leaf_matches_peer_name(case: &Case) -> bool {
    let Some(peer) = &case.expected_peer_name else {
        return true;
    };
    let Some(der) = pem_der(&case.peer_certificate) else {
        return true;
    };
    let Ok(leaf) = webpki::EndEntityCert::try_from(&der) else {
        return true;
    };
    match ServerName::try_from(peer.value.as_str()) {
        Ok(name) => leaf.verify_is_valid_for_subject_name(&name).is_ok(),
        Err(_) => false,
    }
}

fn pem_der(pem: &str) -> Option<CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject as _;
    CertificateDer::from_pem_slice(pem.as_bytes()).ok()
}

/// The validation time of cases that name none ("now" upstream): pinned, so the run
/// never depends on the clock. Every such case's certificates are valid from 1970 to
/// 2969.
fn default_time() -> OffsetDateTime {
    time::macros::datetime!(2026-06-29 00:00 UTC)
}

/// Where a case's untrusted intermediates go.
#[derive(Clone, Copy)]
enum Intermediates {
    /// Presented by the client after its certificate, as the suite means them.
    Presented,
    /// Deployed under `ca/intermediate/` of a store loaded so, the client presenting its
    /// certificate alone.
    Deployed(Checks),
}

/// What certgate decides for an applicable case.
fn run(case: &Case) -> Verification {
    run_with(case, Intermediates::Presented).0
}

/// [`run`] with the intermediates where `intermediates` says, and the errors of the
/// store's load and of its checks on first use.
fn run_with(case: &Case, intermediates: Intermediates) -> (Verification, Vec<Diagnostic>) {
    let file = |path: String, pem: &String| SourceFile::new(path, pem.as_bytes());
    let mut files: Vec<SourceFile> = Vec::new();
    for (i, pem) in case.trusted_certs.iter().enumerate() {
        files.push(file(format!("ca/root/{i}.pem"), pem));
    }
    for (i, pem) in case.crls.iter().enumerate() {
        files.push(file(format!("crl/{i}.pem"), pem));
    }
    let (checks, presented) = match intermediates {
        Intermediates::Presented => (Checks::Now, &case.untrusted_intermediates[..]),
        Intermediates::Deployed(checks) => {
            for (i, pem) in case.untrusted_intermediates.iter().enumerate() {
                files.push(file(format!("ca/intermediate/{i}.pem"), pem));
            }
            (checks, &[][..])
        }
    };
    let time = match &case.validation_time {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339).expect("the suite's RFC 3339 time"),
        None => default_time(),
    };
    let (store, mut errors) = TrustStore::from_files_with(&files, time, checks);
    let verification = verify(case, &store, presented, time);
    // Then every intermediate checked (those the chain did not reach, on first use), for
    // all the errors of the load.
    store.intermediates();
    errors.extend(store.checked_on_first_use());
    errors.retain(|d| d.severity == Severity::Error);
    (verification, errors)
}

fn verify(
    case: &Case,
    store: &TrustStore,
    intermediates: &[String],
    time: OffsetDateTime,
) -> Verification {
    let presented = std::iter::once(&case.peer_certificate)
        .chain(intermediates)
        .map(|pem| format!("{}\n", pem.trim_end()))
        .collect::<String>();
    let mut chain = match decode_chain(presented.as_bytes()) {
        Ok(chain) if !chain.is_empty() => chain,
        Ok(_) => return undecodable("no certificate".to_owned()),
        Err(e) => return undecodable(e.to_string()),
    };
    let leaf = chain.remove(0);
    let revocation = if case.crls.is_empty() {
        Revocation::NoCheck
    } else {
        Revocation::Check
    };
    let purpose = match case.validation_kind {
        Kind::Client => Purpose::ClientAuth,
        Kind::Server => Purpose::ServerAuth,
    };
    store.verify_for_purpose(&leaf, &chain, time, revocation, purpose)
}

/// The presented chain does not decode: the policy sees no certificate, so `Verify()`
/// cannot be true.
fn undecodable(why: String) -> Verification {
    Verification {
        verdict: certgate::trust::Verdict::Invalid(certgate::trust::Reason::Malformed),
        detail: Some(format!("the presented chain does not decode: {why}")),
    }
}

// Reasons for the expected disagreements, one per cause.
const PRESENTED_CAP: &str = "certgate takes at most 4 distinct presented intermediates \
     (MAX_PRESENTED_INTERMEDIATES, a bound on path-building work); this chain presents more";
const DECODE_CAP: &str = "certgate decodes at most 16 certificates of a presented chain \
     (MAX_CHAIN_LENGTH); this one has 36";
const CA_AS_LEAF: &str = "a CA certificate (cA=true) as the client certificate is refused \
     by design (CaUsedAsLeaf), as webpki does";
const SELF_ISSUED: &str = "webpki 0.103 counts a self-issued intermediate (key rollover) \
     against pathLenConstraint and applies nameConstraints to it, which RFC 5280 exempts: \
     fails closed, as in webpki's own results";
const DN_NC: &str =
    "webpki 0.103 does not evaluate directoryName nameConstraints: a chain under them fails closed";
const EMAIL_NC: &str =
    "webpki 0.103 does not evaluate rfc822Name nameConstraints: a chain under them fails closed";
const KEY_IDS: &str = "RFC 5280 issuing rule on authority/subject key identifiers \
     (presence, criticality): webpki matches issuers by name and signature and does not check it";
const CRITICALITY: &str = "RFC 5280 criticality of nameConstraints, policyConstraints or \
     subjectAltName: webpki processes the extension whatever its criticality";
const CA_PROFILE: &str = "RFC 5280 profile of a CA or trust anchor (critical basicConstraints, \
     keyCertSign, non-empty subject): webpki ignores keyUsage of CAs and a trust anchor's \
     extensions other than nameConstraints";
const NC_FORM: &str = "a malformed or misplaced nameConstraints (leading-period dNSName, \
     no subtrees, in an end entity): webpki applies what it can read";
const LEAF_PROFILE: &str = "RFC 5280 / CABF profile of the leaf (serial number form, \
     keyCertSign without cA, underscore in a dNSName, malformed AIA): not checked by webpki";
const CN_RULE: &str =
    "CABF rule that the subject CN repeat a SAN: webpki (and Verify()) never read the CN";
const CABF_EKU: &str = "CABF EKU profile (no anyExtendedKeyUsage, not critical, present \
     in the leaf, absent from the root): webpki does not apply it; no EKU means any usage";
const CABF_KEYS: &str = "CABF key rules (no DSA or P-192, RSA of at least 2048 bits and a \
     multiple of 8): webpki checks a key only when it verifies a signature, within ring's limits";
const CRL_PROFILE: &str = "CRL profile rule (crlNumber present and non-critical): \
     certgate's CRL loader accepts such a CRL, as webpki does";

/// Cases where certgate's verdict knowingly differs from the expected result, and why.
/// Reviewed: a new disagreement, or a listed one that disappears, fails the test.
const EXPECTED_DISAGREEMENTS: &[(&str, &str)] = &[
    ("cve::cve-2024-0567", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc48", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc49", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc50", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc51", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc52", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc53", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc54", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc55", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc56", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc57", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc58", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc59", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc60", PRESENTED_CAP),
    ("bettertls::pathbuilding::tc61", DECODE_CAP),
    ("bettertls::pathbuilding::tc62", DECODE_CAP),
    ("bettertls::pathbuilding::tc63", DECODE_CAP),
    ("bettertls::pathbuilding::tc64", DECODE_CAP),
    ("bettertls::pathbuilding::tc65", DECODE_CAP),
    ("bettertls::pathbuilding::tc66", DECODE_CAP),
    ("bettertls::pathbuilding::tc67", DECODE_CAP),
    ("bettertls::pathbuilding::tc68", DECODE_CAP),
    ("pathlen::validation-ignores-pathlen-in-leaf", CA_AS_LEAF),
    ("rfc5280::ca-as-leaf", CA_AS_LEAF),
    ("pathlen::self-issued-certs-pathlen", SELF_ISSUED),
    ("rfc5280::nc::permitted-self-issued", SELF_ISSUED),
    ("rfc5280::nc::permitted-dn-match", DN_NC),
    ("rfc5280::nc::nc-permits-email-exact", EMAIL_NC),
    ("rfc5280::nc::nc-permits-email-domain", EMAIL_NC),
    (
        "rfc5280::nc::nc-permits-email-literal-asterisk-exact-match",
        EMAIL_NC,
    ),
    (
        "rfc5280::nc::nc-permits-email-literal-double-asterisk",
        EMAIL_NC,
    ),
    (
        "rfc5280::nc::nc-permits-email-literal-mid-asterisk",
        EMAIL_NC,
    ),
    ("rfc5280::aki::leaf-missing-aki", KEY_IDS),
    ("rfc5280::aki::intermediate-missing-aki", KEY_IDS),
    ("rfc5280::aki::cross-signed-root-missing-aki", KEY_IDS),
    ("rfc5280::ski::root-missing-ski", KEY_IDS),
    ("rfc5280::ski::intermediate-missing-ski", KEY_IDS),
    ("webpki::aki::root-with-aki-missing-keyidentifier", KEY_IDS),
    ("webpki::aki::root-with-aki-authoritycertissuer", KEY_IDS),
    (
        "webpki::aki::root-with-aki-authoritycertserialnumber",
        KEY_IDS,
    ),
    ("webpki::aki::root-with-aki-all-fields", KEY_IDS),
    ("webpki::aki::root-with-aki-ski-mismatch", KEY_IDS),
    ("rfc5280::nc::permitted-dns-match-noncritical", CRITICALITY),
    ("rfc5280::pc::ica-noncritical-pc", CRITICALITY),
    ("rfc5280::san::noncritical-with-empty-subject", CRITICALITY),
    (
        "webpki::san::san-critical-with-nonempty-subject",
        CRITICALITY,
    ),
    ("rfc5280::root-non-critical-basic-constraints", CA_PROFILE),
    ("rfc5280::root-inconsistent-ca-extensions", CA_PROFILE),
    ("rfc5280::ca-empty-subject", CA_PROFILE),
    ("rfc5280::nc::invalid-dnsname-leading-period", NC_FORM),
    ("rfc5280::nc::not-allowed-in-ee-noncritical", NC_FORM),
    ("rfc5280::nc::not-allowed-in-ee-critical", NC_FORM),
    (
        "webpki::nc::intermediate-permitted-excluded-subtrees-both-null",
        NC_FORM,
    ),
    (
        "webpki::nc::intermediate-permitted-excluded-subtrees-both-empty-sequences",
        NC_FORM,
    ),
    ("rfc5280::serial::too-long", LEAF_PROFILE),
    ("rfc5280::serial::zero", LEAF_PROFILE),
    ("rfc5280::leaf-ku-keycertsign", LEAF_PROFILE),
    ("rfc5280::san::underscore-dns", LEAF_PROFILE),
    ("webpki::malformed-aia", LEAF_PROFILE),
    ("webpki::cn::ipv4-hex-mismatch", CN_RULE),
    ("webpki::cn::ipv4-leading-zeros-mismatch", CN_RULE),
    ("webpki::cn::ipv6-uppercase-mismatch", CN_RULE),
    ("webpki::cn::ipv6-uncompressed-mismatch", CN_RULE),
    ("webpki::cn::ipv6-non-rfc5952-mismatch", CN_RULE),
    ("webpki::cn::punycode-not-in-san", CN_RULE),
    ("webpki::cn::utf8-vs-punycode-mismatch", CN_RULE),
    ("webpki::cn::not-in-san", CN_RULE),
    ("webpki::cn::case-mismatch", CN_RULE),
    ("webpki::eku::ee-anyeku", CABF_EKU),
    ("webpki::eku::ee-critical-eku", CABF_EKU),
    ("webpki::eku::ee-without-eku", CABF_EKU),
    ("webpki::eku::root-has-eku", CABF_EKU),
    ("webpki::forbidden-p192-leaf", CABF_KEYS),
    ("webpki::forbidden-dsa-leaf", CABF_KEYS),
    ("webpki::forbidden-weak-rsa-in-leaf", CABF_KEYS),
    (
        "webpki::forbidden-rsa-not-divisible-by-8-in-root",
        CABF_KEYS,
    ),
    (
        "webpki::forbidden-rsa-key-not-divisible-by-8-in-leaf",
        CABF_KEYS,
    ),
    ("crl::crlnumber-missing", CRL_PROFILE),
    ("crl::crlnumber-critical", CRL_PROFILE),
];

fn conformance_dir() -> PathBuf {
    match std::env::var_os("CERTGATE_CONFORMANCE") {
        Some(dir) => PathBuf::from(dir),
        // The suite ships in `shared/` beside the repository's checkout.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"),
    }
}

/// A `.json.gz` file of the conformance folder, decompressed and parsed.
fn read_gz<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = conformance_dir().join(name);
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gzip for {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "cannot read {} (set CERTGATE_CONFORMANCE to the folder holding the x509-limbo suite): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{} is not what the test expects: {e}", path.display()))
}

/// Agreement counts of one verifier over a set of cases.
#[derive(Default)]
struct Tally {
    agree: usize,
    disagree: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, expected: Outcome, actual: Outcome) {
        match actual {
            Outcome::Skipped => self.skipped += 1,
            _ if actual == expected => self.agree += 1,
            _ => self.disagree += 1,
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agree {}, disagree {}, skipped {}",
            self.agree, self.disagree, self.skipped
        )
    }
}

#[test]
fn x509_limbo_cases_that_apply_to_verify_agree_or_are_listed() {
    let suite: Suite = read_gz("limbo.json.gz");
    let webpki: Results = read_gz("results-rustls-webpki-0.103.13-ring.json.gz");
    let webpki: BTreeMap<&str, Outcome> = webpki
        .results
        .iter()
        .map(|r| (r.id.as_str(), r.actual_result))
        .collect();
    let listed: BTreeMap<&str, &str> = EXPECTED_DISAGREEMENTS.iter().copied().collect();
    assert_eq!(
        listed.len(),
        EXPECTED_DISAGREEMENTS.len(),
        "a case is listed twice"
    );

    let mut not_applicable: BTreeMap<NotApplicable, usize> = BTreeMap::new();
    let (mut certgate, mut webpki_applicable, mut webpki_all) =
        (Tally::default(), Tally::default(), Tally::default());
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut listed_but_agree = Vec::new();
    let mut ran_listed = 0;
    let mut differs_from_webpki = Vec::new();
    for case in &suite.testcases {
        let webpki_result = webpki
            .get(case.id.as_str())
            .copied()
            .unwrap_or(Outcome::Skipped);
        webpki_all.add(case.expected_result, webpki_result);
        if let Err(why) = classify(case) {
            *not_applicable.entry(why).or_default() += 1;
            continue;
        }
        webpki_applicable.add(case.expected_result, webpki_result);
        let verification = run(case);
        let actual = if verification.verdict.is_valid() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        certgate.add(case.expected_result, actual);
        if webpki_result != Outcome::Skipped && webpki_result != actual {
            differs_from_webpki.push(case.id.as_str());
        }
        let agrees = actual == case.expected_result;
        match (agrees, listed.get(case.id.as_str())) {
            (true, None) => {}
            (true, Some(_)) => listed_but_agree.push(case.id.clone()),
            (false, Some(reason)) => {
                ran_listed += 1;
                *by_reason.entry(reason).or_default() += 1;
            }
            (false, None) => unexpected.push(format!(
                "{}: expected {:?}, certgate says {} ({})",
                case.id,
                case.expected_result,
                verification.verdict,
                verification.detail.as_deref().unwrap_or("-")
            )),
        }
    }

    let applicable = certgate.agree + certgate.disagree;
    let mut summary = format!(
        "x509-limbo: {} cases; {applicable} apply to Verify(), {} do not:\n",
        suite.testcases.len(),
        not_applicable.values().sum::<usize>()
    );
    for (why, n) in &not_applicable {
        summary.push_str(&format!("  {n:5}  {why:?}: {}\n", why.why()));
    }
    summary.push_str(&format!(
        "certgate on those {applicable}: agree {}, disagree {}\n",
        certgate.agree, certgate.disagree
    ));
    for (reason, n) in &by_reason {
        summary.push_str(&format!("  {n:5}  {reason}\n"));
    }
    summary.push_str(&format!(
        "webpki 0.103.13 (upstream harness, peer name checked) on those {applicable}: {webpki_applicable}\n\
         webpki 0.103.13 on all {}: {webpki_all}\n\
         certgate and webpki decide {} of the {applicable} differently: {differs_from_webpki:?}\n",
        suite.testcases.len(),
        differs_from_webpki.len()
    ));
    // Past the test harness's capture: the summary shows for a passing run too.
    let _ = std::io::stderr().write_all(summary.as_bytes());

    let missing: Vec<&str> = listed
        .keys()
        .copied()
        .filter(|id| {
            !suite
                .testcases
                .iter()
                .any(|c| c.id == *id && classify(c).is_ok())
        })
        .collect();
    assert!(
        unexpected.is_empty() && listed_but_agree.is_empty() && missing.is_empty(),
        "{summary}\n{} new disagreement(s):\n{}\n\nlisted but now agreeing (remove from \
         EXPECTED_DISAGREEMENTS): {listed_but_agree:?}\nlisted but not run: {missing:?}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert_eq!(ran_listed, listed.len());
}

/// The suite's chains with their intermediates deployed in the store rather than
/// presented: checked at load or when a chain first reaches them, the store decides
/// alike (verdict and explanation, and the same errors in the end); and it decides as
/// (verdict and explanation) when the client presents them, but where the store refuses
/// an intermediate (an error of its load) or there are more than a client may present
/// ([`MAX_PRESENTED_INTERMEDIATES`]). So the store hands webpki every intermediate a path
/// could use, however few it checks.
#[test]
fn limbo_intermediates_deployed_in_the_store_decide_as_presented_and_alike_checked_now_or_on_first_use()
 {
    let suite: Suite = read_gz("limbo.json.gz");
    let (mut compared, mut refused, mut too_many) = (0, 0, 0);
    let mut differ = Vec::new();
    for case in &suite.testcases {
        if classify(case).is_err() || case.untrusted_intermediates.is_empty() {
            continue;
        }
        let (at_load, load_errors) = run_with(case, Intermediates::Deployed(Checks::Now));
        let (on_first_use, first_use_errors) =
            run_with(case, Intermediates::Deployed(Checks::OnFirstUse));
        assert_eq!(at_load, on_first_use, "{}", case.id);
        let paths = |errors: &[Diagnostic]| {
            let mut paths: Vec<String> = errors.iter().map(|d| d.path.clone()).collect();
            paths.sort();
            paths
        };
        assert_eq!(paths(&load_errors), paths(&first_use_errors), "{}", case.id);
        if load_errors
            .iter()
            .any(|d| d.path.starts_with("ca/intermediate/"))
        {
            refused += 1;
            continue;
        }
        if case.untrusted_intermediates.len() > MAX_PRESENTED_INTERMEDIATES {
            too_many += 1;
            continue;
        }
        compared += 1;
        let presented = run(case);
        if presented != at_load {
            differ.push(format!(
                "{}: presented {:?}, deployed {:?} ({})",
                case.id,
                presented.verdict,
                at_load.verdict,
                at_load.detail.unwrap_or_default()
            ));
        }
    }
    eprintln!(
        "limbo with deployed intermediates: {compared} compared with presented, {refused} with an \
         intermediate the store refuses, {too_many} with more than a client may present"
    );
    assert!(compared > 100, "{compared} cases compared");
    assert_eq!(differ, Vec::<String>::new());
}

/// Every certificate of the suite (trusted, intermediate and peer: about 30,000, some
/// malformed on purpose) is read by certgate's reader of the certificate's structure
/// (`cert/tbs.rs`) exactly when x509-parser, which it replaced, reads it, and the two
/// agree on the serial number, validity, version and signature algorithm.
#[test]
fn certificates_decode_as_x509_parser_read_them() {
    use x509_parser::certificate::X509CertificateParser;
    use x509_parser::nom::Parser as _;

    let suite: Suite = read_gz("limbo.json.gz");
    let mut seen = std::collections::BTreeSet::new();
    let (mut read, mut refused, mut differ) = (0, 0, Vec::new());
    for case in &suite.testcases {
        let pems = case
            .trusted_certs
            .iter()
            .chain(&case.untrusted_intermediates)
            .chain([&case.peer_certificate]);
        for der in
            pems.flat_map(|pem| certgate::cert::split_chain(pem.as_bytes()).unwrap_or_default())
        {
            if !seen.insert(der.clone()) {
                continue;
            }
            let ours = certgate::cert::Certificate::from_der(&der);
            let theirs = X509CertificateParser::new()
                .with_deep_parse_extensions(false)
                .parse(&der)
                .ok()
                .filter(|(rest, _)| rest.is_empty());
            match (ours, theirs) {
                (Ok(c), Some((_, x))) => {
                    let tbs = &x.tbs_certificate;
                    let serial: String = tbs
                        .raw_serial()
                        .iter()
                        .map(|b| format!("{b:02X}"))
                        .collect();
                    if c.not_before() == tbs.validity.not_before.to_datetime()
                        && c.not_after() == tbs.validity.not_after.to_datetime()
                        && c.version() == tbs.version.0 + 1
                        && c.serial_number() == serial
                        && c.signature_algorithm().value
                            == x.signature_algorithm.algorithm.to_id_string()
                    {
                        read += 1;
                    } else {
                        differ.push(format!("{}: the fields differ", case.id));
                    }
                }
                (Err(_), None) => refused += 1,
                (Ok(_), None) => differ.push(format!("{}: only certgate reads it", case.id)),
                (Err(e), Some(_)) => {
                    differ.push(format!("{}: only x509-parser reads it ({e})", case.id));
                }
            }
        }
    }
    assert!(
        differ.is_empty() && read > 10_000,
        "{read} read alike, {refused} refused alike, {} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
