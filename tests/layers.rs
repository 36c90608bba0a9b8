//! The module layers, enforced: a module of `src/` may use only modules of lower layers,
//! so the graph has no circles and a newcomer can read it bottom up. A new module, or
//! an import that points up, fails here with the table to change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom up. A module may import any module of a lower layer, none of its own layer
/// or above.
const LAYERS: &[&[&str]] = &[
    // Plain data and formats every layer shares; the TLS crypto provider.
    &["files", "text", "body", "xml", "crypto"],
    // Certificates as a policy sees them, `gateway.toml`, forwarding to a backend.
    &["cert", "config", "proxy"],
    // `Verify()`: the trust store.
    &["trust"],
    // Reading a deployment (folder, S3, bundle); policy expressions.
    &["source", "expr"],
    // The caches of the cache policies: in memory, and DynamoDB through the S3 client's
    // AWS settings.
    &["cache"],
    // Policy documents and their execution.
    &["policy"],
    // The transport-free core: a request in, a response out.
    &["gateway"],
    // Lambda events and the local TLS listener.
    &["frontend"],
    // `certgate demo`: a whole local setup.
    &["demo"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names as `crate::<module>`, outside comments.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut upward = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let mut parts = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy());
        let first = parts.next().expect("a file name").into_owned();
        if first == "bin" || first == "lib.rs" {
            continue; // the binaries and the crate root sit above every layer
        }
        let module = first.trim_end_matches(".rs").to_owned();
        let Some(own) = layer(&module) else {
            panic!("src/{module} is in no layer: add it to LAYERS in tests/layers.rs");
        };
        seen.insert(module.clone());
        let text = std::fs::read_to_string(file).expect("readable source");
        for used in imports(&text) {
            if used == module {
                continue;
            }
            match layer(&used) {
                Some(theirs) if theirs < own => {}
                Some(_) => upward.push(format!(
                    "{} uses crate::{used}, which is not below {module}",
                    relative.display()
                )),
                None => panic!(
                    "{} uses crate::{used}, which is in no layer: add it to LAYERS",
                    relative.display()
                ),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up or sideways (move the type to the layer that owns it):\n{}",
        upward.join("\n")
    );
    // The table names no module that is gone.
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter().map(|m| (*m).to_owned()))
        .collect();
    assert_eq!(listed, seen, "LAYERS and the modules of src/ differ");
}

#[test]
fn imports_are_read_from_code_not_comments() {
    let text = "use crate::cert::Certificate; // see crate::gateway\n//! [`crate::trust`]\nlet x = crate::text::hex_lower(b);";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["cert", "text"]);
}
