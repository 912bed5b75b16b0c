//! Atomic file writes shared by the image store and the shim.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::RuntimeError;

/// Writes to a temp file beside `path`, fsyncs and renames it over `path`: readers see the
/// old content or the new, never a torn one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&tmp);
        RuntimeError::Io {
            op: format!("write {}", path.display()),
            source,
        }
    })
}

/// A one-value state file (`pid`, `exit`, ...).
pub(crate) fn write_state_file(path: &Path, value: &str) -> crate::Result<()> {
    write_atomic(path, format!("{value}\n").as_bytes())
}
