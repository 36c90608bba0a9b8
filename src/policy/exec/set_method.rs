//! `set-method`: the method `forward-request` uses, and `context.Request.Method` shows.

use super::{Failure, param};
use crate::expr::Context;
use crate::policy::elements::{SetMethod, is_token};

const POLICY: &str = "set-method";

pub(super) fn set_method(m: &SetMethod, ctx: &mut Context) -> Result<(), Failure> {
    let method = param::eval(&m.method, ctx, POLICY)?;
    let method = method.trim();
    if !is_token(method) {
        return Err(Failure::expression(
            POLICY,
            format!("`{method}` is not an HTTP method"),
        ));
    }
    ctx.request.method = method.to_owned();
    Ok(())
}
