//! The JSON writer, byte for byte as Newtonsoft's `JsonTextWriter` with default settings:
//!
//! * `Formatting.Indented` (`ToString()`): two spaces a level, `"name": value`, every
//!   element and property on its own line, `{}` and `[]` when empty;
//! * `Formatting.None`: no whitespace at all;
//! * strings: `\"`, `\\`, `\b \f \n \r \t`, other control characters, U+0085, U+2028 and
//!   U+2029 as `\u` with four lowercase hex digits; nothing else escaped (not non-ASCII,
//!   not `'<>&`): `JavaScriptUtils.WriteEscapedJavaScriptString` with
//!   `StringEscapeHandling.Default`;
//! * doubles: .NET's shortest round-trip text with `.0` added when it has no `.` or
//!   exponent (`1.0`, `0.1`, `1E+20`, `1.5E-07`): `JsonConvert.ToString(double)`;
//! * dates: `IsoDateFormat`, `yyyy-MM-ddTHH:mm:ss`, the fraction without trailing zeros,
//!   then `Z` for Utc, `+00:00` for Local (the gateway's zone is UTC), nothing for
//!   Unspecified.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::{DateKind, J, JsonError, MAX_WRITE_DEPTH};
use crate::expr::number::format_double;

/// Appends `j` as JSON to `out`; `work` counts the tokens written (the caller charges
/// the bytes of `out` too).
pub(crate) fn write(
    j: &J,
    indented: bool,
    out: &mut String,
    work: &mut usize,
) -> Result<(), JsonError> {
    Writer {
        out,
        indented,
        work,
    }
    .token(j, 0)
}

struct Writer<'a> {
    out: &'a mut String,
    indented: bool,
    work: &'a mut usize,
}

impl Writer<'_> {
    fn newline(&mut self, depth: usize) {
        if self.indented {
            self.out.push('\n');
            for _ in 0..depth {
                self.out.push_str("  ");
            }
        }
    }

    fn name(&mut self, name: &str) {
        string(name, self.out);
        self.out.push_str(if self.indented { ": " } else { ":" });
    }

    fn token(&mut self, j: &J, depth: usize) -> Result<(), JsonError> {
        *self.work += 1;
        if depth > MAX_WRITE_DEPTH {
            return Err(JsonError::TooDeep(MAX_WRITE_DEPTH));
        }
        match j {
            J::Null => self.out.push_str("null"),
            J::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            J::Int(n) => {
                let _ = write!(self.out, "{n}");
            }
            J::BigInt(s) => self.out.push_str(s),
            J::Float(d) => float(*d, self.out),
            J::Str(s) => string(s, self.out),
            J::Date(d, k) => {
                self.out.push('"');
                date(*d, *k, self.out);
                self.out.push('"');
            }
            J::Property(p) => {
                self.name(&p.0);
                self.token(&p.1, depth)?;
            }
            J::Array(a) => {
                // a snapshot: no lock is held while writing the children
                let items = a.get().clone();
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.newline(depth + 1);
                    self.token(item, depth + 1)?;
                }
                if !items.is_empty() {
                    self.newline(depth);
                }
                self.out.push(']');
            }
            J::Object(o) => {
                let props = o.get().clone();
                self.out.push('{');
                for (i, (k, v)) in props.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.newline(depth + 1);
                    self.name(k);
                    self.token(v, depth + 1)?;
                }
                if !props.is_empty() {
                    self.newline(depth);
                }
                self.out.push('}');
            }
        }
        Ok(())
    }
}

fn float(d: f64, out: &mut String) {
    let s = format_double(d);
    let plain = !s.contains(['.', 'E', 'e']) && d.is_finite();
    out.push_str(&s);
    if plain {
        out.push_str(".0");
    }
}

/// A JSON string literal with Newtonsoft's default escaping.
pub(crate) fn string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => None,
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

fn date(d: OffsetDateTime, kind: DateKind, out: &mut String) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.year(),
        d.month() as u8,
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    );
    let mut ticks = d.nanosecond() / 100;
    if ticks != 0 {
        let mut digits = 7;
        while ticks.is_multiple_of(10) {
            ticks /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{ticks:0digits$}");
    }
    match kind {
        DateKind::Utc => out.push('Z'),
        DateKind::Local => out.push_str("+00:00"),
        DateKind::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, indented: bool) -> String {
        let mut work = 0;
        let j = super::super::parse(text, &mut work).expect("parses");
        let mut out = String::new();
        write(&j, indented, &mut out, &mut work).expect("writes");
        out
    }

    #[test]
    fn numbers_as_newtonsoft_writes_them() {
        assert_eq!(
            w(
                "[1, -0, 1.0, 0.1, 1e20, 1.5e-7, 123456789012345678901234, 2.5E3, 1e15, 100000000000000.0]",
                false
            ),
            "[1,0,1.0,0.1,1E+20,1.5E-07,123456789012345678901234,2500.0,1E+15,100000000000000.0]"
        );
    }

    #[test]
    fn strings_escape_only_what_newtonsoft_escapes() {
        assert_eq!(
            w(
                r#""a\"\\\/\b\f\n\r\t\u0001\u001F\u007f é €<>&' \u0085\u2028\u2029 😀""#,
                false
            ),
            "\"a\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f} é €<>&' \\u0085\\u2028\\u2029 😀\""
        );
    }

    #[test]
    fn dates_round_trip_with_their_kind() {
        assert_eq!(
            w(
                r#"["2026-01-01T00:00:00Z","2026-01-01T00:00:00","2026-01-01T02:00:00+02:00","2026-01-01T00:00:00.1230000Z","2026-01-01","2026-13-01T00:00:00Z"]"#,
                false
            ),
            r#"["2026-01-01T00:00:00Z","2026-01-01T00:00:00","2026-01-01T00:00:00+00:00","2026-01-01T00:00:00.123Z","2026-01-01","2026-13-01T00:00:00Z"]"#
        );
    }

    #[test]
    fn indented_is_two_spaces_and_empty_containers_stay_short() {
        assert_eq!(
            w(r#"{"a":1,"b":[1,{"c":null}],"d":{},"e":[]}"#, true),
            "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ],\n  \"d\": {},\n  \"e\": []\n}"
        );
    }

    #[test]
    fn parsing_refuses_bad_input_and_deep_nesting() {
        let mut work = 0;
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01x",
            "\"\u{1}\"",
            "[1] x",
            "tru",
            "1e999",
        ] {
            assert!(super::super::parse(bad, &mut work).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(65) + &"]".repeat(65);
        assert_eq!(
            super::super::parse(&deep, &mut work).unwrap_err(),
            JsonError::TooDeep(64)
        );
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(super::super::parse(&ok, &mut work).is_ok());
        let very = "[".repeat(1_000_000);
        assert!(super::super::parse(&very, &mut work).is_err());
    }

    #[test]
    fn a_repeated_name_keeps_its_place_and_the_last_value() {
        assert_eq!(w(r#"{"a":1,"b":2,"a":3}"#, false), r#"{"a":3,"b":2}"#);
        // Past INDEX_FROM names, by hash: the same result.
        let names: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{},\"k3\":-1,\"k39\":-2,\"new\":0}}", names.join(","));
        let want = text
            .replace("\"k3\":3,", "\"k3\":-1,")
            .replace("\"k39\":39,\"k3\":-1,\"k39\":-2,", "\"k39\":-2,");
        assert_eq!(w(&text, false), want);
    }
}
