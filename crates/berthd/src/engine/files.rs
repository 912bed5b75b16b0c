//! The files a container sees in /etc: hosts, hostname, resolv.conf.

use crate::error::Result;
use crate::model::{Container, Endpoint, Network};
use berth_dns::UpstreamOrigin;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// The daemon's settings for containers' /etc files (dockerd's `dns`, `dns-search`,
/// `dns-opt` and `host-gateway-ip`). A container's own `--dns`, `--dns-search` and
/// `--dns-option` win over them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcDefaults {
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// What `host-gateway` in `--add-host` maps to; empty: the default bridge's gateway.
    pub host_gateway: Vec<IpAddr>,
}

pub struct EtcFiles {
    pub hosts: PathBuf,
    pub hostname: PathBuf,
    pub resolv: PathBuf,
}

const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// What a container's /etc files are made of, besides the container itself.
pub struct EtcSources<'a> {
    pub endpoints: &'a [Endpoint],
    pub nets: &'a [Network],
    /// `--network host`: the host's own hosts and resolv.conf.
    pub host_mode: bool,
    /// Legacy link lines: names, address.
    pub links: &'a [(String, Ipv4Addr)],
    /// The default bridge's gateway (`host-gateway` without `--host-gateway-ip`).
    pub host_gateway: Option<Ipv4Addr>,
    pub defaults: &'a EtcDefaults,
}

pub fn write_etc_files(bundle: &Path, c: &Container, src: &EtcSources) -> Result<EtcFiles> {
    std::fs::create_dir_all(bundle)?;
    let files = EtcFiles {
        hosts: bundle.join("hosts"),
        hostname: bundle.join("hostname"),
        resolv: bundle.join("resolv.conf"),
    };
    let d = src.defaults;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    // In host mode the host's own file, unless `--add-host` entries are asked for: then,
    // as Docker does, localhost and those entries (the container has no address of its own).
    let hosts = if src.host_mode && c.host_config.extra_hosts.is_empty() {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| LOCALHOST.to_string())
    } else if src.host_mode {
        hosts_file(c, &[], &[], src.host_gateway, d)
    } else {
        hosts_file(c, src.endpoints, src.links, src.host_gateway, d)
    };
    let resolv = if src.host_mode {
        host_resolv
    } else if uses_embedded_dns(src.nets) {
        embedded_resolv_conf(&host_resolv, c, d)
    } else {
        resolv_conf(&host_resolv, c, d)
    };
    std::fs::write(&files.hosts, hosts)?;
    std::fs::write(&files.hostname, format!("{}\n", c.config.hostname))?;
    std::fs::write(&files.resolv, resolv)?;
    Ok(files)
}

/// localhost, legacy links, `--add-host` entries (`host-gateway` is the daemon's
/// `--host-gateway-ip` addresses, else the default bridge's gateway, as in Docker), then one
/// line per endpoint with the container's names.
pub fn hosts_file(
    c: &Container,
    endpoints: &[Endpoint],
    links: &[(String, Ipv4Addr)],
    default_gateway: Option<Ipv4Addr>,
    defaults: &EtcDefaults,
) -> String {
    let mut s = LOCALHOST.to_string();
    for (names, ip) in links {
        let _ = writeln!(s, "{ip}\t{names}");
    }
    let gateways: Vec<IpAddr> = if defaults.host_gateway.is_empty() {
        default_gateway.into_iter().map(IpAddr::V4).collect()
    } else {
        defaults.host_gateway.clone()
    };
    for h in &c.host_config.extra_hosts {
        if let Some((name, ip)) = h.split_once(':').or_else(|| h.split_once('=')) {
            if ip == "host-gateway" && !gateways.is_empty() {
                for gw in &gateways {
                    let _ = writeln!(s, "{gw}\t{name}");
                }
            } else {
                let _ = writeln!(s, "{ip}\t{name}");
            }
        }
    }
    let names = own_names(&c.config.hostname, &c.config.domainname);
    for ep in endpoints {
        let _ = writeln!(s, "{}\t{names}", ep.ipv4);
    }
    s
}

/// The names of a container's own lines: the full name (hostname, then `.domainname` when
/// it has one), then the hostname's part before its first dot when that differs (Docker's
/// form: `h1.example.org h1`).
pub fn own_names(hostname: &str, domainname: &str) -> String {
    let full = if domainname.is_empty() {
        hostname.to_string()
    } else {
        format!("{hostname}.{domainname}")
    };
    let short = hostname.split('.').next().unwrap_or(hostname);
    if full == short {
        full
    } else {
        format!("{full} {short}")
    }
}

/// What a resolv.conf holds, from the container's settings, else the daemon's, else the host's.
#[derive(Debug, Default, PartialEq, Eq)]
struct InEffect {
    servers: Vec<String>,
    search: Vec<String>,
    options: Vec<String>,
}

fn in_effect(host: &str, c: &Container, d: &EtcDefaults) -> InEffect {
    let hc = &c.host_config;
    let pick = |own: &Vec<String>, daemon: &Vec<String>| {
        if own.is_empty() {
            daemon.clone()
        } else {
            own.clone()
        }
    };
    let mut out = InEffect {
        servers: pick(&hc.dns, &d.dns),
        search: pick(&hc.dns_search, &d.dns_search),
        options: pick(&hc.dns_options, &d.dns_options),
    };
    let (from_host_servers, from_host_search, from_host_options) = (
        out.servers.is_empty(),
        out.search.is_empty(),
        out.options.is_empty(),
    );
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") if from_host_servers => {
                out.servers.extend(words.next().map(str::to_string))
            }
            // As in glibc and Docker, the last `search` or `domain` line wins.
            Some("search") | Some("domain") if from_host_search => {
                out.search = words.map(str::to_string).collect()
            }
            Some("options") if from_host_options => out.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    out.search = clean_search(out.search);
    out
}

/// resolv.conf for a container without the embedded resolver: its `--dns`, else the
/// daemon's, else the host's IPv4 servers without loopback ones (unreachable from the
/// container; as Docker, which also drops IPv6 ones on a network without IPv6, and lines that
/// are not addresses), and the search domains and options in effect.
pub fn resolv_conf(host: &str, c: &Container, d: &EtcDefaults) -> String {
    let from_host = c.host_config.dns.is_empty() && d.dns.is_empty();
    let usable = |s: &&String| {
        !from_host
            || s.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| !a.is_loopback())
    };
    let e = in_effect(host, c, d);
    let mut out = String::new();
    for s in e.servers.iter().filter(usable) {
        let _ = writeln!(out, "nameserver {s}");
    }
    if !e.search.is_empty() {
        let _ = writeln!(out, "search {}", e.search.join(" "));
    }
    if !e.options.is_empty() {
        let _ = writeln!(out, "options {}", e.options.join(" "));
    }
    out
}

/// Containers on a user-defined bridge get the embedded resolver; the default bridge does not
/// (as in Docker).
pub fn uses_embedded_dns(nets: &[Network]) -> bool {
    nets.iter()
        .any(|n| n.driver.bridge().is_some() && !n.default_bridge)
}

/// `nameserver 127.0.0.11`, the search domains and options in effect, and `ndots:0` unless
/// they set a valid ndots (invalid ones are dropped).
pub fn embedded_resolv_conf(host: &str, c: &Container, d: &EtcDefaults) -> String {
    let e = in_effect(host, c, d);
    let mut options: Vec<String> = e
        .options
        .into_iter()
        .filter(|o| {
            o.strip_prefix("ndots:")
                .is_none_or(|n| n.parse::<u32>().is_ok())
        })
        .collect();
    if !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    let mut out = String::from("nameserver 127.0.0.11\n");
    if !e.search.is_empty() {
        let _ = writeln!(out, "search {}", e.search.join(" "));
    }
    let _ = writeln!(out, "options {}", options.join(" "));
    out
}

/// The valid `ndots` of the options in effect (the last one wins, as in glibc), if any.
pub fn ndots_in_effect(host: &str, c: &Container, d: &EtcDefaults) -> Option<u32> {
    in_effect(host, c, d)
        .options
        .iter()
        .filter_map(|o| o.strip_prefix("ndots:")?.parse::<u32>().ok())
        .next_back()
}

/// The servers names are forwarded to, and where they came from: the container's `--dns`,
/// else the daemon's, else the host's resolv.conf (loopback ones included: the resolver
/// queries those from the daemon's namespace). `127.0.0.11` given with `--dns` is the
/// resolver itself and is skipped, as in Docker (with nothing left, nothing is forwarded).
pub fn upstream_servers(
    host: &str,
    container_dns: &[String],
    daemon_dns: &[String],
) -> (Vec<String>, UpstreamOrigin) {
    let configured = if container_dns.is_empty() {
        daemon_dns
    } else {
        container_dns
    };
    if !configured.is_empty() {
        let servers = configured
            .iter()
            .filter(|s| s.parse::<IpAddr>().ok() != Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11))))
            .cloned()
            .collect();
        return (servers, UpstreamOrigin::Configured);
    }
    let servers = host
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next().map(str::to_string))
                .flatten()
        })
        .collect();
    (servers, UpstreamOrigin::HostResolvConf)
}

/// The `search` list without `.` (which means "no search domains", as in Docker).
fn clean_search(search: Vec<String>) -> Vec<String> {
    search.into_iter().filter(|d| d != ".").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerConfig, HostConfig, State};
    use berth_core::id::{Name, ObjectId};

    const HOST: &str = "nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch host.test\n\
                        options ndots:3 timeout:2\n";

    fn container(hostname: &str, domainname: &str, hc: HostConfig) -> Container {
        Container {
            id: ObjectId::generate(),
            name: Name::try_from("c1").unwrap(),
            created: String::new(),
            config: ContainerConfig {
                hostname: hostname.into(),
                domainname: domainname.into(),
                ..Default::default()
            },
            host_config: hc,
            networks: Vec::new(),
            state: State::default(),
            endpoints: Vec::new(),
            sandbox: None,
            published: Vec::new(),
        }
    }

    fn endpoint(ip: [u8; 4]) -> Endpoint {
        Endpoint {
            id: ObjectId::generate(),
            network: ObjectId::generate(),
            ifname: "eth0".into(),
            host_ifname: "veth0".into(),
            ipv4: Ipv4Addr::from(ip),
            prefix_len: 24,
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            mac: String::new(),
            default_route: true,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn own_line(hosts: &str) -> &str {
        hosts.lines().last().unwrap()
    }

    #[test]
    fn own_lines_give_the_full_name_then_the_short_one() {
        assert_eq!(own_names("h1", ""), "h1");
        assert_eq!(own_names("h1", "example.org"), "h1.example.org h1");
        assert_eq!(own_names("h1.corp.test", ""), "h1.corp.test h1");
        assert_eq!(
            own_names("h1.corp", "example.org"),
            "h1.corp.example.org h1"
        );
        let c = container("h1", "example.org", HostConfig::default());
        let d = EtcDefaults::default();
        let hosts = hosts_file(&c, &[endpoint([10, 0, 0, 2])], &[], None, &d);
        assert_eq!(own_line(&hosts), "10.0.0.2\th1.example.org h1");
    }

    #[test]
    fn host_mode_writes_add_host_entries_after_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let d = EtcDefaults::default();
        let src = EtcSources {
            endpoints: &[],
            nets: &[],
            host_mode: true,
            links: &[],
            host_gateway: Some(Ipv4Addr::new(172, 17, 0, 1)),
            defaults: &d,
        };
        let hc = HostConfig {
            extra_hosts: strings(&["foo:1.2.3.4", "gw:host-gateway"]),
            ..Default::default()
        };
        let c = container("h1", "", hc);
        let files = write_etc_files(dir.path(), &c, &src).unwrap();
        let hosts = std::fs::read_to_string(files.hosts).unwrap();
        assert_eq!(
            hosts,
            format!("{LOCALHOST}1.2.3.4\tfoo\n172.17.0.1\tgw\n"),
            "as Docker: localhost, then the entries (no line of its own)"
        );
        // Without entries: the host's own file.
        let c = container("h1", "", HostConfig::default());
        let files = write_etc_files(dir.path(), &c, &src).unwrap();
        let want = std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| LOCALHOST.into());
        assert_eq!(std::fs::read_to_string(files.hosts).unwrap(), want);
    }

    #[test]
    fn host_gateway_is_the_daemons_setting_else_the_default_gateway() {
        let hc = HostConfig {
            extra_hosts: strings(&["gw:host-gateway", "db:192.0.2.7"]),
            ..Default::default()
        };
        let c = container("h1", "", hc);
        let bridge_gw = Some(Ipv4Addr::new(172, 17, 0, 1));
        let lines = |d: &EtcDefaults| {
            hosts_file(&c, &[], &[], bridge_gw, d)
                .lines()
                .skip(LOCALHOST.lines().count())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&EtcDefaults::default()),
            ["172.17.0.1\tgw", "192.0.2.7\tdb"]
        );
        let d = EtcDefaults {
            host_gateway: vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(
            lines(&d),
            ["192.0.2.1\tgw", "2001:db8::1\tgw", "192.0.2.7\tdb"]
        );
    }

    #[test]
    fn search_and_options_come_from_the_container_else_the_daemon_else_the_host() {
        let plain = container("h", "", HostConfig::default());
        let none = EtcDefaults::default();
        assert_eq!(
            embedded_resolv_conf(HOST, &plain, &none),
            "nameserver 127.0.0.11\nsearch host.test\noptions ndots:3 timeout:2\n"
        );
        let daemon = EtcDefaults {
            dns_search: strings(&["d.test"]),
            dns_options: strings(&["rotate"]),
            ..Default::default()
        };
        assert_eq!(
            embedded_resolv_conf(HOST, &plain, &daemon),
            "nameserver 127.0.0.11\nsearch d.test\noptions rotate ndots:0\n"
        );
        let own = container(
            "h",
            "",
            HostConfig {
                dns_search: strings(&["."]),
                dns_options: strings(&["ndots:2", "attempts:1"]),
                ..Default::default()
            },
        );
        assert_eq!(
            embedded_resolv_conf(HOST, &own, &daemon),
            "nameserver 127.0.0.11\noptions ndots:2 attempts:1\n"
        );
        assert_eq!(ndots_in_effect(HOST, &own, &daemon), Some(2));
        assert_eq!(ndots_in_effect(HOST, &plain, &daemon), None);
        assert_eq!(ndots_in_effect(HOST, &plain, &none), Some(3));
    }

    #[test]
    fn an_invalid_ndots_is_replaced_by_ndots_0() {
        let c = container(
            "h",
            "",
            HostConfig {
                dns_options: strings(&["ndots:-1", "ndots:x", "rotate"]),
                ..Default::default()
            },
        );
        let d = EtcDefaults::default();
        assert_eq!(
            embedded_resolv_conf(HOST, &c, &d),
            "nameserver 127.0.0.11\nsearch host.test\noptions rotate ndots:0\n"
        );
        assert_eq!(ndots_in_effect(HOST, &c, &d), None);
    }

    #[test]
    fn default_bridge_resolv_conf_uses_the_daemons_servers_and_defaults() {
        let plain = container("h", "", HostConfig::default());
        assert_eq!(
            resolv_conf(HOST, &plain, &EtcDefaults::default()),
            "nameserver 192.0.2.53\nsearch host.test\noptions ndots:3 timeout:2\n"
        );
        let daemon = EtcDefaults {
            dns: strings(&["198.51.100.1"]),
            dns_search: strings(&["d.test"]),
            dns_options: strings(&["rotate"]),
            ..Default::default()
        };
        assert_eq!(
            resolv_conf(HOST, &plain, &daemon),
            "nameserver 198.51.100.1\nsearch d.test\noptions rotate\n"
        );
    }

    #[test]
    fn the_hosts_servers_keep_only_ipv4_non_loopback_and_the_last_search_line_wins() {
        let host = "nameserver 127.0.0.53\nnameserver bogus\nnameserver fe80::1%eth0\n\
                    nameserver 2001:db8::53\nnameserver 192.0.2.53\nsearch a.test\n\
                    domain b.test\nsearch c.test d.test\n";
        let plain = container("h", "", HostConfig::default());
        let none = EtcDefaults::default();
        assert_eq!(
            resolv_conf(host, &plain, &none),
            "nameserver 192.0.2.53\nsearch c.test d.test\n"
        );
        // Given servers are written as given (validated at create).
        let own = container(
            "h",
            "",
            HostConfig {
                dns: strings(&["127.0.0.1"]),
                ..Default::default()
            },
        );
        assert_eq!(
            resolv_conf(host, &own, &none),
            "nameserver 127.0.0.1\nsearch c.test d.test\n"
        );
    }

    #[test]
    fn upstreams_record_their_origin_and_skip_the_resolver_itself() {
        let host = "nameserver 127.0.0.53\nnameserver 192.0.2.53\n";
        assert_eq!(
            upstream_servers(host, &[], &[]),
            (
                strings(&["127.0.0.53", "192.0.2.53"]),
                UpstreamOrigin::HostResolvConf
            )
        );
        assert_eq!(
            upstream_servers(host, &[], &strings(&["127.0.0.1"])),
            (strings(&["127.0.0.1"]), UpstreamOrigin::Configured)
        );
        assert_eq!(
            upstream_servers(
                host,
                &strings(&["127.0.0.11", "192.0.2.9"]),
                &strings(&["x"])
            ),
            (strings(&["192.0.2.9"]), UpstreamOrigin::Configured)
        );
        // Only 127.0.0.11 given: nothing to forward to, not the host's servers.
        assert_eq!(
            upstream_servers(host, &strings(&["127.0.0.11"]), &[]),
            (vec![], UpstreamOrigin::Configured)
        );
    }
}
