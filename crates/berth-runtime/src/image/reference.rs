//! Image references: `name[:tag]`, normalized the way Docker shows them.

use crate::RuntimeError;

/// `busybox` → `busybox:latest`; `docker.io/library/busybox:1` → `busybox:1`;
/// `localhost:5000/x` → `localhost:5000/x:latest`.
pub(crate) fn normalize(reference: &str) -> crate::Result<String> {
    let bad = || {
        RuntimeError::Invalid(format!(
            "invalid reference format: {reference:?} (expected name[:tag], e.g. busybox:latest)"
        ))
    };
    let r = reference.trim();
    let r = [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ]
    .iter()
    .find_map(|p| r.strip_prefix(p))
    .unwrap_or(r);
    let last = r.rsplit('/').next().unwrap_or(r);
    let (name, tag) = match last.rsplit_once(':') {
        Some((_, tag)) => (&r[..r.len() - tag.len() - 1], tag),
        None => (r, "latest"),
    };
    let name_ok = !name.is_empty()
        && !name.starts_with('/')
        && !name.ends_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    // A colon in the name only belongs to a registry host:port, before the first '/'.
    let colon_ok = match name.split_once('/') {
        Some((_, rest)) => !rest.contains(':'),
        None => !name.contains(':'),
    };
    if !name_ok || !tag_ok || !colon_ok {
        return Err(bad());
    }
    Ok(format!("{name}:{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_latest_and_strips_docker_hub() {
        assert_eq!(normalize("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize("busybox:1.0").unwrap(), "busybox:1.0");
        assert_eq!(
            normalize("docker.io/library/busybox:1").unwrap(),
            "busybox:1"
        );
        assert_eq!(
            normalize("localhost:5000/x").unwrap(),
            "localhost:5000/x:latest"
        );
        assert_eq!(
            normalize("localhost:5000/x:v2").unwrap(),
            "localhost:5000/x:v2"
        );
    }

    #[test]
    fn rejects_bad_references() {
        for bad in ["", "Busybox", "a b", "x:", ":tag", "x:a:b", "a/b:c:d", "x/"] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
    }
}
