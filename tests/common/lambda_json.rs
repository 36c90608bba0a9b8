//! Reading the JSON a Lambda function returns to its front end.

use serde_json::Value;

/// A response header, whichever of `headers` / `multiValueHeaders` carries it.
pub fn header(response: &Value, name: &str) -> Option<String> {
    response["headers"][name]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            response["multiValueHeaders"][name][0]
                .as_str()
                .map(str::to_owned)
        })
}
