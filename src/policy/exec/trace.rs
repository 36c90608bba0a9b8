//! `trace`: one JSON log line through `tracing` (target `certgate::trace`; verbose at
//! DEBUG, information at INFO, error at ERROR, so `RUST_LOG` plays the part of APIM's
//! diagnostic verbosity) and a line of the `--explain` trace. Values of secret named
//! values are written as their `{{name}}` in both.

use super::{Exchange, Failure, param};
use crate::policy::SectionKind;
use crate::policy::elements::{Trace, TraceSeverity};

const POLICY: &str = "trace";

/// Longest message (in characters) a trace line carries: CloudWatch Logs takes events of
/// up to 256 KiB, and a trace is a note, not a body dump.
const MAX_MESSAGE_CHARS: usize = 32 * 1024;

pub(super) fn trace(
    t: &Trace,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<(), Failure> {
    let message = param::eval(&t.message, &x.ctx, POLICY)?;
    let mut metadata = serde_json::Map::new();
    for m in &t.metadata {
        let name = param::eval(&m.name, &x.ctx, POLICY)?;
        let value = param::eval(&m.value, &x.ctx, POLICY)?;
        metadata.insert(
            x.secrets.redact(&name).into_owned(),
            serde_json::Value::String(x.secrets.redact(&value).into_owned()),
        );
    }
    let message = bounded(&x.secrets.redact(&message));
    let source = x.secrets.redact(&t.source);
    let metadata = serde_json::Value::Object(metadata).to_string();
    let request_id = &x.ctx.request_id;
    macro_rules! log {
        ($level:expr) => {
            tracing::event!(
                target: "certgate::trace",
                $level,
                request_id = %request_id,
                source = %source,
                severity = t.severity.as_str(),
                metadata = %metadata,
                "{message}"
            )
        };
    }
    match t.severity {
        TraceSeverity::Verbose => log!(tracing::Level::DEBUG),
        TraceSeverity::Information => log!(tracing::Level::INFO),
        TraceSeverity::Error => log!(tracing::Level::ERROR),
    }
    // The pipeline redacts the explain trace itself.
    x.note(section, path, || {
        format!("trace {} {source}: {message}", t.severity.as_str())
    });
    Ok(())
}

/// `message`, cut at [`MAX_MESSAGE_CHARS`] characters.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}… (truncated)", &message[..at]),
        None => message.to_owned(),
    }
}
