//! `Verify()`: path building and signatures by webpki, then .NET's rules on top.
//!
//! webpki builds the path (revocation off) from the leaf through the client's
//! intermediates and those of the store that the chain's names reach, to a root of
//! `ca/root/`, checking signatures, validity of
//! every non-root certificate, basicConstraints, pathLen, nameConstraints and EKU
//! (clientAuth if present). For every candidate path it calls back, and the callback
//! adds what .NET's default chain policy checks and webpki does not:
//!
//! * the root's own validity dates (time validity is enforced on the whole chain);
//! * the root's pathLenConstraint, and that a root which is not a CA anchors only itself
//!   (a self-signed client certificate uploaded as a root);
//! * revocation (`Verify()` only) of every certificate of the path but the root, looked
//!   up in the index of CRLs (their signatures checked at load, or on the first lookup
//!   of their issuer): no CRL, a stale one or one that fails its check, is
//!   `RevocationUnknown`.
//!
//! A callback failure makes webpki try other paths and rank the failures, so the verdict
//! is the most specific reason over all candidate paths.
//!
//! # Work per call
//!
//! Bounded whatever names the candidates share: at most
//! [`MAX_PRESENTED_INTERMEDIATES`] distinct presented certificates (copies dropped),
//! then webpki's budget of 100 signature checks and 200,000 path-building steps per
//! call (each step compares one path head with the roots and the candidate
//! intermediates); running out is [`Reason::ChainTooLong`]. The callback runs only for a
//! path whose signatures all verified, so at most 100 times, each a walk of at most 7
//! certificates. A client cannot get near the step budget alone (see
//! [`MAX_PRESENTED_INTERMEDIATES`]); it can still spend the 100 signature checks with
//! junk CAs named like a CA of the store, which is a few milliseconds.

use std::cell::RefCell;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage, VerifiedPath};

use super::crl::{CaKey, CaRevocations};
use super::store::TrustStore;
use super::verdict::{Reason, Revocation, RevocationStatus, Verdict, Verification};
use crate::cert::Certificate;

/// Most distinct intermediates a client may present (copies of one count once); more is
/// [`Reason::ChainTooLong`] without any path building.
///
/// Real client chains have one to three intermediates, and some clients add the root:
/// four fits them all. The bound is low because every presented certificate is a
/// candidate issuer at every step of path building, and candidates that share a name
/// multiply the paths to try: 15 self-issued CAs carrying the leaf's issuer name ran
/// webpki to its budget on every request (200,000 steps, about 120 ms on a 2-core VM,
/// when no CA of the store has that name). Four such
/// candidates, with one CA of that name in the store, give at most 5 + 5·4 + 5·4·3 +
/// 5·4·3·2 + 5! = 325 steps. [`crate::cert::MAX_CHAIN_LENGTH`] stays the bound on what
/// is decoded.
pub const MAX_PRESENTED_INTERMEDIATES: usize = 4;

/// The extended key usage a chain is verified for (see
/// [`TrustStore::verify_for_purpose`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// TLS client authentication: what `Verify()` checks.
    ClientAuth,
    /// TLS server authentication, for conformance suites written for servers.
    ServerAuth,
}

/// The intermediates a client presented, as `Verify()` uses them: each distinct DER once,
/// ordered by SHA-256 fingerprint. The verdict is then a function of the set the client
/// sent, not of the order or repetitions (webpki tries candidates in order, and its
/// budget and error ranking could otherwise tell two orders apart), which is what lets
/// the cache key on that set.
pub(crate) fn distinct(presented: &[Certificate]) -> Vec<&Certificate> {
    let mut distinct: Vec<&Certificate> = presented.iter().collect();
    distinct.sort_unstable_by(|a, b| {
        a.sha256()
            .cmp(b.sha256())
            .then_with(|| a.der().cmp(b.der()))
    });
    distinct.dedup_by(|a, b| a.der() == b.der());
    distinct
}

/// A verification and the time window (unix seconds, `[from, until)`) over which it
/// holds for the same chain and store.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation {
    pub(crate) verification: Verification,
    pub(crate) from: i64,
    pub(crate) until: i64,
}

type Notes = RefCell<Vec<(webpki::Error, String)>>;

fn unix(t: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(t).unwrap_or(0)))
}

fn rfc3339(t: UnixTime) -> String {
    crate::text::rfc3339(i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
}

impl TrustStore {
    /// `Verify()` ([`Revocation::Check`]) or `VerifyNoRevocation()`
    /// ([`Revocation::NoCheck`]) of `leaf` at `now`. `presented` are the intermediates
    /// the client sent: untrusted hints for path building; only roots of `ca/root/`
    /// anchor a path.
    pub fn verify(
        &self,
        leaf: &Certificate,
        presented: &[Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
    ) -> Verdict {
        self.verify_explained(leaf, presented, now, revocation)
            .verdict
    }

    /// [`TrustStore::verify`] with a one-line explanation of a failure.
    pub fn verify_explained(
        &self,
        leaf: &Certificate,
        presented: &[Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
    ) -> Verification {
        self.verify_for_purpose(leaf, presented, now, revocation, Purpose::ClientAuth)
    }

    /// [`TrustStore::verify_explained`] for the extended key usage `purpose`. `Verify()`
    /// is always [`Purpose::ClientAuth`]; this exists so that conformance suites written
    /// for TLS servers (x509-limbo) can judge the rest of a chain by certgate's rules.
    #[doc(hidden)]
    pub fn verify_for_purpose(
        &self,
        leaf: &Certificate,
        presented: &[Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
        purpose: Purpose,
    ) -> Verification {
        let presented = distinct(presented);
        let t = now.unix_timestamp().max(0);
        self.check(leaf, &presented, t, revocation, purpose).0
    }

    /// `presented` as [`distinct`] returns it.
    pub(crate) fn evaluate(
        &self,
        leaf: &Certificate,
        presented: &[&Certificate],
        now: OffsetDateTime,
        revocation: Revocation,
    ) -> Evaluation {
        let t = now.unix_timestamp().max(0);
        let (verification, reached) =
            self.check(leaf, presented, t, revocation, Purpose::ClientAuth);
        let (from, until) = self.window(t, leaf, presented, &reached);
        Evaluation {
            verification,
            from,
            until,
        }
    }

    /// The largest interval around `t` in which no validity date or CRL nextUpdate that
    /// could matter to this chain falls: the verdict is constant over it. `reached`: the
    /// store's intermediates the chain's names reached (no other can be on its path).
    fn window(
        &self,
        t: i64,
        leaf: &Certificate,
        presented: &[&Certificate],
        reached: &[usize],
    ) -> (i64, i64) {
        let b = &self.boundaries;
        let i = b.partition_point(|&x| x <= t);
        let mut from = if i > 0 { b[i - 1] } else { i64::MIN };
        let mut until = b.get(i).copied().unwrap_or(i64::MAX);
        let presented = presented.iter().copied().take(MAX_PRESENTED_INTERMEDIATES);
        let chain = std::iter::once(leaf).chain(presented).map(|cert| {
            (
                cert.not_before().unix_timestamp(),
                cert.not_after().unix_timestamp(),
            )
        });
        let reached = reached
            .iter()
            .filter_map(|&i| self.intermediate(i))
            .map(|usable| (usable.not_before, usable.not_after));
        for (not_before, not_after) in chain.chain(reached) {
            for x in [not_before, not_after.saturating_add(1)] {
                if x <= t {
                    from = from.max(x);
                } else {
                    until = until.min(x);
                }
            }
        }
        (from, until)
    }

    /// `presented` as [`distinct`] returns it. With the verification, the store's
    /// intermediates that the chain's names reached (see [`Intermediates::reached`]).
    ///
    /// [`Intermediates::reached`]: super::intermediates::Intermediates::reached
    fn check(
        &self,
        leaf: &Certificate,
        presented: &[&Certificate],
        t: i64,
        revocation: Revocation,
        purpose: Purpose,
    ) -> (Verification, Vec<usize>) {
        let invalid = |reason, detail: String| {
            let verification = Verification {
                verdict: Verdict::Invalid(reason),
                detail: Some(detail),
            };
            (verification, Vec::new())
        };
        if presented.len() > MAX_PRESENTED_INTERMEDIATES {
            return invalid(
                Reason::ChainTooLong,
                format!(
                    "the client presented {} distinct intermediate certificates; at most {MAX_PRESENTED_INTERMEDIATES} are accepted (send only the CAs between the client certificate and the root)",
                    presented.len()
                ),
            );
        }
        let leaf_der = CertificateDer::from(leaf.der());
        let ee = match EndEntityCert::try_from(&leaf_der) {
            Ok(ee) => ee,
            Err(e) => {
                return invalid(
                    map_error(&e),
                    format!("the client certificate cannot be used: {e:?}"),
                );
            }
        };
        let mut intermediates: Vec<CertificateDer<'_>> = presented
            .iter()
            .map(|cert| CertificateDer::from(cert.der()))
            .collect();
        // The client's intermediates as webpki names them (one it cannot read issues
        // nothing), for the store's intermediates that the chain's names reach.
        let parsed: Vec<EndEntityCert<'_>> = intermediates
            .iter()
            .filter_map(|der| EndEntityCert::try_from(der).ok())
            .collect();
        let names: Vec<(&[u8], &[u8])> = parsed.iter().map(|p| (p.subject(), p.issuer())).collect();
        let reached = self
            .intermediates
            .reached(ee.issuer(), &names, |i| self.intermediate(i).is_some());
        for held in reached.iter().filter_map(|&i| self.intermediates.get(i)) {
            if !presented.iter().any(|p| p.der() == held.der) {
                intermediates.push(CertificateDer::from(held.der.as_slice()));
            }
        }
        let notes: Notes = RefCell::new(Vec::new());
        let callback = |path: &VerifiedPath<'_>| self.check_path(path, t, revocation, &notes);
        let result = ee.verify_for_usage(
            super::signature::ALGORITHMS,
            &self.anchors,
            &intermediates,
            unix(t),
            match purpose {
                Purpose::ClientAuth => KeyUsage::client_auth(),
                Purpose::ServerAuth => KeyUsage::server_auth(),
            },
            None,
            Some(&callback),
        );
        let verification = match result {
            Ok(_) => Verification {
                verdict: Verdict::Valid,
                detail: None,
            },
            Err(e) => {
                let noted = notes
                    .borrow()
                    .iter()
                    .find(|(noted, _)| *noted == e)
                    .map(|(_, detail)| detail.clone());
                let detail = noted.unwrap_or_else(|| self.describe(&e, leaf));
                invalid(map_error(&e), detail).0
            }
        };
        (verification, reached)
    }

    fn check_path(
        &self,
        path: &VerifiedPath<'_>,
        t: i64,
        revocation: Revocation,
        notes: &Notes,
    ) -> Result<(), webpki::Error> {
        let fail = |e: webpki::Error, detail: String| {
            notes.borrow_mut().push((e.clone(), detail));
            Err(e)
        };
        let anchor = path.anchor();
        let Some(index) = self.anchors.iter().position(|a| std::ptr::eq(a, anchor)) else {
            return Err(webpki::Error::UnknownIssuer);
        };
        let root = &self.anchor_info[index];
        if t < root.not_before {
            let e = webpki::Error::CertNotValidYet {
                time: unix(t),
                not_before: unix(root.not_before),
            };
            let d = format!(
                "root {} is not valid before {}",
                root.subject,
                rfc3339(unix(root.not_before))
            );
            return fail(e, d);
        }
        if t > root.not_after {
            let e = webpki::Error::CertExpired {
                time: unix(t),
                not_after: unix(root.not_after),
            };
            let d = format!(
                "root {} expired at {}",
                root.subject,
                rfc3339(unix(root.not_after))
            );
            return fail(e, d);
        }
        let ee = path.end_entity();
        let intermediates: Vec<&webpki::Cert<'_>> = path.intermediate_certificates().collect();
        let leaf_is_root = intermediates.is_empty()
            && self
                .roots()
                .get(index)
                .is_some_and(|root| ee.der().as_ref() == root.der());
        if !root.is_ca && !leaf_is_root {
            let d = format!(
                "{} in ca/root is not a CA: it is trusted only as itself, not as an issuer",
                root.subject
            );
            return fail(webpki::Error::EndEntityUsedAsCa, d);
        }
        if let Some(len) = root.path_len
            && intermediates.len() > len as usize
        {
            let d = format!(
                "root {} allows {len} intermediate(s) below it (pathLenConstraint); the path has {}",
                root.subject,
                intermediates.len()
            );
            return fail(webpki::Error::PathLenConstraintViolated, d);
        }
        if revocation == Revocation::NoCheck || leaf_is_root {
            return Ok(());
        }
        // Every certificate of the path but the root, each against its issuer's CRLs.
        let chain: Vec<&webpki::Cert<'_>> = std::iter::once(&**ee).chain(intermediates).collect();
        let mut unknown = None;
        for (i, cert) in chain.iter().enumerate() {
            let who = if i == 0 {
                "the client certificate".to_owned()
            } else {
                format!("intermediate #{i} of the path")
            };
            let issuer = match chain.get(i + 1) {
                Some(next) => CaKey::new(next.subject(), next.subject_public_key_info().as_ref()),
                None => root.key,
            };
            match self.lookup(&issuer, cert.serial(), t) {
                (RevocationStatus::Revoked, Some(crls)) => {
                    let d = format!(
                        "{who} (serial {}) is listed in its issuer's CRL ({})",
                        crate::text::hex_upper(cert.serial()),
                        crls.sources()
                    );
                    return fail(webpki::Error::CertRevoked, d);
                }
                (RevocationStatus::Stale, Some(crls)) => {
                    let next = crls.next_update().unwrap_or(t);
                    unknown.get_or_insert((
                        webpki::Error::CrlExpired {
                            time: unix(t),
                            next_update: unix(next),
                        },
                        format!(
                            "the CRL of the issuer of {who} is stale: its nextUpdate was {} ({})",
                            rfc3339(unix(next)),
                            crls.sources()
                        ),
                    ));
                }
                (RevocationStatus::NotRevoked, _) => {}
                _ => {
                    unknown.get_or_insert((
                        webpki::Error::UnknownRevocationStatus,
                        format!("no CRL of the issuer of {who} was deployed (crl/)"),
                    ));
                }
            }
        }
        match unknown {
            Some((e, d)) => fail(e, d),
            None => Ok(()),
        }
    }

    /// The status of serial `serial` issued by the CA `issuer`, from the CRL index.
    fn lookup(
        &self,
        issuer: &CaKey,
        serial: &[u8],
        t: i64,
    ) -> (RevocationStatus, Option<CaRevocations<'_>>) {
        let Some(crls) = self.revocations.get(issuer) else {
            return (RevocationStatus::NoCrl, None);
        };
        let status = if crls.contains(serial) {
            RevocationStatus::Revoked // a revocation stands even in a stale CRL
        } else if crls.next_update().is_some_and(|next| t >= next) {
            RevocationStatus::Stale
        } else {
            RevocationStatus::NotRevoked
        };
        (status, Some(crls))
    }

    /// What the store's CRLs say about `cert` as issued by the CA `issuer` at `now`: one
    /// hash lookup, whatever the size of the CRL. It does not check that `issuer`
    /// issued `cert` (path building does); use it to explain or to monitor.
    pub fn revocation_status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        now: OffsetDateTime,
    ) -> RevocationStatus {
        let issuer_der = CertificateDer::from(issuer.der());
        let cert_der = CertificateDer::from(cert.der());
        let (Ok(issuer), Ok(cert)) = (
            EndEntityCert::try_from(&issuer_der),
            EndEntityCert::try_from(&cert_der),
        ) else {
            return RevocationStatus::NoCrl;
        };
        let key = CaKey::new(issuer.subject(), issuer.subject_public_key_info().as_ref());
        self.lookup(&key, cert.serial(), now.unix_timestamp().max(0))
            .0
    }

    fn describe(&self, e: &webpki::Error, leaf: &Certificate) -> String {
        use webpki::Error as E;
        let whose = |t: UnixTime, leaf_time: OffsetDateTime| {
            if i64::try_from(t.as_secs()).ok() == Some(leaf_time.unix_timestamp()) {
                "the client certificate"
            } else {
                "a certificate of the chain"
            }
        };
        match e {
            E::CertExpired { time, not_after } => format!(
                "{} expired at {} (validation time {})",
                whose(*not_after, leaf.not_after()),
                rfc3339(*not_after),
                rfc3339(*time)
            ),
            E::CertNotValidYet { time, not_before } => format!(
                "{} is not valid before {} (validation time {})",
                whose(*not_before, leaf.not_before()),
                rfc3339(*not_before),
                rfc3339(*time)
            ),
            E::UnknownIssuer => format!(
                "no path from issuer {} to a root in ca/root (intermediates come from ca/intermediate and the client)",
                leaf.issuer()
            ),
            E::InvalidSignatureForPublicKey => {
                "a signature does not verify with the key of the CA of that name (another CA with the same name?)"
                    .into()
            }
            E::CaUsedAsEndEntity => {
                "the client certificate is a CA certificate (basicConstraints cA=true)".into()
            }
            E::EndEntityUsedAsCa => "a certificate that is not a CA issued another one".into(),
            E::PathLenConstraintViolated => {
                "a CA's pathLenConstraint allows fewer intermediates below it".into()
            }
            E::MaximumPathDepthExceeded => "the path is longer than 6 intermediates".into(),
            E::MaximumSignatureChecksExceeded | E::MaximumPathBuildCallsExceeded => {
                "path building gave up: too many candidate paths".into()
            }
            E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
                "a certificate's extended key usage does not include clientAuth".into()
            }
            other => format!("{other:?}"),
        }
    }
}

/// webpki's error to the reason a policy sees.
pub(crate) fn map_error(e: &webpki::Error) -> Reason {
    use webpki::Error as E;
    #[allow(deprecated)]
    match e {
        E::CertExpired { .. } => Reason::Expired,
        E::CertNotValidYet { .. } => Reason::NotYetValid,
        E::CertRevoked => Reason::Revoked,
        E::UnknownRevocationStatus | E::CrlExpired { .. } => Reason::RevocationUnknown,
        E::UnknownIssuer | E::CertDistrusted | E::InvalidSignatureForPublicKey => {
            Reason::NotTrusted
        }
        E::CaUsedAsEndEntity => Reason::CaUsedAsLeaf,
        E::EndEntityUsedAsCa => Reason::IssuerNotCa,
        E::PathLenConstraintViolated => Reason::PathLenExceeded,
        E::MaximumPathDepthExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumNameConstraintComparisonsExceeded => Reason::ChainTooLong,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            Reason::WrongExtendedKeyUsage
        }
        E::NameConstraintViolation => Reason::NameConstraintViolation,
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Reason::UnsupportedAlgorithm,
        _ => Reason::Malformed,
    }
}
