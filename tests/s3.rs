//! The S3 deployment source, refresh and `certgate trust push|ls|pull`, against a real S3
//! API: `moto_server` on loopback, one per test (see `common/moto.rs`).

mod common;
#[path = "common/s3_cli.rs"]
mod s3_cli;
#[path = "common/trust_pki.rs"]
mod trust_pki;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, VersioningConfiguration,
};
use certgate::files::SourceFile;
use certgate::gateway::{CheckFailed, check_deployment};
use certgate::source::bundle::{BUNDLE_NAME, BundleError, JSON_BUNDLE_NAME};
use certgate::source::push::{PushOptions, PushReport, push, truststore_pem};
use certgate::source::refresh::{RefreshError, Refreshed, Refresher};
use certgate::source::s3::{ClientOptions, Fetch, S3Error, S3Location, S3Source, s3_client};
use certgate::source::secrets::SecretValues;
use certgate::source::{Limits, content_version};
use common::moto::{Moto, client_options, free_port};
use rcgen::{CertificateParams, DnType};
use time::OffsetDateTime;
use time::macros::datetime;
use trust_pki::{Ca, at};

const BUCKET: &str = "trust-bucket";
const NOW: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);

// ---------------------------------------------------------------- test PKI and folders

/// A root and an intermediate CA with fixed dates, and a CRL (DER) of the root that went
/// stale on 2025-07-01.
struct Pki {
    root: String,
    root_der: Vec<u8>,
    intermediate: String,
    intermediate_der: Vec<u8>,
    crl: Vec<u8>,
}

/// The test PKI's CA as these tests print it: `O=Contoso, CN=...` (the organisation
/// encoded last), valid until `not_after`.
fn contoso(not_after: (i32, u8, u8)) -> impl FnOnce(&mut CertificateParams) {
    move |params| {
        let name = &mut params.distinguished_name;
        name.remove(DnType::OrganizationName);
        name.push(DnType::OrganizationName, "Contoso");
        params.not_after = at(not_after.0, not_after.1, not_after.2);
    }
}

fn p256() -> rcgen::KeyPair {
    trust_pki::key(&rcgen::PKCS_ECDSA_P256_SHA256)
}

fn pki() -> Pki {
    let root = Ca::root_with("S3 Test Root", p256(), contoso((2035, 3, 4)));
    let intermediate =
        root.intermediate_with("S3 Test Intermediate", p256(), contoso((2034, 1, 1)));
    let crl = root.crl_with(|crl| {
        crl.this_update = at(2025, 6, 1);
        crl.next_update = at(2025, 7, 1);
    });
    Pki {
        root: root.pem(),
        root_der: root.der(),
        intermediate: intermediate.pem(),
        intermediate_der: intermediate.der(),
        crl,
    }
}

fn config(service_name: &str) -> String {
    format!(
        "[deployment]\nservice_name = \"{service_name}\"\n\n\
         [[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"https://orders.internal\"\n"
    )
}

fn deployment(pki: &Pki, service_name: &str) -> Vec<SourceFile> {
    vec![
        SourceFile::new("gateway.toml", config(service_name)),
        SourceFile::new("ca/root/root.pem", pki.root.clone()),
        SourceFile::new("ca/intermediate/intermediate.pem", pki.intermediate.clone()),
        SourceFile::new("crl/root.crl", pki.crl.clone()),
        SourceFile::new("policies/readme.txt", "policies come later\n"),
    ]
}

// ---------------------------------------------------------------- S3 helpers

async fn client(endpoint: String) -> Client {
    s3_client(&client_options(endpoint))
        .await
        .expect("an S3 client")
}

async fn versioned_bucket(client: &Client) {
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    client
        .put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A versioned bucket on a fresh moto and a source for `s3://trust-bucket/prod`.
async fn setup() -> (Moto, S3Source) {
    let moto = Moto::start();
    let client = client(moto.url()).await;
    versioned_bucket(&client).await;
    let location: S3Location = format!("s3://{BUCKET}/prod").parse().unwrap();
    (moto, S3Source::new(client, location))
}

/// A fresh moto with `deployment(&pki, "contoso")` pushed to `s3://trust-bucket/prod`.
async fn contoso_pushed() -> (Moto, S3Source, Pki) {
    let (moto, source) = setup().await;
    let pki = pki();
    push_files(&source, &deployment(&pki, "contoso")).await;
    (moto, source, pki)
}

/// What `trust push` uploads, without the CLI's check (so broken deployments can be put).
async fn push_files(source: &S3Source, files: &[SourceFile]) -> PushReport {
    let (store, _) = certgate::trust::TrustStore::from_files(files, NOW);
    push(
        source,
        files,
        &truststore_pem(&store),
        &PushOptions {
            delete: false,
            now: NOW,
        },
    )
    .await
    .unwrap()
}

/// `files` as the bundle of format 1 (JSON) that certgate pushed before format 2.
fn json_bundle(files: &[SourceFile]) -> Vec<u8> {
    use base64::Engine as _;
    let mut sorted = files.to_vec();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let entries: Vec<serde_json::Value> = sorted
        .iter()
        .map(|file| {
            serde_json::json!({
                "path": file.path,
                "size": file.bytes.len(),
                "sha256": certgate::text::hex_lower(
                    ring::digest::digest(&ring::digest::SHA256, &file.bytes).as_ref()
                ),
                "content": base64::engine::general_purpose::STANDARD.encode(&file.bytes),
            })
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({
        "format": "certgate-deployment",
        "format_version": 1,
        "version": content_version(files),
        "pushed_at": "2026-06-01T00:00:00Z",
        "files": entries,
    }))
    .unwrap()
}

/// The paths of the objects under the source's prefix.
async fn listed(source: &S3Source) -> Vec<String> {
    source
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.path)
        .collect()
}

async fn put_object(source: &S3Source, path: &str, bytes: impl Into<Vec<u8>>) {
    source
        .client()
        .put_object()
        .bucket(BUCKET)
        .key(source.location().key(path))
        .body(ByteStream::from(bytes.into()))
        .send()
        .await
        .unwrap();
}

/// A refresher whose snapshot value is the service name, counting builds.
#[allow(clippy::type_complexity)]
fn refresher(
    source: S3Source,
) -> (
    Refresher<
        S3Source,
        String,
        impl Fn(&[SourceFile], &str, SecretValues) -> Result<String, CheckFailed>,
    >,
    Arc<AtomicUsize>,
) {
    let builds = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&builds);
    let refresher = Refresher::new(source, move |files: &[SourceFile], _: &str, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        check_deployment(files, NOW)
            .map(|checked| checked.deployment.config.deployment.service_name)
    });
    (refresher, builds)
}

// ---------------------------------------------------------------- source and refresh

#[tokio::test]
async fn cold_start_loads_the_bundle_in_one_conditional_get() {
    let (_moto, source, pki) = contoso_pushed().await;
    let files = deployment(&pki, "contoso");

    let (refresher, builds) = refresher(source.clone());
    let loaded = refresher.load_initial().await.unwrap();
    assert_eq!(loaded.value, "contoso");
    assert_eq!(loaded.version, content_version(&files));
    assert_eq!(loaded.pushed_at, Some(NOW));
    assert!(loaded.etag.is_some());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    let snapshot = refresher.snapshot();
    assert_eq!(snapshot.version(), Some(loaded.version.clone()));
    assert_eq!(snapshot.last_error(), None);

    // The same ETag again: S3 answers 304 and the SDK's error becomes NotModified.
    let etag = loaded.etag.as_deref();
    assert!(matches!(
        source.fetch(etag).await.unwrap(),
        Fetch::NotModified
    ));
    assert!(matches!(
        source.fetch(Some("\"0123\"")).await.unwrap(),
        Fetch::Loaded(_)
    ));
}

/// A body of a few MB reaches the client in many chunks (hyper reads at most some
/// hundreds of KB at a time); the bundle's files are cut out of them, and copied only
/// across chunk boundaries: every byte must land in its file.
#[tokio::test]
async fn a_bundle_of_many_chunks_reads_back_byte_for_byte() {
    let (_moto, source, pki) = contoso_pushed().await;
    let mut files = deployment(&pki, "contoso");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..5 {
        // Odd sizes, so that the files start and end anywhere in a chunk.
        let content: Vec<u8> = (0..700_001 + 37 * i)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        files.push(SourceFile::new(format!("extra/blob-{i}.bin"), content));
    }
    push_files(&source, &files).await;

    let Fetch::Loaded(fetched) = source.fetch(None).await.unwrap() else {
        panic!("a pushed bundle is loaded");
    };
    files.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(fetched.version, content_version(&files));
    assert_eq!(fetched.files.len(), files.len());
    for (read, pushed) in fetched.files.iter().zip(&files) {
        assert_eq!(read.path, pushed.path);
        assert!(read.bytes == pushed.bytes, "{} differs", read.path);
    }
}

#[tokio::test]
async fn without_a_bundle_the_files_are_read_one_by_one_with_a_warning() {
    let (_moto, source) = setup().await;
    let pki = pki();
    let files = deployment(&pki, "contoso");
    for file in &files {
        put_object(&source, &file.path, file.bytes.clone()).await;
    }
    // Not part of the deployment: the generated truststore, a console folder marker and
    // an object of a neighbouring prefix.
    put_object(&source, "truststore.pem", pki.root.clone()).await;
    put_object(&source, "ca/", Vec::new()).await;
    source
        .client()
        .put_object()
        .bucket(BUCKET)
        .key("prod-other/gateway.toml")
        .body(ByteStream::from_static(b"not ours"))
        .send()
        .await
        .unwrap();

    let (refresher, builds) = refresher(source);
    let loaded = refresher.load_initial().await.unwrap();
    assert_eq!(loaded.value, "contoso");
    assert_eq!(loaded.version, content_version(&files));
    assert_eq!(loaded.etag, None);
    assert_eq!(loaded.pushed_at, None);
    assert!(
        loaded.warnings[0].contains("no certgate-deployment.bin"),
        "{:?}",
        loaded.warnings
    );

    // Unchanged files: same version, nothing rebuilt.
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(builds.load(Ordering::SeqCst), 1);
}

/// A bundle an older certgate pushed (format 1, `certgate-deployment.json`) is read, with
/// a warning to push again; the next push writes the binary bundle and deletes the old
/// one, which an older function would otherwise go on reading.
#[tokio::test]
async fn an_old_json_bundle_is_read_with_a_warning_until_a_push_replaces_it() {
    let (_moto, source) = setup().await;
    let pki = pki();
    let files = deployment(&pki, "contoso");
    put_object(&source, JSON_BUNDLE_NAME, json_bundle(&files)).await;

    let (refresher, _) = refresher(source.clone());
    let loaded = refresher.load_initial().await.unwrap();
    assert_eq!(loaded.value, "contoso");
    assert_eq!(loaded.version, content_version(&files));
    assert_eq!(loaded.pushed_at, Some(NOW));
    assert!(loaded.etag.is_some());
    assert!(
        loaded.warnings[0].contains("certgate-deployment.json under s3://trust-bucket/prod is a bundle of the old format (JSON)")
            && loaded.warnings[0].contains("run `certgate trust push`"),
        "{:?}",
        loaded.warnings
    );
    // Its ETag makes the next refresh a 304, as the binary bundle's does.
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));

    let report = push_files(&source, &deployment(&pki, "fabrikam")).await;
    assert_eq!(report.deleted, [JSON_BUNDLE_NAME]);
    let paths = listed(&source).await;
    assert!(
        paths.iter().any(|p| p == BUNDLE_NAME) && !paths.iter().any(|p| p == JSON_BUNDLE_NAME),
        "{paths:?}"
    );
    assert!(matches!(
        refresher.refresh().await,
        Ok(Refreshed::Updated { .. })
    ));
    let current = refresher.snapshot().current().unwrap();
    assert_eq!(current.value, "fabrikam");
    assert!(current.warnings.is_empty(), "{:?}", current.warnings);
}

#[tokio::test]
async fn a_changed_bundle_is_swapped_in_and_held_snapshots_stay_whole() {
    let (_moto, source, pki) = contoso_pushed().await;
    let (refresher, builds) = refresher(source.clone());
    let first = refresher.load_initial().await.unwrap();

    let changed = deployment(&pki, "fabrikam");
    push_files(&source, &changed).await;
    assert_eq!(
        refresher.refresh().await,
        Ok(Refreshed::Updated {
            version: content_version(&changed)
        })
    );
    let current = refresher.snapshot().current().unwrap();
    assert_eq!(current.value, "fabrikam");
    assert_ne!(current.etag, first.etag);
    // A request that took the first snapshot still sees it whole.
    assert_eq!(first.value, "contoso");
    assert_eq!(builds.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unchanged_bundle_answers_304_and_is_not_rebuilt() {
    let (_moto, source, pki) = contoso_pushed().await;
    let (refresher, builds) = refresher(source.clone());
    refresher.load_initial().await.unwrap();
    for _ in 0..3 {
        assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    }
    // Pushing the same folder again writes nothing: still 304.
    push_files(&source, &deployment(&pki, "contoso")).await;
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    let status = refresher.snapshot().status();
    assert_eq!(status.builds, 1);
    assert!(status.last_success.is_some());
}

#[tokio::test]
async fn an_unreachable_bucket_at_cold_start_leaves_no_snapshot() {
    let client = client(format!("http://127.0.0.1:{}", free_port())).await;
    let source = S3Source::new(client, format!("s3://{BUCKET}/prod").parse().unwrap());
    let (refresher, builds) = refresher(source);
    let error = refresher.load_initial().await.unwrap_err();
    assert!(
        matches!(&error, RefreshError::Fetch { source_name, .. } if source_name == "s3://trust-bucket/prod"),
        "{error:?}"
    );
    let snapshot = refresher.snapshot();
    assert!(
        snapshot.current().is_none(),
        "never loaded: the function answers 503"
    );
    assert_eq!(snapshot.version(), None);
    assert_eq!(snapshot.last_error(), Some(error));
    assert_eq!(builds.load(Ordering::SeqCst), 0);
}

#[test]
#[should_panic(expected = "install it with `pip install 'moto[server]'`")]
fn a_missing_moto_server_fails_the_test_with_a_clear_message() {
    let _ = Moto::start_binary("moto_server-that-does-not-exist");
}

#[tokio::test]
async fn an_unreachable_bucket_later_keeps_the_last_good_snapshot() {
    let (mut moto, source, _) = contoso_pushed().await;
    let (refresher, _) = refresher(source);
    let loaded = refresher.load_initial().await.unwrap();

    moto.stop();
    let error = refresher.refresh().await.unwrap_err();
    assert!(matches!(error, RefreshError::Fetch { .. }), "{error:?}");
    let snapshot = refresher.snapshot();
    assert_eq!(snapshot.current().unwrap().value, "contoso");
    assert_eq!(snapshot.version(), Some(loaded.version.clone()));
    assert_eq!(snapshot.last_error(), Some(error));
}

#[tokio::test]
async fn a_broken_deployment_keeps_the_last_good_snapshot_until_fixed() {
    let (_moto, source, pki) = contoso_pushed().await;
    let (refresher, builds) = refresher(source.clone());
    let good = refresher.load_initial().await.unwrap();

    let mut broken = deployment(&pki, "contoso");
    broken[0] = SourceFile::new("gateway.toml", "[deployment]\nservice_name = 42\n");
    push_files(&source, &broken).await;
    let error = refresher.refresh().await.unwrap_err();
    let RefreshError::Build {
        version, message, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(version, &content_version(&broken));
    assert!(message.contains("gateway.toml:2:"), "{message}");
    let snapshot = refresher.snapshot();
    assert_eq!(snapshot.version(), Some(good.version.clone()));
    assert_eq!(snapshot.current().unwrap().value, "contoso");
    assert_eq!(snapshot.last_error(), Some(error.clone()));

    // Still broken in S3: 304, not rebuilt, still reported.
    assert_eq!(refresher.refresh().await, Err(error));
    assert_eq!(builds.load(Ordering::SeqCst), 2);

    push_files(&source, &deployment(&pki, "fixed")).await;
    assert!(matches!(
        refresher.refresh().await,
        Ok(Refreshed::Updated { .. })
    ));
    assert_eq!(snapshot.current().unwrap().value, "fixed");
    assert_eq!(snapshot.last_error(), None);
}

#[tokio::test]
async fn a_corrupted_bundle_is_an_error_not_a_panic() {
    let (_moto, source, _) = contoso_pushed().await;
    let (refresher, _) = refresher(source.clone());
    refresher.load_initial().await.unwrap();

    put_object(
        &source,
        BUNDLE_NAME,
        &b"certgate-deployment\n\0\0\0\x02\0"[..],
    )
    .await;
    let error = refresher.refresh().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("bundle is truncated or corrupted: it ends in the middle of its header"),
        "{error}"
    );
    assert_eq!(refresher.snapshot().current().unwrap().value, "contoso");
}

/// The bundle's bytes are checked against S3's checksum of the whole object as they
/// arrive (the SDK's check, asked for with `ChecksumMode::Enabled`): bytes that do not
/// match it are refused.
#[tokio::test]
async fn a_bundle_that_does_not_match_the_checksum_s3_states_is_refused() {
    let (_moto, source, _) = contoso_pushed().await;
    assert!(matches!(source.fetch(None).await, Ok(Fetch::Loaded(_))));

    // moto keeps a checksum as its writer states it: here one of other bytes, as if the
    // object had been damaged after S3 took it.
    let pushed = source.read(BUNDLE_NAME, u64::MAX).await.unwrap();
    source
        .client()
        .put_object()
        .bucket(BUCKET)
        .key(source.location().key(BUNDLE_NAME))
        .body(ByteStream::from(pushed))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .checksum_crc32("AAAAAA==")
        .send()
        .await
        .unwrap();
    let error = source.fetch(None).await.expect_err("refused");
    assert!(
        error.to_string().contains("reading the body") && error.to_string().contains("checksum"),
        "{error}"
    );
}

/// A bundle that S3's checksum vouched for byte for byte is not hashed again (that pass
/// would only find what the checksum found): what it states is read as stated, here a
/// version that is not its content's. The same object read without S3's word is refused
/// (`a_wrong_version_is_detected` among the bundle's unit tests).
#[tokio::test]
async fn a_bundle_s3_vouches_for_is_not_hashed_again() {
    let (_moto, source, pki) = contoso_pushed().await;
    let files = deployment(&pki, "contoso");
    let version = content_version(&files);
    // `trust push` states the checksum S3 keeps with the bundle.
    let stated = source
        .client()
        .get_object()
        .bucket(BUCKET)
        .key(source.location().key(BUNDLE_NAME))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(stated.checksum_crc32().is_some());
    let pushed = source.read(BUNDLE_NAME, u64::MAX).await.unwrap();
    let at = pushed
        .windows(version.len())
        .position(|window| window == version.as_bytes())
        .unwrap();
    let mut restated = pushed.clone();
    restated[at..at + version.len()].copy_from_slice(b"0123456789abcdef");
    put_object(&source, BUNDLE_NAME, restated).await;

    let Fetch::Loaded(loaded) = source.fetch(None).await.unwrap() else {
        panic!("no deployment");
    };
    assert_eq!(loaded.version, "0123456789abcdef");
    let mut expected = files;
    expected.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(loaded.files, expected);
}

#[tokio::test]
async fn the_background_task_swaps_in_a_new_deployment() {
    let (_moto, source, pki) = contoso_pushed().await;
    let (refresher, _) = refresher(source.clone());
    let refresher = Arc::new(refresher);
    refresher.load_initial().await.unwrap();
    let snapshot = refresher.snapshot();
    let task = Arc::clone(&refresher).spawn(Duration::from_millis(100));

    push_files(&source, &deployment(&pki, "fabrikam")).await;
    let mut seen = String::new();
    for _ in 0..100 {
        seen.clone_from(&snapshot.current().unwrap().value);
        if seen == "fabrikam" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
    assert_eq!(seen, "fabrikam");
}

#[tokio::test]
async fn reading_is_bounded_by_the_limits() {
    let (_moto, source, _) = contoso_pushed().await;
    // What a source with `limits` fails with.
    let refused = |limits: Limits| {
        let small = source.clone().with_limits(limits);
        async move { small.fetch(None).await.unwrap_err() }
    };

    // A bundle object larger than an empty deployment can need (in either format) is
    // refused before it is read.
    let pushed = source.read(BUNDLE_NAME, u64::MAX).await.unwrap();
    put_object(&source, BUNDLE_NAME, vec![b' '; 3000]).await;
    let error = refused(Limits {
        max_total_bytes: 0,
        max_files: 0,
        ..Limits::default()
    })
    .await;
    assert!(
        matches!(&error, S3Error::TooLarge { key, .. } if key == "prod/certgate-deployment.bin"),
        "{error}"
    );
    put_object(&source, BUNDLE_NAME, pushed).await;
    // One file over the per-file limit.
    let error = refused(Limits {
        max_file_bytes: 500,
        ..Limits::default()
    })
    .await;
    assert!(
        matches!(
            &error,
            S3Error::Bundle { source: BundleError::FileTooLarge { path, max: 500, .. }, .. }
                if path == "ca/intermediate/intermediate.pem"
        ),
        "{error}"
    );

    // Without the bundle, the listing is bounded too.
    source
        .client()
        .delete_object()
        .bucket(BUCKET)
        .key(source.location().key(BUNDLE_NAME))
        .send()
        .await
        .unwrap();
    let error = refused(Limits {
        max_files: 3,
        ..Limits::default()
    })
    .await;
    assert_eq!(
        error.to_string(),
        "s3://trust-bucket/prod holds more than 3 files"
    );
    let error = refused(Limits {
        max_file_bytes: 500,
        ..Limits::default()
    })
    .await;
    assert!(
        matches!(error, S3Error::TooLarge { size, max: 500, .. } if size > 500),
        "{error}"
    );
}

#[tokio::test]
async fn an_empty_prefix_is_an_error_that_names_it() {
    let (_moto, source) = setup().await;
    let error = source.fetch(None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "s3://trust-bucket/prod holds no deployment: no certgate-deployment.bin and no files"
    );
}

// ---------------------------------------------------------------- the CLI

mod cli {
    use std::collections::BTreeSet;
    use std::process::Output;

    use super::*;
    use crate::s3_cli::write_folder;

    fn certgate(moto: &Moto, args: &[&str]) -> Output {
        s3_cli::certgate(&moto.url(), args)
            .output()
            .expect("run certgate")
    }

    fn stdout(output: &Output) -> String {
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn stderr(output: &Output) -> String {
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// `certgate trust push` of a new folder holding `files` to `uri`.
    fn push_folder(moto: &Moto, files: &[SourceFile], uri: &str) -> Output {
        let folder = tempfile::tempdir().unwrap();
        write_folder(folder.path(), files);
        certgate(
            moto,
            &["trust", "push", folder.path().to_str().unwrap(), uri],
        )
    }

    /// Asserts that `text` (what a command printed) contains `part`; shows it otherwise.
    fn assert_contains(text: &str, part: &str) {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }

    fn pem_ders(pem: &[u8]) -> BTreeSet<Vec<u8>> {
        x509_parser::pem::Pem::iter_from_buffer(pem)
            .map(|pem| pem.unwrap().contents)
            .collect()
    }

    async fn object(source: &S3Source, path: &str) -> (Vec<u8>, Option<String>) {
        let output = source
            .client()
            .get_object()
            .bucket(BUCKET)
            .key(source.location().key(path))
            .send()
            .await
            .unwrap();
        let version = output.version_id.clone();
        (
            output.body.collect().await.unwrap().into_bytes().to_vec(),
            version,
        )
    }

    #[tokio::test]
    async fn push_ls_pull_round_trip_uploads_only_what_changed() {
        let (moto, source) = setup().await;
        let pki = pki();
        let folder = tempfile::tempdir().unwrap();
        let files = deployment(&pki, "contoso");
        write_folder(folder.path(), &files);
        let dir = folder.path().to_str().unwrap();
        let uri = "s3://trust-bucket/prod";

        let first = certgate(&moto, &["trust", "push", dir, uri]);
        assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
        let out = stdout(&first);
        assert!(out.contains("uploaded 5 file(s), 0 unchanged"), "{out}");
        // The truststore holds exactly the root and the intermediate, and its S3 version
        // is printed for TruststoreVersion.
        let (pem, version) = object(&source, "truststore.pem").await;
        assert_eq!(
            pem_ders(&pem),
            BTreeSet::from([pki.root_der.clone(), pki.intermediate_der.clone()])
        );
        let version = version.expect("versioned bucket");
        assert!(
            out.contains(&format!(
                "truststore s3://trust-bucket/prod/truststore.pem written, version {version}"
            )),
            "{out}"
        );
        assert!(out.contains(&content_version(&files)), "{out}");

        // Nothing changed: nothing uploaded, and the truststore keeps its version.
        let second = certgate(&moto, &["trust", "push", dir, uri]);
        assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
        let out = stdout(&second);
        assert!(out.contains("uploaded 0 file(s), 5 unchanged"), "{out}");
        assert!(
            out.contains(&format!("unchanged, version {version}")),
            "{out}"
        );
        assert!(
            out.contains("bundle prod/certgate-deployment.bin unchanged"),
            "{out}"
        );

        // One file changed: one upload, and a new bundle.
        std::fs::write(folder.path().join("gateway.toml"), config("fabrikam")).unwrap();
        let third = certgate(&moto, &["trust", "push", dir, uri]);
        let out = stdout(&third);
        assert!(out.contains("uploaded 1 file(s), 4 unchanged"), "{out}");
        assert!(out.contains("uploaded  gateway.toml"), "{out}");
        assert!(
            out.contains("bundle prod/certgate-deployment.bin written"),
            "{out}"
        );

        // A file removed from the folder is reported, and deleted only with --delete.
        std::fs::remove_file(folder.path().join("policies/readme.txt")).unwrap();
        let fourth = certgate(&moto, &["trust", "push", dir, uri]);
        let ls = certgate(&moto, &["trust", "ls", uri]);
        assert_contains(
            &stdout(&ls),
            "not part of the deployment):\n         20  policies/readme.txt",
        );
        assert_contains(&stdout(&fourth), "stale     policies/readme.txt");
        let fifth = certgate(&moto, &["trust", "push", "--delete", dir, uri]);
        assert_contains(&stdout(&fifth), "deleted   policies/readme.txt");
        let listed = listed(&source).await;
        assert!(
            !listed.contains(&"policies/readme.txt".to_owned()),
            "{listed:?}"
        );

        // ls: subjects, expiry dates, and warnings as of a date close to the root's expiry.
        let ls = certgate(&moto, &["trust", "ls", uri, "--at", "2035-02-15T00:00:00Z"]);
        assert_eq!(ls.status.code(), Some(0), "{}", stderr(&ls));
        let (out, err) = (stdout(&ls), stderr(&ls));
        assert!(
            out.contains(
                "ca/root/root.pem  O=Contoso, CN=S3 Test Root  expires 2035-03-04T00:00:00Z"
            ),
            "{out}"
        );
        assert!(out.contains("O=Contoso, CN=S3 Test Intermediate"), "{out}");
        assert!(
            out.contains(&format!("truststore truststore.pem version {version}")),
            "{out}"
        );
        assert!(
            out.contains(
                "crl/root.crl  O=Contoso, CN=S3 Test Root  next update 2025-07-01T00:00:00Z"
            ),
            "{out}"
        );
        assert!(
            err.contains("warning: ca/root/root.pem: O=Contoso, CN=S3 Test Root expires on 2035-03-04T00:00:00Z, within 30 days"),
            "{err}"
        );
        assert!(
            err.contains("crl/root.crl: CRL of") && err.contains("nextUpdate"),
            "{err}"
        );

        // pull: the folder comes back byte for byte; a non-empty folder needs --force.
        let target = tempfile::tempdir().unwrap();
        let into = target.path().join("pulled");
        let pulled = certgate(&moto, &["trust", "pull", uri, into.to_str().unwrap()]);
        assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
        let expected = certgate::source::read_folder(folder.path()).unwrap();
        assert_eq!(certgate::source::read_folder(&into).unwrap(), expected);
        let again = certgate(&moto, &["trust", "pull", uri, into.to_str().unwrap()]);
        assert_eq!(again.status.code(), Some(2));
        assert_contains(&stderr(&again), "is not empty");
        let forced = certgate(
            &moto,
            &["trust", "pull", "--force", uri, into.to_str().unwrap()],
        );
        assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    }

    #[tokio::test]
    async fn push_to_an_unversioned_bucket_root_warns_about_truststore_version() {
        let moto = Moto::start();
        client(moto.url())
            .await
            .create_bucket()
            .bucket("plain-bucket")
            .send()
            .await
            .unwrap();
        let output = push_folder(&moto, &deployment(&pki(), "contoso"), "s3://plain-bucket");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_contains(
            &stdout(&output),
            "truststore s3://plain-bucket/truststore.pem written, no version",
        );
        assert_contains(&stderr(&output), "warning: the bucket is not versioned");
        let ls = certgate(&moto, &["trust", "ls", "s3://plain-bucket/"]);
        assert_eq!(ls.status.code(), Some(0), "{}", stderr(&ls));
        assert!(stdout(&ls).contains("truststore truststore.pem (bucket not versioned)"));
    }

    #[tokio::test]
    async fn push_refuses_a_folder_that_does_not_load_and_uploads_nothing() {
        let (moto, source) = setup().await;
        let pki = pki();
        let mut files = deployment(&pki, "contoso");
        files[0] = SourceFile::new("gateway.toml", "[deployment]\nservice_name = 42\n");
        files.push(SourceFile::new("ca/root/garbage.pem", "not a certificate"));
        files.push(SourceFile::new("truststore.pem", pki.root.clone()));

        let output = push_folder(&moto, &files, "s3://trust-bucket/prod");
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        let err = stderr(&output);
        assert!(err.contains("error: gateway.toml:2:"), "{err}");
        assert!(err.contains("error: ca/root/garbage.pem"), "{err}");
        assert!(
            err.contains("error: truststore.pem: this name is reserved"),
            "{err}"
        );
        assert!(err.contains("(3 error(s)); nothing uploaded"), "{err}");
        assert!(source.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_uris_and_unreachable_buckets_exit_2_with_a_message() {
        let (mut moto, _source) = setup().await;
        let output = certgate(&moto, &["trust", "ls", "https://trust-bucket/prod"]);
        assert_eq!(output.status.code(), Some(2));
        assert_contains(
            &stderr(&output),
            "is not an S3 location: expected s3://bucket/prefix",
        );
        moto.stop();
        let output = certgate(&moto, &["trust", "ls", "s3://trust-bucket/prod"]);
        assert_eq!(output.status.code(), Some(2));
        assert_contains(
            &stderr(&output),
            "S3 GetObject s3://trust-bucket/prod/certgate-deployment.bin failed",
        );
    }
}

// ---------------------------------------------------------------- HTTPS endpoints

/// An S3-compatible endpoint whose certificate a private CA issued: trusted through
/// `ca_bundle` (`AWS_CA_BUNDLE`), refused without it, and a bundle that holds no CA is an
/// error naming the file.
#[tokio::test]
async fn an_https_endpoint_with_a_private_ca_is_trusted_through_the_ca_bundle() {
    let ca = Ca::root_with("S3 Endpoint CA", p256(), contoso((2099, 1, 1)));
    let server_key = p256();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca.issuer())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = (
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, server.pem()).unwrap();
    std::fs::write(&key, server_key.serialize_pem()).unwrap();
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    let moto = Moto::start_tls(&cert, &key);
    assert!(moto.url().starts_with("https://"));
    let options = |ca_bundle: Option<std::path::PathBuf>| ClientOptions {
        ca_bundle,
        ..client_options(moto.url())
    };

    let trusting = s3_client(&options(Some(ca_pem.clone()))).await.unwrap();
    versioned_bucket(&trusting).await;
    let source = S3Source::new(trusting, format!("s3://{BUCKET}/prod").parse().unwrap());
    let pki = pki();
    push_files(&source, &deployment(&pki, "over-tls")).await;
    let Fetch::Loaded(fetched) = source.fetch(None).await.unwrap() else {
        panic!("a first fetch loads");
    };
    assert!(fetched.files.iter().any(|f| f.path == "gateway.toml"));

    // The public web roots alone do not trust the private CA: the request fails.
    let public_only = s3_client(&options(None)).await.unwrap();
    let refused = public_only
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    let message = format!("{}", aws_sdk_s3::error::DisplayErrorContext(&refused));
    assert!(message.contains("UnknownIssuer"), "{message}");

    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    match s3_client(&options(Some(not_pem.clone()))).await {
        Err(S3Error::CaBundle { path, reason }) => {
            assert_eq!(path, not_pem.display().to_string());
            assert!(
                reason.contains("no `-----BEGIN CERTIFICATE-----`"),
                "{reason}"
            );
        }
        other => panic!("expected CaBundle, got {other:?}"),
    }
}
