//! `certgate` as a child process against the S3 API of [`Moto`](crate::common::moto::Moto)
//! (or any endpoint), and the folders it pushes.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::Command;

use certgate::files::SourceFile;

use crate::common::moto::REGION;

/// `certgate ARGS` with the standard AWS environment aimed at the S3, Secrets Manager and
/// SSM APIs at `endpoint`
/// (test credentials, [`REGION`], no instance metadata), and nothing of the test's own
/// environment that could send it elsewhere: no profile, config or credentials file, other
/// endpoint, session token, default region or `CERTGATE_CONFIG`.
pub fn certgate(endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certgate"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL_S3", endpoint)
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        .env("AWS_ENDPOINT_URL_SSM", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("CERTGATE_CONFIG");
    command
}

/// Writes `files` under `dir`: a deployment folder as `certgate trust push` reads it.
pub fn write_folder(dir: &Path, files: &[SourceFile]) {
    for file in files {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.bytes).unwrap();
    }
}
