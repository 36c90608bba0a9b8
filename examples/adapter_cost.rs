//! The Lambda adapter's work on one sample event (`rest`, `http-api` or `alb`), run a
//! fixed number of times: instruction counts under callgrind are repeatable where wall
//! time on a shared machine is not. Per event = (total - total with RUNS 0) / RUNS.
//! `again` (the default) reuses the chain decoded by the first run, as a deployment does
//! for a client's next requests; `first` decodes it every time, as for a CA's first
//! client; `new-client` decodes the leaf and reuses the CA's certificate, as for a new
//! client of a known CA; `trusted-ca` decodes the leaf and takes the CA's certificate
//! from the trust store, as for the first client of a CA the deployment trusts.
//!
//! ```text
//! cargo build --release --example adapter_cost
//! valgrind --tool=callgrind target/release/examples/adapter_cost alb 1000 [first|new-client|trusted-ca|again]
//! ```
//!
//! valgrind hides the CPU's SHA instructions, so SHA-256 (every decoded certificate)
//! counts several times what it costs natively: time `first` without valgrind too.
//! Like the function, it allocates with glibc's malloc (`src/bin/certgate-lambda.rs` says
//! why).

#[path = "../benches/support/lambda_adapter.rs"]
mod lambda_adapter;

use lambda_adapter::{EVENTS, KNOWN, Samples};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "rest".to_owned());
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let Some((name, event)) = EVENTS.into_iter().find(|(n, _)| *n == name) else {
        eprintln!("no sample event {name:?}: rest, http-api or alb");
        std::process::exit(2);
    };
    let mode = args.next().unwrap_or_else(|| "again".to_owned());
    let Some((_, known)) = KNOWN.into_iter().find(|(n, _)| *n == mode) else {
        eprintln!(
            "{mode:?}: first (all decoded), new-client or trusted-ca (the leaf) or again (nothing)"
        );
        std::process::exit(2);
    };
    let samples = Samples::new(known);
    for _ in 0..runs {
        samples.run(name, event);
    }
}
