//! The test topology, built in the calling thread's namespace (the underlay switch):
//!
//! ```text
//!            underlay ns: bridge ul (192.0.2.0/24)
//!           /                                    \
//!  host hA: eth0 192.0.2.1                host hB: eth0 192.0.2.2
//!   br-ov ── vx-4096 ~~~~ VXLAN UDP 4789 ~~~~ vx-4096 ── br-ov
//!     └ veth ── container 10.50.0.2             └ veth ── container 10.50.0.3
//! ```
//! The underlay is scaffolding (`ip` commands); everything on the overlay goes through the
//! `Netlink` API under test.

use crate::support::{run_here, run_in_ns};
use berth_sys::netlink::overlay::VxlanSpec;
use berth_sys::netlink::{ContainerIf, Netlink};
use berth_sys::netns::NetNs;
use std::net::Ipv4Addr;
use std::path::Path;

pub type R<T> = Result<T, String>;

/// Underlay MTU 1500 − 50 of VXLAN overhead.
pub const OVERLAY_MTU: u32 = 1450;

pub fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

pub struct Host {
    pub nl: Netlink,
    pub vtep: Ipv4Addr,
}

/// One overlay network on one host.
#[derive(Clone, Copy, Debug)]
pub struct Net {
    pub bridge: u32,
    pub vxlan: u32,
}

pub struct Container {
    pub ns: NetNs,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
}

/// Container `last` on the overlay: 10.50.0.`last`, MAC 02:42:0a:32:00:`last`.
pub fn container_addr(last: u8) -> (Ipv4Addr, [u8; 6]) {
    (
        Ipv4Addr::new(10, 50, 0, last),
        [0x02, 0x42, 0x0a, 0x32, 0x00, last],
    )
}

/// Two hosts (192.0.2.1 and .2) on an underlay bridge in the calling thread's namespace.
pub fn two_hosts(dir: &Path) -> R<(Host, Host)> {
    run_here(&["ip", "link", "add", "ul", "type", "bridge"])?;
    run_here(&["ip", "link", "set", "ul", "up"])?;
    Ok((host(dir, "hA", 1)?, host(dir, "hB", 2)?))
}

fn host(dir: &Path, name: &str, last: u8) -> R<Host> {
    let ns = NetNs::create_bound(&dir.join(name)).map_err(e)?;
    let port = format!("ul-{name}");
    let ns_path = ns.path.display().to_string();
    run_here(&[
        "ip", "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns_path,
    ])?;
    run_here(&["ip", "link", "set", &port, "master", "ul", "up"])?;
    let vtep = Ipv4Addr::new(192, 0, 2, last);
    let cidr = format!("{vtep}/24");
    run_in_ns(&ns.path, &["ip", "addr", "add", &cidr, "dev", "eth0"])?;
    run_in_ns(&ns.path, &["ip", "link", "set", "eth0", "up"])?;
    run_in_ns(&ns.path, &["ip", "link", "set", "lo", "up"])?;
    let nl = Netlink::in_netns(&ns).map_err(e)?;
    Ok(Host { nl, vtep })
}

impl Host {
    /// A bridge `br-<vni>` and a VXLAN device `vx-<vni>` on it, through the API.
    pub fn network(&mut self, vni: u32, arp_proxy: bool) -> R<Net> {
        let bridge = self
            .nl
            .create_bridge(&format!("br-{vni}"), Some(OVERLAY_MTU), None)
            .map_err(e)?;
        let spec = VxlanSpec {
            name: format!("vx-{vni}"),
            vni,
            local: self.vtep,
            mtu: OVERLAY_MTU,
            bridge_index: bridge,
            arp_proxy,
        };
        let vxlan = if arp_proxy {
            self.nl
                .create_vxlan(&spec.name, vni, self.vtep, OVERLAY_MTU, bridge)
        } else {
            self.nl.create_vxlan_with(&spec)
        }
        .map_err(e)?;
        Ok(Net { bridge, vxlan })
    }

    /// A container namespace `dir/name` with `eth0` (10.50.0.`last`/24, MTU 1450) on `net`.
    pub fn container(&mut self, dir: &Path, net: Net, name: &str, last: u8) -> R<Container> {
        let ns = NetNs::create_bound(&dir.join(name)).map_err(e)?;
        let (ip, mac) = container_addr(last);
        let peer = ContainerIf {
            name: "eth0".into(),
            address: ipnet::Ipv4Net::new(ip, 24).map_err(e)?,
            gateway: None,
            mac,
            mtu: OVERLAY_MTU,
        };
        self.nl
            .create_veth_into(&format!("v-{name}"), net.bridge, &ns, &peer)
            .map_err(e)?;
        Ok(Container { ns, ip, mac })
    }

    /// What the control plane does for a remote endpoint: its MAC is behind `remote_vtep`,
    /// and its address resolves to its MAC (answered by the VXLAN device's ARP proxy).
    pub fn learn(&mut self, net: Net, c: &Container, remote_vtep: Ipv4Addr) -> R<()> {
        self.nl.fdb_add(net.vxlan, c.mac, remote_vtep).map_err(e)?;
        self.nl.neigh_add(net.vxlan, c.ip, c.mac).map_err(e)
    }
}
