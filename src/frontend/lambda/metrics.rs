//! CloudWatch embedded metric format (EMF): one JSON line per request on stdout, which
//! CloudWatch Logs turns into metrics without any API call from the function.
//!
//! Namespace `certgate`; metrics `Requests` (Count, always 1), `Duration`
//! (Milliseconds) and `IgnoredCertificates` (Count: certificates that arrived through a
//! carrier other than the deployment's source, such as a header a client set); dimension sets `[Decision]` and `[Decision, Reason]`, so CloudWatch
//! sums requests per decision and per decision and reason. `Status`, `Api` and
//! `deployment` ride along as log properties (searchable in Logs Insights, not metrics).
//! See <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use std::sync::OnceLock;

use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

/// The CloudWatch namespace of every certgate metric.
pub(crate) const NAMESPACE: &str = "certgate";

/// Longest reason kept as a dimension value (CloudWatch allows 1,024 characters; a
/// reason longer than a phrase is a message, and would make too many metrics).
const MAX_REASON_CHARS: usize = 128;

/// What one request is counted as.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetric<'a> {
    /// `proxied`, `responded`, `failed`, `not-routed`, `unavailable`, `bad-event`.
    pub decision: &'a str,
    /// The reason: `context.LastError.Reason` when failed, otherwise the reason phrase
    /// of the answer (`Invalid client certificate`, `OK`).
    pub reason: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    /// How many certificate carriers were present but not the deployment's source.
    pub ignored_certificates: usize,
    /// API name, when routed.
    pub api: Option<&'a str>,
    /// Deployment version that served the request (`none` when nothing was loaded).
    pub deployment: &'a str,
}

impl RequestMetric<'_> {
    /// The EMF document, as one line without the newline. `timestamp_ms`: milliseconds
    /// since the Unix epoch.
    pub fn to_emf(&self, timestamp_ms: i64) -> String {
        let line = Emf {
            aws: Directive {
                timestamp: timestamp_ms,
                metrics: directives(),
            },
            decision: dimension_value(self.decision),
            reason: dimension_value(self.reason),
            requests: 1,
            duration: (self.duration_ms * 1000.0).round() / 1000.0,
            ignored_certificates: self.ignored_certificates,
            status: self.status,
            api: self.api.unwrap_or("-"),
            deployment: self.deployment,
        };
        // Strings and numbers only: serializing cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// One EMF line; the field names are the ones `directives` declares.
#[derive(Serialize)]
struct Emf<'a> {
    #[serde(rename = "_aws")]
    aws: Directive,
    #[serde(rename = "Decision")]
    decision: String,
    #[serde(rename = "Reason")]
    reason: String,
    #[serde(rename = "Requests")]
    requests: u8,
    #[serde(rename = "Duration")]
    duration: f64,
    #[serde(rename = "IgnoredCertificates")]
    ignored_certificates: usize,
    #[serde(rename = "Status")]
    status: u16,
    #[serde(rename = "Api")]
    api: &'a str,
    deployment: &'a str,
}

#[derive(Serialize)]
struct Directive {
    #[serde(rename = "Timestamp")]
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    metrics: &'static RawValue,
}

/// The `CloudWatchMetrics` member, the same on every line: written once.
fn directives() -> &'static RawValue {
    static DIRECTIVES: OnceLock<Box<RawValue>> = OnceLock::new();
    DIRECTIVES.get_or_init(|| {
        let directives = json!([{
            "Namespace": NAMESPACE,
            "Dimensions": [["Decision"], ["Decision", "Reason"]],
            "Metrics": [
                {"Name": "Requests", "Unit": "Count"},
                {"Name": "Duration", "Unit": "Milliseconds"},
                {"Name": "IgnoredCertificates", "Unit": "Count"}
            ]
        }]);
        // A JSON value always converts to raw JSON.
        serde_json::value::to_raw_value(&directives).unwrap_or_default()
    })
}

/// A dimension value CloudWatch accepts: not empty, not too long, no control characters.
fn dimension_value(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "none".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn metric<'a>(decision: &'a str, reason: &'a str) -> RequestMetric<'a> {
        RequestMetric {
            decision,
            reason,
            status: 403,
            duration_ms: 1.23456,
            ignored_certificates: 2,
            api: Some("orders"),
            deployment: "0123456789abcdef",
        }
    }

    #[test]
    fn the_emf_document_has_the_documented_shape() {
        let line = metric("responded", "Invalid client certificate").to_emf(1_764_000_000_000);
        assert!(!line.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&line).unwrap();
        let aws = &v["_aws"];
        assert_eq!(aws["Timestamp"], 1_764_000_000_000_i64);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], "certgate");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Decision"], ["Decision", "Reason"]])
        );
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([
                {"Name": "Requests", "Unit": "Count"},
                {"Name": "Duration", "Unit": "Milliseconds"},
                {"Name": "IgnoredCertificates", "Unit": "Count"}
            ])
        );
        // Every dimension and metric named in the directive is a member of the root.
        let sets = directive["Dimensions"].as_array().unwrap();
        for dimension in sets.iter().flat_map(|set| set.as_array().unwrap()) {
            let name = dimension.as_str().unwrap();
            assert!(v[name].is_string(), "{name} is a string member");
        }
        for m in directive["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} is a number member");
        }
        assert_eq!(v["Decision"], "responded");
        assert_eq!(v["Reason"], "Invalid client certificate");
        assert_eq!(v["Requests"], 1);
        assert_eq!(v["Duration"], 1.235);
        assert_eq!(v["IgnoredCertificates"], 2);
        assert_eq!(v["Status"], 403);
        assert_eq!(v["Api"], "orders");
        assert_eq!(v["deployment"], "0123456789abcdef");
    }

    #[test]
    fn dimension_values_are_never_empty_or_unbounded() {
        let v: Value = serde_json::from_str(&metric("failed", " \n").to_emf(0)).unwrap();
        assert_eq!(v["Reason"], "none");
        let long = "x".repeat(5000);
        let v: Value = serde_json::from_str(&metric("failed", &long).to_emf(0)).unwrap();
        assert_eq!(v["Reason"].as_str().unwrap().len(), MAX_REASON_CHARS);
        let v: Value = serde_json::from_str(&metric("failed", "a\u{7}b").to_emf(0)).unwrap();
        assert_eq!(v["Reason"], "ab");
        let mut m = metric("not-routed", "Not Found");
        m.api = None;
        let v: Value = serde_json::from_str(&m.to_emf(0)).unwrap();
        assert_eq!(v["Api"], "-");
    }
}
