//! Tar unpacking for images: a whole import stream (hashed while read), and image layers
//! stacked into one rootfs with overlay-style whiteouts applied.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::RuntimeError;

/// What an unpack produced.
#[derive(Debug, Default)]
pub(crate) struct Unpacked {
    /// Bytes of regular files written.
    pub size: u64,
    /// Entries seen (0 means an empty archive).
    pub entries: u64,
}

/// Hashes everything read through it (the image ID of a rootfs import is the sha256 of the
/// uncompressed stream).
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Wraps `reader` in a gzip decoder when it starts with the gzip magic.
pub(crate) fn maybe_gunzip<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

fn invalid_tar(what: &str, e: io::Error) -> RuntimeError {
    RuntimeError::Invalid(format!(
        "{what} is not a valid tar archive (optionally gzip-compressed): {e}"
    ))
}

fn io_err(op: String) -> impl FnOnce(io::Error) -> RuntimeError {
    move |source| RuntimeError::Io { op, source }
}

fn new_archive<R: Read>(reader: R) -> tar::Archive<R> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    archive
}

/// Unpacks an import stream (gzip detected) into `dst`, returning what was unpacked and the
/// hex sha256 of the uncompressed stream.
pub(crate) fn unpack_stream(
    reader: &mut dyn Read,
    dst: &Path,
) -> crate::Result<(Unpacked, String)> {
    let plain = maybe_gunzip(reader).map_err(|e| invalid_tar("the import stream", e))?;
    let mut hashing = HashingReader {
        inner: plain,
        hasher: Sha256::new(),
    };
    let mut archive = new_archive(&mut hashing);
    let unpacked = unpack_entries(&mut archive, dst, "the import stream", false)?;
    // The tar end-of-archive blocks (and any padding) are part of the stream's identity.
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| invalid_tar("the import stream", e))?;
    Ok((unpacked, hex::encode(hashing.hasher.finalize())))
}

/// Applies one image layer (tar, optionally gzip) on top of `dst`: whiteouts first (they hide
/// lower layers only), then the layer's entries.
pub(crate) fn apply_layer(layer: &Path, dst: &Path) -> crate::Result<Unpacked> {
    let what = format!("layer {}", layer.display());
    let open = || -> crate::Result<tar::Archive<Box<dyn Read>>> {
        let file = fs::File::open(layer).map_err(io_err(format!("open {what}")))?;
        let reader = maybe_gunzip(file).map_err(|e| invalid_tar(&what, e))?;
        Ok(new_archive(reader))
    };
    apply_whiteouts(&mut open()?, dst, &what)?;
    unpack_entries(&mut open()?, dst, &what, true)
}

fn apply_whiteouts<R: Read>(
    archive: &mut tar::Archive<R>,
    dst: &Path,
    what: &str,
) -> crate::Result<()> {
    for entry in archive.entries().map_err(|e| invalid_tar(what, e))? {
        let entry = entry.map_err(|e| invalid_tar(what, e))?;
        let path = entry.path().map_err(|e| invalid_tar(what, e))?.into_owned();
        let Some(rel) = clean_relative(&path) else {
            continue;
        };
        let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        if name == ".wh..wh..opq" {
            clear_dir(dst, &dst.join(parent))?;
        } else if let Some(hidden) = name.strip_prefix(".wh.") {
            remove_inside(dst, &dst.join(parent).join(hidden))?;
        }
    }
    Ok(())
}

fn unpack_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    dst: &Path,
    what: &str,
    layer: bool,
) -> crate::Result<Unpacked> {
    let mut out = Unpacked::default();
    for entry in archive.entries().map_err(|e| invalid_tar(what, e))? {
        let mut entry = entry.map_err(|e| invalid_tar(what, e))?;
        out.entries += 1;
        let path = entry.path().map_err(|e| invalid_tar(what, e))?.into_owned();
        let kind = entry.header().entry_type();
        // Device nodes and fifos are never needed: /dev is a fresh tmpfs in every container.
        if matches!(kind, EntryType::Char | EntryType::Block | EntryType::Fifo) {
            continue;
        }
        let Some(rel) = clean_relative(&path) else {
            continue;
        };
        if layer {
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(".wh.") {
                continue;
            }
            replace_conflicting(dst, &dst.join(&rel), kind)?;
        }
        if kind.is_file() {
            out.size += entry.size();
        }
        entry.unpack_in(dst).map_err(|e| RuntimeError::Io {
            op: format!("unpack {} from {what}", path.display()),
            source: with_cause(e),
        })?;
    }
    Ok(out)
}

/// tar's errors hide their cause from `Display`: bring it into the message.
fn with_cause(e: io::Error) -> io::Error {
    let mut msg = e.to_string();
    let mut cause = e.get_ref().and_then(|inner| inner.source());
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    io::Error::new(e.kind(), msg)
}

/// The path without `.`/root prefixes; `None` for the root itself or paths climbing out.
fn clean_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// True when `path`'s parent resolves inside `root` (a symlinked parent could point anywhere
/// on the host: never delete through one).
fn parent_inside(root: &Path, path: &Path) -> bool {
    let (Ok(root), Some(parent)) = (root.canonicalize(), path.parent()) else {
        return false;
    };
    parent.canonicalize().is_ok_and(|p| p.starts_with(root))
}

fn remove_inside(root: &Path, path: &Path) -> crate::Result<()> {
    if !parent_inside(root, path) {
        return Ok(());
    }
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    let result = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(io_err(format!("remove {}", path.display())))
}

/// An opaque directory hides everything below it from lower layers.
fn clear_dir(root: &Path, dir: &Path) -> crate::Result<()> {
    let inside = dir
        .canonicalize()
        .is_ok_and(|d| root.canonicalize().is_ok_and(|r| d.starts_with(r)));
    if !inside
        || !dir.is_dir()
        || fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink())
    {
        return Ok(());
    }
    let entries = fs::read_dir(dir).map_err(io_err(format!("read {}", dir.display())))?;
    for entry in entries.flatten() {
        remove_inside(root, &entry.path())?;
    }
    Ok(())
}

/// A layer may turn a directory into a file or the other way round; tar's overwrite only
/// replaces files, so clear the way first.
fn replace_conflicting(root: &Path, path: &Path, kind: EntryType) -> crate::Result<()> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() != kind.is_dir() {
        remove_inside(root, path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_relative_strips_roots_and_rejects_parents() {
        assert_eq!(
            clean_relative(Path::new("./a/b")),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(
            clean_relative(Path::new("/etc/x")),
            Some(PathBuf::from("etc/x"))
        );
        assert_eq!(clean_relative(Path::new("./")), None);
        assert_eq!(clean_relative(Path::new("a/../../x")), None);
    }
}
