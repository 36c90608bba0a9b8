//! Finds where a policy expression ends, without parsing it.
//!
//! The XML reader hands this scanner the (entity-decoded) characters that follow `@(` or
//! `@{`, one at a time. The scanner tracks C# brackets `()`, `{}`, `[]` and skips
//! everything that may hold a bracket or quote without meaning it:
//!
//! * regular strings `"..."` with backslash escapes,
//! * verbatim strings `@"..."` (a doubled `""` is a quote),
//! * character literals `'x'`, `'\''`,
//! * interpolated strings `$"..{expr}.."`, `$@"..."`, `@$"..."` (`{{` and `}}` are literal
//!   braces; a hole `{...}` is code again and may hold strings of its own),
//! * comments `// ...` (to the end of the line) and `/* ... */`.
//!
//! It reports [`Scan::Done`] when the bracket opened by `@(` / `@{` is closed. The
//! scanner has no recursion; its nesting is bounded by [`MAX_BRACKET_DEPTH`].

/// Maximum nesting of brackets and interpolated strings inside one expression.
pub(crate) const MAX_BRACKET_DEPTH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The expression goes on.
    More,
    /// The character just fed closed the expression.
    Done,
}

/// Why the characters cannot be an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// A closing bracket that does not match the innermost open one.
    Mismatched { found: char, expected: char },

    /// Brackets nested deeper than [`MAX_BRACKET_DEPTH`].
    TooDeep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Code that ends with this closing bracket (an interpolation hole ends with `}`).
    Code { close: char },
    /// Inside an interpolated string.
    Interp { verbatim: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Code (or interpolated string text, when the top frame is `Interp`).
    Normal,
    Str {
        escaped: bool,
    },
    Verbatim {
        quote_seen: bool,
    },
    Char {
        escaped: bool,
    },
    /// After a backslash in a regular interpolated string.
    InterpEscape,
    LineComment,
    BlockComment {
        star_seen: bool,
    },
}

/// Characters seen in code that need the next character to be understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    None,
    At,          // `@`: `@"` verbatim, `@$"` verbatim interpolated
    Dollar,      // `$`: `$"` interpolated, `$@"` verbatim interpolated
    AtDollar,    // `@$` or `$@`: waiting for `"`
    Slash,       // `/`: `//` or `/*`
    OpenBrace,   // `{` in interpolated text: `{{` or a hole
    CloseBrace,  // `}` in interpolated text: `}}`
    InterpQuote, // `"` in verbatim interpolated text: `""` or the end
}

#[derive(Debug, Clone)]
pub(crate) struct CSharpScanner {
    frames: Vec<Frame>,
    mode: Mode,
    pending: Pending,
}

impl CSharpScanner {
    /// A scanner just after `@(` (`open = '('`) or `@{` (`open = '{'`).
    pub(crate) fn new(open: char) -> Self {
        let close = if open == '{' { '}' } else { ')' };
        CSharpScanner {
            frames: vec![Frame::Code { close }],
            mode: Mode::Normal,
            pending: Pending::None,
        }
    }

    /// Feeds one character.
    pub(crate) fn feed(&mut self, c: char) -> Result<Scan, ScanError> {
        match self.mode {
            Mode::Normal => {}
            Mode::Str { escaped } => {
                self.mode = match (escaped, c) {
                    (true, _) => Mode::Str { escaped: false },
                    (false, '\\') => Mode::Str { escaped: true },
                    (false, '"') => Mode::Normal,
                    (false, _) => Mode::Str { escaped: false },
                };
                return Ok(Scan::More);
            }
            Mode::Char { escaped } => {
                self.mode = match (escaped, c) {
                    (true, _) => Mode::Char { escaped: false },
                    (false, '\\') => Mode::Char { escaped: true },
                    (false, '\'') => Mode::Normal,
                    (false, _) => Mode::Char { escaped: false },
                };
                return Ok(Scan::More);
            }
            Mode::Verbatim { quote_seen } => {
                if quote_seen && c != '"' {
                    // The previous quote ended the string; `c` is code again.
                    self.mode = Mode::Normal;
                } else {
                    self.mode = Mode::Verbatim {
                        quote_seen: !quote_seen && c == '"',
                    };
                    return Ok(Scan::More);
                }
            }
            Mode::InterpEscape => {
                self.mode = Mode::Normal;
                return Ok(Scan::More);
            }
            Mode::LineComment => {
                if c == '\n' {
                    self.mode = Mode::Normal;
                }
                return Ok(Scan::More);
            }
            Mode::BlockComment { star_seen } => {
                self.mode = if star_seen && c == '/' {
                    Mode::Normal
                } else {
                    Mode::BlockComment {
                        star_seen: c == '*',
                    }
                };
                return Ok(Scan::More);
            }
        }
        self.dispatch(c)
    }

    fn push(&mut self, frame: Frame) -> Result<(), ScanError> {
        if self.frames.len() >= MAX_BRACKET_DEPTH {
            return Err(ScanError::TooDeep);
        }
        self.frames.push(frame);
        Ok(())
    }

    fn code(&mut self, c: char) -> Result<Scan, ScanError> {
        let pending = std::mem::replace(&mut self.pending, Pending::None);
        match (pending, c) {
            (Pending::At, '"') => {
                self.mode = Mode::Verbatim { quote_seen: false };
                return Ok(Scan::More);
            }
            (Pending::At, '$') | (Pending::Dollar, '@') => {
                self.pending = Pending::AtDollar;
                return Ok(Scan::More);
            }
            (Pending::Dollar, '"') => {
                self.push(Frame::Interp { verbatim: false })?;
                return Ok(Scan::More);
            }
            (Pending::AtDollar, '"') => {
                self.push(Frame::Interp { verbatim: true })?;
                return Ok(Scan::More);
            }
            (Pending::Slash, '/') => {
                self.mode = Mode::LineComment;
                return Ok(Scan::More);
            }
            (Pending::Slash, '*') => {
                self.mode = Mode::BlockComment { star_seen: false };
                return Ok(Scan::More);
            }
            _ => {}
        }
        match c {
            '"' => self.mode = Mode::Str { escaped: false },
            '\'' => self.mode = Mode::Char { escaped: false },
            '@' => self.pending = Pending::At,
            '$' => self.pending = Pending::Dollar,
            '/' => self.pending = Pending::Slash,
            '(' => self.push(Frame::Code { close: ')' })?,
            '{' => self.push(Frame::Code { close: '}' })?,
            '[' => self.push(Frame::Code { close: ']' })?,
            ')' | '}' | ']' => {
                let expected = match self.frames.last() {
                    Some(Frame::Code { close }) => *close,
                    _ => ')',
                };
                if c != expected {
                    return Err(ScanError::Mismatched { found: c, expected });
                }
                self.frames.pop();
                if self.frames.is_empty() {
                    return Ok(Scan::Done);
                }
            }
            _ => {}
        }
        Ok(Scan::More)
    }

    fn interp(&mut self, c: char, verbatim: bool) -> Result<Scan, ScanError> {
        let pending = std::mem::replace(&mut self.pending, Pending::None);
        match (pending, c) {
            (Pending::OpenBrace, '{') | (Pending::CloseBrace, '}') => return Ok(Scan::More),
            (Pending::InterpQuote, '"') => return Ok(Scan::More),
            (Pending::InterpQuote, _) => {
                // The previous quote ended the verbatim interpolated string.
                self.frames.pop();
                return self.dispatch(c);
            }
            (Pending::OpenBrace, _) => {
                // A hole: `c` is its first character of code.
                self.push(Frame::Code { close: '}' })?;
                return self.code(c);
            }
            _ => {}
        }
        match c {
            '{' => self.pending = Pending::OpenBrace,
            '}' => self.pending = Pending::CloseBrace,
            '\\' if !verbatim => self.mode = Mode::InterpEscape,
            '"' if verbatim => self.pending = Pending::InterpQuote,
            '"' => {
                self.frames.pop();
            }
            _ => {}
        }
        Ok(Scan::More)
    }

    fn dispatch(&mut self, c: char) -> Result<Scan, ScanError> {
        match self.frames.last().copied() {
            Some(Frame::Interp { verbatim }) => self.interp(c, verbatim),
            _ => self.code(c),
        }
    }
}

/// If `text` starts with `@(` or `@{`, the byte length of that expression (up to and
/// including its closing bracket), or `Ok(None)` if it is never closed.
/// Returns `Ok(Some(0))` when `text` does not start an expression.
pub(crate) fn expression_len(text: &str) -> Result<Option<usize>, ScanError> {
    let open = match text.as_bytes() {
        [b'@', b'(', ..] => '(',
        [b'@', b'{', ..] => '{',
        _ => return Ok(Some(0)),
    };
    let mut scanner = CSharpScanner::new(open);
    for (i, c) in text[2..].char_indices() {
        if scanner.feed(c)? == Scan::Done {
            return Ok(Some(2 + i + c.len_utf8()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(text: &str) -> Option<usize> {
        expression_len(text).expect("scan error")
    }

    #[test]
    fn finds_the_closing_bracket() {
        assert_eq!(len("@(a(b)c)tail"), Some(8));
        assert_eq!(len("@{ return (1); }x"), Some(16));
        assert_eq!(len("plain"), Some(0));
    }

    #[test]
    fn skips_brackets_and_quotes_inside_strings() {
        assert_eq!(len(r#"@(x != ")\"(" && y)!"#), Some(19));
        assert_eq!(len(r#"@(@"a"")(" + b)!"#), Some(15));
        assert_eq!(len("@(c == ')' || c == '\\'')!"), Some(24));
    }

    #[test]
    fn skips_interpolated_strings_with_holes() {
        assert_eq!(len(r#"@($"{{x)}} {f(")")} )")!"#), Some(23));
        assert_eq!(len(r#"@($@"a""){b}")!"#), Some(14));
        assert_eq!(len(r#"@(@$"{x}"")")!"#), Some(13));
    }

    #[test]
    fn skips_comments() {
        assert_eq!(len("@{ // ) }\n return 1; }!"), Some(22));
        assert_eq!(len("@{ /* } */ return 1; }!"), Some(22));
        assert_eq!(len("@(a / b)!"), Some(8));
    }

    #[test]
    fn handles_generics_and_lambdas() {
        let src = r#"@(context.Variables.GetValueOrDefault<bool>("isMobile"))"#;
        assert_eq!(len(src), Some(src.len()));
        let src = "@(!context.Deployment.Certificates.Any(c => c.Value.Thumbprint == t))";
        assert_eq!(len(src), Some(src.len()));
    }

    #[test]
    fn reports_unclosed_and_mismatched() {
        assert_eq!(len("@(a(b)"), None);
        assert_eq!(len(r#"@(a == ")"#), None);
        assert_eq!(
            expression_len("@(a]"),
            Err(ScanError::Mismatched {
                found: ']',
                expected: ')'
            })
        );
    }

    #[test]
    fn bounds_nesting() {
        let deep = format!("@{}", "(".repeat(MAX_BRACKET_DEPTH + 1));
        assert_eq!(expression_len(&deep), Err(ScanError::TooDeep));
    }
}
