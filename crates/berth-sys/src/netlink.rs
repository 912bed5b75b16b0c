//! rtnetlink, directly (no `ip` commands). A netlink socket belongs to the namespace of the
//! thread that opened it, so `Netlink::in_netns` opens one on a thread inside that namespace.
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use crate::netns::NetNs;
use ipnet::{IpNet, Ipv4Net};
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, `vxlan`, ... or empty.
    pub kind: String,
    /// For ports: the index of the master (bridge).
    pub master: Option<u32>,
    pub mtu: u32,
    pub up: bool,
}

/// A synchronous rtnetlink socket.
pub struct Netlink {
    _private: (),
}

/// What a container's end of a veth needs, configured inside its namespace.
#[derive(Clone, Debug)]
pub struct ContainerIf {
    /// e.g. `eth0`.
    pub name: String,
    pub address: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub mac: [u8; 6],
    pub mtu: u32,
}

impl Netlink {
    /// A socket in the calling thread's namespace.
    pub fn new() -> crate::Result<Self> {
        todo!()
    }
    /// A socket in `ns` (opened on a thread that entered it; the socket stays there).
    pub fn in_netns(_ns: &NetNs) -> crate::Result<Self> {
        todo!()
    }

    pub fn links(&mut self) -> crate::Result<Vec<LinkInfo>> {
        todo!()
    }
    pub fn link_by_name(&mut self, _name: &str) -> crate::Result<Option<LinkInfo>> {
        todo!()
    }
    /// IPv4 destinations of all routes in the main table (to skip subnets in use).
    pub fn route_destinations_v4(&mut self) -> crate::Result<Vec<Ipv4Net>> {
        todo!()
    }
    /// IPv4 addresses (with prefix) on an interface.
    pub fn addresses_v4(&mut self, _index: u32) -> crate::Result<Vec<Ipv4Net>> {
        todo!()
    }

    /// Creates a bridge (multicast snooping off, IPv6 off on it), sets the MTU if given, adds
    /// `address` (the gateway with the subnet's prefix), brings it up. Returns its index.
    /// If a link of that name already exists: error `Netlink` saying so.
    pub fn create_bridge(
        &mut self,
        _name: &str,
        _mtu: Option<u32>,
        _address: Option<Ipv4Net>,
    ) -> crate::Result<u32> {
        todo!()
    }

    /// Adds an address to a link if it is not there yet.
    pub fn ensure_address(&mut self, _index: u32, _address: IpNet) -> crate::Result<()> {
        todo!()
    }

    /// Deletes a link by index (bridge, vxlan...). Missing: Ok.
    pub fn delete_link(&mut self, _index: u32) -> crate::Result<()> {
        todo!()
    }

    /// One request: a veth pair whose host end `host_name` is enslaved to `bridge_index` and up,
    /// and whose peer is created directly inside `peer_ns` as `peer.name` with `peer.mac` and
    /// `peer.mtu` (never moved: moving costs ~20 ms of RCU waits). Then, in `peer_ns`, pipelined:
    /// `lo` up, the address, the peer up, the default route via the gateway.
    /// Returns the host end's index. On failure, removes what it created.
    pub fn create_veth_into(
        &mut self,
        _host_name: &str,
        _bridge_index: u32,
        _peer_ns: &NetNs,
        _peer: &ContainerIf,
    ) -> crate::Result<u32> {
        todo!()
    }
}
