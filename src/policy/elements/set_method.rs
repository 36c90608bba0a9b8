//! `<set-method>`: the method the backend gets (inbound, on-error).

use super::{PolicyError, XmlElement, is_token, text_param};
use crate::policy::value::Param;

/// `<set-method>METHOD</set-method>`; the text may be an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetMethod {
    pub method: Param<String>,
}

pub(super) fn set_method(el: &XmlElement) -> Result<SetMethod, PolicyError> {
    Ok(SetMethod {
        method: text_param(el, parse_method)?,
    })
}

/// An HTTP method as written (methods are case-sensitive): an HTTP token.
pub(crate) fn parse_method(s: &str) -> Result<String, String> {
    let s = s.trim();
    if is_token(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not an HTTP method; write one such as GET or POST"
        ))
    }
}
