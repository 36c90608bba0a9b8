//! `certgate serve`'s request log: one line per request, target [`TARGET`].
//!
//! The line is built once, with the fields a client controls escaped as it is built,
//! and [`TextFormat`] writes it as it stands. tracing's own text format visited each
//! field and escaped the message again character by character: together with the
//! timestamp, that was an eighth of a kept-alive request's CPU.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The target of request lines: `RUST_LOG=certgate::request=off` silences them.
pub const TARGET: &str = "certgate::request";

/// What one request line says.
///
/// The fields a client or a configuration shapes are escaped; `decision`, `certificate`
/// and `request_id` are written as they are and must hold no space or control character.
pub(crate) struct RequestLine<'a> {
    /// A token (RFC 9110 §9.1): no space or control character.
    pub method: &'a http::Method,
    pub path: &'a str,
    pub status: u16,
    /// [`crate::gateway::Decision::as_str`].
    pub decision: &'static str,
    /// `context.LastError.Reason` of a failed request.
    pub reason: Option<&'a str>,
    pub api: Option<&'a str>,
    /// The leaf's thumbprint (hex) or what stood in for it (`none`, `undecodable`).
    pub certificate: &'a str,
    pub ignored: &'a [&'a str],
    pub duration: Duration,
    pub deployment: &'a str,
    /// The listener's own id (hex).
    pub request_id: &'a str,
}

impl RequestLine<'_> {
    /// Logs the line at INFO under [`TARGET`], if that is enabled.
    pub(crate) fn log(&self) {
        if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            let line = self.text();
            tracing::info!(target: TARGET, "{line}");
        }
    }

    /// `request method=GET path=/echo status=200 decision=proxied api=echo ...`, by
    /// `push_str` rather than `write!`: a quarter of the cost.
    fn text(&self) -> String {
        let mut line = String::with_capacity(256);
        // An HTTP method is a token (no space or control character); the decision, the
        // status and the numbers are certgate's own; a thumbprint is hex and the request
        // id the listener's: these go in as they are, the rest escaped.
        line.push_str("request method=");
        line.push_str(self.method.as_str());
        field(&mut line, " path=", self.path);
        line.push_str(" status=");
        line.push_str(itoa::Buffer::new().format(self.status));
        line.push_str(" decision=");
        line.push_str(self.decision);
        if let Some(reason) = self.reason {
            field(&mut line, ":", reason);
        }
        field(&mut line, " api=", self.api.unwrap_or("-"));
        line.push_str(" certificate=");
        line.push_str(self.certificate);
        line.push_str(" ignored=");
        if self.ignored.is_empty() {
            line.push('-');
        }
        for (i, source) in self.ignored.iter().enumerate() {
            field(&mut line, if i > 0 { "," } else { "" }, source);
        }
        line.push_str(" duration=");
        line.push_str(itoa::Buffer::new().format(self.duration.as_micros()));
        line.push_str("µs");
        field(&mut line, " deployment=", self.deployment);
        line.push_str(" request_id=");
        line.push_str(self.request_id);
        line
    }
}

/// `name` as it is, then `value` [`escaped`].
fn field(line: &mut String, name: &str, value: &str) {
    line.push_str(name);
    escaped(line, value);
}

/// `text`, with control characters as `\u{..}` (as tracing escapes them) and spaces as
/// `%20`, so one field cannot pass for another or start a new line.
fn escaped(out: &mut String, text: &str) {
    // Printable ASCII other than the space (0x21 to 0x7e) is written as it is; any other
    // byte sends the text through the loop below. Without an early exit the check runs
    // as SIMD compares: it reads every field of every request line.
    if text
        .bytes()
        .fold(true, |plain, b| plain & (b.wrapping_sub(0x21) < 0x5e))
    {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            ' ' => out.push_str("%20"),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
}

/// tracing's default text layout (`2026-12-04T18:33:00.123456Z  INFO target: message`),
/// with request lines written as built; every other event goes through `inner`.
pub struct TextFormat {
    inner: Format,
    ansi: bool,
}

impl TextFormat {
    /// `ansi`: colour the level, as tracing does on a terminal.
    pub fn new(ansi: bool) -> Self {
        Self {
            inner: Format::default().with_ansi(ansi),
            ansi,
        }
    }
}

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        if event.metadata().target() != TARGET {
            return self.inner.format_event(ctx, writer, event);
        }
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(if self.ansi {
            "  \x1b[32m INFO\x1b[0m "
        } else {
            "  INFO "
        })?;
        writer.write_str(TARGET)?;
        writer.write_str(": ")?;
        let mut message = Message(&mut writer, Ok(()));
        event.record(&mut message);
        message.1?;
        writer.write_char('\n')
    }
}

/// Writes the `message` field as it is: [`RequestLine`] escaped it.
struct Message<'a, 'w>(&'a mut Writer<'w>, fmt::Result);

impl tracing::field::Visit for Message<'_, '_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.1 = write!(self.0, "{value:?}");
        }
    }
}

/// RFC 3339 in UTC with microseconds, as tracing writes it. The part up to the
/// seconds is formatted once a second per thread.
fn write_timestamp(writer: &mut Writer<'_>, now: SystemTime) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != seconds {
            let at = i64::try_from(seconds)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            text.clear();
            let _ = write!(
                text,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            *second = seconds;
        }
        writer.write_str(text)
    })?;
    // One million plus the microseconds has seven digits; the last six are them, padded.
    let padded = 1_000_000 + since.subsec_micros();
    writer.write_str(
        itoa::Buffer::new()
            .format(padded)
            .get(1..)
            .unwrap_or_default(),
    )?;
    writer.write_char('Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str, ignored: &[&str]) -> String {
        RequestLine {
            method: &http::Method::GET,
            path,
            status: 403,
            decision: "failed",
            reason: Some("Bad reason"),
            api: None,
            certificate: "none",
            ignored,
            duration: Duration::from_micros(1234),
            deployment: "abc",
            request_id: "r1",
        }
        .text()
    }

    #[test]
    fn a_line_names_every_field_once() {
        assert_eq!(
            line("/echo", &["x-amzn-mtls-clientcert", "b"]),
            "request method=GET path=/echo status=403 decision=failed:Bad%20reason api=- \
             certificate=none ignored=x-amzn-mtls-clientcert,b duration=1234µs \
             deployment=abc request_id=r1"
        );
    }

    #[test]
    fn control_characters_and_spaces_cannot_forge_a_field_or_a_line() {
        let text = line("/a b\nrequest method=POST\u{7f}", &[]);
        assert!(
            text.contains(" path=/a%20b\\u{a}request%20method=POST\\u{7f} status=403"),
            "{text}"
        );
        assert_eq!(text.matches(" status=").count(), 1);
        assert!(!text.contains('\n'));
        // Other text stays as it is; a C1 control (NEL) and a tab are escaped.
        let text = line("/é~\u{85}\t", &[]);
        assert!(text.contains(" path=/é~\\u{85}\\u{9} status="), "{text}");
    }

    #[test]
    fn timestamps_are_rfc3339_with_six_digits_of_microseconds() {
        let mut text = String::new();
        let at = UNIX_EPOCH + Duration::from_micros(1_796_408_000_000_042);
        write_timestamp(&mut Writer::new(&mut text), at).unwrap();
        // The same second again comes from the per-thread cache.
        write_timestamp(
            &mut Writer::new(&mut text),
            at + Duration::from_micros(900_000),
        )
        .unwrap();
        assert_eq!(
            text,
            "2026-12-04T18:13:20.000042Z2026-12-04T18:13:20.900042Z"
        );
    }
}
