//! The store's intermediates (`ca/intermediate/`), held so that path building finds them
//! by name without our decoding them: at load each is read by webpki for its names, its
//! DER kept and its subject indexed; the rest of its checks (a CA? its dates, a CRL for
//! it) are made when a chain first reaches its name, or for all of them at load with
//! [`Checks::Now`](super::Checks::Now). A function's cold start with a hundred CAs
//! uses two or three of them.
//!
//! A verification hands webpki only the intermediates that the chain's names reach
//! ([`Intermediates::reached`]): webpki parses every candidate it is given at each step
//! of path building and passes over those of another name, so the verdict is the same
//! as with all of them, for less work.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::crl::CaKey;
use super::diagnostic::Diagnostic;
use crate::cert::Certificate;

/// The intermediates of one store, in load order.
#[derive(Default)]
pub(crate) struct Intermediates {
    held: Vec<Held>,
    /// Indexes into `held` by subject (the Name's contents, as webpki compares names).
    by_subject: HashMap<Box<[u8]>, Vec<usize>, foldhash::fast::RandomState>,
}

/// One certificate of `ca/intermediate/`, as found at load.
pub(crate) struct Held {
    pub(crate) path: String,
    /// Its number among the certificates of its file.
    pub(crate) number: usize,
    /// Names the certificate in messages when its file holds several.
    pub(crate) label: String,
    pub(crate) der: Vec<u8>,
    /// Its issuer's Name contents: where a chain through it goes next.
    issuer: Box<[u8]>,
    checked: OnceLock<Checked>,
}

/// What checking one intermediate found.
pub(crate) struct Checked {
    /// `None`: it issues nothing; `diagnostics` say why.
    pub(crate) usable: Option<Usable>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Checked when a chain first reached it, not at load: its diagnostics are reported
    /// by [`TrustStore::checked_on_first_use`](super::TrustStore::checked_on_first_use).
    pub(crate) on_first_use: bool,
}

/// An intermediate that may issue certificates.
pub(crate) struct Usable {
    pub(crate) cert: Arc<Certificate>,
    pub(crate) key: CaKey,
    pub(crate) spki: Vec<u8>,
    /// keyUsage absent, or present with cRLSign.
    pub(crate) crl_signer: bool,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl Intermediates {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            held: Vec::with_capacity(capacity),
            by_subject: HashMap::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    /// Holds a certificate whose names webpki read (`subject` and `issuer`: the Names'
    /// contents), unchecked; returns its index.
    pub(crate) fn hold(
        &mut self,
        path: &str,
        number: usize,
        label: String,
        der: Vec<u8>,
        subject: &[u8],
        issuer: &[u8],
    ) -> usize {
        let index = self.held.len();
        self.held.push(Held {
            path: path.to_owned(),
            number,
            label,
            der,
            issuer: issuer.into(),
            checked: OnceLock::new(),
        });
        self.by_subject
            .entry(subject.into())
            .or_default()
            .push(index);
        index
    }

    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Held> {
        self.held.get(index)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Held> {
        self.held.iter()
    }

    /// The indexes of the intermediates named `subject`, in load order.
    pub(crate) fn named(&self, subject: &[u8]) -> &[usize] {
        self.by_subject.get(subject).map_or(&[], Vec::as_slice)
    }

    /// The indexes, in load order, of the usable intermediates that a path from a
    /// certificate issued by `issuer` can reach, through `presented` (the client's
    /// intermediates as (subject, issuer) Name contents) and through each other.
    /// `usable` checks an intermediate, once, when its name is first reached.
    pub(crate) fn reached(
        &self,
        issuer: &[u8],
        presented: &[(&[u8], &[u8])],
        mut usable: impl FnMut(usize) -> bool,
    ) -> Vec<usize> {
        // Each name once: many intermediates may share an issuer (renewals of one CA).
        let mut names: Vec<&[u8]> = vec![issuer];
        let mut named: HashSet<&[u8], foldhash::fast::RandomState> = HashSet::default();
        named.insert(issuer);
        let mut seen = vec![false; self.held.len()];
        let mut reached = Vec::new();
        let mut next = 0;
        while let Some(&name) = names.get(next) {
            next += 1;
            for &index in self.named(name) {
                let (Some(seen), Some(held)) = (seen.get_mut(index), self.held.get(index)) else {
                    continue;
                };
                if !std::mem::replace(seen, true) && usable(index) {
                    reached.push(index);
                    if named.insert(&held.issuer) {
                        names.push(&held.issuer);
                    }
                }
            }
            for &(subject, issuer) in presented {
                if subject == name && named.insert(issuer) {
                    names.push(issuer);
                }
            }
        }
        reached.sort_unstable();
        reached
    }
}

impl Held {
    /// What checking it found, `check` making the check when none was made yet.
    pub(crate) fn checked(&self, check: impl FnOnce(&Self) -> Checked) -> &Checked {
        self.checked.get_or_init(|| check(self))
    }

    /// What checking it found, if it was checked.
    pub(crate) fn checked_yet(&self) -> Option<&Checked> {
        self.checked.get()
    }

    /// It, if it was checked and may issue certificates.
    pub(crate) fn usable_yet(&self) -> Option<&Usable> {
        self.checked.get()?.usable.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Intermediates named `subject`, issued by `issuer`, in this order (their DER is
    /// never read here).
    fn held(pairs: &[(&str, &str)]) -> Intermediates {
        let mut intermediates = Intermediates::default();
        for (i, (subject, issuer)) in pairs.iter().enumerate() {
            let path = format!("ca/intermediate/{i}.pem");
            intermediates.hold(
                &path,
                1,
                String::new(),
                Vec::new(),
                subject.as_bytes(),
                issuer.as_bytes(),
            );
        }
        intermediates
    }

    #[test]
    fn a_chain_reaches_the_intermediates_its_names_lead_to_in_load_order() {
        let intermediates = held(&[
            ("Root", "Root"),      // 0: self-issued
            ("Issuing", "Policy"), // 1
            ("Other", "Root"),     // 2: never reached
            ("Policy", "Root"),    // 3
            ("Issuing", "Cross"),  // 4: the same name, another issuer
            ("Cross", "Issuing"),  // 5: a cycle with 4
        ]);
        let mut checked = Vec::new();
        let reached = intermediates.reached(b"Issuing", &[], |i| {
            checked.push(i);
            true
        });
        assert_eq!(reached, [0, 1, 3, 4, 5]);
        // Each checked once, when its name is first reached.
        let mut once = checked.clone();
        once.sort_unstable();
        once.dedup();
        assert_eq!(once.len(), checked.len());
        assert!(!checked.contains(&2));
    }

    #[test]
    fn the_clients_intermediates_lead_on_and_an_unusable_one_leads_nowhere() {
        let intermediates = held(&[("Policy", "Root"), ("Other", "Policy"), ("Root", "Root")]);
        // The store lacks "Issuing"; the client presents it, and the store's "Policy"
        // and "Root" are reached through it.
        let presented: &[(&[u8], &[u8])] = &[(b"Issuing", b"Policy")];
        assert_eq!(
            intermediates.reached(b"Issuing", presented, |_| true),
            [0, 2]
        );
        assert_eq!(
            intermediates.reached(b"Issuing", &[], |_| true),
            [0usize; 0]
        );
        // A presented certificate of a name the chain does not reach leads nowhere.
        assert_eq!(
            intermediates.reached(b"Nobody", presented, |_| true),
            [0usize; 0]
        );
        // "Policy" is no CA: it is not handed to webpki, and its issuer is not followed.
        assert_eq!(
            intermediates.reached(b"Issuing", presented, |i| i != 0),
            [0usize; 0]
        );
    }
}
