//! Writing a checked deployment folder to an S3 prefix (`certgate trust push`).
//!
//! Order matters: the folder's files first (for people to browse), then the API Gateway
//! truststore PEM, and the bundle last, so a reader of the bundle never sees a deployment
//! whose files are not all there. A bundle of the old format (`certgate-deployment.json`)
//! is deleted then: a function of an older certgate, which reads only that one, reads
//! the files instead of a deployment that is no longer the current one. Only files whose content changed are uploaded: each object
//! carries the SHA-256 of its content in the `x-amz-meta-certgate-sha256` metadata, compared
//! with a HEAD (an ETag is an MD5 only for single-part uploads without SSE-KMS, so it is not
//! relied on). Nothing is deleted unless asked: files in S3 that are no longer in the folder
//! are reported as stale.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine as _;
use time::OffsetDateTime;

use super::bundle::{BUNDLE_NAME, Bundle, JSON_BUNDLE_NAME, sha256_hex};
use super::s3::{RESERVED_NAMES, S3Error, S3Source, TRUSTSTORE_NAME};
use crate::files::SourceFile;
use crate::trust::TrustStore;

/// Object metadata holding the SHA-256 (hex) of the object's content.
pub(crate) const SHA256_METADATA: &str = "certgate-sha256";
/// Bundle metadata holding the deployment version.
pub(crate) const VERSION_METADATA: &str = "certgate-version";

/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// What [`push`] may do.
#[derive(Debug, Clone, Copy)]
pub struct PushOptions {
    /// Delete objects under the prefix that are no longer in the folder.
    pub delete: bool,
    /// The bundle's `pushed_at`.
    pub now: OffsetDateTime,
}

/// One generated object (truststore or bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectWrite {
    pub key: String,
    /// The S3 object version (`TruststoreVersion`); `None` when the bucket is not versioned.
    pub version_id: Option<String>,
    /// False when the object already had this content and was left alone.
    pub uploaded: bool,
}

/// What [`push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// Deployment version written in the bundle.
    pub version: String,
    /// Folder files uploaded (new or changed), by path.
    pub uploaded: Vec<String>,
    /// Folder files already in S3 with the same content.
    pub unchanged: Vec<String>,
    /// Objects under the prefix that are not in the folder (deleted if `delete`).
    pub stale: Vec<String>,
    /// Stale objects deleted (with `delete`), and the bundle of the old format this push
    /// replaced, if there was one.
    pub deleted: Vec<String>,
    /// `None` when the trust store holds no CA (nothing to write).
    pub truststore: Option<ObjectWrite>,
    pub bundle: ObjectWrite,
}

/// Paths of a folder that clash with the objects `push` writes itself.
pub fn reserved_conflicts(files: &[SourceFile]) -> Vec<String> {
    files
        .iter()
        .filter(|file| RESERVED_NAMES.contains(&file.path.as_str()))
        .map(|file| {
            format!(
                "error: {}: this name is reserved for the object `certgate trust push` writes; rename the file",
                file.path
            )
        })
        .collect()
}

/// The API Gateway truststore: every root and intermediate of `store`, PEM, roots first.
pub fn truststore_pem(store: &TrustStore) -> Vec<u8> {
    let mut pem = String::new();
    for cert in store.roots().iter().chain(&store.intermediates()) {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.der());
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

/// Uploads a checked deployment (see the module docs for order and change detection).
///
/// # Errors
/// The first S3 failure; what was uploaded before it stays, and the bundle (written last)
/// still describes the previous deployment.
pub async fn push(
    s3: &S3Source,
    files: &[SourceFile],
    truststore: &[u8],
    options: &PushOptions,
) -> Result<PushReport, S3Error> {
    let bundle = Bundle::new(files.to_vec(), options.now).map_err(|source| S3Error::Bundle {
        bucket: s3.location().bucket.clone(),
        key: s3.location().key(BUNDLE_NAME),
        source,
    })?;
    let existing: HashMap<String, u64> = s3
        .list()
        .await?
        .into_iter()
        .map(|entry| (entry.path, entry.size))
        .collect();

    // Files that may be unchanged (same size) are HEADed for their hash.
    let mut uploaded = Vec::new();
    let mut unchanged = Vec::new();
    for chunk in bundle.files.chunks(CONCURRENCY) {
        let mut tasks = tokio::task::JoinSet::new();
        for file in chunk {
            let s3 = s3.clone();
            let file = file.clone();
            let same_size = existing.get(&file.path) == Some(&(file.bytes.len() as u64));
            tasks.spawn(async move {
                let sha = sha256_hex(&file.bytes);
                if same_size
                    && stored_metadata(&s3, &file.path, SHA256_METADATA).await?.0
                        == Some(sha.clone())
                {
                    return Ok((file.path, false));
                }
                put(&s3, &file.path, file.bytes, &[(SHA256_METADATA, sha)]).await?;
                Ok::<_, S3Error>((file.path, true))
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (path, was_uploaded) = joined.map_err(|error| task_failed(s3, &error))??;
            if was_uploaded {
                uploaded.push(path);
            } else {
                unchanged.push(path);
            }
        }
    }
    uploaded.sort();
    unchanged.sort();

    let truststore = if truststore.is_empty() {
        None
    } else {
        Some(
            put_if_changed(
                s3,
                TRUSTSTORE_NAME,
                truststore.to_vec(),
                SHA256_METADATA,
                sha256_hex(truststore),
            )
            .await?,
        )
    };
    let bundle_write = put_if_changed(
        s3,
        BUNDLE_NAME,
        bundle.encode(),
        VERSION_METADATA,
        bundle.version.clone(),
    )
    .await?;

    let mut deleted = Vec::new();
    if existing.contains_key(JSON_BUNDLE_NAME) {
        delete(s3, JSON_BUNDLE_NAME).await?;
        deleted.push(JSON_BUNDLE_NAME.to_owned());
    }
    let mut stale: Vec<String> = existing
        .into_keys()
        .filter(|path| {
            !RESERVED_NAMES.contains(&path.as_str())
                && bundle
                    .files
                    .binary_search_by(|file| file.path.as_str().cmp(path))
                    .is_err()
        })
        .collect();
    stale.sort();
    if options.delete {
        for path in &stale {
            delete(s3, path).await?;
            deleted.push(path.clone());
        }
    }
    Ok(PushReport {
        version: bundle.version,
        uploaded,
        unchanged,
        stale,
        deleted,
        truststore,
        bundle: bundle_write,
    })
}

/// Writes a generated object unless it already carries `value` in `metadata`.
async fn put_if_changed(
    s3: &S3Source,
    path: &str,
    bytes: Vec<u8>,
    metadata: &'static str,
    value: String,
) -> Result<ObjectWrite, S3Error> {
    let key = s3.location().key(path);
    let (stored, version_id) = stored_metadata(s3, path, metadata).await?;
    if stored.as_deref() == Some(value.as_str()) {
        return Ok(ObjectWrite {
            key,
            version_id,
            uploaded: false,
        });
    }
    let mut tags = vec![(metadata, value)];
    if metadata != SHA256_METADATA {
        tags.push((SHA256_METADATA, sha256_hex(&bytes)));
    }
    let version_id = put(s3, path, bytes, &tags).await?;
    Ok(ObjectWrite {
        key,
        version_id,
        uploaded: true,
    })
}

/// DELETE of one object under the prefix.
async fn delete(s3: &S3Source, path: &str) -> Result<(), S3Error> {
    let key = s3.location().key(path);
    s3.client()
        .delete_object()
        .bucket(&s3.location().bucket)
        .key(&key)
        .send()
        .await
        .map_err(|error| s3.s3_error("DeleteObject", &key, &error))?;
    Ok(())
}

/// The value of `name` in the object's metadata and its version id; `(None, None)` when
/// the object does not exist.
async fn stored_metadata(
    s3: &S3Source,
    path: &str,
    name: &str,
) -> Result<(Option<String>, Option<String>), S3Error> {
    let key = s3.location().key(path);
    match s3
        .client()
        .head_object()
        .bucket(&s3.location().bucket)
        .key(&key)
        .send()
        .await
    {
        Ok(head) => Ok((
            head.metadata().and_then(|m| m.get(name)).cloned(),
            head.version_id,
        )),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found) =>
        {
            Ok((None, None))
        }
        Err(error) => Err(s3.s3_error("HeadObject", &key, &error)),
    }
}

/// PUT of one object with metadata; returns its version id.
async fn put(
    s3: &S3Source,
    path: &str,
    bytes: impl Into<ByteStream>,
    metadata: &[(&str, String)],
) -> Result<Option<String>, S3Error> {
    let key = s3.location().key(path);
    let mut request = s3
        .client()
        .put_object()
        .bucket(&s3.location().bucket)
        .key(&key)
        .content_type(content_type(path))
        // Stated whatever `AWS_REQUEST_CHECKSUM_CALCULATION` says: S3 keeps it, and a
        // reader's SDK checks every byte against it (the SDK's default algorithm).
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(bytes.into());
    for (name, value) in metadata {
        request = request.metadata(*name, value);
    }
    let output = request
        .send()
        .await
        .map_err(|error| s3.s3_error("PutObject", &key, &error))?;
    Ok(output.version_id)
}

fn content_type(path: &str) -> &'static str {
    match path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
    {
        Some(ext) if ext == "toml" => "application/toml",
        Some(ext) if ext == "xml" => "application/xml",
        Some(ext) if ext == "json" => "application/json",
        Some(ext) if ext == "pem" => "application/x-pem-file",
        Some(ext) if ext == "crl" => "application/pkix-crl",
        Some(ext) if ext == "cer" || ext == "crt" => "application/pkix-cert",
        _ => "application/octet-stream",
    }
}

fn task_failed(s3: &S3Source, error: &tokio::task::JoinError) -> S3Error {
    S3Error::S3 {
        operation: "PutObject",
        bucket: s3.location().bucket.clone(),
        key: s3.location().list_prefix(),
        message: format!("upload task failed: {error}"),
    }
}
