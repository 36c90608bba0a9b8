//! Byte spans inside an expression's source text, and where that text sits in a file.

use std::sync::Arc;

/// A byte range `start..end` in the source text handed to [`crate::expr::compile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Span {
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Where the first character of an expression's source text is: the policy file and the
/// 1-based line and column of that character (for an attribute value, the character just
/// after the opening quote).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl Origin {
    pub fn new(file: impl Into<Arc<str>>, line: u32, column: u32) -> Self {
        Origin {
            file: file.into(),
            line,
            column,
        }
    }
}

impl Default for Origin {
    fn default() -> Self {
        Origin::new("<expression>", 1, 1)
    }
}

/// A resolved position: file, 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

/// Line and column of `offset` in `source`, shifted by `origin`.
pub(crate) fn locate(origin: &Origin, source: &str, offset: u32) -> Location {
    let offset = (offset as usize).min(source.len());
    let offset = floor_char_boundary(source, offset);
    let before = &source[..offset];
    let newlines = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col_chars = before[line_start..].chars().count();
    let (line, column) = if newlines == 0 {
        (origin.line, origin.column.saturating_add(col_chars as u32))
    } else {
        (
            origin.line.saturating_add(newlines as u32),
            1 + col_chars as u32,
        )
    };
    Location {
        file: origin.file.clone(),
        line,
        column,
    }
}

pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
