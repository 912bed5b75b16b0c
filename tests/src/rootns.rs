//! Looking at the root namespaces (read-only) to prove a sandbox left nothing there.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// What the root namespaces hold that a sandbox could leak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSnapshot {
    /// Link names in the root network namespace.
    pub links: BTreeSet<String>,
    /// Mount points of the test process's mount namespace (the root one).
    pub mounts: BTreeSet<String>,
    /// Live descendants of the test process (pid and command).
    pub descendants: BTreeSet<String>,
}

impl RootSnapshot {
    /// Reads links (`ip -o link`, read-only), mounts and descendant processes.
    pub fn take() -> Self {
        let out = Command::new("ip").args(["-o", "link"]).output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        Self {
            links: text.lines().filter_map(crate::state::link_name).collect(),
            mounts: mounts
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .map(String::from)
                .collect(),
            descendants: descendants(std::process::id())
                .into_iter()
                .map(|p| format!("{p} {}", crate::procs::comm(p).unwrap_or_default()))
                .collect(),
        }
    }
}

/// Every process whose ancestry includes `root` (excluding `root`), zombies included.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    for pid in all_pids() {
        if let Some(pp) = ppid(pid) {
            parent.insert(pid, pp);
        }
    }
    parent
        .keys()
        .copied()
        .filter(|&p| {
            let mut cur = p;
            // Bounded walk: pid chains are short, and a cycle would mean a racy read.
            for _ in 0..64 {
                match parent.get(&cur) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => cur = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

fn all_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The inode of `/proc/<pid>/ns/<kind>` (`net`, `mnt`, `pid`).
pub fn ns_inode(pid: u32, kind: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

/// Where namespace `kind:[ino]` is still referenced: any process's or thread's namespace
/// link, any open file descriptor, or an nsfs bind mount in the root mount namespace.
pub fn ns_users(kind: &str, ino: u64) -> Vec<String> {
    let want = format!("{kind}:[{ino}]");
    let mut users = Vec::new();
    for pid in all_pids() {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten();
        for t in tasks {
            let link = t.path().join("ns").join(kind);
            if std::fs::read_link(&link).is_ok_and(|l| l.to_string_lossy() == want) {
                users.push(link.display().to_string());
            }
        }
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten();
        for fd in fds {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == want) {
                users.push(fd.path().display().to_string());
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    users.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&want))
            .map(String::from),
    );
    users
}
