//! Hot reload: the current [`Deployment`] of a folder, swapped whole when the folder's
//! content changes and the new content loads.
//!
//! [`LiveDeployment`] holds the snapshot in an `ArcSwap`. A request takes one
//! [`LiveDeployment::snapshot`] and keeps it to the end, so it sees exactly one
//! deployment even when a reload lands half-way. [`LiveDeployment::reload`] re-reads
//! the folder, compares [`content_version`]s, and swaps only if the new files load; a
//! broken edit leaves the last good deployment serving (and is reported once per
//! version, not at every poll).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use time::OffsetDateTime;

use crate::gateway::{Deployment, DeploymentError};
use crate::source::{SourceError, SourceFile, content_version, read_folder};

/// Why a folder did not become a deployment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(transparent)]
    Read(#[from] SourceError),
    #[error("{}", .0.render())]
    Load(#[from] DeploymentError),
}

/// Reads and loads a deployment folder; returns the files too (the TLS settings are
/// built from them).
///
/// # Errors
///
/// The folder cannot be read, or its content does not load.
pub fn load_folder(
    dir: &Path,
    now: OffsetDateTime,
) -> Result<(Deployment, Vec<SourceFile>), LoadError> {
    let files = read_folder(dir)?;
    let version = content_version(&files);
    let deployment = Deployment::load(&files, version, now)?;
    Ok((deployment, files))
}

/// What one [`LiveDeployment::reload`] did.
#[derive(Debug)]
pub enum Reload {
    /// The folder's content is the serving version's (or a version already reported
    /// broken).
    Unchanged,
    /// The new content loaded and now serves.
    Swapped { from: String, to: String },
    /// The new content (version, if the folder could be read) did not load; the
    /// previous deployment keeps serving.
    Failed {
        version: Option<String>,
        error: LoadError,
    },
}

/// The deployment of a folder that requests read now, and the folder to reload it from.
#[derive(Debug)]
pub struct LiveDeployment {
    dir: PathBuf,
    current: ArcSwap<Deployment>,
    /// The last version that failed to load, so a broken edit is reported once.
    last_failed: Mutex<Option<String>>,
}

impl LiveDeployment {
    /// Starts from `deployment`, loaded from `dir`.
    pub fn new(dir: impl Into<PathBuf>, deployment: Deployment) -> Self {
        Self {
            dir: dir.into(),
            current: ArcSwap::from_pointee(deployment),
            last_failed: Mutex::new(None),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The deployment serving now. Hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Deployment> {
        self.current.load_full()
    }

    /// Re-reads the folder (blocking I/O and parsing: call it off the async workers)
    /// and swaps in its deployment if its content changed and loads.
    pub fn reload(&self, now: OffsetDateTime) -> Reload {
        let mut last_failed = self
            .last_failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let files = match read_folder(&self.dir) {
            Ok(files) => files,
            Err(error) => {
                // Reported every time: a folder that vanished is worth repeating.
                return Reload::Failed {
                    version: None,
                    error: error.into(),
                };
            }
        };
        let version = content_version(&files);
        let current = self.current.load();
        if version == current.version || last_failed.as_deref() == Some(version.as_str()) {
            return Reload::Unchanged;
        }
        match Deployment::load(&files, version.clone(), now) {
            Ok(deployment) => {
                let from = current.version.clone();
                self.current.store(Arc::new(deployment));
                *last_failed = None;
                Reload::Swapped { from, to: version }
            }
            Err(error) => {
                *last_failed = Some(version.clone());
                Reload::Failed {
                    version: Some(version),
                    error: error.into(),
                }
            }
        }
    }

    /// Polls the folder every `interval` until `shutdown` completes, logging each swap
    /// and each failure (tracing).
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticks.tick() => {}
            }
            let live = Arc::clone(&self);
            let outcome =
                tokio::task::spawn_blocking(move || live.reload(OffsetDateTime::now_utc())).await;
            match outcome {
                Ok(Reload::Unchanged) => {}
                Ok(Reload::Swapped { from, to }) => {
                    let deployment = self.snapshot();
                    tracing::info!(
                        from = %from,
                        to = %to,
                        summary = %deployment.summary(),
                        "reloaded the deployment"
                    );
                    log_diagnostics(&deployment);
                }
                Ok(Reload::Failed { version, error }) => {
                    tracing::error!(
                        version = version.as_deref().unwrap_or("unreadable"),
                        serving = %self.snapshot().version,
                        "the changed deployment does not load; keeping the last good one:\n{error}"
                    );
                }
                Err(error) => tracing::error!(%error, "the reload task failed"),
            }
        }
    }
}

/// Logs a deployment's trust store diagnostics (expired CA, stale CRL, ...).
pub fn log_diagnostics(deployment: &Deployment) {
    for d in &deployment.diagnostics {
        match d.severity {
            crate::trust::Severity::Error => {
                tracing::error!(path = %d.path, "{}", d.message);
            }
            _ => tracing::warn!(path = %d.path, "{}", d.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = "[deployment]\n";

    fn folder(toml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gateway.toml"), toml).unwrap();
        dir
    }

    #[test]
    fn swaps_on_change_keeps_the_last_good_on_failure_and_reports_it_once() {
        let now = OffsetDateTime::now_utc();
        let dir = folder(TOML);
        let (deployment, _) = load_folder(dir.path(), now).unwrap();
        let live = LiveDeployment::new(dir.path(), deployment);
        let first = live.snapshot().version.clone();
        assert!(matches!(live.reload(now), Reload::Unchanged));

        std::fs::write(
            dir.path().join("gateway.toml"),
            "[deployment]\nregion = \"x\"\n",
        )
        .unwrap();
        let Reload::Swapped { from, to } = live.reload(now) else {
            panic!("not swapped")
        };
        assert_eq!(from, first);
        assert_eq!(live.snapshot().version, to);

        std::fs::write(dir.path().join("gateway.toml"), "[deployment\n").unwrap();
        assert!(matches!(
            live.reload(now),
            Reload::Failed {
                version: Some(_),
                ..
            }
        ));
        assert_eq!(
            live.snapshot().version,
            to,
            "the last good deployment serves"
        );
        assert!(
            matches!(live.reload(now), Reload::Unchanged),
            "reported once"
        );
    }
}
