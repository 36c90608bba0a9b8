#![no_main]
//! Any text, compiled as a policy expression: an error or a program, never a panic.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = certgate::expr::compile(text, certgate::expr::Origin::default());
    }
});
