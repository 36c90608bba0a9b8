//! DateTime and TimeSpan: .NET ticks (100 ns), arithmetic with range checks, formatting
//! (invariant culture) and parsing.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::super::diagnostic::{EvalErrorKind as E, quoted};

pub(crate) const TICKS_PER_MS: i64 = 10_000;
pub(crate) const TICKS_PER_SECOND: i64 = 10_000_000;
pub(crate) const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
pub(crate) const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
pub(crate) const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;
/// Ticks from 0001-01-01 to 1970-01-01.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

pub(crate) fn ticks_of(d: OffsetDateTime) -> i64 {
    let nanos = d.unix_timestamp_nanos();
    (nanos / 100) as i64 + UNIX_EPOCH_TICKS
}

pub(crate) fn in_range(d: OffsetDateTime) -> Result<OffsetDateTime, E> {
    if (1..=9999).contains(&d.year()) {
        Ok(d)
    } else {
        Err(E::Argument(
            "the resulting DateTime is outside 0001-01-01 .. 9999-12-31".into(),
        ))
    }
}

pub(crate) fn add_ticks(d: OffsetDateTime, ticks: i64) -> Result<OffsetDateTime, E> {
    let dur = Duration::nanoseconds_i128(i128::from(ticks) * 100);
    d.checked_add(dur)
        .ok_or_else(|| E::Argument("the resulting DateTime is out of range".into()))
        .and_then(in_range)
}

pub(crate) fn diff_ticks(a: OffsetDateTime, b: OffsetDateTime) -> Result<i64, E> {
    i64::try_from((a - b).whole_nanoseconds() / 100).map_err(|_| E::Overflow)
}

/// A double amount of a unit as ticks, rounded, with range checks (AddDays, FromHours, ...).
pub(crate) fn scaled_ticks(value: f64, unit: i64) -> Result<i64, E> {
    let t = (value * unit as f64).round();
    if !t.is_finite() || t.abs() >= 9.2e18 {
        return Err(E::Overflow);
    }
    Ok(t as i64)
}

pub(crate) fn add_months(d: OffsetDateTime, months: i64) -> Result<OffsetDateTime, E> {
    let total = i64::from(d.year()) * 12 + i64::from(d.month() as u8) - 1 + months;
    let year = i32::try_from(total.div_euclid(12)).map_err(|_| E::Overflow)?;
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).map_err(|_| E::Overflow)?;
    if !(1..=9999).contains(&year) {
        return in_range(d.replace_year(10000).unwrap_or(d));
    }
    let day = d.day().min(time::util::days_in_month(month, year));
    let date = Date::from_calendar_date(year, month, day).map_err(|_| E::Overflow)?;
    Ok(d.replace_date(date))
}

/// `DateTime.ToString()` in the invariant culture: `MM/dd/yyyy HH:mm:ss`.
pub(crate) fn format_datetime_default(d: OffsetDateTime) -> String {
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}:{:02}",
        d.month() as u8,
        d.day(),
        d.year(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// `TimeSpan.ToString()`: `[-][d.]hh:mm:ss[.fffffff]`.
pub(crate) fn format_timespan(ticks: i64) -> String {
    let neg = ticks < 0;
    let t = ticks.unsigned_abs();
    let day = TICKS_PER_DAY as u64;
    let (days, rest) = (t / day, t % day);
    let h = rest / TICKS_PER_HOUR as u64;
    let m = (rest / TICKS_PER_MINUTE as u64) % 60;
    let s = (rest / TICKS_PER_SECOND as u64) % 60;
    let frac = rest % TICKS_PER_SECOND as u64;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if frac > 0 {
        out.push_str(&format!(".{frac:07}"));
    }
    out
}

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `DateTime.ToString(format)`: the standard formats o s u d D t T g G r, and custom
/// patterns (yyyy MM dd HH hh mm ss f.. tt ddd dddd MMM MMMM K z, quotes, backslash).
pub(crate) fn format_datetime(d: OffsetDateTime, fmt: &str) -> Result<String, E> {
    format_clock(d, None, fmt)
}

/// `DateTimeOffset.ToString(format)`: DateTime's formats on the clock time at the offset,
/// with `K` and `z` writing that offset and `u`, `r` the UTC time, as .NET does.
pub(crate) fn format_offset(d: OffsetDateTime, fmt: &str) -> Result<String, E> {
    format_clock(d, Some(d.offset()), fmt)
}

/// `DateTimeOffset.ToString()`: the invariant culture's `MM/dd/yyyy HH:mm:ss zzz`.
pub(crate) fn format_offset_default(d: OffsetDateTime) -> String {
    format!(
        "{} {}",
        format_datetime_default(d),
        offset_text(d.offset(), 3)
    )
}

/// `z`, `zz`, `zzz` (and `K` of a DateTimeOffset): `+0`, `+00`, `+00:00`.
fn offset_text(o: UtcOffset, n: usize) -> String {
    let sign = if o.is_negative() { '-' } else { '+' };
    let (h, m) = (
        o.whole_hours().unsigned_abs(),
        o.minutes_past_hour().unsigned_abs(),
    );
    match n {
        1 => format!("{sign}{h}"),
        2 => format!("{sign}{h:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

/// The formatter of both: `offset` is None for a DateTime (UTC, so `K` is `Z`).
fn format_clock(d: OffsetDateTime, offset: Option<UtcOffset>, fmt: &str) -> Result<String, E> {
    // .NET writes `u` and `r` of a DateTimeOffset in UTC
    let d = match fmt {
        "u" | "r" | "R" => d.to_offset(UtcOffset::UTC),
        _ => d,
    };
    let pattern = match fmt {
        "" if offset.is_some() => return Ok(format_offset_default(d)),
        "" | "G" => return Ok(format_datetime_default(d)),
        "o" | "O" => "yyyy-MM-ddTHH:mm:ss.fffffffK",
        "s" => "yyyy-MM-ddTHH:mm:ss",
        "u" => "yyyy-MM-dd HH:mm:ssZ",
        "d" => "MM/dd/yyyy",
        "D" => "dddd, dd MMMM yyyy",
        "t" => "HH:mm",
        "T" => "HH:mm:ss",
        "g" => "MM/dd/yyyy HH:mm",
        "f" => "dddd, dd MMMM yyyy HH:mm",
        "F" => "dddd, dd MMMM yyyy HH:mm:ss",
        "r" | "R" => "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
        "M" | "m" => "MMMM dd",
        "Y" | "y" => "yyyy MMMM",
        f if f.chars().count() == 1 => {
            return Err(E::Format(format!("'{f}' is not a DateTime format")));
        }
        f => f,
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        match c {
            'y' => {
                let y = d.year();
                match n {
                    1 => out.push_str(&(y % 100).to_string()),
                    2 => out.push_str(&format!("{:02}", y % 100)),
                    // by hand: `format!` panics on a width above 65535
                    _ => {
                        let digits = y.to_string();
                        out.extend(std::iter::repeat_n('0', n.saturating_sub(digits.len())));
                        out.push_str(&digits);
                    }
                }
            }
            'M' => match n {
                1 => out.push_str(&(d.month() as u8).to_string()),
                2 => out.push_str(&format!("{:02}", d.month() as u8)),
                3 => out.push_str(&MONTHS[d.month() as usize - 1][..3]),
                _ => out.push_str(MONTHS[d.month() as usize - 1]),
            },
            'd' => match n {
                1 => out.push_str(&d.day().to_string()),
                2 => out.push_str(&format!("{:02}", d.day())),
                3 => out.push_str(&DAYS[d.weekday().number_days_from_monday() as usize][..3]),
                _ => out.push_str(DAYS[d.weekday().number_days_from_monday() as usize]),
            },
            'H' => out.push_str(&pad(d.hour().into(), n)),
            'h' => {
                let h = d.hour() % 12;
                out.push_str(&pad(if h == 0 { 12 } else { h.into() }, n));
            }
            'm' => out.push_str(&pad(d.minute().into(), n)),
            's' => out.push_str(&pad(d.second().into(), n)),
            'f' | 'F' => {
                if n > 7 {
                    return Err(E::Format(format!("'{fmt}' has more than 7 '{c}'")));
                }
                let digits = format!("{:07}", d.nanosecond() / 100);
                let part = &digits[..n];
                if c == 'F' {
                    let kept = part.trim_end_matches('0');
                    // .NET drops the '.' before an 'F' fraction that is zero
                    if kept.is_empty() && out.ends_with('.') {
                        out.pop();
                    }
                    out.push_str(kept);
                } else {
                    out.push_str(part);
                }
            }
            't' => out.push_str(if d.hour() < 12 {
                &"AM"[..n.min(2)]
            } else {
                &"PM"[..n.min(2)]
            }),
            'K' => match offset {
                Some(o) => out.push_str(&offset_text(o, 3)),
                None => out.push('Z'),
            },
            'z' => out.push_str(&offset_text(offset.unwrap_or(UtcOffset::UTC), n)),
            '\'' | '"' => {
                let end = chars[i + 1..].iter().position(|x| *x == c);
                let Some(end) = end else {
                    return Err(E::Format(format!("unterminated quote in '{fmt}'")));
                };
                out.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
                continue;
            }
            '\\' => {
                if let Some(x) = chars.get(i + 1) {
                    out.push(*x);
                }
                i += 2;
                continue;
            }
            other => {
                for _ in 0..n {
                    out.push(other);
                }
            }
        }
        i += n;
    }
    Ok(out)
}

fn pad(v: u32, n: usize) -> String {
    if n >= 2 {
        format!("{v:02}")
    } else {
        v.to_string()
    }
}

/// `DateTime.Parse`: ISO 8601 / RFC 3339 (with or without offset; without means UTC),
/// a date alone, RFC 1123, and the invariant `MM/dd/yyyy[ HH:mm:ss]`.
pub(crate) fn parse_datetime(s: &str) -> Result<OffsetDateTime, E> {
    parse_clock(s, "DateTime").map(|d| d.to_offset(UtcOffset::UTC))
}

/// `DateTimeOffset.Parse`: the forms of [`parse_datetime`], keeping a written offset
/// (none written is the local offset, UTC here).
pub(crate) fn parse_datetime_offset(s: &str) -> Result<OffsetDateTime, E> {
    parse_clock(s, "DateTimeOffset")
}

fn parse_clock(s: &str, what: &str) -> Result<OffsetDateTime, E> {
    use time::format_description::well_known::{Rfc2822, Rfc3339};
    let t = s.trim();
    let bad = || E::Format(format!("{} is not a valid {what}", quoted(s)));
    if let Ok(d) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(d);
    }
    if let Ok(d) = OffsetDateTime::parse(t, &Rfc2822) {
        return Ok(d);
    }
    let (date_part, time_part) = match t.split_once(['T', ' ']) {
        Some((a, b)) => (a, Some(b.trim_end_matches('Z'))),
        None => (t, None),
    };
    let date = if let Some((y, rest)) = date_part.split_once('-') {
        let (m, dd) = rest.split_once('-').ok_or_else(bad)?;
        ymd(y, m, dd).ok_or_else(bad)?
    } else if let Some((m, rest)) = date_part.split_once('/') {
        let (dd, y) = rest.split_once('/').ok_or_else(bad)?;
        ymd(y, m, dd).ok_or_else(bad)?
    } else {
        return Err(bad());
    };
    let time = match time_part {
        None => Time::MIDNIGHT,
        Some(tp) => {
            let mut it = tp.split(':');
            let h: u8 = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let m: u8 = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let (sec, nanos) = match it.next() {
                None => (0, 0),
                Some(sx) => {
                    let (whole, frac) = sx.split_once('.').unwrap_or((sx, ""));
                    let sec: u8 = whole.parse().map_err(|_| bad())?;
                    let frac: String = frac.chars().take(9).collect();
                    let nanos = if frac.is_empty() {
                        0
                    } else {
                        format!("{frac:0<9}").parse::<u32>().map_err(|_| bad())?
                    };
                    (sec, nanos)
                }
            };
            if it.next().is_some() {
                return Err(bad());
            }
            Time::from_hms_nano(h, m, sec, nanos).map_err(|_| bad())?
        }
    };
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

fn ymd(y: &str, m: &str, d: &str) -> Option<Date> {
    let y: i32 = y.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    let d: u8 = d.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

// Constructors (i15)

/// `new TimeSpan(ticks)`, `(h, m, s)`, `(d, h, m, s)`, `(d, h, m, s, ms)` in ticks.
pub(crate) fn new_timespan(parts: &[i64]) -> Result<i64, E> {
    let too_long = || E::Argument("TimeSpan overflowed because the duration is too long".into());
    let (d, h, m, s, ms) = match *parts {
        [ticks] => return Ok(ticks),
        [h, m, s] => (0, h, m, s, 0),
        [d, h, m, s] => (d, h, m, s, 0),
        [d, h, m, s, ms] => (d, h, m, s, ms),
        _ => {
            return Err(E::Internal(format!(
                "TimeSpan with {} arguments",
                parts.len()
            )));
        }
    };
    let secs = d
        .checked_mul(86_400)
        .and_then(|x| x.checked_add(h.checked_mul(3600)?))
        .and_then(|x| x.checked_add(m.checked_mul(60)?))
        .and_then(|x| x.checked_add(s))
        .ok_or_else(too_long)?;
    secs.checked_mul(1000)
        .and_then(|x| x.checked_add(ms))
        .and_then(|x| x.checked_mul(TICKS_PER_MS))
        .ok_or_else(too_long)
}

/// `new DateTime(ticks)` or `(y, M, d[, h, m, s[, ms]])`; the kind argument does not
/// matter here, every DateTime is UTC.
pub(crate) fn new_datetime(parts: &[i64]) -> Result<OffsetDateTime, E> {
    if let [ticks] = *parts {
        let nanos = i128::from(ticks.checked_sub(UNIX_EPOCH_TICKS).ok_or(E::Overflow)?) * 100;
        let d = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| ticks_range())?;
        return in_range(d).map_err(|_| ticks_range());
    }
    let get = |i: usize| parts.get(i).copied().unwrap_or(0);
    let date_err = || {
        E::Argument("year, month and day parameters describe an un-representable DateTime".into())
    };
    let time_err = || {
        E::Argument(
            "hour, minute and second parameters describe an un-representable DateTime".into(),
        )
    };
    let year = i32::try_from(get(0))
        .ok()
        .filter(|y| (1..=9999).contains(y));
    let month = u8::try_from(get(1))
        .ok()
        .and_then(|m| Month::try_from(m).ok());
    let day = u8::try_from(get(2)).ok();
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(date_err());
    };
    let date = Date::from_calendar_date(year, month, day).map_err(|_| date_err())?;
    let small = |i: usize| u8::try_from(get(i)).map_err(|_| time_err());
    let ms = u16::try_from(get(6))
        .ok()
        .filter(|ms| *ms < 1000)
        .ok_or_else(|| E::Argument("millisecond must be between 0 and 999".into()))?;
    let time = Time::from_hms_milli(small(3)?, small(4)?, small(5)?, ms).map_err(|_| time_err())?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(UtcOffset::UTC))
}

fn ticks_range() -> E {
    E::Argument("ticks must be between DateTime.MinValue.Ticks and DateTime.MaxValue.Ticks".into())
}

// DateTimeOffset (i15)

/// Seconds from 1970 of DateTimeOffset.MinValue and MaxValue.
const MIN_UNIX_SECONDS: i64 = -62_135_596_800;
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// `DateTimeOffset.FromUnixTimeSeconds` / `FromUnixTimeMilliseconds` (`per_second` 1 or
/// 1000): UTC, and .NET's range check.
pub(crate) fn from_unix(n: i64, per_second: i64) -> Result<OffsetDateTime, E> {
    let min = MIN_UNIX_SECONDS * per_second;
    let max = (MAX_UNIX_SECONDS + 1) * per_second - 1;
    if !(min..=max).contains(&n) {
        let unit = if per_second == 1 {
            "seconds"
        } else {
            "milliseconds"
        };
        return Err(E::Argument(format!(
            "{unit} must be between {min} and {max}"
        )));
    }
    let nanos = i128::from(n) * i128::from(1_000_000_000 / per_second);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| E::Overflow)
}

/// `ToUnixTimeSeconds` / `ToUnixTimeMilliseconds`: whole units, rounded down (.NET
/// divides the ticks, which are never negative).
pub(crate) fn to_unix(d: OffsetDateTime, per_second: i64) -> i64 {
    let unit = i128::from(1_000_000_000 / per_second);
    i64::try_from(d.unix_timestamp_nanos().div_euclid(unit)).unwrap_or(i64::MAX)
}

/// A TimeSpan as a DateTimeOffset's offset: whole minutes, at most 14 hours either way.
pub(crate) fn offset_of(ticks: i64) -> Result<UtcOffset, E> {
    if ticks % TICKS_PER_MINUTE != 0 {
        return Err(E::Argument(
            "Offset must be specified in whole minutes.".into(),
        ));
    }
    let minutes = ticks / TICKS_PER_MINUTE;
    if minutes.abs() > 14 * 60 {
        return Err(E::Argument(
            "Offset must be within plus or minus 14 hours.".into(),
        ));
    }
    UtcOffset::from_whole_seconds((minutes * 60) as i32).map_err(|_| E::Overflow)
}

/// The clock time of a DateTimeOffset as a DateTime (`.DateTime`, `.Date`, `.Ticks`).
pub(crate) fn clock(d: OffsetDateTime) -> OffsetDateTime {
    d.replace_offset(UtcOffset::UTC)
}

/// `new DateTimeOffset(ticks, offset)` or `(y, M, d, h, m, s[, ms], offset)`: the clock
/// time at that offset (a TimeSpan in ticks).
pub(crate) fn new_datetime_offset(parts: &[i64], offset: i64) -> Result<OffsetDateTime, E> {
    let clock = new_datetime(parts)?;
    let at = clock.replace_offset(offset_of(offset)?);
    // .NET: the UTC time must be a valid DateTime too
    in_range(at.to_offset(UtcOffset::UTC)).map_err(|_| {
        E::Argument("The UTC time represented when the offset is applied must be between year 0 and 10,000.".into())
    })?;
    Ok(at)
}
