//! Images: imported from a rootfs tarball (optionally gzip) or a `docker save` / OCI archive,
//! unpacked into `<root>/<id>/rootfs`, with metadata in `<root>/<id>/image.json`.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageConfig {
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub working_dir: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    /// `sha256:<64 hex>`.
    pub id: String,
    /// e.g. `busybox:latest`.
    pub repo_tags: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Bytes unpacked.
    pub size: u64,
    pub config: ImageConfig,
    /// Lower directories for overlayfs, lowest last? No: in overlayfs `lowerdir=` order
    /// (uppermost first).
    pub layers: Vec<PathBuf>,
}

pub struct ImageStore {
    _root: PathBuf,
}

impl ImageStore {
    pub fn open(_root: &Path) -> crate::Result<Self> {
        todo!()
    }
    /// Imports from a stream: detects a `docker save`/OCI archive (manifest.json / index.json)
    /// or else treats it as a rootfs tar; gzip is detected by magic. `reference` (e.g.
    /// `busybox` or `busybox:1.0`; `:latest` added) names a rootfs import and re-tags an
    /// archive's first image if given. A tag already on another image moves to the new one.
    /// Not a tar: `Invalid`, and nothing is left on disk.
    pub fn import(
        &self,
        _reader: &mut dyn Read,
        _reference: Option<&str>,
    ) -> crate::Result<Vec<ImageInfo>> {
        todo!()
    }
    pub fn list(&self) -> crate::Result<Vec<ImageInfo>> {
        todo!()
    }
    /// By `name[:tag]`, full or short (12+ hex) ID, with or without `sha256:`.
    pub fn get(&self, _reference: &str) -> crate::Result<ImageInfo> {
        todo!()
    }
    pub fn remove(&self, _reference: &str) -> crate::Result<()> {
        todo!()
    }
}
