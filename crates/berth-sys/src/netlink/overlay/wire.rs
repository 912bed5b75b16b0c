//! The overlay's rtnetlink requests (VXLAN link, FDB entries on it, ARP neighbours) and the
//! reading of FDB dumps. No I/O here.

use super::{VxlanSpec, VXLAN_PORT};
use crate::netlink::msg::Request;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::link::LinkInfo as NlLinkInfo;
use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::Ipv4Addr;

/// VNIs are 24 bits.
pub(crate) const VNI_LIMIT: u32 = 1 << 24;
/// The MAC of flood entries: frames with no other entry (broadcast, unknown unicast) go to
/// every remote listed under it.
pub(crate) const FLOOD_MAC: [u8; 6] = [0; 6];

/// A VXLAN device, down, enslaved to its bridge: learning off (entries come from the control
/// plane), no group (unicast only), and ARP proxy as asked (see `VxlanSpec::arp_proxy`).
pub(crate) fn new_vxlan(spec: &VxlanSpec) -> Request {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(spec.name.clone()));
    m.attributes.push(LinkAttribute::Mtu(spec.mtu));
    m.attributes
        .push(LinkAttribute::Controller(spec.bridge_index));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        NlLinkInfo::Kind(InfoKind::Vxlan),
        NlLinkInfo::Data(InfoData::Vxlan(vec![
            InfoVxlan::Id(spec.vni),
            InfoVxlan::Local(spec.local),
            InfoVxlan::Port(VXLAN_PORT),
            InfoVxlan::Learning(false),
            InfoVxlan::Proxy(spec.arp_proxy),
        ])),
    ]));
    (RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
}

fn neigh(family: AddressFamily, index: u32, state: NeighbourState) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = family;
    m.header.ifindex = index;
    m.header.state = state;
    m
}

/// An FDB entry of the vxlan device itself (`bridge fdb ... self`): frames to `mac` are sent to
/// VTEP `remote` on the device's VNI and port.
fn fdb(index: u32, mac: [u8; 6], remote: Ipv4Addr) -> NeighbourMessage {
    let mut m = neigh(AddressFamily::Bridge, index, NeighbourState::Permanent);
    m.header.flags = NeighbourFlags::Own;
    m.attributes
        .push(NeighbourAttribute::LinkLocalAddress(mac.to_vec()));
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
            remote,
        )));
    m
}

/// Creates or replaces the (single) remote of a unicast MAC.
pub(crate) fn fdb_replace(index: u32, mac: [u8; 6], remote: Ipv4Addr) -> Request {
    (
        RouteNetlinkMessage::NewNeighbour(fdb(index, mac, remote)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// Adds `remote` to the flood list (an existing remote is left as it is).
pub(crate) fn fdb_append_flood(index: u32, remote: Ipv4Addr) -> Request {
    (
        RouteNetlinkMessage::NewNeighbour(fdb(index, FLOOD_MAC, remote)),
        NLM_F_CREATE | NLM_F_APPEND,
    )
}

/// Removes `remote` from the entry of `mac` (only that remote: the others stay).
pub(crate) fn fdb_delete(index: u32, mac: [u8; 6], remote: Ipv4Addr) -> Request {
    (
        RouteNetlinkMessage::DelNeighbour(fdb(index, mac, remote)),
        0,
    )
}

/// All FDB entries of the namespace (the kernel filters by device only for sockets with strict
/// checking; we filter when reading).
pub(crate) fn dump_fdb() -> Request {
    let m = neigh(AddressFamily::Bridge, 0, NeighbourState::None);
    (RouteNetlinkMessage::GetNeighbour(m), NLM_F_DUMP)
}

/// A permanent ARP entry `ip` → `mac` on link `index`, replacing any existing one.
pub(crate) fn arp_replace(index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> Request {
    let mut m = neigh(AddressFamily::Inet, index, NeighbourState::Permanent);
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    m.attributes
        .push(NeighbourAttribute::LinkLocalAddress(mac.to_vec()));
    (
        RouteNetlinkMessage::NewNeighbour(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

pub(crate) fn arp_delete(index: u32, ip: Ipv4Addr) -> Request {
    let mut m = neigh(AddressFamily::Inet, index, NeighbourState::None);
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    (RouteNetlinkMessage::DelNeighbour(m), 0)
}

/// All IPv4 neighbour entries of the namespace (filtered by link when reading).
pub(crate) fn dump_arp() -> Request {
    let m = neigh(AddressFamily::Inet, 0, NeighbourState::None);
    (RouteNetlinkMessage::GetNeighbour(m), NLM_F_DUMP)
}

/// (IP, MAC) of a permanent IPv4 neighbour entry on link `index`.
pub(crate) fn permanent_arp(msg: &RouteNetlinkMessage, index: u32) -> Option<(Ipv4Addr, [u8; 6])> {
    let RouteNetlinkMessage::NewNeighbour(m) = msg else {
        return None;
    };
    if m.header.family != AddressFamily::Inet
        || m.header.ifindex != index
        || m.header.state != NeighbourState::Permanent
    {
        return None;
    }
    let mut ip = None;
    let mut mac = None;
    for attr in &m.attributes {
        match attr {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(addr)) => ip = Some(*addr),
            NeighbourAttribute::LinkLocalAddress(bytes) => {
                mac = <[u8; 6]>::try_from(&bytes[..]).ok()
            }
            _ => {}
        }
    }
    Some((ip?, mac?))
}

/// (MAC, remote VTEP) of an FDB entry that belongs to vxlan device `index` itself (not the
/// bridge's entries for that port, which have no remote).
pub(crate) fn fdb_entry(msg: &RouteNetlinkMessage, index: u32) -> Option<([u8; 6], Ipv4Addr)> {
    let RouteNetlinkMessage::NewNeighbour(m) = msg else {
        return None;
    };
    if m.header.family != AddressFamily::Bridge
        || m.header.ifindex != index
        || !m.header.flags.contains(NeighbourFlags::Own)
    {
        return None;
    }
    let mut mac = None;
    let mut remote = None;
    for attr in &m.attributes {
        match attr {
            NeighbourAttribute::LinkLocalAddress(bytes) => {
                mac = <[u8; 6]>::try_from(&bytes[..]).ok()
            }
            // Bridge-family messages carry the remote as raw bytes (4 for IPv4).
            NeighbourAttribute::Destination(NeighbourAddress::Other(bytes)) => {
                remote = <[u8; 4]>::try_from(&bytes[..]).ok().map(Ipv4Addr::from)
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => remote = Some(*ip),
            _ => {}
        }
    }
    Some((mac?, remote?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(flags: NeighbourFlags, ifindex: u32, dst: Vec<u8>) -> RouteNetlinkMessage {
        let mut m = neigh(AddressFamily::Bridge, ifindex, NeighbourState::Permanent);
        m.header.flags = flags;
        m.attributes = vec![
            NeighbourAttribute::LinkLocalAddress(vec![2, 0x42, 10, 50, 0, 3]),
            NeighbourAttribute::Destination(NeighbourAddress::Other(dst)),
        ];
        RouteNetlinkMessage::NewNeighbour(m)
    }

    #[test]
    fn fdb_entry_keeps_only_the_devices_own_ipv4_entries() {
        let own = reply(NeighbourFlags::Own, 7, vec![192, 0, 2, 2]);
        assert_eq!(
            fdb_entry(&own, 7),
            Some(([2, 0x42, 10, 50, 0, 3], Ipv4Addr::new(192, 0, 2, 2)))
        );
        assert_eq!(fdb_entry(&own, 8), None);
        let bridge_entry = reply(NeighbourFlags::Controller, 7, vec![192, 0, 2, 2]);
        assert_eq!(fdb_entry(&bridge_entry, 7), None);
        let ipv6_remote = reply(NeighbourFlags::Own, 7, vec![0; 16]);
        assert_eq!(fdb_entry(&ipv6_remote, 7), None);
    }
}
