use base64::Engine as _;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use super::*;

/// [`Bundle::decode`] of a copy of `bytes` as one chunk, asserting that the same bytes
/// cut into chunks (as S3 bodies arrive) decode to the same bundle or the same error.
fn decode(bytes: &[u8], limits: &Limits) -> Result<Bundle, BundleError> {
    let whole = Bundle::decode(&[Bytes::copy_from_slice(bytes)], limits);
    let mut cuts: Vec<Vec<Bytes>> = [bytes.len() / 3, bytes.len() / 2, 20, 21]
        .into_iter()
        .filter(|&at| at <= bytes.len())
        .map(|at| {
            let (head, tail) = bytes.split_at(at);
            vec![
                Bytes::copy_from_slice(head),
                Bytes::new(),
                Bytes::copy_from_slice(tail),
            ]
        })
        .collect();
    for size in [1, 7, 4096] {
        if bytes.len() / size <= 100_000 {
            cuts.push(bytes.chunks(size).map(Bytes::copy_from_slice).collect());
        }
    }
    for chunks in cuts {
        assert_eq!(
            Bundle::decode(&chunks, limits),
            whole,
            "cut into chunks of {:?} bytes",
            chunks.iter().map(Bytes::len).collect::<Vec<_>>()
        );
    }
    whole
}

fn file(path: &str, bytes: &[u8]) -> SourceFile {
    SourceFile::new(path, bytes)
}

/// `bundle` as certgate wrote it before format 2: JSON, each content in base64.
fn json(bundle: &Bundle) -> String {
    let files: Vec<serde_json::Value> = bundle
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f.path,
                "size": f.bytes.len(),
                "sha256": sha256_hex(&f.bytes),
                "content": base64::engine::general_purpose::STANDARD.encode(&f.bytes),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "format": "certgate-deployment",
        "format_version": 1,
        "version": bundle.version,
        "pushed_at": bundle.pushed_at.format(&Rfc3339).unwrap(),
        "files": files,
    }))
    .unwrap()
}

/// `bytes` with the first `from` replaced by `to`.
fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("found");
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

fn sample() -> Bundle {
    Bundle::new(
        vec![
            file("gateway.toml", b"[deployment]\n"),
            file("ca/root/root.pem", b"-----BEGIN CERTIFICATE-----\n"),
            file("crl/empty.crl", b""),
        ],
        datetime!(2026-11-28 17:00 UTC),
    )
    .unwrap()
}

#[test]
fn round_trips_and_sorts_files() {
    let bundle = sample();
    let paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["ca/root/root.pem", "crl/empty.crl", "gateway.toml"]);
    let object = Bytes::from(bundle.encode());
    let decoded = Bundle::decode(std::slice::from_ref(&object), &Limits::default()).unwrap();
    assert_eq!(decoded, bundle);
    // Each file is a slice of the object read, not a copy.
    let within = object.as_ptr_range();
    for file in decoded.files.iter().filter(|f| !f.bytes.is_empty()) {
        assert!(within.contains(&file.bytes.as_ptr()), "{}", file.path);
    }
}

#[test]
fn files_are_slices_of_the_chunk_they_arrived_in_and_copied_only_across_chunks() {
    fn file<'a>(bundle: &'a Bundle, path: &str) -> &'a SourceFile {
        bundle.files.iter().find(|f| f.path == path).unwrap()
    }
    let bundle = sample();
    let object = bundle.encode();
    let toml = file(&bundle, "gateway.toml");
    let root = file(&bundle, "ca/root/root.pem");
    // The contents come last, in path order: cut in the middle of the root's file.
    let root_at = object.len() - toml.bytes.len() - root.bytes.len();
    let cut = root_at + root.bytes.len() / 2;
    let chunks = [
        Bytes::copy_from_slice(&object[..cut]),
        Bytes::copy_from_slice(&object[cut..]),
    ];
    let decoded = Bundle::decode(&chunks, &Limits::default()).unwrap();
    assert_eq!(decoded, bundle);
    let in_chunk =
        |file: &SourceFile, chunk: &Bytes| chunk.as_ptr_range().contains(&file.bytes.as_ptr());
    let decoded_toml = file(&decoded, "gateway.toml");
    let decoded_root = file(&decoded, "ca/root/root.pem");
    assert!(
        in_chunk(decoded_toml, &chunks[1]),
        "a file within a chunk is a slice of it"
    );
    assert!(
        !in_chunk(decoded_root, &chunks[0]) && !in_chunk(decoded_root, &chunks[1]),
        "a file across two chunks is a copy"
    );
}

/// `bundle` as certgate wrote it before format 3: no stated SHA-1s.
fn format_2(bundle: &Bundle) -> Vec<u8> {
    let mut out = b"certgate-deployment\n\0\0\0\x02".to_vec();
    put_text(&mut out, &bundle.version);
    put_text(&mut out, &bundle.pushed_at.format(&Rfc3339).unwrap());
    out.extend_from_slice(&(bundle.files.len() as u32).to_be_bytes());
    for file in &bundle.files {
        put_text(&mut out, &file.path);
        out.extend_from_slice(&(file.bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(sha256(&file.bytes).as_ref());
    }
    for file in &bundle.files {
        out.extend_from_slice(&file.bytes);
    }
    out
}

fn certificate_pem(common_name: &str) -> (Vec<u8>, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![common_name.to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let certificate = params.self_signed(&key).unwrap();
    (certificate.der().to_vec(), certificate.pem())
}

/// Each file under `certificates/` that holds one certificate carries its SHA-1 in the
/// bundle, as computed from the file (never taken from the caller); other files carry
/// none. A bundle of format 2 reads as the same files without SHA-1s, and a marker that
/// is neither present nor absent is a corrupted bundle.
#[test]
fn uploaded_certificates_carry_their_sha1_and_format_2_is_still_read() {
    let (der, pem) = certificate_pem("partner.example");
    let (_, other) = certificate_pem("other.example");
    let claimed = SourceFile {
        stated_sha1: Some([7; 20]),
        ..file("certificates/partner.pem", pem.as_bytes())
    };
    let bundle = Bundle::new(
        vec![
            claimed,
            file("certificates/two.pem", (pem.clone() + &other).as_bytes()),
            file("certificates/partner.key", b"-----BEGIN PRIVATE KEY-----\n"),
            file("ca/root/partner.pem", pem.as_bytes()),
            file("gateway.toml", b"[deployment]\n"),
        ],
        datetime!(2026-11-28 17:00 UTC),
    )
    .unwrap();
    let stated: Vec<(&str, Option<[u8; 20]>)> = bundle
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.stated_sha1))
        .collect();
    assert_eq!(
        stated,
        [
            ("ca/root/partner.pem", None),
            ("certificates/partner.key", None),
            ("certificates/partner.pem", Some(crate::cert::sha1(&der))),
            ("certificates/two.pem", None),
            ("gateway.toml", None),
        ]
    );
    let encoded = bundle.encode();
    assert!(encoded.starts_with(b"certgate-deployment\n\0\0\0\x03"));
    assert_eq!(decode(&encoded, &Limits::default()), Ok(bundle.clone()));

    let old = decode(&format_2(&bundle), &Limits::default()).unwrap();
    assert_eq!(old.version, bundle.version);
    assert!(old.files.iter().all(|f| f.stated_sha1.is_none()));
    let without: Vec<SourceFile> = bundle
        .files
        .iter()
        .map(|f| SourceFile::new(f.path.clone(), f.bytes.clone()))
        .collect();
    assert_eq!(old.files, without);

    // The first file's marker follows its path, size and SHA-256.
    let one = Bundle::new(
        vec![file("gateway.toml", b"")],
        datetime!(2026-11-28 17:00 UTC),
    )
    .unwrap();
    let mut bytes = one.encode();
    let marker = 20
        + 4
        + 2
        + one.version.len()
        + 2
        + "2026-11-28T17:00:00Z".len()
        + 4
        + 2
        + "gateway.toml".len()
        + 8
        + 32;
    assert_eq!(bytes[marker], 0);
    bytes[marker] = 2;
    assert_eq!(
        decode(&bytes, &Limits::default()),
        Err(BundleError::Malformed(
            "a file's stated SHA-1 is marked neither present nor absent"
        ))
    );
}

/// A bundle of the old format (JSON) reads as the same deployment: a function reads
/// what an older `trust push` wrote until the next push replaces it.
#[test]
fn a_json_bundle_of_format_1_is_still_read() {
    let bundle = sample();
    let text = json(&bundle);
    assert_eq!(
        decode(text.as_bytes(), &Limits::default()),
        Ok(bundle.clone())
    );
    assert!(bundle.encode().starts_with(b"certgate-deployment\n"));
}

/// Other JSON writers may escape `/` (`"ca\/root\/root.pem"`), and base64 holds `/` too:
/// escaped strings decode like plain ones.
#[test]
fn json_escapes_decode_like_plain_strings() {
    let bundle = Bundle::new(
        vec![file("ca/root/root.pem", &[0xff, 0xff, 0xff])],
        datetime!(2026-11-28 17:00 UTC),
    )
    .unwrap();
    let plain = json(&bundle);
    assert!(plain.contains("\"ca/root/root.pem\"") && plain.contains("\"////\""));
    let escaped = plain.replace('/', "\\/");
    assert_eq!(decode(escaped.as_bytes(), &Limits::default()), Ok(bundle));
}

#[test]
fn version_depends_on_content_and_path_not_order() {
    let a = [file("a", b"1"), file("b", b"2")];
    let b = [file("b", b"2"), file("a", b"1")];
    assert_eq!(content_version(&a), content_version(&b));
    assert_ne!(
        content_version(&a),
        content_version(&[file("a", b"1"), file("b", b"3")])
    );
    // The length prefix keeps "ab"+"" and "a"+"b" apart.
    assert_ne!(
        content_version(&[file("x", b"ab")]),
        content_version(&[file("x", b"a"), file("y", b"b")])
    );
}

#[test]
fn corrupted_content_is_detected() {
    let corrupted = Err(BundleError::HashMismatch {
        path: "ca/root/root.pem".into(),
    });
    let bytes = replaced(
        &sample().encode(),
        b"CERTIFICATE-----\n",
        b"CERTIFICATE-----\r",
    );
    assert_eq!(decode(&bytes, &Limits::default()), corrupted);

    let text = json(&sample());
    let root = base64::engine::general_purpose::STANDARD.encode(b"-----BEGIN CERTIFICATE-----\n");
    let tampered =
        base64::engine::general_purpose::STANDARD.encode(b"-----BEGIN CERTIFICATE-----\r");
    let text = text.replace(&root, &tampered);
    assert_eq!(decode(text.as_bytes(), &Limits::default()), corrupted);
}

/// Files that match their hashes under a version they do not hash to: the version is
/// what is wrong, and the error says so with both values.
#[test]
fn a_wrong_version_is_detected() {
    let bundle = sample();
    let bytes = replaced(
        &bundle.encode(),
        bundle.version.as_bytes(),
        b"0123456789abcdef",
    );
    assert_eq!(
        decode(&bytes, &Limits::default()),
        Err(BundleError::VersionMismatch {
            stated: "0123456789abcdef".into(),
            computed: bundle.version,
        })
    );
}

/// An object checked on its way against its store's checksum of the whole object reads
/// as `decode` reads it, every check made but the SHA-256 pass over its bytes: content
/// that does not match its stated hashes (which that checksum would have refused) is the
/// one thing it no longer finds.
#[test]
fn a_checksummed_object_is_read_alike_without_the_hash_pass() {
    let bytes = sample().encode();
    let limits = Limits::default();
    let whole = [Bytes::copy_from_slice(&bytes)];
    assert_eq!(
        Bundle::decode_checksummed(&whole, &limits),
        Bundle::decode(&whole, &limits)
    );
    let cut = [Bytes::copy_from_slice(&bytes[..bytes.len() - 1])];
    assert_eq!(
        Bundle::decode_checksummed(&cut, &limits),
        Bundle::decode(&cut, &limits)
    );
    assert!(Bundle::decode(&cut, &limits).is_err());
    let small = Limits {
        max_files: 1,
        ..limits
    };
    assert!(matches!(
        Bundle::decode_checksummed(&whole, &small),
        Err(BundleError::TooManyFiles { .. })
    ));

    let corrupted = [Bytes::from(replaced(
        &bytes,
        b"CERTIFICATE-----\n",
        b"CERTIFICATE-----\r",
    ))];
    assert!(matches!(
        Bundle::decode(&corrupted, &limits),
        Err(BundleError::HashMismatch { .. })
    ));
    let read = Bundle::decode_checksummed(&corrupted, &limits).unwrap();
    assert_eq!(read.version, sample().version);
}

/// Cut anywhere, a bundle is an error that says so: JSON when the cut leaves no format-2
/// magic, "truncated" after it.
#[test]
fn truncated_or_garbage_objects_are_errors() {
    let bytes = sample().encode();
    for cut in [0, 1, 10, 19] {
        assert!(matches!(
            decode(&bytes[..cut], &Limits::default()),
            Err(BundleError::Json(_))
        ));
    }
    for cut in [20, 23, 30, bytes.len() / 2, bytes.len() - 1] {
        let error = decode(&bytes[..cut], &Limits::default()).unwrap_err();
        assert!(matches!(error, BundleError::Malformed(_)), "{cut}: {error}");
        assert!(
            error
                .to_string()
                .starts_with("bundle is truncated or corrupted")
        );
    }
    let longer = [&bytes[..], b"\n"].concat();
    assert!(matches!(
        decode(&longer, &Limits::default()),
        Err(BundleError::Malformed(_))
    ));
    let text = json(&sample());
    for cut in [1, text.len() / 2, text.len() - 1] {
        assert!(matches!(
            decode(&text.as_bytes()[..cut], &Limits::default()),
            Err(BundleError::Json(_))
        ));
    }
    assert!(decode(&[0xff, 0x00, 0x7b], &Limits::default()).is_err());
    let other = br#"{"format":"x","format_version":9,"version":"","pushed_at":"","files":[]}"#;
    assert!(matches!(
        decode(other, &Limits::default()),
        Err(BundleError::UnsupportedFormat { .. })
    ));
}

/// A bundle of a format this certgate does not know (a newer one) says which it reads
/// and what to do.
#[test]
fn an_unknown_format_version_says_to_push_again() {
    let bytes = replaced(
        &sample().encode(),
        b"certgate-deployment\n\0\0\0\x03",
        b"certgate-deployment\n\0\0\0\x04",
    );
    let error = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "bundle format 4 is not supported (this certgate reads formats 2 and 3, and format 1 \
         in JSON); run `certgate trust push` with this version of certgate"
    );
}

#[test]
fn limits_are_enforced() {
    let bytes = sample().encode();
    let limits = Limits {
        max_total_bytes: 20,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&bytes, &limits),
        Err(BundleError::TooLarge { size: 28, max: 20 })
    ));
    assert!(matches!(
        decode(
            &vec![b' '; 10_000],
            &Limits {
                max_files: 1,
                max_total_bytes: 3,
                ..limits
            }
        ),
        Err(BundleError::TooLarge { size: 10_000, .. })
    ));
    let limits = Limits {
        max_files: 2,
        ..Limits::default()
    };
    assert_eq!(
        decode(&bytes, &limits),
        Err(BundleError::TooManyFiles { count: 3, max: 2 })
    );
    let limits = Limits {
        max_file_bytes: 5,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&bytes, &limits),
        Err(BundleError::FileTooLarge { path, .. }) if path == "ca/root/root.pem"
    ));
}

#[test]
fn paths_that_could_escape_are_refused() {
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../b",
        "a//b",
        "a\\b",
        "./a",
        "a/",
        "a\nb",
        "a\u{7f}b",
        "a\u{85}b",
        "a\u{9f}",
    ] {
        assert!(check_path(bad).is_err(), "{bad:?} accepted");
    }
    // Beside the control characters: U+00A0 (0xC2 0xA0) and other non-ASCII text.
    for good in [
        "gateway.toml",
        "ca/root/r.pem",
        ".hidden",
        "a..b/c",
        "a\u{a0}b",
        "zertifikate/größe.pem",
    ] {
        assert!(check_path(good).is_ok(), "{good:?} refused");
    }
    let bundle = Bundle::new(vec![file("a", b"")], datetime!(2026-01-01 0:00 UTC)).unwrap();
    let bytes = replaced(&bundle.encode(), b"\0\x01a", b"\0\x04../a");
    assert!(matches!(
        decode(&bytes, &Limits::default()),
        Err(BundleError::BadPath { .. })
    ));
    let text = json(&bundle).replace("\"a\"", "\"../a\"");
    assert!(matches!(
        decode(text.as_bytes(), &Limits::default()),
        Err(BundleError::BadPath { .. })
    ));
}

#[test]
fn duplicate_paths_are_refused() {
    assert_eq!(
        Bundle::new(
            vec![file("a", b"1"), file("a", b"2")],
            datetime!(2026-01-01 0:00 UTC)
        ),
        Err(BundleError::DuplicatePath("a".into()))
    );
}

#[test]
fn sha256_hex_is_lowercase_hex_of_the_digest() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
