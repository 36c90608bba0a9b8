#![no_main]
//! Any bytes as a Lambda event, through the adapter with each certificate source.
//!
//! `parse_event` catches, by design, the panic lambda_http raises on a Host header that
//! is no host (it answers 400). libfuzzer-sys's panic hook aborts on every panic, even
//! a caught one, so it is skipped for those, as the binaries' hooks skip them
//! (`panicked_parsing_event`); any other panic still aborts.

use certgate::config::GatewayConfig;
use certgate::frontend::lambda::{panicked_parsing_event, parse_event, to_gateway_request};

libfuzzer_sys::fuzz_target!(
    init: {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            if !panicked_parsing_event() {
                report(panic);
            }
        }));
    },
    |data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        for source in ["apigateway", "alb", "xfcc", "rfc9440"] {
            let config = GatewayConfig::parse(&format!(
                "[deployment]\ncertificate_source = \"{source}\"\n"
            ))
            .expect("config");
            if let Ok(request) = parse_event(text) {
                let _ = to_gateway_request(request, &config);
            }
        }
    }
);
