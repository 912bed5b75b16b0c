//! Building rtnetlink requests and reading replies (no I/O here).

use super::{ContainerIf, LinkInfo};
use ipnet::{IpNet, Ipv4Net};
use netlink_packet_core::{
    NlaBuffer, NlasIterator, Parseable, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoBridge, InfoBridgePort, InfoData, InfoKind,
    InfoPortData, InfoPortKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkHeader,
    LinkInfo as NlLinkInfo, LinkMessage, LinkMessageBuffer,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

/// A request and its NLM_F_* flags beyond REQUEST/ACK.
pub(crate) type Request = (RouteNetlinkMessage, u16);

const CREATE_EXCL: u16 = NLM_F_CREATE | NLM_F_EXCL;

/// How a request names a link: rtnetlink looks a link up by name when the index is 0.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LinkRef<'a> {
    Index(u32),
    Name(&'a str),
}

fn link_msg(link: LinkRef<'_>) -> LinkMessage {
    let mut m = LinkMessage::default();
    match link {
        LinkRef::Index(i) => m.header.index = i,
        LinkRef::Name(n) => m.attributes.push(LinkAttribute::IfName(n.to_string())),
    }
    m
}

/// Link queries skip the statistics (`RTEXT_FILTER_SKIP_STATS`): nothing here reads them, and
/// filling and sending them is a good part of the kernel's work for a reply.
fn skip_stats(mut m: LinkMessage) -> LinkMessage {
    m.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    m
}

pub(crate) fn get_link(link: LinkRef<'_>) -> Request {
    (RouteNetlinkMessage::GetLink(skip_stats(link_msg(link))), 0)
}

pub(crate) fn dump_links() -> Request {
    (
        RouteNetlinkMessage::GetLink(skip_stats(LinkMessage::default())),
        NLM_F_DUMP,
    )
}

pub(crate) fn del_link(index: u32) -> Request {
    (
        RouteNetlinkMessage::DelLink(link_msg(LinkRef::Index(index))),
        0,
    )
}

pub(crate) fn set_up(link: LinkRef<'_>) -> Request {
    let mut m = link_msg(link);
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    (RouteNetlinkMessage::SetLink(m), 0)
}

/// A new MTU for an existing link (`ip link set X mtu N`). The kernel checks it against the
/// link's limits (68 to 65535 for a bridge) and refuses it with EINVAL; the same MTU again is
/// a no-op there (a bridge's MTU stays "not set by the user", so it still follows its ports).
pub(crate) fn set_mtu(link: LinkRef<'_>, mtu: u32) -> Request {
    let mut m = link_msg(link);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    (RouteNetlinkMessage::SetLink(m), 0)
}

/// Hairpin mode on a bridge port (`ip link set X type bridge_slave hairpin on`): a frame may
/// leave through the port it came in, so a container reaches its own published port through
/// the host's address.
pub(crate) fn set_hairpin(link: LinkRef<'_>) -> Request {
    let mut m = link_msg(link);
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        NlLinkInfo::PortKind(InfoPortKind::Bridge),
        NlLinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ]));
    (RouteNetlinkMessage::NewLink(m), 0)
}

/// No automatic IPv6 addresses (no link-local, so no DAD, router solicitations or MLD reports
/// flooding the bridge). rtnetlink refuses IFLA_AF_SPEC at creation, hence a separate request,
/// sent before the link goes up.
pub(crate) fn set_no_ipv6_addrgen(link: LinkRef<'_>) -> Request {
    let mut m = link_msg(link);
    m.attributes
        .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )]));
    (RouteNetlinkMessage::SetLink(m), 0)
}

/// A bridge, down, multicast snooping off (flooding is cheaper than snooping at our scale).
pub(crate) fn new_bridge(name: &str, mtu: Option<u32>) -> Request {
    let mut m = link_msg(LinkRef::Name(name));
    // A fixed address: without one the bridge takes the lowest MAC of its ports, and changes
    // it when that port leaves, so every container's cached gateway MAC goes stale.
    m.attributes
        .push(LinkAttribute::Address(bridge_mac(name).to_vec()));
    if let Some(mtu) = mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
    }
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        NlLinkInfo::Kind(InfoKind::Bridge),
        NlLinkInfo::Data(InfoData::Bridge(vec![InfoBridge::MulticastSnooping(0)])),
    ]));
    (RouteNetlinkMessage::NewLink(m), CREATE_EXCL)
}

/// A locally administered unicast MAC derived from the bridge's name (FNV-1a), so a bridge
/// re-created after a restart keeps its address.
pub(crate) fn bridge_mac(name: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [0x02, b[3], b[4], b[5], b[6], b[7]]
}

/// A veth pair: `host_name` enslaved to `bridge_index` (down: it is brought up after its IPv6
/// address generation is turned off), the peer created directly in the namespace `ns_fd`.
pub(crate) fn new_veth(
    host_name: &str,
    bridge_index: u32,
    ns_fd: RawFd,
    peer: &ContainerIf,
) -> Request {
    let mut p = link_msg(LinkRef::Name(&peer.name));
    p.attributes.push(LinkAttribute::Address(peer.mac.to_vec()));
    p.attributes.push(LinkAttribute::Mtu(peer.mtu));
    p.attributes.push(LinkAttribute::NetNsFd(ns_fd));

    let mut m = link_msg(LinkRef::Name(host_name));
    m.attributes.push(LinkAttribute::Mtu(peer.mtu));
    m.attributes.push(LinkAttribute::Controller(bridge_index));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        NlLinkInfo::Kind(InfoKind::Veth),
        NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
    ]));
    (RouteNetlinkMessage::NewLink(m), CREATE_EXCL)
}

/// Adds `address` to link `index`; fails with EEXIST if the same address/prefix is there.
pub(crate) fn new_address(index: u32, address: IpNet) -> Request {
    let mut m = AddressMessage::default();
    m.header.index = index;
    m.header.prefix_len = address.prefix_len();
    m.header.scope = AddressScope::Universe;
    let ip = address.addr();
    m.header.family = family_of(ip);
    m.attributes.push(AddressAttribute::Local(ip));
    m.attributes.push(AddressAttribute::Address(ip));
    if let IpNet::V4(v4) = address {
        // Like `ip addr add ... brd +`: containers expect a broadcast address.
        if v4.prefix_len() < 31 {
            m.attributes
                .push(AddressAttribute::Broadcast(v4.broadcast()));
        }
    }
    (RouteNetlinkMessage::NewAddress(m), CREATE_EXCL)
}

pub(crate) fn dump_addresses(family: AddressFamily) -> Request {
    let mut m = AddressMessage::default();
    m.header.family = family;
    (RouteNetlinkMessage::GetAddress(m), NLM_F_DUMP)
}

/// `default via gateway dev oif` in the main table.
pub(crate) fn new_default_route_v4(gateway: Ipv4Addr, oif: u32) -> Request {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes
        .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
    m.attributes.push(RouteAttribute::Oif(oif));
    (RouteNetlinkMessage::NewRoute(m), CREATE_EXCL)
}

/// Deletes the main table's IPv4 default route (whatever its gateway).
pub(crate) fn del_default_route_v4() -> Request {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.scope = RouteScope::NoWhere;
    (RouteNetlinkMessage::DelRoute(m), 0)
}

pub(crate) fn dump_routes_v4() -> Request {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    (RouteNetlinkMessage::GetRoute(m), NLM_F_DUMP)
}

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// `RTM_NEWLINK` (a link in a reply).
pub(crate) const RTM_NEWLINK: u16 = 16;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;

/// A link reply (`payload`: what follows the netlink header) decoded only as far as Berth reads
/// it: the header, name, MTU, peer link, master and kind. A full decode goes through every
/// attribute (a bridge's reply carries ~2 KB of bridge options, IPv6 settings and more) and
/// cost ~0.3 ms per reply, most of a lookup; the fields kept here are what [`link_info`] and
/// [`peer_index`] read. None if the header is malformed; a malformed attribute is skipped.
pub(crate) fn link_summary(payload: &[u8]) -> Option<RouteNetlinkMessage> {
    let buf = LinkMessageBuffer::new_checked(payload).ok()?;
    let mut m = LinkMessage::default();
    m.header = LinkHeader::parse(&buf).ok()?;
    for nla in buf.attributes().filter_map(|a| a.ok()) {
        if let Some(attr) = summary_attribute(&nla) {
            m.attributes.push(attr);
        }
    }
    Some(RouteNetlinkMessage::NewLink(m))
}

fn summary_attribute(nla: &NlaBuffer<&[u8]>) -> Option<LinkAttribute> {
    let value = nla.value();
    let u32_value = || {
        value
            .get(..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    match nla.kind() {
        IFLA_IFNAME => {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            Some(LinkAttribute::IfName(
                String::from_utf8_lossy(&value[..end]).into_owned(),
            ))
        }
        IFLA_MTU => u32_value().map(LinkAttribute::Mtu),
        IFLA_LINK => u32_value().map(LinkAttribute::Link),
        IFLA_MASTER => u32_value().map(LinkAttribute::Controller),
        IFLA_LINKINFO => {
            let kind = NlasIterator::new(value)
                .filter_map(|n| n.ok())
                .find(|n| n.kind() == IFLA_INFO_KIND)
                .and_then(|n| InfoKind::parse(&n).ok())?;
            Some(LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(kind)]))
        }
        _ => None,
    }
}

/// The peer of a veth (`IFLA_LINK`: its index in the peer's namespace). The kernel leaves
/// the attribute out when the peer's index equals the link's own (possible across
/// namespaces), so None means "look it up".
pub(crate) fn peer_index(msg: &RouteNetlinkMessage) -> Option<u32> {
    let RouteNetlinkMessage::NewLink(m) = msg else {
        return None;
    };
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Link(i) if *i != 0 => Some(*i),
        _ => None,
    })
}

/// Our view of a link message, or None for other message types.
pub(crate) fn link_info(msg: &RouteNetlinkMessage) -> Option<LinkInfo> {
    let RouteNetlinkMessage::NewLink(m) = msg else {
        return None;
    };
    let mut info = LinkInfo {
        index: m.header.index,
        name: String::new(),
        kind: String::new(),
        master: None,
        mtu: 0,
        up: m.header.flags.contains(LinkFlags::Up),
    };
    for attr in &m.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Mtu(mtu) => info.mtu = *mtu,
            LinkAttribute::Controller(i) => info.master = Some(*i),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let NlLinkInfo::Kind(k) = i {
                        info.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    Some(info)
}

/// The IPv4 address (with prefix) of an address message on link `index`.
pub(crate) fn address_v4(msg: &RouteNetlinkMessage, index: u32) -> Option<Ipv4Net> {
    let RouteNetlinkMessage::NewAddress(m) = msg else {
        return None;
    };
    if m.header.index != index || m.header.family != AddressFamily::Inet {
        return None;
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs only on point-to-point.
    let find = |want_local: bool| {
        m.attributes.iter().find_map(|a| match (a, want_local) {
            (AddressAttribute::Local(IpAddr::V4(ip)), true) => Some(*ip),
            (AddressAttribute::Address(IpAddr::V4(ip)), false) => Some(*ip),
            _ => None,
        })
    };
    let ip = find(true).or_else(|| find(false))?;
    Ipv4Net::new(ip, m.header.prefix_len).ok()
}

/// The destination of an IPv4 route in the main table.
pub(crate) fn route_destination_v4(msg: &RouteNetlinkMessage) -> Option<Ipv4Net> {
    let RouteNetlinkMessage::NewRoute(m) = msg else {
        return None;
    };
    let table = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table));
    if table != u32::from(RouteHeader::RT_TABLE_MAIN)
        || m.header.address_family != AddressFamily::Inet
    {
        return None;
    }
    let dst = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
            _ => None,
        })
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    Ipv4Net::new(dst, m.header.destination_prefix_length).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    /// A link as the kernel would send it (with attributes Berth does not read) decodes to the
    /// same `LinkInfo` as the full decode, and keeps the veth peer's index.
    #[test]
    fn link_summary_keeps_what_berth_reads() {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        m.attributes = vec![
            LinkAttribute::IfName("br-test".into()),
            LinkAttribute::Mtu(1450),
            LinkAttribute::Link(3),
            LinkAttribute::Controller(2),
            LinkAttribute::TxQueueLen(1000),
            LinkAttribute::LinkInfo(vec![
                NlLinkInfo::Kind(InfoKind::Bridge),
                NlLinkInfo::Data(InfoData::Bridge(vec![InfoBridge::MulticastSnooping(0)])),
            ]),
        ];
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        let full = RouteNetlinkMessage::NewLink(m);
        let summary = link_summary(&buf).expect("a valid link message");
        assert_eq!(link_info(&summary), link_info(&full));
        let info = link_info(&summary).unwrap();
        assert_eq!(
            (info.index, info.name.as_str(), info.kind.as_str(), info.mtu),
            (7, "br-test", "bridge", 1450)
        );
        assert_eq!((info.master, info.up), (Some(2), true));
        assert_eq!(peer_index(&summary), Some(3));
        assert!(link_summary(&buf[..8]).is_none());
    }
}
