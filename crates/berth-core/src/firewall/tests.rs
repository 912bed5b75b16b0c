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
    let external = sets(facts("b0", "10.0.0.0/24", false));
    assert!(!external.contains(&Set::InternalBridges) && external.contains(&Set::MasqSubnets));
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
    assert_eq!(add.lines().count(), 3);
}

#[test]
fn full_script_replaces_the_table_first() {
    let script = render_full(&[]);
    let mut lines = script.lines();
    assert_eq!(lines.next(), Some("table inet berth {}"));
    assert_eq!(lines.next(), Some("delete table inet berth"));
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
