//! Network namespaces: created on a dedicated thread, bind-mounted onto a file so they outlive
//! any process, released by unmounting.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use std::fs::File;
use std::path::{Path, PathBuf};

/// An open handle on a network namespace (keeps it alive while open).
#[derive(Debug)]
pub struct NetNs {
    pub path: PathBuf,
    pub file: File,
}

impl NetNs {
    /// Creates a new network namespace and bind-mounts it on `path` (the file is created; its
    /// directory must exist and must be on a mount with private propagation, or the mount
    /// point handled by the caller). In the new namespace, before returning: `lo` is left
    /// down (configure brings it up), IPv6 is disabled (`net.ipv6.conf.{all,default}.disable_ipv6=1`)
    /// so attach stays flat. On any failure nothing is left (no file, no mount).
    pub fn create_bound(_path: &Path) -> crate::Result<NetNs> {
        todo!()
    }

    /// Opens an existing bound namespace.
    pub fn open(_path: &Path) -> crate::Result<NetNs> {
        todo!()
    }

    /// The namespace of the calling thread (`/proc/thread-self/ns/net`).
    pub fn current() -> crate::Result<NetNs> {
        todo!()
    }

    /// Runs `f` on a fresh thread that has entered this namespace, and returns its result.
    pub fn run_in<T: Send + 'static>(
        &self,
        _f: impl FnOnce() -> T + Send + 'static,
    ) -> crate::Result<T> {
        todo!()
    }
}

/// Unmounts (MNT_DETACH) and removes the bind file. The kernel frees the namespace (and the
/// veth in it) in the background once nothing holds it. Missing path: Ok.
pub fn release(_path: &Path) -> crate::Result<()> {
    todo!()
}
