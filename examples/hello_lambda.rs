//! The smallest lambda_http function: the yardstick of `examples/coldstart.rs`.
//!
//! ```sh
//! CARGO_TARGET_DIR=target/lambda-ci cargo lambda build --release --example hello_lambda
//! ```

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
