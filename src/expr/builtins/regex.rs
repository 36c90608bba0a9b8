//! Regex.IsMatch / Match / Replace: linear-time engines (regex-automata), size-limited,
//! and charged for the work they really do, so a pattern can never hang a request.
//! Look-around and back-references are not available.
//!
//! Matches are found by a forward and a reverse lazy DFA that this module steps one byte
//! at a time: every byte read and every DFA state built is charged as it happens. The
//! regex crate's own search loop cannot be charged that way, and estimating its work from
//! the input's length missed two costs: a leftmost-first search may read far past the
//! match it settles on (so iterating over matches is O(n²): `Regex.Replace` of
//! `[a-z]*X|a` over 100 KB of `a`s took 9 s), and a pattern whose states keep changing
//! builds a state per byte, each as large as the pattern (up to 2 s measured for one
//! evaluation). Charged here, both stop at the step limit instead, after 3–28 ms. Each
//! call starts from empty DFA caches, so what it is charged depends on the pattern and
//! the input only.
//!
//! Groups are found afterwards by the regex-automata meta engine, only within the match,
//! and charged by an estimate from the pattern's size and groups ([`Pattern::capture_work`]).

use std::ops::Range;
use std::sync::Arc;

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, NFA, WhichCaptures};
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind, PatternID, meta};

use super::super::value::MatchData;

/// The smallest compiled size [`build`] tells apart.
pub(crate) const SIZE_UNIT: usize = 8 * 1024;

/// Work, in bytes (16 a step), of reading one byte through a DFA: a table lookup and the
/// loop around it, measured at about 3.5 ns a byte (0.9 MB in 3.2 ms on the loaded 2-core
/// VM). A byte read from a match state, or needing a new transition, costs twice that:
/// it goes through the cache's bookkeeping.
const SCAN_COST: usize = 2;

/// Work of computing one DFA transition that is not in the cache yet: following the
/// NFA's states from the current one and looking the result up, plus
/// [`BUILD_BYTE_COST`] for each byte the new state adds to the cache.
const BUILD_COST: usize = 64;

/// Work per byte a new DFA state adds to the cache, which grows with the NFA states it
/// stands for, each visited and encoded: measured 10–20 ns per byte added.
const BUILD_BYTE_COST: usize = 8;

/// Work of one byte per NFA state when the DFAs cannot be used (a Unicode word boundary
/// next to non-ASCII text): the NFA simulation may carry every state over every byte.
const NFA_COST: usize = 2;

/// Units charged to the step budget in one go: small enough that the work done before a
/// charge fails is negligible, large enough that charging is.
const BATCH: usize = 4096;

/// A compiled pattern.
#[derive(Debug)]
pub(crate) struct Pattern {
    /// Finds groups within a match, and matches when `dfas` cannot.
    re: meta::Regex,
    /// Finds matches; `None` when the pattern has no lazy DFA (never seen; the meta
    /// engine then answers, charged as the NFA simulation).
    dfas: Option<Dfas>,
    /// States of the forward NFA: what each byte may cost without the DFAs.
    nfa_states: usize,
    /// Bytes, within a factor of two: the smallest power-of-two multiple of
    /// [`SIZE_UNIT`] that holds the compiled (NFA) pattern.
    pub size: usize,
    /// The groups' names (None for a numbered group), shared by every match.
    pub names: Arc<[Option<String>]>,
}

/// The forward DFA finds where the leftmost-first match ends, the reverse one where it
/// starts (as the regex crate does, but stepped by [`Run`]).
#[derive(Debug)]
struct Dfas {
    forward: DFA,
    reverse: DFA,
    /// Whether the pattern can match "": such a match must not split a character.
    utf8_empty: bool,
    /// Whether every match starts where the search does (`^...`).
    anchored: bool,
}

impl Pattern {
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
/// IgnorePatternWhitespace 32); the compiled pattern may take up to `size_limit` bytes.
///
/// The lazy DFAs' caches may grow to four times the compiled size (at least
/// `size_limit`): with less, the largest patterns leave them no room and every byte
/// rebuilds states. Growing them is charged like any other work.
pub(crate) fn build(pattern: &str, options: i32, size_limit: usize) -> Result<Pattern, String> {
    let syntax = syntax::Config::new()
        .case_insensitive(options & 1 != 0)
        .multi_line(options & 2 != 0)
        .dot_matches_new_line(options & 16 != 0)
        .ignore_whitespace(options & 32 != 0);
    let too_big = || format!("the pattern compiles to more than {size_limit} bytes");
    let re = meta::Builder::new()
        .syntax(syntax)
        .configure(meta::Config::new().nfa_size_limit(Some(size_limit)))
        .build(pattern)
        .map_err(|e| match (e.size_limit(), e.syntax_error()) {
            (Some(_), _) => too_big(),
            (None, Some(syntax)) => last_line(&syntax.to_string()),
            (None, None) => last_line(&e.to_string()),
        })?;
    let nfa = |reverse: bool| {
        thompson::Compiler::new()
            .syntax(syntax)
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(size_limit))
                    .reverse(reverse)
                    .which_captures(WhichCaptures::None),
            )
            .build(pattern)
            .map_err(|_| too_big())
    };
    let forward = nfa(false)?;
    let size = forward
        .memory_usage()
        .checked_next_power_of_two()
        .unwrap_or(usize::MAX)
        .max(SIZE_UNIT);
    let nfa_states = forward.states().len();
    let dfas = dfas(forward, nfa(true)?, size.saturating_mul(4).max(size_limit));
    let names = re
        .group_info()
        .pattern_names(PatternID::ZERO)
        .map(|n| n.map(str::to_owned))
        .collect();
    Ok(Pattern {
        re,
        dfas,
        nfa_states,
        size,
        names,
    })
}

/// The last line of a parser's message (the others repeat the pattern with a caret).
fn last_line(text: &str) -> String {
    let last = text.lines().last().unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}

fn dfas(forward: NFA, reverse: NFA, cache_capacity: usize) -> Option<Dfas> {
    // Never give up on a DFA whose cache keeps filling: every state it builds is
    // charged, so the step limit ends such a search, deterministically.
    let config = DFA::config()
        .cache_capacity(cache_capacity)
        .skip_cache_capacity_check(true)
        .minimum_cache_clear_count(None)
        .unicode_word_boundary(true);
    let utf8_empty = forward.has_empty() && forward.is_utf8();
    let anchored = forward.is_always_start_anchored();
    let forward = DFA::builder()
        .configure(config.clone())
        .build_from_nfa(forward)
        .ok()?;
    let reverse = DFA::builder()
        .configure(config.match_kind(MatchKind::All))
        .build_from_nfa(reverse)
        .ok()?;
    Some(Dfas {
        forward,
        reverse,
        utf8_empty,
        anchored,
    })
}

/// Why a DFA search stopped without an answer.
enum Halt<Err> {
    /// The step budget ran out.
    Charge(Err),
    /// The DFA cannot go on (a Unicode word boundary next to a non-ASCII byte).
    Quit,
}

/// One call's searches: fresh DFA caches, and the work not yet charged.
struct Run<'p, F> {
    p: &'p Pattern,
    caches: Option<(Lazy, Lazy)>,
    meter: Meter<F>,
}

/// A lazy DFA's cache, with its size when last charged: what it grows by since is
/// the states built.
struct Lazy {
    cache: Cache,
    memory: usize,
    clears: usize,
}

impl Lazy {
    fn new(dfa: &DFA) -> Self {
        let cache = dfa.create_cache();
        Lazy {
            memory: cache.memory_usage(),
            clears: cache.clear_count(),
            cache,
        }
    }
}

impl<'p, Err, F: FnMut(usize) -> Result<(), Err>> Run<'p, F> {
    fn new(p: &'p Pattern, charge: F) -> Result<Self, Err> {
        let caches = p
            .dfas
            .as_ref()
            .map(|d| (Lazy::new(&d.forward), Lazy::new(&d.reverse)));
        let empty = caches
            .as_ref()
            .map_or(0, |(f, r)| f.memory.saturating_add(r.memory));
        let mut meter = Meter { charge, pending: 0 };
        meter.add(empty)?;
        Ok(Run { p, caches, meter })
    }

    /// The leftmost-first match in `input` (from its start); with `earliest`, any match
    /// (its range then means nothing).
    fn find(&mut self, input: &Input<'_>, earliest: bool) -> Result<Option<Range<usize>>, Err> {
        if input.is_done() {
            return Ok(None);
        }
        match self.find_dfa(input, earliest) {
            Ok(found) => return Ok(found),
            Err(Halt::Charge(e)) => return Err(e),
            Err(Halt::Quit) => {}
        }
        // the NFA simulation, charged for its worst case first
        let len = input.end().saturating_sub(input.start()).saturating_add(1);
        self.meter.add(
            len.saturating_mul(self.p.nfa_states)
                .saturating_mul(NFA_COST),
        )?;
        self.meter.flush()?;
        let input = input.clone().earliest(earliest);
        Ok(self.p.re.search(&input).map(|m| m.range()))
    }

    fn find_dfa(
        &mut self,
        input: &Input<'_>,
        earliest: bool,
    ) -> Result<Option<Range<usize>>, Halt<Err>> {
        let (Some(d), Some((fwd, rev))) = (&self.p.dfas, self.caches.as_mut()) else {
            return Err(Halt::Quit);
        };
        let meter = &mut self.meter;
        let mut input = input.clone();
        let mut end = forward(&d.forward, fwd, &input, earliest, meter)?;
        // an empty match inside a character is skipped, as the regex crate does
        while let Some(e) = end
            && d.utf8_empty
            && !input.is_char_boundary(e)
        {
            input.set_start(input.start().saturating_add(1));
            end = forward(&d.forward, fwd, &input, earliest, meter)?;
        }
        let Some(end) = end else {
            return Ok(None);
        };
        if earliest || end == input.start() || d.anchored {
            return Ok(Some(input.start()..end));
        }
        let back = input
            .clone()
            .span(input.start()..end)
            .anchored(Anchored::Yes);
        // the reverse DFA always matches where the forward one did
        let start = reverse(&d.reverse, rev, &back, meter)?.ok_or(Halt::Quit)?;
        Ok(Some(start..end))
    }

    /// The groups of `m`, a match of `text`, searched only within it.
    fn groups(&mut self, text: &str, m: Range<usize>) -> Result<Captures, Err> {
        self.meter.add(self.p.capture_work(m.len()))?;
        self.meter.flush()?;
        let mut caps = self.p.re.create_captures();
        let input = Input::new(text).span(m).anchored(Anchored::Yes);
        self.p.re.search_captures(&input, &mut caps);
        Ok(caps)
    }
}

/// Work counted, and charged to the step budget a batch at a time.
struct Meter<F> {
    charge: F,
    pending: usize,
}

impl<Err, F: FnMut(usize) -> Result<(), Err>> Meter<F> {
    /// Counts `work` bytes, charging them once a batch has gathered.
    fn add(&mut self, work: usize) -> Result<(), Err> {
        self.pending = self.pending.saturating_add(work);
        if self.pending >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Charges what is still counted: at the end of a call, or before other work.
    fn flush(&mut self) -> Result<(), Err> {
        (self.charge)(std::mem::take(&mut self.pending))
    }

    /// The next state after `byte` (`None`: the end of the input), charging a state
    /// built: what the cache grew by, or all of it after a clear.
    fn step(
        &mut self,
        dfa: &DFA,
        lazy: &mut Lazy,
        sid: LazyStateID,
        byte: Option<u8>,
    ) -> Result<LazyStateID, Halt<Err>> {
        let mut add = |work: usize| self.add(work).map_err(Halt::Charge);
        add(SCAN_COST)?;
        if let Some(b) = byte
            && !sid.is_tagged()
        {
            let next = dfa.next_state_untagged(&lazy.cache, sid, b);
            if !next.is_unknown() {
                return Ok(next);
            }
        }
        add(SCAN_COST)?;
        let next = match byte {
            Some(b) => dfa.next_state(&mut lazy.cache, sid, b),
            None => dfa.next_eoi_state(&mut lazy.cache, sid),
        }
        .map_err(|_| Halt::Quit)?;
        let (memory, clears) = (lazy.cache.memory_usage(), lazy.cache.clear_count());
        let grown = if clears != lazy.clears {
            memory
        } else {
            memory.saturating_sub(lazy.memory)
        };
        (lazy.memory, lazy.clears) = (memory, clears);
        // from a match state, only a grown cache tells that a transition was built
        if grown > 0 || !sid.is_tagged() {
            add(BUILD_COST.saturating_add(grown.saturating_mul(BUILD_BYTE_COST)))?;
        }
        Ok(next)
    }
}

/// Where the leftmost-first match in `input` ends (the first match seen, with
/// `earliest`), reading forward from its start until the DFA dies.
fn forward<Err, F: FnMut(usize) -> Result<(), Err>>(
    dfa: &DFA,
    lazy: &mut Lazy,
    input: &Input<'_>,
    earliest: bool,
    meter: &mut Meter<F>,
) -> Result<Option<usize>, Halt<Err>> {
    let (hay, start, end) = (input.haystack(), input.start(), input.end());
    let sid = dfa
        .start_state_forward(&mut lazy.cache, input)
        .map_err(|_| Halt::Quit)?;
    // after the byte at `at`, a match ends at `at`
    let span = hay.get(start..end).unwrap_or_default().iter().enumerate();
    let bytes = span.map(|(i, &b)| (start.saturating_add(i), b));
    let after = (hay.get(end).copied(), end);
    walk(dfa, lazy, sid, bytes, after, earliest, meter)
}

/// Where the match ending at `input`'s end starts, reading backward (anchored).
fn reverse<Err, F: FnMut(usize) -> Result<(), Err>>(
    dfa: &DFA,
    lazy: &mut Lazy,
    input: &Input<'_>,
    meter: &mut Meter<F>,
) -> Result<Option<usize>, Halt<Err>> {
    let (hay, start, end) = (input.haystack(), input.start(), input.end());
    let sid = dfa
        .start_state_reverse(&mut lazy.cache, input)
        .map_err(|_| Halt::Quit)?;
    // after the byte at `at`, a match starts at `at + 1`
    let span = hay.get(start..end).unwrap_or_default().iter().enumerate();
    let bytes = span
        .rev()
        .map(|(i, &b)| (start.saturating_add(i).saturating_add(1), b));
    let before = start.checked_sub(1).and_then(|i| hay.get(i)).copied();
    walk(dfa, lazy, sid, bytes, (before, start), false, meter)
}

/// Steps `dfa` from `sid` over `bytes` (each with where a match seen after it lies: matches
/// show one byte late) in the order given, until the DFA dies, then over the byte past
/// the span (`past`: the look-around byte, `None` at the end of the text, and where a
/// match seen after it lies). One walk serves both directions, so forward and reverse
/// searches read, and are charged, alike. Returns the last match seen, or the first
/// with `earliest`.
fn walk<Err, F: FnMut(usize) -> Result<(), Err>>(
    dfa: &DFA,
    lazy: &mut Lazy,
    mut sid: LazyStateID,
    bytes: impl Iterator<Item = (usize, u8)>,
    past: (Option<u8>, usize),
    earliest: bool,
    meter: &mut Meter<F>,
) -> Result<Option<usize>, Halt<Err>> {
    let mut found = None;
    for (at, b) in bytes {
        sid = meter.step(dfa, lazy, sid, Some(b))?;
        if sid.is_match() {
            found = Some(at);
            if earliest {
                return Ok(found);
            }
        } else if sid.is_dead() {
            return Ok(found);
        } else if sid.is_quit() {
            return Err(Halt::Quit);
        }
    }
    let (byte, at) = past;
    sid = meter.step(dfa, lazy, sid, byte)?;
    if sid.is_match() {
        found = Some(at);
    } else if sid.is_quit() {
        return Err(Halt::Quit);
    }
    Ok(found)
}

/// `Regex.IsMatch`, charging its work to `charge` (in bytes).
pub(crate) fn is_match<Err>(
    p: &Pattern,
    input: &str,
    charge: impl FnMut(usize) -> Result<(), Err>,
) -> Result<bool, Err> {
    let mut run = Run::new(p, charge)?;
    let found = run.find(&Input::new(input), true)?.is_some();
    run.meter.flush()?;
    Ok(found)
}

/// `Regex.Match`: the groups as byte ranges of `input`, nothing copied. The match is
/// found first and its groups only once their work is charged.
pub(crate) fn match_data<Err>(
    p: &Pattern,
    input: Arc<str>,
    charge: impl FnMut(usize) -> Result<(), Err>,
) -> Result<Arc<MatchData>, Err> {
    let mut run = Run::new(p, charge)?;
    let slots = p.names.len();
    run.meter
        .add(slots.saturating_mul(std::mem::size_of::<Option<Range<usize>>>()))?;
    let mut groups = vec![None; slots];
    if let Some(m) = run.find(&Input::new(&*input), false)? {
        if slots > 1 {
            let caps = run.groups(&input, m)?;
            for (i, g) in groups.iter_mut().enumerate() {
                *g = caps.get_group(i).map(|s| s.range());
            }
        } else if let Some(g) = groups.first_mut() {
            *g = Some(m);
        }
    }
    run.meter.flush()?;
    Ok(Arc::new(MatchData {
        input,
        groups,
        names: p.names.clone(),
    }))
}

/// `Regex.Replace`: `Ok(None)` when the result would be longer than `max` bytes. Each
/// match is charged (to `charge`, in bytes) before its replacement is written: finding
/// it, the text before it, the replacement and, when the replacement refers to groups
/// (`$1`), finding them and at most the whole match per `$`.
pub(crate) fn replace<Err>(
    p: &Pattern,
    input: &str,
    replacement: &str,
    max: usize,
    charge: impl FnMut(usize) -> Result<(), Err>,
) -> Result<Option<String>, Err> {
    let mut run = Run::new(p, charge)?;
    let refs = replacement.matches('$').count();
    let mut out = String::new();
    let mut last = 0;
    let mut search = Input::new(input);
    // as the regex crate iterates: an empty match right after the previous match is
    // skipped by searching again one byte further
    let mut last_end = None;
    while let Some(mut m) = run.find(&search, false)? {
        if m.is_empty() && Some(m.end) == last_end {
            search.set_start(search.start().saturating_add(1));
            match run.find(&search, false)? {
                Some(next) => m = next,
                None => break,
            }
        }
        search.set_start(m.end);
        last_end = Some(m.end);
        let before = input.get(last..m.start).unwrap_or_default();
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
        run.meter.add(before.len().saturating_add(expansion))?;
        out.push_str(before);
        last = m.end;
        if refs == 0 {
            out.push_str(replacement);
        } else {
            let caps = run.groups(input, m)?;
            caps.interpolate_string_into(input, replacement, &mut out);
        }
    }
    let rest = input.get(last..).unwrap_or_default();
    run.meter.add(rest.len())?;
    run.meter.flush()?;
    if out.len().saturating_add(rest.len()) > max {
        return Ok(None);
    }
    out.push_str(rest);
    Ok(Some(out))
}
