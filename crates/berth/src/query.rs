//! Building API paths: escaped path segments, query strings and Docker filters.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Percent-encodes everything outside RFC 3986 unreserved characters, plus
/// the characters listed in `keep`.
fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes a name for use as one path segment. `/` in image references
/// (`library/busybox:latest`) becomes `%2F`, so routers that match a single
/// segment (berthd's `/images/{name}`) see the whole reference; Docker's
/// router decodes it before matching, so it works there too.
pub fn seg(name: &str) -> String {
    encode(name, b":@")
}

/// Builds `path?k=v&...`, skipping nothing: callers pass only the params they mean.
pub fn with_query(path: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, b""), encode(v, b"")))
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// Turns `-f key=value` flags into Docker's filter JSON `{"key":{"value":true}}`.
pub fn filters_json(filters: &[String]) -> Result<Option<String>, String> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut map: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter {f:?} (expected name=value)"))?;
        map.entry(k.trim().to_lowercase())
            .or_default()
            .insert(v.to_string(), json!(true));
    }
    Ok(Some(json!(map).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_escaped() {
        let p = with_query(
            "/x",
            &[("filters", "{\"a b\":1}".into()), ("t", "5".into())],
        );
        assert_eq!(p, "/x?filters=%7B%22a%20b%22%3A1%7D&t=5");
        assert_eq!(with_query("/x", &[]), "/x");
    }

    #[test]
    fn segments_escape_slashes() {
        assert_eq!(seg("library/busybox:1.36"), "library%2Fbusybox:1.36");
        assert_eq!(seg("busybox:1.36"), "busybox:1.36");
        assert_eq!(seg("a b?"), "a%20b%3F");
    }

    #[test]
    fn filters_group_by_key() {
        let f = filters_json(&["name=a".into(), "name=b".into(), "driver=bridge".into()]);
        let v: Value = serde_json::from_str(&f.unwrap().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"name": {"a": true, "b": true}, "driver": {"bridge": true}})
        );
        assert!(filters_json(&["novalue".into()]).is_err());
        assert_eq!(filters_json(&[]).unwrap(), None);
    }
}
