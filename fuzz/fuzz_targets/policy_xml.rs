#![no_main]
//! Any bytes: loading a policy document and composing it never panics.

use certgate::policy::{EffectivePolicy, PolicyDocument, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match PolicyDocument::from_bytes("fuzz.xml", data, Scope::Api) {
        Ok(doc) => {
            let _ = EffectivePolicy::for_request(None, Some(&doc), None);
        }
        Err(e) => {
            let _ = e.render(&String::from_utf8_lossy(data));
        }
    }
});
