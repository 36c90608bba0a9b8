#![no_main]
//! Any bytes as a Lambda event, through the adapter with each certificate source.
//!
//! `parse_event` catches, by design, the panic lambda_http raises on a Host header that
//! is no host (it answers 400). libfuzzer-sys's panic hook aborts on every panic, even
//! a caught one, so the hook is silenced while `parse_event` runs: a panic escaping it
//! still aborts (libfuzzer-sys aborts when the target unwinds), and a panic anywhere
//! else still goes to libfuzzer-sys's hook.

use certgate::config::GatewayConfig;
use certgate::frontend::lambda::{parse_event, to_gateway_request};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for source in ["apigateway", "alb", "xfcc", "rfc9440"] {
        let config = GatewayConfig::parse(&format!(
            "[deployment]\ncertificate_source = \"{source}\"\n"
        ))
        .expect("config");
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let parsed = parse_event(text);
        std::panic::set_hook(hook);
        if let Ok(request) = parsed {
            let _ = to_gateway_request(request, &config);
        }
    }
});
