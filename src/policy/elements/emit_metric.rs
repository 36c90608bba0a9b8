//! `<emit-metric name="..." namespace="..." value="...">` with `<dimension>`s: a
//! CloudWatch metric (embedded metric format) instead of an Application Insights one.

use super::{Attrs, PolicyError, XmlElement, any_text, child_elements, no_children, structure};
use crate::policy::value::Param;

/// Most `<dimension>`s in one `emit-metric` (APIM's reference: 10 custom dimensions).
pub(crate) const MAX_DIMENSIONS: usize = 10;

/// Longest metric or dimension name CloudWatch takes.
pub(crate) const MAX_NAME_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitMetric {
    /// No expressions.
    pub name: String,
    /// No expressions; default `API Management`, as APIM.
    pub namespace: String,
    /// A number (checked at load when literal); default 1.
    pub value: Param<String>,
    /// 1 to `MAX_DIMENSIONS` (10).
    pub dimensions: Vec<Dimension>,
}

/// One `<dimension name="..." value="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    pub name: Param<String>,
    pub value: DimensionValue,
}

/// Where a dimension's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionValue {
    Given(Param<String>),
    /// `API ID` without a value: `context.Api.Id`.
    ApiId,
    /// `Operation ID` without a value: `context.Operation.Id`.
    OperationId,
}

pub(super) fn emit_metric(el: &XmlElement, a: &Attrs<'_>) -> Result<EmitMetric, PolicyError> {
    let name = a.required(a.literal("name", metric_name)?, "name")?;
    let namespace = a
        .literal("namespace", namespace)?
        .unwrap_or_else(|| "API Management".to_owned());
    let value = a
        .param("value", number)?
        .unwrap_or_else(|| Param::Literal("1".to_owned(), a.empty()));
    let mut dimensions: Vec<Dimension> = Vec::new();
    let mut literal_names = vec![name.clone()];
    for child in child_elements(el)? {
        if child.name != "dimension" {
            return Err(PolicyError::UnknownElement {
                at: child.at.clone(),
                name: child.name.clone(),
                hint: " in <emit-metric>: only <dimension> is allowed".into(),
            });
        }
        if dimensions.len() == MAX_DIMENSIONS {
            return Err(structure(
                child,
                &format!("<emit-metric> has more than {MAX_DIMENSIONS} <dimension>s"),
            ));
        }
        let d = Attrs::new(child, &["name", "value"])?;
        no_children(child)?;
        let dimension_name = d.required(d.param("name", metric_name)?, "name")?;
        if let Param::Literal(text, at) = &dimension_name {
            if literal_names.contains(text) {
                return Err(d.invalid(
                    "name",
                    at,
                    &format!("`{text}` is already the metric's or another dimension's name"),
                ));
            }
            literal_names.push(text.clone());
        }
        let value = match (d.param("value", any_text)?, &dimension_name) {
            (Some(value), _) => DimensionValue::Given(value),
            (None, Param::Literal(text, _)) if text == "API ID" => DimensionValue::ApiId,
            (None, Param::Literal(text, _)) if text == "Operation ID" => {
                DimensionValue::OperationId
            }
            (None, _) => {
                return Err(PolicyError::MissingAttribute {
                    at: child.at.clone(),
                    element: "dimension".into(),
                    attribute: "value (certgate fills in only `API ID` and `Operation ID`: it has no products, users, subscriptions or Azure locations)".into(),
                });
            }
        };
        dimensions.push(Dimension {
            name: dimension_name,
            value,
        });
    }
    if dimensions.is_empty() {
        return Err(structure(
            el,
            "<emit-metric> needs at least one <dimension name=\"...\" value=\"...\"/>",
        ));
    }
    Ok(EmitMetric {
        name,
        namespace,
        value,
        dimensions,
    })
}

/// A metric or dimension name CloudWatch accepts.
pub(crate) fn metric_name(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > MAX_NAME_CHARS || s.chars().any(char::is_control) || s == "_aws" {
        return Err(format!(
            "`{s}` is not a CloudWatch name: at most {MAX_NAME_CHARS} characters, no control characters, not `_aws`"
        ));
    }
    if s.starts_with(':') {
        return Err(format!("`{s}`: CloudWatch names cannot start with `:`"));
    }
    Ok(s.to_owned())
}

/// A CloudWatch namespace: letters, digits and `. - _ / # : ` and space, not `AWS/...`.
fn namespace(s: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if s.trim().is_empty() || s.len() > MAX_NAME_CHARS || !s.chars().all(allowed) {
        return Err(format!(
            "`{s}` is not a CloudWatch namespace: 1 to {MAX_NAME_CHARS} letters, digits, spaces and . - _ / # :"
        ));
    }
    if s.starts_with("AWS/") {
        return Err(format!(
            "`{s}`: namespaces starting with AWS/ are AWS's own"
        ));
    }
    Ok(s.to_owned())
}

/// A number (.NET double), kept as written.
fn number(s: &str) -> Result<String, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(s.trim().to_owned()),
        _ => Err(format!(
            "`{}` is not a number; write e.g. 1 or 2.5, or an expression",
            s.trim()
        )),
    }
}
