//! Regex.IsMatch / Match / Replace on the `regex` crate: linear time, size-limited, so a
//! pattern can never hang a request. Look-around and back-references are not available.
//!
//! Work is charged by the input's length times an estimate from the pattern's compiled
//! size and groups, calibrated on slow patterns. The estimate keeps a search through a
//! large body with an ordinary pattern cheap, so a pattern written to be slow still costs
//! more than it is charged: measured on the 2-core VM, up to 2 s for one evaluation with
//! a 1 MiB pattern (`(?:([a-z]{10000}))+`), and 23 s for `Regex.Replace` over 0.9 MB with
//! `[a-z]*X|a`, whose match iteration is quadratic (see [`replace`]). Only the policy's
//! author can write such a pattern; the request only brings the input.

use std::ops::Range;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::super::value::MatchData;

/// The smallest compiled size [`build`] tells apart: patterns up to it cost a plain scan.
pub(crate) const SIZE_UNIT: usize = 8 * 1024;

/// A compiled pattern and its compiled size, which bounds what a match may cost.
#[derive(Debug)]
pub(crate) struct Pattern {
    pub re: Regex,
    /// Bytes, within a factor of two: the smallest power-of-two multiple of
    /// [`SIZE_UNIT`] the pattern compiles under.
    pub size: usize,
    /// The groups' names (None for a numbered group), shared by every match.
    pub names: Arc<[Option<String>]>,
}

impl Pattern {
    /// Bytes of work charged for a search through `len` bytes: one pass, and one more per
    /// [`SIZE_UNIT`] of compiled size. The lazy DFA scans an ordinary pattern at 1–3 ns a
    /// byte, whatever its size (Unicode classes make `(\w+)-(\d+)` 64 KiB); a pattern
    /// whose DFA states keep changing falls back to the NFA simulation, which costs a
    /// few ns a byte per active NFA state (measured on random letters:
    /// `[a-z]*a[a-z]{50}[^a-z]`, 8 KiB, 52 ns a byte; the same with `{1000}`, 128 KiB,
    /// 360 ns). Charging that for every pattern would fail any regular expression over
    /// a large body, hence the mild estimate.
    pub(crate) fn find_work(&self, len: usize) -> usize {
        len.saturating_mul((self.size / SIZE_UNIT).max(1))
    }

    /// Bytes of work finding the groups of a match `len` bytes long may cost. The NFA
    /// simulation that finds groups carries two slots per group in each of its states:
    /// measured up to 35 ns a byte per group (0.9 MB through 26 alternative groups:
    /// 0.6 s; 105: 3.4 s), more for a larger pattern (2 groups, 1 MiB: 0.5 µs a byte).
    pub(crate) fn capture_work(&self, len: usize) -> usize {
        len.saturating_mul(self.re.captures_len())
            .saturating_mul(self.size / 512)
    }
}

/// Builds a regex with .NET RegexOptions bits (IgnoreCase 1, Multiline 2, Singleline 16,
/// IgnorePatternWhitespace 32).
///
/// The regex crate keeps a compiled size to itself, so this finds it by trying size
/// limits from [`SIZE_UNIT`] up, doubling, to `size_limit` (a failed try stops at its
/// limit, so all tries cost about two compiles). The lazy DFA's cache gets four times
/// the compiled size (at least `size_limit`): with less, the largest patterns leave it no
/// room and every match falls back to the NFA simulation (0.9 MB against a 1 MiB pattern
/// took 2.9 s with a 1 MiB cache, 25 ms with 4 MiB).
pub(crate) fn build(pattern: &str, options: i32, size_limit: usize) -> Result<Pattern, String> {
    let mut limit = SIZE_UNIT.min(size_limit);
    loop {
        let built = RegexBuilder::new(pattern)
            .case_insensitive(options & 1 != 0)
            .multi_line(options & 2 != 0)
            .dot_matches_new_line(options & 16 != 0)
            .ignore_whitespace(options & 32 != 0)
            .size_limit(limit)
            .dfa_size_limit(limit.saturating_mul(4).max(size_limit))
            .build();
        match built {
            Ok(re) => {
                let names = re.capture_names().map(|n| n.map(str::to_owned)).collect();
                return Ok(Pattern {
                    re,
                    size: limit,
                    names,
                });
            }
            Err(regex::Error::CompiledTooBig(_)) if limit < size_limit => {
                limit = limit.saturating_mul(2).min(size_limit);
            }
            Err(regex::Error::CompiledTooBig(n)) => {
                return Err(format!("the pattern compiles to more than {n} bytes"));
            }
            Err(other) => {
                let text = other.to_string();
                let last = text.lines().last().unwrap_or("").trim();
                return Err(last.strip_prefix("error: ").unwrap_or(last).to_owned());
            }
        }
    }
}

/// `Regex.IsMatch`, charging its work to `charge` (in bytes) first.
pub(crate) fn is_match<Err>(
    p: &Pattern,
    input: &str,
    mut charge: impl FnMut(usize) -> Result<(), Err>,
) -> Result<bool, Err> {
    charge(p.find_work(input.len()))?;
    Ok(p.re.is_match(input))
}

/// `Regex.Match`: the groups as byte ranges of `input`, nothing copied. The match is
/// found first and its groups only once their work is charged.
pub(crate) fn match_data<Err>(
    p: &Pattern,
    input: Arc<str>,
    mut charge: impl FnMut(usize) -> Result<(), Err>,
) -> Result<Arc<MatchData>, Err> {
    let re = &p.re;
    charge(p.find_work(input.len()))?;
    let slots = p.names.len();
    charge(slots.saturating_mul(std::mem::size_of::<Option<Range<usize>>>()))?;
    let mut groups = vec![None; slots];
    if let Some(m) = re.find(&input) {
        // searched again from the match's start, finding the groups this time
        let rest = input.len().saturating_sub(m.start());
        charge(p.find_work(rest).saturating_add(p.capture_work(m.len())))?;
        if let Some(caps) = re.captures_at(&input, m.start()) {
            groups = caps.iter().map(|g| g.map(|g| g.range())).collect();
        }
    }
    Ok(Arc::new(MatchData {
        input,
        groups,
        names: p.names.clone(),
    }))
}

/// `Regex.Replace`: `Ok(None)` when the result would be longer than `max` bytes. Each
/// match is charged (to `charge`, in bytes) before its replacement is written: the text
/// before it, the replacement and, when the replacement refers to groups (`$1`), finding
/// them and at most the whole match per `$`.
///
/// Not bounded here: iterating over matches is O(m·n²) in the regex crate's worst case
/// (each search may read to the end of the input before it settles on a match).
pub(crate) fn replace<Err>(
    p: &Pattern,
    input: &str,
    replacement: &str,
    max: usize,
    mut charge: impl FnMut(usize) -> Result<(), Err>,
) -> Result<Option<String>, Err> {
    let re = &p.re;
    charge(p.find_work(input.len()))?;
    let refs = replacement.matches('$').count();
    let mut out = String::new();
    let mut last = 0;
    for m in re.find_iter(input) {
        let before = input.get(last..m.start()).unwrap_or_default();
        let expansion = replacement
            .len()
            .saturating_add(refs.saturating_mul(m.len()));
        if out
            .len()
            .saturating_add(before.len())
            .saturating_add(expansion)
            > max
        {
            return Ok(None);
        }
        charge(before.len().saturating_add(expansion))?;
        out.push_str(before);
        if refs == 0 {
            out.push_str(replacement);
        } else {
            charge(p.capture_work(m.len()))?;
            if let Some(caps) = re.captures_at(input, m.start()) {
                caps.expand(replacement, &mut out);
            }
        }
        last = m.end();
    }
    let rest = input.get(last..).unwrap_or_default();
    charge(rest.len())?;
    if out.len().saturating_add(rest.len()) > max {
        return Ok(None);
    }
    out.push_str(rest);
    Ok(Some(out))
}
