//! Numbers as .NET writes them (invariant culture): shared by values, JSON and the
//! string builtins.

/// `double.ToString()`: shortest round-trip digits; "E+XX" for large and small magnitudes.
pub(crate) fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let a = d.abs();
    // .NET: fixed-point when the exponent is above -5 and below 15
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        let s = format!("{d:E}");
        // Rust: 1E20, 1.5E-7 -> .NET: 1E+20, 1.5E-07
        if let Some((m, e)) = s.split_once('E') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(rest) => ('-', rest),
                None => ('+', e),
            };
            return format!("{m}E{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{d}")
}
