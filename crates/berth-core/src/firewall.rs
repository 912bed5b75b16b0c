//! The firewall plan: Berth's one nftables table (`inet berth`) as typed values, and their
//! rendering to an nft script (the only place where rules become text).
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).
//!
//! The rules are fixed; per-network facts are set elements, so adding or removing a network
//! touches elements only and its cost does not grow with the number of networks.

use ipnet::Ipv4Net;

mod model;
mod render;

pub use model::{
    Chain, ChainType, CtState, CtStatus, Element, ElementOp, Hook, Match, Policy, Priority, Rule,
    Selector, Set, SetElement, SetKey, Table, Verdict,
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

/// The table's fixed sets and chains (no elements).
pub fn skeleton() -> Table {
    Table {
        sets: Set::ALL.to_vec(),
        chains: vec![
            nat_chain("prerouting", Hook::Prerouting, Priority::DstNat, vec![]),
            nat_chain("output", Hook::Output, Priority::DstNat, vec![]),
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
    }
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
        // Isolation between networks.
        Rule::new(
            vec![
                Match::in_set(&[IifName], Set::Bridges),
                Match::in_set(&[OifName], Set::Bridges),
            ],
            Drop,
        ),
        // Containers go out.
        Rule::new(vec![Match::in_set(&[IifName], Set::Bridges)], Accept),
        // From outside, only to published ports (DNAT-ed in prerouting/output).
        Rule::new(
            vec![
                Match::in_set(&[OifName], Set::Bridges),
                Match::CtStatus(CtStatus::Dnat),
            ],
            Accept,
        ),
        Rule::new(vec![Match::in_set(&[OifName], Set::Bridges)], Drop),
    ]
}

fn postrouting_rules() -> Vec<Rule> {
    vec![Rule::new(
        vec![
            Match::in_set(&[Selector::Ip4Saddr], Set::MasqSubnets),
            Match::not_in_set(&[Selector::OifName], Set::Bridges),
        ],
        Verdict::Masquerade,
    )]
}

/// Script that atomically replaces the whole table with the skeleton plus the elements for
/// `networks` (used at daemon start: reconcile). Must work whether or not the table exists
/// (the `table inet berth {}` + `delete table inet berth` idiom).
pub fn render_full(networks: &[NetworkFacts]) -> String {
    let mut out = format!("table {TABLE_FAMILY} {TABLE_NAME} {{}}\n");
    out.push_str(&format!("delete table {TABLE_FAMILY} {TABLE_NAME}\n"));
    render::render_table(&mut out, &skeleton());
    let elements: Vec<SetElement> = networks.iter().flat_map(NetworkFacts::elements).collect();
    render::render_elements(&mut out, ElementOp::Add, &elements);
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
