//! One bridge network's facts, with its options, as set elements.

use super::model::{Element, Set, SetElement};
use super::options::{BridgeOptions, Egress, GatewayMode};
use super::NetworkFacts;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// A bridge-like network as the firewall sees it: its facts and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeNetwork {
    pub facts: NetworkFacts,
    /// The bridge's address (excluded from `no_icc`: containers still reach the host).
    pub gateway: Ipv4Addr,
    pub options: BridgeOptions,
    /// For an overlay network's bridge: this host's VXLAN source address.
    pub vtep: Option<Ipv4Addr>,
}

/// Default options; the gateway is the subnet's first host address, as IPAM picks it.
impl From<NetworkFacts> for BridgeNetwork {
    fn from(facts: NetworkFacts) -> Self {
        let gateway = first_host(facts.subnet);
        BridgeNetwork {
            facts,
            gateway,
            options: BridgeOptions::default(),
            vtep: None,
        }
    }
}

impl From<&NetworkFacts> for BridgeNetwork {
    fn from(facts: &NetworkFacts) -> Self {
        facts.clone().into()
    }
}

fn first_host(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).saturating_add(1))
}

/// `net` without `hole`, as inclusive ranges (none empty).
fn ranges_without(net: Ipv4Net, hole: Ipv4Addr) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
    let h = u32::from(hole);
    if !(first..=last).contains(&h) {
        return vec![(net.network(), net.broadcast())];
    }
    let mut out = Vec::new();
    if h > first {
        out.push((Ipv4Addr::from(first), Ipv4Addr::from(h - 1)));
    }
    if h < last {
        out.push((Ipv4Addr::from(h + 1), Ipv4Addr::from(last)));
    }
    out
}

impl BridgeNetwork {
    /// The set (and map) elements that describe this network. Adding or removing a network
    /// changes exactly these, never a rule.
    pub fn elements(&self) -> Vec<SetElement> {
        let f = &self.facts;
        let o = &self.options;
        let el = |set, element| SetElement { set, element };
        let name = || Element::IfName(f.bridge.clone());
        let mut out = vec![
            el(Set::Bridges, name()),
            el(
                Set::SameBridge,
                Element::IfNamePair(f.bridge.clone(), f.bridge.clone()),
            ),
        ];
        if f.internal {
            out.push(el(Set::InternalBridges, name()));
        } else {
            out.push(el(Set::HairpinSubnets, Element::Ipv4Net(f.subnet)));
            if !o.icc {
                out.push(el(Set::NoIccSubnets, Element::Ipv4Net(f.subnet)));
            }
            match o.gateway_mode {
                GatewayMode::Routed => out.push(el(Set::RoutedBridges, name())),
                GatewayMode::NatUnprotected => out.push(el(Set::UnprotectedBridges, name())),
                GatewayMode::Nat | GatewayMode::Isolated => {}
            }
            for iface in &o.trusted_host_interfaces {
                out.push(el(
                    Set::TrustedInterfaces,
                    Element::IfNamePair(iface.clone(), f.bridge.clone()),
                ));
            }
        }
        match o.egress(f.internal) {
            Egress::Masquerade => out.push(el(Set::MasqSubnets, Element::Ipv4Net(f.subnet))),
            Egress::Snat(a) => out.push(el(Set::SnatSubnets, Element::Ipv4NetTo(f.subnet, a))),
            Egress::Keep => {}
        }
        if !o.icc {
            for (a, b) in ranges_without(f.subnet, self.gateway) {
                out.push(el(Set::NoIcc, Element::Ipv4Range(a, b)));
            }
        }
        if self.vtep.is_some() {
            out.push(el(Set::OverlayBridges, name()));
        }
        out
    }

    /// The element an overlay network adds for this host's VTEP address. Shared by every
    /// overlay network of the host, so it is added with each (adding is idempotent) and never
    /// removed with one: it goes when the table is rebuilt at the next start without overlays.
    pub fn vtep_elements(&self) -> Vec<SetElement> {
        self.vtep
            .map(|a| SetElement {
                set: Set::Vteps,
                element: Element::Ipv4Addr(a),
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_skip_the_gateway_wherever_it_is() {
        let net: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            ranges_without(net, a("10.0.0.1")),
            vec![
                (a("10.0.0.0"), a("10.0.0.0")),
                (a("10.0.0.2"), a("10.0.0.255"))
            ]
        );
        assert_eq!(
            ranges_without(net, a("10.0.0.0")),
            vec![(a("10.0.0.1"), a("10.0.0.255"))]
        );
        assert_eq!(
            ranges_without(net, a("10.0.0.255")),
            vec![(a("10.0.0.0"), a("10.0.0.254"))]
        );
        assert_eq!(
            ranges_without(net, a("10.9.0.1")),
            vec![(a("10.0.0.0"), a("10.0.0.255"))]
        );
    }
}
