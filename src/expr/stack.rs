//! Room on the stack for the parser, checker and evaluator, which recurse once per
//! nesting level. Nesting is bounded (`Limits::max_depth`), but the size of a level's
//! frames is the compiler's: a debug build needs several times the stack of a release
//! one, and features add locals. Rather than bet on a thread's stack size (2 MiB for
//! tokio's workers), each level makes sure of some room and, when it is short, continues
//! on a new stack segment on the heap.

/// Room a level needs before it calls deeper.
const RED_ZONE: usize = 128 * 1024;
/// The size of a new segment when the room runs short.
const SEGMENT: usize = 2 * 1024 * 1024;

/// Runs `f`, on a fresh stack segment if less than [`RED_ZONE`] is left.
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}
