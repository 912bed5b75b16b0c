use super::*;

fn facts(bridge: &str, subnet: &str, internal: bool) -> NetworkFacts {
    NetworkFacts {
        bridge: bridge.into(),
        subnet: subnet.parse().unwrap(),
        internal,
    }
}

#[test]
fn elements_fit_their_sets() {
    for net in [
        facts("b0", "10.0.0.0/24", false),
        facts("b1", "10.1.0.0/24", true),
    ] {
        for e in net.elements() {
            assert_eq!(e.element.key(), e.set.key(), "{e:?}");
        }
    }
}

#[test]
fn internal_networks_are_not_masqueraded() {
    let sets = |net: NetworkFacts| -> Vec<Set> { net.elements().iter().map(|e| e.set).collect() };
    let internal = sets(facts("b1", "10.1.0.0/24", true));
    assert!(internal.contains(&Set::InternalBridges) && !internal.contains(&Set::MasqSubnets));
    assert!(!internal.contains(&Set::HairpinSubnets));
    let external = sets(facts("b0", "10.0.0.0/24", false));
    assert!(!external.contains(&Set::InternalBridges) && external.contains(&Set::MasqSubnets));
    assert!(external.contains(&Set::HairpinSubnets));
}

#[test]
fn adding_a_network_adds_no_rules() {
    let net = facts("br-1", "172.18.0.0/16", false);
    let add = render_add_network(&net);
    assert!(
        add.lines()
            .all(|l| l.starts_with("add element inet berth ")),
        "{add}"
    );
    let remove = render_remove_network(&net);
    assert!(
        remove
            .lines()
            .all(|l| l.starts_with("delete element inet berth ")),
        "{remove}"
    );
    assert_eq!(add.lines().count(), 4);
}

#[test]
fn full_script_replaces_the_table_first() {
    let script = render_full(&[]);
    let mut lines = script.lines();
    assert_eq!(lines.next(), Some("table inet berth {}"));
    assert_eq!(lines.next(), Some("delete table inet berth"));
    assert_eq!(lines.next(), Some("table bridge berth {}"));
    assert_eq!(lines.next(), Some("delete table bridge berth"));
    assert_eq!(lines.next(), Some("table inet berth {"));
    assert!(!script.contains("element"), "{script}");
}

#[test]
fn rules_render_in_nft_syntax() {
    let r = Rule::new(
        vec![
            Match::in_set(&[Selector::IifName, Selector::OifName], Set::SameBridge),
            Match::not_in_set(&[Selector::OifName], Set::Bridges),
            Match::CtState(vec![CtState::Established, CtState::Related]),
            Match::CtStatus(CtStatus::Dnat),
        ],
        Verdict::Drop,
    );
    assert_eq!(
        r.to_string(),
        "iifname . oifname @same_bridge oifname != @bridges ct state established,related \
         ct status dnat drop"
    );
}

fn with(opts: BridgeOptions, internal: bool) -> BridgeNetwork {
    BridgeNetwork {
        facts: facts("br-x", "10.5.0.0/24", internal),
        gateway: "10.5.0.1".parse().unwrap(),
        options: opts,
        vtep: None,
    }
}

fn sets_of(net: &BridgeNetwork) -> Vec<Set> {
    net.elements().iter().map(|e| e.set).collect()
}

#[test]
fn options_become_elements_only() {
    let o = BridgeOptions {
        icc: false,
        masquerade: true,
        gateway_mode: GatewayMode::Routed,
        host_ipv4: Some("192.0.2.9".parse().unwrap()),
        trusted_host_interfaces: vec!["eth1".into(), "eth2".into()],
    };
    let net = with(o, false);
    for e in net.elements() {
        assert_eq!(e.element.key(), e.set.key(), "{e:?}");
    }
    let sets = sets_of(&net);
    // routed: no NAT at all, even with host_ipv4.
    assert!(!sets.contains(&Set::MasqSubnets) && !sets.contains(&Set::SnatSubnets));
    assert!(sets.contains(&Set::RoutedBridges));
    assert_eq!(
        sets.iter()
            .filter(|s| **s == Set::TrustedInterfaces)
            .count(),
        2
    );
    assert_eq!(sets.iter().filter(|s| **s == Set::NoIcc).count(), 2);
    let add = render_add_bridge(&net);
    assert!(
        add.contains("add element bridge berth no_icc { 10.5.0.0, 10.5.0.2-10.5.0.255 }"),
        "{add}"
    );
    assert!(
        add.contains("trusted_interfaces { \"eth1\" . \"br-x\", \"eth2\" . \"br-x\" }"),
        "{add}"
    );
    assert!(add.lines().all(|l| l.starts_with("add element ")), "{add}");
}

#[test]
fn egress_follows_masquerade_host_ipv4_and_mode() {
    let snat = BridgeOptions {
        host_ipv4: Some("192.0.2.9".parse().unwrap()),
        ..Default::default()
    };
    let add = render_add_bridge(&with(snat.clone(), false));
    assert!(
        add.contains("snat_subnets { 10.5.0.0/24 : 192.0.2.9 }"),
        "{add}"
    );
    let remove = render_remove_bridge(&with(snat.clone(), false));
    assert!(remove.contains("snat_subnets { 10.5.0.0/24 }"), "{remove}");
    let off = BridgeOptions {
        masquerade: false,
        ..snat
    };
    let sets = sets_of(&with(off, false));
    assert!(!sets.contains(&Set::MasqSubnets) && !sets.contains(&Set::SnatSubnets));
    // Still hairpinned: reaching a published port through the host must come back through it.
    assert!(sets.contains(&Set::HairpinSubnets));
    let unprotected = BridgeOptions {
        gateway_mode: GatewayMode::NatUnprotected,
        ..Default::default()
    };
    let sets = sets_of(&with(unprotected, false));
    assert!(sets.contains(&Set::MasqSubnets) && sets.contains(&Set::UnprotectedBridges));
}

#[test]
fn published_elements_are_deduplicated_and_merged() {
    use crate::ports::{PortMapping, Proto};
    let m = |host: &str, container: &str| {
        PortMapping::new(
            "0.0.0.0".parse().unwrap(),
            Proto::Tcp,
            host.parse().unwrap(),
            "10.5.0.2".parse().unwrap(),
            container.parse().unwrap(),
        )
        .unwrap()
    };
    let els = published_elements(&[
        m("8080", "80"),
        m("8081", "80"),
        m("9000-9010", "9000-9010"),
        m("7000-7010", "9005-9015"),
        m("6000-6001", "9016-9017"),
    ]);
    let text: Vec<String> = els
        .iter()
        .map(|e| format!("{} {}", e.set.name(), e.element))
        .collect();
    assert_eq!(
        text,
        vec![
            "container_ports 10.5.0.2 . tcp . 80",
            "container_port_ranges 10.5.0.2 . tcp . 9000-9017",
            "self_hairpin 10.5.0.2 . 10.5.0.2",
        ]
    );
}

/// The forward chain's rules as nft text.
fn forward(options: TableOptions) -> Vec<String> {
    let table = skeleton_with(options);
    let chain = table.chains.iter().find(|c| c.name == "forward").unwrap();
    chain.rules.iter().map(ToString::to_string).collect()
}

#[test]
fn direct_routing_opens_published_ports_of_bridge_networks_before_the_final_drop() {
    let direct = "oifname @bridges oifname != @overlay_bridges ip daddr . meta l4proto . th dport";
    let off = forward(TableOptions::default());
    assert!(!off.iter().any(|r| r.starts_with(direct)), "{off:#?}");
    assert_eq!(skeleton(), skeleton_with(TableOptions::default()));

    let on = forward(TableOptions {
        allow_direct_routing: true,
    });
    // Two accepts more; the drop of un-NATed replies from outside goes (direct routing lets
    // them in), and without the flag it comes before the accept of established traffic.
    assert_eq!(on.len(), off.len() + 1, "{on:#?}");
    let replies = "iifname != @bridges oifname @bridges oifname != @routed_bridges oifname != \
                   @unprotected_bridges iifname . oifname != @trusted_interfaces ct direction \
                   reply ct status ! snat drop";
    assert_eq!(off[1], replies, "{off:#?}");
    assert_eq!(off[2], "ct state established,related accept", "{off:#?}");
    assert!(!on.iter().any(|r| r == replies), "{on:#?}");
    let at = |rules: &[String], text: &str| rules.iter().position(|r| r == text);
    let ports = at(&on, &format!("{direct} @container_ports accept")).expect("ports rule");
    let ranges = at(&on, &format!("{direct} @container_port_ranges accept")).expect("ranges");
    let last = on.len() - 1;
    assert_eq!(on[last], "oifname @bridges drop");
    assert_eq!((ports, ranges), (last - 2, last - 1));
    // Internal networks are dropped, and other networks isolated, before it.
    let internal = at(&on, "oifname @internal_bridges drop").unwrap();
    let isolation = at(&on, "iifname @bridges oifname @bridges drop").unwrap();
    assert!(internal < ports && isolation < ports, "{on:#?}");
    // Only the skeleton differs: a network is the same elements either way.
    let net = facts("br-1", "172.18.0.0/16", false);
    let full = |o| render_full_bridges_with(&[BridgeNetwork::from(&net)], &[], o);
    let on_script = full(TableOptions {
        allow_direct_routing: true,
    });
    let off_script = full(TableOptions::default());
    let elements = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("add element"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(elements(&on_script), elements(&off_script));
    assert_eq!(
        off_script,
        render_full_bridges(&[BridgeNetwork::from(&net)], &[])
    );
}
