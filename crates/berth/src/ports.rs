//! `-p`/`--expose` parsing into Docker's `ExposedPorts` and `PortBindings`,
//! following docker's `nat.ParsePortSpec` so the daemon sees the same bodies.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("invalid port spec {0:?}: no container port given (expected [ip:][hostPort:]containerPort[/proto])")]
    NoPort(String),
    #[error("invalid IP address {ip:?} in port spec {spec:?}")]
    BadIp { spec: String, ip: String },
    #[error("invalid containerPort {port:?} in {spec:?}: {why}")]
    BadContainerPort {
        spec: String,
        port: String,
        why: String,
    },
    #[error("invalid hostPort {port:?} in {spec:?}: {why}")]
    BadHostPort {
        spec: String,
        port: String,
        why: String,
    },
    #[error("invalid ranges specified for container and host Ports: {container} and {host} (ranges must have the same length)")]
    RangeMismatch { container: String, host: String },
    #[error("invalid proto {proto:?} in {spec:?}: use tcp, udp or sctp")]
    BadProto { spec: String, proto: String },
}

/// One container port (`"80/tcp"`) and where it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub port: String,
    pub host_ip: String,
    pub host_port: String,
}

/// Parses `start` or `start-end`; ports are 1..=65535.
fn parse_range(s: &str) -> Result<(u32, u32), String> {
    let one = |p: &str| -> Result<u32, String> {
        let n: u32 = p
            .parse()
            .map_err(|_| format!("{p:?} is not a port number"))?;
        match n {
            0 => Err("port 0 is not allowed (use 1-65535)".to_string()),
            n if n > 65535 => Err(format!("port {n} is out of range (use 1-65535)")),
            n => Ok(n),
        }
    };
    match s.split_once('-') {
        None => one(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (start, end) = (one(a)?, one(b)?);
            if end < start {
                return Err(format!("range {s} ends before it starts"));
            }
            Ok((start, end))
        }
    }
}

/// `ip:host:container` splitting as docker does (IPv6 addresses contain ':').
fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1].to_string();
    match n {
        1 => (String::new(), String::new(), container),
        2 => (String::new(), parts[0].to_string(), container),
        _ => (
            parts[..n - 2].join(":"),
            parts[n - 2].to_string(),
            container,
        ),
    }
}

/// `80/udp` → ("udp", "80"); `80` → ("tcp", "80").
fn split_proto(raw: &str) -> (String, String) {
    match raw.split_once('/') {
        None => ("tcp".to_string(), raw.to_string()),
        Some((port, "")) => ("tcp".to_string(), port.to_string()),
        Some((port, proto)) => (proto.to_lowercase(), port.to_string()),
    }
}

fn check_proto(spec: &str, proto: &str) -> Result<(), PortError> {
    match proto {
        "tcp" | "udp" | "sctp" => Ok(()),
        _ => Err(PortError::BadProto {
            spec: spec.to_string(),
            proto: proto.to_string(),
        }),
    }
}

/// Parses one `-p` value into one mapping per container port.
pub fn parse_port_spec(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let (mut ip, host, container) = split_parts(spec);
    let (proto, container) = split_proto(&container);
    if ip.starts_with('[') && ip.ends_with(']') {
        ip = ip[1..ip.len() - 1].to_string();
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(PortError::BadIp {
            spec: spec.to_string(),
            ip,
        });
    }
    if container.is_empty() {
        return Err(PortError::NoPort(spec.to_string()));
    }
    let (start, end) = parse_range(&container).map_err(|why| PortError::BadContainerPort {
        spec: spec.to_string(),
        port: container.clone(),
        why,
    })?;
    let (hstart, hend) = if host.is_empty() {
        (0, 0)
    } else {
        parse_range(&host).map_err(|why| PortError::BadHostPort {
            spec: spec.to_string(),
            port: host.clone(),
            why,
        })?
    };
    // A host range with a single container port is a pool to pick from.
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(PortError::RangeMismatch { container, host });
    }
    check_proto(spec, &proto)?;
    let count = end - start + 1;
    Ok((0..count)
        .map(|i| {
            let mut host_port = String::new();
            if !host.is_empty() {
                host_port = (hstart + i).to_string();
                if count == 1 && hstart != hend {
                    host_port = format!("{host_port}-{hend}");
                }
            }
            PortMapping {
                port: format!("{}/{proto}", start + i),
                host_ip: ip.clone(),
                host_port,
            }
        })
        .collect())
}

/// Parses `--expose 80`, `80-90/udp` into port keys.
pub fn parse_expose(spec: &str) -> Result<Vec<String>, PortError> {
    let (proto, port) = split_proto(spec);
    check_proto(spec, &proto)?;
    let (start, end) = parse_range(&port).map_err(|why| PortError::BadContainerPort {
        spec: spec.to_string(),
        port: port.clone(),
        why,
    })?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// Docker's `ExposedPorts` and `HostConfig.PortBindings` for all flags.
pub fn build(publish: &[String], expose: &[String]) -> Result<(Value, Value), PortError> {
    let mut exposed = Map::new();
    let mut bindings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for spec in expose {
        for key in parse_expose(spec)? {
            exposed.insert(key, json!({}));
        }
    }
    for spec in publish {
        for m in parse_port_spec(spec)? {
            exposed.insert(m.port.clone(), json!({}));
            bindings
                .entry(m.port)
                .or_default()
                .push(json!({"HostIp": m.host_ip, "HostPort": m.host_port}));
        }
    }
    Ok((Value::Object(exposed), json!(bindings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> (String, String, String) {
        let v = parse_port_spec(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        (
            v[0].port.clone(),
            v[0].host_ip.clone(),
            v[0].host_port.clone(),
        )
    }

    fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    #[test]
    fn docker_examples() {
        assert_eq!(one("80"), s("80/tcp", "", ""));
        assert_eq!(one("8080:80"), s("80/tcp", "", "8080"));
        assert_eq!(
            one("127.0.0.1:8080:80/udp"),
            s("80/udp", "127.0.0.1", "8080")
        );
        assert_eq!(one("127.0.0.1::80"), s("80/tcp", "127.0.0.1", ""));
        assert_eq!(one("[::1]:8080:80"), s("80/tcp", "::1", "8080"));
        assert_eq!(one("::1:8080:80"), s("80/tcp", "::1", "8080"));
        assert_eq!(one("8000-8010:80"), s("80/tcp", "", "8000-8010"));
        assert_eq!(one("80/SCTP"), s("80/sctp", "", ""));
    }

    #[test]
    fn ranges_expand_per_port() {
        let v = parse_port_spec("7000-7002:8000-8002/udp").unwrap();
        let got: Vec<_> = v
            .iter()
            .map(|m| (m.port.as_str(), m.host_port.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("8000/udp", "7000"),
                ("8001/udp", "7001"),
                ("8002/udp", "7002")
            ]
        );
        assert_eq!(parse_port_spec("9000-9001").unwrap().len(), 2);
    }

    #[test]
    fn errors() {
        use PortError::*;
        assert!(matches!(parse_port_spec("0"), Err(BadContainerPort { .. })));
        assert!(matches!(parse_port_spec("0:80"), Err(BadHostPort { .. })));
        assert!(matches!(
            parse_port_spec("65536"),
            Err(BadContainerPort { .. })
        ));
        assert!(matches!(
            parse_port_spec("8080:70000"),
            Err(BadContainerPort { .. })
        ));
        assert!(matches!(
            parse_port_spec("8000-8002:80-81"),
            Err(RangeMismatch { .. })
        ));
        assert!(matches!(parse_port_spec("80/icmp"), Err(BadProto { .. })));
        assert!(matches!(parse_port_spec("8080:"), Err(NoPort(_))));
        assert!(matches!(parse_port_spec("nope:80:80"), Err(BadIp { .. })));
        assert!(matches!(
            parse_port_spec("90-80"),
            Err(BadContainerPort { .. })
        ));
        assert!(matches!(
            parse_port_spec("http"),
            Err(BadContainerPort { .. })
        ));
        let msg = parse_port_spec("80/icmp").unwrap_err().to_string();
        assert!(
            msg.contains("icmp") && msg.contains("tcp, udp or sctp"),
            "{msg}"
        );
    }

    #[test]
    fn build_bodies() {
        let (exposed, bindings) = build(
            &[
                "8080:80".into(),
                "127.0.0.1:8081:80".into(),
                "53/udp".into(),
            ],
            &["9000-9001".into()],
        )
        .unwrap();
        assert_eq!(
            exposed,
            json!({"80/tcp": {}, "53/udp": {}, "9000/tcp": {}, "9001/tcp": {}})
        );
        assert_eq!(
            bindings,
            json!({
                "80/tcp": [
                    {"HostIp": "", "HostPort": "8080"},
                    {"HostIp": "127.0.0.1", "HostPort": "8081"}
                ],
                "53/udp": [{"HostIp": "", "HostPort": ""}]
            })
        );
        assert!(build(&[], &["80/bad".into()]).is_err());
    }
}
