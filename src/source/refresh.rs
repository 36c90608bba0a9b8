//! The last good deployment, and a background task that keeps it fresh.
//!
//! [`Snapshot<T>`] holds the current deployment (any type `T` the caller builds from the
//! files) behind an `ArcSwapOption`: readers take it with one atomic load and keep it for a
//! whole request, however often it changes meanwhile. [`Refresher`] fills it:
//! [`Refresher::load_initial`] at cold start, then [`Refresher::spawn`] every interval.
//! Each refresh is one conditional GET (ETag); a changed deployment is built off the async
//! threads and swapped in whole only when the build succeeds. A refresh that fails (S3
//! unreachable, a deployment that does not build) keeps the last good snapshot and records
//! why ([`Snapshot::last_error`]), logging it with `tracing`.
//!
//! "No deployment ever loaded" is [`Snapshot::current`] returning `None` (or
//! [`Snapshot::require`] failing with [`NotLoaded`]): the function answers 503 then, and the
//! background task keeps trying.
//!
//! Secret named values (`[named_values]` from Secrets Manager or SSM) are read before each
//! build and passed to it; they are read again at every refresh, also when the files did
//! not change, and a changed value rebuilds the deployment from the files kept for that.
//! A secret that cannot be read fails that load like a build error: the last good
//! deployment stays.
//!
//! In Lambda the execution environment is frozen between invocations, and the task with it:
//! a refresh that fell due while frozen runs as soon as the next invocation thaws it,
//! concurrently with that request, which is served from the snapshot it took.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use time::OffsetDateTime;

use super::s3::{Fetch, S3Error, S3Source};
use super::secrets::{SecretReader, SecretValues, secret_refs};
use crate::config::SecretRef;
use crate::files::SourceFile;

/// Where deployments come from: one fetch, conditional on the ETag of the last one.
pub trait DeploymentSource: Send + Sync + 'static {
    type Error: fmt::Display + Send;

    /// [`Fetch::NotModified`] when `previous_etag` is still current.
    fn fetch(
        &self,
        previous_etag: Option<&str>,
    ) -> impl Future<Output = Result<Fetch, Self::Error>> + Send;

    /// Where, for log lines (`s3://bucket/prefix`).
    fn describe(&self) -> String;
}

impl DeploymentSource for S3Source {
    type Error = S3Error;

    fn fetch(
        &self,
        previous_etag: Option<&str>,
    ) -> impl Future<Output = Result<Fetch, S3Error>> + Send {
        S3Source::fetch(self, previous_etag)
    }

    fn describe(&self) -> String {
        self.location().to_string()
    }
}

/// One loaded deployment and where it came from.
#[derive(Debug)]
pub struct Versioned<T> {
    pub value: T,
    /// The deployment version ([`super::content_version`]): put it in responses and log lines.
    pub version: String,
    /// ETag of the bundle it was read from; `None` when read file by file.
    pub etag: Option<String>,
    /// When `trust push` wrote the bundle; `None` when read file by file.
    pub pushed_at: Option<OffsetDateTime>,
    /// When this process built it.
    pub loaded_at: OffsetDateTime,
    /// Warnings of the fetch (e.g. no bundle).
    pub warnings: Vec<String>,
}

/// Why the last refresh did not install a new deployment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The source could not be read (S3 unreachable, access denied, corrupted bundle).
    #[error("cannot read the deployment from {source_name}: {message}")]
    Fetch {
        source_name: String,
        message: String,
    },
    /// The deployment was read but does not build; the previous one stays.
    #[error("deployment {version} from {source_name} does not load: {message}")]
    Build {
        source_name: String,
        version: String,
        message: String,
    },
}

/// No deployment has loaded since the process started (answer 503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLoaded {
    /// Why the last attempt failed; `None` before the first attempt.
    pub last_error: Option<RefreshError>,
}

impl fmt::Display for NotLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.last_error {
            Some(error) => write!(f, "no deployment loaded yet: {error}"),
            None => f.write_str("no deployment loaded yet"),
        }
    }
}

impl std::error::Error for NotLoaded {}

/// What a successful refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// Same ETag or same version: nothing built.
    Unchanged,
    /// A new deployment was built and swapped in.
    Updated { version: String },
}

/// The health of a [`Snapshot`], for logs and a status endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Version being served; `None` when nothing ever loaded.
    pub version: Option<String>,
    /// Why the last refresh failed; `None` when it succeeded.
    pub last_error: Option<RefreshError>,
    pub last_attempt: Option<OffsetDateTime>,
    pub last_success: Option<OffsetDateTime>,
    /// How many deployments were built (successfully or not) by this process.
    pub builds: u64,
}

#[derive(Default)]
struct State {
    /// ETag and version of the last deployment fetched, good or bad; `None` if none.
    seen_etag: Option<String>,
    seen_version: Option<String>,
    /// The build error of that deployment, repeated while it stays in the source.
    seen_error: Option<RefreshError>,
    last_error: Option<RefreshError>,
    last_attempt: Option<OffsetDateTime>,
    last_success: Option<OffsetDateTime>,
    builds: u64,
    /// What the current deployment needs to be rebuilt when a secret rotates; `None`
    /// when it has no secret named values.
    kept: Option<Kept>,
}

/// Where a deployment is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuildOn {
    /// The cold start's: nothing else runs yet, and a thread of its own cost a cold start
    /// 66 page faults (its stack and allocator heap) and about 0.2 ms of CPU. Not bounded
    /// by a timeout around the load (nothing can stop CPU work, on either thread); the
    /// build is bounded by the deployment's [`Limits`](super::Limits).
    ThisThread,
    /// A refresh's: the runtime goes on serving requests meanwhile.
    BlockingPool,
}

/// The files of the current deployment and a digest of the secret values it was built
/// with (the values themselves live only in the deployment).
struct Kept {
    files: Arc<[SourceFile]>,
    version: String,
    refs: BTreeMap<String, SecretRef>,
    digest: ring::digest::Digest,
}

/// The current deployment, swapped whole; readers never block.
pub struct Snapshot<T> {
    current: ArcSwapOption<Versioned<T>>,
    state: Mutex<State>,
}

impl<T> Default for Snapshot<T> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T> Snapshot<T> {
    /// A snapshot with nothing loaded.
    pub fn empty() -> Self {
        Self {
            current: ArcSwapOption::empty(),
            state: Mutex::new(State::default()),
        }
    }

    /// The deployment to serve this request with; `None` when none ever loaded (503).
    pub fn current(&self) -> Option<Arc<Versioned<T>>> {
        self.current.load_full()
    }

    /// The deployment to serve this request with, or why there is none: the function
    /// answers 503 with [`NotLoaded`] (which says the last error) then.
    ///
    /// # Errors
    /// [`NotLoaded`] when no deployment ever loaded.
    pub fn require(&self) -> Result<Arc<Versioned<T>>, NotLoaded> {
        self.current().ok_or_else(|| NotLoaded {
            last_error: self.last_error(),
        })
    }

    /// Version being served; `None` when none ever loaded.
    pub fn version(&self) -> Option<String> {
        self.current
            .load()
            .as_ref()
            .map(|current| current.version.clone())
    }

    /// Why the last refresh failed, if it did.
    pub fn last_error(&self) -> Option<RefreshError> {
        self.state().last_error.clone()
    }

    pub fn status(&self) -> Status {
        let state = self.state();
        Status {
            version: self.version(),
            last_error: state.last_error.clone(),
            last_attempt: state.last_attempt,
            last_success: state.last_success,
            builds: state.builds,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the background task runs after each refresh with the deployment being served:
/// upkeep of what a deployment fetches itself (`validate-jwt`'s OpenID keys).
pub type Tick<T> =
    Arc<dyn Fn(Arc<Versioned<T>>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Builds deployments from a [`DeploymentSource`] into a [`Snapshot`].
pub struct Refresher<S, T, F> {
    source: S,
    build: Arc<F>,
    snapshot: Arc<Snapshot<T>>,
    /// Reads the deployment's secret named values.
    secrets: SecretReader,
    /// One refresh at a time.
    running: tokio::sync::Mutex<()>,
    tick: Option<Tick<T>>,
}

impl<S, T, F, E> Refresher<S, T, F>
where
    S: DeploymentSource,
    T: Send + Sync + 'static,
    F: Fn(&[SourceFile], &str, SecretValues) -> Result<T, E> + Send + Sync + 'static,
    E: fmt::Display,
{
    /// `build` turns a deployment's files, version (computed once, by the source) and
    /// secret named values into the snapshot value (the full deployment loader in the
    /// function, a check in tests); it runs on a blocking thread. Secrets are read with
    /// the standard AWS environment.
    pub fn new(source: S, build: F) -> Self {
        Self::with_secrets(source, build, SecretReader::default())
    }

    /// [`Self::new`] reading secrets with `secrets` (the function's short timeouts).
    pub fn with_secrets(source: S, build: F, secrets: SecretReader) -> Self {
        Self {
            source,
            build: Arc::new(build),
            snapshot: Arc::new(Snapshot::empty()),
            secrets,
            running: tokio::sync::Mutex::new(()),
            tick: None,
        }
    }

    /// Runs `tick` after every background refresh ([`Self::spawn`]) with the deployment
    /// then served, if any.
    #[must_use]
    pub fn with_tick(mut self, tick: Tick<T>) -> Self {
        self.tick = Some(tick);
        self
    }

    /// The snapshot this refresher fills; clone the `Arc` into request handlers.
    pub fn snapshot(&self) -> Arc<Snapshot<T>> {
        Arc::clone(&self.snapshot)
    }

    /// The cold-start load. On failure the snapshot stays empty (check
    /// [`Snapshot::current`]) and the error is returned and recorded.
    ///
    /// # Errors
    /// The [`RefreshError`] of the attempt.
    pub async fn load_initial(&self) -> Result<Arc<Versioned<T>>, RefreshError> {
        self.refresh_on(BuildOn::ThisThread).await?;
        self.snapshot.current().ok_or_else(|| {
            // Unchanged with nothing loaded: the seen deployment does not build.
            self.snapshot
                .last_error()
                .unwrap_or_else(|| RefreshError::Fetch {
                    source_name: self.source.describe(),
                    message: "no deployment loaded".to_owned(),
                })
        })
    }

    /// One refresh: fetch (conditional), build if changed, swap on success.
    ///
    /// # Errors
    /// Why nothing new was installed; the previous snapshot stays.
    pub async fn refresh(&self) -> Result<Refreshed, RefreshError> {
        self.refresh_on(BuildOn::BlockingPool).await
    }

    async fn refresh_on(&self, build_on: BuildOn) -> Result<Refreshed, RefreshError> {
        let _one_at_a_time = self.running.lock().await;
        let now = OffsetDateTime::now_utc();
        let seen_etag = {
            let mut state = self.snapshot.state();
            state.last_attempt = Some(now);
            state.seen_etag.clone()
        };
        let fetch_started = Instant::now();
        let fetched = match self.source.fetch(seen_etag.as_deref()).await {
            Ok(Fetch::NotModified) => return self.recheck_secrets(now).await,
            Ok(Fetch::Loaded(fetched)) => fetched,
            Err(error) => {
                let error = RefreshError::Fetch {
                    source_name: self.source.describe(),
                    message: error.to_string(),
                };
                return Err(self.failed(error));
            }
        };
        for warning in &fetched.warnings {
            tracing::warn!(source = %self.source.describe(), "{warning}");
        }
        let seen = {
            let mut state = self.snapshot.state();
            let seen = state.seen_version.as_deref() == Some(fetched.version.as_str());
            if seen {
                // Same content under a new ETag (re-pushed) or read file by file.
                state.seen_etag = fetched.etag.clone();
            }
            seen
        };
        if seen {
            return self.recheck_secrets(now).await;
        }
        let version = fetched.version.clone();
        let files: Arc<[SourceFile]> = fetched.files.into();
        let refs = secret_refs(&files);
        // Not recorded as seen when unreadable: the next refresh fetches and tries again.
        let values = self
            .secrets
            .read(&refs)
            .await
            .map_err(|error| self.failed(self.build_error(&version, error.to_string())))?;
        let fetch_time = fetch_started.elapsed();
        let kept = (!refs.is_empty()).then(|| Kept {
            files: Arc::clone(&files),
            version: version.clone(),
            digest: digest(&values),
            refs,
        });
        let build_started = Instant::now();
        let built = self.build(files, &version, values, build_on).await;
        let build_time = build_started.elapsed();
        let mut state = self.snapshot.state();
        state.builds += 1;
        state.seen_etag = fetched.etag.clone();
        state.seen_version = Some(version.clone());
        match built {
            Ok(value) => {
                state.kept = kept;
                let previous = self.snapshot.version();
                self.snapshot.current.store(Some(Arc::new(Versioned {
                    value,
                    version: version.clone(),
                    etag: fetched.etag,
                    pushed_at: fetched.pushed_at,
                    loaded_at: now,
                    warnings: fetched.warnings,
                })));
                state.seen_error = None;
                state.last_error = None;
                state.last_success = Some(now);
                tracing::info!(
                    source = %self.source.describe(),
                    version = %version,
                    previous = previous.as_deref().unwrap_or("none"),
                    fetch_ms = millis(fetch_time),
                    build_ms = millis(build_time),
                    "deployment loaded"
                );
                Ok(Refreshed::Updated { version })
            }
            Err(message) => {
                let error = self.build_error(&version, message);
                state.seen_error = Some(error.clone());
                drop(state);
                Err(self.failed(error))
            }
        }
    }

    /// The deployment's files did not change: reads its secret named values again and
    /// rebuilds it from the kept files when one of them did.
    async fn recheck_secrets(&self, now: OffsetDateTime) -> Result<Refreshed, RefreshError> {
        let (files, version, refs, digest_before) = {
            let state = self.snapshot.state();
            match &state.kept {
                Some(kept) if state.seen_error.is_none() => (
                    Arc::clone(&kept.files),
                    kept.version.clone(),
                    kept.refs.clone(),
                    kept.digest,
                ),
                _ => {
                    drop(state);
                    return self.unchanged(now);
                }
            }
        };
        let values = self
            .secrets
            .read(&refs)
            .await
            .map_err(|error| self.failed(self.build_error(&version, error.to_string())))?;
        let digest_now = digest(&values);
        if digest_now.as_ref() == digest_before.as_ref() {
            return self.unchanged(now);
        }
        let built = self
            .build(Arc::clone(&files), &version, values, BuildOn::BlockingPool)
            .await;
        let mut state = self.snapshot.state();
        state.builds += 1;
        match built {
            Ok(value) => {
                let previous = self.snapshot.current();
                self.snapshot.current.store(Some(Arc::new(Versioned {
                    value,
                    version: version.clone(),
                    etag: previous.as_ref().and_then(|p| p.etag.clone()),
                    pushed_at: previous.as_ref().and_then(|p| p.pushed_at),
                    loaded_at: now,
                    warnings: Vec::new(),
                })));
                if let Some(kept) = &mut state.kept {
                    kept.digest = digest_now;
                }
                state.last_error = None;
                state.last_success = Some(now);
                tracing::info!(
                    source = %self.source.describe(),
                    version = %version,
                    "deployment loaded: a secret named value changed"
                );
                Ok(Refreshed::Updated { version })
            }
            // Kept files built before: only the new values can fail it. The next
            // refresh reads them again.
            Err(message) => {
                drop(state);
                Err(self.failed(self.build_error(&version, message)))
            }
        }
    }

    /// Runs `build` where `build_on` says; a panic is an error.
    async fn build(
        &self,
        files: Arc<[SourceFile]>,
        version: &str,
        values: SecretValues,
        build_on: BuildOn,
    ) -> Result<T, String> {
        let build = Arc::clone(&self.build);
        let version = version.to_owned();
        let run = move || build(&files, &version, values).map_err(|e| e.to_string());
        match build_on {
            BuildOn::ThisThread => std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                        .unwrap_or("(no message)");
                    Err(format!("the build panicked: {message}"))
                }),
            BuildOn::BlockingPool => tokio::task::spawn_blocking(run)
                .await
                .unwrap_or_else(|panic| Err(format!("the build panicked: {panic}"))),
        }
    }

    fn build_error(&self, version: &str, message: String) -> RefreshError {
        RefreshError::Build {
            source_name: self.source.describe(),
            version: version.to_owned(),
            message,
        }
    }

    /// Runs [`Self::refresh`] every `interval` in a tokio task until the handle is
    /// aborted; `refresh` may still be called directly meanwhile. While nothing is loaded it retries sooner (at most every 5 s).
    pub fn spawn(self: Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let wait = if self.snapshot.current().is_none() {
                    interval.min(Duration::from_secs(5))
                } else {
                    interval
                };
                tokio::time::sleep(wait).await;
                // Failures are recorded and logged by refresh itself.
                let _ = self.refresh().await;
                if let (Some(tick), Some(current)) = (&self.tick, self.snapshot.current()) {
                    tick(current).await;
                }
            }
        })
    }

    fn unchanged(&self, now: OffsetDateTime) -> Result<Refreshed, RefreshError> {
        let mut state = self.snapshot.state();
        // The deployment in the source is still the one that did not build, if any.
        let state = &mut *state;
        state.last_error.clone_from(&state.seen_error);
        match state.seen_error.clone() {
            Some(error) => Err(error),
            None => {
                state.last_success = Some(now);
                Ok(Refreshed::Unchanged)
            }
        }
    }

    fn failed(&self, error: RefreshError) -> RefreshError {
        let serving = self.snapshot.version();
        tracing::warn!(
            serving = serving.as_deref().unwrap_or("none"),
            error = %error,
            "deployment refresh failed; keeping the last good deployment"
        );
        self.snapshot.state().last_error = Some(error.clone());
        error
    }
}

/// SHA-256 over the names and values, to tell a rotated secret without keeping it.
fn digest(values: &SecretValues) -> ring::digest::Digest {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for (name, value) in values.iter() {
        for part in [name, value] {
            hash.update(&(part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
    }
    hash.finish()
}

/// Milliseconds to a tenth, for log lines: where a load's time went (S3 or building).
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
