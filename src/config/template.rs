//! APIM operation URL templates (`/orders/{id}`), parsed once and matched per request.
//!
//! A segment is literal text or a whole-segment `{name}` parameter; a final `*` matches
//! whatever remains. Literal segments compare case-insensitively, as APIM routes do.

use std::collections::HashSet;

/// Why a URL template was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error("`{0}` must start with `/`")]
    NoLeadingSlash(String),
    #[error("segment `{0}` mixes text and a parameter; a parameter fills a whole segment")]
    PartialParameter(String),
    #[error("parameter name `{0}` must be letters, digits, `-` or `_`")]
    BadName(String),
    #[error("parameter `{0}` appears twice")]
    Duplicate(String),
    #[error("`*` may only be the last segment")]
    WildcardNotLast,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
    Rest,
}

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl UrlTemplate {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let path = source.split('?').next().unwrap_or_default();
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| TemplateError::NoLeadingSlash(source.to_owned()))?;
        let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let mut names = HashSet::new();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = if *part == "*" {
                if i + 1 != parts.len() {
                    return Err(TemplateError::WildcardNotLast);
                }
                Segment::Rest
            } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    return Err(TemplateError::BadName(name.to_owned()));
                }
                if !names.insert(name) {
                    return Err(TemplateError::Duplicate(name.to_owned()));
                }
                Segment::Parameter(name.to_owned())
            } else if part.contains(['{', '}']) {
                return Err(TemplateError::PartialParameter((*part).to_owned()));
            } else {
                Segment::Literal((*part).to_owned())
            };
            segments.push(segment);
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The template as written, for `context.Operation.UrlTemplate`.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Matches a path relative to the API (`/42`) and returns the parameters, still
    /// percent-encoded as they arrived.
    pub fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        let mut params = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Rest => return Some(params),
                Segment::Literal(text) => {
                    if !parts.next()?.eq_ignore_ascii_case(text) {
                        return None;
                    }
                }
                Segment::Parameter(name) => params.push((name.as_str(), parts.next()?)),
            }
        }
        parts.next().is_none().then_some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_fill_whole_segments() {
        let t = UrlTemplate::parse("/users/{uid}/orders/{id}").unwrap();
        assert_eq!(
            t.matches("/users/7/orders/42"),
            Some(vec![("uid", "7"), ("id", "42")])
        );
        assert_eq!(
            t.matches("/Users/7/Orders/42/"),
            Some(vec![("uid", "7"), ("id", "42")])
        );
        assert_eq!(t.matches("/users/7/orders"), None);
        assert_eq!(t.matches("/users/7/orders/42/x"), None);
        assert_eq!(t.matches("/people/7/orders/42"), None);
    }

    #[test]
    fn a_trailing_wildcard_matches_the_rest() {
        let t = UrlTemplate::parse("/files/*").unwrap();
        assert_eq!(t.matches("/files/a/b/c"), Some(vec![]));
        assert_eq!(t.matches("/other"), None);
        assert_eq!(UrlTemplate::parse("/").unwrap().matches("/"), Some(vec![]));
    }

    #[test]
    fn the_query_part_of_a_template_is_ignored_for_matching() {
        let t = UrlTemplate::parse("/search?q={q}").unwrap();
        assert_eq!(t.matches("/search"), Some(vec![]));
        assert_eq!(t.as_str(), "/search?q={q}");
    }

    #[test]
    fn malformed_templates_say_what_is_wrong() {
        let err = |s| UrlTemplate::parse(s).unwrap_err().to_string();
        assert_eq!(err("x/{id}"), "`x/{id}` must start with `/`");
        assert_eq!(
            err("/order-{id}"),
            "segment `order-{id}` mixes text and a parameter; a parameter fills a whole segment"
        );
        assert_eq!(
            err("/{a b}"),
            "parameter name `a b` must be letters, digits, `-` or `_`"
        );
        assert_eq!(err("/{id}/{id}"), "parameter `id` appears twice");
        assert_eq!(err("/*/x"), "`*` may only be the last segment");
    }
}
