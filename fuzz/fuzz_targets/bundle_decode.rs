#![no_main]
//! Any bytes as the bundle object `trust push` writes to S3: decoding it is an error or
//! a bundle, never a panic, the same however the body is cut into chunks on its way, and
//! a bundle that decodes loads as a deployment (errors are fine), also one read as from
//! S3 with its checksum (no SHA-256 pass). The object comes from the bucket, so it is
//! only as trusted as the bucket.

use bytes::Bytes;
use certgate::gateway::Deployment;
use certgate::source::Limits;
use certgate::source::bundle::Bundle;
use time::OffsetDateTime;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let whole = Bundle::decode(&[Bytes::copy_from_slice(data)], &Limits::default());
    // Cut where the first byte says (the first byte is part of the object too).
    let at = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (head, tail) = data.split_at(at);
    let cut = [Bytes::copy_from_slice(head), Bytes::copy_from_slice(tail)];
    assert_eq!(Bundle::decode(&cut, &Limits::default()), whole);
    // Read as from S3 with its checksum: the same but for the SHA-256 pass, which lets
    // the fuzzer reach the deployment without forging hashes.
    let checksummed = Bundle::decode_checksummed(&cut, &Limits::default());
    if whole.is_ok() {
        assert_eq!(checksummed, whole);
    }
    let Ok(bundle) = checksummed else {
        return;
    };
    // 2026-06-01T00:00:00Z: inside the validity of the sample CAs and CRLs.
    let now = OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("time");
    if let Ok(deployment) = Deployment::load(&bundle.files, bundle.version.as_str(), now) {
        let _ = deployment.summary();
        let _ = deployment.has_errors();
    }
});
