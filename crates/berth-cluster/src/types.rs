//! The values stored in etcd (as JSON) and the snapshot the watch publishes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::ClusterError;

/// A host in the cluster: `<prefix>/hosts/<host_id>`, under the host's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub host_id: String,
    /// Underlay address, the VXLAN tunnel endpoint.
    pub advertise: Ipv4Addr,
    /// When this client connected, seconds since the Unix epoch.
    pub started: u64,
}

/// An overlay network: `<prefix>/networks/<id>`, with no lease (it outlives hosts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDef {
    pub id: String,
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Sub-range addresses are allocated from; the whole subnet when absent.
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options as given at creation (`-o`), kept for inspect.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub internal: bool,
    /// Creation time, seconds since the Unix epoch (set by the caller).
    #[serde(default)]
    pub created: u64,
    /// VXLAN network identifier. In [`crate::Cluster::create_network`]'s request, 0 has one
    /// assigned there (the lowest free from 4096 up); any other value claims that VNI.
    #[serde(default)]
    pub vni: u32,
}

impl NetworkDef {
    /// Checks the definition is self-consistent before it is stored.
    pub(crate) fn validate(&self) -> Result<(), ClusterError> {
        crate::config::check_id("network id", &self.id)?;
        if self.name.is_empty() {
            return Err(ClusterError::Invalid("network name is empty".to_string()));
        }
        if self.subnet != self.subnet.trunc() {
            return Err(ClusterError::Invalid(format!(
                "subnet {} has host bits set; use {}",
                self.subnet,
                self.subnet.trunc()
            )));
        }
        if self.subnet.prefix_len() > 30 {
            return Err(ClusterError::Invalid(format!(
                "subnet {} is too small for a gateway and a container; use /30 or larger",
                self.subnet
            )));
        }
        if !self.subnet.contains(&self.gateway) {
            return Err(ClusterError::Invalid(format!(
                "gateway {} is outside subnet {}",
                self.gateway, self.subnet
            )));
        }
        if self.vni > crate::networks::LAST_VNI {
            return Err(ClusterError::Invalid(format!(
                "VXLAN id {} is out of range: VNIs go from 1 to {}",
                self.vni,
                crate::networks::LAST_VNI
            )));
        }
        if let Some(range) = self.ip_range {
            if !self.subnet.contains(&range) {
                return Err(ClusterError::Invalid(format!(
                    "ip range {range} is outside subnet {}",
                    self.subnet
                )));
            }
        }
        Ok(())
    }
}

/// A container's attachment to an overlay network:
/// `<prefix>/endpoints/<network_id>/<endpoint_id>`, under the owning host's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointDef {
    pub network_id: String,
    pub endpoint_id: String,
    pub container_id: String,
    /// Container name (DNS name on the network).
    pub name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub ipv4: Ipv4Addr,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// The host the container runs on; must be this client's host.
    pub host_id: String,
    /// That host's advertise address: where VXLAN packets for this MAC go.
    pub vtep: Ipv4Addr,
}

/// Addresses an allocation may hand out: `first..=last` minus `excluded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// Never handed out, typically the gateway.
    pub excluded: Vec<Ipv4Addr>,
}

impl AddressRange {
    /// The usual pool of a network: its ip range (or subnet) without the network
    /// and broadcast addresses of the subnet and without the gateway.
    pub fn for_network(net: &NetworkDef) -> AddressRange {
        let range = net.ip_range.unwrap_or(net.subnet);
        let first = range.network().max(next(net.subnet.network()));
        let last = range.broadcast().min(prev(net.subnet.broadcast()));
        AddressRange {
            first,
            last,
            excluded: vec![net.gateway],
        }
    }

    /// Whether `ip` may be handed out from this range.
    pub fn allows(&self, ip: Ipv4Addr) -> bool {
        ip >= self.first && ip <= self.last && !self.excluded.contains(&ip)
    }

    /// Candidates in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        (u32::from(self.first)..=u32::from(self.last))
            .map(Ipv4Addr::from)
            .filter(|ip| !self.excluded.contains(ip))
    }
}

fn next(ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip).saturating_add(1))
}

fn prev(ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(ip).saturating_sub(1))
}

/// Who holds an address: the value of `<prefix>/ipam/<net>/<ip>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AddressClaim {
    pub host_id: String,
}

/// Everything the cluster knows, as one immutable snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Overlay networks by id.
    pub networks: BTreeMap<String, NetworkDef>,
    /// Endpoints by network id, then endpoint id.
    pub endpoints: BTreeMap<String, BTreeMap<String, EndpointDef>>,
    /// Live hosts by host id.
    pub hosts: BTreeMap<String, HostInfo>,
    /// False while etcd is unreachable; the rest is then the last known state.
    pub connected: bool,
    /// etcd revision this snapshot reflects.
    pub revision: i64,
}

impl ClusterView {
    /// The endpoints of one network (empty when it has none).
    pub fn endpoints_of(&self, network_id: &str) -> impl Iterator<Item = &EndpointDef> {
        self.endpoints
            .get(network_id)
            .into_iter()
            .flat_map(|eps| eps.values())
    }

    /// A network by id, or else by exact name.
    pub fn network(&self, id_or_name: &str) -> Option<&NetworkDef> {
        self.networks
            .get(id_or_name)
            .or_else(|| self.networks.values().find(|n| n.name == id_or_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str, gw: &str, range: Option<&str>) -> NetworkDef {
        NetworkDef {
            id: "n1".into(),
            name: "ov1".into(),
            subnet: subnet.parse().unwrap(),
            gateway: gw.parse().unwrap(),
            ip_range: range.map(|r| r.parse().unwrap()),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            internal: false,
            created: 0,
            vni: 0,
        }
    }

    #[test]
    fn pool_skips_network_broadcast_and_gateway() {
        let pool = AddressRange::for_network(&net("10.50.0.0/29", "10.50.0.1", None));
        let ips: Vec<String> = pool.iter().map(|i| i.to_string()).collect();
        assert_eq!(
            ips,
            [
                "10.50.0.2",
                "10.50.0.3",
                "10.50.0.4",
                "10.50.0.5",
                "10.50.0.6"
            ]
        );
        let pool =
            AddressRange::for_network(&net("10.50.0.0/24", "10.50.0.1", Some("10.50.0.128/30")));
        assert_eq!(pool.first, Ipv4Addr::new(10, 50, 0, 128));
        assert_eq!(pool.last, Ipv4Addr::new(10, 50, 0, 131));
        assert!(!pool.allows(Ipv4Addr::new(10, 50, 0, 1)));
    }

    #[test]
    fn network_validation() {
        assert!(net("10.50.0.0/24", "10.50.0.1", None).validate().is_ok());
        assert!(net("10.50.0.1/24", "10.50.0.1", None).validate().is_err());
        assert!(net("10.50.0.0/24", "10.51.0.1", None).validate().is_err());
        assert!(net("10.50.0.0/24", "10.50.0.1", Some("10.60.0.0/28"))
            .validate()
            .is_err());
        assert!(net("10.50.0.0/31", "10.50.0.0", None).validate().is_err());
    }
}
