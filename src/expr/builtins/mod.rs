//! The library behind the expressions: operators, strings, dates, regular expressions,
//! URL and HTML encodings, hashes and ciphers.

pub(crate) mod cipher;
pub(crate) mod crypto;
pub(crate) mod datetime;
pub(crate) mod ops;
pub(crate) mod random;
pub(crate) mod regex;
pub(crate) mod string;
pub(crate) mod web;
