//! The refresh state machine against a scripted source (no S3).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::source::s3::FetchedDeployment;

/// Answers fetches from a script and records the ETags it was asked with.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Result<Fetch, String>>>,
    asked: Mutex<Vec<Option<String>>>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Script>);

impl Fake {
    fn then(&self, answer: Result<Fetch, String>) -> &Self {
        self.0.answers.lock().unwrap().push_back(answer);
        self
    }

    fn asked(&self) -> Vec<Option<String>> {
        self.0.asked.lock().unwrap().clone()
    }
}

impl DeploymentSource for Fake {
    type Error = String;

    fn fetch(
        &self,
        previous_etag: Option<&str>,
    ) -> impl Future<Output = Result<Fetch, String>> + Send {
        self.0
            .asked
            .lock()
            .unwrap()
            .push(previous_etag.map(str::to_owned));
        let answer = self
            .0
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Err("script exhausted".to_owned()));
        std::future::ready(answer)
    }

    fn describe(&self) -> String {
        "fake".to_owned()
    }
}

/// A deployment whose single file is `content`; `version` is the content itself.
fn loaded(content: &str, etag: &str) -> Result<Fetch, String> {
    Ok(Fetch::Loaded(FetchedDeployment {
        files: vec![SourceFile::new("gateway.toml", content)],
        version: content.to_owned(),
        etag: Some(etag.to_owned()),
        pushed_at: None,
        warnings: Vec::new(),
    }))
}

/// Builds the file's text; "broken" does not build, "panic" panics.
fn refresher(fake: &Fake) -> (Refresher<Fake, String, impl BuildFn>, Arc<AtomicUsize>) {
    let builds = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&builds);
    let refresher = Refresher::new(
        fake.clone(),
        move |files: &[SourceFile], _: &str, _: SecretValues| {
            counter.fetch_add(1, Ordering::SeqCst);
            let text = String::from_utf8(files[0].bytes.to_vec()).unwrap();
            match text.as_str() {
                "broken" => Err("gateway.toml: broken".to_owned()),
                "panic" => panic!("builder bug"),
                _ => Ok(text),
            }
        },
    );
    (refresher, builds)
}

trait BuildFn:
    Fn(&[SourceFile], &str, SecretValues) -> Result<String, String> + Send + Sync + 'static
{
}
impl<F: Fn(&[SourceFile], &str, SecretValues) -> Result<String, String> + Send + Sync + 'static>
    BuildFn for F
{
}

fn build_error(version: &str) -> RefreshError {
    RefreshError::Build {
        source_name: "fake".into(),
        version: version.into(),
        message: "gateway.toml: broken".into(),
    }
}

#[tokio::test]
async fn nothing_loaded_before_the_first_attempt() {
    let (refresher, _) = refresher(&Fake::default());
    assert_eq!(
        refresher.snapshot().require().unwrap_err(),
        NotLoaded { last_error: None }
    );
    assert_eq!(refresher.snapshot().status().builds, 0);
}

#[tokio::test]
async fn the_etag_of_the_last_fetch_is_sent_back() {
    let fake = Fake::default();
    fake.then(loaded("v1", "\"e1\""))
        .then(Ok(Fetch::NotModified))
        .then(loaded("v2", "\"e2\""))
        .then(Ok(Fetch::NotModified));
    let (refresher, builds) = refresher(&fake);
    assert_eq!(refresher.load_initial().await.unwrap().value, "v1");
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(
        refresher.refresh().await,
        Ok(Refreshed::Updated {
            version: "v2".into()
        })
    );
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(
        fake.asked(),
        [
            None,
            Some("\"e1\"".into()),
            Some("\"e1\"".into()),
            Some("\"e2\"".into())
        ]
    );
    assert_eq!(builds.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_same_version_under_a_new_etag_is_not_rebuilt() {
    let fake = Fake::default();
    fake.then(loaded("v1", "\"e1\""))
        .then(loaded("v1", "\"e1b\""))
        .then(Ok(Fetch::NotModified));
    let (refresher, builds) = refresher(&fake);
    refresher.load_initial().await.unwrap();
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
    assert_eq!(fake.asked()[2], Some("\"e1b\"".into()));
    assert_eq!(builds.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_broken_deployment_stays_reported_until_replaced_even_across_fetch_errors() {
    let fake = Fake::default();
    fake.then(loaded("v1", "\"e1\""))
        .then(loaded("broken", "\"e2\""))
        .then(Ok(Fetch::NotModified))
        .then(Err("connection refused".into()))
        .then(Ok(Fetch::NotModified))
        .then(loaded("v3", "\"e3\""));
    let (refresher, builds) = refresher(&fake);
    let snapshot = refresher.snapshot();
    refresher.load_initial().await.unwrap();

    assert_eq!(refresher.refresh().await, Err(build_error("broken")));
    assert_eq!(snapshot.version().as_deref(), Some("v1"));
    // 304 for the broken bundle: not rebuilt, still an error.
    assert_eq!(refresher.refresh().await, Err(build_error("broken")));
    let fetch_error = RefreshError::Fetch {
        source_name: "fake".into(),
        message: "connection refused".into(),
    };
    assert_eq!(refresher.refresh().await, Err(fetch_error.clone()));
    assert_eq!(snapshot.last_error(), Some(fetch_error));
    assert_eq!(refresher.refresh().await, Err(build_error("broken")));
    assert_eq!(snapshot.last_error(), Some(build_error("broken")));
    assert_eq!(builds.load(Ordering::SeqCst), 2);

    assert!(refresher.refresh().await.is_ok());
    assert_eq!(snapshot.version().as_deref(), Some("v3"));
    assert_eq!(snapshot.last_error(), None);
}

#[tokio::test]
async fn a_broken_deployment_at_cold_start_leaves_nothing_loaded() {
    let fake = Fake::default();
    fake.then(loaded("broken", "\"e1\""))
        .then(Ok(Fetch::NotModified));
    let (refresher, _) = refresher(&fake);
    assert_eq!(
        refresher.load_initial().await.unwrap_err(),
        build_error("broken")
    );
    assert_eq!(refresher.refresh().await, Err(build_error("broken")));
    assert_eq!(
        refresher.snapshot().require().unwrap_err().to_string(),
        "no deployment loaded yet: deployment broken from fake does not load: gateway.toml: broken"
    );
}

#[tokio::test]
async fn a_panicking_build_is_a_build_error() {
    let fake = Fake::default();
    fake.then(loaded("v1", "\"e1\""))
        .then(loaded("panic", "\"e2\""));
    let (refresher, _) = refresher(&fake);
    refresher.load_initial().await.unwrap();
    let error = refresher.refresh().await.unwrap_err();
    assert!(
        matches!(&error, RefreshError::Build { message, .. } if message.starts_with("the build panicked")),
        "{error:?}"
    );
    assert_eq!(refresher.snapshot().version().as_deref(), Some("v1"));
}

/// The cold start builds on the runtime's own thread (no blocking-pool thread to start):
/// a panic there is the same build error, and nothing is served.
#[tokio::test]
async fn a_panicking_build_at_cold_start_is_a_build_error() {
    let fake = Fake::default();
    fake.then(loaded("panic", "\"e1\""));
    let (refresher, _) = refresher(&fake);
    let error = refresher.load_initial().await.unwrap_err();
    assert!(
        matches!(&error, RefreshError::Build { message, .. } if message == "the build panicked: builder bug"),
        "{error:?}"
    );
    assert!(refresher.snapshot().current().is_none());
}

#[tokio::test]
async fn the_tick_runs_after_each_background_refresh_with_the_served_deployment() {
    let fake = Fake::default();
    fake.then(loaded("one", "e1")).then(Ok(Fetch::NotModified));
    let (refresher, _) = refresher(&fake);
    let (sent, mut ticks) = tokio::sync::mpsc::unbounded_channel();
    let refresher = Arc::new(refresher.with_tick(Arc::new(
        move |served: Arc<Versioned<String>>| {
            let sent = sent.clone();
            Box::pin(async move {
                let _ = sent.send(served.value.clone());
            })
        },
    )));
    refresher.load_initial().await.unwrap();
    let task = Arc::clone(&refresher).spawn(Duration::from_millis(1));
    // A tick after the unchanged refresh too: keys age whether or not the deployment changed.
    assert_eq!(ticks.recv().await.as_deref(), Some("one"));
    assert_eq!(ticks.recv().await.as_deref(), Some("one"));
    task.abort();
}
