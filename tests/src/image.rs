//! The busybox image tarball, built once per test binary run.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::bins::workspace_root;
use crate::cmd;

static BUSYBOX_TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Path of a busybox rootfs tar made by `scripts/busybox-image.sh` under
/// `target/berth-tests/`; panics with the script's output if it fails.
#[track_caller]
pub fn busybox_tar() -> PathBuf {
    let built = BUSYBOX_TAR.get_or_init(build);
    match built {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn build() -> Result<PathBuf, String> {
    let root = workspace_root();
    let dir = root.join("target").join("berth-tests");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    // One file per process: test binaries may run at the same time.
    let out = dir.join(format!("busybox-{}.tar", std::process::id()));
    let mut c = Command::new(root.join("scripts").join("busybox-image.sh"));
    c.arg(&out);
    let res = cmd::run(c, Duration::from_secs(120));
    if !res.success() {
        return Err(format!("building the busybox image failed:\n{res}"));
    }
    let stable = dir.join("busybox.tar");
    std::fs::rename(&out, &stable).map_err(|e| format!("rename to {}: {e}", stable.display()))?;
    Ok(stable)
}
