//! Paths inside the container's root, resolved with `openat2(RESOLVE_IN_ROOT)`: an image's
//! symlinks (e.g. `/etc -> /`) can never make us create or mount over host files.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT)
}

/// Opens `rel` (a relative path like `dev/pts`) under `root` as an `O_PATH` handle.
pub fn open(root: &OwnedFd, rel: &str, dir: bool) -> nix::Result<OwnedFd> {
    let flags = if dir {
        OFlag::O_PATH | OFlag::O_DIRECTORY
    } else {
        OFlag::O_PATH
    };
    openat2(root.as_fd(), rel.trim_start_matches('/'), how(flags))
}

/// `mkdir -p` of `rel` under `root`, then an `O_PATH` handle to it.
pub fn dir(root: &OwnedFd, rel: &str, mode: u32) -> nix::Result<OwnedFd> {
    let rel = rel.trim_start_matches('/');
    let mut done = String::new();
    for part in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let parent = if done.is_empty() {
            root.try_clone().map_err(|_| Errno::EBADF)?
        } else {
            open(root, &done, true)?
        };
        match mkdirat(parent.as_fd(), part, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        if !done.is_empty() {
            done.push('/');
        }
        done.push_str(part);
    }
    if done.is_empty() {
        return root.try_clone().map_err(|_| Errno::EBADF);
    }
    open(root, &done, true)
}

/// An existing or newly created (empty) file at `rel` under `root`, as an `O_PATH` handle.
pub fn file(root: &OwnedFd, rel: &str) -> nix::Result<OwnedFd> {
    match open(root, rel, false) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let path = Path::new(rel.trim_start_matches('/'));
    let parent = path.parent().and_then(Path::to_str).unwrap_or("");
    let name = path.file_name().ok_or(Errno::EINVAL)?;
    let parent = dir(root, parent, 0o755)?;
    let created = openat(
        parent.as_fd(),
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    drop(created);
    open(root, rel, false)
}

/// A path naming the object behind `fd`, usable as a mount source or target.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}
