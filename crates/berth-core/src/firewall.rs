//! The firewall plan: Berth's one nftables table (`inet berth`) as typed values, and their
//! rendering to an nft script (the only place where rules become text).
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).
//!
//! The rules are fixed; per-network facts are set elements, so adding or removing a network
//! touches elements only and its cost does not grow with the number of networks.

use crate::ports::{PortMapping, Proto};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

mod model;
mod network;
mod options;
mod ports;
mod render;

pub use model::{
    Chain, ChainType, CtState, CtStatus, Element, ElementOp, Family, Hook, Map, MapValueType,
    Match, Policy, Priority, RegularChain, Rule, Selector, Set, SetElement, SetKey, Table, Verdict,
    DADDR_PROTO_PORT,
};
pub use network::BridgeNetwork;
pub use options::{
    BridgeOptions, Egress, GatewayMode, OptionError, OPT_ENABLE_ICC, OPT_ENABLE_IP_MASQUERADE,
    OPT_GATEWAY_MODE_IPV4, OPT_GATEWAY_MODE_IPV6, OPT_HOST_IPV4, OPT_TRUSTED_HOST_INTERFACES,
};
pub use ports::{
    port_elements, ports_elements, published_elements, KeyField, MapElement, MapValue,
};

pub const TABLE_FAMILY: &str = "inet";
pub const TABLE_NAME: &str = "berth";

/// What the firewall needs to know about one bridge-like network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkFacts {
    /// The bridge interface, e.g. `berth0`, `br-0123456789ab`.
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: no way out, not reachable from outside its bridge.
    pub internal: bool,
}

impl NetworkFacts {
    /// The set elements that describe this network with default options.
    pub fn elements(&self) -> Vec<SetElement> {
        BridgeNetwork::from(self).elements()
    }
}

/// The regular chain that DNATs published ports.
pub const PUBLISH_CHAIN: &str = "publish";

fn of_family(family: Family) -> Vec<Set> {
    Set::ALL
        .into_iter()
        .filter(|s| s.family() == family)
        .collect()
}

/// `table bridge berth`: frames between two ports of a bridge. Without br_netfilter they never
/// reach the inet hooks, so `enable_icc=false` is enforced here. At prerouting, before
/// br_netfilter (priority 0) could DNAT and bridge a frame: a frame between two container
/// addresses of such networks is dropped, while a container reaching another's published
/// port through a host address (not in the set) passes and is DNAT-ed and routed as usual.
/// The kernel may lack `meta ibrname` (CONFIG_NFT_BRIDGE_META), hence addresses, not bridges.
pub fn bridge_skeleton() -> Table {
    Table {
        sets: of_family(Family::Bridge),
        maps: vec![],
        chains: vec![Chain {
            name: "prerouting",
            chain_type: ChainType::Filter,
            hook: Hook::Prerouting,
            priority: Priority::BridgeFilter,
            policy: Policy::Accept,
            rules: vec![Rule::new(
                vec![
                    Match::in_set(&[Selector::Ip4Saddr], Set::NoIcc),
                    Match::in_set(&[Selector::Ip4Daddr], Set::NoIcc),
                ],
                Verdict::Drop,
            )],
        }],
        regular_chains: vec![],
    }
}

/// Daemon-wide firewall settings: berthd's flags, read once at start. They shape the fixed
/// rules, so they change only when the whole table is rewritten (at the next start); a network
/// created or removed meanwhile is still only set elements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// dockerd's `allow-direct-routing`: traffic routed to a container's address from outside
    /// (not through the host's address) reaches the container's published ports, on every
    /// network whose gateway mode is `nat` (`routed` and `nat-unprotected` allow it anyway;
    /// internal networks never).
    pub allow_direct_routing: bool,
}

/// The inet table's fixed sets, maps and chains (no elements), with default options.
pub fn skeleton() -> Table {
    skeleton_with(TableOptions::default())
}

/// `skeleton` for the daemon's `options`.
pub fn skeleton_with(options: TableOptions) -> Table {
    // Only packets to an address of this host are published-port candidates: from outside and
    // from containers (prerouting), and from the host itself, 127.0.0.1 included (output).
    let to_publish = || {
        vec![Rule::new(
            vec![Match::DaddrLocal],
            Verdict::Jump(PUBLISH_CHAIN),
        )]
    };
    Table {
        sets: of_family(Family::Inet),
        maps: Map::ALL.to_vec(),
        chains: vec![
            raw_chain("raw_prerouting", Hook::Prerouting, raw_prerouting_rules()),
            raw_chain("raw_output", Hook::Output, raw_output_rules()),
            nat_chain(
                "prerouting",
                Hook::Prerouting,
                Priority::DstNat,
                to_publish(),
            ),
            nat_chain("output", Hook::Output, Priority::DstNat, to_publish()),
            Chain {
                name: "forward",
                chain_type: ChainType::Filter,
                hook: Hook::Forward,
                priority: Priority::Filter,
                policy: Policy::Accept,
                rules: forward_rules(options),
            },
            nat_chain(
                "postrouting",
                Hook::Postrouting,
                Priority::SrcNat,
                postrouting_rules(),
            ),
        ],
        regular_chains: vec![RegularChain {
            name: PUBLISH_CHAIN,
            rules: publish_rules(),
        }],
    }
}

fn publish_rules() -> Vec<Rule> {
    // nft requires a transport protocol match before a port mapping.
    let l4 = || vec![Match::L4ProtoIn(Proto::ALL.to_vec())];
    // A packet matches at most one map: `ports::conflicts` keeps mappings apart.
    vec![
        Rule::new(
            l4(),
            Verdict::Dnat {
                addr: Map::PublishAddr,
                port: Some(Map::PublishPort),
            },
        ),
        Rule::new(
            l4(),
            Verdict::Dnat {
                addr: Map::PublishAnyAddr,
                port: Some(Map::PublishAnyPort),
            },
        ),
        Rule::new(
            vec![],
            Verdict::Dnat {
                addr: Map::PublishRange,
                port: None,
            },
        ),
    ]
}

/// The VXLAN port (IANA), which Berth's overlay devices use.
pub const VXLAN_PORT: u16 = 4789;

fn raw_chain(name: &'static str, hook: Hook, rules: Vec<Rule>) -> Chain {
    Chain {
        name,
        chain_type: ChainType::Filter,
        hook,
        priority: Priority::Raw,
        policy: Policy::Accept,
        rules,
    }
}

/// Overlay traffic is never NATed by the host: frames on an overlay bridge (which has no
/// address), and VXLAN packets to this host's VTEP, skip conntrack (docs/datapath.md).
fn raw_prerouting_rules() -> Vec<Rule> {
    let loopback = Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).unwrap_or_default();
    vec![
        // As dockerd: a packet for 127.0.0.0/8 that did not come from the host itself never
        // reaches a port published on 127.0.0.1 (the bridges' route_localnet would otherwise
        // let a neighbour or a container that routes 127.0.0.1 to this host in, since DNAT
        // runs before the kernel's martian check).
        Rule::new(
            vec![
                Match::InPrefix(Selector::Ip4Daddr, loopback),
                Match::NameIsNot(Selector::IifName, "lo"),
            ],
            Verdict::Drop,
        ),
        Rule::new(
            vec![Match::in_set(&[Selector::IifName], Set::OverlayBridges)],
            Verdict::Notrack,
        ),
        Rule::new(
            vec![
                Match::in_set(&[Selector::Ip4Daddr], Set::Vteps),
                Match::UdpDport(VXLAN_PORT),
            ],
            Verdict::Notrack,
        ),
    ]
}

/// VXLAN packets this host sends from its VTEP.
fn raw_output_rules() -> Vec<Rule> {
    vec![Rule::new(
        vec![
            Match::in_set(&[Selector::Ip4Saddr], Set::Vteps),
            Match::UdpDport(VXLAN_PORT),
        ],
        Verdict::Notrack,
    )]
}

fn nat_chain(name: &'static str, hook: Hook, priority: Priority, rules: Vec<Rule>) -> Chain {
    Chain {
        name,
        chain_type: ChainType::Nat,
        hook,
        priority,
        policy: Policy::Accept,
        rules,
    }
}

fn forward_rules(options: TableOptions) -> Vec<Rule> {
    use Selector::{IifName, OifName};
    use Verdict::{Accept, Drop};
    let dnat = || Match::CtStatus(CtStatus::Dnat);
    // Direct routing to a published port (container address, protocol, container port).
    let to_published = |from: Vec<Match>| {
        [Set::ContainerPorts, Set::ContainerPortRanges].map(|set| {
            let mut matches = from.clone();
            matches.push(Match::in_set(&DADDR_PROTO_PORT, set));
            Rule::new(matches, Accept)
        })
    };
    let mut rules = vec![
        // Within one network; needed also when br_netfilter sends bridged frames through here.
        Rule::new(
            vec![Match::in_set(&[IifName, OifName], Set::SameBridge)],
            Accept,
        ),
    ];
    // A reply from outside to a container's egress that was not NATed (masquerade off)
    // reaches a `nat` network only by direct routing: with --allow-direct-routing, or on a
    // trusted interface (moby's bridge-networking.md §3.3). `routed` and `nat-unprotected`
    // networks take it; replies to masqueraded egress arrive NATed and pass.
    if !options.allow_direct_routing {
        rules.push(Rule::new(
            vec![
                Match::not_in_set(&[IifName], Set::Bridges),
                Match::in_set(&[OifName], Set::Bridges),
                Match::not_in_set(&[OifName], Set::RoutedBridges),
                Match::not_in_set(&[OifName], Set::UnprotectedBridges),
                Match::not_in_set(&[IifName, OifName], Set::TrustedInterfaces),
                Match::CtReply,
                Match::CtStatusNot(CtStatus::Snat),
            ],
            Drop,
        ));
    }
    rules.extend([
        Rule::new(
            vec![Match::CtState(vec![CtState::Established, CtState::Related])],
            Accept,
        ),
        // Internal networks: no way out, and nothing else reaches them.
        Rule::new(vec![Match::in_set(&[IifName], Set::InternalBridges)], Drop),
        Rule::new(vec![Match::in_set(&[OifName], Set::InternalBridges)], Drop),
        // `routed`: published ports are reached at the container's address, never through the
        // host's address.
        Rule::new(
            vec![Match::in_set(&[OifName], Set::RoutedBridges), dnat()],
            Drop,
        ),
        // Published ports (DNAT-ed in prerouting), also from containers of other networks
        // through the host's address: so before the isolation drop.
        Rule::new(
            vec![Match::in_set(&[OifName], Set::Bridges), dnat()],
            Accept,
        ),
        // Isolation between networks (direct traffic: it was not DNAT-ed).
        Rule::new(
            vec![
                Match::in_set(&[IifName], Set::Bridges),
                Match::in_set(&[OifName], Set::Bridges),
            ],
            Drop,
        ),
        // Containers go out.
        Rule::new(vec![Match::in_set(&[IifName], Set::Bridges)], Accept),
        // `nat-unprotected`: whatever routes to a container reaches every port.
        Rule::new(
            vec![Match::in_set(&[OifName], Set::UnprotectedBridges)],
            Accept,
        ),
    ]);
    rules.extend(to_published(vec![Match::in_set(
        &[OifName],
        Set::RoutedBridges,
    )]));
    rules.extend(to_published(vec![Match::in_set(
        &[IifName, OifName],
        Set::TrustedInterfaces,
    )]));
    if options.allow_direct_routing {
        // Any bridge network that got here (internal ones were dropped above). Overlay
        // bridges are not the bridge driver's: dockerd's flag does not open them.
        rules.extend(to_published(vec![
            Match::in_set(&[OifName], Set::Bridges),
            Match::not_in_set(&[OifName], Set::OverlayBridges),
        ]));
    }
    // From outside, only to published ports (accepted above).
    rules.push(Rule::new(
        vec![Match::in_set(&[OifName], Set::Bridges)],
        Drop,
    ));
    rules
}

fn postrouting_rules() -> Vec<Rule> {
    let dnat_to_bridge = || {
        vec![
            Match::in_set(&[Selector::OifName], Set::Bridges),
            Match::CtStatus(CtStatus::Dnat),
        ]
    };
    let localhost = Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).unwrap_or_default();
    vec![
        Rule::new(
            vec![
                Match::in_set(&[Selector::Ip4Saddr], Set::MasqSubnets),
                Match::not_in_set(&[Selector::OifName], Set::Bridges),
            ],
            Verdict::Masquerade,
        ),
        // `host_ipv4`: a fixed source address instead of the outgoing interface's.
        Rule::new(
            vec![Match::not_in_set(&[Selector::OifName], Set::Bridges)],
            Verdict::SnatBySaddr(Set::SnatSubnets),
        ),
        // A container reaching a published port through the host's address, routed by the
        // host (it has an input interface here): the reply must come back through the host to
        // be un-DNAT-ed, not straight over the bridge (hairpin; like Docker, this also covers
        // containers of other networks, and networks whose egress is not masqueraded).
        // Frames that br_netfilter passed to these hooks (`bridge-nf-call-iptables` = 1) reach
        // postrouting without an input interface: their replies pass conntrack on the bridge
        // too, so they keep the container's address, and skip a NAT per packet. External
        // clients keep their address.
        Rule::new(
            [
                vec![
                    Match::in_set(&[Selector::Ip4Saddr], Set::HairpinSubnets),
                    Match::in_set(&[Selector::IifName], Set::Bridges),
                ],
                dnat_to_bridge(),
            ]
            .concat(),
            Verdict::Masquerade,
        ),
        // A container reaching its own published port: its reply would stay inside it.
        Rule::new(
            [
                vec![Match::in_set(
                    &[Selector::Ip4Saddr, Selector::Ip4Daddr],
                    Set::SelfHairpin,
                )],
                dnat_to_bridge(),
            ]
            .concat(),
            Verdict::Masquerade,
        ),
        // Within an `enable_icc=false` network: the bridge table would drop the reply
        // (container to container) before br_netfilter's conntrack could un-NAT it.
        Rule::new(
            [
                vec![Match::in_set(&[Selector::Ip4Saddr], Set::NoIccSubnets)],
                dnat_to_bridge(),
            ]
            .concat(),
            Verdict::Masquerade,
        ),
        // The host itself via 127.0.0.1: a loopback source cannot leave the host (needs
        // route_localnet on the bridge to be routed there at all).
        Rule::new(
            [
                vec![Match::InPrefix(Selector::Ip4Saddr, localhost)],
                dnat_to_bridge(),
            ]
            .concat(),
            Verdict::Masquerade,
        ),
    ]
}

/// Script that atomically replaces both tables (`inet berth`, `bridge berth`) with their
/// skeletons plus the elements for `networks` with default options (see `render_full_bridges`).
/// Must work whether or not the tables exist (the `table x {}` + `delete table x` idiom).
pub fn render_full(networks: &[NetworkFacts]) -> String {
    render_full_with_ports(networks, &[])
}

/// `render_full` plus the elements of `mappings` (validated, without conflicts: see
/// `ports::conflicts`; the kernel refuses overlapping elements and nothing is applied).
pub fn render_full_with_ports(networks: &[NetworkFacts], mappings: &[PortMapping]) -> String {
    let nets: Vec<BridgeNetwork> = networks.iter().map(BridgeNetwork::from).collect();
    render_full_bridges(&nets, mappings)
}

/// The whole of both tables for networks with their options, and published ports (used at
/// daemon start: reconcile).
pub fn render_full_bridges(networks: &[BridgeNetwork], mappings: &[PortMapping]) -> String {
    render_full_bridges_with(networks, mappings, TableOptions::default())
}

/// `render_full_bridges` with the daemon's table options (`skeleton_with`).
pub fn render_full_bridges_with(
    networks: &[BridgeNetwork],
    mappings: &[PortMapping],
    options: TableOptions,
) -> String {
    let mut out = String::new();
    for family in [Family::Inet, Family::Bridge] {
        let f = family.name();
        out.push_str(&format!("table {f} {TABLE_NAME} {{}}\n"));
        out.push_str(&format!("delete table {f} {TABLE_NAME}\n"));
    }
    render::render_table(&mut out, Family::Inet, &skeleton_with(options));
    render::render_table(&mut out, Family::Bridge, &bridge_skeleton());
    let mut elements: Vec<SetElement> = networks.iter().flat_map(BridgeNetwork::elements).collect();
    for vtep in networks.iter().flat_map(BridgeNetwork::vtep_elements) {
        if !elements.contains(&vtep) {
            elements.push(vtep);
        }
    }
    elements.extend(published_elements(mappings));
    render::render_elements(&mut out, ElementOp::Add, &elements);
    let published = ports_elements(mappings);
    render::render_map_elements(&mut out, ElementOp::Add, &published);
    out
}

/// Script that publishes `mappings` (one transaction; elements only). For a daemon that has
/// no netlink session: prefer `port_elements` through `berth_sys::nftables::Session`.
pub fn render_add_ports(mappings: &[PortMapping]) -> String {
    render_ports(ElementOp::Add, mappings)
}

/// Script that unpublishes `mappings`.
pub fn render_remove_ports(mappings: &[PortMapping]) -> String {
    render_ports(ElementOp::Delete, mappings)
}

fn render_ports(op: ElementOp, mappings: &[PortMapping]) -> String {
    let mut out = String::new();
    render::render_elements(&mut out, op, &published_elements(mappings));
    render::render_map_elements(&mut out, op, &ports_elements(mappings));
    out
}

/// Script that adds one network's set elements (one transaction). Adding a network never adds
/// rules, only elements.
pub fn render_add_network(net: &NetworkFacts) -> String {
    render_add_bridge(&net.into())
}

/// Script that removes one network's set elements.
pub fn render_remove_network(net: &NetworkFacts) -> String {
    render_remove_bridge(&net.into())
}

/// `render_add_network` for a network with its options (elements of both tables).
pub fn render_add_bridge(net: &BridgeNetwork) -> String {
    let mut out = String::new();
    let elements = [net.elements(), net.vtep_elements()].concat();
    render::render_elements(&mut out, ElementOp::Add, &elements);
    out
}

/// `render_remove_network` for a network with its options.
pub fn render_remove_bridge(net: &BridgeNetwork) -> String {
    let mut out = String::new();
    render::render_elements(&mut out, ElementOp::Delete, &net.elements());
    out
}

#[cfg(test)]
mod tests;
