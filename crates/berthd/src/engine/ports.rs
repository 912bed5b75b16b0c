//! Published ports: `HostConfig.PortBindings` parsed into mappings, host ports chosen,
//! conflicts refused, and the mappings applied as nftables map elements while the container
//! runs.

use super::Inner;
use crate::error::{EngineError, Result};
use crate::kernel::Firewall;
use crate::model::{Container, Published, Status};
use berth_core::ports::{PortMapping, PortRange, Proto};
use serde_json::Value;
use std::net::Ipv4Addr;

/// One binding as asked: host port `None` = pick one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Ipv4Addr,
    pub proto: Proto,
    pub host: Option<PortRange>,
    pub container: PortRange,
}

fn invalid(msg: String) -> EngineError {
    EngineError::Invalid(msg)
}

/// Docker's `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` as specs, a binding without
/// `HostIp` on `default_ip` (the network's `host_binding_ipv4`, the default bridge's from
/// `--ip`). An IPv6 host address is refused, not skipped: Berth publishes on IPv4 only, and a
/// port silently left unpublished is worse than an error. Consecutive single ports with the
/// same offset are merged back into ranges, so `-p 9000-9010:9000-9010` is one mapping.
pub fn parse_bindings_on(v: &Value, default_ip: Ipv4Addr) -> Result<Vec<PortSpec>> {
    let mut specs = Vec::new();
    let Some(obj) = v.as_object() else {
        return Ok(specs);
    };
    for (key, bindings) in obj {
        let (container, proto) = parse_port_key(key)?;
        for b in bindings.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let ip = b["HostIp"].as_str().unwrap_or("");
            let host_ip = match ip {
                "" => default_ip,
                s if s.contains(':') => {
                    return Err(invalid(format!(
                        "invalid host address {s:?} for port {key}: berth publishes ports on \
                         IPv4 addresses only (IPv6 is not supported yet); give an IPv4 address \
                         (e.g. 127.0.0.1) or none, as in -p 8080:80"
                    )))
                }
                s => s
                    .parse()
                    .map_err(|_| invalid(format!("invalid host address {s:?} for port {key}")))?,
            };
            let host = match b["HostPort"].as_str().unwrap_or("") {
                "" | "0" => None,
                s => Some(s.parse::<PortRange>().map_err(|e| {
                    invalid(format!("invalid host port {s:?} for port {key}: {e}"))
                })?),
            };
            if let Some(h) = host {
                if !h.is_single() && h.len() != container.len() && !container.is_single() {
                    return Err(invalid(format!(
                        "invalid port range {h}:{container}: the host and container ranges differ in length"
                    )));
                }
            }
            specs.push(PortSpec {
                host_ip,
                proto,
                host,
                container,
            });
        }
    }
    Ok(merge_ranges(specs))
}

/// What a container publishes: its bindings and, with `-P` (`publish_all`), every port of
/// `exposed` (Docker's `80/tcp` keys; `80` means tcp, a range counts port by port) and every
/// binding key that has no binding, each on an ephemeral host port of `default_ip`, as Docker
/// does. The bindings are checked first, so a bad one is refused whatever `-P` says.
pub fn container_specs(
    bindings: &Value,
    exposed: &[String],
    publish_all: bool,
    default_ip: Ipv4Addr,
) -> Result<Vec<PortSpec>> {
    let mut specs = parse_bindings_on(bindings, default_ip)?;
    if !publish_all {
        return Ok(specs);
    }
    let keys = bindings.as_object().into_iter().flat_map(|o| o.keys());
    let mut wanted: Vec<(Proto, u16)> = Vec::new();
    for key in exposed.iter().chain(keys) {
        let (range, proto) = parse_port_key(key)?;
        for port in range.start..=range.end {
            let covered = specs
                .iter()
                .any(|s| s.proto == proto && s.container.start <= port && port <= s.container.end);
            if !covered && !wanted.contains(&(proto, port)) {
                wanted.push((proto, port));
            }
        }
    }
    for (proto, port) in wanted {
        specs.push(PortSpec {
            host_ip: default_ip,
            proto,
            host: None,
            container: PortRange {
                start: port,
                end: port,
            },
        });
    }
    Ok(merge_ranges(specs))
}

/// `80/tcp`, `80` (tcp) or `6000-6001/udp`.
fn parse_port_key(key: &str) -> Result<(PortRange, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto: Proto = proto
        .parse()
        .map_err(|e| invalid(format!("invalid port specification {key:?}: {e}")))?;
    let range: PortRange = port
        .parse()
        .map_err(|e| invalid(format!("invalid port specification {key:?}: {e}")))?;
    Ok((range, proto))
}

fn merge_ranges(mut specs: Vec<PortSpec>) -> Vec<PortSpec> {
    specs.sort_by_key(|s| (u32::from(s.host_ip), s.proto.number(), s.container.start));
    let mut out: Vec<PortSpec> = Vec::new();
    for s in specs {
        if let Some(last) = out.last_mut() {
            let adjacent = last.host_ip == s.host_ip
                && last.proto == s.proto
                && u32::from(last.container.end) + 1 == u32::from(s.container.start);
            if let (true, Some(lh), Some(sh)) = (adjacent, last.host, s.host) {
                let same_offset = u32::from(lh.end) + 1 == u32::from(sh.start)
                    && lh.len() == last.container.len()
                    && sh.len() == s.container.len();
                if same_offset {
                    last.host = Some(PortRange {
                        start: lh.start,
                        end: sh.end,
                    });
                    last.container = PortRange {
                        start: last.container.start,
                        end: s.container.end,
                    };
                    continue;
                }
            }
        }
        out.push(s);
    }
    out
}

/// Every mapping of running containers other than `except`, with its owner's name.
fn published_by_others<'a>(inner: &'a Inner, except: &str) -> Vec<(PortMapping, &'a str)> {
    inner
        .containers
        .values()
        .filter(|c| c.state.status == Status::Running && c.id.as_str() != except)
        .flat_map(|c| {
            c.published
                .iter()
                .map(move |p| (p.mapping(), c.name.as_str()))
        })
        .collect()
}

/// Turns the container's bindings into mappings to `container_ip`: a binding without a host
/// address on `default_ip`, host ports chosen for `-p 80`, conflicts with other containers and
/// with host processes refused.
pub fn plan(
    inner: &Inner,
    c: &Container,
    container_ip: Ipv4Addr,
    default_ip: Ipv4Addr,
    fw: &dyn Firewall,
) -> Result<Vec<PortMapping>> {
    let hc = &c.host_config;
    let specs = container_specs(
        &hc.port_bindings,
        &c.config.exposed_ports,
        hc.publish_all_ports,
        default_ip,
    )?;
    let others = published_by_others(inner, c.id.as_str());
    let mut taken: Vec<PortMapping> = others.iter().map(|(m, _)| *m).collect();
    let mut out = Vec::new();
    for s in specs {
        let host = match s.host {
            Some(h) if h.len() == s.container.len() => h,
            // A host range for one container port: the first free port of the range.
            Some(h) => pick(&taken, fw, &s, h.start, h.end)?,
            None => {
                let (lo, hi) = fw.ephemeral_range();
                pick(&taken, fw, &s, lo, hi)?
            }
        };
        let m = PortMapping::new(s.host_ip, s.proto, host, container_ip, s.container)
            .map_err(|e| invalid(format!("invalid port mapping: {e}")))?;
        if let Some(existing) = berth_core::ports::conflicts(&taken, &m) {
            let owner = others
                .iter()
                .find(|(o, _)| o == existing)
                .map(|(_, n)| format!(" by container {n:?}"))
                .unwrap_or_else(|| " by another mapping of this container".into());
            return Err(EngineError::Conflict(format!(
                "Bind for {}:{} failed: port is already allocated{owner}",
                m.host_ip, m.host_port
            )));
        }
        if let Some(port) = fw.port_in_use(m.host_ip, m.proto, m.host_port) {
            return Err(EngineError::Conflict(format!(
                "Bind for {}:{port}/{} failed: port is already in use by a process on the host",
                m.host_ip, m.proto
            )));
        }
        taken.push(m);
        out.push(m);
    }
    Ok(out)
}

/// The first port of `lo..=hi` (as long as the container range) that is free.
fn pick(
    taken: &[PortMapping],
    fw: &dyn Firewall,
    s: &PortSpec,
    lo: u16,
    hi: u16,
) -> Result<PortRange> {
    let len = s.container.len();
    for start in u32::from(lo)..=u32::from(hi) {
        let end = start + len - 1;
        if end > u32::from(hi) {
            break;
        }
        // Both fit in u16: start <= end <= hi.
        let range = PortRange {
            start: start as u16,
            end: end as u16,
        };
        let probe = PortMapping {
            host_ip: s.host_ip,
            proto: s.proto,
            host_port: range,
            container_ip: Ipv4Addr::UNSPECIFIED,
            container_port: s.container,
        };
        let free = berth_core::ports::conflicts(taken, &probe).is_none()
            && fw.port_in_use(s.host_ip, s.proto, range).is_none();
        if free {
            return Ok(range);
        }
    }
    Err(EngineError::Conflict(format!(
        "no free host port in {lo}-{hi} for {}/{}",
        s.container, s.proto
    )))
}

pub fn to_published(m: &[PortMapping]) -> Vec<Published> {
    m.iter().map(Published::from).collect()
}
