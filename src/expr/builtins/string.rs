//! String members with .NET semantics: lengths and indexes count UTF-16 code units,
//! equality is ordinal (culture-sensitive equality is treated as ordinal); ordering
//! (`CompareTo`, `string.Compare`, `OrderBy`, `Min`) follows the invariant culture's
//! main rules, see [`culture_compare`].

use std::borrow::Cow;
use std::cmp::Ordering;

use super::super::diagnostic::EvalErrorKind as E;
use super::super::value::Value;

pub(crate) fn len16(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

pub(crate) fn byte_to_16(s: &str, b: usize) -> i32 {
    let n = if s.is_ascii() {
        b
    } else {
        s[..b].encode_utf16().count()
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The byte offset of UTF-16 index `idx`, if it is within (or at the end of) `s`.
fn byte_of_16(s: &str, idx: usize) -> Option<usize> {
    if s.is_ascii() {
        return (idx <= s.len()).then_some(idx);
    }
    let mut units = 0;
    for (b, c) in s.char_indices() {
        if units >= idx {
            return Some(b);
        }
        units += c.len_utf16();
    }
    (units >= idx).then_some(s.len())
}

fn out_of_range(what: &str) -> E {
    E::IndexOutOfRange(what.to_owned())
}

pub(crate) fn index_arg(v: &Value) -> i64 {
    super::ops::as_i64(v).unwrap_or(-1)
}

pub(crate) fn substring(s: &str, start: i64, len: Option<i64>) -> Result<String, E> {
    let total = len16(s) as i64;
    if start < 0 || start > total {
        return Err(out_of_range(&format!(
            "startIndex {start} is outside the string of length {total}"
        )));
    }
    let len = len.unwrap_or(total - start);
    if len < 0 || start + len > total {
        return Err(out_of_range(&format!(
            "startIndex {start} + length {len} exceeds the string length {total}"
        )));
    }
    let b0 = byte_of_16(s, start as usize).ok_or_else(|| out_of_range("startIndex"))?;
    let b1 = byte_of_16(s, (start + len) as usize).ok_or_else(|| out_of_range("length"))?;
    Ok(s[b0..b1].to_owned())
}

/// `Remove(startIndex)` and `Remove(startIndex, count)`, in UTF-16 units as .NET (Core):
/// `startIndex` may be the length.
pub(crate) fn remove(s: &str, start: i64, count: Option<i64>) -> Result<String, E> {
    let total = len16(s) as i64;
    if start < 0 || start > total {
        return Err(out_of_range(&format!(
            "startIndex {start} is outside the string of length {total}"
        )));
    }
    let end = count.map_or(total, |n| start.saturating_add(n));
    if count.is_some_and(|n| n < 0) || end > total {
        let n = count.unwrap_or_default();
        return Err(out_of_range(&format!(
            "startIndex {start} + count {n} exceeds the string length {total}"
        )));
    }
    let b0 = byte_of_16(s, start as usize).ok_or_else(|| out_of_range("startIndex"))?;
    let b1 = byte_of_16(s, end as usize).ok_or_else(|| out_of_range("count"))?;
    Ok([&s[..b0], &s[b1..]].concat())
}

/// `Insert(startIndex, value)`, in UTF-16 units.
pub(crate) fn insert(s: &str, start: i64, value: &str) -> Result<String, E> {
    let total = len16(s) as i64;
    if start < 0 || start > total {
        return Err(out_of_range(&format!(
            "startIndex {start} is outside the string of length {total}"
        )));
    }
    let b = byte_of_16(s, start as usize).ok_or_else(|| out_of_range("startIndex"))?;
    Ok([&s[..b], value, &s[b..]].concat())
}

/// A `char` or `string` argument as text (a string is borrowed, not copied); null is an
/// error (ArgumentNullException).
pub(crate) fn text_arg<'a>(v: &'a Value, name: &str) -> Result<Cow<'a, str>, E> {
    match v {
        Value::String(s) => Ok(Cow::Borrowed(s)),
        Value::Char(c) => Ok(Cow::Owned(c.to_string())),
        Value::Null => Err(E::Argument(format!("'{name}' is null"))),
        other => Ok(Cow::Owned(other.to_string())),
    }
}

pub(crate) fn index_of(s: &str, needle: &str, from: i64) -> Result<i32, E> {
    let total = len16(s) as i64;
    if from < 0 || from > total {
        return Err(out_of_range(&format!(
            "startIndex {from} is outside the string of length {total}"
        )));
    }
    let b = byte_of_16(s, from as usize).unwrap_or(s.len());
    Ok(s[b..].find(needle).map_or(-1, |i| byte_to_16(s, b + i)))
}

pub(crate) fn last_index_of(s: &str, needle: &str) -> i32 {
    s.rfind(needle).map_or(-1, |i| byte_to_16(s, i))
}

/// Whether a StringComparison value ignores case (1, 3, 5).
pub(crate) fn ignores_case(cmp: i32) -> bool {
    cmp % 2 == 1
}

pub(crate) fn fold(s: &str) -> String {
    s.to_uppercase()
}

/// .NET's default string order (`Comparer<string>.Default`, `CompareTo`), which is
/// culture-sensitive: letters compare alphabetically whatever their case, with lower
/// case first when the texts differ only in case (`"a" < "B" < "b"`); punctuation and
/// symbols come before digits, digits before letters. Not modelled: the "word sort"
/// weights of NLS/ICU that make `-` and `'` nearly ignorable, and accents compared after
/// the base letter (here an accented letter compares by its code point).
pub(crate) fn culture_compare(a: &str, b: &str) -> Ordering {
    fn primary(c: char) -> (u8, char) {
        if c.is_alphabetic() {
            (2, c.to_lowercase().next().unwrap_or(c))
        } else if c.is_numeric() {
            (1, c)
        } else {
            (0, c)
        }
    }
    a.chars()
        .map(primary)
        .cmp(b.chars().map(primary))
        .then_with(|| {
            a.chars()
                .map(char::is_uppercase)
                .cmp(b.chars().map(char::is_uppercase))
        })
        .then_with(|| a.cmp(b))
}

/// `string.CompareOrdinal`: the difference of the first UTF-16 code units that differ,
/// else of the lengths.
pub(crate) fn compare_ordinal(a: &str, b: &str) -> i32 {
    let mut x = a.encode_utf16();
    let mut y = b.encode_utf16();
    loop {
        match (x.next(), y.next()) {
            (Some(p), Some(q)) if p == q => {}
            (Some(p), Some(q)) => return i32::from(p) - i32::from(q),
            (None, None) => return 0,
            (Some(_), None) => return (len16(a) - len16(b)) as i32,
            (None, Some(_)) => return -((len16(b) - len16(a)) as i32),
        }
    }
}

/// [`culture_compare`] as -1, 0 or 1.
pub(crate) fn compare(a: &str, b: &str) -> i32 {
    match culture_compare(a, b) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// `Split`'s parts, lazily, so that the caller can stop at its collection limit.
pub(crate) fn split<'a>(
    s: &'a str,
    sep: &'a str,
    options: i32,
) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.split_once(sep).filter(|_| !sep.is_empty()) {
            Some((part, after)) => {
                rest = Some(after);
                Some(part)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
    .map(move |p| if options & 2 != 0 { p.trim() } else { p })
    .filter(move |p| options & 1 == 0 || !p.is_empty())
}

pub(crate) fn trim_char(s: &str, c: Option<char>, start: bool, end: bool) -> String {
    let mut t = s;
    match c {
        Some(c) => {
            if start {
                t = t.trim_start_matches(c);
            }
            if end {
                t = t.trim_end_matches(c);
            }
        }
        None => {
            if start {
                t = t.trim_start();
            }
            if end {
                t = t.trim_end();
            }
        }
    }
    t.to_owned()
}

pub(crate) fn pad(s: &str, width: i64, c: char, left: bool, max: usize) -> Result<String, E> {
    if width < 0 {
        return Err(E::Argument("totalWidth is negative".into()));
    }
    let width = width as usize;
    if width > max {
        return Err(E::SizeLimit {
            what: "the padded string",
            limit: max,
        });
    }
    let len = len16(s);
    if width <= len {
        return Ok(s.to_owned());
    }
    let fill: String = std::iter::repeat_n(c, width - len).collect();
    Ok(if left {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    })
}

/// `string.Format`: `{0}`, `{1:fmt}`, `{{`, `}}`.
pub(crate) fn format(fmt: &str, args: &[Value], max: usize) -> Result<String, E> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => spec.push(c),
                        None => return Err(E::Format(format!("unclosed '{{' in '{fmt}'"))),
                    }
                }
                let (idx, f) = spec.split_once(':').unwrap_or((&spec, ""));
                let idx = idx.split(',').next().unwrap_or("");
                let i: usize = idx
                    .trim()
                    .parse()
                    .map_err(|_| E::Format(format!("'{{{spec}}}' is not a placeholder")))?;
                let v = args.get(i).ok_or_else(|| {
                    E::Format(format!(
                        "placeholder {{{i}}} but only {} argument(s)",
                        args.len()
                    ))
                })?;
                if f.is_empty() {
                    out.push_str(&v.to_string());
                } else {
                    out.push_str(&super::ops::format_value(v, f)?);
                }
            }
            '}' => return Err(E::Format(format!("unmatched '}}' in '{fmt}'"))),
            c => out.push(c),
        }
        if out.len() > max {
            return Err(E::SizeLimit {
                what: "the formatted string",
                limit: max,
            });
        }
    }
    Ok(out)
}
