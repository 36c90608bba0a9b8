//! `<find-and-replace from="..." to="..."/>`: every occurrence in the request body
//! (inbound, backend) or the response body (outbound, on-error).

use super::{Attrs, PolicyError, any_text};
use crate::policy::section::SectionKind;
use crate::policy::value::Param;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindAndReplace {
    /// Not empty.
    pub from: Param<String>,
    /// Empty removes `from`.
    pub to: Param<String>,
    /// The response body (outbound, on-error), else the request body: known at load, so
    /// the gateway reads only that body whole.
    pub response: bool,
}

pub(super) fn find_and_replace(
    a: &Attrs<'_>,
    section: SectionKind,
) -> Result<FindAndReplace, PolicyError> {
    Ok(FindAndReplace {
        from: a.required(a.param("from", not_empty)?, "from")?,
        to: a.required(a.param("to", any_text)?, "to")?,
        response: matches!(section, SectionKind::Outbound | SectionKind::OnError),
    })
}

/// Any text but none (a space is something to replace).
fn not_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_owned())
    }
}
