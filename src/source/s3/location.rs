//! `s3://bucket/prefix`, parsed with errors that say what is wrong.

use std::fmt;
use std::str::FromStr;

use super::S3Error;
use crate::source::bundle::check_path;

/// Where a deployment lives in S3: `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl S3Location {
    /// The object key of `path` (relative to the deployment folder).
    pub fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// The path relative to the deployment folder of `key`, if it lies under the prefix.
    pub fn relative<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }

    /// The key prefix that lists this deployment's objects (`prefix/`, or empty).
    pub fn list_prefix(&self) -> String {
        self.key("")
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl FromStr for S3Location {
    type Err = S3Error;

    fn from_str(uri: &str) -> Result<Self, S3Error> {
        let bad = |reason: &'static str| S3Error::BadUri {
            uri: uri.to_owned(),
            reason,
        };
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the bucket name is missing"));
        }
        if !(3..=63).contains(&bucket.len())
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            || !bucket.as_bytes()[0].is_ascii_alphanumeric()
            || !bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
        {
            return Err(bad(
                "a bucket name is 3 to 63 lowercase letters, digits, '.' or '-', \
                 starting and ending with a letter or digit",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && check_path(prefix).is_err() {
            return Err(bad(
                "the prefix must be a clean path: no '//', '.', '..' or '\\' segments",
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_uris() {
        let location: S3Location = "s3://trust-bucket/prod/eu/".parse().unwrap();
        assert_eq!(location.bucket, "trust-bucket");
        assert_eq!(location.prefix, "prod/eu");
        assert_eq!(location.key("gateway.toml"), "prod/eu/gateway.toml");
        assert_eq!(location.relative("prod/eu/ca/r.pem"), Some("ca/r.pem"));
        assert_eq!(location.relative("prod/eu-other/x"), None);
        assert_eq!(location.to_string(), "s3://trust-bucket/prod/eu");

        let root: S3Location = "s3://bucket".parse().unwrap();
        assert_eq!(root.prefix, "");
        assert_eq!(root.key("gateway.toml"), "gateway.toml");
        assert_eq!(root.list_prefix(), "");
        assert_eq!(
            "s3://bucket/p".parse::<S3Location>().unwrap().list_prefix(),
            "p/"
        );
    }

    #[test]
    fn bad_s3_uris_say_why() {
        for (uri, says) in [
            ("https://bucket/p", "expected s3://bucket/prefix"),
            ("s3://", "bucket name is missing"),
            ("s3:///p", "bucket name is missing"),
            ("s3://Bucket/p", "bucket name is 3 to 63"),
            ("s3://ab/p", "bucket name is 3 to 63"),
            ("s3://bucket/a//b", "clean path"),
            ("s3://bucket/a/../b", "clean path"),
        ] {
            let error = uri.parse::<S3Location>().unwrap_err().to_string();
            assert!(error.contains(says), "{uri}: {error}");
        }
    }
}
