//! Policy expressions in tests: compiled as if they stood at a place in a policy file,
//! run against a context, a failure shown with its rendering; and the table check that
//! names every case that fails, so one run shows them all.

#![allow(dead_code)]

use certgate::expr::{self, Compiled, Context, EvalError, Origin, Value};

/// `src` compiled at `at`; a load error fails the test.
pub(crate) fn compile(src: &str, at: Origin) -> Compiled {
    match expr::compile(src, at) {
        Ok(c) => c,
        Err(e) => panic!("{src}: {}", e.render()),
    }
}

/// The value of `src` in `c`; a run-time error fails the test.
pub(crate) fn run(src: &str, at: Origin, c: &Context) -> Value {
    match compile(src, at).eval(c) {
        Ok(v) => v,
        Err(e) => panic!("{src}: {}", e.render()),
    }
}

/// The run-time error of `src` in `c`; a value fails the test.
pub(crate) fn run_err(src: &str, at: Origin, c: &Context) -> EvalError {
    match compile(src, at).eval(c) {
        Ok(v) => panic!("{src}: evaluated to {v:?}"),
        Err(e) => e,
    }
}

/// The load error of `src` as `check` prints its first line; compiling fails the test.
pub(crate) fn load_err(src: &str, at: Origin) -> String {
    match expr::compile(src, at) {
        Ok(_) => panic!("{src}: compiled"),
        Err(e) => e.to_string(),
    }
}

/// Checks every case against what `got` gives for its source.
pub(crate) fn assert_each<S, W, G>(cases: &[(S, W)], got: impl Fn(&str) -> G)
where
    S: AsRef<str>,
    W: PartialEq<G> + std::fmt::Display,
    G: std::fmt::Display,
{
    let mut failures = Vec::new();
    for (src, want) in cases {
        let src = src.as_ref();
        let got = got(src);
        if *want != got {
            failures.push(format!("{src}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
