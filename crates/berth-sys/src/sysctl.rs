//! sysctls of the calling thread's network namespace.
//!
//! `/proc/sys/net` resolves against the namespace of the thread that opens the file, so call
//! these from a thread inside the namespace (see `NetNs::run_in`).

use crate::{Result, SysError};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// Writes `value` to `/proc/sys/<key with dots as slashes>`, e.g. `net.ipv4.ip_forward`.
/// A key containing `/` is taken as a path under `/proc/sys` as is (for interface names with
/// dots, e.g. `net/ipv4/conf/eth0.100/forwarding`), like sysctl(8).
pub fn set(key: &str, value: &str) -> Result<()> {
    let path = proc_path(key);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| SysError::Io {
            op: format!("setting sysctl {key}={value} ({})", path.display()),
            source,
        })
}

/// Reads a sysctl (same key forms as `set`), without the trailing newline.
pub fn get(key: &str) -> Result<String> {
    let path = proc_path(key);
    std::fs::read_to_string(&path)
        .map(|s| s.trim_end_matches('\n').to_string())
        .map_err(|source| SysError::Io {
            op: format!("reading sysctl {key} ({})", path.display()),
            source,
        })
}

/// A procfs instance of our own, mounted nowhere (`fsopen`/`fsmount`: no mount namespace is
/// touched), for setting sysctls of a network namespace that was just created.
///
/// Through the host's `/proc`, `/proc/sys/net` is one dentry per network namespace under one
/// parent, all with the same name: every lookup compares against each of them, so a sysctl
/// write costs in proportion to the number of namespaces (containers) on the host. A fresh
/// instance holds only the dentries looked up through it, so the cost stays flat.
pub struct PrivateProc(OwnedFd);

/// From linux/mount.h (not in every libc release).
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

impl PrivateProc {
    /// `None` where the kernel lacks the new mount API or refuses a procfs instance: callers
    /// then use `set`.
    pub fn new() -> Option<Self> {
        // SAFETY: plain syscalls with valid, NUL-terminated strings and null pointers where
        // the kernel takes none; each returned descriptor is owned exactly once.
        unsafe {
            let fs = libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC);
            if fs < 0 {
                return None;
            }
            let fs = OwnedFd::from_raw_fd(fs as RawFd);
            let null = std::ptr::null::<libc::c_char>();
            let created = libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                null,
                null,
                0,
            );
            if created < 0 {
                return None;
            }
            let mnt = libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0);
            if mnt < 0 {
                return None;
            }
            Some(PrivateProc(OwnedFd::from_raw_fd(mnt as RawFd)))
        }
    }

    /// `set`, through this instance (same key forms).
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        let rel = proc_path(key);
        let rel = rel.strip_prefix("/proc").unwrap_or(&rel);
        let op = || {
            format!(
                "setting sysctl {key}={value} (private procfs {})",
                rel.display()
            )
        };
        let path = std::ffi::CString::new(rel.as_os_str().as_encoded_bytes()).map_err(|e| {
            SysError::Io {
                op: op(),
                source: std::io::Error::other(e),
            }
        })?;
        // SAFETY: a valid directory descriptor and NUL-terminated relative path; the result is
        // owned once.
        let fd = unsafe {
            libc::openat(
                self.0.as_raw_fd(),
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(SysError::Io {
                op: op(),
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `fd` was just returned by openat and is owned here only.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        file.write_all(value.as_bytes())
            .map_err(|source| SysError::Io { op: op(), source })
    }
}

fn proc_path(key: &str) -> PathBuf {
    let rel = if key.contains('/') {
        key.trim_start_matches('/').to_string()
    } else {
        key.replace('.', "/")
    };
    PathBuf::from("/proc/sys").join(rel)
}

#[cfg(test)]
mod tests {
    use super::proc_path;

    #[test]
    fn dotted_and_slashed_keys() {
        assert_eq!(
            proc_path("net.ipv4.ip_forward").to_str(),
            Some("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            proc_path("net/ipv4/conf/eth0.100/forwarding").to_str(),
            Some("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
    }

    #[test]
    fn reads_a_sysctl_and_reports_a_missing_one() {
        // Reading touches no state; any kernel has this key.
        assert!(!super::get("kernel.ostype").unwrap().is_empty());
        let err = super::get("net.no_such_key_berth").unwrap_err().to_string();
        assert!(err.contains("net.no_such_key_berth"), "{err}");
    }
}
