#![no_main]
//! Any bytes as a request path: normalizing never panics, and a path it lets through
//! routes where a backend that decodes, merges slashes and resolves dot segments (nginx
//! by default) would serve it; normalizing again changes nothing.

use certgate::config::GatewayConfig;
use certgate::gateway::{normalize_path, route};

/// What a normalizing backend makes of a path: every escape decoded, `\` as `/`, empty
/// and `.` segments dropped, `..` removing the one before, `;x` cut from each segment.
fn backend_view(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        match segment.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

fn api(config: &GatewayConfig, path: &str) -> Option<String> {
    route(config, &http::Method::GET, path)
        .ok()
        .map(|r| r.api.name.clone())
}

libfuzzer_sys::fuzz_target!(
    init: {},
    |data: &[u8]| {
        let Ok(raw) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(path) = normalize_path(raw) else {
            return;
        };
        assert_eq!(normalize_path(&path).as_deref(), Ok(path.as_str()), "idempotent");
        assert!(path.parse::<http::uri::PathAndQuery>().is_ok(), "a URI path: {path}");
        let config = GatewayConfig::parse(
            "[[apis]]\nname = \"root\"\npath = \"/\"\nbackend = \"http://b\"\n\
             [[apis]]\nname = \"orders\"\npath = \"/orders\"\nbackend = \"http://b\"\n\
             [[apis]]\nname = \"admin\"\npath = \"/orders/admin\"\nbackend = \"http://b\"\n",
        )
        .expect("config");
        let seen = backend_view(&path);
        assert_eq!(api(&config, &path), api(&config, &seen), "{raw} -> {path} -> {seen}");
    }
);
