//! The JSON reader, as `JToken.Parse` with Newtonsoft's defaults: integers as `long`
//! (beyond it, kept as written), other numbers as `double`, ISO 8601 strings as dates
//! (`DateParseHandling.DateTime`), a repeated property name replacing the earlier value
//! in place, and nothing but whitespace after the value.

use std::collections::HashMap;
use std::sync::Arc;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::{DateKind, Items, J, JsonError, MAX_DEPTH, MAX_VALUES, Props};

/// Objects with this many names find a repeated name by hash.
const INDEX_FROM: usize = 16;

/// Parses `text`; `work` counts the tokens read (the caller charges the bytes too).
pub(crate) fn parse(text: &str, work: &mut usize) -> Result<J, JsonError> {
    parse_with(text, work, true)
}

/// [`parse`], with ISO 8601 strings kept as strings when `dates` is false
/// (`DateParseHandling.None`: `json-to-xml parse-date="false"`).
pub(crate) fn parse_with(text: &str, work: &mut usize, dates: bool) -> Result<J, JsonError> {
    let mut r = Reader {
        b: text.as_bytes(),
        pos: 0,
        work,
        values: 0,
        dates,
    };
    r.ws();
    let v = r.value(0)?;
    r.ws();
    if r.pos < r.b.len() {
        return Err(r.err("additional text after the JSON value"));
    }
    Ok(v)
}

struct Reader<'a, 'w> {
    b: &'a [u8],
    pos: usize,
    work: &'w mut usize,
    /// Values read so far, at most [`MAX_VALUES`].
    values: usize,
    dates: bool,
}

impl Reader<'_, '_> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError::Syntax { at: self.pos, what }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8, what: &'static str) -> Result<(), JsonError> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn value(&mut self, depth: usize) -> Result<J, JsonError> {
        *self.work += 1;
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(JsonError::TooMany(MAX_VALUES));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                Ok(match parse_iso_date(&s).filter(|_| self.dates) {
                    Some((d, k)) => J::Date(d, k),
                    None => J::Str(Arc::from(s)),
                })
            }
            Some(b't') => self.word("true", J::Bool(true)),
            Some(b'f') => self.word("false", J::Bool(false)),
            Some(b'n') => self.word("null", J::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of the text")),
        }
    }

    fn word(&mut self, w: &'static str, v: J) -> Result<J, JsonError> {
        if self.b.get(self.pos..self.pos + w.len()) == Some(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.err("expected true, false or null"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<J, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep(MAX_DEPTH));
        }
        self.pos += 1;
        let mut props: Vec<(Arc<str>, J)> = Vec::new();
        let mut index: Option<HashMap<Arc<str>, usize>> = None;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(J::Object(Props::new(props)));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a property name in double quotes"));
            }
            let name: Arc<str> = Arc::from(self.string()?);
            self.eat(b':', "expected ':' after the property name")?;
            let v = self.value(depth)?;
            // DuplicatePropertyNameHandling.Replace: the value changes, the place does not
            *self.work += props.len() / 8;
            let slot = match &index {
                Some(index) => index.get(&name).copied(),
                None => props.iter().position(|(k, _)| *k == name),
            };
            match slot.and_then(|i| props.get_mut(i)) {
                Some(slot) => slot.1 = v,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(Arc::clone(&name), props.len());
                    }
                    props.push((name, v));
                    // Past a few names, look them up by hash: a body with a million
                    // names would otherwise take a million comparisons per name.
                    if index.is_none() && props.len() >= INDEX_FROM {
                        index = Some(
                            props
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (Arc::clone(k), i))
                                .collect(),
                        );
                    }
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(J::Object(Props::new(props)));
                }
                _ => return Err(self.err("expected ',' or '}' in the object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<J, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep(MAX_DEPTH));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(J::Array(Items::new(items)));
        }
        loop {
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(J::Array(Items::new(items)));
                }
                _ => return Err(self.err("expected ',' or ']' in the array")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("expected four hex digits after \\u"))?;
        self.pos += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // the input is a &str and we stopped at ASCII bytes: a char boundary
            out.push_str(
                std::str::from_utf8(self.b.get(start..self.pos).unwrap_or_default())
                    .map_err(|_| self.err("invalid UTF-8"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let e = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.b.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            // a lone surrogate cannot be held in UTF-8: .NET would keep it
                            out.push(c.unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(self.err("invalid escape sequence in a string")),
                    }
                }
                Some(_) => return Err(self.err("control character in a string: escape it")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    fn number(&mut self) -> Result<J, JsonError> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let s = r.pos;
            while let Some(b'0'..=b'9') = r.peek() {
                r.pos += 1;
            }
            r.pos > s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if !digits(self) {
            return Err(self.err("expected digits"));
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            float = true;
            if !digits(self) {
                return Err(self.err("expected digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            float = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.err("expected digits in the exponent"));
            }
        }
        let text = std::str::from_utf8(self.b.get(start..self.pos).unwrap_or_default())
            .map_err(|_| self.err("invalid number"))?;
        if !float {
            return Ok(match text.parse::<i64>() {
                Ok(n) => J::Int(n),
                Err(_) => J::BigInt(Arc::from(text)),
            });
        }
        match text.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(J::Float(d)),
            _ => Err(self.err("the number is too large for a double")),
        }
    }
}

/// Newtonsoft's `DateTimeUtils.TryParseDateTimeIso`: `yyyy-MM-ddTHH:mm:ss`, then up to 7
/// fraction digits, then nothing (Unspecified), `Z` (Utc) or `+HH:mm` / `+HHmm` / `+HH`
/// (an offset: converted to the local time of the gateway, UTC, Kind Local).
pub(crate) fn parse_iso_date(s: &str) -> Option<(OffsetDateTime, DateKind)> {
    let b = s.as_bytes();
    if !(19..=40).contains(&b.len()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(num(8..10)?).ok()?).ok()?;
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if sep(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // 7 digits of 100 ns ticks; further digits are dropped
        let digits = b.get(start..i.min(start + 7))?;
        let mut ticks = 0u32;
        for d in digits {
            ticks = ticks * 10 + u32::from(d - b'0');
        }
        for _ in digits.len()..7 {
            ticks *= 10;
        }
        nanos = ticks * 100;
    }
    let time = Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec).ok()?,
        nanos,
    )
    .ok()?;
    let local = PrimitiveDateTime::new(date, time);
    let (offset, kind) = match b.get(i) {
        None => (UtcOffset::UTC, DateKind::Unspecified),
        Some(b'Z') if i + 1 == b.len() => (UtcOffset::UTC, DateKind::Utc),
        Some(c @ (b'+' | b'-')) => {
            let sign: i8 = if *c == b'-' { -1 } else { 1 };
            let oh = num(i + 1..i + 3)?;
            let om = match b.len() - i {
                3 => 0,
                5 => num(i + 3..i + 5)?,
                6 if sep(i + 3, b':') => num(i + 4..i + 6)?,
                _ => return None,
            };
            let o = UtcOffset::from_hms(
                sign * i8::try_from(oh).ok()?,
                sign * i8::try_from(om).ok()?,
                0,
            )
            .ok()?;
            (o, DateKind::Local)
        }
        _ => return None,
    };
    let at = local
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)?;
    Some((at, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[0,0,...]` with `zeros` zeros: that many values and the array.
    fn zeros(zeros: usize) -> String {
        let mut text = "[0".to_owned();
        text.push_str(&",0".repeat(zeros - 1));
        text.push(']');
        text
    }

    #[test]
    fn a_document_holds_at_most_max_values() {
        let mut work = 0;
        assert!(parse(&zeros(MAX_VALUES - 1), &mut work).is_ok());
        let mut work = 0;
        assert!(matches!(
            parse(&zeros(MAX_VALUES), &mut work),
            Err(JsonError::TooMany(MAX_VALUES))
        ));
    }
}
