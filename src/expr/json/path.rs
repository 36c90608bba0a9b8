//! `SelectToken` with a subset of JSONPath: `$`, `.name`, `['name']`, `["name"]`, `[n]`
//! (and a first name without the dot, as Newtonsoft allows: `a.b[0]`). Anything else
//! (wildcards, `..`, filters, slices, unions) is refused with the path in the message,
//! rather than answered differently from Newtonsoft.

use super::{J, JsonError};

enum Seg<'a> {
    Name(&'a str),
    Index(i64),
}

fn segments(path: &str) -> Result<Vec<Seg<'_>>, JsonError> {
    let bad = || JsonError::Path(path.to_owned());
    let mut rest = path.trim();
    rest = rest.strip_prefix('$').unwrap_or(rest);
    let mut out = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        let name_start = if let Some(r) = rest.strip_prefix('.') {
            if r.starts_with('.') {
                return Err(bad());
            }
            Some(r)
        } else if first && !rest.starts_with('[') {
            Some(rest)
        } else {
            None
        };
        first = false;
        if let Some(r) = name_start {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = r.get(..end).unwrap_or_default();
            if name.is_empty() || name.contains(['*', ']', '\'', '"', '(', ')', '?', '@', ' ']) {
                return Err(bad());
            }
            out.push(Seg::Name(name));
            rest = r.get(end..).unwrap_or_default();
            continue;
        }
        let r = rest.strip_prefix('[').ok_or_else(bad)?;
        if let Some(q) = r.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let body = r.get(1..).unwrap_or_default();
            let end = body.find(q).ok_or_else(bad)?;
            let name = body.get(..end).unwrap_or_default();
            let after = body.get(end + 1..).unwrap_or_default();
            rest = after.strip_prefix(']').ok_or_else(bad)?;
            out.push(Seg::Name(name));
        } else {
            let end = r.find(']').ok_or_else(bad)?;
            let n: i64 = r
                .get(..end)
                .unwrap_or_default()
                .trim()
                .parse()
                .map_err(|_| bad())?;
            if n < 0 {
                return Err(bad());
            }
            out.push(Seg::Index(n));
            rest = r.get(end + 1..).unwrap_or_default();
        }
    }
    Ok(out)
}

/// The token at `path` under `root`, or `None` when nothing is there (Newtonsoft returns
/// null); `work` counts segments and properties compared.
pub(crate) fn select(root: &J, path: &str, work: &mut usize) -> Result<Option<J>, JsonError> {
    let segs = segments(path)?;
    let mut cur = root.clone();
    for s in segs {
        *work += 1;
        let next = match s {
            Seg::Name(n) => cur.get_key(n, work),
            Seg::Index(i) => cur.get_index(i),
        };
        match next {
            Some(j) => cur = j,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(doc: &str, path: &str) -> Result<Option<String>, JsonError> {
        let mut work = 0;
        let j = super::super::parse(doc, &mut work).expect("parses");
        Ok(select(&j, path, &mut work)?.map(|j| {
            let mut out = String::new();
            super::super::write(&j, false, &mut out, &mut work).expect("writes");
            out
        }))
    }

    #[test]
    fn names_indexes_and_quoted_names() {
        let doc = r#"{"a":{"b":[10,{"c d":"x"}]},"e":1}"#;
        assert_eq!(sel(doc, "$.a.b[0]").unwrap().as_deref(), Some("10"));
        assert_eq!(sel(doc, "a.b[1]['c d']").unwrap().as_deref(), Some("\"x\""));
        assert_eq!(sel(doc, "$['e']").unwrap().as_deref(), Some("1"));
        assert_eq!(sel(doc, "$").unwrap().as_deref(), Some(doc));
        assert_eq!(sel(doc, "$.a.x").unwrap(), None);
        assert_eq!(sel(doc, "$.a.b[5]").unwrap(), None);
    }

    #[test]
    fn the_rest_of_jsonpath_is_refused() {
        for p in [
            "$..a",
            "$.a[*]",
            "$.a[?(@.b)]",
            "$.a[0:1]",
            "$.a[0,1]",
            "$.*",
            "$[-1]",
        ] {
            assert_eq!(
                sel("{}", p).unwrap_err(),
                JsonError::Path(p.to_owned()),
                "{p}"
            );
        }
    }
}
