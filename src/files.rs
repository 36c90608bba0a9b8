//! Deployment files: what every loader (folder, S3 prefix, bundle) produces and every
//! builder (trust store, policies, listener settings) consumes. A leaf, so the layers
//! that read files and the layers that build from them never import each other.

use bytes::Bytes;

/// One file of a deployment folder: its path relative to the folder root, with `/`
/// separators (`ca/root/contoso.pem`), and its bytes: shared, so that the files of a
/// bundle are slices of the one object read, and what keeps a file (an uploaded
/// certificate read on first use) keeps it without a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub bytes: Bytes,
    /// The SHA-1 of the one certificate the file holds, as the deployment bundle it was
    /// read from states it (`certgate trust push` writes it for uploaded certificates):
    /// a cold start indexes the certificate under it without decoding the file, and
    /// compares it with the certificate when first read. `None` from a folder or a
    /// prefix.
    pub stated_sha1: Option<[u8; 20]>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: Bytes::from(bytes.into()),
            stated_sha1: None,
        }
    }
}
