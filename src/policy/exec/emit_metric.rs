//! `emit-metric`: one CloudWatch embedded metric format (EMF) line, which CloudWatch
//! Logs turns into a metric when the function writes it to stdout (Lambda), with no API
//! call on the request path.
//! See <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use serde_json::{Map, Value as Json, json};

use super::{Exchange, Failure, param};
use crate::expr::Value;
use crate::policy::SectionKind;
use crate::policy::elements::{DimensionValue, EmitMetric, metric_name};

const POLICY: &str = "emit-metric";

/// Longest dimension value CloudWatch takes, in characters.
const MAX_DIMENSION_VALUE_CHARS: usize = 1024;

/// Where `emit-metric` writes its EMF lines.
pub trait MetricSink: Send + Sync {
    /// One EMF document, without the newline.
    fn write(&self, line: &str);
}

/// Standard output: what CloudWatch Logs reads on Lambda (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutMetrics;

impl MetricSink for StdoutMetrics {
    fn write(&self, line: &str) {
        println!("{line}");
    }
}

pub(super) fn emit_metric(
    m: &EmitMetric,
    x: &mut Exchange,
    section: SectionKind,
    path: &str,
) -> Result<(), Failure> {
    let value = metric_value(m, x)?;
    let mut root = Map::new();
    let mut names = Vec::with_capacity(m.dimensions.len());
    for d in &m.dimensions {
        let name = param::eval(&d.name, &x.ctx, POLICY)?;
        let name = metric_name(&name)
            .map_err(|why| Failure::expression(POLICY, format!("dimension name: {why}")))?;
        let text = match &d.value {
            DimensionValue::Given(value) => param::eval(value, &x.ctx, POLICY)?,
            DimensionValue::ApiId => x.ctx.api.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
            DimensionValue::OperationId => x
                .ctx
                .operation
                .as_ref()
                .map(|o| o.id.clone())
                .unwrap_or_default(),
        };
        if name == m.name || root.contains_key(&name) {
            return Err(Failure::expression(
                POLICY,
                format!("`{name}` names the metric or another dimension"),
            ));
        }
        root.insert(name.clone(), Json::String(dimension_value(x, &text)));
        names.push(name);
    }
    let timestamp_ms = i64::try_from(x.ctx.now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    root.insert(m.name.clone(), json!(value));
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": m.namespace,
                "Dimensions": [names],
                "Metrics": [{"Name": m.name}],
            }],
        }),
    );
    x.metrics.write(&Json::Object(root).to_string());
    x.note(section, path, || {
        format!("metric {}/{} = {value}", m.namespace, m.name)
    });
    Ok(())
}

/// The value as a double, as APIM takes it.
fn metric_value(m: &EmitMetric, x: &Exchange) -> Result<f64, Failure> {
    let value = match param::eval_value(&m.value, &x.ctx, POLICY)? {
        Value::Int(n) => Some(f64::from(n)),
        // Metric values are doubles: a long beyond 2^53 rounds, as in .NET.
        #[allow(clippy::cast_precision_loss)]
        Value::Long(n) => Some(n as f64),
        Value::Double(n) => Some(n),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    value
        .filter(|v| v.is_finite())
        .ok_or_else(|| Failure::expression(POLICY, "the value must be a finite number"))
}

/// A dimension value CloudWatch takes: no control characters, at most
/// [`MAX_DIMENSION_VALUE_CHARS`], secret named values written as their `{{name}}`.
fn dimension_value(x: &Exchange, text: &str) -> String {
    x.secrets
        .redact(text)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DIMENSION_VALUE_CHARS)
        .collect()
}
