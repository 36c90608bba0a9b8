//! The Lambda adapter's work on one sample event (`rest`, `http-api` or `alb`), run a
//! fixed number of times: instruction counts under callgrind are repeatable where wall
//! time on a shared machine is not. Per event = (total - total with RUNS 0) / RUNS.
//!
//! ```text
//! cargo build --release --example adapter_cost
//! valgrind --tool=callgrind target/release/examples/adapter_cost rest 1000
//! ```

#[path = "../benches/support/lambda_adapter.rs"]
mod lambda_adapter;

use lambda_adapter::{EVENTS, Samples};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "rest".to_owned());
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let Some((name, event)) = EVENTS.into_iter().find(|(n, _)| *n == name) else {
        eprintln!("no sample event {name:?}: rest, http-api or alb");
        std::process::exit(2);
    };
    let samples = Samples::new();
    for _ in 0..runs {
        samples.run(name, event);
    }
}
