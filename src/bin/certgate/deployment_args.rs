//! Arguments several commands share: the deployment folder and the clock.

use std::path::Path;

use anyhow::Context as _;
use certgate::gateway::Deployment;
use certgate::source::{SourceFile, read_folder};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `--config DIR [--now T]`, for commands that load a deployment folder.
#[derive(clap::Args)]
pub(crate) struct DeploymentArgs {
    /// The deployment folder (gateway.toml, policies/, ca/, crl/, certificates/).
    #[arg(long, value_name = "DIR")]
    pub(crate) config: std::path::PathBuf,
    /// Use this time instead of now (RFC 3339, e.g. 2030-01-01T00:00:00Z): for
    /// expiry, CRL freshness and DateTime.UtcNow.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub(crate) now: Option<OffsetDateTime>,
}

impl DeploymentArgs {
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(OffsetDateTime::now_utc)
    }
}

/// `--now`: an RFC 3339 time.
pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("{e}; expected RFC 3339, e.g. 2026-01-01T00:00:00Z"))
}

/// Reads a deployment folder.
pub(crate) fn read(dir: &Path) -> anyhow::Result<Vec<SourceFile>> {
    read_folder(dir).with_context(|| format!("cannot read the deployment folder {}", dir.display()))
}

/// Reads and loads a deployment folder; a load error is printed as `check` prints it
/// and becomes an error of the command.
pub(crate) fn load(dir: &Path, now: OffsetDateTime) -> anyhow::Result<Deployment> {
    let files = read(dir)?;
    let version = certgate::source::content_version(&files);
    Deployment::load(&files, version, now).map_err(|e| anyhow::anyhow!("{}", e.render()))
}
