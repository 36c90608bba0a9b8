//! Reading a deployment folder, from a local directory (and later an S3 prefix).
//!
//! A deployment folder is read whole into memory as a list of [`SourceFile`]s: the
//! trust store, the policies and `gateway.toml` are all built from that list, so the
//! same loading code serves a local directory, an S3 prefix and a bundle. Reading is
//! bounded ([`Limits`]): a folder with too many files, a file too large or too much in
//! total is refused with an error that names the limit, never read half-way.

pub mod bundle;
mod local;
pub mod origin;
pub mod push;
pub mod refresh;
pub mod s3;
pub mod secrets;

pub use local::read_folder;
pub(crate) use local::read_folder_with;

use crate::files::SourceFile;

/// A version for a set of files: SHA-256 over their sorted paths and contents, so the
/// same deployment always has the same version wherever it was read from.
pub fn content_version(files: &[SourceFile]) -> String {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    sorted_version(sorted)
}

/// [`content_version`] of files already in path order.
pub(crate) fn sorted_version<'a>(sorted: impl IntoIterator<Item = &'a SourceFile>) -> String {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for file in sorted {
        hash.update(&(file.path.len() as u64).to_be_bytes());
        hash.update(file.path.as_bytes());
        hash.update(&(file.bytes.len() as u64).to_be_bytes());
        hash.update(&file.bytes);
    }
    let digest = hash.finish();
    crate::text::hex_lower(digest.as_ref().get(..8).unwrap_or_default())
}

/// Bounds on what reading a deployment folder may load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most files in the folder (hidden entries are not counted).
    pub max_files: usize,
    /// Largest single file, in bytes (a CRL of a million entries is about 40 MB).
    pub max_file_bytes: u64,
    /// Most bytes over all files.
    pub max_total_bytes: u64,
    /// Deepest directory nesting below the folder root.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 10_000,
            max_file_bytes: 64 * 1024 * 1024,
            max_total_bytes: 256 * 1024 * 1024,
            max_depth: 16,
        }
    }
}

/// Why a deployment folder could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("deployment folder {path} does not exist or is not a directory")]
    NotADirectory { path: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "deployment folder holds more than {limit} files; remove files that are not part of the deployment"
    )]
    TooManyFiles { limit: usize },
    #[error("{path} is {size} bytes, more than the limit of {limit} bytes for one file")]
    FileTooLarge { path: String, size: u64, limit: u64 },
    #[error(
        "deployment folder holds more than {limit} bytes in total; remove files that are not part of the deployment"
    )]
    TooLarge { limit: u64 },
    #[error("{path} is nested deeper than {limit} directories")]
    TooDeep { path: String, limit: usize },
}
