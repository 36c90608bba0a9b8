//! `certgate cert inspect FILE [--json]`: every property a policy can read from a
//! certificate, in the exact strings the policy sees.
//!
//! FILE may hold a chain (leaf first, as front ends send it): the leaf is inspected,
//! because it is what `context.Request.Certificate` is; the other certificates are
//! listed by Subject, Issuer and Thumbprint so a wrong order is easy to spot.
//!
//! `--json` prints one object: the .NET property names (`Subject`, `SubjectName.Name`
//! as `{"SubjectName": {"Name": ...}}`, `Thumbprint`, `SignatureAlgorithm.Value`, ...,
//! dates as RFC 3339 UTC), `GetNameInfo` results under `Subject`/`Issuer` (forIssuer
//! false/true), then certgate's extras and `Chain`, the certificates after the leaf.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use certgate::cert::{Certificate, NameType, decode_chain};
use certgate::text::rfc3339;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Certificate file: PEM (one or more blocks), DER, base64 DER or URL-encoded PEM.
    file: PathBuf,
    /// Print one JSON object keyed by the .NET property names.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args.file.display();
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {path}"))?;
    let chain = decode_chain(&bytes).with_context(|| format!("{path}"))?;
    let (leaf, rest) = chain
        .split_first()
        .context("the file holds no certificate")?;
    if args.json {
        let mut object = properties(leaf)?;
        object["Chain"] = rest.iter().map(summary).collect();
        outln!("{}", serde_json::to_string_pretty(&object)?);
    } else {
        out!("{}", human(leaf, rest)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The leaf's properties under .NET names. `GetNameInfo` is keyed by name type under
/// `Subject` (forIssuer: false) and `Issuer` (forIssuer: true).
fn properties(cert: &Certificate) -> anyhow::Result<Value> {
    let name_info = |for_issuer: bool| -> Value {
        NameType::ALL
            .iter()
            .map(|&kind| {
                (
                    kind.dotnet_name().to_owned(),
                    Value::from(cert.name_info(kind, for_issuer)),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let sans = cert.subject_alt_names();
    let algorithm = cert.signature_algorithm();
    Ok(json!({
        "Subject": cert.subject(),
        "Issuer": cert.issuer(),
        "SubjectName": { "Name": cert.subject() },
        "IssuerName": { "Name": cert.issuer() },
        "Thumbprint": cert.thumbprint(),
        "SerialNumber": cert.serial_number(),
        "NotBefore": rfc3339(cert.not_before().unix_timestamp()),
        "NotAfter": rfc3339(cert.not_after().unix_timestamp()),
        "Version": cert.version(),
        "SignatureAlgorithm": {
            "Value": algorithm.value,
            "FriendlyName": algorithm.friendly_name,
        },
        "GetNameInfo": { "Subject": name_info(false), "Issuer": name_info(true) },
        "SubjectAlternativeNames": {
            "Dns": sans.dns,
            "Email": sans.email,
            "Uri": sans.uri,
            "IpAddress": sans.ip,
        },
        "Sha256Fingerprint": cert.sha256_fingerprint(),
        "ExtendedKeyUsage": cert.extended_key_usages(),
        "PublicKey": {
            "Algorithm": cert.public_key().algorithm,
            "Bits": cert.public_key().bits,
        },
        "CertificateAuthority": cert.is_ca(),
    }))
}

fn summary(cert: &Certificate) -> Value {
    json!({
        "Subject": cert.subject(),
        "Issuer": cert.issuer(),
        "Thumbprint": cert.thumbprint(),
    })
}

fn human(leaf: &Certificate, rest: &[Certificate]) -> anyhow::Result<String> {
    use std::fmt::Write as _;

    let mut out = String::new();
    let algorithm = leaf.signature_algorithm();
    writeln!(out, "Subject: {}", leaf.subject())?;
    writeln!(out, "Issuer: {}", leaf.issuer())?;
    writeln!(out, "SubjectName.Name: {}", leaf.subject())?;
    writeln!(out, "IssuerName.Name: {}", leaf.issuer())?;
    writeln!(out, "Thumbprint: {}", leaf.thumbprint())?;
    writeln!(out, "SerialNumber: {}", leaf.serial_number())?;
    writeln!(
        out,
        "NotBefore: {} (UTC)",
        rfc3339(leaf.not_before().unix_timestamp())
    )?;
    writeln!(
        out,
        "NotAfter: {} (UTC)",
        rfc3339(leaf.not_after().unix_timestamp())
    )?;
    writeln!(out, "Version: {}", leaf.version())?;
    writeln!(out, "SignatureAlgorithm.Value: {}", algorithm.value)?;
    writeln!(
        out,
        "SignatureAlgorithm.FriendlyName: {}",
        algorithm.friendly_name.as_deref().unwrap_or("(null)")
    )?;
    for for_issuer in [false, true] {
        for kind in NameType::ALL {
            writeln!(
                out,
                "GetNameInfo(X509NameType.{}, {for_issuer}): {}",
                kind.dotnet_name(),
                leaf.name_info(kind, for_issuer)
            )?;
        }
    }
    writeln!(out, "\nBeyond APIM:")?;
    let sans = leaf.subject_alt_names();
    for (kind, values) in [
        ("DNS", &sans.dns),
        ("Email", &sans.email),
        ("URI", &sans.uri),
        ("IP", &sans.ip),
    ] {
        if !values.is_empty() {
            writeln!(out, "  SAN {kind}: {}", values.join(", "))?;
        }
    }
    writeln!(out, "  SHA-256 fingerprint: {}", leaf.sha256_fingerprint())?;
    match leaf.extended_key_usages() {
        Some(oids) => writeln!(out, "  Extended key usage: {}", oids.join(", "))?,
        None => writeln!(out, "  Extended key usage: (no extension: any usage)")?,
    }
    let key = leaf.public_key();
    writeln!(out, "  Public key: {}, {} bits", key.algorithm, key.bits)?;
    writeln!(out, "  Certificate authority: {}", leaf.is_ca())?;
    if !rest.is_empty() {
        writeln!(
            out,
            "\nChain: {} certificates; the properties above are the leaf's.",
            rest.len() + 1
        )?;
        for (i, cert) in rest.iter().enumerate() {
            writeln!(out, "  [{}] Subject: {}", i + 2, cert.subject())?;
            writeln!(out, "      Issuer: {}", cert.issuer())?;
            writeln!(out, "      Thumbprint: {}", cert.thumbprint())?;
        }
    }
    Ok(out)
}
