//! sysctls of the calling thread's network namespace.
//!
//! `/proc/sys/net` resolves against the namespace of the thread that opens the file, so call
//! these from a thread inside the namespace (see `NetNs::run_in`).

use crate::{Result, SysError};
use std::io::Write;
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
