//! Properties of a certificate decoded from their part of its DER when first read.
//!
//! A chain is decoded once per client, but most of what .NET shows (the names, the
//! serial number, the key, the signature algorithm, the extended key usages) is read
//! by few policies, and the intermediates' almost never: decoding all of it for every
//! certificate of a chain was most of what reading a client's first request cost.

use std::ops::Range;
use std::sync::OnceLock;

use super::name::Name;

/// A value decoded from a range of the certificate's DER on first read, then kept.
#[derive(Debug, Clone)]
pub(super) struct OnDemand<T> {
    /// Where the value's DER lies in the certificate's.
    at: Range<usize>,
    value: OnceLock<T>,
}

impl<T> OnDemand<T> {
    /// The value whose DER `raw` is, a slice of the certificate's `der`.
    pub(super) fn at(der: &[u8], raw: &[u8]) -> Self {
        let start = (raw.as_ptr() as usize).wrapping_sub(der.as_ptr() as usize);
        debug_assert!(
            der.get(start..start + raw.len()) == Some(raw),
            "not a slice of der"
        );
        Self {
            at: start..start.saturating_add(raw.len()),
            value: OnceLock::new(),
        }
    }

    /// The value, `decode`d from the certificate's `der` on the first call. A range
    /// outside `der`, which [`OnDemand::at`] never makes, decodes as empty input.
    pub(super) fn get(&self, der: &[u8], decode: impl FnOnce(&[u8]) -> T) -> &T {
        self.value
            .get_or_init(|| decode(der.get(self.at.clone()).unwrap_or_default()))
    }
}

/// A name of a certificate, decoded and formatted when first read.
#[derive(Debug, Clone)]
pub(super) struct LazyName {
    decoded: OnDemand<Name>,
    text: OnceLock<String>,
}

impl LazyName {
    /// The name whose DER `raw` is, a slice of the certificate's `der`.
    pub(super) fn at(der: &[u8], raw: &[u8]) -> Self {
        Self {
            decoded: OnDemand::at(der, raw),
            text: OnceLock::new(),
        }
    }

    pub(super) fn decoded(&self, der: &[u8]) -> &Name {
        self.decoded.get(der, Name::from_der)
    }

    /// `X500DistinguishedName.Name`.
    pub(super) fn text(&self, der: &[u8]) -> &str {
        self.text
            .get_or_init(|| self.decoded(der).to_dotnet_string())
    }
}
