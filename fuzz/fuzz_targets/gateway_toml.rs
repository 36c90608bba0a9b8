#![no_main]
//! Any text as `gateway.toml` (read from the bucket like every other file): parsing it is
//! a config or an error that names line and column, never a panic.

use certgate::config::GatewayConfig;

libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Err(error) = GatewayConfig::parse(text) {
        let _ = error.to_string();
    }
});
