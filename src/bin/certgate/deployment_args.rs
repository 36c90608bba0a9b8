//! Arguments several commands share: the deployment folder and the clock.

use std::path::Path;

use anyhow::Context as _;
use certgate::gateway::Deployment;
use certgate::source::{SourceFile, read_folder};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
