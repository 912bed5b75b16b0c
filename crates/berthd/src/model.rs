//! What the daemon stores: networks and containers, as typed records.

use berth_core::firewall::BridgeOptions;
use berth_core::id::{Name, ObjectId};
use berth_core::ipam::IpamConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A network's driver, with the configuration only that driver has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DriverConfig {
    Bridge(BridgeConfig),
    /// A network across hosts: a local bridge per host joined by a VXLAN device. `bridge` holds
    /// the local side (its `internal` is true: overlay traffic never leaves through the host;
    /// containers get a second interface on the gateway bridge for that).
    Overlay(OverlayConfig),
    Host,
    Null,
    /// A config-only network (`ConfigOnly: true`): its IPAM and options are kept for networks
    /// created with `ConfigFrom`, and nothing else exists: no bridge, no firewall element, no
    /// address pool.
    ConfigOnly(ConfigOnlySpec),
}

/// What a config-only network holds: the IPAM configuration as given (nothing is allocated
/// or computed, so no gateway appears unless one was given). Options and labels are the
/// network's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigOnlySpec {
    /// The driver the request named (Docker reports `null` for every config-only network).
    pub requested_driver: String,
    pub subnet: Option<ipnet::Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<ipnet::Ipv4Net>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayConfig {
    pub bridge: BridgeConfig,
    pub vni: u32,
    /// The VXLAN device, `vx-<first 12 of id>`.
    pub vxlan: String,
}

impl DriverConfig {
    /// The driver's name as Docker prints it.
    pub fn name(&self) -> &'static str {
        match self {
            DriverConfig::Bridge(_) => "bridge",
            DriverConfig::Overlay(_) => "overlay",
            DriverConfig::Host => "host",
            // Docker resets a config-only network's driver to `null`, so that nothing can use it.
            DriverConfig::Null | DriverConfig::ConfigOnly(_) => "null",
        }
    }
    /// The local bridge of a bridge or overlay network.
    pub fn bridge(&self) -> Option<&BridgeConfig> {
        match self {
            DriverConfig::Bridge(b) => Some(b),
            DriverConfig::Overlay(o) => Some(&o.bridge),
            _ => None,
        }
    }

    /// Networks whose endpoints are interfaces (not host or none mode). A config-only network
    /// describes such a network: a created container may name it (`start` then refuses it).
    pub fn has_interfaces(&self) -> bool {
        self.bridge().is_some() || self.config_only().is_some()
    }

    pub fn config_only(&self) -> Option<&ConfigOnlySpec> {
        match self {
            DriverConfig::ConfigOnly(c) => Some(c),
            _ => None,
        }
    }

    pub fn overlay(&self) -> Option<&OverlayConfig> {
        match self {
            DriverConfig::Overlay(o) => Some(o),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeConfig {
    /// `berth0` for the default network, `br-<first 12 of id>` otherwise.
    pub ifname: String,
    pub ipam: IpamConfig,
    pub internal: bool,
    /// The MTU of the bridge and its containers' interfaces; 0 leaves the kernel's default.
    pub mtu: u32,
    /// Whether the subnet was given by the user (then `--ip` is allowed).
    pub user_subnet: bool,
    /// ICC, masquerade, gateway mode, host_ipv4, trusted interfaces (absent in records
    /// written before they existed: Docker's defaults).
    #[serde(default)]
    pub options: BridgeOptions,
}

impl BridgeConfig {
    /// The bridge's own address: the gateway, except in gateway mode `isolated`.
    pub fn bridge_address(&self) -> Option<ipnet::Ipv4Net> {
        self.options
            .bridge_has_address()
            .then(|| self.ipam.gateway_net())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: ObjectId,
    pub name: Name,
    pub created: String,
    pub driver: DriverConfig,
    pub attachable: bool,
    /// Predefined networks (`bridge`, `host`, `none`) cannot be removed.
    pub predefined: bool,
    /// The default bridge: no `--ip`, no embedded DNS.
    pub default_bridge: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The config-only network this one took its IPAM, options and labels from (`ConfigFrom`);
    /// that network cannot be removed while this one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_from: Option<Name>,
}

/// What a container asked for on one network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRequest {
    pub ipv4: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
    /// The interface name inside the container (`com.docker.network.endpoint.ifname`); checked
    /// when the endpoint is created (start or connect), as Docker does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// The interface's MAC address (`MacAddress`), validated and in lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// `GwPriority`: the endpoint with the highest one carries the default route.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gw_priority: i64,
    /// Links scoped to this network (`EndpointSettings.Links`, `name[:alias]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// `DriverOpts` as given (shown by inspect).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One parsed `--link`: the target's name and the alias it is known by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

/// `db`, `db:alias`, or the daemon's own form `/db:/web/alias`.
pub fn parse_link(s: &str) -> crate::error::Result<Link> {
    let (name, alias) = s.split_once(':').unwrap_or((s, s));
    let target = name.trim_start_matches('/').to_string();
    let alias = alias.rsplit('/').next().unwrap_or(alias).to_string();
    if target.is_empty() || alias.is_empty() {
        return Err(crate::error::EngineError::Invalid(format!(
            "invalid link {s:?}: expected name or name:alias"
        )));
    }
    Ok(Link { target, alias })
}

/// The endpoint driver option that names the container's interface.
pub const OPT_IFNAME: &str = "com.docker.network.endpoint.ifname";

/// A MAC address as Docker accepts it (`net.ParseMAC` for 6 bytes: `aa:bb:cc:dd:ee:ff`,
/// `aa-bb-...` or `aabb.ccdd.eeff`). A multicast address is refused: no interface can have one.
pub fn parse_mac(s: &str) -> std::result::Result<[u8; 6], String> {
    let bad =
        || format!("invalid MAC address {s:?}: expected six hex bytes, e.g. 02:42:ac:11:00:02");
    let hex: String = if s.contains('.') {
        let groups: Vec<&str> = s.split('.').collect();
        if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
            return Err(bad());
        }
        groups.concat()
    } else {
        let sep = if s.contains('-') { '-' } else { ':' };
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        parts.concat()
    };
    let mut mac = [0u8; 6];
    for (i, b) in mac.iter_mut().enumerate() {
        *b = hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(bad)?;
    }
    if mac[0] & 1 == 1 {
        return Err(format!(
            "invalid MAC address {s:?}: it is a multicast address (the low bit of the first \
             byte is set); use a unicast one, e.g. 02:42:ac:11:00:02"
        ));
    }
    Ok(mac)
}

/// A container's live attachment to a network (exists while it runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: ObjectId,
    pub network: ObjectId,
    /// Inside the container: `eth0`, `eth1`, ... or the name the request gave.
    pub ifname: String,
    /// Host end of the veth.
    pub host_ifname: String,
    pub ipv4: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// Whether the container's default route goes through this endpoint: the one Docker's
    /// order puts first (highest `GwPriority`, then the network's name) among endpoints on
    /// networks that are not internal (internal networks never get one).
    #[serde(default)]
    pub default_route: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub image: String,
    pub image_id: String,
    /// The process: entrypoint + cmd resolved at create.
    pub path: String,
    pub args: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub hostname: String,
    /// `--domainname`: the container's own /etc/hosts lines give `hostname.domainname`.
    #[serde(default)]
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    /// `default`, `bridge`, `host`, `none` or a network name/ID as given.
    pub network_mode: String,
    pub auto_remove: bool,
    /// Docker's PortBindings JSON, kept verbatim for inspect (published in a later issue).
    pub port_bindings: serde_json::Value,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub links: Vec<String>,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// `-P`: every exposed port without a binding is published on an ephemeral host port.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// `--sysctl`: `net.*` keys, set in the container's network namespace before its process
    /// starts.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
}

/// `--restart`: whether the container is started again when its process exits by itself
/// (see `engine::restart`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `always`, `unless-stopped`, `on-failure`; empty for none (`no`).
    pub name: String,
    /// `on-failure`: at most this many restarts in a row (0: no limit).
    pub maximum_retry_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
    Removing,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Removing => "removing",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub shim_pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Starts by the restart policy since the last start by a user.
    #[serde(default)]
    pub restart_count: u32,
    /// Stopped or killed by a user since its last start: its policy does not start it again
    /// while berthd runs.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The delay before the last restart (the next doubles it), while berthd runs.
    #[serde(skip)]
    pub restart_delay: Option<std::time::Duration>,
    /// When it last started, while berthd runs (a steady run resets the delay).
    #[serde(skip)]
    pub running_since: Option<std::time::Instant>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            shim_pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
            restart_count: 0,
            manually_stopped: false,
            restart_delay: None,
            running_since: None,
        }
    }
}

/// Docker's zero time, shown for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub id: ObjectId,
    pub name: Name,
    pub created: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// Networks by ID, in attach order, with what was asked for each.
    pub networks: Vec<(ObjectId, EndpointRequest)>,
    pub state: State,
    /// Live endpoints while running (same order as `networks`).
    pub endpoints: Vec<Endpoint>,
    /// Whether the container has its own network namespace while running.
    pub sandbox: Option<String>,
    /// Ports published while it runs.
    #[serde(default)]
    pub published: Vec<Published>,
}

impl Container {
    /// The network-scoped aliases the container asked for on `network`.
    pub fn aliases_on(&self, network: &ObjectId) -> Vec<String> {
        self.networks
            .iter()
            .find(|(id, _)| id == network)
            .map(|(_, r)| r.aliases.clone())
            .unwrap_or_default()
    }
}

/// One published port range, as stored (a `PortMapping` in the firewall's terms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub host_ip: Ipv4Addr,
    pub proto: String,
    pub host_start: u16,
    pub host_end: u16,
    pub container_ip: Ipv4Addr,
    pub container_start: u16,
    pub container_end: u16,
}

impl Published {
    pub fn mapping(&self) -> berth_core::ports::PortMapping {
        use berth_core::ports::{PortMapping, PortRange, Proto};
        PortMapping {
            host_ip: self.host_ip,
            proto: self.proto.parse().unwrap_or(Proto::Tcp),
            host_port: PortRange {
                start: self.host_start,
                end: self.host_end,
            },
            container_ip: self.container_ip,
            container_port: PortRange {
                start: self.container_start,
                end: self.container_end,
            },
        }
    }
}

impl From<&berth_core::ports::PortMapping> for Published {
    fn from(m: &berth_core::ports::PortMapping) -> Self {
        Published {
            host_ip: m.host_ip,
            proto: m.proto.to_string(),
            host_start: m.host_port.start,
            host_end: m.host_port.end,
            container_ip: m.container_ip,
            container_start: m.container_port.start,
            container_end: m.container_port.end,
        }
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::parse_mac;

    #[test]
    fn mac_addresses_parse_in_docker_forms() {
        let want = [0x02, 0x42, 0xac, 0x11, 0x00, 0x0a];
        assert_eq!(parse_mac("02:42:ac:11:00:0a").unwrap(), want);
        assert_eq!(parse_mac("02:42:AC:11:00:0A").unwrap(), want);
        assert_eq!(parse_mac("02-42-ac-11-00-0a").unwrap(), want);
        assert_eq!(parse_mac("0242.ac11.000a").unwrap(), want);
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:0g",
            "2:42:ac:11:00:0a",
            "02:42:ac:11:00:0a:0b",
            "nope",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad:?} accepted");
        }
        let multicast = parse_mac("01:00:5e:00:00:01").unwrap_err();
        assert!(multicast.contains("multicast"), "{multicast}");
    }
}
