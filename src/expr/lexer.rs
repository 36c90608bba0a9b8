//! Source text to tokens. Every token carries its byte span in the expression's text.

use super::diagnostic::CompileErrorKind as K;
use super::span::Span;

/// A piece of an interpolated string `$"a{x:fmt}b"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawPart {
    Lit(String),
    /// The hole's expression text range, and its format string after ':'.
    Hole(Span, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Int(i64),
    Long(i64),
    Double(f64),
    Str(String),
    Char(char),
    Interp(Vec<RawPart>),
    P(&'static str),
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Int(n) | Tok::Long(n) => format!("'{n}'"),
            Tok::Double(n) => format!("'{n}'"),
            Tok::Str(_) | Tok::Interp(_) => "a string".to_owned(),
            Tok::Char(_) => "a character literal".to_owned(),
            Tok::P(p) => format!("'{p}'"),
            Tok::Eof => "the end of the expression".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

const PUNCT: &[&str] = &[
    "??=", "<<=", ">>=", "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "?[", "++", "--",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", "::", "(", ")", "{", "}", "[", "]", ".",
    ",", ";", ":", "?", "!", "~", "+", "-", "*", "/", "%", "<", ">", "=", "&", "|", "^",
];

/// Lexes `src[start..end]`; spans are offsets in `src`.
pub(crate) fn lex(src: &str, start: usize, end: usize) -> Result<Vec<Token>, (K, Span)> {
    let mut lx = Lexer {
        src,
        pos: start,
        end,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_trivia()?;
        if lx.pos >= lx.end {
            out.push(Token {
                tok: Tok::Eof,
                span: Span::new(lx.end, lx.end),
            });
            return Ok(out);
        }
        let begin = lx.pos;
        let tok = lx.token()?;
        out.push(Token {
            tok,
            span: Span::new(begin, lx.pos),
        });
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..self.end]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    fn here(&self) -> Span {
        let len = self.peek().map_or(0, char::len_utf8);
        Span::new(self.pos, self.pos + len)
    }

    fn skip_trivia(&mut self) -> Result<(), (K, Span)> {
        loop {
            let r = self.rest();
            if let Some(c) = r.chars().next().filter(|c| c.is_whitespace()) {
                self.pos += c.len_utf8();
            } else if r.starts_with("//") {
                self.pos += r.find('\n').unwrap_or(r.len());
            } else if let Some(body) = r.strip_prefix("/*") {
                let begin = self.pos;
                match body.find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => return Err((K::UnterminatedComment, Span::new(begin, begin + 2))),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn token(&mut self) -> Result<Tok, (K, Span)> {
        let c = self.peek().unwrap_or('\0');
        let r = self.rest();
        if c.is_alphabetic() || c == '_' {
            let len = r
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            let id = r[..len].to_owned();
            self.pos += len;
            return Ok(Tok::Ident(id));
        }
        if c.is_ascii_digit() || (c == '.' && self.peek2().is_some_and(|d| d.is_ascii_digit())) {
            return self.number();
        }
        if r.starts_with("$@\"") || r.starts_with("@$\"") {
            self.pos += 3;
            return self.interpolated(true);
        }
        if r.starts_with("$\"") {
            self.pos += 2;
            return self.interpolated(false);
        }
        if r.starts_with("@\"") {
            self.pos += 2;
            return self.verbatim().map(Tok::Str);
        }
        if c == '"' {
            self.pos += 1;
            return self.string().map(Tok::Str);
        }
        if c == '\'' {
            return self.char_lit();
        }
        for p in PUNCT {
            if r.starts_with(p) {
                self.pos += p.len();
                return Ok(Tok::P(p));
            }
        }
        Err((K::UnexpectedChar(c), self.here()))
    }

    fn number(&mut self) -> Result<Tok, (K, Span)> {
        let begin = self.pos;
        let r = self.rest();
        if r.starts_with("0x") || r.starts_with("0X") {
            let digits: String = r[2..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit() || *c == '_')
                .filter(|c| *c != '_')
                .collect();
            self.pos += 2 + r[2..]
                .find(|c: char| !(c.is_ascii_hexdigit() || c == '_'))
                .unwrap_or(r.len() - 2);
            let long = self.suffix_long();
            let v = u64::from_str_radix(&digits, 16).map_err(|_| {
                (
                    K::InvalidNumber(self.src[begin..self.pos].to_owned()),
                    Span::new(begin, self.pos),
                )
            })?;
            return int_token(v as i128, long, &self.src[begin..self.pos], begin, self.pos);
        }
        let mut is_float = false;
        let bytes = r.as_bytes();
        let mut i = 0;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
            i += 1;
        }
        if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
            is_float = true;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
        }
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            let mut j = i + 1;
            if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_digit() {
                is_float = true;
                i = j;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
        let text: String = r[..i].chars().filter(|c| *c != '_').collect();
        self.pos += i;
        match self.peek() {
            Some('d' | 'D' | 'f' | 'F') => {
                self.pos += 1;
                is_float = true;
            }
            Some('m' | 'M') => {
                self.pos += 1;
                return Err((
                    K::NotImplemented("the decimal type (suffix 'm')".to_owned()),
                    Span::new(begin, self.pos),
                ));
            }
            _ => {}
        }
        if is_float {
            return text.parse::<f64>().map(Tok::Double).map_err(|_| {
                (
                    K::InvalidNumber(self.src[begin..self.pos].to_owned()),
                    Span::new(begin, self.pos),
                )
            });
        }
        let long = self.suffix_long();
        let span_text = self.src[begin..self.pos].to_owned();
        let v: i128 = text.parse().map_err(|_| {
            (
                K::NumberTooLarge(span_text.clone()),
                Span::new(begin, self.pos),
            )
        })?;
        int_token(v, long, &span_text, begin, self.pos)
    }

    fn suffix_long(&mut self) -> bool {
        match self.peek() {
            Some('l' | 'L') => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn escape(&mut self) -> Result<char, (K, Span)> {
        let begin = self.pos - 1;
        let c = self
            .bump()
            .ok_or((K::UnterminatedString, Span::new(begin, self.pos)))?;
        let simple = match c {
            '\'' => '\'',
            '"' => '"',
            '\\' => '\\',
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            'u' | 'U' | 'x' => {
                let max = match c {
                    'u' => 4,
                    'U' => 8,
                    _ => 4,
                };
                let digits: String = self
                    .rest()
                    .chars()
                    .take(max)
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                let ok = if c == 'x' {
                    !digits.is_empty()
                } else {
                    digits.len() == max
                };
                self.pos += digits.len();
                let v = u32::from_str_radix(&digits, 16).ok().filter(|_| ok);
                return v.and_then(char::from_u32).ok_or_else(|| {
                    (
                        K::InvalidEscape(self.src[begin..self.pos].to_owned()),
                        Span::new(begin, self.pos),
                    )
                });
            }
            _ => {
                return Err((
                    K::InvalidEscape(self.src[begin..self.pos].to_owned()),
                    Span::new(begin, self.pos),
                ));
            }
        };
        Ok(simple)
    }

    fn string(&mut self) -> Result<String, (K, Span)> {
        let begin = self.pos - 1;
        let mut s = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => {
                    return Err((K::UnterminatedString, Span::new(begin, begin + 1)));
                }
                Some('"') => return Ok(s),
                Some('\\') => s.push(self.escape()?),
                Some(c) => s.push(c),
            }
        }
    }

    fn verbatim(&mut self) -> Result<String, (K, Span)> {
        let begin = self.pos - 2;
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err((K::UnterminatedString, Span::new(begin, begin + 2))),
                Some('"') if self.peek() == Some('"') => {
                    self.pos += 1;
                    s.push('"');
                }
                Some('"') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn char_lit(&mut self) -> Result<Tok, (K, Span)> {
        let begin = self.pos;
        self.pos += 1;
        let c = match self.bump() {
            None | Some('\n') | Some('\'') => {
                return Err((K::UnterminatedChar, Span::new(begin, begin + 1)));
            }
            Some('\\') => self.escape()?,
            Some(c) => c,
        };
        if self.bump() != Some('\'') {
            return Err((K::UnterminatedChar, Span::new(begin, begin + 1)));
        }
        Ok(Tok::Char(c))
    }

    fn interpolated(&mut self, verbatim: bool) -> Result<Tok, (K, Span)> {
        let begin = self.pos - if verbatim { 3 } else { 2 };
        let unterminated = (K::UnterminatedString, Span::new(begin, begin + 2));
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            let c = self.bump().ok_or_else(|| unterminated.clone())?;
            match c {
                '"' if verbatim && self.peek() == Some('"') => {
                    self.pos += 1;
                    lit.push('"');
                }
                '"' => break,
                '\n' if !verbatim => return Err(unterminated),
                '\\' if !verbatim => lit.push(self.escape()?),
                '{' if self.peek() == Some('{') => {
                    self.pos += 1;
                    lit.push('{');
                }
                '}' if self.peek() == Some('}') => {
                    self.pos += 1;
                    lit.push('}');
                }
                '{' => {
                    if !lit.is_empty() {
                        parts.push(RawPart::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(self.hole(&unterminated)?);
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(RawPart::Lit(lit));
        }
        Ok(Tok::Interp(parts))
    }

    /// After '{': the hole's expression up to ':' / ',' / '}' at depth 0.
    fn hole(&mut self, unterminated: &(K, Span)) -> Result<RawPart, (K, Span)> {
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            let c = self.peek().ok_or_else(|| unterminated.clone())?;
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                '}' if depth > 0 => depth -= 1,
                '}' | ':' | ',' if depth == 0 => break,
                '"' => {
                    self.pos += 1;
                    self.string()?;
                    continue;
                }
                '\'' => {
                    self.char_lit()?;
                    continue;
                }
                '?' if depth == 0 => {
                    // a conditional inside a hole needs parentheses in C# too
                }
                _ => {}
            }
            self.pos += c.len_utf8();
        }
        let span = Span::new(start, self.pos);
        let mut format = None;
        if self.peek() == Some(',') {
            return Err((
                K::NotImplemented("alignment in an interpolated string".to_owned()),
                self.here(),
            ));
        }
        if self.peek() == Some(':') {
            self.pos += 1;
            let f_start = self.pos;
            while let Some(c) = self.peek() {
                if c == '}' {
                    break;
                }
                self.pos += c.len_utf8();
            }
            format = Some(self.src[f_start..self.pos].to_owned());
        }
        if self.bump() != Some('}') {
            return Err(unterminated.clone());
        }
        Ok(RawPart::Hole(span, format))
    }
}

fn int_token(v: i128, long: bool, text: &str, b: usize, e: usize) -> Result<Tok, (K, Span)> {
    if !long && i32::try_from(v).is_ok() {
        Ok(Tok::Int(v as i64))
    } else if let Ok(v) = i64::try_from(v) {
        Ok(Tok::Long(v))
    } else if let Ok(v) = u64::try_from(v) {
        // C# ulong literals: accept bit patterns only for hex (0xFFFF_FFFF_FFFF_FFFF)
        let _ = v;
        Err((K::NumberTooLarge(text.to_owned()), Span::new(b, e)))
    } else {
        Err((K::NumberTooLarge(text.to_owned()), Span::new(b, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src, 0, src.len())
            .expect("lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn literals_and_escapes() {
        assert_eq!(
            toks(r#"1 2147483648 3L 1.5 2e3 'a' '\n' "a\"b" @"c:\x""y""#),
            vec![
                Tok::Int(1),
                Tok::Long(2_147_483_648),
                Tok::Long(3),
                Tok::Double(1.5),
                Tok::Double(2000.0),
                Tok::Char('a'),
                Tok::Char('\n'),
                Tok::Str("a\"b".into()),
                Tok::Str("c:\\x\"y".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn interpolation_keeps_hole_spans_and_formats() {
        let src = r#"$"a{x}b{y:D2}{{""#;
        let t = toks(src);
        let Tok::Interp(parts) = &t[0] else {
            panic!("{t:?}")
        };
        assert_eq!(parts[0], RawPart::Lit("a".into()));
        assert_eq!(parts[1], RawPart::Hole(Span::new(4, 5), None));
        assert_eq!(parts[3], RawPart::Hole(Span::new(8, 9), Some("D2".into())));
        assert_eq!(parts[4], RawPart::Lit("{".into()));
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        assert_eq!(
            lex("\"abc", 0, 4).unwrap_err(),
            (K::UnterminatedString, Span::new(0, 1))
        );
        assert_eq!(
            lex("a # b", 0, 5).unwrap_err(),
            (K::UnexpectedChar('#'), Span::new(2, 3))
        );
        assert_eq!(
            lex("99999999999999999999", 0, 20).unwrap_err().0,
            K::NumberTooLarge("99999999999999999999".into())
        );
        assert!(matches!(
            lex(r#""\q""#, 0, 4).unwrap_err().0,
            K::InvalidEscape(_)
        ));
    }
}
