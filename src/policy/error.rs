//! Load errors for policy documents, and their rendering.
//!
//! Errors are data: every [`PolicyError`] carries a [`Location`] (file, 1-based line,
//! 1-based column counted in characters) and a message that says what to fix.
//! Rendering with the offending source line and a caret is a separate, presentation-only
//! step: [`diagnostic`].

use std::fmt;
use std::sync::Arc;

/// A place in a policy file: file name, 1-based line, 1-based column in characters
/// (a tab counts as one character), and the byte offset into the file's text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file name as given to the loader (for example `policies/global.xml`).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters, not bytes.
    pub column: u32,
    /// Byte offset of the position in the file's text (BOM included).
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Why a policy document did not load.
///
/// `Display` is `file:line:col: message` (lower case, no trailing punctuation).
/// Use [`PolicyError::render`] or [`diagnostic`] to show the source line with a caret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not a policy document the reader can understand (tags, quotes,
    /// entities, comments, `@(...)` balance).
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    /// A resource limit of the reader (document size, nesting depth, attribute count).
    #[error("{at}: {message}")]
    Limit { at: Location, message: String },
    /// An element name that is not an APIM policy at all.
    #[error("{at}: unknown element <{name}>{hint}")]
    UnknownElement {
        at: Location,
        name: String,
        /// Where the element was found and what is allowed there, pre-formatted.
        hint: String,
    },
    /// A real APIM policy that certgate does not run (or that the Consumption tier lacks).
    #[error("{at}: <{name}> is not supported: {reason}")]
    UnsupportedElement {
        at: Location,
        name: String,
        reason: String,
    },
    /// An attribute the element does not have.
    #[error("{at}: <{element}> has no attribute `{attribute}`; allowed: {allowed}")]
    UnknownAttribute {
        at: Location,
        element: String,
        attribute: String,
        allowed: String,
    },
    /// A required attribute is missing.
    #[error("{at}: <{element}> needs the attribute `{attribute}`")]
    MissingAttribute {
        at: Location,
        element: String,
        attribute: String,
    },
    /// An attribute (or text) value that is not allowed.
    #[error("{at}: <{element}> {attribute}: {message}")]
    InvalidValue {
        at: Location,
        element: String,
        attribute: String,
        message: String,
    },
    /// The element is in a place where it may not be (wrong section, wrong parent,
    /// wrong number of children, misplaced `<base/>`).
    #[error("{at}: {message}")]
    Structure { at: Location, message: String },
    /// An expression was rejected by the expression compiler (see
    /// [`crate::policy::compile_expression`]).
    #[error("{at}: {message}")]
    Expression { at: Location, message: String },
}

/// The `at` of every variant, shared or mutable as `$error` is.
macro_rules! at_of {
    ($error:expr) => {
        match $error {
            PolicyError::Syntax { at, .. }
            | PolicyError::Limit { at, .. }
            | PolicyError::UnknownElement { at, .. }
            | PolicyError::UnsupportedElement { at, .. }
            | PolicyError::UnknownAttribute { at, .. }
            | PolicyError::MissingAttribute { at, .. }
            | PolicyError::InvalidValue { at, .. }
            | PolicyError::Structure { at, .. }
            | PolicyError::Expression { at, .. } => at,
        }
    };
}

impl PolicyError {
    /// Where the error is.
    pub fn location(&self) -> &Location {
        at_of!(self)
    }

    /// Where the error is, to point it elsewhere (named values replaced in the text).
    pub(crate) fn location_mut(&mut self) -> &mut Location {
        at_of!(self)
    }

    /// The message without the location prefix.
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.location());
        match full.strip_prefix(&prefix) {
            Some(rest) => rest.to_owned(),
            None => full,
        }
    }

    /// `file:line:col: error: message`, the source line and a caret (see [`diagnostic`]).
    /// `source` must be the text the error was found in.
    pub fn render(&self, source: &str) -> String {
        diagnostic(source, self.location(), &self.message())
    }
}

/// Renders `file:line:col: error: message`, then the source line at `at` and a caret
/// under the column. Works on any text (policy files, expression sources); if the line
/// does not exist in `source` only the first line is printed.
pub fn diagnostic(source: &str, at: &Location, message: &str) -> String {
    let mut out = format!("{at}: error: {message}\n");
    let line_index = usize::try_from(at.line.saturating_sub(1)).unwrap_or(usize::MAX);
    let Some(line) = source
        .strip_prefix('\u{feff}')
        .unwrap_or(source)
        .split('\n')
        .nth(line_index)
    else {
        return out;
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    let number = at.line.to_string();
    let gutter = " ".repeat(number.len());
    // Keep tabs so the caret lines up in a terminal; everything else becomes a space.
    let pad: String = line
        .chars()
        .take(usize::try_from(at.column.saturating_sub(1)).unwrap_or(0))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    out.push_str(&format!("{number} | {line}\n{gutter} | {pad}^\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: u32, column: u32) -> Location {
        Location {
            file: Arc::from("p.xml"),
            line,
            column,
            offset: 0,
        }
    }

    #[test]
    fn diagnostic_draws_a_caret_under_the_column() {
        let text = "<policies>\n  <inbound>\n\t<foo/>\n";
        let got = diagnostic(text, &loc(3, 2), "unknown element <foo>");
        assert_eq!(
            got,
            "p.xml:3:2: error: unknown element <foo>\n3 | \t<foo/>\n  | \t^\n"
        );
    }

    #[test]
    fn diagnostic_counts_characters_not_bytes() {
        let text = "<a b=\"é\" c=\"x\"/>";
        let got = diagnostic(text, &loc(1, 10), "here");
        assert!(
            got.ends_with("1 | <a b=\"é\" c=\"x\"/>\n  |          ^\n"),
            "{got}"
        );
    }

    #[test]
    fn diagnostic_without_the_line_prints_only_the_header() {
        assert_eq!(diagnostic("", &loc(7, 1), "m"), "p.xml:7:1: error: m\n");
    }

    #[test]
    fn message_strips_the_location() {
        let e = PolicyError::Syntax {
            at: loc(2, 3),
            message: "unclosed tag".into(),
        };
        assert_eq!(e.to_string(), "p.xml:2:3: unclosed tag");
        assert_eq!(e.message(), "unclosed tag");
    }
}
