//! Where the binaries under test live.

use std::path::PathBuf;

/// The directory holding berthd, berth, berth-shim and berth-sandbox-init:
/// `$BERTH_BIN_DIR` when set, else the workspace's `target/debug`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_BIN_DIR") {
        return PathBuf::from(dir);
    }
    workspace_root().join("target").join("debug")
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The path of binary `name`; panics with the command that builds it when it is missing,
/// since every end-to-end test needs the real binaries.
#[track_caller]
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --workspace --bins` first (or set BERTH_BIN_DIR)",
        path.display()
    );
    path
}
