#![no_main]

use certgate::cert::NameType;

// A certificate's properties are decoded when first read: every one is read here, so
// that their decoding meets the fuzzer's input too.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for cert in certgate::cert::decode_chain(data).into_iter().flatten() {
        let _ = (cert.subject(), cert.issuer(), cert.thumbprint(), cert.serial_number());
        let _ = (cert.signature_algorithm(), cert.public_key(), cert.subject_alt_names());
        let _ = cert.extended_key_usages();
        for kind in NameType::ALL {
            for for_issuer in [false, true] {
                drop(cert.name_info(kind, for_issuer));
            }
        }
    }
});
