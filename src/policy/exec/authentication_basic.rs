//! `authentication-basic`: `Authorization: Basic base64(username:password)` for the
//! backend, replacing the client's.

use base64::Engine as _;

use super::{Failure, param};
use crate::expr::Context;
use crate::policy::elements::AuthenticationBasic;

const POLICY: &str = "authentication-basic";

pub(super) fn authentication_basic(
    b: &AuthenticationBasic,
    ctx: &mut Context,
) -> Result<(), Failure> {
    let username = param::eval(&b.username, ctx, POLICY)?;
    let password = param::eval(&b.password, ctx, POLICY)?;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    ctx.request
        .headers
        .set("Authorization", vec![format!("Basic {credentials}")]);
    Ok(())
}
