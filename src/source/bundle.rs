//! The deployment bundle: one object holding every file of a deployment folder.
//!
//! `certgate trust push` writes it last, after the files, so a reader that fetches this one
//! object always sees one whole, validated deployment. It is JSON (readable with any tool):
//!
//! ```json
//! { "format": "certgate-deployment", "format_version": 1,
//!   "version": "<content_version of the files>", "pushed_at": "2026-11-28T17:00:00Z",
//!   "files": [ { "path": "gateway.toml", "size": 123, "sha256": "<hex>", "content": "<base64>" } ] }
//! ```
//!
//! Reading is bounded by [`Limits`] and checks the version, a hash of every byte (and then,
//! to name the culprit, each file's hash), so a truncated or corrupted object is an error
//! that says what is wrong, never a panic and never a half deployment.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Limits, content_version};
use crate::files::SourceFile;

/// Name of the bundle object, relative to the deployment prefix.
pub const BUNDLE_NAME: &str = "certgate-deployment.json";
const FORMAT: &str = "certgate-deployment";
const FORMAT_VERSION: u32 = 1;

/// The largest bundle object that can hold a deployment within `limits`: base64 makes
/// content 4/3 larger, and each file adds its path, hash and JSON punctuation.
pub(crate) fn max_bundle_bytes(limits: &Limits) -> u64 {
    limits.max_total_bytes.div_ceil(3) * 4 + (limits.max_files as u64 + 1) * 2048
}

/// Why a bundle could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("bundle holds {size} bytes, more than the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("bundle holds {count} files, more than the limit of {max}")]
    TooManyFiles { count: usize, max: usize },
    #[error("{path}: {size} bytes, more than the limit of {max} for one file")]
    FileTooLarge { path: String, size: u64, max: u64 },
    #[error("bundle is not valid JSON: {0}")]
    Json(String),
    #[error(
        "bundle format {found:?} is not supported (expected {FORMAT:?} version {FORMAT_VERSION})"
    )]
    UnsupportedFormat { found: String },
    #[error("{path:?} is not a valid deployment path: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("{0} appears twice")]
    DuplicatePath(String),
    #[error("{path}: content is not valid base64")]
    BadContent { path: String },
    #[error("{path}: content does not match its SHA-256 (corrupted bundle)")]
    HashMismatch { path: String },
    #[error("bundle says version {stated} but its files hash to {computed} (corrupted bundle)")]
    VersionMismatch { stated: String, computed: String },
    #[error("bundle pushed_at {0:?} is not an RFC 3339 time")]
    BadTimestamp(String),
}

/// One whole deployment, as stored in the bundle object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// [`content_version`] of `files`: the deployment's version everywhere.
    pub version: String,
    /// When `trust push` wrote it (UTC).
    pub pushed_at: OffsetDateTime,
    /// Sorted by path; paths are unique and relative.
    pub files: Vec<SourceFile>,
}

/// Strings borrow from the object where they hold no JSON escape (always, as `encode`
/// writes them): a cold start copies no file content twice.
#[derive(Serialize, Deserialize)]
struct RawBundle<'a> {
    format: Cow<'a, str>,
    format_version: u32,
    version: Cow<'a, str>,
    pushed_at: Cow<'a, str>,
    #[serde(borrow)]
    files: Vec<RawFile<'a>>,
}

#[derive(Serialize, Deserialize)]
struct RawFile<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    size: u64,
    #[serde(borrow)]
    sha256: Cow<'a, str>,
    #[serde(borrow)]
    content: Cow<'a, str>,
}

impl Bundle {
    /// Builds a bundle from a deployment folder's files (any order).
    ///
    /// # Errors
    /// A path that is not relative and clean (`check_path`), or a path given twice.
    pub fn new(files: Vec<SourceFile>, pushed_at: OffsetDateTime) -> Result<Self, BundleError> {
        let files = sorted_and_checked(files)?;
        Ok(Self {
            version: content_version(&files),
            pushed_at: pushed_at.to_offset(time::UtcOffset::UTC),
            files,
        })
    }

    /// The bundle object's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let raw = RawBundle {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            version: self.version.as_str().into(),
            pushed_at: self
                .pushed_at
                .format(&Rfc3339)
                .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
                .into(),
            files: self
                .files
                .iter()
                .map(|file| RawFile {
                    path: file.path.as_str().into(),
                    size: file.bytes.len() as u64,
                    sha256: sha256_hex(&file.bytes).into(),
                    content: base64::engine::general_purpose::STANDARD
                        .encode(&file.bytes)
                        .into(),
                })
                .collect(),
        };
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_vec_pretty(&raw).unwrap_or_default()
    }

    /// Reads a bundle object, checking the limits, every path, every hash and the version.
    ///
    /// # Errors
    /// Any [`BundleError`]; the message says what is wrong.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, BundleError> {
        let max = max_bundle_bytes(limits);
        if bytes.len() as u64 > max {
            return Err(BundleError::TooLarge {
                size: bytes.len() as u64,
                max,
            });
        }
        let raw: RawBundle =
            serde_json::from_slice(bytes).map_err(|error| BundleError::Json(error.to_string()))?;
        if raw.format != FORMAT || raw.format_version != FORMAT_VERSION {
            return Err(BundleError::UnsupportedFormat {
                found: format!("{} version {}", raw.format, raw.format_version),
            });
        }
        if raw.files.len() > limits.max_files {
            return Err(BundleError::TooManyFiles {
                count: raw.files.len(),
                max: limits.max_files,
            });
        }
        let pushed_at = OffsetDateTime::parse(&raw.pushed_at, &Rfc3339)
            .map_err(|_| BundleError::BadTimestamp(raw.pushed_at.clone().into_owned()))?;
        let mut files = Vec::with_capacity(raw.files.len());
        let mut hashes = Vec::with_capacity(raw.files.len());
        let mut total = 0u64;
        for file in raw.files {
            // base64 is 4/3 of the content: refuse before decoding anything too large.
            let encoded_max = limits.max_file_bytes.div_ceil(3) * 4;
            if file.size > limits.max_file_bytes || file.content.len() as u64 > encoded_max {
                return Err(BundleError::FileTooLarge {
                    size: file.size.max(file.content.len() as u64 / 4 * 3),
                    path: file.path.into_owned(),
                    max: limits.max_file_bytes,
                });
            }
            let path = file.path.into_owned();
            let Ok(content) = base64::engine::general_purpose::STANDARD.decode(&*file.content)
            else {
                return Err(BundleError::BadContent { path });
            };
            if content.len() as u64 != file.size {
                return Err(BundleError::HashMismatch { path });
            }
            total += file.size;
            if total > limits.max_total_bytes {
                return Err(BundleError::TooLarge {
                    size: total,
                    max: limits.max_total_bytes,
                });
            }
            hashes.push((path.clone(), file.sha256));
            files.push(SourceFile {
                path,
                bytes: content,
            });
        }
        let files = sorted_and_checked(files)?;
        // The version hashes every byte: one pass checks the whole bundle. Only when it
        // fails are the files hashed one by one, to name the one that is corrupted.
        let version = content_version(&files);
        if version != raw.version {
            let corrupted = hashes.into_iter().find(|(path, sha256)| {
                files
                    .binary_search_by(|f| f.path.as_str().cmp(path))
                    .is_ok_and(|at| sha256_hex(&files[at].bytes) != *sha256)
            });
            return Err(match corrupted {
                Some((path, _)) => BundleError::HashMismatch { path },
                None => BundleError::VersionMismatch {
                    stated: raw.version.into_owned(),
                    computed: version,
                },
            });
        }
        Ok(Self {
            version,
            pushed_at: pushed_at.to_offset(time::UtcOffset::UTC),
            files,
        })
    }
}

/// `files` sorted by path, each path clean ([`check_path`]) and given once.
fn sorted_and_checked(mut files: Vec<SourceFile>) -> Result<Vec<SourceFile>, BundleError> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in files.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(BundleError::DuplicatePath(pair[0].path.clone()));
        }
    }
    for file in &files {
        check_path(&file.path)?;
    }
    Ok(files)
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::text::hex_lower(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Checks that `path` is a clean relative path with `/` separators: no leading `/`, no
/// `\`, no empty, `.` or `..` segment, no control characters, at most 1024 bytes. Such a
/// path can be joined under a folder or an S3 prefix without escaping it.
///
/// # Errors
/// [`BundleError::BadPath`] saying what is wrong.
pub(crate) fn check_path(path: &str) -> Result<(), BundleError> {
    let bad = |reason| {
        Err(BundleError::BadPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute");
    }
    if path.contains('\\') {
        return bad("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return bad("has an empty, '.' or '..' segment");
    }
    Ok(())
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
