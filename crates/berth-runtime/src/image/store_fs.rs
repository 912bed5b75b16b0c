//! File-system helpers of the image store: temp dirs that vanish on failure, the store lock,
//! atomic writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::RuntimeError;

pub(crate) fn io_err(op: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |source| RuntimeError::Io { op, source }
}

const TEMP_PREFIX: &str = ".tmp-";

fn unique_name(kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}-{kind}-{nanos}-{n}", std::process::id())
}

/// A directory inside the store (same file system, so the final rename is atomic), removed
/// with everything in it when dropped: a failed import leaves nothing behind.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(root: &Path) -> crate::Result<Self> {
        let path = root.join(unique_name("import"));
        fs::create_dir(&path).map_err(io_err(format!("create {}", path.display())))?;
        Ok(Self { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Temp dirs left by a process that died mid-import (its pid is gone).
pub(crate) fn remove_stale_temp_dirs(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// An exclusive `flock` on the store directory, serializing tag updates between processes.
pub(crate) struct StoreLock {
    _lock: Flock<fs::File>,
}

impl StoreLock {
    pub(crate) fn acquire(root: &Path) -> crate::Result<Self> {
        let dir = fs::File::open(root).map_err(io_err(format!("open {}", root.display())))?;
        let lock = Flock::lock(dir, FlockArg::LockExclusive).map_err(|(_, source)| {
            RuntimeError::Errno {
                op: format!("lock image store {}", root.display()),
                source,
            }
        })?;
        Ok(Self { _lock: lock })
    }
}

/// Writes JSON to a temp file beside `path`, fsyncs and renames it over `path`.
pub(crate) fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> crate::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| RuntimeError::Io {
        op: format!("encode {}", path.display()),
        source: std::io::Error::other(e),
    })?;
    crate::fsutil::write_atomic(path, &bytes)
}

/// Renames `dir` out of sight first, so a crash half-way through never leaves a
/// half-deleted image that still looks valid.
pub(crate) fn remove_dir_atomically(root: &Path, dir: &Path) -> crate::Result<()> {
    let doomed = root.join(unique_name("remove"));
    fs::rename(dir, &doomed).map_err(io_err(format!("remove {}", dir.display())))?;
    fs::remove_dir_all(&doomed).map_err(io_err(format!("remove {}", doomed.display())))
}
