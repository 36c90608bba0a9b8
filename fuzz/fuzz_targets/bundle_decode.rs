#![no_main]
//! Any bytes as the bundle object `trust push` writes to S3: decoding it is an error or
//! a bundle, never a panic, and a bundle that decodes loads as a deployment (errors are
//! fine). The object comes from the bucket, so it is only as trusted as the bucket.

use certgate::gateway::Deployment;
use certgate::source::Limits;
use certgate::source::bundle::Bundle;
use time::OffsetDateTime;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::decode(&bytes::Bytes::copy_from_slice(data), &Limits::default())
    else {
        return;
    };
    // 2026-06-01T00:00:00Z: inside the validity of the sample CAs and CRLs.
    let now = OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("time");
    if let Ok(deployment) = Deployment::load(&bundle.files, bundle.version.as_str(), now) {
        let _ = deployment.summary();
        let _ = deployment.has_errors();
    }
});
