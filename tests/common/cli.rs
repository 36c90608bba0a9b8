//! The `certgate` binary as a user runs it, from the checkout's root.

use std::process::{Command, Output};

/// Runs `certgate args...` in the checkout and waits for it.
pub fn certgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run certgate")
}
