#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| drop(certgate::cert::decode_chain(data)));
