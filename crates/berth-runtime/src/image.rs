//! Images: imported from a rootfs tarball (optionally gzip) or a `docker save` / OCI archive,
//! unpacked into `<root>/<id>/rootfs`, with metadata in `<root>/<id>/image.json`.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::RuntimeError;

mod archive;
mod reference;
mod store_fs;
mod unpack;

use store_fs::{io_err, StoreLock, TempDir};

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
    root: PathBuf,
}

/// `<root>/repositories.json`: normalized tag → `sha256:<hex>`.
type Tags = BTreeMap<String, String>;

/// An image unpacked in a temp dir, waiting to be moved into the store.
struct Staged {
    dir: PathBuf,
    info: ImageInfo,
    tags: Vec<String>,
}

impl ImageStore {
    pub fn open(root: &Path) -> crate::Result<Self> {
        fs::create_dir_all(root)
            .map_err(io_err(format!("create image store {}", root.display())))?;
        let root = root
            .canonicalize()
            .map_err(io_err(format!("resolve image store {}", root.display())))?;
        store_fs::remove_stale_temp_dirs(&root);
        Ok(Self { root })
    }

    /// Imports from a stream: detects a `docker save`/OCI archive (manifest.json / index.json)
    /// or else treats it as a rootfs tar; gzip is detected by magic. `reference` (e.g.
    /// `busybox` or `busybox:1.0`; `:latest` added) names a rootfs import and re-tags an
    /// archive's first image if given. A tag already on another image moves to the new one.
    /// Not a tar: `Invalid`, and nothing is left on disk.
    pub fn import(
        &self,
        reader: &mut dyn Read,
        reference: Option<&str>,
    ) -> crate::Result<Vec<ImageInfo>> {
        let reference = reference.map(reference::normalize).transpose()?;
        let tmp = TempDir::new(&self.root)?;
        let unpacked_dir = tmp.path().join("unpacked");
        fs::create_dir(&unpacked_dir)
            .map_err(io_err(format!("create {}", unpacked_dir.display())))?;
        let (unpacked, hex) = unpack::unpack_stream(reader, &unpacked_dir)?;
        let mut staged = match archive::read(&unpacked_dir)? {
            Some(images) => self.stage_archive(tmp.path(), images)?,
            None => {
                if unpacked.entries == 0 {
                    return Err(RuntimeError::Invalid(
                        "import: the tar archive is empty; give a rootfs tarball or a `docker save` archive".into(),
                    ));
                }
                vec![self.stage_rootfs(tmp.path(), &unpacked_dir, &hex, unpacked.size)?]
            }
        };
        if let (Some(r), Some(first)) = (reference, staged.first_mut()) {
            first.tags = vec![r];
        }
        self.commit(staged)
    }

    fn stage_rootfs(
        &self,
        tmp: &Path,
        unpacked: &Path,
        hex: &str,
        size: u64,
    ) -> crate::Result<Staged> {
        let dir = tmp.join("image-0");
        fs::create_dir(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        let rootfs = dir.join("rootfs");
        fs::rename(unpacked, &rootfs).map_err(io_err(format!("rename {}", unpacked.display())))?;
        let info = ImageInfo {
            id: format!("sha256:{hex}"),
            repo_tags: Vec::new(),
            created: chrono::Utc::now().timestamp(),
            size,
            config: ImageConfig::default(),
            layers: vec![self.root.join(hex).join("rootfs")],
        };
        Ok(Staged {
            dir,
            info,
            tags: Vec::new(),
        })
    }

    fn stage_archive(
        &self,
        tmp: &Path,
        images: Vec<archive::ArchiveImage>,
    ) -> crate::Result<Vec<Staged>> {
        let mut staged = Vec::new();
        for (i, image) in images.into_iter().enumerate() {
            let dir = tmp.join(format!("image-{i}"));
            let rootfs = dir.join("rootfs");
            fs::create_dir_all(&rootfs).map_err(io_err(format!("create {}", rootfs.display())))?;
            let mut size = 0;
            // Stacking all layers into one directory keeps overlayfs mounts to one lower dir.
            for layer in &image.layers {
                size += unpack::apply_layer(layer, &rootfs)?.size;
            }
            let info = ImageInfo {
                id: format!("sha256:{}", image.id_hex),
                repo_tags: Vec::new(),
                created: image
                    .created
                    .unwrap_or_else(|| chrono::Utc::now().timestamp()),
                size,
                config: image.config,
                layers: vec![self.root.join(&image.id_hex).join("rootfs")],
            };
            staged.push(Staged {
                dir,
                info,
                tags: image.repo_tags,
            });
        }
        Ok(staged)
    }

    /// Moves staged images into place (an image already stored is kept as is) and moves tags.
    fn commit(&self, staged: Vec<Staged>) -> crate::Result<Vec<ImageInfo>> {
        let _lock = StoreLock::acquire(&self.root)?;
        let mut tags = self.read_tags()?;
        let mut ids = Vec::new();
        for image in staged {
            let hex = hex_of(&image.info.id);
            let dest = self.root.join(hex);
            if !dest.join("image.json").is_file() {
                store_fs::write_json_atomic(&image.dir.join("image.json"), &image.info)?;
                fs::rename(&image.dir, &dest)
                    .map_err(io_err(format!("move image into {}", dest.display())))?;
            }
            for tag in image.tags {
                tags.insert(tag, image.info.id.clone());
            }
            ids.push(image.info.id);
        }
        store_fs::write_json_atomic(&self.root.join("repositories.json"), &tags)?;
        ids.iter().map(|id| self.load(hex_of(id), &tags)).collect()
    }

    fn read_tags(&self) -> crate::Result<Tags> {
        let path = self.root.join("repositories.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RuntimeError::Invalid(format!(
                    "{} is corrupt: {e}; fix or remove it",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tags::new()),
            Err(source) => Err(RuntimeError::Io {
                op: format!("read {}", path.display()),
                source,
            }),
        }
    }

    /// Reads `<root>/<hex>/image.json`; tags and layer paths come from the store as it is now.
    fn load(&self, hex: &str, tags: &Tags) -> crate::Result<ImageInfo> {
        let dir = self.root.join(hex);
        let path = dir.join("image.json");
        let bytes = fs::read(&path).map_err(io_err(format!("read {}", path.display())))?;
        let mut info: ImageInfo = serde_json::from_slice(&bytes)
            .map_err(|e| RuntimeError::Invalid(format!("{} is corrupt: {e}", path.display())))?;
        info.repo_tags = tags
            .iter()
            .filter(|(_, id)| **id == info.id)
            .map(|(t, _)| t.clone())
            .collect();
        info.layers = vec![dir.join("rootfs")];
        Ok(info)
    }

    fn image_hexes(&self) -> crate::Result<Vec<String>> {
        let entries =
            fs::read_dir(&self.root).map_err(io_err(format!("read {}", self.root.display())))?;
        Ok(entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .filter(|n| self.root.join(n).join("image.json").is_file())
            .collect())
    }

    /// All images, newest first.
    pub fn list(&self) -> crate::Result<Vec<ImageInfo>> {
        let tags = self.read_tags()?;
        let mut out = self
            .image_hexes()?
            .iter()
            .map(|h| self.load(h, &tags))
            .collect::<crate::Result<Vec<_>>>()?;
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// By `name[:tag]`, full or short (12+ hex) ID, with or without `sha256:`.
    pub fn get(&self, reference: &str) -> crate::Result<ImageInfo> {
        let tags = self.read_tags()?;
        let (hex, _) = self.resolve(reference, &tags)?;
        self.load(&hex, &tags)
    }

    /// Resolves to the image's hex ID and, when named by tag, the normalized tag.
    fn resolve(&self, reference: &str, tags: &Tags) -> crate::Result<(String, Option<String>)> {
        if let Ok(tag) = reference::normalize(reference) {
            if let Some(id) = tags.get(&tag) {
                return Ok((hex_of(id).to_string(), Some(tag)));
            }
        }
        let prefix = reference.strip_prefix("sha256:").unwrap_or(reference);
        let not_found = || RuntimeError::NotFound(format!("no such image: {reference}"));
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let prefix = prefix.to_ascii_lowercase();
        let matches: Vec<String> = self
            .image_hexes()?
            .into_iter()
            .filter(|h| h.starts_with(&prefix))
            .collect();
        match matches.as_slice() {
            [one] => Ok((one.clone(), None)),
            [] => Err(not_found()),
            _ => Err(RuntimeError::Invalid(format!(
                "image ID prefix {reference:?} is ambiguous ({} images); give more of the ID",
                matches.len()
            ))),
        }
    }

    /// By tag: removes the tag, and the image when no other tag names it. By ID: removes the
    /// image and all its tags.
    pub fn remove(&self, reference: &str) -> crate::Result<()> {
        let _lock = StoreLock::acquire(&self.root)?;
        let mut tags = self.read_tags()?;
        let (hex, tag) = self.resolve(reference, &tags)?;
        let id = format!("sha256:{hex}");
        match tag {
            Some(tag) => {
                tags.remove(&tag);
            }
            None => tags.retain(|_, v| *v != id),
        }
        let still_tagged = tags.values().any(|v| *v == id);
        store_fs::write_json_atomic(&self.root.join("repositories.json"), &tags)?;
        if !still_tagged {
            store_fs::remove_dir_atomically(&self.root, &self.root.join(&hex))?;
        }
        Ok(())
    }
}

fn hex_of(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}
