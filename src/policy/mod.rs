//! APIM policy documents.
