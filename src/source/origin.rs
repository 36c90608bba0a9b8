//! Where `--config` / `CERTGATE_CONFIG` points: an S3 prefix or a local folder, behind one
//! [`DeploymentSource`] so the function and the local server share [`super::refresh`].

use std::path::PathBuf;

use super::refresh::DeploymentSource;
use super::s3::{
    ClientOptions, Fetch, FetchedDeployment, S3Error, S3Location, S3Source, s3_client,
};
use super::{Limits, SourceError, content_version, read_folder_with};

/// A deployment folder on the local disk, read whole at each fetch. It has no ETag: an
/// unchanged folder is recognised by its version, and not rebuilt.
#[derive(Debug, Clone)]
pub struct LocalFolder {
    pub path: PathBuf,
    pub limits: Limits,
}

impl LocalFolder {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            limits: Limits::default(),
        }
    }
}

impl DeploymentSource for LocalFolder {
    type Error = SourceError;

    fn fetch(
        &self,
        _previous_etag: Option<&str>,
    ) -> impl Future<Output = Result<Fetch, SourceError>> + Send {
        let folder = self.clone();
        async move {
            let files =
                tokio::task::spawn_blocking(move || read_folder_with(&folder.path, folder.limits))
                    .await
                    .map_err(|error| SourceError::Io {
                        path: self.path.display().to_string(),
                        source: std::io::Error::other(error.to_string()),
                    })??;
            Ok(Fetch::Loaded(FetchedDeployment {
                version: content_version(&files),
                files,
                etag: None,
                pushed_at: None,
                warnings: Vec::new(),
            }))
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// An S3 prefix (`s3://bucket/prefix`) or a local folder (anything else).
#[derive(Debug, Clone)]
pub enum Origin {
    S3(S3Source),
    Folder(LocalFolder),
}

/// Why an [`Origin`] could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Folder(#[from] SourceError),
}

impl Origin {
    /// `s3://bucket/prefix` (client from the environment, see [`s3_client`]) or a folder.
    ///
    /// # Errors
    /// A malformed `s3://` URI, an unusable `AWS_CA_BUNDLE`.
    pub async fn from_config(config: &str) -> Result<Self, S3Error> {
        if config.starts_with("s3://") {
            let location: S3Location = config.parse()?;
            let client = s3_client(&ClientOptions::default()).await?;
            Ok(Self::S3(S3Source::new(client, location)))
        } else {
            Ok(Self::Folder(LocalFolder::new(config)))
        }
    }
}

impl DeploymentSource for Origin {
    type Error = OriginError;

    async fn fetch(&self, previous_etag: Option<&str>) -> Result<Fetch, OriginError> {
        match self {
            Self::S3(source) => Ok(source.fetch(previous_etag).await?),
            Self::Folder(folder) => Ok(folder.fetch(previous_etag).await?),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::S3(source) => source.describe(),
            Self::Folder(folder) => folder.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::refresh::{Refreshed, Refresher};

    #[tokio::test]
    async fn a_local_folder_refreshes_by_version() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gateway.toml");
        std::fs::write(&config, "one").unwrap();
        let origin = Origin::from_config(dir.path().to_str().unwrap())
            .await
            .unwrap();
        assert!(matches!(origin, Origin::Folder(_)));
        let refresher = Refresher::new(origin, |files: &[crate::files::SourceFile], _: &str, _| {
            Ok::<_, String>(String::from_utf8_lossy(&files[0].bytes).into_owned())
        });
        assert_eq!(refresher.load_initial().await.unwrap().value, "one");
        assert_eq!(refresher.refresh().await, Ok(Refreshed::Unchanged));
        std::fs::write(&config, "two").unwrap();
        assert!(matches!(
            refresher.refresh().await,
            Ok(Refreshed::Updated { .. })
        ));
        assert_eq!(refresher.snapshot().current().unwrap().value, "two");
    }

    #[tokio::test]
    async fn s3_uris_are_parsed_strictly() {
        assert!(matches!(
            Origin::from_config("s3://Bad_Bucket/x").await,
            Err(S3Error::BadUri { .. })
        ));
    }
}
