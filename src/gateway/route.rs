//! Which API and operation a request is for.
//!
//! APIs match by path prefix ("API URL suffix"), longest first, on whole segments and
//! ignoring case, as APIM does. An API with operations must match one of them (by
//! method and URL template); an API without operations takes every request, which is
//! certgate's shorthand for "one catch-all operation".

use crate::config::{Api, GatewayConfig, Operation};

/// The API and operation a request was routed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Route<'c> {
    pub api_index: usize,
    pub api: &'c Api,
    pub operation: Option<(usize, &'c Operation)>,
    /// The request path after the API's prefix (`/orders/42` → `/42`): what the backend
    /// URL's path is joined with.
    pub remaining_path: &'c str,
    /// `context.Request.MatchedParameters`, percent-decoded.
    pub matched_parameters: Vec<(String, String)>,
}

/// Why a request was not routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// No API's path is a prefix of the request path: APIM's 404 "Resource not found".
    NoApi,
    /// The API matched but none of its operations: APIM's `OperationNotFound`.
    OperationNotFound,
}

/// Routes `method path` (path without query) in `config`.
pub fn route<'c>(
    config: &'c GatewayConfig,
    method: &http::Method,
    path: &'c str,
) -> Result<Route<'c>, RouteError> {
    let (api_index, api, rest) = config
        .apis
        .iter()
        .enumerate()
        .filter_map(|(i, api)| api.relative_path(path).map(|rest| (i, api, rest)))
        .max_by_key(|(_, api, _)| api.path.len())
        .ok_or(RouteError::NoApi)?;
    if api.operations.is_empty() {
        return Ok(Route {
            api_index,
            api,
            operation: None,
            remaining_path: rest,
            matched_parameters: Vec::new(),
        });
    }
    api.operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == *method)
        .find_map(|(j, op)| {
            let params = op.url_template.matches(rest)?;
            Some(Route {
                api_index,
                api,
                operation: Some((j, op)),
                remaining_path: rest,
                matched_parameters: params
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), percent_decode(v)))
                    .collect(),
            })
        })
        .ok_or(RouteError::OperationNotFound)
}

fn percent_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GatewayConfig {
        GatewayConfig::parse(
            r#"
[[apis]]
name = "root"
path = "/"
backend = "http://root"

[[apis]]
name = "orders"
path = "/orders"
backend = "http://orders"

[[apis.operations]]
name = "get"
method = "GET"
url_template = "/{id}"

[[apis.operations]]
name = "list"
method = "GET"
url_template = "/"

[[apis]]
name = "archive"
path = "/orders/archive"
backend = "http://archive"
"#,
        )
        .unwrap()
    }

    fn names(method: &str, path: &str) -> Result<(String, Option<String>), RouteError> {
        let config = config();
        let r = route(&config, &method.parse().unwrap(), path)?;
        Ok((
            r.api.name.clone(),
            r.operation.map(|(_, op)| op.name.clone()),
        ))
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let got = |m, p| names(m, p).unwrap();
        assert_eq!(got("GET", "/orders/archive/7"), ("archive".into(), None));
        assert_eq!(
            got("GET", "/orders/7"),
            ("orders".into(), Some("get".into()))
        );
        assert_eq!(
            got("GET", "/ORDERS"),
            ("orders".into(), Some("list".into()))
        );
        assert_eq!(got("GET", "/ordersx"), ("root".into(), None));
        assert_eq!(got("POST", "/anything"), ("root".into(), None));
    }

    #[test]
    fn an_api_with_operations_needs_a_matching_one() {
        assert_eq!(
            names("DELETE", "/orders/7"),
            Err(RouteError::OperationNotFound)
        );
        assert_eq!(
            names("GET", "/orders/7/lines"),
            Err(RouteError::OperationNotFound)
        );
    }

    #[test]
    fn matched_parameters_are_percent_decoded() {
        let config = config();
        let r = route(&config, &http::Method::GET, "/orders/a%20b").unwrap();
        assert_eq!(r.matched_parameters, [("id".to_owned(), "a b".to_owned())]);
    }

    #[test]
    fn without_a_root_api_unknown_paths_are_not_routed() {
        let config =
            GatewayConfig::parse("[[apis]]\nname = \"a\"\npath = \"/a\"\nbackend = \"http://a\"\n")
                .unwrap();
        assert_eq!(
            route(&config, &http::Method::GET, "/b"),
            Err(RouteError::NoApi)
        );
    }
}
