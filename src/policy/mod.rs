//! APIM policy documents.

mod csharp;
mod error;
mod value;
mod xml;

pub use error::{Location, PolicyError, diagnostic};
pub use value::{CompiledExpr, Expression, Param, PolicyValue, ValueKind, compile_expression};
pub use xml::{MAX_ATTRIBUTES, MAX_DEPTH, MAX_DOCUMENT_BYTES};
