//! Where a request goes: the backend base URL joined with the request path, as APIM
//! joins its "Web service URL" with the path after the API URL suffix.

use http::Uri;

/// `base` + `path_and_query`, where the path is what follows the API's prefix (the
/// route's remaining path).
///
/// `https://orders.internal/v1` with `/42?x=1` (request `/orders/42?x=1` of API
/// `/orders`) gives `https://orders.internal/v1/42?x=1`.
pub fn backend_url(base: &Uri, path_and_query: &str) -> Option<Uri> {
    let (rest, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let base_path = base.path().trim_end_matches('/');
    let query = query.filter(|q| !q.is_empty());
    // Pushed into one string of the right size: `format!` cost more than the join.
    let mut joined =
        String::with_capacity(base_path.len() + rest.len() + 2 + query.map_or(0, str::len));
    joined.push_str(base_path);
    joined.push_str(rest);
    if joined.is_empty() {
        joined.push('/');
    }
    if let Some(query) = query {
        joined.push('?');
        joined.push_str(query);
    }
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(base.scheme()?.clone());
    parts.authority = Some(base.authority()?.clone());
    parts.path_and_query = Some(joined.try_into().ok()?);
    Uri::from_parts(parts).ok()
}

/// Resolves a `Location` header against the URL that answered.
pub(super) fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let target: Uri = location.parse().ok()?;
    if target.scheme().is_some() {
        return Some(target);
    }
    let path_and_query = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    Uri::builder()
        .scheme(base.scheme()?.clone())
        .authority(base.authority()?.clone())
        .path_and_query(path_and_query)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remaining_path_goes_after_the_backend_path() {
        let base: Uri = "https://orders.internal/v1".parse().unwrap();
        let url = |p| backend_url(&base, p).unwrap().to_string();
        assert_eq!(url("/42?x=1"), "https://orders.internal/v1/42?x=1");
        assert_eq!(url(""), "https://orders.internal/v1");
        assert_eq!(url("?"), "https://orders.internal/v1");
        let root: Uri = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            backend_url(&root, "/a/b").unwrap().to_string(),
            "http://127.0.0.1:8080/a/b"
        );
        assert_eq!(
            backend_url(&root, "").unwrap().to_string(),
            "http://127.0.0.1:8080/"
        );
    }

    #[test]
    fn locations_resolve_against_the_answering_url() {
        let base: Uri = "http://b:1/x/y?q".parse().unwrap();
        assert_eq!(resolve(&base, "/z").unwrap().to_string(), "http://b:1/z");
        assert_eq!(resolve(&base, "z").unwrap().to_string(), "http://b:1/x/z");
        assert_eq!(
            resolve(&base, "https://c/").unwrap().to_string(),
            "https://c/"
        );
    }
}
