//! The firewall plan: Berth's one nftables table (`inet berth`) as typed values, and their
//! rendering to an nft script (the only place where rules become text).
//!
//! CONTRACT (berthd codes against these signatures; implementations may add, not change).

use ipnet::Ipv4Net;

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

/// Script that atomically replaces the whole table with the skeleton plus the elements for
/// `networks` (used at daemon start: reconcile). Must work whether or not the table exists
/// (the `table inet berth {}` + `delete table inet berth` idiom).
pub fn render_full(_networks: &[NetworkFacts]) -> String {
    todo!()
}

/// Script that adds one network's set elements (one transaction). Adding a network never adds
/// rules, only elements.
pub fn render_add_network(_net: &NetworkFacts) -> String {
    todo!()
}

/// Script that removes one network's set elements.
pub fn render_remove_network(_net: &NetworkFacts) -> String {
    todo!()
}
