#![no_main]
//! Any bytes as a Lambda event, through the adapter with each certificate source: no
//! input may panic.

use certgate::cert::PresentedChains;
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
        if let Ok(event) = parse_event(text) {
            // A fresh cache per event: every chain takes the decoding path.
            let chains = PresentedChains::new(2, 2);
            let _ = to_gateway_request(event, &config, &chains);
        }
    }
});
