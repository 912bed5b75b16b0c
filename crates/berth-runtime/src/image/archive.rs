//! `docker save` archives (`manifest.json`) and OCI image layouts (`index.json` +
//! `oci-layout`), already unpacked into a directory: which images they hold, with their
//! layers (lowest first), config and tags.

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{reference, ImageConfig};
use crate::RuntimeError;

/// One image found in an archive.
#[derive(Debug)]
pub(crate) struct ArchiveImage {
    /// Hex sha256 of the config blob (Docker's image ID).
    pub id_hex: String,
    pub config: ImageConfig,
    /// Unix seconds from the config's `created`, if any.
    pub created: Option<i64>,
    /// Layer tarballs inside the unpacked archive, lowest first.
    pub layers: Vec<PathBuf>,
    pub repo_tags: Vec<String>,
}

fn invalid(msg: String) -> RuntimeError {
    RuntimeError::Invalid(msg)
}

/// The images of the archive unpacked at `dir`, or `None` when it is not an image archive
/// (then it is a plain rootfs).
pub(crate) fn read(dir: &Path) -> crate::Result<Option<Vec<ArchiveImage>>> {
    let manifest = dir.join("manifest.json");
    if manifest.is_file() {
        if let Some(entries) = read_json(&manifest).ok().and_then(|v| docker_entries(&v)) {
            let images = entries
                .into_iter()
                .map(|(config, layers, tags)| load(dir, &config, &layers, tags))
                .collect::<crate::Result<Vec<_>>>()?;
            return Ok(Some(images));
        }
    }
    if dir.join("oci-layout").is_file() && dir.join("index.json").is_file() {
        return oci_images(dir).map(Some);
    }
    Ok(None)
}

fn read_json(path: &Path) -> crate::Result<Value> {
    let bytes = fs::read(path).map_err(|source| RuntimeError::Io {
        op: format!("read {}", path.display()),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "image archive: {} is not valid JSON: {e}",
            path.display()
        ))
    })
}

type Entry = (String, Vec<String>, Vec<String>);

/// `[{"Config": "...json", "RepoTags": [...], "Layers": ["x/layer.tar", ...]}]`.
fn docker_entries(v: &Value) -> Option<Vec<Entry>> {
    let list = v.as_array()?;
    let mut out = Vec::new();
    for item in list {
        let config = item.get("Config")?.as_str()?.to_string();
        let layers = strings(item.get("Layers")?)?;
        let tags = item.get("RepoTags").and_then(strings).unwrap_or_default();
        out.push((config, layers, tags));
    }
    (!out.is_empty()).then_some(out)
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// A path named inside the archive, kept inside it.
fn inside(dir: &Path, rel: &str) -> crate::Result<PathBuf> {
    let path = Path::new(rel);
    if rel.is_empty()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(invalid(format!(
            "image archive names a path outside itself: {rel:?}"
        )));
    }
    let full = dir.join(path);
    if !full.is_file() {
        return Err(invalid(format!("image archive is missing {rel:?}")));
    }
    Ok(full)
}

fn load(
    dir: &Path,
    config: &str,
    layers: &[String],
    tags: Vec<String>,
) -> crate::Result<ArchiveImage> {
    let config_path = inside(dir, config)?;
    let bytes = fs::read(&config_path).map_err(|source| RuntimeError::Io {
        op: format!("read {}", config_path.display()),
        source,
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "image archive: config {config:?} is not valid JSON: {e}"
        ))
    })?;
    let layers = layers
        .iter()
        .map(|l| inside(dir, l))
        .collect::<crate::Result<Vec<_>>>()?;
    let repo_tags = tags
        .iter()
        .filter_map(|t| reference::normalize(t).ok())
        .collect();
    Ok(ArchiveImage {
        id_hex: hex::encode(Sha256::digest(&bytes)),
        config: parse_config(&value),
        created: value
            .get("created")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.timestamp()),
        layers,
        repo_tags,
    })
}

/// Env, Cmd, Entrypoint and WorkingDir from an image config JSON (null means empty).
pub(crate) fn parse_config(v: &Value) -> ImageConfig {
    let c = v
        .get("config")
        .or_else(|| v.get("Config"))
        .unwrap_or(&Value::Null);
    let list = |k: &str| c.get(k).and_then(strings).unwrap_or_default();
    ImageConfig {
        env: list("Env"),
        cmd: list("Cmd"),
        entrypoint: list("Entrypoint"),
        working_dir: c
            .get("WorkingDir")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

fn blob_path(digest: &str) -> crate::Result<String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| invalid(format!("image archive: bad digest {digest:?}")))?;
    Ok(format!("blobs/{alg}/{hex}"))
}

fn oci_images(dir: &Path) -> crate::Result<Vec<ArchiveImage>> {
    let index = read_json(&dir.join("index.json"))?;
    let mut images = Vec::new();
    for desc in index
        .get("manifests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let annotations = desc.get("annotations");
        let name = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
        // containerd and docker put the full name here; the OCI ref.name may be only a tag.
        let tags = name("io.containerd.image.name")
            .or_else(|| {
                name("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains(':') || n.contains('/'))
            })
            .map(|n| vec![n.to_string()])
            .unwrap_or_default();
        let digest = desc
            .get("digest")
            .and_then(Value::as_str)
            .unwrap_or_default();
        images.push(oci_manifest(dir, digest, tags, 0)?);
    }
    if images.is_empty() {
        return Err(invalid(
            "image archive: index.json lists no manifests".into(),
        ));
    }
    Ok(images)
}

/// Follows a manifest (or a nested index, picking this machine's platform) to an image.
fn oci_manifest(
    dir: &Path,
    digest: &str,
    tags: Vec<String>,
    depth: u32,
) -> crate::Result<ArchiveImage> {
    if depth > 4 {
        return Err(invalid("image archive: image indexes nest too deep".into()));
    }
    let manifest = read_json(&inside(dir, &blob_path(digest)?)?)?;
    if let Some(list) = manifest.get("manifests").and_then(Value::as_array) {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let platform_is =
            |d: &&Value| d.pointer("/platform/architecture").and_then(Value::as_str) == Some(arch);
        let chosen = list
            .iter()
            .find(platform_is)
            .or_else(|| list.first())
            .and_then(|d| d.get("digest"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(format!(
                    "image archive: index {digest} has no usable manifest"
                ))
            })?;
        return oci_manifest(dir, chosen, tags, depth + 1);
    }
    let config = manifest
        .pointer("/config/digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("image archive: manifest {digest} has no config")))?;
    let layers = manifest
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| blob_path(l.get("digest").and_then(Value::as_str).unwrap_or_default()))
        .collect::<crate::Result<Vec<_>>>()?;
    load(dir, &blob_path(config)?, &layers, tags)
}
