//! `<authentication-basic username="..." password="..."/>` (inbound).

use super::{Attrs, PolicyError, any_text};
use crate::policy::value::Param;

/// Sets `Authorization: Basic base64(username:password)` on the backend request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationBasic {
    pub username: Param<String>,
    pub password: Param<String>,
}

pub(super) fn authentication_basic(a: &Attrs<'_>) -> Result<AuthenticationBasic, PolicyError> {
    Ok(AuthenticationBasic {
        username: a.required(a.param("username", any_text)?, "username")?,
        password: a.required(a.param("password", any_text)?, "password")?,
    })
}
