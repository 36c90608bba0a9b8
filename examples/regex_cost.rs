//! What regular expressions cost against the step budget: each case evaluated once over a
//! body of about 0.9 MB (or the given number of bytes), with its time (the least of five
//! runs) and outcome (a value, or the step-limit error). CASE keeps the cases whose name
//! contains it.
//!
//! ```text
//! cargo run --release --example regex_cost [-- BYTES [CASE]]
//! ```
//!
//! The slow cases are patterns written to be slow; the cheap ones are what policies do.
//! Times are wall clock on whatever machine runs it: read them as orders of magnitude.

use std::time::Instant;

use certgate::expr::{self, Context, Origin, Value};

/// `len` pseudo-random lower-case letters (a fixed linear congruential sequence).
fn letters(len: usize) -> String {
    let mut x: u32 = 12345;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect()
}

fn main() {
    let len = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(900_000);
    let all_a = "a".repeat(len);
    let random = letters(len);
    let numbers = "id=12345, ".repeat(len / 9);
    let groups: String = (b'a'..=b'z')
        .map(|c| format!("({})", char::from(c)))
        .collect::<Vec<_>>()
        .join("|");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "IsMatch # (one scan, no match)",
            r##"Regex.IsMatch(b, "#")"##.into(),
            &random,
        ),
        (
            "Replace [a-z]*X|a over a's",
            r#"Regex.Replace(b, "[a-z]*X|a", "b").Length"#.into(),
            &all_a,
        ),
        (
            "Match (?:([a-z]{10000}))+",
            r#"Regex.Match(b, "(?:([a-z]{10000}))+").Success"#.into(),
            &random,
        ),
        (
            "IsMatch [a-z]*a[a-z]{50}[^a-z]",
            r#"Regex.IsMatch(b, "[a-z]*a[a-z]{50}[^a-z]")"#.into(),
            &random,
        ),
        (
            "Match 26 alternative groups",
            format!(r#"Regex.Match(b, "(?:{groups})+").Success"#),
            &random,
        ),
        (
            "Replace \\d+ (100k matches)",
            r##"Regex.Replace(b, @"\d+", "#").Length"##.into(),
            &numbers,
        ),
        (
            "Replace literal (100k matches)",
            r#"Regex.Replace(b, "id=", "ID:").Length"#.into(),
            &numbers,
        ),
        (
            "Replace (\\d+) with $1 (100k matches)",
            r#"Regex.Replace(b, @"id=(\d+)", "$1").Length"#.into(),
            &numbers,
        ),
        (
            "IsMatch ^[A-Za-z0-9-]+$ on a header",
            r#"Regex.IsMatch("order-42-abc", "^[A-Za-z0-9-]+$")"#.into(),
            "",
        ),
    ];
    let only = std::env::args().nth(2).unwrap_or_default();
    for (name, call, body) in cases {
        if !name.contains(&only) {
            continue;
        }
        let src = format!("@{{ var b = (string)context.Variables[\"b\"]; return {call}; }}");
        let program =
            expr::compile(&src, Origin::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut ctx = Context::new(time::OffsetDateTime::UNIX_EPOCH);
        ctx.variables.insert("b".into(), Value::string(body));
        // the least of five runs (one when it takes over a second): the machine is shared
        let mut took = f64::INFINITY;
        let mut outcome = String::new();
        for _ in 0..5 {
            let start = Instant::now();
            let result = program.eval(&ctx);
            took = took.min(start.elapsed().as_secs_f64() * 1000.0);
            outcome = match result {
                Ok(v) => format!("= {v}"),
                Err(e) => format!("error: {:?}", e.kind),
            };
            if took > 1000.0 {
                break;
            }
        }
        println!("{name:40} {took:>10.1} ms  {outcome}");
    }
}
