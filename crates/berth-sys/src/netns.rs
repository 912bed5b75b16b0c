//! Network namespaces: created on a dedicated thread, bind-mounted onto a file so they outlive
//! any process, released by unmounting.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use crate::{sysctl, Result, SysError};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `NS_GET_NSTYPE` from linux/nsfs.h: `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Sysctls written in every namespace we create, so container interfaces get no IPv6 (attach
/// stays flat: no neighbour discovery or MLD traffic per interface).
const IPV6_OFF: [&str; 2] = [
    "net.ipv6.conf.all.disable_ipv6",
    "net.ipv6.conf.default.disable_ipv6",
];

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
    pub fn create_bound(path: &Path) -> Result<NetNs> {
        let target = path.to_path_buf();
        let file = on_thread(move || bind_new_netns(&target))??;
        Ok(NetNs {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Opens an existing bound namespace.
    pub fn open(path: &Path) -> Result<NetNs> {
        let file = File::open(path).map_err(|source| SysError::Io {
            op: format!("opening network namespace {}", path.display()),
            source,
        })?;
        check_is_netns(&file, path)?;
        Ok(NetNs {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The namespace of the calling thread (`/proc/thread-self/ns/net`). `path` names it by
    /// process and thread id, so it stays meaningful when handed to another thread.
    pub fn current() -> Result<NetNs> {
        let path = PathBuf::from(format!(
            "/proc/{}/task/{}/ns/net",
            std::process::id(),
            nix::unistd::gettid()
        ));
        let file = File::open(&path).map_err(|source| SysError::Io {
            op: format!("opening the current network namespace {}", path.display()),
            source,
        })?;
        Ok(NetNs { path, file })
    }

    /// Runs `f` on a fresh thread that has entered this namespace, and returns its result.
    /// A panic in `f` is resumed on the calling thread.
    pub fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let file = &self.file;
        let path = &self.path;
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new()
                .name("berth-netns".into())
                .spawn_scoped(scope, move || {
                    setns(file, CloneFlags::CLONE_NEWNET).map_err(|source| SysError::Errno {
                        op: format!("entering network namespace {}", path.display()),
                        source,
                    })?;
                    Ok(f())
                })
                .map_err(|source| SysError::Io {
                    op: "spawning a thread to enter a network namespace".into(),
                    source,
                })?;
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// Unmounts (MNT_DETACH) and removes the bind file. The kernel frees the namespace (and the
/// veth in it) in the background once nothing holds it. Missing path: Ok.
pub fn release(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point (a leftover file); ENOENT: already gone.
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(source) => {
            return Err(SysError::Errno {
                op: format!("unmounting network namespace {}", path.display()),
                source,
            })
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SysError::Io {
            op: format!("removing network namespace file {}", path.display()),
            source,
        }),
    }
}

/// Runs `f` on a new thread (whose namespaces `f` may change freely: they die with it).
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let handle = std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(f)
        .map_err(|source| SysError::Io {
            op: "spawning a thread for a new network namespace".into(),
            source,
        })?;
    Ok(handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

/// On a throwaway thread: unshare a network namespace, turn IPv6 off in it, bind it on `path`.
fn bind_new_netns(path: &Path) -> Result<File> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|source| SysError::Errno {
        op: format!("unshare(CLONE_NEWNET) for {}", path.display()),
        source,
    })?;
    // Through a procfs of our own when possible: its cost does not grow with the number of
    // namespaces on the host (see `sysctl::PrivateProc`).
    let private = sysctl::PrivateProc::new();
    for key in IPV6_OFF {
        let set = match &private {
            Some(p) => p.set(key, "1"),
            None => sysctl::set(key, "1"),
        };
        match set {
            Ok(()) => {}
            // IPv6 not available in this kernel: nothing to disable.
            Err(SysError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| SysError::Io {
            op: format!(
                "creating network namespace file {} (release it first if it is stale)",
                path.display()
            ),
            source,
        })?;
    let bound = mount(
        Some("/proc/thread-self/ns/net"),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    );
    if let Err(source) = bound {
        let _ = std::fs::remove_file(path);
        return Err(SysError::Errno {
            op: format!("bind-mounting a network namespace on {}", path.display()),
            source,
        });
    }
    File::open(path).map_err(|source| {
        let _ = release(path);
        SysError::Io {
            op: format!("opening the new network namespace {}", path.display()),
            source,
        }
    })
}

/// Refuses files that are not network namespaces (e.g. a bind file whose mount is gone).
fn check_is_netns(file: &File, path: &Path) -> Result<()> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd's inode.
    let kind = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    if kind == libc::CLONE_NEWNET {
        return Ok(());
    }
    let (why, source) = if kind < 0 {
        ("not a namespace".to_string(), Errno::last())
    } else {
        (
            format!("a namespace of another type ({kind:#x})"),
            Errno::EINVAL,
        )
    };
    Err(SysError::Errno {
        op: format!(
            "{} is {why}: is it bind-mounted? (create it with NetNs::create_bound)",
            path.display()
        ),
        source,
    })
}

/// A mount namespace to start containers from: a copy of the caller's, made now, that later
/// receives the host's new mounts (it is their slave) but not what gets mounted under
/// `private_dir` (made a private mount of its own first: the daemon binds one network
/// namespace per container there). A container's mount namespace is a copy of the one its
/// process starts in, and copying costs in proportion to that mount table: from this one it
/// stays the same however many containers run. The returned file keeps it alive.
pub fn mount_template(private_dir: &Path) -> Result<File> {
    make_private_mount(private_dir)?;
    on_thread(|| -> Result<File> {
        let op = |what: &str, source| SysError::Errno {
            op: format!("{what} for the containers' template mount namespace"),
            source,
        };
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| op("unshare(CLONE_NEWNS)", e))?;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| op("making / a slave", e))?;
        File::open("/proc/thread-self/ns/mnt").map_err(|source| SysError::Io {
            op: "opening the template mount namespace".into(),
            source,
        })
    })?
}

/// Makes `dir` a mount point of its own (a recursive bind onto itself, unless it is one
/// already) and private, so nothing mounted under it propagates to other namespaces.
fn make_private_mount(dir: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let target = dir.to_string_lossy();
    let is_mount_point = mountinfo
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_ref()));
    let op = |what: &str, source| SysError::Errno {
        op: format!("{what} {}", dir.display()),
        source,
    };
    if !is_mount_point {
        mount(
            Some(dir),
            dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| op("bind-mounting onto itself", e))?;
    }
    mount(
        None::<&str>,
        dir,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| op("making private", e))
}
