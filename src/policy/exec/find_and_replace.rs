//! `find-and-replace`: every occurrence of `from` in the body, left to right, compared
//! byte for byte (ordinal, as .NET's `string.Replace`) on the UTF-8 text.

use memchr::memmem;

use super::{Failure, param};
use crate::body::MAX_BUFFERED_BODY;
use crate::expr::{Body, Context};
use crate::policy::elements::FindAndReplace;

const POLICY: &str = "find-and-replace";

pub(super) fn find_and_replace(f: &FindAndReplace, ctx: &mut Context) -> Result<(), Failure> {
    let from = param::eval(&f.from, ctx, POLICY)?;
    let to = param::eval(&f.to, ctx, POLICY)?;
    if from.is_empty() {
        return Err(Failure::expression(POLICY, "`from` is empty"));
    }
    let body = if f.response {
        &mut ctx.response.body
    } else {
        &mut ctx.request.body
    };
    let Some(current) = body.as_ref() else {
        return Ok(());
    };
    // The gateway read this body whole because this policy is on the route.
    let bytes = current.read(true).ok_or_else(|| {
        Failure::expression(POLICY, "the body was not read whole (a certgate bug)")
    })?;
    if let Some(replaced) = replace_all(&bytes, from.as_bytes(), to.as_bytes())? {
        *body = Some(Body::new(replaced));
    }
    Ok(())
}

/// `haystack` with every `from` replaced by `to`; `None` when there is none. A result over
/// [`MAX_BUFFERED_BODY`] is a failure, not a body.
fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
    let mut found = memmem::find_iter(haystack, from).peekable();
    if found.peek().is_none() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut last = 0;
    for at in found {
        out.extend_from_slice(&haystack[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
        if out.len() > MAX_BUFFERED_BODY {
            return Err(too_large());
        }
    }
    out.extend_from_slice(&haystack[last..]);
    if out.len() > MAX_BUFFERED_BODY {
        return Err(too_large());
    }
    Ok(Some(out))
}

fn too_large() -> Failure {
    Failure::expression(
        POLICY,
        format!("the replaced body would be over {MAX_BUFFERED_BODY} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::replace_all;

    fn replaced(text: &str, from: &str, to: &str) -> Option<String> {
        replace_all(text.as_bytes(), from.as_bytes(), to.as_bytes())
            .unwrap()
            .map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn every_occurrence_left_to_right_without_overlap_and_case() {
        assert_eq!(replaced("aaa", "aa", "b").as_deref(), Some("ba"));
        assert_eq!(
            replaced("Notebook notebook", "notebook", "laptop").as_deref(),
            Some("Notebook laptop")
        );
        assert_eq!(replaced("a-b-c", "-", "").as_deref(), Some("abc"));
        assert_eq!(replaced("abc", "x", "y"), None);
        assert_eq!(replaced("ça coûte", "û", "u").as_deref(), Some("ça coute"));
    }

    #[test]
    fn a_result_over_the_body_limit_fails() {
        let body = vec![b'a'; 1024 * 1024];
        let failure = replace_all(&body, b"a", &[b'b'; 32]).unwrap_err();
        assert_eq!(failure.reason, "ExpressionValueEvaluationFailure");
    }
}
