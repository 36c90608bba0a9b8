pub(crate) mod pki;
