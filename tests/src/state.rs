//! Snapshots of what berthd made on a sandbox host, to show a failed or undone request
//! left nothing behind.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::sandbox::Sandbox;

/// Everything a request could leave behind on the sandbox host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    /// Link names (`ip -o link`; veth `@peer` suffixes dropped).
    pub links: BTreeSet<String>,
    /// `dev address/prefix` pairs (`ip -o addr`).
    pub addrs: BTreeSet<String>,
    /// IPv4 routes of every table.
    pub routes: BTreeSet<String>,
    /// `nft list table inet berth`, counters dropped, set elements sorted.
    pub nft: BTreeSet<String>,
    /// Mount points in berthd's mount namespace.
    pub mounts: BTreeSet<String>,
    /// Files under the data and exec roots (SQLite side files excluded).
    pub files: BTreeSet<String>,
    /// `name id` of every network the API lists.
    pub networks: BTreeSet<String>,
    /// `names id` of every container the API lists (`all=1`).
    pub containers: BTreeSet<String>,
}

impl Sandbox {
    /// Takes a [`HostState`]; panics if the sandbox cannot be inspected.
    #[track_caller]
    pub fn state(&self) -> HostState {
        HostState {
            links: self
                .lines("ip -o link")
                .iter()
                .filter_map(|l| link_name(l))
                .collect(),
            // IPv6 link-local addresses come and go on the kernel's own schedule.
            addrs: self
                .lines("ip -o addr")
                .iter()
                .filter_map(|l| addr_of(l))
                .filter(|a| !a.contains(" fe80:"))
                .collect(),
            // "linkdown" follows a bridge's carrier (whether it has ports), not config.
            routes: self
                .lines("ip -4 route show table all")
                .iter()
                .map(|r| r.replace(" linkdown", ""))
                .collect(),
            nft: normalize_nft(&self.sh("nft list table inet berth 2>/dev/null").stdout),
            mounts: self.mount_points(),
            files: self.files(),
            networks: self.api_names("/networks", "Name", "Id"),
            containers: self.api_names("/containers/json?all=1", "Names", "Id"),
        }
    }

    #[track_caller]
    fn lines(&self, cmd: &str) -> Vec<String> {
        self.sh_ok(cmd)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// Mount points of berthd's mount namespace (or the sandbox's, if berthd is down).
    pub fn mount_points(&self) -> BTreeSet<String> {
        let pid = self.daemon_pid().or(self.init_pid.as_ref().copied());
        let path = pid.map(|p| format!("/proc/{p}/mountinfo"));
        let text = path
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(String::from)
            .collect()
    }

    /// Relative paths of every file and directory under the data and exec roots.
    pub fn files(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (tag, root) in [("data", self.data_root()), ("exec", self.exec_root())] {
            let base = self.inside(&root);
            walk(&base, &base, tag, &mut out);
        }
        out
    }

    fn api_names(&self, path: &str, name: &str, id: &str) -> BTreeSet<String> {
        let Ok(serde_json::Value::Array(items)) = self.api_json(path) else {
            return BTreeSet::from([format!("(GET {path} failed)")]);
        };
        items
            .iter()
            .map(|i| format!("{} {}", i[name], i[id].as_str().unwrap_or("")))
            .collect()
    }
}

impl HostState {
    /// Panics listing every difference from `other`, labelled with `what`.
    #[track_caller]
    pub fn assert_same(&self, other: &HostState, what: &str) {
        let diff = self.diff(other);
        assert!(diff.is_empty(), "{what}: the host changed:\n{diff}");
    }

    /// Human-readable differences, `-` for gone and `+` for new; empty when equal.
    pub fn diff(&self, other: &HostState) -> String {
        let mut s = String::new();
        let pairs = [
            ("links", &self.links, &other.links),
            ("addresses", &self.addrs, &other.addrs),
            ("routes", &self.routes, &other.routes),
            ("nft table inet berth", &self.nft, &other.nft),
            ("mounts", &self.mounts, &other.mounts),
            ("files", &self.files, &other.files),
            ("networks", &self.networks, &other.networks),
            ("containers", &self.containers, &other.containers),
        ];
        for (name, a, b) in pairs {
            for gone in a.difference(b) {
                let _ = writeln!(s, "{name}: - {gone}");
            }
            for new in b.difference(a) {
                let _ = writeln!(s, "{name}: + {new}");
            }
        }
        s
    }
}

fn walk(base: &Path, dir: &Path, tag: &str, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        // SQLite creates and drops these on its own schedule.
        if ["-wal", "-shm", "-journal"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            continue;
        }
        let rel = path
            .strip_prefix(base)
            .unwrap_or(&path)
            .display()
            .to_string();
        out.insert(format!("{tag}/{rel}"));
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        // Container root filesystems are large and never expected to survive a failure:
        // their top directory is enough.
        if is_dir && rel.matches('/').count() < 4 {
            walk(base, &path, tag, out);
        }
    }
}

/// `3: veth12ab@if2: <...>` → `veth12ab`.
pub fn link_name(line: &str) -> Option<String> {
    let name = line.split(':').nth(1)?.trim();
    Some(name.split('@').next().unwrap_or(name).to_string())
}

/// `2: eth0 inet 10.0.0.2/24 brd ...` → `eth0 10.0.0.2/24`.
pub fn addr_of(line: &str) -> Option<String> {
    let mut w = line.split_whitespace().skip(1);
    let dev = w.next()?;
    let _family = w.next()?;
    Some(format!("{dev} {}", w.next()?))
}

/// Makes a listing comparable: drops counters, and turns each rule, chain header and
/// set element into one item (element order in `nft` output is not stable).
pub fn normalize_nft(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut words: Vec<&str> = Vec::new();
    let mut context = String::new();
    let mut in_elements = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("elements = {") {
            in_elements = true;
        }
        if in_elements {
            let inner = line
                .trim_start_matches("elements = {")
                .trim_end_matches('}');
            for el in inner.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                out.insert(format!("{context} element {el}"));
            }
            in_elements = !line.ends_with('}');
            continue;
        }
        if line.ends_with('{') {
            context = line.trim_end_matches('{').trim().to_string();
        }
        words.clear();
        let mut it = line.split_whitespace().peekable();
        while let Some(w) = it.next() {
            // "packets 12 bytes 900": traffic, not configuration.
            if (w == "packets" || w == "bytes")
                && it.peek().is_some_and(|n| n.parse::<u64>().is_ok())
            {
                it.next();
                continue;
            }
            words.push(w);
        }
        if !words.is_empty() {
            out.insert(format!("{context} | {}", words.join(" ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_normalization_ignores_counters_and_element_order() {
        let a = "table inet berth {\n set nets {\n type ipv4_addr\n elements = { 10.0.0.0/24,\n 10.1.0.0/24 }\n }\n chain fwd {\n counter packets 3 bytes 200 accept\n }\n}\n";
        let b = "table inet berth {\n set nets {\n type ipv4_addr\n elements = { 10.1.0.0/24, 10.0.0.0/24 }\n }\n chain fwd {\n counter packets 0 bytes 0 accept\n }\n}\n";
        assert_eq!(normalize_nft(a), normalize_nft(b));
        let c = b.replace("10.1.0.0/24, ", "");
        assert_ne!(normalize_nft(a), normalize_nft(&c));
    }

    #[test]
    fn parses_ip_lines() {
        let l = "5: veth1a2b3c@if2: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master berth0";
        assert_eq!(link_name(l).as_deref(), Some("veth1a2b3c"));
        let a = "3: berth0 inet 172.17.0.1/16 brd 172.17.255.255 scope global berth0";
        assert_eq!(addr_of(a).as_deref(), Some("berth0 172.17.0.1/16"));
    }
}
