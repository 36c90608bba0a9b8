//! Reading a deployment folder, from a local directory (and later an S3 prefix).
