//! The vocabulary of Berth's nftables table as typed values. Nothing here is text: the only
//! place these become nft syntax is `render.rs`.

use ipnet::Ipv4Net;

/// The named sets of the table. Per-network facts live only here, as elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Set {
    /// Every Berth bridge.
    Bridges,
    /// Bridges of `--internal` networks.
    InternalBridges,
    /// `"b" . "b"` for each bridge: traffic that stays within one network.
    SameBridge,
    /// Subnets of non-internal networks, masqueraded on the way out.
    MasqSubnets,
}

impl Set {
    /// Declaration (and rendering) order.
    pub const ALL: [Set; 4] = [
        Set::Bridges,
        Set::InternalBridges,
        Set::SameBridge,
        Set::MasqSubnets,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Set::Bridges => "bridges",
            Set::InternalBridges => "internal_bridges",
            Set::SameBridge => "same_bridge",
            Set::MasqSubnets => "masq_subnets",
        }
    }

    pub fn key(self) -> SetKey {
        match self {
            Set::Bridges | Set::InternalBridges => SetKey::IfName,
            Set::SameBridge => SetKey::IfNamePair,
            Set::MasqSubnets => SetKey::Ipv4Addr,
        }
    }

    /// Interval sets hold prefixes (subnets) rather than single values.
    pub fn interval(self) -> bool {
        matches!(self, Set::MasqSubnets)
    }
}

/// The key type of a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKey {
    IfName,
    IfNamePair,
    Ipv4Addr,
}

/// One set element. The variant must match the set's `SetKey`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    IfName(String),
    IfNamePair(String, String),
    Ipv4Net(Ipv4Net),
}

impl Element {
    /// The key type of the set this element can go in.
    pub fn key(&self) -> SetKey {
        match self {
            Element::IfName(_) => SetKey::IfName,
            Element::IfNamePair(..) => SetKey::IfNamePair,
            Element::Ipv4Net(_) => SetKey::Ipv4Addr,
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtState {
    Established,
    Related,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtStatus {
    /// The connection was destination-NATed (a published port).
    Dnat,
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

/// The table's skeleton: set declarations and chains, without elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub sets: Vec<Set>,
    pub chains: Vec<Chain>,
}

/// Whether an element script adds or deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementOp {
    Add,
    Delete,
}
