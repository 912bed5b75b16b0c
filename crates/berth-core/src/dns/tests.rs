use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn rec(id: &str, name: &str, network: &str, addr: &str) -> Record {
    Record {
        container_id: id.into(),
        name: name.into(),
        hostname: String::new(),
        aliases: vec![],
        network: network.into(),
        ipv4: ip(addr),
    }
}

fn view(networks: &[&str]) -> View {
    View {
        networks: networks.iter().map(|n| n.to_string()).collect(),
        links: vec![],
    }
}

fn found(lookup: Lookup) -> BTreeSet<Ipv4Addr> {
    match lookup {
        Lookup::Found(ips) => ips.into_iter().collect(),
        other => panic!("expected addresses, got {other:?}"),
    }
}

const WEB_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn sample() -> Snapshot {
    let mut web = rec(WEB_ID, "/web", "app", "10.1.0.2");
    web.hostname = "webhost".into();
    web.aliases = vec!["Frontend".into(), "svc".into()];
    let mut api = rec("fedcba9876543210", "api", "app", "10.1.0.3");
    api.aliases = vec!["svc".into()];
    let db = rec("aaaabbbbccccdddd", "db", "data", "10.2.0.2");
    let web_on_data = Record {
        network: "data".into(),
        ipv4: ip("10.2.0.9"),
        ..web.clone()
    };
    Snapshot::new(vec![web, api, db, web_on_data])
}

#[test]
fn resolves_name_short_id_hostname_and_aliases() {
    let s = sample();
    let v = view(&["app"]);
    for name in ["web", "0123456789ab", "webhost", "frontend", "web."] {
        assert_eq!(
            s.lookup(&v, name, QType::A),
            Lookup::Found(vec![ip("10.1.0.2")]),
            "{name}"
        );
    }
    // Longer or shorter ID prefixes are not names.
    assert_eq!(s.lookup(&v, "0123456789a", QType::A), Lookup::NotOurs);
    assert_eq!(s.lookup(&v, &WEB_ID[..13], QType::A), Lookup::NotOurs);
}

#[test]
fn names_are_case_insensitive() {
    let s = sample();
    let v = view(&["app"]);
    for name in ["WEB", "Web.", "FRONTEND", "WebHost", "0123456789AB"] {
        assert_eq!(found(s.lookup(&v, name, QType::A)), [ip("10.1.0.2")].into());
    }
}

#[test]
fn name_dot_network_resolves_on_that_network_only() {
    let s = sample();
    let v = view(&["app", "data"]);
    assert_eq!(
        found(s.lookup(&v, "web.data", QType::A)),
        [ip("10.2.0.9")].into()
    );
    assert_eq!(
        found(s.lookup(&v, "WEB.app.", QType::A)),
        [ip("10.1.0.2")].into()
    );
    assert_eq!(s.lookup(&v, "api.data", QType::A), Lookup::NotOurs);
    // The network part is compared exactly.
    assert_eq!(s.lookup(&v, "web.APP", QType::A), Lookup::NotOurs);
    // A network the querier is not on never answers, even when named.
    assert_eq!(
        s.lookup(&view(&["app"]), "db.data", QType::A),
        Lookup::NotOurs
    );
}

#[test]
fn names_on_other_networks_never_resolve() {
    let s = sample();
    assert_eq!(s.lookup(&view(&["app"]), "db", QType::A), Lookup::NotOurs);
    assert_eq!(s.lookup(&view(&["data"]), "api", QType::A), Lookup::NotOurs);
    assert_eq!(s.lookup(&view(&[]), "web", QType::A), Lookup::NotOurs);
    assert_eq!(
        s.lookup(&view(&["app"]), "db", QType::Aaaa),
        Lookup::NotOurs
    );
}

#[test]
fn first_network_in_view_order_answers_bare_names() {
    let s = sample();
    let a = s.lookup(&view(&["data", "app"]), "web", QType::A);
    assert_eq!(a, Lookup::Found(vec![ip("10.2.0.9")]));
    let b = s.lookup(&view(&["app", "data"]), "web", QType::A);
    assert_eq!(b, Lookup::Found(vec![ip("10.1.0.2")]));
}

#[test]
fn shared_alias_gives_all_addresses_in_rotating_order() {
    let s = sample();
    let v = view(&["app"]);
    let mut firsts = BTreeSet::new();
    for _ in 0..4 {
        let Lookup::Found(ips) = s.lookup(&v, "SVC", QType::A) else {
            panic!("svc should resolve")
        };
        let distinct: BTreeSet<_> = ips.iter().copied().collect();
        assert_eq!(distinct, [ip("10.1.0.2"), ip("10.1.0.3")].into());
        firsts.insert(ips[0]);
    }
    assert_eq!(firsts, [ip("10.1.0.2"), ip("10.1.0.3")].into());
}

#[test]
fn our_names_get_nodata_for_other_types() {
    let s = sample();
    let v = view(&["app"]);
    assert_eq!(s.lookup(&v, "web", QType::Aaaa), Lookup::NoData);
    assert_eq!(s.lookup(&v, "web", QType::Other(15)), Lookup::NoData); // MX
    assert_eq!(s.lookup(&v, "web", QType::Other(16)), Lookup::NoData); // TXT
    assert_eq!(
        s.lookup(&v, "web", QType::Any),
        Lookup::Found(vec![ip("10.1.0.2")])
    );
    assert_eq!(
        s.lookup(&v, "example.com", QType::Other(15)),
        Lookup::NotOurs
    );
}

#[test]
fn link_aliases_are_per_querier_and_win() {
    let s = sample();
    let mut v = view(&["app"]);
    v.links = vec![
        ("web".into(), ip("10.1.0.3")),
        ("DB".into(), ip("10.2.0.2")),
    ];
    assert_eq!(
        s.lookup(&v, "Web", QType::A),
        Lookup::Found(vec![ip("10.1.0.3")])
    );
    assert_eq!(
        s.lookup(&v, "db", QType::A),
        Lookup::Found(vec![ip("10.2.0.2")])
    );
    assert_eq!(s.lookup(&v, "db", QType::Aaaa), Lookup::NoData);
    // Another querier on the same network does not see them.
    assert_eq!(s.lookup(&view(&["app"]), "db", QType::A), Lookup::NotOurs);
}

#[test]
fn reverse_names_are_name_dot_network_on_shared_networks() {
    let s = sample();
    let v = view(&["app"]);
    assert_eq!(s.reverse(&v, ip("10.1.0.2")), Some("web.app".into()));
    assert_eq!(s.reverse(&v, ip("10.1.0.3")), Some("api.app".into()));
    assert_eq!(s.reverse(&v, ip("10.2.0.2")), None);
    assert_eq!(
        s.reverse(&view(&["data"]), ip("10.2.0.9")),
        Some("web.data".into())
    );
    assert_eq!(s.reverse(&v, ip("8.8.8.8")), None);
}

#[test]
fn dotted_names_and_networks_split_every_way() {
    let s = Snapshot::new(vec![
        rec("1", "a.b", "c", "10.0.0.1"),
        rec("2", "a", "b.c", "10.0.0.2"),
    ]);
    let v = view(&["c", "b.c"]);
    assert_eq!(
        found(s.lookup(&v, "a.b.c", QType::A)),
        [ip("10.0.0.1")].into()
    );
    assert_eq!(
        found(s.lookup(&view(&["b.c"]), "a.b.c", QType::A)),
        [ip("10.0.0.2")].into()
    );
    assert_eq!(
        found(s.lookup(&v, "a.b", QType::A)),
        [ip("10.0.0.1")].into()
    );
    assert_eq!(s.lookup(&v, ".c", QType::A), Lookup::NotOurs);
    assert_eq!(s.lookup(&v, "", QType::A), Lookup::NotOurs);
    assert_eq!(s.lookup(&v, ".", QType::A), Lookup::NotOurs);
}

#[test]
fn duplicate_addresses_are_answered_once() {
    let mut r = rec("1", "x", "n", "10.0.0.1");
    r.hostname = "x".into();
    r.aliases = vec!["X".into()];
    let s = Snapshot::new(vec![r.clone(), r]);
    assert_eq!(
        s.lookup(&view(&["n"]), "x", QType::A),
        Lookup::Found(vec![ip("10.0.0.1")])
    );
}

#[test]
fn ptr_names_parse_strictly() {
    assert_eq!(ptr_address("4.3.2.1.in-addr.arpa."), Some(ip("1.2.3.4")));
    assert_eq!(ptr_address("2.0.1.10.IN-ADDR.ARPA"), Some(ip("10.1.0.2")));
    for bad in [
        "3.2.1.in-addr.arpa",
        "5.4.3.2.1.in-addr.arpa",
        "256.3.2.1.in-addr.arpa",
        "+4.3.2.1.in-addr.arpa",
        "4..2.1.in-addr.arpa",
        "4.3.2.1.ip6.arpa",
        "in-addr.arpa",
        "web",
        "",
    ] {
        assert_eq!(ptr_address(bad), None, "{bad}");
    }
}

// ---- properties, against a naive model that scans the records ----

const NAMES: [&str; 4] = ["web", "api", "db", "cache"];
const NETS: [&str; 3] = ["front", "back", "Back"];

fn record_strategy() -> impl Strategy<Value = Record> {
    (
        0..4usize,
        0..4usize,
        proptest::collection::vec(0..4usize, 0..2),
        0..3usize,
        1..40u8,
    )
        .prop_map(|(name, host, aliases, net, last)| Record {
            container_id: format!("{:0>12x}{}", last, "ffff"),
            name: NAMES[name].into(),
            hostname: format!("h{host}"),
            aliases: aliases.into_iter().map(|a| format!("Al{a}")).collect(),
            network: NETS[net].into(),
            ipv4: Ipv4Addr::new(10, 0, 0, last),
        })
}

fn view_strategy() -> impl Strategy<Value = View> {
    let nets = proptest::sample::subsequence(NETS.to_vec(), 0..=3).prop_shuffle();
    let links = proptest::collection::vec((0..4usize, 1..40u8), 0..2);
    (nets, links).prop_map(|(nets, links)| View {
        networks: nets.into_iter().map(String::from).collect(),
        links: links
            .into_iter()
            .map(|(n, last)| (NAMES[n].to_uppercase(), Ipv4Addr::new(10, 9, 0, last)))
            .collect(),
    })
}

fn query_strategy() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        (0..4usize).prop_map(|i| NAMES[i].to_string()),
        (0..4usize).prop_map(|i| format!("H{i}")),
        (0..4usize).prop_map(|i| format!("al{i}")),
        (1..40u8).prop_map(|last| format!("{last:0>12x}")),
        Just("unknown".to_string()),
    ];
    let suffix = prop_oneof![
        Just(String::new()),
        (0..3usize).prop_map(|i| format!(".{}", NETS[i]))
    ];
    (host, suffix, any::<bool>()).prop_map(|(h, s, upper)| {
        let h = if upper { h.to_uppercase() } else { h };
        format!("{h}{s}")
    })
}

fn names_on(r: &Record) -> Vec<String> {
    let mut n = vec![
        r.name.clone(),
        r.container_id[..12].to_string(),
        r.hostname.clone(),
    ];
    n.extend(r.aliases.iter().cloned());
    n.into_iter().map(|s| s.to_lowercase()).collect()
}

fn model(records: &[Record], v: &View, q: &str) -> Option<BTreeSet<Ipv4Addr>> {
    let lower = q.to_lowercase();
    let linked: BTreeSet<_> = v
        .links
        .iter()
        .filter(|l| l.0.to_lowercase() == lower)
        .map(|l| l.1)
        .collect();
    if !linked.is_empty() {
        return Some(linked);
    }
    let on = |net: &str, name: &str| -> BTreeSet<Ipv4Addr> {
        records
            .iter()
            .filter(|r| r.network == net && names_on(r).contains(&name.to_string()))
            .map(|r| r.ipv4)
            .collect()
    };
    for net in &v.networks {
        let hit = on(net, &lower);
        if !hit.is_empty() {
            return Some(hit);
        }
    }
    let (host, net) = q.rsplit_once('.')?;
    let hit = on(net, &host.to_lowercase());
    (v.networks.iter().any(|n| n == net) && !hit.is_empty()).then_some(hit)
}

proptest! {
    #[test]
    fn lookup_matches_the_model(
        records in proptest::collection::vec(record_strategy(), 0..12),
        v in view_strategy(),
        q in query_strategy(),
    ) {
        let s = Snapshot::new(records.clone());
        let expected = model(&records, &v, &q);
        let a = s.lookup(&v, &q, QType::A);
        match &expected {
            Some(set) => prop_assert_eq!(found(a), set.clone()),
            None => prop_assert_eq!(a, Lookup::NotOurs),
        }
        let aaaa = s.lookup(&v, &format!("{q}."), QType::Aaaa);
        prop_assert_eq!(aaaa, if expected.is_some() { Lookup::NoData } else { Lookup::NotOurs });
    }

    #[test]
    fn answers_stay_inside_the_view(
        records in proptest::collection::vec(record_strategy(), 0..12),
        v in view_strategy(),
        q in query_strategy(),
    ) {
        let s = Snapshot::new(records.clone());
        if let Lookup::Found(ips) = s.lookup(&v, &q, QType::A) {
            for ip in ips {
                let visible = v.links.iter().any(|l| l.1 == ip)
                    || records.iter().any(|r| r.ipv4 == ip && v.networks.contains(&r.network));
                prop_assert!(visible, "{} answered {} outside the view", q, ip);
            }
        }
        for r in &records {
            if let Some(target) = s.reverse(&v, r.ipv4) {
                let (name, net) = target.split_once('.').unwrap();
                prop_assert!(v.networks.iter().any(|n| n == net));
                prop_assert!(records.iter().any(|x| x.ipv4 == r.ipv4 && x.name == name && x.network == net));
            } else {
                prop_assert!(!v.networks.contains(&r.network));
            }
        }
    }

    /// Inserting records one by one and removing some answers exactly like a table built
    /// from the ones that are left (names, addresses, and which name a PTR gives).
    #[test]
    fn insert_and_remove_match_a_rebuilt_table(
        records in proptest::collection::vec(record_strategy(), 0..12),
        gone in proptest::collection::vec(any::<bool>(), 12),
        v in view_strategy(),
        q in query_strategy(),
    ) {
        let mut s = Snapshot::default();
        for r in &records {
            s.insert(r);
        }
        let mut kept = Vec::new();
        for (r, gone) in records.iter().zip(&gone) {
            if *gone { s.remove(r) } else { kept.push(r.clone()) }
        }
        let rebuilt = Snapshot::new(kept.clone());
        let set = |l: Lookup| match l {
            Lookup::Found(ips) => Some(ips.into_iter().collect::<BTreeSet<_>>()),
            Lookup::NoData => Some(BTreeSet::new()),
            Lookup::NotOurs => None,
        };
        prop_assert_eq!(set(s.lookup(&v, &q, QType::A)), set(rebuilt.lookup(&v, &q, QType::A)));
        for r in &records {
            let (a, b) = (s.reverse(&v, r.ipv4), rebuilt.reverse(&v, r.ipv4));
            prop_assert_eq!(a.is_some(), b.is_some(), "PTR of {}", r.ipv4);
            if let Some(target) = a {
                let (name, net) = target.split_once('.').unwrap();
                prop_assert!(kept.iter().any(|x| x.ipv4 == r.ipv4 && x.name == name && x.network == net));
            }
        }
        if kept.is_empty() {
            prop_assert!(s.networks.is_empty(), "emptied table keeps {:?}", s.networks.keys());
        }
    }

    #[test]
    fn rotation_visits_every_address(count in 2..8u8) {
        let records = (1..=count).map(|i| Record {
            aliases: vec!["shared".into()],
            ..rec(&format!("{i:0>12}"), &format!("c{i}"), "n", &format!("10.0.0.{i}"))
        }).collect();
        let s = Snapshot::new(records);
        let v = view(&["n"]);
        let mut firsts = BTreeSet::new();
        for _ in 0..count {
            let Lookup::Found(order) = s.lookup(&v, "shared", QType::A) else { unreachable!() };
            prop_assert_eq!(order.iter().collect::<BTreeSet<_>>().len(), usize::from(count));
            firsts.insert(order[0]);
        }
        prop_assert_eq!(firsts.len(), usize::from(count));
    }
}
