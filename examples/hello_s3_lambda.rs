//! hello-world plus one GET of the deployment bundle, with certgate's S3 client and
//! nothing else: the second yardstick of `examples/coldstart.rs`. Between this and
//! `hello_lambda` lies what any function that reads the bundle from S3 pays at a cold
//! start (SDK, client, the server's answer); between this and `certgate-lambda` lies
//! what certgate itself adds (decode, checks, build, the first request).
//!
//! ```sh
//! CARGO_TARGET_DIR=target/lambda-ci cargo lambda build --release --example hello_s3_lambda
//! ```

use std::time::Duration;

use certgate::source::bundle::BUNDLE_NAME;
use certgate::source::s3::{ClientOptions, S3Location, s3_client};
use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let location: S3Location = std::env::var("CERTGATE_CONFIG")?.parse()?;
    // The options certgate-lambda's cold start uses.
    let client = s3_client(&ClientOptions {
        timeout: Some(Duration::from_secs(4)),
        max_attempts: Some(2),
        ..ClientOptions::default()
    })
    .await?;
    let bundle = client
        .get_object()
        .bucket(&location.bucket)
        .key(location.key(BUNDLE_NAME))
        .send()
        .await?
        .body
        .collect()
        .await?
        .into_bytes();
    let answer = format!("hello after {} bytes", bundle.len());
    run(service_fn(move |_request: Request| {
        let answer = answer.clone();
        async move { Ok::<_, Error>(Response::new(Body::from(answer))) }
    }))
    .await
}
