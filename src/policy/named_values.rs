//! Named values: `{{name}}` in a policy document or fragment is replaced by the value's
//! text before the document is read, as APIM does (textually, so a value may hold
//! attribute text, element text or expression code).
//!
//! Positions: the reader sees the replaced text; a load error is pointed back into the
//! file as written ([`locate_written`]), at the `{{name}}` when it lies inside a value.
//! Positions kept for run time (`--explain`, expression errors per request) stay counted
//! in the replaced text. Error renderings show the file as written, never the replaced
//! text, so values do not reach `check` output.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use super::error::PolicyError;
use super::xml::{self, MAX_DOCUMENT_BYTES};
use crate::config::{MAX_NAMED_VALUE_NAME, is_named_value_name};

/// `text` with every `{{name}}` replaced by its value (one pass: a value's own braces are
/// not replaced again). An undefined name is an error at its position in `file`.
pub(crate) fn substitute<'t>(
    file: &str,
    text: &'t str,
    values: &BTreeMap<String, String>,
) -> Result<Cow<'t, str>, PolicyError> {
    replace(file, text, values, &mut Vec::new())
}

/// One replaced `{{name}}`: where it is written, and where its value is in the replaced
/// text.
struct Replaced {
    written: Range<usize>,
    value: Range<usize>,
}

/// `error`, which points into `text` with `values` replaced, pointed into `text` as
/// written: an offset inside a value becomes its `{{name}}`'s, one after it moves by the
/// lengths the values changed.
pub(crate) fn locate_written(
    mut error: PolicyError,
    text: &str,
    values: &BTreeMap<String, String>,
) -> PolicyError {
    let mut replaced = Vec::new();
    let file = error.location().file.clone();
    if replace(&file, text, values, &mut replaced).is_err() || replaced.is_empty() {
        return error;
    }
    let offset = error.location().offset;
    let mut written = offset;
    for r in replaced.iter().take_while(|r| r.value.start <= offset) {
        if offset < r.value.end {
            written = r.written.start;
            break;
        }
        written = offset - r.value.end + r.written.end;
    }
    *error.location_mut() = xml::location(&file, text, written);
    error
}

/// [`substitute`], noting each replacement in `replaced`.
fn replace<'t>(
    file: &str,
    text: &'t str,
    values: &BTreeMap<String, String>,
    replaced: &mut Vec<Replaced>,
) -> Result<Cow<'t, str>, PolicyError> {
    let Some(first) = text.find("{{") else {
        return Ok(Cow::Borrowed(text));
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut rest = &text[first..];
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        // A name is short: look for its `}}` that far only, so text full of `{{` is
        // read once, not once per `{{`.
        let reach = after
            .char_indices()
            .nth(MAX_NAMED_VALUE_NAME + 2)
            .map_or(after.len(), |(at, _)| at);
        let Some(close) = after
            .get(..reach)
            .and_then(|near| near.find("}}"))
            .filter(|close| is_named_value_name(&after[..*close]))
        else {
            out.push_str("{{");
            rest = after;
            continue;
        };
        let name = &after[..close];
        let value = values.get(name).ok_or_else(|| PolicyError::Structure {
            at: xml::location(file, text, text.len() - rest.len() + open),
            message: format!(
                "named value `{{{{{name}}}}}` is not defined; add `\"{name}\" = \"...\"` to [named_values] in gateway.toml (or pass --named-value {name}=VALUE to check or invoke)"
            ),
        })?;
        let at = text.len() - rest.len() + open;
        replaced.push(Replaced {
            written: at..at + 2 + close + 2,
            value: out.len()..out.len() + value.len(),
        });
        out.push_str(value);
        if out.len() > MAX_DOCUMENT_BYTES {
            return Err(PolicyError::Limit {
                at: xml::location(file, text, text.len() - rest.len() + open),
                message: format!(
                    "the document with its named values replaced is over {MAX_DOCUMENT_BYTES} bytes; shorten the values"
                ),
            });
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// The values of secret named values, taken out of what certgate shows (load errors, the
/// `--explain` trace): an expression error may quote the code a value became.
#[derive(Clone, Default)]
pub struct SecretTexts(Vec<(String, String)>);

impl SecretTexts {
    /// `(name, value)` pairs; empty values are nothing to hide. Each value is hidden as
    /// written and percent-encoded as in a query string (a backend URL in the trace).
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let encoded =
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            if encoded != *value {
                pairs.push((name.clone(), encoded));
            }
            pairs.push((name.clone(), value.clone()));
        }
        // Longest first, so a value inside another is not replaced in it first.
        pairs.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        Self(pairs)
    }

    /// `text` with each secret value written back as its `{{name}}`.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for (name, value) in &self.0 {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), &format!("{{{{{name}}}}}")));
            }
        }
        out
    }
}

impl fmt::Debug for SecretTexts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: std::collections::BTreeSet<&String> =
            self.0.iter().map(|(name, _)| name).collect();
        f.debug_set().entries(names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_written_back_as_their_names() {
        let values = BTreeMap::from([
            ("key".to_owned(), "s3cr3t-<&>".to_owned()),
            ("inner".to_owned(), "s3cr3t".to_owned()),
            ("empty".to_owned(), String::new()),
        ]);
        let texts = SecretTexts::new(&values);
        assert_eq!(
            texts.redact("x s3cr3t-<&> y s3cr3t ?k=s3cr3t%2D%3C%26%3E"),
            "x {{key}} y {{inner}} ?k={{key}}"
        );
        assert!(matches!(texts.redact("nothing"), Cow::Borrowed(_)));
        assert_eq!(format!("{texts:?}"), r#"{"inner", "key"}"#);
    }

    #[test]
    fn braces_that_open_no_name_stay_as_written_around_one_that_does() {
        let mut values = BTreeMap::new();
        values.insert("a".to_owned(), "1".to_owned());
        let noise = "{{ x ".repeat(100_000);
        let text = format!("{noise}{{{{a}}}}{{{{{}}}}}", "n".repeat(300));
        let out = substitute("p.xml", &text, &values).unwrap();
        assert_eq!(out, format!("{noise}1{{{{{}}}}}", "n".repeat(300)));
    }

    fn values() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("host".to_owned(), "orders.internal".to_owned()),
            ("loop".to_owned(), "{{host}}".to_owned()),
        ])
    }

    #[test]
    fn replaces_defined_names_once_and_leaves_other_braces() {
        let got = substitute("p.xml", "a{{host}}b{{loop}}c{{ not a name }}{{", &values())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, "aorders.internalb{{host}}c{{ not a name }}{{");
        assert!(matches!(
            substitute("p.xml", "no braces", &values()),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn an_undefined_name_is_an_error_at_its_position() {
        let e = substitute("p.xml", "<a>\n  x{{host}}{{nope}}</a>", &values())
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.location().to_string(), "p.xml:2:12");
        assert!(e.message().contains("`{{nope}}` is not defined"), "{e}");
    }

    #[test]
    fn positions_in_the_replaced_text_point_back_into_the_text_as_written() {
        let text = "<a>\n  x{{host}}y{{loop}}z</a>";
        let out = substitute("p.xml", text, &values()).unwrap();
        let at = |replaced_offset: usize| {
            let error = PolicyError::Structure {
                at: xml::location("p.xml", &out, replaced_offset),
                message: String::new(),
            };
            locate_written(error, text, &values())
                .location()
                .to_string()
        };
        // Before any value, inside the first value, after it, inside and after the second.
        assert_eq!(at(out.find('x').unwrap()), "p.xml:2:3");
        assert_eq!(at(out.find("internal").unwrap()), "p.xml:2:4");
        assert_eq!(at(out.find('y').unwrap()), "p.xml:2:12");
        assert_eq!(at(out.find("{{host}}").unwrap() + 3), "p.xml:2:13");
        assert_eq!(at(out.find('z').unwrap()), "p.xml:2:21");
        assert_eq!(at(out.find("</a>").unwrap()), "p.xml:2:22");
    }

    #[test]
    fn the_replaced_text_is_bounded() {
        let big = BTreeMap::from([("b".to_owned(), "x".repeat(MAX_DOCUMENT_BYTES / 2))]);
        let e = substitute("p.xml", "{{b}}{{b}}{{b}}", &big).err();
        assert!(matches!(e, Some(PolicyError::Limit { .. })), "{e:?}");
    }
}
