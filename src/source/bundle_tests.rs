use time::macros::datetime;

use super::*;

fn file(path: &str, bytes: &[u8]) -> SourceFile {
    SourceFile {
        path: path.to_owned(),
        bytes: bytes.to_vec(),
    }
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
    let decoded = Bundle::decode(&bundle.encode(), &Limits::default()).unwrap();
    assert_eq!(decoded, bundle);
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
    let plain = String::from_utf8(bundle.encode()).unwrap();
    assert!(plain.contains("\"ca/root/root.pem\"") && plain.contains("\"////\""));
    let escaped = plain.replace('/', "\\/");
    assert_eq!(
        Bundle::decode(escaped.as_bytes(), &Limits::default()),
        Ok(bundle)
    );
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
    let text = String::from_utf8(sample().encode()).unwrap();
    let root = base64::engine::general_purpose::STANDARD.encode(b"-----BEGIN CERTIFICATE-----\n");
    let tampered =
        base64::engine::general_purpose::STANDARD.encode(b"-----BEGIN CERTIFICATE-----\r");
    let text = text.replace(&root, &tampered);
    assert_eq!(
        Bundle::decode(text.as_bytes(), &Limits::default()),
        Err(BundleError::HashMismatch {
            path: "ca/root/root.pem".into()
        })
    );
}

/// Files that match their hashes under a version they do not hash to: the version is
/// what is wrong, and the error says so with both values.
#[test]
fn a_wrong_version_is_detected() {
    let bundle = sample();
    let text = String::from_utf8(bundle.encode()).unwrap();
    let text = text.replace(&bundle.version, "0123456789abcdef");
    assert_eq!(
        Bundle::decode(text.as_bytes(), &Limits::default()),
        Err(BundleError::VersionMismatch {
            stated: "0123456789abcdef".into(),
            computed: bundle.version,
        })
    );
}

#[test]
fn truncated_or_garbage_objects_are_errors() {
    let bytes = sample().encode();
    for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            Bundle::decode(&bytes[..cut], &Limits::default()),
            Err(BundleError::Json(_))
        ));
    }
    assert!(Bundle::decode(&[0xff, 0x00, 0x7b], &Limits::default()).is_err());
    let other = br#"{"format":"x","format_version":9,"version":"","pushed_at":"","files":[]}"#;
    assert!(matches!(
        Bundle::decode(other, &Limits::default()),
        Err(BundleError::UnsupportedFormat { .. })
    ));
}

#[test]
fn limits_are_enforced() {
    let bytes = sample().encode();
    let limits = Limits {
        max_total_bytes: 20,
        ..Limits::default()
    };
    assert!(matches!(
        Bundle::decode(&bytes, &limits),
        Err(BundleError::TooLarge { size: 28, max: 20 })
    ));
    assert!(matches!(
        Bundle::decode(
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
        Bundle::decode(&bytes, &limits),
        Err(BundleError::TooManyFiles { count: 3, max: 2 })
    );
    let limits = Limits {
        max_file_bytes: 5,
        ..Limits::default()
    };
    assert!(matches!(
        Bundle::decode(&bytes, &limits),
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
    ] {
        assert!(check_path(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["gateway.toml", "ca/root/r.pem", ".hidden", "a..b/c"] {
        assert!(check_path(good).is_ok(), "{good:?} refused");
    }
    let bundle = Bundle::new(vec![file("a", b"")], datetime!(2026-01-01 0:00 UTC)).unwrap();
    let text = String::from_utf8(bundle.encode())
        .unwrap()
        .replace("\"a\"", "\"../a\"");
    assert!(matches!(
        Bundle::decode(text.as_bytes(), &Limits::default()),
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
