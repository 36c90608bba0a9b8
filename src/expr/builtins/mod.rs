//! The library behind the expressions: operators, strings, dates, regular expressions.

pub(crate) mod datetime;
pub(crate) mod ops;
pub(crate) mod regex;
pub(crate) mod string;
