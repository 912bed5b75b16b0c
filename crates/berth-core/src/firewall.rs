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
mod ports;
mod render;

pub use model::{
    Chain, ChainType, CtState, CtStatus, Element, ElementOp, Hook, Map, MapValueType, Match,
    Policy, Priority, RegularChain, Rule, Selector, Set, SetElement, SetKey, Table, Verdict,
};
pub use ports::{port_elements, ports_elements, KeyField, MapElement, MapValue};

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
    /// The set elements that describe this network.
    pub fn elements(&self) -> Vec<SetElement> {
        let name = || Element::IfName(self.bridge.clone());
        let mut out = vec![
            SetElement {
                set: Set::Bridges,
                element: name(),
            },
            SetElement {
                set: Set::SameBridge,
                element: Element::IfNamePair(self.bridge.clone(), self.bridge.clone()),
            },
        ];
        out.push(if self.internal {
            SetElement {
                set: Set::InternalBridges,
                element: name(),
            }
        } else {
            SetElement {
                set: Set::MasqSubnets,
                element: Element::Ipv4Net(self.subnet),
            }
        });
        out
    }
}

/// The regular chain that DNATs published ports.
pub const PUBLISH_CHAIN: &str = "publish";

/// The table's fixed sets, maps and chains (no elements).
pub fn skeleton() -> Table {
    // Only packets to an address of this host are published-port candidates: from outside and
    // from containers (prerouting), and from the host itself, 127.0.0.1 included (output).
    let to_publish = || {
        vec![Rule::new(
            vec![Match::DaddrLocal],
            Verdict::Jump(PUBLISH_CHAIN),
        )]
    };
    Table {
        sets: Set::ALL.to_vec(),
        maps: Map::ALL.to_vec(),
        chains: vec![
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
                rules: forward_rules(),
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

fn forward_rules() -> Vec<Rule> {
    use Selector::{IifName, OifName};
    use Verdict::{Accept, Drop};
    vec![
        // Within one network; needed also when br_netfilter sends bridged frames through here.
        Rule::new(
            vec![Match::in_set(&[IifName, OifName], Set::SameBridge)],
            Accept,
        ),
        Rule::new(
            vec![Match::CtState(vec![CtState::Established, CtState::Related])],
            Accept,
        ),
        // Internal networks: no way out, and nothing else reaches them.
        Rule::new(vec![Match::in_set(&[IifName], Set::InternalBridges)], Drop),
        Rule::new(vec![Match::in_set(&[OifName], Set::InternalBridges)], Drop),
        // Published ports (DNAT-ed in prerouting), also from containers of other networks
        // through the host's address: so before the isolation drop.
        Rule::new(
            vec![
                Match::in_set(&[OifName], Set::Bridges),
                Match::CtStatus(CtStatus::Dnat),
            ],
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
        // From outside, only to published ports (accepted above).
        Rule::new(vec![Match::in_set(&[OifName], Set::Bridges)], Drop),
    ]
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
        // A container reaching a published port through the host's address: the reply must
        // come back through the host to be un-DNAT-ed, not straight over the bridge (hairpin;
        // like Docker, this also covers containers of other networks). External clients
        // keep their address.
        Rule::new(
            [
                vec![Match::in_set(&[Selector::Ip4Saddr], Set::MasqSubnets)],
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

/// Script that atomically replaces the whole table with the skeleton plus the elements for
/// `networks` (used at daemon start: reconcile). Must work whether or not the table exists
/// (the `table inet berth {}` + `delete table inet berth` idiom).
pub fn render_full(networks: &[NetworkFacts]) -> String {
    render_full_with_ports(networks, &[])
}

/// `render_full` plus the map elements of `mappings` (validated, without conflicts: see
/// `ports::conflicts`; the kernel refuses overlapping elements and nothing is applied).
pub fn render_full_with_ports(networks: &[NetworkFacts], mappings: &[PortMapping]) -> String {
    let mut out = format!("table {TABLE_FAMILY} {TABLE_NAME} {{}}\n");
    out.push_str(&format!("delete table {TABLE_FAMILY} {TABLE_NAME}\n"));
    render::render_table(&mut out, &skeleton());
    let elements: Vec<SetElement> = networks.iter().flat_map(NetworkFacts::elements).collect();
    render::render_elements(&mut out, ElementOp::Add, &elements);
    let published = ports_elements(mappings);
    render::render_map_elements(&mut out, ElementOp::Add, &published);
    out
}

/// Script that publishes `mappings` (one transaction; elements only). For a daemon that has
/// no netlink session: prefer `port_elements` through `berth_sys::nftables::Session`.
pub fn render_add_ports(mappings: &[PortMapping]) -> String {
    let mut out = String::new();
    let published = ports_elements(mappings);
    render::render_map_elements(&mut out, ElementOp::Add, &published);
    out
}

/// Script that unpublishes `mappings`.
pub fn render_remove_ports(mappings: &[PortMapping]) -> String {
    let mut out = String::new();
    let published = ports_elements(mappings);
    render::render_map_elements(&mut out, ElementOp::Delete, &published);
    out
}

/// Script that adds one network's set elements (one transaction). Adding a network never adds
/// rules, only elements.
pub fn render_add_network(net: &NetworkFacts) -> String {
    let mut out = String::new();
    render::render_elements(&mut out, ElementOp::Add, &net.elements());
    out
}

/// Script that removes one network's set elements.
pub fn render_remove_network(net: &NetworkFacts) -> String {
    let mut out = String::new();
    render::render_elements(&mut out, ElementOp::Delete, &net.elements());
    out
}

#[cfg(test)]
mod tests;
