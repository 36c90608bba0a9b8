//! "Does this deployment load?": the one check that `certgate trust push` runs before
//! uploading and that a refresh runs before swapping a deployment in.
//!
//! Today it checks `gateway.toml`, that the policy files it names exist, and that the trust
//! store builds without error-level diagnostics. The full pipeline check (policies and
//! expressions compiled) extends [`check_deployment`]; callers need not change.

use std::fmt;

use time::OffsetDateTime;

use super::SourceFile;
use crate::config::GatewayConfig;
use crate::trust::{Severity, TrustStore};

/// Name of the configuration file at the root of a deployment folder.
pub const CONFIG_NAME: &str = "gateway.toml";

/// A deployment that passed [`check_deployment`].
pub struct CheckedDeployment {
    pub config: GatewayConfig,
    pub trust: TrustStore,
    /// Problems that do not stop the deployment (each names its file).
    pub warnings: Vec<String>,
}

/// Why a deployment was refused: every error found, not only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailed {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deployment does not load: {}", self.errors.join("; "))
    }
}

impl std::error::Error for CheckFailed {}

/// Checks a whole deployment folder as of `now` (CA and CRL validity depend on it).
///
/// # Errors
/// [`CheckFailed`] listing every problem: `gateway.toml` missing or invalid, a policy file
/// it names missing, a trust-store file that did not load.
pub fn check_deployment(
    files: &[SourceFile],
    now: OffsetDateTime,
) -> Result<CheckedDeployment, CheckFailed> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let config = match files.iter().find(|file| file.path == CONFIG_NAME) {
        None => {
            errors.push(format!("{CONFIG_NAME} is missing"));
            None
        }
        Some(file) => match std::str::from_utf8(&file.bytes) {
            Err(_) => {
                errors.push(format!("{CONFIG_NAME} is not UTF-8 text"));
                None
            }
            Ok(text) => GatewayConfig::parse(text)
                .map_err(|error| errors.push(error.to_string()))
                .ok(),
        },
    };
    if let Some(config) = &config {
        for policy in config.policy_files() {
            if !files.iter().any(|file| file.path == policy) {
                errors.push(format!(
                    "{policy}: named in {CONFIG_NAME} but not in the deployment"
                ));
            }
        }
    }
    let (trust, diagnostics) = TrustStore::from_files(files, now);
    for diagnostic in diagnostics {
        match diagnostic.severity {
            Severity::Error => errors.push(diagnostic.to_string()),
            Severity::Warning => warnings.push(diagnostic.to_string()),
        }
    }
    match config {
        Some(config) if errors.is_empty() => Ok(CheckedDeployment {
            config,
            trust,
            warnings,
        }),
        _ => Err(CheckFailed { errors, warnings }),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const CONFIG: &str = "[deployment]\nservice_name = \"contoso\"\n";

    #[test]
    fn a_minimal_deployment_passes() {
        let files = [SourceFile::new(CONFIG_NAME, CONFIG)];
        let checked = check_deployment(&files, datetime!(2026-11-28 0:00 UTC)).unwrap();
        assert_eq!(checked.config.deployment.service_name, "contoso");
    }

    #[test]
    fn every_error_is_reported() {
        let files = [
            SourceFile::new(
                CONFIG_NAME,
                "[deployment]\npolicy = \"policies/global.xml\"\n",
            ),
            SourceFile::new("ca/root/broken.pem", "not a certificate"),
        ];
        let failed = check_deployment(&files, datetime!(2026-11-28 0:00 UTC))
            .err()
            .unwrap();
        assert_eq!(failed.errors.len(), 2, "{failed}");
        assert!(failed.errors[0].contains("policies/global.xml"));
        assert!(failed.errors[1].starts_with("ca/root/broken.pem"));
    }

    #[test]
    fn a_missing_or_invalid_config_fails() {
        let now = datetime!(2026-11-28 0:00 UTC);
        let failed = check_deployment(&[], now).err().unwrap();
        assert_eq!(failed.errors, ["gateway.toml is missing"]);
        let failed = check_deployment(&[SourceFile::new(CONFIG_NAME, "[nope]")], now)
            .err()
            .unwrap();
        assert!(failed.errors[0].starts_with("gateway.toml:"), "{failed}");
    }
}
