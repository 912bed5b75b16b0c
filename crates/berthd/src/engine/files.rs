//! The files a container sees in /etc: hosts, hostname, resolv.conf.

use crate::error::Result;
use crate::model::{Container, Endpoint, Network};
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub struct EtcFiles {
    pub hosts: PathBuf,
    pub hostname: PathBuf,
    pub resolv: PathBuf,
}

const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

pub fn write_etc_files(
    bundle: &Path,
    c: &Container,
    endpoints: &[Endpoint],
    _nets: &[Network],
    host_mode: bool,
    links: &[(String, std::net::Ipv4Addr)],
) -> Result<EtcFiles> {
    std::fs::create_dir_all(bundle)?;
    let files = EtcFiles {
        hosts: bundle.join("hosts"),
        hostname: bundle.join("hostname"),
        resolv: bundle.join("resolv.conf"),
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let hosts = if host_mode {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| LOCALHOST.to_string())
    } else {
        hosts_file(c, endpoints, links)
    };
    let resolv = if host_mode {
        host_resolv
    } else {
        resolv_conf(&host_resolv, c)
    };
    std::fs::write(&files.hosts, hosts)?;
    std::fs::write(&files.hostname, format!("{}\n", c.config.hostname))?;
    std::fs::write(&files.resolv, resolv)?;
    Ok(files)
}

fn hosts_file(
    c: &Container,
    endpoints: &[Endpoint],
    links: &[(String, std::net::Ipv4Addr)],
) -> String {
    let mut s = LOCALHOST.to_string();
    for (names, ip) in links {
        let _ = writeln!(s, "{ip}\t{names}");
    }
    for h in &c.host_config.extra_hosts {
        if let Some((name, ip)) = h.split_once(':').or_else(|| h.split_once('=')) {
            let _ = writeln!(s, "{ip}\t{name}");
        }
    }
    if let Some(ep) = endpoints.first() {
        let _ = writeln!(s, "{}\t{}", ep.ipv4, c.config.hostname);
    }
    s
}

/// The host's resolv.conf without loopback nameservers (unreachable from the container),
/// with the container's own --dns, --dns-search and --dns-option taking precedence.
pub fn resolv_conf(host: &str, c: &Container) -> String {
    let hc = &c.host_config;
    let mut out = String::new();
    let mut servers: Vec<String> = hc.dns.clone();
    let mut search: Vec<String> = hc.dns_search.clone();
    let mut options: Vec<String> = hc.dns_options.clone();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") if hc.dns.is_empty() => {
                if let Some(ip) = words.next() {
                    if !is_loopback(ip) {
                        servers.push(ip.to_string());
                    }
                }
            }
            Some("search") | Some("domain") if hc.dns_search.is_empty() => {
                search.extend(words.map(str::to_string))
            }
            Some("options") if hc.dns_options.is_empty() => {
                options.extend(words.map(str::to_string))
            }
            _ => {}
        }
    }
    for s in servers {
        let _ = writeln!(out, "nameserver {s}");
    }
    if !search.is_empty() {
        let _ = writeln!(out, "search {}", search.join(" "));
    }
    if !options.is_empty() {
        let _ = writeln!(out, "options {}", options.join(" "));
    }
    out
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .map(|a| a.is_loopback())
        .unwrap_or(false)
}
