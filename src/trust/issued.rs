//! Whether one certificate signed another: for `validate-client-certificate`'s issuer
//! claims, which must not trust a name alone.

use x509_parser::prelude::FromDer as _;

use super::{crl, der};
use crate::cert::Certificate;

/// Whether `issuer`'s key verifies `leaf`'s signature and `issuer` is named as
/// `leaf`'s issuer.
pub(crate) fn issued_by(leaf: &Certificate, issuer: &Certificate) -> bool {
    if leaf.issuer() != issuer.subject() {
        return false;
    }
    let Ok((_, parsed)) = x509_parser::certificate::X509Certificate::from_der(issuer.der()) else {
        return false;
    };
    der::signed_data(leaf.der())
        .is_some_and(|signed| crl::verify_signature(parsed.public_key().raw, &signed))
}
