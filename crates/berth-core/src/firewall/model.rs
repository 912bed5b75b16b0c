//! The vocabulary of Berth's nftables table as typed values. Nothing here is text: the only
//! place these become nft syntax is `render.rs`.

use crate::ports::Proto;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Which table a set or chain lives in: `inet berth` or `bridge berth` (the one for frames
/// between ports of a bridge, which never reach the inet hooks without br_netfilter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Inet,
    Bridge,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Bridge => "bridge",
        }
    }
}

/// The named sets of the tables. Per-network facts live only here, as elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Set {
    /// Every Berth bridge.
    Bridges,
    /// Bridges of `--internal` networks.
    InternalBridges,
    /// `"b" . "b"` for each bridge: traffic that stays within one network.
    SameBridge,
    /// Subnets of networks whose egress is masqueraded.
    MasqSubnets,
    /// Subnets of non-internal networks: their containers reaching a published port through
    /// the host's address are masqueraded (hairpin), whatever their egress.
    HairpinSubnets,
    /// Subnets of non-internal networks with `enable_icc=false`: hairpin within one of them
    /// is masqueraded even when br_netfilter passes the bridged reply to conntrack, since the
    /// `bridge berth` table drops a frame between two of their containers before that.
    NoIccSubnets,
    /// A map, `subnet : address`: egress SNATed to the network's `host_ipv4`.
    SnatSubnets,
    /// Bridges in gateway mode `routed`.
    RoutedBridges,
    /// Bridges in gateway mode `nat-unprotected`.
    UnprotectedBridges,
    /// `"host interface" . "bridge"`: direct routing from a trusted host interface.
    TrustedInterfaces,
    /// `container address . protocol . container port` of every published single port.
    ContainerPorts,
    /// The same for published ranges (`flags interval`, one element per range).
    ContainerPortRanges,
    /// `address . address` for each container with published ports: a container reaching
    /// its own published port through the host's address is always masqueraded (see
    /// `postrouting_rules`).
    SelfHairpin,
    /// In `bridge berth`: the container addresses (subnet minus gateway, as ranges) of
    /// networks with `enable_icc=false`.
    NoIcc,
    /// Bridges of overlay networks: nothing on them is routed or NATed by the host, so their
    /// frames skip conntrack (`notrack`).
    OverlayBridges,
    /// This host's VXLAN source address (`--advertise-addr`) while it has overlay networks:
    /// VXLAN packets from and to it skip conntrack.
    Vteps,
}

impl Set {
    /// Declaration (and rendering) order.
    pub const ALL: [Set; 16] = [
        Set::Bridges,
        Set::InternalBridges,
        Set::SameBridge,
        Set::MasqSubnets,
        Set::HairpinSubnets,
        Set::NoIccSubnets,
        Set::SnatSubnets,
        Set::RoutedBridges,
        Set::UnprotectedBridges,
        Set::TrustedInterfaces,
        Set::ContainerPorts,
        Set::ContainerPortRanges,
        Set::SelfHairpin,
        Set::NoIcc,
        Set::OverlayBridges,
        Set::Vteps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Set::Bridges => "bridges",
            Set::InternalBridges => "internal_bridges",
            Set::SameBridge => "same_bridge",
            Set::MasqSubnets => "masq_subnets",
            Set::HairpinSubnets => "hairpin_subnets",
            Set::NoIccSubnets => "no_icc_subnets",
            Set::SnatSubnets => "snat_subnets",
            Set::RoutedBridges => "routed_bridges",
            Set::UnprotectedBridges => "unprotected_bridges",
            Set::TrustedInterfaces => "trusted_interfaces",
            Set::ContainerPorts => "container_ports",
            Set::ContainerPortRanges => "container_port_ranges",
            Set::SelfHairpin => "self_hairpin",
            Set::NoIcc => "no_icc",
            Set::OverlayBridges => "overlay_bridges",
            Set::Vteps => "vteps",
        }
    }

    pub fn key(self) -> SetKey {
        match self {
            Set::Bridges
            | Set::InternalBridges
            | Set::RoutedBridges
            | Set::UnprotectedBridges
            | Set::OverlayBridges => SetKey::IfName,
            Set::SameBridge | Set::TrustedInterfaces => SetKey::IfNamePair,
            Set::MasqSubnets
            | Set::HairpinSubnets
            | Set::NoIccSubnets
            | Set::SnatSubnets
            | Set::NoIcc
            | Set::Vteps => SetKey::Ipv4Addr,
            Set::ContainerPorts | Set::ContainerPortRanges => SetKey::AddrProtoPort,
            Set::SelfHairpin => SetKey::AddrPair,
        }
    }

    /// Interval sets hold prefixes or ranges rather than single values.
    pub fn interval(self) -> bool {
        matches!(
            self,
            Set::MasqSubnets
                | Set::HairpinSubnets
                | Set::NoIccSubnets
                | Set::SnatSubnets
                | Set::ContainerPortRanges
                | Set::NoIcc
        )
    }

    /// The value type, for the sets that are maps.
    pub fn value(self) -> Option<MapValueType> {
        (self == Set::SnatSubnets).then_some(MapValueType::Ipv4Addr)
    }

    pub fn family(self) -> Family {
        match self {
            Set::NoIcc => Family::Bridge,
            _ => Family::Inet,
        }
    }
}

/// The maps of published ports. nft 1.0.6 cannot give a map a concatenated value, so each
/// mapping is an address element and a port element with the same key. Single ports live in
/// hash maps (exact match: the kernel's cost per change does not grow with their size); only
/// ranges use an interval map (`flags interval`, whose updates cost in proportion to its
/// size), so one element covers a whole range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Map {
    /// `ipv4_addr . inet_proto . inet_service : ipv4_addr`, for a specific host address.
    PublishAddr,
    /// `ipv4_addr . inet_proto . inet_service : inet_service` (same keys as `PublishAddr`).
    PublishPort,
    /// `inet_proto . inet_service : ipv4_addr`, for every host address (0.0.0.0).
    PublishAnyAddr,
    /// `inet_proto . inet_service : inet_service`.
    PublishAnyPort,
    /// `ipv4_addr . inet_proto . inet_service : ipv4_addr` with `flags interval`: port ranges
    /// published on the same container ports (DNAT rewrites the address only), 0.0.0.0 as
    /// 0.0.0.0/0. Port-changing ranges are one hash element per port instead.
    PublishRange,
}

impl Map {
    /// Declaration (and rendering) order.
    pub const ALL: [Map; 5] = [
        Map::PublishAddr,
        Map::PublishPort,
        Map::PublishAnyAddr,
        Map::PublishAnyPort,
        Map::PublishRange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Map::PublishAddr => "publish_addr",
            Map::PublishPort => "publish_port",
            Map::PublishAnyAddr => "publish_any_addr",
            Map::PublishAnyPort => "publish_any_port",
            Map::PublishRange => "publish_range",
        }
    }

    /// What a packet is looked up by, in key order.
    pub fn lookup(self) -> &'static [Selector] {
        match self {
            Map::PublishAnyAddr | Map::PublishAnyPort => &[Selector::L4Proto, Selector::ThDport],
            _ => &[Selector::Ip4Daddr, Selector::L4Proto, Selector::ThDport],
        }
    }

    pub fn value(self) -> MapValueType {
        match self {
            Map::PublishAddr | Map::PublishAnyAddr | Map::PublishRange => MapValueType::Ipv4Addr,
            Map::PublishPort | Map::PublishAnyPort => MapValueType::InetService,
        }
    }

    pub fn interval(self) -> bool {
        self == Map::PublishRange
    }
}

/// The value type of a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapValueType {
    Ipv4Addr,
    InetService,
}

/// The key type of a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKey {
    IfName,
    IfNamePair,
    Ipv4Addr,
    /// `ipv4_addr . inet_proto . inet_service`
    AddrProtoPort,
    /// `ipv4_addr . ipv4_addr`
    AddrPair,
}

/// One set element. The variant must match the set's `SetKey`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    IfName(String),
    IfNamePair(String, String),
    Ipv4Net(Ipv4Net),
    /// An inclusive address range (interval sets).
    Ipv4Range(Ipv4Addr, Ipv4Addr),
    /// A map element: subnet to address.
    Ipv4NetTo(Ipv4Net, Ipv4Addr),
    /// One address (sets without `flags interval`).
    Ipv4Addr(Ipv4Addr),
    /// `address . protocol . port`, or a range of ports (`start`, `end`).
    AddrProtoPort(Ipv4Addr, Proto, u16, u16),
    /// `address . address`
    AddrPair(Ipv4Addr, Ipv4Addr),
}

impl Element {
    /// The key type of the set this element can go in.
    pub fn key(&self) -> SetKey {
        match self {
            Element::IfName(_) => SetKey::IfName,
            Element::IfNamePair(..) => SetKey::IfNamePair,
            Element::Ipv4Net(_)
            | Element::Ipv4Range(..)
            | Element::Ipv4NetTo(..)
            | Element::Ipv4Addr(_) => SetKey::Ipv4Addr,
            Element::AddrProtoPort(..) => SetKey::AddrProtoPort,
            Element::AddrPair(..) => SetKey::AddrPair,
        }
    }
}

/// An element together with the set it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetElement {
    pub set: Set,
    pub element: Element,
}

/// What a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    IifName,
    OifName,
    Ip4Saddr,
    Ip4Daddr,
    /// `meta l4proto`
    L4Proto,
    /// `th dport`: the destination port of TCP, UDP or SCTP.
    ThDport,
}

/// `ip daddr . meta l4proto . th dport`: a packet's destination as a published-port key.
pub const DADDR_PROTO_PORT: [Selector; 3] =
    [Selector::Ip4Daddr, Selector::L4Proto, Selector::ThDport];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtState {
    Established,
    Related,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtStatus {
    /// The connection was destination-NATed (a published port).
    Dnat,
    /// The connection was source-NATed (masquerade, `host_ipv4`).
    Snat,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// `keys` (concatenated with `.`) looked up in `set`; `negate` for "not in the set".
    InSet {
        keys: Vec<Selector>,
        set: Set,
        negate: bool,
    },
    CtState(Vec<CtState>),
    CtStatus(CtStatus),
    /// `ct status ! <status>`: the connection was not NATed that way.
    CtStatusNot(CtStatus),
    /// `ct direction reply`: the packet goes against the connection's first packet.
    CtReply,
    /// `<selector> != "<name>"`, e.g. `iifname != "lo"`.
    NameIsNot(Selector, &'static str),
    /// `fib daddr type local`: the destination is an address of this host.
    DaddrLocal,
    /// `meta l4proto { ... }`
    L4ProtoIn(Vec<Proto>),
    /// `<selector> <prefix>`, e.g. `ip saddr 127.0.0.0/8`.
    InPrefix(Selector, Ipv4Net),
    /// `udp dport <port>`
    UdpDport(u16),
}

impl Match {
    pub fn in_set(keys: &[Selector], set: Set) -> Self {
        Match::InSet {
            keys: keys.to_vec(),
            set,
            negate: false,
        }
    }
    pub fn not_in_set(keys: &[Selector], set: Set) -> Self {
        Match::InSet {
            keys: keys.to_vec(),
            set,
            negate: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Masquerade,
    /// Continue in a regular chain of the table.
    Jump(&'static str),
    /// `dnat ip to` the address looked up in `addr`, and the port looked up in `port` (none:
    /// keep the port), each looked up by its `Map::lookup` key.
    Dnat {
        addr: Map,
        port: Option<Map>,
    },
    /// `snat ip to ip saddr map @<set>` (no match when the source is not in the map).
    SnatBySaddr(Set),
    /// `notrack`: conntrack leaves the packet alone (raw priority only; not a final verdict).
    Notrack,
}

/// All matches must hold for the verdict to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub matches: Vec<Match>,
    pub verdict: Verdict,
}

impl Rule {
    pub fn new(matches: Vec<Match>, verdict: Verdict) -> Self {
        Rule { matches, verdict }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Prerouting,
    Forward,
    Output,
    Postrouting,
}

/// Base chain priorities, at Docker's (and nft's named) values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// -300: before conntrack (-200), where `notrack` takes effect.
    Raw,
    /// -200 in the bridge family (before br_netfilter's hooks at 0).
    BridgeFilter,
    /// -100
    DstNat,
    /// 0
    Filter,
    /// 100
    SrcNat,
}

impl Priority {
    pub fn value(self) -> i32 {
        match self {
            Priority::Raw => -300,
            Priority::BridgeFilter => -200,
            Priority::DstNat => -100,
            Priority::Filter => 0,
            Priority::SrcNat => 100,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Accept,
}

/// A base chain with its rules, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: &'static str,
    pub chain_type: ChainType,
    pub hook: Hook,
    pub priority: Priority,
    pub policy: Policy,
    pub rules: Vec<Rule>,
}

/// A chain without a hook, reached by `Verdict::Jump`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegularChain {
    pub name: &'static str,
    pub rules: Vec<Rule>,
}

/// The table's skeleton: set and map declarations and chains, without elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub sets: Vec<Set>,
    pub maps: Vec<Map>,
    pub chains: Vec<Chain>,
    /// Rendered after the base chains.
    pub regular_chains: Vec<RegularChain>,
}

/// Whether an element script adds or deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementOp {
    Add,
    Delete,
}
