//! `--config s3://bucket/prefix`, and `CERTGATE_CONFIG` without it, for every command that
//! reads a deployment (check, invoke, serve, cert verify, eval), against a real S3 API:
//! `moto_server` on loopback (see `common/moto.rs`) holding the sample deployment
//! `examples/apigateway` as `certgate trust push` wrote it.

mod common;
#[path = "common/s3_cli.rs"]
mod s3_cli;
#[path = "common/served.rs"]
mod served;
#[path = "common/tls_client.rs"]
mod tls_client;

use std::path::Path;
use std::process::{Command, Output};

use certgate::files::SourceFile;
use certgate::frontend::lambda::function::VERSION_HEADER;
use certgate::source::bundle::BUNDLE_NAME;
use certgate::source::s3::{S3Source, s3_client};
use certgate::source::{content_version, read_folder};
use common::lambda_json::header;
use common::moto::{Moto, client_options, free_port};
use s3_cli::write_folder;
use serde_json::Value;
use served::Process;
use tls_client::{CurlFiles, curl_as};

const BUCKET: &str = "trust-bucket";
const URI: &str = "s3://trust-bucket/prod";
/// The committed sample deployment and its client certificates (valid until 2095).
const SAMPLE: &str = "examples/apigateway";
const PKI: &str = "examples/pki";
const NOW: &str = "2030-06-01T00:00:00Z";
const HOST: &str = "api.contoso.com";
const SUBJECT: &str = "CN=client1.contoso.com, O=Contoso, C=US";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// How a command is told where the deployment is.
#[derive(Debug, Clone, Copy)]
enum Given {
    /// `--config s3://trust-bucket/prod`
    Flag,
    /// `CERTGATE_CONFIG=s3://trust-bucket/prod`, no `--config`
    Env,
}

/// `certgate` in the repository root with the standard AWS environment pointing at
/// `endpoint`, and neither a profile nor `CERTGATE_CONFIG` from the test's environment.
fn certgate(endpoint: &str, args: &[&str]) -> Command {
    let mut command = s3_cli::certgate(endpoint, args);
    command.current_dir(repo());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run certgate")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A moto with a bucket and the sample deployment pushed to `s3://trust-bucket/prod`.
struct Bucket {
    moto: Moto,
    source: S3Source,
}

impl Bucket {
    async fn with_sample() -> Self {
        let moto = Moto::start();
        let client = s3_client(&client_options(moto.url())).await.unwrap();
        client.create_bucket().bucket(BUCKET).send().await.unwrap();
        let bucket = Self {
            source: S3Source::new(client, URI.parse().unwrap()),
            moto,
        };
        bucket.push(&repo().join(SAMPLE));
        bucket
    }

    /// `certgate trust push DIR s3://trust-bucket/prod`, which must succeed.
    fn push(&self, dir: &Path) {
        let out = run(&mut self.command(&["trust", "push", dir.to_str().unwrap(), URI]));
        assert!(out.status.success(), "trust push: {}", stderr(&out));
    }

    /// Deletes every object under the prefix but the bundle: what still works after
    /// this read the bundle alone.
    async fn keep_only_the_bundle(&self) {
        let entries = self.source.list().await.unwrap();
        assert!(entries.len() > 1, "{entries:?}");
        for entry in entries.iter().filter(|e| e.path != BUNDLE_NAME) {
            self.source
                .client()
                .delete_object()
                .bucket(BUCKET)
                .key(self.source.location().key(&entry.path))
                .send()
                .await
                .unwrap();
        }
        assert_eq!(self.source.list().await.unwrap().len(), 1);
    }

    fn command(&self, args: &[&str]) -> Command {
        certgate(&self.moto.url(), args)
    }

    /// `certgate ARGS` with the deployment at `s3://trust-bucket/prod`, given as `given`.
    fn with_config(&self, given: Given, args: &[&str]) -> Command {
        let mut command = self.command(args);
        match given {
            Given::Flag => command.args(["--config", URI]),
            Given::Env => command.env("CERTGATE_CONFIG", URI),
        };
        command
    }
}

/// The sample's version as `check` prints it for the folder.
fn sample_version() -> String {
    content_version(&read_folder(&repo().join(SAMPLE)).unwrap())
}

#[tokio::test]
async fn check_invoke_cert_verify_and_eval_read_the_pushed_bundle_from_flag_or_env() {
    let bucket = Bucket::with_sample().await;
    bucket.keep_only_the_bundle().await;
    let version = sample_version();
    let from_folder = run(&mut bucket.command(&["check", "--config", SAMPLE, "--now", NOW]));
    assert_eq!(
        from_folder.status.code(),
        Some(0),
        "{}",
        stderr(&from_folder)
    );

    for given in [Given::Flag, Given::Env] {
        // check: the report the folder gets, with the same version; no "no bundle" warning.
        let check = run(&mut bucket.with_config(given, &["check", "--now", NOW]));
        assert_eq!(
            check.status.code(),
            Some(0),
            "{given:?}: {}",
            stderr(&check)
        );
        assert_eq!(stdout(&check), stdout(&from_folder), "{given:?}");
        assert!(stdout(&check).contains(&format!("(version {version})")));
        assert_eq!(stderr(&check), stderr(&from_folder), "{given:?}");

        // invoke: the sample events' answers, from the deployment's version.
        for (event, status) in [("valid", 200), ("revoked", 403), ("no-certificate", 403)] {
            let event = format!("events/rest/{event}.json");
            let out = run(&mut bucket.with_config(given, &["invoke", "--now", NOW, &event]));
            assert_eq!(
                out.status.code(),
                Some(0),
                "{given:?} {event}: {}",
                stderr(&out)
            );
            let response: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                response["statusCode"], status,
                "{given:?} {event}: {response}"
            );
            assert_eq!(
                header(&response, VERSION_HEADER).as_deref(),
                Some(version.as_str())
            );
            if status == 200 {
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                assert_eq!(body["subject"], SUBJECT);
            }
        }

        // cert verify: the trust store's verdicts (ca/ and crl/ of the bundle).
        let good = format!("{PKI}/good.pem");
        let out = run(&mut bucket.with_config(given, &["cert", "verify", &good, "--now", NOW]));
        assert_eq!(
            (out.status.code(), stdout(&out).as_str()),
            (Some(0), "valid\n"),
            "{given:?}: {}",
            stderr(&out)
        );
        let revoked = format!("{PKI}/revoked.pem");
        let out = run(&mut bucket.with_config(given, &["cert", "verify", &revoked, "--now", NOW]));
        assert_eq!(out.status.code(), Some(1), "{given:?}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with("invalid: Revoked: "),
            "{given:?}: {}",
            stdout(&out)
        );

        // eval: Verify() by the bundle's trust store, [deployment] of its gateway.toml.
        let eval = |cert: &str, expression: &str| {
            let out =
                run(&mut bucket
                    .with_config(given, &["eval", expression, "--cert", cert, "--now", NOW]));
            assert_eq!(out.status.code(), Some(0), "{given:?}: {}", stderr(&out));
            stdout(&out)
        };
        let verify = "context.Request.Certificate.Verify()";
        assert_eq!(eval(&good, verify), "true\n", "{given:?}");
        assert_eq!(eval(&revoked, verify), "false\n", "{given:?}");
        assert_eq!(
            eval(
                &good,
                "context.Deployment.ServiceName + \"/\" + context.Deployment.Region"
            ),
            "\"contoso/eu-west-1\"\n",
            "{given:?}"
        );
    }

    // --config wins over CERTGATE_CONFIG.
    let out = run(bucket
        .command(&["check", "--config", URI])
        .env("CERTGATE_CONFIG", "s3://trust-bucket/elsewhere"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// curl's files for the sample: `ca.pem`, the root that issued `tls/api.pem`, and the
/// client certificates `good` and `revoked` of examples/pki.
fn curl_files() -> CurlFiles {
    let files = CurlFiles::empty();
    let pki = repo().join(PKI);
    std::fs::copy(pki.join("contoso-root.pem"), files.path("ca.pem")).unwrap();
    for name in ["good.pem", "good.key", "revoked.pem", "revoked.key"] {
        std::fs::copy(pki.join(name), files.path(name)).unwrap();
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_from_the_pushed_deployment_and_picks_up_the_next_push() {
    let bucket = Bucket::with_sample().await;
    let files = curl_files();
    let orders = |addr, cert| curl_as(&files, addr, HOST, "/orders/42", Some(cert), &[]);

    for given in [Given::Env, Given::Flag] {
        let served = Process::start(bucket.with_config(given, &["serve"])).await;
        let answer = orders(served.addr, "good").await;
        assert_eq!(answer.status(), 200, "{given:?}: {answer:?}");
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["subject"], SUBJECT);
        let answer = orders(served.addr, "revoked").await;
        assert_eq!(answer.status(), 403, "{given:?}: {answer:?}");
    }

    // A new push without the uploaded certificate: the next conditional GET brings it in,
    // and the certificate the policy accepted a moment ago is refused.
    let served = Process::start(bucket.with_config(Given::Flag, &["serve"])).await;
    let answer = orders(served.addr, "good").await;
    assert_eq!(answer.status(), 200, "{answer:?}");
    let changed = tempfile::tempdir().unwrap();
    let files: Vec<SourceFile> = read_folder(&repo().join(SAMPLE))
        .unwrap()
        .into_iter()
        .filter(|file| file.path != "certificates/client1.pem")
        .collect();
    write_folder(changed.path(), &files);
    bucket.push(changed.path());
    served
        .wait_for_log(&format!("version={}", content_version(&files)))
        .await;
    let answer = orders(served.addr, "good").await;
    assert_eq!(answer.status(), 403, "{answer:?}");
}

#[test]
fn without_config_or_certgate_config_each_command_says_what_to_pass() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let good = format!("{PKI}/good.pem");
    for args in [
        vec!["check"],
        vec!["invoke", "events/rest/valid.json"],
        vec!["serve", "--listen", "127.0.0.1:0"],
        vec!["cert", "verify", &good],
    ] {
        for blank in [None, Some(" ")] {
            let mut command = certgate(&endpoint, &args);
            if let Some(blank) = blank {
                command.env("CERTGATE_CONFIG", blank);
            }
            let out = run(&mut command);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert_eq!(
                stderr(&out),
                "error: no deployment given: pass --config DIR (a deployment folder) or \
                 --config s3://bucket/prefix (written by `certgate trust push`), or set \
                 CERTGATE_CONFIG to one of them\n",
                "{args:?}"
            );
        }
    }
    // eval needs no deployment: without one, Verify() is false.
    let out = run(&mut certgate(
        &endpoint,
        &[
            "eval",
            "context.Request.Certificate.Verify()",
            "--cert",
            &good,
        ],
    ));
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "false\n")
    );
}

#[tokio::test]
async fn s3_failures_say_what_to_fix() {
    let bucket = Bucket::with_sample().await;
    let fails = |command: &mut Command| {
        let out = run(command);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        stderr(&out)
    };

    let err = fails(&mut bucket.command(&["check", "--config", "s3://no-such-bucket/prod"]));
    assert!(err.contains("NoSuchBucket"), "{err}");
    assert!(
        err.contains(
            "help: the bucket does not exist: check its name (and AWS_ENDPOINT_URL_S3, if set), \
             or create it and run `certgate trust push DIR s3://no-such-bucket/prod`"
        ),
        "{err}"
    );

    let err = fails(&mut bucket.command(&["check", "--config", "s3://trust-bucket/staging"]));
    assert!(
        err.contains(
            "s3://trust-bucket/staging holds no deployment: no certgate-deployment.bin and no files\n\
             help: check the prefix, or put a deployment there with \
             `certgate trust push DIR s3://trust-bucket/staging`"
        ),
        "{err}"
    );

    let err = fails(
        bucket
            .with_config(Given::Env, &["check"])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY"),
    );
    assert!(
        err.contains(
            "help: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             or AWS_PROFILE"
        ),
        "{err}"
    );

    let err = fails(
        bucket
            .with_config(Given::Flag, &["check"])
            .env_remove("AWS_REGION"),
    );
    assert!(
        err.contains("help: no AWS region: set AWS_REGION to the bucket's region"),
        "{err}"
    );

    // serve says it once, with the same help.
    let err = fails(
        bucket
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .env("CERTGATE_CONFIG", "s3://no-such-bucket/prod")
            .env("RUST_LOG", "off"),
    );
    assert_eq!(
        err.matches("The specified bucket does not exist").count(),
        1,
        "{err}"
    );
    assert!(
        err.starts_with("error: cannot serve s3://no-such-bucket/prod: ")
            && err.contains("\nhelp: the bucket does not exist"),
        "{err}"
    );
}
