//! Helpers for what tests ask of containers and networks, through the `berth` CLI.

use std::time::Duration;

use serde_json::Value;

use crate::cmd::Out;
use crate::procs;
use crate::sandbox::Sandbox;

/// A shell snippet (busybox sh) that fetches `/` from `ip:port` over plain TCP. busybox
/// `wget` segfaults on these machines, so speak HTTP/1.0 through `nc`.
pub fn fetch_script(ip: &str, port: u16) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port}")
}

/// [`fetch_script`] for the sandbox host, whose `nc` is busybox's.
pub fn host_fetch_script(ip: &str, port: u16) -> String {
    fetch_script(ip, port).replace("| nc ", "| busybox nc ")
}

/// Retries `f` every 200 ms for at most `within`, returning the last result. For
/// positive checks that race a server's start, never for negative ones.
pub fn eventually(within: Duration, mut f: impl FnMut() -> Out, ok: impl Fn(&Out) -> bool) -> Out {
    let mut last = f();
    let start = std::time::Instant::now();
    while !ok(&last) && start.elapsed() < within {
        std::thread::sleep(Duration::from_millis(200));
        last = f();
    }
    last
}

impl Sandbox {
    /// `berth inspect <name>` parsed; the first object when the CLI prints an array.
    #[track_caller]
    pub fn inspect(&self, args: &[&str]) -> Value {
        let mut full = vec!["inspect"];
        full.extend_from_slice(args);
        let text = self.berth_ok(&full);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "`berth {}` did not print JSON ({e}):\n{text}",
                full.join(" ")
            )
        });
        match v {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        }
    }

    /// `berth network inspect <name>`, first object.
    #[track_caller]
    pub fn network_inspect(&self, name: &str) -> Value {
        let text = self.berth_ok(&["network", "inspect", name]);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("`berth network inspect {name}` is not JSON ({e}):\n{text}")
        });
        match v {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        }
    }

    /// The container's IPv4 address on `network` (from `berth inspect`).
    #[track_caller]
    pub fn container_ip(&self, container: &str, network: &str) -> String {
        let v = self.inspect(&[container]);
        let ip = &v["NetworkSettings"]["Networks"][network]["IPAddress"];
        match ip.as_str() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => panic!(
                "{container} has no IPAddress on {network}:\n{:#}",
                v["NetworkSettings"]
            ),
        }
    }

    /// The full id of a network.
    #[track_caller]
    pub fn network_id(&self, name: &str) -> String {
        let v = self.network_inspect(name);
        v["Id"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| panic!("{name} has no Id: {v:#}"))
    }

    /// The bridge interface of a user-defined network: `br-<first 12 of its id>`.
    #[track_caller]
    pub fn bridge_of(&self, network: &str) -> String {
        let id = self.network_id(network);
        format!("br-{}", &id[..12.min(id.len())])
    }

    /// `berth run -d args...`; returns the container id it prints.
    #[track_caller]
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut full = vec!["run", "-d"];
        full.extend_from_slice(args);
        self.berth_ok(&full).trim().to_string()
    }

    /// A one-shot `berth run --rm --network <net> busybox sh -c <script>`.
    pub fn run_rm(&self, network: &str, script: &str) -> Out {
        self.berth(&[
            "run",
            "--rm",
            "--network",
            network,
            "busybox",
            "sh",
            "-c",
            script,
        ])
    }

    /// Starts `busybox httpd` serving `body` on port 80 in a detached container.
    #[track_caller]
    pub fn run_httpd(&self, name: &str, network: &str, body: &str) -> String {
        let script = format!(
            "mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www"
        );
        self.run_d(&[
            "--name",
            name,
            "--network",
            network,
            "busybox",
            "sh",
            "-c",
            &script,
        ])
    }

    /// Fetches `/` from `ip:80` in a throwaway container on `network`, retrying for a
    /// few seconds while the server starts; returns the last attempt.
    pub fn fetch_from_container(&self, network: &str, ip: &str, expect: &str) -> Out {
        let script = fetch_script(ip, 80);
        eventually(
            Duration::from_secs(5),
            || self.run_rm(network, &script),
            |o| o.stdout.contains(expect),
        )
    }

    /// Fetches `/` from `ip:80` on the sandbox host itself, retrying like
    /// [`Sandbox::fetch_from_container`].
    pub fn fetch_from_host(&self, ip: &str, expect: &str) -> Out {
        let script = host_fetch_script(ip, 80);
        eventually(
            Duration::from_secs(5),
            || self.sh(&script),
            |o| o.stdout.contains(expect),
        )
    }

    /// Interface names inside the sandbox host.
    #[track_caller]
    pub fn host_links(&self) -> Vec<String> {
        let out = self.sh_ok("ip -o link");
        out.lines().filter_map(crate::state::link_name).collect()
    }

    /// Waits (bounded) until a process with pid `pid` (sandbox numbering) is gone.
    pub fn wait_gone(&self, pid: &str, within: Duration) -> bool {
        procs::poll(within, || {
            (!self.sh(&format!("kill -0 {pid} 2>/dev/null")).success()).then_some(())
        })
        .is_some()
    }
}
