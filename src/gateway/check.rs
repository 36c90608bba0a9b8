//! "Does this deployment load?": the one check that `certgate trust push` runs before
//! uploading. It is the gateway's own loader ([`Deployment::load`]: `gateway.toml`, every
//! policy and expression compiled, the trust store built) and fails on any error-level
//! trust-store diagnostic, exactly as `certgate check` does.

use std::fmt;

use time::OffsetDateTime;

use super::Deployment;
use crate::files::SourceFile;
use crate::source::content_version;
use crate::source::secrets::secret_refs;
use crate::trust::{Severity, TrustStore};

/// What [`check_deployment`] puts where a secret named value goes.
const SECRET_PLACEHOLDER: &str = "certgate-secret-placeholder";

/// A deployment that passed [`check_deployment`].
pub struct CheckedDeployment {
    pub deployment: Deployment,
    /// Problems that do not stop the deployment (each names its file).
    pub warnings: Vec<String>,
}

/// Why a deployment was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailed {
    /// Each as `certgate check` prints it (`error: ...`, or `file:line:col: error: ...`
    /// with the source line and a caret); may span lines.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first_lines: Vec<&str> = self
            .errors
            .iter()
            .map(|error| error.lines().next().unwrap_or_default())
            .collect();
        write!(f, "deployment does not load: {}", first_lines.join("; "))
    }
}

impl std::error::Error for CheckFailed {}

/// Loads a whole deployment folder as of `now` (CA and CRL validity depend on it).
///
/// # Errors
/// [`CheckFailed`]: the loader's error (the first problem in `gateway.toml` or the
/// policies) and every error-level trust-store diagnostic.
pub fn check_deployment(
    files: &[SourceFile],
    now: OffsetDateTime,
) -> Result<CheckedDeployment, CheckFailed> {
    let trust_messages = |diagnostics: &[crate::trust::Diagnostic]| {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for diagnostic in diagnostics {
            match diagnostic.severity {
                Severity::Error => errors.push(format!("error: {diagnostic}")),
                Severity::Warning => warnings.push(diagnostic.to_string()),
            }
        }
        (errors, warnings)
    };
    // Secrets are not read here (who pushes may not be allowed to read them): the
    // check is that every `{{name}}` is defined, and that the policies load with a
    // stand-in for each secret value.
    let placeholders = secret_refs(files)
        .into_keys()
        .map(|name| (name, SECRET_PLACEHOLDER.to_owned()))
        .collect();
    match Deployment::load_with_named_values(files, content_version(files), now, placeholders) {
        Ok(deployment) => {
            let (errors, warnings) = trust_messages(&deployment.diagnostics);
            if errors.is_empty() {
                Ok(CheckedDeployment {
                    deployment,
                    warnings,
                })
            } else {
                Err(CheckFailed { errors, warnings })
            }
        }
        Err(error) => {
            // The loader stops at its first error; the trust store is still worth reporting.
            let (_, diagnostics) = TrustStore::from_files(files, now);
            let (trust_errors, warnings) = trust_messages(&diagnostics);
            let mut errors = vec![error.render().trim_end().to_owned()];
            errors.extend(trust_errors);
            Err(CheckFailed { errors, warnings })
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const CONFIG: &str = "[deployment]\nservice_name = \"contoso\"\n";
    const NOW: OffsetDateTime = datetime!(2026-11-28 0:00 UTC);

    #[test]
    fn a_minimal_deployment_passes() {
        let files = [SourceFile::new("gateway.toml", CONFIG)];
        let checked = check_deployment(&files, NOW).unwrap();
        assert_eq!(checked.deployment.config.deployment.service_name, "contoso");
        assert_eq!(checked.deployment.version, content_version(&files));
    }

    #[test]
    fn config_and_trust_store_errors_are_all_reported() {
        let files = [
            SourceFile::new(
                "gateway.toml",
                "[deployment]\npolicy = \"policies/global.xml\"\n",
            ),
            SourceFile::new("ca/root/broken.pem", "not a certificate"),
        ];
        let failed = check_deployment(&files, NOW).err().unwrap();
        assert_eq!(failed.errors.len(), 2, "{failed}");
        assert!(failed.errors[0].starts_with("error: policies/global.xml: not found"));
        assert!(failed.errors[1].starts_with("error: ca/root/broken.pem"));
    }

    #[test]
    fn a_policy_error_is_rendered_with_a_caret() {
        let files = [
            SourceFile::new(
                "gateway.toml",
                "[deployment]\npolicy = \"policies/global.xml\"\n",
            ),
            SourceFile::new("policies/global.xml", "<policies><inbound>"),
        ];
        let failed = check_deployment(&files, NOW).err().unwrap();
        assert!(
            failed.errors[0].starts_with("policies/global.xml:"),
            "{failed}"
        );
        assert!(failed.errors[0].contains('^'), "{}", failed.errors[0]);
    }

    #[test]
    fn a_missing_or_invalid_config_fails() {
        let failed = check_deployment(&[], NOW).err().unwrap();
        assert!(failed.errors[0].starts_with("error: gateway.toml: not found"));
        let failed = check_deployment(&[SourceFile::new("gateway.toml", "[nope]")], NOW)
            .err()
            .unwrap();
        assert!(
            failed.errors[0].starts_with("error: gateway.toml:"),
            "{failed}"
        );
    }
}
