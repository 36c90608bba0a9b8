//! The deployment bundle: one object holding every file of a deployment folder.
//!
//! `certgate trust push` writes it last, after the files, so a reader that fetches this one
//! object always sees one whole, validated deployment. It is binary, so that a cold start
//! copies each file out of it instead of decoding JSON and base64 (big-endian integers;
//! `certgate trust ls` shows what it holds):
//!
//! ```text
//! "certgate-deployment\n"            20 bytes
//! u32 format version                 3
//! u16 length, UTF-8                  version: content_version of the files
//! u16 length, UTF-8                  pushed_at, RFC 3339
//! u32 file count, then per file:     u16 length + UTF-8 path, u64 size, 32-byte SHA-256,
//!                                    u8 1 + the 20-byte SHA-1 of the one certificate of
//!                                    a file under certificates/, or u8 0
//! the contents, in that order        nothing after them
//! ```
//!
//! The SHA-1 lets a cold start index a thousand uploaded certificates without decoding
//! their PEM or hashing them ([`SourceFile::stated_sha1`]); it is compared with the
//! certificate when that is first read. Format 2 is format 3 without it, and is still
//! read. Format 1 was JSON (`certgate-deployment.json`, each file's content in base64);
//! a bundle of that format is still read, and `trust push` replaces it.
//!
//! Reading is bounded by [`Limits`] and checks the version, a hash of every byte (and then,
//! to name the culprit, each file's hash), so a truncated or corrupted object is an error
//! that says what is wrong, never a panic and never a half deployment. An object whose
//! store checked every byte against a checksum of the whole object on the way (S3's, see
//! [`Bundle::decode_checksummed`]) is not hashed again.

use std::borrow::Cow;

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Limits, content_version, sorted_version};
use crate::files::SourceFile;

/// Name of the bundle object, relative to the deployment prefix.
pub const BUNDLE_NAME: &str = "certgate-deployment.bin";
/// Name of the format-1 (JSON) bundle that certgate wrote before: read when there is no
/// [`BUNDLE_NAME`], deleted by `trust push`.
pub const JSON_BUNDLE_NAME: &str = "certgate-deployment.json";
const MAGIC: &[u8] = b"certgate-deployment\n";
const FORMAT_VERSION: u32 = 3;
/// Format 3 without the stated SHA-1s.
const FORMAT_WITHOUT_SHA1: u32 = 2;
const JSON_FORMAT: &str = "certgate-deployment";
const JSON_FORMAT_VERSION: u32 = 1;

/// The largest bundle object that can hold a deployment within `limits`, in either
/// format: base64 makes content 4/3 larger, and each file adds its path, hash and
/// JSON punctuation.
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
    #[error("bundle is truncated or corrupted: {0}")]
    Malformed(&'static str),
    #[error(
        "bundle format {found} is not supported (this certgate reads formats {FORMAT_WITHOUT_SHA1} \
         and {FORMAT_VERSION}, and format {JSON_FORMAT_VERSION} in JSON); run `certgate trust push` with this version of certgate"
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

/// A format-1 bundle. Strings borrow from the object where they hold no JSON escape.
#[derive(Deserialize)]
struct JsonBundle<'a> {
    format: Cow<'a, str>,
    format_version: u32,
    version: Cow<'a, str>,
    pushed_at: Cow<'a, str>,
    #[serde(borrow)]
    files: Vec<JsonFile<'a>>,
}

#[derive(Deserialize)]
struct JsonFile<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    size: u64,
    #[serde(borrow)]
    sha256: Cow<'a, str>,
    #[serde(borrow)]
    content: Cow<'a, str>,
}

/// A file read from a bundle, with the SHA-256 the bundle states for it.
struct Read<'a> {
    file: SourceFile,
    sha256: StatedHash<'a>,
}

/// The SHA-256 a bundle states for a file, as it is written there: compared only when
/// the bundle's version does not match its files, to name the corrupted one, so a
/// thousand files are not hex-encoded on every load.
enum StatedHash<'a> {
    /// Formats 2 and 3: the digest's 32 bytes.
    Digest([u8; 32]),
    /// Format 1: lowercase hex.
    Hex(Cow<'a, str>),
}

impl StatedHash<'_> {
    fn matches(&self, bytes: &[u8]) -> bool {
        let digest = sha256(bytes);
        match self {
            Self::Digest(stated) => digest.as_ref() == stated,
            Self::Hex(stated) => crate::text::hex_lower(digest.as_ref()) == *stated,
        }
    }
}

impl Bundle {
    /// Builds a bundle from a deployment folder's files (any order), stating the SHA-1
    /// of each file under `certificates/` that holds one certificate.
    ///
    /// # Errors
    /// A path that is not relative and clean (`check_path`), or a path given twice.
    pub fn new(files: Vec<SourceFile>, pushed_at: OffsetDateTime) -> Result<Self, BundleError> {
        let mut files = sorted_and_checked(files, |file| &file.path)?;
        for file in &mut files {
            file.stated_sha1 = file
                .path
                .starts_with("certificates/")
                .then(|| crate::cert::sha1_of_single(&file.bytes))
                .flatten();
        }
        Ok(Self {
            version: content_version(&files),
            pushed_at: pushed_at.to_offset(time::UtcOffset::UTC),
            files,
        })
    }

    /// The bundle object's bytes (format 3).
    pub fn encode(&self) -> Vec<u8> {
        let pushed_at = self
            .pushed_at
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned());
        let content: usize = self.files.iter().map(|file| file.bytes.len()).sum();
        let mut out = Vec::with_capacity(content + 64 * (self.files.len() + 1));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        put_text(&mut out, &self.version);
        put_text(&mut out, &pushed_at);
        out.extend_from_slice(
            &u32::try_from(self.files.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for file in &self.files {
            put_text(&mut out, &file.path);
            out.extend_from_slice(&(file.bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(sha256(&file.bytes).as_ref());
            match &file.stated_sha1 {
                Some(sha1) => {
                    out.push(1);
                    out.extend_from_slice(sha1);
                }
                None => out.push(0),
            }
        }
        for file in &self.files {
            out.extend_from_slice(&file.bytes);
        }
        out
    }

    /// Reads a bundle object (format 3 or 2, or format 1 in JSON) from the chunks it
    /// arrived in, checking the limits, every path, every hash and the version. The files
    /// of a binary bundle are slices of those chunks; only a file that spans two chunks
    /// is copied.
    ///
    /// # Errors
    /// Any [`BundleError`]; the message says what is wrong.
    pub fn decode(chunks: &[Bytes], limits: &Limits) -> Result<Self, BundleError> {
        Self::decode_with(chunks, limits, Transfer::Unchecked)
    }

    /// [`Bundle::decode`] of an object whose every byte was already checked on its way
    /// against a checksum of the whole object stated by its store (S3's full-object
    /// CRC or SHA, which the SDK checks as the body arrives): the same checks but the
    /// SHA-256 pass over every byte, which would find again what that checksum found (a
    /// truncated or corrupted object). That pass cost a cold start about 0.5 ms of its
    /// 10 ms of CPU (676 KiB; `benches/coldstart_cpu.sh`).
    ///
    /// # Errors
    /// Any [`BundleError`] but the hash mismatches.
    pub fn decode_checksummed(chunks: &[Bytes], limits: &Limits) -> Result<Self, BundleError> {
        Self::decode_with(chunks, limits, Transfer::Checksummed)
    }

    fn decode_with(
        chunks: &[Bytes],
        limits: &Limits,
        transfer: Transfer,
    ) -> Result<Self, BundleError> {
        let max = max_bundle_bytes(limits);
        let size: u64 = chunks.iter().map(|chunk| chunk.len() as u64).sum();
        if size > max {
            return Err(BundleError::TooLarge { size, max });
        }
        let mut binary = Cursor::new(chunks);
        let json: Cow<'_, [u8]>;
        let (version, pushed_at, files) = if binary.take(MAGIC.len()).ok().as_deref() == Some(MAGIC)
        {
            decode_binary(binary, limits)?
        } else {
            json = match chunks {
                [one] => Cow::Borrowed(one),
                _ => Cow::Owned(chunks.concat()),
            };
            decode_json(&json, limits)?
        };
        let pushed_at = OffsetDateTime::parse(&pushed_at, &Rfc3339)
            .map_err(|_| BundleError::BadTimestamp(pushed_at.clone()))?;
        let read = sorted_and_checked(files, |read| &read.file.path)?;
        // The version hashes every byte: one pass checks the whole bundle. Only when it
        // fails are the files hashed one by one, to name the one that is corrupted.
        if transfer == Transfer::Unchecked {
            let computed = sorted_version(read.iter().map(|read| &read.file));
            if computed != version {
                let corrupted = read
                    .iter()
                    .find(|read| !read.sha256.matches(&read.file.bytes));
                return Err(match corrupted {
                    Some(read) => BundleError::HashMismatch {
                        path: read.file.path.clone(),
                    },
                    None => BundleError::VersionMismatch {
                        stated: version,
                        computed,
                    },
                });
            }
        }
        // In place: the files take the vector the entries came in.
        let files = read.into_iter().map(|read| read.file).collect();
        Ok(Self {
            version,
            pushed_at: pushed_at.to_offset(time::UtcOffset::UTC),
            files,
        })
    }
}

/// Whether a bundle's bytes were checked on their way, which decides whether decoding
/// hashes every byte again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    Unchecked,
    /// Against a checksum of the whole object, stated by its store.
    Checksummed,
}

/// The stated version, the stated push time and the files of a format-3 or format-2
/// bundle (`object`, after its magic), each within `limits`.
fn decode_binary(
    mut object: Cursor<'_>,
    limits: &Limits,
) -> Result<(String, String, Vec<Read<'static>>), BundleError> {
    let format = object.u32()?;
    if format != FORMAT_VERSION && format != FORMAT_WITHOUT_SHA1 {
        return Err(BundleError::UnsupportedFormat {
            found: format.to_string(),
        });
    }
    let version = object.text()?.into_owned();
    let pushed_at = object.text()?.into_owned();
    let count = usize::try_from(object.u32()?).unwrap_or(usize::MAX);
    if count > limits.max_files {
        return Err(BundleError::TooManyFiles {
            count,
            max: limits.max_files,
        });
    }
    let mut entries = Vec::with_capacity(count);
    let mut total = 0u64;
    for _ in 0..count {
        let path = object.text()?;
        let size = object.u64()?;
        let sha256 = object.array::<32>()?;
        let stated_sha1 = match format {
            FORMAT_WITHOUT_SHA1 => None,
            _ => match object.array::<1>()? {
                [0] => None,
                [1] => Some(object.array::<20>()?),
                _ => {
                    return Err(BundleError::Malformed(
                        "a file's stated SHA-1 is marked neither present nor absent",
                    ));
                }
            },
        };
        if size > limits.max_file_bytes {
            return Err(BundleError::FileTooLarge {
                path: path.into_owned(),
                size,
                max: limits.max_file_bytes,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(BundleError::TooLarge {
                size: total,
                max: limits.max_total_bytes,
            });
        }
        entries.push((path, size, sha256, stated_sha1));
    }
    if object.left as u64 != total {
        return Err(BundleError::Malformed(
            "its files' contents are not the size its header says",
        ));
    }
    let mut files = Vec::with_capacity(count);
    for (path, size, sha256, stated_sha1) in entries {
        files.push(Read {
            file: SourceFile {
                path: path.into_owned(),
                bytes: object.take_bytes(usize::try_from(size).unwrap_or(usize::MAX))?,
                stated_sha1,
            },
            sha256: StatedHash::Digest(sha256),
        });
    }
    Ok((version, pushed_at, files))
}

/// [`decode_binary`] for a format-1 (JSON) bundle.
fn decode_json<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<(String, String, Vec<Read<'a>>), BundleError> {
    let raw: JsonBundle =
        serde_json::from_slice(bytes).map_err(|error| BundleError::Json(error.to_string()))?;
    if raw.format != JSON_FORMAT || raw.format_version != JSON_FORMAT_VERSION {
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
    let mut files = Vec::with_capacity(raw.files.len());
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
        let Ok(content) = base64::engine::general_purpose::STANDARD.decode(&*file.content) else {
            return Err(BundleError::BadContent { path });
        };
        if content.len() as u64 != file.size {
            return Err(BundleError::HashMismatch { path });
        }
        total = total.saturating_add(file.size);
        if total > limits.max_total_bytes {
            return Err(BundleError::TooLarge {
                size: total,
                max: limits.max_total_bytes,
            });
        }
        files.push(Read {
            file: SourceFile::new(path, content),
            sha256: StatedHash::Hex(file.sha256),
        });
    }
    Ok((raw.version.into_owned(), raw.pushed_at.into_owned(), files))
}

/// Reads a binary bundle from the chunks it arrived in: every read is bounds-checked,
/// and what lies within one chunk is borrowed or sliced, not copied.
#[derive(Clone)]
struct Cursor<'a> {
    /// The chunks not yet read to their end; the first is read from `at`.
    chunks: &'a [Bytes],
    at: usize,
    /// Bytes not yet read, over all chunks.
    left: usize,
}

impl<'a> Cursor<'a> {
    fn new(chunks: &'a [Bytes]) -> Self {
        let mut cursor = Self {
            chunks,
            at: 0,
            left: chunks.iter().map(Bytes::len).sum(),
        };
        cursor.skip_read();
        cursor
    }

    /// Moves past chunks read to their end (and empty ones).
    fn skip_read(&mut self) {
        while let [first, rest @ ..] = self.chunks
            && self.at >= first.len()
        {
            self.chunks = rest;
            self.at = 0;
        }
    }

    /// The next `n` bytes: borrowed when they lie in one chunk, else copied together.
    fn take(&mut self, n: usize) -> Result<Cow<'a, [u8]>, BundleError> {
        // Built only when returned: built on every read, it cost 140,000 of the 1.9
        // million instructions of decoding a bundle of 1,120 files.
        let truncated = || BundleError::Malformed("it ends in the middle of its header");
        if self.left < n {
            return Err(truncated());
        }
        let chunks = self.chunks;
        if let Some(within) = chunks
            .first()
            .and_then(|first| first.get(self.at..self.at + n))
        {
            self.advance(n);
            return Ok(Cow::Borrowed(within));
        }
        let mut joined = Vec::with_capacity(n);
        while joined.len() < n {
            let Some(part) = self.chunks.first().and_then(|first| first.get(self.at..)) else {
                return Err(truncated());
            };
            let part = part.get(..n - joined.len()).unwrap_or(part);
            joined.extend_from_slice(part);
            self.advance(part.len());
        }
        Ok(Cow::Owned(joined))
    }

    /// The next `n` bytes as a slice of their chunk, or a copy when they span chunks.
    fn take_bytes(&mut self, n: usize) -> Result<Bytes, BundleError> {
        if n <= self.left
            && let Some(first) = self.chunks.first()
            && self.at + n <= first.len()
        {
            let bytes = first.slice(self.at..self.at + n);
            self.advance(n);
            return Ok(bytes);
        }
        Ok(Bytes::from(self.take(n)?.into_owned()))
    }

    fn advance(&mut self, n: usize) {
        self.at += n;
        self.left -= n;
        self.skip_read();
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BundleError> {
        let mut out = [0; N];
        out.copy_from_slice(&self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, BundleError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, BundleError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn text(&mut self) -> Result<Cow<'a, str>, BundleError> {
        let length = u16::from_be_bytes(self.array()?);
        let not_utf8 = |_| BundleError::Malformed("a name in its header is not UTF-8");
        match self.take(usize::from(length))? {
            Cow::Borrowed(bytes) => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(not_utf8),
            Cow::Owned(bytes) => String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|e| not_utf8(e.utf8_error())),
        }
    }
}

/// Appends `text` with its u16 length (the texts of a bundle are short: paths are at
/// most 1024 bytes, see [`check_path`]).
fn put_text(out: &mut Vec<u8>, text: &str) {
    let length = u16::try_from(text.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&text.as_bytes()[..usize::from(length)]);
}

/// `items` sorted by path, each path clean ([`check_path`]) and given once.
fn sorted_and_checked<T>(
    mut items: Vec<T>,
    path: impl Fn(&T) -> &String,
) -> Result<Vec<T>, BundleError> {
    items.sort_by(|a, b| path(a).cmp(path(b)));
    for pair in items.windows(2) {
        if path(&pair[0]) == path(&pair[1]) {
            return Err(BundleError::DuplicatePath(path(&pair[0]).clone()));
        }
    }
    for item in &items {
        check_path(path(item))?;
    }
    Ok(items)
}

fn sha256(bytes: &[u8]) -> ring::digest::Digest {
    ring::digest::digest(&ring::digest::SHA256, bytes)
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::text::hex_lower(sha256(bytes).as_ref())
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
    // Whole-slice scans (memchr, a fold the compiler vectorizes) rather than a loop of
    // branches per byte: a cold start checks every path of its bundle, a thousand or more.
    let bytes = path.as_bytes();
    if memchr::memchr(b'\\', bytes).is_some() {
        return bad("contains a backslash");
    }
    // `char::is_control`: C0 and DEL are one byte each; C1 (U+0080 to U+009F) is 0xC2
    // followed by 0x80 to 0x9F, the only UTF-8 that starts with 0xC2 below 0xA0.
    let c0_or_del = bytes
        .iter()
        .fold(false, |found, &b| found | (b < 0x20) | (b == 0x7F));
    if c0_or_del
        || memchr::memchr_iter(0xC2, bytes).any(|at| bytes.get(at + 1).is_some_and(|&b| b < 0xA0))
    {
        return bad("contains a control character");
    }
    let mut start = 0;
    for end in memchr::memchr_iter(b'/', bytes).chain([bytes.len()]) {
        if matches!(bytes.get(start..end), Some(b"" | b"." | b"..")) {
            return bad("has an empty, '.' or '..' segment");
        }
        start = end + 1;
    }
    Ok(())
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
