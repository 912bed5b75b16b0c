//! The one place where firewall values become nft script text.

use super::model::{
    Chain, ChainType, CtState, CtStatus, Element, ElementOp, Family, Hook, Map, MapValueType,
    Match, Policy, Priority, RegularChain, Rule, Selector, Set, SetElement, SetKey, Table, Verdict,
};
use super::ports::{KeyField, MapElement, MapValue};
use super::{TABLE_FAMILY, TABLE_NAME};
use std::fmt::{self, Display, Formatter};

/// Renders a comma-separated list.
struct Joined<'a, T>(&'a [T], &'a str);

impl<T: Display> Display for Joined<'_, T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(self.1)?;
            }
            item.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Selector::IifName => "iifname",
            Selector::OifName => "oifname",
            Selector::Ip4Saddr => "ip saddr",
            Selector::Ip4Daddr => "ip daddr",
            Selector::L4Proto => "meta l4proto",
            Selector::ThDport => "th dport",
        })
    }
}

impl Display for CtState {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CtState::Established => "established",
            CtState::Related => "related",
        })
    }
}

impl Display for CtStatus {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CtStatus::Dnat => "dnat",
            CtStatus::Snat => "snat",
        })
    }
}

impl Display for Match {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Match::InSet { keys, set, negate } => {
                let op = if *negate { "!= " } else { "" };
                write!(f, "{} {op}@{}", Joined(keys, " . "), set.name())
            }
            Match::CtState(states) => write!(f, "ct state {}", Joined(states, ",")),
            Match::CtStatus(status) => write!(f, "ct status {status}"),
            Match::CtStatusNot(status) => write!(f, "ct status ! {status}"),
            Match::CtReply => f.write_str("ct direction reply"),
            Match::NameIsNot(selector, name) => write!(f, "{selector} != \"{name}\""),
            Match::DaddrLocal => f.write_str("fib daddr type local"),
            Match::L4ProtoIn(protos) => write!(f, "meta l4proto {{ {} }}", Joined(protos, ", ")),
            Match::InPrefix(selector, net) => write!(f, "{selector} {net}"),
            Match::UdpDport(port) => write!(f, "udp dport {port}"),
        }
    }
}

impl Display for Verdict {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Accept => "accept",
            Verdict::Drop => "drop",
            Verdict::Masquerade => "masquerade",
            Verdict::Notrack => "notrack",
            Verdict::Jump(chain) => return write!(f, "jump {chain}"),
            Verdict::SnatBySaddr(set) => {
                return write!(f, "snat ip to ip saddr map @{}", set.name())
            }
            Verdict::Dnat { addr, port } => {
                let key = |m: &Map| Joined(m.lookup(), " . ").to_string();
                write!(f, "dnat ip to {} map @{}", key(addr), addr.name())?;
                if let Some(port) = port {
                    write!(f, " : {} map @{}", key(port), port.name())?;
                }
                return Ok(());
            }
        })
    }
}

impl Display for Rule {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for m in &self.matches {
            write!(f, "{m} ")?;
        }
        self.verdict.fmt(f)
    }
}

impl Display for SetKey {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetKey::IfName => "ifname",
            SetKey::IfNamePair => "ifname . ifname",
            SetKey::Ipv4Addr => "ipv4_addr",
            SetKey::AddrProtoPort => "ipv4_addr . inet_proto . inet_service",
            SetKey::AddrPair => "ipv4_addr . ipv4_addr",
        })
    }
}

/// Interface names are quoted so that names nft would read as keywords stay strings.
/// Callers pass kernel-valid names (see `id::IfName`); Berth generates its bridge names.
impl Display for Element {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Element::IfName(name) => write!(f, "\"{name}\""),
            Element::IfNamePair(a, b) => write!(f, "\"{a}\" . \"{b}\""),
            Element::Ipv4Net(net) => write!(f, "{net}"),
            Element::Ipv4Range(a, b) if a == b => write!(f, "{a}"),
            Element::Ipv4Range(a, b) => write!(f, "{a}-{b}"),
            Element::Ipv4NetTo(net, to) => write!(f, "{net} : {to}"),
            Element::Ipv4Addr(a) => write!(f, "{a}"),
            Element::AddrProtoPort(a, p, s, e) if s == e => write!(f, "{a} . {p} . {s}"),
            Element::AddrProtoPort(a, p, s, e) => write!(f, "{a} . {p} . {s}-{e}"),
            Element::AddrPair(a, b) => write!(f, "{a} . {b}"),
        }
    }
}

impl Element {
    /// The element as a delete names it: its key, without a map value.
    fn key_text(&self) -> String {
        match self {
            Element::Ipv4NetTo(net, _) => net.to_string(),
            other => other.to_string(),
        }
    }
}

impl Display for ChainType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
        })
    }
}

impl Display for Hook {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::Prerouting => "prerouting",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        })
    }
}

/// Numeric, so the script does not depend on which hooks accept which priority keywords.
impl Display for Priority {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl Display for Policy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Accept => "accept",
        })
    }
}

fn value_type(v: MapValueType) -> &'static str {
    match v {
        MapValueType::Ipv4Addr => "ipv4_addr",
        MapValueType::InetService => "inet_service",
    }
}

fn render_set(out: &mut String, set: Set) {
    match set.value() {
        Some(v) => {
            out.push_str(&format!("\tmap {} {{\n", set.name()));
            out.push_str(&format!("\t\ttype {} : {}\n", set.key(), value_type(v)));
        }
        None => {
            out.push_str(&format!("\tset {} {{\n", set.name()));
            out.push_str(&format!("\t\ttype {}\n", set.key()));
        }
    }
    if set.interval() {
        out.push_str("\t\tflags interval\n");
    }
    out.push_str("\t}\n");
}

fn render_map(out: &mut String, map: Map) {
    let value = value_type(map.value());
    out.push_str(&format!("\tmap {} {{\n", map.name()));
    let key = if map.lookup().len() == 2 {
        "inet_proto . inet_service"
    } else {
        "ipv4_addr . inet_proto . inet_service"
    };
    out.push_str(&format!("\t\ttype {key} : {value}\n"));
    if map.interval() {
        out.push_str("\t\tflags interval\n");
    }
    out.push_str("\t}\n");
}

fn render_regular_chain(out: &mut String, chain: &RegularChain) {
    out.push_str(&format!("\tchain {} {{\n", chain.name));
    for rule in &chain.rules {
        out.push_str(&format!("\t\t{rule}\n"));
    }
    out.push_str("\t}\n");
}

fn render_chain(out: &mut String, chain: &Chain) {
    out.push_str(&format!("\tchain {} {{\n", chain.name));
    out.push_str(&format!(
        "\t\ttype {} hook {} priority {}; policy {};\n",
        chain.chain_type, chain.hook, chain.priority, chain.policy
    ));
    for rule in &chain.rules {
        out.push_str(&format!("\t\t{rule}\n"));
    }
    out.push_str("\t}\n");
}

/// `table <family> berth { ... }` with the set declarations and chains.
pub(super) fn render_table(out: &mut String, family: Family, table: &Table) {
    out.push_str(&format!("table {} {TABLE_NAME} {{\n", family.name()));
    for set in &table.sets {
        render_set(out, *set);
    }
    for map in &table.maps {
        render_map(out, *map);
    }
    for chain in &table.chains {
        render_chain(out, chain);
    }
    for chain in &table.regular_chains {
        render_regular_chain(out, chain);
    }
    out.push_str("}\n");
}

/// One `add element` / `delete element` line per set that has elements, in `Set::ALL` order,
/// so a script is one transaction however many sets it touches.
pub(super) fn render_elements(out: &mut String, op: ElementOp, elements: &[SetElement]) {
    let verb = match op {
        ElementOp::Add => "add",
        ElementOp::Delete => "delete",
    };
    for set in Set::ALL {
        let of_set: Vec<String> = elements
            .iter()
            .filter(|e| e.set == set)
            .map(|e| match op {
                ElementOp::Add => e.element.to_string(),
                ElementOp::Delete => e.element.key_text(),
            })
            .collect();
        if of_set.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "{verb} element {} {TABLE_NAME} {} {{ {} }}\n",
            set.family().name(),
            set.name(),
            of_set.join(", ")
        ));
    }
}

impl Display for KeyField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            KeyField::Addr(a) => write!(f, "{a}"),
            KeyField::Proto(p) => write!(f, "{p}"),
            KeyField::Port(p) => write!(f, "{p}"),
        }
    }
}

/// One field of an interval key: `a`, `a-b`, and every address as `0.0.0.0/0`.
fn field_range(start: &KeyField, end: &KeyField) -> String {
    match (start, end) {
        _ if start == end => start.to_string(),
        (KeyField::Addr(a), KeyField::Addr(b)) if a.is_unspecified() && b.is_broadcast() => {
            "0.0.0.0/0".into()
        }
        _ => format!("{start}-{end}"),
    }
}

impl Display for MapElement {
    /// The key: `0.0.0.0/0 . tcp . 9000-9010`, `tcp . 8080`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = match &self.key_end {
            Some(end) => self
                .key
                .iter()
                .zip(end)
                .map(|(a, b)| field_range(a, b))
                .collect(),
            None => self.key.iter().map(ToString::to_string).collect(),
        };
        f.write_str(&fields.join(" . "))
    }
}

impl Display for MapValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MapValue::Addr(a) => write!(f, "{a}"),
            MapValue::Port(p) => write!(f, "{p}"),
        }
    }
}

/// One `add element` / `delete element` line per map that has elements, in `Map::ALL` order.
pub(super) fn render_map_elements(out: &mut String, op: ElementOp, elements: &[MapElement]) {
    for map in Map::ALL {
        let of_map: Vec<String> = elements
            .iter()
            .filter(|e| e.map == map)
            .map(|e| match op {
                ElementOp::Add => format!("{e} : {}", e.value),
                ElementOp::Delete => e.to_string(),
            })
            .collect();
        if of_map.is_empty() {
            continue;
        }
        let verb = match op {
            ElementOp::Add => "add",
            ElementOp::Delete => "delete",
        };
        out.push_str(&format!(
            "{verb} element {TABLE_FAMILY} {TABLE_NAME} {} {{ {} }}\n",
            map.name(),
            of_map.join(", ")
        ));
    }
}
