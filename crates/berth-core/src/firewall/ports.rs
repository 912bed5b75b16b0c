//! Published ports as elements of the `publish_*` maps (see `Map`). The rules that use them
//! are fixed in the skeleton, so publishing or unpublishing changes elements only.

use super::model::{Element, Map, Set, SetElement};
use crate::ports::{PortMapping, Proto};
use std::net::Ipv4Addr;

/// One field of a map key, in the map's key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyField {
    Addr(Ipv4Addr),
    Proto(Proto),
    Port(u16),
}

/// A map element's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapValue {
    Addr(Ipv4Addr),
    Port(u16),
}

/// One element of one publish map. `key_end` is set for the interval map only (each field
/// from its `key` value to its `key_end` value; netlink: NFTA_SET_ELEM_KEY_END).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapElement {
    pub map: Map,
    pub key: Vec<KeyField>,
    pub key_end: Option<Vec<KeyField>>,
    pub value: MapValue,
}

/// The elements that publish `m`:
/// - a port range kept on the container (`9000-9999:9000-9999`): one `publish_range` element;
/// - anything else, per port (so one pair for `8080:80` or `8080:8080`): an address and a port
///   element in `publish_addr`/`publish_port` (a specific host address) or in
///   `publish_any_addr`/`publish_any_port` (0.0.0.0). A port-changing range is a pair per
///   port, since a map value is one port and nft has no "same offset" value.
pub fn port_elements(m: &PortMapping) -> Vec<MapElement> {
    let any = m.host_ip.is_unspecified();
    if m.keeps_port() && !m.host_port.is_single() {
        let (first, last) = if any {
            (Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST)
        } else {
            (m.host_ip, m.host_ip)
        };
        let key = |addr, port| {
            vec![
                KeyField::Addr(addr),
                KeyField::Proto(m.proto),
                KeyField::Port(port),
            ]
        };
        return vec![MapElement {
            map: Map::PublishRange,
            key: key(first, m.host_port.start),
            key_end: Some(key(last, m.host_port.end)),
            value: MapValue::Addr(m.container_ip),
        }];
    }
    let (addr_map, port_map) = if any {
        (Map::PublishAnyAddr, Map::PublishAnyPort)
    } else {
        (Map::PublishAddr, Map::PublishPort)
    };
    let key = |port| {
        let tail = [KeyField::Proto(m.proto), KeyField::Port(port)];
        if any {
            tail.to_vec()
        } else {
            [&[KeyField::Addr(m.host_ip)][..], &tail].concat()
        }
    };
    (m.host_port.start..=m.host_port.end)
        .zip(m.container_port.start..=m.container_port.end)
        .flat_map(|(host, container)| {
            [
                MapElement {
                    map: addr_map,
                    key: key(host),
                    key_end: None,
                    value: MapValue::Addr(m.container_ip),
                },
                MapElement {
                    map: port_map,
                    key: key(host),
                    key_end: None,
                    value: MapValue::Port(container),
                },
            ]
        })
        .collect()
}

/// The elements of several mappings, grouped by map (one netlink message per map).
pub fn ports_elements(mappings: &[PortMapping]) -> Vec<MapElement> {
    let all: Vec<MapElement> = mappings.iter().flat_map(port_elements).collect();
    Map::ALL
        .iter()
        .flat_map(|map| all.iter().filter(|e| e.map == *map).cloned())
        .collect()
}

/// The `container_ports` (single ports) and `container_port_ranges` elements of `mappings`:
/// the container side (address, protocol, port), which direct routing may reach in `routed`
/// mode and from trusted interfaces; and one `self_hairpin` element (`address . address`) per
/// container address, so that a container reaching its own published port is masqueraded.
/// Each call must hold whole containers (berthd publishes and removes a container's ports as
/// one batch), so that no element is shared between calls. Deduplicated (`8080:80` and
/// `8081:80` share one), and ranges of one address and protocol merged where they overlap or
/// touch, so the kernel never sees the same or an overlapping element twice. Deterministic:
/// removing the same mappings removes exactly what adding them added.
pub fn published_elements(mappings: &[PortMapping]) -> Vec<SetElement> {
    let mut singles: Vec<(Ipv4Addr, Proto, u16)> = Vec::new();
    let mut ranges: Vec<(Ipv4Addr, Proto, u16, u16)> = Vec::new();
    for m in mappings {
        let (start, end) = (m.container_port.start, m.container_port.end);
        if start == end {
            singles.push((m.container_ip, m.proto, start));
        } else {
            ranges.push((m.container_ip, m.proto, start, end));
        }
    }
    singles.sort();
    singles.dedup();
    ranges.sort();
    let mut merged: Vec<(Ipv4Addr, Proto, u16, u16)> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last)
                if (last.0, last.1) == (r.0, r.1) && u32::from(r.2) <= u32::from(last.3) + 1 =>
            {
                last.3 = last.3.max(r.3);
            }
            _ => merged.push(r),
        }
    }
    let single = singles.into_iter().map(|(a, p, port)| SetElement {
        set: Set::ContainerPorts,
        element: Element::AddrProtoPort(a, p, port, port),
    });
    let range = merged.into_iter().map(|(a, p, s, e)| SetElement {
        set: Set::ContainerPortRanges,
        element: Element::AddrProtoPort(a, p, s, e),
    });
    let mut addrs: Vec<Ipv4Addr> = mappings.iter().map(|m| m.container_ip).collect();
    addrs.sort();
    addrs.dedup();
    let selves = addrs.into_iter().map(|a| SetElement {
        set: Set::SelfHairpin,
        element: Element::AddrPair(a, a),
    });
    single.chain(range).chain(selves).collect()
}
