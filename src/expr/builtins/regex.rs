//! Regex.IsMatch / Match / Replace on the `regex` crate: linear time, size-limited, so a
//! pattern can never hang a request. Look-around and back-references are not available.

use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::super::value::MatchData;
use super::string::byte_to_16;

/// Builds a regex with .NET RegexOptions bits (IgnoreCase 1, Multiline 2, Singleline 16,
/// IgnorePatternWhitespace 32).
pub(crate) fn build(pattern: &str, options: i32, size_limit: usize) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(options & 1 != 0)
        .multi_line(options & 2 != 0)
        .dot_matches_new_line(options & 16 != 0)
        .ignore_whitespace(options & 32 != 0)
        .size_limit(size_limit)
        .dfa_size_limit(size_limit)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(n) => {
                format!("the pattern compiles to more than {n} bytes")
            }
            other => {
                let text = other.to_string();
                let last = text.lines().last().unwrap_or("").trim();
                last.strip_prefix("error: ").unwrap_or(last).to_owned()
            }
        })
}

pub(crate) fn match_data(re: &Regex, input: &str) -> Arc<MatchData> {
    let names: Vec<Option<String>> = re.capture_names().map(|n| n.map(str::to_owned)).collect();
    let groups = match re.captures(input) {
        Some(caps) => (0..caps.len())
            .map(|i| {
                caps.get(i)
                    .map(|m| (m.as_str().to_owned(), byte_to_16(input, m.start()) as usize))
            })
            .collect(),
        None => vec![None; names.len()],
    };
    Arc::new(MatchData { groups, names })
}
