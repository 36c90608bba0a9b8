//! Reading a deployment from an S3 prefix (`s3://bucket/prefix`).
//!
//! [`S3Source::fetch`] makes one conditional GET of the bundle object
//! (`<prefix>/certgate-deployment.bin`, see [`super::bundle`]): an unchanged ETag answers
//! [`Fetch::NotModified`] without transferring anything. Without it, it reads a bundle of
//! the old format (`certgate-deployment.json`) the same way; only when no bundle exists
//! does it list the prefix and read the files one by one, bounded by [`Limits`]. Either
//! fallback says so in [`FetchedDeployment::warnings`].

use std::fmt;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
use bytes::Bytes;
use time::OffsetDateTime;

use super::bundle::{
    BUNDLE_NAME, Bundle, BundleError, JSON_BUNDLE_NAME, check_path, max_bundle_bytes,
};
use super::{Limits, content_version};
use crate::files::SourceFile;

mod client;
mod http;
mod location;

pub use client::{ClientOptions, s3_client, sdk_config};
pub use location::S3Location;

/// Name of the API Gateway truststore object written by `trust push`, relative to the prefix.
pub const TRUSTSTORE_NAME: &str = "truststore.pem";

/// Objects at the root of the prefix that `trust push` writes itself; they are not part of
/// the deployment folder and a folder may not contain files with these names.
pub const RESERVED_NAMES: [&str; 3] = [BUNDLE_NAME, JSON_BUNDLE_NAME, TRUSTSTORE_NAME];

/// How many objects the fallback reader fetches at once.
const FALLBACK_CONCURRENCY: usize = 8;

/// Why a deployment could not be read from (or written to) S3.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    #[error("{uri:?} is not an S3 location: {reason}")]
    BadUri { uri: String, reason: &'static str },
    #[error("S3 {operation} s3://{bucket}/{key} failed: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("s3://{bucket}/{key}: {source}")]
    Bundle {
        bucket: String,
        key: String,
        source: BundleError,
    },
    #[error("s3://{bucket}/{key} is {size} bytes, more than the limit of {max}")]
    TooLarge {
        bucket: String,
        key: String,
        size: u64,
        max: u64,
    },
    #[error("{location} holds more than {max} files")]
    TooManyFiles { location: S3Location, max: usize },
    #[error(
        "CA bundle {path} (AWS_CA_BUNDLE): {reason}; it must be a PEM file of the CA certificates that issued the S3 endpoint's certificate"
    )]
    CaBundle { path: String, reason: String },
    #[error("{location} holds no deployment: no {BUNDLE_NAME} and no files")]
    Empty { location: S3Location },
}

/// What [`S3Source::fetch`] found.
#[derive(Debug)]
pub enum Fetch {
    /// The bundle's ETag is the one given: nothing was transferred.
    NotModified,
    /// A deployment (from the bundle, or from the files when there is no bundle).
    Loaded(FetchedDeployment),
}

/// A deployment as read from S3, not yet validated.
#[derive(Debug, Clone)]
pub struct FetchedDeployment {
    /// Sorted by path.
    pub files: Vec<SourceFile>,
    /// [`content_version`] of the files.
    pub version: String,
    /// The bundle object's ETag, for the next conditional GET; `None` when read from files.
    pub etag: Option<String>,
    /// When the bundle was pushed; `None` when read from files.
    pub pushed_at: Option<OffsetDateTime>,
    /// Things an operator should know (e.g. "no bundle: read the files one by one").
    pub warnings: Vec<String>,
}

/// A deployment folder in S3.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
    location: S3Location,
    limits: Limits,
}

impl S3Source {
    pub fn new(client: Client, location: S3Location) -> Self {
        Self {
            client,
            location,
            limits: Limits::default(),
        }
    }

    /// A source for `uri` with a client from the environment (see [`s3_client`]).
    ///
    /// # Errors
    /// [`S3Error::BadUri`] when `uri` is not `s3://bucket/prefix`, [`S3Error::CaBundle`].
    pub async fn from_env(uri: &str) -> Result<Self, S3Error> {
        let location = uri.parse()?;
        Ok(Self::new(
            s3_client(&ClientOptions::default()).await?,
            location,
        ))
    }

    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads the deployment: one GET of the bundle, conditional on `previous_etag`.
    ///
    /// # Errors
    /// S3 unreachable or refusing, a corrupted or oversized bundle, or (without a bundle)
    /// too many or too large files, or nothing at all under the prefix.
    pub async fn fetch(&self, previous_etag: Option<&str>) -> Result<Fetch, S3Error> {
        let mut warnings = Vec::new();
        let mut got = self.get_bundle(BUNDLE_NAME, previous_etag).await?;
        if matches!(got, Got::Missing) {
            got = self.get_bundle(JSON_BUNDLE_NAME, previous_etag).await?;
            if matches!(got, Got::Object { .. }) {
                warnings.push(format!(
                    "{JSON_BUNDLE_NAME} under {} is a bundle of the old format (JSON), slower \
                     to read at a cold start; run `certgate trust push` to replace it with \
                     {BUNDLE_NAME}",
                    self.location
                ));
            }
        }
        let (key, etag, chunks, checksummed) = match got {
            Got::NotModified => return Ok(Fetch::NotModified),
            Got::Missing => return self.fetch_files().await.map(Fetch::Loaded),
            Got::Object {
                key,
                etag,
                chunks,
                checksummed,
            } => (key, etag, chunks, checksummed),
        };
        // The files are slices of the chunks the object arrived in: not copied into
        // fresh pages of their own, which at a cold start cost more than the copy.
        let decoded = if checksummed {
            Bundle::decode_checksummed(&chunks, &self.limits)
        } else {
            Bundle::decode(&chunks, &self.limits)
        };
        let bundle = decoded.map_err(|source| S3Error::Bundle {
            bucket: self.location.bucket.clone(),
            key,
            source,
        })?;
        Ok(Fetch::Loaded(FetchedDeployment {
            version: bundle.version,
            files: bundle.files,
            etag,
            pushed_at: Some(bundle.pushed_at),
            warnings,
        }))
    }

    /// One conditional GET of the bundle object `name`.
    async fn get_bundle(&self, name: &str, previous_etag: Option<&str>) -> Result<Got, S3Error> {
        let key = self.location.key(name);
        // Asked for explicitly, the SDK checks the object's checksum whatever the
        // environment's `AWS_RESPONSE_CHECKSUM_VALIDATION` says.
        let response = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .set_if_none_match(previous_etag.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(error) if is_not_modified(&error) => return Ok(Got::NotModified),
            Err(error) if is_no_such_key(&error) => return Ok(Got::Missing),
            Err(error) => return Err(self.s3_error("GetObject", &key, &error)),
        };
        let etag = output.e_tag.clone();
        let checksummed = checksum_covers_object(&output);
        let chunks = self
            .read_body(
                &key,
                output.content_length,
                output.body,
                max_bundle_bytes(&self.limits),
            )
            .await?;
        Ok(Got::Object {
            key,
            etag,
            chunks,
            checksummed,
        })
    }

    /// Every object under the prefix (keys and sizes), at most `max_files` + reserved ones.
    ///
    /// # Errors
    /// S3 failures; more objects than the limits allow.
    pub async fn list(&self) -> Result<Vec<ObjectEntry>, S3Error> {
        let prefix = self.location.list_prefix();
        let mut entries = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.location.bucket)
                .prefix(&prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|error| self.s3_error("ListObjectsV2", &prefix, &error))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some(path) = self.location.relative(key) else {
                    continue;
                };
                if path.is_empty() || path.ends_with('/') {
                    continue; // folder markers made by consoles
                }
                entries.push(ObjectEntry {
                    path: path.to_owned(),
                    size: object.size().unwrap_or(0).max(0).cast_unsigned(),
                });
                if entries.len() > self.limits.max_files + RESERVED_NAMES.len() {
                    return Err(S3Error::TooManyFiles {
                        location: self.location.clone(),
                        max: self.limits.max_files,
                    });
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(entries)
    }

    /// Reads one object under the prefix, at most `max` bytes.
    ///
    /// # Errors
    /// S3 failures; an object larger than `max`.
    pub async fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, S3Error> {
        let key = self.location.key(path);
        let output = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|error| self.s3_error("GetObject", &key, &error))?;
        let chunks = self
            .read_body(&key, output.content_length, output.body, max)
            .await?;
        Ok(chunks.concat())
    }

    /// No bundle: list the prefix and read every file (bounded).
    async fn fetch_files(&self) -> Result<FetchedDeployment, S3Error> {
        let mut warnings = vec![format!(
            "no {BUNDLE_NAME} under {}: read the files one by one, which is slow and not \
             atomic; run `certgate trust push` to write the bundle",
            self.location
        )];
        let mut wanted = Vec::new();
        let mut total = 0u64;
        for entry in self.list().await? {
            if RESERVED_NAMES.contains(&entry.path.as_str()) {
                continue;
            }
            if let Err(error) = check_path(&entry.path) {
                warnings.push(format!("skipped: {error}"));
                continue;
            }
            if entry.size > self.limits.max_file_bytes {
                return Err(S3Error::TooLarge {
                    bucket: self.location.bucket.clone(),
                    key: self.location.key(&entry.path),
                    size: entry.size,
                    max: self.limits.max_file_bytes,
                });
            }
            total += entry.size;
            if total > self.limits.max_total_bytes {
                return Err(S3Error::TooLarge {
                    bucket: self.location.bucket.clone(),
                    key: self.location.list_prefix(),
                    size: total,
                    max: self.limits.max_total_bytes,
                });
            }
            wanted.push(entry.path);
        }
        if wanted.len() > self.limits.max_files {
            return Err(S3Error::TooManyFiles {
                location: self.location.clone(),
                max: self.limits.max_files,
            });
        }
        if wanted.is_empty() {
            return Err(S3Error::Empty {
                location: self.location.clone(),
            });
        }
        let mut files = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(FALLBACK_CONCURRENCY) {
            let mut tasks = tokio::task::JoinSet::new();
            for path in chunk {
                let source = self.clone();
                let path = path.clone();
                tasks.spawn(async move {
                    let bytes = source.read(&path, source.limits.max_file_bytes).await?;
                    Ok::<_, S3Error>(SourceFile::new(path, bytes))
                });
            }
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok(file) => files.push(file?),
                    Err(error) => {
                        return Err(S3Error::S3 {
                            operation: "GetObject",
                            bucket: self.location.bucket.clone(),
                            key: self.location.list_prefix(),
                            message: format!("reader task failed: {error}"),
                        });
                    }
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(FetchedDeployment {
            version: content_version(&files),
            files,
            etag: None,
            pushed_at: None,
            warnings,
        })
    }

    /// The body of a GET as the chunks it arrived in (kept, not copied together), at
    /// most `max` bytes.
    async fn read_body(
        &self,
        key: &str,
        content_length: Option<i64>,
        mut body: ByteStream,
        max: u64,
    ) -> Result<Vec<Bytes>, S3Error> {
        let too_large = |size: u64| S3Error::TooLarge {
            bucket: self.location.bucket.clone(),
            key: key.to_owned(),
            size,
            max,
        };
        let announced = content_length.unwrap_or(0).max(0).cast_unsigned();
        if announced > max {
            return Err(too_large(announced));
        }
        let mut chunks = Vec::new();
        let mut read = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| S3Error::S3 {
                operation: "GetObject",
                bucket: self.location.bucket.clone(),
                key: key.to_owned(),
                message: format!("reading the body: {}", error_chain(&error)),
            })?;
            read += chunk.len() as u64;
            if read > max {
                return Err(too_large(read));
            }
            chunks.push(chunk);
        }
        Ok(chunks)
    }

    /// An [`S3Error::S3`] for `operation` on `key` of this bucket, with the SDK error chain.
    pub fn s3_error<E, R>(
        &self,
        operation: &'static str,
        key: &str,
        error: &SdkError<E, R>,
    ) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug + 'static,
    {
        S3Error::S3 {
            operation,
            bucket: self.location.bucket.clone(),
            key: key.to_owned(),
            message: describe_sdk_error(error),
        }
    }
}

/// What S3 said (`NoSuchBucket: The specified bucket does not exist`), or why it could
/// not be asked (`io error: ... Connection refused`), without the SDK's debug dump.
pub(crate) fn describe_sdk_error<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    if let Some(service) = error.as_service_error() {
        return match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => error_chain(service),
        };
    }
    error_chain(error)
}

/// `error: cause: cause...`, each level once.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One object under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Relative to the prefix.
    pub path: String,
    pub size: u64,
}

/// What a conditional GET of a bundle object found.
enum Got {
    NotModified,
    Missing,
    Object {
        key: String,
        etag: Option<String>,
        /// As it arrived: the bundle's files are slices of these chunks.
        chunks: Vec<Bytes>,
        /// Every byte of `chunks` was checked against S3's checksum of the whole object.
        checksummed: bool,
    },
}

/// Whether the SDK checked every byte of `output`'s body against a checksum S3 stated
/// for the whole object. It checks the one checksum S3 returns when asked with
/// `ChecksumMode::Enabled` (since 2025 S3 keeps one for every object it stores; an
/// object may also have been written without one) and fails the body's read on a
/// mismatch. A multipart object's checksum of its parts (`…-N`, type `COMPOSITE`) is
/// not checked by the SDK, so it does not count.
fn checksum_covers_object(output: &GetObjectOutput) -> bool {
    let stated = [
        output.checksum_crc64_nvme(),
        output.checksum_crc32_c(),
        output.checksum_crc32(),
        output.checksum_sha1(),
        output.checksum_sha256(),
    ];
    output.checksum_type() != Some(&ChecksumType::Composite)
        && stated.iter().any(Option::is_some)
        && stated.iter().flatten().all(|value| !value.contains('-'))
}

/// S3 answers a matching `If-None-Match` with 304, which the SDK turns into an error.
fn is_not_modified(error: &SdkError<GetObjectError, HttpResponse>) -> bool {
    matches!(error, SdkError::ServiceError(_))
        && error
            .raw_response()
            .is_some_and(|response| response.status().as_u16() == 304)
}

fn is_no_such_key(error: &SdkError<GetObjectError, HttpResponse>) -> bool {
    error.as_service_error().is_some_and(|service| {
        service.is_no_such_key() || matches!(service.code(), Some("NoSuchKey" | "NotFound"))
    })
}
