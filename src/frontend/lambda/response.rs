//! A [`GatewayResponse`] in the shape the invoking front end expects.
//!
//! Written here rather than left to lambda_http because lambda_http fills the ALB
//! `statusDescription` with the canonical phrase, and certgate must carry the reason a
//! policy set (`<set-status code="403" reason="Invalid client certificate"/>`). API
//! Gateway has no field for a reason phrase at all, so there it is dropped (README).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use super::EventKind;
use crate::gateway::GatewayResponse;

/// The JSON document the function returns for an event of `kind`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LambdaResponse {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    headers: BTreeMap<String, String>,
    multi_value_headers: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<String>>,
    body: String,
    is_base64_encoded: bool,
}

impl LambdaResponse {
    pub fn new(kind: EventKind, response: &GatewayResponse) -> Self {
        // Lambda requests do not stream responses (`stream_response: false`): the
        // pipeline read the body whole.
        let Some(bytes) = response.body.as_whole() else {
            tracing::error!(
                status = response.status.as_u16(),
                "a response body reached the Lambda front end as a stream; answering 502"
            );
            return Self::new(kind, &GatewayResponse::unbuffered());
        };
        let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut cookies = Vec::new();
        for (name, value) in &response.headers {
            if name == http::header::CONTENT_LENGTH {
                continue; // the front end's, from the body it is given
            }
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if kind == EventKind::HttpV2 && name == http::header::SET_COOKIE {
                // HTTP API takes cookies apart from headers.
                cookies.push(value);
            } else {
                multi
                    .entry(name.as_str().to_owned())
                    .or_default()
                    .push(value);
            }
        }
        let (body, is_base64_encoded) = match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(bytes),
                true,
            ),
        };
        let status = response.status;
        let joined = || {
            multi
                .iter()
                .map(|(k, v)| (k.clone(), v.join(",")))
                .collect()
        };
        let (headers, multi_value_headers, status_description, cookies) = match kind {
            // REST merges `headers` into `multiValueHeaders`: send each header once.
            EventKind::RestV1 => (BTreeMap::new(), multi, None, None),
            EventKind::HttpV2 => (joined(), BTreeMap::new(), None, Some(cookies)),
            // ALB uses whichever of the two the target group is configured for.
            EventKind::Alb => {
                let reason = response
                    .reason
                    .clone()
                    .or_else(|| status.canonical_reason().map(str::to_owned))
                    .unwrap_or_default();
                let description = format!("{} {}", status.as_u16(), reason);
                (joined(), multi, Some(description), None)
            }
        };
        Self {
            status_code: status.as_u16(),
            status_description,
            headers,
            multi_value_headers,
            cookies,
            body,
            is_base64_encoded,
        }
    }

    /// Bytes of this document as JSON, counted without writing it out.
    pub fn json_len(&self) -> usize {
        let mut counter = Counter(0);
        // Strings, numbers and maps of strings: serializing cannot fail.
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }
}

/// A writer that only counts.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(reason: Option<&str>, body: &[u8]) -> GatewayResponse {
        let mut headers = http::HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        headers.append("set-cookie", "s=1".parse().unwrap());
        GatewayResponse {
            status: http::StatusCode::FORBIDDEN,
            reason: reason.map(str::to_owned),
            headers,
            body: body.to_vec().into(),
        }
    }

    fn json(kind: EventKind, r: &GatewayResponse) -> serde_json::Value {
        serde_json::to_value(LambdaResponse::new(kind, r)).unwrap()
    }

    #[test]
    fn a_stale_content_length_is_left_to_the_front_end() {
        // The backend's length of a body a policy then changed.
        let mut r = response(None, b"changed");
        r.headers.insert("content-length", "2".parse().unwrap());
        for kind in [EventKind::RestV1, EventKind::HttpV2, EventKind::Alb] {
            let v = json(kind, &r);
            for field in ["headers", "multiValueHeaders"] {
                assert!(v[field].get("content-length").is_none(), "{kind:?} {v}");
            }
            assert_eq!(v["body"], "changed");
            assert_eq!(
                v["multiValueHeaders"].get("x-a").is_some(),
                kind != EventKind::HttpV2
            );
        }
    }

    #[test]
    fn alb_carries_the_policy_reason_phrase() {
        let v = json(
            EventKind::Alb,
            &response(Some("Invalid client certificate"), b"no"),
        );
        assert_eq!(v["statusDescription"], "403 Invalid client certificate");
        assert_eq!(v["headers"]["x-a"], "1,2");
        assert_eq!(v["multiValueHeaders"]["x-a"], serde_json::json!(["1", "2"]));
        assert_eq!(v["body"], "no");
        let v = json(EventKind::Alb, &response(None, b""));
        assert_eq!(v["statusDescription"], "403 Forbidden");
    }

    #[test]
    fn api_gateway_has_no_reason_and_its_own_header_shapes() {
        let r = response(Some("Invalid client certificate"), b"no");
        let v1 = json(EventKind::RestV1, &r);
        assert_eq!(v1.get("statusDescription"), None);
        assert_eq!(v1["headers"], serde_json::json!({}));
        assert_eq!(
            v1["multiValueHeaders"]["set-cookie"],
            serde_json::json!(["s=1"])
        );
        let v2 = json(EventKind::HttpV2, &r);
        assert_eq!(v2["statusCode"], 403);
        assert_eq!(v2["headers"]["x-a"], "1,2");
        assert_eq!(v2["headers"].get("set-cookie"), None);
        assert_eq!(v2["cookies"], serde_json::json!(["s=1"]));
    }

    /// Lambda answers carry whole bodies: a stream that got this far is answered 502,
    /// not sent as an empty 403.
    #[test]
    fn a_streamed_body_is_a_502_not_an_empty_answer() {
        let mut r = response(None, b"");
        r.body = crate::body::Payload::streamed(http_body_util::Full::new(
            bytes::Bytes::from_static(b"never read"),
        ));
        for kind in [EventKind::RestV1, EventKind::HttpV2, EventKind::Alb] {
            let v = json(kind, &r);
            assert_eq!(v["statusCode"], 502);
            assert_eq!(
                v["body"],
                r#"{"statusCode": 502, "message": "The gateway could not buffer the response."}"#
            );
        }
    }

    #[test]
    fn binary_bodies_are_base64_encoded() {
        let v = json(EventKind::HttpV2, &response(None, &[0, 159, 146, 150]));
        assert_eq!(v["isBase64Encoded"], true);
        assert_eq!(v["body"], "AJ+Slg==");
    }
}
