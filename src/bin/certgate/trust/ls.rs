//! `certgate trust ls s3://bucket/prefix`: what the gateway would load, and what needs care.
//!
//! Prints the deployment version, the files, each CA's subject and expiry date, each CRL's
//! next update, objects under the prefix that are not part of the deployment, then
//! warnings on stderr: a CA that expires within 30 days, a stale CRL, and
//! every trust-store diagnostic.

use std::process::ExitCode;

use anyhow::bail;
use bytes::Bytes;
use certgate::cert::decode_chain;
use certgate::source::s3::{Fetch, RESERVED_NAMES, S3Source, TRUSTSTORE_NAME};
use certgate::trust::{TrustStore, crls_in_file};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer as _;

/// A CA closer than this to its notAfter gets a warning.
const EXPIRY_WARNING: Duration = Duration::days(30);

pub(crate) async fn run(source: &S3Source, at: OffsetDateTime) -> anyhow::Result<ExitCode> {
    let Fetch::Loaded(deployment) = source.fetch(None).await? else {
        bail!("S3 answered 'not modified' to an unconditional GET");
    };
    let mut warnings = deployment.warnings.clone();
    outln!("deployment {}", source.location());
    outln!("  version    {}", deployment.version);
    match deployment.pushed_at {
        Some(pushed_at) => outln!("  pushed     {}", rfc3339(pushed_at)),
        None => outln!("  pushed     never (no bundle; read file by file)"),
    }
    match truststore_version(source).await? {
        Some(Some(version)) => outln!("  truststore {TRUSTSTORE_NAME} version {version}"),
        Some(None) => outln!("  truststore {TRUSTSTORE_NAME} (bucket not versioned)"),
        None => outln!("  truststore {TRUSTSTORE_NAME} missing"),
    }

    outln!("files:");
    for file in &deployment.files {
        outln!("  {:>9}  {}", file.bytes.len(), file.path);
    }

    outln!("certificate authorities:");
    // CRL issuers are shown as their CA's subject is (same name formatting).
    let mut ca_names: Vec<(Vec<u8>, String)> = Vec::new();
    for file in deployment
        .files
        .iter()
        .filter(|file| file.path.starts_with("ca/"))
    {
        let Ok(certs) = decode_chain(&file.bytes) else {
            continue; // the trust store's diagnostics say why
        };
        for cert in certs {
            if let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.der()) {
                ca_names.push((
                    parsed.subject().as_raw().to_vec(),
                    cert.subject().to_owned(),
                ));
            }
            let not_after = cert.not_after();
            outln!(
                "  {}  {}  expires {}",
                file.path,
                cert.subject(),
                rfc3339(not_after)
            );
            if not_after > at && not_after - at <= EXPIRY_WARNING {
                warnings.push(format!(
                    "{}: {} expires on {}, within {} days",
                    file.path,
                    cert.subject(),
                    rfc3339(not_after),
                    EXPIRY_WARNING.whole_days()
                ));
            }
        }
    }

    outln!("revocation lists:");
    for file in deployment
        .files
        .iter()
        .filter(|file| file.path.starts_with("crl/"))
    {
        for (raw_issuer, issuer, next_update) in crls(&file.bytes) {
            let issuer = ca_names
                .iter()
                .find(|(raw, _)| *raw == raw_issuer)
                .map_or(issuer, |(_, name)| name.clone());
            let next = next_update.map_or_else(|| "never".to_owned(), rfc3339);
            outln!("  {}  {issuer}  next update {next}", file.path);
        }
    }

    match source.list().await {
        Err(error) => warnings.push(format!("cannot list the prefix: {error}")),
        Ok(objects) => {
            let extra: Vec<_> = objects
                .iter()
                .filter(|object| {
                    !RESERVED_NAMES.contains(&object.path.as_str())
                        && !deployment.files.iter().any(|file| file.path == object.path)
                })
                .collect();
            if !extra.is_empty() {
                outln!("other objects under the prefix (not part of the deployment):");
                for object in extra {
                    outln!("  {:>9}  {}", object.size, object.path);
                }
            }
        }
    }

    let (_, diagnostics) = TrustStore::from_files(&deployment.files, at);
    warnings.extend(diagnostics.iter().map(ToString::to_string));
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `Some(version id)` when the truststore object exists, `None` when it does not.
async fn truststore_version(source: &S3Source) -> anyhow::Result<Option<Option<String>>> {
    let key = source.location().key(TRUSTSTORE_NAME);
    match source
        .client()
        .head_object()
        .bucket(&source.location().bucket)
        .key(&key)
        .send()
        .await
    {
        Ok(head) => Ok(Some(head.version_id)),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(error) => Err(source.s3_error("HeadObject", &key, &error).into()),
    }
}

/// Issuer (DER and text) and next update of each CRL of a `crl/` file, read as the trust
/// store reads it; unreadable ones are skipped (the trust store's diagnostics report them).
fn crls(bytes: &Bytes) -> Vec<(Vec<u8>, String, Option<OffsetDateTime>)> {
    crls_in_file(bytes)
        .unwrap_or_default()
        .iter()
        .filter_map(|der| {
            let (_, crl) =
                x509_parser::revocation_list::CertificateRevocationList::from_der(der).ok()?;
            Some((
                crl.issuer().as_raw().to_vec(),
                crl.issuer().to_string(),
                crl.next_update().map(|time| time.to_datetime()),
            ))
        })
        .collect()
}

fn rfc3339(time: OffsetDateTime) -> String {
    certgate::text::rfc3339(time.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
        DnType, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber, date_time_ymd,
    };

    use super::*;

    /// A CA named `name` and its CRL's DER, next update in `year`.
    fn crl_of(name: &str, year: i32) -> (Vec<u8>, Vec<u8>) {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2026, 1, 1),
            next_update: date_time_ymd(year, 1, 1),
            crl_number: SerialNumber::from(vec![1]),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca)
        .unwrap();
        (ca.der().to_vec(), crl.der().to_vec())
    }

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    }

    /// `trust ls` reads a `crl/` file as the trust store does: a DER CRL whole, each
    /// `X509 CRL` block of a PEM file (text and other blocks between them passed over),
    /// nothing from a file that is neither or whose CRL does not parse.
    #[test]
    fn crls_of_a_file_are_read_as_the_trust_store_reads_them() {
        let (_, first) = crl_of("First CA", 2027);
        let (ca, second) = crl_of("Second CA", 2028);
        let issuer = |found: &[(Vec<u8>, String, Option<OffsetDateTime>)]| {
            found
                .iter()
                .map(|(_, text, next)| (text.clone(), next.map(|t| t.year())))
                .collect::<Vec<_>>()
        };

        let der = crls(&Bytes::from(first.clone()));
        assert_eq!(issuer(&der), [("CN=First CA".to_owned(), Some(2027))]);

        let file = format!(
            "two CRLs\n{}{}{}",
            pem("X509 CRL", &first),
            pem("CERTIFICATE", &ca),
            pem("X509 CRL", &second)
        );
        let found = crls(&Bytes::from(file));
        assert_eq!(
            issuer(&found),
            [
                ("CN=First CA".to_owned(), Some(2027)),
                ("CN=Second CA".to_owned(), Some(2028))
            ]
        );
        // The issuer's DER is the Name the trust store matches with a CA's subject.
        assert!(
            ca.windows(found[1].0.len())
                .any(|w| w == found[1].0.as_slice())
        );

        assert_eq!(crls(&Bytes::from_static(b"neither DER nor PEM")), []);
        assert_eq!(crls(&Bytes::from(pem("X509 CRL", b"not a CRL"))), []);
    }
}
