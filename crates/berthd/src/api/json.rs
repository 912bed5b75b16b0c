//! Engine records rendered as Docker's JSON.

use crate::engine::Engine;
use crate::model::{Container, Endpoint, Network, Status};
use serde_json::{json, Map, Value};

pub fn network(engine: &Engine, n: &Network) -> Value {
    let (ipam_config, internal, mut options) = match n.driver.bridge() {
        Some(b) => {
            let mut cfg = json!({ "Subnet": b.ipam.subnet.to_string(), "Gateway": b.ipam.gateway.to_string() });
            if let Some(r) = b.ipam.ip_range {
                cfg["IPRange"] = json!(r.to_string());
            }
            let mut opts = Map::new();
            if n.default_bridge {
                opts.insert(
                    "com.docker.network.bridge.default_bridge".into(),
                    json!("true"),
                );
                opts.insert("com.docker.network.bridge.enable_icc".into(), json!("true"));
                opts.insert(
                    "com.docker.network.bridge.enable_ip_masquerade".into(),
                    json!("true"),
                );
                opts.insert("com.docker.network.bridge.name".into(), json!(b.ifname));
                opts.insert(
                    "com.docker.network.driver.mtu".into(),
                    json!(b.mtu.to_string()),
                );
            }
            // An overlay's local bridge is internal by construction; the network is not.
            (vec![cfg], b.internal && n.driver.overlay().is_none(), opts)
        }
        None => (config_only_ipam(n), false, Map::new()),
    };
    for (k, v) in &n.options {
        options.insert(k.clone(), json!(v));
    }
    let mut containers = Map::new();
    for (c, ep) in engine.network_endpoints(&n.id) {
        containers.insert(
            c.id.to_string(),
            json!({
                "Name": c.name.as_str(),
                "EndpointID": ep.id.as_str(),
                "MacAddress": ep.mac,
                "IPv4Address": format!("{}/{}", ep.ipv4, ep.prefix_len),
                "IPv6Address": "",
            }),
        );
    }
    let overlay = n.driver.overlay().is_some();
    if overlay {
        for (_, v) in containers.iter_mut() {
            v["Host"] = json!(engine.host_id());
        }
        for ep in engine.remote_endpoints(&n.id) {
            containers.insert(
                ep.container_id.clone(),
                json!({
                    "Name": ep.name,
                    "EndpointID": ep.endpoint_id,
                    "MacAddress": ep.mac,
                    "IPv4Address": format!("{}/{}", ep.ipv4, n.driver.bridge().map(|b| b.ipam.subnet.prefix_len()).unwrap_or(32)),
                    "IPv6Address": "",
                    "Host": ep.host_id,
                    "HostAddress": ep.vtep.to_string(),
                }),
            );
        }
    }
    json!({
        "Name": n.name.as_str(),
        "Id": n.id.as_str(),
        "Created": n.created,
        "Scope": if n.driver.overlay().is_some() { "global" } else { "local" },
        "Driver": n.driver.name(),
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": { "Driver": "default", "Options": {}, "Config": ipam_config },
        "Internal": internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": { "Network": n.config_from.as_ref().map(|c| c.as_str()).unwrap_or_default() },
        "ConfigOnly": n.driver.config_only().is_some(),
        "Containers": containers,
        "Options": options,
        "Labels": n.labels,
    })
}

/// A config-only network's IPAM configuration, exactly as given (no gateway is computed).
fn config_only_ipam(n: &Network) -> Vec<Value> {
    let Some(spec) = n.driver.config_only() else {
        return vec![];
    };
    let Some(subnet) = spec.subnet else {
        return vec![];
    };
    let mut cfg = json!({ "Subnet": subnet.to_string() });
    if let Some(g) = spec.gateway {
        cfg["Gateway"] = json!(g.to_string());
    }
    if let Some(r) = spec.ip_range {
        cfg["IPRange"] = json!(r.to_string());
    }
    vec![cfg]
}

fn endpoint_settings(
    n: Option<&Network>,
    ep: Option<&Endpoint>,
    aliases: &[String],
    dns_names: Value,
) -> Value {
    let (ip, prefix, gw, mac, ep_id) = match ep {
        Some(e) => (
            e.ipv4.to_string(),
            e.prefix_len,
            e.gateway.to_string(),
            e.mac.clone(),
            e.id.to_string(),
        ),
        None => (
            String::new(),
            0,
            String::new(),
            String::new(),
            String::new(),
        ),
    };
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
        "MacAddress": mac,
        "NetworkID": n.map(|n| n.id.to_string()).unwrap_or_default(),
        "EndpointID": ep_id,
        "Gateway": gw,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": dns_names,
    })
}

/// `NetworkSettings.Networks`, keyed by network name.
fn networks_map(engine: &Engine, c: &Container) -> Map<String, Value> {
    let mut nets = Map::new();
    for (id, req) in &c.networks {
        let n = engine.network_by_id(id);
        let ep = c.endpoints.iter().find(|e| &e.network == id);
        let name = n
            .as_ref()
            .map(|n| n.name.to_string())
            .unwrap_or_else(|| id.to_string());
        // Names the embedded DNS answers for on user-defined networks: name, aliases, short
        // ID, hostname.
        let dns_names = match &n {
            Some(net) if ep.is_some() && !net.default_bridge && net.driver.bridge().is_some() => {
                let mut names = vec![c.name.to_string()];
                for extra in req
                    .aliases
                    .iter()
                    .chain([&c.id.short().to_string(), &c.config.hostname])
                {
                    if !names.contains(extra) {
                        names.push(extra.clone());
                    }
                }
                serde_json::json!(names)
            }
            _ => Value::Null,
        };
        let mut v = endpoint_settings(n.as_ref(), ep, &req.aliases, dns_names);
        if let Some(ip) = req.ipv4 {
            v["IPAMConfig"] = json!({ "IPv4Address": ip.to_string() });
        }
        // What the endpoint was created with (EndpointSettings), running or not.
        if !req.links.is_empty() {
            v["Links"] = json!(req.links);
        }
        v["DriverOpts"] = if req.driver_opts.is_empty() {
            Value::Null
        } else {
            json!(req.driver_opts)
        };
        v["GwPriority"] = json!(req.gw_priority);
        if let (None, Some(mac)) = (ep, &req.mac) {
            v["MacAddress"] = json!(mac);
        }
        nets.insert(name, v);
    }
    nets
}

pub fn container(engine: &Engine, c: &Container) -> Value {
    let st = &c.state;
    let running = st.status == Status::Running;
    let primary = c.endpoints.first();
    let dir = engine.container_dir(&c.id);
    let default_bridge_ep = c.endpoints.iter().find(|e| {
        engine
            .network_by_id(&e.network)
            .is_some_and(|n| n.default_bridge)
    });
    json!({
        "Id": c.id.as_str(),
        "Created": c.created,
        "Path": c.config.path,
        "Args": c.config.args,
        "State": {
            "Status": st.status.as_str(),
            "Running": running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if running { st.pid } else { 0 },
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": st.started_at,
            "FinishedAt": st.finished_at,
        },
        "Image": c.config.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": berth_runtime::container::log_path(&dir),
        "Name": format!("/{}", c.name),
        "RestartCount": st.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "NetworkMode": c.host_config.network_mode,
            "AutoRemove": c.host_config.auto_remove,
            "PortBindings": c.host_config.port_bindings,
            "PublishAllPorts": c.host_config.publish_all_ports,
            "Sysctls": c.host_config.sysctls,
            "Dns": c.host_config.dns,
            "DnsSearch": c.host_config.dns_search,
            "DnsOptions": c.host_config.dns_options,
            "ExtraHosts": c.host_config.extra_hosts,
            "Links": c.host_config.links,
            "RestartPolicy": {
                "Name": c.host_config.restart_policy.shown(),
                "MaximumRetryCount": c.host_config.restart_policy.maximum_retry_count,
            },
        },
        "Config": {
            "Hostname": c.config.hostname,
            "Domainname": c.config.domainname,
            "User": "",
            "Env": c.config.env,
            "Cmd": c.config.cmd,
            "Entrypoint": if c.config.entrypoint.is_empty() { Value::Null } else { json!(c.config.entrypoint) },
            "Image": c.config.image,
            "WorkingDir": c.config.working_dir,
            "Labels": c.config.labels,
            "ExposedPorts": c.config.exposed_ports.iter().map(|p| (p.clone(), json!({}))).collect::<Map<_, _>>(),
            "MacAddress": config_mac(engine, c),
        },
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": if c.sandbox.is_some() { c.id.as_str() } else { "" },
            "SandboxKey": c.sandbox.clone().unwrap_or_default(),
            "Ports": ports_map(c),
            "IPAddress": default_bridge_ep.map(|e| e.ipv4.to_string()).unwrap_or_default(),
            "IPPrefixLen": default_bridge_ep.map(|e| e.prefix_len).unwrap_or(0),
            "Gateway": default_bridge_ep.map(|e| e.gateway.to_string()).unwrap_or_default(),
            "MacAddress": default_bridge_ep.map(|e| e.mac.clone()).unwrap_or_default(),
            "EndpointID": primary.map(|e| e.id.to_string()).unwrap_or_default(),
            "Networks": networks_map(engine, c),
        },
        "Mounts": [],
    })
}

/// One row of `GET /containers/json`.
pub fn container_summary(engine: &Engine, c: &Container) -> Value {
    let mut command = vec![c.config.path.clone()];
    command.extend(c.config.args.iter().cloned());
    json!({
        "Id": c.id.as_str(),
        "Names": [format!("/{}", c.name)],
        "Image": c.config.image,
        "ImageID": c.config.image_id,
        "Command": command.join(" "),
        "Created": chrono::DateTime::parse_from_rfc3339(&c.created).map(|t| t.timestamp()).unwrap_or(0),
        "Ports": ports_list(c),
        "Labels": c.config.labels,
        "State": c.state.status.as_str(),
        "Status": status_text(c),
        "HostConfig": { "NetworkMode": c.host_config.network_mode },
        "NetworkSettings": { "Networks": networks_map(engine, c) },
        "Mounts": [],
    })
}

/// Every published host port, one per container port: (container port, proto, host ip,
/// host port).
fn published_ports(c: &Container) -> Vec<(u16, String, String, u16)> {
    let mut out = Vec::new();
    for p in &c.published {
        for i in 0..=(p.container_end - p.container_start) {
            out.push((
                p.container_start + i,
                p.proto.clone(),
                p.host_ip.to_string(),
                p.host_start + i,
            ));
        }
    }
    out
}

/// `NetworkSettings.Ports`: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}`
/// while running (exposed but unpublished ports map to null); `{}` otherwise.
fn ports_map(c: &Container) -> Value {
    let mut m = Map::new();
    if c.state.status != Status::Running {
        return Value::Object(m);
    }
    for e in &c.config.exposed_ports {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        m.insert(key, Value::Null);
    }
    for (port, proto, ip, host) in published_ports(c) {
        let entry = m
            .entry(format!("{port}/{proto}"))
            .or_insert(Value::Array(vec![]));
        if entry.is_null() {
            *entry = Value::Array(vec![]);
        }
        if let Value::Array(a) = entry {
            a.push(json!({ "HostIp": ip, "HostPort": host.to_string() }));
        }
    }
    Value::Object(m)
}

/// One entry of a container summary's `Ports`: published (with a host address and port) or
/// only exposed.
pub struct SummaryPort {
    pub private: u16,
    pub proto: String,
    /// Host address and port, when published.
    pub host: Option<(String, u16)>,
}

/// The `Ports` of `GET /containers/json`: every published port, then the exposed ones not
/// published (what `ps` shows, and what its `publish`/`expose` filters look at).
pub fn summary_ports(c: &Container) -> Vec<SummaryPort> {
    let published = published_ports(c);
    let mut out: Vec<SummaryPort> = published
        .iter()
        .map(|(port, proto, ip, host)| SummaryPort {
            private: *port,
            proto: proto.clone(),
            host: Some((ip.clone(), *host)),
        })
        .collect();
    for e in &c.config.exposed_ports {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        if !published
            .iter()
            .any(|(p, pr, _, _)| *p == port && pr == proto)
        {
            out.push(SummaryPort {
                private: port,
                proto: proto.to_string(),
                host: None,
            });
        }
    }
    out
}

fn ports_list(c: &Container) -> Value {
    let ports = summary_ports(c).into_iter().map(|p| match p.host {
        Some((ip, host)) => {
            json!({ "IP": ip, "PrivatePort": p.private, "PublicPort": host, "Type": p.proto })
        }
        None => json!({ "PrivatePort": p.private, "Type": p.proto }),
    });
    Value::Array(ports.collect())
}

/// The deprecated `Config.MacAddress`, as dockerd fills it in for inspect: the MAC address
/// asked for the endpoint of the network mode's network (bridge or user-defined), else
/// empty. Always present, so `{{.Config.MacAddress}}` works in templates.
fn config_mac(engine: &Engine, c: &Container) -> String {
    let mode = match c.host_config.network_mode.as_str() {
        "" | "default" => "bridge",
        m => m,
    };
    if matches!(mode, "host" | "none") || mode.starts_with("container:") {
        return String::new();
    }
    c.networks
        .iter()
        .find(|(id, _)| {
            id.as_str().starts_with(mode)
                || engine
                    .network_by_id(id)
                    .is_some_and(|n| n.name.as_str() == mode)
        })
        .and_then(|(_, req)| req.mac.clone())
        .unwrap_or_default()
}

/// Docker's STATUS column: `Up 3 seconds`, `Exited (0) 5 minutes ago`, `Created`.
pub fn status_text(c: &Container) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human_duration(chrono::Utc::now().signed_duration_since(t)))
            .unwrap_or_default()
    };
    match c.state.status {
        Status::Running => format!("Up {}", since(&c.state.started_at)),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code,
            since(&c.state.finished_at)
        ),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(d: chrono::TimeDelta) -> String {
    let secs = d.num_seconds();
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        s if s / 3600 == 1 => "About an hour".into(),
        s if s / 3600 < 48 => format!("{} hours", s / 3600),
        s if s / 86400 < 14 => format!("{} days", s / 86400),
        s if s / 86400 < 60 => format!("{} weeks", s / 86400 / 7),
        s if s / 86400 < 365 * 2 => format!("{} months", s / 86400 / 30),
        s => format!("{} years", s / 86400 / 365),
    }
}
