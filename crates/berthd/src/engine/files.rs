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
    nets: &[Network],
    host_mode: bool,
    links: &[(String, std::net::Ipv4Addr)],
    host_gateway: Option<std::net::Ipv4Addr>,
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
        hosts_file(c, endpoints, links, host_gateway)
    };
    let resolv = if host_mode {
        host_resolv
    } else if uses_embedded_dns(nets) {
        embedded_resolv_conf(&host_resolv, c)
    } else {
        resolv_conf(&host_resolv, c)
    };
    std::fs::write(&files.hosts, hosts)?;
    std::fs::write(&files.hostname, format!("{}\n", c.config.hostname))?;
    std::fs::write(&files.resolv, resolv)?;
    Ok(files)
}

/// localhost, legacy links, `--add-host` entries (`host-gateway` is the default bridge's
/// gateway, as in Docker), then one line per endpoint with the container's hostname.
pub fn hosts_file(
    c: &Container,
    endpoints: &[Endpoint],
    links: &[(String, std::net::Ipv4Addr)],
    host_gateway: Option<std::net::Ipv4Addr>,
) -> String {
    let mut s = LOCALHOST.to_string();
    for (names, ip) in links {
        let _ = writeln!(s, "{ip}\t{names}");
    }
    for h in &c.host_config.extra_hosts {
        if let Some((name, ip)) = h.split_once(':').or_else(|| h.split_once('=')) {
            let ip = match (ip, host_gateway) {
                ("host-gateway", Some(gw)) => gw.to_string(),
                _ => ip.to_string(),
            };
            let _ = writeln!(s, "{ip}\t{name}");
        }
    }
    let host = &c.config.hostname;
    let names = match host.split_once('.') {
        Some((short, _)) => format!("{host} {short}"),
        None => host.clone(),
    };
    for ep in endpoints {
        let _ = writeln!(s, "{}\t{names}", ep.ipv4);
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
    let search = clean_search(search);
    if !search.is_empty() {
        let _ = writeln!(out, "search {}", search.join(" "));
    }
    if !options.is_empty() {
        let _ = writeln!(out, "options {}", options.join(" "));
    }
    out
}

/// Containers on a user-defined bridge get the embedded resolver; the default bridge does not
/// (as in Docker).
pub fn uses_embedded_dns(nets: &[Network]) -> bool {
    nets.iter()
        .any(|n| n.driver.bridge().is_some() && !n.default_bridge)
}

/// `nameserver 127.0.0.11`, the search domains and options of the container or the host, and
/// `ndots:0` unless an ndots option is given.
pub fn embedded_resolv_conf(host: &str, c: &Container) -> String {
    let hc = &c.host_config;
    let mut search: Vec<String> = hc.dns_search.clone();
    let mut options: Vec<String> = hc.dns_options.clone();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("search") | Some("domain") if hc.dns_search.is_empty() => {
                search.extend(words.map(str::to_string))
            }
            Some("options") if hc.dns_options.is_empty() => {
                options.extend(words.map(str::to_string))
            }
            _ => {}
        }
    }
    if !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    let mut out = String::from("nameserver 127.0.0.11\n");
    let search = clean_search(search);
    if !search.is_empty() {
        let _ = writeln!(out, "search {}", search.join(" "));
    }
    let _ = writeln!(out, "options {}", options.join(" "));
    out
}

/// The servers names are forwarded to: the container's `--dns`, else the daemon's, else the
/// host's resolv.conf (loopback ones included: the resolver queries them from the host).
pub fn upstream_servers(
    host: &str,
    container_dns: &[String],
    daemon_dns: &[String],
) -> Vec<String> {
    if !container_dns.is_empty() {
        return container_dns.to_vec();
    }
    if !daemon_dns.is_empty() {
        return daemon_dns.to_vec();
    }
    host.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next().map(str::to_string))
                .flatten()
        })
        .collect()
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .map(|a| a.is_loopback())
        .unwrap_or(false)
}

/// The `search` list without `.` (which means "no search domains", as in Docker).
fn clean_search(search: Vec<String>) -> Vec<String> {
    search.into_iter().filter(|d| d != ".").collect()
}
